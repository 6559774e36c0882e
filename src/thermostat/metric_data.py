"""``GetMetricData`` done right once: at most 500 queries per call (the API limit), every page followed
through ``NextToken`` (a call returns at most 100,800 datapoints), period-aligned ``StartTime``/``EndTime``,
timestamps parsed cheaply. Used by Collect Metrics (:mod:`thermostat.collect_reads`) and by
``thermostat export`` (the six per-function metrics the simulator's CSV holds: :data:`METRICS`).

CloudWatch bills $0.01 per 1,000 metrics requested, whatever the window or the number of calls.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from thermostat.exceptions import MetricsUnavailableError

logger = logging.getLogger(__name__)

MAX_QUERIES_PER_CALL = 500
MAX_DATAPOINTS_PER_CALL = 100_800  # one response page at most
BASE_PERIOD_S = 60
LAMBDA_NAMESPACE = "AWS/Lambda"
TARGET_NAMESPACE = "Thermostat"  # where thermostat_target's EMF goes

Points = list[float | None]
Values = dict[str, dict[int, float]]  # query id -> timestamp (ms) -> value


@dataclass(frozen=True)
class Window:
    start_ms: int  # inclusive, period-aligned
    end_ms: int  # exclusive, period-aligned
    period_s: int

    @property
    def points(self) -> int:
        return (self.end_ms - self.start_ms) // (self.period_s * 1000)


def metric_window(now_ms: int, lookback_minutes: int, period_s: int = BASE_PERIOD_S) -> Window:
    step = period_s * 1000
    end = (now_ms // step) * step
    return Window(end - lookback_minutes * 60_000 // step * step, end, period_s)


def query(query_id: str, namespace: str, name: str, dimensions: Sequence[tuple[str, str]], period_s: int,
          stat: str = "Maximum") -> dict[str, Any]:
    return {"Id": query_id, "ReturnData": True,
            "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": name,
                                      "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions]},
                           "Period": period_s, "Stat": stat}}


def timestamp_ms(value: object) -> int:
    """A GetMetricData timestamp -> epoch ms: a datetime (default parser), epoch seconds (the raw parser of
    :func:`raw_timestamp_cloudwatch` on the CBOR/JSON protocols), or an ISO string (the raw parser on XML)."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, int | float):
        return int(value * 1000)
    text = str(value)
    try:
        return int(float(text) * 1000)
    except ValueError:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def raw_timestamp_cloudwatch(config: Any) -> Any:
    """A CloudWatch client that hands timestamps over unparsed (building a datetime for each of hundreds of
    thousands of datapoints is most of a response's parse time)."""
    import boto3
    import botocore.session

    session = botocore.session.get_session()
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=lambda raw: raw)
    return boto3.session.Session(botocore_session=session).client("cloudwatch", config=config)


@dataclass
class Fetched:
    values: Values
    calls: int = 0
    failed_chunks: int = 0
    chunks: int = 0
    error: str | None = None  # the last failure, "Code: message"

    @property
    def complete_failure(self) -> bool:
        return self.chunks > 0 and self.failed_chunks == self.chunks


def _error(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code') or 'ClientError'}: {err.get('Message') or exc}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def fetch(cloudwatch: Any, queries: Sequence[dict[str, Any]], start_ms: int, end_ms: int) -> Fetched:
    """Every value of ``queries`` over [start, end), by query id and timestamp. A chunk whose call fails is
    counted (``failed_chunks``, ``error``) and the others go on; nothing raises."""
    out = Fetched({})
    start = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
    end = datetime.fromtimestamp(end_ms / 1000, tz=UTC)
    for i in range(0, len(queries), MAX_QUERIES_PER_CALL):
        chunk = list(queries[i:i + MAX_QUERIES_PER_CALL])
        out.chunks += 1
        token: str | None = None
        try:
            while True:
                kwargs: dict[str, Any] = {"MetricDataQueries": chunk, "StartTime": start, "EndTime": end,
                                          "ScanBy": "TimestampAscending"}
                if token:
                    kwargs["NextToken"] = token
                response = cloudwatch.get_metric_data(**kwargs)
                out.calls += 1
                for result in response.get("MetricDataResults", []):
                    bucket = out.values.setdefault(str(result["Id"]), {})
                    for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                        bucket[timestamp_ms(ts)] = float(value)
                    if result.get("StatusCode") in ("Forbidden", "InternalError"):
                        logger.warning("metric_query_incomplete", extra={"id": result["Id"],
                                                                         "status": result["StatusCode"]})
                token = response.get("NextToken")
                if not token:
                    break
            for item in chunk:  # a query without datapoints read fine: present, empty
                out.values.setdefault(str(item["Id"]), {})
        except (ClientError, BotoCoreError) as exc:
            out.failed_chunks += 1
            out.error = _error(exc)
            logger.error("get_metric_data_failed", extra={"error": out.error, "queries": len(chunk)})
    return out


def to_points(values: Mapping[int, float], window: Window) -> Points:
    points: Points = [None] * window.points
    step = window.period_s * 1000
    for ts, value in values.items():
        index = (ts - window.start_ms) // step
        if 0 <= index < len(points):
            points[index] = value
    return points


# --- the six per-function metrics of `thermostat export` (the simulator's CSV) ----------------------------


@dataclass(frozen=True)
class MetricDef:
    field: str  # CSV field
    short: str  # query id suffix
    namespace: str
    name: str
    stat: str
    qualified: bool  # add the Resource=name:qualifier dimension for an alias/version


METRICS: tuple[MetricDef, ...] = (
    MetricDef("concurrency", "conc", LAMBDA_NAMESPACE, "ConcurrentExecutions", "Maximum", True),
    MetricDef("invocations", "inv", LAMBDA_NAMESPACE, "Invocations", "Sum", True),
    MetricDef("duration_ms", "dur", LAMBDA_NAMESPACE, "Duration", "Average", True),
    MetricDef("throttles", "thr", LAMBDA_NAMESPACE, "Throttles", "Sum", True),
    MetricDef("warm_pings", "ping", TARGET_NAMESPACE, "WarmPing", "Sum", False),
    MetricDef("real_invocations", "real", TARGET_NAMESPACE, "RealInvocation", "Sum", False),
)


def query_id(index: int, metric: MetricDef) -> str:
    return f"t{index}_{metric.short}"  # matches ^[a-z][a-zA-Z0-9_]*$


def build_queries(targets: Sequence[Mapping[str, Any]], period_s: int) -> list[dict[str, Any]]:
    """Six queries per readable target (``{function, qualifier}``; targets with ``error`` are skipped)."""
    queries: list[dict[str, Any]] = []
    for index, target in enumerate(targets):
        if "error" in target:
            continue
        for metric in METRICS:
            dims = [("FunctionName", str(target["function"]))]
            if metric.qualified and target.get("qualifier") is not None:
                dims.append(("Resource", f"{target['function']}:{target['qualifier']}"))
            queries.append(query(query_id(index, metric), metric.namespace, metric.name, dims, period_s, metric.stat))
    return queries


def fetch_metric_data(cloudwatch: Any, queries: list[dict[str, Any]], window: Window) -> tuple[Values, int]:
    """All values by query id and timestamp (ms), and the calls made; MetricsUnavailableError when every
    call failed."""
    fetched = fetch(cloudwatch, queries, window.start_ms, window.end_ms)
    if fetched.complete_failure:
        raise MetricsUnavailableError(f"GetMetricData failed for all {len(queries)} queries: {fetched.error}")
    return fetched.values, fetched.calls
