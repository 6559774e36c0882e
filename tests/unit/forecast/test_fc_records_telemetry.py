"""The per-target record and what telemetry (ping answers, CloudWatch reads) writes into it."""

from __future__ import annotations

import math

import pytest

from thermostat.records import (
    HISTORY_SLOTS,
    SLOT_MS,
    LastPlan,
    new_record,
    record_from_json,
    record_to_json,
)
from thermostat.telemetry import (
    EARLY_READ_GAP_MS,
    LATE_GROWTH,
    SEND_AHEAD_MARGIN_MS,
    PingAnswer,
    merge_cloudwatch,
    observe_round,
    read_due,
    read_window,
)

from .conftest import DAY0_MS, record_with

MIN = 60_000
WINDOW = 5 * MIN


def test_a_record_survives_its_json_form_with_unknown_slots_as_null() -> None:
    # GIVEN a record with known, unknown and fractional slots, a ping log, envs and a last plan
    record = record_with([0.0, math.nan, math.nan, 3.0, 2.5])
    record.pings = [(DAY0_MS + MIN, 2)]
    record.envs = {"e1": DAY0_MS}
    record.last_plan = LastPlan(DAY0_MS, 3, 2, "recent", "why")
    record.model = {"fitted_at_ms": 5}
    # WHEN encoded and decoded
    doc = record_to_json(record)
    back = record_from_json(doc)
    # THEN the slots are run-length pairs with null for unknown, and nothing is lost
    assert doc["peaks"] == [0, 1, None, 2, 3, 1, 2.5, 1]
    assert back.peaks[:1] == [0.0] and math.isnan(back.peaks[1]) and back.peaks[3:] == [3.0, 2.5]
    assert (back.pings, back.envs, back.last_plan, back.model) == (record.pings, record.envs, record.last_plan,
                                                                  record.model)


def test_a_record_of_another_format_is_refused() -> None:
    doc = record_to_json(new_record("fn", "fn", None, DAY0_MS))
    doc["v"] = 99
    with pytest.raises(ValueError, match="format"):
        record_from_json(doc)


def test_slots_grow_with_time_and_keep_three_days() -> None:
    # GIVEN a new record, WHEN four days pass
    record = new_record("fn", "fn", None, DAY0_MS)
    record.ensure_slots(DAY0_MS + 4 * 24 * 3600_000)
    # THEN only the last three days of slots are kept, the newest one being "now"'s
    assert len(record.peaks) == HISTORY_SLOTS
    assert record.peaks_start_ms + (len(record.peaks) - 1) * SLOT_MS == DAY0_MS + 4 * 24 * 3600_000


def answer(env: str, real: int, real_age_ms: float | None, *, cold: bool = False, held: float = 20.0,
           late: float = 0.0) -> PingAnswer:
    return PingAnswer(env, cold, held, late, real, real_age_ms, 300_000.0, 180.0 if cold else None)


def test_answers_give_a_lower_bound_per_slot_from_the_environments_that_served_real_traffic() -> None:
    # GIVEN a record that knows e1..e3, and a round at 00:10 whose answers say e1 and e2 served real requests
    # 1 and 2 minutes ago, e3 nothing since its last ping
    record = record_with([0.0, 0.0])
    at = DAY0_MS + 2 * WINDOW
    record.envs = {"e1": at - WINDOW, "e2": at - WINDOW, "e3": at - WINDOW}
    summary = observe_round(record, at, 3, [answer("e1", 4, 60_000), answer("e2", 1, 120_000),
                                            answer("e3", 0, None)], WINDOW, 50.0)
    # THEN the slot before the round (00:05-00:10) had at least 2 concurrent real requests
    assert record.peaks[1] == 2.0
    assert (summary.active, summary.real_cold_starts, summary.saturated) == (2, 0, False)
    assert record.pings[-1] == (at, 3)


def test_a_warm_environment_the_warmer_never_saw_is_a_real_cold_start_and_asks_for_an_early_read() -> None:
    # GIVEN a record that knows e1 only; the round reaches e1 and an unknown e9 answering warm
    record = record_with([0.0, 0.0])
    at = DAY0_MS + 2 * WINDOW
    record.envs = {"e1": at - WINDOW}
    summary = observe_round(record, at, 2, [answer("e1", 1, 30_000), answer("e9", 3, 10_000)], WINDOW, 50.0)
    # THEN e9 was started by real traffic, every environment reached was busy (saturated), CloudWatch is due early
    assert summary.real_cold_starts == 1
    assert summary.saturated and record.saturated_at_ms == at
    assert record.cw_early


