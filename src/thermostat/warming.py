"""Warm Batch: send one batch's pings concurrently, retry throttles, report what answered.

Every ping of the batch is sent at once (one thread per ping, one shared boto3 client whose connection
pool is at least the batch size) with ``InvocationType=RequestResponse``, and holds in the target until
the round's shared ``release_at_ms``: concurrent pings occupy distinct execution environments. A batch
whose Map iteration starts early waits until ``send_ahead_ms`` before the release time, so every batch
of the round fires together and each ping holds only about that long (holds are billed to the target).

A ``TooManyRequestsException`` (429) is retried with full-jitter exponential backoff
(``uniform(0, min(cap, base * 2**attempt))``) until the batch's deadline; a transient 5xx or connection
error is retried at most ``max_transient_retries`` times; a function error, a rejected ping or an
answer that is not a Thermostat answer counts as an error with a sample message.

If nothing in the batch got through — every ping stayed throttled until the deadline — this raises
:class:`TargetThrottledError` and the Map's ``Retry`` retries the whole batch (nothing was warmed, so
no target gets a second round). Otherwise it returns the results: the Summarize top-up covers any
shortfall. A batch that starts late (after a Map retry, or a slow start) re-bases its release time to
``now + min_lead_ms`` and keeps its retry window, so its own pings still overlap.

The clock, sleep and random source are injected (:class:`Runtime`); nothing here reads the real time.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from thermostat import models
from thermostat.exceptions import InvalidInputError, TargetThrottledError
from thermostat_target.exceptions import NotWarmAwareError
from thermostat_target.protocol import Answer, make_ping, parse_answer

logger = logging.getLogger(__name__)

MAX_ERROR_SAMPLES = 3
ReplyKind = Literal["ok", "function_error", "throttled", "transient", "error"]


@dataclass(frozen=True)
class Reply:
    """One Invoke call's outcome, independent of boto3 (tests fake this level)."""

    kind: ReplyKind
    payload: bytes = b""
    message: str = ""  # "ErrorName: message" for anything but ok


Invoke = Callable[[str, str | None, bytes], Reply]


@dataclass(frozen=True)
class Runtime:
    now_ms: Callable[[], float]
    sleep: Callable[[float], None]  # seconds
    uniform: Callable[[float, float], float]


@dataclass(frozen=True)
class WarmOptions:
    backoff_base_ms: float = 50.0
    backoff_cap_ms: float = 1000.0
    max_transient_retries: int = 2
    min_lead_ms: int = 250  # a late batch re-bases release_at to now + this
    send_ahead_ms: int = 400  # pings leave this long before release_at: enough to be routed, short to hold
    send_ms_per_ping: float = 10.0  # ...plus this per ping of the batch: a big batch takes longer to send
    overhead_ms: float = 2.0  # billed per invocation on top of the hold (handler + answer)
    stop_by_ms: float | None = None  # hard stop (the Lambda's own timeout minus a margin)


def lambda_invoker(client: Any) -> Invoke:
    """Adapt a boto3 Lambda client (configured without SDK retries) to :data:`Invoke`."""

    def invoke(function: str, qualifier: str | None, payload: bytes) -> Reply:
        kwargs: dict[str, Any] = {"FunctionName": function, "InvocationType": "RequestResponse",
                                  "Payload": payload}
        if qualifier is not None:
            kwargs["Qualifier"] = qualifier
        try:
            response = client.invoke(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "ClientError")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            message = f"{code}: {error.get('Message') or exc}"
            if code == "TooManyRequestsException" or status == 429:
                return Reply("throttled", message=message)
            if status >= 500:
                return Reply("transient", message=message)
            return Reply("error", message=message)
        except (BotoConnectionError, HTTPClientError) as exc:
            return Reply("transient", message=f"{type(exc).__name__}: {exc}")
        except BotoCoreError as exc:
            return Reply("error", message=f"{type(exc).__name__}: {exc}")
        body = response["Payload"].read()
        if response.get("FunctionError"):
            return Reply("function_error", body, _function_error(body, str(response["FunctionError"])))
        return Reply("ok", body)

    return invoke


def _function_error(body: bytes, kind: str) -> str:
    try:
        data = json.loads(body)
        return f"{data.get('errorType', kind)}: {data.get('errorMessage', '')}"[:300]
    except (ValueError, AttributeError):
        return f"{kind}: {body[:200]!r}"


