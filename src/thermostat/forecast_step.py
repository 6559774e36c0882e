"""State "Forecast": CollectedState -> CollectedState + ``forecast`` (an envelope of :class:`models.ForecastDoc`).

The records are loaded read-only (Collect Metrics saved them a moment ago; Summarize saves the memos this
forecast refreshed). Per target, the owner's policy: ``min`` -> floor, ``max`` -> cap, the price per cold
start of the target (execution input) > of the request > of the stack; the horizon of the request. The
monthly budget is the request's, else the stack's (0 = none). ``warm_now`` = what the last plan sent, when
it is recent (a level above it pays a warming init). numpy/statsmodels are imported only here, lazily.

A target outside its warm hours is not forecast (Plan gives it 0). A deploy (``trigger: deploy``) is not
forecast either: each target is sized by its last plan — its own record's, else the most recent of the same
function's records (a new version warmed for the alias that will point to it) — within its min/max, and a
target new to the store gets its floor (term ``deploy``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from thermostat import claims, models
from thermostat.config import ForecastSettings
from thermostat.exceptions import InvalidInputError
from thermostat.records import TargetRecord, decode_records
from thermostat.store import StateStore

if TYPE_CHECKING:
    from thermostat.forecast import FleetForecast, TargetPolicy

logger = logging.getLogger(__name__)

WARM_NOW_MS = 15 * 60_000  # a last plan younger than this still has its environments warm


def awake(target: models.TargetPlanInput) -> bool:
    """Readable and inside its warm hours (or without any)."""
    return "error" not in target and target.get("in_hours") is not False


def policies(targets: Sequence[models.TargetPlanInput], request: Mapping[str, Any], settings: ForecastSettings
             ) -> list[tuple[str, TargetPolicy]]:
    from thermostat.forecast import TargetPolicy

    default_price = request.get("price_per_cold_start", settings.price_per_cold_start)
    horizon = int(request.get("horizon_minutes", settings.horizon_minutes))
    quantile = float(request.get("quantile", settings.quantile))
    return [(t["key"], TargetPolicy(floor=t["min"], cap=t["max"],
                                    price_per_cold_start=(t["price_per_cold_start"]
                                                          if t["price_per_cold_start"] is not None else default_price),
                                    horizon_minutes=horizon, use_statsmodels=settings.use_statsmodels,
                                    quantile=quantile))
            for t in targets if awake(t)]


def monthly_budget(request: Mapping[str, Any], settings: ForecastSettings) -> float | None:
    budget = request.get("monthly_budget_usd", settings.monthly_budget_usd)
    return float(budget) if budget else None


def warm_now(records: Mapping[str, TargetRecord], now_ms: int) -> dict[str, int]:
    return {key: r.last_plan.requested for key, r in records.items()
            if r.last_plan is not None and now_ms - r.last_plan.at_ms <= WARM_NOW_MS}


def forecast_targets(records: Mapping[str, TargetRecord], targets: Sequence[models.TargetPlanInput],
                     request: Mapping[str, Any], settings: ForecastSettings, now_ms: int) -> FleetForecast:
    """Every readable target's forecast (records are updated in place: their memos)."""
    from thermostat.forecast import forecast_fleet

    return forecast_fleet(records, policies(targets, request, settings), now_ms,
                          monthly_budget_usd=monthly_budget(request, settings), warm_now=warm_now(records, now_ms))


def latest_plans(records: Mapping[str, TargetRecord]) -> dict[str, str]:
    """Function -> the key of its record with the most recent last plan (one pass over the store)."""
    latest: dict[str, tuple[int, str]] = {}
    for key, record in records.items():
        if record.last_plan is not None:
            mine = (record.last_plan.at_ms, key)
            latest[record.function] = max(latest.get(record.function, mine), mine)
    return {function: key for function, (_, key) in latest.items()}


def deploy_size(records: Mapping[str, TargetRecord], latest: Mapping[str, str], target: models.TargetPlanInput,
                now_ms: int) -> tuple[int, str]:
    """A deploy's desired count for ``target``: the last plan (its own, else the function's most recent,
    ``latest`` from :func:`latest_plans`) within min/max, else the floor; and why."""
    own = records.get(target["key"])
    key = target["key"] if own is not None and own.last_plan is not None else latest.get(target["function"])
    plan = None if key is None else records[key].last_plan
    if key is None or plan is None:
        return target["min"], f"{target['min']}: deploy, the floor (no plan for {target['function']} yet)"
    desired = min(max(plan.desired, target["min"]), target["max"])
    age = max(now_ms - plan.at_ms, 0) // 60_000
    return desired, f"{desired}: deploy, the last plan of {key} ({plan.desired}, {age} min ago)"


def deploy_doc(records: Mapping[str, TargetRecord], targets: Sequence[models.TargetPlanInput],
               settings: ForecastSettings, now_ms: int) -> models.ForecastDoc:
    """The Forecast state's document for a deploy: last plans, no model (no memo to store)."""
    from thermostat import cost
    from thermostat.ping_price import ping_usd_month

    latest = latest_plans(records)
    out: list[models.ForecastTarget] = []
    for t in targets:
        if not awake(t):
            continue
        desired, reason = deploy_size(records, latest, t, now_ms)
        out.append({"key": t["key"], "desired": desired, "term": "deploy", "reason": reason,
                    "ping_usd_month": round(ping_usd_month(t["memory_mb"], desired, t["send_ahead_ms"],
                                                           settings.tick_minutes * 60), 6),
                    "provisioned_usd_month": round(cost.provisioned_usd(t["memory_mb"], desired,
                                                                        cost.MONTH_SECONDS), 4)})
    return {"targets": out, "memos": {}, "budget_note": None}


def forecast_doc(fleet: FleetForecast) -> models.ForecastDoc:
    return {"targets": [t.to_json() for t in fleet.targets],  # type: ignore[misc]
            "memos": fleet.memos, "budget_note": fleet.budget_note}


def forecast_state(state: Mapping[str, Any], store: StateStore, settings: ForecastSettings, now_ms: int
                   ) -> dict[str, Any]:
    """The Forecast state: Collect's output + ``forecast``."""
    for key in ("run", "request", "targets"):
        if not isinstance(state.get(key), dict):
            raise InvalidInputError(key, "missing: Forecast needs the Collect Metrics output (CollectedState)")
    targets: list[models.TargetPlanInput] = claims.resolve(store, state["targets"], "targets")
    records, _ = decode_records(store.load().records)
    run: models.RunInfo = state["run"]
    if state["request"].get("trigger") == "deploy":
        doc = deploy_doc(records, targets, settings, now_ms)
        logger.info("forecast_done", extra={"targets": len(doc["targets"]), "deploy": True,
                                            "desired": sum(t["desired"] for t in doc["targets"])})
        return {**state, "forecast": claims.offload(store, models.run_name_of(run), "forecast", doc)}
    fleet = forecast_targets(records, targets, state["request"], settings, now_ms)
    logger.info("forecast_done", extra={"targets": len(fleet.targets), "seconds": round(fleet.seconds, 3),
                                        "desired": sum(t.desired for t in fleet.targets), "terms": fleet.terms,
                                        "budget_note": fleet.budget_note})
    return {**state, "forecast": claims.offload(store, models.run_name_of(run), "forecast", forecast_doc(fleet))}
