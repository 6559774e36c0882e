"""One observed run of the fault matrix (and the zero-throttle tests), and the matrix's table in Markdown."""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thermostat.local.runtime import FunctionStats
from thermostat.local.session import ExecutionRun, LocalAws
from thermostat.local.traffic import Pattern

PREFIX = "thermostat-demo-"


@dataclass
class Observed:
    run: ExecutionRun
    status: str  # the run's own status: ok | degraded | overlap | conflict ("" when the execution failed)
    degraded: list[str]
    targets: dict[str, dict[str, Any]]  # by function name
    real_throttles: dict[str, int]  # per function, real requests answered 429 during the run
    real_requests: int  # background real requests sent during the run
    pings: dict[str, tuple[int, int]]  # per function: (ping invocations, ping throttles)
    before: dict[str, FunctionStats]  # the runtime's counters when the run started
    wall_s: float
    note: str = ""  # what the row's own check found (for the table)

    @property
    def pings_total(self) -> int:
        return sum(invoked for invoked, _ in self.pings.values())

    def says(self) -> str:
        """What the run's output says, in one cell: status, degraded reasons, then each target."""
        out = self.run.output if isinstance(self.run.output, dict) else {}
        parts = [self.status or f"{self.run.status} {self.run.describe.get('error')}"]
        parts += [f"degraded: {reason[:140]}" for reason in self.degraded[:3]]
        for target in out.get("targets", []):
            cell = (f"{str(target['function']).removeprefix(PREFIX)} {target['status']} "
                    f"{target['distinct_envs']}/{target['requested']}")
            if target.get("limited_by"):
                cell += f" ({target['limited_by']})"
            if target.get("throttled"):
                cell += f", {target['throttled']} throttles"
            if target.get("errors"):
                cell += f", {target['errors']} errors"
            parts.append(cell)
        if self.note:
            parts.append(f"[{self.note}]")
        if not out.get("targets") and out.get("summary"):
            lines = str(out["summary"]).splitlines()
            parts.append(next((line for line in lines if line.startswith("overlap:")), lines[0])[:200])
        return "; ".join(parts)


def observe(aws: LocalAws, execution_input: Any, traffic: Mapping[str, Pattern] | None,
            timeout_s: float = 120) -> Observed:
    """Run one execution (with ``traffic`` sent in the background while it runs) and count what happened."""
    before = aws.runtime.snapshot()
    started = time.perf_counter()
    if traffic:
        with aws.background_traffic(traffic) as figures:
            run = aws.run(execution_input, timeout_s=timeout_s)
        sent = sum(f.requests for f in figures.values())
    else:
        run = aws.run(execution_input, timeout_s=timeout_s)
        sent = 0
    wall = time.perf_counter() - started
    counters = aws.counters(since=before)
    out = run.output if isinstance(run.output, dict) else {}
    return Observed(
        run=run, status=str(out.get("status", "")), degraded=list(out.get("degraded") or []),
        targets={str(t["function"]): t for t in out.get("targets", [])},
        real_throttles={n: c.real_throttles for n, c in counters.items() if c.real_throttles},
        real_requests=sent, pings={n: (c.ping_invocations, c.ping_throttles) for n, c in counters.items()},
        before=before, wall_s=wall)


def write_matrix(path: Path, order: list[str], row_id: str, fault: str, seen: Observed) -> str:
    """Keep this row's line (``<path stem>.rows.json`` beside ``path``) and rewrite the table with every row
    known, in ``order``; returns the row's line (also printed). Safe with several pytest workers."""
    line = (f"| {fault} | {seen.run.status} / {seen.status or '-'} ({seen.wall_s:.1f} s) | "
            f"{sum(seen.real_throttles.values())} of {seen.real_requests} | {seen.says()} |")
    print(f"\n{line}")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows_path = path.with_suffix(".rows.json")
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            rows = json.loads(rows_path.read_text()) if rows_path.is_file() else {}
        except ValueError:
            rows = {}
        rows[row_id] = {"line": line, "at": time.strftime("%Y-%m-%d %H:%M:%S"),
                        "real_throttles": seen.real_throttles, "pings": {k: list(v) for k, v in seen.pings.items()
                                                                          if v != (0, 0)},
                        "run": {"status": seen.run.status, "name": seen.run.name}}
        rows_path.write_text(json.dumps(rows, indent=1))
        table = ["| fault | outcome (execution / run, wall) | real throttles caused (of real requests sent) "
                 "| what the report says |", "|---|---|---|---|"]
        table += [rows[r]["line"] for r in order if r in rows]
        path.write_text("# Fault matrix (tests/e2e_local/test_e2e_faults.py)\n\n" + "\n".join(table) + "\n")
    return line

