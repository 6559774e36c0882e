"""The in-memory trace every reader produces: per-function per-minute invocation counts, a duration
percentile table and a memory size per function. Readers live in ``azure`` and ``cloudwatch``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from thermostat.exceptions import TraceFormatError

# Percentiles of the duration table (Azure 2019 `percentile_Average_{0,1,25,50,75,99,100}`).
DURATION_PERCENTILES: tuple[float, ...] = (0.0, 1.0, 25.0, 50.0, 75.0, 99.0, 100.0)
DEFAULT_MEMORY_MB = 128
LAMBDA_MIN_MEMORY_MB = 128
LAMBDA_MAX_MEMORY_MB = 10240
MEMORY_STEP_MB = 128  # "a Lambda size": the next multiple of 128 MB at or above the observed average
# A fixed, documented epoch for traces without timestamps (Azure 2019 has only minute numbers).
AZURE_EPOCH_MS = 1_563_148_800_000  # 2019-07-15T00:00:00Z (a Monday)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def lambda_memory_size(average_mb: float) -> int:
    """Observed average allocated memory -> the Lambda size that would hold it (documented rule)."""
    if not np.isfinite(average_mb) or average_mb <= 0:
        return DEFAULT_MEMORY_MB
    size = int(np.ceil(average_mb / MEMORY_STEP_MB)) * MEMORY_STEP_MB
    return min(max(size, LAMBDA_MIN_MEMORY_MB), LAMBDA_MAX_MEMORY_MB)


@dataclass(frozen=True)
class Trace:
    """``counts[f, m]`` = requests of function ``f`` started in minute ``m`` (from ``start_ms``)."""

    source: str
    kind: str  # "azure2019" | "cloudwatch"
    start_ms: int
    first_minute: int  # the trace's own number of column 0 (1 for minute_1.., 480 for a 480..959 window)
    ids: tuple[str, ...]
    apps: tuple[str, ...]
    triggers: tuple[str | None, ...]
    counts: IntArray  # (functions, minutes)
    durations: FloatArray  # (functions, len(DURATION_PERCENTILES)), milliseconds, non-decreasing
    memory_mb: IntArray  # (functions,)
    memory_source: str  # "per-app" | "per-function" | "default" | "export" | "override"

    @property
    def functions(self) -> int:
        return len(self.ids)

    @property
    def minutes(self) -> int:
        return int(self.counts.shape[1])

    @property
    def invocations(self) -> int:
        return int(self.counts.sum())

    def subset(self, keep: npt.NDArray[np.bool_] | Sequence[int]) -> Trace:
        index = np.flatnonzero(np.asarray(keep)) if np.asarray(keep).dtype == bool else np.asarray(keep)
        return replace(
            self, ids=tuple(self.ids[i] for i in index), apps=tuple(self.apps[i] for i in index),
            triggers=tuple(self.triggers[i] for i in index), counts=self.counts[index],
            durations=self.durations[index], memory_mb=self.memory_mb[index],
        )

    def with_memory(self, memory_mb: int) -> Trace:
        return replace(self, memory_mb=np.full(self.functions, memory_mb, dtype=np.int64),
                       memory_source="override")


def filter_trigger(trace: Trace, trigger: str) -> Trace:
    if all(t is None for t in trace.triggers):
        raise TraceFormatError(f"{trace.source}: --trigger {trigger}: this trace has no Trigger column")
    return trace.subset(np.array([(t or "").lower() == trigger.lower() for t in trace.triggers], dtype=bool))


def filter_min_rate(trace: Trace, per_minute: float) -> Trace:
    """Keep functions averaging at least ``per_minute`` requests per minute over the trace."""
    return trace.subset(trace.counts.mean(axis=1) >= per_minute)


def filter_ids(trace: Trace, wanted: Sequence[str]) -> Trace:
    """Keep the functions named by id (an unambiguous prefix of at least 6 characters also works)."""
    index: list[int] = []
    for name in wanted:
        exact = [i for i, fid in enumerate(trace.ids) if fid == name]
        matches = exact or ([i for i, fid in enumerate(trace.ids) if fid.startswith(name)] if len(name) >= 6 else [])
        if len(matches) != 1:
            problem = "matches no function" if not matches else f"matches {len(matches)} functions"
            raise TraceFormatError(f"{trace.source}: --functions: {name!r} {problem}")
        if matches[0] not in index:
            index.append(matches[0])
    return trace.subset(index)


def read_id_file(path: Path) -> list[str]:
    """``--functions @file``: one id per line; blank lines and ``#`` comments ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TraceFormatError(f"{path}: cannot read the --functions file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise TraceFormatError(f"{path}: the --functions file is not UTF-8 text (byte {exc.start})") from None
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def monotone_table(values: FloatArray) -> FloatArray:
    """Percentile tables must not decrease; rounding in the trace sometimes makes them do so."""
    return np.maximum.accumulate(np.maximum(values, 0.0), axis=-1)


def replicate(trace: Trace, times: int) -> Trace:
    """Every function ``times`` times, copies under new ids (``<id>#2`` ...): each copy gets its own seeded
    arrivals (seeds derive from the id), so a fleet of 5,000 can be replayed from a 1,000-function trace."""
    if times <= 1:
        return trace
    ids = tuple(trace.ids) + tuple(f"{fid}#{k}" for k in range(2, times + 1) for fid in trace.ids)
    return replace(trace, ids=ids, apps=tuple(trace.apps) * times, triggers=tuple(trace.triggers) * times,
                   counts=np.tile(trace.counts, (times, 1)), durations=np.tile(trace.durations, (times, 1)),
                   memory_mb=np.tile(trace.memory_mb, times))


def tile_days(trace: Trace, days: int) -> Trace:
    """The trace's minutes repeated ``days`` times back to back: "if every day looked like this one" (the
    seasonal model needs 2 days of history; a one-day trace tiled gives it a perfect daily pattern)."""
    if days <= 1:
        return trace
    return replace(trace, counts=np.tile(trace.counts, (1, days)))
