"""Helpers for the forecast tests: records with a given slot history."""

from __future__ import annotations

from collections.abc import Sequence

from thermostat.records import SLOT_MS, TargetRecord, new_record

DAY0_MS = 1_763_856_000_000  # a midnight (UTC), so slot i of a day is i * 5 minutes after 00:00
assert DAY0_MS % (24 * 3600_000) == 0


def record_with(peaks: Sequence[float], start_ms: int = DAY0_MS, memory_mb: int = 128) -> TargetRecord:
    """A record whose slots from ``start_ms`` hold ``peaks`` (NaN allowed); 'now' is the end of the last slot."""
    record = new_record("fn", "fn", None, start_ms)
    record.config.memory_mb = memory_mb
    record.peaks = [float(v) for v in peaks]
    record.peaks_start_ms = start_ms
    return record


def end_of(record: TargetRecord) -> int:
    return record.peaks_start_ms + len(record.peaks) * SLOT_MS
