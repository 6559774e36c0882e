"""Failures on the embedded AWS: throttled targets, a raising target, bad execution input, the CLI's exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thermostat.cli import main

from .conftest import REPO, SCHEMA_TARGET, SSM_TARGET, LocalAwsFactory, load_event, run_and_observe, targets_by_name

pytestmark = pytest.mark.slow


def test_throttled_pings_are_retried_and_every_environment_is_still_warmed(local_aws: LocalAwsFactory) -> None:
    # GIVEN the first 3 invokes of a target throttled (HTTP 429)
    with local_aws(faults={"functions": {SCHEMA_TARGET: {"throttle_first": 3}}}) as aws:
        # WHEN the demo input runs
        run, envs = run_and_observe(aws, load_event("manual-run.json"))
        throttles = aws.runtime.stats[SCHEMA_TARGET].throttles
    # THEN the throttles were retried and reported, and the target still got all its environments
    target = targets_by_name(run)[SCHEMA_TARGET]
    assert throttles == 3 and target["throttled"] >= 3
    assert target["distinct_envs"] == target["requested"] == len(envs[SCHEMA_TARGET].envs)
    assert target["status"] == "warmed"


def test_a_target_whose_handler_raises_gets_its_own_failed_record(local_aws: LocalAwsFactory) -> None:
    # GIVEN a target that always fails
    with local_aws(faults={"functions": {SSM_TARGET: {"error": "RuntimeError", "message": "db down"}}}) as aws:
        run, _ = run_and_observe(aws, load_event("manual-run.json"))
    # THEN the run succeeds; that target is reported failed with its errors, the others are warmed
    targets = targets_by_name(run)
    failed = targets[SSM_TARGET]
    assert failed["status"] in ("failed", "error") and failed["errors"] >= 1 and failed["distinct_envs"] == 0
    assert all(t["status"] == "warmed" for name, t in targets.items() if name != SSM_TARGET)


def test_bad_execution_input_fails_with_the_named_error(local_aws: LocalAwsFactory) -> None:
    # GIVEN events/invalid-input.json (min > max)
    with local_aws() as aws:
        run, _ = run_and_observe(aws, load_event("invalid-input.json"))
    # THEN the execution fails with InvalidInputError and a cause naming the field path
    assert run.status == "FAILED"
    assert run.describe["error"] == "InvalidInputError"
    assert run.describe["cause"].startswith("targets[0].")


def test_cli_demo_prints_the_run_and_writes_its_output(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the project directory
    monkeypatch.chdir(REPO)
    output, history = tmp_path / "demo-output.json", tmp_path / "history.json"
    # WHEN `thermostat local run` runs the demo (two executions, one minute apart)
    status = main(["local", "run", "--input", "events/manual-run.json", "--output", str(output),
                   "--history-json", str(history)])
    printed = capsys.readouterr().out
    # THEN it exits 0, printed both executions with their states, and wrote the output and histories
    assert status == 0
    assert printed.count("SUCCEEDED") == 2 and "Warm Batch" in printed and "Execution history:" in printed
    report = json.loads(output.read_text())
    assert {"function", "requested", "distinct_envs", "cold_inits", "throttled", "status"} <= set(report["targets"][0])
    assert all(t["cold_inits"] == 0 for t in report["targets"])  # the second run found them warm
    assert json.loads(history.read_text())["execution"]["status"] == "SUCCEEDED"
    assert (tmp_path / "history.run1.json").is_file()


def test_cli_exits_non_zero_on_a_failed_execution(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an execution input the state machine rejects
    monkeypatch.chdir(REPO)
    # WHEN the command runs it
    status = main(["local", "run", "--input", "events/invalid-input.json", "--runs", "1",
                   "--history-json", str(tmp_path / "invalid.history.json")])
    printed = capsys.readouterr().out
    # THEN it prints the error name and cause and exits 1
    assert status == 1
    assert "FAILED" in printed and "InvalidInputError" in printed and "targets[0].min" in printed
