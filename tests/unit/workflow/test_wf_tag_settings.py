"""Per-function settings in tags (thermostat.tag_settings): valid, malformed and conflicting values, and the
precedence input > tags > stack, per setting."""

from __future__ import annotations

from typing import Any

import pytest

from thermostat import models
from thermostat.config import RunSettings
from thermostat.tag_settings import (
    StackDefaults,
    TagSettings,
    hours_text,
    problem_lines,
    read_tags,
    resolve,
    sources_text,
)
from thermostat.validation import parse_request

STACK = StackDefaults(min=1, max=100)
KEY = "thermostat:enabled"


def tags(**values: str) -> dict[str, str]:
    return {KEY: "true", **{f"thermostat:{k}": v for k, v in values.items()}}


def read(**values: str) -> TagSettings:
    return read_tags(tags(**values), max_warm=100, ignore=(KEY,))


def tagged(function: str = "orders") -> models.TargetSpec:
    """A target as discovery makes it (every value the stack's)."""
    return {"function": function, "qualifier": None, "min": 1, "max": 100, "source": "tag"}


def requested(entry: Any, settings: RunSettings | None = None) -> models.TargetSpec:
    [spec] = parse_request({"targets": [entry]}, settings or RunSettings())["targets"]
    return spec


# --- reading tags ---------------------------------------------------------------------------------------


def test_valid_tags_are_read() -> None:
    # GIVEN every setting tag with a valid value WHEN read THEN each is set and nothing is reported
    got = read(min="2", max="8", qualifier="live canary", price="0.002", hours="Mon-Fri 07:00-19:00 Europe/Berlin")
    assert (got.min, got.max, got.qualifiers, got.price) == (2, 8, ("live", "canary"), 0.002)
    assert got.hours == "Mon-Fri 07:00-19:00 Europe/Berlin" and got.problems == ()
    # AND commas separate qualifiers too, duplicates collapse, $LATEST means the unqualified function
    assert read(qualifier="live,$LATEST live").qualifiers == ("live", None)


@pytest.mark.parametrize(("values", "tag", "problem"), [
    ({"min": "abc"}, "thermostat:min", "not a whole number: ignored, the stack's MinWarm applies"),
    ({"min": "-1"}, "thermostat:min", "not a whole number"),
    ({"min": "2.5"}, "thermostat:min", "not a whole number"),
    ({"max": "500"}, "thermostat:max", "above the stack's MaxWarm (100): ignored, the stack's MaxWarm applies"),
    ({"min": ""}, "thermostat:min", "empty value: ignored"),
    ({"price": "$0.01"}, "thermostat:price", "not a number of USD per cold start"),
    ({"price": "nan"}, "thermostat:price", "not a number of USD per cold start"),
    ({"price": "1e999"}, "thermostat:price", "not a number of USD per cold start"),
    ({"price": "5000"}, "thermostat:price", "must be between 0 and 1000 USD"),
    ({"price": "-0.5"}, "thermostat:price", "must be between 0 and 1000 USD"),
    ({"qualifier": "live.v2"}, "thermostat:qualifier", "'live.v2' is not an alias or version"),
    ({"qualifier": " ".join(f"q{i}" for i in range(11))}, "thermostat:qualifier", "11 qualifiers, at most 10"),
    ({"hours": "Mon-Fry 07:00-19:00"}, "thermostat:hours", "'Mon-Fry' is not a day"),
    ({"hours": "Mon-Fri 07:00-19:00 Mars/Olympus"}, "thermostat:hours", "'Mars/Olympus' is not a known time zone"),
    ({"mni": "2"}, "thermostat:mni", "unknown Thermostat tag (known: thermostat:min"),
])
def test_malformed_values_are_ignored_and_reported(values: dict[str, str], tag: str, problem: str) -> None:
    # GIVEN one malformed tag value WHEN read THEN that setting is not set and the problem names tag and value
    got = read(**values)
    assert (got.min, got.max, got.qualifiers, got.price, got.hours) == (None, None, None, None, None)
    [reported] = got.problems
    assert reported["tag"] == tag and reported["value"] == next(iter(values.values()))
    assert problem in reported["problem"]


def test_conflicting_min_and_max_tags_are_both_ignored() -> None:
    # GIVEN thermostat:min above thermostat:max WHEN read THEN neither is used and both are reported
    got = read(min="5", max="2", price="0.001")
    assert (got.min, got.max, got.price) == (None, None, 0.001)
    assert [p["tag"] for p in got.problems] == ["thermostat:min", "thermostat:max"]
    assert all("both ignored" in p["problem"] for p in got.problems)


def test_other_tags_and_the_opt_in_key_are_not_settings() -> None:
    got = read_tags({KEY: "true", "team": "payments", "thermostat-ish": "x"}, max_warm=100, ignore=(KEY,))
    assert got == TagSettings()


def test_a_long_bad_value_is_cut_in_the_report() -> None:
    [reported] = read(price="9" * 300).problems
    assert len(reported["value"]) <= 63 and reported["value"].endswith("...")


# --- precedence -----------------------------------------------------------------------------------------


def test_tags_beat_the_stack_per_setting() -> None:
    # GIVEN a discovered function tagged min and hours only WHEN resolved
    [spec] = resolve(tagged(), read(min="3", hours="daily 07:00-19:00"), STACK, None)
    # THEN min and hours are the tags', the rest the stack's, and the sources say so
    assert (spec["min"], spec["max"], spec.get("price_per_cold_start"), spec["hours"]) == (3, 100, None,
                                                                                         "daily 07:00-19:00 UTC")
    assert spec["settings_source"] == {"min": "tag", "max": "stack", "price_per_cold_start": "stack",
                                       "hours": "tag", "qualifier": "stack"}


