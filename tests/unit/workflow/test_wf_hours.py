"""Warm hours (thermostat.hours): the grammar, precise errors, midnight crossing, DST, the simulator's mask."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from thermostat.hours import HoursError, active_minutes, parse


def ms(text: str, zone: str = "UTC") -> int:
    """Local wall-clock time ``YYYY-MM-DD HH:MM`` in ``zone`` -> epoch ms."""
    tz = UTC if zone == "UTC" else ZoneInfo(zone)
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=tz).timestamp() * 1000)


# 2025-07-14 is a Monday
@pytest.mark.parametrize(("text", "canonical"), [
    ("Mon-Fri 07:00-19:00 Europe/Berlin", "Mon-Fri 07:00-19:00 Europe/Berlin"),
    ("mon-fri 7:00-19:00 utc", "Mon-Fri 07:00-19:00 UTC"),
    ("07:00-19:00", "daily 07:00-19:00 UTC"),
    ("Sat+Sun 10:00-16:00", "Sat-Sun 10:00-16:00 UTC"),
    ("Mon,Wed,Fri 08:00-09:00", "Mon,Wed,Fri 08:00-09:00 UTC"),
    ("Fri-Mon 00:00-24:00", "Mon,Fri-Sun 00:00-24:00 UTC"),
    ("Mon-Fri 07:00-12:00 13:00-19:00 Sat 09:00-13:00 America/New_York",
     "Mon-Fri 07:00-12:00 13:00-19:00; Sat 09:00-13:00 America/New_York"),
    ("Mon-Fri 08:00-18:00; 10:00-11:00", "Mon-Fri 08:00-18:00; daily 10:00-11:00 UTC"),
])
def test_valid_texts_parse_to_a_canonical_form_that_parses_to_itself(text: str, canonical: str) -> None:
    # GIVEN a valid warm-hours text WHEN parsed THEN its canonical text is as expected and stable
    hours = parse(text)
    assert hours.text == canonical
    assert parse(hours.text).windows == hours.windows


@pytest.mark.parametrize(("text", "message"), [
    ("", "is empty"),
    ("Mon-Fry 07:00-19:00", "'Mon-Fry' is not a day"),
    ("Mon,Frx 07:00-19:00", "'Frx' in 'Mon,Frx' is not a day"),
    ("Monday 07:00-19:00", "'Monday' is not days"),
    ("Mon-Fri 25:00-19:00", "'25:00-19:00': 25:00 is not a time of day"),
    ("Mon-Fri 07:60-19:00", "07:60 is not a time of day"),
    ("Mon-Fri 24:00-06:00", "cannot start at 24:00"),
    ("Mon-Fri 07:00-07:00", "'07:00-07:00' is empty"),
    ("Mon-Fri 0700-1900", "'0700-1900' is not a time range"),
    ("Mon-Fri", "'Mon-Fri' has no time range after it"),
    ("Mon-Fri Sat 07:00-08:00", "'Mon-Fri' has no time range after it"),
    ("Europe/Berlin Mon 07:00-08:00", "the time zone 'Europe/Berlin' must come last"),
    ("Mon 07:00-08:00 Europe/Berln", "'Europe/Berln' is not a known time zone"),
    ("Mon 07:00-08:00 ../../etc/passwd", "is not a time zone"),
    ("x" * 201, "at most 200"),
])
def test_malformed_texts_are_rejected_naming_the_offending_token(text: str, message: str) -> None:
    # GIVEN a malformed text WHEN parsed THEN HoursError names what is wrong
    with pytest.raises(HoursError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse(text)


def test_a_weekday_window_is_half_open_in_its_own_zone() -> None:
    # GIVEN Mon-Fri 07:00-19:00 in Berlin (summer: UTC+2)
    hours = parse("Mon-Fri 07:00-19:00 Europe/Berlin")
    # THEN 07:00 local is inside, 06:59 and 19:00 are not, and a Saturday is not
    assert hours.inside(ms("2025-07-14 07:00", "Europe/Berlin"))
    assert not hours.inside(ms("2025-07-14 06:59", "Europe/Berlin"))
    assert hours.inside(ms("2025-07-14 18:59", "Europe/Berlin"))
    assert not hours.inside(ms("2025-07-14 19:00", "Europe/Berlin"))
    assert not hours.inside(ms("2025-07-19 12:00", "Europe/Berlin"))
    # AND 05:30 UTC (07:30 in Berlin) is inside although it is before 07:00 UTC
    assert hours.inside(ms("2025-07-14 05:30"))


def test_a_window_that_crosses_midnight_belongs_to_the_day_it_starts() -> None:
    # GIVEN Fri 22:00-02:00 (UTC)
    hours = parse("Fri 22:00-02:00")
    # THEN Friday 23:00 and Saturday 01:59 are inside; Saturday 02:00, Friday 01:00, Saturday 23:00 are not
    assert hours.inside(ms("2025-07-18 23:00")) and hours.inside(ms("2025-07-19 01:59"))
    assert not hours.inside(ms("2025-07-19 02:00"))
    assert not hours.inside(ms("2025-07-18 01:00")) and not hours.inside(ms("2025-07-19 23:00"))
    # AND a Sunday night window wraps into Monday (the week boundary)
    sunday = parse("Sun 23:00-01:00")
    assert sunday.inside(ms("2025-07-21 00:30")) and not sunday.inside(ms("2025-07-14 23:30"))


def test_24_00_ends_the_day_and_daily_covers_every_day() -> None:
    hours = parse("daily 18:00-24:00")
    assert hours.inside(ms("2025-07-19 23:59")) and not hours.inside(ms("2025-07-20 00:00"))
    assert all(hours.inside(ms(f"2025-07-{14 + d} 20:00")) for d in range(7))


def test_wall_clock_follows_daylight_saving_time() -> None:
    # GIVEN daily 07:00-19:00 in Berlin
    hours = parse("daily 07:00-19:00 Europe/Berlin")
    # THEN in winter it starts at 06:00 UTC, in summer at 05:00 UTC (2025-03-30 and 2025-10-26 switch)
    assert hours.inside(ms("2025-03-29 06:00")) and not hours.inside(ms("2025-03-29 05:59"))
    assert hours.inside(ms("2025-03-31 05:00")) and not hours.inside(ms("2025-03-31 04:59"))
    assert hours.inside(ms("2025-10-27 06:00")) and not hours.inside(ms("2025-10-27 05:59"))
    # AND a range starting in the hour skipped in spring (02:30) starts when the clock reaches 03:00 local
    skipped = parse("Sun 02:30-04:00 Europe/Berlin")
    assert not skipped.inside(ms("2025-03-30 00:59"))  # 01:59 CET
    assert skipped.inside(ms("2025-03-30 01:00"))  # 03:00 CEST
    # AND the hour repeated in autumn (02:00-03:00 twice) is inside both times
    repeated = parse("Sun 02:00-03:00 Europe/Berlin")
    assert repeated.inside(ms("2025-10-26 00:30")) and repeated.inside(ms("2025-10-26 01:30"))
    assert not repeated.inside(ms("2025-10-26 02:00"))  # 03:00 CET


def test_the_simulators_mask_marks_the_minutes_inside() -> None:
    # GIVEN the Azure trace's day (2019-07-15, a Monday) and Mon-Fri 07:00-19:00 UTC
    mask = active_minutes(parse("Mon-Fri 07:00-19:00 UTC"), ms("2019-07-15 00:00"), 1440)
    # THEN exactly minutes 420..1139 are inside
    assert sum(mask) == 720 and mask[420] and not mask[419] and mask[1139] and not mask[1140]
    # AND on a Saturday none is
    assert not any(active_minutes(parse("Mon-Fri 07:00-19:00 UTC"), ms("2019-07-20 00:00"), 1440))


# --- the execution input's targets[].hours and trigger ----------------------------------------------------


def test_input_hours_are_checked_and_normalised_and_trigger_is_an_enum() -> None:
    from thermostat.config import RunSettings
    from thermostat.exceptions import InvalidInputError
    from thermostat.validation import parse_request

    # GIVEN valid hours and a trigger WHEN validated THEN hours are canonical and the trigger kept
    request = parse_request({"targets": [{"function": "a", "hours": "mon-fri 7:00-19:00 Europe/Berlin"}],
                             "trigger": "deploy"}, RunSettings())
    assert request["targets"][0]["hours"] == "Mon-Fri 07:00-19:00 Europe/Berlin" and request["trigger"] == "deploy"
    assert "trigger" not in parse_request({}, RunSettings())
    # AND a bad value is an InvalidInputError naming the field, with the grammar's message
    cases = [({"targets": ["a", {"function": "b", "hours": "Mon-Fry 07:00-19:00"}]},
              "targets[1].hours: 'Mon-Fry' is not a day (Mon..Sun), a day range (Mon-Fri) or 'daily'"),
             ({"targets": [{"function": "b", "hours": 7}]}, "targets[0].hours: must be a string, got number 7"),
             ({"trigger": "cron"}, 'trigger: must be one of schedule, manual, deploy, prewarm, got string "cron"')]
    for raw, cause in cases:
        with pytest.raises(InvalidInputError) as caught:
            parse_request(raw, RunSettings())
        assert str(caught.value) == cause
