""":class:`StateStore`: the lease, the sharded records and the per-run documents of one stack."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from thermostat.store import lease as _lease
from thermostat.store import runs as _runs
from thermostat.store import shards as _shards
from thermostat.store.codec import GZIP_LEVEL, STATE_DIR
from thermostat.store.lease import Lease
from thermostat.store.objects import Objects
from thermostat.store.runs import RunInfo
from thermostat.store.shards import Records, Snapshot


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class StateStore:
    """Keys live under ``prefix`` (default ``thermostat/``) in ``bucket``:

    - ``state/v1/lease.json``: the overlap guard (:meth:`acquire`, :meth:`release`);
    - ``state/v1/manifest.json`` and ``state/v1/targets-g<gen>-<i>-of-<n>.json.gz``: the records
      (:meth:`load`, :meth:`save`), opaque JSON objects keyed by target key;
    - ``runs/<run name>/<name>.json``: per-run documents (:meth:`put_run_doc`, :meth:`get_run_doc`).

    Errors: :class:`~thermostat.exceptions.StateStoreError` (S3 failed; operation, key and S3 code),
    :class:`~thermostat.exceptions.StateConflictError` (save lost to another run). A missing or corrupt
    object never raises: it loads as empty, with a warning, and the next save overwrites it.
    """

    def __init__(self, s3_client: Any, bucket: str, prefix: str = "thermostat/", *,
                 clock: Callable[[], int] = _wall_clock_ms, gzip_level: int = GZIP_LEVEL,
                 max_workers: int = 8) -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.bucket = bucket
        self.prefix = prefix
        self.clock = clock
        self.gzip_level = gzip_level
        self._objects = Objects(s3_client, bucket, max_workers=max_workers)

    @property
    def lease_key(self) -> str:
        return f"{self.prefix}{STATE_DIR}lease.json"

    @property
    def manifest_key(self) -> str:
        return _shards.manifest_key(self.prefix)

    # --- overlap guard ----------------------------------------------------------------------------------

    def acquire(self, run_id: str, now_ms: int, ttl_ms: int) -> Lease:
        """Takes the lease for ``run_id`` until ``now_ms + ttl_ms``, or reports who holds it (``overlap``).

        Idempotent for the run that holds it (renews). Raises StateStoreError only when S3 fails."""
        return _lease.acquire(self._objects, self.lease_key, run_id, now_ms, ttl_ms)

    def release(self, lease: Lease, now_ms: int | None = None) -> bool:
        """Gives the lease back if this run still holds it. Never raises (a lease not released expires)."""
        return _lease.release(self._objects, self.lease_key, lease, self.clock() if now_ms is None else now_ms)

    # --- records ----------------------------------------------------------------------------------------

    def load(self, known_count_hint: int | None = None) -> Snapshot:
        """Every record, with the ETags a save needs. Missing/corrupt objects load empty (``warnings``)."""
        return _shards.load(self._objects, self.prefix, known_count_hint)

    def save(self, snapshot: Snapshot, records: Records, *, run: str = "", now_ms: int | None = None) -> Snapshot:
        """Replaces the stored records with ``records``, conditionally on nothing having changed since
        ``snapshot`` was loaded (or saved); returns the snapshot to save with next.

        Raises StateConflictError when another run wrote in between (nothing of this save is committed)."""
        return _shards.save(self._objects, self.prefix, snapshot, records, run=run,
                            now_ms=self.clock() if now_ms is None else now_ms, level=self.gzip_level)

    # --- per-run documents ------------------------------------------------------------------------------

    def run_doc_key(self, run_name: str, name: str) -> str:
        return _runs.run_doc_key(self.prefix, run_name, name)

    def put_run_doc(self, run_name: str, name: str, doc: Any) -> str:
        """Writes ``doc`` as ``runs/<run name>/<name>.json`` (names made key-safe); returns the key."""
        return _runs.put_run_doc(self._objects, self.prefix, run_name, name, doc)

    def get_run_doc(self, key: str) -> Any:
        return _runs.get_run_doc(self._objects, self.prefix, key)

    def list_runs(self, limit: int = 20) -> list[RunInfo]:
        """The newest ``limit`` runs, newest first (one LIST call per 1,000)."""
        return _runs.list_runs(self._objects, self.prefix, limit)

    def get_run_report(self, run_name: str) -> Any | None:
        return _runs.get_run_report(self._objects, self.prefix, run_name)
