"""forecast_peak: levels, seasonality, sparse series, fallbacks, quantiles, the memo."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from thermostat.forecast import ModelMemo, TargetHistory, forecast_peak, peak, real_concurrency
from thermostat.forecast.families import Fitted
from thermostat.forecast.history import window_peaks

from .conftest import MINUTE_MS, START_MS


def _poisson_day(seed: int, level: float, minutes: int = 1440) -> np.ndarray:
    return np.random.default_rng(seed).poisson(level, minutes).astype(float)


def test_a_constant_series_forecasts_its_level(make_history: Any, settings: Any) -> None:
    # GIVEN 24 h at a steady 4 concurrent executions
    hist = make_history(np.full(1440, 4.0))
    # WHEN forecast
    info, _ = forecast_peak(hist, settings)
    # THEN 4, said in one sentence
    assert info["desired"] == 4 and info["point"] == 4
    assert info["quantile"] == settings.quantile and "4" in info["reason"]


def test_a_daily_seasonal_series_gets_the_peak_that_comes_every_day(make_history: Any, settings: Any) -> None:
    # GIVEN a steady 2 with a daily burst to 20 from 14:00 to 15:00, history ending 14:00 on day 3
    minutes = np.arange(2 * 1440 + 14 * 60)
    hist = make_history(np.where((minutes % 1440 >= 14 * 60) & (minutes % 1440 < 15 * 60), 20.0, 2.0))
    # WHEN forecast for the window starting at 14:00 on the third day
    info, _ = forecast_peak(hist, settings, use_statsmodels=False)
    # THEN it is a seasonal model and covers the burst (recent-max would have said 2)
    assert info["model"] == "seasonal_naive", info
    assert info["desired"] >= 20
    assert "1d" in info["reason"]


def test_a_sparse_series_gives_0_or_1_with_a_reason(make_history: Any, settings: Any) -> None:
    # GIVEN a function invoked about once every 40 minutes, and one invoked once 20 hours ago
    rng = np.random.default_rng(5)
    every_40 = (rng.random(1440) < 1 / 40).astype(float)
    once = np.zeros(1440)
    once[240] = 1
    # WHEN forecast
    sparse, _ = forecast_peak(make_history(every_40), settings, use_statsmodels=False)
    rare, _ = forecast_peak(make_history(once), settings, use_statsmodels=False)
    # THEN one warm environment pays off for the first (traffic in > 5 % of windows), none for the second
    assert sparse["desired"] == 1 and sparse["reason"]
    assert rare["desired"] == 0 and rare["reason"]


@pytest.mark.parametrize(
    ("values", "desired", "words"),
    [
        (np.zeros(0), 0, "no datapoints"),
        (np.full(1440, np.nan), 0, "no datapoints"),
        (np.array([0, 3, 1, 0, 2] * 4, dtype=float), 3, "only 20 min of history"),
    ],
    ids=["empty", "nan-only", "too-short"],
)
def test_unusable_histories_fall_back_conservatively(
    values: np.ndarray, desired: int, words: str, settings: Any
) -> None:
    # GIVEN an empty, a NaN-only and a 20-minute history
    hist = TargetHistory.from_arrays(START_MS, 60, values)
    # WHEN forecast
    info, memo = forecast_peak(hist, settings)
    # THEN a fallback that keeps the real peak seen (0 if none), with the reason
    assert info["model"] == "fallback"
    assert info["desired"] == desired
    assert words in info["reason"]
    assert memo.refit_at_ms <= memo.selected_at_ms  # re-evaluated at the next tick


@pytest.mark.parametrize("seed", range(8))
def test_a_higher_quantile_never_asks_for_fewer(seed: int, make_history: Any, settings: Any) -> None:
    # GIVEN assorted series: noisy dense, bursty, sparse, trending
    rng = np.random.default_rng(seed)
    level = [0.05, 0.3, 2, 6, 15][seed % 5]
    conc = rng.poisson(level * (1 + (np.arange(1440) / 1440) * (seed % 3)), 1440).astype(float)
    hist = make_history(conc)
    # WHEN forecast at q = 0.5 and q = 0.99
    low, _ = forecast_peak(hist, replace(settings, quantile=0.5), use_statsmodels=False)
    high, _ = forecast_peak(hist, replace(settings, quantile=0.99), use_statsmodels=False)
    # THEN the 0.99 forecast is at least the median one
    assert high["desired"] >= low["desired"], (low, high)


def test_the_memo_reuses_the_selected_model_until_the_refit_time(
    make_history: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN 48 h of noisy traffic and a counting model selection
    hist = make_history(_poisson_day(7, 3.0, 2 * 1440))
    calls: list[int] = []
    original = peak.select

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(peak, "select", counting)
    now = START_MS + 1440 * MINUTE_MS
    # WHEN forecast at 24 h, then at every 5-minute tick up to 7 h later
    _, memo = forecast_peak(hist, settings, now_ms=now, use_statsmodels=False)
    first = memo
    seen: list[ModelMemo] = []
    for tick in range(1, 85):
        _, memo = forecast_peak(hist, settings, memo=memo, now_ms=now + tick * 5 * MINUTE_MS, use_statsmodels=False)
        seen.append(memo)
    # THEN the model is selected once, reused until refit_at (6 h), then selected again
    refit_tick = (first.refit_at_ms - now) // (5 * MINUTE_MS)
    assert refit_tick == 72
    assert len(calls) == 2
    assert all(m.selected_at_ms == first.selected_at_ms for m in seen[: refit_tick - 1])
    assert seen[refit_tick - 1].selected_at_ms == now + refit_tick * 5 * MINUTE_MS
    assert seen[-1].selections == 2


def test_reused_memo_sees_the_same_peaks_as_a_fresh_computation(make_history: Any, settings: Any) -> None:
    # GIVEN a memo selected at 12 h, advanced tick by tick for an hour
    hist = make_history(_poisson_day(11, 1.5))
    now = START_MS + 720 * MINUTE_MS
    _, memo = forecast_peak(hist, settings, now_ms=now, use_statsmodels=False)
    for tick in range(1, 13):
        info, memo = forecast_peak(hist, settings, memo=memo, now_ms=now + tick * 5 * MINUTE_MS, use_statsmodels=False)
    # THEN its window peaks are those of the whole history up to then, and so is its forecast
    full = window_peaks(real_concurrency(hist.before(now + 12 * 5 * MINUTE_MS)), 5)
    assert memo.selections == 1
    assert np.array_equal(memo.peaks, full[-len(memo.peaks) :])
    family = peak.FAMILIES[memo.fitted.family]
    assert info["desired"] == int(np.ceil(family.predict(memo.fitted, full, settings.quantile, 1)[0] - 1e-9))


def test_a_surprising_burst_re_selects_before_the_refit_time(make_history: Any, settings: Any) -> None:
    # GIVEN a function idle for 12 h that suddenly runs 30 environments, and a memo holding a slow
    # model (the p95 of a day of window peaks, still 0 after a few busy windows)
    conc = np.zeros(1440)
    conc[5:8] = 1
    conc[725:] = 30
    hist = make_history(conc)
    now = START_MS + 720 * MINUTE_MS
    _, memo = forecast_peak(hist, settings, now_ms=now, use_statsmodels=False)
    memo = replace(memo, fitted=Fitted("recent_quantile", (288.0,), label="quantile of 1d peaks"), peaks=np.zeros(289))
    # WHEN ticks go by while the burst shows
    asked = []
    for tick in range(1, 8):
        info, memo = forecast_peak(hist, settings, memo=memo, now_ms=now + tick * 5 * MINUTE_MS, use_statsmodels=False)
        asked.append(info["desired"])
    # THEN the slow model is kept while it is younger than 30 min, then a new selection warms for it
    assert asked[:5] == [0] * 5  # the burst shows from tick 2; the model is 30 min old at tick 6
    assert memo.selections == 2 and memo.selected_at_ms == now + 6 * 5 * MINUTE_MS
    assert asked[-1] >= 30


def test_periods_at_or_after_now_are_never_used(make_history: Any, settings: Any) -> None:
    conc = np.full(1440, 2.0)
    conc[1000:] = 500
    hist = make_history(conc)
    info, _ = forecast_peak(hist, settings, now_ms=START_MS + 1000 * MINUTE_MS, use_statsmodels=False)
    assert info["desired"] == 2


def test_a_coarse_five_minute_history_forecasts_per_period(make_history: Any, settings: Any) -> None:
    # GIVEN a history coarsened to 5-minute periods (payload budget), steady 7
    hist = make_history(np.full(288, 7.0), period_s=300)
    info, _ = forecast_peak(hist, settings, use_statsmodels=False)
    assert info["desired"] == 7
