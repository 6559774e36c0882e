"""What one warm ping costs, as the forecast prices it and Plan reports it (no numpy: Plan imports it).

A ping holds its environment for a share of the target's learned send-ahead (the pings of a round arrive
spread over it) and is billed the hold plus the answer.
"""

from __future__ import annotations

from thermostat import cost
from thermostat.telemetry import SEND_AHEAD_DEFAULT_MS

PING_OVERHEAD_MS = 2.0  # billed beyond the hold (the answer)
HOLD_SHARE = 0.5  # a ping holds about this share of the learned send-ahead (arrivals spread over it)


def ping_hold_ms(send_ahead_ms: float | None) -> float:
    """What one ping holds its environment: a share of the learned send-ahead (the default until learned)."""
    return (send_ahead_ms if send_ahead_ms is not None else SEND_AHEAD_DEFAULT_MS) * HOLD_SHARE


def ping_usd(memory_mb: int, hold_ms: float) -> float:
    return cost.lambda_invocation_usd(memory_mb, hold_ms + PING_OVERHEAD_MS)


def ping_usd_month(memory_mb: int, pings: int, send_ahead_ms: float | None, period_s: int) -> float:
    """``pings`` pings every ``period_s`` for a month, each priced as the forecast prices it."""
    return pings * ping_usd(memory_mb, ping_hold_ms(send_ahead_ms)) * cost.MONTH_SECONDS / period_s
