"""``thermostat plan --stack NAME --dry-run``: what the deployed stack would warm now. Read-only.

Runs the same code as the state machine's Collect Metrics -> Forecast -> Plan, with the stack's own
settings, against your account, and sends no ping. What it reads:

- CloudFormation ``DescribeStacks`` (the stack's outputs) and ``lambda:GetFunctionConfiguration`` of the
  stack's Collect Metrics function (every workflow function carries the same THERMOSTAT_* settings);
- the state bucket's records (``s3:GetObject``/``ListBucket``; unreadable = start from nothing, said so);
- ``tag:GetResources``, ``lambda:GetAccountSettings``, and ``lambda:ListFunctions``/``GetFunctionConcurrency``/
  ``GetProvisionedConcurrencyConfig`` for the targets whose cached configuration a run would refresh now;
- ``cloudwatch:GetMetricData``: exactly what a run would read now (the account's unreserved concurrency,
  the reserved targets' current use, the histories that are due), billed $0.01 per 1,000 metrics.

It never takes the lease, never writes to the bucket (what it learns is thrown away), never invokes a target.
Exit status: 0 planned, 2 bad flag, 3 unreadable or invalid --input, 4 no credentials/region, access denied or
no such stack.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from thermostat import models
from thermostat.cli import (
    AwsAccessError,
    InputError,
    add_aws_flags,
    add_command,
    add_json_flag,
    check_writable,
    progress,
    write_text,
)
from thermostat.cli_aws import session as aws_session
from thermostat.cli_aws import stack_output
from thermostat.collect import decode_records, gather
from thermostat.config import STATE_BUCKET, DiscoverySettings, ForecastSettings, PlanSettings, RunSettings
from thermostat.cost import get_metric_data_usd
from thermostat.discovery import Clients
from thermostat.exceptions import ConfigurationError, InvalidInputError, StateStoreError
from thermostat.plan_step import decide, need_of
from thermostat.records import TargetRecord
from thermostat.tag_settings import hours_text, problem_lines, sources_text
from thermostat.validation import build_run_state, parse_request

SETTINGS_OUTPUT = "CollectMetricsFunctionName"  # stack output naming a function that carries the settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "plan", description=__doc__,
                         help="what the deployed stack would warm now (read-only: no lease, no write, no ping)")
    parser.add_argument("--stack", required=True, metavar="NAME",
                        help="the Thermostat stack name (sam deploy's stack_name)")
    parser.add_argument("--input", type=Path, metavar="FILE",
                        help="an execution input file (default: {}, what the schedule sends)")
    add_json_flag(parser, "the plan document (request, account, plan per target)")
    add_aws_flags(parser)
    parser.add_argument("--dry-run", action="store_true",
                        help="accepted for clarity: plan is always a dry run, with or without it")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    parser.set_defaults(func=run)


def stack_settings_env(session: Any, stack: str) -> dict[str, str]:
    """THERMOSTAT_* (and Powertools) environment of the stack's workflow functions."""
    from thermostat.cli_aws import aws_error

    function = stack_output(session, stack, SETTINGS_OUTPUT)
    try:
        config = session.client("lambda").get_function_configuration(FunctionName=function)
    except Exception as exc:  # botocore ClientError: function deleted, access denied...
        translated = aws_error(exc, f"reading the settings of stack {stack!r} from its function {function!r}")
        if translated is None:
            raise
        if "ResourceNotFound" in str(exc):
            translated.hint = "the stack's functions are gone: redeploy it ('sam deploy') or pass another --stack"
        raise translated from None
    return dict(config.get("Environment", {}).get("Variables", {}))


def read_input(path: Path | None) -> object:
    """``--input`` -> the execution input, its shape checked before any AWS call."""
    if path is None:
        return {}
    try:
        execution_input: object = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"--input {path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"--input {path}: not valid JSON (not UTF-8 text: byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"--input {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") \
            from None
    try:
        parse_request(execution_input, RunSettings())
    except InvalidInputError as exc:
        raise invalid_input(path, exc) from None
    return execution_input


