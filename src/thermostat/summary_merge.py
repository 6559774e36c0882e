"""Summarize, per target: what a round's batches achieved (:class:`Tally`), the target's report, and the
answers folded into its state-store record.

A target's pings may span several batches of a round; its outcomes are merged into one :class:`Tally`
before :func:`thermostat.telemetry.observe_round` sees the round (one round = one release time). Distinct
environments are the union of the ids that answered, over batches and over the two rounds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from thermostat import cost
from thermostat.models import PingOutcome, TargetReport, target_label
from thermostat.records import LastPlan, TargetRecord, new_record, record_from_json, record_to_json
from thermostat.telemetry import PingAnswer, RoundSummary, observe_round

logger = logging.getLogger(__name__)

MAX_SAMPLES = 3


@dataclass
class Tally:
    """One target's round: every batch's outcome for it, merged."""

    seen: bool = False
    sent: int = 0
    answers: list[PingAnswer] = field(default_factory=list)
    throttled: int = 0
    throttled_final: int = 0
    errors: int = 0
    timeouts: int = 0
    samples: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # whole batches that failed
    billed_ms: float = 0.0
    invocations: int = 0
    release_at_ms: int | None = None
    send_ahead_ms: float | None = None
    protocol: int | None = None
    stopped: bool = False

    def add(self, outcome: PingOutcome) -> None:
        self.seen = True
        self.sent += int(outcome["requested"])
        self.answers.extend(PingAnswer(*row) for row in outcome["answers"])
        self.throttled += int(outcome["throttled"])
        self.throttled_final += int(outcome["throttled_final"])
        self.errors += int(outcome["errors"])
        self.timeouts += int(outcome.get("timeouts", 0))
        self.samples.extend(s for s in outcome["error_samples"] if s not in self.samples)
        self.billed_ms += float(outcome["billed_ms"])
        self.invocations += len(outcome["answers"]) + int(outcome["errors"]) - int(outcome.get("timeouts", 0))
        release = outcome.get("release_at_ms")
        if isinstance(release, int):
            self.release_at_ms = release if self.release_at_ms is None else min(self.release_at_ms, release)
        lead = float(outcome.get("send_ahead_ms") or 0.0)
        self.send_ahead_ms = lead if self.send_ahead_ms is None else max(self.send_ahead_ms, lead)
        if outcome["answers"]:
            self.protocol = int(outcome.get("protocol", 2))
        self.stopped = self.stopped or bool(outcome.get("stopped"))

    def add_failure(self, text: str, count: int, throttled: bool) -> None:
        self.seen = True
        self.sent += count
        self.failures.append(text)
        if throttled:
            self.throttled_final += count
        else:
            self.errors += count


@dataclass
class Carry:
    """What a target's report needs from round to round but the report does not show."""

    memory_mb: int = 128
    envs: set[str] = field(default_factory=set)
    holds: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"memory_mb": self.memory_mb, "envs": sorted(self.envs), "holds": self.holds}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Carry:
        return cls(int(doc.get("memory_mb", 128)), set(doc.get("envs", [])), [float(h) for h in doc.get("holds", [])])


def report_from_plan(record: Mapping[str, Any]) -> tuple[TargetReport, Carry]:
    """A PlanRecord (or a target Plan never saw) as the start of a target's report."""
    function, qualifier = str(record["function"]), record.get("qualifier")
    key = str(record.get("key") or target_label(function, qualifier))
    status = record.get("status", "planned")
    report: TargetReport = {
        "key": key, "function": function, "qualifier": qualifier, "desired": int(record.get("desired", 0)),
        "requested": int(record.get("requested", 0)), "limited_by": record.get("limited_by"),
        "term": str(record.get("term") or ""), "distinct_envs": 0, "cold_inits": 0, "real_cold_starts": 0,
        "throttled": 0, "errors": 0, "hold_ms": 0.0, "hold_ms_median": 0.0, "cost_usd": 0.0,
        "status": status if status in ("planned", "skipped", "error") else "planned",
        "reason": str(record.get("reason") or record.get("error") or ""), "rounds": 0, "protocol": 2,
        "send_ahead_ms": None,
    }
    for name in ("hours", "in_hours", "settings_source", "tag_problems"):  # the target's settings (issue 11)
        if name in record:
            report[name] = record[name]
    return report, Carry(memory_mb=int(record.get("memory_mb") or 128))


