"""The ping/answer wire format between Thermostat and a target function, version 2. Single source of truth.

Ping — what Thermostat's warmer sends by a direct, synchronous ``Invoke``; ``v`` first, nothing else at
the top level::

    {"thermostat": {"v": 2, "action": "warm", "run": "exec-id", "batch": 0, "slot": 3, "of": 10,
                    "release_at_ms": 1763800000123, "max_hold_ms": 1000, "refresh": true, "period_s": 300}}

The marker — the same ``Invoke`` carries ``ClientContext`` = base64 of ``{"custom":{"thermostat":"2"}}``
(:func:`client_context_b64`). Lambda hands it to the function as ``context.client_context`` (Python runtime:
``context.client_context.custom == {"thermostat": "2"}``) for synchronous invokes only, and no event
source (API Gateway, ALB, Function URL, SQS, SNS, EventBridge, S3, IoT, ...) sets it: only a caller
allowed to ``lambda:InvokeFunction`` can. A ping-shaped event whose context lacks the marker is NOT a
ping: the user's handler gets it unchanged (:func:`has_marker`).

Answer — what a warm-aware target returns instead of calling the user's handler::

    {"thermostat": {"v": 2, "env": "a3f1c2d4e5f60718", "cold": false, "init_ms": 143.2, "held_ms": 95.0,
                    "late_ms": 0.0, "invocations": 42, "real": 7, "real_age_ms": 1250.0,
                    "ping_age_ms": 300012.5, "refreshed": 1, "refresh_failed": 0, "caches": 2,
                    "cache_age_max_s": 212.4, "function": "orders-api", "version": "$LATEST"}}

- ``invocations``: everything this environment served (pings included); ``real``: real (non-ping)
  invocations since this environment's previous honoured ping (since init if none); ``real_age_ms``: ms
  since the most recent real invocation started (null: none yet); ``ping_age_ms``: ms since this
  environment's previous honoured ping (null: this is its first); ``late_ms``: how long after
  ``release_at_ms`` the ping arrived (0 when before; ``held_ms`` is then the hold).
- ``refreshed`` / ``refresh_failed``: how many caches this ping reloaded / failed to reload; ``caches``:
  how many caches the function refreshes on pings; ``cache_age_max_s``: age of the oldest cached value
  among them (null: none holds a value). Counts and ages only: never a cache, parameter or secret name.
- A rejected ping gets ``"error": {"code", "field", "message"}`` (``malformed``, ``oversized``,
  ``unsupported_version``; field and message truncated, never echoing big input) and ``"supported": [2]``,
  no hold, no refresh; it does not count as the environment's previous ping.

Rules:
- An event has the ping envelope only if it is a ``dict`` whose *only* key is ``"thermostat"``
  (:func:`is_ping`); a ping inside an HTTP body, an SQS message or an EventBridge detail never has it.
- An envelope + marker that is malformed, oversized or of an unsupported version raises
  :class:`PingError` in :func:`parse_ping`; ``warm_aware`` answers it with an ``error``.
- Fields: ``action`` (``"warm"``), ``run`` (str ≤ 256 chars), ``batch``/``slot`` (int ≥ 0), ``of``
  (int ≥ 1, ``slot < of``), ``release_at_ms`` (epoch ms), ``max_hold_ms`` (int ≥ 0), optional ``refresh``
  (bool, default true) and ``period_s`` (int ≥ 0, default 300; the receiver clamps it to
  ``MAX_PERIOD_S``). Unknown keys are rejected: a sender that adds a field bumps ``v``.
- The hold is ``min(release_at - now, max_hold_ms, 2000, remaining - margin)``, never negative
  (:func:`compute_hold_ms`): the sender is never trusted beyond the hard cap.
- Version 1 (same ping fields; answers with ``refreshed``/``refresh_failed`` as name lists and
  ``cache_ages`` as a name -> age map) is still built by ``make_ping(..., v=1)`` for targets whose
  library answers ``unsupported_version`` with ``supported: [1]``, and read by :func:`parse_answer`
  (the fields a v1 answer lacks are None). This library answers v2 pings only.
"""

from __future__ import annotations

from thermostat_target._compat import Frozen as _Frozen
from thermostat_target.exceptions import PingError

TYPE_CHECKING = False  # no `typing` import at runtime: it costs ~6 ms here (see docs/target-library.md)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

PROTOCOL_VERSION = 2
SUPPORTED_VERSIONS: frozenset[int] = frozenset({2})  # what this library answers
BUILDABLE_VERSIONS: frozenset[int] = frozenset({1, 2})  # what make_ping builds (v1: old libraries)
PING_KEY = "thermostat"
ACTION_WARM = "warm"
HARD_HOLD_CAP_MS = 2000
DEFAULT_MARGIN_MS = 300
DEFAULT_PERIOD_S = 300
MAX_PERIOD_S = 3600  # the longest schedule period; a bigger period_s is clamped (refresh horizon)
MAX_RUN_CHARS = 256
MAX_INT = 2**53  # JSON-safe integers only
MAX_KEYS = 32  # more keys than this in the ping body: "oversized" (checked before anything is read)
MAX_FIELD_CHARS = 64  # an error answer's "field" and "message" are truncated to these lengths
MAX_MESSAGE_CHARS = 160

MARKER_KEY = "thermostat"  # ClientContext {"custom": {MARKER_KEY: MARKER_VALUE}}
MARKER_VALUE = "2"
CLIENT_CONTEXT_B64 = "eyJjdXN0b20iOnsidGhlcm1vc3RhdCI6IjIifX0="  # base64 of {"custom":{"thermostat":"2"}}

