"""The ping/answer wire format between Thermostat and a target function (DESIGN §3). Single source of truth.

Ping — what the ``warm_batch`` function sends; the version field first, nothing else at top level::

    {"thermostat": {"v": 1, "action": "warm", "run": "exec-id", "batch": 0, "slot": 3, "of": 10,
                    "release_at_ms": 1763800000123, "max_hold_ms": 1000, "refresh": true, "period_s": 300}}

Answer — what a warm-aware target returns instead of calling the user's handler::

    {"thermostat": {"v": 1, "env": "a3f1…", "cold": true, "init_ms": 143.2, "held_ms": 95.0,
                    "invocations": 1, "refreshed": ["schema"], "refresh_failed": [], "cache_ages": {},
                    "function": "orders-api", "version": "$LATEST"}}

plus ``"error": {"code", "field", "message"}`` (and ``"supported": [1]``) when the ping was rejected.

Rules:
- An event is a ping candidate only if it is a ``dict`` whose *only* key is ``"thermostat"``. Anything
  else (API Gateway REST/HTTP, ALB, Function URL, SQS, SNS, EventBridge, S3 events, a ping inside an
  HTTP body) is not a ping: :func:`parse_ping` returns ``None`` and the user's handler runs.
- A candidate that is malformed, oversized or of an unsupported version raises :class:`PingError`;
  ``warm_aware`` answers it with an ``error`` and no hold (the user's handler is not called).
- ``v`` 1 fields: ``action`` (``"warm"``), ``run`` (str ≤ 256 chars), ``batch``/``slot`` (int ≥ 0),
  ``of`` (int ≥ 1, ``slot < of``), ``release_at_ms`` (epoch ms), ``max_hold_ms`` (int ≥ 0), and the
  optional ``refresh`` (bool, default true) and ``period_s`` (int ≥ 0, default 300). Unknown keys are
  rejected: a sender that adds a field bumps ``v``.
- The hold is ``min(release_at - now, max_hold_ms, 2000, remaining - margin)``, never negative
  (:func:`compute_hold_ms`): the sender is never trusted beyond the hard cap.
"""

from __future__ import annotations

from thermostat_target._compat import Frozen as _Frozen
from thermostat_target.exceptions import NotWarmAwareError, PingError

TYPE_CHECKING = False  # no `typing` import at runtime: it costs ~6 ms here (see docs/target-library.md)
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS: frozenset[int] = frozenset({1})
PING_KEY = "thermostat"
ACTION_WARM = "warm"
HARD_HOLD_CAP_MS = 2000
DEFAULT_MARGIN_MS = 300
DEFAULT_PERIOD_S = 300
MAX_RUN_CHARS = 256
MAX_INT = 2**53  # JSON-safe integers only
MAX_KEYS = 32  # more keys than this in the ping body: "oversized" (checked before anything is read)

ERROR_MALFORMED = "malformed"
ERROR_OVERSIZED = "oversized"
ERROR_UNSUPPORTED_VERSION = "unsupported_version"

_REQUIRED_INTS = ("batch", "slot", "of", "release_at_ms", "max_hold_ms")
_KNOWN_KEYS = frozenset({"v", "action", "run", "refresh", "period_s", *_REQUIRED_INTS})


class Ping(_Frozen):
    """A valid version-1 ping (immutable)."""

    _fields = ("run", "batch", "slot", "of", "release_at_ms", "max_hold_ms", "refresh", "period_s", "v",
               "action")
    __slots__ = _fields
    run: str
    batch: int
    slot: int
    of: int
    release_at_ms: int
    max_hold_ms: int
    refresh: bool
    period_s: int
    v: int
    action: str

    def __init__(
        self, *, run: str, batch: int, slot: int, of: int, release_at_ms: int, max_hold_ms: int,
        refresh: bool = True, period_s: int = DEFAULT_PERIOD_S, v: int = PROTOCOL_VERSION,
        action: str = ACTION_WARM,
    ) -> None:
        self._init(run=run, batch=batch, slot=slot, of=of, release_at_ms=release_at_ms,
                   max_hold_ms=max_hold_ms, refresh=refresh, period_s=period_s, v=v, action=action)

    def __hash__(self) -> int:
        return hash(self._values())

    def to_dict(self) -> dict[str, Any]:
        """The wire form, ``{"thermostat": {...}}`` with ``v`` first."""
        return {
            PING_KEY: {
                "v": self.v, "action": self.action, "run": self.run, "batch": self.batch,
                "slot": self.slot, "of": self.of, "release_at_ms": self.release_at_ms,
                "max_hold_ms": self.max_hold_ms, "refresh": self.refresh, "period_s": self.period_s,
            }
        }


