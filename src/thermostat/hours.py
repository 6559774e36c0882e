"""Warm hours: when a target is kept warm at all (``thermostat:hours`` tag, ``targets[].hours`` input,
``thermostat simulate --hours``). Pure: standard library only (``zoneinfo`` for time zones and DST).

Grammar (case-insensitive; tokens separated by spaces, ``;`` ends a group)::

    hours   := group { ";" group } [ zone ]
    group   := { [ days ] range { range } }
    days    := "daily" | day-item { ("," | "+") day-item }     e.g. Mon-Fri, Sat,Sun, Mon+Wed+Fri, Fri-Mon
    day-item:= DAY | DAY "-" DAY                               DAY: Mon Tue Wed Thu Fri Sat Sun
    range   := HH:MM "-" HH:MM                                 00:00 .. 24:00; an end at or before the start
                                                               crosses midnight (22:00-06:00)
    zone    := an IANA time zone (Europe/Berlin, America/New_York, UTC); default UTC; last token only

A days list applies to every time range after it, up to the next days list or ``;``; a range with no days
before it is daily. Examples::

    Mon-Fri 07:00-19:00 Europe/Berlin
    Mon-Fri 07:00-12:00 13:00-19:00 Sat 09:00-13:00 America/New_York
    daily 22:00-06:00                      (every night, crossing midnight, UTC)
    Mon-Fri 08:00-18:00; Sat,Sun 10:00-16:00 Asia/Tokyo

Lambda tag values cannot hold ``,`` or ``;``: in a tag write ``Sat+Sun`` and separate groups with spaces
(``Mon-Fri 08:00-18:00 Sat+Sun 10:00-16:00``).

Semantics: an instant is *inside* when its wall-clock time in the zone falls in a range on one of its
days (``[start, end)``); a range that crosses midnight belongs to the day it starts on (``Fri 22:00-02:00``
is Friday 22:00 to Saturday 02:00). Wall clocks follow DST: ``07:00-19:00 Europe/Berlin`` is 06:00-18:00
UTC in winter and 05:00-17:00 UTC in summer; a range starting in the skipped spring-forward hour starts
when the clock reaches it, and the repeated autumn hour is inside twice when the range covers it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_TEXT = 200  # characters: a tag value holds 256; longer is a mistake
MINUTES_PER_DAY = 24 * 60

_RANGE = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
_DAY_ITEM = re.compile(r"([a-z]{3})(?:-([a-z]{3}))?")


class HoursError(ValueError):
    """A warm-hours text that does not parse; the message names the offending token."""


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # 0 = Monday
    start: int  # minutes after local midnight, 0..1439
    end: int  # 1..1440; end <= start crosses midnight


@dataclass(frozen=True)
class Hours:
    windows: tuple[Window, ...]
    zone: str  # "UTC" or an IANA key
    text: str  # canonical spelling (what reports show)

    def inside(self, epoch_ms: int) -> bool:
        """Whether ``epoch_ms`` is inside these hours."""
        local = datetime.fromtimestamp(epoch_ms / 1000.0, tz=_zone(self.zone))
        day, minute = local.weekday(), local.hour * 60 + local.minute
        for w in self.windows:
            if w.start < w.end:
                if day in w.days and w.start <= minute < w.end:
                    return True
            elif (day in w.days and minute >= w.start) or ((day - 1) % 7 in w.days and minute < w.end):
                return True
        return False

    def __str__(self) -> str:
        return self.text


def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


def _time(hour: str, minute: str, token: str) -> int:
    h, m = int(hour), int(minute)
    if h > 24 or m > 59 or (h == 24 and m != 0):
        raise HoursError(f"{token!r}: {hour}:{minute} is not a time of day (00:00 to 24:00)")
    return h * 60 + m


def _range(token: str) -> tuple[int, int]:
    match = _RANGE.fullmatch(token)
    if match is None:
        raise HoursError(f"{token!r} is not a time range like 07:00-19:00")
    start, end = _time(match[1], match[2], token), _time(match[3], match[4], token)
    if start == MINUTES_PER_DAY:
        raise HoursError(f"{token!r}: a range cannot start at 24:00")
    if start == end:
        raise HoursError(f"{token!r} is empty (start = end); a whole day is 00:00-24:00")
    return start, end


def _days(token: str) -> frozenset[int]:
    lowered = token.lower()
    if lowered == "daily":
        return frozenset(range(7))
    days: set[int] = set()
    for raw in re.split(r"[,+]", token):
        match = _DAY_ITEM.fullmatch(raw.lower())
        if match is None or match[1] not in DAYS or (match[2] is not None and match[2] not in DAYS):
            where = "" if raw == token or not raw else f" in {token!r}"
            raise HoursError(f"{raw or token!r}{where} is not a day (Mon..Sun), a day range (Mon-Fri) or 'daily'")
        first = DAYS.index(match[1])
        last = first if match[2] is None else DAYS.index(match[2])
        days.update((first + i) % 7 for i in range((last - first) % 7 + 1))  # Fri-Mon wraps
    return frozenset(days)


def _is_days(token: str) -> bool:
    try:
        _days(token)
    except HoursError:
        return False
    return True


def _looks_like_days(token: str) -> bool:
    return token.lower() == "daily" or re.fullmatch(r"[A-Za-z]{3}([-,+][A-Za-z]{3})*", token) is not None


@cache
def _zone_or_error(token: str) -> str:
    if token.upper() == "UTC":
        return "UTC"
    if not re.fullmatch(r"[A-Za-z0-9_+\-/]{1,64}", token):
        raise HoursError(f"{token!r} is not a time zone (an IANA name like Europe/Berlin, or UTC)")
    try:
        ZoneInfo(token)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        if not available_timezones():
            raise HoursError(f"{token!r}: no time zone database on this system (only UTC works)") from None
        raise HoursError(f"{token!r} is not a known time zone (an IANA name like Europe/Berlin, or UTC)") from None
    return token


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"\s+|(;)", text.strip()) if t]


def _canonical(groups: Sequence[tuple[frozenset[int] | None, list[tuple[int, int]]]], zone: str) -> str:
    parts = []
    for days, ranges in groups:
        spans = " ".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in ranges)
        parts.append(f"{_day_text(frozenset(range(7)) if days is None else days)} {spans}")
    return f"{'; '.join(parts)} {zone}"


def _day_text(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "daily"
    ordered = sorted(days)
    runs: list[list[int]] = []
    for d in ordered:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ",".join(DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}" for r in runs)


@lru_cache(maxsize=4096)
def parse(text: str) -> Hours:
    """``text`` -> :class:`Hours`; raises :class:`HoursError` naming the offending token (cached: every run
    checks each target's hours, and a fleet shares a few texts)."""
    if not isinstance(text, str):
        raise HoursError(f"must be a string like 'Mon-Fri 07:00-19:00 Europe/Berlin', got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise HoursError(f"is {len(text)} characters long, at most {MAX_TEXT}")
    tokens = _tokens(text)
    if not tokens:
        raise HoursError("is empty; e.g. 'Mon-Fri 07:00-19:00 Europe/Berlin'")
    zone = "UTC"
    groups: list[tuple[frozenset[int] | None, list[tuple[int, int]]]] = []
    days: frozenset[int] | None = None
    pending: str | None = None  # a days token still waiting for its first range
    for index, token in enumerate(tokens):
        if token == ";":
            if pending is not None:
                raise HoursError(f"{pending!r} has no time range after it")
            days = None
            continue
        if token[0].isdigit():
            span = _range(token)
            if groups and groups[-1][0] is days and pending is None:
                groups[-1][1].append(span)
            else:
                groups.append((days, [span]))
            pending = None
            continue
        zone_like = token.upper() == "UTC" or "/" in token
        if index == len(tokens) - 1 and (zone_like or not _is_days(token)):
            zone = _zone_or_error(token)
            continue
        if zone_like:
            raise HoursError(f"the time zone {token!r} must come last")
        if not _looks_like_days(token):
            raise HoursError(f"{token!r} is not days (Mon-Fri, Sat+Sun, daily), a time range (07:00-19:00) "
                             "or a time zone (Europe/Berlin)")
        if pending is not None:
            raise HoursError(f"{pending!r} has no time range after it")
        days, pending = _days(token), token
    if pending is not None:
        raise HoursError(f"{pending!r} has no time range after it")
    if not groups:
        raise HoursError(f"{text.strip()!r} has no time range (e.g. 07:00-19:00)")
    windows = tuple(Window(frozenset(range(7)) if d is None else d, s, e) for d, spans in groups for s, e in spans)
    return Hours(windows, zone, _canonical(groups, zone))


def active_minutes(hours: Hours, start_ms: int, minutes: int) -> list[bool]:
    """Whether each minute ``start_ms + i min`` (i < ``minutes``) is inside (the simulator's mask)."""
    return [hours.inside(start_ms + i * 60_000) for i in range(minutes)]
