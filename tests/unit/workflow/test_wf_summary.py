"""Summarize: answers merged into the records, memos and plans stored, conflicts reported, one top-up round,
a small output at 5,000 targets, run statuses, and metrics that carry the Stack dimension."""

from __future__ import annotations

import copy
import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from thermostat.config import SummarySettings
from thermostat.emf import emit
from thermostat.exceptions import StateConflictError
from thermostat.records import new_record, record_from_json, record_to_json
from thermostat.store import Lease, Snapshot
from thermostat.summary import summarize
from thermostat.summary_output import RUN_METRICS, TARGET_METRICS, metric_groups

ROOT = Path(__file__).resolve().parents[3]
SR, SSM = "thermostat-demo-schema-registry", "thermostat-demo-ssm-config"
NOW = 1_763_800_012_000


class FakeStore:
    """The state store's interface, in memory: records, run documents, lease releases; a save may conflict."""

    def __init__(self, records: dict[str, dict[str, Any]] | None = None, conflict: bool = False) -> None:
        self.records = copy.deepcopy(records or {})
        self.conflict = conflict
        self.docs: dict[str, Any] = {}
        self.saves = 0
        self.released: list[Lease] = []

    def load(self, known_count_hint: int | None = None) -> Snapshot:
        return Snapshot(records=copy.deepcopy(self.records), generation=1, shards=1)

    def save(self, snapshot: Snapshot, records: dict[str, dict[str, Any]], *, run: str = "",
             now_ms: int | None = None) -> Snapshot:
        if self.conflict:
            raise StateConflictError("save", "thermostat/state/v1/manifest.json", "PreconditionFailed")
        self.saves += 1
        self.records = json.loads(json.dumps(records))
        return snapshot

    def put_run_doc(self, run_name: str, name: str, doc: Any) -> str:
        key = f"thermostat/runs/{run_name}/{name}.json"
        self.docs[key] = json.loads(json.dumps(doc, allow_nan=False))
        return key

    def get_run_doc(self, key: str) -> Any:
        return copy.deepcopy(self.docs[key])

    def release(self, lease: Lease, now_ms: int | None = None) -> bool:
        self.released.append(lease)
        return True


SETTINGS = SummarySettings()


def answer(env: str, cold: bool = False, held: float = 90.0, real: int | None = 1) -> list[Any]:
    return [env, cold, held, 0.0, real, 2000.0 if real else None, 300000.0, 150.0 if cold else 0.0]


def outcome(key: str, requested: int, answers: list[list[Any]], **extra: Any) -> dict[str, Any]:
    base = {"key": key, "function": key.split(":")[0], "qualifier": None, "requested": requested, "answers": answers,
            "throttled": 0, "throttled_final": 0, "errors": 0, "timeouts": 0, "error_samples": [],
            "send_ahead_ms": 100.0, "release_at_ms": NOW - 5000, "protocol": 2, "billed_ms": 92.0 * len(answers),
            "stopped": False}
    return {**base, **extra}


def with_results(event: dict[str, Any], *outcomes: dict[str, Any]) -> dict[str, Any]:
    event["warm_results"] = [{"batch": 0, "round": event["run"]["round"], "result": {"inline": list(outcomes)},
                              "pings": 0, "answered": 0, "distinct": 0, "throttled": 0, "errors": 0}]
    return event


