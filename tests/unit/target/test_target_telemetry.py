"""Answer v2 telemetry (real invocations, ages, lateness), no names in answers, refresh rate limit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from thermostat_target import TTLCache, TTLValue, runtime, warm_aware
from thermostat_target.protocol import MAX_PERIOD_S, PING_KEY, parse_answer
from thermostat_target.refresh import refresh_interval_s
from thermostat_target.testing import FakeLambdaContext, FakeTimer, fresh_environment, make_ping, ping_context

V2_KEYS = {"v", "env", "cold", "init_ms", "held_ms", "late_ms", "invocations", "real", "real_age_ms",
           "ping_age_ms", "refreshed", "refresh_failed", "caches", "cache_age_max_s", "function", "version"}


class Clocked:
    """A warm-aware handler on a fake clock (hold, lateness and telemetry ages all on ``timer``); each
    invocation gets a new context (its own 3 s deadline on that clock)."""

    def __init__(self, timer: FakeTimer, refresh: list[Any] | None = None) -> None:
        fresh_environment(clock=timer)
        self.timer = timer
        self.real_calls = 0
        self.handler = warm_aware(self._real, refresh=refresh, clock=timer, sleep=timer.sleep)

    @property
    def context(self) -> FakeLambdaContext:
        """A new context of a ping from Thermostat (with the marker)."""
        return ping_context(function_name="orders-api", timeout_ms=3000, clock=self.timer)

    @property
    def plain(self) -> FakeLambdaContext:
        """A new context of a real request (no client context)."""
        return FakeLambdaContext(function_name="orders-api", timeout_ms=3000, clock=self.timer)

    def _real(self, event: Any, context: Any) -> str:
        self.real_calls += 1
        return "real"

    def real(self, after_s: float = 0.0) -> None:
        self.timer.advance(after_s)
        assert self.handler({"order_id": 1}, self.plain) == "real"

    def wire(self, after_s: float = 0.0, **ping: Any) -> dict[str, Any]:
        self.timer.advance(after_s)
        ping.setdefault("release_at_ms", self.timer.ms())
        return self.handler(make_ping(**ping), self.context)  # type: ignore[no-any-return]

    def ping(self, after_s: float = 0.0, **ping: Any) -> Any:
        return parse_answer(self.wire(after_s, **ping))


@pytest.fixture
def env(timer: FakeTimer) -> Clocked:
    return Clocked(timer)


def test_telemetry_across_real_invocations_and_pings(env: Clocked) -> None:
    # GIVEN a new environment whose first invocation is a ping
    first = env.ping()
    # THEN nothing real yet, no previous ping
    assert (first.cold, first.invocations, first.real, first.real_age_ms, first.ping_age_ms) == (
        True, 1, 0, None, None)
    # WHEN two real requests come 10 s and 15 s later, then a ping 2 s after the second
    env.real(10)
    env.real(5)
    second = env.ping(2)
    # THEN it counts them, the latest started 2 s ago, the previous ping was 17 s ago
    assert (second.cold, second.invocations, second.real) == (False, 4, 2)
    assert (second.real_age_ms, second.ping_age_ms) == (2000.0, 17000.0)
    # WHEN another ping comes 3 s later with no traffic in between
    third = env.ping(3)
    # THEN no real invocation since the last ping, but the last real one is remembered
    assert (third.invocations, third.real, third.real_age_ms, third.ping_age_ms) == (5, 0, 5000.0, 3000.0)
    assert env.real_calls == 2


def test_a_rejected_ping_is_not_the_previous_ping(env: Clocked) -> None:
    env.ping()
    env.real(1)
    # WHEN a ping of an unsupported version comes 1 s later, then a valid one 1 s after that
    rejected = env.ping(1, v=1)
    valid = env.ping(1)
    # THEN the rejection reports the telemetry without consuming it
    assert rejected.error == "unsupported_version" and rejected.late_ms is None
    assert (rejected.real, rejected.real_age_ms, rejected.ping_age_ms) == (1, 1000.0, 2000.0)
    assert (valid.real, valid.real_age_ms, valid.ping_age_ms, valid.invocations) == (1, 2000.0, 3000.0, 4)


def test_real_first_then_ping(env: Clocked) -> None:
    # GIVEN real traffic made the environment (a real cold start)
    env.real()
    answer = env.ping(0.25)
    # THEN the ping finds it warm, one real invocation 250 ms ago, no previous ping
    assert (answer.cold, answer.real, answer.real_age_ms, answer.ping_age_ms) == (False, 1, 250.0, None)


@pytest.mark.parametrize(("release_in_ms", "late_ms", "held_ms"), [
    (-250, 250.0, 0.0),   # arrived 250 ms after the release time: no hold
    (0, 0.0, 0.0),
    (120, 0.0, 120.0),    # early: held until release
])
def test_late_ms_and_held_ms(env: Clocked, release_in_ms: int, late_ms: float, held_ms: float) -> None:
    answer = env.ping(release_at_ms=env.timer.ms() + release_in_ms, max_hold_ms=1000)
    assert (answer.late_ms, answer.held_ms) == (late_ms, held_ms)


def test_a_restored_snapshot_starts_its_telemetry_afresh(env: Clocked) -> None:
    env.ping()
    env.real(1)
    runtime.new_environment()
    answer = env.ping(1)
    assert (answer.cold, answer.real, answer.real_age_ms, answer.ping_age_ms) == (True, 0, None, None)


def test_answers_never_name_a_cache(timer: FakeTimer) -> None:
    # GIVEN caches named after secrets and parameters, one of them failing
    names = ["secret:prod/db-password", "ssm:/prod/api-key", "rates-by-currency", "broken-vault"]
    caches: list[Any] = [TTLValue(lambda: "v", max_age=600, name=names[0], timer=timer),
                         TTLValue(lambda: "k", max_age=60, name=names[1], timer=timer),
                         TTLCache(lambda c: 1.0, max_age=120, name=names[2], timer=timer),
                         TTLValue(lambda: 1 / 0, max_age=60, name=names[3], timer=timer)]
    caches[2].get("EUR")
    env = Clocked(timer, refresh=caches)
    # WHEN answering refreshing, non-refreshing and rejected pings
    wires = [env.wire(), env.wire(100, refresh=False), env.wire(200), env.wire(1, v=1)]
    # THEN no answer names any cache; valid ones carry exactly the v2 fields with counts and ages
    for wire in wires:
        text = json.dumps(wire)
        assert not [name for name in names if name in text]
        assert not any(part in text for part in ("db-password", "api-key", "vault", "rates"))
    assert set(wires[0][PING_KEY]) == V2_KEYS and set(wires[2][PING_KEY]) == V2_KEYS
    first, quiet, rejected = parse_answer(wires[0]), parse_answer(wires[1]), parse_answer(wires[3])
    assert (first.refreshed, first.refresh_failed, first.caches) == (3, 1, 4)
    assert (quiet.refreshed, quiet.refresh_failed, quiet.caches, quiet.cache_age_max_s) == (0, 0, 4, 100.0)
    assert (rejected.error, rejected.refreshed, rejected.caches, rejected.cache_age_max_s) == (
        "unsupported_version", 0, 4, 1.0)


class Counter:
    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def __call__(self) -> int:
        self.calls += 1
        if self.fail:
            raise ConnectionError("vault down")
        return self.calls


def test_a_flood_of_pings_reloads_each_cache_at_most_once_per_interval(env: Clocked) -> None:
    # GIVEN caches of 60 s (interval 30 s) and 600 s (interval 150 s), and a failing one (interval 30 s)
    short, long_, failing = Counter(), Counter(), Counter(fail=True)
    caches = [TTLValue(short, max_age=60, name="short", timer=env.timer),
              TTLValue(long_, max_age=600, name="long", timer=env.timer),
              TTLValue(failing, max_age=60, name="failing", timer=env.timer)]
    handler = warm_aware(lambda e, c: None, refresh=caches, clock=env.timer, sleep=env.timer.sleep)
    assert [refresh_interval_s(c) for c in caches] == [30.0, 150.0, 30.0]

    def flood(count: int) -> list[Any]:
        return [parse_answer(handler(make_ping(release_at_ms=env.timer.ms(), period_s=10**12), env.context))
                for _ in range(count)]

    # WHEN 100 pings ask for a refresh horizon far beyond every max_age
    answers = flood(100)
    # THEN each cache was tried once
    assert (short.calls, long_.calls, failing.calls) == (1, 1, 1)
    assert sum(a.refreshed for a in answers) == 2 and sum(a.refresh_failed for a in answers) == 1
    # WHEN 100 more come 29 s later / THEN still nothing
    env.timer.advance(29)
    flood(100)
    assert (short.calls, long_.calls, failing.calls) == (1, 1, 1)
    # WHEN 100 more come at 30 s / THEN the 30 s caches once more, the 600 s one not before 150 s
    env.timer.advance(1)
    flood(100)
    assert (short.calls, long_.calls, failing.calls) == (2, 1, 2)
    env.timer.advance(120)
    flood(100)
    assert (short.calls, long_.calls, failing.calls) == (3, 2, 3)


def test_period_s_is_clamped(env: Clocked) -> None:
    # GIVEN a cache of 2 h read by a real request (fresh: 2 h to live)
    loads = Counter()
    value = TTLValue(loads, max_age=7200, name="day", timer=env.timer)
    handler = warm_aware(lambda e, c: value.get(), refresh=[value], clock=env.timer, sleep=env.timer.sleep)
    handler({"x": 1}, env.plain)
    # WHEN a ping asks for a horizon of 10**12 s / THEN it counts as MAX_PERIOD_S (1 h): not due yet
    handler(make_ping(release_at_ms=env.timer.ms(), period_s=10**12), env.context)
    assert loads.calls == 1
    # WHEN the value has less than MAX_PERIOD_S + refresh_ahead to live / THEN the same ping reloads it
    env.timer.advance(7200 - MAX_PERIOD_S - 30 + 1)
    handler(make_ping(release_at_ms=env.timer.ms(), period_s=10**12), env.context)
    assert loads.calls == 2


def test_scheduled_pings_never_hit_the_limit(env: Clocked) -> None:
    # GIVEN a 5 min cache and pings every 5 min (due on every ping)
    loads = Counter()
    value = TTLValue(loads, max_age=300, name="config", timer=env.timer)
    handler = warm_aware(lambda e, c: value.get(), refresh=[value], clock=env.timer, sleep=env.timer.sleep)
    for _ in range(12):
        answer = parse_answer(handler(make_ping(release_at_ms=env.timer.ms(), period_s=300), env.context))
        before = loads.calls
        for _ in range(5):  # real reads between pings
            env.timer.advance(59)
            handler({"x": 1}, env.plain)
        # THEN every ping reloaded it and no real read ever had to
        assert answer.refreshed == 1 and loads.calls == before
        env.timer.advance(5)
    assert loads.calls == 12
