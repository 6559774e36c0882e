"""Validate Input: execution input -> Request by the JSON Schema, and a named InvalidInputError for every
malformed case (the fuzzed version of these cases: test_wf_validation_fuzz.py)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from thermostat.config import RunSettings
from thermostat.exceptions import InvalidInputError
from thermostat.input_schema import MAX_CAUSE, SCHEMA_PATH, format_path, schema
from thermostat.validation import (
    MAX_COUNT,
    build_run_state,
    parse_request,
    parse_targets,
    split_function,
    validate_execution_input,
)

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = RunSettings(enabled=True, quantile=0.9, horizon_minutes=5, min_warm=0, max_warm=50)
NOW = 1_763_800_000_000
ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders-api"


# --- the schema, once --------------------------------------------------------------------------------


def test_published_schema_is_the_one_the_code_loads() -> None:
    # GIVEN the schema users get (docs/) and the one shipped in the package
    # WHEN compared THEN they are the same bytes, and a valid draft-07 schema
    assert (ROOT / "docs" / "execution-input.schema.json").read_bytes() == SCHEMA_PATH.read_bytes()
    jsonschema.Draft7Validator.check_schema(schema())


@pytest.mark.parametrize("document", [
    {}, {"targets": ["a", "a:live", ARN, f"{ARN}:7", {"function": "b", "qualifier": None, "min": 0, "max": 3}]},
    {"monthly_budget_usd": None, "price_per_cold_start": 0.002, "quantile": 0.5},
    [], {"zzz": 1}, {"targets": [1]}, {"targets": [{"function": "a", "qualifier": "live\n"}]},
    {"targets": ["a\n"]}, {"targets": ["arn:aws:lambda:us-east-1:12345678901\u0663:function:f"]},
    {"targets": ["arn:foo"]}, {"targets": [{"function": "a", "min": True}]}, {"quantile": 1},
    {"targets": [{"qualifier": "x"}]}, {"targets": ["x" * 300]}, {"horizon_minutes": 2.5},
])
def test_another_validator_reads_the_published_schema_the_same_way(document: object) -> None:
    # GIVEN an input WHEN checked by an unrelated JSON Schema validator (jsonschema) and by ours
    # THEN both agree on valid / invalid (the schema's patterns mean the same in every dialect)
    other = jsonschema.Draft7Validator(json.loads((ROOT / "docs" / "execution-input.schema.json").read_text()))
    try:
        validate_execution_input(document, RunSettings(max_warm=1000))
        ours = True
    except InvalidInputError:
        ours = False
    assert other.is_valid(document) == ours


def test_every_schema_field_is_documented() -> None:
    # GIVEN the schema's fields WHEN docs/state-machine-io.md is read THEN each has a row in its table
    doc = (ROOT / "docs" / "state-machine-io.md").read_text()
    target_fields = schema()["definitions"]["target"]["else"]["properties"]
    for name in [*schema()["properties"], *(f"targets[].{field}" for field in target_fields)]:
        assert f"| `{name}` |" in doc, name


# --- valid input, normalised ---------------------------------------------------------------------------


def test_schedule_input_gets_every_default() -> None:
    # GIVEN the schedule's empty input WHEN validated THEN every field has its configured default
    request = parse_request({}, SETTINGS)
    assert request == {"targets": [], "discover": True, "quantile": 0.9, "horizon_minutes": 5, "dry_run": False}


def test_stable_entry_point_uses_the_template_defaults() -> None:
    # GIVEN no settings WHEN validate_execution_input runs THEN the template's defaults apply (MaxWarm 100)
    [target] = validate_execution_input({"targets": ["a"]})["targets"]
    assert (target["min"], target["max"]) == (1, 100)
    with pytest.raises(InvalidInputError,
                       match=r"^targets\[0\]\.max: must be <= 100 \(the stack's MaxWarm\), got 101$"):
        validate_execution_input({"targets": [{"function": "a", "max": 101}]})


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
    ("orders-api:$LATEST", None, ("orders-api", None)),
    (ARN, None, (ARN, None)),
    (f"{ARN}:live", None, (ARN, "live")),
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
        {"function": ARN, "qualifier": "live", "max": 9},
        "orders-api",
    ]}, SETTINGS)
    assert [(t["function"].rsplit(":", 1)[-1], t["qualifier"], t["max"]) for t in request["targets"]] == [
        ("orders-api", "live", 9), ("payments", None, 3), ("orders-api", None, 50)]


def test_max_below_the_default_min_moves_the_default_and_max_warm_bounds_both() -> None:
    # GIVEN only max below the default min WHEN validated THEN the default min follows it
    [b] = parse_request({"targets": [{"function": "b", "max": 1}]}, RunSettings(min_warm=2))["targets"]
    assert (b["min"], b["max"]) == (1, 1)
    # AND min or max above the stack's MaxWarm is an error naming the bound; a larger MaxWarm accepts it
    for field in ("min", "max"):
        with pytest.raises(InvalidInputError, match=rf"^targets\[0\]\.{field}: must be <= 50 \(the stack's MaxWarm\)"):
            parse_request({"targets": [{"function": "a", field: 80}]}, SETTINGS)
    [a] = parse_request({"targets": [{"function": "a", "min": 80}]}, RunSettings(max_warm=100))["targets"]
    assert (a["min"], a["max"]) == (80, 100)


def test_integral_numbers_prices_and_budget_are_normalised() -> None:
    # GIVEN 2.0 as a count (JSON Schema: an integer), prices and a budget WHEN validated
    request = parse_request({"targets": [{"function": "a", "max": 2.0, "price_per_cold_start": 1}],
                             "horizon_minutes": 10.0, "price_per_cold_start": 0, "monthly_budget_usd": 25}, SETTINGS)
    # THEN counts are ints, prices and budget floats
    [target] = request["targets"]
    assert target["max"] == 2 and type(target["max"]) is int and type(request["horizon_minutes"]) is int
    assert target["price_per_cold_start"] == 1.0 and type(target["price_per_cold_start"]) is float
    assert (request["price_per_cold_start"], request["monthly_budget_usd"]) == (0.0, 25.0)
    # AND a null budget means "the stack's setting": absent from the request
    assert "monthly_budget_usd" not in parse_request({"monthly_budget_usd": None}, SETTINGS)


def test_configured_targets_are_named_from_their_own_root_and_bounded() -> None:
    # GIVEN THERMOSTAT_TARGETS entries WHEN validated THEN errors are named from that root, MaxWarm bounds them
    with pytest.raises(InvalidInputError, match=r"^THERMOSTAT_TARGETS\[1\]\.zz: unknown field"):
        parse_targets(["a", {"function": "b", "zz": 1}], "THERMOSTAT_TARGETS", "config", 0, 5)
    with pytest.raises(InvalidInputError, match=r"^THERMOSTAT_TARGETS\[0\]\.max: must be <= 5 "):
        parse_targets([{"function": "b", "max": 6}], "THERMOSTAT_TARGETS", "config", 0, 5)
    with pytest.raises(InvalidInputError, match=r"^THERMOSTAT_TARGETS: must be an array, got object$"):
        parse_targets({}, "THERMOSTAT_TARGETS", "config", 0, 5)


# --- malformed input, named ----------------------------------------------------------------------------

HUGE = 10**5000  # str() of it raises ValueError: no message may format it
LONG = "f" * 40_000


def case_id(value: object) -> str | None:
    """pytest ids: never str() of a huge integer (it raises), otherwise pytest's own."""
    return "huge-int" if isinstance(value, int) and value.bit_length() > 64 else None


