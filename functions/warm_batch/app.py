"""State "Warm Batch" (one Map iteration): Map item {batch, doc} -> {batch, round, result, counts}.

One boto3 Lambda client per execution environment, shared by every ping thread: its connection pool
holds a whole batch, the SDK never retries (``total_max_attempts`` 1) and its read timeout is above the
longest hold plus a cold start, so one ping is at most one invocation — throttles are retried by
``thermostat.warming_send`` with full jitter. The batch document and the results go through the state
store only when they are big (``thermostat.claims``); the S3 client is made on first need.
"""

from __future__ import annotations

import random
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from thermostat import claims
from thermostat.config import PlanSettings, StoreSettings
from thermostat.exceptions import ConfigurationError
from thermostat.store import StateStore
from thermostat.warming import (
    RESULT_INLINE_BYTES,
    Runtime,
    WarmOptions,
    batch_output,
    lambda_invoker,
    map_item_envelope,
    parse_warm_batch,
    warm_batch,
)
from thermostat_target.protocol import HARD_HOLD_CAP_MS

logger = Logger()
tracer = Tracer()

STOP_MARGIN_MS = 3000  # leave this much of the Lambda's own timeout to write and return the results
INIT_ALLOWANCE_S = 10  # a cold target's init phase (Lambda caps it at 10 s) before its hold starts
READ_TIMEOUT_S = HARD_HOLD_CAP_MS / 1000 + INIT_ALLOWANCE_S + 3  # > hold cap + init + margin: never cut short
_clients: dict[str, Any] = {}


def lambda_client() -> Any:
    if "lambda" not in _clients:
        pool = max(PlanSettings.from_env().max_batch_size, 10) + 8
        _clients["lambda"] = boto3.client("lambda", config=Config(
            max_pool_connections=pool, retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=3, read_timeout=READ_TIMEOUT_S, tcp_keepalive=True))
    return _clients["lambda"]


class LazyStore:
    """The run documents of the state store, with the S3 client made on first use (small batches: never)."""

    def _store(self) -> StateStore:
        if "store" not in _clients:
            bucket = StoreSettings.from_env().bucket
            if not bucket:
                raise ConfigurationError("THERMOSTAT_STATE_BUCKET is not set: the batch document is in S3")
            _clients["store"] = StateStore(boto3.client("s3"), bucket)
        store: StateStore = _clients["store"]
        return store

    def put_run_doc(self, run_name: str, name: str, doc: Any) -> str:
        return self._store().put_run_doc(run_name, name, doc)

    def get_run_doc(self, key: str) -> Any:
        return self._store().get_run_doc(key)


RUNTIME = Runtime(now_ms=lambda: time.time() * 1000.0, sleep=time.sleep, uniform=random.uniform)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    store = LazyStore()
    envelope, path = map_item_envelope(event)
    batch = parse_warm_batch(claims.resolve(store, envelope, path))
    stop_by = RUNTIME.now_ms() + context.get_remaining_time_in_millis() - STOP_MARGIN_MS
    outcomes = warm_batch(batch, lambda_invoker(lambda_client()), RUNTIME, WarmOptions(stop_by_ms=stop_by))
    limit = batch.get("result_inline_bytes", RESULT_INLINE_BYTES)
    name = f"result-{batch['round']}-{batch['batch']}"
    result = claims.offload(store, batch["run_name"] or "unnamed-run", name, outcomes, limit=limit)
    return dict(batch_output(batch, outcomes, result))
