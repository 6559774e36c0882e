"""Prints a :class:`RunView` the way the Step Functions console shows an execution (with ``rich``)."""

from __future__ import annotations

from pathlib import Path

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


def targets_table(view: RunView, previous: RunView | None = None) -> Table:
    table = Table(title="Targets", box=box.SIMPLE_HEAD, title_justify="left", show_edge=False)
    columns = ["Target", "Forecast (model)", "Requested", "Distinct envs", "Cold inits", "Throttles retried",
               "Status", "Cost"]
    if previous is not None:
        columns.insert(4, "Same envs")
    for column in columns:
        table.add_column(column, justify="left" if column in ("Target", "Forecast (model)", "Status") else "right",
                         no_wrap=column == "Target")
    for target in view.targets:
        forecast = target.get("forecast") or {}
        name = str(target.get("function"))
        status = str(target.get("status", ""))
        cells: list[str | Text] = [
            name + (f":{target['qualifier']}" if target.get("qualifier") else ""),
            f"{forecast.get('desired', '—')} ({forecast.get('model', '—')})",
            str(target.get("requested", 0)), str(target.get("distinct_envs", 0)), str(target.get("cold_inits", 0)),
            str(target.get("throttled", 0)), Text(status, style=_TARGET_STYLE.get(status, "")),
            f"${float(target.get('cost_usd') or 0.0):.7f}",
        ]
        if previous is not None:
            now = view.runtime.get(name)
            before = previous.runtime.get(name)
            same = len(now.envs & before.envs) if now and before else 0
            cells.insert(4, f"{same}/{len(now.envs) if now else 0}")
        table.add_row(*cells)
    return table


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
    if view.totals:
        t = view.totals
        console.print(
            f"Totals: {t.get('targets', 0)} targets, {t.get('distinct_envs', 0)}/{t.get('requested', 0)} "
            f"environments warm, {t.get('cold_inits', 0)} cold inits, {t.get('throttled', 0)} throttles retried, "
            f"{t.get('errors', 0)} errors · pings ${float(t.get('cost_usd') or 0):.6f}, orchestration "
            f"${float(t.get('orchestration_cost_usd') or 0):.6f}")
    if history_path is not None:
        console.print(Text.assemble("Execution history: ", (str(history_path), "cyan")))
