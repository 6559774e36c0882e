"""Warm Batch: send one batch's pings, each target's group at its own lead, and report what answered.

A batch holds ping groups of several targets, all released at the wave's shared ``release_at_ms``. A
group starts sending ``send_ahead_ms`` before it (learned per target from its answers' arrival spread;
until learned, at least ``send_ms_per_ping`` per ping still to leave from then on, :func:`group_leads`):
its pings arrive just before the release time and hold until it, so they overlap and land on distinct
execution environments, and each is held (and billed to the target) only about that long. All of a
group's pings leave at once: one thread per ping, started before the first group's time and waiting on
the group's start signal, one shared boto3 client whose connection pool holds the whole batch
(``functions/warm_batch/app.py``).

Retries and errors are :mod:`thermostat.warming_send`'s. A batch in which nothing got through (every
ping throttled to the end) raises :class:`TargetThrottledError` so the Map's ``Retry`` retries it;
anything else is returned, one :class:`~thermostat.models.PingOutcome` per group, with every answer's
telemetry in compact arrays. A batch that starts too late for its longest lead re-bases its release
time to ``now + longest lead + margin`` (and moves its deadline as much), so its own pings still overlap.

The clock, sleep and random source are injected (:class:`Runtime`); nothing here reads the real time.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from thermostat.exceptions import InvalidInputError, TargetThrottledError
from thermostat.models import BatchResult, CompactAnswer, PingGroup, PingOutcome, WarmBatch, target_label
from thermostat.telemetry import SEND_AHEAD_DEFAULT_MS
from thermostat.warming_send import (
    Invoke,
    PingResult,
    PingSpec,
    Reply,
    Runtime,
    TargetTracker,
    WarmOptions,
    lambda_invoker,
    send_ping,
)
from thermostat_target.protocol import Answer

__all__ = ["Invoke", "Reply", "Runtime", "WarmOptions", "batch_output", "compact_answer", "effective_times",
           "group_leads", "lambda_invoker", "parse_warm_batch", "warm_batch"]

logger = logging.getLogger(__name__)

MAX_ERROR_SAMPLES = 3
RESULT_INLINE_BYTES = 4096  # a batch's results travel inline up to this size (the Map's output sums them)


def group_leads(groups: Sequence[PingGroup], options: WarmOptions) -> list[float]:
    """The lead each group is sent with: its learned one (at least ``min_send_ahead_ms``) — it already holds
    the spread this target's rounds showed. A group whose lead is not learned yet (a new target, a top-up)
    also gets long enough for every ping that leaves from its start on (its own and those of the groups
    starting after it) to be sent by the release time at ``send_ms_per_ping`` each (sending is CPU-bound)."""
    base = [max(float(g["send_ahead_ms"]), options.min_send_ahead_ms) for g in groups]
    leads = [0.0] * len(groups)
    pending = 0
    for index in sorted(range(len(groups)), key=lambda i: base[i]):  # the last to start first
        pending += groups[index]["count"]
        allowance = 0.0 if groups[index].get("learned") else options.send_ms_per_ping * pending
        leads[index] = max(base[index], allowance)
    return leads


def effective_times(batch: WarmBatch, now_ms: float, longest_lead_ms: float,
                    options: WarmOptions) -> tuple[int, float]:
    """(release_at_ms to send, deadline_ms): a batch too late for its longest lead is re-based."""
    release = batch["release_at_ms"]
    if now_ms + longest_lead_ms > release:
        release = math.ceil(now_ms + longest_lead_ms + options.rebase_margin_ms)
    deadline = float(batch["deadline_ms"] + (release - batch["release_at_ms"]))
    if options.stop_by_ms is not None:
        deadline = min(deadline, options.stop_by_ms)
    return release, deadline


def compact_answer(answer: Answer) -> CompactAnswer:
    """``[env, cold, held_ms, late_ms, real, real_age_ms, ping_age_ms, init_ms]`` (v1: nulls)."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(float(value), 1)

    return [answer.env, answer.cold, ms(answer.held_ms), ms(answer.late_ms), answer.real, ms(answer.real_age_ms),
            ms(answer.ping_age_ms), ms(answer.init_ms)]


@dataclass
class _Group:
    group: PingGroup
    send_ahead_ms: float
    tracker: TargetTracker
    spec: PingSpec
    go: threading.Event = field(default_factory=threading.Event)
    results: list[PingResult] = field(default_factory=list)


