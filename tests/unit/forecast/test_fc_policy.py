"""The sizing policy: demand from the record, the dollar objective, statsmodels hints, the fleet budget."""

from __future__ import annotations

import itertools
import math

import pytest

from thermostat.forecast import TargetPolicy, forecast_fleet, forecast_target
from thermostat.forecast.demand import demand
from thermostat.forecast.objective import Prices, size

from .conftest import DAY0_MS, end_of, record_with

DAY = 288  # slots


def test_demand_is_the_weighted_share_of_recent_windows_at_or_above_each_level() -> None:
    # GIVEN a day of slots: mostly 1, a peak of 4 an hour ago, and nothing known in a stretch
    peaks = [1.0] * DAY
    peaks[-12] = 4.0
    peaks[10:20] = [math.nan] * 10
    record = record_with(peaks)
    need = demand(record, end_of(record))
    # THEN everything known reached 1, a few reached 4, nothing reached 5 except the tail of a new record
    assert need.survival(1) == pytest.approx(1.0, abs=0.02)
    assert 0.0 < need.survival(4) < 0.05
    assert need.survival(5) < need.survival(4)
    assert (need.recent_peak, need.burst_peak, need.known_windows) == (4.0, 4.0, DAY - 10 - 1)


def test_a_burst_of_the_last_day_counts_less_than_a_recent_one_but_still_counts() -> None:
    quiet = [0.0] * DAY
    early, late = list(quiet), list(quiet)
    early[5], late[-5] = 30.0, 30.0  # ~23 h ago vs 25 min ago
    old = demand(record_with(early), end_of(record_with(early)))
    new = demand(record_with(late), end_of(record_with(late)))
    assert 0 < old.survival(30) < new.survival(30)
    assert old.burst_peak == new.burst_peak == 30.0 and old.recent_peak == 0.0


def test_with_nothing_known_the_prior_asks_for_a_few_environments_that_fade_quickly() -> None:
    record = record_with([math.nan] * 3)
    need = demand(record, end_of(record))
    assert need.known_windows == 0 and need.survival(1) == 1.0 and need.survival(3) < need.survival(2) < 1.0


def price(p: float = 0.0005, memory_mb: int = 128) -> Prices:
    return Prices(price_per_cold_start=p, memory_mb=memory_mb, hold_ms=30.0, init_ms=250.0, window_minutes=5.0)


def steady(level: float) -> list[float]:
    return [level] * DAY


def test_each_environment_is_warmed_while_the_cold_starts_it_avoids_are_worth_more_than_it_costs() -> None:
    record = record_with(steady(5.0))
    need = demand(record, end_of(record))
    sizing = size(need, price(), floor=1, cap=100, warm_now=5)
    # THEN the 5 always needed are warm, plus headroom while the tail still pays; every kept level pays off
    assert sizing.desired >= 5
    assert all(level.value_usd >= level.cost_usd for level in sizing.levels)
    assert sizing.levels[-1].k == sizing.desired
    # AND a level beyond the desired one would not pay
    beyond = size(need, price(), floor=sizing.desired + 1, cap=sizing.desired + 1, warm_now=5)
    assert beyond.desired == sizing.desired + 1 and beyond.term == "floor"


def test_a_dearer_cold_start_warms_more_and_a_bigger_function_warms_less() -> None:
    record = record_with(steady(5.0))
    need = demand(record, end_of(record))
    cheap, dear = size(need, price(0.00005), floor=1, cap=100, warm_now=5), size(need, price(0.05), floor=1, cap=100,
                                                                                   warm_now=5)
    big = size(need, price(0.00005, memory_mb=10240), floor=1, cap=100, warm_now=5)
    assert cheap.desired < dear.desired
    assert big.desired <= cheap.desired


def test_the_floor_and_the_cap_bound_the_plan_and_the_reason_says_which_term_decided() -> None:
    record = record_with(steady(0.0))
    need = demand(record, end_of(record))
    low = size(need, price(1e-9), floor=2, cap=100, warm_now=0)
    assert (low.desired, low.term) == (2, "floor") and "floor" in low.reason
    busy = record_with(steady(40.0))
    high = size(demand(busy, end_of(busy)), price(), floor=1, cap=10, warm_now=10)
    assert (high.desired, high.term) == (10, "max")
    assert high.provisioned_usd_month > high.ping_usd_month > 0  # the break-even users ask about


