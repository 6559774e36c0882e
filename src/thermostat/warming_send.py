"""One ping, end to end: the Invoke (boto3 adapter), the answer, throttle retries, the v1 fallback.

Rules (issue "hardening" §4):

- Every throttle response is counted. A throttled ping is retried with full-jitter exponential backoff
  (``uniform(0, min(cap, base * 2**attempt))``) until the batch's deadline, except when the target is
  throttled on *everything*: once one of its pings has been throttled ``all_throttled_rounds`` times with
  not one invocation of the target getting through, every ping of that target stops (``throttled_final``)
  after its current attempt, so a target at its concurrency limit cannot eat the run's time.
- A connection that never reached Lambda (connect timeout, endpoint unreachable) or a 5xx is retried at
  most ``max_transient_retries`` times. A read timeout, or a connection lost mid-request, may have run the
  function: it is an error and never re-sent, so one ping is at most one invocation (the boto3 client
  itself never retries: ``total_max_attempts`` 1).
- A target that answers ``unsupported_version`` naming a version this sender can build (an old library:
  ``supported: [1]``) gets that ping once more in that version; the group's outcome says which version
  answered. The re-sent pings of a group share one new release time, so they still overlap.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from thermostat_target.exceptions import NotWarmAwareError, PingError
from thermostat_target.protocol import (
    BUILDABLE_VERSIONS,
    ERROR_UNSUPPORTED_VERSION,
    Answer,
    client_context_b64,
    make_ping,
    parse_answer,
)

ReplyKind = Literal["ok", "function_error", "throttled", "transient", "timeout", "error"]


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
    all_throttled_rounds: int = 3  # a target throttled this many times per ping, nothing through: stop it
    rebase_margin_ms: float = 50.0  # a late batch: release_at = now + its longest send-ahead + this
    min_send_ahead_ms: float = 15.0
    send_ms_per_ping: float = 2.0  # a group's send-ahead is at least this per ping of the group
    overhead_ms: float = 2.0  # billed per invocation on top of the hold (handler + answer)
    stop_by_ms: float | None = None  # hard stop (the Lambda's own timeout minus a margin)


def lambda_invoker(client: Any, client_context: str | None = None) -> Invoke:
    """Adapt a boto3 Lambda client (SDK retries off) to :data:`Invoke`; every call carries the marker."""
    marker = client_context_b64() if client_context is None else client_context

    def invoke(function: str, qualifier: str | None, payload: bytes) -> Reply:
        kwargs: dict[str, Any] = {"FunctionName": function, "InvocationType": "RequestResponse",
                                  "Payload": payload, "ClientContext": marker}
        if qualifier is not None:
            kwargs["Qualifier"] = qualifier
        try:
            response = client.invoke(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "ClientError")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            message = f"{code}: {error.get('Message') or exc}"[:300]
            if code == "TooManyRequestsException" or status == 429:
                return Reply("throttled", message=message)
            if status >= 500:
                return Reply("transient", message=message)
            return Reply("error", message=message)
        except BotoConnectionError as exc:  # never reached Lambda: safe to send again
            return Reply("transient", message=f"{type(exc).__name__}: {exc}"[:300])
        except BotoCoreError as exc:  # read timeout, connection lost mid-request: it may have run
            return Reply("timeout" if "timeout" in type(exc).__name__.lower() else "error",
                         message=f"{type(exc).__name__}: {exc}"[:300])
        body = response["Payload"].read()
        if response.get("FunctionError"):
            return Reply("function_error", body, function_error_text(body, str(response["FunctionError"])))
        return Reply("ok", body)

    return invoke


def function_error_text(body: bytes, kind: str) -> str:
    try:
        data = json.loads(body)
        return f"{data.get('errorType', kind)}: {data.get('errorMessage', '')}"[:300]
    except (ValueError, AttributeError):
        return f"{kind}: {body[:200]!r}"


@dataclass(frozen=True)
class PingSpec:
    """What every ping of one group shares (the slot is per ping)."""

    run: str
    batch: int
    of: int
    max_hold_ms: int
    refresh: bool
    period_s: int

    def payload(self, slot: int, release_at_ms: int, version: int) -> bytes:
        ping = make_ping(run=self.run, batch=self.batch, slot=slot, of=self.of, release_at_ms=release_at_ms,
                         max_hold_ms=self.max_hold_ms, refresh=self.refresh, period_s=self.period_s, v=version)
        return json.dumps(ping, separators=(",", ":")).encode()

    def payloads(self, first_slot: int, count: int, release_at_ms: int, version: int) -> list[bytes]:
        """What :meth:`payload` builds for slots ``first_slot`` .. ``first_slot + count - 1``, byte for byte:
        the shared fields are checked and encoded once, each slot spliced in (a batch's pings are built
        between its release time being fixed and its first group leaving)."""
        slots = [first_slot + i for i in range(count)]
        if not slots:
            return []
        encoded = self.payload(slots[0], release_at_ms, version)  # checks every field and the first slot
        if slots[-1] >= self.of:  # the first slot refused is ``of``: raise as building it does
            self.payload(self.of, release_at_ms, version)
        # ``"slot":`` occurs once: inside a JSON string every quote is escaped
        head, _, tail = encoded.partition(b'"slot":%d,' % slots[0])
        return [b'%s"slot":%d,%s' % (head, slot, tail) for slot in slots]


class TargetTracker:
    """Shared by the pings of one group: the all-throttled cut-off and the version fallback."""

    def __init__(self, version: int, send_ahead_ms: float, options: WarmOptions) -> None:
        self.rounds = max(1, options.all_throttled_rounds)
        self.version = version
        self.send_ahead_ms = send_ahead_ms
        self.throttles = 0
        self.through = 0
        self.stopped = False
        self._fallback_release: int | None = None
        self._lock = threading.Lock()

    def throttled(self, ping_throttles: int) -> bool:
        """Count a throttle response (the ping's ``ping_throttles``-th); True when the target stops: nothing
        got through yet and a ping of it has been throttled ``rounds`` times."""
        with self._lock:
            self.throttles += 1
            if self.through == 0 and ping_throttles >= self.rounds:
                self.stopped = True
            return self.stopped and self.through == 0

    def given_up(self) -> bool:
        with self._lock:
            return self.stopped and self.through == 0

    def got_through(self) -> None:
        with self._lock:
            self.through += 1

    def fallback(self, version: int, now_ms: float, release_at_ms: int) -> int:
        """Switch the group to ``version``; the release time every re-sent ping of the group carries."""
        with self._lock:
            self.version = version
            if self._fallback_release is None:
                self._fallback_release = max(release_at_ms, math.ceil(now_ms + self.send_ahead_ms))
            return self._fallback_release


@dataclass
class PingResult:
    answer: Answer | None = None
    throttles: int = 0
    throttled_final: bool = False
    error: str | None = None
    timeout: bool = False
    billed_ms: float = 0.0
    first_sent_ms: float | None = None  # when the first attempt left (benchmarks read it)


def _answer_billed_ms(answer: Answer, overhead_ms: float) -> float:
    billed = math.ceil(max(answer.held_ms, 0.0) + overhead_ms)
    return float(billed + (math.ceil(answer.init_ms) if answer.cold and answer.init_ms > 0 else 0))


def _fallback_version(answer: Answer, sent: int) -> int | None:
    if answer.error != ERROR_UNSUPPORTED_VERSION or not answer.supported:
        return None
    usable = [v for v in answer.supported if v in BUILDABLE_VERSIONS and v != sent]
    return max(usable) if usable else None


@dataclass
class _Attempt:
    """The mutable part of one ping's life."""

    payload: bytes
    version: int
    fell_back: bool = False
    attempt: int = 0
    transient: int = 0
    result: PingResult = field(default_factory=PingResult)


def send_ping(invoke: Invoke, target: tuple[str, str | None], spec: PingSpec, slot: int, release_at_ms: int,
              payload: tuple[bytes, int], tracker: TargetTracker, deadline_ms: float, runtime: Runtime,
              options: WarmOptions) -> PingResult:
    """One ping (``payload``: its bytes and protocol version) with its retries. Never raises."""
    state = _Attempt(*payload)
    result = state.result
    while True:
        if result.first_sent_ms is None:
            result.first_sent_ms = runtime.now_ms()
        try:
            reply = invoke(target[0], target[1], state.payload)
        except Exception as exc:  # an invoker bug must not kill the batch
            reply = Reply("error", message=f"{type(exc).__name__}: {exc}"[:300])
        if reply.kind not in ("throttled", "transient"):
            tracker.got_through()
        if reply.kind == "ok":
            if _take_answer(reply, state, tracker, spec, slot, release_at_ms, runtime, options):
                continue  # re-sent once in the version the target speaks
            return result
        if reply.kind in ("function_error", "error", "timeout"):
            result.error = reply.message
            result.timeout = reply.kind == "timeout"
            result.billed_ms += options.overhead_ms
            return result
        if reply.kind == "throttled":
            result.throttles += 1
            if tracker.throttled(result.throttles):
                result.throttled_final = True
                return result
        else:
            state.transient += 1
            if state.transient > options.max_transient_retries:
                result.error = reply.message
                return result
        now = runtime.now_ms()
        if now >= deadline_ms:
            if reply.kind == "throttled":
                result.throttled_final = True
            else:
                result.error = reply.message
            return result
        bound = min(options.backoff_cap_ms, options.backoff_base_ms * 2 ** min(state.attempt, 30))
        delay = min(runtime.uniform(0.0, bound), deadline_ms - now)
        state.attempt += 1
        runtime.sleep(max(delay, 0.0) / 1000.0)
        if reply.kind == "throttled" and tracker.given_up():
            result.throttled_final = True
            return result


def _take_answer(reply: Reply, state: _Attempt, tracker: TargetTracker, spec: PingSpec, slot: int,
                 release_at_ms: int, runtime: Runtime, options: WarmOptions) -> bool:
    """Record an ``ok`` reply in ``state.result``; True when the ping must be re-sent in another version."""
    result = state.result
    try:
        answer = parse_answer(reply.payload)
    except NotWarmAwareError as exc:
        result.error = f"NotWarmAwareError: {exc}"[:300]
        result.billed_ms += options.overhead_ms
        return False
    if answer.error is None:
        result.answer = answer
        result.billed_ms += _answer_billed_ms(answer, options.overhead_ms)
        return False
    result.billed_ms += options.overhead_ms  # a rejected ping is answered at once, no hold
    version = _fallback_version(answer, state.version)
    if version is not None and not state.fell_back:
        release = tracker.fallback(version, runtime.now_ms(), release_at_ms)
        try:
            state.payload = spec.payload(slot, release, version)
        except PingError as exc:
            result.error = f"PingError: {exc}"[:300]
            return False
        state.version, state.fell_back = version, True
        return True
    result.error = f"PingRejected: {answer.error}: {answer.error_message or ''}"[:300]
    return False
