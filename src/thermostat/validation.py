"""Validate Input: the execution input -> a normalised ``models.Request`` (every default filled in).

Anything malformed raises :class:`InvalidInputError` whose ``path`` names the field (``targets[2].min``,
``quantile``; ``$`` is the input itself), so the state machine's ``Fail`` state shows exactly what to fix.

Rules (docs/state-machine-io.md explains them to users):
- the input is a JSON object; every field is optional (the schedule sends ``{}``); unknown keys are
  rejected at every level (a typo never silently means "use the default");
- integers are JSON integers (``true`` is not ``1``; ``2.0`` is not ``2``); counts are 0 .. MAX_COUNT;
- ``quantile`` is a number strictly between 0 and 1; ``horizon_minutes`` an integer in 1 .. 60;
- a target is ``{"function", "qualifier"?, "min"?, "max"?}`` or a string shorthand (``"orders-api"``,
  ``"orders-api:live"``, a function ARN with or without a qualifier);
- ``$LATEST`` is the same as no qualifier; a qualifier given twice (``name:live`` and ``"qualifier"``)
  must agree;
- when only one bound is given and it crosses the other's default, the default follows it
  (``{"min": 80}`` with the default max 50 means min = max = 80); both given with ``min > max`` is an error;
- targets are identified by (function name, qualifier): a later duplicate replaces an earlier one, in
  the earlier one's position.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypedDict

from thermostat import models
from thermostat.config import RunSettings
from thermostat.exceptions import InvalidInputError

MAX_COUNT = 10_000  # per-target min/max ceiling (the concurrency budget clamps further)
MAX_TARGETS = 1_000
HORIZON_RANGE = (1, 60)
TOP_LEVEL_KEYS = ("targets", "discover", "quantile", "horizon_minutes", "dry_run")
TARGET_KEYS = ("function", "qualifier", "min", "max")

_NAME = r"[A-Za-z0-9_-]{1,64}"
_QUALIFIER = r"[A-Za-z0-9$_-]{1,128}"
_NAME_RE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<qualifier>{_QUALIFIER}))?$")
_ARN_RE = re.compile(
    rf"^(?P<base>arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{{12}}:function:(?P<name>{_NAME}))"
    rf"(?::(?P<qualifier>{_QUALIFIER}))?$"
)
_QUALIFIER_RE = re.compile(rf"^{_QUALIFIER}$")

Source = Literal["input", "tag", "config"]


class ExecutionInfo(TypedDict):
    """What the ASL passes next to the input (``statemachine/warming.asl.json``, Validate Input)."""

    execution: str  # $$.Execution.Id (the execution ARN)
    name: str  # $$.Execution.Name
    started_at: str  # $$.Execution.StartTime, ISO 8601


WRAPPER_KEYS = frozenset({"input", "execution", "name", "started_at"})


# --- small typed readers -----------------------------------------------------------------------------


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _check_keys(obj: Mapping[str, Any], allowed: Sequence[str], prefix: str) -> None:
    for key in obj:
        if key not in allowed:
            path = f"{prefix}.{key}" if prefix else str(key)
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (allowed: {', '.join(allowed)})"
            raise InvalidInputError(path, f"unknown field{hint}")


def read_bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(path, f"must be true or false, got {_kind(value)}")
    return value


def read_int(value: object, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(path, f"must be an integer, got {_kind(value)} {value!r}")
    if value < low:
        problem = "must not be negative" if low == 0 else f"must be >= {low}"
        raise InvalidInputError(path, f"{problem}, got {value}")
    if value > high:
        raise InvalidInputError(path, f"must be <= {high}, got {value}")
    return value


def read_quantile(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(path, f"must be a number, got {_kind(value)}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 < number < 1.0:
        raise InvalidInputError(path, f"must be strictly between 0 and 1, got {value}")
    return number


def split_function(text: object, path: str) -> tuple[str, str, str | None]:
    """``(function as written without its qualifier, bare name, qualifier)`` of a name, ``name:q`` or ARN."""
    if not isinstance(text, str):
        raise InvalidInputError(path, f"must be a string, got {_kind(text)}")
    stripped = text.strip()
    if not stripped:
        raise InvalidInputError(path, "must not be empty")
    if stripped.startswith("arn:"):
        match = _ARN_RE.match(stripped)
        if match is None:
            raise InvalidInputError(path, f"{stripped!r} is not a Lambda function ARN "
                                          "(arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])")
        return match["base"], match["name"], match["qualifier"]
    match = _NAME_RE.match(stripped)
    if match is None:
        raise InvalidInputError(path, f"{stripped!r} is not a Lambda function name "
                                      "(1-64 of A-Z a-z 0-9 - _, optionally :QUALIFIER)")
    return match["name"], match["name"], match["qualifier"]


def function_name(function: str) -> str:
    """The bare function name of a (validated) name or ARN."""
    return function.rsplit(":", 1)[-1] if function.startswith("arn:") else function.split(":", 1)[0]


def target_key(spec: models.TargetSpec) -> tuple[str, str | None]:
    return function_name(spec["function"]), spec["qualifier"]


def _qualifier(value: object, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(path, f"must be a string or null, got {_kind(value)}")
    if not value:
        raise InvalidInputError(path, "must not be empty (omit it or use null for $LATEST)")
    if not _QUALIFIER_RE.match(value):
        raise InvalidInputError(path, f"{value!r} is not an alias or version (A-Z a-z 0-9 $ - _)")
    return value


def _normal_qualifier(qualifier: str | None) -> str | None:
    return None if qualifier in (None, "$LATEST") else qualifier


# --- targets -----------------------------------------------------------------------------------------


def parse_target(item: object, path: str, source: Source, min_default: int, max_default: int
                 ) -> models.TargetSpec:
    """One target (object or string shorthand) -> TargetSpec."""
    if isinstance(item, str):
        item = {"function": item}
    if not isinstance(item, dict):
        raise InvalidInputError(path, f"must be an object or a function name, got {_kind(item)}")
    _check_keys(item, TARGET_KEYS, path)
    if "function" not in item:
        raise InvalidInputError(f"{path}.function", "is required")
    function, _, embedded = split_function(item["function"], f"{path}.function")
    qualifier = embedded
    if "qualifier" in item:
        explicit = _qualifier(item["qualifier"], f"{path}.qualifier")
        if embedded is not None and _normal_qualifier(explicit) != _normal_qualifier(embedded):
            raise InvalidInputError(f"{path}.qualifier",
                                    f"{explicit!r} contradicts the qualifier {embedded!r} in the function")
        qualifier = explicit if explicit is not None else embedded
    has_min, has_max = "min" in item, "max" in item
    minimum = read_int(item["min"], f"{path}.min", 0, MAX_COUNT) if has_min else min_default
    maximum = read_int(item["max"], f"{path}.max", 0, MAX_COUNT) if has_max else max_default
    if minimum > maximum:
        if has_min and has_max:
            raise InvalidInputError(f"{path}.min", f"must be <= max ({maximum}), got {minimum}")
        if has_min:
            maximum = minimum  # only min given: the default max follows it
        else:
            minimum = maximum  # only max given: the default min follows it
    return {"function": function, "qualifier": _normal_qualifier(qualifier), "min": minimum,
            "max": maximum, "source": source}


def parse_targets(items: object, path: str, source: Source, min_default: int, max_default: int
                  ) -> list[models.TargetSpec]:
    """A list of targets, deduplicated by (function name, qualifier): the later entry wins."""
    if not isinstance(items, list):
        raise InvalidInputError(path, f"must be an array, got {_kind(items)}")
    if len(items) > MAX_TARGETS:
        raise InvalidInputError(path, f"has {len(items)} entries, at most {MAX_TARGETS}")
    merged: dict[tuple[str, str | None], models.TargetSpec] = {}
    for index, item in enumerate(items):
        spec = parse_target(item, f"{path}[{index}]", source, min_default, max_default)
        merged[target_key(spec)] = spec
    return list(merged.values())


# --- the execution input -----------------------------------------------------------------------------


def parse_request(raw: object, settings: RunSettings) -> models.Request:
    """Execution input -> Request. Raises :class:`InvalidInputError` naming the field path."""
    if not isinstance(raw, dict):
        raise InvalidInputError("$", f"the execution input must be a JSON object, got {_kind(raw)}")
    _check_keys(raw, TOP_LEVEL_KEYS, "")
    targets = (parse_targets(raw["targets"], "targets", "input", settings.min_warm, settings.max_warm)
               if "targets" in raw else [])
    return {
        "targets": targets,
        "discover": read_bool(raw["discover"], "discover") if "discover" in raw else True,
        "quantile": read_quantile(raw["quantile"], "quantile") if "quantile" in raw else settings.quantile,
        "horizon_minutes": (read_int(raw["horizon_minutes"], "horizon_minutes", *HORIZON_RANGE)
                            if "horizon_minutes" in raw else settings.horizon_minutes),
        "dry_run": read_bool(raw["dry_run"], "dry_run") if "dry_run" in raw else False,
    }


def split_event(event: object) -> tuple[object, ExecutionInfo | None]:
    """The Validate Input task sends ``{"input": <execution input>, "execution": id, "name": name,
    "started_at": iso}``; a direct invoke (``sam remote invoke ValidateInputFunction``) may send the
    bare execution input."""
    if isinstance(event, dict) and set(event) == WRAPPER_KEYS:
        for key in ("execution", "name", "started_at"):
            if not isinstance(event[key], str) or not event[key]:
                raise InvalidInputError(key, "must be a non-empty string (set by the state machine)")
        return event["input"], {"execution": event["execution"], "name": event["name"],
                                "started_at": event["started_at"]}
    return event, None


def iso_to_ms(text: str) -> int | None:
    """``2025-11-22T17:00:00.123Z`` -> epoch ms (None when unparsable)."""
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def build_run_state(event: object, settings: RunSettings, now_ms: int, fallback_id: str) -> models.RunState:
    """The Validate Input state: validated request, run identity (round 0) and the kill switch."""
    raw, execution = split_event(event)
    request = parse_request(raw, settings)
    if execution is None:
        run: models.RunInfo = {"id": fallback_id, "name": fallback_id.rsplit(":", 1)[-1],
                               "started_at_ms": now_ms, "round": 0}
    else:
        started = iso_to_ms(execution["started_at"])
        run = {"id": execution["execution"], "name": execution["name"],
               "started_at_ms": now_ms if started is None else started, "round": 0}
    state: models.RunState = {"run": run, "request": request, "enabled": settings.enabled}
    if not settings.enabled:
        state["reason"] = "Thermostat is disabled (THERMOSTAT_ENABLED=false): nothing is warmed"
    return state
