"""Collect Metrics, pure parts: target merging, query building, batching/pagination, series, coarsening."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from thermostat import models, series
from thermostat.collect import (
    COARSE_PERIODS,
    MAX_QUERIES_PER_CALL,
    METRICS,
    Window,
    build_queries,
    coarsen,
    collect,
    fetch_metric_data,
    metric_window,
    to_points,
)
from thermostat.config import DiscoverySettings
from thermostat.discovery import Clients, account_limits, configured_targets, merge_targets, resolve_targets
from thermostat.exceptions import ConfigurationError, MetricsUnavailableError

MINUTE = 60_000
NOW = 1_763_800_012_345


def spec(function: str, source: str, qualifier: str | None = None, hi: int = 50) -> models.TargetSpec:
    return {"function": function, "qualifier": qualifier, "min": 0, "max": hi, "source": source}  # type: ignore[typeddict-item]


def target(function: str, qualifier: str | None = None, error: str | None = None) -> models.TargetMetrics:
    t: models.TargetMetrics = {
        "function": function, "qualifier": qualifier, "arn": f"arn:aws:lambda:us-east-1:1:function:{function}",
        "min": 0, "max": 50, "source": "tag", "memory_mb": 128, "timeout_s": 3, "reserved_concurrency": None,
        "current_concurrency": 0, "history": None}
    if error:
        t["error"] = error
    return t


# --- which targets -------------------------------------------------------------------------------------


def test_input_overrides_config_and_tags_per_function() -> None:
    # GIVEN orders tagged (unqualified), configured as orders:live, and requested as orders:blue
    merged = merge_targets([spec("orders", "tag"), spec("billing", "tag")],
                           [spec("orders", "config", "live"), spec("search", "config")],
                           [spec("arn:aws:lambda:us-east-1:1:function:orders", "input", "blue", hi=3)])
    # THEN only the input's entry remains for orders; the others come through untouched
    assert [(m["function"].rsplit(":", 1)[-1], m["qualifier"], m["source"]) for m in merged] == [
        ("billing", None, "tag"), ("search", None, "config"), ("orders", "blue", "input")]


class FakeTagging:
    def __init__(self, pages: list[list[str]], fail: bool = False) -> None:
        self.pages, self.fail, self.kwargs = pages, fail, None

    def get_paginator(self, name: str) -> Any:
        assert name == "get_resources"
        return self

    def paginate(self, **kwargs: Any) -> Any:
        self.kwargs = kwargs
        if self.fail:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetResources")
        return ({"ResourceTagMappingList": [{"ResourceARN": f"arn:aws:lambda:us-east-1:1:function:{n}"} for n in p]}
                for p in self.pages)


def request(targets: list[models.TargetSpec], discover: bool = True) -> models.Request:
    return {"targets": targets, "discover": discover, "quantile": 0.95, "horizon_minutes": 5, "dry_run": False}


def test_tag_discovery_reads_every_page_with_the_tag_filter() -> None:
    tagging = FakeTagging([["a", "b"], ["c"]])
    settings = DiscoverySettings(tag_key="team:warm", tag_value="yes", min_warm=1, max_warm=7,
                                 explicit_targets=({"function": "d", "max": 2},))
    found = resolve_targets(request([spec("c", "input", hi=1)]), settings, tagging)
    assert tagging.kwargs == {"ResourceTypeFilters": ["lambda:function"],
                              "TagFilters": [{"Key": "team:warm", "Values": ["yes"]}]}
    assert [(t["function"], t["source"], t["min"], t["max"]) for t in found] == [
        ("a", "tag", 1, 7), ("b", "tag", 1, 7), ("d", "config", 1, 2), ("c", "input", 0, 1)]


def test_discover_false_uses_only_the_input_and_a_failed_discovery_keeps_the_rest(caplog: Any) -> None:
    settings = DiscoverySettings(explicit_targets=({"function": "d"},))
    assert [t["function"] for t in resolve_targets(request([spec("x", "input")], discover=False),
                                                   settings, FakeTagging([["a"]]))] == ["x"]
    with caplog.at_level(logging.ERROR):
        found = resolve_targets(request([spec("x", "input")]), settings, FakeTagging([], fail=True))
    assert [t["function"] for t in found] == ["d", "x"]
    assert "tag_discovery_failed" in caplog.text


def test_bad_configured_target_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigurationError, match=r"THERMOSTAT_TARGETS\[1\]\.min"):
        configured_targets(DiscoverySettings(explicit_targets=({"function": "a"}, {"function": "b", "min": -1})))


class FakeLambda:
    def __init__(self, fail_account: bool) -> None:
        self.fail_account = fail_account

    def get_account_settings(self) -> dict[str, Any]:
        if self.fail_account:
            raise ClientError({"Error": {"Code": "404", "Message": "Not yet implemented"}}, "GetAccountSettings")
        return {"AccountLimit": {"ConcurrentExecutions": 3000, "UnreservedConcurrentExecutions": 2500}}


def test_account_limits_and_their_fallback() -> None:
    assert account_limits(FakeLambda(False), []) == {"concurrency_limit": 3000, "unreserved_concurrency": 2500}
    reserved = [target("a"), target("b")]
    reserved[0]["reserved_concurrency"] = 200
    assert account_limits(FakeLambda(True), reserved) == {"concurrency_limit": 1000, "unreserved_concurrency": 800}


# --- queries, batching, pagination ----------------------------------------------------------------------


def test_window_is_minute_aligned_and_excludes_the_current_minute() -> None:
    window = metric_window(NOW, 30)
    assert window.end_ms == NOW - NOW % MINUTE and window.start_ms == window.end_ms - 30 * MINUTE
    assert window.points == 30


def test_queries_have_valid_ids_and_the_right_dimensions() -> None:
    queries = build_queries([target("a"), target("b", "live"), target("gone", error="FunctionNotFound: x")], 60)
    assert len(queries) == 2 * len(METRICS)
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9_]*", q["Id"]) for q in queries)
    assert len({q["Id"] for q in queries}) == len(queries)
    by_id = {q["Id"]: q["MetricStat"] for q in queries}
    assert by_id["t0_conc"]["Metric"] == {"Namespace": "AWS/Lambda", "MetricName": "ConcurrentExecutions",
                                          "Dimensions": [{"Name": "FunctionName", "Value": "a"}]}
    assert by_id["t0_conc"]["Stat"] == "Maximum" and by_id["t0_conc"]["Period"] == 60
    assert by_id["t1_inv"]["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": "b"},
                                                       {"Name": "Resource", "Value": "b:live"}]
    assert by_id["t1_ping"]["Metric"] == {"Namespace": "Thermostat", "MetricName": "WarmPing",
                                          "Dimensions": [{"Name": "FunctionName", "Value": "b"}]}
    assert (by_id["t1_real"]["Metric"]["MetricName"], by_id["t1_real"]["Stat"]) == ("RealInvocation", "Sum")


class PagingCloudWatch:
    """GetMetricData that answers each query with one value per minute, ``per_page`` values at a time."""

    def __init__(self, per_page: int, fail_calls: set[int] | None = None) -> None:
        self.per_page = per_page
        self.calls: list[dict[str, Any]] = []
        self.fail_calls = fail_calls or set()

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if len(self.calls) in self.fail_calls:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "GetMetricData")
        assert len(kwargs["MetricDataQueries"]) <= MAX_QUERIES_PER_CALL
        start, end = kwargs["StartTime"], kwargs["EndTime"]
        minutes = int((end - start).total_seconds() // 60)
        offset = int(kwargs.get("NextToken", "0"))
        page = range(offset, min(offset + self.per_page, minutes))
        results = [{"Id": q["Id"], "StatusCode": "Complete",
                    "Timestamps": [datetime.fromtimestamp(start.timestamp() + 60 * m, tz=UTC) for m in page],
                    "Values": [float(m) for m in page]} for q in kwargs["MetricDataQueries"]]
        response: dict[str, Any] = {"MetricDataResults": results}
        if page.stop < minutes:
            response["NextToken"] = str(page.stop)
        return response


def test_many_targets_are_split_into_calls_of_at_most_500_queries_and_every_page_is_read() -> None:
    # GIVEN 90 targets (540 queries) and an API that returns 4 of 10 minutes per page
    queries = build_queries([target(f"f{i}") for i in range(90)], 60)
    window = metric_window(NOW, 10)
    cloudwatch = PagingCloudWatch(per_page=4)
    values, calls = fetch_metric_data(cloudwatch, queries, window)
    # THEN 2 chunks (500 + 40) x 3 pages = 6 calls, each with <= 500 queries, NextToken followed
    assert calls == len(cloudwatch.calls) == 6
    assert [len(c["MetricDataQueries"]) for c in cloudwatch.calls] == [500] * 3 + [40] * 3
    assert [c.get("NextToken") for c in cloudwatch.calls] == [None, "4", "8"] * 2
    assert all(c["ScanBy"] == "TimestampAscending" for c in cloudwatch.calls)
    # AND every query got all its 10 minutes, merged across pages
    assert len(values) == 540 and all(len(v) == 10 for v in values.values())
    assert to_points(values["t89_thr"], window) == [float(m) for m in range(10)]


def test_a_failing_chunk_is_logged_and_all_failing_raises(caplog: Any) -> None:
    queries = build_queries([target(f"f{i}") for i in range(90)], 60)
    window = metric_window(NOW, 5)
    with caplog.at_level(logging.ERROR):
        values, _ = fetch_metric_data(PagingCloudWatch(per_page=10, fail_calls={1}), queries, window)
    assert len(values) == 40 and "get_metric_data_failed" in caplog.text
    with pytest.raises(MetricsUnavailableError):
        fetch_metric_data(PagingCloudWatch(per_page=10, fail_calls={1, 2}), queries, window)


def test_points_align_on_the_window_and_gaps_are_none() -> None:
    window = Window(start_ms=10 * MINUTE, end_ms=15 * MINUTE, period_s=60)
    assert to_points({11 * MINUTE: 3.0, 14 * MINUTE: 1.0, 15 * MINUTE: 9.0, 2 * MINUTE: 9.0}, window) == [
        None, 3.0, None, None, 1.0]


def test_coarsening_keeps_max_sum_and_weighted_mean_on_aligned_buckets() -> None:
    # GIVEN 7 minutes starting 2 minutes after a 5-minute boundary
    start = 12 * MINUTE
    conc: list[float | None] = [1.0, 4.0, None, 2.0, 3.0, 5.0, None]
    inv: list[float | None] = [10.0, 30.0, None, 0.0, 10.0, 20.0, None]
    dur: list[float | None] = [100.0, 200.0, None, None, 400.0, 100.0, None]
    # WHEN coarsened to 5 minutes
    assert coarsen(conc, start, 5, "max") == ([4.0, 5.0], 10 * MINUTE)
    assert coarsen(inv, start, 5, "sum") == ([40.0, 30.0], 10 * MINUTE)
    means, _ = coarsen(dur, start, 5, "mean", inv)
    # THEN buckets start on the boundary (padded), durations are invocation-weighted
    assert means == [pytest.approx((100 * 10 + 200 * 30) / 40), pytest.approx((400 * 10 + 100 * 20) / 30)]
    assert coarsen([None, None], start, 5, "max") == ([None], 10 * MINUTE)


class FullClients:
    """Lambda + CloudWatch + tagging fakes for collect()."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def get_function_configuration(self, FunctionName: str, **_: Any) -> dict[str, Any]:
        if FunctionName not in self.names:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "Function not found"}},
                              "GetFunctionConfiguration")
        return {"FunctionArn": f"arn:aws:lambda:us-east-1:1:function:{FunctionName}", "MemorySize": 256,
                "Timeout": 9}

    def get_function_concurrency(self, FunctionName: str) -> dict[str, Any]:
        return {"ReservedConcurrentExecutions": 40} if FunctionName == "n1" else {}

    def get_account_settings(self) -> dict[str, Any]:
        return {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 960}}


