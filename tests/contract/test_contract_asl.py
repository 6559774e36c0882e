"""Contract: statemachine/warming.asl.json <-> template.yaml <-> thermostat.exceptions <-> thermostat.models."""

from __future__ import annotations

import re
import typing
from typing import Any

from contract_helpers import flatten_states, load_event

from thermostat import exceptions, models, validation

LAMBDA_TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def words(logical_id: str) -> list[str]:
    return re.findall(r"[A-Z][a-z0-9]*", logical_id)


def tasks(states: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in states.items() if state["Type"] == "Task"}


def all_strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in [key, *all_strings(value)]]
    if isinstance(node, list):
        return [s for item in node for s in all_strings(item)]
    return []


def test_substitutions_match_the_definition_both_ways(asl_text, state_machine):
    # GIVEN the ${...} placeholders of the ASL and the template's DefinitionSubstitutions
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", asl_text))
    declared = set(state_machine["DefinitionSubstitutions"])
    # THEN every placeholder is substituted and every substitution is used
    assert used - declared == set(), "placeholders without a DefinitionSubstitution"
    assert declared - used == set(), "DefinitionSubstitutions the ASL never uses"
    # AND the template reads the real file
    assert state_machine["DefinitionUri"] == "statemachine/warming.asl.json"


def test_names_line_up_state_function_folder_substitution(states, resources, state_machine, workflow_functions):
    # GIVEN each ${XFunctionArn} substitution
    by_function = {
        state["Parameters"]["FunctionName"]: name for name, state in tasks(states).items()
    }
    for logical_id, substitution in workflow_functions.items():
        stem = logical_id.removesuffix("Function")
        function = resources[logical_id]
        # THEN it points at XFunction's ARN, a function whose code is functions/x/ ...
        assert function["Type"] == "AWS::Serverless::Function"
        assert state_machine["DefinitionSubstitutions"][substitution] == {"Fn::GetAtt": [logical_id, "Arn"]}
        folder = "_".join(w.lower() for w in words(stem))
        assert function["Properties"]["CodeUri"].rstrip("/") == f"functions/{folder}"
        # ... and exactly one Task state, named "X" in Title Case words, invokes it
        assert by_function.get(f"${{{substitution}}}") == " ".join(words(stem))


def test_every_task_invokes_lambda_with_retry_and_catch(states):
    found = tasks(states)
    assert found, "no Task states"
    for name, state in found.items():
        # THEN each Task is a lambda:invoke whose output is the handler's return value
        assert state["Resource"] == "arn:aws:states:::lambda:invoke", name
        assert state["OutputPath"] == "$.Payload", name
        # AND it retries Lambda's transient errors with capped, fully jittered exponential backoff
        retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        assert retried >= LAMBDA_TRANSIENT, name
        for retrier in state["Retry"]:
            assert retrier["BackoffRate"] >= 1.5, name
            assert retrier["MaxDelaySeconds"] >= retrier.get("IntervalSeconds", 1), name
            assert retrier["JitterStrategy"] == "FULL", name
        # AND whatever still fails is caught
        assert any("States.ALL" in c["ErrorEquals"] for c in state["Catch"]), name


def test_task_timeouts_exceed_the_function_timeouts(states, resources, globals_function, state_machine):
    # GIVEN each Task's TimeoutSeconds and its function's Timeout
    by_substitution = {f"${{{k}}}": v for k, v in state_machine["DefinitionSubstitutions"].items()}
    for name, state in tasks(states).items():
        logical_id = by_substitution[state["Parameters"]["FunctionName"]]["Fn::GetAtt"][0]
        timeout = resources[logical_id]["Properties"].get("Timeout", globals_function["Timeout"])
        # THEN Step Functions never gives up before Lambda does (the Lambda error is the better message)
        assert state["TimeoutSeconds"] > timeout, name


def test_custom_error_names_are_exception_classes(states):
    # GIVEN every error name the ASL matches or raises
    names = set()
    for state in states.values():
        for block in state.get("Retry", []) + state.get("Catch", []):
            names.update(block["ErrorEquals"])
        if state["Type"] == "Fail" and "Error" in state:
            names.add(state["Error"])
    custom = {n for n in names if not n.startswith(("States.", "Lambda."))}
    assert {"InvalidInputError", "TargetThrottledError"} <= custom
    # THEN each one is a class of thermostat.exceptions (the Lambda error type is the class name)
    for name in custom:
        cls = getattr(exceptions, name, None)
        assert isinstance(cls, type) and issubclass(cls, exceptions.ThermostatError), name


def test_bad_input_ends_in_a_named_fail_state_with_the_field_path(states):
    validate = states["Validate Input"]
    catch = next(c for c in validate["Catch"] if c["ErrorEquals"] == ["InvalidInputError"])
    explain = states[catch["Next"]]
    fail = states[explain["Next"]]
    # THEN the Fail state's error is InvalidInputError and its cause is the Lambda's errorMessage
    assert fail["Type"] == "Fail"
    assert fail["Error"] == "InvalidInputError"
    assert explain["Parameters"]["detail.$"] == "States.StringToJson($.Cause)"
    assert fail["CausePath"] == "$.detail.errorMessage"
    # AND the message format is "field.path: problem"
    assert str(exceptions.InvalidInputError("targets[0].min", "must be <= max")) == "targets[0].min: must be <= max"