@pytest.mark.parametrize(("raw", "path", "fragment"), [
    (None, "$", "must be a JSON object, got null"),
    ([], "$", "must be a JSON object, got array"),
    ("orders-api", "$", "must be a JSON object, got string"),
    (HUGE, "$", "out of range"),
    ({"target": []}, "target", "did you mean 'targets'"),
    ({"dryrun": True}, "dryrun", "did you mean 'dry_run'"),
    ({"zzz": 1}, "zzz", "allowed:"),
    ({"": 1}, '[""]', "unknown field"),
    ({"a b\n": 1}, '["a b\\n"]', "unknown field"),
    ({"targets": {}}, "targets", "must be an array, got object"),
    ({"targets": [1]}, "targets[0]", "must be an object or a function name, got number 1"),
    ({"targets": [None]}, "targets[0]", "got null"),
    ({"targets": [{}]}, "targets[0].function", "is required"),
    ({"targets": [{"function": ""}]}, "targets[0].function", "must not be empty"),
    ({"targets": [""]}, "targets[0]", "must not be empty"),
    ({"targets": [{"function": "   "}]}, "targets[0].function", "not a Lambda function name"),
    ({"targets": [{"function": 5}]}, "targets[0].function", "must be a string, got number 5"),
    ({"targets": [{"function": "bad name!"}]}, "targets[0].function", "not a Lambda function name"),
    ({"targets": [{"function": "x" * 65}]}, "targets[0].function", "not a Lambda function name"),
    ({"targets": [{"function": "orders\n"}]}, "targets[0].function", '"orders\\n" is not'),
    ({"targets": ["orders:live\n"]}, "targets[0]", "not a Lambda function name"),
    ({"targets": ["f\u0663"]}, "targets[0]", "not a Lambda function name"),
    ({"targets": [{"function": "arn:aws:lambda:us-east-1:1:function:f"}]}, "targets[0].function", "ARN"),
    ({"targets": ["arn:aws:lambda:us-east-1:12345678901\u0663:function:f"]}, "targets[0]", "ACCOUNT 12 digits"),
    ({"targets": ["arn:aws:lambda:us-east-1:\uff11\uff12\uff13456789012:function:f"]}, "targets[0]", "ARN"),
    ({"targets": [f"{ARN}\n"]}, "targets[0]", "ARN"),
    ({"targets": ["arn:aws:s3:us-east-1:123456789012:function:f"]}, "targets[0]", "ARN"),
    ({"targets": ["arn:foo"]}, "targets[0]", "ARN"),
    ({"targets": [{"function": LONG}]}, "targets[0].function", "40000 characters long, at most 256"),
    ({"targets": [{"function": "a", "qualifier": ""}]}, "targets[0].qualifier", "empty"),
    ({"targets": [{"function": "a", "qualifier": 3}]}, "targets[0].qualifier", "must be a string or null"),
    ({"targets": [{"function": "a", "qualifier": "a b"}]}, "targets[0].qualifier", "alias or version"),
    ({"targets": [{"function": "a", "qualifier": "live\n"}]}, "targets[0].qualifier", '"live\\n" is not'),
    ({"targets": [{"function": "a", "qualifier": "v\u0663"}]}, "targets[0].qualifier", "alias or version"),
    ({"targets": [{"function": "a", "qualifier": "$LATEST2"}]}, "targets[0].qualifier", "alias or version"),
    ({"targets": [{"function": "a:live", "qualifier": "prod"}]}, "targets[0].qualifier", "contradicts"),
    ({"targets": [{"function": "a", "min": True}]}, "targets[0].min", "must be an integer, got boolean true"),
    ({"targets": [{"function": "a", "max": 2.5}]}, "targets[0].max", "must be an integer, got number 2.5"),
    ({"targets": [{"function": "a", "max": "3"}]}, "targets[0].max", 'must be an integer, got string "3"'),
    ({"targets": [{"function": "a", "min": -1}]}, "targets[0].min", "must not be negative, got -1"),
    ({"targets": [{"function": "a", "max": MAX_COUNT + 1}]}, "targets[0].max", f"<= {MAX_COUNT}"),
    ({"targets": [{"function": "a", "max": HUGE}]}, "targets[0].max", "out of range"),
    ({"targets": [{"function": "a", "min": -HUGE}]}, "targets[0].min", "out of range"),
    ({"targets": [{"function": "a", "min": 5, "max": 2}]}, "targets[0].min", "<= max"),
    ({"targets": [{"function": "a", "price_per_cold_start": -0.5}]}, "targets[0].price_per_cold_start", "negative"),
    ({"targets": ["ok", "ok2", {"function": "c", "mx": 1}]}, "targets[2].mx", "did you mean 'max'"),
    ({"targets": ["a"] * 1001}, "targets", "has 1001 entries, at most 1000"),
    ({"discover": "yes"}, "discover", "must be true or false"),
    ({"dry_run": 1}, "dry_run", "must be true or false"),
    ({"quantile": 0}, "quantile", "between 0 and 1"),
    ({"quantile": 1}, "quantile", "between 0 and 1"),
    ({"quantile": 1.5}, "quantile", "between 0 and 1, got 1.5"),
    ({"quantile": -0.1}, "quantile", "between 0 and 1"),
    ({"quantile": float("nan")}, "quantile", "must be a finite number, got NaN"),
    ({"quantile": float("inf")}, "quantile", "must be a finite number, got Infinity"),
    ({"quantile": True}, "quantile", "must be a number"),
    ({"quantile": "0.9"}, "quantile", "must be a number"),
    ({"horizon_minutes": 0}, "horizon_minutes", ">= 1"),
    ({"horizon_minutes": 61}, "horizon_minutes", "<= 60"),
    ({"horizon_minutes": 5.5}, "horizon_minutes", "integer"),
    ({"horizon_minutes": False}, "horizon_minutes", "integer"),
    ({"price_per_cold_start": None}, "price_per_cold_start", "must be a number, got null"),
    ({"price_per_cold_start": float("-inf")}, "price_per_cold_start", "-Infinity"),
    ({"monthly_budget_usd": -1}, "monthly_budget_usd", "negative"),
    ({"monthly_budget_usd": "10"}, "monthly_budget_usd", "must be a number or null"),
    ({"targets": [{"function": "a", 1: 2}]}, "targets[0]", "key that is not a string"),
    ({"targets": [("a",)]}, "targets[0]", "not a JSON value (tuple)"),
    ({"targets": [{"function": "a", "min": [[[[[[[[[[1]]]]]]]]]]}]}, "targets[0].min", "integer, got array"),
    ({"quantile": [float("nan"), HUGE]}, "quantile", "must be a number, got array"),
    ({"zzz": HUGE}, "zzz", "unknown field"),
    ({"targets": [{"function": "a", "zz": {1: float("inf")}}]}, "targets[0].zz", "unknown field"),
    ({"targets": [float("nan")]}, "targets[0]", "must be a finite number, got NaN"),
    ({1: 2}, "$", "key that is not a string (number)"),
], ids=case_id)
def test_malformed_input_names_the_field(raw: object, path: str, fragment: str) -> None:
    # GIVEN a malformed execution input WHEN validated THEN InvalidInputError names the field path
    with pytest.raises(InvalidInputError) as caught:
        parse_request(raw, SETTINGS)
    assert caught.value.path == path
    assert fragment in caught.value.problem
    assert str(caught.value) == f"{path}: {caught.value.problem}"


