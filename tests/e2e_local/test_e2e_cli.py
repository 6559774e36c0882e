"""``thermostat local run`` end to end: the console view of a v2 run and the command's exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thermostat.cli import main

from .conftest import REPO

pytestmark = pytest.mark.slow


def test_cli_demo_prints_the_v2_report_and_writes_its_output(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the project directory
    monkeypatch.chdir(REPO)
    output, history = tmp_path / "demo-output.json", tmp_path / "history.json"
    # WHEN `thermostat local run` runs the demo (two executions, one minute apart)
    status = main(["local", "run", "--input", "events/manual-run.json", "--output", str(output),
                   "--history-json", str(history)])
    printed = capsys.readouterr().out
    # THEN it exits 0 and printed both executions: their states, the v2 per-target table, the run's status
    assert status == 0
    assert printed.count("Execution history:") == 2 and "Warm Batch" in printed and "SUCCEEDED" in printed
    for column in ("Desired (term)", "Requested", "Envs", "Inits", "Real cold", "Throttles", "Hold ms", "Status",
                   "Cost"):
        assert column in printed, column
    assert "Forecast (model)" not in printed
    assert printed.count("Run: ok") == 2 and "Same" in printed  # the second run compares with the first
    # AND wrote the last output (the v2 report) and both histories
    report = json.loads(output.read_text())
    assert report["status"] == "ok"
    assert {"key", "desired", "term", "requested", "distinct_envs", "cold_inits", "real_cold_starts", "throttled",
            "hold_ms", "hold_ms_median", "status", "cost_usd"} <= set(report["targets"][0])
    # the second run found the first run's environments warm: at most the environments added since are new
    assert sum(t["cold_inits"] for t in report["targets"]) < sum(t["requested"] for t in report["targets"])
    assert json.loads(history.read_text())["execution"]["status"] == "SUCCEEDED"
    assert (tmp_path / "history.run1.json").is_file()


def test_cli_prints_a_degraded_run_with_its_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN GetAccountSettings denied to the workflow
    monkeypatch.chdir(REPO)
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"aws": {"lambda:GetAccountSettings": {"error": "AccessDeniedException"}}}))
    # WHEN one run runs
    status = main(["local", "run", "--input", "events/manual-run.json", "--runs", "1", "--faults", str(faults),
                   "--history-json", str(tmp_path / "h.json")])
    printed = capsys.readouterr().out
    # THEN the execution succeeds, and the console says the run is degraded and why, and what limited each target
    assert status == 0
    assert "Run: degraded — GetAccountSettings failed" in printed
    assert "(unknown_limits)" in printed


def test_cli_exits_non_zero_on_a_failed_execution(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an execution input the state machine rejects
    monkeypatch.chdir(REPO)
    # WHEN the command runs it
    status = main(["local", "run", "--input", "events/invalid-input.json", "--runs", "1",
                   "--history-json", str(tmp_path / "invalid.history.json")])
    printed = capsys.readouterr().out
    # THEN it prints the error name and cause and exits non-zero
    assert status != 0
    assert "FAILED" in printed and "InvalidInputError" in printed and "targets[0].min" in printed
