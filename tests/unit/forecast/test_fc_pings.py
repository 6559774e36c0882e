"""real_concurrency: the warmer's own pings never count as real traffic."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from thermostat.config import ForecastSettings
from thermostat.forecast import TargetHistory, forecast_peak, real_concurrency
from thermostat.forecast.pings import NEIGHBOUR_PERIODS, recent_real

from .conftest import START_MS


def _sparse_day(rng: np.random.Generator) -> np.ndarray:
    """24 h of minutes, a single real invocation in ~3 % of minutes."""
    return (rng.random(1440) < 0.03).astype(float)


def test_pings_of_10_in_a_quiet_period_do_not_raise_the_forecast(make_history: Any, settings: Any) -> None:
    # GIVEN a sparse function, and the same function as CloudWatch shows it while we ping it 10 at a
    # time every 5 minutes (Max = 10, Invocations += 10, WarmPing = 10, no RealInvocation datapoint)
    real = _sparse_day(np.random.default_rng(3))
    ticks = np.arange(1440) % 5 == 0
    plain = make_history(real)
    pinged = make_history(
        np.where(ticks, np.maximum(real, 10.0), real),
        invocations=np.where(ticks, 10.0 + real, np.where(real > 0, real, np.nan)),
        warm_pings=np.where(ticks, 10.0, np.nan),
        real_invocations=np.where(real > 0, real, np.nan),
    )
    # WHEN both are turned into real concurrency and forecast
    recovered = real_concurrency(pinged)
    plain_info, _ = forecast_peak(plain, settings, use_statsmodels=False)
    pinged_info, _ = forecast_peak(pinged, settings, use_statsmodels=False)
    # THEN the pings vanish: real concurrency is back to the real series and the forecast is unchanged
    assert recovered.max() <= 1
    assert np.array_equal(recovered, real)
    assert pinged_info["desired"] == plain_info["desired"] <= 1


def test_without_real_invocation_metric_uses_invocations_minus_pings(make_history: Any) -> None:
    # GIVEN a quiet minute with 4 pings and 4 invocations (all ours), and one with 4 pings + 30 real
    hist = make_history(
        [0, 0, 4, 0, 0, 0, 4, 0, 0],
        invocations=[np.nan, np.nan, 4, np.nan, np.nan, np.nan, 34, np.nan, np.nan],
        warm_pings=[np.nan, np.nan, 4, np.nan, np.nan, np.nan, 4, np.nan, np.nan],
        duration_ms=3000.0,
    )
    # WHEN real concurrency is estimated (no clean duration reference: the period's own 3 s average)
    real = real_concurrency(hist)
    # THEN the all-ping minute is 0 and the other is Little's law: ceil(30 x 3 s / 60 s) = 2
    assert real[2] == 0
    assert real[6] == 2


def test_contaminated_minutes_borrow_from_clean_neighbours_and_never_exceed_what_cloudwatch_saw(
    make_history: Any,
) -> None:
    # GIVEN a steady 6 real environments with 20 pings every 5 minutes on top (Max 26 at the ticks)
    ticks = np.arange(30) % 5 == 0
    hist = make_history(
        np.where(ticks, 26.0, 6.0),
        invocations=np.where(ticks, 80.0, 60.0),
        warm_pings=np.where(ticks, 20.0, np.nan),
        real_invocations=np.full(30, 60.0),
        duration_ms=100.0,  # Little's law alone says ceil(60 x 0.1 / 60) = 1
    )
    # WHEN real concurrency is estimated
    real = real_concurrency(hist)
    # THEN the ticks get their neighbours' 6 (Max - pings also says 6), not 26 and not 1
    assert real.tolist() == [6.0] * 30


def test_max_minus_pings_is_a_floor(make_history: Any) -> None:
    # GIVEN an isolated busy minute: Max 13 while 3 pings were held, nothing before or after
    hist = make_history(
        [0, 0, 13, 0, 0], invocations=[np.nan, np.nan, 15, np.nan, np.nan], warm_pings=[0, 0, 3, 0, 0]
    )
    # THEN real traffic alone reached at least 10 then
    assert real_concurrency(hist)[2] == 10


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 30)),  # concurrency
            st.one_of(st.none(), st.integers(0, 60)),  # invocations
            st.one_of(st.none(), st.integers(1, 5)),  # warm pings
            st.one_of(st.none(), st.integers(0, 40)),  # real invocations
            st.one_of(st.none(), st.floats(1, 120_000)),  # duration
        ),
        min_size=1,
        max_size=20,
    ),
    periods=st.integers(1, 12),
    typical=st.one_of(st.none(), st.floats(1, 120_000)),
)
def test_plain_python_recent_real_equals_numpy(data: list, periods: int, typical: float | None) -> None:
    # GIVEN any short history (with or without pings, datapoints, durations)
    def col(i: int) -> np.ndarray:
        return np.array([np.nan if row[i] is None else row[i] for row in data], dtype=float)

    hist = TargetHistory.from_arrays(
        START_MS, 60, col(0), invocations=col(1), warm_pings=col(2), real_invocations=col(3), duration_ms=col(4)
    )
    # WHEN the per-tick plain-Python path and the numpy path estimate the last periods
    fast = recent_real(hist, periods, typical)
    full = real_concurrency(hist.tail(periods + NEIGHBOUR_PERIODS), typical_duration_ms=typical)
    # THEN they agree exactly, and pings never make real concurrency exceed what CloudWatch saw
    assert fast == full[-periods:].tolist()
    observed = np.nan_to_num(col(0), nan=np.inf)
    assert np.all(real_concurrency(hist) <= observed)


def test_quiet_pings_cannot_ratchet_the_forecast_up_over_ticks(make_history: Any) -> None:
    # GIVEN a forecast that asked for 5 warm environments on an idle function, and CloudWatch then
    # showing those 5 pings every 5 minutes for two hours
    ticks = np.arange(120) % 5 == 0
    pinged = make_history(
        np.where(ticks, 5.0, 0.0),
        invocations=np.where(ticks, 5.0, np.nan),
        warm_pings=np.where(ticks, 5.0, np.nan),
    )
    # WHEN it forecasts again
    info, _ = forecast_peak(pinged, ForecastSettings(), use_statsmodels=False)
    # THEN it does not keep warming for its own pings
    assert info["desired"] == 0