@pytest.mark.parametrize("raw", [
    {"targets": [{"function": LONG}]}, {"targets": [LONG]}, {LONG: 1}, {"targets": [{"function": "a", LONG: 1}]},
    {"targets": [{"function": "a", "qualifier": LONG}]}, {"targets": [{"function": "a:b", "qualifier": "c" * 128}]},
    {"targets": [{"function": "a", "max": HUGE}]},
])
def test_causes_never_repeat_large_values(raw: object) -> None:
    # GIVEN inputs holding a 40,000-character string or a 5,000-digit integer WHEN validated
    # THEN the cause stays far below Step Functions' 32,768-character cap and never repeats the value
    with pytest.raises(InvalidInputError) as caught:
        parse_request(raw, SETTINGS)
    assert len(str(caught.value)) <= MAX_CAUSE
    assert "f" * 100 not in str(caught.value) and caught.value.path


def test_paths_format_keys_safely() -> None:
    # GIVEN path parts with plain keys, indexes, odd keys and a long key WHEN formatted
    # THEN plain keys are dotted, others JSON-quoted in brackets and cut, and the empty path is "$"
    assert format_path(["targets", 2, "min"]) == "targets[2].min"
    assert format_path([]) == "$"
    assert format_path(["a.b", 0]) == '["a.b"][0]'
    assert format_path(["k" * 100]) == '["' + "k" * 40 + '..."]'
    assert format_path(["targets", 1, "min"], root="THERMOSTAT_TARGETS") == "THERMOSTAT_TARGETS[1].min"


