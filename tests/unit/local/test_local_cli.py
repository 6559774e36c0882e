"""`thermostat local run` rejects bad command-line input with a named error and exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from thermostat.cli import main

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("argv, message", [
    (["--input", "definitely-absent.json"], "InputFileError: --input definitely-absent.json: no such file"),
    (["--targets", "-1"], "InputFileError: --targets must be >= 0"),
    (["--template", "absent.yaml"], "InputFileError: --template absent.yaml: no such file"),
    (["--parameter", "novalue"], "InputFileError: --parameter 'novalue': expected KEY=VALUE"),
])
def test_bad_cli_input_exits_2_with_a_named_error(argv: list[str], message: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the project directory (template.yaml there) or an empty one
    monkeypatch.chdir(REPO if (REPO / "template.yaml").is_file() and "--template" not in argv else tmp_path)
    if "--template" not in argv:
        (tmp_path / "template.yaml").write_text("Resources: {}\n")
    # WHEN the command runs
    status = main(["local", "run", *argv])
    # THEN it stops before deploying anything, naming the problem
    assert status == 2
    assert message in capsys.readouterr().err


def test_invalid_json_input_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    (tmp_path / "in.json").write_text("{nope")
    assert main(["local", "run", "--input", "in.json"]) == 2
    assert "in.json: not valid JSON (line 1, column 2" in capsys.readouterr().err
