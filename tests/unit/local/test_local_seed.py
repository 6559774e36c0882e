"""CloudWatch history replayed from the trace onto local targets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto import mock_aws

from thermostat.local import seed, workarounds

TRACE = seed.default_trace_dir(Path(__file__).resolve().parents[3])
needs_trace = pytest.mark.skipif(not TRACE.is_dir(), reason=f"trace not found at {TRACE}")
NOW = dt.datetime(2026, 11, 20, 12, 0, 30, tzinfo=dt.UTC).timestamp()


@needs_trace
def test_targets_get_distinct_busy_trace_functions_deterministically() -> None:
    # WHEN three targets are mapped twice with the same seed, once with another
    names = ["b-target", "a-target", "c-target"]
    first = seed.histories_for(names, TRACE, seed=7)
    again = seed.histories_for(list(reversed(names)), TRACE, seed=7)
    other = seed.histories_for(names, TRACE, seed=8)
    # THEN the mapping depends only on the names and the seed, and each target has its own function
    assert {n: h.source for n, h in first.items()} == {n: h.source for n, h in again.items()}
    assert {n: h.source for n, h in first.items()} != {n: h.source for n, h in other.items()}
    assert len({h.source for h in first.values()}) == 3
    for history in first.values():
        active = history.invocations > 0
        assert active.mean() >= seed.MIN_ACTIVE_SHARE
        assert seed.PEAK_RANGE[0] <= history.peak <= seed.PEAK_RANGE[1]
        assert (history.concurrency[active] >= 1).all()  # a minute with requests has one busy at least
        assert history.invocations.size == seed.MINUTES


def test_synthetic_history_without_a_trace() -> None:
    histories = seed.histories_for(["x", "y"], None, seed=3)
    assert [h.source for h in histories.values()] == ["synthetic:0", "synthetic:1"]
    assert all(h.invocations.sum() > 0 and h.peak >= 1 for h in histories.values())


def test_direct_seeding_reads_back_like_put_metric_data() -> None:
    # GIVEN one history written directly into the backend for "direct", and through the API for "api"
    history = seed.synthetic(0, seed=1)
    with mock_aws():
        undo = workarounds.install_cloudwatch_index()
        try:
            client = boto3.client("cloudwatch", region_name="us-east-1")
            seeded = seed.seed_history(["direct"], now=NOW, trace_dir=None, seed=1)
            points = seed.datums("api", history, NOW)
            client.put_metric_data(Namespace="AWS/Lambda", MetricData=[{
                "MetricName": p.name, "Dimensions": [{"Name": d.name, "Value": d.value} for d in p.dimensions],
                "Timestamp": p.timestamp.replace(tzinfo=dt.UTC), "Unit": p.unit,
                **({"Value": p.value} if isinstance(p, seed.MetricDatum) else {"StatisticValues": {
                    "SampleCount": p.sample_count, "Sum": p.sum, "Minimum": p.min, "Maximum": p.max}})}
                for p in points if p.namespace == "AWS/Lambda" and p.timestamp.minute < 30][:1000])
            end = dt.datetime.fromtimestamp(NOW, dt.UTC).replace(second=0)
            start = end - dt.timedelta(hours=24)

            def read(function: str, name: str, stat: str) -> list[float]:
                result = client.get_metric_data(MetricDataQueries=[{"Id": "q", "MetricStat": {"Metric": {
                    "Namespace": "AWS/Lambda", "MetricName": name,
                    "Dimensions": [{"Name": "FunctionName", "Value": function}]}, "Period": 60, "Stat": stat}}],
                    StartTime=start, EndTime=end, ScanBy="TimestampAscending")["MetricDataResults"][0]
                return [v for t, v in zip(result["Timestamps"], result["Values"], strict=True) if t.minute < 30]

            # THEN both read back identically, per metric and statistic
            for name, stat in (("Invocations", "Sum"), ("ConcurrentExecutions", "Maximum"),
                               ("Duration", "Average")):
                direct, api = read("direct", name, stat), read("api", name, stat)
                assert direct and direct[:len(api)] == api
        finally:
            undo()
    assert seeded[0].source == "synthetic:0" and seeded[0].datapoints == len(points)


def test_history_ends_at_the_minute_before_now() -> None:
    history = seed.synthetic(2, seed=5)
    points = seed.datums("f", history, NOW)
    last_active = int(np.flatnonzero(history.invocations > 0)[-1])
    expected = dt.datetime(2026, 11, 20, 12, 0) - dt.timedelta(minutes=seed.MINUTES - last_active)
    assert max(p.timestamp for p in points) == expected
    assert {(p.namespace, p.name) for p in points} == {
        ("AWS/Lambda", "ConcurrentExecutions"), ("AWS/Lambda", "Invocations"), ("AWS/Lambda", "Duration")}
    assert all(p.value > 0 for p in points if p.name != "Duration")  # only minutes with a non-zero value
