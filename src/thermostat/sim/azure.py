"""Readers for the Azure Functions 2019 per-minute trace, in every variant we have met.

- minute columns ``1..1440`` (original release), ``minute_1..minute_1440`` (vHive sample) or a window
  such as ``480..959``; id columns in any order, with or without ``Trigger``;
- memory per application (``HashOwner,HashApp,...``) or per function (``HashFunction,...``), or absent
  (every function gets 128 MB, reported as ``memory_source: default``);
- file names ``invocations.csv``/``durations.csv``/``memory.csv`` or the original
  ``invocations_per_function_md.anon.dNN.csv``/``function_durations_percentiles.anon.dNN.csv``/
  ``app_memory_percentiles.anon.dNN.csv`` (the lowest day is used when several are present).

Every problem raises :class:`TraceFormatError` naming the file, the line (header = line 1) and column.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd

from thermostat.exceptions import TraceFormatError
from thermostat.sim.trace import (
    AZURE_EPOCH_MS,
    DEFAULT_MEMORY_MB,
    DURATION_PERCENTILES,
    Trace,
    lambda_memory_size,
    monotone_table,
)

INVOCATION_FILES = ("invocations.csv", "invocations_per_function_md.anon.d*.csv", "invocations*.csv")
DURATION_FILES = ("durations.csv", "function_durations_percentiles.anon.d*.csv", "*durations*.csv")
MEMORY_FILES = ("memory.csv", "app_memory_percentiles.anon.d*.csv", "*memory*.csv")
MINUTE_COLUMN = re.compile(r"^(?:minute_)?(\d+)$")
ID_COLUMNS = ("HashOwner", "HashApp", "HashFunction")
DURATION_COLUMNS = tuple(f"percentile_Average_{int(p)}" for p in DURATION_PERCENTILES)
MEMORY_COLUMN = "AverageAllocatedMb"


def find_file(trace_dir: Path, patterns: tuple[str, ...], what: str, required: bool = True) -> Path | None:
    for pattern in patterns:
        found = sorted(trace_dir.glob(pattern))
        if found:
            return found[0]
    if required:
        raise TraceFormatError(f"{trace_dir}: missing file: no {what} file ({' or '.join(patterns[:2])})")
    return None


def read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={c: str for c in (*ID_COLUMNS, "Trigger")}, skipinitialspace=True)
    except FileNotFoundError:
        raise TraceFormatError(f"{path}: missing file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TraceFormatError(f"{path}: not a readable CSV file ({exc})") from None


def require_columns(frame: pd.DataFrame, path: Path, columns: tuple[str, ...]) -> None:
    for column in columns:
        if column not in frame.columns:
            raise TraceFormatError(f"{path}, line 1: missing column {column!r}")


def numeric(frame: pd.DataFrame, path: Path, columns: list[str], *, integer: bool) -> np.ndarray:
    """The columns as a float matrix; names the first empty, non-numeric, negative or fractional cell."""
    block = frame[columns]
    values = block.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    problem = "is not a number"
    if not bad.any():
        bad = values < 0
        problem = "is negative"
        if integer and not bad.any():
            bad = values != np.floor(values)
            problem = "is not a whole count"
    if bad.any():
        row, col = (int(x[0]) for x in np.nonzero(bad))
        cell = block.iat[row, col]
        shown = "empty" if pd.isna(cell) else repr(str(cell))
        raise TraceFormatError(f"{path}, line {row + 2}, column {columns[col]!r}: {shown} {problem}")
    return values


def minute_columns(frame: pd.DataFrame, path: Path) -> tuple[list[str], int]:
    numbered = sorted((int(m.group(1)), str(c)) for c in frame.columns if (m := MINUTE_COLUMN.match(str(c))))
    if not numbered:
        raise TraceFormatError(f"{path}, line 1: missing column: no minute columns ('1'.. or 'minute_1'..)")
    for (prev, _), (number, name) in itertools.pairwise(numbered):
        if number != prev + 1:
            raise TraceFormatError(f"{path}, line 1: minute columns jump from {prev} to {number} ({name!r})")
    return [name for _, name in numbered], numbered[0][0]


def ids(frame: pd.DataFrame, path: Path, column: str) -> list[str]:
    values = frame[column]
    missing = values.isna() | (values.astype(str).str.strip() == "")
    if missing.any():
        raise TraceFormatError(f"{path}, line {int(np.argmax(missing.to_numpy())) + 2}, column {column!r}: empty id")
    return [str(v).strip() for v in values]


def read_azure(trace_dir: Path, *, allow_missing: bool = False) -> Trace:
    """Read a directory holding an Azure 2019 style trace; see the module docstring for variants."""
    if not trace_dir.is_dir():
        raise TraceFormatError(f"{trace_dir}: missing file: not a directory")
    inv_path = find_file(trace_dir, INVOCATION_FILES, "invocations")
    dur_path = find_file(trace_dir, DURATION_FILES, "durations")
    mem_path = find_file(trace_dir, MEMORY_FILES, "memory", required=False)
    assert inv_path is not None and dur_path is not None
    inv = read_csv(inv_path)
    require_columns(inv, inv_path, ID_COLUMNS)
    columns, first_minute = minute_columns(inv, inv_path)
    counts = numeric(inv, inv_path, columns, integer=True).astype(np.int64)
    functions, apps = (ids(inv, inv_path, c) for c in ("HashFunction", "HashApp"))
    seen: dict[str, int] = {}
    for line, fid in enumerate(functions, start=2):
        if fid in seen:
            raise TraceFormatError(f"{inv_path}, line {line}, column 'HashFunction': duplicate id {fid!r} "
                                   f"(first on line {seen[fid]})")
        seen[fid] = line
    triggers: list[str | None] = ([None if pd.isna(t) else str(t) for t in inv["Trigger"]]
                                  if "Trigger" in inv.columns else [None] * len(functions))
    durations, keep = _durations(dur_path, inv_path, functions, apps, allow_missing)
    memory, memory_source, keep_mem = _memory(mem_path, inv_path, functions, apps, allow_missing)
    keep &= keep_mem
    trace = Trace(
        source=str(trace_dir), kind="azure2019", start_ms=AZURE_EPOCH_MS + (first_minute - 1) * 60_000,
        first_minute=first_minute, ids=tuple(functions), apps=tuple(apps), triggers=tuple(triggers),
        counts=counts, durations=durations, memory_mb=memory, memory_source=memory_source,
    )
    return trace if keep.all() else trace.subset(keep)


def _rows(path: Path, inv_path: Path, frame: pd.DataFrame, column: str, keys: list[str],
          allow_missing: bool) -> tuple[list[int], np.ndarray]:
    """The (first) row of ``frame`` whose ``column`` holds each key, and which keys have one; a key
    without a row fails, unless ``allow_missing`` (then its row is -1 and its function is dropped)."""
    row_of: dict[str, int] = {}
    for row, key in enumerate(ids(frame, path, column)):
        row_of.setdefault(key, row)
    rows = [row_of.get(key, -1) for key in keys]
    keep = np.array([row >= 0 for row in rows], dtype=bool)
    if not allow_missing and not keep.all():
        index = int(np.argmin(keep))
        raise TraceFormatError(f"{path}: mismatched ids: no row for {column} {keys[index]!r} "
                               f"({inv_path.name}, line {index + 2}); --allow-missing drops such functions")
    return rows, keep


def _durations(path: Path, inv_path: Path, functions: list[str], apps: list[str],
               allow_missing: bool) -> tuple[np.ndarray, np.ndarray]:
    frame = read_csv(path)
    require_columns(frame, path, ("HashFunction", *DURATION_COLUMNS))
    table = numeric(frame, path, list(DURATION_COLUMNS), integer=False)
    rows, keep = _rows(path, inv_path, frame, "HashFunction", functions, allow_missing)
    dur_apps = ids(frame, path, "HashApp") if "HashApp" in frame.columns else None
    out = np.zeros((len(functions), len(DURATION_COLUMNS)))
    for index, row in enumerate(rows):
        if row < 0:
            continue
        if dur_apps is not None and dur_apps[row] != apps[index]:
            raise TraceFormatError(f"{path}, line {row + 2}, column 'HashApp': mismatched ids: {dur_apps[row]!r} "
                                   f"but {inv_path.name}, line {index + 2} says {apps[index]!r}")
        out[index] = table[row]
    return monotone_table(out), keep


def _memory(path: Path | None, inv_path: Path, functions: list[str], apps: list[str],
            allow_missing: bool) -> tuple[np.ndarray, str, np.ndarray]:
    if path is None:
        return (np.full(len(functions), DEFAULT_MEMORY_MB, dtype=np.int64), "default",
                np.ones(len(functions), dtype=bool))
    frame = read_csv(path)
    per_function = "HashFunction" in frame.columns
    key_column = "HashFunction" if per_function else "HashApp"
    require_columns(frame, path, (key_column, MEMORY_COLUMN))
    average = numeric(frame, path, [MEMORY_COLUMN], integer=False)[:, 0]
    rows, keep = _rows(path, inv_path, frame, key_column, functions if per_function else apps, allow_missing)
    out = np.full(len(functions), DEFAULT_MEMORY_MB, dtype=np.int64)
    for index, row in enumerate(rows):
        if row >= 0:
            out[index] = lambda_memory_size(float(average[row]))
    return out, "per-function" if per_function else "per-app", keep
