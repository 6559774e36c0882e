"""Each moto workaround: moto's behaviour without it, AWS's behaviour with it (in-process moto)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from thermostat.local import workarounds

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
DIMS = [{"Name": "FunctionName", "Value": "orders"}]


@pytest.fixture
def cw() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("cloudwatch", region_name="us-east-1")
        for minute in range(10):
            ts = NOW - dt.timedelta(minutes=10 - minute)
            client.put_metric_data(Namespace="AWS/Lambda", MetricData=[
                {"MetricName": "Duration", "Dimensions": DIMS, "Timestamp": ts, "Value": float(v)}
                for v in range(1, 11)] + [
                {"MetricName": "Invocations", "Dimensions": DIMS, "Timestamp": ts, "Value": float(minute)},
                {"MetricName": "Invocations", "Timestamp": ts, "Value": 1000.0}])  # a dimensionless metric
            client.put_metric_data(Namespace="Other/App", MetricData=[
                {"MetricName": "Invocations", "Dimensions": DIMS, "Timestamp": ts, "Value": 500.0}])
        yield client


def query(stat: str, name: str = "Invocations", dims: list[dict[str, str]] | None = DIMS) -> dict[str, Any]:
    metric: dict[str, Any] = {"Namespace": "AWS/Lambda", "MetricName": name}
    if dims is not None:
        metric["Dimensions"] = dims
    return {"Id": "q", "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}}


def values(client: Any, q: dict[str, Any]) -> list[float]:
    result = client.get_metric_data(MetricDataQueries=[q], StartTime=NOW - dt.timedelta(minutes=10), EndTime=NOW,
                                    ScanBy="TimestampAscending")
    return [float(v) for v in result["MetricDataResults"][0]["Values"]]


def test_cloudwatch_index_checks_the_namespace(cw: Any) -> None:
    # moto: with dimensions in the query, the namespace is not checked (Other/App's 500s are summed in)
    assert values(cw, query("Sum"))[0] == 500.0
    # fixed: only AWS/Lambda's datapoints
    undo = workarounds.install_cloudwatch_index()
    try:
        assert values(cw, query("Sum")) == [float(m) for m in range(10)]
    finally:
        undo()


def test_cloudwatch_index_matches_the_exact_dimension_set(cw: Any) -> None:
    # moto: a query without dimensions aggregates every dimension set of the metric (in its namespace)
    assert values(cw, query("Sum", dims=None))[1] == 1000.0 + 1.0
    # fixed: only the dimensionless metric, as CloudWatch identifies a metric by all its dimensions
    undo = workarounds.install_cloudwatch_index()
    try:
        assert values(cw, query("Sum", dims=None)) == [1000.0] * 10
    finally:
        undo()


def test_cloudwatch_index_computes_percentiles(cw: Any) -> None:
    # moto: an extended statistic raises in-process
    with pytest.raises(TypeError):
        values(cw, query("p90", name="Duration"))
    # fixed: nearest-rank percentile of the minute's values (1..10)
    undo = workarounds.install_cloudwatch_index()
    try:
        assert values(cw, query("p90", name="Duration")) == [9.0] * 10
        assert values(cw, query("Average", name="Duration")) == [5.5] * 10
        assert values(cw, query("Maximum", name="Duration")) == [10.0] * 10
    finally:
        undo()


def test_cloudwatch_index_sees_datapoints_put_after_it_was_built(cw: Any) -> None:
    undo = workarounds.install_cloudwatch_index()
    try:
        before = values(cw, query("SampleCount", name="Duration"))
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[
            {"MetricName": "Duration", "Dimensions": DIMS, "Timestamp": NOW - dt.timedelta(minutes=10), "Value": 1.0}])
        after = values(cw, query("SampleCount", name="Duration"))
    finally:
        undo()
    assert after[0] == before[0] + 1 and after[1:] == before[1:]


def test_step_functions_tasks_share_one_client_per_service() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    with mock_aws():
        # moto: every call builds a new client
        first = lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda")
        assert lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda") is not first
        # fixed: one client per (region, service), in every module that imported the factory
        undo = workarounds.install_sfn_client_cache()
        try:
            cached = lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda")
            assert lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda") is cached
            assert lambda_eval_utils.boto_client_for(region="us-east-1", service="s3") is not cached
        finally:
            undo()
        assert lambda_eval_utils.boto_client_for is workarounds._original_boto_client_for


def test_get_account_settings_reports_the_local_limits() -> None:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        client = boto3.client("lambda", region_name="us-east-1")
        # moto: not implemented
        with pytest.raises(ClientError, match="Not yet implemented"):
            client.get_account_settings()
        # fixed: the runtime's account limit minus reservations
        undo = workarounds.install_account_settings(lambda: (200, 30, 4))
        try:
            limits = client.get_account_settings()["AccountLimit"]
        finally:
            undo()
        assert (limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]) == (200, 170)


def test_slow_cloudwatch_fault_delays_reads(cw: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from thermostat.local import faults

    # GIVEN a 250 ms CloudWatch latency fault (sleep recorded instead of slept)
    slept: list[float] = []
    monkeypatch.setattr(faults.time, "sleep", slept.append)
    undo = faults.install_cloudwatch_latency(250)
    try:
        # WHEN history is read
        values(cw, query("Sum"))
    finally:
        undo()
    # THEN the read waited first, and the fault is gone once undone
    assert slept == [0.25]
    values(cw, query("Sum"))
    assert slept == [0.25]
