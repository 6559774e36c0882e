"""Experiment: the ASL features this definition relies on behave as documented on moto's interpreter.

Not the end-to-end tests (tests/e2e_local runs the real handlers): every Lambda here is a stub returning a
canned document, so each test isolates one path of the definition — bad input's Fail cause, the kill
switch, the overlap stop, the degrade paths (Collect/Forecast failure or timeout -> Plan, Plan failure ->
Summarize), an empty Map, the FailedBatch record and the single top-up loop, the transitions of a run.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from contract_helpers import ASL
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from thermostat.exceptions import InvalidInputError, MetricsUnavailableError
from thermostat.run_cost import TRANSITIONS_PER_RUN

FUNCTIONS = ("ValidateInput", "CollectMetrics", "Forecast", "Plan", "WarmBatch", "Summarize")
Behaviour = Callable[[dict[str, Any]], Any]
Runner = Callable[..., dict[str, Any]]


class StubLambdas:
    """Routes moto's simple-Lambda invokes to per-function Python callables (an exception = a function error)."""

    def __init__(self) -> None:
        self.behaviour: dict[str, Behaviour] = {}
        self.calls: dict[str, list[dict[str, Any]]] = {name: [] for name in FUNCTIONS}
        self.lock = threading.Lock()

    def invoke(self, _backend: Any, function_name: str, _qualifier: Any, body: Any, _headers: Any,
               response_headers: dict[str, str]) -> bytes:
        name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name
        event = json.loads(body)
        with self.lock:
            self.calls[name].append(event)
        try:
            return json.dumps(self.behaviour[name](event)).encode()
        except Exception as exc:  # what the Lambda runtime reports for an unhandled exception
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__,
                               "requestId": "stub", "stackTrace": []}).encode()


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[Runner, StubLambdas]]:
    """The real definition (substituted) on moto, once per module; the stubs are reset for each test."""
    stubs = StubLambdas()
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with pytest.MonkeyPatch.context() as patch, mock_aws(config=config):  # type: ignore[arg-type]
        patch.setattr(LambdaSimpleBackend, "invoke", lambda self, *a: stubs.invoke(self, *a))
        region = "us-east-1"
        role = boto3.client("iam", region_name=region).create_role(
            RoleName="thermostat-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "def handler(event, context):\n    return event\n")
        lam = boto3.client("lambda", region_name=region)
        substitutions = {"MapMaxConcurrency": "2"}
        for name in FUNCTIONS:
            created = lam.create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
                                          Code={"ZipFile": code.getvalue()})
            substitutions[f"{name}FunctionArn"] = created["FunctionArn"]
        definition = re.sub(r"\$\{(\w+)\}", lambda m: substitutions[m.group(1)], ASL.read_text(encoding="utf-8"))
        sfn = boto3.client("stepfunctions", region_name=region)
        machines: dict[str, str] = {}

        def machine_arn(variant: str) -> str:
            if variant not in machines:
                text = definition
                if variant == "fast-timeouts":  # Collect and Forecast time out after 1 s
                    doc = json.loads(text)
                    for state in ("Collect Metrics", "Forecast"):
                        doc["States"][state]["TimeoutSeconds"] = 1
                    text = json.dumps(doc)
                machines[variant] = sfn.create_state_machine(name=f"warming-{variant}", definition=text,
                                                             roleArn=role)["stateMachineArn"]
            return machines[variant]

        counter = iter(range(1000))

        def run(execution_input: dict[str, Any], variant: str = "real") -> dict[str, Any]:
            execution = sfn.start_execution(stateMachineArn=machine_arn(variant), name=f"run-{next(counter)}",
                                            input=json.dumps(execution_input))["executionArn"]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                described = sfn.describe_execution(executionArn=execution)
                if described["status"] != "RUNNING":
                    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
                    described["entered"] = [e["stateEnteredEventDetails"]["name"] for e in events
                                            if "stateEnteredEventDetails" in e]
                    return described
                time.sleep(0.02)
            sfn.stop_execution(executionArn=execution)
            raise AssertionError("execution still RUNNING after 30 s")

        yield run, stubs


@pytest.fixture
def machine(deployed: tuple[Runner, StubLambdas]) -> tuple[Runner, StubLambdas]:
    run, stubs = deployed
    stubs.behaviour.clear()
    for calls in stubs.calls.values():
        calls.clear()
    return run, stubs


def valid_run(event: dict[str, Any]) -> dict[str, Any]:
    return {"run": {"id": event["execution"], "name": event["name"], "started_at_ms": 0, "round": 0},
            "request": {"targets": [], "discover": True, "quantile": 0.95, "horizon_minutes": 5, "dry_run": False},
            "enabled": True}


