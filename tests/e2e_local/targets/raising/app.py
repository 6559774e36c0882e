"""A target whose handler raises on every event (it is not warm-aware, so pings reach it too)."""


def handler(event, context):
    raise ValueError("this handler always fails")
