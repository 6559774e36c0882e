"""What the local runtime reports about invokes: results, the invocation log, per-function counters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from thermostat_target.protocol import MARKER_KEY, MARKER_VALUE

SplitCounter = Literal["invocations", "cold_starts", "throttles"]  # the counters split into real and ping
PING_MARKER = {MARKER_KEY: MARKER_VALUE}  # ClientContext ``custom`` of a Thermostat ping: {"thermostat": "2"}


def is_ping(client_context: Mapping[str, Any] | None) -> bool:
    """An invoke carrying Thermostat's marker: ``ClientContext.custom == {"thermostat": "2"}``."""
    return client_context is not None and client_context.get("custom") == PING_MARKER


@dataclass
class InvokeResult:
    payload: bytes
    function_error: str | None  # "Unhandled" when the handler (or init) raised
    version: str
    env_id: str
    cold: bool
    log: str
    duration_ms: float


@dataclass
class InvocationRecord:
    function: str
    version: str
    env_id: str
    request_id: str
    cold: bool
    duration_ms: float
    error_type: str | None
    log: str
    init_ms: float | None = None
    seq: int = 0  # order of completion, for "the invocations since" queries
    ping: bool = False  # carried Thermostat's ClientContext marker


@dataclass
class FunctionStats:
    """Counters of one function; ``real_*``/``ping_*`` split each by whether the invoke was a ping."""

    invocations: int = 0
    cold_starts: int = 0
    throttles: int = 0
    errors: int = 0
    reclaimed: int = 0
    real_invocations: int = 0
    ping_invocations: int = 0
    real_cold_starts: int = 0
    ping_cold_starts: int = 0
    real_throttles: int = 0
    ping_throttles: int = 0

    def count(self, counter: SplitCounter, ping: bool, n: int = 1) -> None:
        """Add ``n`` to ``counter`` and to its ``ping_``/``real_`` share."""
        share = f"ping_{counter}" if ping else f"real_{counter}"
        setattr(self, counter, getattr(self, counter) + n)
        setattr(self, share, getattr(self, share) + n)

    def copy(self) -> FunctionStats:
        return FunctionStats(**{f.name: getattr(self, f.name) for f in fields(self)})

    def since(self, before: FunctionStats | None) -> FunctionStats:
        """What happened after ``before`` (a :meth:`LocalLambdaRuntime.snapshot` entry)."""
        if before is None:
            return self.copy()
        return FunctionStats(**{f.name: getattr(self, f.name) - getattr(before, f.name) for f in fields(self)})


def split_name(function_name: str, qualifier: str | None) -> tuple[str, str | None]:
    """``name``, ``name:qual``, ``123:function:name[:qual]`` or a full ARN -> (name, qualifier)."""
    parts = function_name.split(":")
    if function_name.startswith("arn:"):
        name, rest = parts[6], parts[7:]
    elif len(parts) >= 3 and parts[1] == "function":
        name, rest = parts[2], parts[3:]
    else:
        name, rest = parts[0], parts[1:]
    return name, qualifier or (rest[0] if rest else None)
