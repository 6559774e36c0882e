"""Per-environment state: a fresh import is a new environment; init time; no third-party imports."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from thermostat_target import runtime
from thermostat_target.protocol import parse_answer
from thermostat_target.testing import make_ping, ping_context


def _import_fresh_copy() -> dict[str, ModuleType]:
    """Import thermostat_target anew, as the local runtime does for each simulated environment."""
    saved = {name: mod for name, mod in sys.modules.items() if name.split(".")[0] == "thermostat_target"}
    for name in saved:
        del sys.modules[name]
    try:
        import thermostat_target.decorator  # noqa: F401

        return {name: mod for name, mod in sys.modules.items() if name.split(".")[0] == "thermostat_target"}
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "thermostat_target"]:
            del sys.modules[name]
        sys.modules.update(saved)


@pytest.fixture
def fresh_copy() -> Iterator[dict[str, ModuleType]]:
    yield _import_fresh_copy()


def test_each_fresh_import_is_a_new_cold_environment(fresh_copy: dict[str, ModuleType]) -> None:
    # GIVEN this environment has served invocations
    from thermostat_target import warm_aware

    here = warm_aware(lambda e, c: None)
    here({}, None)
    # WHEN another environment imports the package in its own module namespace
    other_runtime = fresh_copy["thermostat_target.runtime"]
    other = fresh_copy["thermostat_target.decorator"].warm_aware(lambda e, c: None)
    answer = parse_answer(other(make_ping(), ping_context()))
    # THEN it has its own env id, starts cold, and the two never share counters
    assert other_runtime is not runtime
    assert answer.env == other_runtime.env_id != runtime.env_id
    assert answer.cold is True and answer.invocations == 1
    assert parse_answer(here(make_ping(), ping_context())).invocations == 2


def test_a_private_copy_never_reaches_the_host_copy_at_invocation_time(
    fresh_copy: dict[str, ModuleType], capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN an environment's private copy, used after the isolated view is gone (as the local runtime does)
    package = fresh_copy["thermostat_target"]
    private_runtime = fresh_copy["thermostat_target.runtime"]
    schema = package.TTLValue(lambda: "v1", max_age=60, name="schema")
    param = package.SSMParameter("/p", name="param")  # created, never fetched
    handler = package.warm_aware(lambda e, c: "real", refresh=[schema], metrics=True)
    host_invocations = runtime.invocations
    # WHEN it serves a ping and a real event (metrics on: every code path that could import lazily)
    answer = parse_answer(handler(make_ping(), ping_context()))
    assert handler({"x": 1}, None) == "real"
    # THEN all state went to the private copy; the host copy saw nothing
    assert answer.env == private_runtime.env_id and answer.refreshed == 1
    assert private_runtime.invocations == 2 and runtime.invocations == host_invocations
    assert private_runtime.registered_caches() == [schema, param] and runtime.registered_caches() == []
    assert capsys.readouterr().out.count('"Namespace":"Thermostat"') == 2


def test_env_ids_are_random_per_copy() -> None:
    ids = {_import_fresh_copy()["thermostat_target.runtime"].env_id for _ in range(5)}
    assert len(ids) == 5 and all(len(i) == 16 for i in ids)


def test_process_start_time_reads_proc(tmp_path: Path) -> None:
    # GIVEN a /proc where the process started 990 s after boot and uptime is 1000.5 s
    (tmp_path / "self").mkdir()
    ticks = 990 * __import__("os").sysconf("SC_CLK_TCK")
    fields = ["S", "1"] + ["0"] * 17 + [str(ticks)] + ["0"] * 30
    (tmp_path / "self" / "stat").write_text(f"4242 (python3 (odd) name) {' '.join(fields)}\n")
    (tmp_path / "uptime").write_text("1000.50 1900.00\n")
    # THEN it started 10.5 s ago
    started = runtime.process_start_time(str(tmp_path))
    assert started is not None and time.time() - started == pytest.approx(10.5, abs=0.05)
    assert runtime.process_start_time(str(tmp_path / "missing")) is None


def test_init_started_order_override_then_proc_on_lambda_then_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_init_started", None)
    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
    assert runtime.init_started() == runtime.IMPORTED_AT
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
    monkeypatch.setattr(runtime, "process_start_time", lambda: runtime.IMPORTED_AT - 0.2)
    assert runtime.init_started() == runtime.IMPORTED_AT - 0.2
    runtime.set_init_started(123.0)
    assert runtime.init_started() == 123.0


def test_new_environment_draws_a_new_id_and_is_cold_again() -> None:
    old = runtime.env_id
    assert runtime.begin_invocation() is True and runtime.begin_invocation() is False
    runtime.new_environment()
    assert runtime.env_id != old and runtime.invocations == 0
    assert runtime.begin_invocation() is True


def test_import_loads_no_third_party_module_and_no_heavy_stdlib() -> None:
    # GIVEN a fresh interpreter / WHEN the whole public surface a handler uses is imported
    code = ("import sys; from thermostat_target import warm_aware, TTLValue, cached, is_ping; "
            "import thermostat_target.providers, thermostat_target.testing; "
            "bad = [m for m in ('boto3', 'botocore', 'aws_lambda_powertools', 'typing', 'dataclasses', "
            "'json', 'logging', 'inspect', 'asyncio') if m in sys.modules]; print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # THEN none of them was imported
    assert out.stdout.strip() == ""