def test_split_function_checks_on_its_own() -> None:
    # GIVEN split_function called directly (not after the schema) WHEN given bad text THEN it names the path
    assert split_function(f"{ARN}:live", "p") == (ARN, "orders-api", "live")
    for bad, fragment in [(5, "must be a string"), ("", "empty"), ("a\n", "function name"), ("x" * 300, "at most")]:
        with pytest.raises(InvalidInputError, match=rf"^p: .*{fragment}"):
            split_function(bad, "p")


def test_invalid_input_event_fails_with_its_path(load_event: Any) -> None:
    # GIVEN events/invalid-input.json WHEN validated THEN the error names targets[0].min
    with pytest.raises(InvalidInputError, match=r"^targets\[0\]\.min: must be <= max \(2\), got 5$"):
        parse_request(load_event("invalid-input.json"), SETTINGS)


# --- the Validate Input state --------------------------------------------------------------------------


class FakeSSM:
    def __init__(self, value: str | None = None, error: Exception | None = None) -> None:
        self.value, self.error, self.calls = value, error, list[str]()

    def get_parameter(self, Name: str) -> dict[str, Any]:  # boto3's spelling
        self.calls.append(Name)
        if self.error is not None:
            raise self.error
        return {"Parameter": {"Name": Name, "Value": self.value}}


