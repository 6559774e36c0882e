"""A target's metric history as numpy arrays (decoded from the state document), and window peaks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from thermostat import models, series
from thermostat.exceptions import InvalidInputError

SERIES_NAMES = ("concurrency", "invocations", "duration_ms", "throttles", "warm_pings", "real_invocations")


@dataclass(frozen=True, eq=False)
class TargetHistory:
    """numpy view of :class:`thermostat.models.History`: float arrays, NaN = no datapoint that period."""

    start_ms: int
    period_s: int
    concurrency: np.ndarray  # ConcurrentExecutions Maximum per period: INCLUDES our own pings
    invocations: np.ndarray  # Invocations Sum: includes our pings
    duration_ms: np.ndarray  # Duration Average (pings included)
    throttles: np.ndarray
    warm_pings: np.ndarray  # WarmPing Sum (target library EMF): how many invocations were our pings
    real_invocations: np.ndarray  # RealInvocation Sum (target library EMF)

    def __post_init__(self) -> None:
        if self.period_s <= 0:
            raise InvalidInputError("history.period_s", f"must be a positive number of seconds, got {self.period_s}")
        size = len(self.concurrency)
        if not (
            len(self.invocations) == len(self.duration_ms) == len(self.throttles) == size
            and len(self.warm_pings) == len(self.real_invocations) == size
        ):
            for name in SERIES_NAMES[1:]:
                if len(getattr(self, name)) != size:
                    raise InvalidInputError(f"history.{name}", f"has {len(getattr(self, name))} points, not {size}")

    @property
    def points(self) -> int:
        return len(self.concurrency)

    @property
    def end_ms(self) -> int:
        """End of the last period (exclusive): where the next forecast window starts."""
        return self.start_ms + self.points * self.period_s * 1000

    @classmethod
    def from_arrays(
        cls,
        start_ms: int,
        period_s: int,
        concurrency: Sequence[float] | np.ndarray,
        **others: Sequence[float] | np.ndarray | None,
    ) -> TargetHistory:
        """Build from arrays; a series left out (or None) is all NaN (no datapoints)."""
        conc = np.asarray(concurrency, dtype=float)
        unknown = set(others) - set(SERIES_NAMES)
        if unknown:
            raise TypeError(f"unknown series: {sorted(unknown)}")
        arrays = {
            name: np.full(len(conc), np.nan) if others.get(name) is None else np.asarray(others[name], dtype=float)
            for name in SERIES_NAMES[1:]
        }
        return cls(start_ms=int(start_ms), period_s=int(period_s), concurrency=conc, **arrays)

    @classmethod
    def from_wire(cls, history: models.History, *, path: str = "history") -> TargetHistory:
        """Decode the compact run-length series of a state document; errors name the field."""
        try:
            start_ms = int(history["start_ms"])
            period_s = int(history["period_s"])
            points = int(history["points"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(path, f"start_ms/period_s/points missing or not integers ({exc})") from None
        if points < 0:
            raise InvalidInputError(f"{path}.points", f"must be >= 0, got {points}")
        arrays: dict[str, np.ndarray] = {}
        for name in SERIES_NAMES:
            pairs = history.get(name)  # a missing series (older collector) = no datapoints
            arrays[name] = _decode(pairs, points, f"{path}.{name}")
        return cls(start_ms=start_ms, period_s=period_s, **arrays)

    def to_wire(self) -> models.History:
        """Inverse of :meth:`from_wire` (used by tests, the bench and the simulator's exports)."""
        return models.History(
            start_ms=self.start_ms,
            period_s=self.period_s,
            points=self.points,
            concurrency=series.encode(self.concurrency.tolist()),
            invocations=series.encode(self.invocations.tolist()),
            duration_ms=series.encode(self.duration_ms.tolist()),
            throttles=series.encode(self.throttles.tolist()),
            warm_pings=series.encode(self.warm_pings.tolist()),
            real_invocations=series.encode(self.real_invocations.tolist()),
        )

    def tail(self, points: int) -> TargetHistory:
        """The last ``points`` periods (array views, no copy)."""
        drop = max(0, self.points - max(0, points))
        if drop == 0:
            return self
        return TargetHistory(
            start_ms=self.start_ms + drop * self.period_s * 1000,
            period_s=self.period_s,
            **{name: getattr(self, name)[drop:] for name in SERIES_NAMES},
        )

    def before(self, now_ms: int) -> TargetHistory:
        """Only the periods that started before ``now_ms`` (a forecast never looks at the future)."""
        keep = math.ceil((now_ms - self.start_ms) / (self.period_s * 1000))
        if keep >= self.points:
            return self
        keep = max(0, keep)
        return TargetHistory(
            start_ms=self.start_ms,
            period_s=self.period_s,
            **{name: getattr(self, name)[:keep] for name in SERIES_NAMES},
        )


def _decode(pairs: object, points: int, path: str) -> np.ndarray:
    if pairs is None:
        return np.full(points, np.nan)
    if not isinstance(pairs, list):
        raise InvalidInputError(path, f"must be a list of [value, count] pairs, got {type(pairs).__name__}")
    try:
        values = np.array(series.decode(pairs), dtype=float)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(path, str(exc)) from None
    if len(values) == 0:
        return np.full(points, np.nan)
    if len(values) != points:
        raise InvalidInputError(path, f"holds {len(values)} points, history.points says {points}")
    if np.any(values < 0) or np.any(np.isinf(values)):
        raise InvalidInputError(path, "has negative or infinite values")
    return values


def points_per_window(period_s: int, horizon_minutes: int) -> int:
    """History periods per forecast window (at least 1: a coarse history gives coarse windows)."""
    return max(1, round(horizon_minutes * 60 / period_s))


def window_peaks(values: np.ndarray, per_window: int) -> np.ndarray:
    """Peak of each window, windows aligned to the END of the series (a leading partial one is dropped)."""
    count = len(values) // per_window
    if count == 0:
        return np.zeros(0)
    if per_window == 1:
        return values[len(values) - count :]
    return values[len(values) - count * per_window :].reshape(count, per_window).max(axis=1)
