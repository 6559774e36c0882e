"""Plugs a :class:`LocalLambdaRuntime` into moto: every Lambda ``Invoke`` of a registered function runs there.

With ``lambda.use_docker: False`` moto sends every invoke (boto3 callers and Step Functions tasks alike)
to ``moto.awslambda_simple.models.LambdaSimpleBackend.invoke``, which otherwise echoes the payload.
Replacing that one method routes invokes to real code. moto stays the source of truth for what exists
(unknown functions or qualifiers get moto's 404) and for reserved concurrency (``PutFunctionConcurrency``).

Fast path: a client that does not retry (Step Functions' own, ``warm_batch``'s) has its ``Invoke`` answered
from botocore's ``before-call`` event, with the same status, headers and body the moto route produces
and parsed by botocore's own parser, skipping moto's HTTP emulation (~1.5 ms of CPU per call). That
matters when a batch's 50 pings must all reach their targets within the few hundred milliseconds
before their shared ``release_at``. Clients that retry keep the moto route, so botocore's retries of a
429 still happen exactly as against AWS. A function that a ``latency_ms`` fault makes slower than the
calling client's ``read_timeout`` (function code invoking another function) gets that client botocore's
``ReadTimeoutError`` in time, while the invocation runs on, as on AWS.

Both routes decode the ``ClientContext`` (``X-Amz-Client-Context``: base64 JSON, at most 3,583 bytes) and
hand it to the handler as ``context.client_context`` for synchronous invokes, as Lambda does; a malformed
one is Lambda's 400 ``InvalidRequestContentException``, an oversized one ``InvalidParameterValueException``.
``PutFunctionConcurrency``/``DeleteFunctionConcurrency`` reach the runtime at once (not at the next invoke), and
``UpdateFunctionCode`` retires the function's $LATEST environments (the next request is a cold start).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import boto3
import botocore.handlers
from botocore.awsrequest import AWSResponse
from botocore.endpoint import convert_to_response_dict
from botocore.exceptions import ReadTimeoutError
from botocore.parsers import create_parser
from moto.awslambda.models import LambdaBackend
from moto.awslambda.utils import get_backend
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber
from werkzeug.exceptions import HTTPException

from thermostat.local import sandbox
from thermostat.local.exceptions import InvalidParameterValueException, InvalidRequestContentException
from thermostat.local.runtime import LATEST, LocalLambdaRuntime, split_name
from thermostat.local.sandbox_patches import wrap_methods

CLIENT_CONTEXT_MAX_BYTES = 3583  # Invoke's documented bound on the base64 ClientContext

_active: list[LocalLambdaRuntime] = []
_original_invoke = LambdaSimpleBackend.invoke
_lock = threading.Lock()


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return str(value)
    return None


def client_context(header: str | None) -> dict[str, Any] | None:
    """The decoded ``X-Amz-Client-Context`` header (``None`` when absent); Lambda's 400 when it is not valid."""
    if header is None or header == "":
        return None
    if len(header.encode("utf-8")) > CLIENT_CONTEXT_MAX_BYTES:
        raise InvalidParameterValueException(
            f"Client context must be at most {CLIENT_CONTEXT_MAX_BYTES} bytes of base64-encoded JSON "
            f"(got {len(header.encode('utf-8'))}).")
    try:
        decoded = json.loads(base64.b64decode(header, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = None
    if not isinstance(decoded, dict):
        raise InvalidRequestContentException("Client context must be a valid Base64-encoded JSON object.")
    return decoded


def _invoke(self: LambdaSimpleBackend, function_name: str, qualifier: str | None, body: Any,
            headers: Any, response_headers: dict[str, str]) -> str | bytes | None:
    runtime = _active[-1] if _active else None
    fn = self.get_function(function_name, qualifier)  # raises moto's ResourceNotFound like Lambda
    if runtime is None or fn.function_name not in runtime.functions:
        return _original_invoke(self, function_name, qualifier, body, headers, response_headers)
    return _route(runtime, fn, function_name, qualifier, body, headers, response_headers)


def _route(runtime: LocalLambdaRuntime, fn: Any, function_name: str, qualifier: str | None, body: Any,
           headers: Any, response_headers: dict[str, str]) -> bytes:
    reserved = fn.reserved_concurrency
    runtime.set_reserved_concurrency(fn.function_name, None if reserved is None else int(reserved))
    version = str(fn.version) if str(fn.version) != LATEST else None
    _, called_qualifier = split_name(function_name, qualifier)
    base_arn = fn.function_arn.split(":function:")[0] + f":function:{fn.function_name}"
    arn = base_arn + (f":{called_qualifier}" if called_qualifier else "")
    invocation_type = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
    payload = body if isinstance(body, bytes | str) or body is None else str(body)
    context = client_context(_header(headers, "X-Amz-Client-Context"))
    resource = called_qualifier if called_qualifier not in (None, LATEST) else None
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":  # Lambda passes the ClientContext to synchronous invocations only
        def run_async() -> None:
            try:
                runtime.invoke(fn.function_name, payload, version, invoked_arn=arn, resource=resource)
            except Exception:  # an async invoke's failure is not the caller's (Lambda retries/drops it)
                return

        threading.Thread(target=run_async, name=f"lambda-event-{fn.function_name}", daemon=True).start()
        return b""
    result = runtime.invoke(fn.function_name, payload, version, invoked_arn=arn, client_context=context,
                            resource=resource)
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-executed-version"] = result.version
    if _header(headers, "X-Amz-Log-Type") == "Tail":
        tail = result.log.encode("utf-8")[-4096:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
    return result.payload


_STATUS = {"Event": 202, "DryRun": 204}  # InvocationType -> HTTP status (RequestResponse: 200)
_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")


def _retries(config: Any) -> bool:
    retries = getattr(config, "retries", None) or {}
    if "total_max_attempts" in retries:
        return int(retries["total_max_attempts"]) > 1
    return int(retries.get("max_attempts", 1)) > 0


def _read_timeout(config: Any, runtime: LocalLambdaRuntime, function: str) -> float | None:
    """The client's read timeout when it applies: a call made by function code (a handler invoking another
    function; Step Functions' own tasks are not bound by an SDK timeout) to a function a ``latency_ms`` fault
    makes slower than it. Only that simulated latency is compared: on one interpreter the wall time of an
    invoke also holds the GIL waits of every other thread, which Lambda's separate environments never see."""
    timeout = getattr(config, "read_timeout", None)
    if not timeout or sandbox.current() is None:
        return None
    fault = runtime.fault_plan.functions.get(function)
    return float(timeout) if fault is not None and fault.latency_ms / 1000.0 >= float(timeout) else None


def _within(read_timeout_s: float | None, url: str, call: Callable[[], bytes]) -> bytes:
    """``call()``, or botocore's ``ReadTimeoutError`` once ``read_timeout_s`` passed without an answer, as an
    SDK client sees a function slower than its read timeout; the invocation itself runs on to its end."""
    if read_timeout_s is None:
        return call()
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["body"] = call()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="lambda-invoke", daemon=True).start()
    if not done.wait(read_timeout_s):
        raise ReadTimeoutError(endpoint_url=url)
    if "error" in box:
        raise box["error"]
    body: bytes = box["body"]
    return body


def fast_invoke(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
    """botocore ``before-call.lambda.Invoke``: answer in-process, or ``None`` to take moto's route."""
    runtime = _active[-1] if _active else None
    match = _INVOKE_PATH.match(params.get("url_path", ""))
    if runtime is None or match is None or not botocore_stubber.enabled or _retries(context.get("client_config")):
        return None
    region = str(context.get("client_region") or "us-east-1")
    function_name = unquote(match.group("name"))
    qualifier = (params.get("query_string") or {}).get("Qualifier")
    headers: dict[str, str] = {}
    try:
        backend = get_backend(DEFAULT_ACCOUNT_ID, region)  # the Docker-less backend, as moto's route uses
        fn = backend.get_function(function_name, qualifier)
        if fn.function_name not in runtime.functions:
            return None
        body: bytes = _within(_read_timeout(context.get("client_config"), runtime, fn.function_name),
                              str(params.get("url", "")),
                              lambda: _route(runtime, fn, function_name, qualifier, params.get("body"),
                                             params.get("headers"), headers))
        status = _STATUS.get(_header(params.get("headers"), "X-Amz-Invocation-Type") or "", 200)
        headers["content-type"] = "application/json"
    except HTTPException as exc:  # moto's and our own service errors: 404, 429, ...
        status, body = int(exc.code or 500), exc.get_body().encode()
        headers = dict(exc.get_headers())
    headers.setdefault("x-amzn-requestid", str(uuid.uuid4()))
    http = AWSResponse(str(params.get("url", "")), status, headers, MockRawResponse(body))
    parsed = create_parser(model.metadata["protocol"]).parse(convert_to_response_dict(http, model),
                                                               model.output_shape)
    parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0  # what botocore's endpoint adds
    return http, parsed


def _tell_runtime(original: Callable[..., Any]) -> Callable[..., Any]:
    """``Put``/``DeleteFunctionConcurrency``: the runtime's limits follow at once."""
    def call(self: LambdaBackend, function_name: str, *args: Any) -> Any:
        result = original(self, function_name, *args)
        runtime = _active[-1] if _active else None
        if runtime is not None:
            fn = self.get_function(function_name)
            if fn.function_name in runtime.functions:
                reserved = fn.reserved_concurrency
                runtime.set_reserved_concurrency(fn.function_name, None if reserved is None else int(reserved))
        return result

    return call


def _code_replaced(original: Callable[..., Any]) -> Callable[..., Any]:
    """``UpdateFunctionCode``: new code for $LATEST, so its environments are gone (the runtime retires them)."""
    def call(self: LambdaBackend, function_name: str, *args: Any, **kwargs: Any) -> Any:
        result = original(self, function_name, *args, **kwargs)
        runtime = _active[-1] if _active else None
        if runtime is not None:
            name = self.get_function(function_name).function_name
            if name in runtime.functions:
                runtime.retire(name, LATEST)
        return result

    return call


def install(runtime: LocalLambdaRuntime) -> Callable[[], None]:
    """Route invokes to ``runtime`` until the returned undo function is called (nests like a stack)."""
    undo_concurrency = wrap_methods(LambdaBackend, ("put_function_concurrency", "delete_function_concurrency"),
                                    _tell_runtime)
    undo_code = wrap_methods(LambdaBackend, ("update_function_code",), _code_replaced)
    with _lock:
        _active.append(runtime)
        LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]
        if _FAST_HOOK not in botocore.handlers.BUILTIN_HANDLERS:  # sessions created from now on
            botocore.handlers.BUILTIN_HANDLERS.append(_FAST_HOOK)
        default = boto3.DEFAULT_SESSION
        if default is not None:  # clients created from now on by the default session
            default._session.register(*_FAST_HOOK)

    def uninstall() -> None:
        with _lock:
            if runtime in _active:
                _active.remove(runtime)
            if not _active:
                LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]
        undo_concurrency()
        undo_code()

    return uninstall


_FAST_HOOK = ("before-call.lambda.Invoke", fast_invoke)
