"""``thermostat simulate``: table, JSON keys, PNG, filters, progress, and errors in plain words with their exit
status (2 bad flag, 3 unreadable trace)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thermostat.cli import main

from .conftest import write_azure


@pytest.fixture
def trace_dir(tmp_path: Path) -> Path:
    counts = [[(m * 7 + i) % 5 // 3 for m in range(90)] for i in range(4)]
    return write_azure(tmp_path / "trace", counts, trigger=True, durations_ms=1_500.0)


def test_simulate_prints_the_table_and_writes_json_and_png(trace_dir: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "out" / "sim.json", tmp_path / "sim.png"
    # WHEN simulated with a few policies
    code = main(["simulate", str(trace_dir), "--policies", "none,fixed:1..2,reactive,thermostat,oracle,provisioned",
                 "--json", str(out), "--plot", str(png), "--seed", "4", "--quiet", "--workers", "1"])
    # THEN exit 0, a table naming every policy, a JSON with the documented keys and a PNG
    assert code == 0
    printed = capsys.readouterr().out
    for name in ("none", "fixed:1", "fixed:2", "reactive", "thermostat", "oracle", "provisioned"):
        assert name in printed
    doc = json.loads(out.read_text())
    assert doc["schema"] == "thermostat.simulate/2" and doc["settings"]["seed"] == 4
    for p in doc["policies"].values():
        assert 0.0 <= p["cold_start_rate"] <= 1.0
        assert p["cold_start_rate"] == pytest.approx(p["cold_starts"] / p["invocations"])
        assert {"total", "overhead", "pings", "warming_inits", "orchestration", "workflow_lambdas", "s3",
                "get_metric_data", "provisioned"} <= set(p["cost_usd_month"])
        assert {"warm_pings", "warming_inits", "wasted_env_minutes", "per_function_cold_start_rate"} <= set(p)
    assert doc["policies"]["none"]["invocations"] == doc["trace"]["invocations"]
    # AND the thermostat is compared with none, the best fixed warmer it can afford, and the oracle
    thermo = doc["comparisons"]["thermostat"]
    assert {"fewer_than_none", "times_oracle", "overhead_over_pings", "get_metric_data_usd_per_target_month"} <= set(
        thermo)
    assert "thermostat" in printed and "fewer cold starts than none" in printed
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_filters_select_functions_by_trigger_id_file_and_rate(trace_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.json"
    ids = tmp_path / "ids.txt"
    ids.write_text("# two of them\nf0\nf3\n")
    assert main(["simulate", str(trace_dir), "--policies", "none", "--trigger", "http", "--json", str(out),
                 "--quiet"]) == 0
    assert json.loads(out.read_text())["trace"]["functions"] == 2  # f0, f2 are http
    assert main(["simulate", str(trace_dir), "--policies", "none", "--functions", f"@{ids}", "--json", str(out),
                 "--quiet"]) == 0
    assert json.loads(out.read_text())["trace"]["functions"] == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--policies", "none,hot"], "error: --policies: unknown policy 'hot'"),
    (["--plot", "out.svg"], "error: --plot: 'out.svg' must end in .png"),
    (["--functions", "nobody"], "--functions: 'nobody' matches no function"),
    (["--trigger", "queue"], "no function left after --trigger/--functions/--min-rate"),
    (["--min-rate", "1000"], "error: no function left"),
    (["--functions", ","], "error: --functions ',': no function id given"),
    (["--json", "."], "error: --json .: is a directory"),
    (["--plot", "trace/invocations.csv/out.png"], "error: --plot trace/invocations.csv/out.png: cannot create"),
])
def test_bad_flags_exit_2_in_plain_words(trace_dir: Path, args: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a flag value that cannot work WHEN simulate runs THEN exit 2, the flag named, no class name
    monkeypatch.chdir(trace_dir.parent)
    assert main(["simulate", str(trace_dir), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Error:" not in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["--seed", "-1"], ["--workflow", "fancy"], ["--min-rate", "x"],
                                  ["--idle-minutes", "nan"], ["--init-ms", "inf"], ["--min-rate", "-1"]])
def test_malformed_flag_values_exit_2_naming_the_flag(trace_dir: Path, args: list[str],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", str(trace_dir), *args])
    assert exit_info.value.code == 2
    assert args[0] in capsys.readouterr().err


def test_a_missing_trace_exits_3_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a trace path that does not exist WHEN simulate runs THEN exit 3, the path named, a hint, no class name
    assert main(["simulate", str(tmp_path / "missing"), "--quiet"]) == 3
    err = capsys.readouterr().err
    assert f"thermostat: error: {tmp_path / 'missing'}: missing file" in err
    assert "hint: TRACE is an Azure Functions 2019 trace directory" in err and "TraceFormatError" not in err


def test_a_functions_file_that_is_not_text_is_a_trace_error(trace_dir: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN --functions @FILE pointing at binary data
    ids = tmp_path / "ids.txt"
    ids.write_bytes(b"f0\n\xb1\xff\n")
    # WHEN simulate runs THEN it exits 3 (an unreadable input file) naming the file, no traceback
    assert main(["simulate", str(trace_dir), "--quiet", "--functions", f"@{ids}"]) == 3
    err = capsys.readouterr().err
    assert f"thermostat: error: {ids}: the --functions file is not UTF-8 text" in err and "Traceback" not in err


def test_progress_says_loading_before_the_replay(trace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN no --quiet WHEN simulate runs THEN standard error says it loads the trace, then what it loaded
    assert main(["simulate", str(trace_dir), "--policies", "none", "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert err.index(f"loading trace {trace_dir} ...") < err.index("loaded 4 functions x 90 minutes")


def test_ctrl_c_exits_130_with_one_line(trace_dir: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN Ctrl-C while the replay runs
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("thermostat.sim.cli.simulate", interrupted)
    # WHEN simulate runs THEN exit 130 and one line on standard error, no traceback
    assert main(["simulate", str(trace_dir), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "thermostat: interrupted" and "Traceback" not in err
