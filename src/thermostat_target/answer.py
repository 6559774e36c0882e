"""The answer half of the wire format (documented in :mod:`thermostat_target.protocol`, which re-exports
everything here): build a v2 answer, parse v1 and v2 answers.

Imported by ``protocol`` (at its end) and never before it: ``import thermostat_target`` loads
``protocol`` first, so the constants below exist when this module reads them.
"""

from __future__ import annotations

from thermostat_target._compat import Frozen as _Frozen
from thermostat_target.exceptions import NotWarmAwareError
from thermostat_target.protocol import (
    ERROR_MALFORMED,
    MAX_FIELD_CHARS,
    MAX_MESSAGE_CHARS,
    PING_KEY,
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from thermostat_target.exceptions import PingError


class Answer(_Frozen):
    """A target's answer to a ping, as parsed by :func:`parse_answer` (immutable).

    Fields a v1 answer lacks (``late_ms``, ``real``, ``real_age_ms``, ``ping_age_ms``, ``caches``) are
    None; its name lists become counts and its ``cache_ages`` map the oldest age. ``error`` is the error
    code when the target rejected the ping (with ``error_field``, ``error_message`` and the versions it
    ``supported``)."""

    _fields = ("env", "cold", "init_ms", "held_ms", "late_ms", "invocations", "real", "real_age_ms",
               "ping_age_ms", "refreshed", "refresh_failed", "caches", "cache_age_max_s", "function",
               "version", "error", "error_field", "error_message", "supported", "v")
    __slots__ = _fields
    env: str
    cold: bool
    init_ms: float
    held_ms: float
    late_ms: float | None
    invocations: int
    real: int | None
    real_age_ms: float | None
    ping_age_ms: float | None
    refreshed: int
    refresh_failed: int
    caches: int | None
    cache_age_max_s: float | None
    function: str | None
    version: str | None
    error: str | None
    error_field: str | None
    error_message: str | None
    supported: tuple[int, ...] | None
    v: int

    def __init__(
        self, *, env: str, cold: bool, init_ms: float, held_ms: float, invocations: int,
        late_ms: float | None = None, real: int | None = None, real_age_ms: float | None = None,
        ping_age_ms: float | None = None, refreshed: int = 0, refresh_failed: int = 0,
        caches: int | None = None, cache_age_max_s: float | None = None, function: str | None = None,
        version: str | None = None, error: str | None = None, error_field: str | None = None,
        error_message: str | None = None, supported: tuple[int, ...] | None = None,
        v: int = PROTOCOL_VERSION,
    ) -> None:
        self._init(env=env, cold=cold, init_ms=init_ms, held_ms=held_ms, late_ms=late_ms,
                   invocations=invocations, real=real, real_age_ms=real_age_ms, ping_age_ms=ping_age_ms,
                   refreshed=refreshed, refresh_failed=refresh_failed, caches=caches,
                   cache_age_max_s=cache_age_max_s, function=function, version=version, error=error,
                   error_field=error_field, error_message=error_message, supported=supported, v=v)

    def __hash__(self) -> int:
        return hash(self._values())

    @property
    def ok(self) -> bool:
        """True when the target answered a valid ping (no ``error``)."""
        return self.error is None


def _ms(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def make_answer(
    *, env: str, cold: bool, init_ms: float, held_ms: float, invocations: int, late_ms: float | None = 0.0,
    real: int = 0, real_age_ms: float | None = None, ping_age_ms: float | None = None, refreshed: int = 0,
    refresh_failed: int = 0, caches: int = 0, cache_age_max_s: float | None = None,
    function: str | None = None, version: str | None = None, error: PingError | None = None,
    v: int = PROTOCOL_VERSION,
) -> dict[str, Any]:
    """Build the wire form of an answer (``error``: the :class:`PingError` that rejected the ping; its
    field and message are truncated). ``v=1`` builds what an old (v1) library answers, without names:
    for tests of a sender's fallback."""
    body: dict[str, Any] = {"v": v, "env": env, "cold": cold, "init_ms": _ms(init_ms), "held_ms": _ms(held_ms)}
    if v == 1:
        body.update(invocations=invocations, refreshed=[], refresh_failed=[], cache_ages={})
    else:
        body.update(late_ms=_ms(late_ms), invocations=invocations, real=real, real_age_ms=_ms(real_age_ms),
                    ping_age_ms=_ms(ping_age_ms), refreshed=refreshed, refresh_failed=refresh_failed,
                    caches=caches, cache_age_max_s=_ms(cache_age_max_s))
    body.update(function=function, version=version)
    if error is not None:
        body["error"] = {"code": str(error.code)[:MAX_FIELD_CHARS], "field": str(error.field)[:MAX_FIELD_CHARS],
                         "message": str(error)[:MAX_MESSAGE_CHARS]}
        body["supported"] = [1] if v == 1 else sorted(SUPPORTED_VERSIONS)
    return {PING_KEY: body}


def _number(body: Mapping[str, Any], key: str, default: float | None) -> float | None:
    value = body.get(key)
    if value is None:
        return default
    if type(value) is bool or not isinstance(value, int | float):
        raise NotWarmAwareError(f"answer field {PING_KEY}.{key} must be a number, got {type(value).__name__}")
    return float(value)


def _count(body: Mapping[str, Any], key: str, default: int | None) -> int | None:
    value = body.get(key)
    if value is None:
        return default
    if type(value) is not int or value < 0:
        raise NotWarmAwareError(f"answer field {PING_KEY}.{key} must be a count")
    return value


def _names_v1(body: Mapping[str, Any], key: str) -> int:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise NotWarmAwareError(f"answer field {PING_KEY}.{key} must be a list of strings")
    return len(value)


def _oldest_v1(body: Mapping[str, Any]) -> float | None:
    ages = body.get("cache_ages") or {}
    if not isinstance(ages, dict):
        raise NotWarmAwareError(f"answer field {PING_KEY}.cache_ages must be an object")
    values = [_number(ages, str(k), None) for k in ages]
    return max((a for a in values if a is not None), default=None)


def _decode(payload: object) -> object:
    if isinstance(payload, bytes | bytearray | str):
        import json  # lazily: json costs ~7 ms of import and only the workflow side needs it

        try:
            return json.loads(payload)
        except ValueError as exc:
            raise NotWarmAwareError(f"answer is not JSON: {str(exc)[:MAX_MESSAGE_CHARS]}") from None
    return payload


def parse_answer(payload: object) -> Answer:
    """Parse what a target returned (a dict, or the JSON ``bytes``/``str`` of a Lambda ``Payload``): a v2
    answer, or a v1 one from an old library.

    Raises :class:`NotWarmAwareError` when it is not a Thermostat answer: the target's own handler
    output, a Lambda function error (``errorType``/``errorMessage``), an echo of the ping, malformed fields."""
    payload = _decode(payload)
    if isinstance(payload, dict) and "errorType" in payload and PING_KEY not in payload:
        raise NotWarmAwareError(f"target failed: {str(payload.get('errorType'))[:MAX_FIELD_CHARS]}: "
                                f"{str(payload.get('errorMessage'))[:MAX_MESSAGE_CHARS]}")
    if not isinstance(payload, dict) or set(payload) != {PING_KEY} or not isinstance(payload[PING_KEY], dict):
        raise NotWarmAwareError(f"not a Thermostat answer (got {type(payload).__name__}); "
                                "is the target wrapped with @warm_aware?")
    body = payload[PING_KEY]
    if "action" in body:
        raise NotWarmAwareError("the target echoed the ping back: it is not warm-aware "
                                "(or the ping lacked the ClientContext marker)")
    env, cold, v = body.get("env"), body.get("cold"), body.get("v")
    if not isinstance(env, str) or not isinstance(cold, bool) or type(v) is not int:
        raise NotWarmAwareError(f"answer lacks {PING_KEY}.v/env/cold")
    fields: dict[str, Any] = {
        "init_ms": _number(body, "init_ms", 0.0), "held_ms": _number(body, "held_ms", 0.0),
        "invocations": _count(body, "invocations", 0),
    }
    if v == 1:
        fields.update(refreshed=_names_v1(body, "refreshed"), refresh_failed=_names_v1(body, "refresh_failed"),
                      cache_age_max_s=_oldest_v1(body))
    else:
        fields.update(late_ms=_number(body, "late_ms", None), real=_count(body, "real", None),
                      real_age_ms=_number(body, "real_age_ms", None),
                      ping_age_ms=_number(body, "ping_age_ms", None), refreshed=_count(body, "refreshed", 0),
                      refresh_failed=_count(body, "refresh_failed", 0), caches=_count(body, "caches", None),
                      cache_age_max_s=_number(body, "cache_age_max_s", None))
    err = body.get("error")
    if err is not None:
        detail = err if isinstance(err, dict) else {"code": err, "message": err}
        field = detail.get("field")
        fields.update(error=str(detail.get("code", ERROR_MALFORMED)), error_message=str(detail.get("message", "")),
                      error_field=field if isinstance(field, str) else None)
        supported = body.get("supported")
        if isinstance(supported, list):
            fields["supported"] = tuple(x for x in supported if type(x) is int)
    function, version = body.get("function"), body.get("version")
    return Answer(env=env, cold=cold, function=function if isinstance(function, str) else None,
                  version=version if isinstance(version, str) else None, v=v, **fields)
