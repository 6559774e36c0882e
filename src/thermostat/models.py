"""Wire shapes passed between the states of the warming state machine (documents v2).

Every Lambda of the workflow receives the whole state document and returns the next one (the ASL uses
``OutputPath: $.Payload``). These TypedDicts are the single description of those documents; the state
machine I/O reference in ``docs/state-machine-io.md`` explains each field for users. The ping/answer format
that targets see lives in ``thermostat_target.protocol``, not here.

Documents that grow with the fleet travel as an :data:`Envelope` (``thermostat.claims``): ``{"inline": doc}``
while small, else ``{"ref": "<s3 key>", "bytes": n}`` in the state bucket. Every state input and output stays
under 200 KiB at 5,000 targets.

Flow of documents (state name -> what it returns)::

    Validate Input  -> RunState        {run, request, enabled, reason?}
    Collect Metrics -> CollectedState  {run, request (targets: count), lease, overlap, overlap_with?,
                                        targets: Envelope[[TargetPlanInput]], account, collected,
                                        degraded, warnings}
    Overlap?        -> overlap == true: Succeed "Another Run Active"
    Forecast        -> ForecastedState  CollectedState + {forecast: Envelope[ForecastDoc]}
    Collect/Forecast failure (Catch + Pass) -> the failed state's input + {failure: FailureInfo}
    Plan            -> PlanState       {run, request, lease, overlap, plan: Envelope[[PlanRecord]],
                                        batches: [MapItem], warm_settings, warm_needed, release_at_ms,
                                        degraded, warnings, collected?, forecast?, failure?}
    Plan failure (Catch + Pass) -> Plan's input + {failure: FailureInfo}   (then Summarize)
    Warm (Map)      -> PlanState + {warm_results: [BatchResult | FailedBatch]}
    Summarize       -> SummaryState    {run, status, degraded, totals, targets, targets_total, report_key,
                                        summary, topup_needed, batches, ...}; a top-up loops once back to
                                        Warm (the "Prepare Top-up" Pass adds warm_settings).
    Report          -> ExecutionOutput {run, status, degraded, totals, targets, targets_total, report_key,
                                        summary}
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from thermostat.store.codec import make_run_name

Source = Literal["input", "config", "tag"]
SettingSource = Literal["input", "tag", "stack"]  # where one setting of a target came from (tag_settings)
Trigger = Literal["schedule", "manual", "deploy", "prewarm"]  # what started the execution (input "trigger")
Envelope = dict[str, Any]  # {"inline": doc} | {"ref": "<s3 key>", "bytes": n}: see thermostat.claims
PlanStatus = Literal["planned", "skipped", "error"]
Status = Literal["warmed", "partial", "failed", "throttled", "skipped", "planned", "error"]
RunStatus = Literal["ok", "degraded", "overlap", "conflict"]
LimitedBy = Literal["min", "max", "budget", "reserved", "account", "provisioned", "unknown_limits", "fanout"]

# the names a FailureInfo.state takes (the ASL's Pass states write them)
FAILED_STATES = ("Collect Metrics", "Forecast", "Plan", "Warm")


def target_label(function: str, qualifier: str | None) -> str:
    """``name`` or ``name:qualifier``: how a target is shown, its record key, its ``Resource`` dimension."""
    return function if qualifier is None else f"{function}:{qualifier}"


# --- Validate Input ----------------------------------------------------------------------------------


class TagProblem(TypedDict):
    """A function's tag value that was ignored (thermostat.tag_settings), and why."""

    tag: str
    value: str  # as tagged (cut to 60 characters)
    problem: str


class TargetSpec(TypedDict):
    """One target as requested in the execution input, configured, or found by tag (normalised)."""

    function: str  # function name or ARN as the user wrote it
    qualifier: str | None  # alias or version; None = $LATEST / unqualified
    min: int
    max: int
    source: Source
    price_per_cold_start: NotRequired[float]  # USD, when the execution input gives one for this target
    hours: NotRequired[str]  # warm hours (thermostat.hours), canonical text
    settings_source: NotRequired[dict[str, SettingSource]]  # min, max, price_per_cold_start, hours, qualifier
    tag_problems: NotRequired[list[TagProblem]]