def test_sample_event_is_summarized_and_answers_reach_the_records(load_event: Any) -> None:
    # GIVEN events/summarize.json (2 targets, every ping answered) and a store that already knows SR's record
    event = load_event("summarize.json")
    known = new_record(SR, SR, None, NOW - 3_600_000)
    store = FakeStore({SR: record_to_json(known)})
    # WHEN Summarize runs
    result = summarize(event, SETTINGS, store, NOW)
    out = result.output
    # THEN both targets are warmed, the run is ok, metrics are due and the lease is released
    assert [t["status"] for t in out["targets"]] == ["warmed", "warmed"] and out["status"] == "ok"
    assert (out["totals"]["distinct_envs"], out["totals"]["cold_inits"], out["topup_needed"]) == (9, 2, False)
    assert result.emit_metrics and [lease.run_id for lease in store.released] == [event["run"]["id"]]
    # AND the records hold the round: ping log, known environments, learned lead, memo, plan, last seen
    sr = record_from_json(store.records[SR])
    assert sr.pings[-1] == (event["release_at_ms"], 6) and len(sr.envs) == 6
    assert sr.send_ahead_ms is not None and sr.model == event["forecast"]["inline"]["memos"][SR]
    assert sr.last_plan is not None and (sr.last_plan.desired, sr.last_plan.model) == (6, "recent")
    assert sr.last_seen_ms == NOW
    # AND a new record was made for the target the store did not know
    assert record_from_json(store.records[SSM]).pings == [(event["release_at_ms"], 3)]
    # AND the full report was written, and its key is in the output
    assert store.docs[out["report_key"]]["targets"][0]["key"] == SR
    # AND hold median/max and cost come from the answers
    sr_report = out["targets"][0]
    assert (sr_report["hold_ms_median"], sr_report["hold_ms"]) == (95.0, 95.0)
    assert 0 < sr_report["cost_usd"] < 1e-5


def test_an_environment_the_warmer_never_saw_is_a_real_cold_start(load_event: Any) -> None:
    # GIVEN SR's record knows environments e1 and e2; this round e1, e2 and a new warm e3 answered
    record = new_record(SR, SR, None, NOW - 600_000)
    record.envs = {"e1": NOW - 300_000, "e2": NOW - 300_000}
    event = with_results(load_event("summarize.json"), outcome(SR, 6, [answer("e1"), answer("e2"), answer("e3"),
                                                                          answer("c1", cold=True, real=0)]))
    # WHEN summarized
    out = summarize(event, SETTINGS, FakeStore({SR: record_to_json(record)}), NOW).output
    # THEN one real cold start (e3), one warming init (c1), and SSM's missing result is a failure
    by_key = {t["key"]: t for t in out["targets"]}
    assert (by_key[SR]["real_cold_starts"], by_key[SR]["cold_inits"], by_key[SR]["distinct_envs"]) == (1, 1, 4)
    assert by_key[SSM]["status"] == "failed" and "no result came back" in by_key[SSM]["reason"]


def test_a_protocol_fallback_is_stored(load_event: Any) -> None:
    event = with_results(load_event("summarize.json"), outcome(SSM, 3, [answer(f"v{i}", real=None) for i in range(3)],
                                                               protocol=1))
    store = FakeStore()
    out = summarize(event, SETTINGS, store, NOW).output
    assert record_from_json(store.records[SSM]).protocol == 1
    assert {t["key"]: t["protocol"] for t in out["targets"]}[SSM] == 1


def test_a_refused_save_is_a_conflict_reported_not_raised(load_event: Any) -> None:
    # GIVEN another run wrote the state store since this run loaded it
    store = FakeStore(conflict=True)
    # WHEN summarized (a short target would otherwise get a top-up)
    event = with_results(load_event("summarize.json"), outcome(SR, 6, [answer("e1"), answer("e2")]))
    result = summarize(event, SETTINGS, store, NOW)
    # THEN status conflict with the reason, the report still written, no top-up, the lease released
    out = result.output
    assert out["status"] == "conflict" and any("another run wrote" in d for d in out["degraded"])
    assert out["report_key"] in store.docs and out["topup_needed"] is False and len(store.released) == 1
    groups = metric_groups(result.totals, result.reports, stack="s", status=out["status"])
    assert dict((n, v) for n, _, v in groups[0].values)["Overlap"] == 1.0


