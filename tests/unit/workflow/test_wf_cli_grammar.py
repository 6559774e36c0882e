"""One grammar for every ``thermostat`` subcommand: the same flags for the same things, help with defaults,
plain errors with distinct exit statuses, a clean Ctrl-C."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from thermostat.cli import (
    EXIT_STATUSES,
    AwsAccessError,
    CommandError,
    InputError,
    RunFailedError,
    UsageError,
    build_parser,
    main,
)
from thermostat.cli_aws import aws_error

AWS_COMMANDS = ("plan", "runs", "export")
JSON_COMMANDS = ("simulate", "local run", "validate", "plan", "runs")


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every leaf subcommand parser, by its name as typed (``local run``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix} {name}".strip()
                nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
                yield from commands(sub, full) if nested else [(full, sub)]


ALL = dict(commands(build_parser()))


def test_every_subcommand_is_registered() -> None:
    assert set(ALL) == {"simulate", "export", "local run", "validate", "plan", "runs"}


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_flag_has_help_with_its_default_and_no_markup(name: str) -> None:
    # GIVEN a subcommand's parser WHEN its help is rendered
    parser = ALL[name]
    text = parser.format_help()
    # THEN no RST backticks anywhere, the exit statuses at the end
    assert "`" not in text and text.rstrip().endswith("130 interrupted (Ctrl-C)")
    # AND every visible option has help that names its default (or is a switch or required)
    formatter = parser._get_formatter()
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{name} {action.option_strings or action.dest}: no help"
        shown = formatter._get_help_string(action) % {"default": action.default}  # type: ignore[attr-defined]
        switch = isinstance(action, argparse._StoreTrueAction)
        if action.option_strings and not switch and not action.required:
            assert "default" in shown or "(required)" in shown, f"{name} {action.option_strings}: no default shown"


@pytest.mark.parametrize("name", JSON_COMMANDS)
def test_machine_output_is_json_file_everywhere(name: str) -> None:
    # GIVEN a subcommand with a machine-readable output THEN its flag is --json FILE
    action = next(a for a in ALL[name]._actions if "--json" in a.option_strings)
    assert action.metavar == "FILE" and action.dest == "json_out"
    visible = {s for a in ALL[name]._actions if a.help != argparse.SUPPRESS for s in a.option_strings}
    assert not visible & {"--output", "--out"}


@pytest.mark.parametrize("name", AWS_COMMANDS)
def test_profile_and_region_wherever_aws_is_reached(name: str) -> None:
    flags = {s for a in ALL[name]._actions for s in a.option_strings}
    assert {"--profile", "--region", "--stack"} <= flags


def test_exit_statuses_are_distinct_and_match_the_error_classes() -> None:
    codes = [code for code, _ in EXIT_STATUSES]
    assert codes == [0, 2, 3, 4, 5, 130]
    assert [UsageError.exit_code, InputError.exit_code, AwsAccessError.exit_code, RunFailedError.exit_code] == [
        2, 3, 4, 5]


def test_an_error_prints_its_message_and_hint_but_no_class_name(capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a command that fails with an input error and a hint
    def failing(name: str) -> object:
        raise InputError("x.json: line 3: not a number", hint="fix the file")

    monkeypatch.setattr("thermostat.validate_cli.read_document", failing)
    # WHEN it runs THEN exit 3, two plain lines
    assert main(["validate", "x.json"]) == 3
    assert capsys.readouterr().err == "thermostat: error: x.json: line 3: not a number\n  hint: fix the file\n"


def test_ctrl_c_inside_a_command_is_one_line_and_130(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN Ctrl-C while validate reads its file
    def interrupted(name: str) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr("thermostat.validate_cli.read_document", interrupted)
    # WHEN it runs THEN exit 130, one line, no traceback
    assert main(["validate", str(tmp_path / "x.json")]) == 130
    assert capsys.readouterr().err == "\nthermostat: interrupted\n"


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err
    assert main(["local"]) == 2
    assert "SUBCOMMAND" in capsys.readouterr().err


def test_a_bad_flag_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["runs", "--stack", "s", "--last", "0"])
    assert exited.value.code == 2
    assert "--last: 0 must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize(("code", "message", "hint"), [
    ("AccessDeniedException", "access denied (AccessDeniedException: no)", "use credentials allowed"),
    ("ExpiredToken", "AWS refused the credentials (ExpiredToken: no)", "aws configure"),
    ("ThrottlingException", "AWS answered ThrottlingException: no", None),
])
def test_aws_client_errors_become_exit_4(code: str, message: str, hint: str | None) -> None:
    from botocore.exceptions import ClientError

    error = aws_error(ClientError({"Error": {"Code": code, "Message": "no"}}, "GetObject"), "reading")
    assert isinstance(error, CommandError) and error.exit_code == 4
    assert str(error) == f"reading: {message}"
    assert (error.hint is None) if hint is None else (hint in (error.hint or ""))


def test_other_exceptions_are_not_translated() -> None:
    assert aws_error(ValueError("x")) is None
