"""Prewarm custom resource (functions/prewarm): one execution after a deploy, never a failed deploy."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import ModuleType
from typing import Any

import boto3
import pytest

from .conftest import REGION

NOW_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture
def prewarm(load_handler: Any) -> ModuleType:
    return load_handler("prewarm")


@pytest.fixture
def machine_arn(aws: None) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="sfn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    return str(boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="thermostat-warming", definition=definition, roleArn=role)["stateMachineArn"])


def cfn_event(request: str, **properties: Any) -> dict[str, Any]:
    return {
        "RequestType": request, "ResponseURL": "https://cloudformation-response.example/put",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/thermostat/x",
        "RequestId": "5e1a3b2c-0000-4000-8000-000000000000", "LogicalResourceId": "Prewarm",
        "ResourceType": "AWS::CloudFormation::CustomResource",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:x", **properties},
    }


class Sent:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, url: str, body: bytes) -> None:
        self.calls.append((url, json.loads(body)))


def sfn() -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_start_one_execution_with_empty_input(prewarm, machine_arn, context, request_type):
    # GIVEN a Create (or Update) request naming the state machine
    sent = Sent()
    # WHEN the custom resource handles it
    data = prewarm.answer(cfn_event(request_type, StateMachineArn=machine_arn), context, sfn, sent, NOW_S)
    # THEN exactly one execution was started, with input {} and a prewarm-<timestamp> name
    executions = sfn().list_executions(stateMachineArn=machine_arn)["executions"]
    assert [e["name"] for e in executions] == ["prewarm-20260101T000000Z-5e1a3b2c"]
    assert sfn().describe_execution(executionArn=executions[0]["executionArn"])["input"] == "{}"
    # AND CloudFormation was told SUCCESS with the execution's ARN
    (url, body), = sent.calls
    assert url == "https://cloudformation-response.example/put"
    assert body["Status"] == "SUCCESS" and body["Data"] == data == {"ExecutionArn": executions[0]["executionArn"]}
    assert (body["RequestId"], body["LogicalResourceId"]) == ("5e1a3b2c-0000-4000-8000-000000000000", "Prewarm")


def test_a_failed_start_still_answers_success(prewarm, aws, context):
    # GIVEN a state machine that does not exist (or no permission, or throttling)
    sent = Sent()
    missing = f"arn:aws:states:{REGION}:123456789012:stateMachine:gone"
    # WHEN the custom resource handles a Create
    data = prewarm.answer(cfn_event("Create", StateMachineArn=missing), context, sfn, sent, NOW_S)
    # THEN the deploy goes on: SUCCESS, the error in the data and the reason
    (_, body), = sent.calls
    assert body["Status"] == "SUCCESS"
    assert "StateMachineDoesNotExist" in data["Error"] and body["Reason"] == data["Error"][:256]


def test_missing_property_or_broken_client_still_answers_success(prewarm, context):
    # GIVEN a request without StateMachineArn, and one whose client cannot even be made
    def broken() -> Any:
        raise RuntimeError("no region")

    sent = Sent()
    prewarm.answer(cfn_event("Create"), context, broken, sent, NOW_S)
    prewarm.answer(cfn_event("Update", StateMachineArn="arn:x"), context, broken, sent, NOW_S)
    # THEN both answers are SUCCESS, each naming its error
    assert [body["Status"] for _, body in sent.calls] == ["SUCCESS", "SUCCESS"]
    assert [body["Data"]["Error"] for _, body in sent.calls] == ["KeyError: 'StateMachineArn'",
                                                                 "RuntimeError: no region"]


def test_delete_is_a_no_op_that_keeps_the_physical_id(prewarm, machine_arn, context):
    # GIVEN a Delete of a resource created earlier
    event = {**cfn_event("Delete", StateMachineArn=machine_arn), "PhysicalResourceId": "Prewarm-prewarm"}
    sent = Sent()
    prewarm.answer(event, context, sfn, sent, NOW_S)
    # THEN nothing was started, and the answer is SUCCESS for the same physical resource
    assert sfn().list_executions(stateMachineArn=machine_arn)["executions"] == []
    (_, body), = sent.calls
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", "Prewarm-prewarm")


@pytest.fixture
def response_server() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    """A loopback HTTP server standing in for CloudFormation's pre-signed response URL."""
    received: list[tuple[str, dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # http.server's naming
            length = int(self.headers["Content-Length"])
            received.append((self.command, dict(self.headers), self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/response?sig=x", received
    finally:
        server.shutdown()
        server.server_close()


def test_the_answer_is_put_the_way_cloudformation_expects(prewarm, response_server):
    # GIVEN CloudFormation's response URL
    url, received = response_server
    # WHEN the answer is sent
    prewarm.put_response(url, b'{"Status": "SUCCESS"}')
    # THEN it is one PUT with an empty content type (the pre-signed URL is signed without one)
    (method, headers, body), = received
    assert method == "PUT" and headers.get("Content-Type") == "" and body == b'{"Status": "SUCCESS"}'
