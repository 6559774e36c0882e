"""Emit Summarize's metric sets as CloudWatch EMF with Powertools.

Per-target sets carry exactly their own dimensions (``FunctionName``, plus ``Resource`` for an alias or
version) — no ``service`` dimension, so they line up with ``AWS/Lambda``'s; each is one EMF document.
Run-level totals go through the handler's ``Metrics`` (which the handler flushes, with the Powertools
``service`` dimension).
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_lambda_powertools.metrics import EphemeralMetrics, Metrics

from thermostat.exceptions import ConfigurationError
from thermostat.summary_output import MetricGroup


def emit(groups: Iterable[MetricGroup], namespace: str, run_metrics: Metrics) -> int:
    """Print one EMF document per dimensioned group; add dimensionless ones to ``run_metrics``.
    Returns the number of documents printed now."""
    if not namespace or namespace.startswith("AWS/"):
        raise ConfigurationError(f"metrics namespace {namespace!r} is not ours: use e.g. 'Thermostat'")
    printed = 0
    for group in groups:
        if not group.dimensions:
            for name, unit, value in group.values:
                run_metrics.add_metric(name=name, unit=unit, value=value)
            continue
        document = EphemeralMetrics(namespace=namespace, service="")
        for key, dimension in group.dimensions:
            document.add_dimension(name=key, value=dimension)
        for name, unit, number in group.values:
            document.add_metric(name=name, unit=unit, value=number)
        document.flush_metrics()
        printed += 1
    return printed
