"""thermostat_target.testing: the helpers users test their own functions with."""

from __future__ import annotations

from typing import Any

import pytest

from thermostat_target import warm_aware
from thermostat_target.protocol import parse_ping
from thermostat_target.testing import FakeLambdaContext, FakeTimer, assert_warm_aware, fresh_environment, make_ping


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
    assert ping is not None and ping.max_hold_ms == 0 and ping.slot == 2


def test_fresh_environment_starts_cold_again() -> None:
    handler = warm_aware(lambda e, c: None)
    first = assert_warm_aware(handler)
    new_id = fresh_environment()
    again = assert_warm_aware(handler)
    assert again.cold is True and again.env == new_id != first.env
