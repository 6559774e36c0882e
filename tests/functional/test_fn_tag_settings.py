"""Per-function settings from tags, warm hours and deploy runs through Collect Metrics -> Forecast -> Plan,
under moto (tags read with the same tag:GetResources pages as discovery)."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from workflow_world import TAG, World, run_state

from thermostat import claims
from thermostat.collect import collect
from thermostat.config import DiscoverySettings, ForecastSettings, PlanSettings
from thermostat.forecast_step import forecast_state
from thermostat.plan_step import plan_state
from thermostat.records import LastPlan, new_record, record_from_json, record_to_json

NOW = int(time.time() * 1000)
SETTINGS = DiscoverySettings()


@pytest.fixture
def world(aws: None) -> World:
    return World()


def function(world: World, name: str, tags: dict[str, str]) -> None:
    world.lambda_.client.create_function(FunctionName=name, Runtime="python3.13", Role=world.role,
                                         Handler="app.handler", Code={"ZipFile": world.code}, Tags=tags)


def hour_window(offset_hours: int) -> str:
    """A daily one-hour UTC window starting ``offset_hours`` after the current hour (0: now is inside)."""
    start = (datetime.fromtimestamp(NOW / 1000, UTC).hour + offset_hours) % 24
    return f"daily {start:02d}:00-{(start + 1) % 24 or 24:02d}:00 UTC"


def chain(world: World, state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Collect -> Forecast -> Plan; (targets by key, forecasts by key, plan records by key)."""
    store = world.store()
    collected = collect(state, world.clients, store, SETTINGS, NOW)
    forecasted = forecast_state(collected, store, ForecastSettings(use_statsmodels=False), NOW)
    planned = plan_state(forecasted, store, PlanSettings(), SETTINGS, NOW)
    targets = {t["key"]: t for t in claims.resolve(store, collected["targets"], "targets")}
    forecasts = {f["key"]: f for f in claims.resolve(store, forecasted["forecast"], "forecast")["targets"]}
    plan = {r["key"]: r for r in claims.resolve(store, planned["plan"], "plan")}
    return targets, forecasts, plan | {"_warnings": collected["warnings"]}


def test_settings_come_from_the_input_then_the_tags_then_the_stack(world: World) -> None:
    # GIVEN a function whose tags set min, max, price and two qualifiers; one with malformed tags; one plain
    function(world, "orders", {TAG: "true", "thermostat:min": "2", "thermostat:max": "6",
                               "thermostat:price": "0.01", "thermostat:qualifier": "live canary"})
    function(world, "broken", {TAG: "true", "thermostat:min": "abc", "thermostat:hours": "Mon-Fry 07:00-19:00"})
    function(world, "plain", {TAG: "true"})
    world.account_in_use(0, NOW)
    # AND an input that gives orders:live a min of 4
    state = run_state(NOW, targets=[{"function": "orders", "qualifier": "live", "min": 4, "max": 100,
                                     "source": "input", "settings_source": {
                                         "min": "input", "max": "stack", "price_per_cold_start": "stack",
                                         "hours": "stack", "qualifier": "input"}}])
    # WHEN a run collects, forecasts and plans
    targets, _, plan = chain(world, state)
    # THEN orders:live has the input's min and the tags' max and price; orders:canary only the tags'
    assert set(targets) == {"orders:live", "broken", "plain"}
    live = targets["orders:live"]
    assert (live["min"], live["max"], live["price_per_cold_start"]) == (4, 6, 0.01)
    assert live["settings_source"] == {"min": "input", "max": "tag", "price_per_cold_start": "tag",
                                       "hours": "stack", "qualifier": "input"}
    # (the input names orders, so its tagged entries give way to it: only orders:live is warmed)
    # AND the malformed tags are ignored with the stack's defaults, and reported on the target and the run
    broken = targets["broken"]
    assert (broken["min"], "hours" in broken) == (SETTINGS.min_warm, False)
    assert {p["tag"] for p in broken["tag_problems"]} == {"thermostat:min", "thermostat:hours"}
    assert any("1 target(s) have tag values that were ignored" in w and "broken" in w for w in plan["_warnings"])
    # AND the plan records carry where each setting came from, and the problems, for the report
    assert plan["orders:live"]["settings_source"]["max"] == "tag" and plan["broken"]["tag_problems"]
    assert targets["plain"]["settings_source"] == dict.fromkeys(
        ("min", "max", "price_per_cold_start", "hours", "qualifier"), "stack")


