"""Contract: statemachine/warming.asl.json <-> template.yaml <-> thermostat.exceptions <-> thermostat.models."""

from __future__ import annotations

import re
import typing
from typing import Any

from contract_helpers import flatten_states, load_event

from thermostat import exceptions, models, validation
from thermostat.run_cost import TRANSITIONS_PER_RUN

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


def hints(model: str) -> dict[str, Any]:
    return typing.get_type_hints(getattr(models, model))


def required(model: str) -> set[str]:
    """Keys of a models TypedDict that are not NotRequired (annotations are strings: resolve them)."""
    extras = typing.get_type_hints(getattr(models, model), include_extras=True)
    return {key for key, hint in extras.items() if typing.get_origin(hint) is not typing.NotRequired}


def test_flow_follows_the_models(states):
    choice_fields = {"Enabled?": ("RunState", "enabled"), "Overlap?": ("CollectedState", "overlap"),
                     "Shortfall?": ("SummaryState", "topup_needed")}
    for name, (model, fieldname) in choice_fields.items():
        # THEN each Choice tests a required boolean field of the document the previous state returns
        variables = {rule["Variable"] for rule in states[name]["Choices"]}
        assert variables == {f"$.{fieldname}"}, name
        assert hints(model)[fieldname] is bool and fieldname in required(model), name
    # AND the Map iterates over the MapItems of both PlanState and SummaryState (the top-up round)
    warm = states["Warm"]
    assert warm["ItemsPath"] == "$.batches"
    for model in ("PlanState", "SummaryState"):
        assert hints(model)["batches"] == list[models.MapItem] and "batches" in required(model)
    assert warm["ResultPath"] == "$.warm_results" and "warm_results" in hints("PlanState")
    # AND Warm Batch receives the Map item itself
    assert warm["ItemSelector"] == {"batch.$": "$$.Map.Item.Value"}
    assert states["Warm Batch"]["Parameters"]["Payload.$"] == "$.batch"
    # AND the execution output is the Report's selection of SummaryState
    report = states[states["Shortfall?"]["Default"]]
    assert report.get("End") is True
    keys = {key.removesuffix(".$") for key in report["Parameters"]}
    assert keys == set(hints("ExecutionOutput")) and keys <= required("SummaryState")


def happy_path(asl: dict[str, Any]) -> list[str]:
    """State names of a run that warms: the first Choice rule never matches, Tasks go to Next."""
    path, name = [], asl["StartAt"]
    states = asl["States"]
    while True:
        path.append(name)
        state = states[name]
        if state.get("End") or state["Type"] in ("Succeed", "Fail"):
            return path
        name = state["Default"] if state["Type"] == "Choice" else state["Next"]


def test_a_run_costs_ten_transitions_plus_one_per_batch(asl):
    # GIVEN the states a normal run enters (the Map's Warm Batch iterations come on top, one per batch)
    path = happy_path(asl)
    assert path == ["Validate Input", "Enabled?", "Collect Metrics", "Overlap?", "Forecast", "Plan", "Warm",
                    "Summarize", "Shortfall?", "Report"]
    # THEN the cost model counts exactly those
    assert len(path) == TRANSITIONS_PER_RUN


def test_collect_forecast_and_plan_failures_degrade_instead_of_failing(states):
    # GIVEN the Catch of each workflow state
    routes = {"Collect Metrics": "Plan", "Forecast": "Plan", "Plan": "Summarize", "Warm": "Summarize"}
    for name, after in routes.items():
        (catch,) = states[name]["Catch"]
        # THEN every error (timeouts included) is kept next to the state's input ...
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] == "$.failure", name
        record = states[catch["Next"]]
        # ... and a Pass turns it into models.FailureInfo {state, error, cause}, then the run goes on
        assert record["Type"] == "Pass" and record["ResultPath"] == "$.failure" and record["Next"] == after, name
        assert {k.removesuffix(".$") for k in record["Parameters"]} == set(hints("FailureInfo")), name
        assert record["Parameters"]["state"] == name and record["Parameters"]["state"] in models.FAILED_STATES
        assert record["Parameters"]["error.$"] == "$.failure.Error"
        assert record["Parameters"]["cause.$"] == "$.failure.Cause"
    # AND only Validate Input and Summarize can fail the run
    failing = {name for name, state in states.items()
               if any(states[c["Next"]]["Type"] == "Fail" for c in state.get("Catch", []))}
    assert failing == {"Validate Input", "Summarize"}


