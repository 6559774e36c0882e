"""State "Plan": ForecastState -> PlanState (min/max, concurrency budget, pings packed into batches)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from thermostat.config import PlanSettings
from thermostat.exceptions import InvalidInputError
from thermostat.planning import plan_round

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("targets"), list) \
            or not isinstance(event.get("account"), dict):
        raise InvalidInputError("$", "Plan needs the Forecast output (ForecastState)")
    state = plan_round(event, PlanSettings.from_env(), int(time.time() * 1000))
    logger.info("planned", extra={"targets": len(state["plan"]), "batches": len(state["batches"]),
                                  "pings": sum(r["requested"] for r in state["plan"]),
                                  "warm_needed": state["warm_needed"]})
    return dict(state)
