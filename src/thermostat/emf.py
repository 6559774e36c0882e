"""Print Summarize's metric groups as CloudWatch EMF documents with Powertools.

Each group is one document with exactly its own dimensions (``Stack``, plus ``Target`` per target): no
Powertools ``service`` dimension, because the alarms and the dashboard of template.yaml read the metrics
by ``Stack`` alone (a metric with an extra dimension is a different metric to CloudWatch). The namespace
is the stack's (``POWERTOOLS_METRICS_NAMESPACE``, ``Thermostat``), never a target's nor ``AWS/*``.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_lambda_powertools.metrics import EphemeralMetrics

from thermostat.exceptions import ConfigurationError
from thermostat.summary_output import MetricGroup


def emit(groups: Iterable[MetricGroup], namespace: str) -> int:
    """Print one EMF document per group; returns how many were printed."""
    if not namespace or namespace.startswith("AWS/"):
        raise ConfigurationError(f"metrics namespace {namespace!r} is not ours: use e.g. 'Thermostat'")
    printed = 0
    for group in groups:
        if not group.dimensions or not group.values:
            continue
        document = EphemeralMetrics(namespace=namespace, service="")
        for key, value in group.dimensions:
            document.add_dimension(name=key, value=value)
        for name, unit, number in group.values:
            document.add_metric(name=name, unit=unit, value=number)
        document.flush_metrics()
        printed += 1
    return printed
