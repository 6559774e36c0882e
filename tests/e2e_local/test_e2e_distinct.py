"""N pings to one target reach N distinct environments, by the report and by the runtime's own count.

Uses the module-scoped ``shared_aws`` session: a module that uses it must not also deploy its own embedded
AWS (``local_aws``), since moto's state is process-wide."""

from __future__ import annotations

import pytest

from thermostat.local.session import LocalAws

from .conftest import SCHEMA_TARGET, run_and_observe, targets_by_name

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("pings", [1, 10, 50])
def test_n_pings_to_one_target_reach_n_distinct_environments(shared_aws: LocalAws, pings: int) -> None:
    # GIVEN an input that pins one target to exactly N environments (no tag discovery)
    request = {"targets": [{"function": SCHEMA_TARGET, "min": pings, "max": pings}], "discover": False}
    # WHEN it runs
    run, envs = run_and_observe(shared_aws, request)
    # THEN N distinct environments answered, by the report and by the runtime's own count
    target = targets_by_name(run)[SCHEMA_TARGET]
    assert target["requested"] == pings
    assert target["distinct_envs"] == pings == len(envs[SCHEMA_TARGET].envs)
