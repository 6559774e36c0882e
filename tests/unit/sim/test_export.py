"""``thermostat export`` under moto: the stack's tagged targets' per-minute history -> the reader's CSV."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from thermostat.cli import main
from thermostat.sim.export import ExportClients, export_history
from thermostat.sim.readers import load_trace

REGION = "us-east-1"
NOW_MS = 1_795_000_000_000 // 60_000 * 60_000  # minute-aligned
TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"TargetTagKey": {"Type": "String"}, "TargetTagValue": {"Type": "String"},
                   "ExplicitTargets": {"Type": "String", "Default": ""}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def _function(lam: Any, role: str, name: str, memory: int, tags: dict[str, str]) -> None:
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
                        Code={"ZipFile": _zip()}, MemorySize=memory, Tags=tags)


def _put(cw: Any, namespace: str, name: str, function: str, minute: int, value: float) -> None:
    stamp = datetime.fromtimestamp((NOW_MS - minute * 60_000) / 1000, tz=UTC)
    cw.put_metric_data(Namespace=namespace, MetricData=[{
        "MetricName": name, "Dimensions": [{"Name": "FunctionName", "Value": function}], "Timestamp": stamp,
        "Value": value, "Unit": "Count"}])


@pytest.fixture
def account() -> Any:
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                                   "Statement": []}))["Role"]["Arn"]
        lam = boto3.client("lambda", region_name=REGION)
        _function(lam, role, "orders", 512, {"team:warm": "yes"})
        _function(lam, role, "billing", 1024, {"team:warm": "yes"})
        _function(lam, role, "ignored", 128, {"other": "tag"})
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(StackName="thermo", TemplateBody=json.dumps(TEMPLATE), Parameters=[
            {"ParameterKey": "TargetTagKey", "ParameterValue": "team:warm"},
            {"ParameterKey": "TargetTagValue", "ParameterValue": "yes"}])
        cw = boto3.client("cloudwatch", region_name=REGION)
        # orders: 5 real requests 3 minutes ago; billing: 4 invocations of which 1 ping, 2 minutes ago
        _put(cw, "AWS/Lambda", "Invocations", "orders", 3, 5)
        _put(cw, "AWS/Lambda", "ConcurrentExecutions", "orders", 3, 2)
        _put(cw, "AWS/Lambda", "Duration", "orders", 3, 250.0)
        _put(cw, "AWS/Lambda", "Invocations", "billing", 2, 4)
        _put(cw, "Thermostat", "WarmPing", "billing", 2, 1)
        _put(cw, "Thermostat", "RealInvocation", "billing", 2, 3)
        yield ExportClients(cfn, lam, cw, boto3.client("resourcegroupstaggingapi", region_name=REGION))


def test_export_writes_the_tagged_targets_history_that_simulate_reads(account: ExportClients, tmp_path: Path) -> None:
    # WHEN the last hour is exported for the stack
    out = tmp_path / "history.csv"
    summary = export_history("thermo", 1, out, account, NOW_MS)
    # THEN only the tagged functions are there, one row per minute, and the reader gets real requests back
    assert summary.targets == 2 and summary.minutes == 60 and summary.rows == 120 and summary.calls >= 1
    trace = load_trace(out)
    assert trace.ids == ("billing", "orders") and trace.minutes == 60
    assert trace.memory_mb.tolist() == [1024, 512]
    assert trace.counts[1].tolist()[-3] == 5 and trace.counts[1].sum() == 5
    assert trace.counts[0].tolist()[-2] == 3 and trace.counts[0].sum() == 3  # the ping is not a request
    assert trace.durations[1, 3] == 250.0


def test_export_of_an_unknown_stack_exits_4_naming_it(account: ExportClients, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN no stack "nope" WHEN exported THEN exit 4 (AWS access), the stack named, no file written
    code = main(["export", "--stack", "nope", "--history-hours", "1", "--csv", str(tmp_path / "x.csv"),
                 "--region", REGION])
    assert code == 4
    assert "thermostat: error: stack 'nope' not found" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_export_cli_writes_the_csv_and_keeps_the_old_spellings(account: ExportClients, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the stack WHEN exported with --csv, then with the deprecated --out/--hours
    assert main(["export", "--stack", "thermo", "--history-hours", "1", "--csv", str(tmp_path / "a.csv"),
                 "--region", REGION]) == 0
    assert main(["export", "--stack", "thermo", "--hours", "1", "--out", str(tmp_path / "b.csv"),
                 "--region", REGION]) == 0
    # THEN both files are written, and the old spellings are named as deprecated
    captured = capsys.readouterr()
    assert (tmp_path / "a.csv").read_text().count("\n") == (tmp_path / "b.csv").read_text().count("\n") > 1
    assert "--out is deprecated, use --csv" in captured.err and f"wrote {tmp_path / 'a.csv'}" in captured.out
