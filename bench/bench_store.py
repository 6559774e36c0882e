"""Figures of the state store (issue 7): load and save times and object sizes at 100, 1,000 and 5,000
realistic target records, on moto's in-process S3 (no network: this measures the store's own work,
JSON and gzip, plus moto's request handling; real S3 adds ~10-50 ms per request, overlapped across shards).

    .venv/bin/python bench/bench_store.py [--counts 100,1000,5000] [--repeat 3]

A record is shaped like the workflow's: a ~30-character function name and qualifier, a run-length
encoded slot series of ~200 [value, count] pairs, a ping log of ~30 [time_ms, count] pairs, ~5
environment ids (12 hex characters) with times, a configuration row and a few numbers and short strings.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

for _key, _value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                     "AWS_SECRET_ACCESS_KEY": "testing"}.items():
    os.environ.setdefault(_key, _value)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from thermostat.store import StateStore  # noqa: E402
from thermostat.store.codec import dumps  # noqa: E402

BUCKET = "thermostat-bench-state"
NOW_MS = 1_763_800_000_000


def realistic_record(rng: random.Random, index: int) -> tuple[str, dict[str, Any]]:
    function = f"orders-{rng.choice(['api', 'worker', 'sync', 'export'])}-{index:05d}-{rng.getrandbits(40):010x}"
    qualifier = rng.choice([None, "live", "prod"])
    key = function if qualifier is None else f"{function}:{qualifier}"
    peaks: list[list[int | None]] = []
    while len(peaks) < 200:
        value = None if rng.random() < 0.05 else max(0, int(rng.gauss(6, 4)))
        peaks.append([value, rng.randint(1, 8)])
    pings = [[NOW_MS - (30 - i) * 300_000 + rng.randint(0, 999), rng.randint(1, 12)] for i in range(30)]
    envs = {f"{rng.getrandbits(48):012x}": NOW_MS - rng.randint(0, 3_600_000) for _ in range(5)}
    record = {
        "v": 1, "key": key, "function": function, "qualifier": qualifier,
        "first_seen_ms": NOW_MS - 86_400_000 * rng.randint(1, 30), "last_seen_ms": NOW_MS,
        "peaks_start_ms": NOW_MS - 3 * 86_400_000, "peaks": peaks, "pings": pings, "envs": envs,
        "send_ahead_ms": round(rng.uniform(20, 400), 1), "init_ms": round(rng.uniform(80, 2500), 1),
        "cw": [NOW_MS - 3_600_000, NOW_MS - 3_660_000, False], "protocol": 2,
        "config": [f"arn:aws:lambda:us-east-1:123456789012:function:{function}", 512, 30, None, 0, NOW_MS],
        "last_plan": [NOW_MS - 300_000, 6, 6, "ets", "ETS p95 of the next 5 min peak = 5.4 -> 6"],
        "model": {"family": "ets", "score": round(rng.random(), 4), "fitted_at_ms": NOW_MS - 3_600_000},
    }
    return key, record


def realistic_records(count: int, seed: int = 7) -> dict[str, dict[str, Any]]:
    rng = random.Random(seed)
    return dict(realistic_record(rng, i) for i in range(count))


def measure(count: int, repeat: int) -> dict[str, float]:
    records = realistic_records(count)
    json_bytes = sum(len(dumps(r)) for r in records.values())
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        store = StateStore(s3, BUCKET)
        snapshot = store.save(store.load(), records, run="bench-0", now_ms=NOW_MS)  # first save: creates
        loads, saves = [], []
        for i in range(repeat):
            start = time.perf_counter()
            snapshot = store.load()
            loads.append(time.perf_counter() - start)
            assert len(snapshot.records) == count
            start = time.perf_counter()
            snapshot = store.save(snapshot, records, run=f"bench-{i + 1}", now_ms=NOW_MS + i + 1)
            saves.append(time.perf_counter() - start)
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="thermostat/state/v1/targets-")["Contents"]
        sizes = [int(obj["Size"]) for obj in listed]
    return {"count": count, "json_bytes": json_bytes, "shards": snapshot.shards, "gz_total": sum(sizes),
            "gz_max": max(sizes), "load_s": statistics.median(loads), "save_s": statistics.median(saves)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="100,1000,5000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'records':>8} {'JSON/rec':>9} {'JSON total':>11} {'shards':>6} {'gzip total':>11} {'largest':>9} "
          f"{'ratio':>6} {'load':>8} {'save':>8}")
    for count in (int(c) for c in args.counts.split(",")):
        row = measure(count, args.repeat)
        print(f"{row['count']:>8,} {row['json_bytes'] / count:>8,.0f}B {row['json_bytes'] / 1024:>9,.0f}KB "
              f"{row['shards']:>6} {row['gz_total'] / 1024:>9,.0f}KB {row['gz_max'] / 1024:>7,.0f}KB "
              f"{row['json_bytes'] / row['gz_total']:>5.1f}x {row['load_s'] * 1000:>6.0f}ms "
              f"{row['save_s'] * 1000:>6.0f}ms")
    print("load/save: median of --repeat runs on moto's in-process S3; sizes are the shard objects as stored.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
