"""Each policy costed as the tool it stands for, from thermostat.cost's price table."""

from __future__ import annotations

import numpy as np
import pytest

from thermostat import cost, run_cost
from thermostat.sim.costing import TickLoad, policy_cost, tick_loads, workflow_run_usd
from thermostat.sim.engine import simulate
from thermostat.sim.policies import Policy, SimSettings, parse_policies
from thermostat.sim.results import frontier, summarize

from .conftest import make_trace

DAY = 86_400.0


def test_tick_loads_pack_pings_into_batches_like_the_plan_state() -> None:
    # GIVEN 3 functions: 1,200 pings (spans 3 batches of <= 500), 10 and 0
    pings = np.array([[1200, 0], [10, 0], [0, 0]], dtype=np.int64)
    loads = tick_loads(("a", "b", "c"), pings, SimSettings())
    # THEN tick 0 has 3 batches (500, 500, 200+10) and tick 1 nothing
    assert loads[0] == TickLoad(targets=3, pinged=2, pings=1210, batches=3, waves=1)
    assert loads[1] == TickLoad(targets=3, pinged=0, pings=0, batches=0, waves=0)


def test_a_run_costs_transitions_per_batch_and_getmetricdata_per_metric_read_not_per_target() -> None:
    load = TickLoad(targets=1000, pinged=200, pings=400, batches=8, waves=1)
    run = workflow_run_usd(load, metric_reads=12, settings=SimSettings())
    assert run["orchestration_standard"] == pytest.approx(
        cost.sfn_standard_usd(run_cost.TRANSITIONS_PER_RUN + 8))
    assert run["get_metric_data"] == pytest.approx(cost.get_metric_data_usd(12 + run_cost.ACCOUNT_METRICS_PER_RUN))
    assert 0 < run["orchestration_express"] < run["orchestration_standard"]
    assert run["s3"] > 0 and run["workflow_lambdas"] > 0
    # AND the same counts always cost the same (nothing depends on measured time)
    assert workflow_run_usd(load, metric_reads=12, settings=SimSettings()) == run


def test_fixed_n_pays_one_warmer_lambda_per_tick_not_a_workflow() -> None:
    loads = [TickLoad(10, 10, 10, 1, 1)] * 288
    month = policy_cost(Policy("fixed", 1), ping_usd=1.0, init_usd=0.5, provisioned_usd=0.0, loads=loads,
                        metric_reads=0, trace_seconds=DAY, settings=SimSettings())
    assert month["pings"] == pytest.approx(30.0) and month["warming_inits"] == pytest.approx(15.0)
    assert month["get_metric_data"] == 0.0 and month["orchestration_standard"] == 0.0 and month["s3"] == 0.0
    assert 0 < month["orchestration"] < 0.1  # 8,640 short 128 MB invocations
    assert month["total"] == pytest.approx(45.0 + month["orchestration"])


def test_workflow_total_follows_the_chosen_workflow_type() -> None:
    loads = [TickLoad(100, 5, 5, 1, 1)] * 288
    kwargs = {"ping_usd": 0.0, "init_usd": 0.0, "provisioned_usd": 0.0, "loads": loads, "metric_reads": 400,
              "trace_seconds": DAY}
    std = policy_cost(Policy("thermostat"), settings=SimSettings(workflow="standard"),
                      **kwargs)  # type: ignore[arg-type]
    exp = policy_cost(Policy("thermostat"), settings=SimSettings(workflow="express"),
                      **kwargs)  # type: ignore[arg-type]
    assert std["orchestration"] == std["orchestration_standard"]
    assert exp["orchestration"] == exp["orchestration_express"]
    assert std["total"] - std["orchestration"] == pytest.approx(exp["total"] - exp["orchestration"])
    assert std["overhead"] == pytest.approx(std["orchestration"] + std["workflow_lambdas"] + std["s3"]
                                            + std["get_metric_data"])
    assert std["get_metric_data"] == pytest.approx(cost.per_month(
        cost.get_metric_data_usd(400 + 288 * run_cost.ACCOUNT_METRICS_PER_RUN), DAY))


def test_summary_costs_provisioned_at_peak_and_finds_the_pareto_frontier() -> None:
    # GIVEN a small trace replayed under four policies
    rng = np.random.default_rng(2)
    trace = make_trace([rng.poisson(2, 60).tolist(), [0] * 59 + [1]], duration_ms=1_000.0, memory_mb=1024)
    policies = parse_policies("none,fixed:1,oracle,provisioned")
    results = simulate(trace, policies, SimSettings())
    summary = summarize(trace, policies, results, SimSettings())
    # THEN provisioned = peak concurrency x 1 GB x a month of PC, nothing else; none costs nothing
    peak_sum = sum(r.peak for r in results)
    assert summary["provisioned"]["cost_usd_month"]["total"] == pytest.approx(
        cost.provisioned_usd(1024, peak_sum, cost.MONTH_SECONDS))
    assert summary["none"]["cost_usd_month"]["total"] == 0.0
    assert summary["provisioned"]["cold_start_rate"] == 0.0
    assert summary["none"]["cold_starts_avoided_per_usd"] is None
    best = frontier(summary)
    assert best[0] == "none"  # the cheapest is always on it
    for name in best:
        assert all(not (p["cost_usd_month"]["total"] < summary[name]["cost_usd_month"]["total"]
                        and p["cold_start_rate"] < summary[name]["cold_start_rate"]) for p in summary.values())
