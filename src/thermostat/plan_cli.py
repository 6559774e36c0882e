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
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from thermostat import models
from thermostat.cli import CliError, unwritable_reason
from thermostat.collect import decode_records, gather
from thermostat.config import STATE_BUCKET, DiscoverySettings, ForecastSettings, PlanSettings, RunSettings
from thermostat.cost import get_metric_data_usd
from thermostat.discovery import Clients
from thermostat.exceptions import ConfigurationError, InvalidInputError, StateStoreError
from thermostat.plan_step import decide, need_of
from thermostat.records import TargetRecord
from thermostat.validation import build_run_state, parse_request

SETTINGS_OUTPUT = "CollectMetricsFunctionName"  # stack output naming a function that carries the settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan", help="what the deployed stack would warm now (read-only: no lease, no write, no ping)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, help="the Thermostat stack name (sam deploy's stack_name)")
    parser.add_argument("--input", type=Path, help="an execution input file (default: {} like the schedule)")
    parser.add_argument("--region", help="AWS region (default: the SDK's)")
    parser.add_argument("--json", type=Path, dest="json_out", help="also write the plan document here")
    parser.add_argument("--dry-run", action="store_true", default=True,
                        help="accepted for clarity: plan is always a dry run")
    parser.set_defaults(func=run)


def stack_settings_env(session: Any, stack: str) -> dict[str, str]:
    """THERMOSTAT_* (and Powertools) environment of the stack's workflow functions."""
    try:
        cloudformation = session.client("cloudformation")
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as exc:  # botocore: no region, stack does not exist, no credentials...
        raise CliError(f"cannot read stack {stack!r}: {type(exc).__name__}: {exc}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    if SETTINGS_OUTPUT not in outputs:
        raise CliError(f"stack {stack!r} has no output {SETTINGS_OUTPUT}: is it a Thermostat stack?")
    try:
        config = session.client("lambda").get_function_configuration(FunctionName=outputs[SETTINGS_OUTPUT])
    except Exception as exc:  # botocore ClientError: function deleted, access denied...
        raise CliError(f"cannot read the settings of stack {stack!r} from its function "
                       f"{outputs[SETTINGS_OUTPUT]!r}: {type(exc).__name__}: {exc}") from None
    return dict(config.get("Environment", {}).get("Variables", {}))


def read_input(path: Path | None) -> object:
    """``--input`` -> the execution input, its shape checked before any AWS call."""
    if path is None:
        return {}
    try:
        execution_input: object = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"--input {path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"--input {path}: not valid JSON (not UTF-8 text: byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise CliError(f"--input {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    try:
        parse_request(execution_input, RunSettings())
    except InvalidInputError as exc:
        raise CliError(f"--input {path}: InvalidInputError: {exc}") from None
    return execution_input


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
    readable = [t for t in gathered.targets if "error" not in t]
    doc = forecast_doc(forecast_targets(records, readable, request, ForecastSettings.from_env(env), now_ms))
    forecasts = {f["key"]: f for f in doc["targets"]}
    plan, _ = decide([need_of(t, forecasts.get(t["key"])) for t in gathered.targets], gathered.account, forecasts,
                     PlanSettings.from_env(env))
    return {"run": run_state["run"], "request": request, "account": gathered.account,
            "collected": gathered.stats, "degraded": gathered.degraded, "warnings": notes + gathered.warnings,
            "budget_note": doc["budget_note"], "plan": plan}


def render(result: dict[str, Any]) -> str:
    """A plain table (also readable when piped)."""
    plan: list[models.PlanRecord] = result["plan"]
    rows = [("target", "term", "desired", "would ping", "limited by", "status / reason")]
    for record in plan:
        rows.append((record["key"], record["term"], str(record["desired"]), str(record["requested"]),
                     record["limited_by"] or "-", f"{record['status']}: {record['reason']}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
             for row in rows]
    for note in [*result["degraded"], *result["warnings"]]:
        lines.append(f"note: {note}")
    metrics = result["collected"]["metric_reads"]
    total = sum(r["requested"] for r in plan)
    lines.append(f"\n{len(plan)} targets, {total} pings would be sent (dry run: none was). This look-up "
                 f"requested {metrics} metrics (${get_metric_data_usd(metrics):.4f}) and wrote nothing.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import boto3

    execution_input = read_input(args.input)
    reason = None if args.json_out is None else unwritable_reason(args.json_out)
    if reason is not None:
        raise CliError(f"--json {args.json_out}: {reason}")
    session = boto3.session.Session(region_name=args.region)
    env = stack_settings_env(session, args.stack)
    try:
        result = plan_now(session, env, execution_input, int(time.time() * 1000))
    except InvalidInputError as exc:
        raise CliError(f"--input {args.input}: InvalidInputError: {exc}") from None
    except ConfigurationError as exc:
        raise CliError(f"stack {args.stack!r} has malformed settings: ConfigurationError: {exc}") from None
    print(render(result))
    if args.json_out is not None:
        try:
            args.json_out.parent.mkdir(parents=True, exist_ok=True)
            args.json_out.write_text(json.dumps(result, indent=2))
        except OSError as exc:
            raise CliError(f"--json {args.json_out}: cannot write: {exc.strerror or exc}") from None
    return 0