def invalid_input(path: Path | None, exc: InvalidInputError) -> InputError:
    """The cause the execution would fail with (``InvalidInputError``), said for the --input file."""
    where = "the execution input" if path is None else f"--input {path}"
    return InputError(f"{where}: invalid execution input: {exc}",
                      hint=None if path is None else f"'thermostat validate {path}' checks a file on its own")


def load_records(session: Any, bucket: str) -> tuple[dict[str, TargetRecord], list[str]]:
    """The stack's records, read-only; an unreadable store = no records (a run would rebuild them too)."""
    from thermostat.store import StateStore

    if not bucket:
        return {}, ["the stack has no state bucket setting: planned from nothing"]
    try:
        snapshot = StateStore(session.client("s3"), bucket).load()
    except StateStoreError as exc:
        return {}, [f"state store unreadable ({exc}): planned from nothing"]
    records, dropped = decode_records(snapshot.records)
    notes = [f"state object unreadable: {w.key} ({w.problem})" for w in snapshot.warnings]
    if dropped:
        notes.append(f"{dropped} unreadable record(s) ignored")
    return records, notes


def plan_now(session: Any, env: dict[str, str], execution_input: object, now_ms: int) -> dict[str, Any]:
    """Collect (read-only) -> Forecast -> Plan with the stack's settings; never writes, never pings."""
    from thermostat.forecast_step import forecast_doc, forecast_targets  # numpy/statsmodels: only when planning

    run_state = build_run_state(execution_input, RunSettings.from_env(env), now_ms, f"plan-cli:{now_ms}")
    request = run_state["request"]
    request["dry_run"] = True
    records, notes = load_records(session, env.get(STATE_BUCKET, "").strip())
    clients = Clients(lambda_=session.client("lambda"), cloudwatch=session.client("cloudwatch"),
                      tagging=session.client("resourcegroupstaggingapi"))
    gathered = gather(request, clients, DiscoverySettings.from_env(env), records, now_ms)
    doc = forecast_doc(forecast_targets(records, gathered.targets, request, ForecastSettings.from_env(env), now_ms))
    forecasts = {f["key"]: f for f in doc["targets"]}
    plan, _ = decide([need_of(t, forecasts.get(t["key"])) for t in gathered.targets], gathered.account, forecasts,
                     PlanSettings.from_env(env))
    return {"run": run_state["run"], "request": request, "account": gathered.account,
            "collected": gathered.stats, "degraded": gathered.degraded, "warnings": notes + gathered.warnings,
            "budget_note": doc["budget_note"], "plan": plan}


def render(result: dict[str, Any]) -> str:
    """A plain table (also readable when piped)."""
    plan: list[models.PlanRecord] = result["plan"]
    rows = [("target", "term", "desired", "would ping", "limited by", "hours", "settings from", "status / reason")]
    for record in plan:
        rows.append((record["key"], record["term"], str(record["desired"]), str(record["requested"]),
                     record["limited_by"] or "-", hours_text(record), sources_text(record),
                     f"{record['status']}: {record['reason']}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
             for row in rows]
    for note in [*result["degraded"], *result["warnings"], *(line for r in plan for line in problem_lines(r))]:
        lines.append(f"note: {note}")
    metrics = result["collected"]["metric_reads"]
    total = sum(r["requested"] for r in plan)
    lines.append(f"\n{len(plan)} targets, {total} pings would be sent (dry run: none was). This look-up "
                 f"requested {metrics} metrics (${get_metric_data_usd(metrics):.4f}) and wrote nothing.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    execution_input = read_input(args.input)
    check_writable(args.json_out, "--json")
    session = aws_session(args.profile, args.region)
    progress(args, f"reading the settings of stack {args.stack}")
    env = stack_settings_env(session, args.stack)
    progress(args, "collecting, forecasting and planning with them (read-only)")
    try:
        result = plan_now(session, env, execution_input, int(time.time() * 1000))
    except InvalidInputError as exc:
        raise invalid_input(args.input, exc) from None
    except ConfigurationError as exc:
        raise AwsAccessError(f"stack {args.stack!r} has malformed settings: {exc}",
                             hint="redeploy it: the template sets every THERMOSTAT_* variable") from None
    print(render(result))
    if args.json_out is not None:
        write_text(args.json_out, json.dumps(result, indent=2), "--json")
    return 0
