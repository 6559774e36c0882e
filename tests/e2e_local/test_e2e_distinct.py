"""N pings to one target reach N distinct environments, by the report and by the runtime's own count.

Uses the module-scoped ``shared_aws`` session: a module that uses it must not also deploy its own embedded
AWS (``local_aws``), since moto's state is process-wide."""

from __future__ import annotations

import pytest

from thermostat.local.session import LocalAws

from .conftest import SCHEMA_TARGET, pinned, run_and_observe, targets_by_name

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("pings", [1, 10, 50])
def test_n_pings_to_one_target_reach_n_distinct_environments(shared_aws: LocalAws, pings: int) -> None:
    # GIVEN an input that pins one target to exactly N environments (no tag discovery)
    before = shared_aws.runtime.snapshot()
    # WHEN it runs
    run, envs = run_and_observe(shared_aws, pinned(SCHEMA_TARGET, count=pings))
    # THEN N distinct environments answered, by the report and by the runtime's own count
    target = targets_by_name(run)[SCHEMA_TARGET]
    assert run.output["status"] == "ok"
    assert target["desired"] == target["requested"] == pings
    assert target["distinct_envs"] == pings == len(envs[SCHEMA_TARGET].envs)
    assert target["status"] == "warmed"
    # AND N pings reached the target per round: one round, or the top-up round when the first fell short (on
    # this one interpreter, dozens of cold inits in one round can delay the last pings past the release)
    stats = shared_aws.counters(since=before)[SCHEMA_TARGET]
    assert target["rounds"] in (1, 2)
    assert stats.ping_invocations == pings * target["rounds"] and stats.ping_throttles == 0
