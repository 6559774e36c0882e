"""Collect Metrics, CloudWatch half: the reads one run makes, folded into the per-target records.

Every run (one small call): the account's ``UnreservedConcurrentExecutions`` (Maximum, no dimension) and,
for each function with **reserved** concurrency, its ``ConcurrentExecutions`` — the last 16 minutes by
minute. A reserved pool is small and must be respected, so its use is read every run: one metric per
reserved function per run (its targets share it), $0.01 per 1,000 metrics = about $0.09 per reserved
function per month at a 5-minute schedule (the account metric costs the same, once).

Rarely (:func:`thermostat.telemetry.read_due`: first sight, every ``MetricReadHours`` with a per-target
jitter, early when the answers showed real traffic outgrowing the pings): one target's
``ConcurrentExecutions`` history (dimension ``FunctionName``, plus ``Resource`` = ``name:qualifier`` for
an alias or version). Reads sharing a window go in one ``GetMetricData`` flow (<= 500 queries per call,
paginated), joined by reads of narrower windows while all still fit one call (:func:`batches`): the
bootstrap is 3 days by 5 minutes, an incremental read is per minute since ``cw_through_ms``. At most
:data:`MAX_TARGET_READS_PER_RUN` history reads a run (never-read targets first), so a 5,000-target fleet
bootstraps over a few runs instead of one slow one.

Freshness: for a reserved pool, a datapoint counts for "now" when its minute started at most
:data:`FRESH_MS` ago. For the account, the window is :data:`ACCOUNT_FRESH_MS`: CloudWatch has no datapoint
for a minute in which nothing ran, and the workflow's own functions run every schedule period, so a quiet
account still shows the previous run; the account is taken to be as busy as the busiest minute of that
window (the minutes the metric has not reported yet are assumed no quieter). A value is taken over the
fresh minutes, the warmer's own pings taken out (record ping logs). No fresh datapoint = unknown (``None``):
the planner treats it as busy (no ping).
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from thermostat.metric_data import LAMBDA_NAMESPACE, MAX_DATAPOINTS_PER_CALL, MAX_QUERIES_PER_CALL, fetch, query
from thermostat.records import SLOT_MS, TargetRecord
from thermostat.telemetry import MINUTE_MS, merge_cloudwatch, read_due, read_window

logger = logging.getLogger(__name__)

FRESH_MS = 4 * MINUTE_MS  # a reserved pool's datapoint older than this is stale (metric lag)
ACCOUNT_FRESH_MS = 16 * MINUTE_MS  # the account: covers the previous run of a 5- or 10-minute schedule
CURRENT_LOOKBACK_MS = ACCOUNT_FRESH_MS  # the window of the every-run reads
MAX_TARGET_READS_PER_RUN = 1000  # history reads per run at most (bootstraps spread over runs)
RECENT_PEAK_MS = 3600_000  # "highest known real peak of the last hour" (the reserved-pool fallback)
ACCOUNT_QUERY = "acct"
_KIND_ORDER = {"bootstrap": 0, "early": 1, "scheduled": 2}


def read_interval_ms(key: str, hours: int) -> int:
    """``MetricReadHours`` for one target, jittered by ±20% per target so reads spread over the runs."""
    return int(hours * 3600_000 * (0.8 + 0.4 * (zlib.crc32(key.encode()) % 1000) / 1000))


def pings_by_minute(records: Iterable[TargetRecord], since_ms: int) -> dict[int, int]:
    """Pings the warmer sent, per minute (start ms), from the records' ping logs."""
    out: dict[int, int] = {}
    for record in records:
        for at, count in record.pings:
            if at >= since_ms:
                minute = at - at % MINUTE_MS
                out[minute] = out.get(minute, 0) + count
    return out


def fresh_value(points: Mapping[int, float], pings: Mapping[int, int], now_ms: int,
                fresh_ms: int = FRESH_MS) -> int | None:
    """Real concurrency now: the largest fresh datapoint, less the pings of its minute; None = no fresh one."""
    fresh = [(ts, value) for ts, value in points.items() if ts >= now_ms - fresh_ms]
    if not fresh:
        return None
    return math.ceil(max(max(value - pings.get(ts - ts % MINUTE_MS, 0), 0.0) for ts, value in fresh))


