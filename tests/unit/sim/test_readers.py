"""Trace readers: every Azure 2019 variant, the CloudWatch export, and errors that name file/line/column."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from thermostat.exceptions import TraceFormatError
from thermostat.sim.cloudwatch import COLUMNS
from thermostat.sim.readers import load_trace
from thermostat.sim.trace import filter_ids, filter_min_rate, filter_trigger, lambda_memory_size

from .conftest import REAL_TRACE, write_azure

COUNTS = [[1, 0, 2, 0, 0, 3], [0, 0, 0, 1, 0, 0]]


def test_vhive_layout_reads_counts_durations_and_per_app_memory(azure_dir: Path) -> None:
    trace = load_trace(azure_dir)
    assert trace.ids == ("f0", "f1")
    assert trace.counts.tolist() == COUNTS
    assert trace.minutes == 6 and trace.first_minute == 1
    assert trace.memory_mb.tolist() == [128, 256]  # 100 MB -> 128, 200 MB -> 256 (next 128 MB step)
    assert trace.memory_source == "per-app"
    assert np.all(trace.durations == 100.0)


def test_original_numbered_window_columns_trigger_and_per_function_memory(tmp_path: Path) -> None:
    # GIVEN the original release's shape: a 480..485 window of numbered columns, Trigger, memory per function
    names = [str(m) for m in range(480, 486)]
    directory = write_azure(tmp_path / "t", COUNTS, minute_names=names, trigger=True, memory="function")
    (directory / "invocations.csv").rename(directory / "invocations_per_function_md.anon.d01.csv")
    (directory / "durations.csv").rename(directory / "function_durations_percentiles.anon.d01.csv")
    # WHEN read
    trace = load_trace(directory)
    # THEN the window start is kept, triggers are read, memory is per function
    assert trace.first_minute == 480 and trace.counts.tolist() == COUNTS
    assert trace.triggers == ("http", "timer")
    assert trace.memory_source == "per-function" and trace.memory_mb.tolist() == [384, 384]
    assert filter_trigger(trace, "HTTP").ids == ("f0",)


def test_columns_in_another_order_and_no_memory_file(tmp_path: Path) -> None:
    directory = write_azure(tmp_path / "t", COUNTS, memory="none")
    frame = pd.read_csv(directory / "invocations.csv")
    frame[["HashOwner", "HashApp", "HashFunction", *frame.columns[3:]]].to_csv(directory / "invocations.csv",
                                                                                index=False)
    trace = load_trace(directory)
    assert trace.counts.tolist() == COUNTS
    assert trace.memory_source == "default" and trace.memory_mb.tolist() == [128, 128]


def test_a_slice_of_the_real_trace_reads_as_the_whole_does(tmp_path: Path) -> None:
    # GIVEN the first 25 functions of the in-repo sample (the whole day)
    directory = tmp_path / "slice"
    directory.mkdir()
    for name in ("invocations.csv", "durations.csv", "memory.csv"):
        with (REAL_TRACE / name).open() as src, (directory / name).open("w") as dst:
            dst.writelines(line for _, line in zip(range(26), src, strict=False))
    whole = load_trace(REAL_TRACE)
    assert whole.functions == 250 and whole.invocations == 151_950
    # WHEN read
    trace = load_trace(directory)
    # THEN 25 functions x 1,440 minutes with sane tables and Lambda memory sizes
    assert trace.functions == 25 and trace.minutes == 1440
    assert np.all(np.diff(trace.durations, axis=1) >= 0)
    assert set(trace.memory_mb.tolist()) <= {128 * k for k in range(1, 81)}
    assert filter_min_rate(trace, 1.0).functions < 25
    assert filter_ids(trace, [trace.ids[3][:10]]).ids == (trace.ids[3],)


def test_lambda_memory_size_rounds_up_to_128_mb_steps() -> None:
    assert [lambda_memory_size(v) for v in (78, 128, 129, 994, float("nan"), 20_000)] == [128, 128, 256, 1024,
                                                                                         128, 10240]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: (d / "durations.csv").unlink(), "missing file: no durations file"),
    (lambda d: _replace(d / "invocations.csv", "HashApp", "App"), "invocations.csv, line 1: missing column 'HashApp'"),
    (lambda d: _replace(d / "invocations.csv", "f1,o1,a1,0", "f1,o1,a1,-2"),
     "invocations.csv, line 3, column 'minute_1': '-2' is negative"),
    (lambda d: _replace(d / "invocations.csv", "f0,o0,a0,1", "f0,o0,a0,x"),
     "invocations.csv, line 2, column 'minute_1': 'x' is not a number"),
    (lambda d: _replace(d / "invocations.csv", "f0,o0,a0,1", "f0,o0,a0,1.5"),
     "invocations.csv, line 2, column 'minute_1': '1.5' is not a whole count"),
    (lambda d: _replace(d / "invocations.csv", "minute_3", "minute_9"), "minute columns jump from 2 to 4"),
    (lambda d: _replace(d / "durations.csv", "o1,a1,f1", "o1,a1,f7"), "mismatched ids: no row for HashFunction 'f1'"),
    (lambda d: _replace(d / "durations.csv", "o1,a1,f1", "o1,a9,f1"),
     "durations.csv, line 3, column 'HashApp': mismatched ids: 'a9'"),
    (lambda d: _replace(d / "memory.csv", "o1,a1,", "o1,a7,"), "mismatched ids: no row for HashApp 'a1'"),
    (lambda d: _replace(d / "memory.csv", "10,200", "10,lots"),
     "memory.csv, line 3, column 'AverageAllocatedMb': 'lots' is not a number"),
    (lambda d: _replace(d / "invocations.csv", "f1,o1,a1", "f0,o1,a1"), "line 3, column 'HashFunction': duplicate id"),
])
def test_malformed_traces_raise_errors_naming_file_line_and_column(azure_dir: Path, edit, message: str) -> None:
    # GIVEN a trace with one defect WHEN read THEN TraceFormatError names where it is
    edit(azure_dir)
    with pytest.raises(TraceFormatError, match=_escape(message)):
        load_trace(azure_dir)


def test_allow_missing_drops_functions_without_durations(azure_dir: Path) -> None:
    _replace(azure_dir / "durations.csv", "o1,a1,f1", "o1,a1,f7")
    assert load_trace(azure_dir, allow_missing=True).ids == ("f0",)


def test_a_missing_directory_and_a_file_that_is_not_an_export(tmp_path: Path, azure_dir: Path) -> None:
    with pytest.raises(TraceFormatError, match="missing file"):
        load_trace(tmp_path / "nope")
    with pytest.raises(TraceFormatError, match="not a CloudWatch export"):
        load_trace(azure_dir / "invocations.csv")


def test_trigger_filter_on_a_trace_without_trigger_is_an_error(azure_dir: Path) -> None:
    with pytest.raises(TraceFormatError, match="no Trigger column"):
        filter_trigger(load_trace(azure_dir), "http")


EXPORT = ",".join(COLUMNS) + """
orders,,2026-11-20T10:00:00Z,512,4,2,120,0,,
orders,,2026-11-20T10:01:00Z,512,,,,,,
orders,,2026-11-20T10:02:00Z,512,7,3,80,0,2,5
pay,live,2026-11-20T10:01:00Z,1024,3,1,40,0,3,
pay,live,2026-11-20T10:02:00Z,1024,9,2,60,0,3,
"""


def test_cloudwatch_export_real_requests_exclude_pings_and_memory_comes_from_the_export(tmp_path: Path) -> None:
    # GIVEN an export with a Thermostat-warmed minute and a qualified function
    path = tmp_path / "export.csv"
    path.write_text(EXPORT)
    # WHEN read
    trace = load_trace(path)
    # THEN real requests = RealInvocation, else Invocations - WarmPing; minutes missing from a function are 0
    assert trace.kind == "cloudwatch" and trace.ids == ("orders", "pay:live")
    assert trace.counts.tolist() == [[4, 0, 5], [0, 0, 6]]
    assert trace.memory_mb.tolist() == [512, 1024]
    # AND the duration table comes from clean minutes (no pings) when there are some
    assert trace.durations[0, 0] == 120.0 and trace.durations[1, -1] == 60.0
    # AND a directory holding just the export is read the same way
    shutil.copy(path, tmp_path / "dir.csv")
    (tmp_path / "export.csv").unlink()
    assert load_trace(tmp_path).counts.tolist() == trace.counts.tolist()


@pytest.mark.parametrize(("old", "new", "message"), [
    ("2026-11-20T10:02:00Z,512,7", "yesterday,512,7", "line 4, column 'timestamp': 'yesterday' is not an ISO"),
    ("512,7,3", "512,-7,3", "line 4, column 'invocations': '-7.0' is negative"),
    ("512,7,3", "512,many,3", "line 4, column 'invocations': 'many' is not a number"),
    ("pay,live,2026-11-20T10:01:00Z,1024", "pay,live,2026-11-20T10:02:00Z,1024", "a second row for 'pay:live'"),
    ("pay,live,2026-11-20T10:02:00Z,1024", "pay,live,2026-11-20T10:02:00Z,2048", "mismatched values for 'pay:live'"),
    ("function,qualifier,timestamp", "fn,qualifier,timestamp", "not a CloudWatch export"),
    ("512,7,3", "512,inf,3", "line 4, column 'invocations': 'inf' is not a number"),
    ("512,7,3", "512,7.5,3", "line 4, column 'invocations': '7.5' is not a whole count"),
    ("512,7,3", "512,7,-inf", "line 4, column 'concurrent_executions': '-inf' is not a number"),
    ("orders,,2026-11-20T10:00:00Z,512", "orders,,2026-11-20T10:00:00Z,0", "line 2, column 'memory_mb': 0 is not a "
                                                                        "Lambda memory size"),
])
def test_cloudwatch_export_errors_name_line_and_column(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = tmp_path / "export.csv"
    path.write_text(EXPORT.replace(old, new, 1))
    with pytest.raises(TraceFormatError, match=_escape(message)):
        load_trace(path)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _escape(text: str) -> str:
    import re

    return re.escape(text)
