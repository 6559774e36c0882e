"""``thermostat plan --stack NAME``: what the deployed stack would warm now. Read-only.

Reads the stack's settings from its Collect Metrics function (every workflow function carries the same
THERMOSTAT_* environment), then runs the same Validate → Collect → Forecast → Plan code the state machine
runs, against the real account, with ``dry_run`` forced on: it calls GetMetricData, tag discovery and
Lambda read APIs, and never invokes a target.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from thermostat import models
from thermostat.cli import CliError, unwritable_reason
from thermostat.collect import METRICS, collect
from thermostat.config import DiscoverySettings, ForecastSettings, PlanSettings, RunSettings
from thermostat.cost import get_metric_data_usd
from thermostat.discovery import Clients
from thermostat.exceptions import ConfigurationError, InvalidInputError
from thermostat.planning import plan_round
from thermostat.validation import build_run_state, parse_request

SETTINGS_OUTPUT = "CollectMetricsFunctionName"  # stack output naming a function that carries the settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan", help="what the deployed stack would warm now (read-only: no ping is sent)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, help="the Thermostat stack name (sam deploy's stack_name)")
    parser.add_argument("--input", type=Path, help="an execution input file (default: {} like the schedule)")
    parser.add_argument("--region", help="AWS region (default: the SDK's)")
    parser.add_argument("--json", type=Path, dest="json_out", help="also write the plan (PlanState) here")
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
    """``--input`` -> the execution input, its shape checked before any AWS call (bad input never waits on
    the network). Defaults that depend on the stack's settings are applied later, by the same code."""
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


def plan_now(session: Any, env: dict[str, str], execution_input: object, now_ms: int) -> models.PlanState:
    """Validate → Collect → Forecast → Plan with the stack's settings; dry run."""
    from thermostat.forecast import forecast_state  # numpy/statsmodels: only when planning

    run_state = build_run_state(execution_input, RunSettings.from_env(env), now_ms, f"plan-cli:{now_ms}")
    run_state["request"]["dry_run"] = True
    clients = Clients(lambda_=session.client("lambda"), cloudwatch=session.client("cloudwatch"),
                      tagging=session.client("resourcegroupstaggingapi"))
    collected = collect(run_state, clients, DiscoverySettings.from_env(env), now_ms)
    forecasts = forecast_state(collected, ForecastSettings.from_env(env))
    return plan_round(forecasts, PlanSettings.from_env(env), now_ms)


def render(plan: models.PlanState, metrics_requested: int) -> str:
    """A plain table (also readable when piped)."""
    rows = [("target", "model", "forecast", "desired", "would ping", "limited by", "status / reason")]
    for record in plan["plan"]:
        rows.append((models.target_label(record["function"], record["qualifier"]), record["forecast"]["model"],
                     str(record["forecast"]["desired"]), str(record["desired"]), str(record["requested"]),
                     record["limited_by"] or "-", f"{record['status']}: {record['reason']}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
             for row in rows]
    total = sum(r["requested"] for r in plan["plan"])
    lines.append(f"\n{len(plan['plan'])} targets, {total} pings would be sent (dry run: none was). "
                 f"This look-up requested {metrics_requested} metrics (${get_metric_data_usd(metrics_requested):.4f}).")
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
        plan = plan_now(session, env, execution_input, int(time.time() * 1000))
    except InvalidInputError as exc:
        raise CliError(f"--input {args.input}: InvalidInputError: {exc}") from None
    except ConfigurationError as exc:
        raise CliError(f"stack {args.stack!r} has malformed settings: ConfigurationError: {exc}") from None
    metrics_requested = sum(1 for r in plan["plan"] if r["status"] != "error") * len(METRICS)
    print(render(plan, metrics_requested))
    if args.json_out is not None:
        try:
            args.json_out.parent.mkdir(parents=True, exist_ok=True)
            args.json_out.write_text(json.dumps(plan, indent=2))
        except OSError as exc:
            raise CliError(f"--json {args.json_out}: cannot write: {exc.strerror or exc}") from None
    return 0