def test_a_short_target_gets_one_topup_round_and_never_a_second(load_event: Any) -> None:
    # GIVEN SR reached 2 of its 6 environments (the others landed on warm ones)
    store = FakeStore()
    event = with_results(load_event("summarize.json"),
                         outcome(SR, 6, [answer("e1"), answer("e2")] * 3),
                         outcome(SSM, 3, [answer(f"s{i}") for i in range(3)]))
    # WHEN round 0 is summarized
    first = summarize(event, SETTINGS, store, NOW)
    out = first.output
    # THEN a top-up round 1 is planned for SR only: the full request again, its learned lead, a long lead time
    assert out["topup_needed"] is True and out["run"]["round"] == 1 and not first.emit_metrics
    [item] = out["batches"]
    batch = item["doc"]["inline"]
    assert batch["round"] == 1 and [(g["key"], g["count"]) for g in batch["pings"]] == [(SR, 6)]
    assert batch["release_at_ms"] >= NOW + 4000 and batch["pings"][0]["send_ahead_ms"] > 0
    assert "top-up round planned" in {t["key"]: t for t in out["targets"]}[SR]["reason"]
    # AND the lease is kept for round 1, which needs the report's carried environments
    assert store.released == [] and out["lease"] == event["lease"]
    assert store.docs[out["report_key"]]["carry"][SR]["envs"] == ["e1", "e2"]
    # WHEN round 1 comes back still short (3 new environments: 5 of 6)
    second_in = with_results(json.loads(json.dumps(out)), outcome(SR, 6, [answer("e1"), answer("e3"), answer("e4"),
                                                                          answer("e5", cold=True)]))
    second = summarize(second_in, SETTINGS, store, NOW + 9000)
    out2 = second.output
    # THEN the environments are the union (5), no third round, metrics are due now, the lease is released
    sr = {t["key"]: t for t in out2["targets"]}[SR]
    assert (sr["distinct_envs"], sr["rounds"], sr["status"]) == (5, 2, "partial")
    assert out2["topup_needed"] is False and out2["batches"] == [] and second.emit_metrics
    assert out2["run"]["round"] == 1 and len(store.released) == 1
    assert out2["totals"]["requested"] == 9 and out2["totals"]["batches"] == 2


def test_a_target_throttled_on_everything_gets_no_topup(load_event: Any) -> None:
    event = with_results(load_event("summarize.json"),
                         outcome(SR, 6, [answer("e1")], throttled=15, throttled_final=5, stopped=True),
                         outcome(SSM, 3, [answer(f"s{i}") for i in range(3)]))
    out = summarize(event, SETTINGS, FakeStore(), NOW).output
    sr = {t["key"]: t for t in out["targets"]}[SR]
    assert out["topup_needed"] is False and sr["throttled"] == 15 and "retrying stopped" in sr["reason"]


def test_failed_batches_from_the_map_catch_are_reported_per_target(load_event: Any) -> None:
    # GIVEN the Map's Catch turned the batch into a FailedBatch (TargetThrottledError after the Map's retries)
    event = load_event("summarize.json")
    doc = {"run": event["run"]["id"], "run_name": event["run"]["run_name"], "batch": 0, "round": 0, "pings": [
        {"key": SR, "function": SR, "qualifier": None, "first_slot": 0, "count": 6, "of": 6, "send_ahead_ms": 100.0,
         "protocol": 2}]}
    event["warm_results"] = [{"failed": True, "batch": {"batch": 0, "doc": {"inline": doc}},
                              "error": "TargetThrottledError", "cause": json.dumps({"errorMessage": "all 6 pings"})}]
    out = summarize(event, SETTINGS, FakeStore(), NOW).output
    sr = {t["key"]: t for t in out["targets"]}[SR]
    assert sr["status"] == "throttled" and "batch 0 failed: TargetThrottledError" in sr["reason"]


