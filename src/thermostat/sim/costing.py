"""Monthly cost of each policy, costed as the tool it stands for (prices: ``thermostat.cost``).

- ``fixed:N``: the pings and their warming inits, plus ONE warmer Lambda per tick that invokes every
  target N times concurrently (serverless-plugin-warmup: 128 MB, runs while its invokes are in flight).
- ``thermostat``, ``reactive``, ``oracle``: the Thermostat workflow with that forecast: one execution
  per tick, costed by :mod:`thermostat.run_cost` from that tick's counts (targets, pings, the batches
  ``planning.pack`` makes of them, CloudWatch metrics read): orchestration (Standard transitions or Express
  requests + duration), the workflow's Lambdas at the template's memory sizes, S3 requests of the state
  store, GetMetricData; plus the pings and their warming inits.
- ``provisioned``: Provisioned Concurrency at each function's peak real concurrency, all month.

Everything is a function of counts: the same replay always costs the same. A trace is scaled to a
30-day month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from thermostat import cost, planning, run_cost
from thermostat.sim.policies import WORKFLOW_KINDS, Policy, SimSettings

WARMER_MEMORY_MB = 128
WARMER_BASE_MS = 100.0
WARMER_MS_PER_PING = 2.0  # SDK time to issue one Invoke from the warmer


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


def workflow_run_usd(load: TickLoad, metric_reads: int, settings: SimSettings) -> dict[str, float]:
    """One execution of the Thermostat workflow, both orchestration types (run_cost's model)."""
    run = run_cost.RunLoad(load.targets, load.pings, load.batches, metric_reads,
                           send_ahead_ms=settings.workflow_hold_ms * 2)
    parts = run_cost.run_usd(run, "STANDARD")
    parts["orchestration_standard"] = parts.pop("orchestration")
    parts["orchestration_express"] = run_cost.orchestration_usd(run, "EXPRESS")
    return parts


def policy_cost(policy: Policy, *, ping_usd: float, init_usd: float, provisioned_usd: float, loads: list[TickLoad],
                metric_reads: int, trace_seconds: float, settings: SimSettings) -> dict[str, float]:
    """Monthly cost parts of one policy (all functions); ``total`` uses ``settings.workflow``."""
    parts = {"pings": ping_usd, "warming_inits": init_usd, "orchestration": 0.0, "orchestration_standard": 0.0,
             "orchestration_express": 0.0, "workflow_lambdas": 0.0, "s3": 0.0, "get_metric_data": 0.0,
             "provisioned": provisioned_usd}
    if policy.kind == "fixed":
        for load in loads:
            parts["orchestration"] += _lambda(WARMER_MEMORY_MB, WARMER_BASE_MS + settings.baseline_hold_ms
                                              + WARMER_MS_PER_PING * load.pings)
    elif policy.kind in WORKFLOW_KINDS:
        reads = [metric_reads // max(len(loads), 1)] * len(loads)
        for i in range(metric_reads - sum(reads)):
            reads[i % len(reads)] += 1
        for load, read in zip(loads, reads, strict=True):
            for key, value in workflow_run_usd(load, read, settings).items():
                parts[key] += value
        parts["orchestration"] = parts[f"orchestration_{settings.workflow}"]
    month = {key: cost.per_month(value, trace_seconds) for key, value in parts.items()}
    month["overhead"] = sum(month[k] for k in ("orchestration", "workflow_lambdas", "s3", "get_metric_data"))
    month["total"] = month["overhead"] + month["pings"] + month["warming_inits"] + month["provisioned"]
    return month
