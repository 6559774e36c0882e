"""Policy parsing, the baselines' schedules, and the engine: one run over the same arrivals."""

from __future__ import annotations

import numpy as np
import pytest

from thermostat.sim.engine import simulate, simulate_function
from thermostat.sim.lifecycle import Lifecycle
from thermostat.sim.policies import Policy, SimSettings, baseline_pings, parse_policies
from thermostat.sim.workload import Profile

from .conftest import make_trace


def test_parse_policies_reads_every_kind_fixed_lists_ranges_and_priced_thermostats() -> None:
    parsed = parse_policies("none, fixed:1,fixed:2:8,fixed:10..33,reactive,thermostat,thermostat@0.001,oracle,"
                            "provisioned")
    assert [p.name for p in parsed] == ["none", "fixed:1", "fixed:2", "fixed:8", "fixed:10", "fixed:12", "fixed:16",
                                        "fixed:24", "fixed:32", "fixed:33", "reactive", "thermostat",
                                        "thermostat@0.001", "oracle", "provisioned"]
    assert [p.n for p in parse_policies("fixed:1..64")] == [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]
    assert parsed[-3].price == 0.001 and parsed[-4].price is None


@pytest.mark.parametrize(("text", "message"), [
    ("none,warmest", "unknown policy 'warmest'"), ("fixed", "needs a count"), ("fixed:0", "not a whole number from 1"),
    ("fixed:x", "not a whole number from 1"), ("fixed:3..2", "a range"), ("oracle@1", "only thermostat"),
    ("thermostat@-1", "positive number of dollars"), ("oracle:3", "takes no argument"), ("none,none", "given twice"),
    ("", "no policy"),
])
def test_parse_policies_rejects_bad_specs_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_policies(text)


def test_baseline_schedules_look_back_and_ahead_one_window() -> None:
    # GIVEN real peak concurrency per minute over 15 minutes and 5-minute ticks
    peaks = np.array([0, 0, 2, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0], dtype=np.int64)
    prof = Profile(peaks, peaks, peaks, peaks.astype(float), 4)
    ticks = np.array([0, 5, 10])
    # THEN oracle = peak of the coming window, reactive = peak of the last one, fixed:N = N
    assert baseline_pings(Policy("oracle"), prof, ticks, 5).tolist() == [2, 4, 1]
    assert baseline_pings(Policy("reactive"), prof, ticks, 5).tolist() == [0, 2, 4]
    assert baseline_pings(Policy("fixed", 3), prof, ticks, 5).tolist() == [3, 3, 3]


def test_every_policy_sees_the_same_arrivals_and_warming_only_removes_cold_starts() -> None:
    # GIVEN a bursty function and a sparse one over 2 hours
    rng = np.random.default_rng(0)
    counts = [rng.poisson(3, 120).tolist(), [1 if m % 13 == 0 else 0 for m in range(120)]]
    trace = make_trace(counts, duration_ms=2_000.0)
    policies = parse_policies("none,fixed:1,fixed:4,reactive,oracle,provisioned")
    # WHEN simulated
    results = simulate(trace, policies, SimSettings(seed=3))
    # THEN every policy served the same requests, and more warming never adds cold starts here
    for result in results:
        o = result.outcomes
        assert len({o[p.name].invocations for p in policies}) == 1
        assert o["fixed:4"].cold_starts <= o["fixed:1"].cold_starts <= o["none"].cold_starts
        assert o["oracle"].cold_starts <= o["none"].cold_starts
        assert o["provisioned"].cold_starts == 0 and o["provisioned"].provisioned_usd > 0
        assert o["fixed:4"].pings == 4 * 24  # 24 ticks of 4 pings
        assert o["none"].pings == 0 and o["none"].warming_inits == 0


def test_the_sparse_closed_form_holds_end_to_end() -> None:
    # GIVEN one request every 11 minutes, no forced recycle, 100 ms requests
    trace = make_trace([[1 if m % 11 == 3 else 0 for m in range(240)]])
    settings = SimSettings(life=Lifecycle(recycle_ms=1e12, recycle_jitter_ms=0.0))
    result = simulate_function(trace, 0, parse_policies("none,fixed:1"), settings)
    # THEN none: every request cold; fixed:1 (5-minute ticks): none cold unless it landed inside a 100 ms hold
    assert result.outcomes["none"].cold_starts == 22
    assert result.outcomes["fixed:1"].cold_starts == 0


def test_results_do_not_depend_on_workers_or_on_which_other_functions_are_in_the_trace() -> None:
    counts = [np.random.default_rng(i).poisson(1.5, 60).tolist() for i in range(6)]
    trace = make_trace(counts, duration_ms=800.0)
    policies = parse_policies("none,fixed:2,oracle")
    one = simulate(trace, policies, SimSettings(seed=5), workers=1, chunk_size=2)
    two = simulate(trace, policies, SimSettings(seed=5), workers=2, chunk_size=2)
    alone = simulate(trace.subset([4]), policies, SimSettings(seed=5))
    key = [(r.index, {k: (o.cold_starts, o.pings, o.warming_inits) for k, o in r.outcomes.items()}) for r in one]
    assert key == [(r.index, {k: (o.cold_starts, o.pings, o.warming_inits) for k, o in r.outcomes.items()})
                   for r in two]
    assert alone[0].outcomes["none"].cold_starts == one[4].outcomes["none"].cold_starts
