"""statsmodels families: ETS / Holt-Winters (additive) and SARIMAX(1,0,1) + constant.

statsmodels only *estimates* the parameters, once per selection, on the training part of the
per-window peak series (288 points a day at 5-minute windows: 5-50 ms a fit, see
``../shared/notes/local-aws-facts.md``). One-step forecasts (backtest, residual quantiles, every tick
between refits) come from the same recursions written out below in plain Python, so a tick costs a
few float operations instead of a refit. ``tests/unit/forecast`` checks these recursions against
statsmodels' own fitted values. statsmodels is imported lazily: baselines never pay its ~2 s import.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from thermostat.forecast.families import Backtest, Fitted, residual_quantile

MAX_FIT_WINDOWS = 576  # fit on at most the last 2 days of 5-minute windows (fit time grows with length)
BURN_IN = 5  # one-step errors of the first windows after the fit's start are not used


def preload() -> None:
    """Import statsmodels now (≈ 2 s the first time) so that per-target budgets do not pay for it."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing  # noqa: F401
    from statsmodels.tsa.statespace.sarimax import SARIMAX  # noqa: F401


# --- Holt-Winters / ETS (additive error, optional damped additive trend, optional additive season) ----
# params = (alpha, beta, gamma, phi, m); state = (level, trend, season_0 .. season_{m-1}) where
# season_0 is the seasonal term of the NEXT window (the same recursion as statsmodels' holtwinters).


def hw_step(params: tuple[float, ...], state: list[float], value: float) -> float:
    """Consume one observation in place; return the one-step forecast that was made for it."""
    alpha, beta, gamma, phi, m = params[0], params[1], params[2], params[3], int(params[4])
    level, trend = state[0], state[1]
    season = state[2] if m else 0.0
    base = level + phi * trend
    forecast = base + season
    new_level = alpha * (value - season) + (1.0 - alpha) * base
    state[1] = beta * (new_level - level) + (1.0 - beta) * phi * trend
    state[0] = new_level
    if m:
        new_season = gamma * (value - base) + (1.0 - gamma) * season
        del state[2]
        state.append(new_season)
    return forecast


def hw_forecast(params: tuple[float, ...], state: tuple[float, ...], h: int) -> float:
    phi, m = params[3], int(params[4])
    damp = sum(phi**i for i in range(1, h + 1))
    season = state[2 + (h - 1) % m] if m else 0.0
    return state[0] + damp * state[1] + season


