"""warm_aware composes with Powertools' Logger, Metrics and Tracer decorators, in either order."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("aws_lambda_powertools")

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import logger as pt_logger_module
from aws_lambda_powertools.metrics.provider import cold_start as pt_cold_start

from thermostat_target import warm_aware
from thermostat_target.protocol import parse_answer
from thermostat_target.testing import make_ping, ping_context


@pytest.fixture(autouse=True)
def powertools_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "OrdersApp")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "orders")
    # Powertools keeps its cold-start flags process-wide: re-arm them per test
    pt_cold_start.reset_cold_start_flag()
    monkeypatch.setattr(pt_logger_module, "is_cold_start", True)


Decorate = Callable[[Callable[..., Any]], Callable[..., Any]]


def _powertools_decorators() -> dict[str, Decorate]:
    logger, metrics, tracer = Logger(), Metrics(), Tracer()

    def stack(fn: Callable[..., Any]) -> Callable[..., Any]:
        return tracer.capture_lambda_handler(metrics.log_metrics(logger.inject_lambda_context(fn)))

    return {
        "logger": logger.inject_lambda_context,
        "logger(log_event)": logger.inject_lambda_context(log_event=False, clear_state=True),
        "metrics": metrics.log_metrics,
        "metrics(cold_start)": metrics.log_metrics(capture_cold_start_metric=True),
        "tracer": tracer.capture_lambda_handler,
        "all three": stack,
    }


@pytest.mark.filterwarnings("ignore:No application metrics")
@pytest.mark.parametrize("name", list(_powertools_decorators()))
@pytest.mark.parametrize("warm_aware_outer", [True, False], ids=["warm_aware-outer", "warm_aware-inner"])
def test_composition_answers_pings_and_passes_real_events(name: str, warm_aware_outer: bool) -> None:
    # GIVEN a handler decorated with a Powertools decorator and warm_aware, in one order or the other
    powertools = _powertools_decorators()[name]
    calls: list[Any] = []

    def body(event: Any, context: Any) -> dict[str, Any]:
        calls.append(event)
        return {"ok": True}

    handler = warm_aware(powertools(body)) if warm_aware_outer else powertools(warm_aware(body))
    context = ping_context()
    # WHEN a ping then a real event arrive
    answer = parse_answer(handler(make_ping(), context))
    result = handler({"order_id": 1}, context)
    # THEN the ping is answered by warm_aware (body never ran for it), the real event reaches the body
    assert answer.cold is True and answer.error is None
    assert result == {"ok": True} and calls == [{"order_id": 1}]


def test_warm_aware_outermost_leaves_powertools_cold_start_to_real_traffic(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN warm_aware outside Powertools' metrics with its cold-start metric
    metrics = Metrics()

    @warm_aware
    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: Any, context: Any) -> str:
        metrics.add_metric(name="Orders", unit="Count", value=1)
        return "done"

    context = ping_context()
    # WHEN a ping comes first, then the first real request
    handler(make_ping(), context)
    assert "ColdStart" not in capsys.readouterr().out
    handler({"order_id": 1}, context)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    # THEN Powertools reports its ColdStart with the real request, not with the ping
    assert any("ColdStart" in line for line in lines)
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "OrdersApp" for line in lines)
