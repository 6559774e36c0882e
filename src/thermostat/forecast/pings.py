"""The *real* concurrency the forecast learns from: the warmer's own pings removed.

CloudWatch's per-minute ``ConcurrentExecutions`` Maximum includes the warmer's pings: a ping round of
N alone makes that minute's Max = N. Learning from it would ratchet the warm count up forever, so
periods with pings (``WarmPing`` > 0) are re-estimated from the real invocations, never from the ping
count. :func:`real_concurrency` is the numpy version for whole histories; :func:`recent_real` is the
same rule in plain Python for the last few periods (the per-tick memo path, where numpy's per-call
overhead would dominate); a property test keeps the two identical.
"""

from __future__ import annotations

import math
import statistics

import numpy as np

from thermostat.forecast.history import TargetHistory

NEIGHBOUR_PERIODS = 2  # a contaminated period borrows from clean periods at most this many periods away


def typical_duration(history: TargetHistory) -> float | None:
    """Median Duration of the clean periods (no pings) that had invocations; None if there is none."""
    busy = ~(history.warm_pings > 0) & (history.invocations > 0) & ~np.isnan(history.duration_ms)
    return float(np.median(history.duration_ms[busy])) if busy.any() else None


def real_concurrency(history: TargetHistory, *, typical_duration_ms: float | None = None) -> np.ndarray:
    """Per-period concurrency of REAL traffic: the warmer's own pings removed (never learn from them).

    - Periods without pings: CloudWatch's concurrency as is (no datapoint = 0).
    - Periods with pings (contaminated: the pings alone can make Max = N): Little's law on the real
      invocations (``real_invocations`` when the target library reported it, else ``invocations -
      warm_pings``) x the typical real duration (``typical_duration_ms``, default the median Duration
      of clean periods, else the period's own) / period, rounded up and at least 1 when there was a
      real invocation; floored by the lower of the nearest clean neighbours (within 2 periods) when
      real work was plausibly running (real invocations, or runs of half a period or more), and by
      ``Max - pings`` (a round's pings are held together, so real traffic alone reached at least that);
      never above what CloudWatch saw. The ping count itself is never counted as concurrency.
    """
    conc = np.fmax(history.concurrency, 0.0)  # fmax drops NaN: no datapoint = 0
    dirty = np.flatnonzero(history.warm_pings > 0)
    if not len(dirty):
        return conc
    pings = history.warm_pings[dirty]
    invocations = np.fmax(history.invocations[dirty], 0.0)
    reported = history.real_invocations[dirty]
    real_inv = np.where(np.isnan(reported), np.maximum(invocations - pings, 0.0), reported)
    typical = typical_duration(history) if typical_duration_ms is None else typical_duration_ms
    # no clean reference: the period's own average (pings' holds included: errs high)
    own = np.fmax(history.duration_ms[dirty], 0.0)
    duration = own if typical is None else np.full(len(dirty), typical)
    period_ms = history.period_s * 1000.0
    little = np.ceil(real_inv * duration / period_ms - 1e-9)
    little = np.where(real_inv > 0, np.maximum(little, 1.0), 0.0)
    plausible = (real_inv > 0) | (duration >= period_ms / 2)
    clean = np.ones(len(conc), dtype=bool)
    clean[dirty] = False
    neighbours = np.where(plausible, _neighbour_floor(conc, dirty, np.flatnonzero(clean)), 0.0)
    estimate = np.maximum(np.maximum(little, neighbours), conc[dirty] - pings)
    observed = np.where(np.isnan(history.concurrency[dirty]), np.inf, conc[dirty])
    out = conc.copy()
    out[dirty] = np.minimum(estimate, observed)
    return out


def _neighbour_floor(conc: np.ndarray, dirty: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Per dirty index: min(previous clean value, next clean value) within NEIGHBOUR_PERIODS (one side
    if only one is that close; 0 if neither)."""
    if not len(clean):
        return np.zeros(len(dirty))
    pos = np.searchsorted(clean, dirty)
    prev = clean[np.maximum(pos - 1, 0)]
    nxt = clean[np.minimum(pos, len(clean) - 1)]
    prev_val = np.where((pos > 0) & (dirty - prev <= NEIGHBOUR_PERIODS), conc[prev], np.inf)
    next_val = np.where((pos < len(clean)) & (nxt - dirty <= NEIGHBOUR_PERIODS), conc[nxt], np.inf)
    floor = np.minimum(prev_val, next_val)
    return np.where(np.isinf(floor), 0.0, floor)


def recent_real(history: TargetHistory, periods: int, typical_duration_ms: float | None) -> list[float]:
    """:func:`real_concurrency` of the last ``periods`` periods, in plain Python.

    Computed on the last ``periods + NEIGHBOUR_PERIODS`` periods (the extra ones only as neighbours),
    with the typical duration given by the caller, so it equals
    ``real_concurrency(history.tail(periods + NEIGHBOUR_PERIODS), typical_duration_ms=...)[-periods:]``.
    """
    start = max(0, history.points - periods - NEIGHBOUR_PERIODS)
    raw = history.concurrency[start:].tolist()
    conc = [c if c > 0 else 0.0 for c in raw]  # NaN > 0 is False: no datapoint = 0
    ping_list = history.warm_pings[start:].tolist()
    dirty = [p > 0 for p in ping_list]
    keep = min(periods, len(conc))
    if not any(dirty):
        return conc[len(conc) - keep :]
    invocations = history.invocations[start:].tolist()
    reported = history.real_invocations[start:].tolist()
    durations = history.duration_ms[start:].tolist()
    typical = typical_duration_ms
    if typical is None:
        busy = [d for d, n, bad in zip(durations, invocations, dirty, strict=True) if not bad and n > 0 and d == d]
        typical = statistics.median(busy) if busy else None
    period_ms = history.period_s * 1000.0
    out = list(conc)
    for i, bad in enumerate(dirty):
        if not bad:
            continue
        pings = ping_list[i]
        calls = invocations[i] if invocations[i] > 0 else 0.0
        real_inv = reported[i] if reported[i] == reported[i] else max(calls - pings, 0.0)
        duration = typical if typical is not None else (durations[i] if durations[i] > 0 else 0.0)
        little = max(math.ceil(real_inv * duration / period_ms - 1e-9), 1.0) if real_inv > 0 else 0.0
        neighbour = 0.0
        if real_inv > 0 or duration >= period_ms / 2:
            near = [conc[j] for j in _closest_clean(dirty, i)]
            neighbour = min(near) if near else 0.0
        estimate = max(little, neighbour, conc[i] - pings)
        out[i] = min(estimate, conc[i]) if raw[i] == raw[i] else estimate
    return out[len(out) - keep :]


def _closest_clean(dirty: list[bool], i: int) -> list[int]:
    found = []
    for step in range(1, NEIGHBOUR_PERIODS + 1):
        if i - step >= 0 and not dirty[i - step]:
            found.append(i - step)
            break
    for step in range(1, NEIGHBOUR_PERIODS + 1):
        if i + step < len(dirty) and not dirty[i + step]:
            found.append(i + step)
            break
    return found
