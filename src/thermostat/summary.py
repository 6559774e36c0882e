"""Summarize: warm results + plan -> one report per target, totals, and the shortfall top-up decision.

Input is the Plan output plus the Map's ``warm_results`` (round 0), or the previous Summarize output
plus the top-up round's ``warm_results`` (round 1). ``warm_results`` holds a ``BatchResult`` per batch,
or a ``FailedBatch`` made by the Map's ``Catch`` — which becomes a failure on each of that batch's
targets; the run goes on.

Distinct environments are the union of the environment ids that answered, across batches and rounds.
Round 0 only: targets short of their request (``partial``/``throttled``) get ONE top-up round, planned
by ``thermostat.planning.plan_topup`` with a longer lead time. The top-up sends the full request again,
not only the missing count: new pings land on the idle warm environments first, so only pings that
overlap all of them reach new ones. Round 1 merges into the same reports and never asks again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from thermostat import cost, models, planning
from thermostat.config import PlanSettings, SummarySettings
from thermostat.exceptions import InvalidInputError
from thermostat.summary_output import render_summary

logger = logging.getLogger(__name__)

METRICS_PER_TARGET = 6  # GetMetricData queries per target (thermostat.collect.METRICS)
TopUpPlanner = Callable[[list[planning.PingRequest], models.RunInfo, PlanSettings, int], list[models.WarmBatch]]
Key = tuple[str, str | None]


@dataclass
class _Round:
    """What this round's results say about one target."""

    seen: bool = False
    answered: int = 0
    throttled_final: int = 0
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    throttled_failure: bool = False


def _memory(report: models.TargetReport) -> int:
    return report.get("memory_mb", 128)


def _from_plan(record: models.PlanRecord) -> models.TargetReport:
    report: models.TargetReport = {
        "function": record["function"], "qualifier": record["qualifier"], "forecast": record["forecast"],
        "desired": record["desired"], "requested": record["requested"], "distinct_envs": 0, "cold_inits": 0,
        "throttled": 0, "errors": 0, "hold_ms": 0.0, "cost_usd": 0.0, "status": record["status"],
        "reason": record["reason"], "rounds": 1 if record["requested"] > 0 else 0, "envs": [],
        "memory_mb": record["memory_mb"],
    }
    return report


def _cause_text(cause: str) -> str:
    """The readable part of a Catch ``Cause`` (Lambda errors arrive as a JSON document)."""
    try:
        data = json.loads(cause)
    except ValueError:
        return cause[:300]
    if isinstance(data, dict) and "errorMessage" in data:
        return str(data["errorMessage"])[:300]
    return cause[:300]


def _merge_outcome(report: models.TargetReport, acc: _Round, outcome: models.PingOutcome) -> None:
    envs = set(report.get("envs", []))
    envs.update(outcome["envs"])
    report["envs"] = sorted(envs)
    report["distinct_envs"] = len(envs)
    report["cold_inits"] += len(set(outcome["cold_envs"]))
    report["throttled"] += outcome["throttled"]
    report["errors"] += outcome["errors"]
    report["hold_ms"] = max(report["hold_ms"], float(outcome["hold_ms_max"]))
    invocations = outcome["answered"] + outcome["errors"]
    if invocations:
        usd = cost.lambda_invocation_usd(_memory(report), outcome["billed_ms"] / invocations, invocations)
        report["cost_usd"] = round(report["cost_usd"] + usd, 12)
    acc.seen = True
    acc.answered += outcome["answered"]
    acc.throttled_final += outcome["throttled_final"]
    acc.errors += outcome["errors"]
    acc.samples.extend(s for s in outcome["error_samples"] if s not in acc.samples)


def _merge_failed(reports: dict[Key, models.TargetReport], accs: dict[Key, _Round],
                  failed: models.FailedBatch, path: str, round_: int) -> None:
    batch = failed.get("batch")
    if not isinstance(batch, dict) or not isinstance(batch.get("pings"), list):
        raise InvalidInputError(f"{path}.batch", "a failed batch record must carry its WarmBatch")
    cause = _cause_text(str(failed.get("cause", "")))
    text = f"batch {batch.get('batch')} failed: {failed.get('error', 'Error')}: {cause}"
    for group in batch["pings"]:
        key = (group["function"], group["qualifier"])
        if key not in reports:
            logger.warning("result_without_plan", extra={"function": key[0], "qualifier": key[1]})
            continue
        acc = accs[key]
        if round_ > 0 and not acc.seen:
            reports[key]["rounds"] += 1
        acc.seen = True
        acc.failures.append(text)
        if failed.get("error") == "TargetThrottledError":
            acc.throttled_failure = True
            acc.throttled_final += group["count"]
        else:
            acc.errors += group["count"]
            reports[key]["errors"] += group["count"]


def _judge(report: models.TargetReport, acc: _Round, dry_run: bool) -> None:
    """Status and reason from the union of environments and this round's evidence."""
    if report["status"] in ("error", "skipped") or report["requested"] <= 0:
        return
    if dry_run:
        report["status"], report["reason"] = "planned", f"dry run: would warm {report['requested']}"
        return
    distinct, requested = report["distinct_envs"], report["requested"]
    got = f"{distinct}/{requested} environments warm"
    if report["cold_inits"]:
        got += f", {report['cold_inits']} cold"
    causes: list[str] = []
    if acc.throttled_final:
        causes.append(f"{acc.throttled_final} pings stayed throttled until the deadline")
    if acc.errors:
        causes.append(f"{acc.errors} errors, e.g. {acc.samples[0] if acc.samples else 'see logs'}")
    causes.extend(acc.failures[:1])
    if distinct >= requested:
        report["status"], report["reason"] = "warmed", got
    elif not acc.seen:
        if report["status"] == "planned":
            report["status"], report["reason"] = "failed", f"{got}; no result came back for this target"
    elif distinct > 0:
        cause = "; ".join(causes) or "some pings landed on environments already warm (no overlap)"
        report["status"], report["reason"] = "partial", f"{got}; {cause}"
    elif acc.throttled_final and not acc.errors:
        report["status"], report["reason"] = "throttled", f"{got}; {'; '.join(causes)}"
    else:
        report["status"], report["reason"] = "failed", f"{got}; {'; '.join(causes) or 'no answer'}"


