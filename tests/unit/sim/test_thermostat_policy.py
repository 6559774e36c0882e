"""The thermostat policy: the real forecast + planning in the loop, fed only what CloudWatch would show."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from thermostat import models
from thermostat.forecast import TargetHistory
from thermostat.sim.engine import simulate_function
from thermostat.sim.lifecycle import Lifecycle
from thermostat.sim.policies import SimSettings, parse_policies
from thermostat.sim.thermostat_policy import CloudWatchView
from thermostat.sim.workload import Workload, profile

from .conftest import make_trace

NO_RECYCLE = Lifecycle(recycle_ms=1e12, recycle_jitter_ms=0.0)


def info(desired: int) -> models.ForecastInfo:
    return {"desired": desired, "quantile": 0.95, "model": "spy", "reason": "", "point": float(desired)}


def test_the_cloudwatch_view_counts_pings_in_invocations_concurrency_and_warm_pings() -> None:
    # GIVEN real traffic only in minute 1 (2 requests of 30 s)
    prof = profile(Workload(np.array([61_000.0, 65_000.0]), np.array([30_000.0, 30_000.0])), 4)
    view = CloudWatchView(prof, hold_ms=1_500.0)
    # THEN minutes without any invocation have no datapoint at all (NaN), as in CloudWatch
    assert math.isnan(view.invocations[0]) and math.isnan(view.warm_pings[0]) and math.isnan(view.concurrency[2])
    assert view.real_invocations[1] == 2 and view.warm_pings[1] == 0 and view.concurrency[1] == 2
    # WHEN 5 pings land in minute 1 while 2 real requests run, and 3 in empty minute 3
    view.record_pings(1, 5, busy_after=7)
    view.record_pings(3, 3, busy_after=3)
    # THEN the aggregates include the pings, and WarmPing/RealInvocation tell them apart
    assert (view.invocations[1], view.warm_pings[1], view.real_invocations[1], view.concurrency[1]) == (7, 5, 2, 7)
    assert (view.invocations[3], view.warm_pings[3], view.real_invocations[3], view.concurrency[3]) == (3, 3, 0, 3)
    assert view.duration_ms[3] == 1_500.0
    assert view.duration_ms[1] == (60_000.0 + 5 * 1_500.0) / 7


def test_the_forecast_sees_only_complete_past_minutes_including_its_own_pings() -> None:
    # GIVEN a function with one request per minute and a spy forecaster that asks for 2 environments
    seen: list[TargetHistory] = []
    nows: list[int] = []

    def spy(history: TargetHistory, settings: Any, *, memo: Any = None, now_ms: int | None = None
            ) -> tuple[models.ForecastInfo, Any]:
        seen.append(history)
        nows.append(int(now_ms or 0))
        return info(2), (memo or 0) + 1

    trace = make_trace([[1] * 30], duration_ms=200.0)
    result = simulate_function(trace, 0, parse_policies("thermostat"), SimSettings(life=NO_RECYCLE),
                               factory=(TargetHistory, spy))
    # THEN one call per tick, each ending a minute before its tick (metrics delay), memo threaded through
    assert nows == [trace.start_ms + m * 60_000 for m in (0, 5, 10, 15, 20, 25)]
    assert [h.end_ms for h in seen] == [trace.start_ms + max(m - 1, 0) * 60_000 for m in (0, 5, 10, 15, 20, 25)]
    # AND the minutes of earlier ticks show the pings: Invocations = real + pings, WarmPing = 2
    last = seen[-1]
    assert last.warm_pings[5] == 2 and last.invocations[5] == 3 and last.real_invocations[5] == 1
    assert last.concurrency[5] >= 2 and math.isnan(last.warm_pings[6]) is False and last.warm_pings[6] == 0
    assert result.outcomes["thermostat"].pings == 2 * 6


def test_planning_clamps_the_forecast_to_the_targets_max() -> None:
    def greedy(history: TargetHistory, settings: Any, *, memo: Any = None, now_ms: int | None = None
               ) -> tuple[models.ForecastInfo, Any]:
        return info(500), memo

    trace = make_trace([[0] * 20])
    result = simulate_function(trace, 0, parse_policies("thermostat"), SimSettings(), factory=(TargetHistory, greedy))
    pings = result.outcomes["thermostat"].pings_per_tick
    assert pings is not None and pings.tolist() == [50] * 4  # DiscoverySettings.max_warm


def test_real_forecast_warms_a_steady_function_and_forgets_its_own_pings() -> None:
    # GIVEN 3 hours of steady traffic (~4 requests/min of 20 s: concurrency 1-4), then 2 hours of silence
    rng = np.random.default_rng(11)
    counts = [*rng.poisson(4, 180).tolist(), *[0] * 120]
    trace = make_trace([counts], duration_ms=20_000.0)
    settings = SimSettings(life=NO_RECYCLE, hold_override_ms=100.0)
    # WHEN replayed with the real thermostat.forecast + thermostat.planning
    result = simulate_function(trace, 0, parse_policies("none,thermostat"), settings)
    thermo, none = result.outcomes["thermostat"], result.outcomes["none"]
    # THEN it avoids most cold starts of the busy part
    assert thermo.cold_starts < none.cold_starts / 2
    # AND once real traffic stopped it stops pinging: its own pings are never learnt as traffic
    pings = thermo.pings_per_tick
    assert pings is not None and pings[: 180 // 5].sum() > 0
    assert pings[-6:].sum() == 0
