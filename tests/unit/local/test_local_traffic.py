"""The traffic generator: a minute's real requests with its peak concurrency, throttles and cold starts counted."""

from __future__ import annotations

import numpy as np
import pytest

from thermostat.local.clock import ManualClock
from thermostat.local.exceptions import TooManyRequestsException
from thermostat.local.metrics import LambdaMetrics
from thermostat.local.runtime import LocalLambdaRuntime
from thermostat.local.seed import synthetic
from thermostat.local.traffic import Minute, TrafficGenerator, hold, steady, trace_pattern

from .conftest import counter_code

T0 = 60.0 * 29_396_667


def make_runtime(clock: ManualClock, account_limit: int = 50) -> tuple[LocalLambdaRuntime, LambdaMetrics]:
    metrics = LambdaMetrics()
    rt = LocalLambdaRuntime(clock=clock, account_limit=account_limit, metrics=metrics)
    rt.register(counter_code("counter"))
    rt.register(counter_code("other"))
    return rt, metrics


def peak(metrics: LambdaMetrics, now: float, function: str = "counter") -> float:
    return max(d.value for d in metrics.take(now) if d.name == "ConcurrentExecutions" and
               [(x.name, x.value) for x in d.dimensions] == [("FunctionName", function)])


def test_a_minute_reaches_its_peak_concurrency_with_real_requests(sandboxed: None) -> None:
    # GIVEN a cold function and a minute of 7 requests at a peak of 3
    clock = ManualClock(start=T0)
    rt, metrics = make_runtime(clock)
    # WHEN the generator sends it
    figures = TrafficGenerator(rt, service_ms=5).function_minute("counter", Minute(7, 3), T0)
    clock.advance(60)
    # THEN 7 real requests went out, 3 environments were started and were busy together
    assert (figures.requests, figures.cold_starts, figures.throttles, figures.errors) == (7, 3, 0, 0)
    assert peak(metrics, clock.time()) == 3.0
    stats = rt.stats["counter"]
    assert (stats.real_invocations, stats.ping_invocations, stats.real_cold_starts) == (7, 0, 3)
    rt.shutdown()


def test_throttles_are_real_throttles(sandboxed: None) -> None:
    # GIVEN an account limit of 2 and a minute that needs 4 at once
    rt, _ = make_runtime(ManualClock(start=T0), account_limit=2)
    # WHEN it is sent
    figures = TrafficGenerator(rt, service_ms=5).function_minute("counter", Minute(4, 4), T0)
    # THEN the requests beyond the limit were answered 429, counted by the generator and the runtime alike
    assert figures.throttles == 2 and figures.requests == 4
    assert rt.stats["counter"].real_throttles == 2
    rt.shutdown()


def test_requests_beyond_the_cap_are_not_sent_but_the_peak_is(sandboxed: None) -> None:
    rt, _ = make_runtime(ManualClock(start=T0))
    figures = TrafficGenerator(rt, service_ms=0, max_requests=5).function_minute("counter", Minute(500, 8), T0)
    assert figures.requests == 8 and figures.cold_starts == 8
    rt.shutdown()


def test_drive_moves_the_clock_a_minute_at_a_time(sandboxed: None) -> None:
    # GIVEN a steady 2 requests a minute on one function, silence on the other
    clock = ManualClock(start=T0)
    rt, _ = make_runtime(clock)
    seen: list[float] = []

    def pattern(t: float) -> Minute:
        seen.append(t)
        return Minute(2, 1)

    # WHEN 150 s of traffic are driven
    figures = TrafficGenerator(rt, service_ms=0).drive({"counter": pattern, "other": steady(0, 0)}, 150,
                                                      clock.time, clock.advance)
    # THEN three minutes were sent (the last one partial) and the clock is 150 s later
    assert seen == [T0, T0 + 60, T0 + 120] and clock.time() == T0 + 150
    assert (figures["counter"].requests, figures["counter"].minutes) == (6, 3)
    assert figures["other"].requests == 0
    rt.shutdown()


def test_trace_pattern_replays_the_history_and_repeats_the_day() -> None:
    history = synthetic(1, seed=3)
    pattern = trace_pattern(history, T0)
    active = int(np.flatnonzero(history.invocations > 0)[0])
    minute = pattern(T0 + active * 60 + 30)
    assert minute == Minute(int(history.invocations[active]), int(history.concurrency[active]))
    assert pattern(T0 + (active + 1440) * 60) == minute  # the next day


def test_hold_keeps_environments_busy_until_the_block_ends(sandboxed: None) -> None:
    # GIVEN an account limit of 3
    rt, _ = make_runtime(ManualClock(start=T0), account_limit=3)
    # WHEN "other" holds two environments, and "counter" then asks for two
    # THEN only one fits in what is left; one more request is throttled while they hold
    with hold(rt, "other", 2) as held, hold(rt, "counter", 2) as second, pytest.raises(TooManyRequestsException):
        rt.invoke("counter", b"{}")
    assert (held.held, held.throttled) == (2, 0)
    assert (second.held, second.throttled) == (1, 1)
    assert rt.stats["counter"].real_throttles == 2
    # AND once the block is left the environments are free again
    assert rt.invoke("counter", b"{}").function_error is None
    rt.shutdown()
