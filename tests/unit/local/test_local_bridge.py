"""The runtime behind moto's Lambda API: what boto3 callers see (in-process moto, no sockets)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from thermostat.local import bridge
from thermostat.local.deploy import placeholder_zip
from thermostat.local.runtime import LocalLambdaRuntime

from .conftest import counter_code

NO_RETRIES = Config(retries={"total_max_attempts": 1})
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 3})


@pytest.fixture(params=[NO_RETRIES, RETRIES], ids=["fast-path", "moto-route"])
def lam(runtime: LocalLambdaRuntime, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Lambda client of each kind: without retries (answered from botocore's before-call event) and with
    retries (through moto's HTTP emulation, so botocore can retry). Both must look the same to callers."""
    with mock_aws(config={"lambda": {"use_docker": False}}):
        undo = bridge.install(runtime)
        try:
            role = boto3.client("iam", region_name="us-east-1").create_role(
                RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            client = boto3.client("lambda", region_name="us-east-1", config=request.param)
            for name in ("counter", "other", "unrouted"):
                client.create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
                                       Code={"ZipFile": placeholder_zip("tests")})
            yield client
        finally:
            undo()


def test_invoke_runs_the_real_handler(lam: Any) -> None:
    # WHEN boto3 invokes a registered function
    response = lam.invoke(FunctionName="counter", Payload=b"{}")
    body = json.loads(response["Payload"].read())
    # THEN the handler ran with its context
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert body["function"] == "counter" and body["calls"] == 1
    assert response["ExecutedVersion"] == "$LATEST"


def test_a_handler_exception_is_a_function_error(lam: Any) -> None:
    response = lam.invoke(FunctionName="counter", Payload=json.dumps({"raise": "nope"}).encode())
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "ValueError"


def test_throttles_reach_boto3_callers_as_429(lam: Any, runtime: LocalLambdaRuntime) -> None:
    # GIVEN a reserved concurrency of 0, set through the Lambda API
    lam.put_function_concurrency(FunctionName="counter", ReservedConcurrentExecutions=0)
    # WHEN it is invoked
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="counter", Payload=b"{}")
    # THEN the caller gets TooManyRequestsException with HTTP 429
    error = caught.value.response
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    # (a retrying client tried as often as it was told to)
    assert runtime.stats["counter"].throttles == error["ResponseMetadata"]["RetryAttempts"] + 1


