"""``warm_aware``: answer Thermostat's pings without calling the handler; pass every other event through.

A ping is honoured only when the event has the ping envelope (a dict whose only key is ``"thermostat"``)
AND the invocation's context carries Thermostat's ClientContext marker (see
:mod:`thermostat_target.protocol`): only a direct ``Invoke`` can set it, no event source does. Any other
event — including a ping-shaped one delivered by an integration that passes a body through — goes to the
handler unchanged (same objects; no hold, no refresh) and counts as a real invocation.

On an honoured ping the wrapper
1. counts the invocation (``cold`` on the environment's first one, ping or not) and reads the telemetry
   (real invocations since the previous ping, ages of the last real invocation and of that ping),
2. if the ping asks for it, reloads the caches whose entries expire before the next ping (horizon:
   ``period_s`` clamped to ``MAX_PERIOD_S``; each cache at most once per rate-limit interval; bounded by
   the remaining time minus ``margin_ms``; failures are counted, never raised),
3. holds until the batch's shared ``release_at_ms`` (capped: ping's ``max_hold_ms``, the decorator's
   ``max_hold_ms``, 2000 ms, remaining time minus margin),
4. returns the v2 answer: counts and ages only, never a cache name.
A malformed, oversized or wrong-version ping (with the marker) gets an answer with ``error`` and no hold.
"""

from __future__ import annotations

import time

from thermostat_target import config, runtime, snapstart
from thermostat_target._compat import is_async_callable, update_wrapper
from thermostat_target.exceptions import PingError
from thermostat_target.metrics import emit_invocation
from thermostat_target.protocol import (
    DEFAULT_MARGIN_MS,
    ERROR_MALFORMED,
    HARD_HOLD_CAP_MS,
    PING_KEY,
    compute_hold_ms,
    has_marker,
    is_ping,
    make_answer,
    parse_ping,
    refresh_horizon_s,
)
from thermostat_target.refresh import Report, cache_ages, refresh_caches

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from thermostat_target.cache import Refreshable

    Handler = Callable[..., Any]


