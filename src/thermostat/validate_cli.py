"""``thermostat validate FILE|-``: check an execution input before starting an execution with it.

The same code and JSON Schema as the Validate Input state (docs/execution-input.schema.json). Prints
``valid`` and the normalised request (every default filled in; ``--json FILE`` writes it there instead),
or ``invalid: <field path>: <problem>``, the cause the execution would fail with.

Defaults and the MaxWarm bound are the template's (MinWarm 1, MaxWarm 100, quantile 0.95, horizon 5)
unless THERMOSTAT_* variables say otherwise; ``--max-warm``/``--min-warm`` give your stack's values.

Exit status: 0 valid, 3 invalid input (also a file that cannot be read or is not JSON), 2 bad flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from thermostat.cli import EXIT_INPUT, InputError, UsageError, add_command, add_json_flag, check_writable, write_text
from thermostat.config import RunSettings
from thermostat.exceptions import ConfigurationError, InvalidInputError
from thermostat.validation import MAX_COUNT, validate_execution_input

EXIT_VALID, EXIT_INVALID = 0, EXIT_INPUT
MAX_INT_DIGITS = 4300  # Python's int <-> str limit: longer integers are read as a bound of their size


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "validate", description=__doc__,
                         help="check an execution input file (exit 0 valid, 3 invalid or unreadable)")
    parser.add_argument("file", metavar="FILE|-", help="the execution input (JSON); - reads standard input")
    add_json_flag(parser, "the normalised request (instead of printing it)")
    defaults = RunSettings()
    parser.add_argument("--max-warm", type=_count, metavar="N",
                        help=f"the stack's MaxWarm: bounds min and max (default: THERMOSTAT_MAX_WARM, else "
                             f"{defaults.max_warm} as the template)")
    parser.add_argument("--min-warm", type=_count, metavar="N",
                        help=f"the stack's MinWarm: the default min (default: THERMOSTAT_MIN_WARM, else "
                             f"{defaults.min_warm} as the template)")
    parser.set_defaults(func=run)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..{MAX_COUNT}")
    return value


def _parse_int(digits: str) -> int:
    """JSON integers; one too long for ``int()`` becomes 10**(its length), so the validator names it."""
    if len(digits.lstrip("-")) <= MAX_INT_DIGITS:
        return int(digits)
    return (-1 if digits.startswith("-") else 1) * 10 ** len(digits)


def read_document(name: str) -> object:
    """The JSON in ``name`` (``-``: standard input); InputError (exit 3) says why it cannot be read."""
    label = "standard input" if name == "-" else name
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        text = data.decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{label}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: not valid JSON (not UTF-8 text: byte {exc.start})") from None
    try:
        return json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise InputError(f"{label}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise InputError(f"{label}: not readable: nested too deeply") from None


def settings_for(args: argparse.Namespace) -> RunSettings:
    try:
        settings = RunSettings.from_env()
    except ConfigurationError as exc:
        raise UsageError(f"environment: {exc}", hint="unset or fix the THERMOSTAT_* variable it names") from None
    changes: dict[str, Any] = {}
    if args.max_warm is not None:
        changes["max_warm"] = args.max_warm
    if args.min_warm is not None:
        changes["min_warm"] = args.min_warm
    settings = dataclasses.replace(settings, **changes)
    if settings.min_warm > settings.max_warm:
        raise UsageError(f"--min-warm {settings.min_warm} is greater than --max-warm {settings.max_warm}")
    return settings


def run(args: argparse.Namespace) -> int:
    check_writable(args.json_out, "--json")
    settings = settings_for(args)
    document = read_document(args.file)
    try:
        request = validate_execution_input(document, settings)
    except InvalidInputError as exc:
        print(f"invalid: {exc}")
        return EXIT_INVALID
    rendered = json.dumps(request, indent=2)
    if args.json_out is None:
        print(f"valid (MaxWarm {settings.max_warm})\n{rendered}")
        return EXIT_VALID
    write_text(args.json_out, rendered + "\n", "--json")
    print(f"valid (MaxWarm {settings.max_warm}): normalised request written to {args.json_out}")
    return EXIT_VALID
