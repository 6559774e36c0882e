"""The ``thermostat`` policy: the deployed workflow's telemetry, forecast and planning code, run per tick.

Per function and tick, exactly what the workflow does for one target in one run, fed only what the
workflow would see:
1. CloudWatch, when :func:`thermostat.telemetry.read_due` says so (at the first run, every
   ``metric_read_hours``, early when the answers showed the pool outgrew the pings): per-minute
   ``ConcurrentExecutions`` Maximum INCLUDING the warmer's own pings, up to two minutes before now;
2. :func:`thermostat.forecast.forecast_target` on the record -> desired environments; the planner's
   ``allocate`` (min/max clamp, concurrency budget) -> pings sent;
3. the ping round in the environment pool, whose answers (environment ids, ``real`` requests since the
   previous ping, ages: what the target library reports) go through :func:`thermostat.telemetry.observe_round`.
Nothing here sees the future: the pool answers only for environments the pings reach. Outside the warm
hours (``awake`` False at that minute) a tick reads nothing and pings nothing, as the workflow does.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from thermostat import models, planning
from thermostat.forecast.target import TargetPolicy, forecast_target
from thermostat.records import FunctionConfig, new_record
from thermostat.sim.lifecycle import AnswerTuple, EnvPool
from thermostat.sim.policies import SimSettings
from thermostat.sim.workload import Profile
from thermostat.telemetry import PingAnswer, merge_cloudwatch, observe_round, read_due, read_window

MINUTE_MS = 60_000


class CloudWatchView:
    """Per-minute ``ConcurrentExecutions`` Maximum of one function as CloudWatch reports it (pings included)."""

    def __init__(self, prof: Profile) -> None:
        self.concurrency = prof.minute_max.astype(np.float64)

    def record_pings(self, minute: int, busy_after: int) -> None:
        if 0 <= minute < self.concurrency.size:
            self.concurrency[minute] = max(self.concurrency[minute], float(busy_after))

    def points(self, first_minute: int, end_minute: int, step_minutes: int, start_ms: int) -> list[tuple[int, float]]:
        """Datapoints of [first, end) at ``step_minutes`` (Maximum), only where something ran (CloudWatch
        has no datapoint for a minute without invocations)."""
        lo, hi = max(first_minute, 0), min(end_minute, self.concurrency.size)
        if hi <= lo:
            return []
        values = self.concurrency[lo:hi]
        if step_minutes > 1:
            pad = (-(hi - lo)) % step_minutes
            values = np.concatenate((values, np.zeros(pad))).reshape(-1, step_minutes).max(axis=1)
        nonzero = np.flatnonzero(values > 0)
        return [(start_ms + (lo + int(i) * step_minutes) * MINUTE_MS, float(values[i])) for i in nonzero]


class ThermostatTarget:
    """One function's record and policy; :meth:`decide` then :meth:`observe` once per tick."""

    def __init__(self, name: str, memory_mb: int, prof: Profile, start_ms: int, settings: SimSettings,
                 window: tuple[float, float] = (0.0, math.inf), awake: npt.NDArray[np.bool_] | None = None) -> None:
        self.settings = settings
        self.awake = awake
        self.window = window
        self.start_ms = start_ms
        self.view = CloudWatchView(prof)
        self.record = new_record(name, name, None, start_ms)
        self.record.config = FunctionConfig(arn=name, memory_mb=memory_mb, timeout_s=900, read_at_ms=start_ms)
        self.policy = TargetPolicy(floor=settings.discovery.min_warm, cap=settings.discovery.max_warm,
                                   price_per_cold_start=settings.price_per_cold_start,
                                   horizon_minutes=settings.forecast.horizon_minutes,
                                   use_statsmodels=settings.use_statsmodels)
        self.read_interval_ms = int(settings.metric_read_hours * 3600_000)
        self.metric_reads = 0
        self.real_cold_seen = 0
        self.terms: dict[str, int] = {}
        self.warm = 0

    def decide(self, minute: int) -> int:
        now = self.start_ms + minute * MINUTE_MS
        record = self.record
        if self.awake is not None and not self.awake[minute]:
            self.terms["hours"] = self.terms.get("hours", 0) + 1
            return 0
        if read_due(record, now, self.read_interval_ms) is not None:
            start, end, period_s = read_window(record, now)
            start = max(start, self.start_ms)  # the trace has no history before it starts
            step = period_s // 60
            first = (start - self.start_ms) // MINUTE_MS
            last = (end - self.start_ms) // MINUTE_MS
            merge_cloudwatch(record, self.view.points(first, last, step, self.start_ms), start, end, period_s, now)
            if self.window[0] <= minute * MINUTE_MS < self.window[1]:
                self.metric_reads += 1
        sizing = forecast_target(record, now, self.policy, warm_now=self.warm,
                                 hold_ms=self.settings.workflow_hold_ms)
        self.terms[sizing.term] = self.terms.get(sizing.term, 0) + 1
        desired = sizing.desired
        if desired <= 0:
            return 0
        # the planner's concurrency budget, as the Plan state applies it: the function's own account here
        # (each function of the Azure sample has its own owner), real traffic in use as CloudWatch last showed it
        in_use = self.view.concurrency[max(0, minute - self.settings.metrics_delay_minutes - 1)]
        target: models.TargetPlanInput = {
            "key": record.key, "function": record.function, "qualifier": None, "source": "tag",
            "min": self.policy.floor, "max": self.policy.cap, "price_per_cold_start": None,
            "memory_mb": record.config.memory_mb, "reserved": None, "provisioned": 0, "busy": None,
            "recent_peak": None, "described": True, "send_ahead_ms": record.send_ahead_ms, "protocol": 2,
        }
        account: models.AccountView = {"limit": self.settings.account_unreserved,
                                       "unreserved_limit": self.settings.account_unreserved,
                                       "unreserved_in_use": int(in_use), "read_at_ms": now}
        need = planning.Need(target, desired, sizing.term, sizing.reason)
        return planning.allocate([need], account, self.settings.plan.budget_share)[0].requested

    def observe(self, minute: int, sent: int, answers: list[AnswerTuple], busy_after: int) -> None:
        now = self.start_ms + minute * MINUTE_MS
        self.view.record_pings(minute, busy_after)
        hold = self.settings.workflow_hold_ms
        parsed = [PingAnswer(str(env), cold, hold, 0.0, real, None if age < 0 else age,
                             None if ping_age < 0 else ping_age, None)
                  for env, cold, real, age, ping_age in answers]
        summary = observe_round(self.record, now, sent, parsed, self.policy.horizon_minutes * MINUTE_MS,
                                self.record.send_ahead_ms)
        self.real_cold_seen += summary.real_cold_starts
        self.warm = summary.distinct


def run_thermostat(pool: EnvPool, target: ThermostatTarget, ticks: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Replay the function with the thermostat deciding at every tick; returns pings sent per tick."""
    sent = np.zeros(ticks.size, dtype=np.int64)
    hold = target.settings.workflow_hold_ms
    for k, minute in enumerate(ticks.tolist()):
        t = minute * float(MINUTE_MS)
        pool.serve_until(t)
        count = target.decide(minute)
        answers: list[AnswerTuple] = []
        busy_after = pool.ping(t, count, hold, answers)
        target.observe(minute, count, answers, busy_after)
        sent[k] = count
    return sent