def test_the_execution_times_out_before_the_next_schedule(asl, parameters):
    # GIVEN the state machine's own TimeoutSeconds and the shortest schedule period the template allows
    periods = [int(re.search(r"\d+", rate).group()) * (60 if "minute" in rate else 3600)  # type: ignore[union-attr]
               for rate in parameters["ScheduleRate"]["AllowedValues"]]
    # THEN a stuck run ends before the next one starts (and the lease outlives it only by a margin)
    assert asl["TimeoutSeconds"] == 240 < min(periods)
    from thermostat.collect import LEASE_TTL_MS
    assert asl["TimeoutSeconds"] * 1000 < LEASE_TTL_MS <= asl["TimeoutSeconds"] * 1000 + 60_000


def test_warm_batch_retries_throttles_and_catches_into_a_failed_batch_record(states):
    warm = states["Warm"]
    assert warm["ItemProcessor"]["ProcessorConfig"]["Mode"] == "INLINE"
    inner = flatten_states(warm["ItemProcessor"]["States"])
    batch = inner[warm["ItemProcessor"]["StartAt"]]
    throttle = next(r for r in batch["Retry"] if r["ErrorEquals"] == ["TargetThrottledError"])
    assert throttle["BackoffRate"] == 2 and throttle["JitterStrategy"] == "FULL" and "MaxDelaySeconds" in throttle
    # THEN the Catch builds exactly the FailedBatch record of models.py around the Map item
    catch = batch["Catch"][0]
    failed = inner[catch["Next"]]
    assert failed["Type"] == "Pass" and failed.get("End") is True
    record = {key.removesuffix(".$") for key in failed["Parameters"]}
    assert record == required("FailedBatch")
    assert failed["Parameters"]["failed"] is True
    assert failed["Parameters"]["batch.$"] == "$.batch"
    assert failed["Parameters"]["error.$"] == f"{catch['ResultPath']}.Error"


def test_max_concurrency_comes_from_plan_then_from_the_parameter_as_a_number(states):
    # GIVEN the field MaxConcurrencyPath reads
    field = states["Warm"]["MaxConcurrencyPath"]
    assert field == "$.warm_settings.max_concurrency"
    # THEN Plan's output carries it (models.PlanState.warm_settings, from THERMOSTAT_MAP_MAX_CONCURRENCY) ...
    assert hints("PlanState")["warm_settings"] is models.WarmSettings and "warm_settings" in required("PlanState")
    # ... and the top-up round's Pass writes it from the substitution (a substituted number would be a string)
    prepare = states[states["Shortfall?"]["Choices"][0]["Next"]]
    assert prepare["Type"] == "Pass" and prepare["Next"] == "Warm"
    assert prepare["ResultPath"] + "." + next(iter(prepare["Parameters"])).removesuffix(".$") == field
    assert prepare["Parameters"] == {"max_concurrency.$": "States.StringToJson('${MapMaxConcurrency}')"}


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


def keys_match(doc: dict[str, Any], model: str, where: str) -> None:
    allowed = set(hints(model))
    assert required(model) <= set(doc) <= allowed, f"{where}: {set(doc) ^ allowed}"


def test_sample_events_are_the_documents_of_the_models():
    # GIVEN the sample input of each of my states (the tests load the same files)
    collect = load_event("collect-metrics.json")
    keys_match(collect, "RunState", "collect-metrics.json")
    for target in collect["request"]["targets"]:
        keys_match(target, "TargetSpec", "collect-metrics.json targets[]")
    forecast = load_event("forecast.json")
    keys_match(forecast, "CollectedState", "forecast.json")
    keys_match(forecast["account"], "AccountView", "forecast.json account")
    keys_match(forecast["collected"], "CollectStats", "forecast.json collected")
    keys_match(forecast["lease"], "LeaseDoc", "forecast.json lease")
    assert isinstance(forecast["request"]["targets"], int)
    for target in forecast["targets"]["inline"]:
        keys_match(target, "TargetPlanInput", "forecast.json targets")
    plan = load_event("plan.json")
    keys_match(plan, "ForecastedState", "plan.json")
    # THEN Forecast's output is Collect's plus the forecast envelope, with one decision per readable target
    assert {k: v for k, v in plan.items() if k != "forecast"} == forecast
    doc = plan["forecast"]["inline"]
    keys_match(doc, "ForecastDoc", "plan.json forecast")
    for decision in doc["targets"]:
        keys_match(decision, "ForecastTarget", "plan.json forecast.targets")
    readable = [t["key"] for t in forecast["targets"]["inline"] if "error" not in t]
    assert [d["key"] for d in doc["targets"]] == readable
    # AND a Map item (Warm Batch's sample input) is a MapItem around a WarmBatch of PingGroups
    item = load_event("warm-batch.json")
    keys_match(item, "MapItem", "warm-batch.json")
    keys_match(item["doc"]["inline"], "WarmBatch", "warm-batch.json doc")
    for group in item["doc"]["inline"]["pings"]:
        keys_match(group, "PingGroup", "warm-batch.json pings")
