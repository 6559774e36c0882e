"""The user docs (README.md, docs/*.md, traces/*/README.md) agree with the code and stand alone.

- every ``thermostat <command> ... --flag`` written in a doc (code blocks, inline code, and the flag tables under a
  ``thermostat <command>`` heading) is a visible flag of that command's real argparse parser; docs/cli.md lists
  every visible flag of every command, with the parser's default;
- docs/deploy.md's parameter table names exactly the template's parameters, with their defaults and bounds;
  docs/architecture.md names every state of the definition;
- every ``InvalidInputError`` cause quoted in a doc is what the validator produces for some input; no doc shows an
  internal class name the CLI does not print; the exit-status tables are the CLI's; the execution-input samples
  validate and the execution-output samples carry only the models' fields;
- no doc cites a document outside the repository (../shared, DESIGN, §), every relative link and anchor resolves,
  and every ``make <target>`` exists.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from contract_helpers import ROOT, flatten_states

from thermostat import models
from thermostat.cli import EXIT_STATUSES, build_parser
from thermostat.exceptions import InvalidInputError
from thermostat.validation import validate_execution_input

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "traces").glob("*/README.md"))]
COMMANDS = ("simulate", "export", "validate", "plan", "runs", "local run")
COMMAND_RE = re.compile(r"(?:^|[\s(=/`])thermostat\s+(local\s+run|simulate|export|validate|plan|runs)\b(.*)")
FLAG_RE = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
LINK_RE = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
SPAN_RE = re.compile(r"``(.+?)``|`([^`\n]+)`")
OUTSIDE_RE = re.compile(r"\.\./shared|\bDESIGN\b|§")
INTERNAL_NAMES_RE = re.compile(r"\b(CliError|InputFileError|OutputFileError|TraceFormatError|UsageError|"
                               r"InputError|AwsAccessError|RunFailedError):")


@dataclass(frozen=True)
class Line:
    doc: Path
    number: int
    text: str
    code: bool  # inside a fenced block
    heading: str  # the nearest heading above


def lines_of(doc: Path) -> Iterator[Line]:
    """Lines with their context; a fenced block's backslash-continued lines joined into one."""
    in_block, heading, pending = False, "", ""
    for number, raw in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        if raw.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if in_block and raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        text, pending = pending + raw, ""
        if not in_block and (match := HEADING_RE.match(text)):
            heading = match.group(2)
        yield Line(doc, number, text, in_block, heading)


def code_texts(line: Line) -> list[str]:
    """What is code on a line: the whole line in a fenced block, else its inline code spans."""
    if line.code:
        return [line.text]
    return [m.group(1) or m.group(2) for m in SPAN_RE.finditer(line.text)]


