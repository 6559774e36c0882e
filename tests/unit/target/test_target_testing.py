"""thermostat_target.testing: the helpers users test their own functions with."""

from __future__ import annotations

from typing import Any

import pytest

from thermostat_target import runtime, warm_aware
from thermostat_target.exceptions import NotWarmAwareError
from thermostat_target.protocol import PROTOCOL_VERSION, has_marker, parse_ping
from thermostat_target.testing import (
    FakeLambdaContext,
    FakeTimer,
    assert_warm_aware,
    fresh_environment,
    make_ping,
    marker_client_context,
    ping_context,
    send_ping,
    with_marker,
)


def test_assert_warm_aware_accepts_a_warm_aware_handler() -> None:
    answer = assert_warm_aware(warm_aware(lambda e, c: {"statusCode": 200}))
    assert answer.cold is True and answer.function == "test-function"


def test_assert_warm_aware_names_a_plain_handler() -> None:
    with pytest.raises(AssertionError, match="not warm-aware"):
        assert_warm_aware(lambda e, c: {"statusCode": 200})


def test_assert_warm_aware_catches_a_handler_that_swallows_bad_pings() -> None:
    def sloppy(event: Any, context: Any) -> Any:
        return {"thermostat": {"v": 1, "env": "e", "cold": False}}

    with pytest.raises(AssertionError, match="unsupported version"):
        assert_warm_aware(sloppy)


def test_fake_context_counts_down_with_the_fake_timer() -> None:
    timer = FakeTimer()
    context = FakeLambdaContext(timeout_ms=1000, clock=timer)
    timer.advance(0.4)
    assert context.get_remaining_time_in_millis() == 600
    timer.advance(5)
    assert context.get_remaining_time_in_millis() == 0
    with pytest.raises(ValueError):
        timer.advance(-1)


def test_make_ping_defaults_to_no_hold_and_is_valid() -> None:
    ping = parse_ping(make_ping(slot=2, of=3))
    assert ping is not None and ping.max_hold_ms == 0 and ping.slot == 2 and ping.v == PROTOCOL_VERSION == 2


def test_contexts_with_and_without_the_marker() -> None:
    # GIVEN the context every event source gives, and the one a ping from Thermostat gets
    plain, marked = FakeLambdaContext(), ping_context(function_name="orders-api", timeout_ms=500)
    # THEN only the second carries the marker, in the runtime's shape (custom/env/client)
    assert plain.client_context is None and not has_marker(plain)
    assert has_marker(marked) and marked.function_name == "orders-api"
    assert marked.client_context.custom == {"thermostat": "2"}  # type: ignore[attr-defined]
    assert (marked.client_context.env, marked.client_context.client) == (None, None)  # type: ignore[attr-defined]
    assert has_marker(FakeLambdaContext(client_context=marker_client_context()))


def test_send_ping_answers_like_the_warmer_sees_it() -> None:
    timer = FakeTimer(start=1_700_000_000.0)
    calls: list[Any] = []
    handler = warm_aware(lambda e, c: calls.append(e), clock=timer, sleep=timer.sleep)
    answer = send_ping(handler, ping_context(clock=timer), release_at_ms=timer.ms() + 500, max_hold_ms=1000)
    assert answer.ok and answer.held_ms == 500.0 and timer() == 1_700_000_000.5 and calls == []


def test_with_marker_leaves_the_given_context_alone() -> None:
    # GIVEN a user's own context object without the marker
    timer = FakeTimer()
    mine = FakeLambdaContext(function_name="mine", timeout_ms=1000, clock=timer)
    seen = with_marker(mine)
    # THEN the view carries the marker and forwards the rest; the original is untouched
    assert has_marker(seen) and not has_marker(mine) and mine.client_context is None
    assert seen.function_name == "mine" and seen.get_remaining_time_in_millis() == 1000
    marked = ping_context()
    assert with_marker(marked) is marked
    # AND assert_warm_aware / send_ping accept it as it is
    handler = warm_aware(lambda e, c: None)
    assert assert_warm_aware(handler, mine).function == "mine"
    assert send_ping(handler, mine).function == "mine"


def test_send_ping_to_a_plain_handler_is_not_an_answer() -> None:
    with pytest.raises(NotWarmAwareError):
        send_ping(lambda e, c: {"statusCode": 200})


def test_fresh_environment_can_take_the_telemetry_clock() -> None:
    timer = FakeTimer(start=50.0)
    handler = warm_aware(lambda e, c: None)
    fresh_environment(clock=timer)
    handler({"x": 1}, FakeLambdaContext())
    timer.advance(1.5)
    answer = send_ping(handler)
    assert (answer.real, answer.real_age_ms) == (1, 1500.0)
    assert runtime.last_real_at == 50.0


def test_fresh_environment_starts_cold_again() -> None:
    handler = warm_aware(lambda e, c: None)
    first = assert_warm_aware(handler)
    new_id = fresh_environment()
    again = assert_warm_aware(handler)
    assert again.cold is True and again.env == new_id != first.env
