"""Forecast figures (DESIGN §7): 100 targets x 24 h of minutes through forecast_state, quality, per-call cost.

    .venv/bin/python bench/bench_forecast.py [--trace DIR] [--targets 100] [--pings N] [--holdout-hours 4]
                                              [--no-statsmodels] [--seed 7] [--replay 1000]

Input: the Azure Functions 2019 sample (per-minute invocations + per-function average duration).
Per-minute concurrency is what CloudWatch's ConcurrentExecutions Maximum would show: each minute's
invocations are placed uniformly at random inside the minute (seeded), each runs for the function's
average duration, and the concurrency of a minute is the maximum number of overlapping executions
during it (runs carry over into the next minutes). Minutes without activity have no datapoint (NaN),
as in CloudWatch. ``--pings N`` adds what a warmer would leave in the metrics: N pings every 5 minutes
(Invocations += N, WarmPing = N, Max >= N + the real executions running then, RealInvocation reported),
so the figures also exercise the removal of our own pings.

Prints: wall time of one forecast_state run (statsmodels import included, fresh process), per-model win
counts, a walk-forward backtest over the held-out last hours (coverage of the quantile and mean
over-provisioning, against the reactive and fixed:1 policies), and the per-call time of forecast_peak
with a memo (simulator use) for sparse and dense targets.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from thermostat import models
from thermostat.config import ForecastSettings
from thermostat.forecast import ModelMemo, TargetHistory, forecast_peak, forecast_state, real_concurrency
from thermostat.forecast.history import window_peaks
from thermostat.forecast.selection import statsmodels_can_win, test_span

TRACE = Path("/work/shared/traces/azure2019-1000fn-24h")
START_MS = 1_763_769_600_000  # a midnight UTC, minute-aligned
MINUTE_MS = 60_000


def load(trace: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    inv = pd.read_csv(trace / "invocations.csv")
    dur = pd.read_csv(trace / "durations.csv").drop_duplicates("HashFunction").set_index("HashFunction")
    minutes = [c for c in inv.columns if c.startswith("minute_")]
    counts = inv[minutes].to_numpy(dtype=float)
    avg = dur["Average"].reindex(inv["HashFunction"]).fillna(1000.0).to_numpy(dtype=float)
    return counts, avg, inv["HashFunction"].tolist()


def pick(counts: np.ndarray, n: int) -> np.ndarray:
    """n functions spread evenly over the density ranking (sparse to busiest)."""
    order = np.argsort(counts.sum(axis=1), kind="stable")
    return order[np.unique(np.linspace(0, len(order) - 1, n).round().astype(int))]


def concurrency(counts: np.ndarray, duration_ms: float, rng: np.random.Generator) -> np.ndarray:
    """Per-minute max overlap of executions (arrivals uniform inside their minute, fixed duration)."""
    minutes = len(counts)
    starts = np.repeat(np.arange(minutes), counts.astype(int)) * 60_000.0
    starts = starts + rng.uniform(0, 60_000.0, len(starts))
    ends = starts + max(duration_ms, 1.0)
    ticks = np.arange(minutes) * 60_000.0  # zero-delta events so every minute sees the running level
    times = np.concatenate([starts, ends, ticks])
    delta = np.concatenate([np.ones(len(starts)), -np.ones(len(ends)), np.zeros(minutes)])
    order = np.lexsort((-delta, times))  # at equal times count the start first (the worst case)
    times, level = times[order], np.cumsum(delta[order])
    keep = times < minutes * 60_000.0
    out = np.zeros(minutes)
    np.maximum.at(out, (times[keep] // 60_000).astype(int), level[keep])
    return out


def history_for(counts: np.ndarray, duration_ms: float, conc: np.ndarray, pings: int) -> TargetHistory:
    active = (counts > 0) | (conc > 0)
    invocations = counts.copy()
    observed = conc.copy()
    warm = np.full(len(counts), np.nan)
    real = np.full(len(counts), np.nan)
    duration = np.where(counts > 0, duration_ms, np.nan)
    if pings:
        tick = np.arange(len(counts)) % 5 == 0
        little = np.ceil(counts * duration_ms / 60_000.0)
        observed = np.where(tick, np.maximum(conc, pings + little), conc)
        invocations = np.where(tick, counts + pings, counts)
        warm = np.where(tick, float(pings), np.nan)
        real = np.where(counts > 0, counts, np.nan)
        mixed = (np.nan_to_num(duration) * counts + 1000.0 * pings) / np.maximum(invocations, 1.0)
        duration = np.where(tick, mixed, duration)  # CloudWatch's average includes the pings' 1 s holds
        active = active | tick
    return TargetHistory.from_arrays(
        START_MS,
        60,
        np.where(active, observed, np.nan),
        invocations=np.where(active, invocations, np.nan),
        duration_ms=duration,
        warm_pings=warm,
        real_invocations=real,
    )


def collected(histories: list[TargetHistory], ids: list[str], settings: ForecastSettings) -> models.CollectedState:
    end = histories[0].end_ms
    targets = [
        models.TargetMetrics(
            function=f"fn-{fid[:12]}", qualifier=None,
            arn=f"arn:aws:lambda:us-east-1:123456789012:function:fn-{fid[:12]}",
            min=0, max=1000, source="tag", memory_mb=256, timeout_s=60, reserved_concurrency=None,
            current_concurrency=0, history=h.to_wire(),
        )
        for h, fid in zip(histories, ids, strict=True)
    ]
    run = models.RunInfo(id="bench", name="bench", started_at_ms=end, round=0)
    request = models.Request(targets=[], discover=True, quantile=settings.quantile,
                             horizon_minutes=settings.horizon_minutes, dry_run=True)
    account = models.AccountLimits(concurrency_limit=1000, unreserved_concurrency=1000)
    return models.CollectedState(run=run, request=request, account=account, targets=targets)


def walk_forward(
    histories: list[TargetHistory], truth: list[np.ndarray], settings: ForecastSettings, hours: int, sm: bool
) -> None:
    window = settings.horizon_minutes
    ticks = hours * 60 // window
    minutes = histories[0].points
    policies: dict[str, list[tuple[float, float]]] = {"thermostat": [], "reactive": [], "fixed:1": []}
    classes: dict[str, list[tuple[float, float]]] = {"sparse": [], "medium": [], "dense": []}
    reuse, select_t, dense_reuse, sparse_reuse = [], [], [], []
    selections = 0
    for history, real in zip(histories, truth, strict=True):
        dense = np.mean(real > 0) >= 0.5
        kind = "dense" if dense else "sparse" if np.mean(real > 0) < 0.1 else "medium"
        memo: ModelMemo | None = None
        for tick in range(ticks):
            cut = minutes - (ticks - tick) * window
            now = START_MS + cut * MINUTE_MS
            actual = float(real[cut : cut + window].max())
            began = time.perf_counter()
            info, new = forecast_peak(history, settings, memo=memo, now_ms=now, use_statsmodels=sm)
            spent = time.perf_counter() - began
            if memo is not None and new.selections == memo.selections:
                reuse.append(spent)
                (dense_reuse if dense else sparse_reuse).append(spent)
            else:
                select_t.append(spent)
                selections += 1
            memo = new
            policies["thermostat"].append((info["desired"], actual))
            classes[kind].append((info["desired"], actual))
            last = real_concurrency(history.before(now))[-window:]
            policies["reactive"].append((float(last.max()) if len(last) else 0.0, actual))
            policies["fixed:1"].append((1.0, actual))
    print(f"\nwalk-forward over the last {hours} h ({ticks} ticks x {len(histories)} targets, "
          f"q = {settings.quantile}, statsmodels {'on' if sm else 'off'}):")
    print(f"  {'policy':<18} {'windows':>8} {'coverage':>9} {'busy cov.':>9} {'cold envs':>10} "
          f"{'over-prov (mean envs)':>22} {'warm envs/tick':>15}")
    rows = list(policies.items()) + [(f"thermostat/{k}", v) for k, v in classes.items()]
    for name, pairs in rows:
        if not pairs:
            continue
        d, a = np.array(pairs).T
        busy = a > 0
        busy_cov = f"{np.mean(d[busy] >= a[busy]):.1%}" if busy.any() else "n/a"
        print(f"  {name:<18} {len(d):>8} {np.mean(d >= a):>9.1%} {busy_cov:>9} {np.sum(np.maximum(a - d, 0)):>10.0f} "
              f"{np.mean(np.maximum(d - a, 0)):>22.3f} {np.mean(d):>15.2f}")
    print("  coverage: share of windows with desired >= the real peak; busy cov.: the same over windows with"
          " traffic; cold envs: sum of (peak - desired)+")
    ms = lambda xs: f"{1000 * np.mean(xs):.3f} ms mean / {1000 * np.median(xs):.3f} median" if xs else "n/a"  # noqa: E731
    print("forecast_peak per call with a memo (simulator use):")
    print(f"  reusing the memo, sparse targets: {ms(sparse_reuse)}  ({len(sparse_reuse)} calls)")
    print(f"  reusing the memo, dense targets:  {ms(dense_reuse)}  ({len(dense_reuse)} calls)")
    print(f"  re-selecting (backtest{' + statsmodels' if sm else ''}): {ms(select_t)}  ({selections} calls)")


def replay(counts: np.ndarray, avg: np.ndarray, settings: ForecastSettings, functions: int, sm: bool) -> None:
    """What the simulator's `thermostat` policy pays for forecasts: every function, every 5-min tick,
    history growing from the trace's first minute, one memo per function."""
    rng = np.random.default_rng(1)
    chosen = pick(counts, functions)
    histories = [history_for(counts[i], avg[i], concurrency(counts[i], avg[i], rng), 0) for i in chosen]
    ticks = histories[0].points // settings.horizon_minutes
    calls = selections = 0
    selecting = 0.0
    began = time.perf_counter()
    for history in histories:
        memo: ModelMemo | None = None
        for tick in range(1, ticks):
            now = START_MS + tick * settings.horizon_minutes * MINUTE_MS
            start = time.perf_counter()
            _, new = forecast_peak(history, settings, memo=memo, now_ms=now, use_statsmodels=sm)
            if memo is None or new.selections != memo.selections:
                selections += 1
                selecting += time.perf_counter() - start
            memo = new
            calls += 1
    total = time.perf_counter() - began
    print(f"\nreplay (simulator use, statsmodels {'on' if sm else 'off'}): {len(histories)} functions x {ticks - 1} "
          f"ticks = {calls} calls in {total:.1f} s; {selections} selections took {selecting:.1f} s, the other "
          f"calls {1e6 * (total - selecting) / max(1, calls - selections):.0f} us each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--pings", type=int, default=0)
    parser.add_argument("--holdout-hours", type=int, default=4)
    parser.add_argument("--no-statsmodels", action="store_true", help="walk-forward with baselines only")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--replay", type=int, default=0, metavar="N",
                        help="also replay N functions x 24 h tick by tick with a memo (simulator cost)")
    args = parser.parse_args()
    settings = ForecastSettings()
    rng = np.random.default_rng(args.seed)
    counts, avg, ids = load(args.trace)
    chosen = pick(counts, args.targets)
    truth = [concurrency(counts[i], avg[i], rng) for i in chosen]
    histories = [history_for(counts[i], avg[i], c, args.pings) for i, c in zip(chosen, truth, strict=True)]
    state = collected(histories, [ids[i] for i in chosen], settings)
    print(f"{len(chosen)} targets x {histories[0].points} min, pings {args.pings}/5 min; "
          f"{sum(np.mean(t > 0) < 0.1 for t in truth)} with traffic in < 10 % of minutes")

    began = time.perf_counter()
    out = forecast_state(state, settings)
    wall = time.perf_counter() - began
    wins = Counter(t["forecast"]["model"] for t in out["targets"])
    errors = sum(1 for t in out["targets"] if "error" in t)
    print(f"forecast_state: {wall:.2f} s wall for {len(out['targets'])} targets "
          f"(budget 10 s; statsmodels import included), {errors} errors")
    print("model wins:", ", ".join(f"{k} {v}" for k, v in wins.most_common()))
    eligible = sum(
        statsmodels_can_win(window_peaks(t, 5)[: -test_span(288, 12, 288)], 12) for t in truth
    )
    print(f"statsmodels candidates fitted for {eligible} targets (dense, varied: where they can win)")
    desired = [t["forecast"]["desired"] for t in out["targets"]]
    print(f"desired: total {sum(desired)}, max {max(desired)}, zero for {desired.count(0)} targets")
    for t in sorted(out["targets"], key=lambda t: -t["forecast"]["desired"])[:3]:
        fc = t["forecast"]
        print(f"  e.g. {t['function']}: {fc['desired']} ({fc['model']}) {fc['reason']}")
    sample = next((t for t in out["targets"] if t["forecast"]["model"] == "intermittent"), None)
    if sample:
        print(f"  e.g. {sample['function']}: {sample['forecast']['desired']} {sample['forecast']['reason']}")

    walk_forward(histories, truth, settings, args.holdout_hours, not args.no_statsmodels)
    if args.replay:
        replay(counts, avg, settings, args.replay, not args.no_statsmodels)


if __name__ == "__main__":
    main()
