"""The execution input's shape: one JSON Schema, enforced by fastjsonschema (the validator behind
Powertools' validation utility, shipped in the Powertools layer).

The schema (``schemas/execution-input.schema.json``, published as ``docs/execution-input.schema.json``) is
the single description of the input; this module compiles it once and turns its first error into an
:class:`InvalidInputError` whose ``path`` names the field (``targets[2].min``, ``quantile``; ``$`` is the
input itself) and whose message is plain English. Rules a JSON Schema cannot express (``min <= max``, the
stack's ``MaxWarm``, a qualifier given twice) are checked by :mod:`thermostat.validation` afterwards.

Before the schema runs, :func:`sanitized` deals with what no JSON document holds but a Python caller can
pass, and with what would break the validator or its messages: NaN and infinities (they pass
``0 < x < 1``), integers beyond 2**53 (``str()`` of one over 4,300 digits raises ``ValueError``),
non-string keys, non-JSON types and deep nesting. Messages never repeat a large value: strings are cut
to :data:`MAX_SHOWN` characters, odd keys in paths to :data:`MAX_KEY_SHOWN`, and the whole cause stays
under :data:`MAX_CAUSE` characters (Step Functions caps a Fail state's cause at 32,768).

Why fastjsonschema directly rather than ``aws_lambda_powertools.utilities.validation.validate``: that
function compiles the schema again on every call (5-10 ms here; the fuzz test makes hundreds of calls)
and formats the offending value into its message, which raises ``ValueError`` for a 4,301-digit integer.
The engine, the draft-07 semantics and the error fields (path, rule, rule definition) are the same.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema

from thermostat.exceptions import InvalidInputError

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "execution-input.schema.json"
MAX_CAUSE = 1000  # characters of "path: problem" at most
MAX_SHOWN = 100  # characters of a string value repeated in a message at most
MAX_KEY_SHOWN = 40  # characters of an odd key shown in a path at most
MAX_SAFE_INT = 2**53  # JSON's interoperable integer range
MAX_DEPTH = 8  # the input is 3 levels deep (input -> targets -> target -> field); deeper is nulled

Part = str | int
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_TYPE_WORDS = {"integer": "an integer", "number": "a number", "boolean": "true or false", "string": "a string",
               "array": "an array", "object": "an object", "null": "null"}
_PATTERN_HELP = {
    "function": "a Lambda function name (1-64 of A-Z a-z 0-9 - _, optionally :QUALIFIER)",
    "arn": "a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], ACCOUNT 12 digits 0-9)",
    "qualifier": "an alias or version (1-128 of A-Z a-z 0-9 - _, or $LATEST)",
}


@cache
def schema() -> dict[str, Any]:
    """The execution input's JSON Schema (draft-07), loaded once."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def _validator() -> Callable[[object], object]:
    """The schema compiled once (``use_default=False``: the input is never modified)."""
    compiled: Callable[[object], object] = fastjsonschema.compile(schema(), use_default=False)
    return compiled


# --- messages ----------------------------------------------------------------------------------------


def format_path(parts: Sequence[Part], root: str | None = None) -> str:
    """``["targets", 2, "min"]`` -> ``targets[2].min``; ``[]`` -> ``$``. A key that is not a plain
    identifier is shown JSON-quoted in brackets (``["a b"]``), cut to :data:`MAX_KEY_SHOWN` characters."""
    text = root or ""
    for index, part in enumerate(parts):
        if root is not None and index == 0:
            continue  # the first part is replaced by ``root`` (THERMOSTAT_TARGETS instead of targets)
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENT.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{show(part, MAX_KEY_SHOWN)}]"
    return text or "$"


def show(value: object, limit: int = MAX_SHOWN) -> str:
    """A value as it may appear in a message: JSON spelling, strings cut, containers by kind only."""
    if isinstance(value, str):
        return json.dumps(value[:limit])[:-1] + ('..."' if len(value) > limit else '"')
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int) and abs(value) <= MAX_SAFE_INT:
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return repr(value) if math.isfinite(value) else ("Infinity" if value > 0 else "-Infinity")
    return kind(value)


def kind(value: object) -> str:
    """The JSON type of a value (``boolean``, not ``int``)."""
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


