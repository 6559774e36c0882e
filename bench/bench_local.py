"""Local runtime figures: distinct environments / pings requested and the pings' holds, N = 1 … 200, through
the real warming code with invoke jitter; then the fleet-scale runs of ``thermostat local run``.

1. Warming (issue: holds as short as overlap needs). On the embedded AWS (real template, the demo schema
   registry's code deployed once per N, the real target library), with a random network latency before
   every invoke (``faults.invoke.jitter_ms``, default 2-40 ms uniform, seeded — a same-region Invoke's
   spread), ``thermostat.warming.warm_batch`` sends N pings through the real boto3 Lambda client (configured
   as ``functions/warm_batch/app.py`` does: one attempt, a pool for the batch), ROUNDS rounds a minute apart
   on the fake clock. Each round's answers go through ``telemetry.observe_round`` into the target's record,
   which learns the send-ahead the next round uses, as a deployed target's record does run after run.
   Round 1 finds every environment cold (warming inits); the later rounds find them warm. Printed per N:
   distinct / requested, median and p95 of the answers' ``held_ms`` for round 1 and for the converged
   rounds (the last three, pooled), and the send-ahead learned. Targets: distinct / requested >= 0.99 for
   every N; median hold <= 50 ms and p95 <= 100 ms for N <= 50 (converged rounds).
2. Scale (issue: fleet scale): ``thermostat local run --targets N --runs 2`` for N in ``--scale`` (each in a
   subprocess, ``--json``): succeeded or not, wall time, largest state payload, transitions per run.
3. The cost of the runtime's AWS/Lambda metrics per invoke, and one GetMetricData over 24 h of seeded history.

    .venv/bin/python bench/bench_local.py [--sizes 1,2,5,10,20,50,100,200] [--rounds 6] [--jitter 2,40]
                                          [--scale 300,1000,5000] [--scale-args "--account-concurrency 100000"]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

from thermostat import telemetry
from thermostat.local import sandbox
from thermostat.local.clock import ManualClock
from thermostat.local.cloudwatch_index import percentile
from thermostat.local.environment import FunctionCode
from thermostat.local.faults import FaultPlan
from thermostat.local.metrics import LambdaMetrics
from thermostat.local.runtime import LocalLambdaRuntime
from thermostat.local.seed import default_trace_dir
from thermostat.local.session import LocalAws, LocalAwsConfig
from thermostat.models import WarmBatch
from thermostat.records import new_record
from thermostat.telemetry import SEND_AHEAD_DEFAULT_MS, PingAnswer, observe_round
from thermostat.warming import Runtime, WarmOptions, lambda_invoker, warm_batch

ROOT = Path(__file__).resolve().parents[1]
CODE = ROOT / "examples" / "targets" / "schema_registry"
DEMO = {"DeployDemoTargets": "true"}
START_MS = 150  # release_at = now + this + the lead: time to start the batch's threads (Plan gives 2,000)
WINDOW_MS = 300_000
READ_TIMEOUT_S = 15  # functions/warm_batch/app.py: the hold cap 2 s + the init allowance 10 s + 3 s
CONVERGED = 3  # the last rounds, pooled
TARGET_RATIO, TARGET_MEDIAN_MS, TARGET_P95_MS, HOLD_TARGET_MAX_N = 0.99, 50.0, 100.0, 50


@dataclass
class Round:
    requested: int
    distinct: int
    holds: list[float]  # every answer's held_ms
    late: int  # answers that arrived after release_at
    send_ahead_ms: float  # the lead this round was sent with
    cold: int


def p95(values: list[float]) -> float:
    return percentile(values, 95.0) or 0.0


def warm_rounds(aws: LocalAws, name: str, n: int, rounds: int, options: WarmOptions) -> list[Round]:
    """``rounds`` rounds of N pings to ``name`` through warm_batch, the send-ahead learned in between."""
    client = boto3.client("lambda", region_name=aws.stack.region, config=Config(
        max_pool_connections=max(n, 10) + 8, retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=3, read_timeout=READ_TIMEOUT_S, tcp_keepalive=True))
    invoke = lambda_invoker(client)
    runtime = Runtime(now_ms=lambda: time.time() * 1000.0, sleep=time.sleep, uniform=random.uniform)
    record = new_record(name, name, None, int(time.time() * 1000))
    out: list[Round] = []
    for index in range(rounds):
        lead = record.send_ahead_ms if record.send_ahead_ms is not None else SEND_AHEAD_DEFAULT_MS
        release = int(time.time() * 1000 + START_MS + lead)
        batch: WarmBatch = {
            "run": f"bench-{n}-{index}", "run_name": "", "batch": 0, "round": 0, "release_at_ms": release,
            "deadline_ms": release + 20_000, "max_hold_ms": 1500, "period_s": 300, "refresh": True,
            "pings": [{"key": name, "function": name, "qualifier": None, "first_slot": 0, "count": n, "of": n,
                       "send_ahead_ms": lead, "protocol": 2,
                       "learned": record.send_ahead_ms is not None}]}
        outcome = warm_batch(batch, invoke, runtime, options)[0]
        answers = [PingAnswer(*row) for row in outcome["answers"]]
        observe_round(record, int(outcome["release_at_ms"]), n, answers, WINDOW_MS, outcome["send_ahead_ms"])
        out.append(Round(n, len({a.env for a in answers}), [float(a.held_ms) for a in answers],
                         sum(1 for a in answers if (a.late_ms or 0) > 0), float(outcome["send_ahead_ms"]),
                         sum(1 for a in answers if a.cold)))
        aws.advance(60)
    return out


def warming(sizes: list[int], rounds: int, jitter: tuple[float, float], seed: int, options: WarmOptions) -> bool:
    faults = FaultPlan.from_dict({"invoke": {"jitter_ms": list(jitter), "seed": seed}})
    trace = default_trace_dir(ROOT)
    config = LocalAwsConfig(template=ROOT / "template.yaml", parameters=DEMO, faults=faults,
                            trace_dir=trace if trace.is_dir() else None)
    print(f"Warming through thermostat.warming.warm_batch: invoke jitter {jitter[0]:g}-{jitter[1]:g} ms uniform "
          f"(seed {seed}), {rounds} rounds a minute apart, send-ahead learned by telemetry.observe_round; "
          f"min send-ahead {options.min_send_ahead_ms:g} ms, {options.send_ms_per_ping:g} ms per ping, decay "
          f"{telemetry.SEND_AHEAD_DECAY:g}, margin {telemetry.SEND_AHEAD_MARGIN_MS:g} ms")
    print(f"{'N':>4} | {'round 1 (cold): distinct':>24} {'median':>7} {'p95':>6} {'late':>5} | "
          f"{'converged: distinct':>19} {'median':>7} {'p95':>6} {'late':>5} | send-ahead ms by round")
    ok = True
    with LocalAws(config) as aws:
        for n in sizes:
            name = f"bench-warm-{n:03d}"
            aws.add_function(name, CODE)
            result = warm_rounds(aws, name, n, rounds, options)
            first, last = result[0], result[-CONVERGED:]
            holds = [h for r in last for h in r.holds]
            ratio_first = first.distinct / n
            ratio = min(r.distinct / n for r in last)
            median, high = (statistics.median(holds) if holds else 0.0), p95(holds)
            leads = " ".join(f"{r.send_ahead_ms:.0f}" for r in result)
            print(f"{n:>4} | {first.distinct:>15}/{n:<3} {ratio_first:>4.2f} {statistics.median(first.holds):>7.1f} "
                  f"{p95(first.holds):>6.1f} {first.late:>5} | {min(r.distinct for r in last):>10}/{n:<3} "
                  f"{ratio:>4.2f} {median:>7.1f} {high:>6.1f} {sum(r.late for r in last):>5} | {leads}", flush=True)
            ok = ok and min(ratio, ratio_first) >= TARGET_RATIO
            if n <= HOLD_TARGET_MAX_N:
                ok = ok and median <= TARGET_MEDIAN_MS and high <= TARGET_P95_MS
    print(f"targets: distinct/requested >= {TARGET_RATIO} every N; converged median hold <= {TARGET_MEDIAN_MS:g} ms, "
          f"p95 <= {TARGET_P95_MS:g} ms for N <= {HOLD_TARGET_MAX_N}: {'met' if ok else 'NOT met'}")
    return ok


def scale_runs(sizes: list[int], extra_args: list[str]) -> None:
    """``thermostat local run --targets N --runs 2`` for each N, in a subprocess; its --json figures."""
    print(f"\nthermostat local run --targets N --runs 2 {' '.join(extra_args)}".rstrip())
    print(f"{'N':>6} {'exit':>4} {'wall s':>7} | per run: status, wall s, largest state payload (state), transitions, "
          f"pings distinct/requested")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            figures, request = Path(tmp) / "figures.json", Path(tmp) / "in.json"
            request.write_text("{}")  # the schedule's input: every tagged target
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "thermostat.cli", "local", "run", "--targets", str(n),
                                   "--runs", "2", "--input", str(request), "--json", str(figures),
                                   "--history-json", str(Path(tmp) / "history.json"), *extra_args],
                                  cwd=ROOT, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            runs = json.loads(figures.read_text()).get("runs", []) if figures.is_file() else []
            cells = []
            for run in runs:
                largest = run.get("largest_payload") or {}
                totals = ((run.get("output") or {}).get("totals") or {})
                cells.append(f"{run.get('status')} {run.get('wall_s', 0):.1f} s, "
                             f"{largest.get('bytes', 0) / 1024:.1f} KiB ({largest.get('state')}), "
                             f"{run.get('transitions')} transitions, "
                             f"{totals.get('distinct_envs', '?')}/{totals.get('requested', '?')}")
            tail = "" if done.returncode == 0 else f"  [{(done.stderr or done.stdout).strip().splitlines()[-1:]}]"
            print(f"{n:>6} {done.returncode:>4} {wall:>7.1f} | " + " · ".join(cells) + tail, flush=True)


def metrics_overhead(invokes: int = 3000) -> tuple[float, float, float]:
    """(µs per invoke without metrics, with them, µs per datapoint published) on a trivial handler."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "app.py").write_text("def handler(event, context):\n    return {}\n")
        undo = sandbox.install()
        try:
            per_invoke = []
            for metrics in (None, LambdaMetrics()):
                clock = ManualClock()
                rt = LocalLambdaRuntime(clock=clock, metrics=metrics)
                for i in range(20):
                    rt.register(FunctionCode(name=f"f{i}", code_dir=Path(tmp), handler="app.handler"))
                for i in range(20):  # environments exist: the loop times warm invokes
                    rt.invoke(f"f{i}", b"{}")
                started = time.perf_counter()
                for i in range(invokes):
                    rt.invoke(f"f{i % 20}", b"{}")
                    clock.advance(0.02)  # 3,000 invokes span a minute: every function's minute is published
                per_invoke.append((time.perf_counter() - started) / invokes * 1e6)
                rt.shutdown()
            assert metrics is not None
            started = time.perf_counter()
            points = metrics.take(clock.time() + 120)
            per_point = (time.perf_counter() - started) / max(len(points), 1) * 1e6
        finally:
            undo()
    return per_invoke[0], per_invoke[1], per_point


