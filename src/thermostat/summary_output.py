"""What Summarize shows: the console summary (Step Functions output pane), which targets the state output
keeps, and the EMF metric groups.

Pure: :func:`metric_groups` says which metrics to emit; ``thermostat.emf`` prints them. Every metric
carries the ``Stack`` dimension (two stacks never mix); per-target metrics add ``Target`` (``name`` or
``name:qualifier``). The names are the ones template.yaml's alarms and dashboard read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from thermostat.models import TargetReport, Totals

COUNT = "Count"
NONE = "None"  # CloudWatch unit for a dimensionless value (USD)
MILLISECONDS = "Milliseconds"
MAX_OUTPUT_TARGETS = 50  # the state output lists every target up to this many, else the most interesting

RUN_METRICS = ("Targets", "PingsRequested", "DistinctEnvironments", "ColdInits", "RealColdStarts", "Throttles",
               "Errors", "Degraded", "Overlap", "RunCostUsd", "PingCostUsd", "RunDurationMs")
TARGET_METRICS = ("Desired", "DistinctEnvironments", "RealColdStarts", "Throttles", "CostUsd")


@dataclass(frozen=True)
class MetricGroup:
    """One EMF document: metrics sharing one dimension set."""

    dimensions: tuple[tuple[str, str], ...]
    values: tuple[tuple[str, str, float], ...]  # (name, unit, value)


def interest(report: TargetReport) -> tuple[int, int, int, int, int, str]:
    """Sort key, most interesting first: errors (or a failed/error status), throttles, shortfall, real cold
    starts; then by how many."""
    short = max(report["requested"] - report["distinct_envs"], 0)
    if report["errors"] or report["status"] in ("error", "failed"):
        tier = 0
    elif report["throttled"]:
        tier = 1
    elif short:
        tier = 2
    elif report["real_cold_starts"]:
        tier = 3
    else:
        tier = 4
    return (tier, -report["errors"], -report["throttled"], -short, -report["real_cold_starts"], report["key"])


def output_targets(reports: Sequence[TargetReport], limit: int = MAX_OUTPUT_TARGETS) -> list[TargetReport]:
    """Every target (in plan order) when there are at most ``limit``, else the ``limit`` most interesting."""
    return list(reports) if len(reports) <= limit else sorted(reports, key=interest)[:limit]


def _label(report: TargetReport) -> str:
    return report["key"]


def _target_line(report: TargetReport, width: int) -> str:
    envs = f"{report['distinct_envs']}/{report['requested']}"
    line = (f"{report['status']:<9} {_label(report):<{width}} {envs:>7} envs  new {report['cold_inits']}  "
            f"real cold {report['real_cold_starts']}  throttled {report['throttled']}  errors {report['errors']}  "
            f"hold {report['hold_ms_median']:.0f}/{report['hold_ms']:.0f} ms  ${report['cost_usd']:.7f}  "
            f"plan {report['desired']} ({report['term'] or '-'})")
    if report["status"] not in ("warmed", "skipped") and report["reason"]:
        line += f"  - {report['reason'][:200]}"
    return line


def render_summary(*, run_name: str, round_: int, workflow_type: str, status: str, degraded: Sequence[str],
                   totals: Totals, reports: Sequence[TargetReport], shown: Sequence[TargetReport],
                   report_uri: str | None, dry_run: bool, topup_batches: int, topup_targets: int,
                   overlap_with: Mapping[str, Any] | None = None) -> str:
    """Header, costs, degraded reasons (or the run holding the lease), one line per shown target (worst first
    when truncated), the rest counted by status, and a top-up line when round 1 follows."""
    header = (f"Thermostat run {run_name} (round {round_}, {workflow_type}): {status} - {totals['targets']} targets, "
              f"{totals['distinct_envs']}/{totals['requested']} environments warm, {totals['cold_inits']} new, "
              f"{totals['real_cold_starts']} real cold starts, {totals['throttled']} throttles, "
              f"{totals['errors']} errors")
    if dry_run:
        header += " [dry run: nothing was sent]"
    parts = totals["overhead_usd"]
    lines = [header, f"cost: pings ${totals['cost_usd']:.7f}, whole run ${totals['run_cost_usd']:.6f} ("
             + ", ".join(f"{name} ${usd:.6f}" for name, usd in parts.items()) + f"); {totals['duration_ms']} ms"]
    if degraded:
        lines.append("degraded: " + "; ".join(d[:300] for d in degraded[:5]))
    if status == "overlap":
        holder = overlap_with or {}
        until = holder.get("until_ms")
        when = (datetime.fromtimestamp(until / 1000, UTC).strftime(" until %Y-%m-%dT%H:%M:%SZ")
                if isinstance(until, int | float) and until > 0 else "")
        lines.append(f"overlap: another run ({str(holder.get('run') or 'unknown')[:300]}) holds the lease{when}; "
                     "this run warmed nothing and wrote no record")
    width = max((len(_label(r)) for r in shown), default=0)
    lines.extend(_target_line(r, width) for r in shown)
    hidden = len(reports) - len(shown)
    if hidden > 0:
        keys = {r["key"] for r in shown}
        counts = Counter(r["status"] for r in reports if r["key"] not in keys)
        by_status = ", ".join(f"{status} {n}" for status, n in counts.most_common())
        lines.append(f"... {hidden} more targets ({by_status})" + (f": full report {report_uri}" if report_uri else ""))
    if topup_batches:
        lines.append(f"top-up: {topup_targets} target(s) short -> round 1 with {topup_batches} batch(es), "
                     "a longer lead time")
    if not reports and status != "overlap":
        lines.append("no targets: tag functions thermostat:enabled=true or list them in the input")
    return "\n".join(lines)


def metric_groups(totals: Totals, reports: Sequence[TargetReport], *, stack: str, status: str,
                  per_target: bool = True) -> list[MetricGroup]:
    """The run totals (dimension Stack) and, with ``per_target``, one group per target (Stack, Target)."""
    run_dims = (("Stack", stack),)
    groups = [MetricGroup(run_dims, (
        ("Targets", COUNT, float(totals["targets"])),
        ("PingsRequested", COUNT, float(totals["requested"])),
        ("DistinctEnvironments", COUNT, float(totals["distinct_envs"])),
        ("ColdInits", COUNT, float(totals["cold_inits"])),
        ("RealColdStarts", COUNT, float(totals["real_cold_starts"])),
        ("Throttles", COUNT, float(totals["throttled"])),
        ("Errors", COUNT, float(totals["errors"])),
        ("Degraded", COUNT, 1.0 if status == "degraded" else 0.0),
        ("Overlap", COUNT, 1.0 if status in ("overlap", "conflict") else 0.0),
        ("RunCostUsd", NONE, float(totals["run_cost_usd"])),
        ("PingCostUsd", NONE, float(totals["cost_usd"])),
        ("RunDurationMs", MILLISECONDS, float(totals["duration_ms"])),
    ))]
    if per_target:
        for report in reports:
            groups.append(MetricGroup((*run_dims, ("Target", report["key"])), (
                ("Desired", COUNT, float(report["desired"])),
                ("DistinctEnvironments", COUNT, float(report["distinct_envs"])),
                ("RealColdStarts", COUNT, float(report["real_cold_starts"])),
                ("Throttles", COUNT, float(report["throttled"])),
                ("CostUsd", NONE, float(report["cost_usd"])),
            )))
    return groups
