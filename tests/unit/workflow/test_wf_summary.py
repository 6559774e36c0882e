"""Summarize: merge of batch results and failed batches, statuses, cost, top-up decision, text and EMF."""

from __future__ import annotations

import json
from typing import Any

import pytest

from thermostat import cost, models
from thermostat.config import PlanSettings, SummarySettings
from thermostat.emf import emit
from thermostat.exceptions import ConfigurationError, InvalidInputError
from thermostat.planning import TOPUP_LEAD_FACTOR, PingRequest, plan_topup
from thermostat.summary import METRICS_PER_TARGET, summarize
from thermostat.summary_output import metric_groups

NOW = 1_763_800_030_000
SETTINGS = SummarySettings(plan=PlanSettings(lead_ms=1500))
SR, SSM, GONE = "thermostat-demo-schema-registry", "thermostat-demo-ssm-config", "thermostat-demo-retired"


def by_name(state: models.ReportState) -> dict[str, models.TargetReport]:
    return {r["function"]: r for r in state["targets"]}


def outcome(function: str, envs: list[str], *, requested: int | None = None, cold: list[str] | None = None,
            throttled: int = 0, throttled_final: int = 0, errors: int = 0, samples: list[str] | None = None,
            billed: float = 1000.0, qualifier: str | None = None) -> models.PingOutcome:
    return {"function": function, "qualifier": qualifier, "requested": len(envs) if requested is None else requested,
            "answered": len(envs), "envs": envs, "cold_envs": cold or [], "throttled": throttled,
            "throttled_final": throttled_final, "errors": errors, "error_samples": samples or [],
            "hold_ms_max": 1200.0, "billed_ms": billed}


def with_results(event: dict[str, Any], *results: Any) -> dict[str, Any]:
    event["warm_results"] = list(results)
    return event


def test_sample_event_all_warmed(load_event: Any) -> None:
    # GIVEN events/summarize.json (every ping answered from its own environment)
    event = load_event("summarize.json")
    report = summarize(event, SETTINGS, NOW)
    targets = by_name(report)
    # THEN both targets are warmed with their environments counted, the missing function keeps its error
    assert (targets[SR]["status"], targets[SR]["distinct_envs"], targets[SR]["requested"]) == ("warmed", 6, 6)
    assert (targets[SSM]["status"], targets[SSM]["distinct_envs"], targets[SSM]["cold_inits"]) == ("warmed", 3, 1)
    assert targets[GONE]["status"] == "error" and targets[GONE]["reason"].startswith("FunctionNotFound")
    # AND cost comes from thermostat.cost at each target's memory
    [result] = event["warm_results"]
    sr = next(o for o in result["results"] if o["function"] == SR)
    assert targets[SR]["cost_usd"] == pytest.approx(cost.lambda_invocation_usd(256, sr["billed_ms"] / 6, 6))
    # AND totals add up, no top-up, env ids and memory are not in the final output
    totals = report["totals"]
    assert (totals["targets"], totals["requested"], totals["distinct_envs"], totals["cold_inits"]) == (3, 9, 9, 2)
    assert totals["cost_usd"] == pytest.approx(targets[SR]["cost_usd"] + targets[SSM]["cost_usd"])
    assert report["topup_needed"] is False and report["batches"] == [] and report["run"]["round"] == 0
    assert all("envs" not in r and "memory_mb" not in r for r in report["targets"])
    # AND the orchestration estimate is GetMetricData of the readable targets + Standard transitions
    expected = (cost.get_metric_data_usd(METRICS_PER_TARGET * 2)
                + cost.sfn_standard_usd(cost.standard_run_transitions(len(event["warm_results"]))))
    assert totals["orchestration_cost_usd"] == pytest.approx(expected)


def test_summary_text_has_a_header_and_one_line_per_target(load_event: Any) -> None:
    report = summarize(load_event("summarize.json"), SETTINGS, NOW)
    lines = report["summary"].splitlines()
    assert len(lines) == 1 + len(report["targets"])
    assert "9/9 environments warm" in lines[0] and "STANDARD" in lines[0]
    assert lines[1].startswith("warmed") and SR in lines[1] and "6/6 envs" in lines[1]
    assert lines[3].startswith("error") and "FunctionNotFound" in lines[3]


