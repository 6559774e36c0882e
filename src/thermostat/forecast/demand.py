"""How many environments the next window may need: a survival function P(peak >= k) from the record.

Pipeline (one way): the record's slot series of real peaks -> window peaks of the last day -> weighted
empirical survival ``P(peak >= k)`` (recent windows weigh more: half-life :data:`HALF_LIFE_H`) -> a tail
beyond the largest peak seen (a new record is about as likely as one window in the sample; it thins out
over a scale that grows with the function's size) -> :class:`Demand`, which also names the evidence
(recent peak, burst of the last day) that the reasons quote.

Nothing here knows prices: :mod:`thermostat.forecast.objective` decides which levels are worth warming.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from thermostat.records import SLOT_MS, TargetRecord, slot_of

DAY_SLOTS = 288
RECENT_HOURS = 6
HALF_LIFE_H = 8.0  # weight of a window halves every this many hours of age
PRIOR_WINDOWS = 1.0  # pseudo-windows of the prior (what is assumed before anything is seen)
TAIL_SCALE = 0.15  # beyond the largest peak seen, P thins out by e every max(TAIL_SCALE_MIN, this x that peak)
TAIL_SCALE_MIN = 0.5
RECORD_WINDOWS = 1.0  # P(a new record) ~ this many windows' worth of the sample's weight ...
TOP_SHARE_FLOOR = 0.0  # ... times P(peak >= the top), at least this


@dataclass(frozen=True)
class Demand:
    """P(the next window's real peak >= k), with the evidence behind it."""

    levels: list[float]  # sorted known window peaks of the last day (ascending)
    cumulative: list[float]  # cumulative weight of ``levels`` (same order), for P(peak >= k)
    total: float  # total weight (+ prior)
    recent_peak: float  # largest window peak of the last RECENT_HOURS
    burst_age_h: float  # how long ago the burst (the largest window peak of the last day) was
    tail_start: float  # P(peak > burst_peak) (a new record)
    tail_scale: float
    tail_levels: float = math.inf  # how far above burst_peak a new record may reach (beyond it P = 0)

    @property
    def known_windows(self) -> int:
        """Windows of the last day with any knowledge."""
        return len(self.levels)

    @property
    def burst_peak(self) -> float:
        """The largest window peak of the last day."""
        return self.levels[-1] if self.levels else 0.0

    @property
    def silent(self) -> bool:
        """Known windows in the last day, none with real traffic."""
        return bool(self.known_windows) and self.burst_peak < 1

    def survival(self, k: int) -> float:
        """P(peak >= k) for k >= 1."""
        if k <= 0:
            return 1.0
        beyond = k - self.burst_peak
        if beyond > 0:
            if beyond > self.tail_levels:
                return 0.0
            return self.tail_start * math.exp(-(beyond - 1) / self.tail_scale)
        index = bisect.bisect_left(self.levels, k - 0.5)
        above = self.cumulative[-1] - (self.cumulative[index - 1] if index else 0.0)
        return max(above / self.total, self.tail_start)


def window_peaks(record: TargetRecord, now_ms: int, horizon_slots: int, slots: int = DAY_SLOTS
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(peaks, ages in hours) of the windows of ``horizon_slots`` slots ending at ``now``'s slot (the slot
    in progress counts, partly known), oldest first; NaN = nothing known in that window."""
    record.ensure_slots(now_ms)
    series = np.asarray(record.peaks[-slots:], dtype=np.float64)
    if horizon_slots > 1:
        cut = len(series) - len(series) % horizon_slots
        tail = series[len(series) - cut:].reshape(-1, horizon_slots)
        with np.errstate(all="ignore"):
            known = ~np.isnan(tail)
            series = np.where(known.any(axis=1), np.nanmax(np.where(known, tail, -np.inf), axis=1), np.nan)
    age_slots = (len(series) - 1 - np.arange(len(series))) * horizon_slots
    end = slot_of(now_ms)
    ages = (age_slots * SLOT_MS + (now_ms - end)) / 3600_000.0
    return series, ages


def demand(record: TargetRecord, now_ms: int, horizon_slots: int = 1) -> Demand:
    peaks, ages = window_peaks(record, now_ms, horizon_slots)
    known = ~np.isnan(peaks)
    values, age = peaks[known], ages[known]
    if not values.size:
        return Demand([], [], PRIOR_WINDOWS, 0.0, 0.0, 1.0, TAIL_SCALE_MIN)
    # ages count from the newest window known: evidence that merely ages, with nothing new learned since, weighs
    # as it did (the sample does not shrink, so the chance of a new record does not grow)
    weights = np.power(0.5, (age - age.min()) / HALF_LIFE_H)
    order = np.argsort(values, kind="stable")
    levels, cumulative = values[order], np.cumsum(weights[order])
    total = float(cumulative[-1]) + PRIOR_WINDOWS
    recent_mask = age <= RECENT_HOURS
    recent = float(values[recent_mask].max()) if recent_mask.any() else 0.0
    top = int(np.argmax(values))
    burst = float(values[top])
    if burst < 1:
        # nothing but silence: P(it wakes up) ~ 1/(N+1) for N silent windows (age says nothing here), and
        # waking up with two requests at once is not worth warming for (the tail stops one level up)
        tail_start, tail_levels = RECORD_WINDOWS / (values.size + PRIOR_WINDOWS), 1.0
    else:
        # a new record is as likely as RECORD_WINDOWS windows of the sample, and only in a window that
        # reaches the top at all: scaled by how often the top is reached
        first_top = int(np.searchsorted(levels, burst - 0.5))
        at_top = (cumulative[-1] - (cumulative[first_top] - weights[order][first_top])) / total
        tail_start, tail_levels = RECORD_WINDOWS / total * max(at_top, TOP_SHARE_FLOOR), math.inf
    return Demand(levels=levels.tolist(), cumulative=cumulative.tolist(), total=total, recent_peak=recent,
                  burst_age_h=float(age[top]), tail_start=tail_start,
                  tail_scale=max(TAIL_SCALE_MIN, TAIL_SCALE * burst), tail_levels=tail_levels)
