"""The Forecast state's work for a whole fleet: every target's sizing, then the optional monthly budget.

``forecast_fleet`` runs :func:`~thermostat.forecast.target.forecast_target` for each target of the run
(records in, one :class:`TargetForecast` out per target; a target whose record is broken gets its floor
and says why, the others go on), then, when a monthly budget is set, keeps the levels above each target's
floor that avoid the most cold starts per dollar until this run's share of the budget is spent (floors are
the owners' explicit minimums and always kept).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from thermostat import cost
from thermostat.forecast.hints import FitBudget
from thermostat.forecast.objective import Sizing
from thermostat.forecast.target import TargetPolicy, forecast_target
from thermostat.records import TargetRecord

logger = logging.getLogger(__name__)

FIT_SECONDS = 4.0  # statsmodels fitting per Forecast run, at most (import not counted: it is paid once)


@dataclass(frozen=True)
class TargetForecast:
    key: str
    desired: int
    term: str  # what decided (floor, recent, burst, headroom, loss, seasonal, periodic, max, budget, error)
    reason: str
    ping_usd_month: float = 0.0
    provisioned_usd_month: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"key": self.key, "desired": self.desired, "term": self.term, "reason": self.reason,
                               "ping_usd_month": round(self.ping_usd_month, 6),
                               "provisioned_usd_month": round(self.provisioned_usd_month, 4)}
        if self.error:
            doc["error"] = self.error
        return doc


@dataclass
class FleetForecast:
    targets: list[TargetForecast]
    memos: dict[str, dict[str, Any]]  # key -> record.model after this run (Summarize stores it)
    budget_note: str | None = None
    seconds: float = 0.0
    fits_deferred: int = 0  # targets whose model refit waits for a later run (the run's fit budget was spent)

    @property
    def terms(self) -> dict[str, int]:
        """How many targets each term decided."""
        return dict(Counter(forecast.term for forecast in self.targets))


def forecast_fleet(records: Mapping[str, TargetRecord], policies: Sequence[tuple[str, TargetPolicy]], now_ms: int,
                   *, monthly_budget_usd: float | None = None, warm_now: Mapping[str, int] | None = None,
                   fit_seconds: float = FIT_SECONDS, clock: Callable[[], float] = time.perf_counter) -> FleetForecast:
    """``policies``: (record key, what the owner says) for every target of this run, in report order."""
    started = clock()
    budget = FitBudget(fit_seconds, clock)
    sizings: list[tuple[Sizing | None, TargetForecast]] = []
    memos: dict[str, dict[str, Any]] = {}
    for key, policy in policies:
        record = records.get(key)
        if record is None:
            sizings.append((None, TargetForecast(key, policy.floor, "error", f"{policy.floor}: no record for "
                                                 "this target (state store rebuilt?); keeping its floor",
                                                 error="NoRecord")))
            continue
        try:
            sizing = forecast_target(record, now_ms, policy, warm_now=(warm_now or {}).get(key, 0), fit_budget=budget)
        except Exception as exc:  # one target's bad record never fails the others
            logger.warning("forecast_failed", extra={"target": key, "error": type(exc).__name__})
            sizings.append((None, TargetForecast(key, policy.floor, "error",
                                                 f"{policy.floor}: forecast failed ({type(exc).__name__}); "
                                                 "keeping its floor", error=f"{type(exc).__name__}: {exc}"[:300])))
            continue
        memos[key] = record.model
        sizings.append((sizing, TargetForecast(key, sizing.desired, sizing.term, sizing.reason,
                                               sizing.ping_usd_month, sizing.provisioned_usd_month)))
    note = None
    if monthly_budget_usd is not None and monthly_budget_usd > 0:
        note = _apply_budget(sizings, monthly_budget_usd, policies)
    if budget.deferred:
        logger.info("fits_deferred", extra={"targets": budget.deferred, "fit_seconds": fit_seconds})
    return FleetForecast([forecast for _, forecast in sizings], memos, note, clock() - started, budget.deferred)


def _apply_budget(sizings: list[tuple[Sizing | None, TargetForecast]], monthly_usd: float,
                  policies: Sequence[tuple[str, TargetPolicy]]) -> str:
    """Keep, fleet-wide, the levels that avoid the most per dollar until the budget of one run is spent."""
    horizon = {key: policy.horizon_minutes for key, policy in policies}
    floors_usd = 0.0
    items: list[tuple[float, float, int]] = []  # (value per dollar, monthly cost, index into sizings)
    for index, (sizing, forecast) in enumerate(sizings):
        if sizing is None:
            continue
        ticks = cost.MONTH_SECONDS / (horizon.get(forecast.key, 5) * 60.0)
        above = len(sizing.levels)
        floor = sizing.desired - above
        per_env = sizing.ping_usd_month / sizing.desired if sizing.desired else 0.0
        floors_usd += floor * per_env
        for level in sizing.levels:
            items.append((level.value_usd / max(level.cost_usd, 1e-12), level.cost_usd * ticks, index))
    spend = floors_usd
    kept: dict[int, int] = {}
    for _, monthly, index in sorted(items, key=lambda item: -item[0]):
        if spend + monthly > monthly_usd:
            continue
        spend += monthly
        kept[index] = kept.get(index, 0) + 1
    for index, (sizing, forecast) in enumerate(sizings):
        if sizing is None:
            continue
        floor = sizing.desired - len(sizing.levels)
        allowed = floor + kept.get(index, 0)
        if allowed < forecast.desired:
            sizings[index] = (sizing, replace(
                forecast, desired=allowed, term="budget",
                reason=f"{allowed}: monthly budget ${monthly_usd:g} reached (wanted {forecast.desired}: "
                       f"{forecast.reason})", ping_usd_month=forecast.ping_usd_month * allowed / forecast.desired))
    note = f"monthly budget ${monthly_usd:g}: ${spend:.2f}/month planned"
    if floors_usd > monthly_usd:
        note += f"; the floors alone cost ${floors_usd:.2f}/month (kept: they are the owners' minimums)"
    return note
