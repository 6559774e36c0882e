"""State "Plan": the forecast (or, after a failure, the state store) -> PlanState.

Normal path: Collect's targets + Forecast's desired counts -> :func:`thermostat.planning.allocate` (the
concurrency budget) -> batches -> Map items. Every target gets a :class:`models.PlanRecord`.

Fallback path (the input carries ``failure``: Collect Metrics or Forecast failed, timed out included):
each target's desired count is its last plan when younger than :data:`LAST_PLAN_MS`, else its floor; the
targets are Collect's when it succeeded, else the records seen recently plus the input's own targets; the
lease is taken (renewed when this run already holds it; another run holding it -> overlap, nothing
planned); the run says ``degraded`` with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

from thermostat import claims, cost, models, planning
from thermostat.collect import LEASE_TTL_MS, decode_records, plan_input, request_view
from thermostat.config import DiscoverySettings, PlanSettings
from thermostat.discovery import merge_targets, spec_key
from thermostat.exceptions import InvalidInputError
from thermostat.ping_price import ping_usd_month
from thermostat.records import TargetRecord, new_record
from thermostat.store import StateStore
from thermostat.telemetry import SEND_AHEAD_DEFAULT_MS
from thermostat.validation import function_name

logger = logging.getLogger(__name__)

LAST_PLAN_MS = 3600_000  # a last plan younger than this is the fallback's desired count
SEEN_MS = 6 * 3600_000  # after a Collect failure, the targets are the records seen this recently


def failure_of(state: Mapping[str, Any]) -> models.FailureInfo | None:
    raw = state.get("failure")
    if not isinstance(raw, dict):
        return None
    return {"state": str(raw.get("state", "?")), "error": str(raw.get("error") or raw.get("Error") or "?"),
            "cause": str(raw.get("cause") or raw.get("Cause") or "")[:2000]}


def asleep_need(target: models.TargetPlanInput) -> planning.Need | None:
    """A target outside its warm hours gets 0 (None: it is inside them, or has none)."""
    if target.get("in_hours") is False and "error" not in target:
        return planning.Need(target, 0, "hours", f"0: outside its warm hours ({target.get('hours')})")
    return None


def fallback_need(target: models.TargetPlanInput, record: TargetRecord | None, now_ms: int) -> planning.Need:
    asleep = asleep_need(target)
    if asleep is not None:
        return asleep
    last = record.last_plan if record is not None else None
    age = None if last is None else now_ms - last.at_ms
    if last is not None and age is not None and age <= LAST_PLAN_MS:
        desired = min(max(last.requested, target["min"]), target["max"])
        reason = f"{desired}: the last plan ({last.requested} pings, {age // 60_000} min ago)"
    else:
        desired, reason = target["min"], f"{target['min']}: the floor (min), no plan of the last hour"
    trusted = last.requested if last is not None and age is not None and age <= planning.TRUSTED_PLAN_MS else None
    return planning.Need(target, desired, "fallback", reason, trusted)


def fallback_targets(request: Mapping[str, Any], records: Mapping[str, TargetRecord], settings: DiscoverySettings,
                     now_ms: int) -> list[models.TargetPlanInput]:
    """Collect failed: the input's targets (when the list is there) and, unless ``discover`` is false, every
    record seen in the last hours (tagged/configured before), at the stack's min/max."""
    requested = request.get("targets")
    specs: list[models.TargetSpec] = list(requested) if isinstance(requested, list) else []
    if request.get("discover", True):
        seen = sorted(k for k, r in records.items() if r.last_seen_ms >= now_ms - SEEN_MS)
        specs = merge_targets([{"function": records[k].function, "qualifier": records[k].qualifier,
                                "min": settings.min_warm, "max": settings.max_warm, "source": "tag"} for k in seen],
                              specs)
    out: list[models.TargetPlanInput] = []
    for spec in specs[:settings.max_targets]:
        key = spec_key(spec)
        record = records.get(key)
        if record is None:
            record = new_record(key, function_name(spec["function"]), spec["qualifier"], now_ms)
        error = None
        if record.config.read_at_ms > 0 and not record.config.arn:
            error = f"FunctionNotFound: {record.function} was not found in the account"
        out.append(plan_input(record, spec, now_ms, None, error))
    return out


def plan_record(need: planning.Need, grant: planning.Grant, forecast: Mapping[str, Any] | None,
                settings: PlanSettings) -> models.PlanRecord:
    t = need.target
    desired = max(need.desired, 0)
    if forecast is not None and desired:
        ping_month = float(forecast["ping_usd_month"]) * grant.requested / desired
        provisioned_month = float(forecast["provisioned_usd_month"])
    else:
        ping_month = ping_usd_month(t["memory_mb"], grant.requested, t["send_ahead_ms"], settings.period_s)
        provisioned_month = cost.provisioned_usd(t["memory_mb"], desired, cost.MONTH_SECONDS)
    quiet = not grant.note or "error" in t or need.term == "hours"
    reason = need.reason if quiet else f"{need.reason}; {grant.note} -> {grant.requested}"
    record: models.PlanRecord = {
        "key": t["key"], "function": t["function"], "qualifier": t["qualifier"], "desired": desired,
        "requested": grant.requested, "limited_by": grant.limited_by, "term": need.term, "reason": reason,
        "memory_mb": t["memory_mb"], "ping_usd_month": round(ping_month, 6),
        "provisioned_usd_month": round(provisioned_month, 4),
        "status": "error" if "error" in t else ("planned" if grant.requested > 0 else "skipped")}
    if "error" in t:
        record["error"] = t["error"]
    for key in ("hours", "in_hours", "settings_source", "tag_problems"):  # shown per target in the report
        if key in t:
            record[key] = t[key]
    return record


