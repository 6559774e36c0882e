"""Clocks the embedded AWS is driven by: real, real-plus-offset (the demo's "1 minute later"), manual."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (idle-reclaim TTLs are measured on it)."""
        ...

    def time(self) -> float:
        """Epoch seconds ("now" for history seeding)."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()


class OffsetClock:
    """Real time plus an offset that :meth:`advance` moves forward: handlers' real durations still count,
    and "1 minute later" is one call instead of a minute of sleeping."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        with self._lock:
            self._offset += seconds

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def time(self) -> float:
        return time.time() + self._offset


class ManualClock:
    """Moves only when told to (unit tests)."""

    def __init__(self, start: float = 1_763_800_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        with self._lock:
            self._now += seconds

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._now
