"""The fault matrix: one row per fault, each on its own embedded AWS, each ending in a succeeded-or-degraded
run with nothing lost from the report and no real request throttled.

Every row: a healthy run of the demo input, one schedule period (5 min, fake clock), then the row's fault
(``LocalAws.set_faults``) and a second run while the demo targets get real traffic in the background. What
each row found — outcome, real throttles caused, what the report says — is printed (``pytest -s``) and
kept in ``out/fault-matrix.md`` (one table; rows of other workers and earlier sessions merged in).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from thermostat.local.faults import FaultPlan
from thermostat.local.session import ExecutionRun, LocalAws
from thermostat.local.traffic import steady
from thermostat_target.protocol import make_ping

from .conftest import (
    DEMO_TARGETS,
    HANDLER_TARGET,
    REPO,
    SCHEMA_TARGET,
    SSM_TARGET,
    LocalAwsFactory,
    load_event,
    report_of,
    state_objects,
    state_store,
)
from .matrix import Observed, observe, write_matrix

pytestmark = pytest.mark.slow

PERIOD_S = 300
TRAFFIC = steady(6, 2)  # real requests per minute (2 concurrent) to each demo target while the faulty run runs
READ_TIMEOUT_S = 15  # functions/warm_batch/app.py: hold cap 2 s + init allowance 10 s + 3 s


@dataclass(frozen=True)
class Row:
    id: str
    fault: str  # in words, for the table
    faults: dict[str, Any] = field(default_factory=dict)
    status: tuple[str, ...] = ("ok",)  # acceptable run statuses
    check: Callable[[Observed, ExecutionRun, LocalAws], None] | None = None
    traffic: tuple[str, ...] = DEMO_TARGETS  # the functions with real traffic while the run runs


def _warmed(names: tuple[str, ...], last_plan: bool = False) -> Callable[[Observed, ExecutionRun, LocalAws], None]:
    def check(seen: Observed, first: ExecutionRun, aws: LocalAws) -> None:
        before = {t["function"]: t["requested"] for t in first.output["targets"]}
        for name in names:
            target = seen.targets[name]
            assert target["status"] == "warmed" and target["distinct_envs"] == target["requested"] >= 1, target
            if last_plan:  # planned from the last plan (5 min old: made within the account's budget then)
                assert target["requested"] == before[name] and target["term"] == "fallback", (target, before)
    return check


def _fell_back(state: str) -> Callable[[Observed, ExecutionRun, LocalAws], None]:
    def check(seen: Observed, first: ExecutionRun, aws: LocalAws) -> None:
        assert any(r.startswith(f"{state} failed") for r in seen.degraded), seen.degraded
        _warmed(DEMO_TARGETS, last_plan=True)(seen, first, aws)
    return check


def _unknown_account(words: str) -> Callable[[Observed, ExecutionRun, LocalAws], None]:
    def check(seen: Observed, first: ExecutionRun, aws: LocalAws) -> None:
        assert any(words in r for r in seen.degraded), seen.degraded
        for name in DEMO_TARGETS:  # no assumed limit: not one ping to an unreserved target, each one said why
            target = seen.targets[name]
            assert target["requested"] == 0 and target["limited_by"] == "unknown_limits", target
            assert target["status"] == "skipped" and target["desired"] >= 1
            assert seen.pings[name] == (0, 0)
    return check


def _account_denied(seen: Observed, first: ExecutionRun, aws: LocalAws) -> None:
    _unknown_account("GetAccountSettings")(seen, first, aws)
    collected = next(json.loads(e["stateExitedEventDetails"]["output"]) for e in seen.run.events
                     if e.get("stateExitedEventDetails", {}).get("name") == "Collect Metrics")
    assert collected["account"]["limit"] is None and collected["account"]["unreserved_limit"] is None


def _store_unwritable(seen: Observed, first: ExecutionRun, aws: LocalAws) -> None:
    assert any("not written" in r for r in seen.degraded), seen.degraded
    _warmed(DEMO_TARGETS)(seen, first, aws)


def _throttled_all(seen: Observed, first: ExecutionRun, aws: LocalAws) -> None:
    target = seen.targets[SSM_TARGET]
    pings, throttles = seen.pings[SSM_TARGET]
    assert target["status"] == "throttled" and target["distinct_envs"] == 0, target
    assert target["throttled"] == throttles >= target["requested"]  # every throttle counted ...
    assert throttles <= 3 * target["requested"] and pings == 0  # ... and bounded: 3 per ping at most
    assert seen.wall_s < 15, seen.wall_s  # the run ends quickly
    seen.note = f"{throttles} throttle responses for {target['requested']} pings, all counted; run {seen.wall_s:.1f} s"
    _warmed((SCHEMA_TARGET, HANDLER_TARGET))(seen, first, aws)


def _throttled_first(seen: Observed, first: ExecutionRun, aws: LocalAws) -> None:
    target = seen.targets[HANDLER_TARGET]
    assert target["throttled"] == seen.pings[HANDLER_TARGET][1] == 3, target
    seen.note = "3 throttles retried with full jitter, all counted"
    _warmed(DEMO_TARGETS)(seen, first, aws)


def _slow(seen: Observed, first: ExecutionRun, aws: LocalAws) -> None:
    time.sleep(3)  # the timed-out invocations finish on their own (the client stopped waiting at 15 s)
    target = seen.targets[SSM_TARGET]
    invoked = aws.counters(since=seen.before)[SSM_TARGET].ping_invocations
    assert invoked == target["requested"] >= 1, (invoked, target)  # one ping = one invocation
    seen.note = f"{invoked} invocations for {target['requested']} pings (one each: no SDK retry)"
    assert target["status"] == "failed" and target["errors"] == target["requested"]
    assert "timed out" in target["reason"] and "ReadTimeout" in target["reason"], target["reason"]
    _warmed((SCHEMA_TARGET, HANDLER_TARGET))(seen, first, aws)


ROWS = [
    Row("collect-raises-once", "Collect Metrics raises once",
        {"functions": {"CollectMetricsFunction": {"error": "RuntimeError", "message": "injected", "times": 1}}},
        ("degraded",), _fell_back("Collect Metrics")),
    Row("collect-times-out", "Collect Metrics times out (once)",
        {"functions": {"CollectMetricsFunction": {"timeout": True, "times": 1}}}, ("degraded",),
        _fell_back("Collect Metrics")),
    Row("forecast-raises-once", "Forecast raises once",
        {"functions": {"ForecastFunction": {"error": "RuntimeError", "message": "injected", "times": 1}}},
        ("degraded",), _fell_back("Forecast")),
    Row("forecast-times-out", "Forecast times out (once)",
        {"functions": {"ForecastFunction": {"timeout": True, "times": 1}}}, ("degraded",), _fell_back("Forecast")),
    Row("cloudwatch-unavailable", "CloudWatch GetMetricData unavailable (every call)",
        {"aws": {"cloudwatch:GetMetricData": {"error": "ServiceUnavailable"}}}, ("degraded",),
        _unknown_account("CloudWatch unavailable")),
    Row("account-settings-denied", "GetAccountSettings denied",
        {"aws": {"lambda:GetAccountSettings": {"error": "AccessDeniedException"}}}, ("degraded",), _account_denied),
    Row("s3-collect-unavailable", "S3 unavailable to Collect Metrics (every call)",
        {"aws": {"s3:*": {"error": "ServiceUnavailable", "functions": ["CollectMetricsFunction"]}}},
        ("degraded",), _fell_back("Collect Metrics")),
    Row("s3-summarize-slowdown", "S3 PutObject SlowDown for Summarize (records, report, lease)",
        {"aws": {"s3:PutObject": {"error": "SlowDown", "functions": ["SummarizeFunction"]}}}, ("degraded",),
        _store_unwritable),
    Row("overlap", "two executions overlap (the second starts while the first warms)", {}, ("overlap",)),
    Row("throttle-all", "every ping to one target throttled (throttle_all)",
        {"functions": {SSM_TARGET: {"throttle_all": True}}}, ("ok",), _throttled_all),
    Row("throttle-first", "a target's first 3 invokes throttled",
        {"functions": {HANDLER_TARGET: {"throttle_first": 3}}}, ("ok",), _throttled_first,
        traffic=(SCHEMA_TARGET, SSM_TARGET)),  # the fault throttles real requests too: not this function's
    Row("slow-target", f"a target slower than the Warm Batch read timeout ({READ_TIMEOUT_S} s)",
        {"functions": {SSM_TARGET: {"latency_ms": (READ_TIMEOUT_S + 1) * 1000}}}, ("ok",), _slow,
        traffic=(SCHEMA_TARGET, HANDLER_TARGET)),
    Row("forged-ping", "a ping-shaped event invoked without the ClientContext marker", {}, ("ok",),
        _warmed(DEMO_TARGETS)),
]


def _overlap(aws: LocalAws, demo: Any) -> tuple[Observed, Any]:
    """Start A; once its Collect saved the records (it holds the lease), run B to the end; then let A finish."""
    first = aws.start(demo)
    deadline = time.monotonic() + 60
    while not any(e.get("stateExitedEventDetails", {}).get("name") == "Collect Metrics" for e in aws.history(first)):
        assert time.monotonic() < deadline, "the first execution never left Collect Metrics"
        time.sleep(0.02)
    objects = state_objects(aws)
    seen = observe(aws, demo, None)
    sfn = boto3.client("stepfunctions", region_name=aws.stack.region)
    a_running = sfn.describe_execution(executionArn=first)["status"] == "RUNNING"
    after_b = state_objects(aws)
    a_done = aws.wait(first, 120)
    return seen, (first, objects, after_b, a_running, a_done)


def _check_overlap(aws: LocalAws, seen: Observed, extra: Any) -> None:
    first, objects, after_b, a_running, a_done = extra
    out = seen.run.output
    assert out["targets"] == [] and out["totals"]["requested"] == 0 and seen.pings_total == 0
    assert f"overlap: another run ({first}) holds the lease until" in out["summary"], out["summary"]
    if a_running:  # B came and went while A worked: B wrote nothing to the state store
        assert after_b == objects
    s3 = boto3.client("s3", region_name=aws.stack.region)
    bucket = state_store(aws).bucket
    versions = s3.list_object_versions(Bucket=bucket, Prefix="thermostat/state/").get("Versions", [])
    for version in versions:  # nothing B wrote, ever, and the lease A released
        body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
        assert seen.run.arn.encode() not in body, version["Key"]
    assert a_done["status"] == "SUCCEEDED" and json.loads(a_done["output"])["status"] == "ok"
    seen.note = (f"state objects unchanged by it ({'same ETags while the first ran; ' if a_running else ''}"
                 f"none of {len(versions)} object versions written by it); the first run ended ok")


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_fault_matrix(local_aws: LocalAwsFactory, row: Row) -> None:
    demo = load_event("manual-run.json")
    with local_aws() as aws:
        # GIVEN a healthy run, and one schedule period later the row's fault
        first = aws.run(demo, timeout_s=120)
        assert first.status == "SUCCEEDED" and first.output["status"] == "ok", first.output
        aws.advance(PERIOD_S)
        aws.set_faults(FaultPlan.from_dict(row.faults) if row.faults else FaultPlan())
        extra: Any = None
        # WHEN the next run runs (with real traffic to the demo targets in the background)
        if row.id == "overlap":
            seen, extra = _overlap(aws, demo)
        else:
            if row.id == "forged-ping":
                seen_forged = _forge_ping(aws)
            seen = observe(aws, demo, {name: TRAFFIC for name in row.traffic})
            if row.id == "forged-ping":
                seen.note = seen_forged
        try:
            # THEN it succeeded (ok, degraded or overlap as the row says) with no real request throttled
            assert seen.run.status == "SUCCEEDED", (seen.run.describe.get("error"), seen.run.describe.get("cause"))
            assert seen.status in row.status, (seen.status, seen.degraded)
            assert seen.real_throttles == {}, seen.real_throttles
            # AND nothing lost: every target of the healthy run is in the output, and in the report when written
            if row.id == "overlap":
                _check_overlap(aws, seen, extra)
                return
            assert {t["function"] for t in first.output["targets"]} <= set(seen.targets)
            if seen.run.output["report_key"] is not None:
                report = report_of(aws, seen.run)
                assert {t["function"] for t in report["targets"]} == set(seen.targets)
                assert report["status"] == seen.status and report["degraded"] == seen.degraded
            assert row.check is not None
            row.check(seen, first, aws)
        finally:
            write_matrix(REPO / "out" / "fault-matrix.md", [r.id for r in ROWS], row.id, row.fault, seen)


def _forge_ping(aws: LocalAws) -> str:
    """A ping-shaped event sent with a plain Invoke (no ClientContext marker), as any event source would;
    what happened, for the table."""
    client = boto3.client("lambda", region_name=aws.stack.region)
    mark = aws.runtime.invocation_count
    ping = make_ping(run="forged", batch=0, slot=0, of=1, release_at_ms=int(time.time() * 1000) + 1500,
                     max_hold_ms=2000, refresh=True, period_s=86_400)
    answer = json.loads(client.invoke(FunctionName=SCHEMA_TARGET, Payload=json.dumps(ping).encode())["Payload"].read())
    # the handler ran on it (its own answer, not a ping answer), it was counted as a real request, no hold
    assert "thermostat" not in answer and answer.get("published") is False, answer
    record = aws.runtime.records_since(mark)[-1]
    assert record.function == SCHEMA_TARGET and not record.ping and record.duration_ms < 1000
    return (f"the forged ping reached the handler (answer {json.dumps(answer, separators=(',', ':'))[:80]}), "
            f"counted as a real request, {record.duration_ms:.0f} ms, no hold")
