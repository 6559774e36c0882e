"""The CloudWatch export: per-minute history of real functions, as ``thermostat export`` writes it and
``thermostat simulate FILE.csv`` reads it.

One row per function per minute of the window (an empty cell = CloudWatch had no datapoint)::

    function,qualifier,timestamp,memory_mb,invocations,concurrent_executions,duration_avg_ms,throttles,warm_pings,real_invocations
    orders-api,,2026-11-20T10:00:00Z,512,42,3,118.5,0,,

Real requests per minute are ``real_invocations`` (the target library's metric) when present, else
``invocations - warm_pings`` (an account already warmed by Thermostat), else ``invocations``. The
duration table is approximated from the per-minute averages of minutes without pings (weighted by
requests); functions without any duration datapoint get a flat ``DEFAULT_DURATION_MS``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from thermostat.exceptions import TraceFormatError
from thermostat.sim.azure import read_csv, require_columns
from thermostat.sim.trace import (
    DEFAULT_MEMORY_MB,
    DURATION_PERCENTILES,
    LAMBDA_MAX_MEMORY_MB,
    LAMBDA_MIN_MEMORY_MB,
    Trace,
    monotone_table,
)

COLUMNS = ("function", "qualifier", "timestamp", "memory_mb", "invocations", "concurrent_executions",
           "duration_avg_ms", "throttles", "warm_pings", "real_invocations")
REQUIRED = ("function", "timestamp", "invocations")
NUMERIC = ("memory_mb", "invocations", "concurrent_executions", "duration_avg_ms", "throttles", "warm_pings",
           "real_invocations")
DEFAULT_DURATION_MS = 100.0
COUNTS = ("invocations", "concurrent_executions", "throttles", "warm_pings", "real_invocations")


def is_export(path: Path) -> bool:
    """A CSV file whose header has the export's required columns."""
    if not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8") as handle:
            header = handle.readline().strip().split(",")
    except (OSError, UnicodeDecodeError):
        return False
    return all(column in header for column in REQUIRED)


def _column(frame: pd.DataFrame, path: Path, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    raw = frame[name]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    text = raw.astype(str).str.strip()
    bad = ~np.isfinite(values) & raw.notna().to_numpy() & (text != "").to_numpy()
    problem = "is not a number"
    if not bad.any():
        bad = values < 0
        problem = "is negative"
    if not bad.any() and name in COUNTS:
        bad = ~np.isnan(values) & (values != np.floor(values))
        problem = "is not a whole count"
    if bad.any():
        row = int(np.argmax(bad))
        raise TraceFormatError(f"{path}, line {row + 2}, column {name!r}: {str(raw.iat[row])!r} {problem}")
    return values


def _weighted_table(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    order = np.argsort(values)
    values, weights = values[order], weights[order]
    cumulative = np.cumsum(weights) / weights.sum()
    quantiles = np.asarray(DURATION_PERCENTILES) / 100.0
    index = np.minimum(np.searchsorted(cumulative, quantiles, side="left"), values.size - 1)
    table = values[index]
    table[0], table[-1] = values[0], values[-1]
    return table


def read_export(path: Path) -> Trace:
    frame = read_csv(path)
    require_columns(frame, path, REQUIRED)
    names = frame["function"].astype(str).str.strip()
    if "qualifier" in frame.columns:
        qualifier = frame["qualifier"].map(lambda v: "" if pd.isna(v) else str(v).strip())
        names = names.where(qualifier == "", names + ":" + qualifier)
    empty = (frame["function"].isna() | (names == "")).to_numpy()
    if empty.any():
        raise TraceFormatError(f"{path}, line {int(np.argmax(empty)) + 2}, column 'function': empty id")
    stamps = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce", format="ISO8601")
    if stamps.isna().any():
        row = int(np.argmax(stamps.isna().to_numpy()))
        raise TraceFormatError(f"{path}, line {row + 2}, column 'timestamp': "
                               f"{str(frame['timestamp'].iat[row])!r} is not an ISO 8601 time")
    epoch_ms = ((stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)).to_numpy(dtype=np.int64)
    minute = epoch_ms // 60_000
    values = {name: _column(frame, path, name) for name in NUMERIC}
    sizes = values["memory_mb"]
    off = ~np.isnan(sizes) & ((sizes < LAMBDA_MIN_MEMORY_MB) | (sizes > LAMBDA_MAX_MEMORY_MB))
    if off.any():
        row = int(np.argmax(off))
        raise TraceFormatError(f"{path}, line {row + 2}, column 'memory_mb': {sizes[row]:g} is not a Lambda "
                               f"memory size ({LAMBDA_MIN_MEMORY_MB}..{LAMBDA_MAX_MEMORY_MB} MB)")
    keys = pd.Series(list(zip(names, minute, strict=True)))
    dupes = keys.duplicated().to_numpy()
    if dupes.any():
        row = int(np.argmax(dupes))
        raise TraceFormatError(f"{path}, line {row + 2}, column 'timestamp': a second row for "
                               f"{names.iat[row]!r} at {frame['timestamp'].iat[row]}")
    first, minutes = int(minute.min()), int(minute.max() - minute.min() + 1)
    ids = sorted(set(names))
    position = {name: i for i, name in enumerate(ids)}
    row_fn = np.array([position[n] for n in names])
    col = (minute - first).astype(np.int64)
    inv, pings, real = values["invocations"], values["warm_pings"], values["real_invocations"]
    requests = np.where(~np.isnan(real), real, np.maximum(np.nan_to_num(inv) - np.nan_to_num(pings), 0.0))
    counts = np.zeros((len(ids), minutes), dtype=np.int64)
    counts[row_fn, col] = np.rint(requests).astype(np.int64)
    durations = np.full((len(ids), len(DURATION_PERCENTILES)), DEFAULT_DURATION_MS)
    memory = np.full(len(ids), DEFAULT_MEMORY_MB, dtype=np.int64)
    avg, mem = values["duration_avg_ms"], values["memory_mb"]
    for index, name in enumerate(ids):
        rows = np.flatnonzero(row_fn == index)
        sizes = np.unique(mem[rows][~np.isnan(mem[rows])])
        if sizes.size > 1:
            raise TraceFormatError(f"{path}, column 'memory_mb': mismatched values for {name!r}: "
                                   f"{', '.join(str(int(s)) for s in sizes)}")
        if sizes.size:
            memory[index] = int(sizes[0])
        clean = rows[~np.isnan(avg[rows]) & (requests[rows] > 0) & ~(np.nan_to_num(pings[rows]) > 0)]
        if clean.size == 0:
            clean = rows[~np.isnan(avg[rows]) & (requests[rows] > 0)]
        if clean.size:
            durations[index] = _weighted_table(avg[clean], requests[clean])
    return Trace(
        source=str(path), kind="cloudwatch", start_ms=first * 60_000, first_minute=0, ids=tuple(ids),
        apps=tuple(ids), triggers=tuple([None] * len(ids)), counts=counts, durations=monotone_table(durations),
        memory_mb=memory, memory_source="export",
    )
