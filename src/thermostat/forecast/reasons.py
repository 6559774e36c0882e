"""ForecastInfo for a model's forecast: desired, point, and the one-sentence reason operators read."""

from __future__ import annotations

import numpy as np

from thermostat import models
from thermostat.forecast.families import INTERMITTENT, RECENT_MAX, RENEWAL, Family, Fitted, ceil_desired


def _pq(q: float) -> str:
    return f"p{q * 100:.3g}"


def describe(
    family: Family, fitted: Fitted, y: np.ndarray, q: float, h: int, window_minutes: int, note: str = ""
) -> models.ForecastInfo:
    upper, point = family.predict(fitted, y, q, h)
    desired = ceil_desired(upper)
    per_hour = max(1, round(60 / window_minutes))
    recent = y[-per_hour:]
    peak = float(recent.max()) if len(recent) else 0.0
    suffix = f" ({note})" if note else ""
    if family is INTERMITTENT:
        p = INTERMITTENT.probability(fitted, y)
        if not (y[-int(fitted.params[0]) :] > 0).any():
            reason = f"no real traffic in the last {_hours(len(y), window_minutes)}: nothing to keep warm"
        elif p < 0.5:
            verdict = f"keep {desired} warm" if desired else "not worth a warm environment"
            reason = (
                f"sparse: traffic in {p:.0%} of recent {window_minutes}-min windows "
                f"(a {_pq(q)} pays off above {1 - q:.0%}): {verdict}"
            )
        else:
            reason = (
                f"traffic in {p:.0%} of recent {window_minutes}-min windows; "
                f"{_pq(q)} of their peaks → {desired}"
            )
    elif family is RENEWAL:
        p = RENEWAL.probability(fitted, y)
        verdict = f"{_pq(q)} of their peaks → {desired}" if desired else "not worth a warm environment"
        reason = (
            f"renewal: {p:.0%} chance of traffic in the next {window_minutes} min at "
            f"{_since(y, window_minutes)} since the last traffic (pays off above {1 - q:.0%}): {verdict}"
        )
    elif family is RECENT_MAX:
        reason = (
            f"peak {peak:g} in the last hour; {fitted.label} for the next {window_minutes} min: "
            f"{upper:g} → {desired}"
        )
    else:
        reason = (
            f"peak {peak:g} in the last hour; {fitted.label or family.name} {_pq(q)} "
            f"of next {window_minutes} min = {upper:.1f} → {desired}"
        )
    return models.ForecastInfo(
        desired=desired, quantile=q, model=family.name, reason=reason + suffix, point=round(float(point), 3)
    )


def _since(y: np.ndarray, window_minutes: int) -> str:
    active = np.flatnonzero(y > 0)
    return "no traffic yet" if not len(active) else _hours(len(y) - int(active[-1]), window_minutes)


def _hours(windows: int, window_minutes: int) -> str:
    minutes = windows * window_minutes
    return f"{minutes / 60:g} h" if minutes >= 60 else f"{minutes} min"
