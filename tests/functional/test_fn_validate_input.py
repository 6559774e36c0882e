"""Validate Input handler: the ASL's payload -> RunState; bad input -> InvalidInputError naming the field;
the kill switch parameter read from SSM (moto) at run start."""

from __future__ import annotations

from typing import Any

import boto3
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


# --- the kill switch parameter (read at run start, through SSM) -------------------------------------------


@pytest.mark.parametrize(("value", "enabled"), [("true", True), ("ON", True), ("false", False), ("Off", False),
                                                ("0", False), ("maybe", False)])
def test_kill_switch_parameter_decides_at_run_start(aws: None, load_handler: Any, load_event: Any, context: Any,
                                                    monkeypatch: Any, value: str, enabled: bool) -> None:
    # GIVEN the stack's kill switch parameter (an SSM String) set to a value
    boto3.client("ssm").put_parameter(Name="/thermostat/test/enabled", Value=value, Type="String")
    monkeypatch.setenv("THERMOSTAT_KILL_SWITCH_PARAMETER", "/thermostat/test/enabled")
    # WHEN a run starts
    state = load_handler("validate_input").handler(load_event("validate-input.json"), context)
    # THEN warming is on only for an "on" value; otherwise the reason names the parameter and its value
    assert state["enabled"] is enabled
    if not enabled:
        assert "/thermostat/test/enabled" in state["reason"] and repr(value) in state["reason"]
    else:
        assert "reason" not in state


def test_unreadable_kill_switch_fails_closed(aws: None, load_handler: Any, load_event: Any, context: Any,
                                             monkeypatch: Any) -> None:
    # GIVEN a kill switch parameter name that does not exist (deleted, or a typo in the stack)
    monkeypatch.setenv("THERMOSTAT_KILL_SWITCH_PARAMETER", "/thermostat/test/missing")
    # WHEN a run starts THEN nothing is warmed, and the reason says the parameter could not be read
    state = load_handler("validate_input").handler(load_event("validate-input.json"), context)
    assert state["enabled"] is False
    assert state["reason"].startswith("kill switch parameter /thermostat/test/missing could not be read "
                                      "(ParameterNotFound)")


def test_parameter_decides_and_invalid_input_still_fails(aws: None, load_handler: Any, load_event: Any,
                                                         context: Any, monkeypatch: Any) -> None:
    # GIVEN a stack deployed with WarmingEnabled=false whose kill switch parameter was flipped to "true"
    boto3.client("ssm").put_parameter(Name="/thermostat/test/enabled", Value="true", Type="String")
    monkeypatch.setenv("THERMOSTAT_KILL_SWITCH_PARAMETER", "/thermostat/test/enabled")
    monkeypatch.setenv("THERMOSTAT_ENABLED", "false")
    app = load_handler("validate_input")
    # WHEN a run starts THEN the parameter decides: warming resumes without a redeploy
    assert app.handler(load_event("validate-input.json"), context)["enabled"] is True
    # AND malformed input is an InvalidInputError whatever the switch says
    event = load_event("validate-input.json")
    event["input"] = {"targets": [{"function": "a", "max": 101}]}
    with pytest.raises(InvalidInputError, match=r"^targets\[0\]\.max: must be <= 100 \(the stack's MaxWarm\)"):
        app.handler(event, context)