DENIED = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetParameter")


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


def test_direct_invoke_and_warming_disabled_by_the_stack() -> None:
    # GIVEN a bare execution input (direct invoke), WarmingEnabled=false and no kill switch parameter
    # WHEN validated THEN the run id is the fallback, and enabled is false with a reason
    state = build_run_state({"dry_run": True}, RunSettings(enabled=False), NOW, fallback_id="direct-abc")
    assert state["run"] == {"id": "direct-abc", "name": "direct-abc", "started_at_ms": NOW, "round": 0}
    assert state["enabled"] is False and "THERMOSTAT_ENABLED" in state["reason"]
    assert state["request"]["dry_run"] is True


def test_kill_switch_parameter_decides_over_the_deployed_value() -> None:
    # GIVEN a stack deployed with WarmingEnabled=false whose parameter an operator has set to "true"
    ssm = FakeSSM("true")
    settings = RunSettings(enabled=False, kill_switch_parameter="/k")
    # WHEN a run starts THEN the parameter, read now, decides (WarmingEnabled was only its initial value)
    assert build_run_state({}, settings, NOW, "f", ssm=ssm)["enabled"] is True and ssm.calls == ["/k"]
    # AND without an SSM client (e.g. `thermostat plan`) the deployed value is all there is
    assert build_run_state({}, settings, NOW, "f")["enabled"] is False


