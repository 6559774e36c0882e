"""Nothing is lost: one failing target never fails the run for the others (each is reported, with why, in the
output and in the run's report in the state store), and every malformed execution input ends in the
``Invalid Input`` Fail state naming the field — all on one shared embedded AWS (the real template and ASL)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from thermostat.local.session import ExecutionRun, LocalAws

from .conftest import DEMO_TARGETS, TARGETS_DIR, report_of, targets_by_name

pytestmark = pytest.mark.slow

MISSING = "qa-no-such-function"
NOT_WARM_AWARE = "qa-not-warm-aware"
RAISING = "qa-raising-handler"
THROTTLED_TO_ZERO = "qa-throttled-to-zero"


@pytest.fixture(scope="module")
def mixed_run(shared_aws: LocalAws) -> ExecutionRun:
    """One execution over the demo targets plus four broken ones, each pinned to 2 environments."""
    deployed = set(shared_aws.runtime.functions)
    if NOT_WARM_AWARE not in deployed:
        shared_aws.add_function(NOT_WARM_AWARE, TARGETS_DIR / "not_warm_aware")
        shared_aws.add_function(RAISING, TARGETS_DIR / "raising")
        # reserved concurrency 0: what the console's "Throttle" button does
        shared_aws.add_function(THROTTLED_TO_ZERO, TARGETS_DIR / "warm_aware", reserved_concurrency=0)
    broken = [MISSING, NOT_WARM_AWARE, RAISING, THROTTLED_TO_ZERO]
    run = shared_aws.run({"targets": [{"function": name, "min": 2, "max": 2} for name in broken]}, timeout_s=120)
    return run


def test_the_run_succeeds_and_every_target_has_its_own_record(mixed_run: ExecutionRun,
                                                              shared_aws: LocalAws) -> None:
    # GIVEN demo targets (tag discovery) and four broken targets in one execution
    # WHEN it runs (fixture) THEN it SUCCEEDS, with one record per target, none dropped
    targets = targets_by_name(mixed_run)
    assert {MISSING, NOT_WARM_AWARE, RAISING, THROTTLED_TO_ZERO, *DEMO_TARGETS} <= set(targets)
    assert mixed_run.output["totals"]["targets"] == mixed_run.output["targets_total"] == len(targets)
    # AND the full report in the state store has the same targets with the same verdicts
    report = report_of(shared_aws, mixed_run)
    assert {t["function"]: t["status"] for t in report["targets"]} == {n: t["status"] for n, t in targets.items()}
    # AND the healthy targets were warmed as if nothing else had happened
    for name in DEMO_TARGETS:
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


def test_a_target_throttled_to_zero_costs_a_bounded_number_of_throttles(mixed_run: ExecutionRun,
                                                                        shared_aws: LocalAws) -> None:
    # GIVEN reserved concurrency 0 (GetAccountSettings cannot show it: a reservation of 0 leaves the
    # unreserved limit unchanged, so Collect may not read GetFunctionConcurrency for it)
    record = targets_by_name(mixed_run)[THROTTLED_TO_ZERO]
    stats = shared_aws.runtime.stats[THROTTLED_TO_ZERO]
    # THEN no environment was reached and no invocation ran
    assert record["distinct_envs"] == 0 and stats.invocations == 0
    if record["status"] == "skipped":  # the budget saw the reservation: not one ping
        assert record["requested"] == 0 and "reserved" in record["reason"] and stats.throttles == 0
    else:  # pinged: every throttle counted, retrying stopped after a few rounds, said in the reason
        assert record["status"] == "throttled" and "throttled on every ping" in record["reason"]
        assert record["throttled"] == stats.ping_throttles <= 3 * record["requested"]
    limit = boto3.client("lambda", region_name=shared_aws.stack.region).get_function_concurrency(
        FunctionName=THROTTLED_TO_ZERO)
    assert limit["ReservedConcurrentExecutions"] == 0


# --- malformed execution inputs, through the state machine's Validate Input --------------------------------

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
    ({"targets": ["   "]}, "targets[0]"),  # a string entry is the function name itself
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
    # counts above the stack's MaxWarm, a qualifier with a trailing newline
    ({"targets": [{"function": "x", "max": 100000}]}, "targets[0].max"),
    ({"targets": [{"function": "x", "qualifier": "live\n"}]}, "targets[0].qualifier"),
    # prices and budgets
    ({"price_per_cold_start": -1}, "price_per_cold_start"),
    ({"targets": [{"function": "x", "price_per_cold_start": "0.1"}]}, "targets[0].price_per_cold_start"),
    ({"monthly_budget_usd": -5}, "monthly_budget_usd"),
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
