"""Clocks the embedded AWS is driven by: real, real-plus-offset (the demo's "1 minute later"), manual."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


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
    and "1 minute later" is one call instead of a minute of sleeping.

    With :meth:`shift_process_time` the whole process's wall clock follows it (``time.time``,
    ``datetime.now`` … in every thread, through ``time-machine``): handlers, Step Functions' timestamps
    and CloudWatch queries then see the same "now" as the runtime's metrics and idle reclaim.
    ``time.monotonic``/``perf_counter``/``sleep`` stay real."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()
        self._traveller: Any = None  # time_machine Coordinates while the process time is shifted

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        with self._lock:
            self._offset += seconds
            if self._traveller is not None:
                self._traveller.shift(seconds)

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def time(self) -> float:
        return time.time() if self._traveller is not None else time.time() + self._offset

    def shift_process_time(self) -> Callable[[], None]:
        """Make the process's wall clock read this clock from now on; returns undo (real time again)."""
        import time_machine

        with self._lock:
            if self._traveller is not None:
                return lambda: None
            travel = time_machine.travel(time.time() + self._offset, tick=True)
            self._traveller = travel.start()

        def undo() -> None:
            with self._lock:
                if self._traveller is not None:
                    self._traveller = None
                    travel.stop()

        return undo


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