def run_state(targets: list[models.TargetSpec]) -> models.RunState:
    return {"run": {"id": "arn:x", "name": "x", "started_at_ms": NOW, "round": 0},
            "request": request(targets, discover=False), "enabled": True}


def test_collect_keeps_missing_targets_and_coarsens_to_fit_the_budget(caplog: Any) -> None:
    # GIVEN 20 targets with a distinct value every minute of a day, one missing function, a 60 KB budget
    names = [f"n{i}" for i in range(20)]
    fake = FullClients(names)
    clients = Clients(lambda_=fake, cloudwatch=PagingCloudWatch(per_page=1440), tagging=FakeTagging([]))
    specs = [spec(n, "input") for n in [*names, "missing"]]
    with caplog.at_level(logging.WARNING):
        state = collect(run_state(specs), clients, DiscoverySettings(lookback_minutes=1440), NOW, budget_bytes=60_000)
    targets = {t["function"]: t for t in state["targets"]}
    # THEN the missing function is kept with its error and no history; the rest are described
    assert targets["missing"]["error"].startswith("FunctionNotFound: ") and targets["missing"]["history"] is None
    n1 = targets["n1"]
    assert (n1["memory_mb"], n1["timeout_s"], n1["reserved_concurrency"]) == (256, 9, 40)
    assert state["account"] == {"concurrency_limit": 1000, "unreserved_concurrency": 960}
    # AND histories were coarsened to the finest period that fits, with a log saying so
    history = targets["n0"]["history"]
    assert history is not None and history["period_s"] in COARSE_PERIODS and history["period_s"] > 60
    assert len(json.dumps(state, separators=(",", ":"))) <= 60_000
    assert "history_coarsened" in caplog.text
    # AND the coarse series start on a period boundary and keep Maximum / Sum (the fake's value = minute index)
    factor = history["period_s"] // 60
    assert history["start_ms"] % (history["period_s"] * 1000) == 0
    pad = (metric_window(NOW, 1440).start_ms - history["start_ms"]) // MINUTE
    concurrency = series.decode(history["concurrency"])
    invocations = series.decode(history["invocations"])
    assert len(concurrency) == history["points"] == -(-(1440 + pad) // factor)
    assert concurrency[0] == factor - pad - 1 and concurrency[-1] == 1439
    assert invocations[1] == sum(range(factor - pad, 2 * factor - pad))
    assert targets["n0"]["current_concurrency"] == 1439


def test_timestamps_in_every_raw_form_become_epoch_ms() -> None:
    from datetime import UTC, datetime

    from thermostat.collect import _ms

    when = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
    expected = int(when.timestamp() * 1000)
    assert _ms(when) == _ms(int(when.timestamp())) == _ms(when.timestamp()) == expected
    assert _ms("2026-11-22T17:00:00Z") == _ms(str(int(when.timestamp()))) == expected
