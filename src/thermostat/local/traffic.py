"""Background real traffic for the embedded AWS: the load the warmer must never starve, made of real invokes.

This is the traffic generator's model of a minute, not the thing under test: a minute's traffic is
``requests`` real (non-ping) events sent with the minute's peak ``concurrency``. ``concurrency`` lanes
start together; the first request of every lane keeps its environment busy until all lanes hold one
(a barrier, so exactly ``concurrency`` environments are busy at once — the per-minute peak Lambda's
``ConcurrentExecutions`` reports) and then for ``service_ms`` more; each later request of a lane keeps its
environment ``service_ms`` after the handler returned (a simulated service time: the handler's own work
is whatever the target does). Requests beyond ``max_requests`` per function and minute are not sent.
Arrival times inside the minute, the real durations of the trace and the gaps between requests are
not modelled. Requests go straight to the local runtime (no SDK retry), so a 429 is a real throttle.

Patterns: :func:`trace_pattern` replays a seeded history (the day repeats), :func:`steady` a constant
load, :data:`SILENT` none.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from thermostat.local.exceptions import TooManyRequestsException
from thermostat.local.runtime import LocalLambdaRuntime
from thermostat.local.seed import MinuteHistory

SOURCE = "thermostat.local.traffic"
DEFAULT_SERVICE_MS = 20.0
DEFAULT_MAX_REQUESTS = 60
DEFAULT_PARALLEL = 16
BARRIER_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Minute:
    requests: int
    concurrency: int


Pattern = Callable[[float], Minute]  # epoch seconds in a minute -> that minute's traffic
SILENT: Pattern = lambda _t: Minute(0, 0)  # noqa: E731 - a constant pattern


def steady(requests: int, concurrency: int) -> Pattern:
    """The same load every minute."""
    minute = Minute(requests, concurrency)
    return lambda _t: minute


def trace_pattern(history: MinuteHistory, start_epoch: float) -> Pattern:
    """A seeded history's minutes (slot 0 at ``start_epoch``), repeating every ``len(history)`` minutes."""
    size = int(history.invocations.size)

    def at(t: float) -> Minute:
        slot = int((t - start_epoch) // 60) % size
        return Minute(int(history.invocations[slot]), int(history.concurrency[slot]))

    return at


@dataclass
class TrafficFigures:
    """What one function's traffic did (the generator's own view; the runtime's counters agree)."""

    requests: int = 0  # requests sent
    throttles: int = 0  # answered 429 TooManyRequestsException
    cold_starts: int = 0  # requests that started a new environment
    errors: int = 0  # function errors (the handler raised, timed out or failed to init)
    minutes: int = 0  # minutes in which this function had traffic

    def add(self, other: TrafficFigures) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def merge(into: dict[str, TrafficFigures], more: Mapping[str, TrafficFigures]) -> dict[str, TrafficFigures]:
    for name, figures in more.items():
        into.setdefault(name, TrafficFigures()).add(figures)
    return into


class TrafficGenerator:
    def __init__(self, runtime: LocalLambdaRuntime, *, service_ms: float = DEFAULT_SERVICE_MS,
                 max_requests: int = DEFAULT_MAX_REQUESTS, parallel: int = DEFAULT_PARALLEL) -> None:
        self.runtime = runtime
        self.service_s = service_ms / 1000.0
        self.max_requests = max_requests
        self.parallel = parallel

    def _send(self, function: str, event: dict[str, object], hold: Callable[[], object] | float,
              figures: TrafficFigures, lock: threading.Lock) -> bool:
        """One real request; False when it was throttled."""
        payload = json.dumps(event).encode()
        try:
            result = self.runtime.invoke(function, payload, hold=hold)
        except TooManyRequestsException:
            with lock:
                figures.throttles += 1
            return False
        with lock:
            figures.cold_starts += int(result.cold)
            figures.errors += int(result.function_error is not None)
        return True

    def function_minute(self, function: str, minute: Minute, minute_start: float) -> TrafficFigures:
        """Send one function's traffic of one minute (blocks until every lane is done)."""
        figures = TrafficFigures()
        if minute.requests <= 0:
            return figures
        lanes = max(1, minute.concurrency)
        total = max(lanes, min(minute.requests, self.max_requests))
        figures.requests, figures.minutes = total, 1
        lock = threading.Lock()
        barrier = threading.Barrier(lanes)
        stamp = datetime.fromtimestamp(minute_start, UTC).strftime("%Y-%m-%dT%H:%M")

        def together() -> None:
            with suppress(threading.BrokenBarrierError):
                barrier.wait(BARRIER_TIMEOUT_S)
            time.sleep(self.service_s)

        def lane(index: int) -> None:
            count = total // lanes + int(index < total % lanes)
            for n in range(count):
                event = {"source": SOURCE, "minute": stamp, "lane": index, "n": n}
                sent = self._send(function, event, together if n == 0 else self.service_s, figures, lock)
                if n == 0 and not sent:  # a throttled first request holds nothing: do not keep the others waiting
                    together()

        threads = [threading.Thread(target=lane, args=(i,), name=f"traffic-{function}-{i}", daemon=True)
                   for i in range(lanes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return figures

    def minute(self, patterns: Mapping[str, Pattern], minute_start: float) -> dict[str, TrafficFigures]:
        """Every function's traffic of the minute starting at ``minute_start`` (functions run in parallel)."""
        work = {name: pattern(minute_start) for name, pattern in patterns.items()}
        work = {name: m for name, m in work.items() if m.requests > 0}
        if not work:
            return {}
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(work)), thread_name_prefix="traffic") as pool:
            futures = {name: pool.submit(self.function_minute, name, m, minute_start) for name, m in work.items()}
            return {name: future.result() for name, future in futures.items()}

    def drive(self, patterns: Mapping[str, Pattern], seconds: float, now: Callable[[], float],
              advance: Callable[[float], None],
              progress: Callable[[int, int, dict[str, TrafficFigures]], None] | None = None,
              ) -> dict[str, TrafficFigures]:
        """``seconds`` of traffic, one minute at a time, moving the fake clock to each next minute."""
        figures: dict[str, TrafficFigures] = {name: TrafficFigures() for name in patterns}
        end = now() + seconds
        minutes = max(1, -(-int(seconds) // 60)) if seconds > 0 else 0
        for index in range(minutes):
            start = now()
            if start >= end:
                break
            merge(figures, self.minute(patterns, start))
            left = min(start + 60.0, end) - now()
            if left > 0:
                advance(left)
            if progress is not None:
                progress(index + 1, minutes, figures)
        return figures


    @contextmanager
    def background(self, patterns: Mapping[str, Pattern], now: Callable[[], float],
                   pause_s: float = 0.5) -> Iterator[dict[str, TrafficFigures]]:
        """Send the current minute's traffic again and again (``pause_s`` apart, real time, the clock is not
        moved) while the block runs, e.g. during an execution; yields the figures, complete after the block."""
        figures: dict[str, TrafficFigures] = {name: TrafficFigures() for name in patterns}
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                merge(figures, self.minute(patterns, now()))
                stop.wait(pause_s)

        thread = threading.Thread(target=loop, name="traffic-background", daemon=True)
        thread.start()
        try:
            yield figures
        finally:
            stop.set()
            thread.join()


@dataclass
class Held:
    """Environments kept busy by :func:`hold` (``held`` of them; ``throttled`` requests got 429)."""

    function: str
    held: int = 0
    throttled: int = 0


@contextmanager
def hold(runtime: LocalLambdaRuntime, function: str, count: int, timeout_s: float = 30.0) -> Iterator[Held]:
    """Keep ``count`` environments of ``function`` busy with real requests until the block ends (e.g. another
    function of the account holding most of the unreserved concurrency while a run warms its targets)."""
    release = threading.Event()
    acquired = threading.Semaphore(0)
    held = Held(function)
    lock = threading.Lock()

    def one(index: int) -> None:
        def wait() -> None:
            with lock:
                held.held += 1
            acquired.release()
            release.wait(timeout_s)

        payload = json.dumps({"source": SOURCE, "hold": index}).encode()
        try:
            runtime.invoke(function, payload, hold=wait)
        except TooManyRequestsException:
            with lock:
                held.throttled += 1
            acquired.release()

    threads = [threading.Thread(target=one, args=(i,), name=f"hold-{function}-{i}", daemon=True)
               for i in range(count)]
    for thread in threads:
        thread.start()
    for _ in threads:
        acquired.acquire(timeout=timeout_s)
    try:
        yield held
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout_s)
