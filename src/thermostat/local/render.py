"""Prints a :class:`RunView` the way the Step Functions console shows an execution (with ``rich``): the
states, the per-target report (desired and the forecast term that decided, pings requested and what limited
them, distinct environments, warming inits, real cold starts, throttles, median/max hold, status, cost),
the run's own status (ok, degraded with the reasons, overlap) and the totals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from thermostat.local.report import RunView, StateRow

_STATUS_STYLE = {"SUCCEEDED": "bold green", "FAILED": "bold red", "TIMED_OUT": "bold red",
                 "ABORTED": "bold yellow", "RUNNING": "bold blue"}
_STATE_STYLE = {"succeeded": "green", "caught": "yellow", "failed": "red"}
_TARGET_STYLE = {"warmed": "green", "partial": "yellow", "failed": "red", "throttled": "red",
                 "error": "red", "skipped": "dim", "planned": "cyan"}


def _duration(ms: float) -> str:
    return f"{ms / 1000.0:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def _state_label(row: StateRow) -> Text:
    label = Text(("    └ " if row.depth else "") + row.name)
    if row.entries > 1:
        label.append(f" x{row.entries}", style="dim")
    return label


def states_table(view: RunView) -> Table:
    table = Table(title="Graph view — states", box=box.SIMPLE_HEAD, title_justify="left", show_edge=False)
    for column, justify in (("State", "left"), ("Type", "left"), ("Status", "left"), ("Started", "right"),
                            ("Duration", "right"), ("Retries", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in view.states:
        duration = _duration(row.total_ms if row.depth == 0 else row.max_ms)
        if row.depth and row.entries > 1:
            duration = f"max {duration}"
        table.add_row(_state_label(row), row.type, Text(row.status, style=_STATE_STYLE.get(row.status, "")),
                      f"+{_duration(row.offset_ms)}", duration if row.exits else "—",
                      str(row.retries) if row.retries else "")
    return table


_OUTCOME_STYLE = {"ok": "bold green", "degraded": "bold yellow", "overlap": "bold cyan", "conflict": "bold yellow"}
_RIGHT = {"Requested", "Envs", "Same", "Inits", "Real cold", "Throttles", "Hold ms", "Cost"}
LEGEND = ("Envs: distinct environments that answered · Inits: environments the pings started (billed warming "
          "inits) · Real cold: environments real traffic started · Hold ms: median/max")


def _label(target: dict[str, Any]) -> str:
    return str(target.get("function")) + (f":{target['qualifier']}" if target.get("qualifier") else "")


def _hold(target: dict[str, Any]) -> str:
    if not target.get("distinct_envs"):
        return "—"
    return f"{float(target.get('hold_ms_median') or 0.0):.0f}/{float(target.get('hold_ms') or 0.0):.0f}"


def targets_table(view: RunView, previous: RunView | None = None) -> Table:
    """One row per target of the v2 report: what the forecast wanted and which term decided, what was sent
    (and what limited it), what answered, what it cost."""
    table = Table(title="Targets", box=box.SIMPLE_HEAD, title_justify="left", show_edge=False)
    columns = ["Target", "Desired (term)", "Requested", "Envs", "Inits", "Real cold", "Throttles", "Hold ms",
               "Status", "Cost"]
    if previous is not None:
        columns.insert(4, "Same")
    for column in columns:
        table.add_column(column, justify="right" if column in _RIGHT else "left", no_wrap=True)
    for target in view.targets:
        name = str(target.get("function"))
        status = str(target.get("status", ""))
        requested = str(target.get("requested", 0))
        if target.get("limited_by"):
            requested += f" ({target['limited_by']})"
        cells: list[str | Text] = [
            _label(target), f"{target.get('desired', '—')} ({target.get('term') or '—'})", requested,
            str(target.get("distinct_envs", 0)), str(target.get("cold_inits", 0)),
            str(target.get("real_cold_starts", 0)), str(target.get("throttled", 0)), _hold(target),
            Text(status, style=_TARGET_STYLE.get(status, "")), f"${float(target.get('cost_usd') or 0.0):.7f}",
        ]
        if previous is not None:
            now = view.runtime.get(name)
            before = previous.runtime.get(name)
            same = len(now.envs & before.envs) if now and before else 0
            cells.insert(4, f"{same}/{len(now.envs) if now else 0}")
        table.add_row(*cells)
    return table


def outcome_line(view: RunView) -> Text | None:
    """The run's own status: ok, degraded (with the reasons), overlap (with the run holding the lease)."""
    if not view.outcome:
        return None
    line = Text.assemble(("Run: ", "bold"), (view.outcome, _OUTCOME_STYLE.get(view.outcome, "bold")))
    if view.degraded:
        line.append(" — " + "; ".join(reason[:300] for reason in view.degraded[:5]))
    for note in view.notes:
        line.append("\n  " + note)
    return line


def totals_line(view: RunView) -> str:
    t = view.totals
    parts = t.get("overhead_usd") or {}
    overhead = ", ".join(f"{name} ${float(usd):.6f}" for name, usd in parts.items())
    return (f"Totals: {t.get('targets', 0)} targets, {t.get('distinct_envs', 0)}/{t.get('requested', 0)} "
            f"environments warm, {t.get('cold_inits', 0)} warming inits, {t.get('real_cold_starts', 0)} real cold "
            f"starts, {t.get('throttled', 0)} throttles, {t.get('errors', 0)} errors · pings "
            f"${float(t.get('cost_usd') or 0):.6f}, whole run ${float(t.get('run_cost_usd') or 0):.6f}"
            + (f" ({overhead})" if overhead else ""))


def print_run(console: Console, view: RunView, *, title: str, history_path: Path | None = None,
              previous: RunView | None = None) -> None:
    status = Text(view.status, style=_STATUS_STYLE.get(view.status, "bold"))
    console.print()
    console.rule(Text.assemble(f"{title}  ", (view.name, "bold"), "  ", status, f"  {_duration(view.duration_ms)}"))
    console.print(states_table(view))
    if view.status != "SUCCEEDED":
        console.print(Text.assemble(("Error: ", "bold red"), str(view.error or "—")))
        console.print(Text.assemble(("Cause: ", "bold red"), str(view.cause or "—")))
    if view.targets:
        console.print(targets_table(view, previous))
        console.print(Text(LEGEND, style="dim"))
    if view.targets_total > len(view.targets):
        console.print(f"… {view.targets_total - len(view.targets):,} more targets in the full report"
                      + (f" ({view.report_key})" if view.report_key else ""))
    outcome = outcome_line(view)
    if outcome is not None:
        console.print(outcome)
    if view.totals:
        console.print(totals_line(view))
    if history_path is not None:
        console.print(Text.assemble("Execution history: ", (str(history_path), "cyan")))
