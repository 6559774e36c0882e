"""Faults of AWS API calls made by function code (a botocore before-call hook on every client)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from thermostat.local import aws_faults, bridge, cloudwatch_fast, workarounds
from thermostat.local.deploy import placeholder_zip
from thermostat.local.exceptions import FaultConfigError
from thermostat.local.faults import FaultPlan
from thermostat.local.runtime import LocalLambdaRuntime

from .conftest import FUNCTIONS, counter_code

Call = Callable[..., dict[str, Any]]


@pytest.fixture
def with_faults(runtime: LocalLambdaRuntime) -> Iterator[Callable[[dict[str, Any]], Call]]:
    """Install a fault plan's ``aws`` part; returns ``call(function, service, method, **params)``."""
    undo: list[Callable[[], None]] = []
    with mock_aws(config={"lambda": {"use_docker": False}}):
        undo.append(bridge.install(runtime))
        undo.append(cloudwatch_fast.install())
        undo.append(workarounds.install_account_settings(lambda: (1000, 0, 2)))
        role = boto3.client("iam", region_name="us-east-1").create_role(
            RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = boto3.client("lambda", region_name="us-east-1")
        for name in ("caller", "caller2", "counter"):
            lam.create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
                                Code={"ZipFile": placeholder_zip("tests")})
        for name in ("caller", "caller2"):
            runtime.register(counter_code(name, code_dir=FUNCTIONS / "caller"))
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="fault-bucket")

        def configure(raw: dict[str, Any]) -> Call:
            undo.append(aws_faults.install(aws_faults.AwsFaults(FaultPlan.from_dict({"aws": raw}).aws)))

            def call(function: str, service: str, method: str, **params: Any) -> dict[str, Any]:
                event = {"service": service, "method": method, "params": params}
                return dict(json.loads(runtime.invoke(function, json.dumps(event).encode()).payload))

            return call

        try:
            yield configure
        finally:
            for step in reversed(undo):
                step()


def test_a_denied_call_fails_inside_functions_only(with_faults: Callable[[dict[str, Any]], Call]) -> None:
    # GIVEN GetAccountSettings denied
    call = with_faults({"lambda:GetAccountSettings": {"error": "AccessDeniedException", "message": "no"}})
    # WHEN a function calls it, and the test (not function code) calls it too
    inside = call("caller", "lambda", "get_account_settings")
    outside = boto3.client("lambda", region_name="us-east-1").get_account_settings()
    # THEN the function's call failed with the code and its usual status; the harness's call went through
    assert inside == {"code": "AccessDeniedException", "status": 403, "class": "ClientError"}
    assert outside["AccountLimit"]["ConcurrentExecutions"] == 1000


def test_times_counts_calls_and_a_wildcard_covers_a_service(with_faults: Callable[[dict[str, Any]], Call]) -> None:
    # GIVEN every S3 call failing twice, then working
    call = with_faults({"s3:*": {"error": "SlowDown", "times": 2}})
    outcomes = [call("caller", "s3", "put_object", Bucket="fault-bucket", Key="k", Body="x") for _ in range(3)]
    # THEN the first two failed with 503 SlowDown, the third was written
    assert [o.get("code") for o in outcomes] == ["SlowDown", "SlowDown", None]
    assert outcomes[0]["status"] == 503 and outcomes[2] == {"ok": True}


def test_modeled_errors_raise_their_modeled_class(with_faults: Callable[[dict[str, Any]], Call]) -> None:
    call = with_faults({"s3:GetObject": {"error": "NoSuchKey"}})
    assert call("caller", "s3", "get_object", Bucket="fault-bucket", Key="k") == {
        "code": "NoSuchKey", "status": 404, "class": "NoSuchKey"}


def test_a_fault_can_be_limited_to_some_functions(with_faults: Callable[[dict[str, Any]], Call]) -> None:
    call = with_faults({"cloudwatch:ListMetrics": {"error": "InternalServiceError", "functions": ["caller2"]}})
    assert call("caller", "cloudwatch", "list_metrics") == {"ok": True}
    assert call("caller2", "cloudwatch", "list_metrics")["code"] == "InternalServiceError"


def test_lambda_invoke_is_faulted_ahead_of_the_fast_path(with_faults: Callable[[dict[str, Any]], Call],
                                                         runtime: LocalLambdaRuntime) -> None:
    # GIVEN Invoke faulted; the caller's client does not retry (the bridge would answer it in-process)
    call = with_faults({"lambda:Invoke": {"error": "TooManyRequestsException"}})
    # WHEN a function invokes another
    outcome = call("caller", "lambda", "invoke", FunctionName="counter", Payload="{}")
    # THEN the call failed before it reached the runtime
    assert outcome == {"code": "TooManyRequestsException", "status": 429, "class": "TooManyRequestsException"}
    assert runtime.stats["counter"].invocations == 0


def test_get_metric_data_is_faulted_ahead_of_its_fast_path(with_faults: Callable[[dict[str, Any]], Call]) -> None:
    # GIVEN CloudWatch unavailable for GetMetricData (which the embedded AWS answers in-process)
    call = with_faults({"cloudwatch:GetMetricData": {"error": "InternalServiceError", "times": 1}})
    query = {"MetricDataQueries": [{"Id": "q", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"},
                                                              "Period": 60, "Stat": "Sum"}}],
             "StartTime": 1_700_000_000, "EndTime": 1_700_003_600}
    # WHEN a function reads twice THEN the first read failed with 500, the second was answered
    assert call("caller", "cloudwatch", "get_metric_data", **query)["status"] == 500
    assert call("caller", "cloudwatch", "get_metric_data", **query) == {"ok": True}


@pytest.mark.parametrize("raw, message", [
    ({"aws": {"lambda.GetAccountSettings": {"error": "X"}}}, "faults.aws.lambda.GetAccountSettings: the key must be"),
    ({"aws": {"s3:PutObject": {"error": "no spaces"}}}, "faults.aws.s3:PutObject.error: must be an AWS error code"),
    ({"aws": {"s3:PutObject": {"error": "X", "status": 200}}}, "faults.aws.s3:PutObject.status: must be an HTTP"),
    ({"aws": {"s3:PutObject": {"error": "X", "retry": 1}}}, "faults.aws.s3:PutObject.retry: unknown key"),
    ({"invoke": {"jitter_ms": [50, 10]}}, "faults.invoke.jitter_ms: high must be >= low"),
    ({"invoke": {"jitter_ms": 5}}, "faults.invoke.jitter_ms: must be [low, high]"),
    ({"cloudwatch": {"metrics_lag_s": -1}}, "faults.cloudwatch.metrics_lag_s: must be a number >= 0"),
    ({"functions": {"f": {"throttle_all": "yes"}}}, "faults.functions.f.throttle_all: must be true or false"),
])
def test_malformed_fault_plans_name_the_field(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(FaultConfigError) as caught:
        FaultPlan.from_dict(raw)
    assert str(caught.value).startswith(message)


def test_logical_ids_are_renamed_in_every_part() -> None:
    plan = FaultPlan.from_dict({"functions": {"Fn": {"throttle_all": True}},
                                "aws": {"s3:*": {"error": "SlowDown", "functions": ["Fn", "other"]}}})
    renamed = plan.renamed({"Fn": "stack-fn"})
    assert set(renamed.functions) == {"stack-fn"} and renamed.aws["s3:*"].functions == ("stack-fn", "other")
