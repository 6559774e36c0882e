"""State "Plan": Forecast output (or a recorded Collect/Forecast failure) -> PlanState (budget, Map items)."""

from __future__ import annotations

import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from thermostat.config import DiscoverySettings, PlanSettings, StoreSettings
from thermostat.exceptions import ConfigurationError, InvalidInputError
from thermostat.plan_step import plan_state
from thermostat.store import StateStore

logger = Logger()
tracer = Tracer()
_stores: dict[str, StateStore] = {}


def state_store() -> StateStore:
    bucket = StoreSettings.from_env().bucket
    if not bucket:
        raise ConfigurationError("THERMOSTAT_STATE_BUCKET is not set: Plan writes the batches there")
    if bucket not in _stores:
        _stores[bucket] = StateStore(boto3.client("s3"), bucket)
    return _stores[bucket]


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidInputError("$", "Plan needs the Forecast output (ForecastedState) or a recorded failure")
    state = plan_state(event, state_store(), PlanSettings.from_env(), DiscoverySettings.from_env(),
                       int(time.time() * 1000))
    return dict(state)