def test_unknown_functions_and_qualifiers_are_not_found(lam: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_aliases_resolve_to_their_version(lam: Any) -> None:
    # GIVEN version 1 of the function behind alias "live"
    version = lam.publish_version(FunctionName="counter")["Version"]
    lam.create_alias(FunctionName="counter", Name="live", FunctionVersion=version)
    # WHEN it is invoked through the alias ARN
    arn = lam.get_function(FunctionName="counter")["Configuration"]["FunctionArn"]
    response = lam.invoke(FunctionName=f"{arn}:live", Payload=b"{}")
    body = json.loads(response["Payload"].read())
    # THEN the version ran, with the invoked ARN in its context
    assert response["ExecutedVersion"] == version == body["version"]
    assert body["arn"].endswith(":live")


def test_tail_logs_and_unrouted_functions(lam: Any) -> None:
    # WHEN invoked with LogType=Tail
    response = lam.invoke(FunctionName="counter", Payload=b"{}", LogType="Tail")
    # THEN the tail of the invocation's output comes back base64-encoded
    assert '"message": "handling"' in base64.b64decode(response["LogResult"]).decode()
    # AND a function the runtime does not know keeps moto's echo behaviour
    assert lam.invoke(FunctionName="unrouted", Payload=b'{"a": 1}')["Payload"].read() == b'{"a": 1}'


def test_event_invocations_run_in_the_background(lam: Any, runtime: LocalLambdaRuntime) -> None:
    # WHEN a function is invoked asynchronously
    response = lam.invoke(FunctionName="other", Payload=b"{}", InvocationType="Event")
    # THEN the caller gets 202 at once and the handler runs on its own thread
    assert response["StatusCode"] == 202
    for _ in range(500):
        if runtime.invocation_count:
            break
        time.sleep(0.01)
    assert [r.function for r in runtime.invocations] == ["other"]


def test_the_runtime_is_unplugged_on_undo(runtime: LocalLambdaRuntime) -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke
    undo = bridge.install(runtime)
    assert LambdaSimpleBackend.invoke is not original
    undo()
    assert LambdaSimpleBackend.invoke is original
    assert counter_code().name == "counter"


def b64(value: object) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def test_client_context_reaches_the_handler_like_the_python_runtime(lam: Any, runtime: LocalLambdaRuntime) -> None:
    # GIVEN a ClientContext with custom, env and client parts, and a Thermostat ping marker
    context = {"custom": {"thermostat": "2"}, "env": {"locale": "en"},
               "client": {"installation_id": "i-1", "app_title": "app"}}
    # WHEN invoked with it, and once without any
    with_context = json.loads(lam.invoke(FunctionName="counter", Payload=b"{}",
                                         ClientContext=b64(context))["Payload"].read())
    without = json.loads(lam.invoke(FunctionName="counter", Payload=b"{}")["Payload"].read())
    # THEN the handler sees context.client_context.custom/.env/.client (None when absent)
    assert with_context["client_context"] == {"custom": {"thermostat": "2"}, "env": {"locale": "en"},
                                              "client": {"installation_id": "i-1", "app_title": "app"}}
    assert without["client_context"] is None
    # AND the runtime counted one ping and one real invocation
    assert (runtime.stats["counter"].ping_invocations, runtime.stats["counter"].real_invocations) == (1, 1)


def test_a_client_context_without_client_has_none_there(lam: Any) -> None:
    body = json.loads(lam.invoke(FunctionName="counter", Payload=b"{}",
                                 ClientContext=b64({"custom": {"a": "b"}}))["Payload"].read())
    assert body["client_context"] == {"custom": {"a": "b"}, "env": None, "client": None}


@pytest.mark.parametrize("client_context, code", [
    ("not base64!", "InvalidRequestContentException"),
    (base64.b64encode(b"{not json").decode(), "InvalidRequestContentException"),
    (b64(["a", "list"]), "InvalidRequestContentException"),
    (b64({"custom": {"pad": "x" * 2700}}), "InvalidParameterValueException"),  # > 3,583 bytes once encoded
])
def test_a_malformed_or_oversized_client_context_is_lambdas_400(lam: Any, runtime: LocalLambdaRuntime,
                                                                client_context: str, code: str) -> None:
    # WHEN the ClientContext is not base64 JSON of an object, or too long
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="counter", Payload=b"{}", ClientContext=client_context)
    # THEN the caller gets Lambda's 400 with the modeled error code, and no handler ran
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert runtime.invocation_count == 0


def test_the_largest_client_context_is_accepted(lam: Any) -> None:
    # GIVEN the longest base64 ClientContext under 3,583 bytes (3,580: base64 comes in blocks of 4)
    empty = len(json.dumps({"custom": {"pad": ""}}))
    encoded = b64({"custom": {"pad": "x" * (3580 // 4 * 3 - empty)}})
    assert len(encoded) == 3580
    # WHEN invoked THEN it runs
    assert lam.invoke(FunctionName="counter", Payload=b"{}", ClientContext=encoded)["StatusCode"] == 200


def test_event_invocations_get_no_client_context(lam: Any, runtime: LocalLambdaRuntime) -> None:
    # WHEN an asynchronous invoke carries a ClientContext
    lam.invoke(FunctionName="other", Payload=b"{}", InvocationType="Event", ClientContext=b64({"custom": {"x": "1"}}))
    for _ in range(500):
        if runtime.invocation_count:
            break
        time.sleep(0.01)
    # THEN Lambda does not pass it (synchronous invokes only): the invoke is not a ping either
    assert runtime.stats["other"].real_invocations == 1


def test_reserved_concurrency_reaches_the_runtime_when_it_is_set(lam: Any, runtime: LocalLambdaRuntime) -> None:
    # WHEN a reservation is put, then deleted, through the API
    lam.put_function_concurrency(FunctionName="other", ReservedConcurrentExecutions=4)
    reserved = dict(runtime.reserved)
    lam.delete_function_concurrency(FunctionName="other")
    # THEN the runtime's limits followed each at once (not at the next invoke)
    assert reserved == {"other": 4} and runtime.reserved == {} and runtime.reserved_total == 0
