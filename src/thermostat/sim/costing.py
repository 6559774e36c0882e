"""Monthly cost of each policy, costed as the tool it stands for (prices: ``thermostat.cost``).

- ``fixed:N``: the pings and their warming inits, plus ONE warmer Lambda per tick that invokes every
  target N times concurrently (serverless-plugin-warmup: 128 MB, runs while its invokes are in flight).
- ``thermostat``, ``reactive``, ``oracle``: the Thermostat workflow with that forecast: one execution
  per tick (Standard: ``cost.standard_run_transitions`` of the batches ``planning.pack`` makes of that
  tick's pings; Express: per request + GB-s of the run), ``GetMetricData`` for every target's metrics,
  the workflow's Lambdas (Collect, Forecast — the measured forecast time for ``thermostat`` — Plan,
  one Warm Batch invocation per batch held until ``release_at``, Summarize), pings and warming inits.
- ``provisioned``: Provisioned Concurrency at each function's peak real concurrency, all month.
- ``anchor_basis``: the reference replay's costing of DESIGN §7 (pings + inits + Standard with one Map
  iteration per warmed function per tick), so every ping policy can be compared with the anchors.

Lambda durations of the workflow's own functions are estimates (constants below), documented in
docs/simulate.md; a 24 h trace is scaled to a 30-day month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from thermostat import cost, planning
from thermostat.collect import MAX_QUERIES_PER_CALL, METRICS
from thermostat.sim.policies import WORKFLOW_KINDS, Policy, SimSettings

METRICS_PER_TARGET = len(METRICS)
WARMER_MEMORY_MB = 128
WARMER_BASE_MS = 100.0
WARMER_MS_PER_PING = 2.0  # SDK time to issue one Invoke from the warmer
WORKFLOW_MEMORY_MB = 256  # Collect, Plan, Warm Batch, Summarize
FORECAST_MEMORY_MB = 1024
FORECAST_CPU_FACTOR = 1769 / FORECAST_MEMORY_MB  # a 1024 MB Lambda has ~0.58 vCPU; measured here on one core
FORECAST_BASE_MS = 200.0
COLLECT_BASE_MS = 300.0
COLLECT_MS_PER_CALL = 400.0  # one GetMetricData call (≤ 500 queries, paginated)
PLAN_MS = 100.0
SUMMARIZE_MS = 200.0
BATCH_OVERHEAD_MS = 150.0  # a Warm Batch invocation beyond its hold: start, answers, result


@dataclass(frozen=True)
class TickLoad:
    """What one tick of a workflow policy costs to orchestrate."""

    targets: int
    pinged: int  # functions with at least one ping
    pings: int
    batches: int
    waves: int


def tick_loads(ids: tuple[str, ...], pings: npt.NDArray[np.int64], settings: SimSettings) -> list[TickLoad]:
    """``pings[f, k]`` -> per tick: batches and Map waves as the Plan state would pack them."""
    loads: list[TickLoad] = []
    cache: dict[tuple[int, ...], tuple[int, int]] = {}
    for column in pings.T:
        nonzero = np.flatnonzero(column)
        key = tuple(sorted(column[nonzero].tolist()))
        if key not in cache:
            requests = [planning.PingRequest(ids[i], None, int(column[i])) for i in nonzero]
            packed = planning.pack(requests, settings.plan.max_batch_size)
            waves = planning.order_in_waves(packed, settings.plan.map_max_concurrency)
            cache[key] = (len(packed), (waves[-1][0] + 1) if waves else 0)
        batches, wave_count = cache[key]
        loads.append(TickLoad(len(ids), int(nonzero.size), int(column.sum()), batches, wave_count))
    return loads


def _lambda(memory_mb: float, ms: float, count: int = 1) -> float:
    return cost.lambda_invocation_usd(memory_mb, ms, count)


def workflow_run_usd(load: TickLoad, forecast_ms: float, settings: SimSettings) -> dict[str, float]:
    """One execution of the Thermostat workflow: orchestration (both types), Lambdas, GetMetricData."""
    plan = settings.plan
    queries = load.targets * METRICS_PER_TARGET
    calls = math.ceil(queries / MAX_QUERIES_PER_CALL)
    collect_ms = COLLECT_BASE_MS + COLLECT_MS_PER_CALL * calls
    # a Warm Batch waits for its release time (about the lead), fires send-ahead ms before it, and returns
    # once the holds end at release: it runs about lead + overhead (waves are spaced by planning's gap)
    batch_ms = plan.lead_ms + BATCH_OVERHEAD_MS
    warm_ms = load.waves * (plan.lead_ms + plan.max_hold_ms) + (BATCH_OVERHEAD_MS if load.batches else 0.0)
    lambdas = (_lambda(WORKFLOW_MEMORY_MB, collect_ms) + _lambda(FORECAST_MEMORY_MB, FORECAST_BASE_MS + forecast_ms)
               + _lambda(WORKFLOW_MEMORY_MB, PLAN_MS) + _lambda(WORKFLOW_MEMORY_MB, batch_ms, load.batches)
               + (_lambda(WORKFLOW_MEMORY_MB, SUMMARIZE_MS) if load.batches else 0.0))
    run_ms = collect_ms + FORECAST_BASE_MS + forecast_ms + PLAN_MS + warm_ms + (SUMMARIZE_MS if load.batches else 0.0)
    return {
        "orchestration_standard": cost.sfn_standard_usd(cost.standard_run_transitions(load.batches)),
        "orchestration_express": cost.sfn_express_usd(1, run_ms),
        "workflow_lambdas": lambdas,
        "get_metric_data": cost.get_metric_data_usd(queries),
    }


def policy_cost(policy: Policy, *, ping_usd: float, init_usd: float, provisioned_usd: float, loads: list[TickLoad],
                forecast_s_total: float, trace_seconds: float, settings: SimSettings) -> dict[str, float]:
    """Monthly cost parts of one policy (all functions); ``total`` uses ``settings.workflow``."""
    parts = {"pings": ping_usd, "warming_inits": init_usd, "orchestration": 0.0, "orchestration_standard": 0.0,
             "orchestration_express": 0.0, "workflow_lambdas": 0.0, "get_metric_data": 0.0,
             "provisioned": provisioned_usd}
    if policy.kind == "fixed":
        for load in loads:
            parts["orchestration"] += _lambda(WARMER_MEMORY_MB, WARMER_BASE_MS + settings.baseline_hold_ms
                                              + WARMER_MS_PER_PING * load.pings)
    elif policy.kind in WORKFLOW_KINDS:
        forecast_ms = 1000.0 * forecast_s_total * FORECAST_CPU_FACTOR / max(len(loads), 1)
        for load in loads:
            for key, value in workflow_run_usd(load, forecast_ms, settings).items():
                parts[key] += value
        parts["orchestration"] = parts[f"orchestration_{settings.workflow}"]
    month = {key: cost.per_month(value, trace_seconds) for key, value in parts.items()}
    month["total"] = sum(month[k] for k in ("pings", "warming_inits", "orchestration", "workflow_lambdas",
                                            "get_metric_data", "provisioned"))
    return month


def anchor_basis_usd(ping_usd: float, init_usd: float, loads: list[TickLoad], trace_seconds: float) -> float:
    """DESIGN §7's costing: pings + inits + Standard, one Map iteration per warmed function per tick."""
    runs = sum(cost.sfn_standard_usd(cost.standard_run_transitions(load.pinged)) for load in loads if load.pinged)
    return cost.per_month(ping_usd + init_usd + runs, trace_seconds)
