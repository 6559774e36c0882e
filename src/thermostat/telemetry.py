"""Telemetry into the per-target record: ping answers every run, CloudWatch rarely (issue: no per-tick reads).

Data flows one way: a ping round's answers (:class:`PingAnswer`) or a CloudWatch read (per-minute
``ConcurrentExecutions`` Maximum) -> :func:`observe_round` / :func:`merge_cloudwatch` -> the record's slot
series of REAL peak concurrency, ping log, known environments and learned send-ahead. The forecast reads
only the record.

What an answer tells (protocol v2, ``thermostat_target.protocol``): ``real`` requests since the
environment's previous ping and ``real_age_ms``, the age of the last one. Lambda hands a request the most
recently freed environment first, so the environments a round reaches are the ones real traffic used
last: the number of them whose last real request started in a slot is a lower bound of that slot's peak
(exact when the round reached every environment real traffic used). An environment id the warmer never
created nor saw before, answering warm, was started by real traffic: a cold start the warmer did not
prevent, and a sign that the pool outgrew the pings (read CloudWatch early).

CloudWatch's ``ConcurrentExecutions`` counts the pings too: a minute with a ping round of N reads at
least N. Minutes without pings are exact; in a ping minute the real peak is at least ``max - N``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from thermostat.records import HISTORY_SLOTS, SLOT_MS, TargetRecord, slot_of

MINUTE_MS = 60_000
SEND_AHEAD_DEFAULT_MS = 100.0  # first round of a target: generous, then learned from its answers
SEND_AHEAD_MIN_MS = 15.0
SEND_AHEAD_MAX_MS = 1_500.0
SEND_AHEAD_MARGIN_MS = 15.0  # beyond the slowest arrival seen
SEND_AHEAD_DECAY = 0.8  # per round, towards what the last round needed (it jumps up at once)
LATE_GROWTH = 1.5  # a ping that arrived after release_at: lead x this at least
INIT_DEFAULT_MS = 250.0
EARLY_READ_GAP_MS = 45 * MINUTE_MS  # an early CloudWatch read at most this often (GetMetricData cost cap)

ReadKind = Literal["bootstrap", "scheduled", "early"]


class PingAnswer(NamedTuple):
    """One answer, protocol-version independent (v1 answers have None telemetry)."""

    env: str
    cold: bool
    held_ms: float
    late_ms: float | None = None
    real: int | None = None
    real_age_ms: float | None = None
    ping_age_ms: float | None = None
    init_ms: float | None = None


@dataclass(frozen=True)
class RoundSummary:
    """What one round achieved and saw, for the report."""

    sent: int
    answered: int
    distinct: int
    warming_inits: int  # environments the pings created (cold answers)
    real_cold_starts: int  # environments real traffic created since the warmer last looked
    active: int  # environments that served real traffic in the last window
    saturated: bool  # every environment reached served real traffic: the true peak may be higher


def observe_round(record: TargetRecord, at_ms: int, sent: int, answers: Sequence[PingAnswer],
                  window_ms: int, send_ahead_ms: float | None) -> RoundSummary:
    """Fold one ping round (sent at ``at_ms``, the round's release time) into ``record``."""
    record.ensure_slots(at_ms)
    distinct = {a.env: a for a in answers}
    known = record.envs
    first_look = not known
    foreign = 0 if first_look else sum(1 for a in distinct.values() if not a.cold and a.env not in known)
    cold = sum(1 for a in distinct.values() if a.cold)
    active = 0
    telemetry = False
    by_slot: dict[int, int] = {}
    for answer in distinct.values():
        if answer.real is None:
            continue
        telemetry = True
        if answer.real > 0 and answer.real_age_ms is not None:
            started = at_ms - int(answer.real_age_ms)
            if answer.real_age_ms <= window_ms:
                active += 1
            if started >= at_ms - 2 * window_ms:
                slot = slot_of(started)
                by_slot[slot] = by_slot.get(slot, 0) + 1
    if telemetry:
        # every slot the round looked back on is known: 0 unless an environment served a request in it
        for slot in range(slot_of(at_ms - window_ms), slot_of(at_ms) + SLOT_MS, SLOT_MS):
            record.raise_slot(slot, float(by_slot.get(slot, 0)))
        for slot, count in by_slot.items():
            record.raise_slot(slot, float(count))
    saturated = telemetry and sent > 0 and len(distinct) >= sent and active >= len(distinct)
    if foreign:
        record.cw_early = True
    if saturated:
        record.saturated_at_ms = at_ms
    for env in distinct:
        known[env] = at_ms
    invoked = len(answers)
    if invoked:
        record.pings.append((at_ms, invoked))
    _learn_send_ahead(record, answers, send_ahead_ms)
    _learn_init(record, answers)
    record.prune(at_ms)
    return RoundSummary(sent, len(answers), len(distinct), cold, foreign, active, saturated)


def _learn_send_ahead(record: TargetRecord, answers: Sequence[PingAnswer], used_ms: float | None) -> None:
    """The lead a round needs: every ping must arrive before release_at, and no earlier than needed (a long
    hold keeps an environment busy and bills the target). Learned from warm answers: arrival = release -
    held (or + late); a round's latency = used lead + arrival offset."""
    used = SEND_AHEAD_DEFAULT_MS if used_ms is None else used_ms
    offsets = [(a.late_ms or 0.0) if (a.late_ms or 0.0) > 0 else -a.held_ms
               for a in answers if not a.cold and a.late_ms is not None]
    if not offsets:
        return
    needed = used + max(offsets) + SEND_AHEAD_MARGIN_MS
    previous = record.send_ahead_ms if record.send_ahead_ms is not None else used
    # a late ping means the round may not have overlapped: grow at once; otherwise decay towards the need
    growth = LATE_GROWTH if max(offsets) > 0 else SEND_AHEAD_DECAY
    learned = max(needed, previous * growth)
    record.send_ahead_ms = round(min(max(learned, SEND_AHEAD_MIN_MS), SEND_AHEAD_MAX_MS), 1)


def _learn_init(record: TargetRecord, answers: Sequence[PingAnswer]) -> None:
    inits = [a.init_ms for a in answers if a.cold and a.init_ms is not None and a.init_ms > 0]
    if inits:
        seen = sum(inits) / len(inits)
        record.init_ms = seen if record.init_ms is None else 0.7 * record.init_ms + 0.3 * seen


# --- CloudWatch -----------------------------------------------------------------------------------------

def read_due(record: TargetRecord, now_ms: int, interval_ms: int) -> ReadKind | None:
    """Whether this run reads the target's ConcurrentExecutions, and why (None: not this run)."""
    if record.cw_read_at_ms <= 0:
        return "bootstrap"
    since = now_ms - record.cw_read_at_ms
    if since >= interval_ms:
        return "scheduled"
    if record.cw_early and since >= EARLY_READ_GAP_MS:
        return "early"
    return None


def read_window(record: TargetRecord, now_ms: int, lag_ms: int = 2 * MINUTE_MS) -> tuple[int, int, int]:
    """(start_ms, end_ms, period_s) of the read: 3 days by 5-minute slots at bootstrap, else the minutes
    since the last read (per minute, so ping minutes can be told apart), ending ``lag_ms`` before now."""
    end = (now_ms - lag_ms) // MINUTE_MS * MINUTE_MS
    if record.cw_read_at_ms <= 0 or record.cw_through_ms <= 0:
        end = slot_of(end)
        return end - HISTORY_SLOTS * SLOT_MS, end, SLOT_MS // 1000
    start = max(record.cw_through_ms, slot_of(end) - 24 * 3600_000)
    start = min(slot_of(start), end)  # whole slots: a slot is re-read entirely
    return start, end, 60


def merge_cloudwatch(record: TargetRecord, points: Sequence[tuple[int, float]], start_ms: int, end_ms: int,
                     period_s: int, now_ms: int) -> None:
    """Fold a read of ConcurrentExecutions Maximum (``(timestamp_ms, value)``; no datapoint = 0) into the
    record's slots, the warmer's own pings taken out with its ping log."""
    step = period_s * 1000
    values = {ts - ts % step: value for ts, value in points if start_ms <= ts < end_ms}
    pings = _pings_by(step, record.pings, start_ms, end_ms)
    record.ensure_slots(max(end_ms - 1, start_ms))
    record.ensure_from(start_ms)  # a first read covers the days before the target was seen
    for slot in range(slot_of(start_ms), end_ms, SLOT_MS):
        clean: list[float] = []
        dirty: list[float] = []
        for at in range(max(slot, start_ms), min(slot + SLOT_MS, end_ms), step):
            value = values.get(at, 0.0)
            sent = pings.get(at, 0)
            (dirty if sent else clean).append(max(value - sent, 0.0) if sent else value)
        if not clean and not dirty:
            continue
        estimate = max(clean + dirty)
        if dirty:
            record.raise_slot(slot, estimate)  # a ping minute: a lower bound, keep what answers said
        else:
            record.set_slot(slot, estimate)
    record.cw_read_at_ms = now_ms
    record.cw_through_ms = max(record.cw_through_ms, end_ms)
    record.cw_early = False


def _pings_by(step: int, pings: Sequence[tuple[int, int]], start_ms: int, end_ms: int) -> dict[int, int]:
    out: dict[int, int] = {}
    for at, count in pings:
        if start_ms <= at < end_ms:
            key = at - at % step
            out[key] = out.get(key, 0) + count
    return out

