"""Forecast figures: one Forecast state run over 1,000 targets, statsmodels' cost, and an ablation.

    .venv/bin/python bench/bench_forecast.py [--trace DIR] [--targets 1000] [--days 3] [--skip-ablation]

1. Records for ``--targets`` functions of the trace (their real peak per 5-minute slot, as ping answers and
   CloudWatch reads would fill them), tiled over ``--days`` days so the seasonal model has the 2 days it
   needs; then ``forecast_fleet`` over all of them, as the Forecast state runs it (statsmodels fits
   included: every target's memo is fresh, the worst case; later runs refit a target at most every 6 h).
2. The cold import of the forecast package and of statsmodels' pieces it uses, in a fresh process, from
   the bytecode a Lambda layer ships.
3. Ablation: ``thermostat simulate`` of the trace tiled over ``--days`` days (every day like the trace's
   one), thermostat with and without statsmodels, scored on the last day: cold starts, cost, and where the
   two plans differ.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from thermostat.forecast import TargetPolicy, forecast_fleet
from thermostat.records import SLOT_MS, new_record
from thermostat.sim.readers import load_trace
from thermostat.sim.workload import make_workload, profile

TRACE = Path(__file__).resolve().parents[2] / "shared" / "traces" / "azure2019-1000fn-24h"
DAY0_MS = 1_763_856_000_000  # a midnight, UTC


def slot_peaks(counts: np.ndarray, durations: np.ndarray, seed: int) -> list[float]:
    work = make_workload(counts, durations, np.random.default_rng(seed))
    minute_max = profile(work, counts.size).minute_max
    return minute_max.reshape(-1, 5).max(axis=1).astype(float).tolist()


def fleet_run(trace_dir: Path, targets: int, days: int) -> None:
    trace = load_trace(trace_dir)
    records = {}
    for i in range(min(targets, trace.functions)):
        peaks = slot_peaks(trace.counts[i], trace.durations[i], i) * days
        record = new_record(trace.ids[i], trace.ids[i], None, DAY0_MS)
        record.peaks, record.peaks_start_ms = peaks, DAY0_MS
        record.config.memory_mb = int(trace.memory_mb[i])
        records[trace.ids[i]] = record
    now = DAY0_MS + len(next(iter(records.values())).peaks) * SLOT_MS
    policies = [(key, TargetPolicy()) for key in records]
    began = time.perf_counter()
    fleet = forecast_fleet(records, policies, now)
    first = time.perf_counter() - began
    began = time.perf_counter()
    forecast_fleet(records, policies, now + SLOT_MS)  # memos fresh: the next run
    again = time.perf_counter() - began
    desired = [t.desired for t in fleet.targets]
    print(f"forecast_fleet, {len(records)} targets x {days} days of slots: first run {first:.2f} s (every memo "
          f"due; {fleet.fits_deferred} refits left to later runs by the {4:g} s fit budget), next run {again:.2f} s "
          f"(target <= 10 s)")
    print(f"  desired: total {sum(desired)}, median {int(np.median(desired))}, max {max(desired)}; "
          f"decided by {dict(Counter(t.term for t in fleet.targets).most_common())}")
    seasonal = sum(1 for r in records.values() if r.model.get("seasonal"))
    periodic = sum(1 for r in records.values() if r.model.get("periodic"))
    print(f"  statsmodels: {seasonal} seasonal fits kept, {periodic} periodic-burst patterns found")


def cold_import() -> None:
    code = ("import time; t=time.perf_counter(); import thermostat.forecast; a=time.perf_counter()-t; "
            "t=time.perf_counter(); import statsmodels.tsa.holtwinters, statsmodels.tsa.stattools; "
            "b=time.perf_counter()-t; print(f'{a*1000:.0f} {b*1000:.0f}')")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parents[1] / "src")],
                   check=False)
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-X", "frozen_modules=on", "-c", code], capture_output=True, text=True,
                             check=True, env={"PYTHONDONTWRITEBYTECODE": "", "PATH": ""}).stdout.split()
        runs.append((float(out[0]), float(out[1])))
    package, stats = (sorted(x)[1] for x in zip(*runs, strict=True))
    print(f"cold import (median of 3, bytecode): thermostat.forecast {package:.0f} ms (numpy included); "
          f"statsmodels holtwinters + stattools {stats:.0f} ms more, paid only by a run that fits")


def ablation(trace_dir: Path, days: int) -> None:
    from thermostat.sim.engine import simulate
    from thermostat.sim.policies import SimSettings, parse_policies
    from thermostat.sim.results import summarize
    from thermostat.sim.trace import tile_days

    trace = tile_days(load_trace(trace_dir), days)
    last_day = (trace.minutes - 1440, trace.minutes)
    rows = {}
    for use in (True, False):
        settings = SimSettings(use_statsmodels=use, score_from_minute=last_day[0], score_to_minute=last_day[1])
        policies = parse_policies("none,thermostat")
        began = time.perf_counter()
        results = simulate(trace, policies, settings, workers=2)
        doc = summarize(trace, policies, results, settings)
        rows[use] = (doc["thermostat"], time.perf_counter() - began, doc["none"]["cold_starts"])
    print(f"ablation: the trace's day x {days}, scored on the last day (statsmodels has 2 days behind it)")
    for use, (p, wall, none) in rows.items():
        print(f"  statsmodels {'on ' if use else 'off'}: {p['cold_starts']:,} cold starts "
              f"({100 * (1 - p['cold_starts'] / none):.1f}% fewer than none), ${p['cost_usd_month']['total']:.2f}"
              f"/month, {p['warm_pings']:,} pings; decided by {p['decided_by']}; {wall:.0f} s")
    on, off = rows[True][0], rows[False][0]
    print(f"  difference: {off['cold_starts'] - on['cold_starts']:+,} cold starts avoided by statsmodels, "
          f"{on['cost_usd_month']['total'] - off['cost_usd_month']['total']:+.2f} $/month")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--skip-ablation", action="store_true")
    args = parser.parse_args()
    if not args.trace.is_dir():
        print(f"bench_forecast: no trace at {args.trace}; skipped")
        return
    fleet_run(args.trace, args.targets, args.days)
    cold_import()
    if not args.skip_ablation and math.isfinite(args.days):
        ablation(args.trace, args.days)


if __name__ == "__main__":
    main()
