"""Fault injection for the embedded AWS, by configuration (a dict, or a JSON file for the CLI).

```json
{"functions":  {"SchemaRegistryTargetFunction": {"error": "RuntimeError", "times": 2},
                "thermostat-demo-ssm-config":   {"throttle_first": 5, "latency_ms": 40},
                "thermostat-demo-handler-object": {"throttle_all": true},
                "ForecastFunction":             {"timeout": true, "times": 1}},
 "cloudwatch": {"latency_ms": 250, "metrics_lag_s": 180},
 "invoke":     {"jitter_ms": [0, 40], "seed": 7},
 "aws":        {"lambda:GetAccountSettings": {"error": "AccessDeniedException"},
                "cloudwatch:GetMetricData": {"error": "InternalServiceError", "times": 1},
                "s3:*":                     {"error": "SlowDown", "functions": ["SummarizeFunction"]}}}
```

Per function (keyed by function name or by the template's logical id):
- ``error``: the handler is not run; the invocation fails like an unhandled exception of that type
  (``FunctionError: Unhandled``, ``errorType`` = the name), ``times`` times (absent: always);
- ``timeout``: the invocation fails with ``Sandbox.Timedout`` (``times`` times, absent: always) and
  its environment is discarded, as Lambda does — without actually waiting for the timeout;
- ``latency_ms``: added before the handler runs (inside the environment, so it holds it busy);
- ``throttle_first``: the first K invokes fail with ``TooManyRequestsException`` (HTTP 429);
- ``throttle_all``: every ping (an invoke carrying Thermostat's ClientContext marker) gets 429; real
  requests are served.
``cloudwatch.latency_ms`` slows every CloudWatch ``GetMetricData``/``GetMetricStatistics`` call;
``cloudwatch.metrics_lag_s`` delays the runtime's AWS/Lambda metrics (the last N seconds are not there yet).
``invoke.jitter_ms`` is a random network latency ``[lo, hi]`` ms before every invoke reaches an environment
(seeded by ``invoke.seed``). ``aws`` makes API calls of function code fail: ``"service:Operation"`` (or
``"service:*"``) -> the error code, ``message``, ``status`` (HTTP, default by code), ``times`` (absent or
null: always) and ``functions`` (only calls made by these functions; absent: any function's).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from thermostat.local.exceptions import FaultConfigError

_FUNCTION_KEYS = {"error", "message", "times", "timeout", "latency_ms", "throttle_first", "throttle_all"}
_AWS_KEYS = {"error", "message", "times", "status", "functions"}
_AWS_OPERATION = re.compile(r"^[a-z0-9-]+:(\*|[A-Z][A-Za-z0-9]*)$")
_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9._]*$")


@dataclass(frozen=True)
class FaultSpec:
    error: str | None = None
    message: str = "injected fault"
    times: int | None = None  # how many invocations fail (error/timeout); None = every one
    timeout: bool = False
    latency_ms: float = 0.0
    throttle_first: int = 0
    throttle_all: bool = False  # every ping is throttled (real requests are not)


@dataclass(frozen=True)
class AwsFaultSpec:
    """One AWS API operation that fails when function code calls it."""

    error: str
    message: str = "injected fault"
    times: int | None = None  # None: every call
    status: int | None = None  # HTTP status; None: the usual one for the code (see aws_faults.py)
    functions: tuple[str, ...] = ()  # only calls made by these functions (names or logical ids); () = any


@dataclass(frozen=True)
class FaultPlan:
    functions: Mapping[str, FaultSpec] = field(default_factory=dict)
    cloudwatch_latency_ms: float = 0.0
    metrics_lag_s: float = 0.0
    jitter_ms: tuple[float, float] | None = None
    jitter_seed: int = 0
    aws: Mapping[str, AwsFaultSpec] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: object, where: str = "faults") -> FaultPlan:
        if not isinstance(raw, dict):
            raise FaultConfigError(f"{where}: must be an object")
        unknown = set(raw) - {"functions", "cloudwatch", "invoke", "aws"}
        if unknown:
            raise FaultConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
        functions_raw = _object(raw.get("functions", {}), f"{where}.functions")
        functions = {
            str(name): _spec(spec, f"{where}.functions.{name}") for name, spec in functions_raw.items()
        }
        cloudwatch = _object(raw.get("cloudwatch", {}), f"{where}.cloudwatch", {"latency_ms", "metrics_lag_s"})
        invoke = _object(raw.get("invoke", {}), f"{where}.invoke", {"jitter_ms", "seed"})
        aws_raw = _object(raw.get("aws", {}), f"{where}.aws")
        return cls(
            functions=functions,
            cloudwatch_latency_ms=_number(cloudwatch.get("latency_ms", 0.0), f"{where}.cloudwatch.latency_ms"),
            metrics_lag_s=_number(cloudwatch.get("metrics_lag_s", 0.0), f"{where}.cloudwatch.metrics_lag_s"),
            jitter_ms=_range(invoke.get("jitter_ms"), f"{where}.invoke.jitter_ms"),
            jitter_seed=_count(invoke.get("seed", 0), f"{where}.invoke.seed"),
            aws={str(op): _aws_spec(op, spec, f"{where}.aws.{op}") for op, spec in aws_raw.items()},
        )

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
        aws = {op: replace(spec, functions=tuple(names.get(f, f) for f in spec.functions))
               for op, spec in self.aws.items()}
        return replace(self, functions={names.get(k, k): v for k, v in self.functions.items()}, aws=aws)


def _object(value: object, where: str, allowed: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FaultConfigError(f"{where}: must be an object")
    if allowed is not None and set(value) - allowed:
        raise FaultConfigError(f"{where}.{sorted(set(value) - allowed)[0]}: unknown key "
                               f"(allowed: {', '.join(sorted(allowed))})")
    return value


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or value == float("inf"):
        raise FaultConfigError(f"{where}: must be a number >= 0")
    return float(value)


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultConfigError(f"{where}: must be an integer >= 0")
    return value


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise FaultConfigError(f"{where}: must be true or false")
    return value


def _range(value: object, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise FaultConfigError(f"{where}: must be [low, high] in milliseconds")
    low, high = _number(value[0], f"{where}[0]"), _number(value[1], f"{where}[1]")
    if high < low:
        raise FaultConfigError(f"{where}: high must be >= low")
    return low, high


def _times(raw: dict[str, Any], where: str) -> int | None:
    times = raw.get("times")
    return None if times is None else _count(times, f"{where}.times")


def _spec(raw: object, where: str) -> FaultSpec:
    spec = _object(raw, where, _FUNCTION_KEYS)
    error = spec.get("error")
    if error is not None and (not isinstance(error, str) or not error.isidentifier()):
        raise FaultConfigError(f"{where}.error: must be an exception class name such as 'RuntimeError'")
    timeout = _flag(spec.get("timeout", False), f"{where}.timeout")
    if error is not None and timeout:
        raise FaultConfigError(f"{where}: 'error' and 'timeout' are exclusive")
    return FaultSpec(
        error=error,
        message=str(spec.get("message", "injected fault")),
        times=_times(spec, where),
        timeout=timeout,
        latency_ms=_number(spec.get("latency_ms", 0), f"{where}.latency_ms"),
        throttle_first=_count(spec.get("throttle_first", 0), f"{where}.throttle_first"),
        throttle_all=_flag(spec.get("throttle_all", False), f"{where}.throttle_all"),
    )


def _aws_spec(operation: object, raw: object, where: str) -> AwsFaultSpec:
    if not isinstance(operation, str) or not _AWS_OPERATION.match(operation):
        raise FaultConfigError(f"{where}: the key must be 'service:Operation' (boto3 service name, API name), "
                               "e.g. 'lambda:GetAccountSettings' or 's3:*'")
    spec = _object(raw, where, _AWS_KEYS)
    error = spec.get("error")
    if not isinstance(error, str) or not _ERROR_CODE.match(error):
        raise FaultConfigError(f"{where}.error: must be an AWS error code such as 'AccessDeniedException'")
    status = spec.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599):
        raise FaultConfigError(f"{where}.status: must be an HTTP error status (400-599)")
    functions = spec.get("functions", [])
    if not isinstance(functions, list) or not all(isinstance(f, str) and f for f in functions):
        raise FaultConfigError(f"{where}.functions: must be a list of function names or logical ids")
    return AwsFaultSpec(error=error, message=str(spec.get("message", "injected fault")), times=_times(spec, where),
                        status=status, functions=tuple(functions))


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
        self.throttled = 0  # by throttle_first
        self.throttled_pings = 0  # by throttle_all
        self.failed = 0

    def take_throttle(self, ping: bool = False) -> bool:
        """This invoke must get 429 (``ping``: it carries Thermostat's ClientContext marker)."""
        with self._lock:
            if ping and self.spec.throttle_all:
                self.throttled_pings += 1
                return True
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
    from thermostat.local.cloudwatch_index import install_read_hook

    return install_read_hook(lambda: time.sleep(latency_ms / 1000.0), ("get_metric_data", "get_metric_statistics"))
