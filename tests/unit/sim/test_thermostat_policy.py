"""The thermostat policy in the simulator: the deployed telemetry + forecast code, fed only what the workflow
would see (ping answers from the environment pool, rare CloudWatch reads that include its own pings)."""

from __future__ import annotations

import numpy as np

from thermostat.sim.engine import simulate_function
from thermostat.sim.lifecycle import EnvPool, Lifecycle
from thermostat.sim.policies import SimSettings, parse_policies, tick_minutes_of
from thermostat.sim.thermostat_policy import CloudWatchView, ThermostatTarget, run_thermostat
from thermostat.sim.workload import Workload, make_workload, profile

from .conftest import make_trace

NO_RECYCLE = Lifecycle(recycle_ms=1e12, recycle_jitter_ms=0.0)
MIN = 60_000


def test_the_cloudwatch_view_has_datapoints_only_where_something_ran_and_counts_the_pings() -> None:
    # GIVEN real traffic only in minute 1 (2 overlapping requests)
    prof = profile(Workload(np.array([61_000.0, 65_000.0]), np.array([30_000.0, 30_000.0])), 6)
    view = CloudWatchView(prof)
    assert view.points(0, 6, 1, 0) == [(MIN, 2.0)]
    # WHEN a round of 3 pings lands in empty minute 4
    view.record_pings(4, busy_after=3)
    # THEN minute 4 reads 3 (ConcurrentExecutions counts the warmer's own pings), and 5-minute reads take maxima
    assert view.points(0, 6, 1, 0) == [(MIN, 2.0), (4 * MIN, 3.0)]
    assert view.points(0, 6, 5, 0) == [(0, 3.0)]


def replay(counts: list[int], settings: SimSettings,
           duration_ms: float = 20_000.0) -> tuple[ThermostatTarget, np.ndarray]:
    work = make_workload(np.asarray(counts, dtype=np.int64), np.full(7, duration_ms), np.random.default_rng(1))
    prof = profile(work, len(counts))
    pool = EnvPool(work.arrivals, work.durations, settings.life, np.random.default_rng(2))
    target = ThermostatTarget("fn", 256, prof, 0, settings)
    sent = run_thermostat(pool, target, tick_minutes_of(len(counts), settings.tick_minutes))
    return target, sent


def test_steady_real_traffic_keeps_a_steady_plan_its_own_pings_never_ratchet_it_up() -> None:
    # GIVEN 8 requests a minute of 20 s (about 3 concurrent) for 12 hours
    settings = SimSettings(life=NO_RECYCLE)
    _, sent = replay([8] * 720, settings)
    # THEN after the first hours the plan stays flat: the pings it sends never feed back as demand
    later = sent[36:]
    assert later.max() - later.min() <= 2
    assert later.max() <= 12


def test_when_traffic_stops_the_plan_decays_to_the_floor() -> None:
    # GIVEN 6 busy hours then 30 silent hours
    settings = SimSettings(life=NO_RECYCLE)
    _, sent = replay([8] * 360 + [0] * 1800, settings)
    # THEN a day after the traffic stopped only the floor (+ its cover) is pinged
    assert sent[:72].max() >= 3
    assert sent[-12:].max() <= settings.discovery.min_warm + 1


def test_cloudwatch_is_read_at_bootstrap_then_every_few_hours_not_every_tick() -> None:
    settings = SimSettings(life=NO_RECYCLE, metric_read_hours=6.0)
    target, _ = replay([3] * 1440, settings)
    ticks = 1440 // settings.tick_minutes
    assert 1 + 1440 // 360 - 1 <= target.metric_reads <= 1 + 1440 // 360 + 2  # early reads are rare
    assert target.metric_reads < ticks / 20


def test_the_policy_cannot_see_the_future_a_first_burst_is_cold_whatever_it_does() -> None:
    # GIVEN 2 quiet hours then, for the first time, 40 requests of 30 s in one minute
    counts = [0] * 120 + [40] + [0] * 60
    trace = make_trace([counts], duration_ms=30_000.0)
    result = simulate_function(trace, 0, parse_policies("none,thermostat,oracle"), SimSettings(life=NO_RECYCLE))
    out = result.outcomes
    # THEN the oracle (which knows the future) warms them all; the thermostat had only what it kept warm at the
    # tick before the burst (its floor and headroom), so the rest start cold
    warm_before = int(out["thermostat"].pings_per_tick[120 // 5 - 1])
    assert out["oracle"].cold_starts == 0
    assert out["thermostat"].cold_starts >= result.peak - warm_before > 0
    assert out["thermostat"].cold_starts <= out["none"].cold_starts


def test_a_more_valuable_cold_start_buys_more_warm_environments() -> None:
    rng = np.random.default_rng(5)
    counts = rng.poisson(4, 720).tolist()
    trace = make_trace([counts], duration_ms=15_000.0)
    result = simulate_function(trace, 0, parse_policies("none,thermostat@0.00001,thermostat@0.01"),
                               SimSettings(life=NO_RECYCLE))
    cheap, dear = result.outcomes["thermostat@1e-05"], result.outcomes["thermostat@0.01"]
    assert dear.pings > cheap.pings
    assert dear.cold_starts <= cheap.cold_starts
