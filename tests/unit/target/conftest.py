"""Fixtures for the target library's tests: a fresh execution environment per test, fake time, events."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # target_helpers

from target_helpers import load_event

from thermostat_target import runtime
from thermostat_target.testing import FakeLambdaContext, FakeTimer, ping_context


@pytest.fixture(autouse=True)
def fresh_env() -> None:
    # GIVEN every test starts in a new execution environment with no caches registered
    runtime.reset(clear_caches=True)
    runtime.snapstart_hook_installed = False


@pytest.fixture
def timer() -> FakeTimer:
    return FakeTimer(start=1_763_800_000.0)


@pytest.fixture
def context(timer: FakeTimer) -> FakeLambdaContext:
    """The context of a direct Invoke by Thermostat: it carries the ClientContext marker (real events
    ignore it)."""
    return ping_context(function_name="orders-api", function_version="7", timeout_ms=3000, clock=timer)


@pytest.fixture
def plain_context(timer: FakeTimer) -> FakeLambdaContext:
    """The context every event source gives: no client context, so no marker."""
    return FakeLambdaContext(function_name="orders-api", function_version="7", timeout_ms=3000, clock=timer)


@pytest.fixture
def ping_event() -> dict[str, Any]:
    return load_event("ping")
