"""Local runtime figures: distinct environments warmed / pings requested, N = 1 … 200, with invoke jitter.

Two ways for each N, on the embedded AWS (real template, real demo target, real target library):
- direct: N threads each send one ping through boto3 ``Invoke`` after a random start delay
  (0 … JITTER_MS), all pings sharing one ``release_at`` LEAD_MS ahead, as warm_batch does;
- workflow: a whole state-machine execution whose input pins the target to exactly N environments
  (Plan packs the pings into batches; the Warm map runs warm_batch per batch).
Idle environments are reclaimed between sizes (fake clock), so every N starts cold. Target: >= 0.99.
Also times GetMetricData over 24 h of seeded history with and without the CloudWatch index workaround.

    .venv/bin/python bench/bench_local.py [--sizes 1,10,50,100,200] [--skip-workflow]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

from thermostat.local import workarounds
from thermostat.local.seed import default_trace_dir
from thermostat.local.session import LocalAws, LocalAwsConfig
from thermostat_target.protocol import make_ping, parse_answer

ROOT = Path(__file__).resolve().parents[1]
TARGET = "thermostat-demo-schema-registry"
LEAD_MS = 1500
JITTER_MS = 300
TARGET_RATIO = 0.99


def direct(aws: LocalAws, n: int, rng: random.Random) -> tuple[int, float]:
    """(distinct environments that answered, wall seconds) for N jittered pings."""
    client = boto3.client("lambda", region_name="us-east-1", config=Config(
        max_pool_connections=n + 4, retries={"mode": "standard", "total_max_attempts": 1}))
    release_at = int(time.time() * 1000) + LEAD_MS + JITTER_MS
    envs: list[str | None] = [None] * n

    def ping(slot: int, delay_s: float) -> None:
        time.sleep(delay_s)
        payload = make_ping(run="bench", batch=0, slot=slot, of=n, release_at_ms=release_at, max_hold_ms=2000)
        response = client.invoke(FunctionName=TARGET, Payload=json.dumps(payload).encode())
        envs[slot] = parse_answer(response["Payload"].read()).env

    started = time.perf_counter()
    threads = [threading.Thread(target=ping, args=(i, rng.uniform(0, JITTER_MS / 1000))) for i in range(n)]
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


def metric_data_timing(aws: LocalAws) -> tuple[float, float]:
    """Seconds for one 24 h per-minute GetMetricData of 6 metrics, without and with the index."""
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    queries = [{"Id": f"q{i}", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": name, "Dimensions": [
        {"Name": "FunctionName", "Value": TARGET}]}, "Period": 60, "Stat": stat}}
        for i, (ns, name, stat) in enumerate([("AWS/Lambda", "ConcurrentExecutions", "Maximum"),
                                              ("AWS/Lambda", "Invocations", "Sum"),
                                              ("AWS/Lambda", "Duration", "Average"),
                                              ("AWS/Lambda", "Throttles", "Sum"),
                                              ("Thermostat", "RealInvocation", "Sum"),
                                              ("Thermostat", "WarmPing", "Sum")])]
    kwargs = {"MetricDataQueries": queries, "StartTime": end - dt.timedelta(hours=24), "EndTime": end}
    started = time.perf_counter()
    cw.get_metric_data(**kwargs)
    indexed = time.perf_counter() - started
    workarounds.CloudWatchBackend.get_metric_data = workarounds._original_get_metric_data  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        cw.get_metric_data(**kwargs)
        plain = time.perf_counter() - started
    finally:
        workarounds.CloudWatchBackend.get_metric_data = workarounds.indexed_get_metric_data  # type: ignore[method-assign]
    return plain, indexed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,50,100,200")
    parser.add_argument("--skip-workflow", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random(args.seed)
    trace = default_trace_dir(ROOT)
    worst = 1.0
    config = LocalAwsConfig(template=ROOT / "template.yaml", trace_dir=trace if trace.is_dir() else None)
    with LocalAws(config) as aws:
        print(f"{'N':>5} {'direct distinct':>16} {'ratio':>6} {'wall s':>7} | {'workflow distinct':>17} "
              f"{'ratio':>6} {'wall s':>7} {'rounds':>6}")
        for n in sizes:
            aws.advance(aws.runtime.idle_ttl_s + 1)  # every size starts from no warm environment
            distinct, wall = direct(aws, n, rng)
            line = f"{n:>5} {distinct:>16} {distinct / n:>6.3f} {wall:>7.2f}"
            worst = min(worst, distinct / n)
            if not args.skip_workflow:
                aws.advance(aws.runtime.idle_ttl_s + 1)
                wf_distinct, requested, wf_wall, rounds = workflow(aws, n)
                worst = min(worst, wf_distinct / max(requested, 1))
                line += (f" | {wf_distinct:>13}/{requested:<3} {wf_distinct / max(requested, 1):>6.3f} {wf_wall:>7.2f}"
                         f" {rounds:>6}")
            print(line, flush=True)
        plain, indexed = metric_data_timing(aws)
    print(f"GetMetricData, 6 metrics x 24 h per minute, {len(aws.seeded)} functions' history: "
          f"moto {plain:.2f} s, with the index {indexed:.3f} s")
    print(f"worst distinct/requested: {worst:.3f} (target >= {TARGET_RATIO})")
    return 0 if worst >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
