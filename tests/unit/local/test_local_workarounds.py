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


def test_get_provisioned_concurrency_config_says_none_is_configured() -> None:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        client = boto3.client("lambda", region_name="us-east-1")
        # moto: not implemented
        with pytest.raises(ClientError, match="Not yet implemented"):
            client.get_provisioned_concurrency_config(FunctionName="orders", Qualifier="live")
        # fixed: Lambda's answer for a qualifier without Provisioned Concurrency
        undo = workarounds.install_provisioned_concurrency()
        try:
            with pytest.raises(ClientError) as caught:
                client.get_provisioned_concurrency_config(FunctionName="orders", Qualifier="live")
        finally:
            undo()
        assert caught.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"


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


# --- dense series (seeded history as numpy arrays) ----------------------------------------------------

def test_dense_series_read_back_like_the_datapoints_they_stand_for() -> None:
    import numpy as np
    from moto.cloudwatch.models import cloudwatch_backends

    from thermostat.local.dense import DenseSeries

    # GIVEN 30 minutes of a single-value metric and of a statistic set: as dense series for "dense",
    # and the same datapoints put through the API for "api"
    start = NOW.replace(tzinfo=None) - dt.timedelta(minutes=30)
    values = np.array([float(i % 7) for i in range(30)])
    counts = np.array([i % 3 + 1 for i in range(30)], dtype=np.int64)
    single = DenseSeries(start, values, values > 0, "Count")
    stat_set = DenseSeries(start, values * counts, values > 0, "Milliseconds", count=counts,
                           minimum=values * 0.5, maximum=values * 2)
    with mock_aws():
        client = boto3.client("cloudwatch", region_name="us-east-1")
        undo = workarounds.install_cloudwatch_index()
        try:
            backend = cloudwatch_backends["123456789012"]["us-east-1"]
            workarounds.add_dense_series(backend, "AWS/Lambda", "ConcurrentExecutions", {"FunctionName": "dense"},
                                         single)
            workarounds.add_dense_series(backend, "AWS/Lambda", "Duration", {"FunctionName": "dense"}, stat_set)
            api = [{"Name": "FunctionName", "Value": "api"}]
            datums = single.datums("AWS/Lambda", "ConcurrentExecutions", api, start, start + dt.timedelta(hours=1))
            datums += stat_set.datums("AWS/Lambda", "Duration", api, start, start + dt.timedelta(hours=1))
            client.put_metric_data(Namespace="AWS/Lambda", MetricData=[{
                "MetricName": d.name, "Dimensions": api, "Timestamp": d.timestamp.replace(tzinfo=dt.UTC),
                "Unit": d.unit, **({"Value": d.value} if hasattr(d, "value") else {"StatisticValues": {
                    "SampleCount": d.sample_count, "Sum": d.sum, "Minimum": d.min, "Maximum": d.max}})}
                for d in datums])

            def read(function: str, name: str, stat: str, period: int, skew_s: int) -> tuple[list[Any], list[Any]]:
                result = client.get_metric_data(MetricDataQueries=[{"Id": "q", "MetricStat": {"Metric": {
                    "Namespace": "AWS/Lambda", "MetricName": name,
                    "Dimensions": [{"Name": "FunctionName", "Value": function}]}, "Period": period, "Stat": stat}}],
                    StartTime=start - dt.timedelta(seconds=skew_s), EndTime=NOW - dt.timedelta(minutes=3),
                    ScanBy="TimestampAscending")["MetricDataResults"][0]
                return result["Timestamps"], result["Values"]

            # THEN every statistic, period and misaligned start reads the same from both
            for name, stats in (("ConcurrentExecutions", ("Maximum", "Sum", "Average", "SampleCount", "p50")),
                                ("Duration", ("Maximum", "Minimum", "Average", "Sum", "SampleCount"))):
                for stat in stats:
                    for period, skew in ((60, 0), (300, 0), (300, 90)):
                        dense = read("dense", name, stat, period, skew)
                        assert dense[1] and dense == read("api", name, stat, period, skew), (name, stat, period)
            # AND a regular datapoint in the same minute as a dense one is merged into its bucket
            client.put_metric_data(Namespace="AWS/Lambda", MetricData=[{
                "MetricName": "ConcurrentExecutions", "Dimensions": [{"Name": "FunctionName", "Value": "dense"}],
                "Timestamp": (start + dt.timedelta(minutes=1)).replace(tzinfo=dt.UTC), "Value": 100.0}])
            assert read("dense", "ConcurrentExecutions", "Maximum", 300, 0)[1][0] == 100.0
            assert read("dense", "ConcurrentExecutions", "SampleCount", 60, 0)[1][0] == 2.0  # minute 1 (0 is absent)
        finally:
            undo()


