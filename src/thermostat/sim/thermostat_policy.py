"""The ``thermostat`` policy: the deployed workflow's forecast and planning code, run online per tick.

At each tick the target's history is what CloudWatch would show at that moment — per-minute
``ConcurrentExecutions`` Maximum and ``Invocations`` Sum *including* the warmer's own pings, Duration
Average, Throttles, and the target library's ``WarmPing``/``RealInvocation`` sums (written on every
invocation, so they are NaN exactly in minutes without any invocation) — up to the last complete minute
(``metrics_delay_minutes``), over ``DiscoverySettings.lookback_minutes``. The forecast
(``thermostat.forecast.forecast_peak``, memo carried between ticks) gives ``desired``; the planner's
``allocate`` (min/max clamp and concurrency budget) gives the pings actually sent.

The CloudWatch view is kept in full-length arrays updated in place when a ping is sent (a ping at
minute m only changes minute m, which becomes visible later), so each tick only slices views.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from thermostat import models, planning
from thermostat.collect import CURRENT_WINDOW_POINTS, latest
from thermostat.sim.lifecycle import EnvPool
from thermostat.sim.policies import SimSettings
from thermostat.sim.workload import Profile

# forecast_peak(history, settings, *, memo=..., now_ms=...) -> (ForecastInfo, memo)
Forecaster = Callable[..., tuple[models.ForecastInfo, Any]]
HistoryFactory = Callable[..., Any]


def real_forecaster() -> tuple[HistoryFactory, Forecaster]:
    """The deployed ``forecast_peak``, with its wall-clock fit budget lifted: that budget bounds a Lambda's
    run time, and here it would make a seeded replay depend on how loaded the machine is."""
    from thermostat.forecast import TargetHistory, forecast_peak

    return TargetHistory, functools.partial(forecast_peak, budget_s=math.inf)


class CloudWatchView:
    """Per-minute metrics of one function as CloudWatch would report them (NaN = no datapoint)."""

    def __init__(self, prof: Profile, hold_ms: float) -> None:
        count = prof.count.astype(np.float64)
        active = count > 0
        self.hold_ms = hold_ms
        self.real_count = count
        self.real_max = prof.minute_max.astype(np.float64)
        self.duration_sum = prof.duration_sum
        self.concurrency = np.where(self.real_max > 0, self.real_max, np.nan)
        self.invocations = np.where(active, count, np.nan)
        self.duration_ms = np.where(active, prof.duration_sum / np.maximum(count, 1.0), np.nan)
        self.throttles = np.where(active, 0.0, np.nan)
        self.warm_pings = np.where(active, 0.0, np.nan)
        self.real_invocations = np.where(active, count, np.nan)

    def record_pings(self, minute: int, count: int, busy_after: int) -> None:
        if count <= 0 or minute >= self.real_count.size:
            return
        real = float(self.real_count[minute])
        before = float(self.warm_pings[minute])
        pings = count + (0.0 if math.isnan(before) else before)
        total = real + pings
        self.invocations[minute] = total
        self.warm_pings[minute] = pings
        self.real_invocations[minute] = real
        self.duration_ms[minute] = (float(self.duration_sum[minute]) + pings * self.hold_ms) / total
        seen = float(self.concurrency[minute])
        self.concurrency[minute] = max(float(self.real_max[minute]), float(busy_after),
                                       0.0 if math.isnan(seen) else seen)
        if math.isnan(float(self.throttles[minute])):
            self.throttles[minute] = 0.0

    def record_throttles(self, by_minute: npt.NDArray[np.int64]) -> None:
        hit = by_minute > 0
        self.throttles[hit] = by_minute[hit].astype(np.float64)


class ThermostatTarget:
    """Online forecast + plan for one function; ``decide`` is called once per tick."""

    def __init__(self, name: str, memory_mb: int, prof: Profile, start_ms: int, settings: SimSettings,
                 factory: tuple[HistoryFactory, Forecaster] | None = None) -> None:
        self.name = name
        self.memory_mb = memory_mb
        self.settings = settings
        self.start_ms = start_ms
        self.view = CloudWatchView(prof, settings.workflow_hold_ms)
        self.history_cls, self.forecaster = factory or real_forecaster()
        self.memo: Any = None
        self.forecast_s = 0.0
        self.models: dict[str, int] = {}
        self._account: models.AccountLimits = {"concurrency_limit": settings.account_unreserved,
                                               "unreserved_concurrency": settings.account_unreserved}

    def decide(self, minute: int) -> int:
        s = self.settings
        hi = max(0, minute - s.metrics_delay_minutes)
        lo = max(0, hi - s.discovery.lookback_minutes)
        v = self.view
        history = self.history_cls(
            self.start_ms + lo * 60_000, 60, v.concurrency[lo:hi], v.invocations[lo:hi], v.duration_ms[lo:hi],
            v.throttles[lo:hi], v.warm_pings[lo:hi], v.real_invocations[lo:hi],
        )
        began = time.perf_counter()
        info, self.memo = self.forecaster(history, s.forecast, memo=self.memo, now_ms=self.start_ms + minute * 60_000)
        self.forecast_s += time.perf_counter() - began
        self.models[info["model"]] = self.models.get(info["model"], 0) + 1
        desired = info["desired"]
        if desired <= 0 and s.discovery.min_warm <= 0:
            return 0  # what allocate() returns for it, without building the documents
        # Collect Metrics' current_concurrency: the latest datapoint among the last few minutes
        recent = v.concurrency[max(lo, hi - CURRENT_WINDOW_POINTS):hi].tolist()
        seen = latest([None if math.isnan(value) else value for value in recent])
        current = 0 if seen is None else int(seen)
        target: models.TargetForecast = {
            "function": self.name, "qualifier": None, "arn": self.name, "min": s.discovery.min_warm,
            "max": s.discovery.max_warm, "memory_mb": self.memory_mb, "timeout_s": 900,
            "reserved_concurrency": None, "current_concurrency": current,
            "forecast": info,
        }
        return planning.allocate([target], self._account, s.plan.budget_share)[0].requested


def run_thermostat(pool: EnvPool, target: ThermostatTarget, ticks: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Replay the function with the thermostat deciding at every tick; returns pings sent per tick."""
    sent = np.zeros(ticks.size, dtype=np.int64)
    hold = target.settings.workflow_hold_ms
    throttled = 0
    for k, minute in enumerate(ticks.tolist()):
        t = minute * 60_000.0
        pool.serve_until(t)
        if pool.throttles != throttled and pool.throttles_by_minute is not None:
            target.view.record_throttles(pool.throttles_by_minute)
            throttled = pool.throttles
        count = target.decide(minute)
        busy_after = pool.ping(t, count, hold)
        target.view.record_pings(minute, count, busy_after)
        sent[k] = count
    return sent
