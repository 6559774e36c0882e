"""1,000 targets (tagged copies of the demo targets, each with its own seeded history) through the real state
machine: every state's payload stays far below Step Functions' 256 KiB, the transitions stay flat (batches,
not targets), every target is in the full report. ~20 s.

MaxWarm=1 keeps it to one ping per target (1,003 pings, 3 batches of up to 500) so that the in-process
runtime is not the bottleneck, and the account limit is raised so that the seeded account (the sum of
1,003 functions' peaks) leaves room for them.
"""

from __future__ import annotations

import pytest

from thermostat.local.figures import transitions

from .conftest import PAYLOAD_LIMIT, LocalAwsFactory, report_of, run_and_observe, state_payloads

pytestmark = pytest.mark.slow

EXTRA = 1000


def test_a_thousand_targets_keep_every_state_payload_small(local_aws: LocalAwsFactory) -> None:
    with local_aws(extra_targets=EXTRA, account_limit=100_000, parameters={"MaxWarm": "1"}) as aws:
        # GIVEN 1,003 tagged targets WHEN the schedule's input runs twice, a minute apart
        first, envs = run_and_observe(aws, {}, timeout_s=300)
        aws.advance(60)
        second, _ = run_and_observe(aws, {}, timeout_s=300)
        report = report_of(aws, second)
    targets = EXTRA + 3
    for run in (first, second):
        sizes = state_payloads(run)
        largest = max(sizes, key=lambda p: p.bytes)
        print(f"\n{run.name}: {run.status} in {run.wall_s:.1f} s, largest payload {largest.bytes:,} B "
              f"({largest.state}, {largest.kind}), {transitions(run.events)} transitions, "
              f"totals {run.output['totals']['distinct_envs']}/{run.output['totals']['requested']}")
        # THEN each succeeded, every state's input and output measured from the history < 200 KiB
        assert run.status == "SUCCEEDED" and run.output["status"] == "ok", run.output.get("degraded")
        assert largest.bytes < PAYLOAD_LIMIT, largest
        # AND the transitions count batches, not targets: 10 states + Warm Batch per batch of <= 500 pings
        assert transitions(run.events) <= 10 + 2 * 3, transitions(run.events)
        # AND the output lists the 50 most interesting targets, the report every one
        assert run.output["targets_total"] == targets and len(run.output["targets"]) == 50
        assert run.output["totals"]["targets"] == targets
        assert run.output["totals"]["distinct_envs"] == run.output["totals"]["requested"] == targets
    assert len(report["targets"]) == targets
    assert sum(len(e.envs) for e in envs.values()) >= 50
    # AND the second run found every environment warm
    assert second.output["totals"]["cold_inits"] == 0
