"""forecast_state: the Forecast state of the workflow; one bad target never fails the others."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from thermostat.exceptions import InvalidInputError
from thermostat.forecast import forecast_state, state

from .conftest import history


def test_sample_event_gives_a_record_per_target_and_keeps_collect_errors(load_event: Any, settings: Any) -> None:
    # GIVEN the sample Collect Metrics output: two targets with history, one FunctionNotFound
    event = load_event("forecast.json")
    # WHEN forecast
    out = forecast_state(event, settings)
    # THEN one record per target in order; the missing one is an error record with model "none"
    assert [t["function"] for t in out["targets"]] == [t["function"] for t in event["targets"]]
    good, missing = out["targets"][:2], out["targets"][2]
    for target in good:
        assert "error" not in target
        assert target["forecast"]["desired"] >= 1 and target["forecast"]["model"] not in ("none", "fallback")
    assert missing["error"] == event["targets"][2]["error"]
    assert missing["forecast"]["model"] == "none" and missing["forecast"]["desired"] == 0
    assert "FunctionNotFound" in missing["forecast"]["reason"]
    assert out["run"] == event["run"] and out["account"] == event["account"]


def test_a_broken_history_is_an_error_record_while_the_others_succeed(load_event: Any, settings: Any) -> None:
    # GIVEN a state whose second target has a malformed concurrency series
    event = load_event("forecast.json")
    event["targets"][1]["history"]["concurrency"] = [[1, "many"]]
    # WHEN forecast
    out = forecast_state(event, settings)
    # THEN that target names the field in its error and gets a conservative "none"; the first succeeds
    broken = out["targets"][1]
    assert broken["error"].startswith("InvalidInputError: targets[1].history.concurrency")
    assert broken["forecast"]["model"] == "none" and broken["forecast"]["desired"] == 0
    assert "error" not in out["targets"][0] and out["targets"][0]["forecast"]["desired"] >= 1


def test_a_model_failure_keeps_the_recent_real_peak(
    load_event: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a model that blows up for one target only
    event = load_event("forecast.json")
    original = state.forecast_peak

    def flaky(hist: Any, *args: Any, **kwargs: Any) -> Any:
        if hist.concurrency[0] == 2:  # the ssm-config target's first minute
            raise FloatingPointError("boom")
        return original(hist, *args, **kwargs)

    monkeypatch.setattr(state, "forecast_peak", flaky)
    # WHEN forecast
    out = forecast_state(event, settings)
    # THEN that target is a fallback with the error, keeping its real peak of the last hour
    failed = out["targets"][1]
    assert failed["error"] == "FloatingPointError: boom"
    assert failed["forecast"]["model"] == "fallback" and failed["forecast"]["desired"] >= 1
    assert "FloatingPointError" in failed["forecast"]["reason"]
    assert "error" not in out["targets"][0]


def test_the_request_overrides_quantile_and_horizon(load_event: Any, settings: Any) -> None:
    event = load_event("forecast.json")
    event["request"]["quantile"] = 0.5
    event["request"]["horizon_minutes"] = 10
    out = forecast_state(event, settings)
    assert {t["forecast"]["quantile"] for t in out["targets"]} == {0.5}
    assert "next 10 min" in out["targets"][0]["forecast"]["reason"]


def test_a_quantile_outside_0_1_is_invalid_input(load_event: Any, settings: Any) -> None:
    event = load_event("forecast.json")
    event["request"]["quantile"] = 1.0
    with pytest.raises(InvalidInputError) as error:
        forecast_state(event, settings)
    assert error.value.path == "request.quantile"


def test_statsmodels_stop_when_the_run_budget_is_spent(load_event: Any, settings: Any) -> None:
    # GIVEN a dense, varied 24 h target (statsmodels could win there) and no run budget left
    event = load_event("forecast.json")
    level = 8 + 4 * np.sin(np.arange(1440) / 60 * 2 * np.pi)
    event["targets"][0]["history"] = history(np.random.default_rng(1).poisson(level).astype(float)).to_wire()
    event["run"]["started_at_ms"] = event["targets"][0]["history"]["start_ms"] + 1440 * 60_000
    # WHEN forecast with a zero run budget
    out = forecast_state(event, settings, run_budget_s=0.0)
    # THEN it keeps to the baselines and says why
    forecast = out["targets"][0]["forecast"]
    assert forecast["model"] not in ("ets", "holt_winters", "sarimax")
    assert "statsmodels skipped: run budget spent" in forecast["reason"]