def recent_peak(record: TargetRecord, now_ms: int) -> int | None:
    """Highest known real peak of the slots of the last hour; None when none of them is known."""
    if not record.peaks:
        return None
    first = max(0, (now_ms - RECENT_PEAK_MS - record.peaks_start_ms) // SLOT_MS)
    known = [v for v in record.peaks[first:] if not math.isnan(v)]
    return math.ceil(max(known)) if known else None


@dataclass
class Reads:
    """What this run's CloudWatch reads found (records are updated in place)."""

    account_in_use: int | None = None  # fresh UnreservedConcurrentExecutions, own pings out; None = unknown
    account_newest_ms: int | None = None  # newest account datapoint seen (any age)
    busy: dict[str, int | None] = field(default_factory=dict)  # reserved target key -> fresh use (None: stale)
    metric_reads: int = 0  # metrics requested (billed)
    calls: int = 0
    histories: int = 0  # history reads merged
    deferred: int = 0  # history reads due but left for a later run
    failed: int = 0  # history reads that failed (the target is read again next run)
    error: str | None = None
    unavailable: bool = False  # no call succeeded at all


def due_reads(records: Sequence[TargetRecord], now_ms: int, hours: int, limit: int
              ) -> tuple[list[TargetRecord], int]:
    """Records whose history is read this run (bootstraps first, then early, then the longest unread) and
    how many more were due."""
    due: list[tuple[int, int, str, TargetRecord]] = []
    for record in records:
        kind = read_due(record, now_ms, read_interval_ms(record.key, hours))
        if kind is not None:
            due.append((_KIND_ORDER[kind], record.cw_read_at_ms, record.key, record))
    due.sort(key=lambda item: item[:3])
    return [item[3] for item in due[:limit]], max(0, len(due) - limit)


Window = tuple[int, int, int]  # (start_ms, end_ms, period_s) of a history read


def batches(due: Sequence[TargetRecord], now_ms: int) -> list[tuple[Window, list[tuple[TargetRecord, int]]]]:
    """The due history reads, each with its own start, by the window fetched for them. Windows of one end
    and period (the incremental reads differ only in their start) are packed into the widest one while
    their reads still fit one call, so a run never makes more calls than a flow per window."""
    groups: dict[Window, list[tuple[TargetRecord, int]]] = {}
    for record in due:
        window = read_window(record, now_ms)
        groups.setdefault(window, []).append((record, window[0]))
    out: list[tuple[Window, list[tuple[TargetRecord, int]]]] = []
    for window, members in sorted(groups.items(), key=lambda item: (item[0][1], item[0][2], item[0][0])):
        if out:
            (start, end, period), packed = out[-1]
            size = len(packed) + len(members)
            if (end, period) == window[1:] and size <= MAX_QUERIES_PER_CALL \
                    and size * ((end - start) // (period * 1000)) <= MAX_DATAPOINTS_PER_CALL:
                packed.extend(members)
                continue
        out.append((window, members))
    return out


def _dims(record: TargetRecord) -> list[tuple[str, str]]:
    dims = [("FunctionName", record.function)]
    if record.qualifier is not None:
        dims.append(("Resource", f"{record.function}:{record.qualifier}"))
    return dims


def read_all(cloudwatch: Any, targets: Sequence[TargetRecord], unreserved_pings: Mapping[int, int], now_ms: int,
             hours: int, limit: int = MAX_TARGET_READS_PER_RUN) -> Reads:
    """The run's reads: account + reserved pools now, then the due histories, merged into ``targets``."""
    out = Reads()
    minute = now_ms - now_ms % MINUTE_MS
    reserved = [r for r in targets if r.config.reserved is not None]
    # reserved concurrency is the function's, not an alias': one query per function, shared by its targets
    pool_ids = {name: f"c{i}" for i, name in enumerate(dict.fromkeys(r.function for r in reserved))}
    current = [query(ACCOUNT_QUERY, LAMBDA_NAMESPACE, "UnreservedConcurrentExecutions", [], 60)]
    current += [query(pool, LAMBDA_NAMESPACE, "ConcurrentExecutions", [("FunctionName", name)], 60)
                for name, pool in pool_ids.items()]
    now_read = fetch(cloudwatch, current, minute - CURRENT_LOOKBACK_MS, minute + MINUTE_MS)
    out.metric_reads += len(current)
    out.calls += now_read.calls
    ok = now_read.failed_chunks < now_read.chunks
    if now_read.failed_chunks:
        out.error = now_read.error
    account = now_read.values.get(ACCOUNT_QUERY)
    if account is not None:
        out.account_newest_ms = max(account) if account else None
        out.account_in_use = fresh_value(account, unreserved_pings, now_ms, ACCOUNT_FRESH_MS)
    for record in reserved:
        points = now_read.values.get(pool_ids[record.function])
        own = pings_by_minute([record], now_ms - CURRENT_LOOKBACK_MS)
        out.busy[record.key] = None if points is None else fresh_value(points, own, now_ms)

    due, out.deferred = due_reads(targets, now_ms, hours, limit)
    for (start, end, period), members in batches(due, now_ms):
        queries = [query(f"h{i}", LAMBDA_NAMESPACE, "ConcurrentExecutions", _dims(r), period)
                   for i, (r, _) in enumerate(members)]
        fetched = fetch(cloudwatch, queries, start, end)
        out.metric_reads += len(queries)
        out.calls += fetched.calls
        ok = ok or fetched.failed_chunks < fetched.chunks
        if fetched.failed_chunks:
            out.error = fetched.error
        for i, (record, own_start) in enumerate(members):
            values = fetched.values.get(f"h{i}")
            if values is None:  # its chunk failed: read again next run
                out.failed += 1
                continue
            merge_cloudwatch(record, sorted(values.items()), own_start, end, period, now_ms)
            out.histories += 1
    out.unavailable = not ok
    logger.info("cloudwatch_read", extra={"metrics": out.metric_reads, "calls": out.calls,
                                          "histories": out.histories, "deferred": out.deferred,
                                          "failed": out.failed, "reserved": len(reserved),
                                          "account_in_use": out.account_in_use, "unavailable": out.unavailable})
    return out
