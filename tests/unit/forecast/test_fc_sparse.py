"""Sparse and timer-driven functions: the renewal model, windows aligned to `now`, re-selection on misses."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from thermostat.forecast import forecast_peak, peak, real_concurrency
from thermostat.forecast.families import RENEWAL, Fitted
from thermostat.forecast.history import window_peaks

from .conftest import MINUTE_MS, START_MS

TICK = 5 * MINUTE_MS
LAG = MINUTE_MS  # the simulator's metrics delay: the minute that just ended is not reported yet


def _timer(minutes: int, every: int, at: int) -> np.ndarray:
    conc = np.zeros(minutes)
    conc[at::every] = 1
    return conc


def test_renewal_learns_the_chance_of_traffic_from_the_time_since_the_last_traffic() -> None:
    # GIVEN windows with traffic every third window (a 15-minute timer seen in 5-minute windows)
    y = np.zeros(150)
    y[::3] = 1  # the last traffic is in window 147 of 0..149: the next window is the third after it
    fitted = Fitted("renewal", (288.0, 12.0, 2.0))
    # WHEN forecast three, one and two windows after the last traffic
    due, _ = RENEWAL.predict(fitted, y, 0.95, 1)
    early = [RENEWAL.predict(fitted, y[: len(y) - k], 0.95, 1)[0] for k in (2, 1)]
    # THEN only the due window is warmed; its probability is near 1, the others' near 0
    assert due == 1 and early == [0, 0]
    assert RENEWAL.probability(fitted, y) > 0.9 > 0.05 > RENEWAL.probability(fitted, y[:-2])


def test_renewal_backtest_uses_only_the_windows_before_each_origin() -> None:
    # GIVEN a series whose pattern changes at window 100 (every 3rd window, then every 4th)
    y = np.zeros(200)
    y[:100:3] = 1
    y[100::4] = 1
    params = (288.0, 12.0, 2.0)
    # WHEN backtested from origin 120
    result = RENEWAL.backtest(y, 120, 0.95, params)
    assert result is not None
    # THEN each origin's forecast equals a prediction from y[:t] alone (no look-ahead)
    expected = [RENEWAL.predict(result.fitted, y[:t], 0.95, 1)[0] for t in range(120, 200)]
    assert np.array_equal(result.upper, expected)


@pytest.mark.parametrize("at", [0, 4, 9, 13])
def test_a_timer_is_warmed_for_the_window_it_fires_in_even_with_the_metrics_lag(
    at: int, make_history: Any, settings: Any
) -> None:
    # GIVEN a function run by a 15-minute timer at minute `at` of each quarter hour, 12 h of it, and
    # forecasts at 5-minute ticks whose history ends one minute before the tick (metrics lag)
    conc = _timer(1440, 15, at)
    hist = make_history(conc)
    memo = None
    asked, due = [], []
    for tick in range(144, 168):
        now = START_MS + tick * TICK
        info, memo = forecast_peak(hist.before(now - LAG), settings, memo=memo, now_ms=now, use_statsmodels=False)
        asked.append(info["desired"])
        due.append(int(conc[tick * 5 : tick * 5 + 5].max()))
    # THEN every window [now, now + 5 min) in which the timer fires is warmed — including a run in the
    # last minute of the window — and the windows without a run are not
    assert asked == due


def test_a_memo_with_a_metrics_lag_sees_the_same_peaks_as_a_fresh_computation(
    make_history: Any, settings: Any
) -> None:
    # GIVEN noisy sparse traffic, a memo selected at 12 h, advanced tick by tick with a 1-minute lag
    conc = (np.random.default_rng(3).random(1440) < 0.1).astype(float) * 2
    hist = make_history(conc)
    now = START_MS + 720 * MINUTE_MS
    _, memo = forecast_peak(hist.before(now - LAG), settings, now_ms=now, use_statsmodels=False)
    for tick in range(1, 13):
        t = now + tick * TICK
        info, memo = forecast_peak(hist.before(t - LAG), settings, memo=memo, now_ms=t, use_statsmodels=False)
    # THEN its window peaks are those of windows ending at `now` (the unreported minute read as 0), the
    # earlier partial windows re-read whole, and so is its forecast
    last = now + 12 * TICK
    real = np.concatenate((real_concurrency(hist.before(last - LAG)), [0.0]))
    full = window_peaks(real, 5)
    assert memo.pad == 1 and memo.state_end_ms == last
    assert np.array_equal(memo.peaks, full[-len(memo.peaks) :])
    family = peak.FAMILIES[memo.fitted.family]
    assert info["desired"] == int(np.ceil(family.predict(memo.fitted, full, settings.quantile, 1)[0] - 1e-9))


def test_a_model_that_keeps_missing_is_re_selected_before_its_refit_time(make_history: Any, settings: Any) -> None:
    # GIVEN a function that became busy (traffic in every other window) and a memo holding a model that
    # asks for nothing (recent-max of the last window, wrong half the time)
    conc = np.zeros(1440)
    conc[[100, 300]] = 1  # quiet before: a real selection, not a fallback
    for start in range(600, 1440, 10):
        conc[start] = 1
    hist = make_history(conc)
    now = START_MS + 600 * MINUTE_MS
    _, memo = forecast_peak(hist, settings, now_ms=now, use_statsmodels=False)
    memo = replace(memo, fitted=Fitted("recent_max", (1.0,), label="recent-max(5min)"), selections=1)
    # WHEN ticks go by
    selected = []
    for tick in range(1, 12):
        _, memo = forecast_peak(hist, settings, memo=memo, now_ms=now + tick * TICK, use_statsmodels=False)
        selected.append(memo.selections)
    # THEN it is kept for 30 minutes, then re-selected because it left far more windows uncovered than
    # the 5 % it promised — long before its 6-hour refit time
    assert selected[:5] == [1] * 5
    assert selected[-1] == 2
    assert memo.refit_at_ms - memo.selected_at_ms >= 6 * 60 * MINUTE_MS


def test_a_sparse_model_is_re_selected_once_its_evidence_doubles(make_history: Any, settings: Any) -> None:
    # GIVEN a function with traffic in 3 windows of its first 10 h, selected then, holding a model that
    # covers what comes next (the peak of the last 3 h) — so neither a surprise nor misses
    conc = np.zeros(1440)
    conc[[100, 200, 500]] = 1
    conc[605:700:10] = 1
    hist = make_history(conc)
    now = START_MS + 600 * MINUTE_MS
    _, memo = forecast_peak(hist, settings, now_ms=now, use_statsmodels=False)
    memo = replace(memo, fitted=Fitted("recent_max", (36.0,), label="recent-max(3h)"), selections=1)
    assert memo.active_at_selection == 3
    # WHEN ticks go by and 3 more windows with traffic are seen
    selected = []
    for tick in range(1, 10):
        _, memo = forecast_peak(hist, settings, memo=memo, now_ms=now + tick * TICK, use_statsmodels=False)
        selected.append(memo.selections)
    # THEN it is re-selected once the model is 30 min old (the count doubled by then), not after 6 h
    assert selected[:5] == [1] * 5
    assert selected[5] == 2
