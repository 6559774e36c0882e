"""Fixtures of the local runtime's unit tests (no state machine, no sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from thermostat.local import sandbox
from thermostat.local.clock import ManualClock
from thermostat.local.environment import FunctionCode
from thermostat.local.runtime import LocalLambdaRuntime

FIXTURES = Path(__file__).parent / "fixtures"
FUNCTIONS = FIXTURES / "functions"


@pytest.fixture
def sandboxed() -> Iterator[None]:
    undo = sandbox.install()
    try:
        yield
    finally:
        undo()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def counter_code(name: str = "counter", **overrides: object) -> FunctionCode:
    values: dict[str, object] = {"name": name, "code_dir": FUNCTIONS / "counter", "handler": "app.handler",
                                 "environment": {"GREETING": f"hello from {name}"}, "timeout_s": 5.0}
    values.update(overrides)
    return FunctionCode(**values)  # type: ignore[arg-type]


@pytest.fixture
def runtime(sandboxed: None, clock: ManualClock) -> Iterator[LocalLambdaRuntime]:
    rt = LocalLambdaRuntime(clock=clock, idle_ttl_s=600, account_limit=50)
    rt.register(counter_code("counter"))
    rt.register(counter_code("other"))
    yield rt
    rt.shutdown()
