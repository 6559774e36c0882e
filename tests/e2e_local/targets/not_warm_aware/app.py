"""A target without @warm_aware: every event, pings included, reaches the handler, which answers its own way."""


def handler(event, context):
    return {"statusCode": 200, "body": "hello from a function that does not know Thermostat"}
