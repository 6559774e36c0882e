"""State "Warm Batch" (one Map iteration): WarmBatch -> BatchResult.

One boto3 Lambda client per execution environment, shared by every ping thread: its connection pool
holds a whole batch, and the SDK never retries (``total_max_attempts`` 1) — throttles are retried by
``thermostat.warming`` with full jitter until the batch's deadline.
"""

from __future__ import annotations

import random
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from thermostat.config import PlanSettings
from thermostat.warming import Runtime, WarmOptions, lambda_invoker, parse_warm_batch, warm_batch

logger = Logger()
tracer = Tracer()

STOP_MARGIN_MS = 3000  # leave this much of the Lambda's own timeout to report the results
_client: Any = None


def lambda_client() -> Any:
    global _client
    if _client is None:
        pool = max(PlanSettings.from_env().max_batch_size, 10) + 4
        _client = boto3.client("lambda", config=Config(
            max_pool_connections=pool, retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=5, read_timeout=20, tcp_keepalive=True))
    return _client


RUNTIME = Runtime(now_ms=lambda: time.time() * 1000.0, sleep=time.sleep, uniform=random.uniform)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    batch = parse_warm_batch(event)
    stop_by = RUNTIME.now_ms() + context.get_remaining_time_in_millis() - STOP_MARGIN_MS
    result = warm_batch(batch, lambda_invoker(lambda_client()), RUNTIME, WarmOptions(stop_by_ms=stop_by))
    return dict(result)