ERROR_MALFORMED = "malformed"
ERROR_OVERSIZED = "oversized"
ERROR_UNSUPPORTED_VERSION = "unsupported_version"

_REQUIRED_INTS = ("batch", "slot", "of", "release_at_ms", "max_hold_ms")
_KNOWN_KEYS = frozenset({"v", "action", "run", "refresh", "period_s", *_REQUIRED_INTS})


def client_context_b64() -> str:
    """The ``ClientContext`` the warmer passes to ``Invoke`` (base64 JSON ``{"custom":{"thermostat":"2"}}``)."""
    return CLIENT_CONTEXT_B64


def marker_custom() -> dict[str, str]:
    """The marker as the function sees it in ``context.client_context.custom`` (a new dict each call)."""
    return {MARKER_KEY: MARKER_VALUE}


def has_marker(context: object) -> bool:
    """True when ``context.client_context.custom`` holds the ``"thermostat"`` marker (any non-empty string
    value, so a newer warmer's ping is answered ``unsupported_version`` rather than handed to the user's
    handler). ``client_context`` may be the runtime's object (``.custom``), a dict, None or missing."""
    client_context = getattr(context, "client_context", None)
    if client_context is None:
        return False
    custom = client_context.get("custom") if type(client_context) is dict else getattr(client_context, "custom", None)
    if type(custom) is not dict:
        return False
    value = custom.get(MARKER_KEY)
    return type(value) is str and value != ""


class Ping(_Frozen):
    """A valid ping (immutable)."""

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


def make_ping(
    *, run: str, batch: int, slot: int, of: int, release_at_ms: int, max_hold_ms: int,
    refresh: bool = True, period_s: int = DEFAULT_PERIOD_S, v: int = PROTOCOL_VERSION,
) -> dict[str, Any]:
    """Build the wire form of a ping (``v`` 2, or 1 for old libraries); raises :class:`PingError` if an
    argument is out of range or ``v`` is not buildable. Send it with :func:`client_context_b64`."""
    payload = Ping(run=run, batch=batch, slot=slot, of=of, release_at_ms=release_at_ms,
                   max_hold_ms=max_hold_ms, refresh=refresh, period_s=period_s, v=v).to_dict()
    _parse_body(payload[PING_KEY], BUILDABLE_VERSIONS)  # one set of rules for sender and receiver
    return payload


def is_ping(event: object) -> bool:
    """True when ``event`` has the ping envelope (a dict whose only key is ``"thermostat"``). ``warm_aware``
    answers it itself only when the context also carries the marker (:func:`has_marker`)."""
    return type(event) is dict and len(event) == 1 and PING_KEY in event


def _show(value: int) -> str:
    """An integer for an error message, never a long run of digits from the input."""
    return str(value) if -MAX_INT <= value <= MAX_INT else ("a number below -2**53" if value < 0 else
                                                             "a number above 2**53")


def _int_field(body: Mapping[str, Any], key: str, minimum: int) -> int:
    value = body[key]
    if type(value) is not int:
        raise PingError(ERROR_MALFORMED, f"{PING_KEY}.{key}",
                        f"must be an integer, got {type(value).__name__}")
    if value > MAX_INT:
        raise PingError(ERROR_OVERSIZED, f"{PING_KEY}.{key}", f"must be <= 2**53, got {_show(value)}")
    if value < minimum:
        raise PingError(ERROR_MALFORMED, f"{PING_KEY}.{key}", f"must be >= {minimum}, got {_show(value)}")
    return value


def parse_ping(event: object) -> Ping | None:
    """``None`` when ``event`` has no ping envelope; a :class:`Ping` when valid; raises :class:`PingError`
    when it has the envelope but is malformed, oversized or of an unsupported version. Never raises
    anything else. (Whether to answer at all is the marker's business: see :func:`has_marker`.)"""
    if not is_ping(event):
        return None
    return _parse_body(event[PING_KEY], SUPPORTED_VERSIONS)  # type: ignore[index]


def _parse_body(body: object, versions: frozenset[int]) -> Ping:
    if type(body) is not dict:
        raise PingError(ERROR_MALFORMED, PING_KEY, f"must be an object, got {type(body).__name__}")
    if len(body) > MAX_KEYS:
        raise PingError(ERROR_OVERSIZED, PING_KEY, f"has {len(body)} keys, at most {MAX_KEYS}")
    version = body.get("v")
    if type(version) is not int:
        raise PingError(ERROR_MALFORMED, f"{PING_KEY}.v", "missing or not an integer")
    if version not in versions:
        raise PingError(ERROR_UNSUPPORTED_VERSION, f"{PING_KEY}.v",
                        f"version {_show(version)} not in supported {sorted(versions)}")
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


def refresh_horizon_s(period_s: int) -> int:
    """The refresh horizon a ping's ``period_s`` asks for, clamped to ``[0, MAX_PERIOD_S]``."""
    return period_s if 0 <= period_s <= MAX_PERIOD_S else (0 if period_s < 0 else MAX_PERIOD_S)


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


# The answer side lives in its own module (size); it is part of this wire format and re-exported here.
from thermostat_target.answer import Answer as Answer  # noqa: E402
from thermostat_target.answer import make_answer as make_answer  # noqa: E402
from thermostat_target.answer import parse_answer as parse_answer  # noqa: E402
