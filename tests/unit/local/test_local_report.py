"""The console view of an execution (state rows from history events), fault configuration, CLI input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from thermostat.cli import InputError, UsageError
from thermostat.local.cli import history_path, parse_parameters, read_input
from thermostat.local.exceptions import FaultConfigError
from thermostat.local.faults import FaultPlan
from thermostat.local.report import state_rows, write_history

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
DEFINITION = {"StartAt": "A", "States": {
    "A": {"Type": "Task"}, "M": {"Type": "Map", "ItemProcessor": {"States": {"B": {"Type": "Task"}}}},
    "F": {"Type": "Fail"}}}


def events(*spec: tuple[str, int, int, str | None]) -> list[dict[str, Any]]:
    """(type, previous id, ms since T0, state name) -> history events numbered from 1."""
    out = []
    for i, (kind, previous, ms, name) in enumerate(spec, start=1):
        event: dict[str, Any] = {"id": i, "previousEventId": previous, "type": kind,
                                 "timestamp": T0 + dt.timedelta(milliseconds=ms)}
        if kind.endswith("StateEntered"):
            event["stateEnteredEventDetails"] = {"name": name}
        elif kind.endswith("StateExited"):
            event["stateExitedEventDetails"] = {"name": name}
        out.append(event)
    return out


def test_state_rows_pair_entries_and_exits_along_previous_event_ids() -> None:
    # GIVEN a task retried once, a map whose two iterations overlap, and a Fail state
    history = events(
        ("ExecutionStarted", 0, 0, None),
        ("TaskStateEntered", 1, 10, "A"), ("TaskScheduled", 2, 11, None), ("TaskFailed", 3, 20, None),
        ("TaskScheduled", 4, 30, None), ("TaskSucceeded", 5, 110, None), ("TaskStateExited", 6, 110, "A"),
        ("MapStateEntered", 7, 120, "M"),
        ("TaskStateEntered", 8, 121, "B"), ("TaskStateEntered", 8, 122, "B"),
        ("TaskStateExited", 10, 322, "B"), ("TaskStateExited", 9, 421, "B"),  # the first one ends last
        ("MapStateExited", 12, 430, "M"), ("FailStateEntered", 13, 431, "F"), ("ExecutionFailed", 14, 431, None))
    # WHEN the rows are computed
    rows = {r.name: r for r in state_rows(history, DEFINITION)}
    # THEN durations pair each exit with its own entry, retries and failures are counted
    assert (rows["A"].total_ms, rows["A"].retries, rows["A"].status) == (100.0, 1, "caught")
    assert (rows["B"].depth, rows["B"].entries, rows["B"].max_ms, rows["B"].total_ms) == (1, 2, 300.0, 500.0)
    assert (rows["M"].type, rows["M"].total_ms, rows["M"].status) == ("Map", 310.0, "succeeded")
    assert (rows["F"].status, rows["F"].offset_ms) == ("failed", 431.0)
    assert [r.name for r in state_rows(history, DEFINITION)] == ["A", "M", "B", "F"]


def test_history_json_is_written_with_iso_timestamps(tmp_path: Path) -> None:
    path = write_history(tmp_path / "out" / "h.json", {"name": "x", "startDate": T0, "ResponseMetadata": {}},
                         events(("ExecutionStarted", 0, 0, None)))
    data = json.loads(path.read_text())
    assert data["execution"] == {"name": "x", "startDate": T0.isoformat()}
    assert data["events"][0]["timestamp"] == T0.isoformat()


def test_history_paths() -> None:
    assert history_path(None, "run-a", 0, 2) == Path("out/run-a.history.json")
    assert history_path(Path("h/x.json"), "run-a", 0, 2) == Path("h/x.run1.json")
    assert history_path(Path("h/x.json"), "run-b", 1, 2) == Path("h/x.json")


@pytest.mark.parametrize("raw, message", [
    ({"functions": {"f": {"error": "not a class"}}}, r"faults.functions.f.error: must be an exception class name"),
    ({"functions": {"f": {"times": -1, "error": "E"}}}, r"faults.functions.f.times: must be an integer >= 0"),
    ({"functions": {"f": {"throttle": 3}}}, r"faults.functions.f.throttle: unknown key"),
    ({"functions": {"f": {"error": "E", "timeout": True}}}, r"'error' and 'timeout' are exclusive"),
    ({"cloudwatch": {"latency_ms": "slow"}}, r"faults.cloudwatch.latency_ms: must be a number"),
    ({"lambda": {}}, r"faults.lambda: unknown key"),
])
def test_bad_fault_configuration_names_the_field(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(FaultConfigError, match=message):
        FaultPlan.from_dict(raw)


def test_fault_plans_accept_logical_ids() -> None:
    plan = FaultPlan.from_dict({"functions": {"TargetFunction": {"throttle_first": 2}}})
    assert plan.renamed({"TargetFunction": "stack-target"}).functions["stack-target"].throttle_first == 2


def test_cli_input_errors_are_named(tmp_path: Path) -> None:
    # GIVEN a missing or malformed --input, a --parameter without "=" THEN input (exit 3) and usage (exit 2) errors
    with pytest.raises(InputError, match=r"--input .*absent.json: no such file"):
        read_input(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text('{"targets": [,]}')
    with pytest.raises(InputError, match=r"not valid JSON \(line 1, column 14"):
        read_input(tmp_path / "bad.json")
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        parse_parameters(["MaxWarm"])
    assert parse_parameters(["MaxWarm=5", "ExplicitTargets=a=b"]) == {"MaxWarm": "5", "ExplicitTargets": "a=b"}
