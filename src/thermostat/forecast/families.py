"""What every forecasting model family provides, and the robust numpy baselines.

A *family* is stateless; its parameters (window sizes, smoothing weights, residual quantiles, recursive
state) live in a :class:`Fitted`, which is what the :class:`~thermostat.forecast.ModelMemo` keeps
between ticks. ``y`` is always the per-window PEAK series of real concurrency, oldest first; an
*origin* ``t`` forecasts ``y[t]`` from ``y[:t]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

MIN_RESIDUALS = 12  # a residual quantile from fewer one-step errors than this is not trusted
RESIDUAL_WINDOW = 288  # residual quantiles use at most this many recent one-step errors


@dataclass(frozen=True)
class Fitted:
    family: str  # ForecastInfo.model
    params: tuple[float, ...] = ()  # the family's own parameters (window sizes, smoothing weights...)
    resid_q: float = 0.0  # upper quantile of one-step residuals: upper = point + resid_q
    state: tuple[float, ...] = ()  # recursive families: state after the last window consumed
    label: str = ""  # short human name for reasons, e.g. "recent-max(1h)"


@dataclass(frozen=True)
class Backtest:
    upper: np.ndarray  # upper-quantile forecasts for origins t0 .. n-1
    fitted: Fitted  # ready to forecast the window after y[-1]


class Family(Protocol):
    name: str
    recursive: bool  # True: forecasts come from Fitted.state, advanced window by window

    def backtest(self, y: np.ndarray, t0: int, q: float, params: tuple[float, ...]) -> Backtest | None: ...

    def predict(self, fitted: Fitted, y: np.ndarray, q: float, h: int) -> tuple[float, float]:
        """(upper quantile, point forecast) of the peak ``h`` windows after ``y[-1]``."""
        ...

    def need(self, fitted: Fitted) -> int:
        """Trailing windows of ``y`` that :meth:`predict` reads (the memo path slices to this)."""
        ...

    def advance(self, fitted: Fitted, new: np.ndarray) -> Fitted: ...


def residual_quantile(errors: np.ndarray, q: float) -> float | None:
    errors = errors[-RESIDUAL_WINDOW:]
    if len(errors) < MIN_RESIDUALS:
        return None
    return float(np.quantile(errors, q))


def upper_quantile(values: np.ndarray, q: float, axis: int = -1) -> np.ndarray:
    """Empirical q-quantile (numpy's "inverted_cdf"), by sort and index: much cheaper than np.quantile."""
    size = values.shape[axis]
    index = max(0, math.ceil(size * q - 1e-9) - 1)
    return np.take(np.sort(values, axis=axis), index, axis=axis)


def span(windows: int, window_minutes: int) -> str:
    minutes = windows * window_minutes
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}min"


class _Stateless:
    recursive = False

    def advance(self, fitted: Fitted, new: np.ndarray) -> Fitted:
        return fitted


class RecentMax(_Stateless):
    """Max of the last k windows' peaks (k = 1 is the 'reactive' policy)."""

    name = "recent_max"

    def backtest(self, y: np.ndarray, t0: int, q: float, params: tuple[float, ...]) -> Backtest | None:
        k = min(int(params[0]), t0)
        upper = sliding_window_view(y[: len(y) - 1], k)[t0 - k :].max(axis=1)
        return Backtest(upper, Fitted(self.name, (float(k),)))

    def predict(self, fitted: Fitted, y: np.ndarray, q: float, h: int) -> tuple[float, float]:
        peak = float(y[-int(fitted.params[0]) :].max()) if len(y) else 0.0
        return peak, peak

    def need(self, fitted: Fitted) -> int:
        return int(fitted.params[0])


class RecentQuantile(_Stateless):
    """Empirical q-quantile of the last K windows' peaks."""

    name = "recent_quantile"

    def backtest(self, y: np.ndarray, t0: int, q: float, params: tuple[float, ...]) -> Backtest | None:
        k = min(int(params[0]), t0)
        view = sliding_window_view(y[: len(y) - 1], k)[t0 - k :]
        upper = upper_quantile(view, q, axis=1)
        return Backtest(upper, Fitted(self.name, (float(k),)))

    def predict(self, fitted: Fitted, y: np.ndarray, q: float, h: int) -> tuple[float, float]:
        recent = y[-int(fitted.params[0]) :]
        if not len(recent):
            return 0.0, 0.0
        return float(upper_quantile(recent, q)), float(recent.mean())

    def need(self, fitted: Fitted) -> int:
        return int(fitted.params[0])


