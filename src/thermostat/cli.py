"""The ``thermostat`` command. Subcommands live next to what they drive and register themselves here.

    thermostat plan --stack S    what a deployed stack would warm now      (thermostat.plan_cli)
    thermostat runs --stack S    the stack's latest runs and reports     (thermostat.runs_cli)
    thermostat validate FILE     check an execution input (the schema)    (thermostat.validate_cli)
    thermostat local run ...     the whole workflow on the embedded AWS   (thermostat.local.cli)
    thermostat simulate ...      trace-driven what-if of cold starts/cost (thermostat.sim.cli)
    thermostat export ...        per-minute CloudWatch history to CSV     (thermostat.sim.cli)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from thermostat import __version__

# Modules that expose ``register(subparsers)``; a missing optional one is skipped, not fatal.
SUBCOMMAND_MODULES = ("thermostat.plan_cli", "thermostat.runs_cli", "thermostat.validate_cli", "thermostat.local.cli",
                      "thermostat.sim.cli")


class CliError(Exception):
    """A bad flag or file given on the command line (exit status 2)."""


def unwritable_reason(path: Path) -> str | None:
    """Why an output file could not be created, checked before a long run starts (None: it can be)."""
    if path.is_dir():
        return "is a directory"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        return f"cannot create a file under {parent}"
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="thermostat", description="Keeps AWS Lambda functions warm by forecast.")
    parser.add_argument("--version", action="version", version=f"thermostat {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"thermostat: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
