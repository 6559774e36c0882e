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

from thermostat.cli import (
    InputError,
    UsageError,
    add_aws_flags,
    add_command,
    add_json_flag,
    check_writable,
    deprecated_alias,
    progress,
    take_deprecated,
    write_text,
)
from thermostat.config import DiscoverySettings
from thermostat.exceptions import ConfigurationError, TraceFormatError
from thermostat.forecast.objective import DEFAULT_PRICE_PER_COLD_START
from thermostat.sim import trace as tr
from thermostat.sim.engine import simulate
from thermostat.sim.lifecycle import Lifecycle
from thermostat.sim.policies import DEFAULT_POLICIES, WORKFLOW_HOLD_MS, Policy, SimSettings, parse_policies
from thermostat.sim.readers import load_trace
from thermostat.sim.report import document, json_text, print_report
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
    sim = add_command(subparsers, "simulate", help="what-if replay of a trace: cold starts avoided vs cost",
                      description="Replays a per-minute invocation trace through Lambda's environment lifecycle "
                                  "under several warming policies and compares their cold-start rate and monthly "
                                  "cost (docs/simulate.md). Exit status: 0 done, 2 bad flag, 3 unreadable trace.")
    sim.add_argument("trace", type=Path, metavar="TRACE",
                     help="an Azure Functions 2019 trace directory (e.g. traces/azure2019-250fn-24h), or a CSV "
                          "written by 'thermostat export'")
    sim.add_argument("--policies", default=DEFAULT_POLICIES, metavar="LIST",
                     help="comma list of none, fixed:N, fixed:A..B, reactive, thermostat[@PRICE], oracle, "
                          "provisioned")
    sim.add_argument("--trigger", metavar="NAME", help="keep only functions with this Trigger, e.g. http "
                                                       "(default: every function)")
    sim.add_argument("--functions", metavar="IDS",
                     help="keep only these ids: a comma list, or @FILE with one per line (default: every function)")
    sim.add_argument("--min-rate", type=_number(float, 0.0, "a number"), default=0.0, metavar="N",
                     help="keep functions averaging at least N requests per minute")
    add_json_flag(sim, "the results document (schema thermostat.simulate)")
    sim.add_argument("--plot", type=Path, metavar="FILE.png",
                     help="also draw cold-start rate vs monthly cost to a PNG (default: no plot)")
    sim.add_argument("--seed", type=_number(int, 0, "a whole number"), default=0, metavar="N",
                     help="seed of the arrivals, recycles and durations drawn inside each minute")
    sim.add_argument("--workflow", choices=("standard", "express"), default="express",
                     help="Step Functions type the workflow policies are costed with (default: %(default)s, as the "
                          "template)")
    sim.add_argument("--arrivals", choices=ARRIVAL_MODES, default="uniform",
                     help="how a minute's requests are spread inside it")
    sim.add_argument("--workers", type=_number(int, 1, "a whole number"), default=min(2, os.cpu_count() or 1),
                     metavar="N", help="processes replaying functions in parallel (default: %(default)s: two, one on a "
                                      "single CPU)")
    sim.add_argument("--allow-missing", action="store_true",
                     help="drop functions without durations/memory rows instead of failing")
    sim.add_argument("--memory-mb", type=_number(int, 128, "a whole number"), metavar="MB",
                     help="one memory size for every function (default: from the trace)")
    sim.add_argument("--idle-minutes", type=_number(float, 0.0, "a number"), default=10.0, metavar="M",
                     help="an idle environment is reclaimed after M minutes")
    sim.add_argument("--recycle-minutes", type=_number(float, 0.0, "a number"), default=120.0, metavar="M",
                     help="forced recycle after M minutes (± --recycle-jitter-minutes); 0 = never")
    sim.add_argument("--recycle-jitter-minutes", type=_number(float, 0.0, "a number"), default=10.0, metavar="M",
                     help="spread of the forced recycle, ± M minutes")
    sim.add_argument("--init-ms", type=_number(float, 0.0, "a number"), default=250.0, metavar="MS",
                     help="a cold start's init duration")
    sim.add_argument("--ping-hold-ms", type=_number(float, 0.0, "a number"), default=100.0, metavar="MS",
                     help="hold of a fixed:N ping (workflow pings hold until release_at)")
    sim.add_argument("--workflow-hold-ms", type=_number(float, 0.0, "a number"), metavar="MS",
                     help=f"hold of a workflow ping (thermostat/reactive/oracle) (default: {WORKFLOW_HOLD_MS:g}, the "
                          f"median hold measured with the learned send-ahead)")
    sim.add_argument("--max-warm", type=_number(int, 1, "a whole number"), metavar="N",
                     help=f"per-target max of the thermostat (default: {DiscoverySettings.max_warm}, as MaxWarm)")
    sim.add_argument("--min-warm", type=_number(int, 0, "a whole number"), metavar="N",
                     help=f"per-target floor of the thermostat (default: {DiscoverySettings.min_warm}, as MinWarm)")
    sim.add_argument("--price-per-cold-start", type=_number(float, 0.0, "a number"),
                     default=DEFAULT_PRICE_PER_COLD_START, metavar="USD",
                     help="what a cold start avoided is worth, the thermostat's objective (default: %(default)s, as "
                          "PricePerColdStart); thermostat@PRICE in --policies overrides it per policy")
    sim.add_argument("--metric-read-hours", type=_number(float, 0.0, "a number"), default=6.0, metavar="H",
                     help="hours between CloudWatch reads of a target (default: %(default)s, as MetricReadHours)")
    sim.add_argument("--no-statsmodels", action="store_true",
                     help="thermostat without its statsmodels hints (ablation)")
    sim.add_argument("--hours", type=_warm_hours, metavar="HOURS",
                     help="warm hours of every function, e.g. \"Mon-Fri 07:00-19:00 Europe/Berlin\" "
                          "(docs/function-settings.md): no ping and no CloudWatch read outside them; cold starts "
                          "are counted all day (default: always)")
    sim.add_argument("--score-window", metavar="START:END",
                     help="count cold starts and costs only for minutes START..END of the trace, e.g. 720:1440 "
                          "scores the second half of a day; the policies still run from minute 0 (default: all)")
    sim.add_argument("--replicate", type=_number(int, 1, "a whole number"), default=1, metavar="K",
                     help="replay every function K times under new ids (fleet-size what-ifs)")
    sim.add_argument("--quiet", action="store_true", help="no progress on standard error")
    sim.set_defaults(func=run_simulate)

    export = add_command(subparsers, "export", help="a stack's targets' per-minute CloudWatch history -> CSV",
                         description="Writes the CSV 'thermostat simulate' reads, from a real account: the stack's "
                                     "targets found as Collect Metrics finds them (its tag parameters and "
                                     "ExplicitTargets), per minute over the last hours (CloudWatch GetMetricData, "
                                     "$0.01 per 1,000 metrics). Exit status: 0 written, 2 bad flag, 4 no "
                                     "credentials/region, access denied or no such stack.")
    export.add_argument("--stack", required=True, metavar="NAME",
                        help="the Thermostat stack name (its tag parameters find the targets)")
    export.add_argument("--csv", type=Path, dest="csv_out", metavar="FILE",
                        help="the CSV to write (required)")
    export.add_argument("--history-hours", type=_number(int, 1, "a whole number"), default=None, metavar="H",
                        help="hours of history to export, ending now (default: 72)")
    add_aws_flags(export)
    export.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    deprecated_alias(export, "--out", "csv_out", type=Path)
    deprecated_alias(export, "--hours", "history_hours", type=_number(int, 1, "a whole number"))
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
        raise UsageError(f"--min-warm {discovery.min_warm} is above --max-warm {discovery.max_warm}")
    start, end = score_window(args.score_window)
    return SimSettings(life=life, seed=args.seed, arrivals=args.arrivals, baseline_hold_ms=args.ping_hold_ms,
                       discovery=discovery, workflow=args.workflow, hold_override_ms=args.workflow_hold_ms,
                       price_per_cold_start=args.price_per_cold_start, use_statsmodels=not args.no_statsmodels,
                       metric_read_hours=args.metric_read_hours, score_from_minute=start, score_to_minute=end,
                       hours=args.hours)


