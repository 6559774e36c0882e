"""State "Forecast": CollectedState -> + forecast (envelope). statsmodels is imported on first use only.

A failure here is caught by the state machine, which plans from the last plans instead (degraded).
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from thermostat.config import ForecastSettings, StoreSettings
from thermostat.exceptions import ConfigurationError, InvalidInputError
from thermostat.forecast_step import forecast_state
from thermostat.store import StateStore

logger = Logger()
tracer = Tracer()
_stores: dict[str, StateStore] = {}


def state_store() -> StateStore:
    bucket = StoreSettings.from_env().bucket
    if not bucket:
        raise ConfigurationError("THERMOSTAT_STATE_BUCKET is not set: Forecast reads the records there")
    if bucket not in _stores:
        _stores[bucket] = StateStore(boto3.client("s3"), bucket)
    return _stores[bucket]


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidInputError("$", "Forecast needs the Collect Metrics output (CollectedState)")
    return forecast_state(event, state_store(), ForecastSettings.from_env(), int(time.time() * 1000))