def test_a_tagged_function_with_qualifiers_is_warmed_as_each_qualifier(world: World) -> None:
    function(world, "orders", {TAG: "true", "thermostat:qualifier": "live canary", "thermostat:min": "2"})
    world.account_in_use(0, NOW)
    targets, _, _ = chain(world, run_state(NOW))
    assert {k: (t["qualifier"], t["min"], t["settings_source"]["qualifier"]) for k, t in targets.items()} == {
        "orders:live": ("live", 2, "tag"), "orders:canary": ("canary", 2, "tag")}


def test_outside_its_warm_hours_a_target_gets_no_read_no_forecast_and_no_ping(world: World) -> None:
    # GIVEN one function whose warm hours start in two hours, one whose hours are now, one without hours
    function(world, "asleep", {TAG: "true", "thermostat:hours": hour_window(2), "thermostat:min": "2"})
    function(world, "awake", {TAG: "true", "thermostat:hours": hour_window(0), "thermostat:min": "2"})
    function(world, "always", {TAG: "true", "thermostat:min": "2"})
    world.account_in_use(0, NOW)
    # WHEN a run collects, forecasts and plans
    targets, forecasts, plan = chain(world, run_state(NOW))
    # THEN the sleeping one is outside, was never read from CloudWatch, not forecast, and planned 0 with why
    assert (targets["asleep"]["in_hours"], targets["awake"]["in_hours"], "in_hours" in targets["always"]) == (
        False, True, False)
    records = {k: record_from_json(v) for k, v in world.store().load().records.items()}
    assert records["asleep"].cw_read_at_ms == 0 and records["awake"].cw_read_at_ms > 0
    assert "asleep" not in forecasts and {"awake", "always"} <= set(forecasts)
    asleep = plan["asleep"]
    assert (asleep["requested"], asleep["status"], asleep["term"]) == (0, "skipped", "hours")
    assert asleep["reason"] == f"0: outside its warm hours ({hour_window(2)})"
    assert asleep["hours"] == hour_window(2) and asleep["in_hours"] is False
    # AND inside its hours the normal policy applies (its floor of 2 is pinged)
    assert plan["awake"]["requested"] == 2 and plan["always"]["requested"] == 2


def test_a_deploy_warms_only_opted_in_functions_sized_by_their_last_plan(world: World) -> None:
    # GIVEN orders (tagged, last plan 5), aliased (tagged, warmed as :live with a last plan of 3), a function
    # without the tag, and one opted out
    function(world, "orders", {TAG: "true"})
    function(world, "aliased", {TAG: "true", "thermostat:qualifier": "live"})
    function(world, "fresh", {TAG: "true", "thermostat:min": "2"})
    function(world, "stranger", {})
    function(world, "paused", {TAG: "false"})
    world.account_in_use(0, NOW)
    store = world.store()
    snapshot = store.load()
    records = {}
    earlier = [("orders", "orders", None, 5), ("aliased:live", "aliased", "live", 3)]
    for key, function_name, qualifier, desired in earlier:
        record = new_record(key, function_name, qualifier, NOW - 600_000)
        record.last_plan = LastPlan(NOW - 300_000, desired, desired, "recent", "test")
        records[key] = record_to_json(record)
    store.save(snapshot, records, run="earlier", now_ms=NOW - 300_000)
    # WHEN the deploy rule's inputs arrive in one run: orders' new code, aliased's new version 7, aliased's
    # new $LATEST (not what Thermostat warms), the stranger's and the paused one's code, a fresh function's
    deploy = [{"function": name, "qualifier": qualifier, "min": 1, "max": 100, "source": "input",
               "settings_source": {"min": "stack", "max": "stack", "price_per_cold_start": "stack", "hours": "stack",
                                   "qualifier": "input"}}
              for name, qualifier in [("orders", None), ("aliased", "7"), ("aliased", None), ("stranger", None),
                                      ("paused", None), ("fresh", None)]]
    state = run_state(NOW, targets=deploy, discover=False)
    state["request"]["trigger"] = "deploy"
    targets, forecasts, plan = chain(world, state)
    # THEN only the opted-in functions' warmed qualifiers (and the new version of an aliased one) remain
    assert set(targets) == {"orders", "aliased:7", "fresh"}
    assert any("stranger: not opted in" in w for w in plan["_warnings"])
    assert any("aliased: Thermostat warms aliased:live, not this qualifier" in w for w in plan["_warnings"])
    # AND each is sized by its last plan (a new version by its alias's), a new one by its floor (its tag's min)
    assert {k: (f["desired"], f["term"]) for k, f in forecasts.items()} == {
        "orders": (5, "deploy"), "aliased:7": (3, "deploy"), "fresh": (2, "deploy")}
    assert "the last plan of aliased:live (3, 5 min ago)" in forecasts["aliased:7"]["reason"]
    assert plan["orders"]["requested"] == 5 and plan["fresh"]["requested"] == 2
