"""`thermostat runs --stack`: the stack's state bucket from its outputs, the newest runs first, their reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from thermostat.cli import main
from thermostat.config import SummarySettings
from thermostat.store import StateStore, make_run_name
from thermostat.summary import summarize

REGION = "us-east-1"
BUCKET = "thermostat-state-runs"
STACK_TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"StateBucketName": {"Value": BUCKET}},
}


def write_run(store: StateStore, load_event: Any, name: str, started_at_ms: int, short: bool = False) -> None:
    """A run as Summarize leaves it: its report document under runs/<run name>/."""
    event = load_event("summarize.json")
    event["run"].update(name=name, started_at_ms=started_at_ms, run_name=make_run_name(name, started_at_ms))
    if short:
        outcome = event["warm_results"][0]["result"]["inline"][1]
        outcome["answers"], outcome["errors"], outcome["error_samples"] = outcome["answers"][:1], 2, ["Boom: x"]
    summarize(event, SummarySettings(), store, started_at_ms + 12_000)


@pytest.fixture
def stack(aws: None) -> StateStore:
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="thermostat", TemplateBody=json.dumps(STACK_TEMPLATE))
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    return StateStore(s3, BUCKET)


def test_runs_prints_the_newest_runs_first_with_their_targets(stack: StateStore, load_event: Any, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN three runs with reports (the newest had errors on one target) and one run still going (no report)
    write_run(stack, load_event, "run-a", 1_763_800_000_000)
    write_run(stack, load_event, "run-b", 1_763_800_300_000)
    write_run(stack, load_event, "run-c", 1_763_800_600_000, short=True)
    stack.put_run_doc(make_run_name("run-d", 1_763_800_900_000), "plan", [])
    out_file = tmp_path / "runs.json"
    # WHEN the last 3 runs are asked for
    code = main(["runs", "--stack", "thermostat", "--last", "3", "--region", REGION, "--json", str(out_file)])
    text = capsys.readouterr().out
    # THEN the newest comes first: the one without a report says so, then run-c with its failing target
    assert code == 0
    headings = [line for line in text.splitlines() if line.startswith("== ")]
    assert [h.split()[1].rsplit("-", 2)[-2:] for h in headings] == [["run", "d"], ["run", "c"], ["run", "b"]]
    assert "no report: still running" in text
    run_c = text.split("== ")[2]
    assert "Thermostat run run-c (round 0, STANDARD): ok" in run_c
    assert "partial" in run_c and "thermostat-demo-ssm-config" in run_c and "Boom: x" in run_c
    # AND the JSON file holds the same runs with their full reports
    doc = json.loads(out_file.read_text())
    assert doc["bucket"] == BUCKET and [r["report"] is None for r in doc["runs"]] == [True, False, False]
    assert doc["runs"][1]["report"]["totals"]["errors"] == 2


def test_runs_names_a_stack_that_is_not_a_thermostat_stack(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="other", TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}))
    # WHEN runs reads a stack without the state bucket output THEN exit 4 saying it is not a Thermostat stack
    assert main(["runs", "--stack", "other", "--region", REGION]) == 4
    err = capsys.readouterr().err
    assert "stack 'other' has no output StateBucketName: it is not a Thermostat (v2) stack" in err


def test_runs_progress_goes_to_standard_error(stack: StateStore, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a stack without runs WHEN runs runs THEN the progress lines are on standard error, the answer on stdout
    assert main(["runs", "--stack", "thermostat", "--region", REGION]) == 0
    captured = capsys.readouterr()
    assert "reading stack thermostat ..." in captured.err and "no runs in s3://" in captured.out
