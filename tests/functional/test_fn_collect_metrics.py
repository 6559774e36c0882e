"""Collect Metrics handler under moto: tag discovery, missing function kept, seeded history, batching."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import boto3

from thermostat import series
from thermostat.collect import MAX_QUERIES_PER_CALL, METRICS
from thermostat.discovery import Clients

REGION = "us-east-1"
TAG = {"thermostat:enabled": "true"}
SR, SSM = "thermostat-demo-schema-registry", "thermostat-demo-ssm-config"


class CountingCloudWatch:
    """Wraps moto's CloudWatch client: counts GetMetricData calls and serves each answer in two pages
    (moto never paginates; AWS does past 100,800 datapoints)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[dict[str, Any]] = []
        self.pending: dict[str, list[dict[str, Any]]] = {}

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(dict(kwargs))
        token = kwargs.pop("NextToken", None)
        if token is not None:
            return {"MetricDataResults": self.pending.pop(token)}
        results = self.client.get_metric_data(**kwargs)["MetricDataResults"]
        first, second = [], []
        for result in results:
            half = len(result["Timestamps"]) // 2
            first.append({**result, "Timestamps": result["Timestamps"][:half], "Values": result["Values"][:half]})
            second.append({**result, "Timestamps": result["Timestamps"][half:], "Values": result["Values"][half:]})
        token = f"page-{len(self.calls)}"
        self.pending[token] = second
        return {"MetricDataResults": first, "NextToken": token}


def minute(now_ms: int, ago: int) -> datetime:
    aligned = now_ms - now_ms % 60_000
    return datetime.fromtimestamp((aligned - ago * 60_000) / 1000, tz=UTC)


def seed(now_ms: int) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    dims = [{"Name": "FunctionName", "Value": SR}]
    data = []
    for ago, concurrency in ((10, 4.0), (6, 7.0), (2, 3.0)):
        when = minute(now_ms, ago)
        data += [{"MetricName": "ConcurrentExecutions", "Dimensions": dims, "Timestamp": when, "Value": concurrency},
                 {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": when, "Value": concurrency * 10}]
    cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=data)
    cloudwatch.put_metric_data(Namespace="Thermostat", MetricData=[
        {"MetricName": "WarmPing", "Dimensions": dims, "Timestamp": minute(now_ms, 6), "Value": 5.0}])


def test_collect_discovers_describes_and_reads_history(aws: None, make_function: Any, load_handler: Any,
                                                       load_event: Any, context: Any, monkeypatch: Any) -> None:
    # GIVEN the two demo targets (tagged; one with reserved concurrency), a tagged function nobody named,
    # an untagged one not named either, per-minute history for one of them, and a 30-minute lookback
    make_function(SR, tags=TAG, memory=256, timeout=10)
    make_function(SSM, tags=TAG, reserved=25)
    make_function("thermostat-demo-handler-object", tags=TAG)
    make_function("unrelated-function")
    now_ms = int(time.time() * 1000)
    seed(now_ms)
    monkeypatch.setenv("THERMOSTAT_LOOKBACK_MINUTES", "30")
    event = load_event("collect-metrics.json")
    event["request"]["targets"].append({"function": "ghost-function", "qualifier": None, "min": 0, "max": 5,
                                        "source": "input"})
    app = load_handler("collect_metrics")
    counting = CountingCloudWatch(boto3.client("cloudwatch", region_name=REGION))
    real = app.clients()
    monkeypatch.setattr(app, "clients", lambda: Clients(real.lambda_, counting, real.tagging))
    # WHEN the handler runs
    state = app.handler(event, context)
    targets = {t["function"]: t for t in state["targets"]}
    # THEN tagged + requested functions are targets; the unrelated one is not; the missing one is kept
    assert set(targets) == {SR, SSM, "thermostat-demo-handler-object", "ghost-function"}
    assert targets[SR]["source"] == "input" and targets["thermostat-demo-handler-object"]["source"] == "tag"
    assert targets["ghost-function"]["error"].startswith("FunctionNotFound: ")
    assert targets["ghost-function"]["history"] is None
    # AND configuration and reserved concurrency come from Lambda
    assert (targets[SR]["memory_mb"], targets[SR]["timeout_s"], targets[SR]["reserved_concurrency"]) == (256, 10, None)
    assert targets[SSM]["reserved_concurrency"] == 25 and targets[SSM]["arn"].endswith(f":function:{SSM}")
    # AND moto has no GetAccountSettings: the AWS default quota is assumed, minus the reservation
    assert state["account"] == {"concurrency_limit": 1000, "unreserved_concurrency": 975}
    # AND the history holds the seeded minutes at their places, None elsewhere, on one aligned grid
    history = targets[SR]["history"]
    assert history is not None and (history["period_s"], history["points"]) == (60, 30)
    assert history["start_ms"] == now_ms - now_ms % 60_000 - 30 * 60_000
    concurrency = series.decode(history["concurrency"])
    assert [(i, v) for i, v in enumerate(concurrency) if v is not None] == [(20, 4), (24, 7), (28, 3)]
    assert series.decode(history["invocations"])[24] == 70
    assert series.decode(history["warm_pings"])[24] == 5 and series.decode(history["real_invocations"]) == [None] * 30
    assert targets[SR]["current_concurrency"] == 3
    assert series.decode(targets[SSM]["history"]["concurrency"]) == [None] * 30
    # AND all queries went in one call, whose second page was followed
    assert len(counting.calls) == 2 and counting.calls[1]["NextToken"] == "page-1"
    assert len(counting.calls[0]["MetricDataQueries"]) == 3 * len(METRICS)


def test_many_targets_are_read_in_calls_of_at_most_500_queries(aws: None, make_function: Any, load_handler: Any,
                                                                context: Any, monkeypatch: Any) -> None:
    # GIVEN 90 tagged functions (540 metric queries)
    for index in range(90):
        make_function(f"svc-{index:03d}", tags=TAG)
    monkeypatch.setenv("THERMOSTAT_LOOKBACK_MINUTES", "10")
    app = load_handler("collect_metrics")
    counting = CountingCloudWatch(boto3.client("cloudwatch", region_name=REGION))
    real = app.clients()
    monkeypatch.setattr(app, "clients", lambda: Clients(real.lambda_, counting, real.tagging))
    event = {"run": {"id": "arn:x", "name": "x", "started_at_ms": 0, "round": 0}, "enabled": True,
             "request": {"targets": [], "discover": True, "quantile": 0.95, "horizon_minutes": 5, "dry_run": False}}
    # WHEN the handler runs
    state = app.handler(event, context)
    # THEN 2 chunks (500 + 40 queries), each followed to its second page: 4 calls; 90 targets with history
    sizes = [len(call["MetricDataQueries"]) for call in counting.calls]
    assert sizes == [500, 500, 40, 40] and max(sizes) <= MAX_QUERIES_PER_CALL
    assert len(state["targets"]) == 90 and all(t["history"] is not None for t in state["targets"])
