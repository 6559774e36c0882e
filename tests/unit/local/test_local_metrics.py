"""AWS/Lambda metrics of the local runtime: per minute, published only once the minute is over."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import pytest
from moto.cloudwatch.models import MetricAggregatedDatum

from thermostat.local import sandbox
from thermostat.local.clock import ManualClock
from thermostat.local.exceptions import TooManyRequestsException
from thermostat.local.metrics import LambdaMetrics
from thermostat.local.runtime import LocalLambdaRuntime

from .conftest import counter_code

T0 = 60.0 * 29_396_667  # a minute boundary
FN = (("FunctionName", "counter"),)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=T0)


@pytest.fixture
def metered(clock: ManualClock) -> Iterator[tuple[LocalLambdaRuntime, LambdaMetrics]]:
    undo = sandbox.install()
    metrics = LambdaMetrics()
    rt = LocalLambdaRuntime(clock=clock, account_limit=50, metrics=metrics)
    rt.register(counter_code("counter"))
    rt.register(counter_code("other"))
    try:
        yield rt, metrics
    finally:
        rt.shutdown()
        undo()


def published(metrics: LambdaMetrics, now: float) -> dict[tuple[str, tuple[tuple[str, str], ...], float], Any]:
    """(metric, dimensions, minute) -> value (or (count, sum, min, max) for Duration)."""
    out: dict[tuple[str, tuple[tuple[str, str], ...], float], Any] = {}
    for d in metrics.take(now):
        dims = tuple((x.name, x.value) for x in d.dimensions)
        minute = d.timestamp.replace(tzinfo=UTC).timestamp() - T0  # moto keeps naive UTC
        value = (d.sample_count, d.sum, d.min, d.max) if isinstance(d, MetricAggregatedDatum) else d.value
        out[(d.name, dims, minute // 60)] = value
    return out


def concurrently_held(rt: LocalLambdaRuntime, name: str, n: int, release: threading.Event) -> list[threading.Thread]:
    started = threading.Semaphore(0)

    def hold() -> None:
        started.release()
        release.wait(5)

    threads = [threading.Thread(target=lambda: rt.invoke(name, b"{}", hold=hold)) for _ in range(n)]
    for t in threads:
        t.start()
    for _ in threads:
        started.acquire(timeout=5)
    return threads


def test_a_minute_is_published_once_it_is_over(metered: tuple[LocalLambdaRuntime, LambdaMetrics],
                                               clock: ManualClock) -> None:
    rt, metrics = metered
    # GIVEN two invocations (one raising) in the first minute
    rt.invoke("counter", b"{}")
    rt.invoke("counter", b'{"raise": "no"}')
    # WHEN the minute is not over yet THEN nothing is published
    clock.advance(59)
    assert metrics.take(clock.time()) == []
    # WHEN it is over
    clock.advance(1)
    points = published(metrics, clock.time())
    # THEN Lambda's per-function and account-level metrics of that minute are there
    assert points[("Invocations", FN, 0)] == 2.0 and points[("Errors", FN, 0)] == 1.0
    assert points[("Throttles", FN, 0)] == 0.0
    count, total, low, high = points[("Duration", FN, 0)]
    assert count == 2.0 and 0 < low <= high and total >= low + high - 1e-9
    assert points[("ConcurrentExecutions", FN, 0)] == 1.0
    assert points[("ConcurrentExecutions", (), 0)] == 1.0
    assert points[("UnreservedConcurrentExecutions", (), 0)] == 1.0
    assert points[("ClaimedAccountConcurrency", (), 0)] == 1.0
    # AND a minute is published once
    assert metrics.take(clock.time() + 600) == []


def test_concurrent_executions_is_the_minutes_peak_of_busy_environments(
        metered: tuple[LocalLambdaRuntime, LambdaMetrics], clock: ManualClock) -> None:
    rt, metrics = metered
    # GIVEN three requests of "counter" holding their environments together, and one of "other"
    release = threading.Event()
    threads = concurrently_held(rt, "counter", 3, release) + concurrently_held(rt, "other", 1, release)
    # WHEN they stay busy across two more minutes before ending
    clock.advance(150)
    release.set()
    for t in threads:
        t.join()
    clock.advance(30)
    points = published(metrics, clock.time())
    # THEN each minute they spanned reads 3 for the function and 4 for the account, even without events
    assert [points[("ConcurrentExecutions", FN, m)] for m in (0, 1, 2)] == [3.0, 3.0, 3.0]
    assert [points[("ConcurrentExecutions", (), m)] for m in (0, 1, 2)] == [4.0, 4.0, 4.0]
    # AND the invocations count in the minute they started
    assert points[("Invocations", FN, 0)] == 3.0 and ("Invocations", FN, 2) not in points


def test_reserved_functions_are_claimed_not_unreserved(metered: tuple[LocalLambdaRuntime, LambdaMetrics],
                                                       clock: ManualClock) -> None:
    rt, metrics = metered
    # GIVEN "other" reserved at 5 and busy twice, "counter" (unreserved) busy once
    rt.set_reserved_concurrency("other", 5)
    release = threading.Event()
    threads = concurrently_held(rt, "other", 2, release) + concurrently_held(rt, "counter", 1, release)
    release.set()
    for t in threads:
        t.join()
    clock.advance(60)
    points = published(metrics, clock.time())
    # THEN unreserved use counts "counter" only; claimed adds the reservation; the total counts all
    assert points[("UnreservedConcurrentExecutions", (), 0)] == 1.0
    assert points[("ClaimedAccountConcurrency", (), 0)] == 1.0 + 5.0
    assert points[("ConcurrentExecutions", (), 0)] == 3.0


def test_throttles_and_qualified_invokes(metered: tuple[LocalLambdaRuntime, LambdaMetrics],
                                         clock: ManualClock) -> None:
    rt, metrics = metered
    # GIVEN a qualified invoke and a throttled one (reserved 0)
    rt.invoke("counter", b"{}", resource="live")
    rt.set_reserved_concurrency("other", 0)
    with pytest.raises(TooManyRequestsException):
        rt.invoke("other", b"{}")
    clock.advance(60)
    points = published(metrics, clock.time())
    # THEN the qualified invoke is also published under FunctionName + Resource, the throttle counted
    resource = (("FunctionName", "counter"), ("Resource", "counter:live"))
    assert points[("Invocations", resource, 0)] == 1.0 and points[("Invocations", FN, 0)] == 1.0
    assert points[("ConcurrentExecutions", resource, 0)] == 1.0
    assert points[("Throttles", (("FunctionName", "other"),), 0)] == 1.0


def test_a_lag_delays_what_is_visible(clock: ManualClock) -> None:
    # GIVEN metrics lagging 90 s and one invocation in the first minute
    metrics = LambdaMetrics(lag_s=90)
    metrics.invoked(T0 + 5, "counter", None, 10.0, False)
    # WHEN the minute ended 30 s ago THEN it is not there yet; 90 s after its end it is
    assert metrics.take(T0 + 90) == []
    assert [d.name for d in metrics.take(T0 + 150)] == ["Throttles", "Invocations", "Errors", "Duration"]
