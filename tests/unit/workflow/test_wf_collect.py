"""Collect Metrics, pure parts with fakes: discovery precedence, opt-outs, MaxTargets, describe budget,
CloudWatch read planning (windows, <= 500 queries per call, pages), freshness and the pings taken out."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from thermostat import models
from thermostat.collect_reads import (
    ACCOUNT_FRESH_MS,
    FRESH_MS,
    MAX_TARGET_READS_PER_RUN,
    due_reads,
    fresh_value,
    read_all,
    read_interval_ms,
    recent_peak,
)
from thermostat.config import DiscoverySettings
from thermostat.discovery import account_limits, find_targets, merge_targets
from thermostat.lambda_config import config_due, describe, refresh_after_ms
from thermostat.metric_data import MAX_QUERIES_PER_CALL
from thermostat.records import SLOT_MS, TargetRecord
from thermostat.records import new_record as fresh_record

MINUTE = 60_000
NOW = 1_763_800_012_345


def spec(function: str, source: str, qualifier: str | None = None, hi: int = 50) -> models.TargetSpec:
    return {"function": function, "qualifier": qualifier, "min": 0, "max": hi, "source": source}  # type: ignore[typeddict-item]


def request(targets: list[models.TargetSpec], discover: bool = True) -> models.Request:
    return {"targets": targets, "discover": discover, "quantile": 0.95, "horizon_minutes": 5, "dry_run": False}


def denied(operation: str, code: str = "AccessDeniedException") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}}, operation)


class FakeTagging:
    """GetResources pages of (name, tag value)."""

    def __init__(self, pages: list[list[tuple[str, str]]], fail: bool = False) -> None:
        self.pages, self.fail, self.kwargs = pages, fail, None

    def get_paginator(self, name: str) -> Any:
        assert name == "get_resources"
        return self

    def paginate(self, **kwargs: Any) -> Any:
        self.kwargs = kwargs
        if self.fail:
            raise denied("GetResources")
        return ({"ResourceTagMappingList": [{"ResourceARN": f"arn:aws:lambda:us-east-1:1:function:{n}",
                                             "Tags": [{"Key": "thermostat:enabled", "Value": v}]} for n, v in page]}
                for page in self.pages)


# --- which targets ------------------------------------------------------------------------------------


def test_input_overrides_config_and_tags_per_function() -> None:
    # GIVEN orders tagged (unqualified), configured as orders:live, and requested as orders:blue
    merged = merge_targets([spec("orders", "tag"), spec("billing", "tag")],
                           [spec("orders", "config", "live"), spec("search", "config")],
                           [spec("arn:aws:lambda:us-east-1:1:function:orders", "input", "blue", hi=3)])
    # THEN only the input's entry remains for orders; the others come through, input first, then config, then tag
    assert [(m["function"].rsplit(":", 1)[-1], m["qualifier"], m["source"]) for m in merged] == [
        ("orders", "blue", "input"), ("search", None, "config"), ("billing", None, "tag")]


def test_tag_discovery_reads_every_page_with_the_key_filter_and_honours_opt_outs() -> None:
    tagging = FakeTagging([[("b", "true"), ("paused", "false")], [("a", "true")]])
    settings = DiscoverySettings(explicit_targets=({"function": "paused"}, {"function": "cfg"}))
    found = find_targets(request([]), settings, tagging)
    # THEN the filter is the tag key alone (the opted-out functions come with the same calls), 100 per page
    assert tagging.kwargs["TagFilters"] == [{"Key": "thermostat:enabled"}]
    assert tagging.kwargs["ResourcesPerPage"] == 100
    # AND tagged functions of every page are there (sorted), the configured opt-out is not, and it is said
    assert [(t["function"], t["source"]) for t in found.targets] == [("cfg", "config"), ("a", "tag"), ("b", "tag")]
    assert found.opted_out == ["paused"] and found.tagged == 2 and found.configured == 2
    assert any("opted out by tag" in w for w in found.warnings)


def test_an_input_target_wins_over_an_opt_out() -> None:
    found = find_targets(request([spec("paused", "input")]), DiscoverySettings(), FakeTagging([[("paused", "no")]]))
    assert [(t["function"], t["source"]) for t in found.targets] == [("paused", "input")]


def test_tag_discovery_failing_keeps_configured_and_requested_targets() -> None:
    settings = DiscoverySettings(explicit_targets=({"function": "cfg"},))
    found = find_targets(request([spec("req", "input")]), settings, FakeTagging([], fail=True))
    assert [t["function"] for t in found.targets] == ["req", "cfg"]
    assert any("tag discovery failed (AccessDeniedException" in w for w in found.warnings)


def test_discover_false_reads_no_tags() -> None:
    tagging = FakeTagging([[("a", "true")]])
    found = find_targets(request([spec("req", "input")], discover=False), DiscoverySettings(), tagging)
    assert [t["function"] for t in found.targets] == ["req"] and tagging.kwargs is None


def test_max_targets_reports_the_targets_beyond_it_input_first() -> None:
    tagging = FakeTagging([[(f"t{i:02d}", "true") for i in range(30)]])
    found = find_targets(request([spec("mine", "input")]), DiscoverySettings(max_targets=10), tagging)
    # THEN the input target is kept first, 9 tagged ones after it, and the other 21 are reported by name
    assert [t["function"] for t in found.targets][:2] == ["mine", "t00"] and len(found.targets) == 10
    assert found.over_limit[:2] == ["t09", "t10"] and len(found.over_limit) == 21
    assert any(w.startswith("21 target(s) beyond MaxTargets=10 are not warmed: t09, t10") for w in found.warnings)


# --- the account and each target's configuration -----------------------------------------------------


class FakeLambda:
    def __init__(self, functions: dict[str, int], reserved: dict[str, int] | None = None,
                 provisioned: dict[tuple[str, str], int] | None = None, denied_ops: tuple[str, ...] = ()) -> None:
        self.functions, self.reserved = functions, reserved or {}
        self.provisioned, self.denied_ops = provisioned or {}, denied_ops
        self.calls: Counter = Counter()

    def get_account_settings(self) -> Any:
        self.calls["account"] += 1
        if "account" in self.denied_ops:
            raise denied("GetAccountSettings")
        return {"AccountLimit": {"ConcurrentExecutions": 1000,
                                 "UnreservedConcurrentExecutions": 1000 - sum(self.reserved.values())}}

    def get_paginator(self, name: str) -> Any:
        assert name == "list_functions"
        self.calls["list"] += 1
        if "list" in self.denied_ops:
            raise denied("ListFunctions")
        names = sorted(self.functions)
        pages = [names[i:i + 50] for i in range(0, len(names), 50)]

        class Pages:
            def paginate(_self) -> Any:
                return ({"Functions": [{"FunctionName": n, "FunctionArn": f"arn:{n}", "MemorySize": self.functions[n],
                                        "Timeout": 30} for n in page]} for page in pages)
        return Pages()

    def get_function_concurrency(self, FunctionName: str) -> Any:
        self.calls["concurrency"] += 1
        value = self.reserved.get(FunctionName)
        return {} if value is None else {"ReservedConcurrentExecutions": value}

    def get_provisioned_concurrency_config(self, FunctionName: str, Qualifier: str) -> Any:
        self.calls["provisioned"] += 1
        if (FunctionName, Qualifier) not in self.provisioned:
            raise denied("GetProvisionedConcurrencyConfig", "ProvisionedConcurrencyConfigNotFoundException")
        return {"AllocatedProvisionedConcurrentExecutions": self.provisioned[(FunctionName, Qualifier)]}


def records(*keys: str) -> list[TargetRecord]:
    out = []
    for key in keys:
        name, _, qualifier = key.partition(":")
        out.append(fresh_record(key, name, qualifier or None, NOW))
    return out


def test_account_settings_denied_is_unknown_never_a_default_quota() -> None:
    limits = account_limits(FakeLambda({}, denied_ops=("account",)))
    assert (limits.limit, limits.unreserved_limit, limits.has_reservations) == (None, None, None)
    assert "AccessDeniedException" in (limits.problem or "")


def test_describe_lists_once_and_skips_reserved_reads_when_the_account_reserves_nothing() -> None:
    fake = FakeLambda({"a": 256, "b": 128, "c": 512})
    recs = records("a", "b", "c:live", "gone")
    out = describe(fake, recs, account_limits(fake).has_reservations, NOW)
    # THEN one listing, no GetFunctionConcurrency (nothing reserved in the account), provisioned for the alias
    assert fake.calls == Counter({"account": 1, "list": 1, "provisioned": 1})
    assert [r.config.memory_mb for r in recs[:3]] == [256, 128, 512] and out.described == 3
    assert all(r.config.read_at_ms == NOW for r in recs)
    # AND the missing function is an error this run, remembered without listing again next run
    assert out.errors == {"gone": "FunctionNotFound: gone was not found in the account"}
    again = describe(fake, recs, False, NOW + MINUTE)
    assert fake.calls["list"] == 1 and "gone" in again.errors


def test_a_missing_function_is_looked_for_again_after_the_recheck_and_stays_an_error_until_found() -> None:
    # GIVEN a target whose function was not in the account's listing
    fake = FakeLambda({"a": 256})
    recs = records("a", "gone")
    describe(fake, recs, False, NOW)
    # WHEN runs go on: at every run it is still an error, and once MISSING_RECHECK_MS has passed it is listed again
    for minutes in (5, 20, 45):
        out = describe(fake, recs, False, NOW + minutes * MINUTE)
        assert out.errors == {"gone": "FunctionNotFound: gone was not found in the account"}, minutes
    assert fake.calls["list"] == 3  # the first listing, then one per recheck (at +20 and +45 minutes)
    # AND once the function exists, the next recheck finds it
    fake.functions["gone"] = 128
    found = describe(fake, recs, False, NOW + 61 * MINUTE)
    assert "gone" not in found.errors and recs[1].config.arn == "arn:gone"


def test_describe_reads_reserved_and_provisioned_within_a_call_budget_never_read_first() -> None:
    fake = FakeLambda({f"f{i}": 128 for i in range(6)}, reserved={"f0": 5}, provisioned={("f1", "live"): 3})
    recs = records("f0", "f1:live", "f2", "f3", "f4", "f5")
    recs[5].config.read_at_ms = NOW - 10 * 3600_000  # read long ago: refreshed after the never-read ones
    recs[5].config.arn = "arn:f5"
    out = describe(fake, recs, True, NOW, call_budget=4)
    # THEN f1:live costs 2 calls (reserved + provisioned), so only 3 targets fit; the rest wait, said so
    assert out.described == 3 and out.deferred == 3
    assert (recs[0].config.reserved, recs[1].config.provisioned) == (5, 3)
    assert recs[3].config.read_at_ms == 0 and recs[3].config.memory_mb == 128  # listed, not yet complete
    assert any("left for the next runs" in w for w in out.warnings)


def test_a_listing_failure_keeps_known_configurations_and_flags_the_unknown() -> None:
    fake = FakeLambda({}, denied_ops=("list",))
    recs = records("known", "new")
    recs[0].config.arn, recs[0].config.read_at_ms = "arn:known", NOW - 3 * 3600_000
    out = describe(fake, recs, False, NOW)
    assert list(out.errors) == ["new"] and recs[0].config.arn == "arn:known"
    assert any("ListFunctions failed" in w for w in out.warnings)


def test_one_listing_an_hour_serves_every_target_while_their_settings_refresh_on_their_own_times() -> None:
    # GIVEN 300 known targets listed 20 minutes ago, a few of them due for a settings refresh
    fake = FakeLambda({f"f{i}": 128 for i in range(300)})
    recs = records(*(f"f{i}" for i in range(300)))
    for i, record in enumerate(recs):
        record.config.arn, record.config.listed_at_ms = f"arn:f{i}", NOW - 20 * MINUTE
        record.config.read_at_ms = NOW - (2 * 3600_000 if i < 5 else 10 * MINUTE)
    # WHEN a run describes them: the due settings are read without paging through the account again
    out = describe(fake, recs, True, NOW)
    assert fake.calls["list"] == 0 and fake.calls["concurrency"] == 5 and out.described == 5
    # WHEN the listing is an hour old: one listing refreshes all 300 (memory, timeout, existence)
    fake.functions["f7"] = 1024
    describe(fake, recs, True, NOW + 41 * MINUTE)
    assert fake.calls["list"] == 1 and recs[7].config.memory_mb == 1024
    assert all(r.config.listed_at_ms == NOW + 41 * MINUTE for r in recs)


def test_configuration_refreshes_are_spread_over_the_runs() -> None:
    ages = {refresh_after_ms(f"fn-{i}") for i in range(200)}
    assert min(ages) >= 45 * MINUTE and max(ages) < 75 * MINUTE and len(ages) > 100
    record = records("a")[0]
    record.config.arn, record.config.read_at_ms = "arn:a", NOW
    assert not config_due(record, NOW + 44 * MINUTE) and config_due(record, NOW + 75 * MINUTE)


# --- CloudWatch ---------------------------------------------------------------------------------------


def test_a_fresh_value_takes_the_pings_out_and_a_stale_one_is_unknown() -> None:
    minute = NOW - NOW % MINUTE
    points = {minute - 2 * MINUTE: 9.0, minute - 3 * MINUTE: 4.0, minute - 30 * MINUTE: 50.0}
    # THEN the old minute is ignored, and the minute with 6 of our pings reads as 3 real
    assert fresh_value(points, {minute - 2 * MINUTE: 6}, NOW) == 4
    assert fresh_value({minute - 6 * MINUTE: 2.0}, {}, NOW) is None
    assert FRESH_MS <= 5 * MINUTE


def test_a_quiet_account_still_has_a_known_use_from_the_previous_run() -> None:
    # GIVEN an account where only the previous run (7 minutes ago) made invocations: 3 busy, 2 of them pings
    minute = NOW - NOW % MINUTE
    points = {minute - 7 * MINUTE: 3.0}
    # THEN the account's free concurrency is known (the minutes after it had nothing, or are not reported yet
    # and assumed as busy as that one), while a reserved pool's 7-minute-old datapoint is stale
    assert fresh_value(points, {minute - 7 * MINUTE: 2}, NOW, ACCOUNT_FRESH_MS) == 1
    assert fresh_value(points, {}, NOW) is None
    # AND with nothing at all for 16 minutes the account is unknown (the metric lags or is down): no ping
    assert fresh_value({minute - 20 * MINUTE: 3.0}, {}, NOW, ACCOUNT_FRESH_MS) is None


def test_recent_peak_is_the_last_hours_highest_known_slot() -> None:
    record = records("a")[0]
    record.ensure_from(NOW - 3 * 3600_000)
    assert recent_peak(record, NOW) is None
    record.peaks[-20] = 9.0  # 95 minutes ago: too old
    record.peaks[-5] = 3.0
    assert recent_peak(record, NOW) == 3


def test_reads_are_due_bootstraps_first_and_bounded_per_run() -> None:
    recs = records(*(f"t{i}" for i in range(5)))
    for record in recs[:3]:
        record.cw_read_at_ms = record.cw_through_ms = NOW - 30 * 3600_000  # scheduled: read long ago
    due, deferred = due_reads(recs, NOW, 6, limit=3)
    assert [r.key for r in due] == ["t3", "t4", "t0"] and deferred == 2
    assert 0.8 * 6 * 3600_000 <= read_interval_ms("t0", 6) <= 1.2 * 6 * 3600_000


class FakeCloudWatch:
    """GetMetricData: 7 for the account, 2 for a function; the every-run reads answer 2 minutes ago, the history
    reads at their window's start. Every call with more than one query takes two pages. Records the calls."""

    def __init__(self, now_ms: int = NOW, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.now_ms, self.fail = now_ms, fail

    def get_metric_data(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        if self.fail:
            raise denied("GetMetricData", "Throttling")
        queries = kwargs["MetricDataQueries"]
        assert len(queries) <= MAX_QUERIES_PER_CALL
        half = len(queries) // 2
        page = queries[half:] if "NextToken" in kwargs else queries[:half or len(queries)]
        recent = datetime.fromtimestamp((self.now_ms - self.now_ms % MINUTE - 2 * MINUTE) / 1000, tz=UTC)
        results = [{"Id": q["Id"], "StatusCode": "Complete", "Values": [7.0 if q["Id"] == "acct" else 2.0],
                    "Timestamps": [kwargs["StartTime"] if q["Id"].startswith("h") else recent]} for q in page]
        out: dict[str, Any] = {"MetricDataResults": results}
        if half and "NextToken" not in kwargs:
            out["NextToken"] = "page-2"
        return out


def test_read_all_groups_windows_pages_and_chunks_of_500() -> None:
    now = int(datetime.now(tz=UTC).timestamp() * 1000)
    recs = [fresh_record(f"t{i}", f"t{i}", None, now) for i in range(1200)]
    recs[0].config.reserved = 10
    cloudwatch = FakeCloudWatch(now)
    reads = read_all(cloudwatch, recs, {}, now, 6)
    # THEN one call (+1 page) for the account and the reserved pool, then the bootstraps in chunks of 500
    assert reads.metric_reads == 2 + MAX_TARGET_READS_PER_RUN and reads.deferred == 200
    assert [len(c["MetricDataQueries"]) for c in cloudwatch.calls if "NextToken" not in c] == [2, 500, 500]
    assert reads.calls == len(cloudwatch.calls) == 6  # every chunk took two pages
    assert reads.histories == MAX_TARGET_READS_PER_RUN and reads.account_in_use == 7
    assert reads.busy == {"t0": 2}
    assert sum(r.cw_read_at_ms == now for r in recs) == MAX_TARGET_READS_PER_RUN
    # AND the reserved pool is read on the function (reserved concurrency is the function's, not an alias')
    queries = {q["Id"]: q for c in cloudwatch.calls for q in c["MetricDataQueries"]}
    assert queries["c0"]["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": "t0"}]
    assert queries["acct"]["MetricStat"]["Metric"]["Dimensions"] == []


def test_a_qualified_targets_history_is_read_on_its_alias() -> None:
    cloudwatch = FakeCloudWatch()
    read_all(cloudwatch, records("orders:live"), {}, NOW, 6)
    (history,) = [q for c in cloudwatch.calls for q in c["MetricDataQueries"] if q["Id"].startswith("h")]
    assert history["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": "orders"},
                                                             {"Name": "Resource", "Value": "orders:live"}]
    assert history["MetricStat"]["Period"] == 300  # a bootstrap: 3 days by 5 minutes