def decide(needs: list[planning.Need], account: models.AccountView | None,
           forecasts: Mapping[str, Mapping[str, Any]], settings: PlanSettings
           ) -> tuple[list[models.PlanRecord], list[planning.PingRequest]]:
    """Needs through the budget (and the fan-out cap) -> one PlanRecord per target + the ping requests."""
    grants = planning.allocate(needs, account, settings.budget_share)
    fanout = settings.max_batch_size * settings.map_max_concurrency
    grants = [g if g.requested <= fanout else planning.Grant(fanout, "fanout", f"at most {fanout} pings can overlap "
                                                             "(MaxBatchSize x MapMaxConcurrency)") for g in grants]
    plan = [plan_record(n, g, forecasts.get(n.target["key"]), settings) for n, g in zip(needs, grants, strict=True)]
    requests = [planning.PingRequest(n.target["function"], n.target["qualifier"], g.requested,
                                     n.target["send_ahead_ms"] or SEND_AHEAD_DEFAULT_MS, n.target["protocol"],
                                     n.target["key"], learned=n.target["send_ahead_ms"] is not None)
                for n, g in zip(needs, grants, strict=True) if g.requested > 0]
    return plan, requests


def plan_state(state: Mapping[str, Any], store: StateStore, settings: PlanSettings, discovery: DiscoverySettings,
               now_ms: int) -> models.PlanState:
    """The Plan state (normal or fallback)."""
    for key in ("run", "request"):
        if not isinstance(state.get(key), dict):
            raise InvalidInputError(key, "missing: Plan needs the Forecast output (or a recorded failure)")
    run = cast(models.RunInfo, {**state["run"]})
    run["run_name"] = models.run_name_of(run)
    request = state["request"]
    failure = failure_of(state)
    degraded = list(state.get("degraded") or [])
    warnings = list(state.get("warnings") or [])
    lease = state.get("lease")
    forecasts: dict[str, Mapping[str, Any]] = {}
    account: models.AccountView | None = state.get("account")
    if failure is None:
        if not isinstance(state.get("targets"), dict) or not isinstance(state.get("forecast"), dict):
            raise InvalidInputError("$", "Plan needs the Forecast output (targets and forecast envelopes)")
        targets: list[models.TargetPlanInput] = claims.resolve(store, state["targets"], "targets")
        doc = claims.resolve(store, state["forecast"], "forecast")
        forecasts = {f["key"]: f for f in doc["targets"]}
        needs = [need_of(t, forecasts.get(t["key"])) for t in targets]
    else:
        degraded.append(f"{failure['state']} failed ({failure['error']}): planned from the last plans and floors")
        taken = store.acquire(run["id"], now_ms, LEASE_TTL_MS)
        if taken.overlap:
            return _overlap(run, request, taken.holder or "unknown", taken.expires_at_ms, degraded, warnings,
                            failure, settings, now_ms)
        lease = taken.to_dict()
        records, _ = decode_records(store.load().records)
        if failure["state"] != "Collect Metrics" and isinstance(state.get("targets"), dict):
            targets = claims.resolve(store, state["targets"], "targets")
        else:
            targets, account = fallback_targets(request, records, discovery, now_ms), None
        needs = [fallback_need(t, records.get(t["key"]), now_ms) for t in targets]
    plan, requests = decide(needs, account, forecasts, settings)
    batches = [] if request.get("dry_run") else planning.make_batches(requests, run, settings, now_ms)
    out: dict[str, Any] = {
        "run": run, "request": _view(request), "lease": lease, "overlap": False,
        "plan": claims.offload(store, run["run_name"], "plan", plan),
        "batches": planning.map_items(store, batches),
        "warm_settings": {"max_concurrency": settings.map_max_concurrency},
        "warm_needed": bool(batches), "release_at_ms": batches[0]["release_at_ms"] if batches else now_ms,
        "degraded": degraded, "warnings": warnings}
    for key in ("collected", "forecast"):
        if key in state:
            out[key] = state[key]
    if failure is not None:
        out["failure"] = failure
    logger.info("planned", extra={"targets": len(plan), "pings": sum(r["requested"] for r in plan),
                                  "batches": len(batches), "fallback": failure is not None,
                                  "dry_run": bool(request.get("dry_run"))})
    return cast(models.PlanState, out)


def _view(request: Any) -> models.RequestView:
    """The request with its targets list (present when Collect failed) replaced by its length."""
    return request_view(request) if isinstance(request.get("targets"), list) else cast(models.RequestView, request)


def need_of(target: models.TargetPlanInput, forecast: Mapping[str, Any] | None) -> planning.Need:
    if "error" in target:
        return planning.Need(target, 0, "error", target["error"])
    asleep = asleep_need(target)
    if asleep is not None:
        return asleep
    if forecast is None:
        return planning.Need(target, target["min"], "floor", f"{target['min']}: the floor (no forecast for it)")
    return planning.Need(target, int(forecast["desired"]), str(forecast["term"]), str(forecast["reason"]))


def _overlap(run: models.RunInfo, request: Any, holder: str, until_ms: int, degraded: list[str],
             warnings: list[str], failure: models.FailureInfo, settings: PlanSettings, now_ms: int
             ) -> models.PlanState:
    logger.warning("overlap", extra={"run": run["id"], "holder": holder, "until_ms": until_ms})
    out: models.PlanState = {
        "run": run, "request": _view(request), "lease": None, "overlap": True,
        "overlap_with": {"run": holder, "until_ms": until_ms}, "plan": {"inline": []}, "batches": [],
        "warm_settings": {"max_concurrency": settings.map_max_concurrency}, "warm_needed": False,
        "release_at_ms": now_ms, "degraded": degraded,
        "warnings": [*warnings, f"another run ({holder}) holds the lease: nothing planned"], "failure": failure}
    return out
