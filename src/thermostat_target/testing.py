"""Helpers for testing your own warm-aware functions (modelled on structlog's ``testing`` module).

```python
from thermostat_target.testing import FakeLambdaContext, FakeTimer, assert_warm_aware, make_ping

def test_my_handler_is_warm_aware():
    answer = assert_warm_aware(app.handler)     # a ping is answered, the handler is not called
    assert answer.refreshed == ("schema",)

def test_hold_without_sleeping():
    timer = FakeTimer(start=1_700_000_000.0)
    handler = warm_aware(my_handler, clock=timer, sleep=timer.sleep)
    handler(make_ping(release_at_ms=timer.ms() + 500), FakeLambdaContext(clock=timer))
    assert timer() == 1_700_000_000.5
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

    Use it as a cache ``timer`` and as ``warm_aware(clock=..., sleep=...)``."""

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


class FakeLambdaContext:
    """The attributes of the Lambda context object a handler uses, with a settable timeout."""

    def __init__(
        self, function_name: str = "test-function", function_version: str = "$LATEST",
        memory_limit_in_mb: int = 128, timeout_ms: float = 3000.0, region: str = "us-east-1",
        account: str = "123456789012", aws_request_id: str = "00000000-0000-4000-8000-000000000000",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.aws_request_id = aws_request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef"
        self.identity = None
        self.client_context = None
        self._clock = clock or time.monotonic
        self._deadline = self._clock() + timeout_ms / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))


def make_ping(
    *, run: str = "test-run", batch: int = 0, slot: int = 0, of: int = 1, release_at_ms: int | None = None,
    max_hold_ms: int = 0, refresh: bool = True, period_s: int = protocol.DEFAULT_PERIOD_S,
) -> dict[str, Any]:
    """A valid ping with test defaults: no hold (``release_at_ms`` now, ``max_hold_ms`` 0)."""
    if release_at_ms is None:
        release_at_ms = int(time.time() * 1000)
    return protocol.make_ping(run=run, batch=batch, slot=slot, of=of, release_at_ms=release_at_ms,
                              max_hold_ms=max_hold_ms, refresh=refresh, period_s=period_s)


def fresh_environment(clear_caches: bool = False) -> str:
    """Start a new simulated execution environment (new env id, next invocation cold); returns its id."""
    runtime.reset(clear_caches=clear_caches)
    return runtime.env_id


def assert_warm_aware(
    handler: Callable[..., Any], context: Any = None, ping: dict[str, Any] | None = None,
) -> protocol.Answer:
    """Assert ``handler`` answers a ping itself (not with its own output) and rejects a malformed ping
    with an ``error`` instead of running; returns the parsed answer to the valid ping.

    Raises ``AssertionError`` naming what went wrong."""
    context = context if context is not None else FakeLambdaContext()
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