class RequestOptions(TypedDict):
    """Every field of the validated execution input but its targets (Request and RequestView share them)."""

    discover: bool
    quantile: float
    horizon_minutes: int
    dry_run: bool
    price_per_cold_start: NotRequired[float]  # USD per real cold start, when the input gives one
    monthly_budget_usd: NotRequired[float]  # when the input gives one (null = the stack's setting)
    trigger: NotRequired[Trigger]  # when the input gives one; "deploy" sizes targets by their last plan


class Request(RequestOptions):
    """Execution input after validation, every default filled in."""

    targets: list[TargetSpec]


class RequestView(RequestOptions):
    """The Request after Collect Metrics: the targets list (it may be long) replaced by its length."""

    targets: int


class RunInfo(TypedDict):
    id: str  # execution ARN (or id) — goes into every ping as "run"
    name: str  # execution name
    started_at_ms: int
    round: int  # 0 for the main round, 1 for the shortfall top-up
    run_name: NotRequired[str]  # folder of the run's documents: make_run_name(name, started_at_ms)


def run_name_of(run: RunInfo) -> str:
    """The run's document folder name (Collect Metrics adds ``run_name``; Validate Input does not)."""
    return run.get("run_name") or make_run_name(run["name"], run["started_at_ms"])


class RunState(TypedDict):
    run: RunInfo
    request: Request
    enabled: bool  # kill switch: False -> the state machine succeeds early ("Disabled")
    reason: NotRequired[str]


# --- Collect Metrics ---------------------------------------------------------------------------------


class LeaseDoc(TypedDict):
    """``thermostat.store.Lease.to_dict()``: the overlap guard as this run holds it (or lost it)."""

    run_id: str
    acquired: bool
    expires_at_ms: int
    etag: str | None
    acquired_at_ms: int | None
    holder: str | None  # overlap: the run that holds the lease
    previous: str | None


class OverlapWith(TypedDict):
    run: str  # the execution that holds the lease ("unknown" when S3 did not say)
    until_ms: int  # when its lease lapses


class TargetPlanInput(TypedDict):
    """One target as Collect Metrics hands it to Forecast and Plan (one element of the targets envelope)."""

    key: str  # record key: name or name:qualifier
    function: str  # bare function name
    qualifier: str | None
    source: Source
    min: int  # the floor (forecast policy)
    max: int  # the cap
    price_per_cold_start: float | None  # the target's own (input); None = the request's or the stack's
    memory_mb: int
    reserved: int | None  # reserved concurrency of the function; None = draws on the unreserved pool
    provisioned: int  # provisioned concurrency on the qualifier (0: none, or unqualified)
    busy: int | None  # real concurrency now, from a fresh datapoint (own pings taken out); None = not fresh
    recent_peak: int | None  # highest known real peak of the last hour (the record); None = nothing known
    described: bool  # False: reserved/provisioned not read yet (never described): no pings planned
    send_ahead_ms: float | None  # the target's learned lead (None: not learned yet)
    protocol: int  # ping version its library answers
    error: NotRequired[str]  # "FunctionNotFound: ..." etc.: carried on, never dropped
    hours: NotRequired[str]  # warm hours (canonical text); absent = always
    in_hours: NotRequired[bool]  # False: outside its warm hours now (no CloudWatch read, no ping)
    settings_source: NotRequired[dict[str, SettingSource]]  # per setting: input | tag | stack
    tag_problems: NotRequired[list[TagProblem]]  # tag values ignored, and why


class AccountView(TypedDict):
    """The account's concurrency as Collect Metrics read it. None = unknown (never assumed)."""

    limit: int | None  # GetAccountSettings AccountLimit.ConcurrentExecutions
    unreserved_limit: int | None  # AccountLimit.UnreservedConcurrentExecutions
    unreserved_in_use: int | None  # AWS/Lambda UnreservedConcurrentExecutions, fresh datapoint; None = stale
    read_at_ms: int
    problem: NotRequired[str]  # why a value is unknown, in words


class CollectStats(TypedDict):
    targets: int  # targets of this run (after MaxTargets)
    tagged: int
    configured: int
    requested: int
    over_limit: int  # targets beyond MaxTargets: reported, not warmed
    over_limit_sample: list[str]  # the first of them (keys)
    opted_out: int  # tagged TargetTagKey with another value than TargetTagValue (config/tag sources)
    metric_reads: int  # CloudWatch metrics requested this run (what GetMetricData bills)
    metric_calls: int
    described: int  # targets whose configuration was (re)read this run
    errors: int  # targets carrying an error


