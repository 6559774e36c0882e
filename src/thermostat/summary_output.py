"""What Summarize shows: the run summary text (console output pane) and the EMF metric sets.

Pure: :func:`metric_groups` says which metrics to emit; ``thermostat.emf`` emits them with Powertools.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from thermostat import models

COUNT = "Count"
NONE = "None"  # CloudWatch unit for a dimensionless value (USD)


@dataclass(frozen=True)
class MetricGroup:
    """One EMF document: metrics sharing one dimension set (empty: run-level)."""

    dimensions: tuple[tuple[str, str], ...]
    values: tuple[tuple[str, str, float], ...]  # (name, unit, value)


# Metrics of a target's report and of the run totals alike: (name, unit, field of TargetReport / Totals).
SHARED_METRICS = (
    ("PingsRequested", COUNT, "requested"),
    ("DistinctEnvironments", COUNT, "distinct_envs"),
    ("ColdInits", COUNT, "cold_inits"),
    ("Throttled", COUNT, "throttled"),
    ("Errors", COUNT, "errors"),
    ("WarmingCostUSD", NONE, "cost_usd"),
)


def _shared_values(counts: Mapping[str, Any]) -> tuple[tuple[str, str, float], ...]:
    return tuple((name, unit, float(counts[key])) for name, unit, key in SHARED_METRICS)


def _label(report: models.TargetReport) -> str:
    return models.target_label(report["function"], report["qualifier"])


def _target_line(report: models.TargetReport, width: int) -> str:
    forecast = report["forecast"]
    envs = f"{report['distinct_envs']}/{report['requested']}"
    line = (f"{report['status']:<9} {_label(report):<{width}} {envs:>7} envs  cold {report['cold_inits']}  "
            f"throttled {report['throttled']}  errors {report['errors']}  hold {report['hold_ms']:.0f} ms  "
            f"${report['cost_usd']:.7f}  forecast {forecast['desired']} ({forecast['model']})")
    if report["status"] != "warmed" and report["reason"]:
        line += f"  - {report['reason']}"
    return line


def render_summary(state: models.ReportState, workflow_type: str) -> str:
    """One header line, one line per target, and a top-up line when a top-up round follows."""
    totals = state["totals"]
    run = state["run"]
    reports = state["targets"]
    round_done = run["round"] - 1 if state["topup_needed"] else run["round"]
    header = (f"Thermostat run {run['name']} (round {round_done}, {workflow_type}): {totals['targets']} targets, "
              f"{totals['distinct_envs']}/{totals['requested']} environments warm, "
              f"{totals['cold_inits']} cold inits, {totals['throttled']} throttles retried, "
              f"{totals['errors']} errors; pings ${totals['cost_usd']:.6f}, "
              f"orchestration ${totals['orchestration_cost_usd']:.6f}")
    if state["request"]["dry_run"]:
        header += " [dry run: nothing was sent]"
    width = max((len(_label(r)) for r in reports), default=0)
    lines = [header, *(_target_line(r, width) for r in reports)]
    if state["topup_needed"]:
        short = sum("envs" in r for r in reports)
        lines.append(f"top-up: {short} target(s) short -> round 1 with {len(state['batches'])} batch(es), "
                     "longer lead time")
    if not reports:
        lines.append("no targets: tag functions thermostat:enabled=true or list them in the input")
    return "\n".join(lines)


def metric_groups(state: models.ReportState, per_target: bool = True) -> list[MetricGroup]:
    """Per target (dimension FunctionName, plus Resource=name:qualifier for an alias/version), unless
    ``per_target`` is off, and run-level totals (no dimension but the Powertools service)."""
    groups: list[MetricGroup] = []
    for report in state["targets"] if per_target else []:
        dims: tuple[tuple[str, str], ...] = (("FunctionName", report["function"]),)
        if report["qualifier"] is not None:
            dims += (("Resource", _label(report)),)
        groups.append(MetricGroup(dims, _shared_values(report)))
    totals = state["totals"]
    groups.append(MetricGroup((), (
        ("Targets", COUNT, float(totals["targets"])),
        *_shared_values(totals),
        ("OrchestrationCostUSD", NONE, float(totals["orchestration_cost_usd"])),
        ("FailedTargets", COUNT, float(sum(r["status"] in ("failed", "throttled", "error") for r in state["targets"]))),
    )))
    return groups