def metric_data_timing(extra: int = 500) -> None:
    """One GetMetricData: ConcurrentExecutions Maximum per minute over 24 h for 500 seeded targets."""
    trace = default_trace_dir(ROOT)
    with LocalAws(LocalAwsConfig(template=ROOT / "template.yaml", parameters=DEMO, extra_targets=extra,
                                 trace_dir=trace if trace.is_dir() else None)) as aws:
        cw = boto3.client("cloudwatch", region_name="us-east-1")
        end = dt.datetime.fromtimestamp(aws.clock.time(), dt.UTC).replace(second=0, microsecond=0)
        queries = [{"Id": f"q{i}", "MetricStat": {"Metric": {
            "Namespace": "AWS/Lambda", "MetricName": "ConcurrentExecutions",
            "Dimensions": [{"Name": "FunctionName", "Value": s.function}]}, "Period": 60, "Stat": "Maximum"}}
            for i, s in enumerate(aws.seeded[:500])]
        started = time.perf_counter()
        result = cw.get_metric_data(MetricDataQueries=queries, StartTime=end - dt.timedelta(hours=24), EndTime=end)
        values = sum(len(r["Values"]) for r in result["MetricDataResults"])
        print(f"GetMetricData: {len(queries)} metrics x 24 h per minute ({values:,} values) in "
              f"{time.perf_counter() - started:.2f} s; deploy {aws.timings['deploy']:.2f} s + {extra} extra targets "
              f"{aws.timings['extra_targets']:.2f} s + seeding {aws.timings['seed']:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,2,5,10,20,50,100,200")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--jitter", default="2,40", help="invoke jitter range, ms (uniform)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--send-ms-per-ping", type=float, default=WarmOptions.send_ms_per_ping)
    parser.add_argument("--min-send-ahead", type=float, default=WarmOptions.min_send_ahead_ms)
    parser.add_argument("--decay", type=float, default=telemetry.SEND_AHEAD_DECAY,
                        help="experiment: telemetry.SEND_AHEAD_DECAY for this process")
    parser.add_argument("--margin", type=float, default=telemetry.SEND_AHEAD_MARGIN_MS,
                        help="experiment: telemetry.SEND_AHEAD_MARGIN_MS for this process")
    parser.add_argument("--scale", default="300,1000,5000", help="--targets of the scale runs ('' to skip)")
    parser.add_argument("--scale-args", default="", help="more flags for the scale runs, e.g. "
                        "'--account-concurrency 100000' (the seeded account of 1,000+ targets is full)")
    parser.add_argument("--skip-warming", action="store_true")
    parser.add_argument("--skip-metrics", action="store_true")
    args = parser.parse_args(argv)
    ok = True
    telemetry.SEND_AHEAD_DECAY, telemetry.SEND_AHEAD_MARGIN_MS = args.decay, args.margin
    if not args.skip_warming:
        low, high = (float(v) for v in args.jitter.split(","))
        options = WarmOptions(send_ms_per_ping=args.send_ms_per_ping, min_send_ahead_ms=args.min_send_ahead)
        ok = warming([int(s) for s in args.sizes.split(",")], args.rounds, (low, high), args.seed, options)
    if not args.skip_metrics:
        plain_us, metered_us, point_us = metrics_overhead()
        print(f"\nAWS/Lambda metrics: {metered_us - plain_us:+.1f} µs per invoke ({plain_us:.0f} µs without, "
              f"{metered_us:.0f} µs with), {point_us:.1f} µs per datapoint published")
        metric_data_timing()
    if args.scale:
        scale_runs([int(s) for s in args.scale.split(",")], args.scale_args.split())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
