"""forecast_peak: upper-quantile forecast of the peak real concurrency in the next window, with a memo.

The memo (:class:`ModelMemo`) is what makes a forecast at every 5-minute tick cheap in the simulator:
it keeps the model that won the last backtest (its parameters, residual quantile and, for ETS/SARIMAX,
the recursive state) and the last window peaks it reads, and re-selects only on a schedule — when the
history has doubled since the last selection, at most every ``refit_minutes`` — or when the last window
surprised it (its real peak at least twice, and 2 more than, what it asked for). statsmodels models
that lost a backtest are not fitted again for a day. The Lambda passes no memo: a fresh selection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from thermostat import models
from thermostat.config import ForecastSettings
from thermostat.forecast import smooth
from thermostat.forecast.families import (
    INTERMITTENT,
    RECENT_MAX,
    RECENT_QUANTILE,
    RENEWAL,
    SEASONAL_NAIVE,
    Family,
    Fitted,
    ceil_desired,
)
from thermostat.forecast.history import TargetHistory, points_per_window, window_peaks
from thermostat.forecast.pings import real_concurrency, recent_real, typical_duration
from thermostat.forecast.reasons import describe
from thermostat.forecast.selection import Clock, select

SURPRISE_MS = 30 * 60000  # a surprise re-selects only if the model is at least this old
MAX_ADVANCE_WINDOWS = 288  # a memo further behind than this re-selects instead of catching up
STATSMODELS_RETRY_MS = 24 * 3600_000  # statsmodels that lost a backtest are not refitted for a day
SMALL_PERIODS = 64  # catching up on at most this many periods uses the plain-Python ping removal
MISS_MIN = 2  # re-select once the windows it under-covered since its selection reach this many ...
MISS_FACTOR = 2.0  # ... and this multiple of the 1 - q share it promised (a model that over-promised)

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (RECENT_MAX, RECENT_QUANTILE, SEASONAL_NAIVE, INTERMITTENT, RENEWAL, smooth.ETS, smooth.SARIMAX)
}
FAMILIES["holt_winters"] = smooth.holt_winters(0)  # predict/advance read the season from the params


@dataclass(frozen=True, eq=False)
class ModelMemo:
    """The model selected for one target and when; pass it back on the next tick."""

    fitted: Fitted
    quantile: float
    horizon_minutes: int
    period_s: int
    use_statsmodels: bool
    selected_at_ms: int  # "now" when the backtest ran
    refit_at_ms: int  # re-select at or after this time
    state_end_ms: int  # end of the last window the model has seen (forecasts start here)
    pad: int  # periods of that window not reported yet (read as 0; re-read on the next call)
    last_desired: int  # what it asked for the window starting at state_end_ms
    peaks: np.ndarray  # the last window peaks of real concurrency the model reads (up to state_end_ms)
    typical_duration_ms: float | None  # real duration used to de-ping new periods (from the selection)
    scores: tuple[tuple[str, float], ...] = ()  # backtest losses at selection, for reasons and benches
    selections: int = 1  # how many selections this memo's lineage has run (bench/diagnostics)
    statsmodels_lost_at_ms: int | None = None  # statsmodels fitted and lost then: not retried for a day
    windows_seen: int = 0  # windows forecast since the selection, and how many of them it under-covered
    misses: int = 0
    active_at_selection: int = 0  # windows with real traffic in the history it was selected on ...
    active: int = 0  # ... and since then (the evidence doubled: re-select)


def forecast_peak(
    history: TargetHistory,
    settings: ForecastSettings,
    *,
    memo: ModelMemo | None = None,
    now_ms: int | None = None,
    use_statsmodels: bool | None = None,
    refit_minutes: int | None = None,
    budget_s: float | None = None,
    clock: Clock = time.perf_counter,
) -> tuple[models.ForecastInfo, ModelMemo]:
    """Upper-quantile forecast of the PEAK real concurrency in the next `settings.horizon_minutes`.

    ``now_ms`` (default: the end of the history) is where the forecast window starts; periods that
    start at or after it are ignored. ``use_statsmodels`` and ``refit_minutes`` default to the
    settings' values (``False`` keeps to the numpy baselines);
    ``budget_s`` (default ``settings.max_seconds_per_target``) bounds the statsmodels fits.
    """
    q, horizon = settings.quantile, settings.horizon_minutes
    use_statsmodels = settings.use_statsmodels if use_statsmodels is None else use_statsmodels
    refit_minutes = settings.refit_minutes if refit_minutes is None else refit_minutes
    if now_ms is not None:
        history = history.before(now_ms)
    now = history.end_ms if now_ms is None else now_ms
    per_window = points_per_window(history.period_s, horizon)
    period_ms = history.period_s * 1000
    window_ms = per_window * period_ms
    window_minutes = max(1, round(window_ms / 60000))
    # Windows end at `now`, not at the last datapoint: the window to cover is [now, now + horizon), so a
    # season ago (or an age ago) means the same minutes. Periods not reported yet (the metrics' lag)
    # read as 0 in the last, partial window; a lag of whole windows forecasts further ahead.
    lag = max(0, now - history.end_ms) // period_ms
    pad, h = int(lag % per_window), 1 + int(lag // per_window)
    end_ms = history.end_ms + pad * period_ms
    prior = memo.selections if memo is not None else 0

    history_minutes = history.points * history.period_s / 60
    if history_minutes < settings.min_history_minutes:
        return _fallback(history, settings, now, history_minutes, prior)
    # a reusable memo comes from a real selection, so this history has data: skip that scan per tick
    if memo is not None and _reusable(memo, history, settings, use_statsmodels, now, window_ms, end_ms):
        reused = _reuse(memo, history, per_window, window_ms, window_minutes, q, h, now, pad)
        if reused is not None:
            return reused
    if not _has_data(history):
        return _fallback(history, settings, now, history_minutes, prior)

    typical = typical_duration(history)
    real = real_concurrency(history, typical_duration_ms=typical)
    y = window_peaks(np.concatenate((real, np.zeros(pad))) if pad else real, per_window)
    lost_at = memo.statsmodels_lost_at_ms if memo is not None else None
    retry = lost_at is None or now - lost_at >= STATSMODELS_RETRY_MS
    choice = select(
        y,
        q,
        window_minutes=window_minutes,
        use_statsmodels=use_statsmodels and retry,
        budget_s=settings.max_seconds_per_target if budget_s is None else budget_s,
        clock=clock,
    )
    info = describe(choice.family, choice.fitted, y, q, h, window_minutes, choice.note)
    interval_ms = int(min(max(history_minutes, settings.min_history_minutes), refit_minutes) * 60000)
    new_memo = ModelMemo(
        fitted=choice.fitted,
        quantile=q,
        horizon_minutes=horizon,
        period_s=history.period_s,
        use_statsmodels=use_statsmodels,
        selected_at_ms=now,
        refit_at_ms=now + interval_ms,
        state_end_ms=end_ms,
        last_desired=info["desired"],
        pad=pad,
        peaks=y[-_keep(choice.family, choice.fitted, window_minutes) :].copy(),
        typical_duration_ms=typical,
        scores=choice.scores,
        selections=prior + 1,
        active_at_selection=int(np.count_nonzero(y)),
        active=int(np.count_nonzero(y)),
        statsmodels_lost_at_ms=(now if not choice.family.recursive else None) if choice.statsmodels_tried else lost_at,
    )
    return info, new_memo


def _keep(family: Family, fitted: Fitted, window_minutes: int) -> int:
    """Window peaks the memo keeps: what the model reads, and the last hour (for the reason)."""
    return max(family.need(fitted), max(1, round(60 / window_minutes))) + 1


def _reuse(
    memo: ModelMemo,
    history: TargetHistory,
    per_window: int,
    window_ms: int,
    window_minutes: int,
    q: float,
    h: int,
    now: int,
    pad: int,
) -> tuple[models.ForecastInfo, ModelMemo] | None:
    """The per-tick path: de-ping only the new periods (and the unreported tail of the last window),
    append their peaks, forecast. None = re-select."""
    end_ms = history.end_ms + pad * history.period_s * 1000
    new = (end_ms - memo.state_end_ms) // window_ms
    family = FAMILIES[memo.fitted.family]
    y = memo.peaks
    if new >= len(y):
        return None
    seen, misses, active = memo.windows_seen, memo.misses, memo.active
    if new:
        redo = 1 if memo.pad else 0  # the last window was partial: read it again, whole
        periods = (new + redo) * per_window - pad
        if periods <= SMALL_PERIODS:
            values = np.array(recent_real(history, periods, memo.typical_duration_ms))
        else:
            values = real_concurrency(history, typical_duration_ms=memo.typical_duration_ms)[-periods:]
        if len(values) < periods:
            return None
        if pad:
            values = np.concatenate((values, np.zeros(pad)))
        peaks = values.reshape(new + redo, per_window).max(axis=1) if per_window > 1 else values
        if redo:
            y = np.concatenate((y[:-1], peaks[:1]))
        fresh = peaks[redo:]
        seen, misses = seen + 1, misses + int(float(fresh[0]) > memo.last_desired)
        active += int(np.count_nonzero(fresh))
        if now - memo.selected_at_ms >= SURPRISE_MS and (
            _surprise(float(fresh[0]), memo.last_desired)
            or _over_promised(misses, seen, q)
            or active >= 2 * max(memo.active_at_selection, 1)
        ):
            return None
        y = np.concatenate((y, fresh))[-len(y) :]
    fitted = family.advance(memo.fitted, y[len(y) - new :]) if family.recursive and new else memo.fitted
    info = describe(family, fitted, y, q, h, window_minutes)
    return info, replace(memo, fitted=fitted, state_end_ms=end_ms, pad=pad, last_desired=info["desired"], peaks=y,
                         windows_seen=seen, misses=misses, active=active)


def _has_data(history: TargetHistory) -> bool:
    return bool(
        np.isfinite(history.concurrency).any()
        or np.isfinite(history.invocations).any()
        or np.isfinite(history.real_invocations).any()
    )


def _reusable(
    memo: ModelMemo,
    history: TargetHistory,
    settings: ForecastSettings,
    use_statsmodels: bool,
    now: int,
    window_ms: int,
    end_ms: int,
) -> bool:
    behind = end_ms - memo.state_end_ms
    return (
        memo.fitted.family in FAMILIES
        and memo.quantile == settings.quantile
        and memo.horizon_minutes == settings.horizon_minutes
        and memo.period_s == history.period_s
        and memo.use_statsmodels == use_statsmodels
        and now < memo.refit_at_ms
        and behind >= 0
        and behind % window_ms == 0
        and behind // window_ms <= MAX_ADVANCE_WINDOWS
    )


def _surprise(observed: float, asked: int) -> bool:
    return observed >= max(2 * asked, asked + 2)


def _over_promised(misses: int, seen: int, q: float) -> bool:
    """Since its selection the model left far more windows uncovered than the 1 - q it promised."""
    return misses >= max(MISS_MIN, MISS_FACTOR * (1.0 - q) * seen)


def _fallback(
    history: TargetHistory, settings: ForecastSettings, now: int, history_minutes: float, prior: int
) -> tuple[models.ForecastInfo, ModelMemo]:
    """Too little history to model: keep the real peak seen so far (0 if none), and say so."""
    real = real_concurrency(history)
    peak = float(real.max()) if len(real) else 0.0
    if not _has_data(history):
        reason = f"no datapoints in {history_minutes:g} min of history: nothing observed to warm for"
    else:
        reason = (
            f"only {history_minutes:g} min of history (< {settings.min_history_minutes} min): "
            f"keeping its real peak so far, {peak:g}"
        )
    desired = ceil_desired(peak)
    info = models.ForecastInfo(
        desired=desired, quantile=settings.quantile, model="fallback", reason=reason, point=round(peak, 3)
    )
    memo = ModelMemo(
        fitted=Fitted("fallback"),
        quantile=settings.quantile,
        horizon_minutes=settings.horizon_minutes,
        period_s=history.period_s,
        use_statsmodels=True,
        selected_at_ms=now,
        refit_at_ms=now,  # re-evaluate on the next call
        state_end_ms=history.end_ms,
        pad=0,
        last_desired=desired,
        peaks=np.zeros(0),
        typical_duration_ms=None,
        selections=prior,
    )
    return info, memo
