"""The demo input end to end: every target warmed with distinct environments, warm a minute later, cold
again after the idle TTL. (N pings -> N environments: test_e2e_distinct.py, on the shared session.)"""

from __future__ import annotations

import pytest

from .conftest import LocalAwsFactory, load_event, run_and_observe, targets_by_name

pytestmark = pytest.mark.slow


def test_demo_input_warms_distinct_environments_that_answer_warm_a_minute_later(
        local_aws: LocalAwsFactory) -> None:
    with local_aws() as aws:
        # GIVEN the demo input (events/manual-run.json) and 24 h of seeded history
        demo = load_event("manual-run.json")
        # WHEN it runs, then again one minute later on the fake clock
        first, first_envs = run_and_observe(aws, demo)
        aws.advance(60)
        second, second_envs = run_and_observe(aws, demo)
    # THEN the first run warmed as many distinct environments as it requested, all cold inits
    targets = targets_by_name(first)
    assert {t["function"] for t in demo["targets"]} <= set(targets)
    for name, target in targets.items():
        assert target["requested"] >= 1
        assert target["distinct_envs"] == target["requested"] == len(first_envs[name].envs)
        assert target["cold_inits"] == target["requested"] == len(first_envs[name].cold)
        assert target["status"] == "warmed"
    # AND the second run found the same environments warm: no cold init anywhere
    for name, target in targets_by_name(second).items():
        assert target["cold_inits"] == 0 and second_envs[name].cold == set()
        assert second_envs[name].envs and second_envs[name].envs <= first_envs[name].envs
        assert target["distinct_envs"] == target["requested"]


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
