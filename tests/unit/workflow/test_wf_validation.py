"""Validate Input: execution input -> Request, and a named InvalidInputError for every malformed case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from thermostat.config import RunSettings
from thermostat.exceptions import InvalidInputError
from thermostat.validation import MAX_COUNT, build_run_state, parse_request

SETTINGS = RunSettings(enabled=True, quantile=0.9, horizon_minutes=5, min_warm=0, max_warm=50)
NOW = 1_763_800_000_000


def test_schedule_input_gets_every_default() -> None:
    # GIVEN the schedule's empty input WHEN validated THEN every field has its configured default
    request = parse_request({}, SETTINGS)
    assert request == {"targets": [], "discover": True, "quantile": 0.9, "horizon_minutes": 5, "dry_run": False}


def test_manual_run_event_is_valid(load_event: Any) -> None:
    # GIVEN events/manual-run.json WHEN validated THEN both demo targets come through as input targets
    request = parse_request(load_event("manual-run.json"), SETTINGS)
    assert [(t["function"], t["min"], t["max"], t["source"]) for t in request["targets"]] == [
        ("thermostat-demo-schema-registry", 1, 20, "input"), ("thermostat-demo-ssm-config", 1, 10, "input")]
    assert request["quantile"] == 0.95 and request["horizon_minutes"] == 5


@pytest.mark.parametrize(("function", "qualifier", "expected"), [
    ("orders-api", None, ("orders-api", None)),
    ("orders-api:live", None, ("orders-api", "live")),
    ("orders-api:7", "7", ("orders-api", "7")),
    ("orders-api", "$LATEST", ("orders-api", None)),
    ("arn:aws:lambda:us-east-1:123456789012:function:orders-api", None,
     ("arn:aws:lambda:us-east-1:123456789012:function:orders-api", None)),
    ("arn:aws:lambda:us-east-1:123456789012:function:orders-api:live", None,
     ("arn:aws:lambda:us-east-1:123456789012:function:orders-api", "live")),
    ("arn:aws-cn:lambda:cn-north-1:123456789012:function:o_1", "v2",
     ("arn:aws-cn:lambda:cn-north-1:123456789012:function:o_1", "v2")),
])
def test_function_forms_are_normalised(function: str, qualifier: str | None,
                                       expected: tuple[str, str | None]) -> None:
    # GIVEN a name, name:qualifier or ARN WHEN validated THEN function and qualifier are split apart
    item: dict[str, Any] = {"function": function}
    if qualifier is not None:
        item["qualifier"] = qualifier
    [target] = parse_request({"targets": [item]}, SETTINGS)["targets"]
    assert (target["function"], target["qualifier"]) == expected


def test_string_shorthand_and_duplicates_later_wins() -> None:
    # GIVEN the same function:qualifier twice (once as an ARN) WHEN validated THEN the later entry wins,
    # in the earlier one's position; a different qualifier is a different target
    request = parse_request({"targets": [
        "orders-api:live", {"function": "payments", "max": 3},
        {"function": "arn:aws:lambda:us-east-1:123456789012:function:orders-api", "qualifier": "live", "max": 9},
        "orders-api",
    ]}, SETTINGS)
    assert [(t["function"].rsplit(":", 1)[-1], t["qualifier"], t["max"]) for t in request["targets"]] == [
        ("orders-api", "live", 9), ("payments", None, 3), ("orders-api", None, 50)]


def test_one_bound_given_moves_the_other_default() -> None:
    # GIVEN only min above the default max, or only max below the default min WHEN validated THEN the
    # default follows the given bound instead of failing
    low = RunSettings(min_warm=2, max_warm=50)
    [a, b] = parse_request({"targets": [{"function": "a", "min": 80}, {"function": "b", "max": 1}]}, low)["targets"]
    assert (a["min"], a["max"]) == (80, 80)
    assert (b["min"], b["max"]) == (1, 1)


@pytest.mark.parametrize(("raw", "path", "fragment"), [
    (None, "$", "JSON object"),
    ([], "$", "JSON object"),
    ("orders-api", "$", "JSON object"),
    ({"target": []}, "target", "did you mean 'targets'"),
    ({"dryrun": True}, "dryrun", "did you mean 'dry_run'"),
    ({"zzz": 1}, "zzz", "allowed:"),
    ({"targets": {}}, "targets", "array"),
    ({"targets": [1]}, "targets[0]", "object or a function name"),
    ({"targets": [{}]}, "targets[0].function", "required"),
    ({"targets": [{"function": ""}]}, "targets[0].function", "empty"),
    ({"targets": [{"function": "   "}]}, "targets[0].function", "empty"),
    ({"targets": [{"function": 5}]}, "targets[0].function", "string"),
    ({"targets": [{"function": "bad name!"}]}, "targets[0].function", "not a Lambda function name"),
    ({"targets": [{"function": "x" * 65}]}, "targets[0].function", "not a Lambda function name"),
    ({"targets": [{"function": "arn:aws:lambda:us-east-1:1:function:f"}]}, "targets[0].function", "ARN"),
    ({"targets": [{"function": "a", "qualifier": ""}]}, "targets[0].qualifier", "empty"),
    ({"targets": [{"function": "a", "qualifier": 3}]}, "targets[0].qualifier", "string"),
    ({"targets": [{"function": "a", "qualifier": "a b"}]}, "targets[0].qualifier", "alias or version"),
    ({"targets": [{"function": "a:live", "qualifier": "prod"}]}, "targets[0].qualifier", "contradicts"),
    ({"targets": [{"function": "a", "min": True}]}, "targets[0].min", "integer"),
    ({"targets": [{"function": "a", "max": 2.0}]}, "targets[0].max", "integer"),
    ({"targets": [{"function": "a", "max": "3"}]}, "targets[0].max", "integer"),
    ({"targets": [{"function": "a", "min": -1}]}, "targets[0].min", "negative"),
    ({"targets": [{"function": "a", "max": MAX_COUNT + 1}]}, "targets[0].max", f"<= {MAX_COUNT}"),
    ({"targets": [{"function": "a", "min": 5, "max": 2}]}, "targets[0].min", "<= max"),
    ({"targets": ["ok", "ok2", {"function": "c", "mx": 1}]}, "targets[2].mx", "did you mean 'max'"),
    ({"targets": ["a"] * 1001}, "targets", "at most"),
    ({"discover": "yes"}, "discover", "true or false"),
    ({"dry_run": 1}, "dry_run", "true or false"),
    ({"quantile": 0}, "quantile", "between 0 and 1"),
    ({"quantile": 1}, "quantile", "between 0 and 1"),
    ({"quantile": 1.5}, "quantile", "between 0 and 1"),
    ({"quantile": -0.1}, "quantile", "between 0 and 1"),
    ({"quantile": float("nan")}, "quantile", "between 0 and 1"),
    ({"quantile": True}, "quantile", "number"),
    ({"quantile": "0.9"}, "quantile", "number"),
    ({"horizon_minutes": 0}, "horizon_minutes", ">= 1"),
    ({"horizon_minutes": 61}, "horizon_minutes", "<= 60"),
    ({"horizon_minutes": 5.5}, "horizon_minutes", "integer"),
    ({"horizon_minutes": False}, "horizon_minutes", "integer"),
])
def test_malformed_input_names_the_field(raw: object, path: str, fragment: str) -> None:
    # GIVEN a malformed execution input WHEN validated THEN InvalidInputError names the field path
    with pytest.raises(InvalidInputError) as caught:
        parse_request(raw, SETTINGS)
    assert caught.value.path == path
    assert fragment in caught.value.problem
    assert str(caught.value).startswith(f"{path}: ")


def test_invalid_input_event_fails_with_its_path(load_event: Any) -> None:
    # GIVEN events/invalid-input.json WHEN validated THEN the error names targets[0].min
    with pytest.raises(InvalidInputError, match=r"^targets\[0\]\.min: must be <= max \(2\), got 5$"):
        parse_request(load_event("invalid-input.json"), SETTINGS)


def test_state_machine_wrapper_gives_the_run_identity(load_event: Any) -> None:
    # GIVEN the payload the ASL sends (input + execution id/name/start) WHEN validated THEN the run is
    # identified by the execution ARN and started_at is the execution's start time, round 0
    event = load_event("validate-input.json")
    state = build_run_state(event, SETTINGS, NOW + 5_000, fallback_id="unused")
    started = int(datetime.fromisoformat(event["started_at"]).timestamp() * 1000)
    assert started != NOW + 5_000
    assert state["run"] == {"id": event["execution"], "name": event["name"], "started_at_ms": started, "round": 0}
    assert state["enabled"] is True and "reason" not in state
    assert len(state["request"]["targets"]) == 2


def test_direct_invoke_and_kill_switch() -> None:
    # GIVEN a bare execution input (direct invoke) and the kill switch off WHEN validated THEN the run id is
    # the fallback, and enabled is false with a reason
    state = build_run_state({"dry_run": True}, RunSettings(enabled=False), NOW, fallback_id="direct-abc")
    assert state["run"] == {"id": "direct-abc", "name": "direct-abc", "started_at_ms": NOW, "round": 0}
    assert state["enabled"] is False and "THERMOSTAT_ENABLED" in state["reason"]
    assert state["request"]["dry_run"] is True


def test_wrapper_with_bad_execution_fields_and_bad_inner_input() -> None:
    # GIVEN a wrapper whose execution id is missing, or whose input is malformed WHEN validated THEN each
    # error names its own field
    with pytest.raises(InvalidInputError, match=r"^execution: "):
        build_run_state({"input": {}, "execution": "", "name": "n", "started_at": "x"}, SETTINGS, NOW, "f")
    with pytest.raises(InvalidInputError, match=r"^targets\[0\]\.max: "):
        build_run_state({"input": {"targets": [{"function": "a", "max": -2}]}, "execution": "arn:x",
                         "name": "n", "started_at": "2025-01-01T00:00:00Z"}, SETTINGS, NOW, "f")


def test_unparsable_start_time_falls_back_to_now() -> None:
    # GIVEN a start time that is not ISO 8601 WHEN validated THEN started_at_ms is the handler's now
    state = build_run_state({"input": {}, "execution": "arn:x", "name": "n", "started_at": "yesterday"},
                            SETTINGS, NOW, "f")
    assert state["run"]["started_at_ms"] == NOW
