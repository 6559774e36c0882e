"""The local Lambda runtime: routes invokes to real handler code with execution-environment semantics.

- an environment runs one request at a time; a request takes the most recently freed idle environment
  of its function version (LIFO, as Lambda tends to) or starts a new one (a cold start);
- idle environments are reclaimed after ``idle_ttl_s`` on an injectable clock;
- the account limit and per-function reserved concurrency make excess invokes fail with
  :class:`~thermostat.local.exceptions.TooManyRequestsException` (HTTP 429);
- faults from a :class:`~thermostat.local.faults.FaultPlan` are applied per function;
- a handler's exception becomes Lambda's ``FunctionError: Unhandled`` payload;
- stdout/stderr of each invocation is kept in :attr:`LocalLambdaRuntime.invocations`, not printed.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thermostat.local import sandbox
from thermostat.local.clock import Clock, SystemClock
from thermostat.local.environment import (
    ExecutionEnvironment,
    FunctionCode,
    InitError,
    LambdaContext,
    error_payload,
)
from thermostat.local.exceptions import TooManyRequestsException
from thermostat.local.faults import FaultPlan, FaultState, error_class

DEFAULT_IDLE_TTL_S = 600.0
DEFAULT_ACCOUNT_LIMIT = 1000
LATEST = "$LATEST"


@dataclass
class InvokeResult:
    payload: bytes
    function_error: str | None  # "Unhandled" when the handler (or init) raised
    version: str
    env_id: str
    cold: bool
    log: str
    duration_ms: float


@dataclass
class InvocationRecord:
    function: str
    version: str
    env_id: str
    request_id: str
    cold: bool
    duration_ms: float
    error_type: str | None
    log: str
    init_ms: float | None = None
    seq: int = 0  # order of completion, for "the invocations since" queries


@dataclass
class FunctionStats:
    invocations: int = 0
    cold_starts: int = 0
    throttles: int = 0
    errors: int = 0
    reclaimed: int = 0


def split_name(function_name: str, qualifier: str | None) -> tuple[str, str | None]:
    """``name``, ``name:qual``, ``123:function:name[:qual]`` or a full ARN -> (name, qualifier)."""
    parts = function_name.split(":")
    if function_name.startswith("arn:"):
        name, rest = parts[6], parts[7:]
    elif len(parts) >= 3 and parts[1] == "function":
        name, rest = parts[2], parts[3:]
    else:
        name, rest = parts[0], parts[1:]
    return name, qualifier or (rest[0] if rest else None)


class LocalLambdaRuntime:
    def __init__(self, *, clock: Clock | None = None, idle_ttl_s: float = DEFAULT_IDLE_TTL_S,
                 account_limit: int = DEFAULT_ACCOUNT_LIMIT, faults: FaultPlan | None = None,
                 keep_invocations: int = 20_000) -> None:
        self.clock: Clock = clock or SystemClock()
        self.idle_ttl_s = idle_ttl_s
        self.account_limit = account_limit
        self.functions: dict[str, FunctionCode] = {}
        self.reserved: dict[str, int] = {}
        self.stats: dict[str, FunctionStats] = {}
        self.invocations: deque[InvocationRecord] = deque(maxlen=keep_invocations)
        self._idle: dict[tuple[str, str], list[ExecutionEnvironment]] = {}
        self._busy: dict[str, int] = {}
        self._lock = threading.Lock()
        self._faults: dict[str, FaultState] = {}
        self.invocation_count = 0
        self.set_faults(faults or FaultPlan())

    # --- configuration ---------------------------------------------------------------------------
    def register(self, code: FunctionCode, reserved_concurrency: int | None = None) -> None:
        with self._lock:
            self.functions[code.name] = code
            self.stats.setdefault(code.name, FunctionStats())
            if reserved_concurrency is not None:
                self.reserved[code.name] = reserved_concurrency

    def set_reserved_concurrency(self, name: str, value: int | None) -> None:
        with self._lock:
            if value is None:
                self.reserved.pop(name, None)
            else:
                self.reserved[name] = value

    def set_faults(self, plan: FaultPlan) -> None:
        self.fault_plan = plan
        self._faults = {name: FaultState(spec) for name, spec in plan.functions.items()}

    # --- environments -----------------------------------------------------------------------------
    def _reclaim_locked(self, now: float) -> None:
        for (name, _), pool in self._idle.items():
            keep = [env for env in pool if now - env.last_used < self.idle_ttl_s]
            if len(keep) != len(pool):
                self.stats[name].reclaimed += len(pool) - len(keep)
                for env in pool:
                    if env not in keep:
                        env.close()
                pool[:] = keep

    def reclaim_idle(self) -> None:
        with self._lock:
            self._reclaim_locked(self.clock.monotonic())

    def shutdown(self) -> None:
        """Discard every idle environment (their modules go with them)."""
        with self._lock:
            for pool in self._idle.values():
                for env in pool:
                    env.close()
                pool.clear()

    def idle_environments(self, name: str, version: str = LATEST) -> list[str]:
        with self._lock:
            self._reclaim_locked(self.clock.monotonic())
            return [env.id for env in self._idle.get((name, version), [])]

    def _check_limits_locked(self, name: str) -> None:
        busy = self._busy.get(name, 0)
        reserved = self.reserved.get(name)
        if reserved is not None:
            if busy >= reserved:
                raise TooManyRequestsException("ReservedFunctionConcurrentInvocationLimitExceeded")
            return
        unreserved_pool = self.account_limit - sum(self.reserved.values())
        in_use = sum(n for fn, n in self._busy.items() if fn not in self.reserved)
        if in_use >= unreserved_pool:
            raise TooManyRequestsException("ConcurrentInvocationLimitExceeded")

    def _acquire(self, code: FunctionCode, version: str) -> ExecutionEnvironment:
        fault = self._faults.get(code.name)
        with self._lock:
            stats = self.stats[code.name]
            if fault is not None and fault.take_throttle():
                stats.throttles += 1
                raise TooManyRequestsException("ConcurrentInvocationLimitExceeded")
            try:
                self._check_limits_locked(code.name)
            except TooManyRequestsException:
                stats.throttles += 1
                raise
            now = self.clock.monotonic()
            self._reclaim_locked(now)
            pool = self._idle.setdefault((code.name, version), [])
            env = pool.pop() if pool else ExecutionEnvironment(code, version, now)
            self._busy[code.name] = self._busy.get(code.name, 0) + 1
            stats.invocations += 1
            return env

    def _release(self, env: ExecutionEnvironment, keep: bool) -> None:
        with self._lock:
            self._busy[env.code.name] -= 1
            env.last_used = self.clock.monotonic()
            if keep:
                self._idle.setdefault((env.code.name, env.version), []).append(env)
            else:
                env.close()

    def records_since(self, mark: int) -> list[InvocationRecord]:
        """Invocations completed since ``invocation_count`` was ``mark`` (still kept in the log)."""
        with self._lock:
            return [r for r in self.invocations if r.seq >= mark]

    # --- invoke -----------------------------------------------------------------------------------
    def invoke(self, function_name: str, payload: bytes | str | None, qualifier: str | None = None,
               invoked_arn: str | None = None) -> InvokeResult:
        """Run one request. Raises ``KeyError`` for an unknown function and
        :class:`TooManyRequestsException` when throttled."""
        name, qual = split_name(function_name, qualifier)
        code = self.functions[name]
        version = LATEST if qual in (None, LATEST) else qual
        env = self._acquire(code, version)
        sandbox.ensure_routing()
        request_id = str(uuid.uuid4())
        env.environ["_X_AMZN_TRACE_ID"] = trace_header()  # set by Lambda per request; not sampled locally
        ctx = env.context()
        started = time.perf_counter()
        cold = not env.initialized
        keep = True
        error_type: str | None = None
        try:
            with sandbox.activate(ctx):
                body, error_type, keep = self._run(env, code, payload, request_id,
                                                   invoked_arn or code.arn + ("" if qual is None else f":{qual}"))
        finally:
            self._release(env, keep)
        duration_ms = (time.perf_counter() - started) * 1000.0
        log = ctx.log_text()
        with self._lock:
            stats = self.stats[name]
            stats.cold_starts += int(cold and env.initialized)
            stats.errors += int(error_type is not None)
            self.invocations.append(InvocationRecord(name, version, env.id, request_id, cold, duration_ms,
                                                     error_type, log, env.init_ms if cold else None,
                                                     self.invocation_count))
            self.invocation_count += 1
        return InvokeResult(body, "Unhandled" if error_type else None, version, env.id, cold, log, duration_ms)

    def _run(self, env: ExecutionEnvironment, code: FunctionCode, payload: bytes | str | None,
             request_id: str, invoked_arn: str) -> tuple[bytes, str | None, bool]:
        """(response bytes, errorType or None, keep the environment)."""
        if not env.initialized:
            try:
                env.initialize()
            except InitError as exc:
                return _dump(exc.payload | {"requestId": request_id}), exc.payload["errorType"], False
        fault = self._faults.get(code.name)
        if fault is not None and fault.spec.latency_ms:
            time.sleep(fault.spec.latency_ms / 1000.0)
        failure = fault.take_failure() if fault is not None else None
        if failure == "timeout":
            return _timed_out(request_id, code.timeout_s)
        deadline = time.monotonic() + code.timeout_s
        context = LambdaContext(code, env.version, request_id, deadline, invoked_arn)
        handler: Callable[[Any, Any], Any] = env.handler  # type: ignore[assignment]
        try:
            event = json.loads(payload) if payload else {}
            if failure == "error" and fault is not None:
                raise error_class(fault.spec.error or "InjectedFault")(fault.spec.message)
            result = handler(event, context)
            body = _dump(result)
        except Exception as exc:
            error = error_payload(exc) | {"requestId": request_id}
            return _dump(error), error["errorType"], True
        if time.monotonic() > deadline:  # a handler thread cannot be killed: report it late, like Lambda
            return _timed_out(request_id, code.timeout_s)
        return body, None, True


def trace_header() -> str:
    """An X-Ray trace header like the one Lambda sets in ``_X_AMZN_TRACE_ID`` (``Sampled=0``: nothing is
    sent; the SDK makes no-op segments instead of warning that the worker is still initializing)."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


def _timed_out(request_id: str, timeout_s: float) -> tuple[bytes, str, bool]:
    """Lambda's ``Sandbox.Timedout`` answer; the environment is discarded."""
    message = f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
    return _dump({"errorType": "Sandbox.Timedout", "errorMessage": message}), "Sandbox.Timedout", False


def _dump(value: Any) -> bytes:
    return json.dumps(value, default=str, separators=(",", ":")).encode("utf-8")
