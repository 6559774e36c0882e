"""Fuzz of the execution input: valid inputs are accepted and normalised; ONE mutation of a valid input is
always an InvalidInputError whose path names the mutated field (or its parent): never another exception,
never accepted. Repeatable in CI (derandomize); bench/bench_validation_fuzz.py runs the same generators
thousands of times and prints the counts by outcome."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thermostat.config import RunSettings
from thermostat.exceptions import InvalidInputError
from thermostat.input_schema import MAX_CAUSE, format_path
from thermostat.validation import MAX_COUNT, TARGET_KEYS, TOP_LEVEL_KEYS, target_key, validate_execution_input

MAX_WARM = 20
SETTINGS = RunSettings(quantile=0.9, horizon_minutes=5, min_warm=2, max_warm=MAX_WARM)


class Huge(int):
    """An integer too large for ``str()`` (over 4,300 digits) that hypothesis can still print."""

    def __repr__(self) -> str:
        return f"{'-' if self < 0 else ''}10**{self.bit_length() * 3 // 10}ish"


HUGE, NEG_HUGE = Huge(10**5000), Huge(-(10**4400))
Draw = Callable[[st.SearchStrategy[Any]], Any]
Mutation = Callable[[Draw, dict[str, Any]], tuple[object, set[str]]]

# --- valid inputs ----------------------------------------------------------------------------------------

NAME = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True).filter(lambda name: name != "arn")
QUALIFIER = st.just("$LATEST") | st.from_regex(r"[A-Za-z0-9_-]{1,128}", fullmatch=True)
ACCOUNT = st.from_regex(r"[0-9]{12}", fullmatch=True)
ARN_BASE = st.builds("arn:{}:lambda:{}:{}:function:{}".format, st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
                     st.sampled_from(["us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1"]), ACCOUNT, NAME)
COUNT = st.integers(0, MAX_WARM)
PRICE = st.integers(0, 1000) | st.floats(0, 1000)
HOURS = st.sampled_from(["Mon-Fri 07:00-19:00 Europe/Berlin", "daily 22:00-06:00", "Sat+Sun 10:00-16:00 UTC",
                         "Mon-Fri 08:00-12:00 13:00-18:00; Sat 09:00-12:00 America/New_York"])
TRIGGERS = ("schedule", "manual", "deploy", "prewarm")
BUDGET = st.none() | st.integers(0, 10**6) | st.floats(0, 1e6)


@st.composite
def functions(draw: Draw) -> tuple[str, str | None]:
    """A valid function text and the qualifier written in it."""
    base, qualifier = draw(NAME | ARN_BASE), draw(st.none() | QUALIFIER)
    return (base if qualifier is None else f"{base}:{qualifier}"), qualifier


@st.composite
def targets(draw: Draw) -> object:
    text, embedded = draw(functions())
    if draw(st.booleans()):
        return text
    entry: dict[str, Any] = {"function": text}
    if draw(st.booleans()):
        entry["qualifier"] = embedded if embedded is not None else draw(st.none() | QUALIFIER)
    low = draw(COUNT)
    high = draw(st.integers(low, MAX_WARM))
    as_number = draw(st.sampled_from([int, float]))  # 2.0 is an integer for JSON Schema
    bounds = draw(st.sampled_from(["none", "min", "max", "both"]))
    if bounds in ("min", "both"):
        entry["min"] = as_number(low)
    if bounds in ("max", "both"):
        entry["max"] = as_number(high)
    if draw(st.booleans()):
        entry["price_per_cold_start"] = draw(PRICE)
    if draw(st.booleans()):
        entry["hours"] = draw(HOURS)
    return entry


VALID = st.fixed_dictionaries({}, optional={
    "targets": st.lists(targets(), max_size=4),
    "discover": st.booleans(),
    "quantile": st.floats(0, 1, exclude_min=True, exclude_max=True),
    "horizon_minutes": st.integers(1, 60),
    "dry_run": st.booleans(),
    "price_per_cold_start": PRICE,
    "monthly_budget_usd": BUDGET,
    "trigger": st.sampled_from(TRIGGERS),
})

# --- values a mutation puts somewhere ------------------------------------------------------------------

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.just(HUGE)
ANY_VALUE = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=6), inner, max_size=3), max_leaves=6)
PYTHON_ONLY = st.sampled_from([("a",), {1, 2}, b"bytes", {1: "non-string key"}, object()])
KEYS = (st.text(max_size=24) | st.sampled_from(["target", "dryrun", "Quantile", "discover ", "min", "max", "Function",
                                                "qualifer", "function\n", "", "$", "targets[0]"])
        | st.integers(65, 40_000).map(lambda n: "k" * n))
BAD_CHARS = st.sampled_from([" ", ".", "/", "\n", "\t", "\x00", "é", "\u0663", "\uff11", "\U0001d7d1", "$", "*"])
UNICODE_DIGITS = st.sampled_from(["\u0663", "\uff13", "\u0969", "\U0001d7d1", "\u06f3"])
SHORT = st.from_regex(r"[A-Za-z0-9_-]{0,10}", fullmatch=True)


def is_int(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


TYPE_OK: dict[str, Callable[[object], bool]] = {
    "targets": lambda v: isinstance(v, list), "discover": lambda v: isinstance(v, bool),
    "dry_run": lambda v: isinstance(v, bool), "quantile": is_number, "horizon_minutes": is_int,
    "price_per_cold_start": is_number, "monthly_budget_usd": lambda v: v is None or is_number(v),
    "function": lambda v: isinstance(v, str), "qualifier": lambda v: v is None or isinstance(v, str),
    "min": is_int, "max": is_int, "hours": lambda v: isinstance(v, str), "trigger": lambda v: v in TRIGGERS,
}
OUT_OF_RANGE: dict[str, st.SearchStrategy[Any]] = {
    "quantile": st.floats(max_value=0) | st.floats(min_value=1) | st.integers(max_value=0) | st.integers(min_value=1),
    "horizon_minutes": st.integers(max_value=0) | st.integers(min_value=61),
    "price_per_cold_start": st.floats(max_value=0, exclude_max=True) | st.floats(min_value=1000, exclude_min=True)
    | st.integers(max_value=-1) | st.integers(min_value=1001),
    "monthly_budget_usd": st.floats(max_value=0, exclude_max=True) | st.integers(min_value=10**6 + 1),
    "min": st.integers(max_value=-1) | st.integers(min_value=MAX_WARM + 1) | st.just(NEG_HUGE),
    "max": st.integers(max_value=-1) | st.integers(min_value=MAX_WARM + 1) | st.just(float(MAX_COUNT + 1)),
}


@st.composite
def bad_functions(draw: Draw) -> str:
    """A function text no Lambda function has: every pitfall the validator must close."""
    text, _ = draw(functions())
    account = list(draw(ACCOUNT))
    account[draw(st.integers(0, 11))] = draw(UNICODE_DIGITS)
    return draw(st.sampled_from([
        "", f"{draw(SHORT)}{draw(BAD_CHARS)}{draw(SHORT)}", f"{text}\n", f" {text}", f"{text} ",
        "f" * draw(st.integers(65, 40_000)), f"{draw(NAME)}:", f"{draw(NAME)}:a b", f"{draw(NAME)}:$LATEST2",
        f"{draw(NAME)}:live\n", f"{draw(NAME)}:v\u0663", f"{text}:x:y",
        f"arn:aws:lambda:us-east-1:{''.join(account)}:function:{draw(NAME)}",
        f"arn:aws:lambda:us-east-1:{draw(st.from_regex(r'[0-9]{11}|[0-9]{13}', fullmatch=True))}:function:f",
        f"arn:aws:s3:us-east-1:123456789012:function:{draw(NAME)}", "arn:aws:lambda:us-east-1:123456789012:function:",
        f"arn:aws:lambda:US-EAST-1:123456789012:function:{draw(NAME)}", f"arn:{draw(NAME)}",
        f"arn:aws:lambda:us-east-1:123456789012:{draw(NAME)}",
    ]))


BAD_QUALIFIERS = st.sampled_from(["", "a b", "live\n", "$LATEST\n", "$latest", "$LATEST2", "v\u0663", "q" * 129,
                                  "live:1", "é"]) | st.builds("{}{}{}".format, SHORT, BAD_CHARS, SHORT)

# --- mutations: each returns (the mutated input, the paths allowed to name it) -------------------------


def _target(draw: Draw, doc: dict[str, Any], as_object: bool = True) -> tuple[Any, int]:
    entries = doc.setdefault("targets", [])
    if not entries:
        entries.append(draw(targets()))
    index = draw(st.integers(0, len(entries) - 1))
    if as_object and isinstance(entries[index], str):
        entries[index] = {"function": entries[index]}
    return entries, index


def _wrong(field: str) -> st.SearchStrategy[Any]:
    wrong = ANY_VALUE.filter(lambda v: not TYPE_OK[field](v))
    if field in ("min", "max", "horizon_minutes"):
        wrong |= st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
    return wrong


def m_root(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    return draw(ANY_VALUE.filter(lambda v: not isinstance(v, dict)) | PYTHON_ONLY.filter(
        lambda v: not isinstance(v, dict))), {"$"}


def m_unknown_top_key(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    key = draw(KEYS.filter(lambda k: k not in TOP_LEVEL_KEYS))
    doc[key] = draw(ANY_VALUE)
    return doc, {format_path([key])}


def m_unknown_target_key(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    entries, i = _target(draw, doc)
    key = draw(KEYS.filter(lambda k: k not in TARGET_KEYS))
    entries[i][key] = draw(ANY_VALUE)
    return doc, {format_path(["targets", i, key])}


def m_wrong_type_top(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    field = draw(st.sampled_from(TOP_LEVEL_KEYS))
    doc[field] = draw(_wrong(field) | PYTHON_ONLY)
    return doc, {field}


def m_wrong_type_target_field(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    entries, i = _target(draw, doc)
    field = draw(st.sampled_from(TARGET_KEYS))
    entries[i][field] = draw(_wrong(field) if field != "price_per_cold_start" else _wrong("quantile"))
    return doc, {format_path(["targets", i, field])}


def m_wrong_type_target(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    entries, i = _target(draw, doc, as_object=False)
    entries[i] = draw(ANY_VALUE.filter(lambda v: not isinstance(v, str | dict)) | PYTHON_ONLY)
    return doc, {format_path(["targets", i])}


def m_out_of_range_top(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    field = draw(st.sampled_from(["quantile", "horizon_minutes", "price_per_cold_start", "monthly_budget_usd"]))
    doc[field] = draw(OUT_OF_RANGE[field] | st.sampled_from([float("nan"), float("inf"), HUGE, NEG_HUGE]))
    return doc, {field}


def m_out_of_range_target(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    entries, i = _target(draw, doc)
    field = draw(st.sampled_from(["min", "max", "price_per_cold_start"]))
    entries[i][field] = draw(OUT_OF_RANGE[field] | st.sampled_from([float("nan"), float("-inf"), HUGE]))
    return doc, {format_path(["targets", i, field])}


def m_min_above_max(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    entries, i = _target(draw, doc)
    entries[i]["min"] = draw(st.integers(1, MAX_WARM))
    entries[i]["max"] = draw(st.integers(0, entries[i]["min"] - 1))
    return doc, {format_path(["targets", i, field]) for field in ("min", "max")} | {format_path(["targets", i])}


def m_bad_function(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    entries, i = _target(draw, doc, as_object=False)
    bad = draw(bad_functions())
    if isinstance(entries[i], str):
        entries[i] = bad
        return doc, {format_path(["targets", i])}
    entries[i]["function"] = bad
    return doc, {format_path(["targets", i, "function"])}


def m_bad_qualifier(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    entries, i = _target(draw, doc)
    entries[i]["qualifier"] = draw(BAD_QUALIFIERS)
    return doc, {format_path(["targets", i, "qualifier"])}


def m_contradicting_qualifier(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    entries, i = _target(draw, doc)
    written = draw(QUALIFIER.filter(lambda q: q != "$LATEST"))
    entries[i]["function"] = f"{draw(NAME | ARN_BASE)}:{written}"
    entries[i]["qualifier"] = draw((st.none() | QUALIFIER).filter(lambda q: q != written))
    return doc, {format_path(["targets", i, "qualifier"])}


def m_bad_hours(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    entries, i = _target(draw, doc)
    entries[i]["hours"] = draw(st.sampled_from(["", "Mon-Fry 07:00-19:00", "07:00-25:00", "Mon-Fri", "09:00-09:00",
                                                "07:00-19:00 Mars/Olympus", "UTC 07:00-19:00", "x" * 201])
                               | st.text(max_size=12).filter(lambda t: not any(c.isdigit() for c in t)))
    return doc, {format_path(["targets", i, "hours"])}


def m_missing_function(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    entries, i = _target(draw, doc)
    del entries[i]["function"]
    return doc, {format_path(["targets", i, "function"]), format_path(["targets", i])}


def m_too_many_targets(draw: Draw, doc: dict[str, Any]) -> tuple[object, set[str]]:
    doc["targets"] = [draw(targets())] * draw(st.integers(1001, 1100))
    return doc, {"targets"}


MUTATIONS: dict[str, Mutation] = {
    "root not an object": m_root, "unknown key (top)": m_unknown_top_key,
    "unknown key (target)": m_unknown_target_key, "wrong type (top)": m_wrong_type_top,
    "wrong type (target field)": m_wrong_type_target_field, "wrong type (target)": m_wrong_type_target,
    "out of range (top)": m_out_of_range_top, "out of range (target)": m_out_of_range_target,
    "min > max": m_min_above_max, "bad function": m_bad_function, "bad qualifier": m_bad_qualifier,
    "contradicting qualifier": m_contradicting_qualifier, "missing function": m_missing_function,
    "bad hours": m_bad_hours,
    "too many targets": m_too_many_targets,
}


@st.composite
def mutated(draw: Draw) -> tuple[str, object, set[str]]:
    """(mutation kind, a valid input with that one mutation, the paths that may name it)."""
    kind = draw(st.sampled_from(sorted(MUTATIONS)))
    document, paths = MUTATIONS[kind](draw, draw(VALID))
    return kind, document, paths


# --- the properties ------------------------------------------------------------------------------------

FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


def strip_source(request: dict[str, Any]) -> dict[str, Any]:
    again = copy.deepcopy(request)
    for target in again["targets"]:
        del target["source"]
        target.pop("settings_source", None)  # which fields the input gave: every one, once given back
    return again


@settings(FUZZ, max_examples=120)
@given(VALID)
def test_valid_inputs_are_accepted_and_normalised(document: dict[str, Any]) -> None:
    # GIVEN a valid execution input WHEN validated
    original = copy.deepcopy(document)
    request = validate_execution_input(document, SETTINGS)
    # THEN every field is filled in, the input is untouched, targets are split, bounded and deduplicated
    assert document == original
    assert {"targets", "discover", "quantile", "horizon_minutes", "dry_run"} <= set(request)
    for target in request["targets"]:
        assert 0 <= target["min"] <= target["max"] <= MAX_WARM
        assert type(target["min"]) is int and type(target["max"]) is int
        assert target["function"].count(":") == (6 if target["function"].startswith("arn:") else 0)
        assert target["qualifier"] != "$LATEST" and target["source"] == "input"
        assert set(target["settings_source"].values()) <= {"input", "stack"}
    keys = [target_key(t) for t in request["targets"]]
    assert len(keys) == len(set(keys)) <= len(document.get("targets", []))
    # AND the normalised request, given back as input, normalises to itself (every setting now given)
    again = validate_execution_input(strip_source(dict(request)), SETTINGS)
    assert strip_source(again) == strip_source(request)
    assert all(t["settings_source"]["min"] == t["settings_source"]["max"] == "input" for t in again["targets"])


@settings(FUZZ, max_examples=350)
@given(mutated())
def test_one_mutation_is_rejected_naming_its_field(case: tuple[str, object, set[str]]) -> None:
    # GIVEN a valid input with one mutation WHEN validated
    kind, document, paths = case
    with pytest.raises(InvalidInputError) as caught:  # any other exception fails the test, so does no error
        validate_execution_input(document, SETTINGS)
    # THEN the error names the mutated field (or its parent), in a bounded cause
    assert caught.value.path in paths, (kind, caught.value.path, paths)
    assert len(str(caught.value)) <= MAX_CAUSE
