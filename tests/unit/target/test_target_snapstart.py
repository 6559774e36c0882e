"""SnapStart after_restore hook: new environment id, caches refreshed; no-op off Lambda."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable

import pytest

from thermostat_target import TTLValue, runtime, snapstart, warm_aware
from thermostat_target.protocol import parse_answer
from thermostat_target.testing import FakeLambdaContext, FakeTimer, make_ping, ping_context


class FakeRegistry:
    def __init__(self) -> None:
        self.hooks: list[Callable[..., object]] = []

    def __call__(self, hook: Callable[..., object]) -> None:
        self.hooks.append(hook)

    def restore(self) -> None:
        for hook in self.hooks:
            hook()


def test_restore_makes_a_new_environment_and_refreshes(monkeypatch: pytest.MonkeyPatch, timer: FakeTimer) -> None:
    # GIVEN the Lambda runtime's hook module (faked) and a handler with a cache loaded before the snapshot
    registry = FakeRegistry()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py",
                        types.SimpleNamespace(register_after_restore=registry))
    loads: list[float] = []
    schema = TTLValue(lambda: loads.append(timer()) or len(loads), max_age=600, name="schema", timer=timer)
    handler = warm_aware(lambda e, c: schema.get(), refresh=[schema], clock=timer, sleep=timer.sleep)
    handler({"x": 1}, FakeLambdaContext())
    before = runtime.env_id
    assert len(registry.hooks) == 1 and loads == [timer()]
    # WHEN the snapshot is restored hours later
    timer.advance(3 * 3600)
    registry.restore()
    # THEN a new env id, the cache reloaded, and the next invocation is cold
    assert runtime.env_id != before and len(loads) == 2
    answer = parse_answer(handler(make_ping(release_at_ms=timer.ms()), ping_context()))
    assert answer.env == runtime.env_id and answer.cold is True and answer.invocations == 1


def test_hook_is_installed_once_per_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = FakeRegistry()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", types.SimpleNamespace(register_after_restore=registry))
    warm_aware(lambda e, c: None)
    warm_aware(lambda e, c: None)
    assert len(registry.hooks) == 1


def test_no_hook_module_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import raises ImportError
    assert snapstart.install() is False
    assert runtime.snapstart_hook_installed is False


def test_failing_loader_on_restore_keeps_the_value(timer: FakeTimer) -> None:
    calls: list[int] = []

    def loader() -> int:
        calls.append(1)
        if len(calls) > 1:
            raise TimeoutError("registry slow")
        return 1

    value = TTLValue(loader, max_age=60, timer=timer)
    value.get()
    registry = FakeRegistry()
    assert snapstart.install(registry=registry) is True
    registry.restore()
    assert value.get() == 1 and value.failures == 1
