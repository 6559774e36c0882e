"""A ping is honoured only with Thermostat's ClientContext marker; forged ping-shaped events reach the handler."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
from target_helpers import Recorder, load_event

from thermostat_target import TTLValue, runtime, warm_aware
from thermostat_target.protocol import PING_KEY, parse_answer
from thermostat_target.testing import (
    FakeClientContext,
    FakeLambdaContext,
    FakeTimer,
    make_ping,
    marker_client_context,
    ping_context,
)


def _passed_through(name: str) -> dict[str, Any]:
    """What a pass-through integration delivers when a caller posts a ping: the ping itself, top level."""
    event = load_event(name)
    if name == "apigw-rest":    # REST API, non-proxy integration: the request body is the event
        return dict(json.loads(event["body"]))
    if name == "eventbridge":   # a rule target with InputPath "$.detail"
        return dict(event["detail"])
    if name == "sqs":           # a pipe or a consumer forwarding the message body
        return dict(json.loads(event["Records"][0]["body"]))
    raise ValueError(name)


@pytest.fixture
def loads() -> list[int]:
    return []


@pytest.fixture
def handler_parts(timer: FakeTimer, loads: list[int]) -> tuple[Recorder, Any]:
    # GIVEN a warm-aware handler with a cache that has never been loaded (a ping would load it)
    inner = Recorder()
    cache = TTLValue(lambda: loads.append(1) or len(loads), max_age=60, name="secret:prod/db", timer=timer)
    return inner, warm_aware(inner, refresh=[cache], clock=timer, sleep=timer.sleep)


@pytest.mark.parametrize("source", ["apigw-rest", "eventbridge", "sqs"])
@pytest.mark.parametrize("client_context", [None, FakeClientContext(custom={"app": "mobile"}),
                                            FakeClientContext(custom=None, env={"platform": "ios"})],
                         ids=["no-client-context", "other-custom", "no-custom"])
def test_forged_ping_from_an_integration_reaches_the_handler_unchanged(
    source: str, client_context: object, timer: FakeTimer, loads: list[int],
    handler_parts: tuple[Recorder, Any],
) -> None:
    inner, handler = handler_parts
    # GIVEN an exact, valid v2 ping delivered by API Gateway / EventBridge / SQS, with a long hold asked for
    event = _passed_through(source)
    event[PING_KEY]["release_at_ms"] = timer.ms() + 1500
    assert set(event) == {PING_KEY} and event[PING_KEY]["v"] == 2
    before = copy.deepcopy(event)
    context = FakeLambdaContext(clock=timer, client_context=client_context)
    # WHEN invoked without the marker
    result = handler(event, context)
    # THEN the user's handler got the very same objects, unchanged: no hold, no refresh, no answer
    assert result == {"handled": True}
    assert len(inner.calls) == 1 and inner.calls[0][0] is event and inner.calls[0][1] is context
    assert event == before
    assert timer.sleeps == [] and loads == []


def test_the_same_ping_with_the_marker_is_answered(timer: FakeTimer, loads: list[int],
                                                   handler_parts: tuple[Recorder, Any]) -> None:
    inner, handler = handler_parts
    # GIVEN the ping a pass-through integration would deliver / WHEN it comes by a marked direct Invoke
    event = _passed_through("eventbridge")
    event[PING_KEY]["release_at_ms"] = timer.ms() + 1500
    answer = parse_answer(handler(event, ping_context(clock=timer)))
    # THEN it is a ping: answered, held (the 1000 ms the ping allows), the cache loaded, handler untouched
    assert inner.calls == [] and answer.ok and answer.held_ms == pytest.approx(1000.0)
    assert loads == [1] and answer.refreshed == 1


def test_marker_less_ping_counts_as_real_traffic(timer: FakeTimer, plain_context: FakeLambdaContext,
                                                 context: FakeLambdaContext) -> None:
    # GIVEN a forged ping handled by the user's code
    inner = Recorder()
    handler = warm_aware(inner, clock=timer, sleep=timer.sleep)
    handler(make_ping(release_at_ms=timer.ms()), plain_context)
    # WHEN Thermostat's marked ping comes next
    answer = parse_answer(handler(make_ping(release_at_ms=timer.ms()), context))
    # THEN the forged one was a real invocation (and the cold one); this ping found the environment warm
    assert len(inner.calls) == 1
    assert (answer.cold, answer.invocations, answer.real) == (False, 2, 1)


def test_marker_less_ping_to_an_async_handler_reaches_it(plain_context: FakeLambdaContext) -> None:
    seen: list[Any] = []

    @warm_aware
    async def handler(event: Any, context: Any) -> str:
        seen.append(event)
        return "real"

    ping = make_ping()
    assert asyncio.run(handler(ping, plain_context)) == "real" and seen == [ping]
    assert parse_answer(asyncio.run(handler(make_ping(), ping_context()))).ok


def test_marked_ping_of_an_old_version_is_rejected_not_handled(context: FakeLambdaContext,
                                                               timer: FakeTimer) -> None:
    # GIVEN a v1 ping (an old warmer that somehow sets the marker)
    inner = Recorder()
    handler = warm_aware(inner, clock=timer, sleep=timer.sleep)
    ping = make_ping(release_at_ms=timer.ms() + 500, max_hold_ms=1000, v=1)
    # WHEN invoked with the marker / THEN an error answer that names v2, no hold, handler not called
    answer = parse_answer(handler(ping, context))
    assert (answer.error, answer.error_field, answer.supported) == ("unsupported_version", "thermostat.v", (2,))
    assert inner.calls == [] and timer.sleeps == [] and answer.held_ms == 0.0


def test_a_method_handler_reads_the_marker_from_its_context() -> None:
    class Api:
        @warm_aware
        def handle(self, event: Any, context: Any) -> str:
            return "real"

    api = Api()
    ping = make_ping()
    assert api.handle(ping, FakeLambdaContext()) == "real"
    assert parse_answer(api.handle(ping, context=ping_context())).ok
    assert parse_answer(api.handle(event=ping, context=FakeLambdaContext(
        client_context=marker_client_context()))).ok
    assert runtime.invocations == 3