def got(value: object) -> str:
    """``got number 2.5``, ``got string "3"``, ``got array``."""
    shown = show(value)
    return f"got {kind(value)}" if shown == kind(value) else f"got {kind(value)} {shown}"


def clipped(path: str, problem: str) -> InvalidInputError:
    """``InvalidInputError(path, problem)`` with ``path: problem`` cut to :data:`MAX_CAUSE` characters."""
    path = path if len(path) <= MAX_CAUSE // 2 else path[: MAX_CAUSE // 2 - 3] + "..."
    room = MAX_CAUSE - len(path) - 2
    if len(problem) > room:
        problem = problem[: room - 3] + "..."
    return InvalidInputError(path, problem)


def invalid(parts: Sequence[Part], problem: str, root: str | None = None) -> InvalidInputError:
    """The error for the field at ``parts``."""
    return clipped(format_path(parts, root), problem)


def function_problem(value: object) -> str:
    """Why ``value`` is not a function name, ``name:qualifier`` or ARN (the schema's order of checks)."""
    if not isinstance(value, str):
        return f"must be a string, {got(value)}"
    if not value:
        return "must not be empty"
    limit = schema()["definitions"]["function"]["maxLength"]
    if len(value) > limit:
        return f"is {len(value)} characters long, at most {limit}"
    return _pattern_problem(["function"], value)


# --- what JSON cannot hold ---------------------------------------------------------------------------


class _Unsafe(Exception):
    def __init__(self, parts: list[Part], problem: str) -> None:
        super().__init__(problem)
        self.parts, self.problem = parts, problem


def _danger(value: object) -> str | None:
    """Why a value cannot go to the validator (None: it can)."""
    if value is None or isinstance(value, bool | str | list):
        return None
    if isinstance(value, int):
        return "integer out of range (more than 2**53 in magnitude)" if abs(value) > MAX_SAFE_INT else None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"must be a finite number, got {show(value)}"
    if isinstance(value, dict):
        bad = next((key for key in value if not isinstance(key, str)), None)
        return None if bad is None else f"has a key that is not a string ({kind(bad)})"
    return f"is not a JSON value ({type(value).__name__})"


def _is_field(parts: Sequence[Part]) -> bool:
    """Whether ``parts`` is the input itself, a field the schema names, or a target entry."""
    if len(parts) <= 1:
        return not parts or parts[0] in schema()["properties"]
    if parts[0] != "targets" or not isinstance(parts[1], int):
        return False
    return len(parts) == 2 or (len(parts) == 3 and parts[2] in schema()["definitions"]["target"]["else"]["properties"])


def _safe(value: object, parts: list[Part]) -> object:
    danger = _danger(value)
    if danger is not None:
        if _is_field(parts):
            raise _Unsafe(parts, danger)
        return None  # inside an unknown key or a mistyped field: the schema rejects that first
    if isinstance(value, dict | list) and len(parts) >= MAX_DEPTH:
        return None  # deeper than any input goes: only a wrong type or an unknown key gets here
    if isinstance(value, dict):
        return {key: _safe(child, [*parts, key]) for key, child in value.items()}
    if isinstance(value, list):
        return [_safe(child, [*parts, index]) for index, child in enumerate(value)]
    return value


def sanitized(document: object, root: str | None = None) -> object:
    """A copy of ``document`` the validator can run on and whose every value can be shown in a message.

    A value that no JSON text produces (NaN, infinities, non-string keys, tuples...) or that cannot be
    formatted (integers beyond 2**53; ``str()`` of one over 4,300 digits raises) is an error when it
    is the value of a field (``quantile: must be a finite number, got NaN``); nested deeper (inside a
    mistyped field or an unknown key) it becomes null, and the schema names that field."""
    try:
        return _safe(document, [])
    except _Unsafe as unsafe:
        raise invalid(unsafe.parts, unsafe.problem, root=root) from None


# --- the schema's verdict -----------------------------------------------------------------------------