def test_degraded_reasons_come_from_the_input_and_a_failed_state(load_event: Any) -> None:
    # GIVEN Collect said CloudWatch was unavailable and Forecast failed (the Catch added `failure`)
    event = load_event("summarize.json")
    event["degraded"] = ["CloudWatch unavailable: ThrottlingException"]
    event["failure"] = {"state": "Forecast", "error": "States.Timeout", "cause": "timed out"}
    result = summarize(event, SETTINGS, FakeStore(), NOW)
    out = result.output
    # THEN the run is degraded, with both reasons, and the Degraded metric is 1
    assert out["status"] == "degraded"
    assert out["degraded"] == ["CloudWatch unavailable: ThrottlingException",
                               "Forecast failed: States.Timeout: timed out"]
    assert "degraded: CloudWatch unavailable" in out["summary"]
    [run, *_] = metric_groups(result.totals, result.reports, stack="s", status="degraded")
    run_values = {n: v for n, _, v in run.values}
    assert (run_values["Degraded"], run_values["Overlap"]) == (1.0, 0.0)


def test_plan_failed_reports_every_target_as_an_error(load_event: Any) -> None:
    # GIVEN Plan failed: Summarize gets Plan's input (Collect's targets) plus `failure`, no plan, no results
    event = load_event("summarize.json")
    for key in ("plan", "batches", "warm_results"):
        event.pop(key)
    event["targets"] = {"inline": [{"key": SR, "function": SR, "qualifier": None, "memory_mb": 256}]}
    event["failure"] = {"state": "Plan", "error": "KeyError", "cause": "{\"errorMessage\": \"'x'\"}"}
    out = summarize(event, SETTINGS, FakeStore(), NOW).output
    assert out["status"] == "degraded" and [t["status"] for t in out["targets"]] == ["error"]


def test_an_overlap_touches_neither_records_nor_lease(load_event: Any) -> None:
    event = load_event("summarize.json")
    event["overlap"], event["warm_results"] = True, []
    store = FakeStore()
    out = summarize(event, SETTINGS, store, NOW).output
    assert out["status"] == "overlap" and store.saves == 0 and store.released == []


def test_a_dry_run_saves_nothing_and_emits_nothing(load_event: Any) -> None:
    event = load_event("summarize.json")
    event["request"]["dry_run"], event["warm_results"] = True, []
    store = FakeStore()
    result = summarize(event, SETTINGS, store, NOW)
    assert store.saves == 0 and not result.emit_metrics
    assert {t["status"] for t in result.output["targets"]} == {"planned"}


def test_5000_targets_keep_the_output_small_and_show_the_most_interesting(load_event: Any) -> None:
    # GIVEN 5,000 planned targets of 2 pings, all answered, except 3 with errors and 60 short
    event = load_event("summarize.json")
    keys = [f"fn-{i:04d}" for i in range(5000)]
    event["plan"] = {"inline": [{"key": k, "function": k, "qualifier": None, "desired": 2, "requested": 2,
                                 "limited_by": None, "term": "recent", "reason": "2: recent peak", "memory_mb": 128,
                                 "ping_usd_month": 0.0, "provisioned_usd_month": 0.0, "status": "planned"}
                                for k in keys]}
    outcomes = []
    for i, key in enumerate(keys):
        answers = [answer(f"{key}-a"), answer(f"{key}-b")] if i % 80 else [answer(f"{key}-a")]
        extra = {"errors": 1, "error_samples": ["Boom: x"]} if i in (7, 1234, 4999) else {}
        outcomes.append(outcome(key, 2, answers, **extra))
    event["warm_results"] = [{"batch": b, "round": 0, "result": {"inline": outcomes[b * 500:(b + 1) * 500]}}
                             for b in range(10)]
    store = FakeStore()
    # WHEN summarized
    result = summarize(event, SETTINGS, store, NOW)
    out = result.output
    size = len(json.dumps(out, separators=(",", ":")).encode())
    # THEN the output (top-up Map items included) is under 200 KiB, lists 50 targets, errors first
    assert size < 200 * 1024, size
    assert len(out["targets"]) == 50 and out["targets_total"] == 5000
    assert {t["key"] for t in out["targets"][:3]} == {"fn-0007", "fn-1234", "fn-4999"}
    # AND the full report has every target, and the summary says where it is
    assert len(store.docs[out["report_key"]]["targets"]) == 5000
    assert "4950 more targets" in out["summary"] and out["report_key"] in out["summary"]
    print(f"5,000 targets: state output {size / 1024:.1f} KiB, summary {len(out['summary'])} chars")


