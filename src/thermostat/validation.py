"""Validate Input: the execution input -> a normalised ``models.Request`` (every default filled in).

Anything malformed raises :class:`InvalidInputError` whose ``path`` names the field (``targets[2].min``,
``quantile``; ``$`` is the input itself), so the state machine's ``Fail`` state shows exactly what to fix.

The input's shape is the JSON Schema ``schemas/execution-input.schema.json`` (also published as
``docs/execution-input.schema.json``), run by :mod:`thermostat.input_schema`: types (``true`` is not ``1``;
``2.0`` is ``2``, as JSON Schema says), ranges, name and ARN forms, unknown keys at every level. This
module then applies what a schema cannot say:

- ``min`` and ``max`` are at most the stack's ``MaxWarm`` (``RunSettings.max_warm``);
- ``$LATEST`` is the same as no qualifier; a qualifier given twice (``name:live`` and ``"qualifier"``)
  must agree;
- when only ``max`` is given and it is below the default ``min``, the default follows it; both given with
  ``min > max`` is an error;
- targets are identified by (function name, qualifier): a later duplicate replaces an earlier one, in the
  earlier one's position;
- a string target is shorthand for ``{"function": <string>}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict, cast

from thermostat import models
from thermostat.config import RunSettings
from thermostat.exceptions import InvalidInputError
from thermostat.hours import HoursError
from thermostat.hours import parse as parse_hours
from thermostat.input_schema import check_shape, clipped, function_problem, schema, show
from thermostat.kill_switch import read_switch

_DEFINITIONS = schema()["definitions"]
MAX_COUNT: int = _DEFINITIONS["count"]["maximum"]  # the largest MaxWarm a stack accepts
TOP_LEVEL_KEYS = tuple(schema()["properties"])
TARGET_KEYS = tuple(_DEFINITIONS["target"]["else"]["properties"])

# The schema's own pattern (anchored at both ends): a name, ``name:qualifier`` or an ARN, whose parts hold
# no ":" (``arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]``), so split(":") takes it apart.
_FUNCTION_RE = re.compile(_DEFINITIONS["function"]["pattern"])
_ARN_PARTS = 7  # up to and including NAME


class ExecutionInfo(TypedDict):
    """What the ASL passes next to the input (``statemachine/warming.asl.json``, Validate Input)."""

    execution: str  # $$.Execution.Id (the execution ARN)
    name: str  # $$.Execution.Name
    started_at: str  # $$.Execution.StartTime, ISO 8601


WRAPPER_KEYS = frozenset({"input", "execution", "name", "started_at"})


# --- names -------------------------------------------------------------------------------------------


def split_function(text: object, path: str) -> tuple[str, str, str | None]:
    """``(function as written without its qualifier, bare name, qualifier)`` of a name, ``name:q`` or ARN."""
    if not isinstance(text, str) or _FUNCTION_RE.match(text) is None:
        raise clipped(path, function_problem(text))
    parts = text.split(":")
    if text.startswith("arn:"):
        name, qualifier = parts[_ARN_PARTS - 1], parts[_ARN_PARTS:]
        return ":".join(parts[:_ARN_PARTS]), name, qualifier[0] if qualifier else None
    return parts[0], parts[0], parts[1] if len(parts) > 1 else None


def function_name(function: str) -> str:
    """The bare function name of a (validated) name or ARN."""
    return function.rsplit(":", 1)[-1] if function.startswith("arn:") else function.split(":", 1)[0]


def target_key(spec: models.TargetSpec) -> tuple[str, str | None]:
    return function_name(spec["function"]), spec["qualifier"]


def _normal_qualifier(qualifier: str | None) -> str | None:
    return None if qualifier in (None, "$LATEST") else qualifier


# --- targets (shape already checked) -----------------------------------------------------------------


def _bound(entry: Mapping[str, Any], key: str, path: str, default: int, ceiling: int) -> int:
    if key not in entry:
        return default
    value = int(entry[key])  # 2.0 -> 2 (the schema accepts integral numbers)
    if value > ceiling:
        raise clipped(f"{path}.{key}", f"must be <= {ceiling} (the stack's MaxWarm), got {value}")
    return value


def _target(item: object, path: str, source: models.Source, min_default: int, max_default: int) -> models.TargetSpec:
    entry: Mapping[str, Any] = {"function": item} if isinstance(item, str) else cast(Mapping[str, Any], item)
    function, _, embedded = split_function(entry["function"], path if isinstance(item, str) else f"{path}.function")
    qualifier = embedded
    if "qualifier" in entry:
        explicit = entry["qualifier"]
        if embedded is not None and _normal_qualifier(explicit) != _normal_qualifier(embedded):
            raise clipped(f"{path}.qualifier", f"{show(explicit)} contradicts the qualifier {show(embedded)} "
                                               "in the function")
        qualifier = explicit if explicit is not None else embedded
    minimum = _bound(entry, "min", path, min_default, max_default)
    maximum = _bound(entry, "max", path, max_default, max_default)
    if minimum > maximum:
        if "min" in entry and "max" in entry:
            raise clipped(f"{path}.min", f"must be <= max ({maximum}), got {minimum}")
        minimum = maximum  # only max given, below the default min: the default follows it
    spec: models.TargetSpec = {"function": function, "qualifier": _normal_qualifier(qualifier), "min": minimum,
                               "max": maximum, "source": source}
    if "price_per_cold_start" in entry:
        spec["price_per_cold_start"] = float(entry["price_per_cold_start"])
    if "hours" in entry:
        try:
            spec["hours"] = parse_hours(entry["hours"]).text
        except HoursError as exc:
            raise clipped(f"{path}.hours", str(exc)) from None
    if source == "input":  # which settings the input gives (the rest: its tags, else the stack's)
        given = {"min": "min" in entry, "max": "max" in entry, "price_per_cold_start": "price_per_cold_start" in entry,
                 "hours": "hours" in entry, "qualifier": "qualifier" in entry or embedded is not None}
        spec["settings_source"] = {name: "input" if flag else "stack" for name, flag in given.items()}
    return spec


def _targets(items: list[object], path: str, source: models.Source, min_default: int, max_default: int
             ) -> list[models.TargetSpec]:
    merged: dict[tuple[str, str | None], models.TargetSpec] = {}
    for index, item in enumerate(items):
        spec = _target(item, f"{path}[{index}]", source, min_default, max_default)
        merged[target_key(spec)] = spec
    return list(merged.values())


def parse_targets(items: object, path: str, source: models.Source, min_default: int, max_default: int
                  ) -> list[models.TargetSpec]:
    """A list of targets (the execution input's rules; ``max_default`` is also the ceiling), deduplicated
    by (function name, qualifier): the later entry wins. Errors are named from ``path``."""
    check_shape({"targets": items}, root=path)
    return _targets(cast(list[object], items), path, source, min_default, max_default)


# --- the execution input -----------------------------------------------------------------------------


def validate_execution_input(raw: object, settings: RunSettings | None = None) -> models.Request:
    """Execution input -> normalised Request (defaults from ``settings``; the template's when None).

    Raises :class:`InvalidInputError` with ``.path`` naming the field and ``.problem`` saying what is wrong.
    """
    settings = RunSettings() if settings is None else settings
    check_shape(raw)
    document = cast(dict[str, Any], raw)
    request: models.Request = {
        "targets": _targets(document.get("targets", []), "targets", "input", settings.min_warm, settings.max_warm),
        "discover": document.get("discover", True),
        "quantile": float(document["quantile"]) if "quantile" in document else settings.quantile,
        "horizon_minutes": int(document.get("horizon_minutes", settings.horizon_minutes)),
        "dry_run": document.get("dry_run", False),
    }
    if "price_per_cold_start" in document:
        request["price_per_cold_start"] = float(document["price_per_cold_start"])
    if document.get("monthly_budget_usd") is not None:
        request["monthly_budget_usd"] = float(document["monthly_budget_usd"])
    if "trigger" in document:
        request["trigger"] = document["trigger"]
    return request


def parse_request(raw: object, settings: RunSettings) -> models.Request:
    """Execution input -> Request (the same as :func:`validate_execution_input`)."""
    return validate_execution_input(raw, settings)


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


def build_run_state(event: object, settings: RunSettings, now_ms: int, fallback_id: str,
                    ssm: Any = None) -> models.RunState:
    """The Validate Input state: validated request, run identity (round 0) and the kill switch.

    The switch: when ``settings`` names a kill switch parameter and an SSM client is given, that
    parameter's value read now (it decides alone; unreadable = off); otherwise ``settings.enabled`` (the
    WarmingEnabled value the stack was deployed with)."""
    raw, execution = split_event(event)
    request = validate_execution_input(raw, settings)
    if execution is None:
        run: models.RunInfo = {"id": fallback_id, "name": fallback_id.rsplit(":", 1)[-1],
                               "started_at_ms": now_ms, "round": 0}
    else:
        started = iso_to_ms(execution["started_at"])
        run = {"id": execution["execution"], "name": execution["name"],
               "started_at_ms": now_ms if started is None else started, "round": 0}
    if settings.kill_switch_parameter and ssm is not None:
        enabled, reason = read_switch(ssm, settings.kill_switch_parameter)
    elif settings.enabled:
        enabled, reason = True, None
    else:
        enabled, reason = False, "Thermostat is disabled (THERMOSTAT_ENABLED=false): nothing is warmed"
    state: models.RunState = {"run": run, "request": request, "enabled": enabled}
    if reason is not None:
        state["reason"] = reason
    return state