def _warm_hours(text: str) -> str:
    """``--hours``: checked now (thermostat.hours), kept as its canonical text."""
    from thermostat.hours import HoursError, parse

    try:
        return parse(text).text
    except HoursError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def score_window(text: str | None) -> tuple[int, int | None]:
    if not text:
        return 0, None
    low, sep, high = text.partition(":")
    if not sep or not low.isdigit() or not high.isdigit() or int(low) >= int(high):
        raise UsageError(f"--score-window {text!r}: expected START:END in minutes with START < END, e.g. 720:1440")
    return int(low), int(high)


def select(trace: tr.Trace, args: argparse.Namespace) -> tr.Trace:
    """The filters and transformations of the command line (a filter that matches nothing: exit 2)."""
    try:
        if args.trigger:
            trace = tr.filter_trigger(trace, args.trigger)
        if args.functions:
            spec: str = args.functions
            try:
                wanted = (tr.read_id_file(Path(spec[1:])) if spec.startswith("@")
                          else [part.strip() for part in spec.split(",") if part.strip()])
            except TraceFormatError as exc:
                raise InputError(str(exc)) from None
            if not wanted:
                raise UsageError(f"--functions {spec!r}: no function id given")
            trace = tr.filter_ids(trace, wanted)
    except TraceFormatError as exc:
        raise UsageError(str(exc)) from None
    if args.min_rate:
        trace = tr.filter_min_rate(trace, args.min_rate)
    if args.memory_mb:
        trace = trace.with_memory(args.memory_mb)
    if args.replicate > 1:
        trace = tr.replicate(trace, args.replicate)
    if trace.functions == 0:
        raise UsageError("no function left after --trigger/--functions/--min-rate",
                         hint="loosen the filters (a lower --min-rate, other --functions)")
    return trace


