"""`thermostat local run` rejects bad command-line input in plain words: exit 2 for a bad flag, 3 for an input file
that is missing or not JSON, 5 when an execution failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from thermostat.cli import main

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("argv, status, message", [
    (["--input", "definitely-absent.json"], 3, "error: --input definitely-absent.json: no such file"),
    (["--targets", "-1"], 2, "error: --targets must be a number >= 0, got -1"),
    (["--template", "absent.yaml"], 3, "error: --template absent.yaml: no such file"),
    (["--trace", "absent-trace"], 3, "error: --trace absent-trace: no such directory"),
    (["--parameter", "novalue"], 2, "error: --parameter 'novalue': expected KEY=VALUE"),
    (["--runs", "0"], 2, "error: --runs must be a number >= 1, got 0"),
    (["--interval", "nan"], 2, "error: --interval must be a number >= 0, got nan"),
    (["--idle-ttl", "-1"], 2, "error: --idle-ttl must be a number >= 0, got -1.0"),
    (["--account-concurrency", "0"], 2, "error: --account-concurrency must be a number >= 1, got 0"),
    (["--seed", "-1"], 2, "error: --seed must be a number >= 0, got -1"),
    (["--output", "."], 2, "error: --output .: is a directory"),
    (["--history-json", "template.yaml/h.json"], 2, "error: --history-json template.yaml/h.json: cannot "
                                                    "create a file under template.yaml"),
])
def test_bad_cli_input_exits_with_its_status_in_plain_words(argv: list[str], status: int, message: str,
                                                            tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the project directory (template.yaml there) or an empty one
    monkeypatch.chdir(REPO if (REPO / "template.yaml").is_file() and "--template" not in argv else tmp_path)
    if "--template" not in argv:
        (tmp_path / "template.yaml").write_text("Resources: {}\n")
    # WHEN the command runs
    code = main(["local", "run", *argv])
    # THEN it stops before deploying anything, naming the problem without an internal class name
    assert code == status
    err = capsys.readouterr().err
    assert message in err and "Error:" not in err


def test_invalid_json_input_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    (tmp_path / "in.json").write_text("{nope")
    assert main(["local", "run", "--input", "in.json"]) == 3
    assert "in.json: not valid JSON (line 1, column 2" in capsys.readouterr().err


@pytest.mark.parametrize(("content", "message"), [
    (b"\xa4\x00binary", "in.json: not valid JSON (not UTF-8 text: byte 0)"),
    (b"", "in.json: not valid JSON (line 1, column 1"),
])
def test_an_input_file_that_is_not_json_text_is_named(content: bytes, message: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a binary or empty --input file
    monkeypatch.chdir(tmp_path)
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    (tmp_path / "in.json").write_bytes(content)
    # WHEN the command runs THEN it exits 3 naming the file, no traceback
    assert main(["local", "run", "--input", "in.json"]) == 3
    err = capsys.readouterr().err
    assert f"thermostat: error: --input {message}" in err and "Traceback" not in err


def test_an_input_path_that_is_a_directory_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    (tmp_path / "dir.json").mkdir()
    assert main(["local", "run", "--input", "dir.json"]) == 3
    assert "error: --input dir.json: cannot read: Is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--traffic-max-requests", "0"], "error: --traffic-max-requests must be a number >= 1, got 0"),
    (["--json", "."], "error: --json .: is a directory"),
])
def test_bad_new_flags_exit_2(argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    assert main(["local", "run", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_run_with_traffic_prints_and_keeps_its_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from .conftest import FIXTURES

    # GIVEN the fixture template (a Task, then a Map over "items"), an input, and traffic between runs
    (tmp_path / "in.json").write_text(json.dumps({"items": [{"sleep": 0.01}, {"sleep": 0.01}]}))
    figures = tmp_path / "figures.json"
    # WHEN two runs are made 120 s apart on the fake clock, with the seeded target's traffic in between
    status = main(["local", "run", "--template", str(FIXTURES / "template.yaml"), "--input", str(tmp_path / "in.json"),
                   "--runs", "2", "--traffic", "--interval", "120", "--json", str(figures),
                   "--history-json", str(tmp_path / "h.json")])
    out = capsys.readouterr().out
    # THEN both succeeded; progress, the traffic and each run's figures were printed and written
    assert status == 0, out
    assert out.lstrip().startswith("0.0 s  Starting the embedded AWS")
    assert "Execution 1/2 started" in out and "Traffic: 120 s on the fake clock" in out
    assert out.count("Largest state payload:") == 2
    document = json.loads(figures.read_text())
    first = document["runs"][0]
    assert first["status"] == "SUCCEEDED" and first["transitions"] == 4  # Count, Fan Out, Other x2
    assert first["output"] is not None and "error" not in first  # the execution's own output, kept per run
    assert first["largest_payload"]["bytes"] > 0 and first["largest_payload"]["state"]
    assert document["traffic"][0]["requests"] > 0 and document["targets"] == 1
    assert set(document["timings_s"]) == {"deploy", "extra_targets", "seed"}


def test_a_failed_execution_exits_5_naming_its_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from .conftest import FIXTURES

    # GIVEN the fixture template and an input whose first Task raises (no Catch: the execution fails)
    (tmp_path / "in.json").write_text(json.dumps({"raise": "boom", "items": []}))
    figures = tmp_path / "run.json"
    # WHEN one run is made
    status = main(["local", "run", "--template", str(FIXTURES / "template.yaml"), "--input", str(tmp_path / "in.json"),
                   "--runs", "1", "--json", str(figures), "--history-json", str(tmp_path / "h.json")])
    err = capsys.readouterr().err
    # THEN exit 5, the execution's error named in one plain line with a hint, and the run kept as JSON
    assert status == 5
    assert "thermostat: error: execution " in err and "FAILED: ValueError" in err and "hint: " in err
    run = json.loads(figures.read_text())["runs"][0]
    assert run["status"] == "FAILED" and run["error"] == "ValueError"