def _event_and_context(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """``(event, context)`` from ``handler(event, context)`` or a method's ``(self, event, context)``,
    positional or by keyword."""
    if not kwargs:  # how the Lambda runtime calls: the fast path
        if len(args) >= 2:
            return args[-2], args[-1]
        return (args[0] if args else None), None
    if "event" in kwargs:
        return kwargs["event"], kwargs.get("context")
    if "context" in kwargs:
        return (args[-1] if args else None), kwargs["context"]
    return _event_and_context(args, {})


def _remaining_ms(context: Any) -> float | None:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if getter is None:
        return None
    try:
        return float(getter())
    except Exception:
        return None


class _Responder:
    """The ping side of one decorated handler (its settings and caches)."""

    def __init__(
        self, refresh: Iterable[Refreshable] | None, max_hold_ms: float, margin_ms: float,
        metrics: bool | None, clock: Callable[[], float], sleep: Callable[[float], None],
    ) -> None:
        if max_hold_ms < 0 or margin_ms < 0:
            raise ValueError("max_hold_ms and margin_ms must be >= 0")
        self.refresh = None if refresh is None else list(refresh)
        for cache in self.refresh or ():
            if not callable(getattr(cache, "due", None)):
                raise TypeError(f"refresh= takes TTLValue/TTLCache/@cached objects, got {type(cache).__name__}")
        self.max_hold_ms = min(float(max_hold_ms), float(HARD_HOLD_CAP_MS))
        self.margin_ms = float(margin_ms)
        self.metrics = config.metrics_enabled() if metrics is None else bool(metrics)
        self.clock = clock
        self.sleep = sleep

    def caches(self) -> list[Refreshable]:
        """The decorator's list, or every cache of this environment when none was given."""
        return list(self.refresh) if self.refresh is not None else runtime.registered_caches()

    def function_info(self, context: Any) -> tuple[str | None, str | None]:
        name = getattr(context, "function_name", None) or config.function_name()
        version = getattr(context, "function_version", None) or config.function_version()
        return (name if isinstance(name, str) else None, version if isinstance(version, str) else None)

    def real_event(self, context: Any, cold: bool) -> None:
        """The metrics line of a real (non-ping) invocation; callers check ``self.metrics`` first."""
        self._emit(context, ping=False, cold=cold)

    def prepare(self, event: Any, context: Any, cold: bool) -> tuple[float, dict[str, Any]]:
        """Validate, read the telemetry and refresh; returns (seconds to hold, answer fields). Never raises."""
        arrived_ms = self.clock() * 1000.0
        fields: dict[str, Any] = {"env": runtime.env_id, "cold": cold, "invocations": runtime.invocations}
        try:
            ping = parse_ping(event)
        except PingError as exc:
            _log_rejected(exc)
            return 0.0, self._rejected(fields, exc)
        except Exception as exc:  # parse_ping should never get here; stay safe anyway
            return 0.0, self._rejected(fields, PingError(ERROR_MALFORMED, PING_KEY,
                                                         f"unreadable ping ({type(exc).__name__})"))
        assert ping is not None
        real, real_age_ms, ping_age_ms = runtime.ping_telemetry(consume=True)
        caches = self.caches()
        remaining = _remaining_ms(context)
        if ping.refresh:
            timeout_s = None if remaining is None else (remaining - self.margin_ms) / 1000.0
            report = refresh_caches(caches, float(refresh_horizon_s(ping.period_s)), timeout_s=timeout_s,
                                    rate_limit=True)
            if report.refreshed or report.failed or report.limited:
                _log_refresh(report)
        else:
            report = Report()
            report.ages = cache_ages(caches)
        fields.update(late_ms=max(0.0, arrived_ms - ping.release_at_ms), real=real, real_age_ms=real_age_ms,
                      ping_age_ms=ping_age_ms, refreshed=len(report.refreshed),
                      refresh_failed=len(report.failed), caches=len(caches),
                      cache_age_max_s=report.oldest_age())
        hold_ms = compute_hold_ms(ping.release_at_ms, self.clock() * 1000.0,
                                  min(ping.max_hold_ms, self.max_hold_ms), _remaining_ms(context),
                                  self.margin_ms)
        return hold_ms / 1000.0, fields

    def _rejected(self, fields: dict[str, Any], error: PingError) -> dict[str, Any]:
        """An error answer's fields: the telemetry read but not consumed (a rejected ping is not a ping)."""
        real, real_age_ms, ping_age_ms = runtime.ping_telemetry(consume=False)
        caches = self.caches()
        ages = cache_ages(caches)
        fields.update(late_ms=None, real=real, real_age_ms=real_age_ms, ping_age_ms=ping_age_ms,
                      caches=len(caches), cache_age_max_s=max(ages.values()) if ages else None, error=error)
        return fields

    def finish(self, context: Any, fields: dict[str, Any], held_ms: float) -> dict[str, Any]:
        name, version = self.function_info(context)
        if self.metrics:
            self._emit(context, ping=True, cold=fields["cold"], refreshed=fields.get("refreshed", 0),
                       failed=fields.get("refresh_failed", 0))
        return make_answer(init_ms=runtime.init_ms(), held_ms=held_ms, function=name, version=version, **fields)

    def _emit(self, context: Any, *, ping: bool, cold: bool, refreshed: int = 0, failed: int = 0) -> None:
        name = self.function_info(context)[0] or "unknown"
        try:
            emit_invocation(name, ping=ping, cold=cold, refreshed=refreshed, refresh_failed=failed)
        except Exception as exc:  # metrics must never break an invocation
            _log_metrics_failure(exc)

    def answer(self, event: Any, context: Any, cold: bool) -> dict[str, Any]:
        hold_s, fields = self.prepare(event, context, cold)
        held_ms = 0.0
        if hold_s > 0:
            started = self.clock()
            self.sleep(hold_s)
            held_ms = (self.clock() - started) * 1000.0
        return self.finish(context, fields, held_ms)

    async def answer_async(self, event: Any, context: Any, cold: bool) -> dict[str, Any]:
        hold_s, fields = self.prepare(event, context, cold)
        held_ms = 0.0
        if hold_s > 0:
            import asyncio

            started = self.clock()
            await asyncio.sleep(hold_s)
            held_ms = (self.clock() - started) * 1000.0
        return self.finish(context, fields, held_ms)


def _log_refresh(report: Report) -> None:
    import logging

    # names at DEBUG only; the answer carries counts
    logging.getLogger(__name__).debug("ping refresh", extra={
        "refreshed": report.refreshed, "failed": report.failed, "rate_limited": report.limited})


def _log_metrics_failure(exc: Exception) -> None:
    import logging

    logging.getLogger(__name__).warning("metrics line not written", extra={"error": type(exc).__name__})


def _log_rejected(exc: PingError) -> None:
    import logging

    # the code only: the field path may echo a key of the event, which is never logged above DEBUG
    logging.getLogger(__name__).warning("rejected ping", extra={"code": exc.code})
    logging.getLogger(__name__).debug("rejected ping detail", extra={"field": exc.field, "problem": exc.problem})


def _wrap(handler: Handler, responder: _Responder) -> Handler:
    if not callable(handler):
        raise TypeError(f"warm_aware needs a callable handler, got {type(handler).__name__}")
    snapstart.install(responder.caches)
    begin_ping, begin_real = runtime.begin_invocation, runtime.begin_real

    if is_async_callable(handler):

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            event, context = _event_and_context(args, kwargs)
            if is_ping(event) and has_marker(context):
                return await responder.answer_async(event, context, begin_ping())
            cold = begin_real()
            if responder.metrics:
                responder.real_event(context, cold)
            return await handler(*args, **kwargs)

        update_wrapper(async_wrapper, handler)
        async_wrapper.__thermostat_warm_aware__ = True  # type: ignore[attr-defined]
        return async_wrapper

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        event, context = _event_and_context(args, kwargs)
        if is_ping(event) and has_marker(context):
            return responder.answer(event, context, begin_ping())
        cold = begin_real()
        if responder.metrics:
            responder.real_event(context, cold)
        return handler(*args, **kwargs)

    update_wrapper(wrapper, handler)
    wrapper.__thermostat_warm_aware__ = True  # type: ignore[attr-defined]
    return wrapper


def warm_aware(
    handler: Handler | None = None, *, refresh: Iterable[Refreshable] | None = None,
    max_hold_ms: float = HARD_HOLD_CAP_MS, margin_ms: float = DEFAULT_MARGIN_MS, metrics: bool | None = None,
    clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Make a Lambda handler warm-aware. Bare (``@warm_aware``) or configured (``@warm_aware(...)``).

    - ``refresh``: caches (``TTLValue``, ``TTLCache``, ``@cached`` functions) refreshed ahead on pings;
      None (default): every cache created in this environment; ``[]``: none.
    - ``max_hold_ms``: this function's own cap on the hold (never above 2000 ms).
    - ``margin_ms``: time kept free before the function's timeout (hold and refresh stop earlier).
    - ``metrics``: EMF lines on stdout; None: the ``THERMOSTAT_TARGET_METRICS`` env var decides.
    - ``clock`` (epoch seconds) and ``sleep``: injectable for tests (``thermostat_target.testing``); the
      telemetry ages use ``runtime``'s monotonic clock (``runtime.set_clock``).
    Works on functions, ``async def`` handlers and handler objects with ``__call__``. Pings are
    honoured only with the ClientContext marker; every other event reaches the handler unchanged.
    """
    refresh = [getattr(c, "cache", c) for c in refresh] if refresh is not None else None
    responder = _Responder(refresh, max_hold_ms, margin_ms, metrics, clock, sleep)
    if handler is None:
        return lambda h: _wrap(h, responder)
    return _wrap(handler, responder)