def test_cloudwatch_down_is_reported_not_raised() -> None:
    recs = records("a")
    reads = read_all(FakeCloudWatch(fail=True), recs, {}, NOW, 6)
    assert reads.unavailable and reads.account_in_use is None and reads.histories == 0 and reads.failed == 1
    assert "Throttling" in (reads.error or "") and recs[0].cw_read_at_ms == 0


def test_a_bootstrap_fills_three_days_of_a_new_record() -> None:
    # GIVEN a new target (fresh_record) and CloudWatch answering 2 for every 5-minute slot of 3 days
    now = int(datetime.now(tz=UTC).timestamp() * 1000)
    record = fresh_record("a", "a", None, now)

    class Steady(FakeCloudWatch):
        def get_metric_data(self, **kwargs: Any) -> Any:
            start = int(kwargs["StartTime"].timestamp() * 1000)
            end = int(kwargs["EndTime"].timestamp() * 1000)
            return {"MetricDataResults": [
                {"Id": q["Id"], "StatusCode": "Complete",
                 "Timestamps": [datetime.fromtimestamp(t / 1000, tz=UTC)
                                for t in range(start, end, q["MetricStat"]["Period"] * 1000)],
                 "Values": [2.0] * len(range(start, end, q["MetricStat"]["Period"] * 1000))}
                for q in kwargs["MetricDataQueries"]]}

    read_all(Steady(), [record], {}, now, 6)
    known = [v for v in record.peaks if not math.isnan(v)]
    # THEN nearly all 864 slots are known (the newest one or two are not published yet)
    assert len(known) >= 860 and set(known) == {2.0}
    assert record.peaks_start_ms <= now - 3 * 24 * 3600_000 + 2 * SLOT_MS


@pytest.mark.parametrize("reserved", [None, 5])
def test_only_reserved_targets_get_an_every_run_read(reserved: int | None) -> None:
    recs = records("a")
    recs[0].config.reserved = reserved
    recs[0].cw_read_at_ms = recs[0].cw_through_ms = NOW  # history just read
    cloudwatch = FakeCloudWatch()
    reads = read_all(cloudwatch, recs, {}, NOW, 6)
    assert reads.metric_reads == (2 if reserved else 1)
