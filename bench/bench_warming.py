"""Warm Batch in real time: distinct environments / pings for N = 1..200 with invoke jitter, and throttling.

A fake Lambda with execution-environment semantics (an idle environment is reused, else a new one starts;
a ping holds until ``release_at`` as DESIGN §3 says) is invoked through ``thermostat.warming.warm_batch``
with real threads, real time and a random 5-60 ms invoke latency. Prints one line per scenario.

    .venv/bin/python bench/bench_warming.py
"""

from __future__ import annotations

import json
import random
import threading
import time

from thermostat import models
from thermostat.exceptions import TargetThrottledError
from thermostat.warming import Reply, Runtime, WarmOptions, warm_batch
from thermostat_target.protocol import compute_hold_ms, make_answer

LEAD_MS = 1500


class JitteryLambda:
    def __init__(self, seed: int, limit: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.limit = limit
        self.lock = threading.Lock()
        self.idle: list[str] = []
        self.busy = 0
        self.started = 0

    def __call__(self, function: str, qualifier: str | None, payload: bytes) -> Reply:
        ping = json.loads(payload)["thermostat"]
        with self.lock:
            latency = self.rng.uniform(0.005, 0.060)
        time.sleep(latency / 2)  # request on its way
        with self.lock:
            if self.limit is not None and self.busy >= self.limit:
                return Reply("throttled", message="TooManyRequestsException: Rate Exceeded.")
            self.busy += 1
            cold = not self.idle
            if cold:
                self.started += 1
                env = f"env{self.started}"
            else:
                env = self.idle.pop()
        hold = compute_hold_ms(ping["release_at_ms"], time.time() * 1000, ping["max_hold_ms"], None)
        time.sleep(hold / 1000)
        with self.lock:
            self.busy -= 1
            self.idle.append(env)
        time.sleep(latency / 2)  # answer on its way
        answer = make_answer(env=env, cold=cold, init_ms=0.0, held_ms=hold, invocations=1, function=function)
        return Reply("ok", json.dumps(answer).encode())


def batch(n: int, now_ms: float, deadline_ms: int = 4000) -> models.WarmBatch:
    release = int(now_ms) + LEAD_MS
    return {"run": "bench", "batch": 0, "round": 0, "release_at_ms": release, "max_hold_ms": 2000,
            "period_s": 300, "refresh": True, "deadline_ms": release + deadline_ms,
            "pings": [{"function": "target", "qualifier": None, "first_slot": 0, "count": n, "of": n}]}


def main() -> None:
    runtime = Runtime(now_ms=lambda: time.time() * 1000, sleep=time.sleep, uniform=random.uniform)
    print(f"{'scenario':<34} {'pings':>5} {'distinct':>8} {'ratio':>6} {'throttled':>9} {'wall s':>7}")
    for n in (1, 10, 50, 100, 200):
        started = time.perf_counter()
        result = warm_batch(batch(n, runtime.now_ms()), JitteryLambda(seed=n), runtime)
        [outcome] = result["results"]
        wall = time.perf_counter() - started
        print(f"{'jitter 5-60 ms':<34} {n:>5} {len(outcome['envs']):>8} {len(outcome['envs']) / n:>6.3f} "
              f"{outcome['throttled']:>9} {wall:>7.2f}")
    for n, limit in ((50, 30), (20, 0)):
        started = time.perf_counter()
        label = f"concurrency limit {limit}"
        try:
            [outcome] = warm_batch(batch(n, runtime.now_ms(), deadline_ms=2000), JitteryLambda(1, limit), runtime,
                                   WarmOptions())["results"]
            print(f"{label:<34} {n:>5} {len(outcome['envs']):>8} {len(outcome['envs']) / n:>6.3f} "
                  f"{outcome['throttled']:>9} {time.perf_counter() - started:>7.2f}")
        except TargetThrottledError as exc:
            print(f"{label:<34} {n:>5} {0:>8} {0:>6.3f} {'raised':>9} {time.perf_counter() - started:>7.2f}  "
                  f"TargetThrottledError: {str(exc)[:60]}")


if __name__ == "__main__":
    main()
