"""Per-function settings in the function's own tags, and which source each setting of a target comes from.

Read at discovery from the tags ``tag:GetResources`` already returns (functions carrying the stack's
``TargetTagKey``, whatever its value). Pure: no AWS, no clock.

- ``thermostat:min``, ``thermostat:max``: whole numbers 0..MaxWarm (the floor and the cap);
- ``thermostat:qualifier``: an alias or version, several separated by spaces (Lambda tag values cannot
  hold commas; commas are accepted where they can be written): ``name:q`` is warmed for each, instead of
  the unqualified function;
- ``thermostat:price``: USD per real cold start, 0..1000 (``0.002``): the forecast's price;
- ``thermostat:hours``: warm hours (:mod:`thermostat.hours`, ``Mon-Fri 07:00-19:00 Europe/Berlin``): no
  ping and no CloudWatch read outside them.

Precedence, per setting (not per target): the execution input > the function's tags > the stack's parameters.
For the price, "the execution input" is the target's ``price_per_cold_start``, then the input's top-level
``price_per_cold_start``. When min and max come from different sources and cross, the one from the weaker
source gives way (a tag's ``min`` of 5 under an input's ``max`` of 2 becomes 2, said in ``tag_problems``).

A malformed tag value never fails a run: it is ignored, reported as ``{tag, value, problem}``, and the next
source applies. Both ``thermostat:min`` and ``thermostat:max`` are ignored when they contradict each other.
An unknown ``thermostat:`` key is reported too (a typo would otherwise go unnoticed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from thermostat import models
from thermostat.hours import HoursError
from thermostat.hours import parse as parse_hours

PREFIX = "thermostat:"
MIN_TAG, MAX_TAG = "thermostat:min", "thermostat:max"
QUALIFIER_TAG, PRICE_TAG, HOURS_TAG = "thermostat:qualifier", "thermostat:price", "thermostat:hours"
SETTING_TAGS = (MIN_TAG, MAX_TAG, QUALIFIER_TAG, PRICE_TAG, HOURS_TAG)
MAX_PRICE = 1000.0  # USD per cold start: the execution input's bound
MAX_QUALIFIERS = 10
MAX_SHOWN = 60  # characters of a tag value repeated in a problem
SETTINGS = ("min", "max", "price_per_cold_start", "hours", "qualifier")  # the keys of settings_source
_RANK = {"stack": 0, "tag": 1, "input": 2}
_QUALIFIER = re.compile(r"\$LATEST|[A-Za-z0-9_-]{1,128}")
_SOURCE_WORDS = {"input": "the execution input", "tag": "its tag", "stack": "the stack's parameter"}


@dataclass(frozen=True)
class TagSettings:
    """What a function's tags say (None: not set, or set but ignored — see ``problems``)."""

    min: int | None = None
    max: int | None = None
    qualifiers: tuple[str | None, ...] | None = None  # None in the tuple: the unqualified function
    price: float | None = None
    hours: str | None = None  # canonical warm-hours text
    problems: tuple[models.TagProblem, ...] = ()


def _shown(value: str) -> str:
    return value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + "..."


def problem(tag: str, value: str, why: str) -> models.TagProblem:
    return {"tag": tag, "value": _shown(value), "problem": why}


def _count(tag: str, raw: str, max_warm: int, stack_word: str) -> tuple[int | None, models.TagProblem | None]:
    text = raw.strip()
    if not re.fullmatch(r"\d{1,7}", text):
        return None, problem(tag, raw, f"not a whole number: ignored, {stack_word} applies")
    value = int(text)
    if value > max_warm:
        return None, problem(tag, raw, f"above the stack's MaxWarm ({max_warm}): ignored, {stack_word} applies")
    return value, None


def _qualifiers(raw: str) -> tuple[tuple[str | None, ...] | None, models.TagProblem | None]:
    items = [item for item in re.split(r"[\s,]+", raw.strip()) if item]
    if not items:
        return None, problem(QUALIFIER_TAG, raw, "empty: ignored, the unqualified function is warmed")
    if len(items) > MAX_QUALIFIERS:
        return None, problem(QUALIFIER_TAG, raw, f"{len(items)} qualifiers, at most {MAX_QUALIFIERS}: ignored")
    for item in items:
        if not _QUALIFIER.fullmatch(item):
            return None, problem(QUALIFIER_TAG, raw, f"{_shown(item)!r} is not an alias or version (1-128 of "
                                                     "A-Z a-z 0-9 - _): ignored, the unqualified function is warmed")
    out: list[str | None] = []
    for item in items:
        qualifier = None if item == "$LATEST" else item
        if qualifier not in out:
            out.append(qualifier)
    return tuple(out), None


def _price(raw: str) -> tuple[float | None, models.TagProblem | None]:
    text = raw.strip()
    try:
        value = float(text) if re.fullmatch(r"[0-9.eE+-]{1,32}", text) else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        return None, problem(PRICE_TAG, raw, "not a number of USD per cold start (e.g. 0.002, no currency sign): "
                                             "ignored, the stack's PricePerColdStart applies")
    if not 0 <= value <= MAX_PRICE:
        return None, problem(PRICE_TAG, raw, f"must be between 0 and {MAX_PRICE:g} USD: ignored, the stack's "
                                             "PricePerColdStart applies")
    return value, None