def test_express_orchestration_is_billed_by_duration(load_event: Any) -> None:
    event = load_event("summarize.json")
    report = summarize(event, SummarySettings(workflow_type="EXPRESS"), NOW)
    expected = (cost.get_metric_data_usd(METRICS_PER_TARGET * 2)
                + cost.sfn_express_usd(1, NOW - event["run"]["started_at_ms"]))
    assert report["totals"]["orchestration_cost_usd"] == pytest.approx(expected)


def test_environments_are_unioned_across_batches(load_event: Any) -> None:
    # GIVEN one target spanning two batches, one environment answering in both
    event = with_results(load_event("summarize.json"),
                         {"batch": 0, "round": 0, "results": [outcome(SR, ["a", "b", "c"], cold=["a", "b", "c"]),
                                                              outcome(SSM, ["x", "y", "z"])]},
                         {"batch": 1, "round": 0, "results": [outcome(SR, ["c", "d", "e"], cold=["d", "e"])]})
    report = summarize(event, SETTINGS, NOW)
    # THEN distinct counts the union (5 of 6 requested) and cold inits add up
    sr = by_name(report)[SR]
    assert (sr["distinct_envs"], sr["cold_inits"], sr["status"]) == (5, 5, "partial")
    assert "no overlap" in sr["reason"]


def test_a_failed_batch_becomes_a_record_for_each_of_its_targets(load_event: Any) -> None:
    # GIVEN the Map's Catch turned the only batch into a FailedBatch (a Lambda error, JSON cause)
    event = load_event("summarize.json")
    batch = event["batches"][0]
    cause = json.dumps({"errorMessage": "Task timed out after 90.00 seconds", "errorType": "Sandbox.Timedout"})
    with_results(event, {"failed": True, "batch": batch, "error": "Sandbox.Timedout", "cause": cause})
    report = summarize(event, SETTINGS, NOW)
    # THEN both targets are failed with the error and the readable cause; errors count their pings; no top-up
    for name, count in ((SR, 6), (SSM, 3)):
        target = by_name(report)[name]
        assert target["status"] == "failed"
        assert "batch 0 failed: Sandbox.Timedout: Task timed out after 90.00 seconds" in target["reason"]
        assert target["errors"] == count and target["distinct_envs"] == 0
    assert report["topup_needed"] is False
    assert by_name(report)[GONE]["status"] == "error"


def test_shortfall_plans_one_topup_with_the_full_request_and_a_longer_lead(load_event: Any) -> None:
    # GIVEN SR got 4 of 6 environments (2 pings stayed throttled) and SSM all 3
    event = with_results(load_event("summarize.json"), {"batch": 0, "round": 0, "results": [
        outcome(SR, ["a", "b", "c", "d"], requested=6, cold=["a"], throttled=9, throttled_final=2),
        outcome(SSM, ["x", "y", "z"])]})
    report = summarize(event, SETTINGS, NOW)
    sr = by_name(report)[SR]
    # THEN SR is partial, a top-up round 1 is planned for SR only, sending its full request again
    assert sr["status"] == "partial" and "2 pings stayed throttled" in sr["reason"]
    assert report["topup_needed"] is True and report["run"]["round"] == 1
    assert {(g["function"], g["count"]) for b in report["batches"] for g in b["pings"]} == {(SR, 6)}
    assert all(b["round"] == 1 for b in report["batches"])
    assert report["batches"][0]["release_at_ms"] == NOW + SETTINGS.plan.lead_ms * TOPUP_LEAD_FACTOR
    expected = plan_topup([PingRequest(SR, None, 6)], {**event["run"], "round": 1}, SETTINGS.plan, NOW)
    assert report["batches"] == expected
    # AND SR keeps its env ids for the union; the others do not carry them
    assert sr["envs"] == ["a", "b", "c", "d"] and "envs" not in by_name(report)[SSM]
    assert report["summary"].splitlines()[-1].startswith("top-up: 1 target(s) short")