def cells(row: str) -> list[str]:
    """A table row's cells (a pipe escaped as \\| stays inside its cell)."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def where(line: Line) -> str:
    return f"{line.doc.relative_to(ROOT)}:{line.number}"


# --- CLI flags ---------------------------------------------------------------------------------------


def parsers() -> dict[str, argparse.ArgumentParser]:
    def leaves(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[tuple[str, argparse.ArgumentParser]]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    full = f"{prefix} {name}".strip()
                    nested = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
                    yield from leaves(sub, full) if nested else [(full, sub)]

    return dict(leaves(build_parser()))


PARSERS = parsers()


def visible_flags(command: str) -> set[str]:
    return {flag for action in PARSERS[command]._actions if action.help != argparse.SUPPRESS
            for flag in action.option_strings}


def command_of(text: str) -> str | None:
    match = re.search(r"thermostat\s+(local\s+run|simulate|export|validate|plan|runs)\b", text)
    return re.sub(r"\s+", " ", match.group(1)) if match else None


def written_flags() -> Iterator[tuple[Line, str, str]]:
    """(line, command, flag) for every flag written after ``thermostat <command>``, or in a flag table under a
    ``thermostat <command>`` heading."""
    for doc in DOCS:
        for line in lines_of(doc):
            for code in code_texts(line):
                for match in COMMAND_RE.finditer(code):
                    command = re.sub(r"\s+", " ", match.group(1))
                    rest = re.split(r"\s#|\||;|&&", match.group(2))[0]
                    for flag in FLAG_RE.findall(rest):
                        yield line, command, flag
            table_command = command_of(line.heading)
            if table_command and not line.code and line.text.startswith("|"):
                first_cell = cells(line.text)[0]
                for span in SPAN_RE.finditer(first_cell):
                    text = span.group(1) or span.group(2)
                    if text.startswith("--"):
                        yield line, table_command, text.split()[0].split("=")[0]


def test_the_docs_write_commands_at_all() -> None:
    # GIVEN the docs WHEN their command lines are read THEN every command appears (the parser below is alive)
    assert {command for _, command, _ in written_flags()} == set(COMMANDS)


def test_every_flag_in_the_docs_is_a_flag_of_its_command() -> None:
    # GIVEN every "thermostat <command> ... --flag" of the docs
    wrong = [f"{where(line)}: thermostat {command} has no {flag} (its flags: {', '.join(sorted(flags))})"
             for line, command, flag in written_flags()
             if flag not in (flags := visible_flags(command))]
    # THEN each flag exists, visible (not a deprecated spelling), on that command
    assert not wrong, "\n".join(wrong)


def test_docs_cli_lists_every_flag_of_every_command() -> None:
    # GIVEN docs/cli.md's flag tables, one per "thermostat <command>" heading
    documented: dict[str, set[str]] = {command: set() for command in COMMANDS}
    for line, command, flag in written_flags():
        if line.doc.name == "cli.md" and not line.code and line.text.startswith("|"):
            documented[command].add(flag)
    # THEN each command's table has each of its visible flags (--help aside)
    missing = {command: sorted(visible_flags(command) - {"-h", "--help"} - documented[command])
               for command in COMMANDS}
    assert not any(missing.values()), missing


def test_docs_cli_defaults_are_the_parsers() -> None:
    # GIVEN docs/cli.md's flag tables (flag | default | what)
    wrong = []
    for line in lines_of(ROOT / "docs" / "cli.md"):
        command = command_of(line.heading)
        row = cells(line.text) if command and line.text.startswith("|") and not line.code else []
        spans = [m.group(1) or m.group(2) for m in SPAN_RE.finditer(row[0])] if row else []
        if not spans or not spans[0].startswith("--"):
            continue
        flag = spans[0].split()[0]
        action = next(a for a in PARSERS[str(command)]._actions if flag in a.option_strings)
        default = action.default
        if default is None or isinstance(default, bool | list):
            continue
        # THEN a flag's default, when the parser has one, is written in its row's default cell
        written = row[1]
        if isinstance(default, int | float):
            same = any(float(n) == float(default) for n in re.findall(r"\d+(?:\.\d+)?", written.replace(",", "")))
        else:
            same = str(default) in written
        if not same:
            wrong.append(f"{where(line)}: thermostat {command} {flag}: default {default!r}, the docs say {written!r}")
    assert not wrong, "\n".join(wrong)


# --- template parameters -----------------------------------------------------------------------------


def table_rows(doc: Path, heading: str) -> list[list[str]]:
    """The cells of the first table under ``heading`` (header and separator rows dropped)."""
    rows: list[list[str]] = []
    for line in lines_of(doc):
        if line.heading == heading and not line.code and line.text.startswith("|"):
            rows.append(cells(line.text))
        elif rows and not line.text.startswith("|"):
            break
    return [row for row in rows[1:] if not set("".join(row)) <= set("-: ")]


def cell_value(cell: str) -> str:
    spans = [m.group(1) or m.group(2) for m in SPAN_RE.finditer(cell)]
    return spans[0] if spans else ("" if cell in ("(empty)", "") else cell)


def number(text: str) -> str:
    return str(float(text.replace(",", "")))


def test_deploy_parameter_table_is_the_template(parameters: dict[str, Any]) -> None:
    # GIVEN docs/deploy.md's parameter table (parameter | default | allowed | ...)
    rows = table_rows(ROOT / "docs" / "deploy.md", "Parameters")
    documented = {cell_value(row[0]): row for row in rows}
    # THEN it names exactly the template's parameters
    assert sorted(documented) == sorted(parameters), (
        f"not in template.yaml: {sorted(set(documented) - set(parameters))}; "
        f"missing from the table: {sorted(set(parameters) - set(documented))}")
    problems = []
    for name, spec in parameters.items():
        default, allowed = cell_value(documented[name][1]), documented[name][2]
        expected = str(spec.get("Default", ""))
        same = default == expected or (spec.get("Type") == "Number" and default and number(default) == number(expected))
        if not same:
            problems.append(f"{name}: default {default!r} in the docs, {expected!r} in the template")
        # AND the bounds the template enforces are the ones written
        for bound in ("MinValue", "MaxValue"):
            if bound in spec and number(str(spec[bound])) not in [number(n) for n in re.findall(r"[\d,.]*\d", allowed)]:
                problems.append(f"{name}: {bound} {spec[bound]} not in the allowed cell {allowed!r}")
        values = [str(v) for v in spec.get("AllowedValues", [])]
        if 0 < len(values) <= 6 and not all(v in allowed for v in values):
            problems.append(f"{name}: allowed values {values} not all in {allowed!r}")
    assert not problems, "\n".join(problems)


def test_architecture_names_every_state_of_the_definition(asl: dict[str, Any]) -> None:
    # GIVEN the state machine's states (Map iterations included) THEN docs/architecture.md names each
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = sorted(name for name in flatten_states(asl["States"]) if name not in text)
    assert not missing, f"states of statemachine/warming.asl.json that docs/architecture.md never names: {missing}"


# --- error texts -------------------------------------------------------------------------------------

# Inputs whose causes the docs quote; a doc quoting a cause that none of these produces fails below.
CAUSE_INPUTS: list[Any] = [
    [1, 2], {"dryrun": True}, {"dry run": True}, {"targets": ["a", "b", "bad name!"]},
    {"targets": [{"function": "a", "qualifier": "live\n"}]}, {"targets": [{"function": "a:live", "qualifier": "prod"}]},
    {"targets": [{"min": 1}]}, {"targets": [{"function": "a" * 40000}]}, {"targets": [{"function": "a", "max": True}]},
    {"targets": [{"function": "a", "max": 180}]}, {"targets": [{"function": "a", "max": 2**60}]},
    {"quantile": 1.5}, json.loads('{"quantile": NaN}'), {"horizon_minutes": 90},
    {"targets": [{"function": "a", "min": 5, "max": 2}]}, {"targets": [{"function": "a", "min": 5, "max": 3}]},
    json.loads((ROOT / "events" / "invalid-input.json").read_text()),
]
CAUSE_RE = re.compile(r"^(?:invalid: )?((?:\$|\[\"[^\"]*\"\]|(?:targets|quantile|horizon_minutes|dry_?run|discover|"
                      r"price_per_cold_start|monthly_budget_usd)(?:\[\d+\])?(?:\.[a-z_]+)?)"
                      r": (?:must |unknown field|is required|is not |is \d|integer out of range|contradicts|"
                      r"the execution input|\").*)$")


def produced_causes() -> set[str]:
    causes = set()
    for document in CAUSE_INPUTS:
        with pytest.raises(InvalidInputError) as raised:
            validate_execution_input(document)
        causes.add(str(raised.value))
    return causes


def test_every_quoted_cause_is_what_the_validator_says() -> None:
    # GIVEN the causes the validator gives for the inputs above
    produced = produced_causes()
    # WHEN the docs quote a cause (a code line or span shaped "<field path>: <problem>")
    quoted = [(line, match.group(1)) for doc in DOCS for line in lines_of(doc) for code in code_texts(line)
              if (match := CAUSE_RE.match(code.strip()))]
    # THEN each is word for word what the code produces
    assert len(quoted) >= 10
    wrong = [f"{where(line)}: {cause!r}" for line, cause in quoted if cause not in produced]
    assert not wrong, "quoted causes the validator does not produce:\n" + "\n".join(wrong)


def test_no_doc_shows_an_internal_class_name_as_output() -> None:
    wrong = [f"{where(line)}: {line.text.strip()[:120]}" for doc in DOCS for line in lines_of(doc)
             if INTERNAL_NAMES_RE.search(line.text)]
    assert not wrong, "the CLI prints plain messages, never these names:\n" + "\n".join(wrong)


def test_exit_status_tables_are_the_clis() -> None:
    # GIVEN every table headed "| exit status | ..." in the docs
    tables = []
    for doc in DOCS:
        rows: list[str] = []
        for line in lines_of(doc):
            row = cells(line.text) if line.text.startswith("|") else []
            if row and row[0] == "exit status":
                rows = ["header"]
            elif rows and row:
                rows.append(row[0].strip("`"))
            elif rows:
                tables.append((doc, [int(r) for r in rows[2:]]))
                rows = []
    # THEN there is one at least, and each lists the CLI's statuses in order
    assert tables
    for doc, codes in tables:
        assert codes == [code for code, _ in EXIT_STATUSES], doc


# --- JSON samples ------------------------------------------------------------------------------------

INPUT_HEADINGS = ("State machine input", "Execution input")


def json_blocks() -> Iterator[tuple[Path, int, str, Any]]:
    """(doc, line, heading, parsed) for every ```json block that is strict JSON."""
    for doc in DOCS:
        heading, block, start = "", None, 0
        for number, raw in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            if block is None and (match := HEADING_RE.match(raw)):
                heading = match.group(2)
            if block is None and raw.strip() == "```json":
                block, start = [], number
            elif block is not None and raw.strip() == "```":
                try:
                    parsed = json.loads("\n".join(block))
                except ValueError:  # a sample with placeholders: not checked
                    parsed = None
                if parsed is not None:
                    yield doc, start, heading, parsed
                block = None
            elif block is not None:
                block.append(raw)