def test_the_first_look_at_a_target_flags_no_real_cold_start() -> None:
    record = record_with([0.0])
    summary = observe_round(record, DAY0_MS + WINDOW, 1, [answer("e1", 2, 10_000)], WINDOW, None)
    assert summary.real_cold_starts == 0 and not record.cw_early


def test_send_ahead_grows_at_once_when_a_ping_arrived_late_and_shrinks_slowly_to_what_was_needed() -> None:
    record = record_with([0.0])
    at = DAY0_MS + WINDOW
    # WHEN a round sent 100 ms ahead had a ping arriving 30 ms after release_at
    observe_round(record, at, 2, [answer("a", 0, None, held=40.0), answer("b", 0, None, held=0.0, late=30.0)],
                  WINDOW, 100.0)
    grown = record.send_ahead_ms
    assert grown is not None and grown >= 100.0 * LATE_GROWTH
    # WHEN the next rounds all arrive early (held 80 of a 100 ms lead: 20 ms of latency at worst)
    for k in range(30):
        observe_round(record, at + (k + 1) * WINDOW, 1, [answer("a", 0, None, held=grown - 20.0)], WINDOW, grown)
        grown = record.send_ahead_ms
    # THEN the lead converges to the latency seen plus the margin, not below
    assert grown == pytest.approx(20.0 + SEND_AHEAD_MARGIN_MS, abs=1.0)


def test_cold_answers_teach_the_init_time_but_not_the_send_ahead() -> None:
    record = record_with([0.0])
    observe_round(record, DAY0_MS + WINDOW, 1, [answer("n", 0, None, cold=True, held=0.0, late=500.0)], WINDOW, 60.0)
    assert record.send_ahead_ms is None and record.init_ms == pytest.approx(180.0)


def test_cloudwatch_minutes_without_pings_are_exact_and_ping_minutes_are_lower_bounds() -> None:
    # GIVEN two slots; the warmer sent 3 pings at 00:06; CloudWatch reads (pings included):
    # 00:01 -> 2, 00:06 -> 4 (3 pings + 1 real), nothing else
    record = record_with([9.0, 1.0])
    record.pings = [(DAY0_MS + 6 * MIN + 10, 3)]
    points = [(DAY0_MS + MIN, 2.0), (DAY0_MS + 6 * MIN, 4.0)]
    merge_cloudwatch(record, points, DAY0_MS, DAY0_MS + 10 * MIN, 60, now_ms=DAY0_MS + 12 * MIN)
    # THEN slot 0 is exactly 2 (the 9 from answers was wrong), slot 1 keeps max(answers, 4 - 3)
    assert record.peaks[0] == 2.0
    assert record.peaks[1] == 1.0
    assert (record.cw_read_at_ms, record.cw_through_ms, record.cw_early) == (DAY0_MS + 12 * MIN, DAY0_MS + 10 * MIN,
                                                                           False)


def test_reads_are_due_at_bootstrap_on_schedule_and_early_only_after_a_gap() -> None:
    record = record_with([0.0])
    now = DAY0_MS + 10 * 3600_000
    assert read_due(record, now, 6 * 3600_000) == "bootstrap"
    record.cw_read_at_ms = now - 3600_000
    assert read_due(record, now, 6 * 3600_000) is None
    record.cw_early = True
    assert read_due(record, now, 6 * 3600_000) == "early"
    record.cw_read_at_ms = now - EARLY_READ_GAP_MS + MIN
    assert read_due(record, now, 6 * 3600_000) is None
    record.cw_read_at_ms = now - 6 * 3600_000
    assert read_due(record, now, 6 * 3600_000) == "scheduled"


def test_the_bootstrap_reads_three_days_by_slot_later_reads_the_minutes_since_the_last_one() -> None:
    record = record_with([0.0])
    now = DAY0_MS + 3 * 24 * 3600_000 + 7 * MIN
    start, end, period = read_window(record, now)
    assert (period, (end - start) // SLOT_MS) == (300, HISTORY_SLOTS)
    record.cw_read_at_ms, record.cw_through_ms = now - 3600_000, now - 3600_000 - 2 * MIN
    start, end, period = read_window(record, now)
    assert period == 60 and start <= record.cw_through_ms and end == now - 2 * MIN - (now - 2 * MIN) % MIN
