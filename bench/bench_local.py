"""Local runtime figures: distinct environments warmed / pings requested, N = 1 … 200, with invoke jitter.

Two ways for each N, on the embedded AWS (real template, real demo target, real target library), with
the runtime's network jitter (``faults.invoke.jitter_ms``, default 0-40 ms, seeded) before every invoke:
- direct: N threads each send one ping (with Thermostat's ClientContext marker) through boto3 ``Invoke``,
  all pings sharing one ``release_at`` LEAD_MS ahead, as warm_batch does;
- workflow: a whole state-machine execution whose input pins the target to exactly N environments
  (Plan packs the pings into batches; the Warm map runs warm_batch per batch).
Idle environments are reclaimed between sizes (fake clock), so every N starts cold. Target: >= 0.99.
Also: GetMetricData over 24 h of seeded history (moto's scan vs the index, both answered in-process),
the cost of the runtime's AWS/Lambda metrics per invoke, and deploy + seeding time for --scale targets.

    .venv/bin/python bench/bench_local.py [--sizes 1,10,50,100,200] [--skip-workflow] [--scale 1000,5000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

from thermostat.local import sandbox
from thermostat.local.clock import ManualClock
from thermostat.local.environment import FunctionCode
from thermostat.local.faults import FaultPlan
from thermostat.local.metrics import LambdaMetrics
from thermostat.local.runtime import LocalLambdaRuntime
from thermostat.local.seed import default_trace_dir
from thermostat.local.session import LocalAws, LocalAwsConfig
from thermostat_target.protocol import client_context_b64, make_ping, parse_answer

ROOT = Path(__file__).resolve().parents[1]
TARGET = "thermostat-demo-schema-registry"
LEAD_MS = 1500
JITTER_MS = (0.0, 40.0)
TARGET_RATIO = 0.99
DEMO = {"DeployDemoTargets": "true"}


def direct(aws: LocalAws, n: int) -> tuple[int, float]:
    """(distinct environments that answered, wall seconds) for N pings (the runtime adds the jitter)."""
    client = boto3.client("lambda", region_name="us-east-1", config=Config(
        max_pool_connections=n + 4, retries={"mode": "standard", "total_max_attempts": 1}))
    release_at = int(time.time() * 1000) + LEAD_MS + int(JITTER_MS[1])
    envs: list[str | None] = [None] * n

    def ping(slot: int) -> None:
        payload = make_ping(run="bench", batch=0, slot=slot, of=n, release_at_ms=release_at, max_hold_ms=2000)
        response = client.invoke(FunctionName=TARGET, Payload=json.dumps(payload).encode(),
                                 ClientContext=client_context_b64())
        envs[slot] = parse_answer(response["Payload"].read()).env

    started = time.perf_counter()
    threads = [threading.Thread(target=ping, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len({e for e in envs if e}), time.perf_counter() - started


def workflow(aws: LocalAws, n: int) -> tuple[int, int, float, int]:
    """(distinct, requested, wall seconds, rounds) of one execution pinning the target to N environments."""
    run = aws.run({"targets": [{"function": TARGET, "min": n, "max": n}], "discover": False}, timeout_s=300)
    if run.status != "SUCCEEDED":
        raise SystemExit(f"execution {run.name} {run.status}: {run.describe.get('error')} {run.describe.get('cause')}")
    target = next(t for t in run.output["targets"] if t["function"] == TARGET)
    return int(target["distinct_envs"]), int(target["requested"]), run.wall_s, int(target.get("rounds", 1))


def metric_data_timing(aws: LocalAws, functions: int = 500) -> tuple[int, int, float]:
    """(metrics, values, seconds) of one GetMetricData: ``ConcurrentExecutions`` Maximum per minute over 24 h
    for up to 500 seeded targets (the most one call may ask for)."""
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    end = dt.datetime.fromtimestamp(aws.clock.time(), dt.UTC).replace(second=0, microsecond=0)
    queries = [{"Id": f"q{i}", "MetricStat": {"Metric": {
        "Namespace": "AWS/Lambda", "MetricName": "ConcurrentExecutions",
        "Dimensions": [{"Name": "FunctionName", "Value": s.function}]}, "Period": 60, "Stat": "Maximum"}}
        for i, s in enumerate(aws.seeded[:functions])]
    started = time.perf_counter()
    result = cw.get_metric_data(MetricDataQueries=queries, StartTime=end - dt.timedelta(hours=24), EndTime=end)
    values = sum(len(r["Values"]) for r in result["MetricDataResults"])
    return len(queries), values, time.perf_counter() - started


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


def scale_timings(sizes: list[int], trace: Path | None) -> None:
    """Deploy + seeding seconds with N extra targets (the embedded AWS side of a fleet-scale run)."""
    for n in sizes:
        started = time.perf_counter()
        with LocalAws(LocalAwsConfig(template=ROOT / "template.yaml", parameters=DEMO, extra_targets=n,
                                     trace_dir=trace)) as aws:
            entered = time.perf_counter() - started
            timings = dict(aws.timings)
            metrics, values, read_s = metric_data_timing(aws)
        print(f"--targets {n}: deploy {timings['deploy']:.1f} s + {n} extra targets {timings['extra_targets']:.1f} s "
              f"+ seeding {timings['seed']:.1f} s = {entered:.1f} s to a ready embedded AWS; one GetMetricData of "
              f"{metrics} metrics x 24 h per minute ({values:,} values) {read_s:.2f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,50,100,200")
    parser.add_argument("--skip-workflow", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", default="1000,5000", help="extra-target counts to time deploy + seeding for "
                        "('' to skip)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    trace = default_trace_dir(ROOT)
    worst = 1.0
    faults = FaultPlan.from_dict({"invoke": {"jitter_ms": list(JITTER_MS), "seed": args.seed}})
    config = LocalAwsConfig(template=ROOT / "template.yaml", parameters=DEMO, faults=faults,
                            trace_dir=trace if trace.is_dir() else None)
    print(f"invoke jitter {JITTER_MS[0]:.0f}-{JITTER_MS[1]:.0f} ms before every invoke (seed {args.seed})")
    with LocalAws(config) as aws:
        print(f"{'N':>5} {'direct distinct':>16} {'ratio':>6} {'wall s':>7} | {'workflow distinct':>17} "
              f"{'ratio':>6} {'wall s':>7} {'rounds':>6}")
        for n in sizes:
            aws.advance(aws.runtime.idle_ttl_s + 1)  # every size starts from no warm environment
            distinct, wall = direct(aws, n)
            line = f"{n:>5} {distinct:>16} {distinct / n:>6.3f} {wall:>7.2f}"
            worst = min(worst, distinct / n)
            if not args.skip_workflow:
                aws.advance(aws.runtime.idle_ttl_s + 1)
                wf_distinct, requested, wf_wall, rounds = workflow(aws, n)
                worst = min(worst, wf_distinct / max(requested, 1))
                line += (f" | {wf_distinct:>13}/{requested:<3} {wf_distinct / max(requested, 1):>6.3f} {wf_wall:>7.2f}"
                         f" {rounds:>6}")
            print(line, flush=True)
    plain_us, metered_us, point_us = metrics_overhead()
    print(f"AWS/Lambda metrics: {metered_us - plain_us:+.1f} µs per invoke ({plain_us:.0f} µs without, "
          f"{metered_us:.0f} µs with), {point_us:.1f} µs per datapoint published")
    if args.scale:
        scale_timings([int(s) for s in args.scale.split(",")], trace if trace.is_dir() else None)
    print(f"worst distinct/requested: {worst:.3f} (target >= {TARGET_RATIO})")
    return 0 if worst >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
