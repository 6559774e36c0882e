"""Warming never takes concurrency real traffic needs: zero real throttles, counted by the local runtime
(real requests vs pings, per function), while the targets get real traffic during the run.

- another function holds 35 of the account's 50 unreserved environments: the plan is cut to what the
  account has free (``limited_by: account``);
- a target with reserved concurrency whose metric lags (no fresh datapoint): its pool is taken as busy as
  its last hour's peak + 1;
- GetAccountSettings denied: no limit is assumed, unreserved targets get no ping, the run says why.
"""

from __future__ import annotations

from typing import Any

import pytest

from thermostat.local.session import LocalAws
from thermostat.local.traffic import steady

from .conftest import TARGETS_DIR, LocalAwsFactory, align, pinned, plan_of
from .matrix import Observed, observe

pytestmark = pytest.mark.slow

NO_DEMO = {"DeployDemoTargets": "false"}
TARGET, NEIGHBOUR, RESERVED = "qa-busy-target", "qa-noisy-neighbour", "qa-reserved-target"


def _figures(label: str, aws: LocalAws, seen: Observed, name: str) -> str:
    """Print the figures of one target's run; returns the plan's reason for it."""
    target = seen.targets[name]
    reason = str(plan_of(aws, seen.run)[name]["reason"])
    pings, ping_throttles = seen.pings.get(name, (0, 0))
    print(f"\n{label}: {name} desired {target['desired']}, requested {target['requested']} "
          f"({target['limited_by']}), {pings} pings, {ping_throttles} ping throttles; real requests "
          f"{seen.real_requests}, real throttles {sum(seen.real_throttles.values())}; run {seen.status} "
          f"{seen.degraded}\n  plan: {reason}")
    return reason


def test_a_noisy_neighbour_holding_most_of_the_account_leaves_no_room_for_throttles(
        local_aws: LocalAwsFactory) -> None:
    traffic = {TARGET: steady(30, 6)}
    with local_aws(account_limit=50, parameters=NO_DEMO) as aws:
        aws.add_function(NEIGHBOUR, TARGETS_DIR / "warm_aware")
        aws.add_function(TARGET, TARGETS_DIR / "warm_aware")
        align(aws)
        # GIVEN another function holding 35 of the 50 unreserved environments, and the target with real
        # traffic (6 concurrent) for ten minutes, so the account's metric shows both
        with aws.hold(NEIGHBOUR, 35) as held:
            assert held.held == 35
            aws.drive_traffic(600, traffic)
            # WHEN a run warms the target while its traffic goes on
            seen = observe(aws, pinned(TARGET, low=1, high=20), traffic)
        reason = _figures("noisy neighbour (35 of 50 held)", aws, seen, TARGET)
    # THEN no real request of any function was throttled, and the pings all landed
    assert seen.run.status == "SUCCEEDED" and seen.status == "ok"
    assert seen.real_requests > 0 and seen.real_throttles == {}
    target = seen.targets[TARGET]
    assert seen.pings[TARGET] == (target["requested"], 0)
    # AND the plan says it was cut by the account: what is free (50 - 35 - 6 - the workflow's own) x the share
    assert target["limited_by"] == "account" and 1 <= target["requested"] < target["desired"], target
    assert "account: 50 unreserved" in reason, reason


def test_a_reserved_pool_whose_metric_lags_is_taken_as_busy(local_aws: LocalAwsFactory) -> None:
    traffic = {RESERVED: steady(30, 5)}
    # GIVEN AWS/Lambda metrics 5 minutes late (no datapoint of the last 4 minutes: not fresh)
    with local_aws(faults={"cloudwatch": {"metrics_lag_s": 300}}, parameters=NO_DEMO) as aws:
        # AND a target with reserved concurrency 8 and real traffic of 5 concurrent for 15 minutes
        aws.add_function(RESERVED, TARGETS_DIR / "warm_aware", reserved_concurrency=8)
        align(aws)
        aws.drive_traffic(900, traffic)
        # WHEN a run warms it while the traffic goes on
        seen = observe(aws, pinned(RESERVED, low=1, high=8), traffic)
        reason = _figures("reserved pool, metric 5 min late", aws, seen, RESERVED)
    # THEN no real request was throttled
    assert seen.run.status == "SUCCEEDED" and seen.real_requests > 0 and seen.real_throttles == {}
    # AND the pool was taken as busy as its last hour's peak + 1: at most (8 - 6) x share pings
    target = seen.targets[RESERVED]
    assert target["limited_by"] == "reserved" and target["requested"] <= 1, target
    assert "no fresh datapoint" in reason, reason
    assert seen.pings[RESERVED][1] == 0


def test_account_settings_denied_assumes_no_limit(local_aws: LocalAwsFactory) -> None:
    traffic: dict[str, Any] = {TARGET: steady(20, 3), RESERVED: steady(20, 3)}
    # GIVEN GetAccountSettings denied to the workflow
    with local_aws(faults={"aws": {"lambda:GetAccountSettings": {"error": "AccessDeniedException"}}},
                   parameters=NO_DEMO) as aws:
        # AND an unreserved and a reserved (10) target, both with real traffic
        aws.add_function(TARGET, TARGETS_DIR / "warm_aware")
        aws.add_function(RESERVED, TARGETS_DIR / "warm_aware", reserved_concurrency=10)
        align(aws)
        aws.drive_traffic(600, traffic)
        # WHEN a run warms them while the traffic goes on
        seen = observe(aws, pinned(TARGET, RESERVED, low=1, high=10), traffic)
        _figures("GetAccountSettings denied", aws, seen, TARGET)
        _figures("GetAccountSettings denied", aws, seen, RESERVED)
    # THEN the run is degraded and says why; no real request was throttled
    assert seen.run.status == "SUCCEEDED" and seen.status == "degraded"
    assert any("GetAccountSettings" in reason for reason in seen.degraded), seen.degraded
    assert seen.real_throttles == {}
    # AND no limit was assumed: the unreserved target got no ping, and the plan says why
    unreserved = seen.targets[TARGET]
    assert unreserved["requested"] == 0 and unreserved["limited_by"] == "unknown_limits"
    assert seen.pings[TARGET] == (0, 0)
    # AND the reserved pool, whose size is known without the account's limits, was warmed within it
    reserved = seen.targets[RESERVED]
    assert reserved["requested"] >= 1 and reserved["status"] == "warmed", reserved
    assert seen.pings[RESERVED] == (reserved["requested"], 0)
