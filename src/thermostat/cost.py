"""Prices and cost arithmetic: one table, with its date, used by Summarize and by the simulator.

All prices are AWS list prices in us-east-1 (x86_64), as published on the date below. INIT duration
has been billed like any other duration since 2025-08-01, so a warming init costs its init time.
A "month" is 30 days (a 24 h trace scales by 30); say so wherever a monthly figure is printed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Prices:
    as_of: str = "2026-12-01"
    region: str = "us-east-1"
    lambda_gb_second: float = 0.0000166667  # x86_64, first pricing tier
    lambda_request: float = 0.20 / 1_000_000
    provisioned_gb_second: float = 0.0000041667  # Provisioned Concurrency, per GB-s configured
    sfn_standard_transition: float = 0.025 / 1_000
    sfn_express_request: float = 1.00 / 1_000_000
    sfn_express_gb_second: float = 0.00001667
    get_metric_data_metric: float = 0.01 / 1_000
    s3_put: float = 0.005 / 1_000  # PUT, COPY, POST, LIST (S3 Standard)
    s3_get: float = 0.0004 / 1_000  # GET and all other requests


PRICES = Prices()
MONTH_SECONDS = 30 * 86_400
MINUTES_PER_MONTH = MONTH_SECONDS // 60

EXPRESS_MIN_MEMORY_MB = 64
EXPRESS_BILLING_INCREMENT_MS = 100


def gb_seconds(memory_mb: float, duration_ms: float) -> float:
    return (memory_mb / 1024.0) * (duration_ms / 1000.0)


def lambda_duration_usd(memory_mb: float, billed_ms: float, prices: Prices = PRICES) -> float:
    """Duration charge of ``billed_ms`` milliseconds (1 ms granularity) at ``memory_mb``."""
    return gb_seconds(memory_mb, math.ceil(max(billed_ms, 0.0))) * prices.lambda_gb_second


def lambda_invocation_usd(memory_mb: float, billed_ms: float, count: int = 1, prices: Prices = PRICES) -> float:
    """``count`` invocations of ``billed_ms`` each (requests + duration)."""
    if count <= 0:
        return 0.0
    return count * (prices.lambda_request + lambda_duration_usd(memory_mb, billed_ms, prices))


def sfn_standard_usd(transitions: int, prices: Prices = PRICES) -> float:
    return max(transitions, 0) * prices.sfn_standard_transition


def sfn_express_usd(requests: int, duration_ms: float, memory_mb: float = EXPRESS_MIN_MEMORY_MB,
                    prices: Prices = PRICES) -> float:
    """Express workflows: per request plus GB-s of the execution (100 ms increments, ≥ 64 MB)."""
    billed_ms = math.ceil(max(duration_ms, 0.0) / EXPRESS_BILLING_INCREMENT_MS) * EXPRESS_BILLING_INCREMENT_MS
    memory = max(memory_mb, EXPRESS_MIN_MEMORY_MB)
    return max(requests, 0) * (prices.sfn_express_request
                               + gb_seconds(memory, billed_ms) * prices.sfn_express_gb_second)


def get_metric_data_usd(metrics: int, prices: Prices = PRICES) -> float:
    """GetMetricData is billed per metric requested (each MetricDataQuery with a MetricStat)."""
    return max(metrics, 0) * prices.get_metric_data_metric


def provisioned_usd(memory_mb: float, concurrency: float, seconds: float, prices: Prices = PRICES) -> float:
    """Provisioned Concurrency charge of ``concurrency`` environments configured for ``seconds``."""
    return (memory_mb / 1024.0) * max(concurrency, 0.0) * max(seconds, 0.0) * prices.provisioned_gb_second


def per_month(usd: float, over_seconds: float) -> float:
    """Scale a cost observed over ``over_seconds`` to a 30-day month."""
    if over_seconds <= 0:
        raise ValueError("over_seconds must be positive")
    return usd * MONTH_SECONDS / over_seconds
