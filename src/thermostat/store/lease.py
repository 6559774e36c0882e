"""The overlap guard: one lease object, taken and given back with conditional writes.

A run takes the lease before it touches targets. The lease object is created with ``If-None-Match: *``;
an expired or released lease is taken over, and a lease this run already holds is renewed, with
``If-Match: <ETag>``. A write refused by S3 means another run got there first: that is an overlap, which
the caller reports and stops on. Releasing never deletes: it rewrites the lease as released, with
``If-Match`` on the ETag this run wrote, so a lease another run took over since is never touched.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from thermostat.exceptions import StateStoreError
from thermostat.store.codec import CorruptObjectError, LeaseRecord, decode_lease, encode_lease
from thermostat.store.objects import ConditionFailed, Got, Objects

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lease:
    """What :meth:`StateStore.acquire` returns: acquired (``etag`` set) or an overlap (``holder`` set).

    ``to_dict``/``from_dict`` let it travel in a state's output to the state that releases it."""

    run_id: str
    acquired: bool
    expires_at_ms: int  # acquired: when this lease lapses; overlap: when the holder's lease lapses
    etag: str | None = None
    acquired_at_ms: int | None = None
    holder: str | None = None  # overlap: the run that holds the lease
    previous: str | None = None  # acquired: the run whose expired/released lease was taken over, if any

    @property
    def overlap(self) -> bool:
        return not self.acquired

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Lease:
        return cls(run_id=str(doc["run_id"]), acquired=bool(doc["acquired"]), expires_at_ms=int(doc["expires_at_ms"]),
                   etag=doc.get("etag"), acquired_at_ms=doc.get("acquired_at_ms"), holder=doc.get("holder"),
                   previous=doc.get("previous"))


def _read(objects: Objects, key: str, operation: str) -> tuple[Got | None, LeaseRecord | None]:
    got = objects.get(key, operation)
    if got is None:
        return None, None
    try:
        return got, decode_lease(got.body)
    except CorruptObjectError as exc:
        logger.warning("lease_unreadable", extra={"key": key, "problem": exc.problem, "detail": exc.detail})
        return got, None


def acquire(objects: Objects, key: str, run_id: str, now_ms: int, ttl_ms: int) -> Lease:
    if ttl_ms <= 0:
        raise ValueError(f"ttl_ms must be > 0, got {ttl_ms}")
    got, current = _read(objects, key, "acquire")
    acquired_at, previous = now_ms, None
    if current is not None and current.released_at_ms is None and current.expires_at_ms > now_ms:
        if current.run != run_id:
            return _overlap(run_id, current)
        acquired_at = current.acquired_at_ms  # renewal by the same run (a fallback state calling again)
    elif current is not None:
        previous = current.run if current.run != run_id else None
    record = LeaseRecord(run_id, acquired_at, now_ms + ttl_ms)
    try:
        etag = objects.put(key, encode_lease(record), "acquire", if_match=got.etag if got else None,
                           if_none_match=got is None)
    except ConditionFailed:
        return _lost_race(objects, key, run_id, now_ms)
    logger.info("lease_acquired", extra={"run": run_id, "expires_at_ms": record.expires_at_ms,
                                         "took_over": previous, "renewed": acquired_at != now_ms})
    return Lease(run_id, True, record.expires_at_ms, etag=etag, acquired_at_ms=acquired_at, previous=previous)


def _overlap(run_id: str, holder: LeaseRecord) -> Lease:
    logger.warning("lease_held", extra={"run": run_id, "holder": holder.run, "until_ms": holder.expires_at_ms})
    return Lease(run_id, False, holder.expires_at_ms, holder=holder.run)


def _lost_race(objects: Objects, key: str, run_id: str, now_ms: int) -> Lease:
    """Another writer changed the lease between our read and our write: name it (one more read)."""
    got, winner = _read(objects, key, "acquire")
    if winner is None or got is None:
        logger.warning("lease_held", extra={"run": run_id, "holder": None})
        return Lease(run_id, False, now_ms, holder="unknown")
    if winner.run == run_id and winner.released_at_ms is None:  # a duplicate invocation of this same run
        return Lease(run_id, True, winner.expires_at_ms, etag=got.etag, acquired_at_ms=winner.acquired_at_ms)
    return _overlap(run_id, winner)


def release(objects: Objects, key: str, lease: Lease, now_ms: int) -> bool:
    """Marks this run's lease released; True when it did. Never raises, never touches another run's lease."""
    if not lease.acquired or not lease.etag:
        return False
    record = LeaseRecord(lease.run_id, lease.acquired_at_ms or now_ms, lease.expires_at_ms, released_at_ms=now_ms)
    etag: str | None = lease.etag
    try:
        for _ in range(2):
            try:
                objects.put(key, encode_lease(record), "release", if_match=etag)
                logger.info("lease_released", extra={"run": lease.run_id})
                return True
            except ConditionFailed:
                # Our ETag is stale: renewed by this run since (release anyway), or taken over (leave it).
                got, current = _read(objects, key, "release")
                mine = current is not None and current.run == lease.run_id and current.released_at_ms is None
                if got is None or not mine:
                    logger.warning("lease_release_skipped", extra={
                        "run": lease.run_id, "holder": current.run if current else None})
                    return False
                etag = got.etag
    except StateStoreError as exc:
        logger.warning("lease_release_failed", extra={"run": lease.run_id, "error": str(exc)})
    return False