def test_a_second_environment_covers_a_recycled_one_for_a_function_that_is_often_busy() -> None:
    # GIVEN a function that needs 1 environment in 40 % of windows and never 2
    record = record_with([1.0 if i % 5 < 2 else 0.0 for i in range(DAY)])
    sizing = size(demand(record, end_of(record)), price(), floor=1, cap=100, warm_now=1)
    assert sizing.desired >= 2
    assert sizing.levels[0].term in ("loss", "headroom")


def test_a_function_silent_for_a_known_day_is_planned_at_its_floor() -> None:
    # GIVEN traffic of 4 a day and a bit ago, then a day of silence
    burst = [4.0] * 12
    known = record_with(burst + [0.0] * DAY)
    sparse = record_with(burst + [0.0 if i % 6 == 0 else math.nan for i in range(DAY)])  # a sixth of it known
    day, sixth = demand(known, end_of(known)), demand(sparse, end_of(sparse))
    assert day.silent and sixth.silent and sixth.known_windows < DAY // 5
    # THEN waking up is about as likely as one more window beating N silent ones: 1/(N+1), whatever their age
    assert day.survival(1) == pytest.approx(1 / (day.known_windows + 1))
    # AND a whole day of silence gets the floor at the default price, no cover for its one environment ...
    assert size(day, price(0.001), floor=1, cap=100, warm_now=2).desired == 1
    # ... while a silence known only in part still pays for one, as cover against a recycle
    covered = size(sixth, price(0.001), floor=1, cap=100, warm_now=2)
    assert (covered.desired, covered.term) == (2, "loss")


def test_a_burst_ageing_between_reads_never_raises_the_plan_and_is_forgotten_after_a_day() -> None:
    # GIVEN a day of silence, then 45 minutes at 4 concurrent, then silence that a CloudWatch read fills in
    # every 6 hours (in between nothing new is known: new environments know nothing of before them)
    burst = [0.0] * DAY + [4.0] * 9
    plans = []
    for hours in range(28):
        read = hours // 6 * 6
        aged = record_with(burst + [0.0] * (read * 12) + [math.nan] * ((hours - read) * 12))
        warm = plans[-1] if plans else 0  # the rounds keep what was planned warm
        plans.append(size(demand(aged, end_of(aged)), price(0.001), floor=1, cap=100, warm_now=warm).desired)
    # THEN the plan covers the burst's 4 at first, never grows while it ages, and is the floor once a day old
    assert plans[0] >= 4
    assert all(later <= earlier for earlier, later in itertools.pairwise(plans)), plans
    assert plans[-1] == 1, plans


def test_a_saturated_round_that_met_real_cold_starts_makes_the_next_one_probe_for_a_larger_pool() -> None:
    record = record_with(steady(2.0))
    now = end_of(record)
    plain = forecast_target(record, now, TargetPolicy(), warm_now=3)
    # WHEN the last round reached only busy environments, but none started by real traffic: no probe
    record.saturated_at_ms = now - 60_000
    assert forecast_target(record, now, TargetPolicy(), warm_now=3).desired == plain.desired
    # WHEN real traffic was also seen starting environments of its own: twice the last round
    record.cw_early = True
    probed = forecast_target(record, now, TargetPolicy(), warm_now=3)
    assert probed.desired == max(plain.desired, 6) and (probed.term == "probe") == (plain.desired < 6)


def ramp_days(days: int, peak_of_day: list[float]) -> list[float]:
    """5-minute slots: 1 at night, ``peak_of_day[d]`` from 09:00 to 17:00 on day d."""
    slots = []
    for day in range(days):
        for slot in range(DAY):
            hour = slot // 12
            slots.append(peak_of_day[day] if 9 <= hour < 17 else 1.0)
    return slots


