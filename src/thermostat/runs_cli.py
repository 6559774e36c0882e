"""``thermostat runs --stack NAME``: the stack's latest runs, newest first, as the console showed them.

Reads the stack's ``StateBucketName`` output (CloudFormation ``DescribeStacks``), lists the newest run
folders of the state bucket (``s3:ListBucket``: one call for the latest runs whatever the history) and
reads each run's ``report.json`` (``s3:GetObject``). Prints per run its status, totals, degraded reasons and
per-target table (every target up to 50, else the 50 most interesting, like the execution output); a run
without a report is still running, stopped before Summarize, or expired with the bucket's lifecycle rule.
Read-only.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thermostat.cli import CliError, unwritable_reason
from thermostat.exceptions import StateStoreError
from thermostat.models import TargetReport
from thermostat.summary_output import output_targets, render_summary

BUCKET_OUTPUT = "StateBucketName"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "runs", help="the stack's latest runs and their per-target reports (read-only)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, help="the Thermostat stack name (sam deploy's stack_name)")
    parser.add_argument("--last", type=int, default=5, metavar="N", help="how many runs, newest first (default 5)")
    parser.add_argument("--json", type=Path, dest="json_out", metavar="FILE", help="also write the reports here")
    parser.add_argument("--profile", help="AWS profile (default: the SDK's)")
    parser.add_argument("--region", help="AWS region (default: the SDK's)")
    parser.set_defaults(func=run)


def state_bucket(session: Any, stack: str) -> str:
    """The stack's state bucket, from its outputs."""
    try:
        described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as exc:  # botocore: no region, stack does not exist, no credentials...
        raise CliError(f"cannot read stack {stack!r}: {type(exc).__name__}: {exc}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    if not outputs.get(BUCKET_OUTPUT):
        raise CliError(f"stack {stack!r} has no output {BUCKET_OUTPUT}: is it a Thermostat stack (v2)?")
    return str(outputs[BUCKET_OUTPUT])


def _started(ms: int | None) -> str:
    return "start unknown" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_run(run_name: str, started_at_ms: int | None, report: dict[str, Any] | None) -> str:
    """One run: a heading, then the console summary of its report (or why there is none)."""
    heading = f"== {run_name}  ({_started(started_at_ms)})"
    if report is None:
        return f"{heading}\nno report: still running, stopped before Summarize (disabled, overlap), or expired"
    targets: list[TargetReport] = list(report.get("targets") or [])
    run = report.get("run") or {}
    text = render_summary(
        run_name=str(run.get("name", run_name)), round_=int(run.get("round", 0)),
        workflow_type=str(report.get("workflow_type", "STANDARD")), status=str(report.get("status", "?")),
        degraded=list(report.get("degraded") or []), totals=report["totals"], reports=targets,
        shown=output_targets(targets), report_uri=None, dry_run=bool(report.get("dry_run")),
        topup_batches=0, topup_targets=0)
    return f"{heading}\n{text}"


def list_reports(store: Any, last: int) -> list[dict[str, Any]]:
    """The newest ``last`` runs with their reports (None when a run has none)."""
    out: list[dict[str, Any]] = []
    for info in store.list_runs(last):
        try:
            report = store.get_run_report(info.run_name)
        except StateStoreError as exc:
            out.append({"run_name": info.run_name, "started_at_ms": info.started_at_ms,
                        "execution": info.execution, "report": None, "error": str(exc)})
            continue
        out.append({"run_name": info.run_name, "started_at_ms": info.started_at_ms, "execution": info.execution,
                    "report": report})
    return out


def run(args: argparse.Namespace) -> int:
    import boto3

    from thermostat.store import StateStore

    if args.last < 1:
        raise CliError(f"--last {args.last}: must be at least 1")
    reason = None if args.json_out is None else unwritable_reason(args.json_out)
    if reason is not None:
        raise CliError(f"--json {args.json_out}: {reason}")
    try:
        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    except Exception as exc:  # botocore ProfileNotFound
        raise CliError(f"--profile {args.profile}: {type(exc).__name__}: {exc}") from None
    bucket = state_bucket(session, args.stack)
    store = StateStore(session.client("s3"), bucket)
    try:
        runs = list_reports(store, args.last)
    except StateStoreError as exc:
        raise CliError(f"cannot list the runs in s3://{bucket}: {exc}") from None
    if not runs:
        print(f"no runs in s3://{bucket}/{store.prefix}runs/ yet (or all expired)")
    for item in runs:
        print(render_run(item["run_name"], item["started_at_ms"], item["report"]))
        if item.get("error"):
            print(f"report unreadable: {item['error']}")
        print()
    if args.json_out is not None:
        try:
            args.json_out.parent.mkdir(parents=True, exist_ok=True)
            args.json_out.write_text(json.dumps({"stack": args.stack, "bucket": bucket, "runs": runs}, indent=2))
        except OSError as exc:
            raise CliError(f"--json {args.json_out}: cannot write: {exc.strerror or exc}") from None
    return 0