class _Recursive:
    """What the statsmodels-fitted families share: a fit, then the same plain-Python recursion for the
    backtest, the per-tick forecast and advancing the state with new windows."""

    name: str
    recursive = True

    def fit(self, train: np.ndarray) -> tuple[tuple[float, ...], list[float]]:
        raise NotImplementedError

    def run(self, params: tuple[float, ...], state: list[float], values: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forecast(self, params: tuple[float, ...], state: tuple[float, ...], h: int) -> float:
        raise NotImplementedError

    def backtest(self, y: np.ndarray, t0: int, q: float, params: tuple[float, ...]) -> Backtest | None:
        return _backtest(self, y, t0, q)

    def predict(self, fitted: Fitted, y: np.ndarray, q: float, h: int) -> tuple[float, float]:
        point = self.forecast(fitted.params, fitted.state, h)
        return max(point + fitted.resid_q, 0.0), point

    def need(self, fitted: Fitted) -> int:
        return 0

    def advance(self, fitted: Fitted, new: np.ndarray) -> Fitted:
        state = list(fitted.state)
        self.run(fitted.params, state, new)
        return Fitted(fitted.family, fitted.params, fitted.resid_q, tuple(state), fitted.label)


class HoltWinters(_Recursive):
    """``ets``: ETS(A,Ad,N) (damped additive trend); ``holt_winters``: additive hourly season."""

    def __init__(self, name: str, trend: bool, season: int) -> None:
        self.name = name
        self.trend = trend
        self.season = season

    def fit(self, train: np.ndarray) -> tuple[tuple[float, ...], list[float]]:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ExponentialSmoothing(
                train,
                trend="add" if self.trend else None,
                damped_trend=self.trend,
                seasonal="add" if self.season else None,
                seasonal_periods=self.season or None,
                initialization_method="estimated",
            )
            p = model.fit().params

        def num(key: str, default: float) -> float:
            value = p.get(key)
            return default if value is None or not math.isfinite(float(value)) else float(value)

        params = (
            num("smoothing_level", 0.0),
            num("smoothing_trend", 0.0),
            num("smoothing_seasonal", 0.0),
            num("damping_trend", 1.0),
            float(self.season),
        )
        seasons = [float(s) for s in np.asarray(p.get("initial_seasons"))] if self.season else []
        return params, [num("initial_level", float(train.mean())), num("initial_trend", 0.0), *seasons]

    def run(self, params: tuple[float, ...], state: list[float], values: np.ndarray) -> np.ndarray:
        return np.array([hw_step(params, state, v) for v in values.tolist()])

    def forecast(self, params: tuple[float, ...], state: tuple[float, ...], h: int) -> float:
        return hw_forecast(params, state, h)


# --- SARIMAX(1,0,1) with a constant: y_t = c + phi*y_{t-1} + e_t + theta*e_{t-1} --------------------
# params = (c, phi, theta); state = (previous value, previous one-step error)


UNCONSTRAINED = {"enforce_stationarity": False, "enforce_invertibility": False}


class Sarimax(_Recursive):
    name = "sarimax"

    def fit(self, train: np.ndarray) -> tuple[tuple[float, ...], list[float]]:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Unconstrained with the scale concentrated out: ~9x faster than statsmodels' default on
            # these series, with an equal or better likelihood; constrained only if it wanders off.
            values = SARIMAX(train, order=(1, 0, 1), trend="c", concentrate_scale=True, **UNCONSTRAINED)
            c, phi, theta = (float(v) for v in values.fit(disp=False).params[:3])
            if abs(phi) >= 0.999 or abs(theta) >= 0.999:
                model = SARIMAX(train, order=(1, 0, 1), trend="c", concentrate_scale=True)
                c, phi, theta = (float(v) for v in model.fit(disp=False).params[:3])
        mean = c / (1.0 - phi) if abs(phi) < 0.999 else float(train.mean())
        return (c, phi, theta), [mean, 0.0]

    def run(self, params: tuple[float, ...], state: list[float], values: np.ndarray) -> np.ndarray:
        c, phi, theta = params
        previous, error = state
        out = []
        for value in values.tolist():
            forecast = c + phi * previous + theta * error
            out.append(forecast)
            previous, error = value, value - forecast
        state[0], state[1] = previous, error
        return np.array(out)

    def forecast(self, params: tuple[float, ...], state: tuple[float, ...], h: int) -> float:
        c, phi, theta = params
        forecast = c + phi * state[0] + theta * state[1]
        for _ in range(h - 1):
            forecast = c + phi * forecast
        return forecast


def _backtest(family: _Recursive, y: np.ndarray, t0: int, q: float) -> Backtest | None:
    """Fit on y[start:t0], run the recursion over y[start:], score origins t0..n-1 (no refit inside)."""
    start = max(0, t0 - MAX_FIT_WINDOWS)
    try:
        params, state = family.fit(y[start:t0])
    except Exception:  # a fit that fails (singular, degenerate series...) is just not a candidate
        return None
    forecasts = family.run(params, state, y[start:])
    if not np.all(np.isfinite(forecasts)) or not all(math.isfinite(s) for s in state):
        return None
    errors = y[start:] - forecasts
    train_q = residual_quantile(errors[BURN_IN : t0 - start], q)
    full_q = residual_quantile(errors[BURN_IN:], q)
    if train_q is None or full_q is None:
        return None
    upper = np.maximum(forecasts[t0 - start :] + train_q, 0.0)
    return Backtest(upper, Fitted(family.name, params, full_q, tuple(state)))


ETS = HoltWinters("ets", trend=True, season=0)
SARIMAX = Sarimax()


def holt_winters(season: int) -> HoltWinters:
    return HoltWinters("holt_winters", trend=False, season=season)