class CollectedState(TypedDict):
    run: RunInfo
    request: RequestView
    lease: LeaseDoc | None
    overlap: bool  # True: another run holds the lease; nothing was touched ("Another Run Active")
    overlap_with: NotRequired[OverlapWith]
    targets: Envelope  # [TargetPlanInput]
    account: AccountView
    collected: CollectStats
    degraded: list[str]  # reasons this run is degraded (e.g. "CloudWatch unavailable: ...")
    warnings: list[str]


class FailureInfo(TypedDict):
    """Written by the ASL's "... Failed" Pass states from the Catch's {Error, Cause}."""

    state: str  # one of FAILED_STATES
    error: str
    cause: str


# --- Forecast ----------------------------------------------------------------------------------------


class ForecastTarget(TypedDict):
    """``thermostat.forecast.TargetForecast.to_json()``."""

    key: str
    desired: int
    term: str
    reason: str
    ping_usd_month: float
    provisioned_usd_month: float
    error: NotRequired[str]


class ForecastDoc(TypedDict):
    targets: list[ForecastTarget]
    memos: dict[str, dict[str, Any]]  # key -> record.model after this run (Summarize stores them)
    budget_note: str | None


class ForecastedState(CollectedState):
    forecast: Envelope  # ForecastDoc


# --- Plan --------------------------------------------------------------------------------------------


class PlanRecord(TypedDict):
    key: str
    function: str
    qualifier: str | None
    desired: int  # the forecast (within min/max), or the fallback's last plan / floor
    requested: int  # pings planned, after the concurrency budget
    limited_by: LimitedBy | None
    term: str  # what decided the forecast (floor, recent, ..., fallback, error)
    reason: str
    memory_mb: int
    ping_usd_month: float  # the requested pings every run, for a month
    provisioned_usd_month: float  # Provisioned Concurrency at `desired` for a month (the break-even)
    status: PlanStatus
    error: NotRequired[str]
    hours: NotRequired[str]  # copied from the TargetPlanInput (also settings_source, tag_problems, in_hours)
    in_hours: NotRequired[bool]
    settings_source: NotRequired[dict[str, SettingSource]]
    tag_problems: NotRequired[list[TagProblem]]


class PingGroup(TypedDict):
    """``count`` pings to one target inside a batch: slots first_slot .. first_slot+count-1 of ``of``."""

    key: str
    function: str
    qualifier: str | None
    first_slot: int
    count: int
    of: int  # total pings this target gets this round (across batches)
    send_ahead_ms: float  # the target's learned lead (telemetry.SEND_AHEAD_DEFAULT_MS until learned)
    protocol: int  # ping version the target answers (1: an old library)
    learned: NotRequired[bool]  # True: send_ahead_ms was learned from this target's answers (no allowance added)


class WarmBatch(TypedDict):
    run: str  # RunInfo.id
    run_name: str
    batch: int
    round: int
    release_at_ms: int  # shared by every batch of a wave
    deadline_ms: int  # epoch ms after which the batch stops retrying throttles
    max_hold_ms: int
    period_s: int  # seconds until the next scheduled run (targets refresh caches that expire before)
    refresh: bool
    pings: list[PingGroup]
    result_inline_bytes: NotRequired[int]  # results inline up to this size (Warm Batch's default otherwise)


class MapItem(TypedDict):
    """One item of ``batches``: what one Map iteration (one Warm Batch invocation) receives."""

    batch: int
    doc: Envelope  # WarmBatch


class WarmSettings(TypedDict):
    max_concurrency: int  # read by the Map's MaxConcurrencyPath


class PlanState(TypedDict):
    run: RunInfo
    request: RequestView
    lease: LeaseDoc | None
    overlap: bool  # the fallback path found another run's lease: nothing planned, nothing to release
    overlap_with: NotRequired[OverlapWith]
    plan: Envelope  # [PlanRecord], every target of the run
    batches: list[MapItem]  # [] on a dry run, an overlap, or nothing to warm (the Map then runs no iteration)
    warm_settings: WarmSettings
    warm_needed: bool
    release_at_ms: int  # of the first wave
    degraded: list[str]
    warnings: list[str]
    collected: NotRequired[CollectStats]
    forecast: NotRequired[Envelope]  # passed through for Summarize (memos); absent when Forecast failed
    failure: NotRequired[FailureInfo]
    warm_results: NotRequired[list[BatchResult | FailedBatch]]  # added by the Map