class SeasonalNaive(_Stateless):
    """Peak of the same window one season ago (a day, else an hour) + the q-quantile of seasonal errors."""

    name = "seasonal_naive"

    def backtest(self, y: np.ndarray, t0: int, q: float, params: tuple[float, ...]) -> Backtest | None:
        season = int(params[0])
        if t0 - season < MIN_RESIDUALS:
            return None
        train = residual_quantile(y[season:t0] - y[: t0 - season], q)
        full = residual_quantile(y[season:] - y[: len(y) - season], q)
        if train is None or full is None:
            return None
        upper = np.maximum(y[t0 - season : len(y) - season] + train, 0.0)
        return Backtest(upper, Fitted(self.name, (float(season),), resid_q=full))

    def predict(self, fitted: Fitted, y: np.ndarray, q: float, h: int) -> tuple[float, float]:
        season = int(fitted.params[0])
        if len(y) < season:
            return float(y.max()) if len(y) else 0.0, 0.0
        point = float(y[len(y) - season + (h - 1) % season])
        return max(point + fitted.resid_q, 0.0), point

    def need(self, fitted: Fitted) -> int:
        return int(fitted.params[0])


class Intermittent(_Stateless):
    """Sparse series: P(next window has traffic) x the distribution of non-zero peaks (a mixture).

    The q-quantile of the mixture is 0 while P(traffic) <= 1 - q (under the pinball loss at q, a
    cold start costs q/(1-q) wasted warm-window pings: at q = 0.95 one warm environment pays off once
    traffic is more likely than 5 %), else the quantile of the non-zero peaks at (q - (1 - p)) / p.
    P(traffic) is exponentially weighted (params: window count K, half-life in windows).
    """

    name = "intermittent"

    @staticmethod
    def _weights(k: int, half_life: float) -> np.ndarray:
        return 0.5 ** (np.arange(k) / half_life)

    @staticmethod
    def _mixture_quantile(p: np.ndarray, nonzero_sorted: np.ndarray, q: float) -> np.ndarray:
        level = (q - (1.0 - p)) / np.maximum(p, 1e-12)
        if len(nonzero_sorted) == 0:
            return np.where(level > 0, 1.0, 0.0)
        rank = np.clip(np.ceil(level * len(nonzero_sorted)).astype(int) - 1, 0, len(nonzero_sorted) - 1)
        return np.where(level > 0, nonzero_sorted[rank], 0.0)

    def backtest(self, y: np.ndarray, t0: int, q: float, params: tuple[float, ...]) -> Backtest | None:
        k, half_life = int(params[0]), params[1]
        weights = self._weights(k, half_life)
        active = (y > 0).astype(float)
        weighted = np.convolve(active, weights)[t0 - 1 : len(y) - 1]
        origins = np.arange(t0, len(y))
        p = weighted / np.cumsum(weights)[np.minimum(k, origins) - 1]
        train = y[max(0, t0 - k) : t0]
        upper = self._mixture_quantile(p, np.sort(train[train > 0]), q)
        return Backtest(upper, Fitted(self.name, (float(k), half_life)))

    def probability(self, fitted: Fitted, y: np.ndarray) -> float:
        recent = y[-int(fitted.params[0]) :][::-1]
        if not len(recent):
            return 0.0
        weights = self._weights(len(recent), fitted.params[1])
        return float(weights @ (recent > 0) / weights.sum())

    def mixture(self, p: float, recent: np.ndarray, q: float) -> tuple[float, float]:
        """(upper, point) of the mixture at P(traffic) = p over the non-zero peaks of ``recent``."""
        nonzero = np.sort(recent[recent > 0])
        upper = float(self._mixture_quantile(np.array([p]), nonzero, q)[0])
        return upper, p * (float(nonzero.mean()) if len(nonzero) else 1.0)

    def predict(self, fitted: Fitted, y: np.ndarray, q: float, h: int) -> tuple[float, float]:
        return self.mixture(self.probability(fitted, y), y[-int(fitted.params[0]) :], q)

    def need(self, fitted: Fitted) -> int:
        return int(fitted.params[0])


