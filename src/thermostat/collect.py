"""Collect Metrics: targets + per-minute history, as compact series (never raw boto3 objects).

History is read with ONE batched ``GetMetricData`` flow for every target: at most 500 queries per call
(the API limit), every page followed through ``NextToken`` (a call returns at most 100,800 datapoints,
so 500 queries x 1,440 minutes take several pages), Period 60 over ``lookback_minutes`` with
minute-aligned ``StartTime``/``EndTime`` (the current, incomplete minute is left out).

Per target: AWS/Lambda ``ConcurrentExecutions`` (Maximum), ``Invocations`` (Sum), ``Duration``
(Average), ``Throttles`` (Sum) — dimension ``FunctionName``, plus ``Resource = name:qualifier`` for an
alias or version — and the target library's ``Thermostat`` ``WarmPing``/``RealInvocation`` (Sum,
dimension ``FunctionName`` only).

A state document must stay under Step Functions' 256 KiB: when the JSON would pass ``budget_bytes``,
every history is coarsened (60 s -> 120 -> 300 -> ... -> 3600 s; Maximum stays a maximum, Sums stay
sums, Duration becomes the invocation-weighted mean); the coarse series start on a multiple of their
period (padded with ``None``), and the last point may cover fewer minutes than the period.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from thermostat import models, series
from thermostat.config import DiscoverySettings
from thermostat.discovery import Clients, account_limits, describe_targets, error_text, resolve_targets
from thermostat.exceptions import MetricsUnavailableError

logger = logging.getLogger(__name__)

MAX_QUERIES_PER_CALL = 500
BASE_PERIOD_S = 60
COARSE_PERIODS = (60, 120, 300, 600, 900, 1800, 3600)
PAYLOAD_BUDGET_BYTES = 200_000
CURRENT_WINDOW_POINTS = 5  # current_concurrency = latest datapoint among the last 5 minutes
LAMBDA_NAMESPACE = "AWS/Lambda"
TARGET_NAMESPACE = "Thermostat"  # where thermostat_target's EMF goes

Points = list[float | None]


@dataclass(frozen=True)
class MetricDef:
    field: str  # History key
    short: str  # query id suffix
    namespace: str
    name: str
    stat: str
    qualified: bool  # add the Resource=name:qualifier dimension for an alias/version
    combine: str  # how to coarsen: "max" | "sum" | "mean"


METRICS: tuple[MetricDef, ...] = (
    MetricDef("concurrency", "conc", LAMBDA_NAMESPACE, "ConcurrentExecutions", "Maximum", True, "max"),
    MetricDef("invocations", "inv", LAMBDA_NAMESPACE, "Invocations", "Sum", True, "sum"),
    MetricDef("duration_ms", "dur", LAMBDA_NAMESPACE, "Duration", "Average", True, "mean"),
    MetricDef("throttles", "thr", LAMBDA_NAMESPACE, "Throttles", "Sum", True, "sum"),
    MetricDef("warm_pings", "ping", TARGET_NAMESPACE, "WarmPing", "Sum", False, "sum"),
    MetricDef("real_invocations", "real", TARGET_NAMESPACE, "RealInvocation", "Sum", False, "sum"),
)


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


def query_id(index: int, metric: MetricDef) -> str:
    return f"t{index}_{metric.short}"  # matches ^[a-z][a-zA-Z0-9_]*$


def build_queries(targets: Sequence[models.TargetMetrics], period_s: int) -> list[dict[str, Any]]:
    """Six MetricDataQueries per readable target (targets with ``error`` are not queried)."""
    queries: list[dict[str, Any]] = []
    for index, target in enumerate(targets):
        if "error" in target:
            continue
        for metric in METRICS:
            dims = [{"Name": "FunctionName", "Value": target["function"]}]
            if metric.qualified and target["qualifier"] is not None:
                dims.append({"Name": "Resource", "Value": models.target_label(target["function"], target["qualifier"])})
            queries.append({
                "Id": query_id(index, metric),
                "MetricStat": {"Metric": {"Namespace": metric.namespace, "MetricName": metric.name,
                                          "Dimensions": dims},
                               "Period": period_s, "Stat": metric.stat},
                "ReturnData": True,
            })
    return queries


def _ms(value: object) -> int:
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
    """A CloudWatch client that hands timestamps over unparsed: a day of per-minute history for 50 targets
    is ~430k datapoints, and building a datetime for each is most of the response's parse time."""
    import boto3
    import botocore.session

    session = botocore.session.get_session()
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=lambda raw: raw)
    return boto3.session.Session(botocore_session=session).client("cloudwatch", config=config)


