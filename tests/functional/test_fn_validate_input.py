"""Validate Input handler: the ASL's payload -> RunState; bad input -> InvalidInputError naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from thermostat.exceptions import InvalidInputError


def test_state_machine_payload_becomes_a_run_state(aws: None, load_handler: Any, load_event: Any,
                                                    context: Any) -> None:
    # GIVEN the payload the Validate Input task sends (events/validate-input.json)
    app = load_handler("validate_input")
    event = load_event("validate-input.json")
    # WHEN the handler runs
    state = app.handler(event, context)
    # THEN the run is the execution, round 0, the request validated, warming enabled
    assert state["run"]["id"] == event["execution"] and state["run"]["round"] == 0
    assert [t["function"] for t in state["request"]["targets"]] == [
        t["function"] for t in load_event("manual-run.json")["targets"]]
    assert state["enabled"] is True


def test_schedule_input_and_kill_switch(aws: None, load_handler: Any, load_event: Any, context: Any,
                                        monkeypatch: Any) -> None:
    # GIVEN the schedule's {} and THERMOSTAT_ENABLED=false WHEN invoked directly
    monkeypatch.setenv("THERMOSTAT_ENABLED", "false")
    monkeypatch.setenv("THERMOSTAT_QUANTILE", "0.9")
    state = load_handler("validate_input").handler(load_event("scheduled.json"), context)
    # THEN defaults come from the environment, the run id from the request id, and enabled is false
    assert state["request"]["quantile"] == 0.9 and state["request"]["targets"] == []
    assert state["run"]["id"] == f"direct-{context.aws_request_id}"
    assert state["enabled"] is False and "THERMOSTAT_ENABLED" in state["reason"]


def test_invalid_input_raises_the_named_error(aws: None, load_handler: Any, load_event: Any, context: Any) -> None:
    # GIVEN events/invalid-input.json wrapped as the state machine sends it
    event = load_event("validate-input.json")
    event["input"] = load_event("invalid-input.json")
    # WHEN the handler runs THEN InvalidInputError (the ASL matches it by name) names targets[0].min
    with pytest.raises(InvalidInputError, match=r"^targets\[0\]\.min: "):
        load_handler("validate_input").handler(event, context)