def keys_of(typed: Any) -> set[str]:
    return set(typed.__required_keys__) | set(typed.__optional_keys__)


def test_execution_input_samples_are_valid() -> None:
    samples = [(doc, line, sample) for doc, line, heading, sample in json_blocks() if heading in INPUT_HEADINGS]
    assert len(samples) >= 2
    for doc, line, sample in samples:
        try:
            validate_execution_input(sample)
        except InvalidInputError as exc:
            pytest.fail(f"{doc.relative_to(ROOT)}:{line}: an invalid execution input sample: {exc}")


def test_execution_output_samples_have_the_documented_fields_only() -> None:
    # GIVEN every JSON sample of an execution output (it has totals and targets_total)
    samples = [(doc, line, sample) for doc, line, _, sample in json_blocks()
               if isinstance(sample, dict) and {"totals", "targets_total"} <= set(sample)]
    assert samples
    for doc, line, sample in samples:
        where_ = f"{doc.relative_to(ROOT)}:{line}"
        # THEN its keys, its run's, its totals' and each target's are the models' (no stale or invented field)
        assert set(sample) <= keys_of(models.ExecutionOutput), where_
        assert set(sample["run"]) <= keys_of(models.RunInfo), where_
        assert set(sample["totals"]) <= keys_of(models.Totals), where_
        for target in sample["targets"]:
            assert set(target) <= keys_of(models.TargetReport), (where_, set(target) - keys_of(models.TargetReport))


