"""The target library's tiny configuration: the only module of ``thermostat_target`` that reads os.environ.

``THERMOSTAT_TARGET_METRICS`` (``true``/``1``/``yes``: print EMF metric lines), and what the Lambda
runtime itself sets (``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_LAMBDA_FUNCTION_VERSION``,
``AWS_LAMBDA_RUNTIME_API``, ``AWS_LAMBDA_INITIALIZATION_TYPE``). Read on demand, never cached at import.
"""

from __future__ import annotations

import os

METRICS_ENV = "THERMOSTAT_TARGET_METRICS"
_TRUE = frozenset({"1", "true", "yes", "on"})


def metrics_enabled() -> bool:
    """Whether ``THERMOSTAT_TARGET_METRICS`` asks for EMF metric lines."""
    return os.environ.get(METRICS_ENV, "").strip().lower() in _TRUE


def on_lambda() -> bool:
    """True inside a real Lambda execution environment (the Runtime API address is set)."""
    return bool(os.environ.get("AWS_LAMBDA_RUNTIME_API"))


def function_name() -> str | None:
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or None


def function_version() -> str | None:
    return os.environ.get("AWS_LAMBDA_FUNCTION_VERSION") or None


def initialization_type() -> str | None:
    """``on-demand``, ``provisioned-concurrency`` or ``snap-start`` on Lambda; None elsewhere."""
    return os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") or None