@dataclass
class PingResult:
    answer: Answer | None = None
    throttles: int = 0
    throttled_final: bool = False
    error: str | None = None


@dataclass
class _Tally:
    group: models.PingGroup
    results: list[PingResult] = field(default_factory=list)


def send_ping(invoke: Invoke, group: models.PingGroup, payload: bytes, deadline_ms: float,
              runtime: Runtime, options: WarmOptions) -> PingResult:
    """One ping, with its own retries. Never raises."""
    result = PingResult()
    attempt = transient = 0
    while True:
        try:
            reply = invoke(group["function"], group["qualifier"], payload)
        except Exception as exc:  # an invoker bug must not kill the batch
            reply = Reply("error", message=f"{type(exc).__name__}: {exc}")
        if reply.kind == "ok":
            try:
                answer = parse_answer(reply.payload)
            except NotWarmAwareError as exc:
                result.error = f"NotWarmAwareError: {exc}"
                return result
            if answer.error is not None:
                result.error = f"PingRejected: {answer.error}: {answer.error_message or ''}"
            else:
                result.answer = answer
            return result
        if reply.kind in ("function_error", "error"):
            result.error = reply.message
            return result
        if reply.kind == "throttled":
            result.throttles += 1
        else:
            transient += 1
            if transient > options.max_transient_retries:
                result.error = reply.message
                return result
        now = runtime.now_ms()
        if now >= deadline_ms:
            if reply.kind == "throttled":
                result.throttled_final = True
            else:
                result.error = reply.message
            return result
        bound = min(options.backoff_cap_ms, options.backoff_base_ms * 2 ** min(attempt, 30))
        delay = min(runtime.uniform(0.0, bound), deadline_ms - now)
        attempt += 1
        runtime.sleep(max(delay, 0.0) / 1000.0)


def _outcome(tally: _Tally, overhead_ms: float) -> models.PingOutcome:
    answers = [r.answer for r in tally.results if r.answer is not None]
    samples: list[str] = []
    for result in tally.results:
        if result.error and result.error not in samples and len(samples) < MAX_ERROR_SAMPLES:
            samples.append(result.error)
    errors = sum(r.error is not None for r in tally.results)
    billed = float(sum(math.ceil(a.held_ms + overhead_ms) + (math.ceil(a.init_ms) if a.cold else 0)
                       for a in answers))
    billed += errors * overhead_ms  # failed invocations still ran (roughly)
    return {
        "function": tally.group["function"], "qualifier": tally.group["qualifier"],
        "requested": tally.group["count"], "answered": len(answers),
        "envs": sorted({a.env for a in answers}), "cold_envs": sorted({a.env for a in answers if a.cold}),
        "throttled": sum(r.throttles for r in tally.results),
        "throttled_final": sum(r.throttled_final for r in tally.results),
        "errors": errors, "error_samples": samples,
        "hold_ms_max": max((a.held_ms for a in answers), default=0.0), "billed_ms": billed,
    }


def effective_times(batch: models.WarmBatch, now_ms: float, options: WarmOptions) -> tuple[int, float]:
    """(release_at_ms to send, deadline_ms): a late batch keeps its own overlap and retry window."""
    release = max(batch["release_at_ms"], int(now_ms) + options.min_lead_ms)
    deadline = max(float(batch["deadline_ms"]), release + float(batch["deadline_ms"] - batch["release_at_ms"]))
    if options.stop_by_ms is not None:
        deadline = min(deadline, options.stop_by_ms)
    return release, deadline


def send_ahead_ms(options: WarmOptions, pings: int) -> float:
    """How long before release_at the batch starts sending: every ping must be routed before any holder is
    released (a ping that arrives after that may reuse a just-freed environment)."""
    return max(float(options.send_ahead_ms), options.send_ms_per_ping * pings)