def test_the_read_hook_runs_before_every_read(cw: Any) -> None:
    calls: list[str] = []
    undo = workarounds.install_read_hook(lambda: calls.append("read"))
    try:
        values(cw, query("Sum"))
        cw.list_metrics()
        cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations",
                                 StartTime=NOW - dt.timedelta(hours=1), EndTime=NOW, Period=60, Statistics=["Sum"])
    finally:
        undo()
    values(cw, query("Sum"))
    assert calls == ["read"] * 3


# --- S3 conditional writes ----------------------------------------------------------------------------

def race(n: int, write: Any) -> list[str]:
    """``write()`` from ``n`` threads at once: each outcome ("ok" or the error code with its status)."""
    import threading

    outcomes: list[str] = []
    barrier = threading.Barrier(n)

    def one() -> None:
        barrier.wait()
        try:
            write()
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(f"{exc.response['Error']['Code']} {exc.response['ResponseMetadata']['HTTPStatusCode']}")

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


def test_s3_conditional_writes_are_atomic(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from moto.s3.models import S3Backend

    # GIVEN moto's S3 with a slow write step (so that racing requests interleave between check and write)
    def slowed(name: str) -> Any:
        original = getattr(S3Backend, name)

        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            time.sleep(0.05)
            return original(self, *args, **kwargs)

        return call

    monkeypatch.setattr(S3Backend, "put_object", slowed("put_object"))
    monkeypatch.setattr(S3Backend, "delete_object", slowed("delete_object"))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="race-bucket")

        def create(key: str) -> Any:
            return lambda: s3.put_object(Bucket="race-bucket", Key=key, Body=b"x", IfNoneMatch="*")

        # moto: 5 creators racing If-None-Match: * all "win"
        assert race(5, create("moto")) == ["ok"] * 5
        undo = workarounds.install_s3_conditional_writes()
        try:
            # fixed: exactly one creator wins; the others get moto's own 412
            assert race(5, create("lease")) == ["PreconditionFailed 412"] * 4 + ["ok"]
            etag = s3.head_object(Bucket="race-bucket", Key="lease")["ETag"]
            # racing If-Match on the same ETag: exactly one replaces it
            assert race(5, lambda: s3.put_object(Bucket="race-bucket", Key="lease", Body=b"y",
                                                 IfMatch=etag)) == ["PreconditionFailed 412"] * 4 + ["ok"]
            etag = s3.head_object(Bucket="race-bucket", Key="lease")["ETag"]
            # racing If-Match deletes: one deletes, the others find the key gone (moto's 404 NoSuchKey)
            assert race(4, lambda: s3.delete_object(Bucket="race-bucket", Key="lease",
                                                    IfMatch=etag)) == ["NoSuchKey 404"] * 3 + ["ok"]
        finally:
            undo()


# --- States.ALL and terminal errors ---------------------------------------------------------------------

def test_states_all_does_not_catch_an_oversized_state_output(monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    from pathlib import Path

    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl

    from thermostat.local.session import LocalAws, LocalAwsConfig

    fixtures = Path(__file__).parent / "fixtures"
    with LocalAws(LocalAwsConfig(template=fixtures / "template.yaml", stack_name="fx")) as aws:
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        # GIVEN a task whose Lambda returns 300 KB (over 256 KiB), caught by States.ALL, and one caught by name
        def machine(name: str, errors: list[str]) -> str:
            definition = {"StartAt": "Big", "States": {
                "Big": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                        "Parameters": {"FunctionName": aws.deployment.functions["CounterFunction"],
                                       "Payload": {"big": 300_000}},
                        "Catch": [{"ErrorEquals": errors, "Next": "Caught"}]},
                "Caught": {"Type": "Pass", "End": True}}}
            return str(sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                                roleArn=aws.deployment.role_arn)["stateMachineArn"])

        def status(arn: str, name: str) -> tuple[str, str | None]:
            describe = aws.wait(sfn.start_execution(stateMachineArn=arn, name=name)["executionArn"])
            return describe["status"], describe.get("error")

        catch_all, by_name = machine("all", ["States.ALL"]), machine("named", ["States.DataLimitExceeded"])
        # fixed: States.ALL does not catch it (the execution fails with it); naming it does
        assert status(catch_all, "a1") == ("FAILED", "States.DataLimitExceeded")
        assert status(by_name, "n1") == ("SUCCEEDED", None)
        # moto: States.ALL caught it
        monkeypatch.setattr(ErrorEqualsDecl, "_eval_body", workarounds._original_error_equals_eval)
        assert status(catch_all, "a2") == ("SUCCEEDED", None)
