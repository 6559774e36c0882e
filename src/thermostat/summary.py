"""Summarize: the plan and every batch's results -> one report per target, the records, the run's status.

Input (round 0): the Plan output (``run``, ``request``, ``lease``, ``overlap``, ``plan`` envelope,
``degraded``, ``warnings``, ``collected``, ``forecast`` envelope for the memos, ``failure`` when a state fell
back) plus the Map's ``warm_results`` (one Warm Batch output or Catch-made ``FailedBatch`` per batch). Round 1
(the top-up): this state's own round-0 output plus the top-up's ``warm_results``; the round-0 reports are
read back from its report document (``report_key``).

What it does, in order: every batch's outcomes are grouped by target (:mod:`thermostat.summary_merge`);
the records are loaded, each target's round is folded in (``telemetry.observe_round``), the forecast's memos
and the plan stored, and the records saved with the ETags of the load (a refused save: status
``conflict``, reported, not raised); at most one top-up round is planned for targets short of distinct
environments (:mod:`thermostat.summary_topup`); the full report is written to ``runs/<run>/report.json``;
the lease is released unless a top-up follows. The state output stays small: every target up to 50, else
the 50 most interesting, plus the totals and the report's key. Metrics are the handler's (once, at the end).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from thermostat import claims, planning, run_cost
from thermostat.config import SummarySettings
from thermostat.exceptions import InvalidInputError, StateConflictError, StateStoreError
from thermostat.models import MapItem, RunInfo, RunStatus, SummaryState, TargetReport, Totals
from thermostat.store import Lease, Snapshot
from thermostat.summary_inputs import degraded_reasons, gather, main_round_targets, run_info
from thermostat.summary_merge import Carry, Tally, judge, learned_lead, merge_tally, update_records
from thermostat.summary_output import output_targets, render_summary
from thermostat.summary_topup import topup_batches
from thermostat.telemetry import RoundSummary

logger = logging.getLogger(__name__)

REPORT_FORMAT = "thermostat.report/1"


class SummaryStore(claims.RunDocs, Protocol):
    def load(self, known_count_hint: int | None = None) -> Snapshot: ...

    def save(self, snapshot: Snapshot, records: dict[str, dict[str, Any]], *, run: str = "",
             now_ms: int | None = None) -> Snapshot: ...

    def release(self, lease: Lease, now_ms: int | None = None) -> bool: ...


@dataclass
class Summary:
    output: SummaryState
    reports: list[TargetReport]  # every target (the metrics' source)
    totals: Totals
    emit_metrics: bool  # the execution's last Summarize, not a dry run


def _memos(store: claims.RunDocs, state: Mapping[str, Any], warnings: list[str]) -> dict[str, Any]:
    if "forecast" not in state:
        return {}
    try:
        doc = claims.resolve(store, state["forecast"], "forecast")
    except StateStoreError as exc:
        warnings.append(f"forecast memos not stored: {exc}"[:300])
        return {}
    memos = doc.get("memos") if isinstance(doc, dict) else None
    return memos if isinstance(memos, dict) else {}


def _totals(reports: Sequence[TargetReport], load: Mapping[str, Any], settings: SummarySettings,
            duration_ms: int) -> Totals:
    pings_usd = round(sum(r["cost_usd"] for r in reports), 12)
    leads = [r["send_ahead_ms"] for r in reports if r["send_ahead_ms"] is not None]
    overhead = run_cost.run_usd(run_cost.RunLoad(
        targets=len(reports), pings=int(load.get("pings", 0)), batches=int(load.get("batches", 0)),
        metric_reads=int(load.get("metric_reads", 0)), send_ahead_ms=max(leads, default=100.0)),
        settings.workflow_type)
    overhead_usd = round(sum(overhead.values()), 12)
    return {
        "targets": len(reports), "requested": sum(r["requested"] for r in reports),
        "distinct_envs": sum(r["distinct_envs"] for r in reports), "cold_inits": sum(r["cold_inits"] for r in reports),
        "real_cold_starts": sum(r["real_cold_starts"] for r in reports),
        "throttled": sum(r["throttled"] for r in reports), "errors": sum(r["errors"] for r in reports),
        "cost_usd": pings_usd, "orchestration_cost_usd": overhead_usd,
        "run_cost_usd": round(pings_usd + overhead_usd, 12),
        "overhead_usd": {k: round(v, 12) for k, v in overhead.items()}, "batches": int(load.get("batches", 0)),
        "duration_ms": max(duration_ms, 0),
    }


def _records_round(store: SummaryStore, state: Mapping[str, Any], run: Mapping[str, Any], reports: list[TargetReport],
                   tallies: Mapping[str, Tally], settings: SummarySettings, now_ms: int,
                   problems: dict[str, Any]) -> tuple[dict[str, RoundSummary], dict[str, dict[str, Any]]]:
    """Load, fold the round in, save. A refused save is ``problems["conflict"]``; S3 failures degrade."""
    warnings: list[str] = problems["warnings"]
    try:
        snapshot = store.load(len(reports))
    except StateStoreError as exc:
        problems["degraded"].append(f"state store not read, answers not kept: {exc}"[:300])
        return {}, {}
    records = dict(snapshot.records)
    main_round = run["round"] == 0
    memos = _memos(store, state, warnings) if main_round else {}
    summaries = update_records(records, reports, tallies, now_ms=now_ms, window_ms=settings.plan.period_s * 1000,
                               plan_at_ms=int(run["started_at_ms"]) if main_round else None, memos=memos)
    try:
        store.save(snapshot, records, run=str(run["id"]), now_ms=now_ms)
    except StateConflictError as exc:
        problems["conflict"] = str(exc)[:300]
    except StateStoreError as exc:
        problems["degraded"].append(f"state store not written, answers not kept: {exc}"[:300])
    return summaries, records


def summarize(state: Mapping[str, Any], settings: SummarySettings, store: SummaryStore, now_ms: int) -> Summary:
    """The Summarize state (text: :mod:`thermostat.summary_output`; metrics: the handler)."""
    run = run_info(state)
    request = dict(state["request"]) if isinstance(state.get("request"), dict) else {}
    if isinstance(request.get("targets"), list):  # Collect failed: the input's list, shown as its length
        request["targets"] = len(request["targets"])
    dry_run, overlap, round_ = bool(request.get("dry_run")), bool(state.get("overlap")), int(run["round"])
    problems: dict[str, Any] = {"degraded": degraded_reasons(state), "conflict": None, "dry_run": dry_run,
                                "warnings": [str(w) for w in state.get("warnings") or []]}
    if round_ == 0:
        reports, carries = main_round_targets(store, state, problems)
        collected = state.get("collected") if isinstance(state.get("collected"), dict) else {}
        load = {"pings": 0, "batches": 0, "metric_reads": int((collected or {}).get("metric_reads", 0))}
    else:
        if not isinstance(state.get("report_key"), str):
            raise InvalidInputError("report_key", "the top-up round needs the round-0 report's key")
        previous = store.get_run_doc(state["report_key"])
        reports, load = list(previous["targets"]), dict(previous.get("load") or {})
        carries = {key: Carry.from_json(doc) for key, doc in (previous.get("carry") or {}).items()}
    results = state.get("warm_results") or []
    if not isinstance(results, list):
        raise InvalidInputError("warm_results", "must be an array")
    tallies = gather(store, results, {r["key"] for r in reports}, problems["warnings"])
    load["batches"] = int(load.get("batches", 0)) + len(results)
    load["pings"] = int(load.get("pings", 0)) + sum(t.sent for t in tallies.values())
    summaries: dict[str, RoundSummary] = {}
    records: dict[str, dict[str, Any]] = {}
    if not dry_run and not overlap:
        summaries, records = _records_round(store, state, run, reports, tallies, settings, now_ms, problems)
    for report in reports:
        tally = tallies.get(report["key"], Tally())
        merge_tally(report, carries.setdefault(report["key"], Carry()), tally, summaries.get(report["key"]))
        judge(report, tally, dry_run)
    status: RunStatus = ("conflict" if problems["conflict"] else "overlap" if overlap
                         else "degraded" if problems["degraded"] else "ok")
    if problems["conflict"]:
        problems["degraded"].append(f"records not saved: another run wrote the state store ({problems['conflict']})")
    short = [r for r in reports if r["status"] == "partial" and not tallies.get(r["key"], Tally()).stopped]
    batches: list[Any] = []
    if round_ == 0 and short and not dry_run and status in ("ok", "degraded"):
        leads = {r["key"]: learned_lead(records, r["key"], r["send_ahead_ms"]) for r in short}
        batches = topup_batches(short, leads, run, settings.plan, now_ms)
    keep = {r["key"] for r in short} if batches else set()
    for report in reports:
        if report["key"] in keep:
            report["reason"] += "; top-up round planned"
    carry = {key: carries[key].to_json() for key in sorted(keep)}
    totals = _totals(reports, load, settings, now_ms - int(run["started_at_ms"]))
    report_key = _write_report(store, run, status, problems, totals, reports, load, now_ms, carry,
                               settings.workflow_type)
    items: list[MapItem] = []
    if batches and report_key is not None:
        items = planning.map_items(store, batches)
    topup = bool(items)
    if status == "ok" and problems["degraded"]:  # the report itself could not be written
        status = "degraded"
    if not topup and not overlap:
        _release(store, state, now_ms)
    shown = output_targets(reports)
    summary = render_summary(
        run_name=str(run["name"]), round_=round_, workflow_type=settings.workflow_type, status=status,
        degraded=problems["degraded"], totals=totals, reports=reports, shown=shown,
        report_uri=_uri(store, report_key), dry_run=dry_run, topup_batches=len(items), topup_targets=len(keep),
        overlap_with=state.get("overlap_with") if overlap and isinstance(state.get("overlap_with"), dict) else None)
    output: SummaryState = {
        "run": cast(RunInfo, {**run, "round": 1} if topup else run), "status": status, "degraded": problems["degraded"],
        "totals": totals, "targets": shown, "targets_total": len(reports), "report_key": report_key,
        "summary": summary, "topup_needed": topup, "batches": items, "request": request,
    }
    if problems["warnings"]:
        output["warnings"] = problems["warnings"][:20]
    if topup and isinstance(state.get("lease"), dict):
        output["lease"] = state["lease"]
    logger.info("summarized", extra={"status": status, "round": round_, "targets": len(reports), "topup": topup,
                                     "totals": {k: v for k, v in totals.items() if k != "overhead_usd"}})
    return Summary(output, reports, totals, emit_metrics=not topup and not dry_run)


def _write_report(store: SummaryStore, run: Mapping[str, Any], status: str, problems: Mapping[str, Any],
                  totals: Totals, reports: list[TargetReport], load: Mapping[str, Any], now_ms: int,
                  carry: Mapping[str, Any], workflow_type: str) -> str | None:
    """The full report (every target); ``carry`` (environments, holds, memory of the targets a top-up round
    will merge into) only while one follows."""
    doc = {"format": REPORT_FORMAT, "run": dict(run), "status": status, "degraded": problems["degraded"],
           "warnings": problems["warnings"], "totals": totals, "targets": reports, "load": dict(load),
           "topup_planned": bool(carry), "carry": dict(carry), "workflow_type": workflow_type,
           "dry_run": bool(problems.get("dry_run")), "written_at_ms": now_ms}
    try:
        return store.put_run_doc(str(run["run_name"]), "report", doc)
    except StateStoreError as exc:
        logger.error("report_not_written", extra={"error": str(exc)[:300]})
        problems["degraded"].append(f"report not written: {exc}"[:300])
        return None


def _uri(store: SummaryStore, key: str | None) -> str | None:
    bucket = getattr(store, "bucket", None)
    return f"s3://{bucket}/{key}" if key and isinstance(bucket, str) else key


def _release(store: SummaryStore, state: Mapping[str, Any], now_ms: int) -> None:
    raw = state.get("lease")
    if not isinstance(raw, dict):
        return
    try:
        lease = Lease.from_dict(raw)
    except (KeyError, TypeError, ValueError):
        logger.warning("lease_unreadable", extra={"lease": str(raw)[:200]})
        return
    if lease.acquired:
        store.release(lease, now_ms)
