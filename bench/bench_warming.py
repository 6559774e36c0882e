"""Warm Batch in real time, with a fake invoker: how tightly a group's pings leave, and whether they overlap.

For N = 1 … 500 pings in one group, ``thermostat.warming.warm_batch`` runs with real threads, real time and
a fake Lambda with execution-environment semantics (an idle environment is reused, else a new one starts;
a ping holds until ``release_at`` like the target library does) and 5-60 ms of invoke latency each way.
Printed per N: the group's lead (send-ahead), when the first and the last ping left relative to the
group's scheduled start (the send spread: threads are started before the start and wait on one signal),
how late the last ping arrived relative to release_at, distinct environments / pings, and the median hold.
Then: groups with different leads in one batch, and a target throttled on every ping (time to give up).

    .venv/bin/python bench/bench_warming.py
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import threading
import time
from typing import Any

from thermostat.exceptions import TargetThrottledError
from thermostat.models import WarmBatch
from thermostat.warming import Reply, Runtime, WarmOptions, warm_batch
from thermostat_target.protocol import compute_hold_ms, make_answer

LEAD_MS = 1500  # the batch starts this long before release_at (the Map iteration's head start)


class FakeLambda:
    """Execution environments per function; records when each ping left and arrived."""

    def __init__(self, seed: int, latency_ms: tuple[float, float] = (5.0, 60.0), throttle: bool = False) -> None:
        self.rng = random.Random(seed)
        self.latency = latency_ms
        self.throttle = throttle
        self.lock = threading.Lock()
        self.idle: dict[str, list[str]] = {}
        self.started = 0
        self.calls = 0
        self.sent_ms: dict[tuple[str, int], float] = {}
        self.late_ms: list[float] = []

    def __call__(self, function: str, qualifier: str | None, payload: bytes) -> Reply:
        now = time.time() * 1000
        ping = json.loads(payload)["thermostat"]
        with self.lock:
            self.calls += 1
            self.sent_ms.setdefault((function, ping["slot"]), now)
            latency = self.rng.uniform(*self.latency) / 1000
        if self.throttle:
            time.sleep(latency)
            return Reply("throttled", message="TooManyRequestsException: Rate Exceeded.")
        time.sleep(latency / 2)  # on its way
        arrived = time.time() * 1000
        with self.lock:
            self.late_ms.append(arrived - ping["release_at_ms"])
            pool = self.idle.setdefault(function, [])
            cold = not pool
            if cold:
                self.started += 1
                env = f"env{self.started}"
            else:
                env = pool.pop()
        hold = compute_hold_ms(ping["release_at_ms"], arrived, ping["max_hold_ms"], None)
        time.sleep(hold / 1000)
        with self.lock:
            self.idle[function].append(env)
        time.sleep(latency / 2)  # the answer on its way back
        answer = make_answer(env=env, cold=cold, init_ms=0.0, held_ms=hold, invocations=1,
                             late_ms=max(0.0, arrived - ping["release_at_ms"]))
        return Reply("ok", json.dumps(answer).encode())


def batch(groups: list[tuple[str, int, float]], now_ms: float, deadline_ms: int = 4000) -> WarmBatch:
    release = int(now_ms) + LEAD_MS
    return {"run": "bench", "run_name": "bench", "batch": 0, "round": 0, "release_at_ms": release,
            "deadline_ms": release + deadline_ms, "max_hold_ms": 2000, "period_s": 300, "refresh": True,
            "pings": [{"key": name, "function": name, "qualifier": None, "first_slot": 0, "count": n, "of": n,
                       "send_ahead_ms": lead, "protocol": 2} for name, n, lead in groups]}


def runtime() -> Runtime:
    return Runtime(now_ms=lambda: time.time() * 1000, sleep=time.sleep, uniform=random.uniform)


def one_group(n: int) -> dict[str, Any]:
    fake = FakeLambda(seed=n)
    doc = batch([("target", n, 80.0)], time.time() * 1000)
    [outcome] = warm_batch(doc, fake, runtime())
    start = outcome["release_at_ms"] - outcome["send_ahead_ms"]
    sent = sorted(fake.sent_ms.values())
    holds = [a[2] for a in outcome["answers"]]
    return {"n": n, "lead": outcome["send_ahead_ms"], "first": sent[0] - start, "last": sent[-1] - start,
            "late": max(fake.late_ms), "distinct": len({a[0] for a in outcome["answers"]}),
            "hold": statistics.median(holds) if holds else 0.0}


def main() -> None:
    logging.getLogger("thermostat").setLevel(logging.ERROR)
    print("one group per batch, fake invoker with 5-60 ms latency each way (ms; send times from the group's start;"
          " last late < 0: before release_at)")
    print(f"{'pings':>5} {'lead':>6} {'first sent':>10} {'last sent':>9} {'spread':>7} {'last late':>9} "
          f"{'distinct':>8} {'ratio':>6} {'hold p50':>8}")
    for n in (1, 10, 50, 100, 200, 300, 500):
        r = one_group(n)
        print(f"{r['n']:>5} {r['lead']:>6.0f} {r['first']:>10.1f} {r['last']:>9.1f} {r['last'] - r['first']:>7.1f} "
              f"{r['late']:>9.1f} {r['distinct']:>8} {r['distinct'] / r['n']:>6.3f} {r['hold']:>8.1f}")
    fake = FakeLambda(seed=7)
    groups = [("a", 100, 300.0), ("b", 100, 200.0), ("c", 150, 150.0), ("d", 150, 100.0)]
    doc = batch(groups, time.time() * 1000)
    outcomes = {o["key"]: o for o in warm_batch(doc, fake, runtime())}
    print("\nfour groups in one batch of 500 (learned leads 300/200/150/100 ms), each started at its own lead")
    for name, n, _ in groups:
        o = outcomes[name]
        start = o["release_at_ms"] - o["send_ahead_ms"]
        sent = sorted(t for (f, _), t in fake.sent_ms.items() if f == name)
        print(f"  group {name}: {n:>3} pings, lead {o['send_ahead_ms']:>5.0f} ms, sent {sent[0] - start:>6.1f} .. "
              f"{sent[-1] - start:>6.1f} ms after its start, distinct {len({a[0] for a in o['answers']})}/{n}")
    fake = FakeLambda(seed=3, throttle=True)
    started = time.perf_counter()
    try:
        warm_batch(batch([("limited", 50, 80.0)], time.time() * 1000, deadline_ms=20_000), fake, runtime(),
                   WarmOptions())
        outcome = "returned"
    except TargetThrottledError:
        outcome = "TargetThrottledError"
    print(f"\ntarget throttled on every ping: 50 pings, 20 s retry window -> {outcome} after "
          f"{time.perf_counter() - started:.2f} s ({LEAD_MS / 1000:.1f} s of it waiting for release), "
          f"{fake.calls} invocations")


if __name__ == "__main__":
    main()
