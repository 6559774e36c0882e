"""EMF metric lines: namespace Thermostat, the only dimension FunctionName, one line per invocation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from thermostat_target import TTLValue, warm_aware
from thermostat_target.metrics import emit_invocation
from thermostat_target.testing import FakeLambdaContext, FakeTimer, make_ping, ping_context


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def _check_emf(doc: dict[str, Any]) -> dict[str, int]:
    directive = doc["_aws"]["CloudWatchMetrics"]
    assert len(directive) == 1 and directive[0]["Namespace"] == "Thermostat"
    assert directive[0]["Dimensions"] == [["FunctionName"]]
    names = [m["Name"] for m in directive[0]["Metrics"]]
    assert all(m["Unit"] == "Count" for m in directive[0]["Metrics"])
    assert isinstance(doc["_aws"]["Timestamp"], int)
    return {name: doc[name] for name in names}


def test_pings_and_real_invocations_each_write_one_line(capsys: pytest.CaptureFixture[str],
                                                         timer: FakeTimer, context: FakeLambdaContext) -> None:
    # GIVEN a handler with metrics on and a cache that fails to refresh
    ok = TTLValue(lambda: 1, max_age=60, name="ok", timer=timer)
    bad = TTLValue(lambda: 1 / 0, max_age=60, name="bad", timer=timer)
    handler = warm_aware(lambda e, c: "real", refresh=[ok, bad], metrics=True, clock=timer, sleep=timer.sleep)
    # WHEN a ping, then a real request arrive
    handler(make_ping(release_at_ms=timer.ms()), context)
    handler({"order": 1}, context)
    docs = _lines(capsys.readouterr().out)
    # THEN one line each, with FunctionName from the context
    assert [d["FunctionName"] for d in docs] == ["orders-api", "orders-api"]
    assert _check_emf(docs[0]) == {"ColdStart": 1, "WarmPing": 1, "RealInvocation": 0, "CacheRefresh": 1,
                                   "CacheRefreshFailed": 1}
    assert _check_emf(docs[1]) == {"ColdStart": 0, "WarmPing": 0, "RealInvocation": 1}


def test_metrics_follow_the_environment_variable(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("THERMOSTAT_TARGET_METRICS", "true")
    on = warm_aware(lambda e, c: None)
    monkeypatch.setenv("THERMOSTAT_TARGET_METRICS", "false")
    off = warm_aware(lambda e, c: None)
    forced_off = warm_aware(lambda e, c: None, metrics=False)
    for handler in (on, off, forced_off):
        handler({"x": 1}, FakeLambdaContext())
    assert len(_lines(capsys.readouterr().out)) == 1


def test_function_name_is_json_escaped() -> None:
    written: list[str] = []
    line = emit_invocation('we"ird\\name', ping=False, cold=True, write=written.append, now=1.5)
    doc = json.loads(line)
    assert doc["FunctionName"] == 'we"ird\\name' and doc["_aws"]["Timestamp"] == 1500
    assert written == [line + "\n"]


def test_a_broken_stdout_never_breaks_the_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def write(self, _: str) -> int:
            raise OSError("stdout closed")

    monkeypatch.setattr("sys.stdout", Broken())
    handler = warm_aware(lambda e, c: "real", metrics=True)
    assert handler({"x": 1}, FakeLambdaContext()) == "real"
    assert "thermostat" in handler(make_ping(), ping_context())
