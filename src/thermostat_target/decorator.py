"""``warm_aware``: answer Thermostat's pings without calling the handler; pass every other event through.

On a ping (the exact DESIGN §3 shape, see :mod:`thermostat_target.protocol`) the wrapper
1. counts the invocation (``cold`` on the environment's first one, ping or not),
2. if the ping asks for it, reloads the caches whose entries expire before the next ping
   (bounded by the remaining time minus ``margin_ms``; failures are reported, never raised),
3. holds until the batch's shared ``release_at_ms`` (capped: ping's ``max_hold_ms``, the decorator's
   ``max_hold_ms``, 2000 ms, remaining time minus margin),
4. returns the answer (``env``, ``cold``, ``init_ms``, ``held_ms``, ``invocations``, ``refreshed``,
   ``refresh_failed``, ``cache_ages``, ``function``, ``version``).
A malformed, oversized or wrong-version ping gets an answer with ``error`` and no hold. Any other
event (HTTP front doors, SQS, SNS, EventBridge, S3, ...) goes to the handler untouched.
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
    is_ping,
    make_answer,
    parse_ping,
)
from thermostat_target.refresh import Report, cache_ages, refresh_caches

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from thermostat_target.cache import Refreshable

    Handler = Callable[..., Any]


def _event_and_context(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """``(event, context)`` from ``handler(event, context)`` or a method's ``(self, event, context)``."""
    if len(args) >= 2:
        return args[-2], args[-1]
    if len(args) == 1:
        return args[0], kwargs.get("context")
    return kwargs.get("event"), kwargs.get("context")


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
        """Validate and refresh; returns (seconds to hold, answer fields so far). Never raises."""
        fields: dict[str, Any] = {"env": runtime.env_id, "cold": cold, "invocations": runtime.invocations}
        try:
            ping = parse_ping(event)
        except PingError as exc:
            _log_rejected(exc)
            fields["error"] = exc
            return 0.0, fields
        except Exception as exc:  # parse_ping should never get here; stay safe anyway
            fields["error"] = PingError(ERROR_MALFORMED, PING_KEY, f"unreadable ping ({type(exc).__name__})")
            return 0.0, fields
        assert ping is not None
        remaining = _remaining_ms(context)
        report = Report()
        if ping.refresh:
            timeout_s = None if remaining is None else (remaining - self.margin_ms) / 1000.0
            report = refresh_caches(self.caches(), float(ping.period_s), timeout_s=timeout_s)
        else:
            report.ages = cache_ages(self.caches())
        fields.update(refreshed=report.refreshed, refresh_failed=report.failed, cache_ages=report.ages)
        hold_ms = compute_hold_ms(ping.release_at_ms, self.clock() * 1000.0,
                                  min(ping.max_hold_ms, self.max_hold_ms), _remaining_ms(context),
                                  self.margin_ms)
        return hold_ms / 1000.0, fields

    def finish(self, context: Any, fields: dict[str, Any], held_ms: float) -> dict[str, Any]:
        name, version = self.function_info(context)
        error = fields.pop("error", None)
        if self.metrics:
            self._emit(context, ping=True, cold=fields["cold"], refreshed=len(fields.get("refreshed", ())),
                       failed=len(fields.get("refresh_failed", ())))
        return make_answer(init_ms=runtime.init_ms(), held_ms=held_ms, function=name, version=version,
                           error=error, **fields)

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
    begin = runtime.begin_invocation

    if is_async_callable(handler):

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            event, context = _event_and_context(args, kwargs)
            cold = begin()
            if is_ping(event):
                return await responder.answer_async(event, context, cold)
            if responder.metrics:
                responder.real_event(context, cold)
            return await handler(*args, **kwargs)

        update_wrapper(async_wrapper, handler)
        async_wrapper.__thermostat_warm_aware__ = True  # type: ignore[attr-defined]
        return async_wrapper

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        event, context = _event_and_context(args, kwargs)
        cold = begin()
        if is_ping(event):
            return responder.answer(event, context, cold)
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
    - ``clock`` (epoch seconds) and ``sleep``: injectable for tests (``thermostat_target.testing``).
    Works on functions, ``async def`` handlers and handler objects with ``__call__``.
    """
    refresh = [getattr(c, "cache", c) for c in refresh] if refresh is not None else None
    responder = _Responder(refresh, max_hold_ms, margin_ms, metrics, clock, sleep)
    if handler is None:
        return lambda h: _wrap(h, responder)
    return _wrap(handler, responder)
