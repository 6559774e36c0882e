"""Shared helpers of the workflow unit tests: sample events and a fake clock (no sockets, no sleeping)."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(__file__).resolve().parents[3] / "events"


def _load_event(name: str) -> Any:
    return copy.deepcopy(json.loads((EVENTS / name).read_text()))


@pytest.fixture
def load_event() -> Any:
    """``load_event("summarize.json")``: a fresh copy of a sample event from ``events/``."""
    return _load_event


class FakeClock:
    """Thread-safe fake time: ``sleep`` advances it and records the delays; ``uniform`` records its bounds."""

    def __init__(self, start_ms: float = 1_763_800_000_000.0, pick: float = 1.0) -> None:
        self.now = start_ms
        self.pick = pick  # uniform(lo, hi) returns lo + pick * (hi - lo)
        self.sleeps: list[float] = []
        self.bounds: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def now_ms(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds * 1000.0

    def uniform(self, lo: float, hi: float) -> float:
        with self._lock:
            self.bounds.append((lo, hi))
        return lo + self.pick * (hi - lo)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_clock() -> type[FakeClock]:
    return FakeClock
