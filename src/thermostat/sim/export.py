"""``thermostat export``: a stack's targets' per-minute CloudWatch history -> the CSV the simulator reads.

Targets are found exactly as Collect Metrics finds them (``thermostat.discovery``): functions tagged with
the stack's ``TargetTagKey``/``TargetTagValue`` parameters (defaults when the stack has none) plus its
``ExplicitTargets``; history is read with the same batched ``GetMetricData`` queries
(``thermostat.collect``), Period 60 over the last ``hours``. Clients are passed in (moto in tests).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thermostat.config import DiscoverySettings, parse_explicit_targets
from thermostat.discovery import configured_targets, describe_targets, discover_tagged, merge_targets
from thermostat.metric_data import METRICS, build_queries, fetch_metric_data, metric_window, query_id, to_points
from thermostat.sim.cloudwatch import COLUMNS

# CSV column <- History field of thermostat.collect.METRICS
FIELD_COLUMNS = {"concurrency": "concurrent_executions", "invocations": "invocations",
                 "duration_ms": "duration_avg_ms", "throttles": "throttles", "warm_pings": "warm_pings",
                 "real_invocations": "real_invocations"}


@dataclass(frozen=True)
class ExportClients:
    cloudformation: Any
    lambda_: Any
    cloudwatch: Any
    tagging: Any


@dataclass(frozen=True)
class ExportSummary:
    targets: int
    skipped: list[str]  # "name: error" of targets that could not be read
    minutes: int
    rows: int
    calls: int


def stack_settings(cloudformation: Any, stack: str) -> DiscoverySettings:
    """Tag key/value and explicit targets from the stack's parameters (raises botocore's ClientError)."""
    stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stacks[0].get("Parameters", [])}
    defaults = DiscoverySettings()
    return DiscoverySettings(
        tag_key=params.get("TargetTagKey") or defaults.tag_key,
        tag_value=params.get("TargetTagValue") or defaults.tag_value,
        explicit_targets=parse_explicit_targets(params.get("ExplicitTargets", "")),
    )


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def export_history(stack: str, hours: int, out: Path, clients: ExportClients, now_ms: int) -> ExportSummary:
    settings = stack_settings(clients.cloudformation, stack)
    specs = merge_targets(discover_tagged(clients.tagging, settings), configured_targets(settings))
    targets = describe_targets(clients.lambda_, specs)
    window = metric_window(now_ms, hours * 60)
    queries = build_queries(targets, window.period_s)
    values, calls = fetch_metric_data(clients.cloudwatch, queries, window) if queries else ({}, 0)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    skipped = [f"{t['function']}: {t['error']}" for t in targets if "error" in t]
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for index, target in enumerate(targets):
            if "error" in target:
                continue
            series = {FIELD_COLUMNS[m.field]: to_points(values.get(query_id(index, m), {}), window) for m in METRICS}
            for point in range(window.points):
                stamp = datetime.fromtimestamp((window.start_ms + point * 60_000) / 1000, tz=UTC)
                row = {"function": target["function"], "qualifier": target["qualifier"] or "",
                       "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), "memory_mb": str(target["memory_mb"])}
                row.update({column: _cell(points[point]) for column, points in series.items()})
                writer.writerow([row[c] for c in COLUMNS])
                rows += 1
    return ExportSummary(len(targets) - len(skipped), skipped, window.points, rows, calls)
