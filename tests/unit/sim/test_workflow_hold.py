"""The simulator holds workflow pings as long as the deployed Warm Batch makes them hold."""

from __future__ import annotations

import json

from thermostat.config import PlanSettings
from thermostat.sim.policies import Policy, SimSettings
from thermostat.warming import Reply, Runtime, WarmOptions, warm_batch
from thermostat_target.protocol import compute_hold_ms, make_answer, parse_ping


def _hold_of_a_real_warm_batch(plan: PlanSettings, options: WarmOptions) -> float:
    """Run warm_batch on a fake clock for a batch planned at t = 0; return the hold its ping gets."""
    clock = {"now": 0.0}
    holds: list[float] = []

    def invoke(function: str, qualifier: str | None, payload: bytes) -> Reply:
        ping = parse_ping(json.loads(payload))
        assert ping is not None
        hold = compute_hold_ms(ping.release_at_ms, clock["now"], ping.max_hold_ms, None)
        holds.append(hold)
        answer = make_answer(env="e1", cold=False, init_ms=0.0, held_ms=hold, invocations=1)
        return Reply("ok", json.dumps(answer).encode())

    def sleep(seconds: float) -> None:
        clock["now"] += seconds * 1000.0

    batch = {"run": "r", "batch": 0, "round": 0, "release_at_ms": plan.lead_ms, "max_hold_ms": plan.max_hold_ms,
             "period_s": plan.period_s, "refresh": False, "deadline_ms": plan.lead_ms + plan.warm_deadline_ms,
             "pings": [{"function": "f", "qualifier": None, "first_slot": 0, "count": 1, "of": 1}]}
    warm_batch(batch, invoke, Runtime(now_ms=lambda: clock["now"], sleep=sleep, uniform=lambda a, b: a),  # type: ignore[arg-type]
               options)
    return holds[0]


def test_a_workflow_ping_holds_what_the_deployed_warm_batch_makes_it_hold() -> None:
    # GIVEN the default plan and Warm Batch options (the Map iteration starts right after Plan)
    plan, options = PlanSettings(), WarmOptions()
    # WHEN the real warm_batch sends a ping of a batch released `lead_ms` later
    held = _hold_of_a_real_warm_batch(plan, options)
    # THEN the simulator's workflow hold is that hold (send_ahead_ms, not the whole lead), fixed:N keeps its own
    settings = SimSettings()
    assert settings.workflow_hold_ms == held == options.send_ahead_ms < plan.lead_ms
    assert settings.hold_ms(Policy("thermostat")) == held
    assert settings.hold_ms(Policy("fixed", 1)) == settings.baseline_hold_ms


def test_the_workflow_hold_is_capped_by_max_hold_and_can_be_overridden() -> None:
    # GIVEN a plan whose targets may hold at most 150 ms
    plan = PlanSettings(max_hold_ms=150)
    # THEN the simulated hold is what Warm Batch would get, capped like the target caps it; --workflow-hold-ms wins
    assert SimSettings(plan=plan).workflow_hold_ms == _hold_of_a_real_warm_batch(plan, WarmOptions()) == 150
    assert SimSettings(hold_override_ms=100.0).workflow_hold_ms == 100.0
