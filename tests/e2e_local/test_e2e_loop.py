"""The loop closes on the embedded AWS: real traffic -> AWS/Lambda metrics and ping answers -> the records ->
the plan -> pings -> ... with the warmer's own pings never read back as demand.

One scenario for the module (two warm-aware targets, no demo targets): six runs five minutes apart, both
targets with the same steady real traffic (4 concurrent) before each (15 minutes before the first); then
one target's traffic stops and the runs go on every 4 hours of fake clock for 28 hours (the other gets 10
minutes of traffic before each run, which also keeps the account's concurrency metric fresh).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from thermostat.local.session import LocalAws
from thermostat.local.traffic import steady

from .conftest import TARGETS_DIR, align, make_config, pinned, records_of

pytestmark = pytest.mark.slow

STEADY, STOPS = "loop-steady", "loop-stops"
CONCURRENCY = 4
TRAFFIC = steady(20, CONCURRENCY)
RUNS, PERIOD_S = 6, 300
QUIET_RUNS, QUIET_GAP_S, WARMUP_S = 7, 4 * 3600, 600
FLOOR = 1


@dataclass
class Scenario:
    desired: dict[str, list[int]] = field(default_factory=lambda: {STEADY: [], STOPS: []})
    requested: dict[str, list[int]] = field(default_factory=lambda: {STEADY: [], STOPS: []})
    reasons: dict[str, list[str]] = field(default_factory=lambda: {STEADY: [], STOPS: []})
    statuses: list[str] = field(default_factory=list)
    real_throttles: int = 0
    steady_peaks: list[float] = field(default_factory=list)  # STEADY's known real peaks after the busy runs
    pings_sent_busy: int = 0  # pings to STEADY during the busy runs

    def add(self, output: dict[str, Any]) -> None:
        self.statuses.append(output["status"])
        for target in output["targets"]:
            name = target["function"]
            self.desired[name].append(target["desired"])
            self.requested[name].append(target["requested"])
            self.reasons[name].append(target["reason"])


@pytest.fixture(scope="module")
def scenario() -> Iterator[Scenario]:
    seen = Scenario()
    with LocalAws(make_config(parameters={"DeployDemoTargets": "false"})) as aws:
        for name in (STEADY, STOPS):
            aws.add_function(name, TARGETS_DIR / "warm_aware")
        request = pinned(STEADY, STOPS, low=FLOOR, high=20)
        align(aws)
        before = aws.runtime.snapshot()
        for index in range(RUNS):  # the first run reads 15 minutes of history: three whole 5-minute slots
            aws.drive_traffic(3 * PERIOD_S if index == 0 else PERIOD_S, {STEADY: TRAFFIC, STOPS: TRAFFIC})
            seen.add(_run(aws, request))
        seen.pings_sent_busy = aws.counters(since=before)[STEADY].ping_invocations
        record = records_of(aws)[STEADY]
        seen.steady_peaks = [p for p in record.peaks if p == p]  # known slots (NaN: never seen)
        for _ in range(QUIET_RUNS):
            aws.advance(QUIET_GAP_S - WARMUP_S)
            aws.drive_traffic(WARMUP_S, {STEADY: TRAFFIC})
            seen.add(_run(aws, request))
        seen.real_throttles = sum(c.real_throttles for c in aws.counters(since=before).values())
    print(f"\nloop: desired {seen.desired}\nrequested {seen.requested}\nstatuses {seen.statuses}\n"
          f"last reasons: {STEADY}: {seen.reasons[STEADY][-1]}\n  {STOPS}: {seen.reasons[STOPS][-1]}")
    yield seen


def _run(aws: LocalAws, request: dict[str, Any]) -> dict[str, Any]:
    run = aws.run(request, timeout_s=120)
    assert run.status == "SUCCEEDED", (run.describe.get("error"), run.describe.get("cause"))
    output: dict[str, Any] = run.output
    return output


def test_steady_real_traffic_keeps_a_steady_plan(scenario: Scenario) -> None:
    # GIVEN steady real traffic of 4 concurrent, five minutes before each of 6 runs
    desired = scenario.desired[STEADY][:RUNS]
    # THEN every run was ok and warmed what it planned, nothing throttled
    assert scenario.statuses[:RUNS] == ["ok"] * RUNS
    assert scenario.requested[STEADY][:RUNS] == desired
    # AND the plan covers the traffic and never climbs on the warmer's own pings: the same in all six runs,
    # at most one environment of headroom above the real peak
    assert all(CONCURRENCY <= d <= CONCURRENCY + 1 for d in desired), desired
    assert len(set(desired)) == 1, desired
    assert scenario.real_throttles == 0


def test_the_warmers_own_pings_are_never_read_back_as_real_traffic(scenario: Scenario) -> None:
    # GIVEN rounds of up to 5 pings to STEADY (CloudWatch's ConcurrentExecutions counts them too)
    assert scenario.pings_sent_busy >= RUNS * CONCURRENCY
    assert max(scenario.requested[STEADY][:RUNS]) > CONCURRENCY or scenario.pings_sent_busy > 0
    # THEN the record's real peaks, from the answers and CloudWatch, are the traffic's 4, never the pings'
    assert scenario.steady_peaks and max(scenario.steady_peaks) == CONCURRENCY, scenario.steady_peaks


def test_a_target_whose_traffic_stops_decays(scenario: Scenario) -> None:
    # GIVEN STOPS had the same traffic as STEADY, then none for 28 hours
    busy, quiet = scenario.desired[STOPS][:RUNS], scenario.desired[STOPS][RUNS:]
    # THEN its plan never grows once the traffic is gone, and ends well below what the traffic needed
    assert all(later <= earlier for earlier, later in zip([busy[-1], *quiet], quiet, strict=False)), (busy, quiet)
    assert quiet[-1] < busy[-1] and quiet[-1] <= FLOOR + 1, (busy, quiet)
    assert all(s in ("ok", "degraded") for s in scenario.statuses[RUNS:]), scenario.statuses


def test_a_target_whose_traffic_stops_decays_to_its_floor(scenario: Scenario) -> None:
    # GIVEN 28 hours without traffic THEN the plan is back at the target's floor (min 1)
    assert scenario.desired[STOPS][-1] == FLOOR, (scenario.desired[STOPS], scenario.reasons[STOPS][-1])
