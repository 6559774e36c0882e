"""CloudWatch history for the embedded AWS, replayed from a real trace onto the local target functions.

Each target gets one trace function with real traffic (active in at least half the minutes, a peak
concurrency between 2 and 25; chosen deterministically from ``seed``). Its 24 h are replayed with the
simulator's own workload model (``thermostat.sim.workload``: arrivals uniform within each minute,
durations drawn from the function's percentile table) and written as the metrics Lambda would have
published, one datapoint per active minute (never a zero), ending at the minute before "now":

- per target, dimension ``FunctionName``: ``AWS/Lambda`` ``ConcurrentExecutions`` (the exact per-minute
  peak of overlapping requests, read with ``Maximum``), ``Invocations`` (``Sum``) and ``Duration`` (a
  statistic set, so ``Average``/``Minimum``/``Maximum`` are exact);
- account level, no dimension: ``ConcurrentExecutions`` and ``UnreservedConcurrentExecutions`` (the sum
  of the targets' per-minute peaks: an upper bound, peaks of different functions need not coincide)
  and ``ClaimedAccountConcurrency`` (that, plus the reserved allocations).

The history is kept as :class:`~thermostat.local.dense.DenseSeries` (numpy arrays, shared by targets
mapped to the same trace function) that the CloudWatch index workaround answers ``GetMetricData`` from:
seeding 5,000 targets takes well under a second, where moto's datapoint objects took minutes and
gigabytes. A test checks a seeded series reads back like the same datapoints put through the API.
Without the trace a seeded synthetic day (diurnal curve plus noise) is used, and the run says so.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum, cloudwatch_backends

from thermostat.local import workarounds
from thermostat.local.dense import DenseSeries
from thermostat.local.exceptions import TraceSeedError
from thermostat.local.metrics import ACCOUNT_GAUGES, NAMESPACE

MINUTES = 1440
EPOCH = datetime(1970, 1, 1)
DEFAULT_TRACE_NAME = "azure2019-250fn-24h"
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

    @functools.cached_property
    def series(self) -> dict[str, DenseSeries]:
        """The metrics of this history as dense series starting at slot 0 of ``EPOCH`` (re-based per target)."""
        active = self.invocations > 0
        return {
            "ConcurrentExecutions": DenseSeries(EPOCH, self.concurrency, self.concurrency > 0, "Count"),
            "Invocations": DenseSeries(EPOCH, self.invocations, active, "Count"),
            "Duration": DenseSeries(EPOCH, self.duration_sum_ms, active, "Milliseconds", count=self.invocations,
                                    minimum=self.duration_min_ms, maximum=self.duration_max_ms),
        }


@dataclass(frozen=True)
class SeededTarget:
    function: str
    source: str
    invocations: int
    peak_concurrency: int
    datapoints: int
    history: MinuteHistory | None = field(default=None, repr=False, compare=False)
    start_epoch: float = 0.0  # epoch seconds of the history's first minute


def default_trace_dir(project_root: Path) -> Path:
    """The Azure 2019 sample shipped in the repository (``traces/``, CC-BY; see its README)."""
    return (project_root / "traces" / DEFAULT_TRACE_NAME).resolve()


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


def history_start(history: MinuteHistory, now: float) -> datetime:
    """Timestamp of slot 0: the history ends at the minute before ``now`` (epoch seconds)."""
    end = datetime.fromtimestamp(now, UTC).replace(tzinfo=None, second=0, microsecond=0)
    return end - timedelta(minutes=history.invocations.size)


def datums(function: str, history: MinuteHistory, now: float) -> list[MetricDatum | MetricAggregatedDatum]:
    """The datapoints one function's seeded history stands for (what ``PutMetricData`` would have stored)."""
    start = history_start(history, now)
    end = start + timedelta(minutes=history.invocations.size)
    dims = [{"Name": "FunctionName", "Value": function}]
    out: list[MetricDatum | MetricAggregatedDatum] = []
    for name, series in history.series.items():
        out += replace(series, start=start).datums(NAMESPACE, name, dims, start, end)
    return out


def seed_history(functions: list[str], *, now: float, trace_dir: Path | None, seed: int = 7,
                 account_id: str = "123456789012", region: str = "us-east-1",
                 reserved: Mapping[str, int] | None = None) -> list[SeededTarget]:
    """24 h of per-minute history for ``functions`` (and the account) in moto's CloudWatch, as dense series
    read through the CloudWatch index workaround (inside ``mock_aws``). ``reserved``: reserved concurrency
    of functions that have one (their peaks are not unreserved use; allocations count as claimed)."""
    backend = cloudwatch_backends[account_id][region]
    reserved = dict(reserved or {})
    seeded = []
    total = np.zeros(MINUTES, dtype=np.int64)
    unreserved = np.zeros(MINUTES, dtype=np.int64)
    start: datetime | None = None
    for name, history in histories_for(functions, trace_dir, seed).items():
        start = history_start(history, now)
        points = 0
        for metric, series in history.series.items():
            workarounds.add_dense_series(backend, NAMESPACE, metric, {"FunctionName": name},
                                         replace(series, start=start))
            points += int(series.present.sum())
        total += history.concurrency
        if name not in reserved:
            unreserved += history.concurrency
        seeded.append(SeededTarget(name, history.source, int(history.invocations.sum()), history.peak, points,
                                   history, start.replace(tzinfo=UTC).timestamp()))
    if start is not None:
        claimed = unreserved + sum(reserved.values())
        for metric, values in zip(ACCOUNT_GAUGES, (total, unreserved, claimed), strict=True):
            workarounds.add_dense_series(backend, NAMESPACE, metric, {},
                                         DenseSeries(start, values, values > 0, "Count"))
    return seeded