def _orchestration_usd(settings: SummarySettings, state: Mapping[str, Any], reports: list[models.TargetReport],
                       batches: int, now_ms: int) -> float:
    """Step Functions (Standard transitions or Express duration) + GetMetricData of this run."""
    run = state["run"]
    readable = sum(r["status"] != "error" for r in reports)
    metric_data = cost.get_metric_data_usd(METRICS_PER_TARGET * readable)
    if settings.workflow_type == "EXPRESS":
        return metric_data + cost.sfn_express_usd(1, max(now_ms - run["started_at_ms"], 0))
    if run["round"] == 0:
        return metric_data + cost.sfn_standard_usd(cost.standard_run_transitions(batches))
    extra = cost.standard_run_transitions(batches, rounds=2) - cost.standard_run_transitions(0)
    return float(state["totals"]["orchestration_cost_usd"]) + cost.sfn_standard_usd(extra)


def _totals(reports: list[models.TargetReport], orchestration: float) -> models.Totals:
    return {
        "targets": len(reports), "requested": sum(r["requested"] for r in reports),
        "distinct_envs": sum(r["distinct_envs"] for r in reports),
        "cold_inits": sum(r["cold_inits"] for r in reports), "throttled": sum(r["throttled"] for r in reports),
        "errors": sum(r["errors"] for r in reports), "cost_usd": round(sum(r["cost_usd"] for r in reports), 12),
        "orchestration_cost_usd": round(orchestration, 12),
    }


def _reports_of(state: Mapping[str, Any]) -> list[models.TargetReport]:
    if isinstance(state.get("plan"), list):
        return [_from_plan(record) for record in state["plan"]]
    if isinstance(state.get("targets"), list) and isinstance(state.get("totals"), dict):
        return [cast(models.TargetReport, dict(report)) for report in state["targets"]]
    raise InvalidInputError("$", "Summarize needs the Plan output (plan) or a previous Summarize output "
                                 "(targets, totals)")


def summarize(state: Mapping[str, Any], settings: SummarySettings, now_ms: int,
              topup: TopUpPlanner = planning.plan_topup) -> models.ReportState:
    """The Summarize state (text and metrics: :mod:`thermostat.summary_output`)."""
    if not isinstance(state.get("run"), dict) or not isinstance(state.get("request"), dict):
        raise InvalidInputError("$", "Summarize needs run and request")
    run = cast(models.RunInfo, state["run"])
    request = cast(models.Request, state["request"])
    reports = _reports_of(state)
    by_key: dict[Key, models.TargetReport] = {(r["function"], r["qualifier"]): r for r in reports}
    accs: dict[Key, _Round] = {key: _Round() for key in by_key}
    results = state.get("warm_results", [])
    if not isinstance(results, list):
        raise InvalidInputError("warm_results", "must be an array")
    for index, item in enumerate(results):
        path = f"warm_results[{index}]"
        if not isinstance(item, dict):
            raise InvalidInputError(path, "must be a BatchResult or a FailedBatch object")
        if item.get("failed") is True:
            _merge_failed(by_key, accs, cast(models.FailedBatch, item), path, run["round"])
            continue
        if not isinstance(item.get("results"), list):
            raise InvalidInputError(f"{path}.results", "must be an array")
        for outcome in item["results"]:
            key = (outcome["function"], outcome["qualifier"])
            if key not in by_key:
                logger.warning("result_without_plan", extra={"function": key[0], "qualifier": key[1]})
                continue
            if run["round"] > 0 and not accs[key].seen:
                by_key[key]["rounds"] += 1
            _merge_outcome(by_key[key], accs[key], outcome)
    for key, report in by_key.items():
        _judge(report, accs[key], request["dry_run"])
    orchestration = _orchestration_usd(settings, state, reports, len(results), now_ms)
    batches: list[models.WarmBatch] = []
    next_run = run
    short = [r for r in reports if r["status"] in ("partial", "throttled") and r["distinct_envs"] < r["requested"]]
    if run["round"] == 0 and short and not request["dry_run"]:
        next_run = {**run, "round": 1}
        wanted = [planning.PingRequest(r["function"], r["qualifier"], r["requested"]) for r in short]
        batches = topup(wanted, next_run, settings.plan, now_ms)
        for report in short:
            report["reason"] += "; top-up round planned"
        logger.info("topup_planned", extra={"targets": len(short), "batches": len(batches),
                                            "pings": sum(r["requested"] for r in short)})
    topup_needed = bool(batches)
    keep = {(r["function"], r["qualifier"]) for r in short} if topup_needed else set()
    for key, report in by_key.items():
        if key not in keep:  # env ids (and memory) are only needed to merge the top-up round
            report.pop("envs", None)
            report.pop("memory_mb", None)
    totals = _totals(reports, orchestration)
    report_state: models.ReportState = {
        "run": next_run if topup_needed else run, "request": request, "targets": reports, "totals": totals,
        "batches": batches, "topup_needed": topup_needed, "summary": "",
    }
    report_state["summary"] = render_summary(report_state, settings.workflow_type)
    return report_state
