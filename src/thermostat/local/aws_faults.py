"""Faults of AWS API calls made by function code: ``FaultPlan.aws`` as a botocore ``before-call`` hook.

``{"lambda:GetAccountSettings": {"error": "AccessDeniedException"}}`` makes every ``GetAccountSettings``
call of every handler fail with that error code, as a ``ClientError`` whose modeled class is the one
botocore raises for the code (``client.exceptions.AccessDeniedException`` catches it when the service
models it) and whose ``ResponseMetadata.HTTPStatusCode`` is the code's usual status. The hook is
registered on every boto3 client created while it is installed (new sessions, and the default
session), and acts only on calls made from inside a Lambda invocation on the local runtime (the
workflow's handlers, the targets, and threads they start): the embedded AWS's own calls — deploying,
starting and describing executions, Step Functions' ``lambda:invoke`` tasks — are never faulted. The
faulted call does not reach the service, and botocore does not retry it (``times`` counts calls).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import botocore.handlers
from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse

from thermostat.local import sandbox
from thermostat.local.faults import AwsFaultSpec

STATUS_BY_CODE = {
    "AccessDenied": 403, "AccessDeniedException": 403, "UnauthorizedOperation": 403,
    "UnrecognizedClientException": 403, "ExpiredTokenException": 403, "KMSAccessDeniedException": 502,
    "ResourceNotFoundException": 404, "NoSuchKey": 404, "NoSuchBucket": 404, "ParameterNotFound": 400,
    "PreconditionFailed": 412, "ConditionalRequestConflict": 409,
    "ThrottlingException": 400, "Throttling": 400, "TooManyRequestsException": 429, "RequestLimitExceeded": 503,
    "SlowDown": 503, "ServiceUnavailable": 503, "ServiceUnavailableException": 503,
    "InternalError": 500, "InternalFailure": 500, "InternalServiceError": 500, "InternalServerError": 500,
    "ServiceException": 500, "LimitExceededException": 400, "ValidationException": 400,
    "InvalidParameterValueException": 400,
}


class AwsFaults:
    """The ``aws`` part of a fault plan, with a counter per operation (thread-safe)."""

    def __init__(self, faults: Mapping[str, AwsFaultSpec]) -> None:
        self.faults = dict(faults)
        self.injected: dict[str, int] = dict.fromkeys(self.faults, 0)  # calls failed so far, per configured key
        self._lock = threading.Lock()

    def replace(self, faults: Mapping[str, AwsFaultSpec]) -> None:
        """Other faults from now on (counters restart)."""
        with self._lock:
            self.faults = dict(faults)
            self.injected = dict.fromkeys(self.faults, 0)

    def take(self, service: str, endpoint_prefix: str, operation: str, function: str | None) -> AwsFaultSpec | None:
        """The fault this call gets, if any (and count it)."""
        faults, injected = self.faults, self.injected  # one plan for the whole lookup (replace() swaps both)
        for name in (service, endpoint_prefix):
            for key in (f"{name}:{operation}", f"{name}:*"):
                spec = faults.get(key)
                if spec is None or (spec.functions and function not in spec.functions):
                    continue
                with self._lock:
                    if spec.times is not None and injected[key] >= spec.times:
                        continue
                    injected[key] += 1
                return spec
        return None

    def before_call(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        """botocore ``before-call``: ``(http, parsed)`` of the injected error, or ``None`` to go on."""
        if not self.faults:
            return None
        invocation = sandbox.current()
        if invocation is None:  # not function code: the embedded AWS's own calls
            return None
        function = invocation.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        service_model = model.service_model
        spec = self.take(service_model.service_name, service_model.endpoint_prefix, model.name, function)
        if spec is None:
            return None
        status = spec.status or STATUS_BY_CODE.get(spec.error, 400)
        request_id = str(uuid.uuid4())
        http = AWSResponse(str(params.get("url", "")), status, {"x-amzn-requestid": request_id},
                           MockRawResponse(b""))
        parsed = {"Error": {"Code": spec.error, "Message": spec.message},
                  "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": status, "HTTPHeaders": {},
                                       "RetryAttempts": 0}}
        return http, parsed


FAST_EVENTS = ("before-call.lambda.Invoke", "before-call.cloudwatch.GetMetricData")  # answered in-process


def install(faults: AwsFaults) -> Callable[[], None]:
    """Register the hook for clients created from now on; returns undo (clients made meanwhile keep a no-op).

    botocore runs the handlers of the most specific event name first, so the calls the embedded AWS
    answers in-process (Lambda ``Invoke``, CloudWatch ``GetMetricData``) get their own registration ahead
    of those fast paths; the generic one skips them."""
    active = [True]

    def fast_hook(**kwargs: Any) -> Any:
        return faults.before_call(**kwargs) if active[0] else None

    def hook(event_name: str = "", **kwargs: Any) -> Any:
        if not active[0] or event_name in FAST_EVENTS:
            return None
        return faults.before_call(**kwargs)

    entries: list[tuple[Any, ...]] = [(event, fast_hook, botocore.handlers.REGISTER_FIRST) for event in FAST_EVENTS]
    entries.append(("before-call", hook))
    botocore.handlers.BUILTIN_HANDLERS.extend(entries)
    default = boto3.DEFAULT_SESSION
    emitter = default._session.get_component("event_emitter") if default is not None else None
    if emitter is not None:
        for event in FAST_EVENTS:
            emitter.register_first(event, fast_hook)
        emitter.register("before-call", hook)

    def undo() -> None:
        active[0] = False
        for entry in entries:
            if entry in botocore.handlers.BUILTIN_HANDLERS:
                botocore.handlers.BUILTIN_HANDLERS.remove(entry)
        if emitter is not None:
            for event in FAST_EVENTS:
                emitter.unregister(event, fast_hook)
            emitter.unregister("before-call", hook)

    return undo