def test_validate_input_payload_matches_its_sample_event(states):

    payload = states["Validate Input"]["Parameters"]["Payload"]
    assert payload == {
        "input.$": "$",
        "execution.$": "$$.Execution.Id",
        "name.$": "$$.Execution.Name",
        "started_at.$": "$$.Execution.StartTime",
    }
    sent = {key.removesuffix(".$") for key in payload}
    # THEN events/validate-input.json is what the state sends, and the handler unwraps exactly those keys
    assert set(load_event("validate-input.json")) == sent
    assert set(validation.WRAPPER_KEYS) == sent


def test_flow_follows_the_models(states):
    hints = {name: typing.get_type_hints(getattr(models, name)) for name in ("RunState", "PlanState", "ReportState")}
    choice_fields = {
        "Enabled?": ("RunState", "enabled"),
        "Anything To Warm?": ("PlanState", "warm_needed"),
        "Shortfall?": ("ReportState", "topup_needed"),
    }
    for name, (model, fieldname) in choice_fields.items():
        # THEN each Choice tests a boolean field of the document the previous state returns
        variables = {rule["Variable"] for rule in states[name]["Choices"]}
        assert variables == {f"$.{fieldname}"}, name
        assert hints[model][fieldname] is bool, name
    warm = states["Warm"]
    # AND the Map iterates over the batches of both PlanState and ReportState (the top-up round)
    assert warm["ItemsPath"] == "$.batches"
    assert "batches" in hints["PlanState"] and "batches" in hints["ReportState"]
    assert warm["ResultPath"] == "$.warm_results" and "warm_results" in hints["PlanState"]
    assert states["Shortfall?"]["Choices"][0]["Next"] == states["Anything To Warm?"]["Default"]
    # AND the final state outputs the report's {run, targets, totals, summary}
    report = states[states["Shortfall?"]["Default"]]
    assert report.get("End") is True
    keys = {key.removesuffix(".$") for key in report["Parameters"]}
    assert keys == {"run", "targets", "totals", "summary"} and keys <= set(hints["ReportState"])


def test_warm_batch_retries_throttles_and_catches_into_a_failed_batch_record(states):
    warm = states["Warm"]
    assert warm["ItemProcessor"]["ProcessorConfig"]["Mode"] == "INLINE"
    assert warm["MaxConcurrencyPath"].startswith("$.")
    inner = flatten_states(warm["ItemProcessor"]["States"])
    batch = inner[warm["ItemProcessor"]["StartAt"]]
    throttle = next(r for r in batch["Retry"] if r["ErrorEquals"] == ["TargetThrottledError"])
    assert throttle["BackoffRate"] == 2 and throttle["JitterStrategy"] == "FULL" and "MaxDelaySeconds" in throttle
    # THEN the Catch builds exactly the FailedBatch record of models.py around the batch item
    assert warm["ItemSelector"] == {"batch.$": "$$.Map.Item.Value"}
    assert batch["Parameters"]["Payload.$"] == "$.batch"
    catch = batch["Catch"][0]
    failed = inner[catch["Next"]]
    assert failed["Type"] == "Pass" and failed.get("End") is True
    record = {key.removesuffix(".$") for key in failed["Parameters"]}
    assert record == set(typing.get_type_hints(models.FailedBatch))
    assert failed["Parameters"]["failed"] is True
    assert failed["Parameters"]["batch.$"] == "$.batch"
    assert failed["Parameters"]["error.$"] == f"{catch['ResultPath']}.Error"


def test_max_concurrency_comes_from_the_parameter_as_a_number(states):
    # GIVEN the Pass state that feeds MaxConcurrencyPath (a substituted "MaxConcurrency" would be a string)
    prepare = states[states["Anything To Warm?"]["Default"]]
    assert prepare["Type"] == "Pass" and prepare["Next"] == "Warm"
    field = prepare["ResultPath"] + "." + next(iter(prepare["Parameters"])).removesuffix(".$")
    assert states["Warm"]["MaxConcurrencyPath"] == field
    assert "States.StringToJson('${MapMaxConcurrency}')" in prepare["Parameters"].values()


def test_definition_stays_in_the_subset_moto_runs_like_aws(asl):
    strings = all_strings(asl)
    # THEN no JSONata, no ItemBatcher, no [n].field paths, no &&/|| filters (local-aws-facts.md)
    assert asl.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert not any("{%" in s for s in strings)
    assert "ItemBatcher" not in strings
    assert not any(re.search(r"\[\d+\]\.", s) for s in strings if s.startswith("$"))
    assert not any("&&" in s or "||" in s for s in strings)
    # AND every Map is INLINE (a Distributed Map whose child fails SUCCEEDS on moto)
    for state in flatten_states(asl["States"]).values():
        if state["Type"] == "Map":
            assert state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "INLINE"


def test_every_state_is_reachable_and_every_next_exists(asl):
    def walk(block: dict[str, Any]) -> None:
        names = set(block["States"])
        seen, todo = set(), [block["StartAt"]]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            state = block["States"][name]
            nexts = [state.get("Next"), state.get("Default")]
            nexts += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
            for target in filter(None, nexts):
                assert target in names, f"{name} -> {target}"
                todo.append(target)
            if "ItemProcessor" in state:
                walk(state["ItemProcessor"])
        assert seen == names, f"unreachable: {names - seen}"

    walk(asl)
