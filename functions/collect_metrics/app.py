"""State "Collect Metrics": RunState -> CollectedState (lease, targets, Lambda and CloudWatch reads, records).

Clients are created once per execution environment (lazily, so tests can replace them). A failure here
is caught by the state machine, which plans from the state store instead (degraded).
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from thermostat.collect import collect
from thermostat.config import DiscoverySettings, StoreSettings, SummarySettings
from thermostat.discovery import Clients
from thermostat.emf import emit
from thermostat.exceptions import ConfigurationError, InvalidInputError
from thermostat.metric_data import raw_timestamp_cloudwatch
from thermostat.store import StateStore
from thermostat.summary_output import COUNT, MetricGroup

logger = Logger()
tracer = Tracer()

_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
_clients: dict[str, Any] = {}


def clients() -> Clients:
    if "aws" not in _clients:
        _clients["aws"] = Clients(lambda_=boto3.client("lambda", config=_CLIENT_CONFIG),
                                  cloudwatch=raw_timestamp_cloudwatch(_CLIENT_CONFIG),
                                  tagging=boto3.client("resourcegroupstaggingapi", config=_CLIENT_CONFIG))
    aws: Clients = _clients["aws"]
    return aws


def state_store() -> StateStore:
    if "store" not in _clients:
        bucket = StoreSettings.from_env().bucket
        if not bucket:
            raise ConfigurationError("THERMOSTAT_STATE_BUCKET is not set: Collect Metrics keeps the records there")
        _clients["store"] = StateStore(boto3.client("s3", config=_CLIENT_CONFIG), bucket)
    store: StateStore = _clients["store"]
    return store


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("run"), dict) \
            or not isinstance(event.get("request"), dict):
        raise InvalidInputError("$", "Collect Metrics needs the Validate Input output (RunState)")
    state = collect(event, clients(), state_store(), DiscoverySettings.from_env(),  # type: ignore[arg-type]
                    int(time.time() * 1000))
    if state["overlap"]:  # the run ends here (Summarize never runs): the Overlap metric is emitted now
        stack = StoreSettings.from_env().stack_name or "unknown"
        emit([MetricGroup((("Stack", stack),), (("Overlap", COUNT, 1.0),))], SummarySettings.from_env().namespace)
    return dict(state)