def _walk(document: object, raw_path: Sequence[str]) -> tuple[list[Part], object]:
    """fastjsonschema's path (``["data", "targets", "0"]``) -> typed parts, and the value found there."""
    parts: list[Part] = []
    value = document
    for step in raw_path[1:]:
        if isinstance(value, list):
            parts.append(int(step))
            value = value[int(step)]
        elif isinstance(value, dict):
            parts.append(step)
            value = value[step]
    return parts, value


def _field(parts: Sequence[Part]) -> str:
    """The schema field a path ends at: ``function`` for a string target (``targets[3]``)."""
    if len(parts) == 2 and parts[0] == "targets" and isinstance(parts[1], int):
        return "function"
    return str(parts[-1]) if parts else "$"


def _type_problem(parts: Sequence[Part], value: object, expected: object) -> str:
    if not parts:
        return f"the execution input must be a JSON object, {got(value)}"
    if len(parts) == 2 and parts[0] == "targets":
        return f"must be an object or a function name, {got(value)}"
    names = expected if isinstance(expected, list) else [expected]
    return f"must be {' or '.join(_TYPE_WORDS.get(str(n), str(n)) for n in names)}, {got(value)}"


def _bound_problem(parts: Sequence[Part], rule: str, bound: object, value: object) -> str:
    if _field(parts) == "quantile":
        return f"must be strictly between 0 and 1, got {show(value)}"
    if rule == "minimum":
        return f"must not be negative, got {show(value)}" if bound == 0 else f"must be >= {bound}, got {show(value)}"
    symbol = {"maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[rule]
    return f"must be {symbol} {bound}, got {show(value)}"


def _pattern_problem(parts: Sequence[Part], value: object) -> str:
    field = _field(parts)
    if field == "function" and isinstance(value, str) and value.startswith("arn:"):
        field = "arn"
    return f"{show(value)} is not {_PATTERN_HELP.get(field, 'in the expected form')}"


def _unknown_key(parts: list[Part], value: object, definition: object) -> tuple[list[Part], str]:
    allowed = list(definition.get("properties", {})) if isinstance(definition, dict) else []
    extra = next((key for key in value if key not in allowed), "?") if isinstance(value, dict) else "?"
    close = difflib.get_close_matches(extra, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (allowed: {', '.join(allowed)})"
    return [*parts, extra], f"unknown field{hint}"


def explain(document: object, error: fastjsonschema.JsonSchemaValueException) -> tuple[list[Part], str]:
    """A schema error -> (path parts, plain problem)."""
    parts, value = _walk(document, [str(p) for p in error.path or ["data"]])
    rule, bound = error.rule or "", error.rule_definition
    if rule == "type":
        return parts, _type_problem(parts, value, bound)
    if rule == "additionalProperties":
        return _unknown_key(parts, value, error.definition)
    if rule == "required":
        missing = [key for key in (bound or []) if isinstance(value, dict) and key not in value]
        return [*parts, str(missing[0]) if missing else "?"], "is required"
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return parts, _bound_problem(parts, rule, bound, value)
    if rule == "minLength":
        tail = " (omit it or use null for $LATEST)" if _field(parts) == "qualifier" else ""
        return parts, f"must not be empty{tail}"
    if rule == "maxLength" and isinstance(value, str):
        return parts, f"is {len(value)} characters long, at most {bound}"
    if rule == "pattern":
        return parts, _pattern_problem(parts, value)
    if rule == "enum" and isinstance(bound, list):
        return parts, f"must be one of {', '.join(map(str, bound))}, {got(value)}"
    if rule == "maxItems" and isinstance(value, list):
        return parts, f"has {len(value)} entries, at most {bound}"
    message = (error.message or "is not valid").removeprefix(str(error.name or "data")).strip()
    return parts, message or "is not valid"


def check_shape(document: object, root: str | None = None) -> None:
    """Raise :class:`InvalidInputError` (path + plain problem) unless ``document`` fits the schema.
    ``root`` renames the first path part (``THERMOSTAT_TARGETS[1].min`` for ``{"targets": [...]}``)."""
    safe = sanitized(document, root)
    try:
        _validator()(safe)
    except fastjsonschema.JsonSchemaValueException as error:
        raise invalid(*explain(safe, error), root=root) from None
    if safe != document:  # a nulled value the schema let through: cannot happen with this schema
        raise invalid([], "holds values that are not JSON", root=root)
