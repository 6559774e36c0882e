"""The in-process GetMetricData answer is the one moto's route gives (values, timestamps, labels, order)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from moto import mock_aws

from thermostat.local import cloudwatch_fast, workarounds

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("scan_by", [None, "TimestampAscending"])
def test_the_fast_path_answers_like_moto(scan_by: str | None) -> None:
    with mock_aws():
        undo_index = workarounds.install_cloudwatch_index()
        try:
            cw = boto3.client("cloudwatch", region_name="us-east-1")
            cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[
                {"MetricName": "ConcurrentExecutions", "Dimensions": [{"Name": "FunctionName", "Value": "f"}],
                 "Timestamp": NOW - dt.timedelta(minutes=m), "Value": float(m % 4)} for m in range(1, 40)])
            request: dict[str, Any] = {"MetricDataQueries": [
                {"Id": "a", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "ConcurrentExecutions",
                                                      "Dimensions": [{"Name": "FunctionName", "Value": "f"}]},
                                           "Period": 300, "Stat": "Maximum"}},
                {"Id": "b", "Label": "mine", "MetricStat": {"Metric": {
                    "Namespace": "AWS/Lambda", "MetricName": "ConcurrentExecutions",
                    "Dimensions": [{"Name": "FunctionName", "Value": "f"}]}, "Period": 60, "Stat": "Sum"}},
                {"Id": "none", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Nothing"},
                                              "Period": 60, "Stat": "Sum"}}],
                "StartTime": NOW - dt.timedelta(hours=1), "EndTime": NOW.timestamp()}
            if scan_by:
                request["ScanBy"] = scan_by
            # moto's route (HTTP emulation, CBOR both ways)
            through_moto = cw.get_metric_data(**request)
            undo = cloudwatch_fast.install()
            try:
                fast_client = boto3.client("cloudwatch", region_name="us-east-1")
                fast = fast_client.get_metric_data(**request)
                assert fast["ResponseMetadata"]["HTTPHeaders"] == {}  # it was answered in-process
            finally:
                undo()
        finally:
            undo_index()
    # THEN the same results, including timestamps (as aware datetimes) and their order
    assert through_moto["MetricDataResults"][0]["Values"]
    for slow, quick in zip(through_moto["MetricDataResults"], fast["MetricDataResults"], strict=True):
        assert quick == slow | {"Timestamps": quick["Timestamps"]}
        assert [t.timestamp() for t in quick["Timestamps"]] == [t.timestamp() for t in slow["Timestamps"]]


def test_an_invalid_request_gets_motos_error() -> None:
    from botocore.exceptions import ClientError

    with mock_aws():
        undo = cloudwatch_fast.install()
        try:
            cw = boto3.client("cloudwatch", region_name="us-east-1")
            with pytest.raises(ClientError, match="StartTime"):
                cw.get_metric_data(MetricDataQueries=[{"Id": "a", "MetricStat": {"Metric": {
                    "Namespace": "N", "MetricName": "M"}, "Period": 60, "Stat": "Sum"}}], StartTime=NOW, EndTime=NOW)
        finally:
            undo()
