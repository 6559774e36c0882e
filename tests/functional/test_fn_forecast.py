"""Forecast handler under moto: CollectedState (events/forecast.json) -> + forecast envelope, records read-only."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from workflow_world import BUCKET, World

from thermostat import claims
from thermostat.collect import encode_records
from thermostat.exceptions import InvalidInputError
from thermostat.records import HISTORY_SLOTS, SLOT_MS, LastPlan, new_record


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("THERMOSTAT_STATE_BUCKET", BUCKET)
    return World()


def seed(world: World, event: dict[str, Any], peak: float) -> None:
    """Records for the event's targets: every slot of the last 3 days had a real peak of ``peak``."""
    now = int(time.time() * 1000)  # the handler forecasts for now
    records = {}
    for target in claims.resolve(world.store(), event["targets"], "targets"):
        record = new_record(target["key"], target["function"], target["qualifier"], now)
        record.ensure_from(now - (HISTORY_SLOTS - 1) * SLOT_MS)
        record.peaks = [peak] * len(record.peaks)
        record.cw_read_at_ms = record.cw_through_ms = now
        record.last_plan = LastPlan(now - SLOT_MS, 2, 2, "recent", "")
        records[target["key"]] = record
    store = world.store()
    store.save(store.load(), encode_records(records), run="seed", now_ms=now)


def test_forecast_event_gives_one_forecast_per_readable_target(world: World, load_handler: Callable[[str], ModuleType],
                                                               load_event: Callable[[str], Any], context: Any) -> None:
    # GIVEN the sample Collect Metrics output (three demo targets, one missing function) and busy history
    event = load_event("forecast.json")
    seed(world, event, 6.0)
    # WHEN the Forecast handler runs
    state = load_handler("forecast").handler(event, context)
    # THEN Collect's output passes through untouched, plus the forecast envelope
    assert {k: v for k, v in state.items() if k != "forecast"} == event
    doc = claims.resolve(world.store(), state["forecast"], "forecast")
    readable = [t["key"] for t in event["targets"]["inline"] if "error" not in t]
    assert [t["key"] for t in doc["targets"]] == readable
    # AND a steady peak of 6 is forecast at least 6 for each (within the targets' max), with reasons in words
    for forecast, target in zip(doc["targets"], [t for t in event["targets"]["inline"] if "error" not in t],
                                strict=True):
        assert min(6, target["max"]) <= forecast["desired"] <= target["max"]
        assert forecast["reason"] and forecast["ping_usd_month"] > 0 and forecast["provisioned_usd_month"] > 0
    # AND the refreshed model memos travel to Summarize
    assert set(doc["memos"]) == set(readable)


def test_the_targets_price_wins_over_the_requests(world: World, load_handler: Callable[[str], ModuleType],
                                                  load_event: Callable[[str], Any], context: Any) -> None:
    # GIVEN a quiet history (one real request per slot) and a price of 0 except for one target
    event = load_event("forecast.json")
    seed(world, event, 1.0)
    event["request"]["price_per_cold_start"] = 0.0
    event["targets"]["inline"][0]["price_per_cold_start"] = 1.0
    event["targets"]["inline"][0]["max"] = 8
    state = load_handler("forecast").handler(event, context)
    doc = claims.resolve(world.store(), state["forecast"], "forecast")
    by_key = {t["key"]: t for t in doc["targets"]}
    # THEN the target worth $1 per cold start keeps more warm than the ones worth nothing (their floor)
    assert by_key[event["targets"]["inline"][0]["key"]]["desired"] > 1
    assert by_key[event["targets"]["inline"][1]["key"]]["desired"] == 1


def test_forecast_rejects_something_that_is_not_collects_output(world: World, load_handler: Any,
                                                                context: Any) -> None:
    with pytest.raises(InvalidInputError, match="targets"):
        load_handler("forecast").handler({"run": {}, "request": {}}, context)
