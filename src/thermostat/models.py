"""Wire shapes passed between the states of the warming state machine.

Every Lambda of the workflow receives the whole state document and returns the next one (the ASL uses
`OutputPath: $.Payload`). These TypedDicts are the single description of those documents; the state
machine I/O reference in `docs/state-machine-io.md` explains each field for users. The ping/answer
format that targets see lives in `thermostat_target.protocol`, not here.

Flow of documents (state name -> what it returns):

    Validate Input  -> RunState      {run, request, enabled}
    Collect Metrics -> CollectedState {run, request, account, targets: [TargetMetrics]}
    Forecast        -> ForecastState {run, request, account, targets: [TargetForecast]}
    Plan            -> PlanState     {run, request, plan: [PlanRecord], batches: [WarmBatch], warm_needed}
    Warm (Map)      -> PlanState + {warm_results: [BatchResult | FailedBatch]}
    Summarize       -> ReportState   {run, request, targets: [TargetReport], totals, batches, topup_needed,
                                      summary}; the shortfall top-up loops once back to Warm with
                                      run.round = 1 and Summarize merges the second round into targets.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

Status = Literal["warmed", "partial", "failed", "throttled", "skipped", "planned", "error"]


class TargetSpec(TypedDict):
    """One target as requested in the execution input or found by tag discovery (normalised)."""

    function: str  # function name or ARN as the user wrote it
    qualifier: str | None  # alias or version; None = $LATEST / unqualified
    min: int
    max: int
    source: Literal["input", "tag", "config"]
    price_per_cold_start: NotRequired[float]  # USD, when the execution input gives one for this target


def target_label(function: str, qualifier: str | None) -> str:
    """``name`` or ``name:qualifier``: how a target is shown, and its ``Resource`` metric dimension."""
    return function if qualifier is None else f"{function}:{qualifier}"


class Request(TypedDict):
    """Execution input after validation, every default filled in."""

    targets: list[TargetSpec]
    discover: bool
    quantile: float
    horizon_minutes: int
    dry_run: bool
    price_per_cold_start: NotRequired[float]  # USD per real cold start, when the input gives one
    monthly_budget_usd: NotRequired[float]  # when the input gives one (null = the stack's setting)


class RunInfo(TypedDict):
    id: str  # execution ARN (or id) — goes into every ping as "run"
    name: str
    started_at_ms: int
    round: int  # 0 for the main round, 1 for the shortfall top-up


class RunState(TypedDict):
    run: RunInfo
    request: Request
    enabled: bool  # kill switch: False -> the state machine succeeds early
    reason: NotRequired[str]


# --- Collect Metrics -------------------------------------------------------------------------------

# A compact series: run-length pairs [[value, count], ...]; value None = no datapoint that minute.
# Encode/decode with thermostat.series. Per-minute unless `period_s` says otherwise.
CompactSeries = list[list[float | int | None]]


class History(TypedDict):
    start_ms: int  # timestamp of the first point (period-aligned)
    period_s: int  # 60 normally; coarsened when the payload would exceed the budget
    points: int
    concurrency: CompactSeries  # AWS/Lambda ConcurrentExecutions, Maximum (includes our own pings)
    invocations: CompactSeries  # AWS/Lambda Invocations, Sum (includes our own pings)
    duration_ms: CompactSeries  # AWS/Lambda Duration, Average
    throttles: CompactSeries  # AWS/Lambda Throttles, Sum
    warm_pings: CompactSeries  # Thermostat WarmPing, Sum (emitted by the target library)
    real_invocations: CompactSeries  # Thermostat RealInvocation, Sum (emitted by the target library)


class AccountLimits(TypedDict):
    concurrency_limit: int  # account ConcurrentExecutions limit
    unreserved_concurrency: int  # UnreservedConcurrentExecutions


class TargetMetrics(TypedDict):
    function: str  # function name (never an ARN after collection)
    qualifier: str | None
    arn: str
    min: int
    max: int
    source: Literal["input", "tag", "config"]
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int | None
    current_concurrency: int  # latest ConcurrentExecutions minute (real + ours)
    history: History | None
    error: NotRequired[str]  # e.g. "FunctionNotFound: ..."; the target is carried on, not dropped


class CollectedState(TypedDict):
    run: RunInfo
    request: Request
    account: AccountLimits
    targets: list[TargetMetrics]
    warnings: NotRequired[list[str]]  # e.g. tag discovery failed, account limits assumed


# --- Forecast --------------------------------------------------------------------------------------


class ForecastInfo(TypedDict):
    desired: int  # environments to keep warm in the next window (upper quantile of peak concurrency)
    quantile: float
    model: str  # e.g. "seasonal_naive", "ets", "recent_max", "none"
    reason: str  # one human sentence: why this number
    point: float  # the point forecast of peak real concurrency


class TargetForecast(TypedDict):
    function: str
    qualifier: str | None
    arn: str
    min: int
    max: int
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int | None
    current_concurrency: int
    forecast: ForecastInfo
    error: NotRequired[str]


class ForecastState(TypedDict):
    run: RunInfo
    request: Request
    account: AccountLimits
    targets: list[TargetForecast]


# --- Plan ------------------------------------------------------------------------------------------


class PingGroup(TypedDict):
    """`count` pings to one target inside a batch, slots first_slot .. first_slot+count-1 of `of`."""

    function: str
    qualifier: str | None
    first_slot: int
    count: int
    of: int  # total pings this target gets this round (across batches)


class WarmBatch(TypedDict):
    run: str  # RunInfo.id
    batch: int
    round: int
    release_at_ms: int  # shared by every batch of the round
    max_hold_ms: int
    period_s: int  # seconds until the next scheduled run (targets refresh caches that expire before)
    refresh: bool
    deadline_ms: int  # epoch ms after which the batch stops retrying throttles
    pings: list[PingGroup]


class PlanRecord(TypedDict):
    function: str
    qualifier: str | None
    memory_mb: int
    forecast: ForecastInfo
    desired: int  # after min/max clamp
    requested: int  # after the concurrency budget
    limited_by: str | None  # "max" | "min" | "budget" | "reserved" | None
    status: Status  # "planned" | "skipped" | "error"
    reason: str


class PlanState(TypedDict):
    run: RunInfo
    request: Request
    plan: list[PlanRecord]
    batches: list[WarmBatch]
    warm_needed: bool  # False (nothing to warm, or dry_run) -> early Succeed
    release_at_ms: int
    warm_settings: NotRequired[dict[str, int]]  # added by the "Prepare Warm" Pass state: {max_concurrency}
    warm_results: NotRequired[list[BatchResult | FailedBatch]]


# --- Warm Batch ------------------------------------------------------------------------------------


class PingOutcome(TypedDict):
    """What one batch achieved for one target."""

    function: str
    qualifier: str | None
    requested: int
    answered: int  # pings that came back with a valid answer
    envs: list[str]  # distinct environment ids that answered (per batch; Summarize unions batches)
    cold_envs: list[str]  # those that answered cold: true (a billed warming init)
    throttled: int  # throttle responses seen (each retried until the deadline)
    throttled_final: int  # pings that were still throttled at the deadline
    errors: int  # pings that failed for another reason (function error, not warm-aware...)
    error_samples: list[str]  # up to 3 "ErrorName: message" strings
    hold_ms_max: float
    billed_ms: float  # sum of the answers' held_ms + overhead estimate, for the cost


class BatchResult(TypedDict):
    batch: int
    round: int
    results: list[PingOutcome]


class FailedBatch(TypedDict):
    """Made by the Map's Catch: the batch's final failure, turned into a record so the run goes on."""

    failed: Literal[True]
    batch: WarmBatch
    error: str
    cause: str


# --- Summarize -------------------------------------------------------------------------------------


class TargetReport(TypedDict):
    function: str
    qualifier: str | None
    forecast: ForecastInfo
    desired: int
    requested: int
    distinct_envs: int
    cold_inits: int
    throttled: int
    errors: int
    hold_ms: float
    cost_usd: float
    status: Status
    reason: str
    rounds: int
    envs: NotRequired[list[str]]  # kept between rounds so the top-up can union them
    memory_mb: NotRequired[int]  # kept between rounds so the top-up round can be costed


class Totals(TypedDict):
    targets: int
    requested: int
    distinct_envs: int
    cold_inits: int
    throttled: int
    errors: int
    cost_usd: float
    orchestration_cost_usd: float


class ReportState(TypedDict):
    run: RunInfo
    request: Request
    targets: list[TargetReport]
    totals: Totals
    batches: list[WarmBatch]  # top-up batches (empty when none)
    topup_needed: bool
    summary: str
