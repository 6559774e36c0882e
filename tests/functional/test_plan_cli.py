"""`thermostat plan --stack`: the stack's settings, the real collect/forecast/plan code, no ping sent."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from thermostat.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from workflow_world import AccountLambda

REGION = "us-east-1"
STACK_TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"CollectMetricsFunctionName": {"Value": "thermostat-collect-metrics"}},
}


def seed_busy_minutes(function: str, concurrency: float, minutes: int) -> None:
    now = int(time.time()) // 60 * 60
    data = [{"MetricName": "ConcurrentExecutions", "Dimensions": [{"Name": "FunctionName", "Value": function}],
             "Timestamp": datetime.fromtimestamp(now - 60 * ago, tz=UTC), "Value": concurrency}
            for ago in range(1, minutes + 1)]
    data.append({"MetricName": "UnreservedConcurrentExecutions", "Dimensions": [],
                 "Timestamp": datetime.fromtimestamp(now - 60, tz=UTC), "Value": concurrency})
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=data[start:start + 500])


def with_account_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto lacks GetAccountSettings: every Lambda client the CLI makes answers it (limit 1000)."""
    real = boto3.session.Session.client

    def client(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        made = real(self, name, *args, **kwargs)
        return AccountLambda(made) if name == "lambda" else made

    monkeypatch.setattr(boto3.session.Session, "client", client)


def test_plan_reads_the_stack_settings_and_writes_nothing(make_function: Callable[..., str], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a deployed stack whose workflow functions carry a custom tag, a min of 2 and the state bucket
    make_function("orders-api", tags={"team:warm": "yes"})
    make_function("not-opted-in")
    lambda_client = boto3.client("lambda", region_name=REGION)
    make_function("thermostat-collect-metrics")
    lambda_client.update_function_configuration(
        FunctionName="thermostat-collect-metrics",
        Environment={"Variables": {"THERMOSTAT_TAG_KEY": "team:warm", "THERMOSTAT_TAG_VALUE": "yes",
                                   "THERMOSTAT_MIN_WARM": "2", "THERMOSTAT_STATE_BUCKET": "state"}})
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="thermostat", TemplateBody=json.dumps(STACK_TEMPLATE))
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="state")
    seed_busy_minutes("orders-api", 4.0, 90)
    with_account_settings(monkeypatch)
    out = tmp_path / "plan.json"

    # WHEN the plan command runs against it
    status = main(["plan", "--stack", "thermostat", "--region", REGION, "--dry-run", "--json", str(out)])

    # THEN only the tagged function is planned, at least its min, and nothing is warmed
    assert status == 0
    plan = json.loads(out.read_text())
    assert [r["key"] for r in plan["plan"]] == ["orders-api"]
    assert plan["plan"][0]["requested"] >= 2 and plan["plan"][0]["status"] == "planned"
    assert plan["request"]["dry_run"] is True and plan["account"]["unreserved_in_use"] == 4
    # AND it read what a run would read (its history bootstrap + the account) and wrote nothing at all
    assert plan["collected"]["metric_reads"] == 2
    assert s3.list_objects_v2(Bucket="state").get("KeyCount", 0) == 0
    printed = capsys.readouterr().out
    assert "orders-api" in printed and "dry run: none was" in printed and "wrote nothing" in printed


