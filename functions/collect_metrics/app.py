"""State "Collect Metrics": RunState -> CollectedState (targets + compact per-minute history).

Clients are created once per execution environment (lazily, so tests can monkeypatch ``clients``).
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from thermostat import models
from thermostat.collect import collect, raw_timestamp_cloudwatch
from thermostat.config import DiscoverySettings
from thermostat.discovery import Clients
from thermostat.exceptions import InvalidInputError

logger = Logger()
tracer = Tracer()

_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
_clients: Clients | None = None


def clients() -> Clients:
    global _clients
    if _clients is None:
        _clients = Clients(lambda_=boto3.client("lambda", config=_CLIENT_CONFIG),
                           cloudwatch=raw_timestamp_cloudwatch(_CLIENT_CONFIG),
                           tagging=boto3.client("resourcegroupstaggingapi", config=_CLIENT_CONFIG))
    return _clients


def _run_state(event: Any) -> models.RunState:
    if not isinstance(event, dict):
        raise InvalidInputError("$", "Collect Metrics needs the Validate Input output (RunState)")
    for key in ("run", "request"):
        if not isinstance(event.get(key), dict):
            raise InvalidInputError(key, "missing: Collect Metrics needs the Validate Input output (RunState)")
    return event


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    state = collect(_run_state(event), clients(), DiscoverySettings.from_env(), int(time.time() * 1000))
    return dict(state)