class Renewal(_Stateless):
    """Sparse, timer-driven or bursty series: P(traffic next window | windows since the last traffic).

    Each window is binned by its *age* (windows since the last one with traffic: 1, 2, ... params[1],
    then one bin for anything older or never); P(traffic | age bin) is the share of the history's
    windows of that age that had traffic, shrunk towards the overall share with the weight of
    ``params[2]`` windows. A 15-minute timer gives P = 1 at age 3 and ~0 elsewhere; a burst gives a
    high P right after traffic. The upper quantile is :class:`Intermittent`'s mixture at that P, over
    the non-zero peaks of the whole history (``params[0]`` windows).
    """

    name = "renewal"

    @staticmethod
    def _ages(active: np.ndarray, cap: int) -> np.ndarray:
        """Age bin of each window i from active[:i]; one more entry: the window after the last.

        Ages 1..cap have a bin each; older ones share bins that double in length (cap+1 .. 2 cap,
        .. 4 cap, .. 8 cap), then one bin for anything older or no traffic yet."""
        n = len(active)
        index = np.arange(n + 1)
        last = np.where(np.concatenate(([False], active)), index, -1)
        last = np.maximum.accumulate(last)  # 1 + index of the last active window before i, or -1
        age = np.where(last < 0, 16 * cap, index - last + 1)
        edges = np.array([cap, 2 * cap, 4 * cap, 8 * cap])
        return np.where(age <= cap, age, cap + 1 + np.searchsorted(edges, age, side="left") - 1)

    def _probabilities(self, y: np.ndarray, params: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(P(traffic) at every origin 0..n from the windows before it, age bins of 0..n)."""
        cap, prior = int(params[1]), params[2]
        active = y > 0
        ages = self._ages(active, cap)
        origins = np.arange(len(y) + 1)
        # windows of each age bin, and those with traffic, strictly before each origin (row 0: none)
        onehot = np.zeros((len(y) + 1, cap + 5))
        onehot[origins[1:], ages[:-1]] = 1.0
        seen = np.cumsum(onehot, axis=0)
        hits = np.cumsum(onehot * np.concatenate(([False], active))[:, None], axis=0)
        overall = np.concatenate(([0.0], np.cumsum(active))) / np.maximum(origins, 1)
        p = (hits[origins, ages] + prior * overall) / (seen[origins, ages] + prior)
        return p, ages

    def backtest(self, y: np.ndarray, t0: int, q: float, params: tuple[float, ...]) -> Backtest | None:
        k = int(params[0])
        p, _ = self._probabilities(y[max(0, t0 - k) :], params)
        p = p[len(p) - 1 - (len(y) - t0) : len(p) - 1]
        train = y[max(0, t0 - k) : t0]
        upper = INTERMITTENT._mixture_quantile(p, np.sort(train[train > 0]), q)
        return Backtest(upper, Fitted(self.name, params))

    def probability(self, fitted: Fitted, y: np.ndarray) -> float:
        recent = y[-int(fitted.params[0]) :]
        return float(self._probabilities(recent, fitted.params)[0][-1]) if len(recent) else 0.0

    def predict(self, fitted: Fitted, y: np.ndarray, q: float, h: int) -> tuple[float, float]:
        return INTERMITTENT.mixture(self.probability(fitted, y), y[-int(fitted.params[0]) :], q)

    def need(self, fitted: Fitted) -> int:
        return int(fitted.params[0])


def ceil_desired(upper: float) -> int:
    """Integer environments to keep warm: ceil(upper quantile), >= 0 (tolerant of float noise)."""
    if not math.isfinite(upper):
        return 0
    return max(0, math.ceil(upper - 1e-9))


RECENT_MAX = RecentMax()
RECENT_QUANTILE = RecentQuantile()
SEASONAL_NAIVE = SeasonalNaive()
INTERMITTENT = Intermittent()
RENEWAL = Renewal()
