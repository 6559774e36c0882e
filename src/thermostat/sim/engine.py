"""Runs every policy over the same arrivals, function by function (optionally on several processes).

Each function gets its own seeded generators (derived from ``--seed`` and a CRC of its id, so filtering
the trace never changes a function's arrivals): one for its requests, one for the lifetimes of its
environments (the k-th environment created lives equally long under every policy).

Warm hours (``SimSettings.hours``, ``--hours``): every pinging policy sends nothing at a tick outside them and
the thermostat reads no CloudWatch there; requests and cold starts are replayed and counted all day.
Provisioned Concurrency stays on all day (its cost is unchanged).
"""

from __future__ import annotations

import multiprocessing
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from thermostat import cost
from thermostat.hours import active_minutes
from thermostat.hours import parse as parse_hours
from thermostat.ping_price import PING_OVERHEAD_MS
from thermostat.sim.lifecycle import EnvPool
from thermostat.sim.policies import Policy, SimSettings, baseline_pings, tick_minutes_of
from thermostat.sim.thermostat_policy import ThermostatTarget, run_thermostat
from thermostat.sim.trace import Trace
from thermostat.sim.workload import Profile, Workload, make_workload, profile

NONE = Policy("none")


@dataclass
class Outcome:
    """One policy on one function."""

    invocations: int = 0
    cold_starts: int = 0
    cold_first_hour: int = 0  # of those, in the trace's first hour (no history yet)
    throttles: int = 0
    pings: int = 0
    warming_inits: int = 0
    wasted_ms: float = 0.0
    ping_usd: float = 0.0
    init_usd: float = 0.0
    provisioned_usd: float = 0.0  # over the trace's duration
    pings_per_tick: npt.NDArray[np.int64] | None = None
    metric_reads: int = 0  # CloudWatch metrics read (thermostat)
    real_cold_seen: int = 0  # real cold starts the answers revealed (thermostat)
    seconds: float = 0.0  # time spent replaying this policy on this function (in its worker)
    models: dict[str, int] = field(default_factory=dict)  # what decided each tick (thermostat)


@dataclass
class FunctionResult:
    index: int
    peak: int
    outcomes: dict[str, Outcome]


def score_window(settings: SimSettings, minutes: int) -> tuple[float, float]:
    """[lo, hi) in ms of the trace that is scored (cold starts, pings, costs); the policies run from 0."""
    end = minutes if settings.score_to_minute is None else min(settings.score_to_minute, minutes)
    return settings.score_from_minute * 60_000.0, end * 60_000.0


@lru_cache(maxsize=8)
def _awake(hours: str, start_ms: int, minutes: int) -> bytes:
    return bytes(active_minutes(parse_hours(hours), start_ms, minutes))


def awake_minutes(settings: SimSettings, trace: Trace) -> npt.NDArray[np.bool_] | None:
    """Per minute of the trace, inside the warm hours (None: no hours, always)."""
    if settings.hours is None:
        return None
    return np.frombuffer(_awake(settings.hours, trace.start_ms, trace.minutes), dtype=np.uint8).astype(bool)


def function_seed(seed: int, name: str) -> list[int]:
    return [seed, zlib.crc32(name.encode("utf-8"))]


def simulate_function(trace: Trace, index: int, policies: list[Policy], settings: SimSettings) -> FunctionResult:
    name, memory = trace.ids[index], int(trace.memory_mb[index])
    seed = function_seed(settings.seed, name)
    work = make_workload(trace.counts[index], trace.durations[index], np.random.default_rng(seed), settings.arrivals)
    prof = profile(work, trace.minutes)
    ticks = tick_minutes_of(trace.minutes, settings.tick_minutes)
    outcomes: dict[str, Outcome] = {}
    lo, hi = score_window(settings, trace.minutes)
    scored = int(np.count_nonzero((work.arrivals >= lo) & (work.arrivals < hi)))
    for policy in policies:
        began = time.perf_counter()
        out = Outcome(invocations=scored)
        outcomes[policy.name] = out
        _replay(policy, out, work, prof, ticks, name, memory, seed, trace, settings)
        out.seconds = time.perf_counter() - began
    return FunctionResult(index, prof.peak, outcomes)


