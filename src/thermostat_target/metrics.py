"""Optional CloudWatch Embedded Metric Format (EMF) lines: one JSON line on stdout per invocation.

Namespace ``Thermostat``; the only dimension ``FunctionName``; metrics (Count): ``ColdStart``,
``WarmPing``, ``RealInvocation`` (both written on every invocation, 1 for the matching kind and 0
for the other, so per-minute sums tell real traffic from pings and "no data" from "no traffic"),
and on pings that refreshed ``CacheRefresh`` / ``CacheRefreshFailed``. No API call, no dependency:
the Lambda log pipeline turns the line into metrics.
"""

from __future__ import annotations

import sys
import time

NAMESPACE = "Thermostat"
DIMENSION = "FunctionName"
COLD_START = "ColdStart"
WARM_PING = "WarmPing"
REAL_INVOCATION = "RealInvocation"
CACHE_REFRESH = "CacheRefresh"
CACHE_REFRESH_FAILED = "CacheRefreshFailed"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_NAME_JSON: dict[str, str] = {}


def _quoted(function_name: str) -> str:
    quoted = _NAME_JSON.get(function_name)
    if quoted is None:
        import json  # lazily (already imported by the Lambda runtime)

        quoted = _NAME_JSON[function_name] = json.dumps(function_name)
    return quoted


def format_line(function_name: str, values: dict[str, int], timestamp_ms: int) -> str:
    """The EMF JSON line for ``values`` (metric name -> count)."""
    defs = ",".join(f'{{"Name":"{name}","Unit":"Count"}}' for name in values)
    body = ",".join(f'"{name}":{int(value)}' for name, value in values.items())
    return (f'{{"_aws":{{"Timestamp":{timestamp_ms},"CloudWatchMetrics":[{{"Namespace":"{NAMESPACE}",'
            f'"Dimensions":[["{DIMENSION}"]],"Metrics":[{defs}]}}]}},'
            f'"{DIMENSION}":{_quoted(function_name)},{body}}}')


def emit_invocation(
    function_name: str, *, ping: bool, cold: bool, refreshed: int = 0, refresh_failed: int = 0,
    write: Callable[[str], object] | None = None, now: float | None = None,
) -> str:
    """Write one EMF line for one invocation (``write`` defaults to ``sys.stdout.write``)."""
    values = {COLD_START: int(cold), WARM_PING: int(ping), REAL_INVOCATION: int(not ping)}
    if ping and (refreshed or refresh_failed):
        values[CACHE_REFRESH] = refreshed
        values[CACHE_REFRESH_FAILED] = refresh_failed
    line = format_line(function_name, values, int((time.time() if now is None else now) * 1000))
    (write or sys.stdout.write)(line + "\n")
    return line