def fetch_metric_data(cloudwatch: Any, queries: list[dict[str, Any]], window: Window
                      ) -> tuple[dict[str, dict[int, float]], int]:
    """All values by query id and timestamp (ms); and the number of API calls made."""
    values: dict[str, dict[int, float]] = {}
    calls = failed = 0
    start = datetime.fromtimestamp(window.start_ms / 1000, tz=UTC)
    end = datetime.fromtimestamp(window.end_ms / 1000, tz=UTC)
    chunks = [queries[i:i + MAX_QUERIES_PER_CALL] for i in range(0, len(queries), MAX_QUERIES_PER_CALL)]
    for chunk in chunks:
        token: str | None = None
        try:
            while True:
                kwargs: dict[str, Any] = {"MetricDataQueries": chunk, "StartTime": start, "EndTime": end,
                                          "ScanBy": "TimestampAscending"}
                if token:
                    kwargs["NextToken"] = token
                response = cloudwatch.get_metric_data(**kwargs)
                calls += 1
                for result in response.get("MetricDataResults", []):
                    bucket = values.setdefault(str(result["Id"]), {})
                    for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                        bucket[_ms(ts)] = float(value)
                    if result.get("StatusCode") in ("Forbidden", "InternalError"):
                        logger.warning("metric_query_incomplete", extra={
                            "id": result["Id"], "status": result["StatusCode"],
                            "messages": result.get("Messages", [])})
                token = response.get("NextToken")
                if not token:
                    break
        except (ClientError, BotoCoreError) as exc:
            failed += 1
            logger.error("get_metric_data_failed", extra={"error": error_text(exc), "queries": len(chunk)})
    if chunks and failed == len(chunks):
        raise MetricsUnavailableError(f"GetMetricData failed for all {len(queries)} queries")
    logger.info("metric_data_read", extra={"queries": len(queries), "calls": calls, "failed_chunks": failed})
    return values, calls


def to_points(values: dict[int, float], window: Window) -> Points:
    points: Points = [None] * window.points
    step = window.period_s * 1000
    for ts, value in values.items():
        index = (ts - window.start_ms) // step
        if 0 <= index < len(points):
            points[index] = value
    return points


def _combine(chunk: Points, how: str, weights: Points | None) -> float | None:
    present = [(v, w) for v, w in zip(chunk, weights or [None] * len(chunk), strict=True) if v is not None]
    if not present:
        return None
    if how == "max":
        return max(v for v, _ in present)
    if how == "sum":
        return sum(v for v, _ in present)
    total = sum(w or 0.0 for _, w in present)
    if total > 0:
        return sum(v * (w or 0.0) for v, w in present) / total
    return sum(v for v, _ in present) / len(present)


def coarsen(points: Points, start_ms: int, factor: int, how: str, weights: Points | None = None
            ) -> tuple[Points, int]:
    """Aggregate ``factor`` points into one; the result starts on a multiple of the new period."""
    if factor == 1:
        return list(points), start_ms
    step = BASE_PERIOD_S * 1000 * factor
    pad = (start_ms % step) // (BASE_PERIOD_S * 1000)
    head: Points = [None] * pad
    padded: Points = head + list(points)
    padded_weights: Points | None = None if weights is None else head + list(weights)
    out: Points = []
    for i in range(0, len(padded), factor):
        out.append(_combine(padded[i:i + factor], how,
                            None if padded_weights is None else padded_weights[i:i + factor]))
    return out, start_ms - pad * BASE_PERIOD_S * 1000


