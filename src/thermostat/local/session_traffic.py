"""Real traffic and counters of :class:`~thermostat.local.session.LocalAws` (mixed into it).

``drive_traffic`` sends the seeded targets' trace (or any :data:`~thermostat.local.traffic.Pattern`) minute
by minute on the fake clock; ``background_traffic`` keeps sending while an execution runs; ``hold`` keeps
some environments of a function busy; ``counters`` tells, per function, real and ping invocations, cold
starts and throttles (since a ``runtime.snapshot()``). What the generator models is in
:mod:`thermostat.local.traffic`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from thermostat.local import traffic
from thermostat.local.clock import OffsetClock
from thermostat.local.runtime import FunctionStats, LocalLambdaRuntime
from thermostat.local.seed import SeededTarget
from thermostat.local.traffic import Held, Pattern, TrafficFigures, TrafficGenerator


class RealTraffic:
    runtime: LocalLambdaRuntime
    seeded: list[SeededTarget]
    clock: OffsetClock

    def advance(self, seconds: float) -> None:  # LocalAws's
        raise NotImplementedError

    def _say(self, line: str) -> None:  # LocalAws's
        raise NotImplementedError

    def trace_pattern(self, function: str) -> Pattern:
        """The traffic of ``function``'s seeded history (minute by minute, the day repeating)."""
        seeded = next((s for s in self.seeded if s.function == function), None)
        if seeded is None or seeded.history is None:
            raise KeyError(f"{function}: no seeded history (seeded: the targets and config.seed_functions)")
        return traffic.trace_pattern(seeded.history, seeded.start_epoch)

    def _patterns(self, functions: Mapping[str, Pattern] | Iterable[str] | None) -> dict[str, Pattern]:
        if functions is None:
            return {s.function: self.trace_pattern(s.function) for s in self.seeded}
        if isinstance(functions, Mapping):
            return dict(functions)
        return {name: self.trace_pattern(name) for name in functions}

    def drive_traffic(self, seconds: float, functions: Mapping[str, Pattern] | Iterable[str] | None = None, *,
                      service_ms: float = traffic.DEFAULT_SERVICE_MS, max_requests: int = traffic.DEFAULT_MAX_REQUESTS,
                      parallel: int = traffic.DEFAULT_PARALLEL) -> dict[str, TrafficFigures]:
        """``seconds`` of real traffic on the fake clock, a minute at a time, then the clock is there.

        ``functions``: name -> :data:`~thermostat.local.traffic.Pattern`, or names of seeded functions (their
        trace), or ``None`` for every seeded target. Returns per-function figures (requests sent, throttles,
        cold starts); see :mod:`thermostat.local.traffic` for what the generator models."""
        patterns = self._patterns(functions)
        generator = TrafficGenerator(self.runtime, service_ms=service_ms, max_requests=max_requests,
                                     parallel=parallel)

        def progress(done: int, total: int, figures: dict[str, TrafficFigures]) -> None:
            sent = sum(f.requests for f in figures.values())
            throttled = sum(f.throttles for f in figures.values())
            self._say(f"Traffic: minute {done}/{total}, {sent:,} requests, {throttled:,} throttled")

        return generator.drive(patterns, seconds, self.clock.time, self.advance, progress)

    @contextmanager
    def background_traffic(self, functions: Mapping[str, Pattern] | Iterable[str] | None = None, *,
                           service_ms: float = traffic.DEFAULT_SERVICE_MS,
                           max_requests: int = traffic.DEFAULT_MAX_REQUESTS,
                           pause_s: float = 0.5) -> Iterator[dict[str, TrafficFigures]]:
        """Real traffic sent over and over (the clock is not moved) while the block runs, e.g. around
        :meth:`run`; the yielded figures are complete once the block is left."""
        generator = TrafficGenerator(self.runtime, service_ms=service_ms, max_requests=max_requests)
        with generator.background(self._patterns(functions), self.clock.time, pause_s) as figures:
            yield figures

    @contextmanager
    def hold(self, function: str, count: int) -> Iterator[Held]:
        """Keep ``count`` environments of ``function`` busy with real requests while the block runs."""
        with traffic.hold(self.runtime, function, count) as held:
            yield held

    def counters(self, since: Mapping[str, FunctionStats] | None = None) -> dict[str, FunctionStats]:
        """Every function's counters (real/ping invocations, cold starts, throttles), or what happened since
        ``since`` (a ``runtime.snapshot()``)."""
        now = self.runtime.snapshot()
        return {name: stats.since((since or {}).get(name)) if since is not None else stats
                for name, stats in now.items()}
