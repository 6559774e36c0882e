"""What statsmodels adds that history maxima cannot: warming AHEAD of a predictable ramp.

- **Seasonal** (:func:`seasonal_hint`): once a target has at least 2 days of history, Holt-Winters
  (``statsmodels.tsa.holtwinters.ExponentialSmoothing``, additive daily season of 24 hourly peaks) is fitted
  on its hourly peaks and forecasts the next 24 hours. The hint for a decision at ``now`` is the forecast of
  the hours the next window and the run after it touch (a ramp at 09:00 raises the 08:55 plan).
- **Periodic bursts** (:func:`periodic_hint`): ``statsmodels.tsa.stattools.acf`` on the 5-minute peaks
  finds a period (15 min .. 1 day) at which bursts repeat; when bursts sit on that grid, the next one is
  expected at last burst + a whole number of periods, and the hint asks for the burst's size then.

Both are refitted at most every :data:`REFIT_HOURS` and kept in ``record.model`` (a small JSON memo), so
a run costs a dictionary lookup for most targets. statsmodels is imported lazily: a fleet without two days
of history or bursts never pays its import.
"""

from __future__ import annotations

import math
import warnings
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


def fit_seasonal(record: TargetRecord, now_ms: int) -> dict[str, Any] | None:
    """Holt-Winters on hourly peaks; the memo holds the next 24 hourly forecasts and the residual spread."""
    hourly, first = _hourly(record)
    known = ~np.isnan(hourly)
    if known.sum() < MIN_SEASONAL_DAYS * 24 or not np.any(hourly[known] > 0):
        return None
    filled = np.where(known, hourly, 0.0)
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = ExponentialSmoothing(filled, trend=None, seasonal="add", seasonal_periods=24,
                                         initialization_method="heuristic").fit()
        except Exception:  # a degenerate series is not a candidate
            return None
    forecast = np.maximum(np.asarray(model.forecast(24), dtype=np.float64), 0.0)
    resid = np.asarray(model.resid, dtype=np.float64)
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
    """A period at which bursts repeat (ACF peak), with the last burst and its typical size."""
    series = np.nan_to_num(np.asarray(record.peaks, dtype=np.float64), nan=0.0)
    if series.size < 24 or series.max() < 2:
        return None
    level = max(2.0, 0.5 * float(series.max()))
    base = float(np.median(series))
    bursts = np.flatnonzero((series >= level) & (series >= 2 * base + 1))
    starts = bursts[np.concatenate(([True], np.diff(bursts) > 1))] if bursts.size else bursts
    if starts.size < MIN_BURSTS:
        return None
    from statsmodels.tsa.stattools import acf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corr = acf(series, nlags=min(series.size - 1, 288), fft=True)
    lags = np.arange(3, corr.size)
    if not lags.size:
        return None
    period = int(lags[int(np.argmax(corr[3:]))])
    if corr[period] < MIN_ACF:
        return None
    gaps = np.diff(starts)
    on_grid = np.abs(gaps - period * np.round(gaps / period)) <= 1
    if not np.all(on_grid) or np.any(np.round(gaps / period) < 1):
        return None
    size = float(np.median(series[starts]))
    return {"fitted_at_ms": now_ms, "period_ms": period * SLOT_MS,
            "last_burst_ms": record.peaks_start_ms + int(starts[-1]) * SLOT_MS, "size": size}


def periodic_hint(memo: dict[str, Any] | None, now_ms: int, window_ms: int) -> Hint | None:
    if not memo:
        return None
    period, last = int(memo["period_ms"]), int(memo["last_burst_ms"])
    due = last + max(1, math.ceil((now_ms - SLOT_MS - last) / period)) * period
    if not now_ms - SLOT_MS <= due <= now_ms + window_ms + SEASONAL_LEAD_MS:
        return None
    return Hint("periodic", float(memo["size"]), 0.0,
                f"bursts of ~{memo['size']:g} every {period // 60_000} min, next due now")


def refresh_memo(record: TargetRecord, now_ms: int, enabled: bool) -> None:
    """Refit the seasonal and periodic models when their memo is older than REFIT_HOURS."""
    if not enabled:
        record.model.pop("seasonal", None)
        record.model.pop("periodic", None)
        return
    fitted = int(record.model.get("fitted_at_ms", 0))
    if now_ms - fitted < REFIT_HOURS * HOUR_MS:
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
