"""``thermostat runs --stack NAME``: the stack's latest runs, newest first, as the console showed them.

Reads the stack's ``StateBucketName`` output (CloudFormation ``DescribeStacks``), lists the newest run
folders of the state bucket (``s3:ListBucket``: one call for the latest runs whatever the history) and
reads each run's ``report.json`` (``s3:GetObject``). Prints per run its status, totals, degraded reasons and
per-target table (every target up to 50, else the 50 most interesting, like the execution output); a run
without a report is still running, stopped before Summarize, or expired with the bucket's lifecycle rule.
Read-only. Exit status: 0 shown, 2 bad flag, 4 no credentials/region, access denied or no such stack.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from thermostat.cli import add_aws_flags, add_command, add_json_flag, check_writable, progress, write_text
from thermostat.cli_aws import session as aws_session
from thermostat.cli_aws import stack_output, store_error
from thermostat.exceptions import StateStoreError
from thermostat.models import TargetReport
from thermostat.summary_output import output_targets, render_summary
from thermostat.tag_settings import hours_text, problem_lines, sources_text

BUCKET_OUTPUT = "StateBucketName"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "runs", description=__doc__,
                         help="the stack's latest runs and their per-target reports (read-only)")
    parser.add_argument("--stack", required=True, metavar="NAME",
                        help="the Thermostat stack name (sam deploy's stack_name)")
    parser.add_argument("--last", type=_positive, default=5, metavar="N", help="how many runs, newest first")
    add_json_flag(parser, "the runs with their full reports")
    add_aws_flags(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    parser.set_defaults(func=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def state_bucket(session: Any, stack: str) -> str:
    """The stack's state bucket, from its outputs."""
    return stack_output(session, stack, BUCKET_OUTPUT)


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
    return f"{heading}\n{text}{settings_lines(output_targets(targets))}"


def settings_lines(targets: list[TargetReport]) -> str:
    """Per target whose settings are not all the stack's, or that has warm hours or ignored tag values:
    where each setting came from, in/out of its hours, the tag values ignored ("" when none has any)."""
    lines = [f"  {t['key']}: hours {hours_text(t)}, settings from {sources_text(t)}"
             for t in targets if sources_text(t) != "-" or "in_hours" in t]
    lines += [f"  tag ignored: {line}" for t in targets for line in problem_lines(t)]
    return "\nsettings (input | tag; the rest the stack's):\n" + "\n".join(lines) if lines else ""


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
    from thermostat.store import StateStore

    check_writable(args.json_out, "--json")
    session = aws_session(args.profile, args.region)
    progress(args, f"reading stack {args.stack}")
    bucket = state_bucket(session, args.stack)
    progress(args, f"reading the last {args.last} runs in s3://{bucket}")
    store = StateStore(session.client("s3"), bucket)
    try:
        runs = list_reports(store, args.last)
    except StateStoreError as exc:
        raise store_error(exc, f"listing the runs in s3://{bucket}") from None
    if not runs:
        print(f"no runs in s3://{bucket}/{store.prefix}runs/ yet (or all expired)")
    for item in runs:
        print(render_run(item["run_name"], item["started_at_ms"], item["report"]))
        if item.get("error"):
            print(f"report unreadable: {item['error']}")
        print()
    if args.json_out is not None:
        write_text(args.json_out, json.dumps({"stack": args.stack, "bucket": bucket, "runs": runs}, indent=2),
                   "--json")
    return 0
