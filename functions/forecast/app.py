"""State "Forecast": CollectedState -> ForecastState (statsmodels; the one heavy handler)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from thermostat.config import ForecastSettings
from thermostat.exceptions import InvalidInputError
from thermostat.forecast import forecast_state

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("targets"), list) \
            or not isinstance(event.get("request"), dict):
        raise InvalidInputError("$", "Forecast needs the Collect Metrics output (CollectedState)")
    state = forecast_state(event, ForecastSettings.from_env())  # applies (and checks) the request's overrides
    logger.info("forecast_done", extra={"targets": len(state["targets"]),
                                        "desired": sum(t["forecast"]["desired"] for t in state["targets"])})
    return dict(state)