class Answer(_Frozen):
    """A target's answer to a ping, as parsed by :func:`parse_answer` (immutable).

    ``error`` is the error code (``malformed``, ``oversized``, ``unsupported_version``) when the target
    rejected the ping, with ``error_message``; ``cache_ages`` maps cache name -> age in seconds."""

    _fields = ("env", "cold", "init_ms", "held_ms", "invocations", "refreshed", "refresh_failed",
               "cache_ages", "function", "version", "error", "error_message", "v")
    __slots__ = _fields
    env: str
    cold: bool
    init_ms: float
    held_ms: float
    invocations: int
    refreshed: tuple[str, ...]
    refresh_failed: tuple[str, ...]
    cache_ages: Mapping[str, float]
    function: str | None
    version: str | None
    error: str | None
    error_message: str | None
    v: int

    def __init__(
        self, *, env: str, cold: bool, init_ms: float, held_ms: float, invocations: int,
        refreshed: tuple[str, ...] = (), refresh_failed: tuple[str, ...] = (),
        cache_ages: Mapping[str, float] | None = None, function: str | None = None,
        version: str | None = None, error: str | None = None, error_message: str | None = None,
        v: int = PROTOCOL_VERSION,
    ) -> None:
        self._init(env=env, cold=cold, init_ms=init_ms, held_ms=held_ms, invocations=invocations,
                   refreshed=tuple(refreshed), refresh_failed=tuple(refresh_failed),
                   cache_ages=dict(cache_ages or {}), function=function, version=version, error=error,
                   error_message=error_message, v=v)

    __hash__ = None  # type: ignore[assignment]  # holds a dict

    @property
    def ok(self) -> bool:
        """True when the target answered a valid ping (no ``error``)."""
        return self.error is None


def make_ping(
    *, run: str, batch: int, slot: int, of: int, release_at_ms: int, max_hold_ms: int,
    refresh: bool = True, period_s: int = DEFAULT_PERIOD_S,
) -> dict[str, Any]:
    """Build the wire form of a ping; raises :class:`PingError` if an argument is out of range."""
    payload = Ping(run=run, batch=batch, slot=slot, of=of, release_at_ms=release_at_ms,
                   max_hold_ms=max_hold_ms, refresh=refresh, period_s=period_s).to_dict()
    parse_ping(payload)  # one set of rules for sender and receiver
    return payload


def is_ping(event: object) -> bool:
    """True when ``event`` has the ping envelope (a dict whose only key is ``"thermostat"``): ``warm_aware``
    answers it itself (a valid ping, or one it rejects with an error); False when the user's handler runs."""
    return type(event) is dict and len(event) == 1 and PING_KEY in event


