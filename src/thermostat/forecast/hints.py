"""What statsmodels adds that history maxima cannot: warming AHEAD of a predictable ramp.

- **Seasonal** (:func:`seasonal_hint`): once a target has at least 2 days of history, Holt-Winters
  (``statsmodels.tsa.holtwinters.ExponentialSmoothing``, damped additive trend and an additive daily
  season of 24 hourly peaks) is fitted
  on its hourly peaks and forecasts the next 24 hours. The hint for a decision at ``now`` is the forecast of
  the hours the next window and the run after it touch (a ramp at 09:00 raises the 08:55 plan).
- **Periodic bursts** (:func:`periodic_hint`): ``statsmodels.tsa.stattools.acf`` on the 5-minute peaks
  finds a period (15 min .. 1 day) at which bursts repeat; when bursts sit on that grid, the next one is
  expected at last burst + a whole number of periods, and the hint asks for the burst's size then.

Both are refitted every :data:`REFIT_HOURS` (staggered per target) and kept in ``record.model`` (a small
JSON memo), so a run costs a dictionary lookup for most targets; a Forecast run spends at most its
:class:`FitBudget` on fits. Holt-Winters is fitted only where the hourly peaks repeat daily; statsmodels is
imported lazily: a fleet without two days of history or bursts never pays its import.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from thermostat.records import SLOT_MS, TargetRecord

HOUR_MS = 3600_000
REFIT_HOURS = 6
MIN_SEASONAL_DAYS = 2
PERIODIC_CONFIDENCE = 0.9  # P(the burst comes when the grid says), as a survival level
MIN_BURSTS = 3
MIN_ACF = 0.3
MIN_DAILY_CORRELATION = 0.3
SEASONAL_LEAD_MS = 2 * 60_000  # the run after this one starts a little late: look that far past the window


@dataclass(frozen=True)
class Hint:
    """P(peak >= k) according to a model, for the next window."""

    kind: str  # "seasonal" | "periodic"
    point: float  # expected peak (seasonal) or burst size (periodic)
    sigma: float  # spread (seasonal); 0 = a step at ``point`` with PERIODIC_CONFIDENCE
    label: str

    def survival(self, k: int) -> float:
        if k <= 0:
            return 1.0
        if self.sigma <= 0:
            return PERIODIC_CONFIDENCE if k <= self.point else 0.0
        z = (k - 0.5 - self.point) / self.sigma
        return 0.5 * math.erfc(z / math.sqrt(2.0))


def _hourly(record: TargetRecord) -> tuple[np.ndarray, int]:
    """(hourly peaks, start ms of the first hour), whole hours only, NaN where the hour is unknown."""
    per_hour = HOUR_MS // SLOT_MS
    start = record.peaks_start_ms
    skip = (-start // SLOT_MS) % per_hour  # slots before the first whole hour
    series = np.asarray(record.peaks[skip:], dtype=np.float64)
    whole = len(series) // per_hour * per_hour
    blocks = series[:whole].reshape(-1, per_hour)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        hourly = np.nanmax(blocks, axis=1) if blocks.size else np.zeros(0)
    return hourly, start + skip * SLOT_MS


def daily_pattern(hourly: np.ndarray) -> bool:
    """Worth a Holt-Winters fit: at least 2 days, a peak of 2 or more, and a clear daily repetition (the
    hourly series correlates with itself a day later) — random sparse traffic never pays for a fit."""
    known = ~np.isnan(hourly)
    if known.sum() < MIN_SEASONAL_DAYS * 24 or np.nanmax(hourly) < 2:
        return False
    x = np.where(known, hourly, 0.0)
    a, b = x[:-24] - x[:-24].mean(), x[24:] - x[24:].mean()
    scale = math.sqrt(float(a @ a) * float(b @ b))
    return scale > 0 and float(a @ b) / scale >= MIN_DAILY_CORRELATION


def fit_seasonal(record: TargetRecord, now_ms: int) -> dict[str, Any] | None:
    """Holt-Winters on hourly peaks; the memo holds the next 24 hourly forecasts and the residual spread."""
    hourly, first = _hourly(record)
    if not daily_pattern(hourly):
        return None
    filled = np.where(np.isnan(hourly), 0.0, hourly)
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = ExponentialSmoothing(filled, trend="add", damped_trend=True, seasonal="add",
                                         seasonal_periods=24, initialization_method="heuristic").fit()
            forecast = np.maximum(np.asarray(model.forecast(24), dtype=np.float64), 0.0)
            resid = np.asarray(model.resid, dtype=np.float64)
        except Exception:  # a degenerate series is not a candidate
            return None
    sigma = float(np.std(resid[-7 * 24:])) if resid.size else 0.0
    if not np.all(np.isfinite(forecast)) or not math.isfinite(sigma):
        return None
    return {"fitted_at_ms": now_ms, "hour0_ms": first + len(hourly) * HOUR_MS,
            "table": [round(float(v), 3) for v in forecast], "sigma": round(max(sigma, 0.25), 3)}


def seasonal_hint(memo: dict[str, Any] | None, now_ms: int, window_ms: int) -> Hint | None:
    if not memo:
        return None
    table = memo["table"]
    first = int((now_ms - memo["hour0_ms"]) // HOUR_MS)
    last = int((now_ms + window_ms + SEASONAL_LEAD_MS - memo["hour0_ms"]) // HOUR_MS)
    hours = [table[h] for h in range(max(first, 0), last + 1) if 0 <= h < len(table)]
    if not hours:
        return None
    point = max(hours)
    return Hint("seasonal", point, float(memo["sigma"]), f"Holt-Winters daily season: {point:.1f} expected")


def fit_periodic(record: TargetRecord, now_ms: int) -> dict[str, Any] | None:
    """A period at which short bursts repeat (ACF peak), with the last burst and its typical size.

    A burst is a short run of slots well above the function's usual level; the pattern counts when at least
    MIN_BURSTS of them sit on the grid of the ACF's best lag (at most one occurrence missed between two), each
    burst is short against the period, and the last one is recent enough that the next is still expected."""
    series = np.nan_to_num(np.asarray(record.peaks, dtype=np.float64), nan=0.0)
    if series.size < 24 or series.max() < 2:
        return None
    level = max(2.0, 0.5 * float(series.max()))
    base = float(np.median(series))
    hot = (series >= level) & (series >= 2 * base + 1)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], hot.astype(np.int8), [0]))))
    starts, ends = edges[0::2], edges[1::2]
    if starts.size < MIN_BURSTS:
        return None
    from statsmodels.tsa.stattools import acf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corr = acf(series, nlags=min(series.size - 1, 288), fft=True)
    if corr.size <= 3:
        return None
    period = int(3 + np.argmax(corr[3:]))
    steps = np.round(np.diff(starts) / period)
    on_grid = np.abs(np.diff(starts) - period * steps) <= 1
    short = (ends - starts).max() <= max(1, period // 4)
    alive = series.size - int(starts[-1]) < 2 * period
    if corr[period] < MIN_ACF or not (np.all(on_grid) and np.all((steps >= 1) & (steps <= 2)) and short and alive):
        return None
    size = float(np.median([series[a:b].max() for a, b in zip(starts, ends, strict=True)]))
    return {"fitted_at_ms": now_ms, "period_ms": period * SLOT_MS,
            "last_burst_ms": record.peaks_start_ms + int(starts[-1]) * SLOT_MS, "size": size}


def periodic_hint(memo: dict[str, Any] | None, now_ms: int, window_ms: int) -> Hint | None:
    if not memo:
        return None
    period, last = int(memo["period_ms"]), int(memo["last_burst_ms"])
    if now_ms - last > 3 * period:  # the bursts stopped coming
        return None
    due = last + max(1, math.ceil((now_ms - SLOT_MS - last) / period)) * period
    if not now_ms - SLOT_MS <= due <= now_ms + window_ms + SEASONAL_LEAD_MS:
        return None
    return Hint("periodic", float(memo["size"]), 0.0,
                f"bursts of ~{memo['size']:g} every {period // 60_000} min, next due now")


class FitBudget:
    """Seconds of model fitting one Forecast run may spend (the Lambda's time is bounded); targets whose memo
    is due beyond it keep their old one and are refitted by the next runs, oldest first."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.deadline = clock() + seconds
        self.deferred = 0

    def left(self) -> bool:
        return self.clock() < self.deadline


def refit_due(record: TargetRecord, now_ms: int) -> bool:
    """Every REFIT_HOURS, staggered per target (a fleet's refits spread over the interval, not one run)."""
    fitted = int(record.model.get("fitted_at_ms", 0))
    stagger = zlib.crc32(record.key.encode()) % (REFIT_HOURS * HOUR_MS // 2)
    return fitted == 0 or now_ms - fitted >= REFIT_HOURS * HOUR_MS - stagger


def refresh_memo(record: TargetRecord, now_ms: int, enabled: bool, budget: FitBudget | None = None) -> None:
    """Refit the seasonal and periodic models when their memo is due (and the run's fit budget allows)."""
    if not enabled:
        record.model.pop("seasonal", None)
        record.model.pop("periodic", None)
        return
    if not refit_due(record, now_ms):
        return
    if budget is not None and not budget.left():
        budget.deferred += 1
        return
    record.model = {"fitted_at_ms": now_ms, "seasonal": fit_seasonal(record, now_ms),
                    "periodic": fit_periodic(record, now_ms)}


def hints_for(record: TargetRecord, now_ms: int, window_ms: int) -> tuple[Hint, ...]:
    out = []
    for hint in (seasonal_hint(record.model.get("seasonal"), now_ms, window_ms),
                 periodic_hint(record.model.get("periodic"), now_ms, window_ms)):
        if hint is not None:
            out.append(hint)
    return tuple(out)
