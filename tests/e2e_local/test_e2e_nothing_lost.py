"""Nothing is lost: one failing target never fails the run for the others, and every execution-input rule of
DESIGN §3 ends in the named Fail state — all on one shared embedded AWS (the real template and ASL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from thermostat.local.session import ExecutionRun, LocalAws

from .conftest import SCHEMA_TARGET, SSM_TARGET, targets_by_name

pytestmark = pytest.mark.slow

TARGETS = Path(__file__).resolve().parent / "targets"
MISSING = "qa-no-such-function"
NOT_WARM_AWARE = "qa-not-warm-aware"
RAISING = "qa-raising-handler"
THROTTLED_TO_ZERO = "qa-throttled-to-zero"


@pytest.fixture(scope="module")
def mixed_run(shared_aws: LocalAws) -> ExecutionRun:
    """One execution over the demo targets plus four broken ones, each pinned to 2 environments."""
    deployed = set(shared_aws.runtime.functions)
    if NOT_WARM_AWARE not in deployed:
        shared_aws.add_function(NOT_WARM_AWARE, TARGETS / "not_warm_aware")
        shared_aws.add_function(RAISING, TARGETS / "raising")
        # reserved concurrency 0: what the console's "Throttle" button does
        shared_aws.add_function(THROTTLED_TO_ZERO, TARGETS / "warm_aware", reserved_concurrency=0)
    broken = [MISSING, NOT_WARM_AWARE, RAISING, THROTTLED_TO_ZERO]
    run = shared_aws.run({"targets": [{"function": name, "min": 2, "max": 2} for name in broken]}, timeout_s=120)
    return run


def test_the_run_succeeds_and_every_target_has_its_own_record(mixed_run: ExecutionRun) -> None:
    # GIVEN demo targets (tag discovery) and four broken targets in one execution
    # WHEN it runs (fixture) THEN it SUCCEEDS, with one record per target, none dropped
    targets = targets_by_name(mixed_run)
    assert {MISSING, NOT_WARM_AWARE, RAISING, THROTTLED_TO_ZERO, SCHEMA_TARGET, SSM_TARGET} <= set(targets)
    assert mixed_run.output["totals"]["targets"] == len(targets)
    # AND the healthy targets were warmed as if nothing else had happened
    for name in (SCHEMA_TARGET, SSM_TARGET):
        assert targets[name]["status"] == "warmed"
        assert targets[name]["distinct_envs"] == targets[name]["requested"] >= 1


def test_a_target_that_does_not_exist_is_an_error_record(mixed_run: ExecutionRun) -> None:
    record = targets_by_name(mixed_run)[MISSING]
    assert record["status"] == "error" and record["requested"] == 0
    assert "FunctionNotFound" in record["reason"] and MISSING in record["reason"]


def test_a_target_that_is_not_warm_aware_fails_and_says_why(mixed_run: ExecutionRun) -> None:
    # its handler answered with its own output: never counted as a warm environment
    record = targets_by_name(mixed_run)[NOT_WARM_AWARE]
    assert record["status"] == "failed" and record["distinct_envs"] == 0
    assert record["errors"] == record["requested"] == 2
    assert "warm_aware" in record["reason"]


def test_a_target_whose_handler_raises_fails_with_the_exception(mixed_run: ExecutionRun) -> None:
    record = targets_by_name(mixed_run)[RAISING]
    assert record["status"] == "failed" and record["distinct_envs"] == 0 and record["errors"] == 2
    assert "ValueError: this handler always fails" in record["reason"]


def test_a_target_throttled_to_zero_is_skipped_by_the_budget(mixed_run: ExecutionRun, shared_aws: LocalAws) -> None:
    # GIVEN reserved concurrency 0 THEN no ping is sent (each would be a 429) and the reason names the budget
    record = targets_by_name(mixed_run)[THROTTLED_TO_ZERO]
    assert record["status"] == "skipped" and record["requested"] == 0 and record["distinct_envs"] == 0
    assert "reserved" in record["reason"]
    assert shared_aws.runtime.stats[THROTTLED_TO_ZERO].invocations == 0
    limit = boto3.client("lambda", region_name=shared_aws.stack.region).get_function_concurrency(
        FunctionName=THROTTLED_TO_ZERO)
    assert limit["ReservedConcurrentExecutions"] == 0


# --- every execution-input rule of DESIGN §3, through the state machine's Validate Input -------------------

LONG_NAME = "f" * 65


@pytest.mark.parametrize(("execution_input", "path"), [
    # not an object
    ([], "$"),
    ("run", "$"),
    # wrong types, at the top level and inside a target
    ({"targets": {"function": "x"}}, "targets"),
    ({"discover": "yes"}, "discover"),
    ({"dry_run": 1}, "dry_run"),
    ({"quantile": "0.9"}, "quantile"),
    ({"horizon_minutes": 2.5}, "horizon_minutes"),
    ({"targets": [42]}, "targets[0]"),
    ({"targets": [{"function": 5}]}, "targets[0].function"),
    ({"targets": [{"function": "x", "min": "1"}]}, "targets[0].min"),
    ({"targets": [{"function": "x", "max": True}]}, "targets[0].max"),
    ({"targets": [{"function": "x", "qualifier": 3}]}, "targets[0].qualifier"),
    # empty or malformed names
    ({"targets": [{"function": ""}]}, "targets[0].function"),
    ({"targets": ["   "]}, "targets[0].function"),
    ({"targets": [{"function": LONG_NAME}]}, "targets[0].function"),
    ({"targets": [{"function": "x", "qualifier": ""}]}, "targets[0].qualifier"),
    ({"targets": [{"min": 1}]}, "targets[0].function"),
    # min > max
    ({"targets": [{"function": "a"}, {"function": "x", "min": 5, "max": 2}]}, "targets[1].min"),
    # negative counts
    ({"targets": [{"function": "x", "min": -1}]}, "targets[0].min"),
    ({"targets": [{"function": "x", "max": -3}]}, "targets[0].max"),
    # quantile outside (0, 1)
    ({"quantile": 0}, "quantile"),
    ({"quantile": 1}, "quantile"),
    ({"quantile": 1.5}, "quantile"),
    ({"quantile": -0.1}, "quantile"),
    # unknown keys, at every level
    ({"quantle": 0.9}, "quantle"),
    ({"targets": [{"function": "x", "minimum": 1}]}, "targets[0].minimum"),
])
def test_malformed_input_fails_the_execution_with_invalid_input_error(shared_aws: LocalAws, execution_input: Any,
                                                                      path: str) -> None:
    # GIVEN a malformed execution input WHEN an execution starts with it
    run = shared_aws.run(execution_input, timeout_s=60)
    # THEN it ends in the Fail state with InvalidInputError and a cause that starts with the field path
    assert run.status == "FAILED"
    assert run.describe["error"] == "InvalidInputError"
    assert run.describe["cause"].startswith(f"{path}: "), run.describe["cause"]
    # AND nothing past Validate Input ran
    entered = {e["stateEnteredEventDetails"]["name"] for e in run.events if "stateEnteredEventDetails" in e}
    assert "Collect Metrics" not in entered and "Invalid Input" in entered