# --- metrics -------------------------------------------------------------------------------------------

def test_metrics_carry_the_stack_dimension_and_exactly_the_contract_names(load_event: Any) -> None:
    result = summarize(load_event("summarize.json"), SETTINGS, FakeStore(), NOW)
    groups = metric_groups(result.totals, result.reports, stack="prod-thermostat", status="ok")
    run, *targets = groups
    assert run.dimensions == (("Stack", "prod-thermostat"),) and tuple(n for n, _, _ in run.values) == RUN_METRICS
    assert [g.dimensions for g in targets] == [(("Stack", "prod-thermostat"), ("Target", k)) for k in (SR, SSM)]
    assert all(tuple(n for n, _, _ in g.values) == TARGET_METRICS for g in targets)
    assert metric_groups(result.totals, result.reports, stack="s", status="ok", per_target=False) == [
        metric_groups(result.totals, result.reports, stack="s", status="ok")[0]]


def test_emf_documents_have_only_our_dimensions_in_our_namespace(load_event: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN Powertools' service name is set (it would add a `service` dimension to a plain Metrics object)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "thermostat")
    result = summarize(load_event("summarize.json"), SETTINGS, FakeStore(), NOW)
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        printed = emit(metric_groups(result.totals, result.reports, stack="s1", status="ok"), "Thermostat")
    docs = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    # THEN one document per group, dimension sets [Stack] and [Stack, Target], never `service`
    assert printed == len(docs) == 3
    dims = [d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for d in docs]
    assert dims == [[["Stack"]], [["Stack", "Target"]], [["Stack", "Target"]]]
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in docs} == {"Thermostat"}
    assert "service" not in docs[0] and docs[1]["Target"] == SR and docs[0]["Stack"] == "s1"


def test_the_templates_alarms_and_dashboard_read_only_metrics_summarize_emits() -> None:
    # GIVEN template.yaml's Thermostat metrics (alarms: MetricName under Namespace Thermostat; dashboard:
    # ["Thermostat", "<name>", ...] rows and SEARCH(... MetricName="<name>") expressions)
    text = (ROOT / "template.yaml").read_text()
    alarm = set(re.findall(r"Namespace: Thermostat\s+MetricName: (\w+)", text))
    rows = set(re.findall(r'\["Thermostat", "(\w+)", "Stack"', text))
    searches = set(re.findall(r'\{Thermostat,Stack,Target\}[^\']*MetricName=\\"(\w+)\\"', text))
    # THEN every run-level name is one Summarize emits with dimension Stack, every per-target one with Target
    assert alarm and rows and searches
    assert (alarm | rows) <= set(RUN_METRICS), (alarm | rows) - set(RUN_METRICS)
    assert searches <= set(TARGET_METRICS), searches - set(TARGET_METRICS)


def test_a_result_document_gone_missing_counts_as_no_result(load_event: Any) -> None:
    # GIVEN the Map's output refers to a result document that is not in the store (expired, deleted)
    event = load_event("summarize.json")
    event["warm_results"][0]["result"] = {"ref": "thermostat/runs/x/result-0-0.json", "bytes": 9000}

    class Missing(FakeStore):
        def get_run_doc(self, key: str) -> Any:
            from thermostat.exceptions import StateStoreError
            raise StateStoreError("get_run_doc", key, "no such run document", code="NoSuchKey")

    # WHEN summarized THEN the run goes on: its targets have no result, and a warning names the document
    out = summarize(event, SETTINGS, Missing(), NOW).output
    assert {t["status"] for t in out["targets"]} == {"failed"}
    assert any("result-0-0.json" in w for w in out["warnings"])
