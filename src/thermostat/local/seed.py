"""CloudWatch history for the embedded AWS, replayed from a real trace onto the local target functions.

Each target gets one trace function with real traffic (active in at least half the minutes, a peak
concurrency between 2 and 25; chosen deterministically from ``seed``). Its 24 h are replayed with the
simulator's own workload model (``thermostat.sim.workload``: arrivals uniform within each minute,
durations drawn from the function's percentile table) and written as the metrics Lambda and the target
library would have published, one datapoint per active minute, ending at the minute before "now":

- ``AWS/Lambda`` ``ConcurrentExecutions`` (the exact per-minute peak of overlapping requests, read
  with ``Maximum``), ``Invocations`` and ``Throttles`` (``Sum``), ``Duration`` (a statistic set, so
  ``Average``/``Minimum``/``Maximum`` are exact), all with dimension ``FunctionName``;
- ``Thermostat`` ``RealInvocation`` (``Sum``, dimension ``FunctionName``).

Datapoints are appended to moto's CloudWatch backend directly (the same objects ``PutMetricData``
creates, ~100x faster than the API for --targets 50); a test checks both paths read back the same.
Without the trace a seeded synthetic day (diurnal curve plus noise) is used, and the run says so.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum, cloudwatch_backends

from thermostat.local.exceptions import TraceSeedError

MINUTES = 1440
DEFAULT_TRACE_NAME = "azure2019-1000fn-24h"
MIN_ACTIVE_SHARE = 0.5
PEAK_RANGE = (2, 25)


@dataclass(frozen=True)
class MinuteHistory:
    """Per-minute history of one function (index 0 = 24 h ago, the last = the minute before now)."""

    source: str  # "azure2019:<hash prefix>" or "synthetic:<n>"
    invocations: npt.NDArray[np.int64]
    concurrency: npt.NDArray[np.int64]
    duration_sum_ms: npt.NDArray[np.float64]
    duration_min_ms: npt.NDArray[np.float64]
    duration_max_ms: npt.NDArray[np.float64]

    @property
    def peak(self) -> int:
        return int(self.concurrency.max()) if self.concurrency.size else 0


@dataclass(frozen=True)
class SeededTarget:
    function: str
    source: str
    invocations: int
    peak_concurrency: int
    datapoints: int


def default_trace_dir(project_root: Path) -> Path:
    return (project_root / ".." / "shared" / "traces" / DEFAULT_TRACE_NAME).resolve()


@functools.lru_cache(maxsize=4)
def _candidates(trace_dir: Path, seed: int) -> tuple[MinuteHistory, ...]:
    from thermostat.sim.azure import read_azure  # the simulator's reader: one parser for every variant

    try:
        trace = read_azure(trace_dir)
    except Exception as exc:
        raise TraceSeedError(f"{trace_dir}: cannot read the trace: {exc}") from exc
    counts = trace.counts[:, -MINUTES:]
    active = (counts > 0).mean(axis=1)
    histories = []
    for index in np.flatnonzero(active >= MIN_ACTIVE_SHARE):
        history = replay(trace.ids[index], counts[index], trace.durations[index], seed)
        if PEAK_RANGE[0] <= history.peak <= PEAK_RANGE[1]:
            histories.append(history)
    if not histories:
        raise TraceSeedError(f"{trace_dir}: no function with real traffic (active >= 50% of minutes, peak 2-25)")
    return tuple(sorted(histories, key=lambda h: h.source))


def replay(function_id: str, counts: npt.NDArray[np.int64], table: npt.NDArray[np.float64],
           seed: int) -> MinuteHistory:
    from thermostat.sim.workload import make_workload, profile

    rng = np.random.default_rng([seed, zlib.crc32(function_id.encode())])
    work = make_workload(counts.astype(np.int64), table.astype(np.float64), rng)
    prof = profile(work, counts.size)
    minute = (work.arrivals // 60_000.0).astype(np.int64)
    dmin = np.full(counts.size, np.inf)
    dmax = np.zeros(counts.size)
    np.minimum.at(dmin, minute, work.durations)
    np.maximum.at(dmax, minute, work.durations)
    return MinuteHistory(f"azure2019:{function_id[:12]}", prof.count, prof.minute_max, prof.duration_sum,
                         np.where(np.isfinite(dmin), dmin, 0.0), dmax)


def synthetic(index: int, seed: int) -> MinuteHistory:
    """A plausible day without a trace: a diurnal curve peaking at 3-10 concurrent, with noise."""
    rng = np.random.default_rng([seed, index, 7])
    minutes = np.arange(MINUTES)
    peak = 3 + index % 8
    phase = rng.uniform(0, 2 * np.pi)
    base = 0.5 * (1 + np.sin(2 * np.pi * minutes / MINUTES + phase))
    duration_ms = float(rng.uniform(80, 600))
    concurrency = np.maximum(0, np.round(base * peak + rng.normal(0, 0.6, MINUTES))).astype(np.int64)
    invocations = (concurrency * 60_000.0 / duration_ms * rng.uniform(0.3, 0.6, MINUTES)).astype(np.int64)
    concurrency = np.where(invocations > 0, np.maximum(concurrency, 1), 0)
    durations = invocations * duration_ms
    return MinuteHistory(f"synthetic:{index}", invocations, concurrency, durations.astype(np.float64),
                         np.where(invocations > 0, duration_ms * 0.5, 0.0),
                         np.where(invocations > 0, duration_ms * 2.0, 0.0))


def histories_for(names: list[str], trace_dir: Path | None, seed: int) -> dict[str, MinuteHistory]:
    """One history per function name; distinct trace functions while they last, deterministic by seed."""
    ordered = sorted(names)
    if trace_dir is None or not trace_dir.is_dir():
        return {name: synthetic(i, seed) for i, name in enumerate(ordered)}
    pool = _candidates(trace_dir, seed)
    order = np.random.default_rng(seed).permutation(len(pool))
    return {name: pool[int(order[i % len(pool)])] for i, name in enumerate(ordered)}


def datums(function: str, history: MinuteHistory, now: float) -> list[MetricDatum | MetricAggregatedDatum]:
    """The datapoints of one function's history, ending at the minute before ``now`` (epoch seconds)."""
    end = datetime.fromtimestamp(now, UTC).replace(tzinfo=None, second=0, microsecond=0)
    first = end - timedelta(minutes=history.invocations.size)
    dims = [{"Name": "FunctionName", "Value": function}]
    out: list[MetricDatum | MetricAggregatedDatum] = []
    for m in np.flatnonzero(history.invocations > 0):
        ts = first + timedelta(minutes=int(m))
        n = float(history.invocations[m])
        out.append(MetricDatum("AWS/Lambda", "Invocations", n, dims, ts, "Count"))
        out.append(MetricDatum("AWS/Lambda", "ConcurrentExecutions", float(history.concurrency[m]), dims, ts,
                               "Count"))
        out.append(MetricDatum("AWS/Lambda", "Throttles", 0.0, dims, ts, "Count"))
        out.append(MetricAggregatedDatum("AWS/Lambda", "Duration", float(history.duration_min_ms[m]),
                                         float(history.duration_max_ms[m]), n,
                                         float(history.duration_sum_ms[m]), dims, ts, "Milliseconds"))
        out.append(MetricDatum("Thermostat", "RealInvocation", n, dims, ts, "Count"))
    return out


def seed_history(functions: list[str], *, now: float, trace_dir: Path | None, seed: int = 7,
                 account_id: str = "123456789012", region: str = "us-east-1") -> list[SeededTarget]:
    """Write 24 h of per-minute history for ``functions`` into moto's CloudWatch (inside ``mock_aws``)."""
    backend = cloudwatch_backends[account_id][region]
    seeded = []
    for name, history in histories_for(functions, trace_dir, seed).items():
        points = datums(name, history, now)
        backend.metric_data.extend(points)
        seeded.append(SeededTarget(name, history.source, int(history.invocations.sum()), history.peak, len(points)))
    return seeded
