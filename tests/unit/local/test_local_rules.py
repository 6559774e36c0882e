"""The WarmOnDeploy rules of the real template.yaml on the embedded AWS: what they match, the input their
transformers build from CloudTrail-shaped events (checked against moto's own transformer), and a code update
retiring the old environments in the local runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.utils import EventTemplateParser

from thermostat.local.clock import ManualClock
from thermostat.local.rules import camel, cloudtrail_event, matches, transform
from thermostat.local.runtime import LocalLambdaRuntime
from thermostat.local.template import load_template
from thermostat.validation import function_name, parse_request

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
ACCOUNT, REGION = "123456789012", "us-east-1"
FN_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-api"


@pytest.fixture(scope="module")
def rules() -> dict[str, Any]:
    stack = load_template(TEMPLATE, parameters={"WarmOnDeploy": "true"})
    return {rule.name: rule for rule in stack.rules.values()}


def event(name: str, request: dict[str, Any], response: dict[str, Any], **detail: Any) -> dict[str, Any]:
    built = cloudtrail_event(name, request, response, region=REGION, account_id=ACCOUNT)
    built["detail"].update(detail)
    return built


CODE = event("UpdateFunctionCode20150331v2", {"functionName": "orders-api", "publish": False},
             {"functionName": "orders-api", "functionArn": FN_ARN, "version": "$LATEST", "runtime": "python3.13"})
VERSION = event("PublishVersion20150331", {"functionName": FN_ARN},
                {"functionName": "orders-api", "functionArn": f"{FN_ARN}:7", "version": "7"})
ALIAS = event("UpdateAlias20150331", {"functionName": "orders-api", "name": "live", "functionVersion": "7"},
              {"aliasArn": f"{FN_ARN}:live", "name": "live", "functionVersion": "7"})


def test_the_rules_exist_only_with_warm_on_deploy(rules: dict[str, Any]) -> None:
    assert set(rules) == {"thermostat-warm-on-code-deploy", "thermostat-warm-on-alias-deploy"}
    assert load_template(TEMPLATE).rules == {}
    for rule in rules.values():
        [target] = rule.targets
        assert target["Arn"].endswith(":stateMachine:thermostat-warming") and ":role/" in target["RoleArn"]


@pytest.mark.parametrize(("sample", "rule", "expected"), [
    (CODE, "thermostat-warm-on-code-deploy", [{"function": "orders-api", "qualifier": "$LATEST"}]),
    (VERSION, "thermostat-warm-on-code-deploy", [{"function": "orders-api", "qualifier": "7"}]),
    (ALIAS, "thermostat-warm-on-alias-deploy", [{"function": f"{FN_ARN}:live"}]),
])
def test_each_deploy_event_starts_a_run_for_exactly_what_changed(rules: dict[str, Any], sample: dict[str, Any],
                                                                 rule: str, expected: list[dict[str, Any]]) -> None:
    # GIVEN a CloudTrail-shaped event of a Lambda deploy call WHEN the rules see it
    matched = [name for name, r in rules.items() if matches(json.dumps(r.event_pattern), sample)]
    # THEN exactly one rule matches, and its transformer builds a deploy input for that function and qualifier
    assert matched == [rule]
    [target] = rules[rule].targets
    built = json.loads(transform(target, sample))
    assert built == {"targets": expected, "discover": False, "trigger": "deploy"}
    # AND moto's implementation of EventBridge's transformer builds the same input
    transformer = target["InputTransformer"]
    assert EventTemplateParser.parse(transformer["InputTemplate"], transformer["InputPathsMap"],
                                     {**sample, "ingestion-time": 0}) == built  # type: ignore[arg-type]
    # AND the state machine accepts it: one target, the qualifier the deploy changed
    [spec] = parse_request(built, None)["targets"]
    assert function_name(spec["function"]) == "orders-api"
    assert spec["qualifier"] == {"$LATEST": None, "7": "7"}.get(expected[0].get("qualifier"), "live")


@pytest.mark.parametrize("sample", [
    event("UpdateFunctionCode20150331v2", {"functionName": "x"}, {}, errorCode="AccessDenied"),  # failed call
    event("UpdateFunctionConfiguration20150331v2", {"functionName": "x"}, {"functionName": "x"}),
    event("CreateAlias20150331", {"functionName": "x"}, {"aliasArn": f"{FN_ARN}:beta"}),
    {**CODE, "source": "aws.s3"},
    {**CODE, "detail-type": "Lambda Function Invocation Result"},
])
def test_other_events_start_nothing(rules: dict[str, Any], sample: dict[str, Any]) -> None:
    assert not any(matches(json.dumps(r.event_pattern), sample) for r in rules.values())


def test_camel_turns_a_lambda_response_into_response_elements() -> None:
    assert camel({"FunctionName": "a", "Version": "$LATEST", "ResponseMetadata": {}}) == {
        "functionName": "a", "version": "$LATEST"}


def test_transform_without_a_transformer_and_with_a_missing_path() -> None:
    assert json.loads(transform({"Id": "t", "Arn": "x"}, CODE)) == CODE
    with pytest.raises(KeyError, match=r"\$\.detail\.nope"):
        transform({"InputTransformer": {"InputPathsMap": {"a": "$.detail.nope"}, "InputTemplate": '"<a>"'}}, CODE)


def test_a_code_update_retires_the_old_environments(sandboxed: None) -> None:
    from .conftest import counter_code

    runtime = LocalLambdaRuntime(clock=ManualClock(), idle_ttl_s=600)
    runtime.register(counter_code("counter"))
    try:
        # GIVEN a warm environment of $LATEST and one of version 3
        assert runtime.invoke("counter", b"{}").cold
        assert runtime.invoke("counter", b"{}", qualifier="3").cold
        assert not runtime.invoke("counter", b"{}").cold
        # WHEN $LATEST's code is replaced THEN its idle environment is gone: the next request is cold
        assert runtime.retire("counter") == 1
        assert runtime.idle_environments("counter") == []
        assert runtime.invoke("counter", b"{}").cold
        # AND another version keeps its environments
        assert not runtime.invoke("counter", b"{}", qualifier="3").cold
    finally:
        runtime.shutdown()


def test_an_environment_busy_during_the_update_is_not_reused(sandboxed: None) -> None:
    import threading

    from .conftest import counter_code

    runtime = LocalLambdaRuntime(clock=ManualClock(), idle_ttl_s=600)
    runtime.register(counter_code("counter"))
    started, release = threading.Event(), threading.Event()
    try:
        def busy() -> None:
            runtime.invoke("counter", b"{}", hold=lambda: (started.set(), release.wait(5)))

        worker = threading.Thread(target=busy)
        worker.start()
        assert started.wait(5)
        # GIVEN a request in flight WHEN the code is replaced THEN nothing idle was retired, and the busy
        # environment is not kept when its request ends: the next request is cold
        assert runtime.retire("counter") == 0
        release.set()
        worker.join(5)
        assert runtime.idle_environments("counter") == []
        assert runtime.invoke("counter", b"{}").cold
    finally:
        release.set()
        runtime.shutdown()
