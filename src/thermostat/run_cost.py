"""What one warming run costs besides its pings: a deterministic model of the workflow as the template
deploys it (memory sizes, batch sizes), used by Summarize (the run's own cost) and by the simulator.

A run is described by counts only (:class:`RunLoad`); durations of the workflow's own Lambdas are
estimated from those counts with the per-item times below (measured on the embedded AWS, rounded up,
documented in docs/cost-model.md), never from measured CPU time, so the same inputs always cost the same.
``tests/contract`` checks the memory sizes against template.yaml.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from thermostat import claims, cost

# MemorySize of each workflow function in template.yaml (checked by a contract test).
MEMORY_MB = {"validate_input": 256, "collect_metrics": 512, "forecast": 1024, "plan": 256, "warm_batch": 512,
             "summarize": 512}
TARGETS_PER_SHARD = 1000  # the state store's shard size
METRICS_PER_CALL = 500  # GetMetricData queries per call
ACCOUNT_METRICS_PER_RUN = 1  # the account-level UnreservedConcurrentExecutions, every run
# Standard transitions of a run outside the Map: Validate Input, Enabled?, Collect Metrics, Overlap?,
# Forecast, Plan, Warm (Map), Summarize, Shortfall?, Report; plus one per Warm Batch.
TRANSITIONS_PER_RUN = 10


@dataclass(frozen=True)
class RunLoad:
    targets: int
    pings: int
    batches: int
    metric_reads: int  # per-target CloudWatch metrics read this run
    send_ahead_ms: float = 100.0  # how long a Warm Batch waits for its release time, per batch


def _ms(function: str, load: RunLoad) -> float:
    """Estimated billed duration of one invocation of ``function`` in this run."""
    t = load.targets
    calls = math.ceil((load.metric_reads + ACCOUNT_METRICS_PER_RUN) / METRICS_PER_CALL)
    return {
        "validate_input": 60.0,
        "collect_metrics": 250.0 + 0.4 * t + 150.0 * calls,
        "forecast": 200.0 + 0.5 * t,
        "plan": 100.0 + 0.1 * t,
        "summarize": 200.0 + 0.4 * t,
    }[function]


def lambdas_usd(load: RunLoad) -> float:
    total = sum(cost.lambda_invocation_usd(MEMORY_MB[f], _ms(f, load))
                for f in ("validate_input", "collect_metrics", "forecast", "plan", "summarize"))
    if load.batches:
        per_batch_ms = load.send_ahead_ms + 150.0 + 2.0 * load.pings / load.batches
        total += cost.lambda_invocation_usd(MEMORY_MB["warm_batch"], per_batch_ms, load.batches)
    return total


# Bytes per item of the documents that travel by claim check (thermostat.claims): inline up to its
# INLINE_LIMIT_BYTES, else one PUT and one GET through the state store.
DOC_BYTES_PER_TARGET = {"targets": 260, "forecast": 320, "plan": 380}
BATCH_BYTES_PER_GROUP = 140
RESULT_BYTES_PER_PING = 70


def _offloaded(size_bytes: float) -> int:
    return 1 if size_bytes > claims.INLINE_LIMIT_BYTES else 0


def s3_usd(load: RunLoad) -> float:
    shards = max(1, math.ceil(load.targets / TARGETS_PER_SHARD))
    docs = sum(_offloaded(load.targets * per) for per in DOC_BYTES_PER_TARGET.values())
    if load.batches:
        groups_per_batch = min(load.targets, load.pings) / load.batches
        docs += load.batches * (_offloaded(groups_per_batch * BATCH_BYTES_PER_GROUP)
                                + _offloaded(load.pings / load.batches * RESULT_BYTES_PER_PING))
    # lease: GET + PUT to acquire, PUT to release; records: read by Collect, Forecast, Plan and Summarize,
    # written by Collect and Summarize; the run report: one PUT; each offloaded document: one PUT, one GET
    puts = 2 + 2 * shards + 1 + docs
    gets = 1 + 4 * shards + docs
    return puts * cost.PRICES.s3_put + gets * cost.PRICES.s3_get


def orchestration_usd(load: RunLoad, workflow: str) -> float:
    if workflow.upper() == "EXPRESS":
        ms = sum(_ms(f, load) for f in ("validate_input", "collect_metrics", "forecast", "plan", "summarize"))
        ms += load.send_ahead_ms + 300.0 if load.batches else 0.0
        return cost.sfn_express_usd(1, ms)
    return cost.sfn_standard_usd(TRANSITIONS_PER_RUN + load.batches)


def metrics_usd(load: RunLoad) -> float:
    return cost.get_metric_data_usd(load.metric_reads + ACCOUNT_METRICS_PER_RUN)


def run_usd(load: RunLoad, workflow: str) -> dict[str, float]:
    """The run's overhead by part (everything that is not a ping)."""
    return {"orchestration": orchestration_usd(load, workflow), "workflow_lambdas": lambdas_usd(load),
            "s3": s3_usd(load), "get_metric_data": metrics_usd(load)}
