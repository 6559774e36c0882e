"""Cost arithmetic, compact series and settings parsing."""

from __future__ import annotations

import math

import pytest

from thermostat import cost, series
from thermostat.config import DiscoverySettings, PlanSettings, RunSettings, SummarySettings, parse_explicit_targets
from thermostat.exceptions import ConfigurationError


def test_one_million_128mb_100ms_invocations_cost_what_aws_lists() -> None:
    # 1e6 requests * $0.20/1e6 + 1e6 * 0.125 GB * 0.1 s * $0.0000166667
    assert cost.lambda_invocation_usd(128, 100, 1_000_000) == pytest.approx(0.20 + 12_500 * 0.0000166667)


def test_billed_duration_rounds_up_to_the_millisecond() -> None:
    assert cost.lambda_duration_usd(1024, 0.2) == pytest.approx(0.001 * 0.0000166667)


def test_standard_transitions_are_priced_per_thousand() -> None:
    assert cost.sfn_standard_usd(1000) == pytest.approx(0.025)


def test_express_is_billed_in_100ms_at_64mb_minimum() -> None:
    one = cost.sfn_express_usd(1, duration_ms=1, memory_mb=1)
    assert one == pytest.approx(1e-6 + (64 / 1024) * 0.1 * 0.00001667)


def test_provisioned_and_monthly_scaling() -> None:
    assert cost.provisioned_usd(1024, 2, 3600) == pytest.approx(2 * 3600 * 0.0000041667)
    assert cost.per_month(1.0, 86_400) == pytest.approx(30.0)
    with pytest.raises(ValueError):
        cost.per_month(1.0, 0)


@pytest.mark.parametrize("values", [[], [0, 0, 0], [1.0, 1, None, None, 2.5, float("nan")], [3] * 1440])
def test_series_round_trip(values: list[float | int | None]) -> None:
    decoded = series.decode(series.encode(values))
    expected = [None if isinstance(v, float) and math.isnan(v) else v for v in values]
    assert decoded == expected
    assert series.length(series.encode(values)) == len(values)


def test_series_is_compact_for_runs() -> None:
    assert series.encode([0] * 1000 + [4] * 3) == [[0, 1000], [4, 3]]


def test_series_decode_rejects_malformed_pairs() -> None:
    with pytest.raises(ValueError, match="pair 1"):
        series.decode([[0, 2], [1]])


def test_settings_defaults_and_errors_name_the_variable() -> None:
    assert PlanSettings.from_env({}) == PlanSettings()
    assert RunSettings.from_env({"THERMOSTAT_ENABLED": "false"}).enabled is False
    with pytest.raises(ConfigurationError, match="THERMOSTAT_MAX_BATCH_SIZE"):
        PlanSettings.from_env({"THERMOSTAT_MAX_BATCH_SIZE": "lots"})
    with pytest.raises(ConfigurationError, match="THERMOSTAT_MAP_MAX_CONCURRENCY"):
        PlanSettings.from_env({"THERMOSTAT_MAP_MAX_CONCURRENCY": "41"})
    with pytest.raises(ConfigurationError, match="STANDARD or EXPRESS"):
        SummarySettings.from_env({"THERMOSTAT_WORKFLOW_TYPE": "turbo"})


def test_explicit_targets_accept_json_or_names() -> None:
    assert parse_explicit_targets("a, b:live") == ({"function": "a"}, {"function": "b", "qualifier": "live"})
    assert parse_explicit_targets('[{"function": "x", "max": 3}]') == ({"function": "x", "max": 3},)
    with pytest.raises(ConfigurationError):
        DiscoverySettings.from_env({"THERMOSTAT_TARGETS": "[not json"})


def test_explicit_arns_are_kept_whole_for_validation_to_split() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:orders:live"
    assert parse_explicit_targets(f"a, {arn}") == ({"function": "a"}, {"function": arn})


def test_min_warm_above_max_warm_is_rejected_once_for_every_source() -> None:
    env = {"THERMOSTAT_MIN_WARM": "5", "THERMOSTAT_MAX_WARM": "3"}
    for settings in (DiscoverySettings, RunSettings):
        with pytest.raises(ConfigurationError, match="THERMOSTAT_MIN_WARM=5 is greater than THERMOSTAT_MAX_WARM=3"):
            settings.from_env(env)
