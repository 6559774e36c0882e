"""Summarize handler under moto (S3 state bucket): records, report, lease, EMF metrics with the Stack dimension,
the top-up round, and a save that loses to another run."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from thermostat.records import record_from_json
from thermostat.store import StateStore

BUCKET = "thermostat-state-test"
STACK = "thermostat-test-stack"
SR, SSM = "thermostat-demo-schema-registry", "thermostat-demo-ssm-config"


def emf_documents(out: str) -> list[dict[str, Any]]:
    return [doc for doc in (json.loads(line) for line in out.splitlines() if line.startswith("{")) if "_aws" in doc]


@pytest.fixture
def store(aws: None, monkeypatch: Any) -> StateStore:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("THERMOSTAT_STATE_BUCKET", BUCKET)
    monkeypatch.setenv("THERMOSTAT_STACK_NAME", STACK)
    return StateStore(s3, BUCKET)


def with_lease(store: StateStore, event: dict[str, Any]) -> dict[str, Any]:
    """The event with a lease this run really holds (as Collect Metrics would have taken it)."""
    lease = store.acquire(event["run"]["id"], event["run"]["started_at_ms"] + 1000, 600_000)
    event["lease"] = lease.to_dict()
    return event


def test_final_report_keeps_records_writes_the_report_releases_the_lease_and_emits_metrics(
        store: StateStore, load_handler: Any, load_event: Any, context: Any, capsys: Any) -> None:
    # GIVEN events/summarize.json (Plan output + the Map's warm_results, everything warmed) and the run's lease
    event = with_lease(store, load_event("summarize.json"))
    # WHEN the handler runs
    out = load_handler("summarize").handler(event, context)
    docs = emf_documents(capsys.readouterr().out)
    # THEN the run is ok, needs no top-up, and its full report is in the bucket
    assert (out["status"], out["topup_needed"], out["totals"]["distinct_envs"]) == ("ok", False, 9)
    report = store.get_run_report(event["run"]["run_name"])
    assert report is not None and [t["key"] for t in report["targets"]] == [SR, SSM]
    assert out["report_key"] == store.run_doc_key(event["run"]["run_name"], "report")
    # AND the answers are in the records (saved conditionally), the memo too
    records = store.load().records
    assert record_from_json(records[SR]).pings == [(event["release_at_ms"], 6)]
    assert record_from_json(records[SR]).model == event["forecast"]["inline"]["memos"][SR]
    # AND the lease is released: another run can take it at once
    assert store.acquire("another-run", event["run"]["started_at_ms"] + 2000, 60_000).acquired
    # AND one EMF document of run totals (dimension Stack) and one per target (Stack, Target), namespace Thermostat
    dims = sorted(tuple(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) for d in docs)
    assert dims == [("Stack",), ("Stack", "Target"), ("Stack", "Target")]
    assert {d["Stack"] for d in docs} == {STACK} and {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in docs} \
        == {"Thermostat"}
    [run] = [d for d in docs if "Target" not in d]
    assert (run["PingsRequested"], run["DistinctEnvironments"], run["Degraded"], run["Overlap"]) == \
        ([9.0], [9.0], [0.0], [0.0])
    assert run["RunCostUsd"][0] > run["PingCostUsd"][0] > 0


def test_a_short_target_gets_one_topup_and_metrics_wait_for_it(
        store: StateStore, load_handler: Any, load_event: Any, context: Any, capsys: Any) -> None:
    # GIVEN a batch result where SR got 2 of its 6 environments
    event = with_lease(store, load_event("summarize.json"))
    outcome = event["warm_results"][0]["result"]["inline"][0]
    outcome["answers"] = outcome["answers"][:2]
    app = load_handler("summarize")
    # WHEN the handler runs
    first = app.handler(event, context)
    # THEN a top-up round 1 is asked for, metrics wait for the final round, the lease is still held
    assert first["topup_needed"] is True and first["run"]["round"] == 1 and len(first["batches"]) == 1
    assert emf_documents(capsys.readouterr().out) == []
    assert not store.acquire("another-run", event["run"]["started_at_ms"] + 2000, 60_000).acquired
    # WHEN the top-up round's result comes back (4 more environments) and Summarize runs again
    [item] = first["batches"]
    batch = item["doc"]["inline"]
    answers = [[f"new{i}", True, 40.0, 0.0, 0, None, None, 150.0] for i in range(4)]
    second_in = dict(first, warm_settings={"max_concurrency": 10}, warm_results=[{
        "batch": 0, "round": 1, "pings": 6, "answered": 4, "distinct": 4, "throttled": 0, "errors": 0,
        "result": {"inline": [{**outcome, "answers": answers, "release_at_ms": batch["release_at_ms"]}]}}])
    second = app.handler(json.loads(json.dumps(second_in)), context)
    # THEN SR is warmed with 6 distinct environments over the two rounds, metrics are emitted once, lease released
    sr = {t["key"]: t for t in second["targets"]}[SR]
    assert (sr["distinct_envs"], sr["rounds"], sr["status"]) == (6, 2, "warmed") and second["topup_needed"] is False
    assert len(emf_documents(capsys.readouterr().out)) == 3
    assert store.acquire("another-run", event["run"]["started_at_ms"] + 3000, 60_000).acquired


def test_a_save_that_loses_to_another_run_is_reported_as_a_conflict(
        store: StateStore, load_handler: Any, load_event: Any, context: Any, monkeypatch: Any, capsys: Any) -> None:
    # GIVEN Summarize loads the records, then another run saves before Summarize does
    event = with_lease(store, load_event("summarize.json"))
    stale = store.load()
    store.save(stale, {"other:live": {"v": 1}}, run="another-run")
    monkeypatch.setattr(StateStore, "load", lambda self, known_count_hint=None: stale)
    # WHEN the handler runs
    out = load_handler("summarize").handler(event, context)
    # THEN status conflict (not a failed execution), the report still written, the other run's records stand
    assert out["status"] == "conflict" and out["report_key"]
    assert "another run wrote" in " ".join(out["degraded"])
    monkeypatch.undo()
    assert set(store.load().records) == {"other:live"}
    [run] = [d for d in emf_documents(capsys.readouterr().out) if "Target" not in d]
    assert run["Overlap"] == [1.0]