def warm_batch(batch: models.WarmBatch, invoke: Invoke, runtime: Runtime,
               options: WarmOptions | None = None) -> models.BatchResult:
    """The Warm Batch state. Raises :class:`TargetThrottledError` only when nothing got through."""
    options = options or WarmOptions()
    start = runtime.now_ms()
    release, deadline = effective_times(batch, start, options)
    if release != batch["release_at_ms"]:
        logger.warning("release_rebased", extra={"batch": batch["batch"], "planned": batch["release_at_ms"],
                                                 "release_at_ms": release, "late_ms": start - batch["release_at_ms"]})
    tallies = [_Tally(group) for group in batch["pings"]]
    jobs: list[tuple[_Tally, bytes]] = []
    for tally in tallies:
        group = tally.group
        for i in range(group["count"]):
            ping = make_ping(run=batch["run"], batch=batch["batch"], slot=group["first_slot"] + i,
                             of=group["of"], release_at_ms=release, max_hold_ms=batch["max_hold_ms"],
                             refresh=batch["refresh"], period_s=batch["period_s"])
            jobs.append((tally, json.dumps(ping, separators=(",", ":")).encode()))
    # Every batch of the round fires at the same instant, however early its Map iteration started:
    # pings then hold (and bill) only about send_ahead_ms, yet all of a target's pings overlap.
    # (The payloads are built above, before the wait, so nothing delays the send once it is time.)
    wait_ms = release - send_ahead_ms(options, len(jobs)) - runtime.now_ms()
    if wait_ms > 0:
        runtime.sleep(wait_ms / 1000.0)
    lock = threading.Lock()

    def run(job: tuple[_Tally, bytes]) -> None:
        tally, payload = job
        result = send_ping(invoke, tally.group, payload, deadline, runtime, options)
        with lock:
            tally.results.append(result)

    if jobs:
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="ping") as pool:
            list(pool.map(run, jobs))
    outcomes = [_outcome(t, options.overhead_ms) for t in tallies]
    answered = sum(o["answered"] for o in outcomes)
    errors = sum(o["errors"] for o in outcomes)
    throttled_final = sum(o["throttled_final"] for o in outcomes)
    logger.info("batch_warmed", extra={
        "batch": batch["batch"], "round": batch["round"], "pings": len(jobs), "answered": answered,
        "distinct_envs": sum(len(o["envs"]) for o in outcomes), "errors": errors,
        "throttled": sum(o["throttled"] for o in outcomes), "throttled_final": throttled_final,
        "elapsed_ms": round(runtime.now_ms() - start, 1)})
    if jobs and answered == 0 and errors == 0 and throttled_final == len(jobs):
        names = ", ".join(sorted({models.target_label(t.group["function"], t.group["qualifier"]) for t in tallies}))
        raise TargetThrottledError(
            f"batch {batch['batch']} (round {batch['round']}): all {len(jobs)} pings to {names} stayed "
            f"throttled until the deadline ({sum(o['throttled'] for o in outcomes)} throttle responses)")
    return {"batch": batch["batch"], "round": batch["round"], "results": outcomes}


# --- input -------------------------------------------------------------------------------------------

_BATCH_INTS = ("batch", "round", "release_at_ms", "max_hold_ms", "period_s", "deadline_ms")
_GROUP_INTS = ("first_slot", "count", "of")


def _require_count(value: object, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(path, "must be a non-negative integer")


def parse_warm_batch(event: object) -> models.WarmBatch:
    """Check the Map item is a WarmBatch (the fields this state relies on), naming the bad field."""
    if not isinstance(event, dict):
        raise InvalidInputError("$", "a Warm Batch input must be a WarmBatch object")
    if not isinstance(event.get("run"), str) or not event["run"]:
        raise InvalidInputError("run", "must be a non-empty string")
    for key in _BATCH_INTS:
        _require_count(event.get(key), key)
    if not isinstance(event.get("refresh"), bool):
        raise InvalidInputError("refresh", "must be true or false")
    pings = event.get("pings")
    if not isinstance(pings, list):
        raise InvalidInputError("pings", "must be an array")
    for index, group in enumerate(pings):
        path = f"pings[{index}]"
        if not isinstance(group, dict) or not isinstance(group.get("function"), str) or not group["function"]:
            raise InvalidInputError(f"{path}.function", "must be a non-empty string")
        if group.get("qualifier") is not None and not isinstance(group["qualifier"], str):
            raise InvalidInputError(f"{path}.qualifier", "must be a string or null")
        for key in _GROUP_INTS:
            _require_count(group.get(key), f"{path}.{key}")
        if group["first_slot"] + group["count"] > group["of"]:
            raise InvalidInputError(f"{path}.count", "first_slot + count must be <= of")
    return event  # type: ignore[return-value]