# --- Warm Batch ---------------------------------------------------------------------------------------

# One answer, compact: [env, cold, held_ms, late_ms, real, real_age_ms, ping_age_ms, init_ms]
# (a v1 answer has null late_ms, real, real_age_ms, ping_age_ms).
CompactAnswer = list[Any]


class PingOutcome(TypedDict):
    """What one batch achieved for one target (one element of a BatchResult's result envelope)."""

    key: str
    function: str
    qualifier: str | None
    requested: int
    answers: list[CompactAnswer]
    throttled: int  # every throttle response seen
    throttled_final: int  # pings still throttled when retrying stopped
    errors: int  # pings that failed otherwise (function error, not warm-aware, rejected, timed out)
    timeouts: int  # of the errors: no answer within the read timeout (never re-sent)
    error_samples: list[str]  # up to 3 "ErrorName: message" strings
    send_ahead_ms: float  # the lead this group was sent with
    release_at_ms: int  # the release time its pings carried (re-based when the batch started late)
    protocol: int  # the version its answers came back in (1 after an unsupported_version fallback)
    billed_ms: float  # estimated billed duration of every invocation made
    stopped: bool  # retrying stopped early: every attempt to this target was throttled


class BatchResult(TypedDict):
    """Warm Batch's output (one element of ``warm_results``)."""

    batch: int
    round: int
    result: Envelope  # [PingOutcome]
    pings: int
    answered: int
    distinct: int
    throttled: int
    errors: int


class FailedBatch(TypedDict):
    """Made by the Map's Catch ("Batch Failed"): the batch's final failure, so the run goes on."""

    failed: Literal[True]
    batch: Any  # the Map item {batch, doc} (the ASL passes it whole)
    doc: NotRequired[Envelope]
    error: str
    cause: str


# --- Summarize ---------------------------------------------------------------------------------------


class TargetReport(TypedDict):
    key: str
    function: str
    qualifier: str | None
    desired: int
    requested: int
    limited_by: str | None
    term: str
    distinct_envs: int
    cold_inits: int  # environments the pings created (billed warming inits, not user-visible)
    real_cold_starts: int  # environments real traffic created since the warmer last looked
    throttled: int
    errors: int
    hold_ms: float  # longest hold
    hold_ms_median: float
    cost_usd: float  # the pings' Lambda cost
    status: Status
    reason: str
    rounds: int
    protocol: int
    send_ahead_ms: float | None
    envs: NotRequired[list[str]]  # kept in the report document while a top-up round follows
    hours: NotRequired[str]  # from the PlanRecord: warm hours, inside them now, where each setting came from,
    in_hours: NotRequired[bool]  # and the tag values that were ignored
    settings_source: NotRequired[dict[str, SettingSource]]
    tag_problems: NotRequired[list[TagProblem]]


class Totals(TypedDict):
    targets: int
    requested: int
    distinct_envs: int
    cold_inits: int
    real_cold_starts: int
    throttled: int
    errors: int
    cost_usd: float  # pings
    orchestration_cost_usd: float  # everything else of the run (run_cost parts summed)
    run_cost_usd: float  # pings + everything else
    overhead_usd: dict[str, float]  # run_cost parts
    batches: int
    duration_ms: int


class SummaryState(TypedDict):
    """Summarize's output; the "Report" Pass selects the execution output from it."""

    run: RunInfo
    status: RunStatus
    degraded: list[str]
    totals: Totals
    targets: list[TargetReport]  # all when <= 50, else the 50 most interesting
    targets_total: int
    report_key: str | None  # runs/<run_name>/report.json (every target)
    summary: str
    topup_needed: bool
    batches: list[MapItem]  # top-up batches ([] when none)
    request: NotRequired[dict[str, Any]]
    lease: NotRequired[LeaseDoc]  # while a top-up round follows (round 1 releases it)
    warnings: NotRequired[list[str]]
    warm_settings: NotRequired[WarmSettings]  # added by "Prepare Top-up"
    warm_results: NotRequired[list[BatchResult | FailedBatch]]  # added by the top-up's Map


class ExecutionOutput(TypedDict):
    """What the "Report" Pass state selects from SummaryState: the execution's output."""

    run: RunInfo
    status: RunStatus
    degraded: list[str]
    totals: Totals
    targets: list[TargetReport]
    targets_total: int
    report_key: str | None
    summary: str
