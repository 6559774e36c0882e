"""The environment lifecycle model against cases with a closed-form answer (issue 4, item 7)."""

from __future__ import annotations

import numpy as np
import pytest

from thermostat.sim.lifecycle import EnvPool, Lifecycle

MIN = 60_000.0
NO_RECYCLE = Lifecycle(recycle_ms=1e12, recycle_jitter_ms=0.0)


def pool(arrivals: list[float], durations: list[float] | float = 100.0, life: Lifecycle = NO_RECYCLE) -> EnvPool:
    times = np.asarray(arrivals, dtype=np.float64)
    durs = np.full(times.size, durations) if isinstance(durations, float) else np.asarray(durations, dtype=float)
    return EnvPool(times, durs, life, np.random.default_rng(0))


def test_a_request_every_11_minutes_is_always_cold_without_warming() -> None:
    # GIVEN one request every 11 minutes for 4 hours (idle reclaim: 10 minutes)
    arrivals = [k * 11 * MIN + 30_000 for k in range(22)]
    p = pool(arrivals)
    # WHEN replayed with no warming
    p.finish(24 * 60 * MIN)
    # THEN every request is a cold start
    assert p.cold_starts == len(arrivals)
    assert p.warming_inits == 0


def test_a_request_every_11_minutes_is_never_cold_with_one_ping_every_5_minutes() -> None:
    # GIVEN the same requests and fixed:1 pings at every 5-minute tick (the first one before any request)
    arrivals = [k * 11 * MIN + 30_000 for k in range(22)]
    p = pool(arrivals)
    # WHEN replayed
    for tick in range(0, 250, 5):
        p.ping(tick * MIN, 1, 100.0)
    p.finish(250 * MIN)
    # THEN no request is cold; the only new environment was made by the first ping (a warming init)
    assert p.cold_starts == 0
    assert p.warming_inits == 1
    assert p.pings == 50


@pytest.mark.parametrize("k", [1, 3, 10, 50])
def test_a_burst_of_k_after_warming_k_is_all_warm_and_k_plus_1_gives_one_cold_start(k: int) -> None:
    # GIVEN k pings at t=0 (held 100 ms) and, one second later, a burst of k (then k+1) simultaneous requests
    for burst, expected in ((k, 0), (k + 1, 1)):
        p = pool([1_000.0] * burst, 5_000.0)
        p.ping(0.0, k, 100.0)
        # WHEN the burst is served
        p.finish(60 * MIN)
        # THEN exactly the requests beyond k are cold, and the pings made k warming inits
        assert (p.cold_starts, p.warming_inits) == (expected, k)


def test_pings_land_on_distinct_environments_reusing_idle_ones_first() -> None:
    # GIVEN two environments left idle by a burst of two
    p = pool([0.0, 0.0], 100.0)
    p.serve_until(1_000.0)
    assert p.cold_starts == 2
    # WHEN three pings arrive together
    p.ping(1_000.0, 3, 100.0)
    # THEN two reuse the idle environments and only one is a new (warming) init
    assert p.warming_inits == 1
    assert p.pings == 3


def test_a_ping_never_lands_on_a_busy_environment_and_a_request_during_a_hold_is_cold() -> None:
    # GIVEN a long request in flight, then a ping, then a request arriving while the ping holds
    p = pool([0.0, 1_050.0], [10 * MIN, 100.0])
    p.serve_until(1_000.0)
    p.ping(1_000.0, 1, 500.0)
    # WHEN everything is served
    p.finish(60 * MIN)
    # THEN the ping needed a new environment, and the request found both environments busy
    assert p.warming_inits == 1
    assert p.cold_starts == 2


def test_idle_reclaim_happens_exactly_at_the_ttl_after_the_last_use() -> None:
    # GIVEN requests 100 ms long: the second 9:59 after the first ended, the third 10:00 after the second ended
    first_end = 100.0
    second = first_end + 10 * MIN - 1_000
    third = second + 100.0 + 10 * MIN
    p = pool([0.0, second, third])
    p.finish(60 * MIN)
    # THEN the first is cold, the second warm, the third cold (reclaimed)
    assert p.cold_starts == 2


def test_idle_environments_are_reused_last_in_first_out() -> None:
    # GIVEN two environments freed at 100 ms and 200 ms, then one request every 6 minutes for 30 minutes
    requests = [0.0, 0.0, *[k * 6 * MIN for k in range(1, 6)], 31 * MIN, 31 * MIN]
    durations = [100.0, 200.0, *[100.0] * 5, 100.0, 100.0]
    p = pool(requests, durations)
    # WHEN replayed
    p.finish(60 * MIN)
    # THEN the 6-minute requests always reuse the most recently used environment, the other one is reclaimed
    # after 10 minutes, so the final burst of two finds a single environment: 2 + 1 cold starts
    # (FIFO reuse would have kept alternating and lost both)
    assert p.cold_starts == 3


