"""Summarize's reading of its input: the run, the degraded reasons, the targets of the round, and every
batch's outcomes grouped by target (results by reference fetched concurrently).

The Map's results come as Warm Batch outputs (``result`` envelope of PingOutcome) or, for a batch whose
Warm Batch failed after its retries, as the ``FailedBatch`` the Map's Catch made (its Map item, error and
cause): every target of that batch is charged with the failure.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from thermostat import claims
from thermostat.exceptions import InvalidInputError, StateStoreError
from thermostat.models import PingOutcome, TargetReport, target_label
from thermostat.store import make_run_name
from thermostat.summary_merge import Carry, Tally, report_from_plan

logger = logging.getLogger(__name__)

FETCH_WORKERS = 8


def run_info(state: Mapping[str, Any]) -> dict[str, Any]:
    run = state.get("run")
    if not isinstance(run, dict) or not isinstance(run.get("id"), str) or not isinstance(run.get("name"), str):
        raise InvalidInputError("run", "Summarize needs run {id, name, started_at_ms, round}")
    run = dict(run)
    run.setdefault("round", 0)
    run.setdefault("started_at_ms", 0)
    if not run.get("run_name"):
        run["run_name"] = make_run_name(run["name"], int(run["started_at_ms"]))
    return run


def cause_text(cause: str) -> str:
    """The readable part of a Catch ``Cause`` (Lambda errors arrive as a JSON document)."""
    try:
        data = json.loads(cause)
    except ValueError:
        return cause[:300]
    if isinstance(data, dict) and "errorMessage" in data:
        kind = data.get("errorType")
        return (f"{kind}: {data['errorMessage']}" if kind else str(data["errorMessage"]))[:300]
    return cause[:300]


def _failed_doc(item: Mapping[str, Any]) -> Any:
    """Where a FailedBatch keeps its batch: ``doc``, ``batch.doc`` or a WarmBatch at ``batch``."""
    if "doc" in item:
        return item["doc"]
    batch = item.get("batch")
    if isinstance(batch, dict):
        return batch.get("doc", {"inline": batch})
    return None


def gather(store: claims.RunDocs, results: Sequence[Any], known: set[str], warnings: list[str]) -> dict[str, Tally]:
    """Every batch's outcomes grouped by target key (results by reference fetched concurrently)."""
    tallies: dict[str, Tally] = {}
    envelopes: list[tuple[str, Any]] = []
    failed: list[tuple[str, Mapping[str, Any]]] = []
    for index, item in enumerate(results):
        path = f"warm_results[{index}]"
        if not isinstance(item, dict):
            raise InvalidInputError(path, "must be a Warm Batch output or a FailedBatch object")
        if item.get("failed") is True:
            failed.append((path, item))
        elif "result" in item:
            envelopes.append((f"{path}.result", item["result"]))
        else:
            raise InvalidInputError(f"{path}.result", "missing (a Warm Batch output carries its result envelope)")
    jobs = [(path, envelope) for path, envelope in envelopes]
    jobs += [(f"{path}.doc", _failed_doc(item)) for path, item in failed]

    def fetch(job: tuple[str, Any]) -> Any:
        if job[1] is None:
            return None
        try:
            return claims.resolve(store, job[1], job[0])
        except StateStoreError as exc:  # a document gone missing: its targets count as "no result"
            warnings.append(f"{job[0]}: {exc}"[:300])
            return None

    with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        docs = list(pool.map(fetch, jobs))
    for (path, _), outcomes in zip(envelopes, docs[:len(envelopes)], strict=True):
        if outcomes is None:
            continue
        if not isinstance(outcomes, list):
            raise InvalidInputError(path, "must hold a list of PingOutcome")
        for outcome in cast(list[PingOutcome], outcomes):
            if outcome.get("key") not in known:
                logger.warning("result_without_plan", extra={"target": outcome.get("key")})
                continue
            tallies.setdefault(outcome["key"], Tally()).add(outcome)
    for (path, item), batch in zip(failed, docs[len(envelopes):], strict=True):
        index = item["batch"].get("batch", "?") if isinstance(item.get("batch"), dict) else item.get("batch", "?")
        text = f"batch {index} failed: {item.get('error', 'Error')}: {cause_text(str(item.get('cause', '')))}"
        if not isinstance(batch, dict) or not isinstance(batch.get("pings"), list):
            warnings.append(f"{path}: {text} (its targets are unknown)")
            continue
        for group in batch["pings"]:
            key = group.get("key") or target_label(group["function"], group.get("qualifier"))
            if key in known:
                tallies.setdefault(key, Tally()).add_failure(text, int(group.get("count", 0)),
                                                             throttled=item.get("error") == "TargetThrottledError")
    return tallies


def degraded_reasons(state: Mapping[str, Any]) -> list[str]:
    reasons = [str(r) for r in state.get("degraded") or [] if r]
    failure = state.get("failure")
    if isinstance(failure, dict):
        name, error = str(failure.get("state", "a state")), str(failure.get("error", "Error"))
        cause = cause_text(str(failure.get("cause", "")))
        cause = cause.removeprefix(f"{error}: ")  # a Lambda error's cause names its type again
        said = f"{name} failed ({error})"  # what Plan's fallback already wrote: add the cause there, once
        for index, reason in enumerate(reasons):
            if reason.startswith(said):
                reasons[index] = f"{name} failed ({error}: {cause}){reason[len(said):]}"[:600]
                break
        else:
            reasons.append(f"{name} failed: {error}: {cause}")
    return reasons


def main_round_targets(store: claims.RunDocs, state: Mapping[str, Any],
                        problems: dict[str, Any]) -> tuple[list[TargetReport], dict[str, Carry]]:
    """The round-0 reports: from the plan; when Plan failed, from Collect's targets (as errors)."""
    if "plan" in state:
        plan = claims.resolve(store, state["plan"], "plan")
        if not isinstance(plan, list):
            raise InvalidInputError("plan", "must hold a list of PlanRecord")
        pairs = [report_from_plan(record) for record in plan]
    else:
        try:
            targets = claims.resolve(store, state["targets"], "targets") if "targets" in state else []
        except StateStoreError as exc:
            problems["warnings"].append(f"targets not read: {exc}"[:300])
            targets = []
        why = "not planned (see degraded)"
        pairs = [report_from_plan({**t, "status": "error", "reason": t.get("error") or why})
                 for t in targets if isinstance(t, dict) and isinstance(t.get("function"), str)]
    return [r for r, _ in pairs], {r["key"]: c for r, c in pairs}
