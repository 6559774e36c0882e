"""Summarize handler under moto: report, summary text and EMF metrics in the Thermostat namespace."""

from __future__ import annotations

import json
from typing import Any


def emf_documents(out: str) -> list[dict[str, Any]]:
    return [doc for doc in (json.loads(line) for line in out.splitlines() if line.startswith("{")) if "_aws" in doc]


def test_final_report_emits_per_target_and_run_metrics(aws: None, load_handler: Any, load_event: Any,
                                                       context: Any, capsys: Any) -> None:
    # GIVEN events/summarize.json (Plan output + the Map's warm_results, everything warmed)
    event = load_event("summarize.json")
    # WHEN the handler runs
    report = load_handler("summarize").handler(event, context)
    docs = emf_documents(capsys.readouterr().out)
    # THEN the report covers every planned target and needs no top-up
    assert [t["function"] for t in report["targets"]] == [r["function"] for r in event["plan"]]
    assert report["topup_needed"] is False and report["totals"]["distinct_envs"] == 9
    assert report["summary"].splitlines()[0].startswith(f"Thermostat run {event['run']['name']}")
    # AND one EMF document per target (dimension FunctionName only) plus the run totals (service), all in
    # the Thermostat namespace
    per_target = [d for d in docs if "FunctionName" in d]
    run_level = [d for d in docs if "FunctionName" not in d]
    assert sorted(d["FunctionName"] for d in per_target) == sorted(t["function"] for t in report["targets"])
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["FunctionName"]] for d in per_target)
    [totals] = run_level
    assert totals["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert totals["DistinctEnvironments"] == [9.0] and totals["PingsRequested"] == [9.0]
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in docs} == {"Thermostat"}
    sr = next(d for d in per_target if d["FunctionName"] == "thermostat-demo-schema-registry")
    names = {m["Name"] for m in sr["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {"PingsRequested", "DistinctEnvironments", "ColdInits", "Throttled", "Errors", "WarmingCostUSD"}


def test_a_round_that_plans_a_topup_emits_nothing_yet(aws: None, load_handler: Any, load_event: Any,
                                                      context: Any, capsys: Any) -> None:
    # GIVEN a batch result where one target got 2 of its 6 environments
    event = load_event("summarize.json")
    event["warm_results"][0]["results"][0]["envs"] = ["a", "b"]
    event["warm_results"][0]["results"][0]["throttled_final"] = 4
    # WHEN the handler runs
    report = load_handler("summarize").handler(event, context)
    # THEN a top-up round 1 is asked for, and metrics wait for the final round (no double counting)
    assert report["topup_needed"] is True and report["run"]["round"] == 1 and report["batches"]
    assert emf_documents(capsys.readouterr().out) == []