def _int_field(body: Mapping[str, Any], key: str, minimum: int) -> int:
    value = body[key]
    if type(value) is not int:
        raise PingError(ERROR_MALFORMED, f"{PING_KEY}.{key}",
                        f"must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise PingError(ERROR_MALFORMED, f"{PING_KEY}.{key}", f"must be >= {minimum}, got {value}")
    if value > MAX_INT:
        raise PingError(ERROR_OVERSIZED, f"{PING_KEY}.{key}", f"must be <= 2**53, got {value}")
    return value


def parse_ping(event: object) -> Ping | None:
    """``None`` when ``event`` is not a ping (the user's handler runs); a :class:`Ping` when valid;
    raises :class:`PingError` when it has the ping envelope but is malformed, oversized or of an
    unsupported version. Never raises anything else."""
    if not is_ping(event):
        return None
    body = event[PING_KEY]  # type: ignore[index]
    if type(body) is not dict:
        raise PingError(ERROR_MALFORMED, PING_KEY, f"must be an object, got {type(body).__name__}")
    if len(body) > MAX_KEYS:
        raise PingError(ERROR_OVERSIZED, PING_KEY, f"has {len(body)} keys, at most {MAX_KEYS}")
    version = body.get("v")
    if type(version) is not int:
        raise PingError(ERROR_MALFORMED, f"{PING_KEY}.v", "missing or not an integer")
    if version not in SUPPORTED_VERSIONS:
        raise PingError(ERROR_UNSUPPORTED_VERSION, f"{PING_KEY}.v",
                        f"version {version} not in supported {sorted(SUPPORTED_VERSIONS)}")
    unknown = [str(k) for k in body if k not in _KNOWN_KEYS]
    if unknown:
        raise PingError(ERROR_MALFORMED, f"{PING_KEY}.{unknown[0][:40]}", "unknown key")
    missing = [k for k in ("action", "run", *_REQUIRED_INTS) if k not in body]
    if missing:
        raise PingError(ERROR_MALFORMED, f"{PING_KEY}.{missing[0]}", "missing")
    if body["action"] != ACTION_WARM:
        raise PingError(ERROR_MALFORMED, f"{PING_KEY}.action", f"must be {ACTION_WARM!r}")
    run = body["run"]
    if type(run) is not str or not run:
        raise PingError(ERROR_MALFORMED, f"{PING_KEY}.run", "must be a non-empty string")
    if len(run) > MAX_RUN_CHARS:
        raise PingError(ERROR_OVERSIZED, f"{PING_KEY}.run", f"longer than {MAX_RUN_CHARS} characters")
    batch = _int_field(body, "batch", 0)
    slot = _int_field(body, "slot", 0)
    of = _int_field(body, "of", 1)
    if slot >= of:
        raise PingError(ERROR_MALFORMED, f"{PING_KEY}.slot", f"must be < of ({of}), got {slot}")
    refresh = body.get("refresh", True)
    if type(refresh) is not bool:
        raise PingError(ERROR_MALFORMED, f"{PING_KEY}.refresh", "must be a boolean")
    period_s = _int_field(body, "period_s", 0) if "period_s" in body else DEFAULT_PERIOD_S
    return Ping(run=run, batch=batch, slot=slot, of=of, release_at_ms=_int_field(body, "release_at_ms", 0),
                max_hold_ms=_int_field(body, "max_hold_ms", 0), refresh=refresh, period_s=period_s,
                v=version)


def compute_hold_ms(
    release_at_ms: float, now_ms: float, max_hold_ms: float, remaining_ms: float | None,
    margin_ms: float = DEFAULT_MARGIN_MS,
) -> float:
    """``min(release_at - now, max_hold_ms, HARD_HOLD_CAP_MS, remaining - margin)``, never negative.

    ``remaining_ms`` is ``context.get_remaining_time_in_millis()`` (``None``: no context, no bound)."""
    hold = min(float(release_at_ms) - float(now_ms), float(max_hold_ms), float(HARD_HOLD_CAP_MS))
    if remaining_ms is not None:
        hold = min(hold, float(remaining_ms) - float(margin_ms))
    return hold if hold > 0.0 else 0.0


def make_answer(
    *, env: str, cold: bool, init_ms: float, held_ms: float, invocations: int,
    refreshed: Iterable[str] = (), refresh_failed: Iterable[str] = (),
    cache_ages: Mapping[str, float] | None = None, function: str | None = None,
    version: str | None = None, error: PingError | None = None,
) -> dict[str, Any]:
    """Build the wire form of an answer (``error``: the :class:`PingError` that rejected the ping)."""
    body: dict[str, Any] = {
        "v": PROTOCOL_VERSION, "env": env, "cold": cold, "init_ms": round(float(init_ms), 1),
        "held_ms": round(float(held_ms), 1), "invocations": invocations, "refreshed": list(refreshed),
        "refresh_failed": list(refresh_failed),
        "cache_ages": {k: round(float(a), 1) for k, a in (cache_ages or {}).items()},
        "function": function, "version": version,
    }
    if error is not None:
        body["error"] = {"code": error.code, "field": error.field, "message": str(error)}
        body["supported"] = sorted(SUPPORTED_VERSIONS)
    return {PING_KEY: body}


def _names(body: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise NotWarmAwareError(f"answer field {PING_KEY}.{key} must be a list of strings")
    return tuple(value)


def parse_answer(payload: object) -> Answer:
    """Parse what a target returned (a dict, or the JSON ``bytes``/``str`` of a Lambda ``Payload``).

    Raises :class:`NotWarmAwareError` when it is not a Thermostat answer: the target's own handler
    output, a Lambda function error (``errorType``/``errorMessage``), or a malformed answer."""
    if isinstance(payload, bytes | bytearray | str):
        import json  # lazily: json costs ~7 ms of import and only the workflow side needs it

        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise NotWarmAwareError(f"answer is not JSON: {exc}") from None
    if isinstance(payload, dict) and "errorType" in payload and PING_KEY not in payload:
        raise NotWarmAwareError(f"target failed: {payload.get('errorType')}: {payload.get('errorMessage')}")
    if not isinstance(payload, dict) or set(payload) != {PING_KEY} or not isinstance(payload[PING_KEY], dict):
        raise NotWarmAwareError(f"not a Thermostat answer (got {type(payload).__name__}); "
                                "is the target wrapped with @warm_aware?")
    body = payload[PING_KEY]
    if "action" in body:
        raise NotWarmAwareError("the target echoed the ping back: it is not warm-aware")
    env, cold, v = body.get("env"), body.get("cold"), body.get("v")
    if not isinstance(env, str) or not isinstance(cold, bool) or type(v) is not int:
        raise NotWarmAwareError(f"answer lacks {PING_KEY}.v/env/cold")
    try:
        init_ms = float(body.get("init_ms") or 0.0)
        held_ms = float(body.get("held_ms") or 0.0)
        invocations = int(body.get("invocations") or 0)
        ages = {str(k): float(a) for k, a in (body.get("cache_ages") or {}).items()}
    except (TypeError, ValueError, AttributeError) as exc:
        raise NotWarmAwareError(f"answer has a malformed number: {exc}") from None
    err = body.get("error")
    code = message = None
    if err is not None:
        code = str(err.get("code", ERROR_MALFORMED)) if isinstance(err, dict) else str(err)
        message = str(err.get("message", "")) if isinstance(err, dict) else str(err)
    function, version = body.get("function"), body.get("version")
    return Answer(
        env=env, cold=cold, init_ms=init_ms, held_ms=held_ms, invocations=invocations,
        refreshed=_names(body, "refreshed"), refresh_failed=_names(body, "refresh_failed"),
        cache_ages=ages, function=function if isinstance(function, str) else None,
        version=version if isinstance(version, str) else None, error=code, error_message=message, v=v,
    )
