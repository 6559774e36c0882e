"""Plan handler: ForecastState (events/plan.json) -> PlanState with batches."""

from __future__ import annotations

from typing import Any

import pytest

from thermostat.exceptions import InvalidInputError


def test_plan_event_gives_batches_and_keeps_the_error_target(aws: None, load_handler: Any, load_event: Any,
                                                             context: Any, monkeypatch: Any) -> None:
    # GIVEN the sample Forecast output and a batch size of 4
    monkeypatch.setenv("THERMOSTAT_MAX_BATCH_SIZE", "4")
    event = load_event("plan.json")
    # WHEN the Plan handler runs
    state = load_handler("plan").handler(event, context)
    # THEN every target has a record (the missing one as an error), and the pings fill batches of <= 4
    assert [r["function"] for r in state["plan"]] == [t["function"] for t in event["targets"]]
    assert state["plan"][-1]["status"] == "error"
    requested = {r["function"]: r["requested"] for r in state["plan"] if r["status"] == "planned"}
    pinged: dict[str, int] = {}
    for batch in state["batches"]:
        assert sum(g["count"] for g in batch["pings"]) <= 4
        for group in batch["pings"]:
            pinged[group["function"]] = pinged.get(group["function"], 0) + group["count"]
    assert pinged == requested and state["warm_needed"] is True


def test_plan_rejects_a_document_that_is_not_a_forecast(aws: None, load_handler: Any, context: Any) -> None:
    with pytest.raises(InvalidInputError):
        load_handler("plan").handler({"run": {}}, context)
