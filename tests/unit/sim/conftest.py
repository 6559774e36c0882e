"""Small synthetic traces for the simulator's unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from thermostat.sim.trace import AZURE_EPOCH_MS, DURATION_PERCENTILES, Trace

REAL_TRACE = Path(__file__).resolve().parents[3] / "traces" / "azure2019-250fn-24h"  # the in-repo sample


def make_trace(counts: Sequence[Sequence[int]], *, duration_ms: float = 100.0, memory_mb: int = 128,
               ids: Sequence[str] | None = None, triggers: Sequence[str | None] | None = None) -> Trace:
    matrix = np.asarray(counts, dtype=np.int64)
    n = matrix.shape[0]
    names = tuple(ids) if ids is not None else tuple(f"fn{i}" for i in range(n))
    return Trace(
        source="synthetic", kind="azure2019", start_ms=AZURE_EPOCH_MS, first_minute=1, ids=names, apps=names,
        triggers=tuple(triggers) if triggers is not None else (None,) * n, counts=matrix,
        durations=np.full((n, len(DURATION_PERCENTILES)), duration_ms),
        memory_mb=np.full(n, memory_mb, dtype=np.int64), memory_source="default",
    )


def write_azure(directory: Path, counts: Sequence[Sequence[int]], *, minute_names: Sequence[str] | None = None,
                trigger: bool = False, memory: str = "app", durations_ms: float = 100.0) -> Path:
    """An Azure-2019-style trace directory (vHive column layout unless told otherwise)."""
    directory.mkdir(parents=True, exist_ok=True)
    minutes = len(counts[0])
    names = list(minute_names) if minute_names is not None else [f"minute_{m + 1}" for m in range(minutes)]
    head = ["HashFunction", "HashOwner", "HashApp"] + (["Trigger"] if trigger else []) + names
    lines = [",".join(head)]
    for i, row in enumerate(counts):
        ids = [f"f{i}", f"o{i}", f"a{i}"] + (["http" if i % 2 == 0 else "timer"] if trigger else [])
        lines.append(",".join(ids + [str(c) for c in row]))
    (directory / "invocations.csv").write_text("\n".join(lines) + "\n")
    pct = ",".join(f"percentile_Average_{int(p)}" for p in DURATION_PERCENTILES)
    dur = [f"HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,{pct}"]
    for i in range(len(counts)):
        values = ",".join(str(durations_ms) for _ in DURATION_PERCENTILES)
        dur.append(f"o{i},a{i},f{i},{durations_ms},10,{durations_ms},{durations_ms},{values}")
    (directory / "durations.csv").write_text("\n".join(dur) + "\n")
    if memory == "app":
        mem = ["HashOwner,HashApp,SampleCount,AverageAllocatedMb"]
        mem += [f"o{i},a{i},10,{100 + 100 * i}" for i in range(len(counts))]
        (directory / "memory.csv").write_text("\n".join(mem) + "\n")
    elif memory == "function":
        mem = ["HashFunction,HashOwner,HashApp,SampleCount,AverageAllocatedMb"]
        mem += [f"f{i},o{i},a{i},10,{300 + i}" for i in range(len(counts))]
        (directory / "memory.csv").write_text("\n".join(mem) + "\n")
    return directory


@pytest.fixture
def azure_dir(tmp_path: Path) -> Path:
    return write_azure(tmp_path / "trace", [[1, 0, 2, 0, 0, 3], [0, 0, 0, 1, 0, 0]])
