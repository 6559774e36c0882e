"""forecast_state: the Forecast state of the workflow (CollectedState -> ForecastState).

Every target gets a record. A target whose history is missing, malformed or makes the model fail gets
``error`` and a conservative ForecastInfo (model "none": 0 beyond the planner's per-target min; or
"fallback": its recent real peak), and the others go on. statsmodels fits share a run budget so that
a state with many dense targets still returns in time; past it, targets keep to the numpy baselines
and their reason says so.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace

import numpy as np

from thermostat import models
from thermostat.config import ForecastSettings
from thermostat.exceptions import InvalidInputError
from thermostat.forecast.families import ceil_desired
from thermostat.forecast.history import TargetHistory
from thermostat.forecast.peak import forecast_peak
from thermostat.forecast.pings import real_concurrency
from thermostat.forecast.selection import Clock

logger = logging.getLogger(__name__)


def settings_for(request: models.Request, settings: ForecastSettings) -> ForecastSettings:
    """The execution input's quantile / horizon_minutes override the function's settings."""
    quantile = request.get("quantile", settings.quantile)
    horizon = request.get("horizon_minutes", settings.horizon_minutes)
    if not isinstance(quantile, int | float) or isinstance(quantile, bool) or not 0.0 < quantile < 1.0:
        raise InvalidInputError("request.quantile", f"must be a number in (0, 1), got {quantile!r}")
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise InvalidInputError("request.horizon_minutes", f"must be a positive integer, got {horizon!r}")
    return replace(settings, quantile=float(quantile), horizon_minutes=horizon)


def forecast_state(
    state: models.CollectedState,
    settings: ForecastSettings,
    *,
    run_budget_s: float | None = None,
    clock: Clock = time.perf_counter,
) -> models.ForecastState:
    """Lambda entry: every target forecast; a target whose history is missing/broken gets a record with
    ``error`` and a conservative ForecastInfo (model "none" or "fallback", reason saying why) — one bad
    target never fails the others. Request.quantile/horizon_minutes override settings."""
    settings = settings_for(state["request"], settings)
    now_ms = int(state["run"]["started_at_ms"])
    started = clock()
    run_budget_s = settings.run_budget_seconds if run_budget_s is None else run_budget_s
    targets: list[models.TargetForecast] = []
    models_used: dict[str, int] = {}
    errors = 0
    for index, target in enumerate(state["targets"]):
        remaining = run_budget_s - (clock() - started)
        info, error = _forecast_target(target, index, settings, now_ms, remaining, clock)
        record = models.TargetForecast(
            function=target["function"],
            qualifier=target.get("qualifier"),
            arn=target.get("arn", ""),
            min=target.get("min", 0),
            max=target.get("max", 0),
            memory_mb=target.get("memory_mb", 128),
            timeout_s=target.get("timeout_s", 3),
            reserved_concurrency=target.get("reserved_concurrency"),
            current_concurrency=target.get("current_concurrency", 0),
            forecast=info,
        )
        if error:
            record["error"] = error
            errors += 1
        models_used[info["model"]] = models_used.get(info["model"], 0) + 1
        targets.append(record)
    logger.info(
        "forecast",
        extra={
            "targets": len(targets),
            "errors": errors,
            "models": models_used,
            "seconds": round(clock() - started, 3),
            "quantile": settings.quantile,
            "horizon_minutes": settings.horizon_minutes,
        },
    )
    return models.ForecastState(run=state["run"], request=state["request"], account=state["account"], targets=targets)


def _forecast_target(
    target: models.TargetMetrics,
    index: int,
    settings: ForecastSettings,
    now_ms: int,
    remaining_s: float,
    clock: Clock,
) -> tuple[models.ForecastInfo, str | None]:
    """(forecast, error or None); never raises for a target's own data."""
    wire = target.get("history")
    if wire is None or target.get("error"):
        error = target.get("error") or "NoHistory: Collect Metrics returned no history for this target"
        return _none(settings, f"no usable history ({error}): nothing warmed beyond min"), error
    try:
        history = TargetHistory.from_wire(wire, path=f"targets[{index}].history")
    except InvalidInputError as exc:
        error = f"InvalidInputError: {exc}"
        return _none(settings, f"history unreadable ({exc}): nothing warmed beyond min"), error
    budget = min(settings.max_seconds_per_target, remaining_s)
    try:
        info, _ = forecast_peak(history, settings, now_ms=now_ms, budget_s=max(budget, 0.0), clock=clock)
    except Exception as exc:  # one target's model failure must not fail the run
        logger.warning(
            "forecast_failed",
            extra={"function": target.get("function"), "error": type(exc).__name__, "detail": str(exc)},
        )
        return _recent_peak(history, settings, exc), f"{type(exc).__name__}: {exc}"
    return info, None


def _none(settings: ForecastSettings, reason: str) -> models.ForecastInfo:
    return models.ForecastInfo(desired=0, quantile=settings.quantile, model="none", reason=reason, point=0.0)


def _recent_peak(history: TargetHistory, settings: ForecastSettings, exc: Exception) -> models.ForecastInfo:
    """The model failed: keep the real peak of the last hour (a robust floor), and say why."""
    try:
        real = real_concurrency(history)[-max(1, 3600 // history.period_s) :]
        peak = float(np.max(real)) if len(real) else 0.0
    except Exception:  # the history itself is unusable
        peak = 0.0
    peak = peak if math.isfinite(peak) else 0.0
    reason = f"model failed ({type(exc).__name__}); keeping the real peak of the last hour, {peak:g}"
    return models.ForecastInfo(
        desired=ceil_desired(peak), quantile=settings.quantile, model="fallback", reason=reason, point=peak
    )
