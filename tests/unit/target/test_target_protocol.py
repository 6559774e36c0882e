"""The ping/answer wire format v2: what is a ping, what is rejected, holds, answers (v1 and v2)."""

from __future__ import annotations

import base64
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


def test_make_ping_is_the_documented_shape_with_version_first() -> None:
    # GIVEN the fields of the documented example / WHEN built
    ping = make_ping(run="exec-id", batch=0, slot=3, of=10, release_at_ms=1763800000123, max_hold_ms=1000)
    # THEN only the "thermostat" key at top level, "v" (2) first, every field as documented
    assert list(ping) == [PING_KEY]
    assert next(iter(ping[PING_KEY])) == "v"
    assert ping[PING_KEY] == {"v": 2, "action": "warm", "run": "exec-id", "batch": 0, "slot": 3, "of": 10,
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
    (_body(v=1), "unsupported_version", "thermostat.v"),
    (_body(v=3), "unsupported_version", "thermostat.v"),
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
    # GIVEN a v2 answer built by the target side / WHEN the workflow parses the Lambda Payload bytes
    wire = make_answer(env="a3f1", cold=False, init_ms=143.24, held_ms=95.0, late_ms=3.04, invocations=42,
                       real=7, real_age_ms=1250.0, ping_age_ms=300012.54, refreshed=1, refresh_failed=0,
                       caches=2, cache_age_max_s=212.44, function="orders-api", version="$LATEST")
    assert list(wire[PING_KEY]) == ["v", "env", "cold", "init_ms", "held_ms", "late_ms", "invocations", "real",
                                    "real_age_ms", "ping_age_ms", "refreshed", "refresh_failed", "caches",
                                    "cache_age_max_s", "function", "version"]
    answer = parse_answer(json.dumps(wire).encode())
    # THEN every field comes back (durations rounded to 0.1)
    assert answer == Answer(env="a3f1", cold=False, init_ms=143.2, held_ms=95.0, late_ms=3.0, invocations=42,
                            real=7, real_age_ms=1250.0, ping_age_ms=300012.5, refreshed=1, refresh_failed=0,
                            caches=2, cache_age_max_s=212.4, function="orders-api", version="$LATEST", v=2)
    assert answer.ok and answer.supported is None


def test_first_answer_of_an_environment_has_null_ages() -> None:
    wire = make_answer(env="e", cold=True, init_ms=100, held_ms=0, invocations=1)
    body = wire[PING_KEY]
    assert (body["real"], body["real_age_ms"], body["ping_age_ms"], body["cache_age_max_s"]) == (0, None, None, None)
    answer = parse_answer(json.dumps(wire))
    assert (answer.real, answer.real_age_ms, answer.ping_age_ms, answer.cache_age_max_s) == (0, None, None, None)


def test_error_answer_carries_code_field_and_supported_versions() -> None:
    error = PingError("unsupported_version", "thermostat.v", "version 1 not in supported [2]")
    wire = make_answer(env="e", cold=False, init_ms=0, held_ms=0, invocations=4, late_ms=None, error=error)
    assert wire[PING_KEY]["supported"] == [2]
    answer = parse_answer(wire)
    assert not answer.ok and answer.error == "unsupported_version" and answer.error_field == "thermostat.v"
    assert "version 1" in (answer.error_message or "") and answer.supported == (2,) and answer.late_ms is None


def test_v1_answers_still_parse_with_the_new_fields_none() -> None:
    # GIVEN what a v1 library answers (names in lists, ages by name), as stored before this version
    v1 = {PING_KEY: {"v": 1, "env": "a3f1", "cold": True, "init_ms": 143.2, "held_ms": 95.0, "invocations": 3,
                     "refreshed": ["schema", "rates"], "refresh_failed": ["secret:db"],
                     "cache_ages": {"schema": 0.0, "rates": 42.5}, "function": "orders-api", "version": "7"}}
    # WHEN parsed by the v2 sender
    answer = parse_answer(json.dumps(v1).encode())
    # THEN counts and the oldest age come through, the fields v1 lacks are None, and no name is kept
    assert (answer.v, answer.env, answer.cold, answer.invocations) == (1, "a3f1", True, 3)
    assert (answer.refreshed, answer.refresh_failed, answer.cache_age_max_s) == (2, 1, 42.5)
    assert (answer.late_ms, answer.real, answer.real_age_ms, answer.ping_age_ms, answer.caches) == (
        None, None, None, None, None)
    assert "schema" not in repr(answer)


def test_v1_rejection_tells_the_sender_to_fall_back() -> None:
    # GIVEN an old library rejecting a v2 ping (what make_answer(v=1) reproduces for the sender's tests)
    error = PingError("unsupported_version", "thermostat.v", "version 2 not in supported [1]")
    wire = make_answer(env="e", cold=False, init_ms=0, held_ms=0, invocations=9, error=error, v=1)
    assert wire[PING_KEY]["refreshed"] == [] and wire[PING_KEY]["cache_ages"] == {}
    answer = parse_answer(json.dumps(wire))
    # THEN the sender sees the code and that the target speaks v1, and can build a v1 ping
    assert (answer.v, answer.error, answer.supported) == (1, "unsupported_version", (1,))
    v1_ping = make_ping(run="r", batch=0, slot=0, of=1, release_at_ms=0, max_hold_ms=0, v=1)
    assert v1_ping[PING_KEY]["v"] == 1 and set(v1_ping[PING_KEY]) == set(load_event("ping")[PING_KEY])


def test_make_ping_builds_only_known_versions() -> None:
    for v in (0, 3):
        with pytest.raises(PingError, match="unsupported_version"):
            make_ping(run="r", batch=0, slot=0, of=1, release_at_ms=0, max_hold_ms=0, v=v)


@pytest.mark.parametrize("payload", [
    {"statusCode": 200, "body": "ok"},                                      # the handler's own output
    {"errorType": "KeyError", "errorMessage": "'x'", "stackTrace": []},     # a Lambda function error
    load_event("ping"),                                                      # an echo of the ping
    {PING_KEY: {"v": 1, "cold": True}},                                      # no env
    {PING_KEY: {"v": 1, "env": "e", "cold": True, "held_ms": "long"}},      # bad number
    {PING_KEY: {"v": 1, "env": "e", "cold": True, "refreshed": "schema"}},  # bad v1 list
    {PING_KEY: {"v": 1, "env": "e", "cold": True, "cache_ages": {"a": "old"}}},  # bad v1 age
    {PING_KEY: {"v": 2, "env": "e", "cold": True, "refreshed": ["schema"]}},  # v2 counts, not names
    {PING_KEY: {"v": 2, "env": "e", "cold": True, "real": -1}},              # negative count
    {PING_KEY: {"v": 2, "env": "e", "cold": True, "late_ms": True}},         # bool is not a number
    b"not json", "null", None, 42, [],
])
def test_payloads_that_are_not_answers_raise_not_warm_aware(payload: object) -> None:
    with pytest.raises(NotWarmAwareError):
        parse_answer(payload)


def test_the_marker_client_context_is_base64_json_with_the_custom_key() -> None:
    # GIVEN what the warmer passes to Invoke as ClientContext / WHEN decoded as Lambda does
    decoded = json.loads(base64.b64decode(protocol.client_context_b64()))
    # THEN it is the documented marker, and small (ClientContext allows 3,583 bytes)
    assert decoded == {"custom": {"thermostat": "2"}} and decoded["custom"] == protocol.marker_custom()
    assert len(protocol.client_context_b64()) < 100


class _RuntimeClientContext:
    """The Python runtime's ClientContext object (slots custom, env, client; missing keys are None)."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, custom: object = None) -> None:
        self.custom, self.env, self.client = custom, None, None


@pytest.mark.parametrize(("client_context", "expected"), [
    (_RuntimeClientContext({"thermostat": "2"}), True),
    (_RuntimeClientContext({"thermostat": "3", "app": "x"}), True),  # a newer warmer: answered, not handled
    ({"custom": {"thermostat": "2"}}, True),                          # a dict (local runtimes, tests)
    (None, False),
    (_RuntimeClientContext(None), False),                             # a ClientContext without "custom"
    (_RuntimeClientContext({"app": "mobile"}), False),
    (_RuntimeClientContext({"thermostat": ""}), False),
    (_RuntimeClientContext({"thermostat": 2}), False),
    (_RuntimeClientContext("thermostat"), False),
    ({"custom": None}, False),
])
def test_has_marker_reads_the_runtime_client_context(client_context: object, expected: bool) -> None:
    context = type("Context", (), {"client_context": client_context})()
    assert protocol.has_marker(context) is expected


@pytest.mark.parametrize("context", [None, object(), "ctx", {"client_context": {"custom": {"thermostat": "2"}}}])
def test_has_marker_is_false_without_a_client_context_attribute(context: object) -> None:
    assert protocol.has_marker(context) is False


@pytest.mark.parametrize(("period_s", "horizon"), [(0, 0), (300, 300), (3600, 3600), (10**12, 3600),
                                                    (2**53, protocol.MAX_PERIOD_S)])
def test_refresh_horizon_is_clamped(period_s: int, horizon: int) -> None:
    assert protocol.refresh_horizon_s(period_s) == horizon


@pytest.mark.parametrize("event", [
    _body(v=10**5000),
    _body(batch=-(10**5000)),
    _body(release_at_ms=10**5000),
    _body(**{"k" * 100_000: 1}),
    _body(run="r" * 100_000),
])
def test_rejections_never_echo_big_input(event: dict[str, Any]) -> None:
    # GIVEN a ping body with a huge number, key or string / WHEN rejected and answered
    with pytest.raises(PingError) as info:
        parse_ping(event)
    wire = make_answer(env="e", cold=False, init_ms=0, held_ms=0, invocations=1, error=info.value)
    # THEN the error answer stays small and carries no long run of the input
    text = json.dumps(wire)
    assert len(text) < 1000
    assert "0000000000" not in text and "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" not in text
    assert "rrrrrrrrrr" not in text
