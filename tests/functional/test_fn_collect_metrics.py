"""Collect Metrics handler under moto: lease, discovery, state store, CloudWatch reads, degraded paths."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from workflow_world import BUCKET, TAG, World, client_error, run_state

from thermostat import claims, models
from thermostat.collect import LEASE_TTL_MS, collect
from thermostat.config import DiscoverySettings, ForecastSettings, PlanSettings
from thermostat.forecast_step import forecast_state
from thermostat.plan_step import plan_state
from thermostat.records import record_from_json

NOW = int(time.time() * 1000)


@pytest.fixture
def world(aws: None) -> World:
    return World()


@pytest.fixture
def handler(world: World, load_handler: Callable[[str], ModuleType], monkeypatch: pytest.MonkeyPatch,
            context: Any) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    monkeypatch.setenv("THERMOSTAT_STATE_BUCKET", BUCKET)
    module = load_handler("collect_metrics")
    module._clients["aws"] = world.clients
    module._clients["store"] = world.store()
    yield lambda event: module.handler(event, context)


def test_first_run_discovers_reads_and_saves_every_target(world: World, handler: Any,
                                                          load_event: Callable[[str], Any]) -> None:
    # GIVEN two tagged functions (one reserving 20), one opted out, one untagged, and a fresh account datapoint
    world.function("orders")
    world.function("billing", reserved=20)
    world.function("legacy", tagged="false")
    world.function("other", tagged=None)
    world.account_in_use(3, int(time.time() * 1000))
    event = load_event("collect-metrics.json")
    event["request"]["targets"] = [{"function": "other", "qualifier": None, "min": 2, "max": 4, "source": "input"}]
    # WHEN Collect Metrics runs
    out = handler(event)
    # THEN the output is a CollectedState: the run holds the lease, no overlap
    assert set(out) == set(models.CollectedState.__annotations__) - {"overlap_with"}
    assert out["overlap"] is False and out["lease"]["acquired"] is True
    assert out["run"]["run_name"] == models.run_name_of(out["run"]) and out["request"]["targets"] == 1
    targets = {t["key"]: t for t in claims.resolve(world.store(), out["targets"], "targets")}
    # AND the targets are the tagged ones plus the input's, the opted-out one left out and counted
    assert set(targets) == {"orders", "billing", "other"}
    assert targets["other"]["source"] == "input" and targets["other"]["min"] == 2
    assert out["collected"]["opted_out"] == 1 and out["collected"]["tagged"] == 2
    # AND each one's configuration was read (reserved concurrency included)
    assert targets["billing"]["reserved"] == 20 and targets["orders"]["reserved"] is None
    assert all(t["described"] for t in targets.values())
    # AND the account view is known (1000 limit, 20 reserved, 3 in use, fresh)
    assert out["account"]["limit"] == 1000 and out["account"]["unreserved_limit"] == 980
    assert out["account"]["unreserved_in_use"] == 3 and out["degraded"] == []
    # AND every target was bootstrapped from CloudWatch (+ the account and the reserved pool): 5 metrics
    assert out["collected"]["metric_reads"] == 3 + 1 + 1
    # AND the records were saved for the next states
    records = world.store().load().records
    assert set(records) == {"orders", "billing", "other"}
    assert record_from_json(records["orders"]).cw_read_at_ms > 0


def test_cloudwatch_unavailable_degrades_the_run_instead_of_failing_it(world: World, handler: Any,
                                                                       load_event: Callable[[str], Any]) -> None:
    # GIVEN a CloudWatch that refuses every call
    world.function("orders")

    class Broken:
        def get_metric_data(self, **kwargs: Any) -> Any:
            raise client_error("ServiceUnavailable", "GetMetricData", "down")

    world.cloudwatch = Broken()  # type: ignore[assignment]
    event = load_event("collect-metrics.json")
    event["request"]["targets"] = []
    # WHEN Collect runs with it
    out = collect(event, world.clients, world.store(), DiscoverySettings(), int(time.time() * 1000))
    # THEN the run goes on, degraded, with the reason; the account's use is unknown (treated as busy)
    assert out["overlap"] is False
    assert any("CloudWatch unavailable (ServiceUnavailable: down)" in d for d in out["degraded"])
    assert out["account"]["unreserved_in_use"] is None
    # AND the target is still there, its history not marked as read (read again next run)
    (target,) = claims.resolve(world.store(), out["targets"], "targets")
    assert target["key"] == "orders"
    assert record_from_json(world.store().load().records["orders"]).cw_read_at_ms == 0


def test_a_corrupt_state_object_is_rebuilt(world: World, handler: Any, load_event: Callable[[str], Any]) -> None:
    # GIVEN a first run's records, then its shard overwritten with garbage
    world.function("orders")
    event = load_event("collect-metrics.json")
    event["request"]["targets"] = []
    handler(event)
    manifest = json.loads(world.s3.get_object(Bucket=BUCKET, Key="thermostat/state/v1/manifest.json")["Body"].read())
    world.s3.put_object(Bucket=BUCKET, Key=manifest["keys"][0], Body=b"not gzip at all")
    world.s3.put_object(Bucket=BUCKET, Key="thermostat/state/v1/lease.json", Body=b"{}")  # and an unreadable lease
    # WHEN the next run collects
    second = {**event, "run": {**event["run"], "id": event["run"]["id"] + "-2", "name": "second"}}
    out = handler(second)
    # THEN it succeeds, says what it rebuilt, and saves a readable shard again
    assert out["overlap"] is False
    assert any(w.startswith("state object rebuilt: " + manifest["keys"][0]) for w in out["warnings"])
    reloaded = world.store().load()
    assert reloaded.warnings == () and "orders" in reloaded.records


def test_an_overlapping_run_stops_and_writes_nothing(world: World, handler: Any, load_event: Callable[[str], Any],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN one run that collected and still holds the lease
    world.function("orders")
    event = load_event("collect-metrics.json")
    event["request"]["targets"] = []
    first = handler(event)
    before = world.objects()
    calls_before = dict(world.lambda_.calls)
    # WHEN a second execution collects while the lease is held
    second = {**event, "run": {**event["run"], "id": "arn:aws:states:us-east-1:1:execution:x:second", "name": "s"}}
    out = handler(second)
    # THEN it reports the overlap, naming the holder and until when
    assert out["overlap"] is True and out["lease"] is None
    assert out["overlap_with"] == {"run": first["run"]["id"], "until_ms": first["lease"]["expires_at_ms"]}
    assert out["targets"] == {"inline": []}
    # AND it wrote nothing and asked Lambda nothing
    assert world.objects() == before
    assert world.lambda_.calls == calls_before
    # AND the Overlap metric is emitted here (Summarize does not run on this path)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(d["Stack"], d["Overlap"]) for d in emf] == [("unknown", [1.0])]
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Thermostat"


def test_the_lease_lasts_beyond_the_state_machine_timeout() -> None:
    assert 240_000 < LEASE_TTL_MS <= 300_000


def test_account_settings_denied_means_unknown_limits_never_a_default(world: World, handler: Any,
                                                                      load_event: Callable[[str], Any]) -> None:
    world.function("orders")
    world.lambda_.denied = True
    event = load_event("collect-metrics.json")
    event["request"]["targets"] = []
    out = handler(event)
    assert out["account"]["limit"] is None and out["account"]["unreserved_limit"] is None
    assert "GetAccountSettings failed (AccessDeniedException" in out["account"]["problem"]
    assert any("unreserved targets get no ping" in d for d in out["degraded"])
    # AND with the account unknown, the reserved concurrency of each target is read (cannot be ruled out)
    assert world.lambda_.calls.get("get_function_concurrency", 0) >= 1


def test_the_second_run_reads_only_what_is_due(world: World, handler: Any, load_event: Callable[[str], Any]) -> None:
    # GIVEN a first run that described and bootstrapped two targets
    world.function("orders")
    world.function("billing")
    event = load_event("collect-metrics.json")
    event["request"]["targets"] = []
    first = handler(event)
    listed = world.lambda_.calls.get("list_functions", 0)
    store = world.store()
    store.release(store.acquire(first["run"]["id"], int(time.time() * 1000), 1000))  # the run ended
    # WHEN the next run collects minutes later
    second = {**event, "run": {**event["run"], "id": event["run"]["id"] + "-2", "name": "second"}}
    out = handler(second)
    # THEN nothing is listed again and only the account metric is read
    assert world.lambda_.calls.get("list_functions", 0) == listed
    assert out["collected"]["metric_reads"] == 1 and out["collected"]["described"] == 0


def test_max_targets_reports_the_rest(world: World, load_event: Callable[[str], Any]) -> None:
    for name in ("a", "b", "c", "d"):
        world.function(name)
    event = load_event("collect-metrics.json")
    event["request"]["targets"] = []
    out = collect(event, world.clients, world.store(), DiscoverySettings(max_targets=2), int(time.time() * 1000))
    assert out["collected"]["targets"] == 2 and out["collected"]["over_limit"] == 2
    assert out["collected"]["over_limit_sample"] == ["c", "d"]
    assert any("2 target(s) beyond MaxTargets=2 are not warmed: c, d" in w for w in out["warnings"])


def test_tag_filter_is_the_tag_key_so_opt_outs_come_with_it(world: World, load_event: Callable[[str], Any]) -> None:
    world.function("orders", tagged="true")
    world.function("paused", tagged="no")
    event = load_event("collect-metrics.json")
    event["request"]["targets"] = []
    settings = DiscoverySettings(explicit_targets=({"function": "paused"},))
    out = collect(event, world.clients, world.store(), settings, int(time.time() * 1000))
    keys = [t["key"] for t in claims.resolve(world.store(), out["targets"], "targets")]
    # THEN the configured target tagged with another value is not warmed (the operator's opt-out)
    assert keys == ["orders"] and out["collected"]["opted_out"] == 1
    assert any(f"opted out by tag {TAG}" in w for w in out["warnings"])


@pytest.mark.slow
def test_collect_forecast_and_plan_payloads_at_5000_targets(world: World) -> None:
    # GIVEN 5,000 tagged functions in an account with room for all their pings
    for i in range(5000):
        world.function(f"fn-{i:04d}")
    world.lambda_.limit, world.lambda_.reserved_total = 100_000, 0
    now = int(time.time() * 1000)
    world.account_in_use(40, now)
    state = run_state(now)
    store = world.store()
    # WHEN one run's Collect, Forecast and Plan run on them
    started = time.perf_counter()
    collected = collect(state, world.clients, store, DiscoverySettings(), now)
    collect_s = time.perf_counter() - started
    forecast = forecast_state(collected, store, ForecastSettings(), now)
    plan = plan_state(forecast, store, PlanSettings(), DiscoverySettings(), now)
    sizes = {name: claims.compact_size(doc) for name, doc in
             (("collect", collected), ("forecast", forecast), ("plan", plan))}
    print(f"\n5,000 targets: collect {collect_s:.1f} s; outputs {sizes} bytes; {len(plan['batches'])} batches")
    # THEN every state's output stays far below Step Functions' 256 KiB (the per-target documents are in S3)
    assert all(size < 200 * 1024 for size in sizes.values())
    assert "ref" in collected["targets"] and collected["collected"]["targets"] == 5000
    assert collected["degraded"] == [] and collected["collected"]["described"] == 5000
    assert plan["warm_needed"] is True and len(plan["batches"]) >= 10