def test_topup_round_merges_into_the_same_reports_and_never_asks_again(load_event: Any) -> None:
    # GIVEN round 0 left SR short and planned a top-up
    first = summarize(with_results(load_event("summarize.json"), {"batch": 0, "round": 0, "results": [
        outcome(SR, ["a", "b", "c", "d"], requested=6, cold=["a", "b", "c", "d"], throttled_final=2),
        outcome(SSM, ["x", "y", "z"])]}), SETTINGS, NOW)
    # WHEN the top-up answers from 5 environments, 3 of them already warm
    second_in = dict(first)
    second_in["warm_settings"] = {"max_concurrency": 10}
    second_in["warm_results"] = [{"batch": 0, "round": 1, "results": [
        outcome(SR, ["a", "b", "c", "e", "f"], requested=6, cold=["e", "f"], throttled_final=1)]}]
    second = summarize(second_in, SETTINGS, NOW + 20_000)
    sr = by_name(second)[SR]
    # THEN the union is 6 environments: warmed, 2 rounds, cold inits add up; SSM is untouched
    assert (sr["distinct_envs"], sr["status"], sr["rounds"], sr["cold_inits"]) == (6, "warmed", 2, 6)
    assert by_name(second)[SSM] == by_name(first)[SSM]
    assert second["topup_needed"] is False and second["batches"] == [] and second["run"]["round"] == 1
    assert "envs" not in sr
    # AND orchestration grew by the top-up's transitions; totals were recomputed
    extra = cost.standard_run_transitions(1, rounds=2) - cost.standard_run_transitions(0)
    assert second["totals"]["orchestration_cost_usd"] == pytest.approx(
        first["totals"]["orchestration_cost_usd"] + cost.sfn_standard_usd(extra))
    assert second["totals"]["distinct_envs"] == 9


def test_still_short_after_the_topup_is_reported_not_retried(load_event: Any) -> None:
    first = summarize(with_results(load_event("summarize.json"), {"batch": 0, "round": 0, "results": [
        outcome(SR, [], requested=6, throttled=30, throttled_final=6), outcome(SSM, ["x", "y", "z"])]}),
        SETTINGS, NOW)
    assert by_name(first)[SR]["status"] == "throttled" and first["topup_needed"]
    second_in = {**first, "warm_results": [{"batch": 0, "round": 1, "results": [
        outcome(SR, ["a"], requested=6, throttled_final=5)]}]}
    second = summarize(second_in, SETTINGS, NOW)
    sr = by_name(second)[SR]
    assert (sr["status"], sr["distinct_envs"], second["topup_needed"]) == ("partial", 1, False)


def test_throttled_failed_batch_is_eligible_for_the_topup(load_event: Any) -> None:
    event = load_event("summarize.json")
    with_results(event, {"failed": True, "batch": event["batches"][0], "error": "TargetThrottledError",
                         "cause": json.dumps({"errorMessage": "batch 0: all 9 pings stayed throttled"})})
    report = summarize(event, SETTINGS, NOW)
    assert {r["status"] for r in report["targets"] if r["function"] != GONE} == {"throttled"}
    assert report["topup_needed"] is True


def test_errors_make_a_failed_target_without_topup(load_event: Any) -> None:
    event = with_results(load_event("summarize.json"), {"batch": 0, "round": 0, "results": [
        outcome(SR, [], requested=6, errors=6, samples=["NotWarmAwareError: not a Thermostat answer"]),
        outcome(SSM, ["x", "y", "z"])]})
    report = summarize(event, SETTINGS, NOW)
    sr = by_name(report)[SR]
    assert sr["status"] == "failed" and "NotWarmAwareError" in sr["reason"] and sr["errors"] == 6
    assert report["topup_needed"] is False


def test_a_target_without_any_result_is_failed_not_dropped(load_event: Any) -> None:
    event = with_results(load_event("summarize.json"),
                         {"batch": 0, "round": 0, "results": [outcome(SSM, ["x", "y", "z"])]})
    sr = by_name(summarize(event, SETTINGS, NOW))[SR]
    assert sr["status"] == "failed" and "no result came back" in sr["reason"]