def test_forced_recycle_retires_an_environment_even_when_kept_warm() -> None:
    # GIVEN a lifetime of exactly 60 minutes and a request every 5 minutes for 3 hours
    life = Lifecycle(recycle_ms=60 * MIN, recycle_jitter_ms=0.0)
    arrivals = [k * 5 * MIN + 1_000 for k in range(36)]
    p = pool(arrivals, 100.0, life)
    # WHEN replayed
    p.finish(200 * MIN)
    # THEN a new environment is needed every hour: at 0, 60 and 120 minutes
    assert p.cold_starts == 3


def test_a_cold_start_occupies_the_environment_for_init_plus_duration() -> None:
    # GIVEN init 250 ms, a 100 ms request at 0 and another at 300 ms (the first is still initialising)
    p = pool([0.0, 300.0], 100.0, Lifecycle(recycle_ms=1e12, recycle_jitter_ms=0.0, init_ms=250.0))
    # WHEN replayed
    p.finish(MIN)
    # THEN both are cold; with init 0 the second would have been warm
    assert p.cold_starts == 2
    q = pool([0.0, 300.0], 100.0, Lifecycle(recycle_ms=1e12, recycle_jitter_ms=0.0, init_ms=0.0))
    q.finish(MIN)
    assert q.cold_starts == 1


def test_scale_out_limit_throttles_requests_beyond_it_in_the_window() -> None:
    # GIVEN at most 3 new environments per 10 s and 5 simultaneous requests, then 5 more 10 s later
    life = Lifecycle(recycle_ms=1e12, recycle_jitter_ms=0.0, scale_out_limit=3)
    p = EnvPool(np.array([0.0] * 5 + [10_000.0] * 5), np.full(10, 50_000.0), life, np.random.default_rng(0))
    # WHEN replayed
    p.finish(MIN)
    # THEN 3 + 3 are cold starts and 2 + 2 are throttled, all in the first hour
    assert (p.cold_starts, p.throttles) == (6, 4)
    assert p.cold_by_hour == [6]


def test_only_the_scored_window_is_counted_but_the_pool_lives_through_all_of_it() -> None:
    # GIVEN a request every minute for 20 minutes, scored from minute 10 on
    arrivals = np.array([k * MIN + 1_000 for k in range(20)], dtype=float)
    p = EnvPool(arrivals, np.full(20, 100.0), NO_RECYCLE, np.random.default_rng(0), window=(10 * MIN, 30 * MIN))
    p.ping(0.0, 1, 100.0)
    p.ping(12 * MIN, 2, 100.0)
    p.finish(30 * MIN)
    # THEN the first (and only) cold start happened before the window: none is counted; only the second round's
    # pings are (one reused the warm environment, one made a warming init)
    assert (p.cold_starts, p.pings, p.warming_inits) == (0, 2, 1)


def test_a_ping_answer_reports_what_the_environment_served_since_its_last_ping() -> None:
    # GIVEN one environment warmed at 0, then 3 real requests at 1, 2 and 3 minutes
    p = pool([1 * MIN, 2 * MIN, 3 * MIN])
    first: list = []
    p.ping(0.0, 1, 100.0, first)
    answers: list = []
    p.ping(5 * MIN, 2, 100.0, answers)
    # THEN the first answer is a new environment; the second round finds it warm with 3 real requests, the
    # last one 2 minutes ago, and its previous ping 5 minutes ago; the second ping makes a new one
    assert first == [(1, True, 0, -1.0, -1.0)]
    assert answers[0] == (1, False, 3, 2 * MIN, 5 * MIN)
    assert answers[1][1] is True


def test_wasted_warm_time_counts_idle_time_after_pings_until_the_environment_is_reclaimed() -> None:
    # GIVEN one ping on an empty pool and no request at all (init 250 ms, hold 100 ms, reclaim 10 min)
    p = pool([])
    p.ping(0.0, 1, 100.0)
    # WHEN the trace ends an hour later
    p.finish(60 * MIN)
    # THEN the environment sat idle for the whole idle TTL after the ping ended
    assert p.wasted_ms == pytest.approx(10 * MIN)
    # AND a request that uses the warmed environment leaves no waste
    q = pool([2 * MIN])
    q.ping(0.0, 1, 100.0)
    q.finish(60 * MIN)
    assert q.wasted_ms == 0.0 and q.cold_starts == 0
