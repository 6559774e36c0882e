"""``thermostat simulate --hours``: pings and CloudWatch reads only inside the warm hours, cold starts all day."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from thermostat.cli import main
from thermostat.sim.engine import simulate_function
from thermostat.sim.policies import Policy, SimSettings
from thermostat.sim.trace import AZURE_EPOCH_MS

from .conftest import make_trace, write_azure

DAY = 1440
HOURS = "Mon-Fri 07:00-19:00 UTC"  # the Azure trace's day, 2019-07-15, is a Monday: minutes 420..1139


def steady_day() -> list[list[int]]:
    """Two functions with a request every few minutes all day (cold without warming after idle gaps)."""
    return [[1 if m % 13 == 0 else 0 for m in range(DAY)], [2 if m % 17 == 0 else 0 for m in range(DAY)]]


def ping_minutes(per_tick: np.ndarray, tick: int) -> np.ndarray:
    return np.flatnonzero(per_tick) * tick


@pytest.mark.parametrize("policy", [Policy("fixed", 2), Policy("reactive"), Policy("oracle"), Policy("thermostat")])
def test_pings_only_inside_the_hours_and_cold_starts_all_day(policy: Policy) -> None:
    # GIVEN a day of steady traffic and warm hours 07:00-19:00 on a Monday
    trace = make_trace(steady_day())
    always = SimSettings(use_statsmodels=False)
    hours = replace(always, hours=HOURS)
    # WHEN the policy replays it with and without the hours
    with_hours = simulate_function(trace, 0, [Policy("none"), policy], hours).outcomes
    all_day = simulate_function(trace, 0, [Policy("none"), policy], always).outcomes
    ticked = with_hours[policy.name].pings_per_tick
    assert ticked is not None
    # THEN no ping is sent outside 07:00-19:00
    minutes = ping_minutes(ticked, always.tick_minutes)
    assert minutes.size and minutes.min() >= 420 and minutes.max() < 1140
    # AND fewer pings than all day, and cold starts are still counted outside the hours (more of them)
    assert with_hours[policy.name].pings < all_day[policy.name].pings
    assert with_hours[policy.name].cold_starts > all_day[policy.name].cold_starts
    # AND the replay without warming is the same either way (requests are replayed all day)
    assert with_hours["none"].cold_starts == all_day["none"].cold_starts


def test_the_thermostat_reads_no_cloudwatch_outside_the_hours() -> None:
    trace = make_trace(steady_day())
    settings = SimSettings(use_statsmodels=False, hours=HOURS, metric_read_hours=1.0)
    out = simulate_function(trace, 0, [Policy("thermostat")], settings).outcomes["thermostat"]
    all_day = simulate_function(trace, 0, [Policy("thermostat")], replace(settings, hours=None)).outcomes
    # THEN it decided "hours" at every tick outside (24 h - 12 h = 144 ticks of 5 minutes) and read less
    assert out.models["hours"] == 144
    assert out.metric_reads < all_day["thermostat"].metric_reads


def test_provisioned_is_not_affected_and_a_weekend_day_gets_no_ping() -> None:
    weekday = make_trace(steady_day())
    saturday = replace(weekday, start_ms=AZURE_EPOCH_MS + 5 * 86_400_000)
    settings = SimSettings(use_statsmodels=False, hours=HOURS)
    out = simulate_function(saturday, 0, [Policy("fixed", 1), Policy("provisioned")], settings).outcomes
    base = simulate_function(weekday, 0, [Policy("provisioned")], replace(settings, hours=None)).outcomes
    assert out["fixed:1"].pings == 0
    assert out["provisioned"].provisioned_usd == base["provisioned"].provisioned_usd > 0


def test_the_flag_is_checked_and_lands_in_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace_dir = write_azure(tmp_path / "trace", [[1 if m % 11 == 0 else 0 for m in range(DAY)]])
    out = tmp_path / "sim.json"
    # GIVEN --hours WHEN simulated THEN the results document says which hours were used
    code = main(["simulate", str(trace_dir), "--policies", "none,fixed:1", "--hours", "mon-fri 7:00-19:00 utc",
                 "--json", str(out), "--quiet", "--workers", "1"])
    assert code == 0 and json.loads(out.read_text())["settings"]["hours"] == HOURS
    # AND a malformed value exits 2 naming the flag and the offending token
    with pytest.raises(SystemExit) as caught:
        main(["simulate", str(trace_dir), "--hours", "Mon-Fry 07:00-19:00", "--quiet"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "--hours" in err and "'Mon-Fry' is not a day" in err
