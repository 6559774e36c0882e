"""``thermostat local run``: the whole warming cycle on the embedded AWS, printed like the console.

Deploys ``template.yaml`` into moto, seeds 24 h of CloudWatch history from the trace, starts an
execution with ``--input``, waits, prints it; then (``--runs 2``, the default) a second execution one
minute later on the fake clock, which finds the same environments warm. With ``--traffic`` the seeded
targets get real traffic from their trace between runs (``--interval`` apart, 300 s by default).
Progress is printed while it works; ``--json FILE`` keeps the run as JSON: each execution's output and
figures (timings, transitions, largest state payload, throttles). Exit status: 0 when every execution
succeeded, 5 when one failed or timed out (its error and cause are printed), 2 for a bad flag, 3 for an
input file (``--input``, ``--template``, ``--faults``, ``--trace``) that is missing or invalid.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from thermostat.cli import (
    EXIT_USAGE,
    InputError,
    RunFailedError,
    UsageError,
    add_command,
    add_json_flag,
    check_writable,
    deprecated_alias,
    take_deprecated,
    write_text,
)

DEFAULT_INPUT = Path("events/manual-run.json")
DEFAULT_OUT_DIR = Path("out")
DEFAULT_INTERVAL_S = 60.0
DEFAULT_TRAFFIC_INTERVAL_S = 300.0
DEMO_PARAMETER = "DeployDemoTargets"
DEFAULT_TRACE = Path("traces") / "azure2019-250fn-24h"  # beside the template (thermostat.local.seed)


def register(subparsers: argparse._SubParsersAction) -> None:
    local = add_command(subparsers, "local", help="run Thermostat on an embedded AWS (moto): no account, no Docker",
                        description="Thermostat on an embedded AWS (moto) in this process: no account, no Docker. "
                                    "'thermostat local run --help' for the flags.")
    commands = local.add_subparsers(dest="local_command", metavar="SUBCOMMAND")
    run = add_command(commands, "run", description=__doc__,
                      help="deploy the template locally, seed history, run the state machine")
    run.add_argument("--input", type=Path, default=None, metavar="FILE",
                     help=f"execution input JSON (default: {DEFAULT_INPUT} when present, else {{}})")
    add_json_flag(run, "the run (each execution's output and figures)")
    run.add_argument("--history-json", type=Path, metavar="FILE",
                     help="write the last execution's full history JSON here; earlier runs get <stem>.run<N>.json "
                          f"(default: {DEFAULT_OUT_DIR}/<execution>.history.json)")
    run.add_argument("--targets", type=int, default=0, metavar="N",
                     help="add N synthetic demo targets (copies of the demo target code, tagged) for scale runs")
    run.add_argument("--runs", type=int, default=2, metavar="N", help="executions to run, one --interval apart")
    run.add_argument("--interval", type=float, default=None, metavar="S",
                     help=f"fake-clock seconds between runs (default: {DEFAULT_INTERVAL_S:g}; "
                          f"{DEFAULT_TRAFFIC_INTERVAL_S:g} with --traffic)")
    run.add_argument("--traffic", action="store_true",
                     help="between runs, send the seeded targets real traffic from their trace, minute by minute")
    run.add_argument("--traffic-max-requests", type=int, default=60, metavar="N",
                     help="with --traffic: at most N requests per function and minute (the minute's peak "
                          "concurrency is always reached)")
    run.add_argument("--template", type=Path, default=Path("template.yaml"), metavar="FILE", help="the SAM template")
    run.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                     help="template parameter override, repeatable (default: the template's defaults, and "
                          f"{DEMO_PARAMETER}=true)")
    run.add_argument("--faults", type=Path, metavar="FILE", help="fault-injection JSON, see docs/local.md "
                                                                  "(default: no faults)")
    run.add_argument("--trace", type=Path, metavar="DIR",
                     help="Azure 2019 trace directory the CloudWatch history is replayed from (default: "
                          f"{DEFAULT_TRACE} in the project; a synthetic day when absent)")
    run.add_argument("--seed", type=int, default=7, metavar="N", help="seed of the history replay")
    run.add_argument("--idle-ttl", type=float, default=600.0, metavar="S",
                     help="seconds before an idle environment is reclaimed")
    run.add_argument("--account-concurrency", type=int, default=1000, metavar="N",
                     help="the account's concurrency limit")
    deprecated_alias(run, "--output", "output", type=Path)
    run.set_defaults(func=run_command, output=None)

    def no_subcommand(args: argparse.Namespace) -> int:
        local.print_help(sys.stderr)
        return EXIT_USAGE

    local.set_defaults(func=no_subcommand)


def read_input(path: Path | None) -> Any:
    if path is None:
        return json.loads(DEFAULT_INPUT.read_text()) if DEFAULT_INPUT.is_file() else {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"--input {path}: no such file") from None
    except OSError as exc:
        raise InputError(f"--input {path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"--input {path}: not valid JSON (not UTF-8 text: byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InputError(f"--input {path}: not valid JSON ({where}: {exc.msg})") from None


def parse_parameters(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--parameter {pair!r}: expected KEY=VALUE", hint="e.g. --parameter MaxWarm=20")
        out[key] = value
    return out


def with_demo_targets(template: Path, parameters: dict[str, str]) -> dict[str, str]:
    """The local run deploys the template's demo targets (``DeployDemoTargets=true``) unless told otherwise."""
    from samtranslator.yaml_helper import yaml_parse

    if DEMO_PARAMETER in parameters:
        return parameters
    try:
        declared = (yaml_parse(template.read_text()) or {}).get("Parameters") or {}
    except Exception:  # the template reader reports what is wrong with it
        return parameters
    return {**parameters, DEMO_PARAMETER: "true"} if DEMO_PARAMETER in declared else parameters