def test_dry_run_marks_targets_planned(load_event: Any) -> None:
    event = with_results(load_event("summarize.json"))
    event["request"]["dry_run"] = True
    report = summarize(event, SETTINGS, NOW)
    assert by_name(report)[SR]["status"] == "planned" and not report["topup_needed"]
    assert "[dry run" in report["summary"]


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda e: e.pop("plan"), "$"),
    (lambda e: e.update(run=None), "$"),
    (lambda e: e.update(warm_results={}), "warm_results"),
    (lambda e: e.update(warm_results=[3]), "warm_results[0]"),
    (lambda e: e.update(warm_results=[{"batch": 0}]), "warm_results[0].results"),
    (lambda e: e.update(warm_results=[{"failed": True, "error": "X", "cause": ""}]), "warm_results[0].batch"),
])
def test_bad_summarize_input_names_the_field(load_event: Any, mutate: Any, path: str) -> None:
    event = load_event("summarize.json")
    mutate(event)
    with pytest.raises(InvalidInputError) as caught:
        summarize(event, SETTINGS, NOW)
    assert caught.value.path == path


# --- EMF ---------------------------------------------------------------------------------------------


class RunMetrics:
    def __init__(self) -> None:
        self.added: list[tuple[str, str, float]] = []

    def add_metric(self, name: str, unit: str, value: float) -> None:
        self.added.append((name, unit, value))


def test_metric_groups_per_target_and_run(load_event: Any) -> None:
    report = summarize(load_event("summarize.json"), SETTINGS, NOW)
    groups = metric_groups(report)
    assert [dict(g.dimensions) for g in groups[:-1]] == [{"FunctionName": r["function"]} for r in report["targets"]]
    assert groups[-1].dimensions == ()
    sr = {name: value for name, _, value in groups[0].values}
    assert sr == {"PingsRequested": 6, "DistinctEnvironments": 6, "ColdInits": 1, "Throttled": 2, "Errors": 0,
                  "WarmingCostUSD": by_name(report)[SR]["cost_usd"]}


def test_qualified_target_gets_a_resource_dimension(load_event: Any) -> None:
    report = summarize(load_event("summarize.json"), SETTINGS, NOW)
    report["targets"][0]["qualifier"] = "live"
    assert dict(metric_groups(report)[0].dimensions) == {"FunctionName": SR, "Resource": f"{SR}:live"}


def test_emit_prints_one_emf_document_per_target_in_our_namespace(load_event: Any, capsys: Any) -> None:
    # GIVEN a final report WHEN its metrics are emitted
    report = summarize(load_event("summarize.json"), SETTINGS, NOW)
    run = RunMetrics()
    printed = emit(metric_groups(report), "Thermostat", run)  # type: ignore[arg-type]
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    # THEN one EMF document per target, namespace Thermostat, dimension FunctionName only (no service)
    assert printed == len(docs) == 3
    for doc, target in zip(docs, report["targets"], strict=True):
        [directive] = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Thermostat"
        assert directive["Dimensions"] == [["FunctionName"]]
        assert doc["FunctionName"] == target["function"]
        assert doc["DistinctEnvironments"] == [float(target["distinct_envs"])]
    # AND the run totals go to the handler's Metrics
    assert ("DistinctEnvironments", "Count", 9.0) in run.added and ("Targets", "Count", 3.0) in run.added


@pytest.mark.parametrize("namespace", ["", "AWS/Lambda"])
def test_emit_refuses_a_namespace_that_is_not_ours(namespace: str) -> None:
    with pytest.raises(ConfigurationError):
        emit([], namespace, RunMetrics())  # type: ignore[arg-type]


def test_per_target_metrics_can_be_switched_off(load_event: Any) -> None:
    # GIVEN a report with targets WHEN per-target metrics are off THEN only the run totals remain
    report = summarize(load_event("summarize.json"), SummarySettings(), now_ms=0)
    groups = metric_groups(report, per_target=False)
    assert [g.dimensions for g in groups] == [()]
    assert len(metric_groups(report)) == len(report["targets"]) + 1
