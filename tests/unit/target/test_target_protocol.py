"""The ping/answer wire format (DESIGN §3): what is a ping, what is rejected, holds, answers."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from target_helpers import NOT_PINGS, load_event

from thermostat_target import protocol
from thermostat_target.exceptions import NotWarmAwareError, PingError
from thermostat_target.protocol import (
    HARD_HOLD_CAP_MS,
    PING_KEY,
    Answer,
    Ping,
    compute_hold_ms,
    is_ping,
    make_answer,
    make_ping,
    parse_answer,
    parse_ping,
)


def test_make_ping_is_the_design_shape_with_version_first() -> None:
    # GIVEN the fields of the DESIGN §3 example / WHEN built
    ping = make_ping(run="exec-id", batch=0, slot=3, of=10, release_at_ms=1763800000123, max_hold_ms=1000)
    # THEN only the "thermostat" key at top level, "v" first, every field as in the design
    assert list(ping) == [PING_KEY]
    assert next(iter(ping[PING_KEY])) == "v"
    assert ping[PING_KEY] == {"v": 1, "action": "warm", "run": "exec-id", "batch": 0, "slot": 3, "of": 10,
                              "release_at_ms": 1763800000123, "max_hold_ms": 1000, "refresh": True,
                              "period_s": 300}


def test_sample_ping_event_parses_and_round_trips(ping_event: dict[str, Any]) -> None:
    # GIVEN events/ping.json / WHEN parsed
    ping = parse_ping(ping_event)
    # THEN it is a Ping whose wire form is the event itself
    assert isinstance(ping, Ping)
    assert ping.slot == 3 and ping.of == 10 and ping.refresh is True
    assert ping.to_dict() == ping_event
    assert is_ping(ping_event)


def test_ping_is_frozen_and_comparable() -> None:
    ping = Ping(run="r", batch=0, slot=0, of=1, release_at_ms=5, max_hold_ms=0)
    with pytest.raises(AttributeError):
        ping.run = "other"  # type: ignore[misc]
    assert ping == Ping(run="r", batch=0, slot=0, of=1, release_at_ms=5, max_hold_ms=0)
    assert len({ping, Ping(run="r", batch=0, slot=0, of=1, release_at_ms=5, max_hold_ms=0)}) == 1


@pytest.mark.parametrize("name", NOT_PINGS)
def test_events_from_other_sources_are_never_pings_even_carrying_one(name: str) -> None:
    # GIVEN an HTTP / queue / bus / storage event whose body or detail holds a valid ping
    event = load_event(name)
    assert "thermostat" in json.dumps(event)
    # WHEN parsed / THEN it is not a ping: the user's handler will get it
    assert parse_ping(event) is None
    assert not is_ping(event)


@pytest.mark.parametrize("event", [None, "thermostat", b"{}", 3, [], [{"thermostat": {}}], {},
                                   {"Thermostat": {"v": 1}}])
def test_non_dict_or_other_shapes_are_not_pings(event: object) -> None:
    assert parse_ping(event) is None


def _body(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(load_event("ping")[PING_KEY])
    for key, value in changes.items():
        if value is _DELETE:
            del body[key]
        else:
            body[key] = value
    return {PING_KEY: body}


_DELETE = object()


@pytest.mark.parametrize(("event", "code", "field"), [
    ({PING_KEY: "warm"}, "malformed", "thermostat"),
    ({PING_KEY: None}, "malformed", "thermostat"),
    (_body(v=2), "unsupported_version", "thermostat.v"),
    (_body(v=0), "unsupported_version", "thermostat.v"),
    (_body(v="1"), "malformed", "thermostat.v"),
    (_body(v=True), "malformed", "thermostat.v"),
    (_body(v=_DELETE), "malformed", "thermostat.v"),
    (_body(action="cool"), "malformed", "thermostat.action"),
    (_body(action=_DELETE), "malformed", "thermostat.action"),
    (_body(run=""), "malformed", "thermostat.run"),
    (_body(run=7), "malformed", "thermostat.run"),
    (_body(run="x" * 257), "oversized", "thermostat.run"),
    (_body(slot=-1), "malformed", "thermostat.slot"),
    (_body(slot=10), "malformed", "thermostat.slot"),
    (_body(of=0), "malformed", "thermostat.of"),
    (_body(batch=1.5), "malformed", "thermostat.batch"),
    (_body(max_hold_ms=True), "malformed", "thermostat.max_hold_ms"),
    (_body(max_hold_ms=-5), "malformed", "thermostat.max_hold_ms"),
    (_body(release_at_ms=2**60), "oversized", "thermostat.release_at_ms"),
    (_body(release_at_ms="soon"), "malformed", "thermostat.release_at_ms"),
    (_body(refresh="yes"), "malformed", "thermostat.refresh"),
    (_body(period_s=-300), "malformed", "thermostat.period_s"),
    (_body(extra=1), "malformed", "thermostat.extra"),
    (_body(**{f"k{i}": i for i in range(40)}), "oversized", "thermostat"),
])
def test_bad_pings_are_rejected_with_a_named_code_and_field(event: dict[str, Any], code: str, field: str) -> None:
    # GIVEN an event with the ping envelope but a bad body / WHEN parsed
    with pytest.raises(PingError) as info:
        parse_ping(event)
    # THEN a PingError names the problem and the field; it still counts as a ping (handler not called)
    assert (info.value.code, info.value.field) == (code, field)
    assert field in str(info.value)
    assert is_ping(event)


def test_optional_fields_take_their_defaults() -> None:
    ping = parse_ping(_body(refresh=_DELETE, period_s=_DELETE))
    assert ping is not None and ping.refresh is True and ping.period_s == protocol.DEFAULT_PERIOD_S


def test_make_ping_refuses_arguments_out_of_range() -> None:
    with pytest.raises(PingError, match=r"thermostat\.slot"):
        make_ping(run="r", batch=0, slot=5, of=5, release_at_ms=0, max_hold_ms=0)


@pytest.mark.parametrize(("release", "now", "max_hold", "remaining", "expected"), [
    (1500, 1000, 1000, 10_000, 500.0),      # until release_at
    (9000, 1000, 800, 10_000, 800.0),       # sender's cap
    (99_000, 1000, 50_000, 60_000, 2000.0),  # hard cap, whatever the sender says
    (9000, 1000, 5000, 1000, 700.0),        # remaining - margin (300)
    (500, 1000, 1000, 10_000, 0.0),         # release already passed
    (5000, 1000, 1000, 100, 0.0),           # no time left: never negative
    (5000, 1000, 1000, None, 1000.0),       # no context: no remaining bound
])
def test_hold_is_the_minimum_of_all_bounds(release: int, now: int, max_hold: int, remaining: float | None,
                                          expected: float) -> None:
    assert compute_hold_ms(release, now, max_hold, remaining) == expected


@given(st.integers(0, 2**53), st.integers(0, 2**53), st.integers(0, 10**9),
       st.one_of(st.none(), st.floats(-1e6, 1e9)), st.floats(0, 5000))
def test_hold_is_never_negative_nor_above_any_bound(release: int, now: int, max_hold: int,
                                                   remaining: float | None, margin: float) -> None:
    hold = compute_hold_ms(release, now, max_hold, remaining, margin)
    assert 0.0 <= hold <= min(HARD_HOLD_CAP_MS, max_hold)
    assert hold <= max(0.0, release - now)
    if remaining is not None:
        assert hold <= max(0.0, remaining - margin)


def test_answer_round_trips_through_json_bytes() -> None:
    # GIVEN an answer built by the target side / WHEN the workflow parses the Lambda Payload bytes
    wire = make_answer(env="a3f1", cold=True, init_ms=143.24, held_ms=95.0, invocations=1, refreshed=["schema"],
                       cache_ages={"schema": 0.04}, function="orders-api", version="$LATEST")
    answer = parse_answer(json.dumps(wire).encode())
    # THEN every field comes back
    assert answer == Answer(env="a3f1", cold=True, init_ms=143.2, held_ms=95.0, invocations=1,
                            refreshed=("schema",), cache_ages={"schema": 0.0}, function="orders-api",
                            version="$LATEST")
    assert answer.ok and answer.refresh_failed == ()


def test_error_answer_carries_code_and_supported_versions() -> None:
    error = PingError("unsupported_version", "thermostat.v", "version 2 not in supported [1]")
    wire = make_answer(env="e", cold=False, init_ms=0, held_ms=0, invocations=4, error=error)
    assert wire[PING_KEY]["supported"] == [1]
    answer = parse_answer(wire)
    assert not answer.ok and answer.error == "unsupported_version" and "version 2" in (answer.error_message or "")


@pytest.mark.parametrize("payload", [
    {"statusCode": 200, "body": "ok"},                                      # the handler's own output
    {"errorType": "KeyError", "errorMessage": "'x'", "stackTrace": []},     # a Lambda function error
    load_event("ping"),                                                      # an echo of the ping
    {PING_KEY: {"v": 1, "cold": True}},                                      # no env
    {PING_KEY: {"v": 1, "env": "e", "cold": True, "held_ms": "long"}},      # bad number
    {PING_KEY: {"v": 1, "env": "e", "cold": True, "refreshed": "schema"}},  # bad list
    b"not json", "null", None, 42, [],
])
def test_payloads_that_are_not_answers_raise_not_warm_aware(payload: object) -> None:
    with pytest.raises(NotWarmAwareError):
        parse_answer(payload)
