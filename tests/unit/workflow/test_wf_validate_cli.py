"""``thermostat validate FILE|-``: the verdict, the normalised request, and the exit status."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from thermostat.cli import main


def write(tmp_path: Path, text: str, name: str = "input.json") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_valid_input_prints_the_normalised_request(tmp_path: Path, capsys: Any) -> None:
    # GIVEN a valid input with a shorthand target and an integral float WHEN validated
    status = main(["validate", write(tmp_path, '{"targets": ["orders-api:live", {"function": "b", "max": 3.0}]}')])
    # THEN exit 0, "valid", and the request with every default filled in
    out = capsys.readouterr().out
    assert status == 0 and out.startswith("valid (MaxWarm 100)\n")
    request = json.loads(out.split("\n", 1)[1])
    assert [(t["function"], t["qualifier"], t["min"], t["max"]) for t in request["targets"]] == [
        ("orders-api", "live", 1, 100), ("b", None, 1, 3)]
    assert request["discover"] is True and request["dry_run"] is False


def test_json_option_writes_the_request(tmp_path: Path, capsys: Any) -> None:
    # GIVEN --json OUT WHEN the input is valid THEN the request is written there, not printed
    out_file = tmp_path / "out" / "request.json"
    assert main(["validate", write(tmp_path, "{}"), "--json", str(out_file)]) == 0
    assert json.loads(out_file.read_text())["targets"] == []
    assert "written to" in capsys.readouterr().out


def test_invalid_input_names_the_field_and_exits_3(tmp_path: Path, capsys: Any) -> None:
    # GIVEN min > max WHEN validated THEN exit 3 with the cause the execution would fail with
    status = main(["validate", write(tmp_path, '{"targets": [{"function": "a", "min": 5, "max": 2}]}')])
    assert status == 3
    assert capsys.readouterr().out == "invalid: targets[0].min: must be <= max (2), got 5\n"


def test_max_warm_flag_sets_the_bound(tmp_path: Path, capsys: Any) -> None:
    # GIVEN max 180 WHEN checked against the default MaxWarm, then against --max-warm 200
    path = write(tmp_path, '{"targets": [{"function": "a", "max": 180}]}')
    # THEN the first is invalid (naming the bound), the second valid
    assert main(["validate", path]) == 3
    assert "must be <= 100 (the stack's MaxWarm), got 180" in capsys.readouterr().out
    assert main(["validate", path, "--max-warm", "200"]) == 0


def test_standard_input_and_values_json_cannot_hold(monkeypatch: Any, capsys: Any) -> None:
    # GIVEN "-" and a NaN, then a 5,000-digit integer, on standard input WHEN validated
    # THEN each is invalid with its field path (never a traceback)
    for text, expected in [('{"quantile": NaN}', "invalid: quantile: must be a finite number, got NaN"),
                           ('{"targets": [{"function": "a", "max": ' + "9" * 5000 + "}]}",
                            "invalid: targets[0].max: integer out of range")]:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
        assert main(["validate", "-"]) == 3
        assert capsys.readouterr().out.startswith(expected)


@pytest.mark.parametrize(("text", "fragment"), [
    ('{"targets": [\n  {"function": "a",}\n]}', "not valid JSON (line 2, column 19: Illegal trailing comma"),
    ("", "not valid JSON (line 1, column 1: Expecting value)"),
    ("\udcff", "not UTF-8 text"),
])
def test_unreadable_json_is_an_input_error_with_its_position(tmp_path: Path, capsys: Any, text: str,
                                                               fragment: str) -> None:
    # GIVEN a file that is not JSON WHEN validated THEN exit 3 and the line and column (or byte) of the problem
    path = tmp_path / "input.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert main(["validate", str(path)]) == 3
    err = capsys.readouterr().err
    assert fragment in err and err.startswith("thermostat: error: ") and "Error:" not in err


def test_a_missing_file_is_an_input_error_and_bad_flags_usage_errors(tmp_path: Path, capsys: Any) -> None:
    # GIVEN a missing file WHEN run THEN exit 3 naming it; --max-warm that is not a count, or above --min-warm: exit 2
    assert main(["validate", str(tmp_path / "missing.json")]) == 3
    assert "cannot read: No such file or directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["validate", "x.json", "--max-warm", "-1"])
    assert exited.value.code == 2
    assert main(["validate", write(tmp_path, "{}"), "--min-warm", "9", "--max-warm", "3"]) == 2
