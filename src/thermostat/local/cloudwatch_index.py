"""Workaround 1 of :mod:`thermostat.local.workarounds`: an index for moto's CloudWatch ``GetMetricData``.

moto scanned every stored datapoint for every period of every query (O(periods x datapoints): 16.7 s for
one 24 h per-minute query with 20 functions' history). Datapoints are indexed by (namespace, metric,
dimensions) and grouped into buckets by bisection; dense series (seeded history as numpy arrays,
:mod:`thermostat.local.dense`) are answered from their arrays. AWS's matching rules apply where moto's
differ: the namespace is checked when dimensions are given, a query matches exactly its dimension set,
and percentile statistics (``p99``) are computed instead of raising ``TypeError``.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.metric_data_expression_parser import parse_expression
from moto.cloudwatch.models import CloudWatchBackend, Dimension, MetricAggregatedDatum, MetricDatum, Statistics

from thermostat.local.dense import DenseSeries
from thermostat.local.sandbox_patches import wrap_methods

Key = tuple[str, str, frozenset[tuple[str, str]]]


class _Series:
    __slots__ = ("datums", "timestamps")

    def __init__(self) -> None:
        self.timestamps: list[datetime] = []
        self.datums: list[Any] = []

    def add(self, datum: Any) -> None:
        ts = datum.timestamp
        if not self.timestamps or ts >= self.timestamps[-1]:
            self.timestamps.append(ts)
            self.datums.append(datum)
        else:
            at = bisect_left(self.timestamps, ts)
            self.timestamps.insert(at, ts)
            self.datums.insert(at, datum)

    def between(self, start: datetime, end: datetime) -> list[Any]:
        return self.datums[bisect_left(self.timestamps, start):bisect_left(self.timestamps, end)]


class _Index:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.indexed = 0
        self.source: list[Any] | None = None
        self.series: dict[Key, _Series] = {}
        self.dense: dict[Key, DenseSeries] = {}

    def refresh(self, data: list[Any]) -> None:
        if data is not self.source or len(data) < self.indexed:
            self.source, self.indexed, self.series = data, 0, {}
        for datum in data[self.indexed:]:
            self.series.setdefault(_key(datum.namespace, datum.name, datum.dimensions), _Series()).add(datum)
        self.indexed = len(data)


def _key(namespace: str, name: str, dimensions: list[Dimension]) -> Key:
    return namespace, name, frozenset((str(d.name), str(d.value)) for d in dimensions)


_indexes: dict[int, _Index] = {}
_indexes_lock = threading.Lock()


def _index_for(backend: CloudWatchBackend) -> _Index:
    with _indexes_lock:
        return _indexes.setdefault(id(backend), _Index())


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (CloudWatch's pNN over raw values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _statistic(datums: list[Any], stat: str, start: datetime) -> float | None:
    q = _percentile_of(stat)
    if q is not None:
        return percentile([d.value for d in datums if isinstance(d, MetricDatum)], q)
    stats = Statistics([stat], start)
    stats.metric_data = [d for d in datums if isinstance(d, MetricDatum | MetricAggregatedDatum)]
    value = stats.get_statistics_for_type(stat)
    return None if value is None else float(value)


def _percentile_of(stat: str) -> float | None:
    return float(stat[1:]) if stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit() else None


def _query_values(index: _Index, extra: list[Any], metric_stat: dict[str, Any], start: datetime,
                  end: datetime) -> tuple[list[float], list[datetime]]:
    """One ``MetricStat``'s values and bucket timestamps (ascending), from the index and dense series."""
    metric = metric_stat["Metric"]
    dimensions = metric.get("Dimensions", [])
    key = _key(metric["Namespace"], metric["MetricName"], [Dimension(d["Name"], d["Value"]) for d in dimensions])
    unit, stat = metric_stat.get("Unit"), metric_stat["Stat"]
    period = int(metric_stat["Period"])
    delta = timedelta(seconds=period)
    groups: dict[int, list[Any]] = {}
    series = index.series.get(key)
    found = series.between(start, end) if series else []
    found += [d for d in extra if start <= d.timestamp < end and _key(d.namespace, d.name, d.dimensions) == key]
    for datum in found:
        if not unit or datum.unit == unit:
            groups.setdefault(int((datum.timestamp - start).total_seconds() // period), []).append(datum)
    by_bucket: dict[int, float | None] = {}
    dense = index.dense.get(key)
    buckets = dense.buckets(start, end, period) if dense is not None and (not unit or dense.unit == unit) else None
    if dense is not None and buckets is not None:
        computed = buckets.values(stat)
        for i, k in enumerate(buckets.keys.tolist()):
            if computed is not None and k not in groups:
                by_bucket[k] = float(computed[i])
            else:  # a statistic the arrays do not give (pNN), or regular datapoints in the bucket too
                bucket = start + k * delta
                groups[k] = groups.get(k, []) + dense.datums(metric["Namespace"], metric["MetricName"], dimensions,
                                                             bucket, min(bucket + delta, end))
    for k, datums in groups.items():
        by_bucket[k] = _statistic(datums, stat, start + k * delta)
    keys = sorted(k for k, v in by_bucket.items() if v is not None)
    return [by_bucket[k] for k in keys], [start + k * delta for k in keys]  # type: ignore[misc]


def indexed_get_metric_data(self: CloudWatchBackend, queries: list[dict[str, Any]], start_time: datetime,
                            end_time: datetime, scan_by: str = "TimestampAscending") -> list[dict[str, Any]]:
    if any(q.get("Expression", "").startswith("SELECT") for q in queries):
        return _original_get_metric_data(self, queries, start_time, end_time, scan_by)
    start_time, end_time = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
    if start_time >= end_time:
        raise ValidationError("The parameter EndTime must be greater than StartTime."
                              if start_time > end_time else "The parameter StartTime must not equal parameter EndTime.")
    index = _index_for(self)
    with index.lock:
        index.refresh(self.metric_data)
        extra = self.aws_metric_data
        results, returned = [], []
        for query in (q for q in queries if "MetricStat" in q):
            metric_stat = query["MetricStat"]
            values, timestamps = _query_values(index, extra, metric_stat, start_time, end_time)
            if scan_by == "TimestampDescending":
                values.reverse()
                timestamps.reverse()
            label = query.get("Label") or f"{metric_stat['Metric']['MetricName']} {metric_stat['Stat']}"
            result = {"id": query["Id"], "label": label, "values": values, "timestamps": timestamps,
                      "status_code": "Complete"}
            results.append(result)
            if query.get("ReturnData", True):
                returned.append(dict(result))
    for query in (q for q in queries if "Expression" in q):
        math_values, math_timestamps = parse_expression(query["Expression"], results)
        returned.append({"id": query["Id"], "label": query.get("Label") or query["Id"], "values": math_values,
                         "timestamps": math_timestamps, "status_code": "Complete"})
    return returned


def add_dense_series(backend: CloudWatchBackend, namespace: str, name: str, dimensions: dict[str, str],
                     series: DenseSeries) -> None:
    """Make ``series`` part of the metric (``GetMetricData`` through the index sees it; one per metric)."""
    key = _key(namespace, name, [Dimension(k, v) for k, v in dimensions.items()])
    index = _index_for(backend)
    with index.lock:
        index.dense[key] = series


CLOUDWATCH_READS = ("get_metric_data", "get_metric_statistics", "list_metrics")


def install_read_hook(before_read: Callable[[], object],
                      methods: tuple[str, ...] = CLOUDWATCH_READS) -> Callable[[], None]:
    """Run ``before_read()`` before every ``GetMetricData``/``GetMetricStatistics``/``ListMetrics`` (``methods``)."""

    def hooked(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            before_read()
            return original(self, *args, **kwargs)

        return call

    return wrap_methods(CloudWatchBackend, methods, hooked)


_original_get_metric_data = CloudWatchBackend.get_metric_data


def install_cloudwatch_index() -> Callable[[], None]:
    CloudWatchBackend.get_metric_data = indexed_get_metric_data  # type: ignore[method-assign]

    def undo() -> None:
        CloudWatchBackend.get_metric_data = _original_get_metric_data  # type: ignore[method-assign]
        with _indexes_lock:
            _indexes.clear()

    return undo