def collected(state: dict[str, Any], overlap: bool = False) -> dict[str, Any]:
    return {"run": state["run"], "request": {**state["request"], "targets": 0}, "lease": None, "overlap": overlap,
            "targets": {"inline": []}, "account": {}, "collected": {}, "degraded": [], "warnings": []}


def planned(state: dict[str, Any], batches: int, max_concurrency: int = 2) -> dict[str, Any]:
    return {"run": state["run"], "request": state["request"], "lease": None, "overlap": False,
            "plan": {"inline": []}, "batches": [{"batch": i, "doc": {"inline": {"batch": i}}} for i in range(batches)],
            "warm_settings": {"max_concurrency": max_concurrency}, "warm_needed": batches > 0, "release_at_ms": 0,
            "degraded": [], "warnings": []}


def summary(state: dict[str, Any], topup: bool = False, text: str = "done") -> dict[str, Any]:
    return {"run": state["run"], "status": "ok", "degraded": [], "totals": {"requested": 0}, "targets": [],
            "targets_total": 0, "report_key": None, "summary": text, "topup_needed": topup,
            "batches": [{"batch": 9, "doc": {"inline": {"batch": 9}}}] if topup else []}


def happy(stubs: StubLambdas, batches: int = 3) -> None:
    stubs.behaviour.update({
        "ValidateInput": valid_run, "CollectMetrics": collected, "Forecast": lambda s: {**s, "forecast": {}},
        "Plan": lambda s: planned(s, batches), "WarmBatch": lambda item: {"batch": item["batch"], "round": 0},
        "Summarize": summary})


def test_bad_input_fails_with_the_named_error_and_the_field_path(machine):
    run, stubs = machine

    def reject(event: dict[str, Any]) -> Any:
        raise InvalidInputError("targets[0].min", "5 is greater than max 2")

    stubs.behaviour["ValidateInput"] = reject
    # WHEN the execution runs
    result = run({"targets": [{"function": "a", "min": 5, "max": 2}]})
    # THEN it fails with InvalidInputError and a cause that is just "field.path: problem"
    assert (result["status"], result["error"]) == ("FAILED", "InvalidInputError")
    assert result["cause"] == "targets[0].min: 5 is greater than max 2"
    assert stubs.calls["CollectMetrics"] == []


def test_kill_switch_succeeds_without_collecting(machine):
    run, stubs = machine
    stubs.behaviour["ValidateInput"] = lambda event: {**valid_run(event), "enabled": False}
    result = run({})
    assert result["status"] == "SUCCEEDED"
    assert stubs.calls["CollectMetrics"] == []


def test_the_success_path_takes_ten_transitions_plus_one_per_batch(machine):
    run, stubs = machine
    # GIVEN every function answering, Plan packing 3 batches
    happy(stubs, batches=3)
    result = run({})
    # THEN the run succeeds with the Report's selection of Summarize's output
    assert result["status"] == "SUCCEEDED"
    assert set(json.loads(result["output"])) == {"run", "status", "degraded", "totals", "targets", "targets_total",
                                                 "report_key", "summary"}
    # AND it entered 10 states + one Warm Batch per batch (thermostat.run_cost's count)
    assert len(result["entered"]) == TRANSITIONS_PER_RUN + 3, result["entered"]
    # AND each Warm Batch received its Map item {batch, doc}
    assert sorted(call["batch"] for call in stubs.calls["WarmBatch"]) == [0, 1, 2]
    assert all(set(call) == {"batch", "doc"} for call in stubs.calls["WarmBatch"])


def test_an_empty_batch_list_runs_no_iteration(machine):
    run, stubs = machine
    happy(stubs, batches=0)
    result = run({})
    assert result["status"] == "SUCCEEDED"
    assert stubs.calls["WarmBatch"] == []
    assert stubs.calls["Summarize"][0]["warm_results"] == []
    assert len(result["entered"]) == TRANSITIONS_PER_RUN


def test_overlap_stops_after_collect_without_forecasting_and_summarize_reports_it(machine):
    run, stubs = machine
    happy(stubs)
    stubs.behaviour["CollectMetrics"] = lambda s: collected(s, overlap=True)
    result = run({})
    # THEN the run succeeds through "Another Run Active": nothing was forecast, planned or pinged, and
    # Summarize got the overlap (it reports it and leaves the other run's lease alone)
    assert result["status"] == "SUCCEEDED"
    assert "Another Run Active" in result["entered"]
    assert stubs.calls["Forecast"] == [] and stubs.calls["Plan"] == [] and stubs.calls["WarmBatch"] == []
    assert [call["overlap"] for call in stubs.calls["Summarize"]] == [True]


