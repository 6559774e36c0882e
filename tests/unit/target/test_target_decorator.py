"""warm_aware: marked pings answered without the handler, everything else passed through untouched."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest
from target_helpers import NOT_PINGS, Recorder, load_event

from thermostat_target import TTLValue, runtime, warm_aware
from thermostat_target.protocol import PING_KEY, parse_answer
from thermostat_target.testing import FakeLambdaContext, FakeTimer, make_ping, ping_context


def test_ping_is_answered_without_calling_the_handler(timer: FakeTimer, context: FakeLambdaContext,
                                                      ping_event: dict[str, Any]) -> None:
    # GIVEN a warm-aware handler in a fresh environment
    inner = Recorder()
    handler = warm_aware(inner, clock=timer, sleep=timer.sleep)
    # WHEN it gets the sample ping
    expected_hold_ms = ping_event[PING_KEY]["release_at_ms"] - timer.ms()
    answer = parse_answer(handler(ping_event, context))
    # THEN the handler never ran and the answer describes this environment
    assert inner.calls == []
    assert answer.env == runtime.env_id and answer.cold is True and answer.invocations == 1
    assert (answer.function, answer.version) == ("orders-api", "7")
    # AND it held until the shared release_at (fake clock: exactly)
    assert 0 < expected_hold_ms <= 1000 and answer.held_ms == pytest.approx(expected_hold_ms)


def test_second_invocation_is_warm_and_counts(timer: FakeTimer, context: FakeLambdaContext) -> None:
    handler = warm_aware(Recorder(), clock=timer, sleep=timer.sleep)
    handler({"order_id": 1}, context)  # a real request first: that one was the cold start
    answer = parse_answer(handler(make_ping(release_at_ms=timer.ms()), context))
    assert answer.cold is False and answer.invocations == 2


def test_real_events_pass_through_untouched(context: FakeLambdaContext) -> None:
    # GIVEN a handler that returns the very objects it got
    seen: dict[str, Any] = {}

    @warm_aware
    def handler(event: Any, context: Any) -> Any:
        seen["event"], seen["context"] = event, context
        return event

    event = {"thermostat": "not a ping", "order_id": 7}
    # WHEN a real event arrives / THEN same objects in and out, unchanged
    assert handler(event, context) is event
    assert seen["event"] is event and seen["context"] is context
    assert event == {"thermostat": "not a ping", "order_id": 7}


def test_handler_exceptions_propagate_unchanged(context: FakeLambdaContext) -> None:
    @warm_aware()
    def handler(event: Any, context: Any) -> Any:
        raise KeyError("order_id")

    with pytest.raises(KeyError, match="order_id"):
        handler({}, context)


@pytest.mark.parametrize("name", NOT_PINGS)
def test_events_carrying_a_ping_reach_the_handler(name: str, context: FakeLambdaContext) -> None:
    # GIVEN API Gateway/ALB/Function URL/SQS/SNS/EventBridge/S3 events whose payload holds a ping
    inner = Recorder()
    handler = warm_aware(inner)
    # WHEN invoked / THEN the handler runs with the event
    assert handler(load_event(name), context) == {"handled": True}
    assert len(inner.calls) == 1


def test_hold_waits_until_release_at(timer: FakeTimer, context: FakeLambdaContext) -> None:
    handler = warm_aware(Recorder(), clock=timer, sleep=timer.sleep)
    answer = parse_answer(handler(make_ping(release_at_ms=timer.ms() + 450, max_hold_ms=1000), context))
    assert timer.sleeps == [pytest.approx(0.45)]
    assert answer.held_ms == pytest.approx(450.0)


@pytest.mark.parametrize(("decorator_cap", "ping_cap", "timeout_ms", "expected_ms"), [
    (2000, 60_000, 60_000, 2000.0),  # the hard cap, whatever the sender asks
    (250, 1500, 60_000, 250.0),      # the function's own cap
    (2000, 1500, 60_000, 1500.0),    # the sender's cap
    (2000, 1500, 900, 600.0),        # remaining time (900) - margin (300)
    (2000, 1500, 200, 0.0),          # less time left than the margin: no hold
])
def test_hold_is_capped(timer: FakeTimer, decorator_cap: int, ping_cap: int, timeout_ms: int,
                        expected_ms: float) -> None:
    context = ping_context(timeout_ms=timeout_ms, clock=timer)
    handler = warm_aware(Recorder(), max_hold_ms=decorator_cap, clock=timer, sleep=timer.sleep)
    answer = parse_answer(handler(make_ping(release_at_ms=timer.ms() + 10**7, max_hold_ms=ping_cap), context))
    assert answer.held_ms == pytest.approx(expected_ms)


@pytest.mark.parametrize("bad", [{PING_KEY: {"v": 2}}, {PING_KEY: []},
                                 {PING_KEY: {**load_event("ping")[PING_KEY], "max_hold_ms": "forever"}}])
def test_malformed_pings_get_an_error_answer_and_no_hold(timer: FakeTimer, context: FakeLambdaContext,
                                                         bad: dict[str, Any]) -> None:
    inner = Recorder()
    handler = warm_aware(inner, clock=timer, sleep=timer.sleep)
    answer = parse_answer(handler(bad, context))
    assert answer.error in {"malformed", "unsupported_version"} and answer.error_message
    assert answer.held_ms == 0.0 and timer.sleeps == [] and inner.calls == []


def test_nothing_from_the_event_is_logged_at_info(caplog: pytest.LogCaptureFixture,
                                                  context: FakeLambdaContext) -> None:
    # GIVEN pings that carry a secret in a bad field, and a loader that fails
    secret = "s3cr3t-token-value"
    handler = warm_aware(Recorder(), refresh=[TTLValue(lambda: 1 / 0, max_age=60, name="bad")])
    with caplog.at_level(logging.DEBUG):
        handler({PING_KEY: {**load_event("ping")[PING_KEY], secret: secret}}, context)
        handler({PING_KEY: {**load_event("ping")[PING_KEY], "run": secret}}, context)
        handler({"body": secret}, context)
    # THEN no record at INFO or above mentions it
    for record in caplog.records:
        if record.levelno >= logging.INFO:
            assert secret not in record.getMessage() and secret not in str(record.__dict__)


def test_init_ms_is_measured_from_the_runtime_start(timer: FakeTimer, context: FakeLambdaContext) -> None:
    # GIVEN the runtime marked the environment's start 250 ms before the first invocation
    runtime.set_init_started(time.time() - 0.25)
    handler = warm_aware(Recorder(), clock=timer, sleep=timer.sleep)
    first = parse_answer(handler(make_ping(release_at_ms=timer.ms()), context))
    later = parse_answer(handler(make_ping(release_at_ms=timer.ms()), context))
    # THEN init_ms covers it (not the decorator's import), and stays the environment's figure
    assert 250.0 <= first.init_ms < 5000.0
    assert later.init_ms == first.init_ms


def test_handler_objects_and_methods_are_supported(context: FakeLambdaContext) -> None:
    class Api:
        def __init__(self) -> None:
            self.hits = 0

        @warm_aware
        def __call__(self, event: Any, context: Any) -> int:
            self.hits += 1
            return self.hits

    api = Api()
    assert api({"x": 1}, context) == 1
    assert parse_answer(api(make_ping(), context)).invocations == 2
    assert api.hits == 1
    wrapped = warm_aware(Recorder())
    assert wrapped.__name__ == "Recorder" and wrapped({"x": 1}, context) == {"handled": True}


def test_async_handlers_stay_async(timer: FakeTimer, context: FakeLambdaContext) -> None:
    calls: list[Any] = []

    @warm_aware(max_hold_ms=20)
    async def handler(event: Any, context: Any) -> str:
        calls.append(event)
        return "real"

    assert asyncio.iscoroutinefunction(handler)
    assert asyncio.run(handler({"a": 1}, context)) == "real"
    # release 300 ms ahead (the holds cap it at 20 ms): a busy machine's stall before the hold can't reach 0
    answer = parse_answer(asyncio.run(handler(make_ping(release_at_ms=int(time.time() * 1000) + 300,
                                                        max_hold_ms=50), context)))
    assert calls == [{"a": 1}] and answer.cold is False and 0.0 < answer.held_ms < 1000.0


def test_refresh_on_ping_and_failures_reported(timer: FakeTimer, context: FakeLambdaContext) -> None:
    # GIVEN one good and one failing cache
    loads: list[int] = []
    good = TTLValue(lambda: loads.append(1) or len(loads), max_age=600, name="schema", timer=timer)
    bad = TTLValue(lambda: 1 / 0, max_age=600, name="broken", timer=timer)
    inner = Recorder()
    handler = warm_aware(inner, refresh=[good, bad], clock=timer, sleep=timer.sleep)
    # WHEN the first ping arrives in this cold environment
    answer = parse_answer(handler(make_ping(release_at_ms=timer.ms()), context))
    # THEN the good one is loaded ahead, the bad one counted as failed, nothing raised
    assert (answer.refreshed, answer.refresh_failed, answer.caches) == (1, 1, 2)
    assert answer.cache_age_max_s == 0.0 and loads == [1]
    # WHEN a ping with refresh=false comes 100 s later / THEN no load, the oldest age reported
    timer.advance(100)
    answer = parse_answer(handler(make_ping(release_at_ms=timer.ms(), refresh=False), context))
    assert (answer.refreshed, answer.refresh_failed, answer.caches) == (0, 0, 2)
    assert answer.cache_age_max_s == 100.0 and loads == [1]


def test_default_refresh_is_every_cache_of_the_environment(timer: FakeTimer, context: FakeLambdaContext) -> None:
    a = TTLValue(lambda: "a", max_age=60, name="a", timer=timer)
    handler = warm_aware(Recorder(), clock=timer, sleep=timer.sleep)
    b = TTLValue(lambda: "b", max_age=60, name="b", timer=timer)  # created after decoration: included too
    none = warm_aware(Recorder(), refresh=[], clock=timer, sleep=timer.sleep)
    answer = parse_answer(handler(make_ping(), context))
    assert (answer.refreshed, answer.caches) == (2, 2)
    answer = parse_answer(none(make_ping(), context))
    assert (answer.refreshed, answer.caches, answer.cache_age_max_s) == (0, 0, None)
    assert a.loaded and b.loaded


def test_a_hanging_loader_is_bounded_by_remaining_time() -> None:
    # GIVEN a loader that blocks and a function with 450 ms left (margin 300 ms -> 150 ms budget)
    release = threading.Event()
    stuck = TTLValue(lambda: release.wait(5), max_age=60, name="stuck")
    handler = warm_aware(Recorder(), refresh=[stuck])
    context = ping_context(timeout_ms=450)
    # WHEN pinged
    started = time.monotonic()
    answer = parse_answer(handler(make_ping(), context))
    elapsed = time.monotonic() - started
    release.set()
    # THEN the answer comes back within the budget (the loader would have taken 5 s), reporting the cache as failed
    assert answer.refresh_failed == 1 and answer.refreshed == 0
    assert elapsed < 2.0
    assert stuck.failures == 1


def test_refresh_list_rejects_non_caches() -> None:
    with pytest.raises(TypeError, match="refresh="):
        warm_aware(refresh=[lambda: 1])  # type: ignore[list-item]
