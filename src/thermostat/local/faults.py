"""Fault injection for the local runtime, by configuration (a dict, or a JSON file for the CLI).

```json
{"functions": {"SchemaRegistryTargetFunction": {"error": "RuntimeError", "times": 2},
               "thermostat-demo-ssm-config":   {"throttle_first": 5, "latency_ms": 40},
               "ForecastFunction":             {"timeout": true, "times": 1}},
 "cloudwatch": {"latency_ms": 250}}
```

Per function (keyed by function name or by the template's logical id):
- ``error``: the handler is not run; the invocation fails like an unhandled exception of that type
  (``FunctionError: Unhandled``, ``errorType`` = the name), ``times`` times (absent: always);
- ``timeout``: the invocation fails with ``Sandbox.Timedout`` (``times`` times, absent: always) and
  its environment is discarded, as Lambda does — without actually waiting for the timeout;
- ``latency_ms``: added before the handler runs (inside the environment, so it holds it busy);
- ``throttle_first``: the first K invokes fail with ``TooManyRequestsException`` (HTTP 429).
``cloudwatch.latency_ms`` slows every CloudWatch ``GetMetricData``/``GetMetricStatistics`` call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thermostat.local.exceptions import FaultConfigError

_FUNCTION_KEYS = {"error", "message", "times", "timeout", "latency_ms", "throttle_first"}


@dataclass(frozen=True)
class FaultSpec:
    error: str | None = None
    message: str = "injected fault"
    times: int | None = None  # how many invocations fail (error/timeout); None = every one
    timeout: bool = False
    latency_ms: float = 0.0
    throttle_first: int = 0


@dataclass(frozen=True)
class FaultPlan:
    functions: Mapping[str, FaultSpec] = field(default_factory=dict)
    cloudwatch_latency_ms: float = 0.0

    @classmethod
    def from_dict(cls, raw: object, where: str = "faults") -> FaultPlan:
        if not isinstance(raw, dict):
            raise FaultConfigError(f"{where}: must be an object")
        unknown = set(raw) - {"functions", "cloudwatch"}
        if unknown:
            raise FaultConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
        functions_raw = raw.get("functions", {})
        if not isinstance(functions_raw, dict):
            raise FaultConfigError(f"{where}.functions: must be an object")
        functions = {
            str(name): _spec(spec, f"{where}.functions.{name}") for name, spec in functions_raw.items()
        }
        cloudwatch = raw.get("cloudwatch", {})
        if not isinstance(cloudwatch, dict) or set(cloudwatch) - {"latency_ms"}:
            raise FaultConfigError(f"{where}.cloudwatch: only {{'latency_ms': number}} is supported")
        latency = _number(cloudwatch.get("latency_ms", 0.0), f"{where}.cloudwatch.latency_ms")
        return cls(functions=functions, cloudwatch_latency_ms=latency)

    @classmethod
    def from_file(cls, path: Path) -> FaultPlan:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise FaultConfigError(f"{path}: no such file") from None
        except (OSError, ValueError) as exc:
            raise FaultConfigError(f"{path}: not valid JSON: {exc}") from None
        return cls.from_dict(raw, where=str(path))

    def renamed(self, names: Mapping[str, str]) -> FaultPlan:
        """The same plan with logical ids replaced by function names (``names``: logical id -> name)."""
        return FaultPlan({names.get(k, k): v for k, v in self.functions.items()}, self.cloudwatch_latency_ms)


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultConfigError(f"{where}: must be a number >= 0")
    return float(value)


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultConfigError(f"{where}: must be an integer >= 0")
    return value


def _spec(raw: object, where: str) -> FaultSpec:
    if not isinstance(raw, dict):
        raise FaultConfigError(f"{where}: must be an object")
    unknown = set(raw) - _FUNCTION_KEYS
    if unknown:
        raise FaultConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
    error = raw.get("error")
    if error is not None and (not isinstance(error, str) or not error.isidentifier()):
        raise FaultConfigError(f"{where}.error: must be an exception class name such as 'RuntimeError'")
    timeout = raw.get("timeout", False)
    if not isinstance(timeout, bool):
        raise FaultConfigError(f"{where}.timeout: must be true or false")
    if error is not None and timeout:
        raise FaultConfigError(f"{where}: 'error' and 'timeout' are exclusive")
    times = raw.get("times")
    return FaultSpec(
        error=error,
        message=str(raw.get("message", "injected fault")),
        times=None if times is None else _count(times, f"{where}.times"),
        timeout=timeout,
        latency_ms=_number(raw.get("latency_ms", 0), f"{where}.latency_ms"),
        throttle_first=_count(raw.get("throttle_first", 0), f"{where}.throttle_first"),
    )


class InjectedFault(Exception):
    """Base of the exception classes made for ``error`` faults (their name is the configured one)."""


_error_classes: dict[str, type[InjectedFault]] = {}


def error_class(name: str) -> type[InjectedFault]:
    if name not in _error_classes:
        _error_classes[name] = type(name, (InjectedFault,), {"__module__": "thermostat.local.faults"})
    return _error_classes[name]


class FaultState:
    """Counters of one function's faults (thread-safe): which invocation gets which fault."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self.throttled = 0
        self.failed = 0

    def take_throttle(self) -> bool:
        with self._lock:
            if self.throttled < self.spec.throttle_first:
                self.throttled += 1
                return True
            return False

    def take_failure(self) -> str | None:
        """``"error"``/``"timeout"`` when this invocation must fail, else ``None``."""
        if self.spec.error is None and not self.spec.timeout:
            return None
        with self._lock:
            if self.spec.times is not None and self.failed >= self.spec.times:
                return None
            self.failed += 1
        return "timeout" if self.spec.timeout else "error"


def install_cloudwatch_latency(latency_ms: float) -> Callable[[], None]:
    """Slow CloudWatch down: every ``GetMetricData``/``GetMetricStatistics`` waits ``latency_ms`` first."""
    from moto.cloudwatch.models import CloudWatchBackend

    from thermostat.local.sandbox_patches import wrap_methods

    def slowed(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            time.sleep(latency_ms / 1000.0)
            return original(self, *args, **kwargs)

        return call

    return wrap_methods(CloudWatchBackend, ("get_metric_data", "get_metric_statistics"), slowed)
