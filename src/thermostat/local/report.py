"""What the Step Functions console shows for one execution, computed from its history and output.

Pure functions over ``DescribeExecution`` + ``GetExecutionHistory`` + the local runtime's invocation
records: state rows (type, status, entries, duration, offset from the start), the per-target table and
the totals. Rendering is in :mod:`thermostat.local.render`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from thermostat.local.runtime import InvocationRecord


@dataclass
class StateRow:
    name: str
    type: str  # Task, Map, Choice, Pass, Succeed, Fail, ...
    depth: int  # 0: top level; 1: inside a Map's ItemProcessor
    entries: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    offset_ms: float = 0.0  # first entry, from the execution start
    status: str = "succeeded"  # succeeded | caught (failed, then Catch) | failed
    retries: int = 0  # task attempts beyond the first
    exits: int = 0


@dataclass
class TargetEnvs:
    """Ground truth from the local runtime: which environments answered a target during the run."""

    envs: set[str] = field(default_factory=set)
    cold: set[str] = field(default_factory=set)


@dataclass
class RunView:
    name: str
    status: str  # the execution's: SUCCEEDED, FAILED, ...
    duration_ms: float
    error: str | None
    cause: str | None
    states: list[StateRow]
    targets: list[dict[str, Any]]
    totals: dict[str, Any]
    summary: str
    runtime: dict[str, TargetEnvs]
    outcome: str = ""  # the run's own status (output "status"): ok | degraded | overlap | conflict
    degraded: list[str] = field(default_factory=list)  # why the run is degraded
    targets_total: int = 0  # every target of the run (the output lists at most 50)
    report_key: str | None = None  # where the full report is (runs/<run>/report.json)

    @property
    def notes(self) -> list[str]:
        """The summary's lines that explain the run rather than a target (overlap, top-up)."""
        return [line for line in self.summary.splitlines() if line.startswith(("overlap:", "top-up:", "... "))]


def _ms(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() * 1000.0


def _top_level(definition: dict[str, Any]) -> dict[str, str]:
    return {name: str(state.get("Type", "")) for name, state in (definition.get("States") or {}).items()}


def _nested(definition: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for state in (definition.get("States") or {}).values():
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                found.update(_top_level(state[key]))
                found.update(_nested(state[key]))
        for branch in state.get("Branches") or []:
            found.update(_top_level(branch))
    return found


def state_rows(events: list[dict[str, Any]], definition: dict[str, Any]) -> list[StateRow]:
    """One row per state name, in order of first entry; Entered/Exited paired along previousEventId."""
    top, nested = _top_level(definition), _nested(definition)
    by_id = {e["id"]: e for e in events}
    start = events[0]["timestamp"] if events else None
    rows: dict[str, StateRow] = {}
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if event["type"].endswith("StateEntered") and details:
            name = details["name"]
            row = rows.setdefault(name, StateRow(name, top.get(name) or nested.get(name, "?"),
                                                 0 if name in top else 1))
            if row.entries == 0 and start is not None:
                row.offset_ms = _ms(start, event["timestamp"])
            row.entries += 1
            continue
        exited = event.get("stateExitedEventDetails")
        if exited is None:
            continue
        found = rows.get(exited["name"])
        if found is None:
            continue
        row = found
        row.exits += 1
        cursor, failed, attempts = by_id.get(event.get("previousEventId")), False, 0
        while cursor is not None:
            details = cursor.get("stateEnteredEventDetails") or {}
            if cursor["type"].endswith("StateEntered") and details.get("name") == row.name:
                duration = _ms(cursor["timestamp"], event["timestamp"])
                row.total_ms += duration
                row.max_ms = max(row.max_ms, duration)
                break
            failed = failed or cursor["type"] in ("TaskFailed", "TaskTimedOut", "MapStateFailed")
            attempts += cursor["type"] == "TaskScheduled"
            cursor = by_id.get(cursor.get("previousEventId"))
        row.retries += max(attempts - 1, 0)
        if failed and row.status == "succeeded":
            row.status = "caught"
    for row in rows.values():
        if row.exits < row.entries:  # never left: a Fail state, or a failure nothing caught
            row.status = "failed"
    return sorted(rows.values(), key=lambda r: (r.offset_ms, r.depth))


def runtime_envs(records: Iterable[InvocationRecord], functions: Iterable[str]) -> dict[str, TargetEnvs]:
    wanted = set(functions)
    out: dict[str, TargetEnvs] = {name: TargetEnvs() for name in wanted}
    for record in records:
        if record.function in wanted and record.error_type is None:
            out[record.function].envs.add(record.env_id)
            if record.cold:
                out[record.function].cold.add(record.env_id)
    return out


def build_view(describe: dict[str, Any], events: list[dict[str, Any]], definition: dict[str, Any],
               records: Iterable[InvocationRecord]) -> RunView:
    raw = describe.get("output")
    output = json.loads(raw) if raw else {}
    if not isinstance(output, dict):
        output = {}
    targets = list(output.get("targets") or [])
    start, stop = describe.get("startDate"), describe.get("stopDate")
    return RunView(
        name=str(describe.get("name")), status=str(describe.get("status")),
        duration_ms=_ms(start, stop) if start and stop else 0.0,
        error=describe.get("error"), cause=describe.get("cause"),
        states=state_rows(events, definition), targets=targets,
        totals=dict(output.get("totals") or {}),
        summary=str(output.get("summary") or ""),
        runtime=runtime_envs(records, [str(t.get("function")) for t in targets]),
        outcome=str(output.get("status") or ""), degraded=[str(d) for d in output.get("degraded") or []],
        targets_total=int(output.get("targets_total") or len(targets)),
        report_key=output.get("report_key") if isinstance(output.get("report_key"), str) else None,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def write_history(path: Path, describe: dict[str, Any], events: list[dict[str, Any]]) -> Path:
    """The full execution history as JSON (what ``aws stepfunctions get-execution-history`` prints)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"execution": _jsonable(describe), "events": _jsonable(events)}, indent=1))
    return path
