"""Forecast handler: CollectedState (events/forecast.json) -> ForecastState, with the real forecast package."""

from __future__ import annotations

import importlib
from typing import Any

import pytest


def _has_forecast_state() -> bool:
    try:
        return hasattr(importlib.import_module("thermostat.forecast"), "forecast_state")
    except ImportError:
        return False


pytestmark = pytest.mark.skipif(not _has_forecast_state(),
                                reason="thermostat.forecast.forecast_state is not there yet (forecast helper)")


def test_forecast_event_gives_one_forecast_per_target(aws: None, load_handler: Any, load_event: Any,
                                                      context: Any) -> None:
    # GIVEN the sample Collect Metrics output (two demo targets with history, one missing function)
    event = load_event("forecast.json")
    # WHEN the Forecast handler runs
    state = load_handler("forecast").handler(event, context)
    # THEN every target comes back in order with a forecast; the missing one keeps its error
    assert [t["function"] for t in state["targets"]] == [t["function"] for t in event["targets"]]
    for target in state["targets"]:
        forecast = target["forecast"]
        assert isinstance(forecast["desired"], int) and forecast["desired"] >= 0
        assert forecast["quantile"] == event["request"]["quantile"]
        assert forecast["model"] and forecast["reason"]
    assert state["targets"][-1]["error"] == event["targets"][-1]["error"]
    assert state["run"] == event["run"] and state["account"] == event["account"]
