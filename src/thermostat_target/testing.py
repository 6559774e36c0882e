"""Helpers for testing your own warm-aware functions (modelled on structlog's ``testing`` module).

A ping is honoured only when the invocation's context carries Thermostat's ClientContext marker, as a
ping from the warmer does; :func:`send_ping` and :func:`ping_context` build that for you.

```python
from thermostat_target.testing import FakeLambdaContext, FakeTimer, assert_warm_aware, send_ping

def test_my_handler_is_warm_aware():
    answer = assert_warm_aware(app.handler)     # a ping is answered, the handler is not called
    assert answer.refreshed == 1 and answer.refresh_failed == 0

def test_hold_without_sleeping():
    timer = FakeTimer(start=1_700_000_000.0)
    handler = warm_aware(my_handler, clock=timer, sleep=timer.sleep)
    answer = send_ping(handler, ping_context(clock=timer), release_at_ms=timer.ms() + 500, max_hold_ms=1000)
    assert timer() == 1_700_000_000.5 and answer.held_ms == 500.0
```
"""

from __future__ import annotations

import time

from thermostat_target import protocol, runtime
from thermostat_target.exceptions import NotWarmAwareError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class FakeTimer:
    """A manual clock: ``timer()`` returns seconds; ``advance(s)`` and ``sleep(s)`` move it forward.

    Use it as a cache ``timer``, as ``warm_aware(clock=..., sleep=...)`` and as the telemetry clock
    (``fresh_environment(clock=timer)``)."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a FakeTimer never goes back")
        self.now += seconds
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def ms(self) -> int:
        """The current time in integer milliseconds (for ``release_at_ms``)."""
        return round(self.now * 1000)


class FakeClientContext:
    """``context.client_context`` as the Lambda Python runtime builds it: ``custom``, ``env``, ``client``."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, custom: dict[str, Any] | None = None, env: dict[str, Any] | None = None,
                 client: object = None) -> None:
        self.custom = custom
        self.env = env
        self.client = client


def marker_client_context() -> FakeClientContext:
    """The client context of an invocation by Thermostat's warmer (it carries the marker)."""
    return FakeClientContext(custom=protocol.marker_custom())


class FakeLambdaContext:
    """The attributes of the Lambda context object a handler uses, with a settable timeout.

    ``client_context`` is None by default, as for every event source; pass
    ``marker_client_context()`` (or use :func:`ping_context`) for what a ping from Thermostat gets."""

    def __init__(
        self, function_name: str = "test-function", function_version: str = "$LATEST",
        memory_limit_in_mb: int = 128, timeout_ms: float = 3000.0, region: str = "us-east-1",
        account: str = "123456789012", aws_request_id: str = "00000000-0000-4000-8000-000000000000",
        clock: Callable[[], float] | None = None, client_context: object = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.aws_request_id = aws_request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef"
        self.identity = None
        self.client_context = client_context
        self._clock = clock or time.monotonic
        self._deadline = self._clock() + timeout_ms / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))


def ping_context(**kwargs: Any) -> FakeLambdaContext:
    """A :class:`FakeLambdaContext` (same arguments) as a ping from Thermostat gets it: with the marker."""
    kwargs.setdefault("client_context", marker_client_context())
    return FakeLambdaContext(**kwargs)


class _Marked:
    """Another context seen through, with the marker as its ``client_context`` (the original is untouched)."""

    def __init__(self, context: object) -> None:
        self._context = context
        self.client_context = marker_client_context()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def with_marker(context: Any) -> Any:
    """``context`` if it carries the marker, else a view of it that does (attributes and methods forwarded)."""
    return context if protocol.has_marker(context) else _Marked(context)


def make_ping(
    *, run: str = "test-run", batch: int = 0, slot: int = 0, of: int = 1, release_at_ms: int | None = None,
    max_hold_ms: int = 0, refresh: bool = True, period_s: int = protocol.DEFAULT_PERIOD_S,
    v: int = protocol.PROTOCOL_VERSION,
) -> dict[str, Any]:
    """A valid ping event with test defaults: no hold (``release_at_ms`` now, ``max_hold_ms`` 0). Invoke
    the handler with it and a context carrying the marker (:func:`ping_context`), or use :func:`send_ping`."""
    if release_at_ms is None:
        release_at_ms = int(time.time() * 1000)
    return protocol.make_ping(run=run, batch=batch, slot=slot, of=of, release_at_ms=release_at_ms,
                              max_hold_ms=max_hold_ms, refresh=refresh, period_s=period_s, v=v)


def send_ping(handler: Callable[..., Any], context: Any = None, **ping_fields: Any) -> protocol.Answer:
    """Invoke ``handler`` as Thermostat does (a ping from :func:`make_ping` with ``ping_fields``, and a
    context with the marker: ``context`` seen through :func:`with_marker`, default :func:`ping_context`);
    returns the parsed :class:`~thermostat_target.protocol.Answer`. Raises ``NotWarmAwareError`` when the
    handler does not answer it."""
    context = ping_context() if context is None else with_marker(context)
    return protocol.parse_answer(handler(make_ping(**ping_fields), context))


def fresh_environment(clear_caches: bool = False, clock: Callable[[], float] | None = None) -> str:
    """Start a new simulated execution environment (new env id, next invocation cold, telemetry empty);
    ``clock``: the monotonic clock of the telemetry ages (e.g. a :class:`FakeTimer`). Returns its id."""
    runtime.reset(clear_caches=clear_caches)
    runtime.set_clock(clock)
    return runtime.env_id


def assert_warm_aware(
    handler: Callable[..., Any], context: Any = None, ping: dict[str, Any] | None = None,
) -> protocol.Answer:
    """Assert ``handler`` answers a ping itself (not with its own output) and rejects a malformed ping
    with an ``error`` instead of running; returns the parsed answer to the valid ping. ``context`` gets
    the marker (see :func:`with_marker`) if it lacks it.

    Raises ``AssertionError`` naming what went wrong."""
    context = ping_context() if context is None else with_marker(context)
    try:
        answer = protocol.parse_answer(handler(ping or make_ping(), context))
    except NotWarmAwareError as exc:
        raise AssertionError(f"handler is not warm-aware: {exc}") from None
    if answer.error is not None:
        raise AssertionError(f"handler rejected a valid ping: {answer.error}: {answer.error_message}")
    try:
        rejected = protocol.parse_answer(handler({protocol.PING_KEY: {"v": 999}}, context))
    except NotWarmAwareError as exc:
        raise AssertionError(f"handler passed a malformed ping to its own code: {exc}") from None
    if rejected.error is None:
        raise AssertionError("handler accepted a ping of an unsupported version")
    return answer
