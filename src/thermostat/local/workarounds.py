"""Every moto 5.2 workaround of the embedded AWS, in one place. Each one has a test in
``tests/unit/local/test_local_workarounds.py`` that shows moto's behaviour without it and AWS's with it.
None of them changes what runs on AWS: they patch moto's in-process backends only, while installed.

1. ``cloudwatch_index`` — ``GetMetricData`` scanned every stored datapoint for every period of every
   query (O(periods x datapoints): 16.7 s for one 24 h per-minute query with 20 functions' history).
   Datapoints are now indexed by (namespace, metric, dimensions) and each period is a bisection. It also
   applies AWS's matching rules where moto's differ: the namespace is checked when dimensions are given,
   a query matches exactly its dimension set, and percentile statistics (``p99``) are computed instead
   of raising ``TypeError``.
2. ``sfn_client_cache`` — Step Functions' interpreter built a new boto3 client for every Task
   (~25-30 ms of CPU each, and ``boto3.client`` is not thread-safe on the shared default session):
   one client per (region, service) is now created under a lock and reused.
3. ``account_settings`` — Lambda ``GetAccountSettings`` answered ``404 Not yet implemented``; it now
   returns the local runtime's account concurrency limit and what reservations leave unreserved.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from bisect import bisect_left
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.metric_data_expression_parser import parse_expression
from moto.cloudwatch.models import CloudWatchBackend, Dimension, MetricAggregatedDatum, MetricDatum, Statistics
from moto.stepfunctions.parser.asl.utils import boto_client as sfn_boto_client

# --- 1. CloudWatch GetMetricData index --------------------------------------------------------------

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
    if stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit():
        return percentile([d.value for d in datums if isinstance(d, MetricDatum)], float(stat[1:]))
    stats = Statistics([stat], start)
    stats.metric_data = [d for d in datums if isinstance(d, MetricDatum | MetricAggregatedDatum)]
    value = stats.get_statistics_for_type(stat)
    return None if value is None else float(value)


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
            metric = metric_stat["Metric"]
            dims = [Dimension(d["Name"], d["Value"]) for d in metric.get("Dimensions", [])]
            key = _key(metric["Namespace"], metric["MetricName"], dims)
            series = index.series.get(key)
            extras = [d for d in extra if _key(d.namespace, d.name, d.dimensions) == key]
            unit, stat = metric_stat.get("Unit"), metric_stat["Stat"]
            delta = timedelta(seconds=int(metric_stat["Period"]))
            values: list[float] = []
            timestamps: list[datetime] = []
            bucket = start_time
            while bucket <= end_time:
                upper = min(bucket + delta, end_time)
                datums = (series.between(bucket, upper) if series else []) + [
                    d for d in extras if bucket <= d.timestamp < upper]
                if unit:
                    datums = [d for d in datums if d.unit == unit]
                value = _statistic(datums, stat, bucket) if datums else None
                if value is not None:
                    values.append(value)
                    timestamps.append(bucket)
                bucket += delta
            if scan_by == "TimestampDescending":
                values.reverse()
                timestamps.reverse()
            result = {"id": query["Id"], "label": query.get("Label") or f"{metric['MetricName']} {stat}",
                      "values": values, "timestamps": timestamps, "status_code": "Complete"}
            results.append(result)
            if query.get("ReturnData", True):
                returned.append(dict(result))
    for query in (q for q in queries if "Expression" in q):
        math_values, math_timestamps = parse_expression(query["Expression"], results)
        returned.append({"id": query["Id"], "label": query.get("Label") or query["Id"], "values": math_values,
                         "timestamps": math_timestamps, "status_code": "Complete"})
    return returned


_original_get_metric_data = CloudWatchBackend.get_metric_data


def install_cloudwatch_index() -> Callable[[], None]:
    CloudWatchBackend.get_metric_data = indexed_get_metric_data  # type: ignore[method-assign]

    def undo() -> None:
        CloudWatchBackend.get_metric_data = _original_get_metric_data  # type: ignore[method-assign]
        with _indexes_lock:
            _indexes.clear()

    return undo


# --- 2. one boto3 client per service for Step Functions tasks ----------------------------------------

_original_boto_client_for = sfn_boto_client.boto_client_for
_clients: dict[tuple[str, str, bool], Any] = {}
_clients_lock = threading.Lock()


def cached_boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    from moto.core.models import botocore_stubber

    key = (region, service, bool(botocore_stubber.enabled))
    with _clients_lock:
        if key not in _clients:
            _clients[key] = _original_boto_client_for(region, service, state_credentials)
        return _clients[key]


def _rebind(old: Any, new: Any) -> list[tuple[Any, str, Any]]:
    """Replace ``boto_client_for`` in every moto Step Functions module that imported it by name."""
    changed = []
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is old:
            setattr(module, "boto_client_for", new)  # noqa: B010 - any moto module
            changed.append((module, "boto_client_for", old))
    return changed


def install_sfn_client_cache() -> Callable[[], None]:
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported  # noqa: F401

    changed = _rebind(_original_boto_client_for, cached_boto_client_for)

    def undo() -> None:
        for module, attr, old in changed:
            setattr(module, attr, old)
        with _clients_lock:
            _clients.clear()

    return undo


# --- 3. Lambda GetAccountSettings --------------------------------------------------------------------

ACCOUNT_SETTINGS_PATH = r"{0}/(?P<api_version>[^/]+)/account-settings/?$"


def account_settings_body(limit: int, reserved: int, functions: int) -> dict[str, Any]:
    return {
        "AccountLimit": {"TotalCodeSize": 80_530_636_800, "CodeSizeUnzipped": 262_144_000,
                         "CodeSizeZipped": 52_428_800, "ConcurrentExecutions": limit,
                         "UnreservedConcurrentExecutions": max(limit - reserved, 0)},
        "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": functions},
    }


def install_account_settings(settings: Callable[[], tuple[int, int, int]]) -> Callable[[], None]:
    """``settings()`` -> (account limit, sum of reserved concurrency, function count)."""

    import moto.awslambda.urls as lambda_urls

    def handle(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        limit, reserved, functions = settings()
        body = account_settings_body(limit, reserved, functions)
        return 200, {"content-type": "application/json"}, json.dumps(body)

    lambda_urls.url_paths[ACCOUNT_SETTINGS_PATH] = handle

    def undo() -> None:
        lambda_urls.url_paths.pop(ACCOUNT_SETTINGS_PATH, None)

    return undo


def install_all(account_settings: Callable[[], tuple[int, int, int]] | None = None) -> Callable[[], None]:
    """Install every workaround; returns one undo function."""
    undos = [install_cloudwatch_index(), install_sfn_client_cache()]
    if account_settings is not None:
        undos.append(install_account_settings(account_settings))

    def undo_all() -> None:
        for undo in reversed(undos):
            undo()

    return undo_all
