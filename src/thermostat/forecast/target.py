"""One target's forecast: record -> (memo refreshed) -> demand + hints -> dollars -> :class:`Sizing`.

The same function runs in the Forecast Lambda (every target of a run) and in the simulator (every tick of
every function), so what the simulator reports is what the deployed workflow would do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from thermostat.forecast.demand import demand
from thermostat.forecast.hints import FitBudget, hints_for, refresh_memo
from thermostat.forecast.objective import DEFAULT_PRICE_PER_COLD_START, Prices, Sizing, size
from thermostat.ping_price import ping_hold_ms
from thermostat.records import SLOT_MS, TargetRecord
from thermostat.telemetry import INIT_DEFAULT_MS

# After a round in which every environment reached had served real traffic AND real traffic was seen starting
# environments of its own (the pool outgrew the pings), the next round pings this many times as many.
PROBE_FACTOR = 2


@dataclass(frozen=True)
class TargetPolicy:
    """What the owner (input > tags > stack) says about one target."""

    floor: int = 1
    cap: int = 50
    price_per_cold_start: float = DEFAULT_PRICE_PER_COLD_START
    horizon_minutes: int = 5
    use_statsmodels: bool = True
    quantile: float = 0.95  # at least the quantile of the next window's peak, whatever the price says


def forecast_target(record: TargetRecord, now_ms: int, policy: TargetPolicy, *, warm_now: int = 0,
                    hold_ms: float | None = None, fit_budget: FitBudget | None = None) -> Sizing:
    """Desired environments for the window that starts now (never below floor, never above cap)."""
    refresh_memo(record, now_ms, policy.use_statsmodels, fit_budget)
    horizon_slots = max(1, math.ceil(policy.horizon_minutes * 60_000 / SLOT_MS))
    need = demand(record, now_ms, horizon_slots)
    hints = hints_for(record, now_ms, policy.horizon_minutes * 60_000)
    prices = Prices(price_per_cold_start=policy.price_per_cold_start, memory_mb=record.config.memory_mb,
                    hold_ms=hold_ms if hold_ms is not None else ping_hold_ms(record.send_ahead_ms),
                    init_ms=record.init_ms if record.init_ms is not None else INIT_DEFAULT_MS,
                    window_minutes=float(policy.horizon_minutes))
    sizing = size(need, prices, floor=min(policy.floor, policy.cap), cap=policy.cap, warm_now=warm_now, hints=hints,
                  coverage=policy.quantile)
    window_ms = policy.horizon_minutes * 60_000
    recently_saturated = 0 <= now_ms - record.saturated_at_ms <= window_ms + SLOT_MS
    if PROBE_FACTOR and warm_now and recently_saturated and record.cw_early:
        probe = min(policy.cap, PROBE_FACTOR * warm_now)
        if probe > sizing.desired:
            return replace(sizing, desired=probe, term="probe",
                           reason=f"{probe}: probing — every one of the {warm_now} environments reached last round "
                                  f"had served real traffic, so the pool may be larger; {sizing.reason}")
    return sizing