def merge_tally(report: TargetReport, carry: Carry, tally: Tally, summary: RoundSummary | None) -> None:
    """Fold a round's tally into the target's report (counts add up, environments union)."""
    if not tally.seen:
        return
    report["rounds"] += 1
    carry.envs.update(a.env for a in tally.answers)
    report["distinct_envs"] = len(carry.envs)
    report["cold_inits"] += len({a.env for a in tally.answers if a.cold})
    report["real_cold_starts"] += summary.real_cold_starts if summary is not None else 0
    report["throttled"] += tally.throttled
    report["errors"] += tally.errors
    carry.holds.extend(a.held_ms for a in tally.answers)
    if carry.holds:
        report["hold_ms"] = round(max(carry.holds), 1)
        report["hold_ms_median"] = round(float(median(carry.holds)), 1)
    usd = tally.invocations * cost.PRICES.lambda_request + cost.lambda_duration_usd(carry.memory_mb, tally.billed_ms)
    report["cost_usd"] = round(report["cost_usd"] + usd, 12)
    if tally.protocol is not None:
        report["protocol"] = tally.protocol
    if tally.send_ahead_ms is not None:
        report["send_ahead_ms"] = tally.send_ahead_ms


def judge(report: TargetReport, tally: Tally, dry_run: bool) -> None:
    """Status and reason from the union of environments and this round's evidence."""
    if report["status"] in ("error", "skipped") or report["requested"] <= 0:
        if report["status"] == "planned":
            report["status"] = "skipped"
        return
    if dry_run:
        report["status"], report["reason"] = "planned", f"dry run: would warm {report['requested']}"
        return
    distinct, requested = report["distinct_envs"], report["requested"]
    got = f"{distinct}/{requested} environments warm"
    if report["cold_inits"]:
        got += f", {report['cold_inits']} new"
    causes: list[str] = []
    if tally.stopped:
        causes.append(f"throttled on every ping: retrying stopped after {tally.throttled} throttles")
    elif tally.throttled_final:
        causes.append(f"{tally.throttled_final} pings still throttled at the deadline")
    if tally.errors:
        what = f"{tally.errors} errors ({tally.timeouts} timed out)" if tally.timeouts else f"{tally.errors} errors"
        causes.append(f"{what}, e.g. {tally.samples[0] if tally.samples else 'see logs'}")
    causes.extend(tally.failures[:1])
    if distinct >= requested:
        report["status"], report["reason"] = "warmed", got
    elif not tally.seen and report["rounds"] == 0:
        report["status"], report["reason"] = "failed", f"{got}; no result came back for this target"
    elif not tally.seen:
        return  # a later round that did not include this target: the earlier verdict stands
    elif distinct > 0:
        cause = "; ".join(causes) or "some pings landed on environments already warm (no overlap)"
        report["status"], report["reason"] = "partial", f"{got}; {cause}"
    elif tally.throttled_final and not tally.errors:
        report["status"], report["reason"] = "throttled", f"{got}; {'; '.join(causes)}"
    else:
        report["status"], report["reason"] = "failed", f"{got}; {'; '.join(causes) or 'no answer'}"


# --- records -------------------------------------------------------------------------------------------

def _record(records: Mapping[str, dict[str, Any]], report: TargetReport, now_ms: int) -> TargetRecord:
    doc = records.get(report["key"])
    if doc is not None:
        try:
            return record_from_json(doc)
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning("record_rebuilt", extra={"target": report["key"], "error": type(exc).__name__})
    return new_record(report["key"], report["function"], report["qualifier"], now_ms)


def update_records(records: dict[str, dict[str, Any]], reports: list[TargetReport], tallies: Mapping[str, Tally],
                   *, now_ms: int, window_ms: int, plan_at_ms: int | None, memos: Mapping[str, Any],
                   ) -> dict[str, RoundSummary]:
    """Every target's round into its record (in place in ``records``, JSON): the answers
    (``observe_round``), the version its library speaks, last seen, and on the main round the forecast's
    memo and the plan (the fallback of a run whose forecast fails). Returns each observed round's summary."""
    summaries: dict[str, RoundSummary] = {}
    for report in reports:
        key = report["key"]
        tally = tallies.get(key)
        observed = tally is not None and tally.seen and tally.sent > 0
        if not observed and plan_at_ms is None:
            continue
        record = _record(records, report, now_ms)
        if observed:
            assert tally is not None
            at_ms = tally.release_at_ms if tally.release_at_ms is not None else now_ms
            summaries[key] = observe_round(record, at_ms, tally.sent, tally.answers, window_ms, tally.send_ahead_ms)
            if tally.protocol is not None:
                record.protocol = tally.protocol
        if plan_at_ms is not None:
            if key in memos and isinstance(memos[key], dict):
                record.model = dict(memos[key])
            if report["status"] != "error":
                record.last_plan = LastPlan(plan_at_ms, report["desired"], report["requested"],
                                            report["term"] or "unknown", report["reason"][:300])
        record.last_seen_ms = max(record.last_seen_ms, now_ms)
        records[key] = record_to_json(record)
    return summaries


def learned_lead(records: Mapping[str, dict[str, Any]], key: str, fallback: float | None) -> float:
    """The send-ahead a target's next round uses: what its record learned, else ``fallback`` x 1.5."""
    doc = records.get(key) or {}
    lead = doc.get("send_ahead_ms")
    if isinstance(lead, int | float) and not math.isnan(float(lead)) and lead > 0:
        return float(lead)
    return round((fallback or 100.0) * 1.5, 1)