def read_tags(tags: Mapping[str, str], *, max_warm: int, ignore: Iterable[str] = ()) -> TagSettings:
    """A function's tags -> its settings; every unusable value becomes a problem (never an exception).
    ``ignore``: keys that are not settings although they start with ``thermostat:`` (the TargetTagKey)."""
    skip = set(ignore)
    problems: list[models.TagProblem] = []
    found: dict[str, Any] = {}
    for key in sorted(tags):
        if not key.startswith(PREFIX) or key in skip:
            continue
        raw = str(tags[key])
        if key not in SETTING_TAGS:
            problems.append(problem(key, raw, f"unknown Thermostat tag (known: {', '.join(SETTING_TAGS)}): ignored"))
            continue
        if not raw.strip():
            problems.append(problem(key, raw, "empty value: ignored"))
            continue
        value: Any
        issue: models.TagProblem | None
        if key == MIN_TAG:
            value, issue = _count(key, raw, max_warm, "the stack's MinWarm")
        elif key == MAX_TAG:
            value, issue = _count(key, raw, max_warm, "the stack's MaxWarm")
        elif key == QUALIFIER_TAG:
            value, issue = _qualifiers(raw)
        elif key == PRICE_TAG:
            value, issue = _price(raw)
        else:
            try:
                value, issue = parse_hours(raw).text, None
            except HoursError as exc:
                value, issue = None, problem(key, raw, f"{exc}: ignored, the target is warmed at all hours")
        if issue is not None:
            problems.append(issue)
        else:
            found[key] = value
    low, high = found.get(MIN_TAG), found.get(MAX_TAG)
    if low is not None and high is not None and low > high:
        why = f"{MIN_TAG}={low} is above {MAX_TAG}={high}: both ignored, the stack's MinWarm and MaxWarm apply"
        problems += [problem(MIN_TAG, str(low), why), problem(MAX_TAG, str(high), why)]
        low = high = None
    return TagSettings(low, high, found.get(QUALIFIER_TAG), found.get(PRICE_TAG), found.get(HOURS_TAG),
                       tuple(problems))


@dataclass(frozen=True)
class StackDefaults:
    min: int
    max: int


def resolve(spec: models.TargetSpec, tags: TagSettings | None, stack: StackDefaults,
            request_price: float | None) -> list[models.TargetSpec]:
    """One target (as the input, the configured list or discovery made it) -> its final spec(s): each setting
    from the strongest source that gives it, one spec per tag qualifier unless a stronger source names one."""
    given: dict[str, str] = dict(spec.get("settings_source") or {})
    if "settings_source" not in spec and spec["source"] == "input":  # built without validation: all given
        given = dict.fromkeys(SETTINGS, "input")
    tags = tags or TagSettings()
    problems: list[models.TagProblem] = list(tags.problems)
    configured = spec["source"] != "input"  # the configured list's (or discovery's) values are the stack's

    def pick(name: str, own: Any, tagged: Any, default: Any) -> tuple[Any, models.SettingSource]:
        if given.get(name) == "input":
            return own, "input"
        if tagged is not None:
            return tagged, "tag"
        return (own if configured else default), "stack"

    low, low_from = pick("min", spec["min"], tags.min, stack.min)
    high, high_from = pick("max", spec["max"], tags.max, stack.max)
    if low > high:  # sources differ (a source never contradicts itself): the weaker one gives way
        if _RANK[low_from] < _RANK[high_from]:
            if low_from == "tag":
                problems.append(problem(MIN_TAG, str(low), f"above max {high} from {_SOURCE_WORDS[high_from]}: "
                                                           f"min {high} applies"))
            low = high
        else:
            if high_from == "tag":
                problems.append(problem(MAX_TAG, str(high), f"below min {low} from {_SOURCE_WORDS[low_from]}: "
                                                            f"max {low} applies"))
            high = low
    own_price = spec.get("price_per_cold_start")
    price_from: models.SettingSource
    if given.get("price_per_cold_start") == "input" and own_price is not None:
        price, price_from = own_price, "input"
    elif request_price is not None:
        price, price_from = request_price, "input"
    else:
        price, price_from = pick("price_per_cold_start", own_price, tags.price, None)
    hours, hours_from = pick("hours", spec.get("hours"), tags.hours, None)
    qualifiers, qualifier_from = pick("qualifier", (spec["qualifier"],), tags.qualifiers, (spec["qualifier"],))
    sources: dict[str, models.SettingSource] = {
        "min": low_from, "max": high_from, "price_per_cold_start": price_from, "hours": hours_from,
        "qualifier": qualifier_from}
    out: list[models.TargetSpec] = []
    for qualifier in qualifiers:
        final: models.TargetSpec = {"function": spec["function"], "qualifier": qualifier, "min": low, "max": high,
                                    "source": spec["source"], "settings_source": dict(sources),
                                    "tag_problems": list(problems)}
        if price is not None:
            final["price_per_cold_start"] = float(price)
        if hours is not None:
            final["hours"] = hours
        out.append(final)
    return out


def sources_text(target: Mapping[str, Any]) -> str:
    """``min:tag hours:input`` — the settings of a plan record or report not taken from the stack ("-": all)."""
    sources = target.get("settings_source") or {}
    short = {"price_per_cold_start": "price"}
    parts = [f"{short.get(name, name)}:{sources[name]}" for name in SETTINGS if sources.get(name, "stack") != "stack"]
    return " ".join(parts) or "-"


def hours_text(target: Mapping[str, Any]) -> str:
    """``in``/``out`` of its warm hours now, ``-`` without any."""
    if "in_hours" not in target:
        return "-"
    return "in" if target["in_hours"] else "out"


def problem_lines(target: Mapping[str, Any]) -> list[str]:
    """One line per ignored tag value of a plan record or report."""
    return [f"{target.get('key', '?')}: {p['tag']}={p['value']!r} {p['problem']}"
            for p in target.get("tag_problems") or []]
