"""Per-function request stream of a replay: arrival times and durations (numpy, seeded), and the
real-traffic concurrency profile the baselines and the CloudWatch view are built from.

Arrivals: ``uniform`` places each minute's count uniformly inside the minute; ``poisson`` treats the
count as the rate of a Poisson process (the number in each minute is drawn ~ Poisson(count), placed
uniformly). Durations are drawn by inverse-CDF from the function's percentile table, interpolating
linearly between the percentiles (at least 1 ms, Lambda's billing granularity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from thermostat.sim.trace import DURATION_PERCENTILES

MINUTE_MS = 60_000.0
ARRIVAL_MODES = ("uniform", "poisson")
_PCTS = np.asarray(DURATION_PERCENTILES, dtype=np.float64)


@dataclass(frozen=True)
class Workload:
    arrivals: npt.NDArray[np.float64]  # ms since trace start, sorted
    durations: npt.NDArray[np.float64]  # ms of execution (init not included)


@dataclass(frozen=True)
class Profile:
    """Concurrency of real requests (busy environments without init time) per minute."""

    minute_max: npt.NDArray[np.int64]  # max concurrency during each minute
    at_minute_start: npt.NDArray[np.int64]  # concurrency at each minute boundary
    count: npt.NDArray[np.int64]  # requests started in each minute
    duration_sum: npt.NDArray[np.float64]  # their summed durations (ms)
    peak: int


def make_workload(counts: npt.NDArray[np.int64], table: npt.NDArray[np.float64], rng: np.random.Generator,
                  mode: str = "uniform") -> Workload:
    if mode == "poisson":
        counts = rng.poisson(counts.astype(np.float64))
    elif mode != "uniform":
        raise ValueError(f"unknown arrival mode {mode!r}; expected one of {ARRIVAL_MODES}")
    total = int(counts.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.float64)
        return Workload(empty, empty)
    minutes = np.repeat(np.arange(counts.size, dtype=np.float64), counts)
    arrivals = np.sort((minutes + rng.random(total)) * MINUTE_MS)
    durations = np.maximum(np.interp(rng.random(total) * 100.0, _PCTS, table), 1.0)
    return Workload(arrivals, durations)


def profile(work: Workload, minutes: int) -> Profile:
    """Concurrency step function of the requests, reduced per minute (vectorised)."""
    starts, ends = work.arrivals, work.arrivals + work.durations
    minute_index = (starts // MINUTE_MS).astype(np.int64)
    count = np.bincount(minute_index, minlength=minutes)[:minutes].astype(np.int64)
    duration_sum = np.bincount(minute_index, weights=work.durations, minlength=minutes)[:minutes]
    if starts.size == 0:
        zeros = np.zeros(minutes, dtype=np.int64)
        return Profile(zeros, zeros.copy(), count, duration_sum, 0)
    times = np.concatenate([ends, starts])
    deltas = np.concatenate([np.full(ends.size, -1, dtype=np.int64), np.ones(starts.size, dtype=np.int64)])
    order = np.lexsort((deltas, times))  # by time; an end at t frees before a start at t
    times, level = times[order], np.cumsum(deltas[order])
    bounds = np.arange(minutes, dtype=np.float64) * MINUTE_MS
    sorted_ends = np.sort(ends)
    at_start = (np.searchsorted(starts, bounds, side="right")
                - np.searchsorted(sorted_ends, bounds, side="right")).astype(np.int64)
    minute_max = at_start.copy()
    event_minute = (times // MINUTE_MS).astype(np.int64)
    inside = event_minute < minutes
    np.maximum.at(minute_max, event_minute[inside], level[inside])
    return Profile(minute_max, at_start, count, duration_sum, int(level.max()))


def window_max(per_minute: npt.NDArray[np.int64], starts: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.int64]:
    """max(per_minute[s:s+width]) for every s in ``starts`` (windows clipped at the end)."""
    padded = np.concatenate([per_minute, np.zeros(width, dtype=per_minute.dtype)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    return windows[np.clip(starts, 0, per_minute.size)].max(axis=1)
