"""The ``thermostat`` command. Subcommands live next to what they drive and register themselves here.

    thermostat simulate TRACE    trace-driven what-if of cold starts/cost  (thermostat.sim.cli)
    thermostat local run         the whole workflow on the embedded AWS    (thermostat.local.cli)
    thermostat validate FILE     check an execution input (the schema)     (thermostat.validate_cli)
    thermostat plan --stack S    what a deployed stack would warm now      (thermostat.plan_cli)
    thermostat runs --stack S    the stack's latest runs and reports       (thermostat.runs_cli)
    thermostat export --stack S  per-minute CloudWatch history to CSV      (thermostat.sim.cli)

One grammar for all of them: ``--json FILE`` is the machine-readable output, ``--profile``/``--region`` go
wherever AWS is reached, every flag has help with its default, and a command fails by raising one of the
:class:`CommandError` subclasses below; :func:`main` prints its message and hint (never a class name) and
returns its exit status (:data:`EXIT_STATUSES`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thermostat import __version__

# Modules that expose ``register(subparsers)``; a missing optional one is skipped, not fatal.
SUBCOMMAND_MODULES = ("thermostat.sim.cli", "thermostat.local.cli", "thermostat.validate_cli",
                      "thermostat.plan_cli", "thermostat.runs_cli")

EXIT_OK, EXIT_USAGE, EXIT_INPUT, EXIT_AWS, EXIT_FAILED, EXIT_INTERRUPTED = 0, 2, 3, 4, 5, 130
EXIT_STATUSES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "ok"),
    (EXIT_USAGE, "usage: a bad flag or value (an output file that cannot be written included)"),
    (EXIT_INPUT, "input: a file that is missing, unreadable or invalid; an invalid execution input"),
    (EXIT_AWS, "AWS access: no credentials or region, access denied, stack not found"),
    (EXIT_FAILED, "run failed: an execution FAILED or timed out"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)
EPILOG = "exit status: " + ", ".join(f"{code} {text.split(':')[0]}" for code, text in EXIT_STATUSES)


class CommandError(Exception):
    """A command stopped on purpose: ``main`` prints the message (and the hint) and exits ``exit_code``."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(CommandError):
    """A bad flag or flag value (exit 2)."""

    exit_code = EXIT_USAGE


class InputError(CommandError):
    """A file given on the command line is missing, unreadable or invalid; an invalid execution input (exit 3)."""

    exit_code = EXIT_INPUT


class AwsAccessError(CommandError):
    """AWS cannot be reached as asked: no credentials or region, access denied, no such stack (exit 4)."""

    exit_code = EXIT_AWS


class RunFailedError(CommandError):
    """What the command ran failed: an execution FAILED or timed out (exit 5)."""

    exit_code = EXIT_FAILED


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions kept as written; every option's default appended unless its help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default is None or action.default is False or action.default is argparse.SUPPRESS
        if not action.option_strings or action.required or unset or "%(default)" in text or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def plain(text: str | None, width: int = 100) -> str:
    """Docstring markup -> terminal text: ``x`` and `x` become x; paragraphs and "- " items re-filled."""
    text = re.sub(r"``(.+?)``|`([^`]+)`", lambda m: m.group(1) or m.group(2), text or "").strip()
    lines: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        for item in re.split(r"\n(?=\s*- )", paragraph):
            joined = " ".join(line.strip() for line in item.splitlines())
            lines.extend(textwrap.wrap(joined, width, subsequent_indent="  " if joined.startswith("- ") else "",
                                       break_on_hyphens=False))
        lines.append("")
    return "\n".join(lines).strip()


def add_command(subparsers: Any, name: str, *, help: str, description: str | None = None,
                epilog: str | None = EPILOG) -> argparse.ArgumentParser:
    """A subcommand parser with the shared formatter, a plain description and the exit statuses."""
    return subparsers.add_parser(name, help=help, description=plain(description or help), epilog=epilog,
                                 formatter_class=HelpFormatter)


def add_json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """``--json FILE``: the machine-readable output of every subcommand."""
    parser.add_argument("--json", type=Path, dest="json_out", metavar="FILE",
                        help=f"also write {what} to FILE as JSON (default: none written)")


def add_aws_flags(parser: argparse.ArgumentParser) -> None:
    """``--profile``/``--region``: wherever a subcommand reaches AWS."""
    parser.add_argument("--profile", metavar="NAME",
                        help="AWS profile (default: AWS_PROFILE, else the SDK's default credentials)")
    parser.add_argument("--region", metavar="REGION",
                        help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION, else the profile's)")


def deprecated_alias(parser: argparse.ArgumentParser, old: str, dest: str, **kwargs: Any) -> None:
    """An old spelling kept working (hidden from --help); ``warn_deprecated`` tells the user the new one."""
    parser.add_argument(old, dest=f"deprecated_{dest}", help=argparse.SUPPRESS, **kwargs)


def take_deprecated(args: argparse.Namespace, dest: str, old: str, new: str) -> None:
    """Moves an old spelling's value to ``dest`` (the new flag wins), with one line on standard error."""
    value = getattr(args, f"deprecated_{dest}", None)
    if value is None:
        return
    print(f"thermostat: note: {old} is deprecated, use {new}", file=sys.stderr)
    if getattr(args, dest, None) is None:
        setattr(args, dest, value)


def progress(args: argparse.Namespace, message: str) -> None:
    """One progress line on standard error (silenced by ``--quiet`` where a command has it)."""
    if not getattr(args, "quiet", False):
        print(f"{message} ...", file=sys.stderr, flush=True)


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


def check_writable(path: Path | None, flag: str) -> None:
    """Fails before the work starts when an output file cannot be written (exit 2)."""
    reason = None if path is None else unwritable_reason(path)
    if reason is not None:
        raise UsageError(f"{flag} {path}: {reason}", hint="give a file path in a folder you can write to")


def write_text(path: Path, text: str, flag: str) -> None:
    """Writes an output file, creating its folder; a failure names the flag (exit 2)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write: {exc.strerror or exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thermostat", formatter_class=HelpFormatter, epilog=EPILOG,
        description="Keeps AWS Lambda functions warm by forecast. Run 'thermostat COMMAND --help' for a "
                    "command's flags.")
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


def report(error: CommandError) -> int:
    print(f"thermostat: error: {error}", file=sys.stderr)
    if error.hint:
        print(f"  hint: {error.hint}", file=sys.stderr)
    return error.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\nthermostat: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of a pipe went away (| head): stop quietly, as a shell tool does
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except CommandError as exc:
        return report(exc)
    except Exception as exc:
        from thermostat.cli_aws import aws_error

        translated = aws_error(exc)
        if translated is None:
            raise
        return report(translated)


if __name__ == "__main__":
    sys.exit(main())