def _outcome(g: _Group, release: int) -> PingOutcome:
    answers = [r.answer for r in g.results if r.answer is not None]
    samples: list[str] = []
    for result in g.results:
        if result.error and result.error not in samples and len(samples) < MAX_ERROR_SAMPLES:
            samples.append(result.error)
    group = g.group
    return {
        "key": group["key"], "function": group["function"], "qualifier": group["qualifier"],
        "requested": group["count"], "answers": [compact_answer(a) for a in answers],
        "throttled": sum(r.throttles for r in g.results),
        "throttled_final": sum(r.throttled_final for r in g.results),
        "errors": sum(r.error is not None for r in g.results), "timeouts": sum(r.timeout for r in g.results),
        "error_samples": samples, "send_ahead_ms": round(g.send_ahead_ms, 1), "release_at_ms": release,
        "protocol": g.tracker.version, "billed_ms": float(sum(r.billed_ms for r in g.results)),
        "stopped": g.tracker.stopped,
    }


def warm_batch(batch: WarmBatch, invoke: Invoke, runtime: Runtime,
               options: WarmOptions | None = None) -> list[PingOutcome]:
    """The Warm Batch state's work. Raises :class:`TargetThrottledError` only when nothing got through."""
    options = options or WarmOptions()
    start = runtime.now_ms()
    live = [group for group in batch["pings"] if group["count"] > 0]
    groups = [
        _Group(group, lead, TargetTracker(group["protocol"], lead, options),
               PingSpec(batch["run"], batch["batch"], group["of"], batch["max_hold_ms"], batch["refresh"],
                        batch["period_s"]))
        for group, lead in zip(live, group_leads(live, options), strict=True)
    ]
    jobs: list[tuple[_Group, int]] = [(g, g.group["first_slot"] + i) for g in groups for i in range(g.group["count"])]
    payloads: list[tuple[bytes, int]] = [(b"", 2)] * len(jobs)
    timing: dict[str, Any] = {}
    lock = threading.Lock()

    def run(index: int) -> None:
        g, slot = jobs[index]
        g.go.wait()
        if "release" not in timing or timing.get("cancelled"):  # the sender failed: nothing to send
            return
        target = (g.group["function"], g.group["qualifier"])
        result = send_ping(invoke, target, g.spec, slot, timing["release"], payloads[index], g.tracker,
                           timing["deadline"], runtime, options)
        with lock:
            g.results.append(result)

    # Threads first (they wait for their group's signal), so a group's pings leave together when it is time.
    threads = [threading.Thread(target=run, args=(i,), name=f"ping-{i}", daemon=True) for i in range(len(jobs))]
    try:
        for thread in threads:
            thread.start()
        longest = max((g.send_ahead_ms for g in groups), default=0.0)
        release, deadline = effective_times(batch, runtime.now_ms(), longest, options)
        timing.update(release=release, deadline=deadline)
        if release != batch["release_at_ms"]:
            logger.warning("release_rebased", extra={"batch": batch["batch"], "planned": batch["release_at_ms"],
                                                     "release_at_ms": release, "late_ms": round(start - (
                                                         batch["release_at_ms"] - longest), 1)})
        payloads[:] = [(payload, g.tracker.version) for g in groups
                       for payload in g.spec.payloads(g.group["first_slot"], g.group["count"], release,
                                                      g.tracker.version)]
        for g in sorted(groups, key=lambda x: -x.send_ahead_ms):
            wait_ms = release - g.send_ahead_ms - runtime.now_ms()
            if wait_ms > 0:
                runtime.sleep(wait_ms / 1000.0)
            g.go.set()
    except BaseException:
        timing["cancelled"] = True
        raise
    finally:
        for g in groups:  # never leave a thread waiting (e.g. a payload that could not be built)
            g.go.set()
        for thread in threads:
            thread.join()
    release_used = int(timing.get("release", batch["release_at_ms"]))
    outcomes = [_outcome(g, release_used) for g in groups]
    _log_and_check(batch, outcomes, runtime.now_ms() - start)
    return outcomes


def _log_and_check(batch: WarmBatch, outcomes: Sequence[PingOutcome], elapsed_ms: float) -> None:
    pings = sum(o["requested"] for o in outcomes)
    answered = sum(len(o["answers"]) for o in outcomes)
    errors = sum(o["errors"] for o in outcomes)
    throttled_final = sum(o["throttled_final"] for o in outcomes)
    holds = [a[2] for o in outcomes for a in o["answers"] if a[2] is not None]
    logger.info("batch_warmed", extra={
        "batch": batch["batch"], "round": batch["round"], "pings": pings, "answered": answered,
        "distinct_envs": sum(len({a[0] for a in o["answers"]}) for o in outcomes), "errors": errors,
        "throttled": sum(o["throttled"] for o in outcomes), "throttled_final": throttled_final,
        "stopped": [o["key"] for o in outcomes if o["stopped"]][:10],
        "hold_ms_median": median(holds) if holds else None, "elapsed_ms": round(elapsed_ms, 1)})
    if pings and answered == 0 and errors == 0 and throttled_final == pings:
        names = ", ".join(sorted(o["key"] for o in outcomes))
        raise TargetThrottledError(
            f"batch {batch['batch']} (round {batch['round']}): all {pings} pings to {names[:500]} stayed "
            f"throttled ({sum(o['throttled'] for o in outcomes)} throttle responses)")