def test_the_input_beats_the_tags_per_setting_not_per_target() -> None:
    # GIVEN an input target giving min and hours, and tags giving min, max, price, hours and a qualifier
    spec = requested({"function": "orders", "min": 4, "hours": "Sat 10:00-12:00"})
    [final] = resolve(spec, read(min="2", max="9", price="0.01", hours="daily 07:00-19:00", qualifier="live"),
                      STACK, None)
    # THEN min and hours are the input's; max, price and the qualifier the tags'
    assert (final["min"], final["max"], final["price_per_cold_start"], final["hours"], final["qualifier"]) == (
        4, 9, 0.01, "Sat 10:00-12:00 UTC", "live")
    assert final["settings_source"] == {"min": "input", "max": "tag", "price_per_cold_start": "tag",
                                        "hours": "input", "qualifier": "tag"}


def test_the_inputs_prices_beat_the_tag_in_order_target_then_top_level() -> None:
    tag = read(price="0.01")
    # GIVEN the input's top-level price only THEN it beats the tag
    [top] = resolve(requested({"function": "orders"}), tag, STACK, 0.5)
    assert (top["price_per_cold_start"], top["settings_source"]["price_per_cold_start"]) == (0.5, "input")
    # AND a target's own price beats the top-level one
    [own] = resolve(requested({"function": "orders", "price_per_cold_start": 0.2}), tag, STACK, 0.5)
    assert own["price_per_cold_start"] == 0.2
    # AND without any, the tag's applies, and without a tag nothing (the stack's PricePerColdStart, later)
    assert resolve(requested({"function": "orders"}), tag, STACK, None)[0]["price_per_cold_start"] == 0.01
    [plain] = resolve(requested({"function": "orders"}), None, STACK, None)
    assert "price_per_cold_start" not in plain and plain["settings_source"]["price_per_cold_start"] == "stack"


def test_a_tag_qualifier_list_makes_one_target_per_qualifier_unless_the_input_names_one() -> None:
    tag = read(qualifier="live canary", min="2")
    # GIVEN a discovered function tagged with two qualifiers THEN two targets with the same settings
    specs = resolve(tagged(), tag, STACK, None)
    assert [(s["qualifier"], s["min"]) for s in specs] == [("live", 2), ("canary", 2)]
    # AND an input naming a qualifier (or the unqualified function, with null) keeps to it
    assert [s["qualifier"] for s in resolve(requested("orders:blue"), tag, STACK, None)] == ["blue"]
    assert [s["qualifier"] for s in resolve(requested({"function": "orders", "qualifier": None}), tag, STACK,
                                            None)] == [None]
    # AND an input without one gets the tag's
    assert [s["qualifier"] for s in resolve(requested("orders"), tag, STACK, None)] == ["live", "canary"]


def test_crossing_min_and_max_from_different_sources_the_weaker_gives_way() -> None:
    # GIVEN a tag min of 5 and an input max of 2 THEN min follows the input's max, said in tag_problems
    [low] = resolve(requested({"function": "orders", "max": 2}), read(min="5"), STACK, None)
    assert (low["min"], low["max"]) == (2, 2)
    assert low["tag_problems"][-1]["problem"] == "above max 2 from the execution input: min 2 applies"
    # AND a tag max of 1 under an input min of 3: max follows the input's min
    [high] = resolve(requested({"function": "orders", "min": 3}), read(max="1"), STACK, None)
    assert (high["min"], high["max"]) == (3, 3) and "below min 3" in high["tag_problems"][-1]["problem"]
    # AND a tag max of 0 under the stack's MinWarm 1: the stack's min follows (no problem: the tag is stronger)
    [off] = resolve(tagged(), read(max="0"), STACK, None)
    assert (off["min"], off["max"], off["tag_problems"]) == (0, 0, [])


def test_configured_values_are_the_stacks_and_yield_to_tags() -> None:
    # GIVEN a configured target with its own min (ExplicitTargets JSON) THEN it is the stack's level
    configured: models.TargetSpec = {"function": "orders", "qualifier": "prod", "min": 3, "max": 100,
                                     "source": "config"}
    [kept] = resolve(configured, None, STACK, None)
    assert (kept["min"], kept["qualifier"], kept["settings_source"]["min"]) == (3, "prod", "stack")
    [tagged_over] = resolve(configured, read(min="5", qualifier="live"), STACK, None)
    assert (tagged_over["min"], tagged_over["qualifier"]) == (5, "live")


def test_problems_travel_with_every_target_of_the_function() -> None:
    specs = resolve(tagged(), read(qualifier="a b", price="x"), STACK, None)
    assert [len(s["tag_problems"]) for s in specs] == [1, 1]


def test_an_unvalidated_input_target_counts_every_field_as_given() -> None:
    # GIVEN an input target without settings_source (an older document) THEN its values stand, as before
    legacy: models.TargetSpec = {"function": "orders", "qualifier": None, "min": 2, "max": 4, "source": "input"}
    [spec] = resolve(legacy, read(min="7", max="9"), STACK, None)
    assert (spec["min"], spec["max"]) == (2, 4)


def test_texts_for_the_cli_tables() -> None:
    record = {"key": "orders", "in_hours": False, "settings_source": {"min": "tag", "max": "stack",
                                                                       "hours": "input"},
              "tag_problems": [{"tag": "thermostat:price", "value": "x", "problem": "not a number"}]}
    assert (hours_text(record), sources_text(record)) == ("out", "min:tag hours:input")
    assert problem_lines(record) == ["orders: thermostat:price='x' not a number"]
    assert (hours_text({}), sources_text({})) == ("-", "-")
