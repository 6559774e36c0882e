"""Schema-registry target: a schema fetched from a slow "registry", cached with a TTL, refreshed on pings.

The registry is simulated locally (a short sleep, ``SCHEMA_REGISTRY_LATENCY_MS``, default 150 ms) so the
example runs with no AWS account. Without Thermostat, the first request after the schema expires pays
the fetch; with ``@warm_aware(refresh=[schema])`` a warm ping reloads it ahead of expiry instead.
"""

from __future__ import annotations

import os
import time
from typing import Any

from thermostat_target import TTLValue, warm_aware

REGISTRY_LATENCY_S = min(float(os.environ.get("SCHEMA_REGISTRY_LATENCY_MS", "150")), 200.0) / 1000.0
SCHEMA_MAX_AGE_S = float(os.environ.get("SCHEMA_MAX_AGE_S", "600"))
_fetches = 0


def fetch_schema_from_registry() -> dict[str, Any]:
    """Stand-in for an HTTP call to a schema registry: slow, and versioned."""
    global _fetches
    time.sleep(REGISTRY_LATENCY_S)
    _fetches += 1
    return {
        "name": "order-placed",
        "version": _fetches,
        "required": ["order_id", "amount"],
        "fetched_at": time.time(),
    }


schema = TTLValue(fetch_schema_from_registry, max_age=SCHEMA_MAX_AGE_S, name="schema")


def publish(event: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Validate the event against the schema and "publish" it."""
    missing = [field for field in current["required"] if field not in event]
    if missing:
        return {"published": False, "missing": missing, "schema_version": current["version"]}
    return {"published": True, "order_id": event["order_id"], "schema_version": current["version"]}


@warm_aware(refresh=[schema])
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return publish(event, schema.get())