def history_path(given: Path | None, name: str, index: int, runs: int) -> Path:
    """``--history-json`` for the last run (earlier runs get ``<stem>.run<N>.json`` beside it)."""
    if given is None:
        return DEFAULT_OUT_DIR / f"{name}.history.json"
    return given if index == runs - 1 else given.with_name(f"{given.stem}.run{index + 1}{given.suffix}")


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    # Not a terminal (make, CI, a pipe): rich would assume 80 columns and truncate the tables.
    console = Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 150)
    take_deprecated(args, "output", "--output", "--json (its runs[].output)")
    check_flags(args)
    if not args.template.is_file():
        raise InputError(f"--template {args.template}: no such file",
                         hint="run from the project folder, or pass --template path/to/template.yaml")
    if args.trace is not None and not args.trace.is_dir():
        raise InputError(f"--trace {args.trace}: no such directory")
    started = time.perf_counter()
    console.print(f"[dim]{0.0:6.1f} s  Starting the embedded AWS[/dim]", highlight=False)
    from thermostat.local.exceptions import ExecutionTimeoutError, LocalAwsError, OutputFileError

    try:
        return _run(args, console, started)
    except ExecutionTimeoutError as exc:  # the run itself went wrong, not the command line
        raise RunFailedError(str(exc)) from None
    except OutputFileError as exc:
        raise UsageError(str(exc)) from None
    except LocalAwsError as exc:  # the template, the faults file, the trace: an input that is not usable
        raise InputError(str(exc)) from None


def check_flags(args: argparse.Namespace) -> None:
    """Numeric flags argparse only type-checks: each out-of-range value is named (exit 2)."""
    if args.interval is None:
        args.interval = DEFAULT_TRAFFIC_INTERVAL_S if args.traffic else DEFAULT_INTERVAL_S
    rules: list[tuple[str, float, int]] = [
        ("--targets", args.targets, 0), ("--runs", args.runs, 1),
        ("--interval", args.interval, 0), ("--idle-ttl", args.idle_ttl, 0),
        ("--account-concurrency", args.account_concurrency, 1), ("--seed", args.seed, 0),
        ("--traffic-max-requests", args.traffic_max_requests, 1),
    ]
    for flag, value, low in rules:
        if not math.isfinite(value) or value < low:
            raise UsageError(f"{flag} must be a number >= {low}, got {value}")
    check_writable(args.output, "--output")
    check_writable(args.history_json, "--history-json")
    check_writable(args.json_out, "--json")


