"""Builders for the forecast unit tests: per-minute histories from plain arrays (no sockets, no clocks)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from thermostat.config import ForecastSettings
from thermostat.forecast import TargetHistory

EVENTS = Path(__file__).resolve().parents[3] / "events"
START_MS = 1_763_769_600_000  # a midnight (UTC), minute-aligned
MINUTE_MS = 60_000


def history(
    concurrency: Sequence[float] | np.ndarray,
    *,
    period_s: int = 60,
    start_ms: int = START_MS,
    duration_ms: float = 200.0,
    warm_pings: Sequence[float] | np.ndarray | None = None,
    real_invocations: Sequence[float] | np.ndarray | None = None,
    invocations: Sequence[float] | np.ndarray | None = None,
) -> TargetHistory:
    """A CloudWatch-like history: no datapoint (NaN) where nothing ran; invocations = concurrency x 10."""
    conc = np.asarray(concurrency, dtype=float)
    calls = np.where(conc > 0, conc * 10, np.nan) if invocations is None else np.asarray(invocations, float)
    return TargetHistory.from_arrays(
        start_ms,
        period_s,
        np.where(conc > 0, conc, np.nan),
        invocations=calls,
        duration_ms=np.where(calls > 0, duration_ms, np.nan),
        warm_pings=warm_pings,
        real_invocations=real_invocations,
    )


@pytest.fixture
def make_history() -> Callable[..., TargetHistory]:
    return history


@pytest.fixture
def settings() -> ForecastSettings:
    return ForecastSettings()


@pytest.fixture
def load_event() -> Callable[[str], Any]:
    """``load_event("forecast.json")``: a fresh copy of a sample event from ``events/``."""
    return lambda name: copy.deepcopy(json.loads((EVENTS / name).read_text()))
