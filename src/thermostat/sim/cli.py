"""``thermostat simulate`` and ``thermostat export`` (registered by ``thermostat.cli``)."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from thermostat.cli import CliError, unwritable_reason
from thermostat.config import DiscoverySettings
from thermostat.exceptions import ConfigurationError, TraceFormatError
from thermostat.forecast.objective import DEFAULT_PRICE_PER_COLD_START
from thermostat.sim import trace as tr
from thermostat.sim.engine import simulate
from thermostat.sim.lifecycle import Lifecycle
from thermostat.sim.policies import DEFAULT_POLICIES, Policy, SimSettings, parse_policies
from thermostat.sim.readers import load_trace
from thermostat.sim.report import document, print_report, write_json
from thermostat.sim.results import summarize
from thermostat.sim.workload import ARRIVAL_MODES

NEVER = 10**9  # minutes: "--recycle-minutes 0" turns the forced recycle off


def _number(kind: type, low: float, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if value < low:
            raise argparse.ArgumentTypeError(f"{text!r} must be ≥ {low:g}")
        return value
    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    sim = subparsers.add_parser("simulate", help="what-if replay of a trace: cold starts avoided vs cost",
                                description="Replays a trace through Lambda's environment lifecycle under "
                                            "several warming policies (docs/simulate.md).")
    sim.add_argument("trace", type=Path, metavar="TRACE",
                     help="Azure Functions 2019 trace directory, or a CloudWatch export CSV")
    sim.add_argument("--policies", default=DEFAULT_POLICIES, help=f"comma list (default {DEFAULT_POLICIES})")
    sim.add_argument("--trigger", help="keep only functions with this Trigger (e.g. http)")
    sim.add_argument("--functions", help="keep only these ids (comma list, or @FILE with one per line)")
    sim.add_argument("--min-rate", type=_number(float, 0.0, "a number"), default=0.0,
                     help="keep functions averaging at least this many requests per minute")
    sim.add_argument("--json", type=Path, metavar="OUT", help="write the results document (docs/simulate.md)")
    sim.add_argument("--plot", type=Path, metavar="OUT.png", help="cold-start rate vs monthly cost (PNG)")
    sim.add_argument("--seed", type=_number(int, 0, "a whole number"), default=0)
    sim.add_argument("--workflow", choices=("standard", "express"), default="express",
                     help="Step Functions type the workflow policies are costed with (default %(default)s, as the "
                          "template)")
    sim.add_argument("--arrivals", choices=ARRIVAL_MODES, default="uniform")
    sim.add_argument("--workers", type=_number(int, 1, "a whole number"), default=min(2, os.cpu_count() or 1))
    sim.add_argument("--allow-missing", action="store_true",
                     help="drop functions without durations/memory rows instead of failing")
    sim.add_argument("--memory-mb", type=_number(int, 128, "a whole number"),
                     help="one memory size for every function (default: from the trace)")
    sim.add_argument("--idle-minutes", type=_number(float, 0.0, "a number"), default=10.0)
    sim.add_argument("--recycle-minutes", type=_number(float, 0.0, "a number"), default=120.0,
                     help="forced recycle after this long (± --recycle-jitter-minutes); 0 = never")
    sim.add_argument("--recycle-jitter-minutes", type=_number(float, 0.0, "a number"), default=10.0)
    sim.add_argument("--init-ms", type=_number(float, 0.0, "a number"), default=250.0)
    sim.add_argument("--ping-hold-ms", type=_number(float, 0.0, "a number"), default=100.0,
                     help="hold of a fixed:N ping (workflow pings hold until release_at)")
    sim.add_argument("--workflow-hold-ms", type=_number(float, 0.0, "a number"),
                     help="hold of a workflow ping (thermostat/reactive/oracle); default WarmOptions.send_ahead_ms "
                          "= 400 (Warm Batch fires that long before release_at)")
    sim.add_argument("--max-warm", type=_number(int, 1, "a whole number"),
                     help=f"per-target max of the thermostat (default {DiscoverySettings.max_warm})")
    sim.add_argument("--min-warm", type=_number(int, 0, "a whole number"),
                     help=f"per-target floor of the thermostat (default {DiscoverySettings.min_warm})")
    sim.add_argument("--price-per-cold-start", type=_number(float, 0.0, "a number"),
                     default=DEFAULT_PRICE_PER_COLD_START,
                     help="USD a cold start avoided is worth (the thermostat's objective; default %(default)s); "
                          "thermostat@PRICE in --policies overrides it per policy")
    sim.add_argument("--metric-read-hours", type=_number(float, 0.0, "a number"), default=6.0,
                     help="hours between CloudWatch reads of a target (default %(default)s, as MetricReadHours)")
    sim.add_argument("--no-statsmodels", action="store_true",
                     help="thermostat without its statsmodels hints (ablation)")
    sim.add_argument("--score-window", metavar="START:END",
                     help="count cold starts and costs only for minutes START..END of the trace (the policies "
                          "still run from minute 0): e.g. 720:1440 scores the second half of a day")
    sim.add_argument("--replicate", type=_number(int, 1, "a whole number"), default=1,
                     help="replay every function K times under new ids (fleet-size what-ifs; default 1)")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(func=run_simulate)

    export = subparsers.add_parser("export", help="a stack's targets' per-minute CloudWatch history -> CSV",
                                   description="Writes the CSV `thermostat simulate` reads, from a real account.")
    export.add_argument("--stack", required=True, help="the Thermostat stack (its tag parameters find targets)")
    export.add_argument("--hours", type=_number(int, 1, "a whole number"), default=72)
    export.add_argument("--out", type=Path, required=True, metavar="FILE")
    export.add_argument("--region")
    export.add_argument("--profile")
    export.set_defaults(func=run_export)


def settings_from(args: argparse.Namespace) -> SimSettings:
    recycle = args.recycle_minutes if args.recycle_minutes > 0 else NEVER
    life = Lifecycle(idle_ttl_ms=args.idle_minutes * 60_000.0, recycle_ms=recycle * 60_000.0,
                     recycle_jitter_ms=min(args.recycle_jitter_minutes, recycle) * 60_000.0, init_ms=args.init_ms)
    discovery = DiscoverySettings()
    if args.max_warm is not None:
        discovery = dataclasses.replace(discovery, max_warm=args.max_warm)
    if args.min_warm is not None:
        discovery = dataclasses.replace(discovery, min_warm=args.min_warm)
    if discovery.min_warm > discovery.max_warm:
        raise CliError(f"--min-warm {discovery.min_warm} is above --max-warm {discovery.max_warm}")
    start, end = score_window(args.score_window)
    return SimSettings(life=life, seed=args.seed, arrivals=args.arrivals, baseline_hold_ms=args.ping_hold_ms,
                       discovery=discovery, workflow=args.workflow, hold_override_ms=args.workflow_hold_ms,
                       price_per_cold_start=args.price_per_cold_start, use_statsmodels=not args.no_statsmodels,
                       metric_read_hours=args.metric_read_hours, score_from_minute=start, score_to_minute=end)


def score_window(text: str | None) -> tuple[int, int | None]:
    if not text:
        return 0, None
    low, sep, high = text.partition(":")
    if not sep or not low.isdigit() or not high.isdigit() or int(low) >= int(high):
        raise CliError(f"--score-window {text!r}: expected START:END in minutes with START < END, e.g. 720:1440")
    return int(low), int(high)


def select(trace: tr.Trace, args: argparse.Namespace) -> tr.Trace:
    if args.trigger:
        trace = tr.filter_trigger(trace, args.trigger)
    if args.functions:
        spec: str = args.functions
        wanted = (tr.read_id_file(Path(spec[1:])) if spec.startswith("@")
                  else [part.strip() for part in spec.split(",") if part.strip()])
        if not wanted:
            raise CliError(f"--functions {spec!r}: no function id given")
        trace = tr.filter_ids(trace, wanted)
    if args.min_rate:
        trace = tr.filter_min_rate(trace, args.min_rate)
    if args.memory_mb:
        trace = trace.with_memory(args.memory_mb)
    if args.replicate > 1:
        trace = tr.replicate(trace, args.replicate)
    if trace.functions == 0:
        raise CliError("no function left after --trigger/--functions/--min-rate")
    return trace


def check_writable(path: Path | None, flag: str) -> None:
    """Fail before the replay (which can take a minute) when an output file cannot be written."""
    reason = None if path is None else unwritable_reason(path)
    if reason is not None:
        raise CliError(f"{flag} {path}: {reason}")


def run_simulate(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    try:
        policies: list[Policy] = parse_policies(args.policies)
    except ValueError as exc:
        raise CliError(f"--policies: {exc}") from None
    if args.plot and args.plot.suffix.lower() != ".png":
        raise CliError(f"--plot: {str(args.plot)!r} must end in .png")
    check_writable(args.json, "--json")
    check_writable(args.plot, "--plot")
    try:
        trace = select(load_trace(args.trace, allow_missing=args.allow_missing), args)
    except TraceFormatError as exc:
        print(f"thermostat: error: TraceFormatError: {exc}", file=sys.stderr)
        return 2
    settings = settings_from(args)
    began = time.perf_counter()
    # auto_refresh=False: no refresh thread alive when the worker processes fork
    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("functions"),
                  TimeElapsedColumn(), console=err, disable=args.quiet, transient=True,
                  auto_refresh=False) as progress:
        task = progress.add_task("functions", total=trace.functions)

        def advance(done: int) -> None:
            progress.advance(task, done)
            progress.refresh()

        results = simulate(trace, policies, settings, workers=args.workers, progress=advance)
    wall = time.perf_counter() - began
    per_policy = {p.name: sum(r.outcomes[p.name].seconds for r in results) for p in policies}
    summary = summarize(trace, policies, results, settings, per_policy)
    none_cold = sum(r.outcomes["none"].cold_starts for r in results)
    doc = document(trace, settings, summary, none_cold, wall)
    print_report(doc, Console(highlight=False, width=None if sys.stdout.isatty() else 160))
    if args.json:
        try:
            write_json(doc, args.json)
        except OSError as exc:
            raise CliError(f"--json {args.json}: cannot write: {exc.strerror or exc}") from None
    if args.plot:
        from thermostat.sim.plot import plot

        try:
            plot(doc, args.plot)
        except OSError as exc:
            raise CliError(f"--plot {args.plot}: cannot write: {exc.strerror or exc}") from None
    return 0


def run_export(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from thermostat.sim.export import ExportClients, export_history

    try:
        session = boto3.Session(region_name=args.region, profile_name=args.profile)
        clients = ExportClients(session.client("cloudformation"), session.client("lambda"),
                                session.client("cloudwatch"), session.client("resourcegroupstaggingapi"))
        summary = export_history(args.stack, args.hours, args.out, clients, int(time.time() * 1000))
    except (ClientError, BotoCoreError, ConfigurationError) as exc:
        raise CliError(f"--stack {args.stack}: {type(exc).__name__}: {exc}") from None
    print(f"wrote {args.out}: {summary.targets} targets x {summary.minutes} minutes ({summary.rows} rows, "
          f"{summary.calls} GetMetricData calls)")
    for line in summary.skipped:
        print(f"skipped {line}", file=sys.stderr)
    return 0
