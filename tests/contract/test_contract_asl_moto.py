"""Experiment: the ASL features this definition relies on behave as documented on moto's interpreter.

Not the end-to-end tests (tests/e2e_local runs the real handlers): here every Lambda is a stub that returns a
canned document, so each test isolates one feature of the definition — the Fail cause of bad input
(States.StringToJson + CausePath), ErrorPath/CausePath of a whole-function failure, the Map's ItemSelector and
Catch -> FailedBatch record, MaxConcurrencyPath fed from a substitution, and the single top-up loop.
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

FUNCTIONS = ("ValidateInput", "CollectMetrics", "Forecast", "Plan", "WarmBatch", "Summarize")
Behaviour = Callable[[dict[str, Any]], Any]


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


Runner = Callable[[dict[str, Any]], dict[str, Any]]


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
        arn = sfn.create_state_machine(name="warming", definition=definition, roleArn=role)["stateMachineArn"]
        counter = iter(range(1000))

        def run(execution_input: dict[str, Any]) -> dict[str, Any]:
            execution = sfn.start_execution(stateMachineArn=arn, name=f"run-{next(counter)}",
                                            input=json.dumps(execution_input))["executionArn"]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                described = sfn.describe_execution(executionArn=execution)
                if described["status"] != "RUNNING":
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


def test_bad_input_fails_with_the_named_error_and_the_field_path(machine):
    run, stubs = machine
    # GIVEN a Validate Input that rejects the input as the real one does
    def reject(event: dict[str, Any]) -> Any:
        raise InvalidInputError("targets[0].min", "5 is greater than max 2")

    stubs.behaviour["ValidateInput"] = reject
    # WHEN the execution runs
    result = run({"targets": [{"function": "a", "min": 5, "max": 2}]})
    # THEN it fails with InvalidInputError and a cause that is just "field.path: problem"
    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidInputError"
    assert result["cause"] == "targets[0].min: 5 is greater than max 2"
    assert stubs.calls["CollectMetrics"] == []


def test_a_whole_function_failure_fails_the_run_with_its_own_error_name(machine):
    run, stubs = machine
    stubs.behaviour["ValidateInput"] = valid_run

    def unavailable(event: dict[str, Any]) -> Any:
        raise MetricsUnavailableError("CloudWatch could not be read for any target")

    stubs.behaviour["CollectMetrics"] = unavailable
    result = run({})
    assert result["status"] == "FAILED"
    assert result["error"] == "MetricsUnavailableError"
    assert json.loads(result["cause"])["errorMessage"] == "CloudWatch could not be read for any target"


def test_kill_switch_succeeds_without_collecting(machine):
    run, stubs = machine
    stubs.behaviour["ValidateInput"] = lambda event: {**valid_run(event), "enabled": False}
    result = run({})
    assert result["status"] == "SUCCEEDED"
    assert stubs.calls["CollectMetrics"] == []


def test_failed_batch_becomes_a_record_and_the_top_up_loops_once(machine):
    run, stubs = machine
    in_flight, peak, lock = [0], [0], threading.Lock()

    def warm(batch: dict[str, Any]) -> Any:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.05)  # long enough for iterations to overlap when the Map allows it
        with lock:
            in_flight[0] -= 1
        if batch["batch"] == 1:
            raise ValueError("boom")
        return {"batch": batch["batch"], "round": batch["round"], "results": []}

    def summarize(state: dict[str, Any]) -> dict[str, Any]:
        first = len(stubs.calls["Summarize"]) == 1
        run_info = {**state["run"], "round": 1}
        return {"run": run_info, "request": state["request"], "targets": [], "totals": {"requested": 6},
                "batches": [{"batch": 9, "round": 1}] if first else [], "topup_needed": first,
                "summary": "round 0" if first else "round 1"}

    stubs.behaviour.update({
        "ValidateInput": valid_run,
        "CollectMetrics": lambda state: {**state, "account": {}, "targets": []},
        "Forecast": lambda state: state,
        "Plan": lambda state: {"run": state["run"], "request": state["request"], "plan": [], "release_at_ms": 0,
                               "batches": [{"batch": i, "round": 0} for i in range(6)], "warm_needed": True},
        "WarmBatch": warm,
        "Summarize": summarize,
    })
    # WHEN a run plans 6 batches, batch 1 fails and Summarize asks for one top-up
    result = run({})
    # THEN the run succeeds with the report of the last Summarize
    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output == {"run": output["run"], "targets": [], "totals": {"requested": 6}, "summary": "round 1"}
    # AND Summarize saw the failed batch as a FailedBatch record, the others as results, in batch order
    first = stubs.calls["Summarize"][0]["warm_results"]
    assert [r.get("batch") if not r.get("failed") else r["batch"]["batch"] for r in first] == list(range(6))
    failed = first[1]
    assert failed["failed"] is True and failed["batch"] == {"batch": 1, "round": 0}
    assert failed["error"] == "ValueError" and "boom" in failed["cause"]
    # AND the top-up round warmed only the top-up batches, once
    assert stubs.calls["Summarize"][1]["warm_results"] == [{"batch": 9, "round": 1, "results": []}]
    assert len(stubs.calls["Summarize"]) == 2
    # AND MapMaxConcurrency (2) bounded the iterations running at once
    assert peak[0] == 2
