"""Plan handler under moto: ForecastedState (events/plan.json) -> PlanState; the fallback after a failure."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from workflow_world import BUCKET, World, run_state

from thermostat import claims, models, planning
from thermostat.collect import encode_records
from thermostat.config import DiscoverySettings, PlanSettings
from thermostat.exceptions import InvalidInputError
from thermostat.plan_step import plan_state
from thermostat.records import LastPlan
from thermostat.records import new_record as fresh_record

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("THERMOSTAT_STATE_BUCKET", BUCKET)
    return World()


@pytest.fixture
def handler(world: World, load_handler: Callable[[str], ModuleType], context: Any) -> Handler:
    module = load_handler("plan")
    return lambda event: module.handler(event, context)


def pings_of(world: World, state: dict[str, Any]) -> dict[str, int]:
    pinged: dict[str, int] = {}
    for item in state["batches"]:
        batch = claims.resolve(world.store(), item["doc"], "doc")
        assert batch["batch"] == item["batch"] and batch["run_name"] == state["run"]["run_name"]
        for group in batch["pings"]:
            pinged[group["key"]] = pinged.get(group["key"], 0) + group["count"]
    return pinged


def test_plan_event_gives_map_items_and_keeps_the_error_target(world: World, handler: Handler,
                                                               load_event: Callable[[str], Any],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the sample Forecast output, batches of at most 1 ping and a Map of 3 at once
    monkeypatch.setenv("THERMOSTAT_MAX_BATCH_SIZE", "1")
    monkeypatch.setenv("THERMOSTAT_MAP_MAX_CONCURRENCY", "3")
    event = load_event("plan.json")
    before = int(time.time() * 1000)
    # WHEN the Plan handler runs
    state = handler(event)
    # THEN it is a PlanState whose plan has one record per target, the missing function as an error
    assert set(models.PlanState.__annotations__) - set(state) == {"overlap_with", "failure", "warm_results"}
    plan = claims.resolve(world.store(), state["plan"], "plan")
    assert [r["key"] for r in plan] == [t["key"] for t in event["targets"]["inline"]]
    errors = [r for r in plan if r["status"] == "error"]
    assert [r["key"] for r in errors] == ["thermostat-demo-retired:live"] and errors[0]["requested"] == 0
    # AND the Map items' batch documents carry exactly the planned pings, one per batch
    planned = {r["key"]: r["requested"] for r in plan if r["status"] == "planned"}
    assert planned and pings_of(world, state) == planned
    assert state["warm_needed"] is True and state["warm_settings"] == {"max_concurrency": 3}
    # AND the first release leaves time for the Map to start and the targets' send-ahead
    assert state["release_at_ms"] >= before + planning.MAP_START_MS
    # AND Collect's and Forecast's outputs that Summarize needs travel on
    assert state["forecast"] == event["forecast"] and state["lease"] == event["lease"]


def test_a_dry_run_plans_but_sends_nothing(world: World, handler: Handler, load_event: Callable[[str], Any]) -> None:
    event = load_event("plan.json")
    event["request"]["dry_run"] = True
    state = handler(event)
    assert state["batches"] == [] and state["warm_needed"] is False
    assert any(r["status"] == "planned" for r in claims.resolve(world.store(), state["plan"], "plan"))


def seed_records(world: World, now: int, plans: dict[str, tuple[int, int]]) -> None:
    """key -> (minutes ago, pings) of its last plan; every record seen now and fully described."""
    records = {}
    for key, (ago, requested) in plans.items():
        record = fresh_record(key, key, None, now)
        record.config.arn, record.config.read_at_ms = f"arn:aws:lambda:us-east-1:1:function:{key}", now
        record.last_plan = LastPlan(now - ago * 60_000, requested, requested, "recent", "")
        records[key] = record
    store = world.store()
    store.save(store.load(), encode_records(records), run="earlier", now_ms=now)


def test_after_a_collect_failure_the_last_plans_stand_and_the_lease_is_taken(world: World, handler: Handler) -> None:
    now = int(time.time() * 1000)
    # GIVEN records of an earlier run: one planned 4 pings 5 minutes ago, one 3 pings two hours ago
    seed_records(world, now, {"fresh": (5, 4), "stale": (120, 3)})
    # AND Collect Metrics failed (the state machine recorded it next to Validate Input's output)
    event = {**run_state(now), "failure": {"state": "Collect Metrics", "error": "States.Timeout", "cause": ""}}
    state = handler(event)
    # THEN the run is degraded and says why
    assert any(d.startswith("Collect Metrics failed (States.Timeout)") for d in state["degraded"])
    assert state["failure"]["state"] == "Collect Metrics"
    # AND the recent plan stands (made within the account budget minutes ago); the old one falls to the floor,
    # which cannot be pinged without knowing the account's free concurrency
    plan = {r["key"]: r for r in claims.resolve(world.store(), state["plan"], "plan")}
    assert (plan["fresh"]["desired"], plan["fresh"]["requested"], plan["fresh"]["term"]) == (4, 4, "fallback")
    assert (plan["stale"]["desired"], plan["stale"]["requested"]) == (1, 0)
    assert plan["stale"]["limited_by"] == "unknown_limits"
    assert pings_of(world, state) == {"fresh": 4}
    # AND this run now holds the lease (Summarize releases it)
    assert state["lease"]["acquired"] is True and state["lease"]["run_id"] == event["run"]["id"]


def test_after_a_forecast_failure_the_budget_still_applies(world: World, handler: Handler,
                                                           load_event: Callable[[str], Any]) -> None:
    now = int(time.time() * 1000)
    event = load_event("forecast.json")  # Collect's output: account known, targets known
    keys = [t["key"] for t in event["targets"]["inline"] if "error" not in t]
    seed_records(world, now, {key: (5, 30) for key in keys})
    event["account"]["unreserved_in_use"] = 970  # the account is nearly full: 980 - 970 -> 5 may be pinged
    event["failure"] = {"state": "Forecast", "error": "ValueError", "cause": "{}"}
    state = handler(event)
    plan = {r["key"]: r for r in claims.resolve(world.store(), state["plan"], "plan")}
    unreserved = [k for k in keys if next(t for t in event["targets"]["inline"] if t["key"] == k)["reserved"] is None]
    # THEN the unreserved targets share what the account has free, whatever the last plan said
    assert sum(plan[k]["requested"] for k in unreserved) == 5
    assert all(plan[k]["limited_by"] == "account" for k in unreserved)
    # AND the reserved one is held to its own pool (reserved 20, 3 busy: floor(17 x 0.5) = 8)
    assert plan["thermostat-demo-ssm-config"]["requested"] == 8
    assert plan["thermostat-demo-ssm-config"]["desired"] == 10  # last plan 30, capped at its max


def test_the_fallback_stops_when_another_run_holds_the_lease(world: World, handler: Handler) -> None:
    now = int(time.time() * 1000)
    seed_records(world, now, {"fresh": (5, 4)})
    world.store().acquire("arn:other-run", now, 240_000)
    event = {**run_state(now), "failure": {"state": "Collect Metrics", "error": "Lambda.Unknown", "cause": ""}}
    state = handler(event)
    assert state["overlap"] is True and state["batches"] == [] and state["lease"] is None
    assert state["overlap_with"]["run"] == "arn:other-run"


def test_plan_rejects_something_that_is_not_forecasts_output(world: World, handler: Handler) -> None:
    with pytest.raises(InvalidInputError):
        handler({"run": {"id": "x", "name": "x", "started_at_ms": 0, "round": 0}, "request": {}})


@pytest.mark.slow
def test_payload_at_5000_targets_stays_small(world: World) -> None:
    # GIVEN 5,000 described targets wanting 4 environments each, in an account with room for all of them
    now = int(time.time() * 1000)
    store = world.store()
    state = run_state(now)
    state["run"]["run_name"] = models.run_name_of(state["run"])
    name = state["run"]["run_name"]
    targets = [{"key": f"fn-{i:04d}", "function": f"fn-{i:04d}", "qualifier": None, "source": "tag", "min": 1,
                "max": 50, "price_per_cold_start": None, "memory_mb": 256, "reserved": None, "provisioned": 0,
                "busy": None, "recent_peak": 2, "described": True, "send_ahead_ms": 80.0, "protocol": 2}
               for i in range(5000)]
    forecast = {"targets": [{"key": t["key"], "desired": 4, "term": "recent", "reason": "4: recent peak; " + "x" * 80,
                             "ping_usd_month": 0.01, "provisioned_usd_month": 10.8} for t in targets],
                "memos": {t["key"]: {"fitted_at_ms": now, "seasonal": None, "periodic": None} for t in targets},
                "budget_note": None}
    state.update({"request": {**state["request"], "targets": 0}, "lease": None, "overlap": False,
                  "targets": claims.offload(store, name, "targets", targets),
                  "account": {"limit": 100_000, "unreserved_limit": 100_000, "unreserved_in_use": 50,
                              "read_at_ms": now},
                  "collected": {}, "degraded": [], "warnings": [],
                  "forecast": claims.offload(store, name, "forecast", forecast)})
    # WHEN Plan runs
    out = plan_state(state, store, PlanSettings(), DiscoverySettings(), now)
    size = claims.compact_size(out)
    print(f"\nplan 5,000 targets: 20,000 pings, {len(out['batches'])} batches, output {size} bytes; "
          f"input {claims.compact_size(state)} bytes")
    # THEN every ping is planned in batches of 500, and the output stays far below 256 KiB
    assert len(out["batches"]) == 40 and size < 200 * 1024
    # AND the Map's results together stay bounded too (each batch's inline results are capped)
    first = claims.resolve(store, out["batches"][0]["doc"], "doc")
    assert first["result_inline_bytes"] * len(out["batches"]) <= planning.RESULTS_INLINE_BYTES