def _run(args: argparse.Namespace, console: Any, started: float) -> int:
    from thermostat.local.exceptions import OutputFileError
    from thermostat.local.faults import FaultPlan
    from thermostat.local.figures import human_bytes, run_figures
    from thermostat.local.render import print_run
    from thermostat.local.report import build_view, write_history
    from thermostat.local.seed import default_trace_dir
    from thermostat.local.session import LocalAws, LocalAwsConfig
    from thermostat.local.traffic import TrafficFigures

    execution_input = read_input(args.input)
    trace = args.trace or default_trace_dir(args.template.resolve().parent)
    named = [t.get("function") for t in execution_input.get("targets", []) if isinstance(t, dict)] \
        if isinstance(execution_input, dict) and isinstance(execution_input.get("targets"), list) else []

    def progress(line: str) -> None:
        console.print(f"[dim]{time.perf_counter() - started:6.1f} s  {line}[/dim]", highlight=False)

    config = LocalAwsConfig(
        template=args.template, parameters=with_demo_targets(args.template, parse_parameters(args.parameter)),
        idle_ttl_s=args.idle_ttl,
        account_limit=args.account_concurrency, faults=FaultPlan.from_file(args.faults) if args.faults else FaultPlan(),
        trace_dir=trace if trace.is_dir() else None, seed=args.seed, extra_targets=args.targets,
        seed_functions=tuple(n for n in named if isinstance(n, str)), progress=progress)
    failed = ""
    document: dict[str, Any] = {"template": str(args.template), "targets": None, "runs": [], "traffic": []}
    progress(f"Deploying {args.template}" + (f" with {args.targets:,} extra targets" if args.targets else ""))
    with LocalAws(config) as aws:
        progress(f"Deployed in {aws.timings['deploy'] + aws.timings['extra_targets']:.1f} s, "
                 f"history seeded in {aws.timings['seed']:.1f} s")
        document.update(targets=len(aws.seeded), timings_s={k: round(v, 3) for k, v in aws.timings.items()})
        history_note = ", ".join(f"{s.function} ← {s.source} (peak {s.peak_concurrency})" for s in aws.seeded[:6])
        console.print(f"[bold]Embedded AWS[/bold]: {args.template} deployed as stack "
                      f"'{aws.stack.stack_name}' ({len(aws.stack.functions) + len(aws.extra)} functions, "
                      f"{len(aws.stack.state_machines)} state machine, {len(aws.stack.layers)} layers); schedule "
                      + ", ".join(f"{s.expression} ({'enabled' if s.enabled else 'disabled'}, not fired locally)"
                                  for s in aws.stack.schedules))
        console.print(f"History: 24 h per minute for {len(aws.seeded)} targets: {history_note}"
                      + (" …" if len(aws.seeded) > 6 else ""))
        definition = json.loads(aws.stack.state_machine().definition)
        previous = None
        for index in range(args.runs):
            if index and args.traffic:
                figures = aws.drive_traffic(args.interval, max_requests=args.traffic_max_requests)
                total = TrafficFigures()
                for one in figures.values():
                    total.add(one)
                console.print(f"Traffic: {args.interval:.0f} s on the fake clock, {total.requests:,} real requests to "
                              f"{sum(1 for f in figures.values() if f.requests):,} functions, "
                              f"{total.throttles:,} throttled, {total.cold_starts:,} cold starts")
                document["traffic"].append({"before_run": index + 1, "seconds": args.interval,
                                            "requests": total.requests, "throttles": total.throttles,
                                            "cold_starts": total.cold_starts})
            elif index:
                aws.advance(args.interval)
            mark = aws.runtime.invocation_count
            before = aws.runtime.snapshot()
            progress(f"Execution {index + 1}/{args.runs} started")
            run = aws.run(execution_input)
            progress(f"Execution {index + 1}/{args.runs} {run.status} in {run.wall_s:.1f} s "
                     f"({len(run.events):,} history events)")
            view = build_view(run.describe, run.events, definition, aws.runtime.records_since(mark))
            path = history_path(args.history_json, run.name, index, args.runs)
            try:
                write_history(path, run.describe, run.events)
            except OSError as exc:
                raise OutputFileError(f"--history-json {path}: cannot write: {exc.strerror or exc}") from None
            title = "Execution" if index == 0 else f"Execution {index + 1} (+{args.interval * index:.0f} s, fake clock)"
            print_run(console, view, title=title, history_path=path, previous=previous)
            figures_doc = run_figures(run.name, run.status, run.wall_s, run.events)
            counters = aws.counters(since=before)
            figures_doc["real_throttles"] = {n: c.real_throttles for n, c in counters.items() if c.real_throttles}
            figures_doc["ping_throttles"] = sum(c.ping_throttles for c in counters.values())
            figures_doc["invocations"] = sum(c.invocations for c in counters.values())
            figures_doc["output"] = run.output
            if run.status != "SUCCEEDED":
                failed = f"execution {run.name} {run.status}" + "".join(
                    f": {run.describe[key]}" for key in ("error", "cause") if run.describe.get(key))
                figures_doc.update(error=run.describe.get("error"), cause=run.describe.get("cause"))
            document["runs"].append(figures_doc)
            largest = figures_doc["largest_payload"]
            console.print(f"Largest state payload: {human_bytes(largest['bytes'])} ({largest['state']}, "
                          f"{largest['kind']}) · {figures_doc['transitions']:,} state transitions "
                          f"(${figures_doc['transition_cost_usd']:.6f} on Standard) · real throttles caused: "
                          f"{sum(figures_doc['real_throttles'].values())}")
            previous = view
            if failed:
                errors = [r for r in aws.runtime.records_since(mark) if r.error_type]
                if errors and errors[-1].log.strip():  # handler output is kept, not printed: show its tail
                    last = errors[-1]
                    console.print(f"Last failed invocation: {last.function} ({last.error_type}); its log ends:")
                    console.print(last.log[-1500:], markup=False)
                break
            if args.output:
                write_text(args.output, json.dumps(run.output, indent=2) + "\n", "--output")
    document["wall_s"] = round(time.perf_counter() - started, 3)
    if args.json_out:
        write_text(args.json_out, json.dumps(document, indent=2) + "\n", "--json")
    console.print(f"Wall time {time.perf_counter() - started:.1f} s"
                  + (f"; output written to {args.output}" if args.output and not failed else "")
                  + (f"; the run as JSON in {args.json_out}" if args.json_out else ""))
    if failed:
        raise RunFailedError(failed[:600], hint="the states above show where; the history JSON has every event")
    return 0
