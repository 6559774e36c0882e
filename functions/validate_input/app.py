"""State "Validate Input": execution input -> RunState {run, request, enabled}.

Malformed input raises InvalidInputError("field.path: problem"); the state machine ends in a Fail state
with that error name and message as its cause.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from thermostat.config import RunSettings
from thermostat.validation import build_run_state

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    state = build_run_state(event, RunSettings.from_env(), int(time.time() * 1000),
                            fallback_id=f"direct-{context.aws_request_id}")
    logger.info("input_validated", extra={"run": state["run"]["id"], "enabled": state["enabled"],
                                          "targets": len(state["request"]["targets"]),
                                          "discover": state["request"]["discover"],
                                          "dry_run": state["request"]["dry_run"]})
    return dict(state)
