"""The demo input end to end on v2: distinct environments warmed, the same ones found warm a minute later,
cold again after the idle TTL; what the run leaves in the state store; the size of every state's payload.
(N pings -> N environments: test_e2e_distinct.py; 1,000 targets: test_e2e_scale.py.)"""

from __future__ import annotations

import pytest

from thermostat.store import make_run_name

from .conftest import (
    DEMO_TARGETS,
    PAYLOAD_LIMIT,
    LocalAwsFactory,
    lease_of,
    load_event,
    records_of,
    report_of,
    run_and_observe,
    state_objects,
    state_payloads,
    targets_by_name,
)

pytestmark = pytest.mark.slow


def test_demo_input_warms_distinct_environments_that_answer_warm_a_minute_later(
        local_aws: LocalAwsFactory) -> None:
    with local_aws() as aws:
        # GIVEN the demo input (events/manual-run.json), the demo targets tagged, 24 h of seeded history
        demo = load_event("manual-run.json")
        # WHEN it runs, then again one minute later on the fake clock
        first, first_envs = run_and_observe(aws, demo)
        aws.advance(60)
        second, second_envs = run_and_observe(aws, demo)
    # THEN the first run is ok and warmed as many distinct environments as it requested, every one a new one
    assert first.output["status"] == "ok" and first.output["degraded"] == []
    targets = targets_by_name(first)
    assert set(DEMO_TARGETS) <= set(targets)
    for name, target in targets.items():
        assert target["desired"] >= target["requested"] >= 1, target
        assert target["term"], target  # which term of the forecast decided
        assert target["distinct_envs"] == target["requested"] == len(first_envs[name].envs)
        assert target["cold_inits"] == target["requested"] == len(first_envs[name].cold)
        assert target["status"] == "warmed" and target["rounds"] == 1
    # AND the second run found the first run's environments warm: only environments beyond them start cold
    assert second.output["status"] == "ok"
    for name, target in targets_by_name(second).items():
        before, now = first_envs[name], second_envs[name]
        assert target["distinct_envs"] == target["requested"] == len(now.envs)
        kept = now.envs & before.envs
        assert len(kept) == min(len(before.envs), target["requested"]), (name, before, now)
        assert now.cold == now.envs - before.envs
        assert target["cold_inits"] == len(now.envs - before.envs) == max(target["requested"] - len(before.envs), 0)
        assert target["real_cold_starts"] == 0  # no real traffic: nobody else started an environment


def test_idle_reclaim_after_the_ttl_makes_the_next_run_cold(local_aws: LocalAwsFactory) -> None:
    with local_aws(idle_ttl_s=600) as aws:
        # GIVEN one run that warmed the demo targets
        demo = load_event("manual-run.json")
        _, first_envs = run_and_observe(aws, demo)
        # WHEN 11 minutes pass on the fake clock (idle TTL 10 min)
        aws.advance(660)
        second, second_envs = run_and_observe(aws, demo)
    # THEN every environment was reclaimed: the next run starts new ones, cold
    for name, target in targets_by_name(second).items():
        assert target["cold_inits"] == target["requested"] >= 1
        assert second_envs[name].envs.isdisjoint(first_envs[name].envs)


def test_a_run_leaves_its_records_its_report_and_a_released_lease_in_the_state_store(
        local_aws: LocalAwsFactory) -> None:
    with local_aws() as aws:
        # GIVEN a fresh stack (empty state bucket) WHEN the demo input runs once
        assert state_objects(aws) == {}
        run, envs = run_and_observe(aws, load_event("manual-run.json"))
        records = records_of(aws)
        report = report_of(aws, run)
        lease = lease_of(aws)
        objects = state_objects(aws)
    output = run.output
    # THEN one record per target was saved, holding what this run learned: its plan, the environments that
    # answered, the round in its ping log, the CloudWatch history read at first sight
    assert set(records) == {t["key"] for t in output["targets"]}
    for target in output["targets"]:
        record = records[target["key"]]
        assert record.last_plan is not None and record.last_plan.requested == target["requested"]
        assert record.last_plan.desired == target["desired"]
        assert len(record.envs) == len(envs[target["function"]].envs)  # the library's ids, not the runtime's
        assert sum(count for _, count in record.pings) == target["requested"]
        assert record.cw_read_at_ms > 0 and record.config.arn
    # AND the full report is at runs/<run_name>/report.json, every target in it, the same figures as the output
    run_name = make_run_name(run.name, output["run"]["started_at_ms"])
    assert output["report_key"] == f"thermostat/runs/{run_name}/report.json"
    assert report["status"] == output["status"] == "ok"
    assert report["totals"] == output["totals"]
    assert {t["key"]: t["distinct_envs"] for t in report["targets"]} == \
        {t["key"]: t["distinct_envs"] for t in output["targets"]}
    # AND the lease was given back (released, not deleted), by this run
    assert lease is not None and lease["run"] == run.arn and lease["released_at_ms"] is not None
    # AND the records live in a manifest and its shard(s)
    assert "thermostat/state/v1/manifest.json" in objects
    assert any(key.endswith(".json.gz") for key in objects)


def test_every_state_payload_stays_far_below_the_step_functions_limit(local_aws: LocalAwsFactory) -> None:
    with local_aws() as aws:
        # GIVEN the demo input WHEN it runs
        run, _ = run_and_observe(aws, load_event("manual-run.json"))
    # THEN every state's input and output, measured from the execution history, is < 200 KiB
    sizes = state_payloads(run)
    entered = {p.state for p in sizes if p.kind == "input"}
    assert {"Validate Input", "Collect Metrics", "Forecast", "Plan", "Warm", "Warm Batch", "Summarize",
            "Report"} <= entered
    assert max(p.bytes for p in sizes) < PAYLOAD_LIMIT, max(sizes, key=lambda p: p.bytes)
