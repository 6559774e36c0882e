"""What the state store keeps per target between runs: :class:`TargetRecord`, and its JSON form.

The record is the workflow's memory of one target (``name`` or ``name:qualifier``):

- ``peaks``: the REAL peak concurrency of every 5-minute slot (wall-clock aligned, :data:`SLOT_MS`) over
  the last :data:`HISTORY_SLOTS` (3 days), NaN where nothing is known. Filled from two sources, never
  from the warmer's own pings: the ping answers (a lower bound per ping round, every run) and the rare
  CloudWatch ``ConcurrentExecutions`` reads (exact in minutes without pings; de-pinged with ``pings``);
- ``pings``: the log of ping rounds sent ``[(at_ms, count)]``, long enough to de-ping a CloudWatch read;
- ``envs``: environment ids that answered recently (id -> last answer ms): an answer from an id the
  warmer never created or saw is an environment real traffic started, i.e. a real cold start;
- the learned send-ahead, the CloudWatch read bookkeeping, what Lambda said about the function
  (``config``), the last plan (the fallback when Collect or Forecast fails) and the seasonal memo.

Pure data: :func:`record_to_json` / :func:`record_from_json` are the only codec (the store module treats
the JSON as opaque). A record that does not decode is dropped (:func:`decode_records`) and rebuilt.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

logger = logging.getLogger(__name__)

SLOT_MS = 300_000  # one slot = 5 minutes, aligned to the epoch
HISTORY_SLOTS = 3 * 288  # 3 days of slots
PING_LOG_MS = 26 * 3600_000  # ping rounds kept: longer than the longest gap between CloudWatch reads
ENV_MEMORY_MS = 3600_000  # environment ids remembered this long after their last answer
RECORD_FORMAT = 2  # 2: series as flat [value, count, ...] pairs

NAN = float("nan")


def slot_of(at_ms: int) -> int:
    """Start (epoch ms) of the slot that contains ``at_ms``."""
    return at_ms - at_ms % SLOT_MS


@dataclass
class FunctionConfig:
    """What Lambda says about the target (re-read when older than its refresh interval)."""

    arn: str = ""
    memory_mb: int = 128
    timeout_s: int = 3
    reserved: int | None = None  # reserved concurrency of the function; None = draws on the unreserved pool
    provisioned: int = 0  # provisioned concurrency configured on the target's qualifier
    read_at_ms: int = 0  # 0 = never read: the concurrency budget treats the target as unknown
    listed_at_ms: int = 0  # when memory/timeout/ARN last came from a ListFunctions listing


@dataclass
class LastPlan:
    at_ms: int
    desired: int
    requested: int
    model: str
    reason: str


@dataclass
class TargetRecord:
    key: str
    function: str
    qualifier: str | None
    first_seen_ms: int
    last_seen_ms: int
    peaks_start_ms: int  # slot start of peaks[0]
    peaks: list[float] = field(default_factory=list)  # real peak per slot, NaN = unknown
    pings: list[tuple[int, int]] = field(default_factory=list)  # (at_ms, pings sent) per round, oldest first
    envs: dict[str, int] = field(default_factory=dict)  # env id -> last answer (ms)
    send_ahead_ms: float | None = None  # learned lead of a ping round; None = not learned yet
    init_ms: float | None = None  # learned init duration of a new environment (cold answers)
    cw_read_at_ms: int = 0  # last CloudWatch read (0 = never: the first read bootstraps 3 days)
    cw_through_ms: int = 0  # CloudWatch history is merged up to here (exclusive)
    cw_early: bool = False  # answers showed the pool outgrew the pings: read CloudWatch before schedule
    saturated_at_ms: int = 0  # last round in which every environment reached had served real traffic
    protocol: int = 2  # ping version the target's library answers (1 = an old library)
    config: FunctionConfig = field(default_factory=FunctionConfig)
    last_plan: LastPlan | None = None
    model: dict[str, Any] = field(default_factory=dict)  # seasonal / periodic-burst memo (forecast's own)

    # --- the slot series ------------------------------------------------------------------------------
    def ensure_slots(self, until_ms: int) -> None:
        """Grow ``peaks`` with unknown slots up to the slot that contains ``until_ms``; keep 3 days."""
        if not self.peaks:
            self.peaks_start_ms = slot_of(until_ms)
            self.peaks.append(NAN)
        last = slot_of(until_ms)
        end = self.peaks_start_ms + (len(self.peaks) - 1) * SLOT_MS
        if last > end:
            self.peaks.extend([NAN] * ((last - end) // SLOT_MS))
        excess = len(self.peaks) - HISTORY_SLOTS
        if excess > 0:
            del self.peaks[:excess]
            self.peaks_start_ms += excess * SLOT_MS

    def ensure_from(self, from_ms: int) -> None:
        """Grow ``peaks`` backwards with unknown slots so it starts at the slot of ``from_ms`` (a first
        CloudWatch read covers the days before the target was seen); never beyond 3 days in all."""
        first = slot_of(from_ms)
        if not self.peaks:
            self.ensure_slots(from_ms)
        end = self.peaks_start_ms + len(self.peaks) * SLOT_MS
        first = max(first, end - HISTORY_SLOTS * SLOT_MS)
        if first < self.peaks_start_ms:
            self.peaks[:0] = [NAN] * ((self.peaks_start_ms - first) // SLOT_MS)
            self.peaks_start_ms = first

    def slot_index(self, at_ms: int) -> int:
        return (slot_of(at_ms) - self.peaks_start_ms) // SLOT_MS

    def raise_slot(self, at_ms: int, value: float) -> None:
        """Known real peak of the slot containing ``at_ms`` is at least ``value`` (max with what is there)."""
        if not self.peaks or slot_of(at_ms) < self.peaks_start_ms:
            return
        self.ensure_slots(at_ms)
        index = self.slot_index(at_ms)
        old = self.peaks[index]
        self.peaks[index] = value if math.isnan(old) else max(old, value)

    def set_slot(self, at_ms: int, value: float) -> None:
        """An exact value for the slot (CloudWatch without pings in it): replaces what was there."""
        if not self.peaks or slot_of(at_ms) < self.peaks_start_ms:
            return
        self.ensure_slots(at_ms)
        self.peaks[self.slot_index(at_ms)] = value

    def prune(self, now_ms: int) -> None:
        """Forget ping rounds and environment ids too old to matter."""
        horizon = now_ms - PING_LOG_MS
        if self.pings and self.pings[0][0] < horizon:
            self.pings = [p for p in self.pings if p[0] >= horizon]
        stale = [env for env, at in self.envs.items() if at < now_ms - ENV_MEMORY_MS]
        for env in stale:
            del self.envs[env]


def new_record(key: str, function: str, qualifier: str | None, now_ms: int) -> TargetRecord:
    record = TargetRecord(key=key, function=function, qualifier=qualifier, first_seen_ms=now_ms,
                          last_seen_ms=now_ms, peaks_start_ms=slot_of(now_ms))
    record.ensure_slots(now_ms)
    return record


# --- JSON codec ------------------------------------------------------------------------------------------

def _run_key(value: float) -> float | None:
    return None if math.isnan(value) else value  # NaN never equals itself: runs of it share the key None


def encode_series(values: list[float]) -> list[Any]:
    """Run-length pairs, flat: ``[value, count, value, count, ...]``; NaN -> null; whole numbers stay integers."""
    out: list[Any] = []
    for key, run in groupby(map(float, values), key=_run_key):
        count = sum(1 for _ in run)
        out += (None if key is None else int(key) if key == int(key) else round(key, 3), count)
    return out


def decode_series(flat: list[Any]) -> list[float]:
    if len(flat) % 2:
        raise ValueError("a series is [value, count, ...] pairs")
    values, counts = flat[0::2], flat[1::2]
    if not all(type(c) is int and c >= 0 for c in counts):
        raise ValueError("series counts must be non-negative integers")
    out: list[float] = []
    for value, count in zip([math.nan if v is None else float(v) for v in values], counts, strict=True):
        out += [value] * count
    return out


def record_to_json(record: TargetRecord) -> dict[str, Any]:
    cfg = record.config
    doc: dict[str, Any] = {
        "v": RECORD_FORMAT, "key": record.key, "function": record.function, "qualifier": record.qualifier,
        "first_seen_ms": record.first_seen_ms, "last_seen_ms": record.last_seen_ms,
        "peaks_start_ms": record.peaks_start_ms, "peaks": encode_series(record.peaks),
        "pings": [[at, count] for at, count in record.pings], "envs": dict(record.envs),
        "send_ahead_ms": record.send_ahead_ms, "init_ms": record.init_ms,
        "cw": [record.cw_read_at_ms, record.cw_through_ms, record.cw_early],
        "saturated_at_ms": record.saturated_at_ms, "protocol": record.protocol,
        "config": [cfg.arn, cfg.memory_mb, cfg.timeout_s, cfg.reserved, cfg.provisioned, cfg.read_at_ms,
                   cfg.listed_at_ms],
        "model": record.model,
    }
    if record.last_plan is not None:
        plan = record.last_plan
        doc["last_plan"] = [plan.at_ms, plan.desired, plan.requested, plan.model, plan.reason]
    return doc


def record_from_json(doc: dict[str, Any]) -> TargetRecord:
    """Raises ``ValueError``/``KeyError``/``TypeError`` on a malformed record (the caller rebuilds it)."""
    if doc.get("v") != RECORD_FORMAT:
        raise ValueError(f"record format {doc.get('v')!r} is not {RECORD_FORMAT}")
    arn, memory, timeout, reserved, provisioned, read_at, listed_at = doc["config"]
    read_cw, through, early = doc["cw"]
    plan = doc.get("last_plan")
    return TargetRecord(
        key=str(doc["key"]), function=str(doc["function"]),
        qualifier=None if doc["qualifier"] is None else str(doc["qualifier"]),
        first_seen_ms=int(doc["first_seen_ms"]), last_seen_ms=int(doc["last_seen_ms"]),
        peaks_start_ms=int(doc["peaks_start_ms"]), peaks=decode_series(doc["peaks"]),
        pings=[(int(at), int(count)) for at, count in doc["pings"]],
        envs={str(k): int(v) for k, v in doc["envs"].items()},
        send_ahead_ms=None if doc["send_ahead_ms"] is None else float(doc["send_ahead_ms"]),
        init_ms=None if doc.get("init_ms") is None else float(doc["init_ms"]),
        cw_read_at_ms=int(read_cw), cw_through_ms=int(through), cw_early=bool(early),
        saturated_at_ms=int(doc.get("saturated_at_ms", 0)),
        protocol=int(doc.get("protocol", 2)),
        config=FunctionConfig(str(arn), int(memory), int(timeout), None if reserved is None else int(reserved),
                              int(provisioned), int(read_at), int(listed_at)),
        last_plan=None if plan is None else LastPlan(int(plan[0]), int(plan[1]), int(plan[2]), str(plan[3]),
                                                     str(plan[4])),
        model=dict(doc.get("model") or {}),
    )


def decode_records(raw: dict[str, dict[str, Any]]) -> tuple[dict[str, TargetRecord], int]:
    """Records from the store's JSON; one that does not decode is dropped (rebuilt) and counted."""
    records: dict[str, TargetRecord] = {}
    dropped = 0
    for key, doc in raw.items():
        try:
            records[key] = record_from_json(doc)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            dropped += 1
            logger.warning("record_rebuilt", extra={"target": key, "problem": f"{type(exc).__name__}: {exc}"[:200]})
    return records, dropped


def encode_records(records: dict[str, TargetRecord]) -> dict[str, dict[str, Any]]:
    return {key: record_to_json(record) for key, record in records.items()}
