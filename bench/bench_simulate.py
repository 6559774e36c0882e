"""Simulator speed and figures on a 1,000-function x 24 h trace (the in-repo 250-function sample if absent).

    .venv/bin/python bench/bench_simulate.py [--trace DIR] [--workers 2] [--plot OUT.png] [--json OUT]
                                             [--no-thermostat] [--recycle-minutes 0 --workflow-hold-ms 100]

Prints the wall time of all baseline policies together (target ≤ 15 s) and of the thermostat policy
(target ≤ 60 s), the CPU time per policy, and the table with the thermostat's comparisons.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from rich.console import Console

from thermostat.cli import write_text
from thermostat.sim import load_trace, parse_policies, simulate, summarize
from thermostat.sim.lifecycle import Lifecycle
from thermostat.sim.policies import SimSettings
from thermostat.sim.report import document, json_text, print_report

TRACE = Path(__file__).resolve().parents[2] / "shared" / "traces" / "azure2019-1000fn-24h"
if not TRACE.is_dir():
    TRACE = Path(__file__).resolve().parents[1] / "traces" / "azure2019-250fn-24h"
BASELINES = "none,fixed:1,fixed:8,reactive,oracle,provisioned"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-thermostat", action="store_true")
    parser.add_argument("--recycle-minutes", type=float, default=120.0, help="0 = no forced recycle")
    parser.add_argument("--workflow-hold-ms", type=float)
    args = parser.parse_args()
    console = Console(width=100)

    began = time.perf_counter()
    trace = load_trace(args.trace)
    console.print(f"read {trace.functions:,} functions x {trace.minutes:,} minutes, {trace.invocations:,} requests "
                  f"in {time.perf_counter() - began:.2f} s")
    life = Lifecycle() if args.recycle_minutes > 0 else Lifecycle(recycle_ms=1e12, recycle_jitter_ms=0.0)
    if args.recycle_minutes > 0:
        life = dataclasses.replace(life, recycle_ms=args.recycle_minutes * 60_000.0)
    settings = SimSettings(life=life, hold_override_ms=args.workflow_hold_ms)

    baselines = parse_policies(BASELINES)
    began = time.perf_counter()
    base_results = simulate(trace, baselines, settings, workers=args.workers)
    base_wall = time.perf_counter() - began
    summary = summarize(trace, baselines, base_results, settings)
    console.print(f"baselines ({BASELINES}): {base_wall:.1f} s wall, target ≤ 15 s")
    cpu = {p.name: sum(r.outcomes[p.name].seconds for r in base_results) for p in baselines}

    wall = base_wall
    if not args.no_thermostat:
        thermostat = parse_policies("thermostat")
        began = time.perf_counter()
        results = simulate(trace, thermostat, settings, workers=args.workers)
        thermo_wall = time.perf_counter() - began
        wall += thermo_wall
        summary.update(summarize(trace, thermostat, results, settings))
        cpu["thermostat"] = sum(r.outcomes["thermostat"].seconds for r in results)
        console.print(f"thermostat: {thermo_wall:.1f} s wall, target ≤ 60 s (decided by: "
                      f"{summary['thermostat']['decided_by']})")
    console.print("CPU seconds per policy (summed over workers): "
                  + ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items()))
    for name, seconds in cpu.items():
        summary[name]["wall_s"] = round(seconds / max(args.workers, 1), 2)
    order = [*BASELINES.split(",")[:4], "thermostat", *BASELINES.split(",")[4:]]
    summary = {name: summary[name] for name in order if name in summary}
    none_cold = summary["none"]["cold_starts"]
    doc = document(trace, settings, summary, none_cold, wall)
    print_report(doc, console)
    if args.json:
        write_text(args.json, json_text(doc), "--json")
    if args.plot:
        from thermostat.sim.plot import plot

        plot(doc, args.plot)
        console.print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