def batch_output(batch: WarmBatch, outcomes: Sequence[PingOutcome], result: dict[str, Any]) -> BatchResult:
    """The state's small output: counts and the envelope of the outcomes."""
    return {
        "batch": batch["batch"], "round": batch["round"], "result": result,
        "pings": sum(o["requested"] for o in outcomes),
        "answered": sum(len(o["answers"]) for o in outcomes),
        "distinct": sum(len({a[0] for a in o["answers"]}) for o in outcomes),
        "throttled": sum(o["throttled"] for o in outcomes), "errors": sum(o["errors"] for o in outcomes),
    }


# --- input -------------------------------------------------------------------------------------------

_BATCH_INTS = ("batch", "round", "release_at_ms", "max_hold_ms", "period_s", "deadline_ms")
_GROUP_INTS = ("first_slot", "count", "of")


def _require_count(value: object, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(path, "must be a non-negative integer")


def _group(raw: object, path: str) -> PingGroup:
    if not isinstance(raw, dict) or not isinstance(raw.get("function"), str) or not raw["function"]:
        raise InvalidInputError(f"{path}.function", "must be a non-empty string")
    qualifier = raw.get("qualifier")
    if qualifier is not None and not isinstance(qualifier, str):
        raise InvalidInputError(f"{path}.qualifier", "must be a string or null")
    for key in _GROUP_INTS:
        _require_count(raw.get(key), f"{path}.{key}")
    if raw["first_slot"] + raw["count"] > raw["of"]:
        raise InvalidInputError(f"{path}.count", "first_slot + count must be <= of")
    lead = raw.get("send_ahead_ms", SEND_AHEAD_DEFAULT_MS)
    if lead is None:
        lead = SEND_AHEAD_DEFAULT_MS
    if isinstance(lead, bool) or not isinstance(lead, int | float) or not 0 <= lead <= 60_000:
        raise InvalidInputError(f"{path}.send_ahead_ms", "must be a number of ms in [0, 60000]")
    protocol = raw.get("protocol", 2)
    if protocol not in (1, 2) or isinstance(protocol, bool):
        raise InvalidInputError(f"{path}.protocol", "must be 1 or 2")
    key = raw.get("key") or target_label(raw["function"], qualifier)
    if not isinstance(key, str):
        raise InvalidInputError(f"{path}.key", "must be a string")
    return {"key": key, "function": raw["function"], "qualifier": qualifier, "first_slot": raw["first_slot"],
            "count": raw["count"], "of": raw["of"], "send_ahead_ms": float(lead), "protocol": int(protocol)}


def parse_warm_batch(event: object) -> WarmBatch:
    """Check a WarmBatch document (the fields this state relies on), naming the bad field; fills the
    optional group fields (key, send_ahead_ms, protocol)."""
    if not isinstance(event, dict):
        raise InvalidInputError("$", "a Warm Batch input must be a WarmBatch object")
    if not isinstance(event.get("run"), str) or not event["run"]:
        raise InvalidInputError("run", "must be a non-empty string")
    run_name = event.get("run_name", "")
    if not isinstance(run_name, str):
        raise InvalidInputError("run_name", "must be a string")
    for key in _BATCH_INTS:
        _require_count(event.get(key), key)
    if not isinstance(event.get("refresh"), bool):
        raise InvalidInputError("refresh", "must be true or false")
    pings = event.get("pings")
    if not isinstance(pings, list):
        raise InvalidInputError("pings", "must be an array")
    batch: WarmBatch = {
        "run": event["run"], "run_name": run_name, "batch": event["batch"], "round": event["round"],
        "release_at_ms": event["release_at_ms"], "deadline_ms": event["deadline_ms"],
        "max_hold_ms": event["max_hold_ms"], "period_s": event["period_s"], "refresh": event["refresh"],
        "pings": [_group(group, f"pings[{i}]") for i, group in enumerate(pings)],
    }
    inline = event.get("result_inline_bytes")
    if inline is not None:
        _require_count(inline, "result_inline_bytes")
        batch["result_inline_bytes"] = inline
    return batch


def map_item_envelope(event: object) -> tuple[Any, str]:
    """Where the WarmBatch of a Warm Batch input is: (envelope or inline WarmBatch, path). Accepts the Map
    item ``{batch, doc}``, the same wrapped as ``{"batch": {batch, doc}}``, or a bare WarmBatch."""
    if isinstance(event, dict):
        if "doc" in event:
            return event["doc"], "doc"
        inner = event.get("batch")
        if isinstance(inner, dict) and "doc" in inner:
            return inner["doc"], "batch.doc"
        if "pings" in event:
            return {"inline": event}, "$"
    raise InvalidInputError("$", "a Warm Batch input must be a Map item {batch, doc} or a WarmBatch")
