"""A minimal warm-aware target."""

from thermostat_target import warm_aware


@warm_aware
def handler(event, context):
    return {"ok": True}