# --- standing alone ----------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    return {slug(m.group(2)) for line in lines_of(doc) if not line.code and (m := HEADING_RE.match(line.text))}


def test_no_doc_cites_documents_outside_the_repository() -> None:
    wrong = [f"{where(line)}: {line.text.strip()[:120]}" for doc in DOCS for line in lines_of(doc)
             if OUTSIDE_RE.search(line.text)]
    assert not wrong, "\n".join(wrong)


def test_every_relative_link_and_anchor_resolves() -> None:
    wrong = []
    for doc in DOCS:
        for line in lines_of(doc):
            if line.code:
                continue
            for target in LINK_RE.findall(line.text):
                if re.match(r"[a-z]+:", target):
                    continue
                path_text, _, anchor = target.partition("#")
                path = (doc.parent / path_text).resolve() if path_text else doc
                if not path.exists():
                    wrong.append(f"{where(line)}: {target} (no such file)")
                elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                    wrong.append(f"{where(line)}: {target} (no such heading)")
    assert not wrong, "\n".join(wrong)


def test_every_make_target_in_the_docs_exists() -> None:
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    wrong = [f"{where(line)}: make {name}" for doc in DOCS for line in lines_of(doc) for code in code_texts(line)
             for name in re.findall(r"(?:^|\s)make\s+([a-z][\w-]*)", code) if name not in targets]
    assert not wrong, "\n".join(wrong)
