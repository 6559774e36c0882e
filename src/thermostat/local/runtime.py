"""The local Lambda runtime: routes invokes to real handler code with execution-environment semantics.

- an environment runs one request at a time; a request takes the most recently freed idle environment
  of its function version (LIFO, as Lambda tends to) or starts a new one (a cold start);
- idle environments are reclaimed after ``idle_ttl_s`` on an injectable clock;
- the account limit and per-function reserved concurrency make excess invokes fail with
  :class:`~thermostat.local.exceptions.TooManyRequestsException` (HTTP 429);
- faults from a :class:`~thermostat.local.faults.FaultPlan` are applied per function;
- a handler's exception becomes Lambda's ``FunctionError: Unhandled`` payload;
- stdout/stderr of each invocation is kept in :attr:`LocalLambdaRuntime.invocations`, not printed;
- the Invoke's decoded ``ClientContext`` reaches the handler as ``context.client_context``; an invoke whose
  ``custom`` is Thermostat's marker is a ping, and invocations, cold starts and throttles are counted per
  function split into real and ping (:class:`~thermostat.local.invocations.FunctionStats`);
- ``invoke.jitter_ms`` delays each request before it reaches an environment (a seeded network latency);
- every invoke and throttle is handed to :class:`~thermostat.local.metrics.LambdaMetrics` (AWS/Lambda);
- a code update (:meth:`LocalLambdaRuntime.retire`, called on ``UpdateFunctionCode``) makes a new version of
  the code: the old environments are gone (idle ones at once, busy ones when their request ends) and the
  next request starts a new, cold one, as on Lambda.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
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
from thermostat.local.invocations import (
    PING_MARKER,
    FunctionStats,
    InvocationRecord,
    InvokeResult,
    is_ping,
    split_name,
)
from thermostat.local.metrics import LambdaMetrics

__all__ = ["LATEST", "PING_MARKER", "FunctionStats", "InvocationRecord", "InvokeResult", "LocalLambdaRuntime",
           "is_ping", "split_name"]

DEFAULT_IDLE_TTL_S = 600.0
DEFAULT_ACCOUNT_LIMIT = 1000
LATEST = "$LATEST"
SWEEP_EVERY_S = 1.0  # every pool is checked for idle reclaim at most this often (the invoked pool always)

Hold = float | Callable[[], object] | None  # kept busy after the handler returned: seconds, or until it returns


class LocalLambdaRuntime:
    def __init__(self, *, clock: Clock | None = None, idle_ttl_s: float = DEFAULT_IDLE_TTL_S,
                 account_limit: int = DEFAULT_ACCOUNT_LIMIT, faults: FaultPlan | None = None,
                 keep_invocations: int = 20_000, metrics: LambdaMetrics | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.idle_ttl_s = idle_ttl_s
        self.account_limit = account_limit
        self.metrics = metrics
        self.functions: dict[str, FunctionCode] = {}
        self.reserved: dict[str, int] = {}  # change it through set_reserved_concurrency
        self.stats: dict[str, FunctionStats] = {}
        self.invocations: deque[InvocationRecord] = deque(maxlen=keep_invocations)
        self._idle: dict[tuple[str, str], list[ExecutionEnvironment]] = {}
        self._busy: dict[str, int] = {}
        self._busy_resource: dict[tuple[str, str], int] = {}
        self._total_busy = 0
        self._unreserved_busy = 0
        self._reserved_total = 0
        self._last_sweep = float("-inf")
        self._lock = threading.Lock()
        self._in_use: set[ExecutionEnvironment] = set()
        self._retired: set[ExecutionEnvironment] = set()  # busy when their code was replaced: closed on release
        self._faults: dict[str, FaultState] = {}
        self._jitter_lock = threading.Lock()
        self.invocation_count = 0
        self.set_faults(faults or FaultPlan())

    # --- configuration ---------------------------------------------------------------------------
    def register(self, code: FunctionCode, reserved_concurrency: int | None = None) -> None:
        with self._lock:
            self.functions[code.name] = code
            self.stats.setdefault(code.name, FunctionStats())
        if reserved_concurrency is not None:
            self.set_reserved_concurrency(code.name, reserved_concurrency)

    def set_reserved_concurrency(self, name: str, value: int | None) -> None:
        with self._lock:
            if self.reserved.get(name) == value:
                return
            busy = self._busy.get(name, 0)
            if name not in self.reserved and value is not None:
                self._unreserved_busy -= busy
            elif name in self.reserved and value is None:
                self._unreserved_busy += busy
            if value is None:
                self.reserved.pop(name, None)
            else:
                self.reserved[name] = value
            self._reserved_total = sum(self.reserved.values())
            if self.metrics is not None:
                self.metrics.account(self.clock.time(), self._total_busy, self._unreserved_busy,
                                     self._unreserved_busy + self._reserved_total)

    @property
    def reserved_total(self) -> int:
        return self._reserved_total

    @property
    def busy_total(self) -> int:
        """Environments serving a request right now (all functions)."""
        return self._total_busy

    def set_faults(self, plan: FaultPlan) -> None:
        self.fault_plan = plan
        self._faults = {name: FaultState(spec) for name, spec in plan.functions.items()}
        self._jitter = random.Random(plan.jitter_seed) if plan.jitter_ms else None

    def snapshot(self) -> dict[str, FunctionStats]:
        """A copy of every function's counters (``stats[name].since(snapshot[name])`` is what happened since)."""
        with self._lock:
            return {name: stats.copy() for name, stats in self.stats.items()}

    # --- environments -----------------------------------------------------------------------------
    def _reclaim_pool_locked(self, key: tuple[str, str], pool: list[ExecutionEnvironment], now: float) -> None:
        expired = 0  # the pool is ordered by release time: the expired ones are at its start
        while expired < len(pool) and now - pool[expired].last_used >= self.idle_ttl_s:
            pool[expired].close()
            expired += 1
        if expired:
            del pool[:expired]
            self.stats[key[0]].reclaimed += expired

    def _reclaim_locked(self, now: float, force: bool = False) -> None:
        if not force and now - self._last_sweep < SWEEP_EVERY_S:
            return
        self._last_sweep = now
        for key, pool in self._idle.items():
            if pool:
                self._reclaim_pool_locked(key, pool, now)

    def reclaim_idle(self) -> None:
        with self._lock:
            self._reclaim_locked(self.clock.monotonic(), force=True)

    def shutdown(self) -> None:
        """Discard every idle environment (their modules go with them)."""
        with self._lock:
            for pool in self._idle.values():
                for env in pool:
                    env.close()
                pool.clear()

    def retire(self, name: str, version: str = LATEST) -> int:
        """The code of ``name``'s ``version`` was replaced: every environment of it is gone (idle ones now,
        busy ones when their request ends). Returns how many were idle."""
        with self._lock:
            pool = self._idle.pop((name, version), [])
            for env in pool:
                env.close()
            self._retired.update(env for env in self._in_use if env.code.name == name and env.version == version)
            return len(pool)

    def idle_environments(self, name: str, version: str = LATEST) -> list[str]:
        with self._lock:
            self._reclaim_locked(self.clock.monotonic(), force=True)
            return [env.id for env in self._idle.get((name, version), [])]

    def _check_limits_locked(self, name: str) -> None:
        reserved = self.reserved.get(name)
        if reserved is not None:
            if self._busy.get(name, 0) >= reserved:
                raise TooManyRequestsException("ReservedFunctionConcurrentInvocationLimitExceeded")
            return
        if self._unreserved_busy >= self.account_limit - self._reserved_total:
            raise TooManyRequestsException("ConcurrentInvocationLimitExceeded")

    def _count_busy_locked(self, name: str, resource: str | None, delta: int) -> None:
        busy = self._busy[name] = self._busy.get(name, 0) + delta
        self._total_busy += delta
        if name not in self.reserved:
            self._unreserved_busy += delta
        in_resource = 0
        if resource is not None:
            in_resource = self._busy_resource[(name, resource)] = self._busy_resource.get((name, resource), 0) + delta
        if self.metrics is not None:
            self.metrics.busy(self.clock.time(), name, resource, busy, in_resource, self._total_busy,
                              self._unreserved_busy, self._unreserved_busy + self._reserved_total)

    def _acquire(self, code: FunctionCode, version: str, resource: str | None, ping: bool) -> ExecutionEnvironment:
        fault = self._faults.get(code.name)
        with self._lock:
            stats = self.stats[code.name]
            try:
                if fault is not None and fault.take_throttle(ping):
                    raise TooManyRequestsException("ConcurrentInvocationLimitExceeded")
                self._check_limits_locked(code.name)
            except TooManyRequestsException:
                stats.count("throttles", ping)
                if self.metrics is not None:
                    self.metrics.throttled(self.clock.time(), code.name, resource)
                raise
            now = self.clock.monotonic()
            self._reclaim_locked(now)
            key = (code.name, version)
            pool = self._idle.get(key)
            if pool is None:
                pool = self._idle[key] = []
            self._reclaim_pool_locked(key, pool, now)
            env = pool.pop() if pool else ExecutionEnvironment(code, version, now)
            self._in_use.add(env)
            self._count_busy_locked(code.name, resource, +1)
            stats.count("invocations", ping)
            return env

    def _release(self, env: ExecutionEnvironment, keep: bool, resource: str | None) -> None:
        with self._lock:
            self._count_busy_locked(env.code.name, resource, -1)
            env.last_used = self.clock.monotonic()
            self._in_use.discard(env)
            if env in self._retired:
                self._retired.discard(env)
                keep = False
            if keep:
                self._idle.setdefault((env.code.name, env.version), []).append(env)
            else:
                env.close()

    def records_since(self, mark: int) -> list[InvocationRecord]:
        """Invocations completed since ``invocation_count`` was ``mark`` (still kept in the log)."""
        with self._lock:
            return [r for r in self.invocations if r.seq >= mark]

    def _network_delay(self) -> None:
        """``invoke.jitter_ms``: a random latency before the request reaches an environment."""
        if self._jitter is None or self.fault_plan.jitter_ms is None:
            return
        low, high = self.fault_plan.jitter_ms
        with self._jitter_lock:
            delay_ms = self._jitter.uniform(low, high)
        time.sleep(delay_ms / 1000.0)

    # --- invoke -----------------------------------------------------------------------------------
    def invoke(self, function_name: str, payload: bytes | str | None, qualifier: str | None = None,
               invoked_arn: str | None = None, *, client_context: Mapping[str, Any] | None = None,
               resource: str | None = None, hold: Hold = None) -> InvokeResult:
        """Run one request. Raises ``KeyError`` for an unknown function and
        :class:`TooManyRequestsException` when throttled.

        ``qualifier`` is the version to run; ``resource`` the qualifier as invoked (an alias name, for the
        metrics' ``Resource`` dimension; default: ``qualifier``); ``client_context`` the decoded ClientContext
        (``context.client_context``); ``hold`` keeps the environment busy after the handler returned (the
        traffic generator's simulated service time)."""
        name, qual = split_name(function_name, qualifier)
        code = self.functions[name]
        version = LATEST if qual in (None, LATEST) else qual
        resource = resource if resource is not None else (None if version == LATEST else version)
        ping = is_ping(client_context)
        self._network_delay()
        env = self._acquire(code, version, resource, ping)
        sandbox.ensure_routing()
        request_id = str(uuid.uuid4())
        env.environ["_X_AMZN_TRACE_ID"] = trace_header()  # set by Lambda per request; not sampled locally
        ctx = env.context()
        started_at = self.clock.time()
        started = time.perf_counter()
        cold = not env.initialized
        keep = True
        error_type: str | None = None
        try:
            with sandbox.activate(ctx):
                body, error_type, keep = self._run(env, code, payload, request_id,
                                                   invoked_arn or code.arn + ("" if qual is None else f":{qual}"),
                                                   client_context)
            if hold is not None:
                hold() if callable(hold) else time.sleep(hold)
        finally:
            self._release(env, keep, resource)
        duration_ms = (time.perf_counter() - started) * 1000.0
        log = ctx.log_text()
        if self.metrics is not None:
            self.metrics.invoked(started_at, name, resource, duration_ms, error_type is not None)
        with self._lock:
            stats = self.stats[name]
            stats.count("cold_starts", ping, int(cold and env.initialized))
            stats.errors += int(error_type is not None)
            self.invocations.append(InvocationRecord(name, version, env.id, request_id, cold, duration_ms,
                                                     error_type, log, env.init_ms if cold else None,
                                                     self.invocation_count, ping))
            self.invocation_count += 1
        return InvokeResult(body, "Unhandled" if error_type else None, version, env.id, cold, log, duration_ms)

    def _run(self, env: ExecutionEnvironment, code: FunctionCode, payload: bytes | str | None,
             request_id: str, invoked_arn: str,
             client_context: Mapping[str, Any] | None = None) -> tuple[bytes, str | None, bool]:
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
        context = LambdaContext(code, env.version, request_id, deadline, invoked_arn, client_context)
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
