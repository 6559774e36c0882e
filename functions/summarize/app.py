"""State "Summarize": Plan output (or this state's round-0 output) + warm_results -> the run's report.

Records, report and lease go through the state store (env ``THERMOSTAT_STATE_BUCKET``). EMF metrics go to
the Thermostat namespace (never a target's own) with the ``Stack`` dimension, once per execution: when no
top-up round follows (so a top-up never counts a target twice) and not on a dry run.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from thermostat.config import StoreSettings, SummarySettings
from thermostat.emf import emit
from thermostat.exceptions import ConfigurationError, InvalidInputError
from thermostat.store import StateStore
from thermostat.summary import summarize
from thermostat.summary_output import metric_groups

logger = Logger()
tracer = Tracer()
_stores: dict[str, StateStore] = {}


def state_store(bucket: str) -> StateStore:
    if not bucket:
        raise ConfigurationError("THERMOSTAT_STATE_BUCKET is not set: Summarize keeps records and reports there")
    if bucket not in _stores:
        _stores[bucket] = StateStore(boto3.client("s3"), bucket)
    return _stores[bucket]


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidInputError("$", "Summarize needs the Plan output plus warm_results")
    settings = SummarySettings.from_env()
    where = StoreSettings.from_env()
    result = summarize(event, settings, state_store(where.bucket), int(time.time() * 1000))
    if result.emit_metrics:
        status = result.output["status"]
        emit(metric_groups(result.totals, result.reports, stack=where.stack_name or "unknown", status=status,
                           per_target=settings.per_target_metrics), settings.namespace)
    for line in result.output["summary"].splitlines()[:3]:
        logger.info(line)
    return dict(result.output)