def _replay(policy: Policy, out: Outcome, work: Workload, prof: Profile, ticks: npt.NDArray[np.int64], name: str,
            memory: int, seed: list[int], trace: Trace, settings: SimSettings) -> None:
    end_ms = trace.minutes * 60_000.0
    life = settings.life
    lo, hi = score_window(settings, trace.minutes)
    if policy.kind == "provisioned":
        out.provisioned_usd = cost.provisioned_usd(memory, prof.peak, (min(hi, end_ms) - lo) / 1000.0)
        return
    if policy.kind == "none" and work.arrivals.size == 0:
        return
    pool = EnvPool(work.arrivals, work.durations, life, np.random.default_rng([*seed, 1]), window=(lo, hi))
    hold = settings.hold_ms(policy)
    awake = awake_minutes(settings, trace)
    if policy.kind == "thermostat":
        priced = settings if policy.price is None else replace(settings, price_per_cold_start=policy.price)
        target = ThermostatTarget(name, memory, prof, trace.start_ms, priced, window=(lo, hi), awake=awake)
        out.pings_per_tick = run_thermostat(pool, target, ticks)
        out.metric_reads, out.real_cold_seen, out.models = target.metric_reads, target.real_cold_seen, target.terms
    elif policy.pings:
        schedule = baseline_pings(policy, prof, ticks, settings.forecast.horizon_minutes)
        if awake is not None:
            schedule = np.where(awake[ticks], schedule, 0)
        for minute, count in zip(ticks.tolist(), schedule.tolist(), strict=True):
            if count:
                pool.ping(minute * 60_000.0, count, hold)
        out.pings_per_tick = schedule
    pool.finish(end_ms)
    out.cold_starts, out.throttles, out.pings = pool.cold_starts, pool.throttles, pool.pings
    out.cold_first_hour = pool.cold_by_hour[0] if pool.cold_by_hour else 0
    out.warming_inits, out.wasted_ms = pool.warming_inits, pool.wasted_ms
    out.ping_usd = cost.lambda_invocation_usd(memory, hold + PING_OVERHEAD_MS, pool.pings)
    out.init_usd = pool.warming_inits * cost.lambda_duration_usd(memory, life.init_ms)


# Each worker process receives the trace once, through its initializer (any start method works: fork,
# forkserver, spawn), then replays the chunks it is handed.
_SHARED: tuple[Trace, list[Policy], SimSettings] | None = None


def _init_worker(trace: Trace, policies: list[Policy], settings: SimSettings) -> None:
    global _SHARED
    _SHARED = (trace, policies, settings)


def _chunk(indices: list[int]) -> list[FunctionResult]:
    assert _SHARED is not None
    trace, policies, settings = _SHARED
    return [simulate_function(trace, i, policies, settings) for i in indices]


def chunks(trace: Trace, size: int) -> list[list[int]]:
    """Longest first: functions by active minutes, then volume (what the replay and above all the forecast
    cost), cut into chunks the pool hands out in that order, so the last chunks to finish are small."""
    active = (trace.counts > 0).sum(axis=1)
    order = np.lexsort((-trace.counts.sum(axis=1), -active)).tolist()
    return [order[i:i + size] for i in range(0, len(order), size)]


def start_method() -> str:
    """forkserver on Linux (no fork of a threaded parent), spawn elsewhere (macOS, Windows)."""
    return "forkserver" if sys.platform.startswith("linux") else "spawn"


def simulate(trace: Trace, policies: list[Policy], settings: SimSettings, *, workers: int = 1,
             chunk_size: int = 10, progress: Callable[[int], None] | None = None) -> list[FunctionResult]:
    """All functions, all policies; ``progress(n)`` is called as ``n`` more functions finish."""
    wanted = policies if any(p.kind == "none" for p in policies) else [NONE, *policies]
    results: list[FunctionResult] = []
    for batch in _run(trace, wanted, settings, workers, chunk_size):
        results.extend(batch)
        if progress is not None:
            progress(len(batch))
    results.sort(key=lambda r: r.index)
    return results


def _run(trace: Trace, policies: list[Policy], settings: SimSettings, workers: int, chunk_size: int
         ) -> Iterator[list[FunctionResult]]:
    parts = chunks(trace, chunk_size)
    if workers <= 1 or len(parts) <= 1:
        for part in parts:
            yield [simulate_function(trace, i, policies, settings) for i in part]
        return
    context = multiprocessing.get_context(start_method())
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                             initargs=(trace, policies, settings)) as pool:
        yield from pool.map(_chunk, parts)