def run_simulate(args: argparse.Namespace) -> int:
    err = Console(stderr=True, highlight=False)
    try:
        policies: list[Policy] = parse_policies(args.policies)
    except ValueError as exc:
        raise UsageError(f"--policies: {exc}") from None
    if args.plot and args.plot.suffix.lower() != ".png":
        raise UsageError(f"--plot: {str(args.plot)!r} must end in .png")
    check_writable(args.json_out, "--json")  # before the replay, which can take minutes
    check_writable(args.plot, "--plot")
    settings = settings_from(args)
    began = time.perf_counter()
    progress(args, f"loading trace {args.trace}")
    try:
        loaded = load_trace(args.trace, allow_missing=args.allow_missing)
    except TraceFormatError as exc:
        raise InputError(str(exc), hint="TRACE is an Azure Functions 2019 trace directory (e.g. "
                                        "traces/azure2019-250fn-24h) or a 'thermostat export' CSV") from None
    trace = select(loaded, args)
    if not args.quiet:
        err.print(f"loaded {trace.functions:,} functions x {trace.minutes:,} minutes in "
                  f"{time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("functions"),
                  TimeElapsedColumn(), console=err, disable=args.quiet, transient=True) as bar:
        task = bar.add_task("functions", total=trace.functions)
        bar.refresh()
        results = simulate(trace, policies, settings, workers=args.workers,
                           progress=lambda done: bar.advance(task, done))
    wall = time.perf_counter() - began
    per_policy = {p.name: sum(r.outcomes[p.name].seconds for r in results) for p in policies}
    summary = summarize(trace, policies, results, settings, per_policy)
    none_cold = sum(r.outcomes["none"].cold_starts for r in results)
    doc = document(trace, settings, summary, none_cold, wall)
    print_report(doc, Console(highlight=False, width=None if sys.stdout.isatty() else 160))
    if args.json_out:
        write_text(args.json_out, json_text(doc), "--json")
    if args.plot:
        from thermostat.sim.plot import plot

        try:
            plot(doc, args.plot)
        except OSError as exc:
            raise UsageError(f"--plot {args.plot}: cannot write: {exc.strerror or exc}") from None
    return 0


def run_export(args: argparse.Namespace) -> int:
    from thermostat.cli_aws import session as aws_session
    from thermostat.cli_aws import stack_outputs
    from thermostat.sim.export import ExportClients, export_history

    take_deprecated(args, "csv_out", "--out", "--csv")
    take_deprecated(args, "history_hours", "--hours", "--history-hours")
    if args.csv_out is None:
        raise UsageError("the --csv FILE flag is required", hint="e.g. --csv out/history.csv")
    hours = args.history_hours or 72
    check_writable(args.csv_out, "--csv")
    session = aws_session(args.profile, args.region)
    progress(args, f"reading stack {args.stack}")
    stack_outputs(session, args.stack)  # a missing stack is named (exit 4) before any other call
    progress(args, f"finding its targets and reading {hours} h of their CloudWatch history")
    clients = ExportClients(session.client("cloudformation"), session.client("lambda"),
                            session.client("cloudwatch"), session.client("resourcegroupstaggingapi"))
    try:
        summary = export_history(args.stack, hours, args.csv_out, clients, int(time.time() * 1000))
    except ConfigurationError as exc:
        raise UsageError(f"stack {args.stack!r}: its parameters are not usable: {exc}") from None
    except OSError as exc:
        raise UsageError(f"--csv {args.csv_out}: cannot write: {exc.strerror or exc}") from None
    print(f"wrote {args.csv_out}: {summary.targets} targets x {summary.minutes} minutes ({summary.rows} rows, "
          f"{summary.calls} GetMetricData calls)")
    for line in summary.skipped:
        print(f"skipped {line}", file=sys.stderr)
    return 0
