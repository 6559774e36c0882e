"""State "Validate Input": execution input -> RunState {run, request, enabled}.

Malformed input raises InvalidInputError("field.path: problem"); the state machine ends in a Fail state
with that error name and message as its cause. The input's JSON Schema: docs/execution-input.schema.json.
When THERMOSTAT_KILL_SWITCH_PARAMETER names an SSM parameter, its value is read here, at every run start.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from thermostat.config import RunSettings
from thermostat.validation import build_run_state

logger = Logger()
tracer = Tracer()

# The kill switch is read once per run: short timeouts, two tries, then the run fails closed (disabled).
SSM_CONFIG = Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"})
_clients: dict[str, Any] = {}


def ssm_client() -> Any:
    if "ssm" not in _clients:
        _clients["ssm"] = boto3.client("ssm", config=SSM_CONFIG)
    return _clients["ssm"]


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = RunSettings.from_env()
    state = build_run_state(event, settings, int(time.time() * 1000),
                            fallback_id=f"direct-{context.aws_request_id}",
                            ssm=ssm_client() if settings.kill_switch_parameter else None)
    logger.info("input_validated", extra={"run": state["run"]["id"], "enabled": state["enabled"],
                                          "reason": state.get("reason"),
                                          "targets": len(state["request"]["targets"]),
                                          "discover": state["request"]["discover"],
                                          "dry_run": state["request"]["dry_run"]})
    return dict(state)
