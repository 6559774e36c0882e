"""Model families: the plain-Python recursions equal statsmodels; baselines' quantile logic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thermostat.forecast import smooth
from thermostat.forecast.families import INTERMITTENT, Fitted, upper_quantile
from thermostat.forecast.selection import pinball, select


def _dense(seed: int, n: int = 240) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hourly = 3 * np.sin(np.arange(n) / 12 * 2 * np.pi)
    return np.maximum(0, 10 + hourly + rng.normal(0, 2, n) + np.arange(n) * 0.01).round()


@pytest.mark.parametrize(
    ("family", "options"),
    [
        (smooth.ETS, {"trend": "add", "damped_trend": True}),
        (smooth.holt_winters(12), {"seasonal": "add", "seasonal_periods": 12}),
    ],
)
def test_holt_winters_recursion_reproduces_statsmodels(family: smooth.HoltWinters, options: dict) -> None:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    # GIVEN a dense series and the parameters statsmodels estimates for it
    y = _dense(1)
    params, state = family.fit(y)
    # WHEN our recursion runs with them
    forecasts = family.run(params, state, y)
    # THEN its one-step forecasts and its 3-step forecast are statsmodels' own
    reference = ExponentialSmoothing(y, initialization_method="estimated", **options).fit()
    assert np.allclose(forecasts, reference.fittedvalues, atol=1e-8)
    assert family.forecast(params, tuple(state), 3) == pytest.approx(reference.forecast(3)[-1], abs=1e-8)


def test_sarimax_recursion_reproduces_statsmodels_after_burn_in() -> None:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    # GIVEN a dense series and the (c, phi, theta) estimated for it
    y = _dense(2)
    params, state = smooth.SARIMAX.fit(y)
    # WHEN our recursion runs with them, and statsmodels' Kalman filter with the same parameters
    forecasts = smooth.SARIMAX.run(params, state, y)
    reference = SARIMAX(y, order=(1, 0, 1), trend="c", concentrate_scale=True).filter(np.array(params))
    # THEN after the filter's first steps (its start differs) the one-step forecasts coincide
    assert np.allclose(forecasts[smooth.BURN_IN :], reference.fittedvalues[smooth.BURN_IN :], atol=1e-3)
    assert smooth.SARIMAX.forecast(params, tuple(state), 2) == pytest.approx(reference.forecast(2)[-1], abs=1e-3)


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.integers(0, 50), min_size=1, max_size=60),
    q=st.floats(0.01, 0.999),
)
def test_upper_quantile_is_numpys_inverted_cdf(values: list[int], q: float) -> None:
    array = np.array(values, dtype=float)
    assert upper_quantile(array, q) == np.quantile(array, q, method="inverted_cdf")


def test_intermittent_warms_one_only_when_traffic_is_likelier_than_one_minus_q() -> None:
    # GIVEN a day of 5-minute windows with traffic in 10 % of them (peak 1)
    y = np.zeros(288)
    y[::10] = 1
    fitted = Fitted("intermittent", (288.0, 72.0))
    # WHEN forecast at q = 0.95 (pays off above 5 %) and q = 0.8 (above 20 %)
    high, _ = INTERMITTENT.predict(fitted, y, 0.95, 1)
    low, _ = INTERMITTENT.predict(fitted, y, 0.8, 1)
    # THEN one environment at 0.95, none at 0.8
    assert high == 1 and low == 0


def test_pinball_charges_q_per_missing_environment_and_one_minus_q_per_wasted_one() -> None:
    loss, over = pinball(np.array([3.0, 3.0]), np.array([1.0, 5.0]), 0.9)
    assert loss == pytest.approx((0.9 * 2 + 0.1 * 2) / 2)
    assert over == pytest.approx(1.0)


def test_selection_prefers_the_model_that_would_have_covered_the_peaks() -> None:
    # GIVEN bursts of 8 every hour on the hour (window 0 of 12), idle otherwise, 10 hours
    y = np.zeros(120)
    y[::12] = 8
    # WHEN models are backtested at q = 0.95
    choice = select(y, 0.95, window_minutes=5, use_statsmodels=False)
    # THEN the hourly seasonal-naive wins: recent-max misses each burst, quantiles over-warm
    assert choice.fitted.family == "seasonal_naive"
    assert dict(choice.scores)["seasonal-naive(1h)"] == min(loss for _, loss in choice.scores)