def test_plan_help_says_what_it_reads(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    text = capsys.readouterr().out
    assert "GetMetricData" in text and "never takes the lease, never writes" in text


def test_plan_names_a_missing_stack(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN no stack of that name WHEN plan runs THEN exit 4 (AWS access), the stack and region named, a hint
    status = main(["plan", "--stack", "nope", "--region", REGION])
    assert status == 4
    err = capsys.readouterr().err
    assert "thermostat: error: stack 'nope' not found in us-east-1\n  hint: pass the name of a deployed" in err


def test_plan_rejects_bad_execution_input(make_function: Callable[..., str], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    make_function("thermostat-collect-metrics")
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="thermostat", TemplateBody=json.dumps(STACK_TEMPLATE))
    bad = tmp_path / "input.json"
    bad.write_text(json.dumps({"quantile": 2}))
    assert main(["plan", "--stack", "thermostat", "--region", REGION, "--input", str(bad)]) == 3
    err = capsys.readouterr().err
    assert f"--input {bad}: invalid execution input: quantile" in err and f"thermostat validate {bad}" in err


@pytest.mark.parametrize(("content", "message"), [
    (b"\xa4\x00binary", "not valid JSON (not UTF-8 text: byte 0)"),
    (b"{nope", "not valid JSON (line 1, column 2"),
    (b'{"targets": [{"function": "x", "min": 5, "max": 2}]}',
     "invalid execution input: targets[0].min: must be <= max"),
    (b"[]", "invalid execution input: $: the execution input must be a JSON object"),
])
def test_bad_input_is_named_before_any_aws_call(content: bytes, message: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a malformed --input and no AWS at all (no region, an endpoint nothing listens on)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    bad = tmp_path / "input.json"
    bad.write_bytes(content)
    # WHEN plan runs THEN it exits 3 naming the file and the problem, without a traceback
    assert main(["plan", "--stack", "thermostat", "--input", str(bad)]) == 3
    err = capsys.readouterr().err
    assert f"thermostat: error: --input {bad}: {message}" in err and "Traceback" not in err


def test_no_region_is_a_named_error(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no region anywhere
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    # WHEN plan runs THEN exit 4 saying so, with how to give one
    assert main(["plan", "--stack", "thermostat"]) == 4
    err = capsys.readouterr().err
    assert "reading stack 'thermostat': no AWS region" in err and "hint: pass --region" in err
    assert "NoRegionError:" not in err


def test_no_credentials_say_how_to_configure_them(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a region but no credentials anywhere (no variables, no files, no instance metadata)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # WHEN plan and runs reach for AWS THEN both exit 4 with the configuration hint, not a usage error
    for command in ("plan", "runs"):
        assert main([command, "--stack", "thermostat", "--region", REGION, "--quiet"]) == 4
        err = capsys.readouterr().err
        assert "no usable AWS credentials" in err and "hint: configure credentials: 'aws configure'" in err


def test_access_denied_is_an_aws_error_with_a_hint(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    # GIVEN credentials that may not read the stack
    def denied(session: Any, stack: str) -> dict[str, str]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "DescribeStacks")

    monkeypatch.setattr("thermostat.plan_cli.stack_settings_env", denied)
    # WHEN plan runs THEN exit 4, "access denied" and AWS's own words, no class name
    assert main(["plan", "--stack", "thermostat", "--region", REGION, "--quiet"]) == 4
    err = capsys.readouterr().err
    assert "access denied (AccessDenied: not allowed)" in err and "ClientError" not in err


def test_ctrl_c_is_one_line_and_exit_130(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN Ctrl-C while the stack is being read
    def interrupted(session: Any, stack: str) -> dict[str, str]:
        raise KeyboardInterrupt

    monkeypatch.setattr("thermostat.plan_cli.stack_settings_env", interrupted)
    # WHEN plan runs THEN exit 130 and one line, no traceback
    assert main(["plan", "--stack", "thermostat", "--region", REGION, "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == "thermostat: interrupted"


def test_a_stack_whose_settings_function_is_gone_is_named(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a stack whose CollectMetricsFunctionName output names a function that does not exist
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="thermostat", TemplateBody=json.dumps(STACK_TEMPLATE))
    # WHEN plan runs THEN exit 4, the function and the AWS error named, with what to do
    assert main(["plan", "--stack", "thermostat", "--region", REGION]) == 4
    err = capsys.readouterr().err
    assert "'thermostat-collect-metrics'" in err and "ResourceNotFoundException" in err and "redeploy" in err
