"""SSM-backed configuration: a JSON parameter read through the provider, refreshed ahead on pings.

The parameter name comes from ``CONFIG_PARAMETER_NAME``. Nothing calls AWS at import: the first ping
(or the first request) loads it, later pings reload it before it expires, so requests read it from
memory. Powertools Parameters is used when installed, plain boto3 otherwise.
"""

from __future__ import annotations

import os
from typing import Any

from thermostat_target import warm_aware
from thermostat_target.providers import SSMParameter

PARAMETER_NAME = os.environ.get("CONFIG_PARAMETER_NAME", "/thermostat/demo/config")

config = SSMParameter(PARAMETER_NAME, max_age=300, transform="json", name="config")


@warm_aware(refresh=[config])
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = config.get()
    greeting = settings.get("greeting", "hello")
    who = event.get("name", "world") if isinstance(event, dict) else "world"
    return {"message": f"{greeting}, {who}", "config_age_s": round(config.age() or 0.0, 1)}