@pytest.mark.parametrize("failing", ["CollectMetrics", "Forecast"])
def test_collect_or_forecast_failure_plans_from_the_store_instead(machine, failing):
    run, stubs = machine
    happy(stubs)

    def unavailable(state: dict[str, Any]) -> Any:
        raise MetricsUnavailableError("CloudWatch could not be read")

    stubs.behaviour[failing] = unavailable
    result = run({})
    # THEN the run still succeeds
    assert result["status"] == "SUCCEEDED"
    # AND Plan received the failed state's input plus {failure: {state, error, cause}}
    (plan_input,) = stubs.calls["Plan"]
    failure = plan_input["failure"]
    assert failure["state"] == {"CollectMetrics": "Collect Metrics", "Forecast": "Forecast"}[failing]
    assert failure["error"] == "MetricsUnavailableError"
    assert json.loads(failure["cause"])["errorMessage"] == "CloudWatch could not be read"
    assert plan_input["run"]["id"].startswith("arn:aws:states")
    if failing == "CollectMetrics":
        assert stubs.calls["Forecast"] == [] and "targets" not in plan_input
    else:
        assert plan_input["targets"] == {"inline": []}  # Collect's output is still there
    # AND the batches were warmed and summarized as usual
    assert len(stubs.calls["WarmBatch"]) == 3 and len(stubs.calls["Summarize"]) == 1


def test_a_timed_out_collect_degrades_too(machine):
    run, stubs = machine
    happy(stubs)

    def slow(state: dict[str, Any]) -> Any:
        time.sleep(2.5)
        return collected(state)

    stubs.behaviour["CollectMetrics"] = slow
    # WHEN Collect Metrics takes longer than its TimeoutSeconds (1 s in this variant)
    result = run({}, variant="fast-timeouts")
    # THEN the Catch records States.Timeout and Plan runs in fallback mode
    assert result["status"] == "SUCCEEDED"
    (plan_input,) = stubs.calls["Plan"]
    assert plan_input["failure"]["state"] == "Collect Metrics"
    assert plan_input["failure"]["error"] == "States.Timeout"
    assert isinstance(plan_input["failure"]["cause"], str)


def test_plan_failure_summarizes_without_warming(machine):
    run, stubs = machine
    happy(stubs)

    def broken(state: dict[str, Any]) -> Any:
        raise ValueError("bug")

    stubs.behaviour["Plan"] = broken
    result = run({})
    assert result["status"] == "SUCCEEDED"
    assert stubs.calls["WarmBatch"] == []
    (summarize_input,) = stubs.calls["Summarize"]
    assert summarize_input["failure"]["state"] == "Plan" and summarize_input["failure"]["error"] == "ValueError"
    assert "forecast" in summarize_input  # Plan's input is kept for the report


def test_a_summarize_failure_fails_the_run_with_its_own_error_name(machine):
    run, stubs = machine
    happy(stubs)

    def broken(state: dict[str, Any]) -> Any:
        raise MetricsUnavailableError("no")

    stubs.behaviour["Summarize"] = broken
    result = run({})
    assert (result["status"], result["error"]) == ("FAILED", "MetricsUnavailableError")


def test_failed_batch_becomes_a_record_and_the_top_up_loops_once(machine):
    run, stubs = machine
    in_flight, peak, lock = [0], [0], threading.Lock()

    def warm(item: dict[str, Any]) -> Any:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.05)  # long enough for iterations to overlap when the Map allows it
        with lock:
            in_flight[0] -= 1
        if item["batch"] == 1:
            raise ValueError("boom")
        return {"batch": item["batch"], "round": 0}

    def summarize(state: dict[str, Any]) -> dict[str, Any]:
        first = len(stubs.calls["Summarize"]) == 1
        return summary(state, topup=first, text="round 0" if first else "round 1")

    happy(stubs, batches=6)
    stubs.behaviour.update({"WarmBatch": warm, "Summarize": summarize})
    # WHEN a run plans 6 batches, batch 1 fails and Summarize asks for one top-up
    result = run({})
    # THEN the run succeeds with the report of the last Summarize
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["summary"] == "round 1"
    # AND Summarize saw the failed batch as a FailedBatch record around its Map item, the others as results
    first = stubs.calls["Summarize"][0]["warm_results"]
    assert [r["batch"]["batch"] if r.get("failed") else r["batch"] for r in first] == list(range(6))
    failed = first[1]
    assert failed["failed"] is True and failed["batch"] == {"batch": 1, "doc": {"inline": {"batch": 1}}}
    assert failed["error"] == "ValueError" and "boom" in failed["cause"]
    # AND the top-up round warmed only the top-up batch, once, with MapMaxConcurrency from the substitution
    second = stubs.calls["Summarize"][1]
    assert second["warm_results"] == [{"batch": 9, "round": 0}]
    assert second["warm_settings"] == {"max_concurrency": 2}
    assert len(stubs.calls["Summarize"]) == 2
    # AND Plan's max_concurrency (2) bounded the iterations running at once
    assert peak[0] == 2
