"""State "Summarize": PlanState (or the previous report) + warm_results -> ReportState.

EMF metrics go to the Thermostat namespace (never a target's own), once per execution: when no top-up
round follows (so a top-up never counts a target twice).
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from thermostat.config import DEFAULT_NAMESPACE, SummarySettings
from thermostat.emf import emit
from thermostat.exceptions import InvalidInputError
from thermostat.summary import summarize
from thermostat.summary_output import metric_groups

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=DEFAULT_NAMESPACE)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidInputError("$", "Summarize needs the Plan output plus warm_results")
    settings = SummarySettings.from_env()
    report = summarize(event, settings, int(time.time() * 1000))
    if not report["topup_needed"] and not report["request"]["dry_run"]:
        metrics.namespace = settings.namespace
        emit(metric_groups(report, settings.per_target_metrics), settings.namespace, metrics)
        metrics.flush_metrics()  # run totals; only on the final round, so nothing is counted twice
    logger.info("summarized", extra={"totals": report["totals"], "topup_needed": report["topup_needed"],
                                     "round": report["run"]["round"], "summary": report["summary"].splitlines()})
    return dict(report)
