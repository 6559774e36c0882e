"""Custom resource ``Prewarm``: starts one warming execution right after a deploy.

On ``Create`` and ``Update`` it starts the state machine named by the resource's ``StateMachineArn``
property with input ``{}`` and a name ``prewarm-<UTC timestamp>-<request id prefix>``. ``Delete`` does
nothing. It never fails a deploy: whatever happens (no permission, a bad ARN, throttling), the error is
logged and CloudFormation is told ``SUCCESS``, with the execution ARN (or the error) in the response data.
Standard library + boto3 only (both in the python3.13 runtime): no layer.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

logger = logging.getLogger()
logger.setLevel(logging.INFO)

RESPONSE_TIMEOUT_S = 5
RESPONSE_ATTEMPTS = 3
# The call and three answer attempts fit in the function's 30 s timeout: CloudFormation must get its answer.
CLIENT_CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})

Sender = Callable[[str, bytes], None]


def execution_name(request_id: str, now_s: float) -> str:
    """``prewarm-20250101T120000Z-1a2b3c4d``: unique per deploy, valid for Step Functions (≤ 80 chars)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now_s))
    suffix = "".join(ch for ch in request_id if ch.isalnum())[:8] or "local"
    return f"prewarm-{stamp}-{suffix}"


def start_prewarm(event: dict[str, Any], make_client: Callable[[], Any], now_s: float) -> dict[str, str]:
    """Start the execution for Create/Update; returns the response data (never raises)."""
    request = event.get("RequestType")
    if request not in ("Create", "Update"):
        return {"Skipped": str(request)}
    try:
        arn = str(event["ResourceProperties"]["StateMachineArn"])
        name = execution_name(str(event.get("RequestId", "")), now_s)
        started = make_client().start_execution(stateMachineArn=arn, name=name, input="{}")
    except Exception as exc:  # a prewarm must never fail the deploy
        logger.exception("prewarm_failed")
        return {"Error": f"{type(exc).__name__}: {exc}"[:500]}
    logger.info("prewarm_started %s", json.dumps({"execution": started["executionArn"], "request": request}))
    return {"ExecutionArn": str(started["executionArn"])}


def response_body(event: dict[str, Any], context: Any, data: dict[str, str]) -> bytes:
    """The CloudFormation custom resource response: always SUCCESS, a stable physical id."""
    physical = event.get("PhysicalResourceId") or f"{event.get('LogicalResourceId', 'Prewarm')}-prewarm"
    reason = data.get("Error") or f"see log stream {getattr(context, 'log_stream_name', '?')}"
    return json.dumps({
        "Status": "SUCCESS", "Reason": reason[:256], "PhysicalResourceId": physical,
        "StackId": event.get("StackId"), "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"), "Data": data,
    }).encode()


def put_response(url: str, body: bytes) -> None:
    """PUT the answer to the pre-signed S3 URL CloudFormation waits on (a few attempts)."""
    for attempt in range(1, RESPONSE_ATTEMPTS + 1):
        request = urllib.request.Request(url, data=body, method="PUT",
                                         headers={"Content-Type": "", "Content-Length": str(len(body))})
        try:
            with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_S):
                return
        except Exception:  # retried, then logged
            logger.exception("response_put_failed attempt=%d", attempt)
            if attempt < RESPONSE_ATTEMPTS:
                time.sleep(attempt)


def answer(event: dict[str, Any], context: Any, make_client: Callable[[], Any], send: Sender,
           now_s: float) -> dict[str, str]:
    """Start the prewarm (Create/Update), then tell CloudFormation SUCCESS whatever happened."""
    data = start_prewarm(event, make_client, now_s)
    url = event.get("ResponseURL")
    if url:
        send(str(url), response_body(event, context, data))
    else:
        logger.warning("no_response_url")
    return data


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    def client() -> Any:
        return boto3.client("stepfunctions", config=CLIENT_CONFIG)

    return answer(event, context, client, put_response, time.time())