def encode_history(raw: dict[str, Points], start_ms: int, period_s: int) -> models.History:
    factor = period_s // BASE_PERIOD_S
    encoded: dict[str, models.CompactSeries] = {}
    first = start_ms
    points = 0
    for metric in METRICS:
        weights = raw["invocations"] if metric.combine == "mean" else None
        values, first = coarsen(raw[metric.field], start_ms, factor, metric.combine, weights)
        if metric.field == "duration_ms":
            values = [None if v is None else round(v, 1) for v in values]
        encoded[metric.field] = series.encode(values)
        points = len(values)
    return {
        "start_ms": first, "period_s": period_s, "points": points,
        "concurrency": encoded["concurrency"], "invocations": encoded["invocations"],
        "duration_ms": encoded["duration_ms"], "throttles": encoded["throttles"],
        "warm_pings": encoded["warm_pings"], "real_invocations": encoded["real_invocations"],
    }


def latest(points: Points, within: int = CURRENT_WINDOW_POINTS) -> float | None:
    for value in reversed(points[-within:]):
        if value is not None:
            return value
    return None


def payload_bytes(document: object) -> int:
    return len(json.dumps(document, separators=(",", ":")).encode())


def fit_histories(state: models.CollectedState, raw: dict[int, dict[str, Points]], window: Window,
                  budget_bytes: int) -> models.CollectedState:
    """Fill ``history`` at the finest period whose whole document fits ``budget_bytes``."""
    size = 0
    for period in COARSE_PERIODS:
        for index, target in enumerate(state["targets"]):
            if index in raw:
                target["history"] = encode_history(raw[index], window.start_ms, period)
        size = payload_bytes(state)
        if size <= budget_bytes:
            if period != BASE_PERIOD_S:
                logger.warning("history_coarsened", extra={"period_s": period, "bytes": size,
                                                           "budget_bytes": budget_bytes})
            return state
    logger.error("history_over_budget", extra={"period_s": COARSE_PERIODS[-1], "bytes": size,
                                               "budget_bytes": budget_bytes, "targets": len(state["targets"])})
    return state


def collect(run_state: models.RunState, clients: Clients, settings: DiscoverySettings, now_ms: int,
            budget_bytes: int = PAYLOAD_BUDGET_BYTES) -> models.CollectedState:
    """The Collect Metrics state."""
    specs = resolve_targets(run_state["request"], settings, clients.tagging)
    targets = describe_targets(clients.lambda_, specs)
    account = account_limits(clients.lambda_, targets)
    window = metric_window(now_ms, settings.lookback_minutes)
    queries = build_queries(targets, window.period_s)
    values, calls = fetch_metric_data(clients.cloudwatch, queries, window) if queries else ({}, 0)
    raw: dict[int, dict[str, Points]] = {}
    for index, target in enumerate(targets):
        if "error" in target:
            continue
        raw[index] = {m.field: to_points(values.get(query_id(index, m), {}), window) for m in METRICS}
        current = latest(raw[index]["concurrency"])
        target["current_concurrency"] = 0 if current is None else int(current)
    state: models.CollectedState = {"run": run_state["run"], "request": run_state["request"],
                                    "account": account, "targets": targets}
    state = fit_histories(state, raw, window, budget_bytes)
    logger.info("collected", extra={"targets": len(targets), "errors": sum("error" in t for t in targets),
                                    "queries": len(queries), "calls": calls,
                                    "period_s": next((t["history"]["period_s"] for t in targets
                                                      if t["history"]), window.period_s)})
    return state