@pytest.mark.parametrize(("ssm", "enabled", "fragments"), [
    (FakeSSM("true"), True, []),
    (FakeSSM(" On "), True, []),
    (FakeSSM("1"), True, []),
    (FakeSSM("false"), False, ["/thermostat/enabled", "'false'", "nothing is warmed"]),
    (FakeSSM("OFF"), False, ["'OFF'"]),
    (FakeSSM("0"), False, ["'0'"]),
    (FakeSSM("stop" * 100), False, ["not true or false", "..."]),
    (FakeSSM(error=DENIED), False, ["/thermostat/enabled", "could not be read (AccessDeniedException)"]),
    (FakeSSM(error=EndpointConnectionError(endpoint_url="https://ssm")), False, ["EndpointConnectionError"]),
])
def test_kill_switch_parameter_is_read_at_run_start(ssm: FakeSSM, enabled: bool, fragments: list[str]) -> None:
    # GIVEN a kill switch parameter with a value (or unreadable) WHEN the run starts
    settings = RunSettings(kill_switch_parameter="/thermostat/enabled")
    state = build_run_state({}, settings, NOW, "f", ssm=ssm)
    # THEN it was read once; off, unknown or unreadable -> disabled, with a short reason naming it
    assert ssm.calls == ["/thermostat/enabled"] and state["enabled"] is enabled
    assert ("reason" in state) is not enabled
    assert all(fragment in state.get("reason", "") for fragment in fragments)
    assert len(state.get("reason", "")) < 300


def test_no_kill_switch_parameter_means_the_stack_setting_alone() -> None:
    # GIVEN no parameter name (env var empty) WHEN the run starts THEN SSM is not called, warming is on
    ssm = FakeSSM("false")
    assert build_run_state({}, RunSettings.from_env({"THERMOSTAT_KILL_SWITCH_PARAMETER": " "}), NOW, "f",
                           ssm=ssm)["enabled"] is True
    assert ssm.calls == []
    assert RunSettings.from_env({"THERMOSTAT_KILL_SWITCH_PARAMETER": "/p"}).kill_switch_parameter == "/p"


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


DOCUMENTED_CAUSES = [
    ([], "$: the execution input must be a JSON object, got array"),
    ({"dryrun": True}, "dryrun: unknown field; did you mean 'dry_run'?"),
    ({"dry run": True}, "[\"dry run\"]: unknown field; did you mean 'dry_run'?"),
    ({"targets": ["a", "b", "bad name!"]},
     'targets[2]: "bad name!" is not a Lambda function name (1-64 of A-Z a-z 0-9 - _, optionally :QUALIFIER)'),
    ({"targets": [{"function": "a", "qualifier": "live\n"}]},
     'targets[0].qualifier: "live\\n" is not an alias or version (1-128 of A-Z a-z 0-9 - _, or $LATEST)'),
    ({"targets": [{"function": "a:live", "qualifier": "prod"}]},
     'targets[0].qualifier: "prod" contradicts the qualifier "live" in the function'),
    ({"targets": [{}]}, "targets[0].function: is required"),
    ({"targets": [{"function": LONG}]}, "targets[0].function: is 40000 characters long, at most 256"),
    ({"targets": [{"function": "a", "max": True}]}, "targets[0].max: must be an integer, got boolean true"),
    ({"targets": [{"function": "a", "max": 180}]}, "targets[0].max: must be <= 100 (the stack's MaxWarm), got 180"),
    ({"targets": [{"function": "a", "max": HUGE}]},
     "targets[0].max: integer out of range (more than 2**53 in magnitude)"),
    ({"quantile": 1.5}, "quantile: must be strictly between 0 and 1, got 1.5"),
    ({"quantile": float("nan")}, "quantile: must be a finite number, got NaN"),
    ({"horizon_minutes": 90}, "horizon_minutes: must be <= 60, got 90"),
]


def test_causes_in_the_docs_are_the_real_ones(load_event: Any) -> None:
    # GIVEN the causes docs/state-machine-io.md shows WHEN their inputs are validated with the template's
    # defaults (MaxWarm 100) THEN the causes match
    doc = (ROOT / "docs" / "state-machine-io.md").read_text()
    defaults = dataclasses.replace(SETTINGS, max_warm=100)
    for raw, cause in [*DOCUMENTED_CAUSES, (load_event("invalid-input.json"),
                                            "targets[0].min: must be <= max (2), got 5")]:
        with pytest.raises(InvalidInputError) as caught:
            parse_request(raw, defaults)
        assert str(caught.value) == cause
        assert f"\n{cause}\n" in doc, cause
