"""AWS/Lambda metrics of the local runtime, published into moto's CloudWatch the way Lambda publishes them.

Every invoke the runtime serves (real or ping, through moto, the botocore fast path or the traffic
generator) and every throttle is aggregated per minute in memory, on the runtime's clock:

- per function (dimension ``FunctionName``), and also per ``FunctionName`` + ``Resource`` (``name:qualifier``)
  for qualified invokes: ``Invocations``, ``Errors`` and ``Throttles`` (``Sum``), ``Duration`` (a statistic
  set: ``SampleCount``/``Sum``/``Minimum``/``Maximum``), ``ConcurrentExecutions`` (the minute's maximum
  number of that function's busy environments; read it as ``Maximum``);
- account level (no dimension): ``ConcurrentExecutions``, ``UnreservedConcurrentExecutions`` (busy
  environments of functions without reserved concurrency) and ``ClaimedAccountConcurrency`` (unreserved
  in use + reserved allocations), each the minute's maximum.

Busy counts are gauges: a minute in which nothing changed still gets the count it was left at, so a
request that spans minutes counts in each. Only minutes that have ended (``lag_s`` earlier: a lagging
metric) are published, lazily — :meth:`LambdaMetrics.publish` is called before every CloudWatch read
and after every execution — as the objects ``PutMetricData`` creates, straight into moto's backend.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum, cloudwatch_backends

NAMESPACE = "AWS/Lambda"
MAX_FILL_MINUTES = 24 * 60  # a gauge left non-zero across a longer gap fills at most a day of minutes

Dims = tuple[tuple[str, str], ...]
ACCOUNT: Dims = ()
ACCOUNT_GAUGES = ("ConcurrentExecutions", "UnreservedConcurrentExecutions", "ClaimedAccountConcurrency")


class _Stats:
    __slots__ = ("d_max", "d_min", "d_sum", "errors", "invocations", "throttles")

    def __init__(self) -> None:
        self.invocations = 0
        self.errors = 0
        self.throttles = 0
        self.d_sum = 0.0
        self.d_min = math.inf
        self.d_max = 0.0


class _Gauge:
    """A count that changes at events; ``peaks[minute]`` is its maximum over that minute."""

    __slots__ = ("minute", "peaks", "value")

    def __init__(self) -> None:
        self.value = 0
        self.minute = -1
        self.peaks: dict[int, int] = {}

    def touch(self, minute: int) -> None:
        """Bring the gauge to ``minute``: every minute it spanned unchanged had its current value."""
        if minute <= self.minute:
            return
        if self.value > 0 and self.minute >= 0:
            for m in range(max(self.minute + 1, minute - MAX_FILL_MINUTES), minute + 1):
                if self.peaks.get(m, 0) < self.value:
                    self.peaks[m] = self.value
        self.minute = minute

    def set(self, minute: int, value: int) -> None:
        self.touch(minute)  # the gauge's minute is now ``minute`` (or later, if the clock read went back)
        self.value = value
        if value > self.peaks.get(self.minute, 0):
            self.peaks[self.minute] = value


def _timestamp(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC).replace(tzinfo=None)  # moto keeps naive UTC


class LambdaMetrics:
    """Per-minute aggregation of the runtime's invokes; thread-safe, cheap per call (a few dict updates)."""

    def __init__(self, *, lag_s: float = 0.0, account_id: str = "123456789012", region: str = "us-east-1") -> None:
        self.lag_s = lag_s
        self.account_id = account_id
        self.region = region
        self.published = 0  # datapoints written so far
        self._lock = threading.Lock()
        self._stats: defaultdict[tuple[int, Dims], _Stats] = defaultdict(_Stats)
        self._gauges: defaultdict[tuple[str, Dims], _Gauge] = defaultdict(_Gauge)
        self._dims: dict[tuple[str, str | None], tuple[Dims, ...]] = {}

    # --- recording (called by the runtime) -------------------------------------------------------------
    def dims(self, function: str, qualifier: str | None) -> tuple[Dims, ...]:
        """The dimension sets an invoke of ``function[:qualifier]`` is published under."""
        key = (function, qualifier)
        found = self._dims.get(key)
        if found is None:
            by_name: Dims = (("FunctionName", function),)
            found = (by_name,) if qualifier is None else \
                (by_name, (("FunctionName", function), ("Resource", f"{function}:{qualifier}")))
            self._dims[key] = found
        return found

    def busy(self, now: float, function: str, qualifier: str | None, function_busy: int, resource_busy: int,
             total: int, unreserved: int, claimed: int) -> None:
        """Busy environments changed (an environment was taken or freed, or reservations changed)."""
        minute = int(now // 60)
        dims = self.dims(function, qualifier)
        with self._lock:
            gauges = self._gauges
            gauges[("ConcurrentExecutions", dims[0])].set(minute, function_busy)
            gauges[("ConcurrentExecutions", ACCOUNT)].set(minute, total)
            gauges[("UnreservedConcurrentExecutions", ACCOUNT)].set(minute, unreserved)
            gauges[("ClaimedAccountConcurrency", ACCOUNT)].set(minute, claimed)
            if len(dims) > 1:
                gauges[("ConcurrentExecutions", dims[1])].set(minute, resource_busy)

    def account(self, now: float, total: int, unreserved: int, claimed: int) -> None:
        """Account-level counts changed without an invoke (a reservation was set or removed)."""
        minute = int(now // 60)
        with self._lock:
            for name, value in zip(ACCOUNT_GAUGES, (total, unreserved, claimed), strict=True):
                self._gauges[(name, ACCOUNT)].set(minute, value)

    def invoked(self, started: float, function: str, qualifier: str | None, duration_ms: float,
                error: bool) -> None:
        minute = int(started // 60)
        with self._lock:
            for dims in self.dims(function, qualifier):
                stats = self._stats[(minute, dims)]
                stats.invocations += 1
                stats.errors += error
                stats.d_sum += duration_ms
                if duration_ms < stats.d_min:
                    stats.d_min = duration_ms
                if duration_ms > stats.d_max:
                    stats.d_max = duration_ms

    def throttled(self, now: float, function: str, qualifier: str | None) -> None:
        minute = int(now // 60)
        with self._lock:
            for dims in self.dims(function, qualifier):
                self._stats[(minute, dims)].throttles += 1

    # --- publishing -------------------------------------------------------------------------------------
    def take(self, now: float) -> list[MetricDatum | MetricAggregatedDatum]:
        """The datapoints of every minute that ended at least ``lag_s`` before ``now`` and is not out yet."""
        limit = int((now - self.lag_s) // 60)  # minutes < limit have ended (and are past the lag)
        out: list[MetricDatum | MetricAggregatedDatum] = []
        with self._lock:
            done = [key for key in self._stats if key[0] < limit]
            for key in sorted(done):
                out.extend(_stat_datums(key[0], key[1], self._stats.pop(key)))
            for (name, dims), gauge in self._gauges.items():
                gauge.touch(limit - 1)
                for minute in sorted(m for m in gauge.peaks if m < limit):
                    value = gauge.peaks.pop(minute)
                    if value > 0:
                        out.append(MetricDatum(NAMESPACE, name, float(value), _dimensions(dims),
                                               _timestamp(minute), "Count"))
        return out

    def publish(self, now: float, backend: Any = None) -> int:
        """Write the finished minutes into moto's CloudWatch (inside ``mock_aws``); returns how many datapoints."""
        datums = self.take(now)
        if datums:
            target = backend if backend is not None else cloudwatch_backends[self.account_id][self.region]
            target.metric_data.extend(datums)
            self.published += len(datums)
        return len(datums)


def _dimensions(dims: Dims) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in dims]


def _stat_datums(minute: int, dims: Dims, stats: _Stats) -> list[MetricDatum | MetricAggregatedDatum]:
    ts, dimensions = _timestamp(minute), _dimensions(dims)
    out: list[MetricDatum | MetricAggregatedDatum] = [
        MetricDatum(NAMESPACE, "Throttles", float(stats.throttles), dimensions, ts, "Count")]
    if stats.invocations:
        out += [MetricDatum(NAMESPACE, "Invocations", float(stats.invocations), dimensions, ts, "Count"),
                MetricDatum(NAMESPACE, "Errors", float(stats.errors), dimensions, ts, "Count"),
                MetricAggregatedDatum(NAMESPACE, "Duration", stats.d_min, stats.d_max, float(stats.invocations),
                                      stats.d_sum, dimensions, ts, "Milliseconds")]
    return out