def test_the_seasonal_model_raises_the_plan_by_0855_ahead_of_a_daily_0900_ramp() -> None:
    # GIVEN 3 days whose traffic ramps at 09:00 every day, growing day over day (10, 20, 30),
    # and day 4 up to 08:55 (quiet since 17:00 the day before)
    history = ramp_days(3, [10.0, 20.0, 30.0]) + [1.0] * (9 * 12 - 1)
    on, off = record_with(history), record_with(list(history))
    now = DAY0_MS + (3 * DAY + 9 * 12 - 1) * 300_000  # day 4, 08:55
    assert (now - DAY0_MS) % 86_400_000 == (8 * 60 + 55) * 60_000
    # WHEN the 08:55 plan is made with and without statsmodels
    with_sm = forecast_target(on, now, TargetPolicy(use_statsmodels=True, price_per_cold_start=0.0005), warm_now=1)
    without = forecast_target(off, now, TargetPolicy(use_statsmodels=False, price_per_cold_start=0.0005), warm_now=1)
    # THEN Holt-Winters (daily season, damped trend) expects more than yesterday's 30 at 09:00 and warms for it
    assert with_sm.term == "seasonal", with_sm.reason
    assert with_sm.desired > without.desired
    assert with_sm.desired > 30
    # AND at 03:00 the same model does not raise the plan above what the history gives
    night = DAY0_MS + (3 * DAY + 3 * 12) * 300_000
    night_rec = record_with(history[: 3 * DAY + 3 * 12])
    assert forecast_target(night_rec, night, TargetPolicy(use_statsmodels=True), warm_now=1).term != "seasonal"


def test_bursts_on_a_grid_are_expected_when_due_and_not_in_between() -> None:
    # GIVEN bursts of 12 every 2 hours (every 24 slots) on a quiet function for 1.5 days
    slots = [12.0 if i % 24 == 0 else 0.0 for i in range(int(1.5 * DAY))]
    record = record_with(slots)
    due = DAY0_MS + len(slots) * 300_000  # 1.5 days is a multiple of 2 h: the next burst is due right after
    record.ensure_slots(due - 300_000)
    between = forecast_target(record, due - 60 * 60_000, TargetPolicy(price_per_cold_start=2e-6, floor=0))
    at_due = forecast_target(record, due - 2 * 60_000, TargetPolicy(price_per_cold_start=2e-6, floor=0))
    assert at_due.term == "periodic" and at_due.desired >= 12
    assert between.desired < 12


def test_the_fleet_budget_keeps_floors_and_cuts_the_levels_that_avoid_least_per_dollar() -> None:
    busy, quiet = record_with(steady(20.0)), record_with(steady(1.0))
    records = {"busy": busy, "quiet": quiet}
    policies = [("busy", TargetPolicy(floor=1)), ("quiet", TargetPolicy(floor=1)), ("gone", TargetPolicy(floor=2))]
    now = end_of(busy)
    free = forecast_fleet(records, policies, now)
    capped = forecast_fleet(records, policies, now, monthly_budget_usd=0.05)
    want = {t.key: t for t in free.targets}
    got = {t.key: t for t in capped.targets}
    assert want["gone"].desired == 2 and want["gone"].term == "error"  # no record: its floor, and why
    assert got["busy"].desired < want["busy"].desired and got["busy"].term == "budget"
    assert got["quiet"].desired >= 1 and got["busy"].desired >= 1
    assert sum(t.ping_usd_month for t in capped.targets if t.key != "gone") <= 0.05 + 1e-9 + sum(
        t.ping_usd_month / t.desired for t in capped.targets if t.key != "gone")
    assert capped.budget_note is not None and "$0.05" in capped.budget_note


def test_the_requested_quantile_of_the_peak_is_kept_even_where_the_price_would_not_pay_for_it() -> None:
    # GIVEN a function at 6 in half of the windows and 2 in the other half, and a price too low to warm above 2
    record = record_with([6.0 if i % 2 else 2.0 for i in range(DAY)])
    need = demand(record, end_of(record))
    cheap = size(need, price(1e-9), floor=1, cap=100, warm_now=2)
    assert cheap.desired == 1 and cheap.term == "floor"
    # WHEN the input asks for its 0.9 quantile THEN 6 are kept, and the reason says why
    covered = size(need, price(1e-9), floor=1, cap=100, warm_now=2, coverage=0.9)
    assert (covered.desired, covered.term) == (6, "quantile") and "quantile" in covered.reason
    # AND a quantile the dollars already exceed changes nothing
    assert size(need, price(), floor=1, cap=100, warm_now=6, coverage=0.5).term != "quantile"
