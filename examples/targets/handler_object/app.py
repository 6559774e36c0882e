"""A handler object (what Mangum/FastAPI adapters give you): ``warm_aware`` wraps any callable.

``OrdersApi`` answers API Gateway HTTP API events (payload 2.0). A ping never reaches it; an HTTP
request whose body *looks like* a ping is still an HTTP request and reaches it. Prices are memoised
per currency with ``@cached``, refreshed ahead on pings.
"""

from __future__ import annotations

import json
from typing import Any

from thermostat_target import cached, warm_aware

RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79}


@cached(max_age=120, maxsize=16)
def exchange_rate(currency: str) -> float:
    """Stand-in for a rates service."""
    if currency not in RATES:
        raise KeyError(currency)
    return RATES[currency]


class OrdersApi:
    """A tiny router: ``GET /price?amount=&currency=`` and ``POST /echo``."""

    def __init__(self) -> None:
        self.requests = 0

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.requests += 1
        route = f"{event.get('requestContext', {}).get('http', {}).get('method', 'GET')} {event.get('rawPath', '/')}"
        if route == "GET /price":
            query = event.get("queryStringParameters") or {}
            currency = query.get("currency", "USD")
            try:
                rate = exchange_rate(currency)
            except KeyError:
                return _response(400, {"error": f"unknown currency {currency}"})
            return _response(200, {"amount": round(float(query.get("amount", "0")) * rate, 2),
                                   "currency": currency})
        if route == "POST /echo":
            return _response(200, {"echo": event.get("body"), "requests": self.requests})
        return _response(404, {"error": f"no route {route}"})


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


app = OrdersApi()
handler = warm_aware(app)
