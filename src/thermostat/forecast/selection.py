"""Per-target model selection: a rolling-origin backtest on the target's own per-window peak series.

Score: the mean pinball loss at the requested quantile q of the INTEGER number that would have been
warmed (ceil of the upper forecast) against the real peak that followed. The pinball loss is the
expected cost with a cold start (under-forecast, per missing environment) costing q and a wasted warm
environment (over-forecast) costing 1 - q: at q = 0.95 one cold start is worth 19 wasted pings, and
the forecast that minimises it is the q-quantile. Ties (common on small integer series) go to the
lower over-provisioning, then to the simpler model (candidate order).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from thermostat.forecast import smooth
from thermostat.forecast.families import (
    INTERMITTENT,
    RECENT_MAX,
    RECENT_QUANTILE,
    RENEWAL,
    SEASONAL_NAIVE,
    Family,
    Fitted,
    span,
)

MIN_BACKTEST_HOURS = 2  # fewer windows than this: no backtest, recent-max over what there is
TEST_HOURS = (1, 8)  # the held-out span (under 2 days of history): a third of it, within these bounds
STATSMODELS_MIN_TRAIN_HOURS = 6
STATSMODELS_MIN_ACTIVE = 0.8  # share of training windows with traffic
STATSMODELS_MIN_DISTINCT = 4  # distinct peak values: on 0/1/2 series integer baselines cannot be beaten
INTERMITTENT_HALF_LIFE_HOURS = 6.0
RENEWAL_AGES_HOURS = 1  # the renewal model tells apart ages up to this long since the last traffic
RENEWAL_PRIOR = 2.0  # ... and shrinks each age's share towards the overall one with this many windows
MAX_SEASON = 24  # Holt-Winters seasons longer than this many windows cost too much to fit

Clock = Callable[[], float]


@dataclass(frozen=True)
class Choice:
    family: Family
    fitted: Fitted
    scores: tuple[tuple[str, float], ...]  # (label, mean pinball loss) of every candidate scored
    note: str = ""  # e.g. "statsmodels skipped: budget"
    statsmodels_tried: bool = False  # statsmodels candidates were fitted and scored


def pinball(actual: np.ndarray, desired: np.ndarray, q: float) -> tuple[float, float]:
    """(mean pinball loss at q, mean over-provisioning) of integer forecasts."""
    under = np.maximum(actual - desired, 0.0)
    over = np.maximum(desired - actual, 0.0)
    return float(np.mean(q * under + (1.0 - q) * over)), float(np.mean(over))


def baseline_candidates(
    t0: int, per_hour: int, per_day: int, window_minutes: int
) -> list[tuple[Family, tuple[float, ...], str]]:
    half_life = max(1.0, INTERMITTENT_HALF_LIFE_HOURS * per_hour)
    season = per_day if t0 - per_day >= per_hour else per_hour
    candidates: list[tuple[Family, tuple[float, ...], str]] = [
        (RECENT_MAX, (1.0,), f"recent-max({span(1, window_minutes)})"),
        (RECENT_MAX, (float(max(2, per_hour // 4)),), f"recent-max({span(max(2, per_hour // 4), window_minutes)})"),
        (RECENT_MAX, (float(per_hour),), f"recent-max({span(per_hour, window_minutes)})"),
        (RECENT_MAX, (float(3 * per_hour),), f"recent-max({span(3 * per_hour, window_minutes)})"),
        (RECENT_QUANTILE, (float(2 * per_hour),), f"quantile of {span(2 * per_hour, window_minutes)} peaks"),
        (RECENT_QUANTILE, (float(per_day),), f"quantile of {span(per_day, window_minutes)} peaks"),
        (SEASONAL_NAIVE, (float(season),), f"seasonal-naive({span(season, window_minutes)})"),
        (SEASONAL_NAIVE, (1.0,), "last peak + its step-up quantile"),
        (INTERMITTENT, (float(per_day), half_life), "intermittent"),
        (RENEWAL, (float(per_day), float(RENEWAL_AGES_HOURS * per_hour), RENEWAL_PRIOR), "renewal"),
    ]
    seen: set[tuple[str, tuple[float, ...]]] = set()
    unique: list[tuple[Family, tuple[float, ...], str]] = []
    for family, params, label in candidates:  # short horizons make some sizes coincide
        if (family.name, params) not in seen:
            seen.add((family.name, params))
            unique.append((family, params, label))
    return unique


def statsmodels_candidates(per_hour: int) -> list[tuple[Family, tuple[float, ...], str]]:
    candidates: list[tuple[Family, tuple[float, ...], str]] = [(smooth.ETS, (), "ETS(A,Ad,N)")]
    if 2 <= per_hour <= MAX_SEASON:  # an hourly season of 1 is no season; of 60 one-minute windows, too slow
        candidates.append((smooth.holt_winters(per_hour), (), "Holt-Winters(1h season)"))
    candidates.append((smooth.SARIMAX, (), "SARIMAX(1,0,1)"))
    return candidates


def statsmodels_can_win(train: np.ndarray, per_hour: int) -> bool:
    """Dense, varied, long enough: only there can ETS/SARIMAX beat the integer baselines."""
    return (
        len(train) >= STATSMODELS_MIN_TRAIN_HOURS * per_hour
        and float(np.mean(train > 0)) >= STATSMODELS_MIN_ACTIVE
        and len(np.unique(train)) >= STATSMODELS_MIN_DISTINCT
    )


def test_span(n: int, per_hour: int, per_day: int) -> int:
    """Held-out windows: a whole day once there are 2 days + 1 h (daily patterns get tested), else a
    third of the history within TEST_HOURS."""
    if n >= 2 * per_day + per_hour:
        return per_day
    low, high = TEST_HOURS[0] * per_hour, TEST_HOURS[1] * per_hour
    return int(min(max(n // 3, low), high))


def select(
    y: np.ndarray,
    q: float,
    *,
    window_minutes: int,
    use_statsmodels: bool = True,
    budget_s: float = 0.5,
    clock: Clock = time.perf_counter,
) -> Choice:
    """Backtest every candidate on ``y`` (per-window peaks) and return the best one, fitted on all of y."""
    per_hour = max(1, round(60 / window_minutes))
    per_day = max(1, round(1440 / window_minutes))
    n = len(y)
    if n < MIN_BACKTEST_HOURS * per_hour:
        k = max(1, min(per_hour, n))
        label = f"recent-max({span(k, window_minutes)})"
        note = f"no backtest under {MIN_BACKTEST_HOURS} h of history"
        return Choice(RECENT_MAX, Fitted(RECENT_MAX.name, (float(k),), label=label), (), note)
    t0 = n - test_span(n, per_hour, per_day)
    actual = y[t0:]
    best: tuple[float, float, int] | None = None
    choice: tuple[Family, Fitted] | None = None
    scores: list[tuple[str, float]] = []
    note = ""
    candidates = baseline_candidates(t0, per_hour, per_day, window_minutes)
    if use_statsmodels and statsmodels_can_win(y[:t0], per_hour):
        if budget_s <= 0:
            note = "statsmodels skipped: run budget spent"
        else:
            smooth.preload()  # its import is not charged to the per-target budget
            candidates += statsmodels_candidates(per_hour)
    started = clock()
    for order, (family, params, label) in enumerate(candidates):
        if family.recursive and clock() - started > budget_s:
            note = "statsmodels skipped: time budget"
            continue
        result = family.backtest(y, t0, q, params)
        if result is None:
            continue
        desired = np.maximum(np.ceil(result.upper - 1e-9), 0.0)
        loss, over = pinball(actual, desired, q)
        scores.append((label, round(loss, 4)))
        key = (round(loss, 9), round(over, 9), order)
        if best is None or key < best:
            best = key
            fitted = result.fitted
            choice = family, Fitted(fitted.family, fitted.params, fitted.resid_q, fitted.state, label)
    assert choice is not None  # recent-max always backtests
    tried = any(family.recursive for family, _, _ in candidates)
    return Choice(choice[0], choice[1], tuple(scores), note, tried)
