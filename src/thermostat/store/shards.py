"""The per-target records, sharded: load everything, save everything, conditionally.

Layout under ``<prefix>state/v1/``: ``manifest.json`` names the current generation and shard count;
``targets-g<generation>-<shard>-of-<shards>.json.gz`` hold the records, ``crc32(target key) % shards``.
A save writes shard 0 first (two runs that loaded the same state collide there, and the first one wins),
then the other shards in parallel, then the manifest: the manifest's conditional write is the commit.
Resharding writes a new generation under new keys, commits the manifest, then deletes older generations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from thermostat.exceptions import StateConflictError, StateStoreError
from thermostat.store.codec import (
    GZIP_LEVEL,
    STATE_DIR,
    CorruptObjectError,
    Manifest,
    Problem,
    choose_shards,
    decode_manifest,
    decode_shard,
    dumps,
    encode_manifest,
    gzip_bytes,
    parse_shard_key,
    shard_json,
    shard_key,
    shard_of,
)
from thermostat.store.objects import ConditionFailed, Objects

logger = logging.getLogger(__name__)

Records = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class StoreWarning:
    """An object that was not usable as read and was treated as empty (or an entry that was dropped)."""

    key: str
    problem: Problem
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "problem": self.problem, "detail": self.detail}


@dataclass(frozen=True)
class Snapshot:
    """The records as loaded, and what :func:`save` needs to write them back conditionally."""

    records: Records
    generation: int  # 0: nothing committed yet
    shards: int  # 0: nothing committed yet
    etags: dict[int, str | None] = field(default_factory=dict)  # shard -> ETag as read; None: did not exist
    manifest_etag: str | None = None  # None: no manifest object (a save creates it with If-None-Match)
    warnings: tuple[StoreWarning, ...] = ()
    stale_keys: tuple[str, ...] = ()  # shard objects of other generations, deleted after the next save
    object_bytes: int = 0  # gzip'd bytes of the shard objects read (load) or written (save)
    planned_shards: int = 1  # the shard count a save of the known or hinted number of records would use

    @property
    def fresh(self) -> bool:
        return self.generation == 0


def manifest_key(prefix: str) -> str:
    return f"{prefix}{STATE_DIR}manifest.json"


def load(objects: Objects, prefix: str, known_count_hint: int | None = None) -> Snapshot:
    key = manifest_key(prefix)
    warnings: list[StoreWarning] = []
    got = objects.get(key, "load")
    manifest: Manifest | None = None
    if got is not None:
        try:
            manifest = decode_manifest(got.body)
        except CorruptObjectError as exc:
            warnings.append(StoreWarning(key, exc.problem, exc.detail))
    stale: tuple[str, ...] = ()
    if manifest is None:
        manifest, stale = _recover(objects, prefix)
        if manifest is not None and got is None:
            warnings.append(StoreWarning(key, "missing", f"generation {manifest.generation} with "
                                                         f"{manifest.shards} shards found by listing"))
    manifest_etag = got.etag if got is not None else None
    if manifest is None:
        snapshot = Snapshot({}, 0, 0, manifest_etag=manifest_etag, warnings=tuple(warnings), stale_keys=stale,
                            planned_shards=choose_shards(known_count_hint or 0, 0))
        _log_loaded(snapshot)
        return snapshot
    found = objects.parallel(lambda i: _load_shard(objects, prefix, manifest, i), range(manifest.shards))
    records: Records = {}
    etags: dict[int, str | None] = {}
    size = 0
    for shard, (part, etag, nbytes, problems) in enumerate(found):
        records.update(part)
        etags[shard] = etag
        size += nbytes
        warnings.extend(problems)
    count = max(len(records), known_count_hint or 0)
    snapshot = Snapshot(records, manifest.generation, manifest.shards, etags, manifest_etag, tuple(warnings),
                        stale, size, choose_shards(count, manifest.shards))
    _log_loaded(snapshot)
    return snapshot


def _log_loaded(snapshot: Snapshot) -> None:
    for warning in snapshot.warnings:
        logger.warning("state_object_rebuilt", extra=warning.to_dict())
    logger.info("state_loaded", extra={"records": len(snapshot.records), "generation": snapshot.generation,
                                       "shards": snapshot.shards, "bytes": snapshot.object_bytes,
                                       "warnings": len(snapshot.warnings)})


def _recover(objects: Objects, prefix: str) -> tuple[Manifest | None, tuple[str, ...]]:
    """No usable manifest: adopt the newest generation of shard objects found by listing (if any)."""
    found = [(parsed, key) for key in objects.list_keys(f"{prefix}{STATE_DIR}targets-", "load")
             if (parsed := parse_shard_key(key)) is not None]
    if not found:
        return None, ()
    generation = max(parsed[0] for parsed, _ in found)
    shards = max(parsed[2] for parsed, _ in found if parsed[0] == generation)
    if shards & (shards - 1):  # not a power of two: not written by this store
        return None, tuple(key for _, key in found)
    stale = tuple(key for parsed, key in found if (parsed[0], parsed[2]) != (generation, shards))
    return Manifest(generation, shards), stale


def _load_shard(objects: Objects, prefix: str, manifest: Manifest, shard: int,
                ) -> tuple[Records, str | None, int, list[StoreWarning]]:
    key = shard_key(prefix, manifest.generation, shard, manifest.shards)
    got = objects.get(key, "load")
    if got is None:
        return {}, None, 0, [StoreWarning(key, "missing", "shard named by the manifest does not exist")]
    try:
        records, dropped = decode_shard(got.body, generation=manifest.generation, shard=shard,
                                        shards=manifest.shards)
    except CorruptObjectError as exc:
        return {}, got.etag, len(got.body), [StoreWarning(key, exc.problem, exc.detail)]
    problems = [StoreWarning(key, "corrupt", f"{dropped} entries were not JSON objects")] if dropped else []
    return records, got.etag, len(got.body), problems


def save(objects: Objects, prefix: str, snapshot: Snapshot, records: Records, *, run: str, now_ms: int,
         level: int = GZIP_LEVEL) -> Snapshot:
    shards = choose_shards(len(records), snapshot.shards)
    reshard = snapshot.generation == 0 or shards != snapshot.shards
    generation = max(snapshot.generation + 1, now_ms) if reshard else snapshot.generation
    parts, warnings = _split(records, shards)
    bodies = [_encode(part, warnings, generation=generation, shard=i, shards=shards, written_at_ms=now_ms, run=run)
              for i, part in enumerate(parts)]
    for warning in warnings:
        logger.error("state_record_dropped", extra=warning.to_dict())
    blobs = objects.parallel(lambda body: gzip_bytes(body, level), bodies)
    keys = [shard_key(prefix, generation, i, shards) for i in range(shards)]
    written: list[str] = []

    def write(shard: int) -> str:
        etag = None if reshard else snapshot.etags.get(shard)
        new = objects.put(keys[shard], blobs[shard], "save", if_match=etag, if_none_match=etag is None,
                          content_type="application/gzip")
        written.append(keys[shard])
        return new

    manifest = encode_manifest(prefix, Manifest(generation, shards), counts=[len(p) for p in parts],
                               written_at_ms=now_ms, run=run)
    try:
        etags = [write(0), *objects.parallel(write, range(1, shards))]
        manifest_etag = objects.put(manifest_key(prefix), manifest, "save", if_match=snapshot.manifest_etag,
                                    if_none_match=snapshot.manifest_etag is None)
    except ConditionFailed as exc:
        if reshard:
            _delete_quietly(objects, written)
        logger.warning("state_conflict", extra={"run": run, "key": exc.key, "code": exc.code})
        raise StateConflictError("save", f"s3://{objects.bucket}/{exc.key}",
                                 f"another run wrote the state since this run loaded it ({exc.code})") from None
    except StateStoreError:
        if reshard:
            _delete_quietly(objects, written)
        raise
    if reshard:
        _delete_older_generations(objects, prefix, generation)
    elif snapshot.stale_keys:
        _delete_quietly(objects, list(snapshot.stale_keys))
    kept = {key: record for part in parts for key, record in part.items()}
    saved = Snapshot(kept, generation, shards, dict(enumerate(etags)), manifest_etag, tuple(warnings), (),
                     sum(len(blob) for blob in blobs), shards)
    logger.info("state_saved", extra={"run": run, "records": len(kept), "generation": generation,
                                      "shards": shards, "bytes": saved.object_bytes, "resharded": reshard,
                                      "dropped": len(warnings)})
    return saved


def _split(records: Records, shards: int) -> tuple[list[Records], list[StoreWarning]]:
    """Records by shard; an entry that is not a str key with a dict record is dropped."""
    parts: list[Records] = [{} for _ in range(shards)]
    warnings: list[StoreWarning] = []
    for key, record in records.items():
        if not isinstance(key, str) or not isinstance(record, dict):
            warnings.append(StoreWarning(str(key)[:200], "unserialisable", "not a str key with a dict record"))
            continue
        parts[shard_of(key, shards)][key] = record
    return parts, warnings


def _encode(part: Records, warnings: list[StoreWarning], **header: Any) -> bytes:
    """The shard's JSON; a record that is not strict JSON (NaN, a set, a cycle) is dropped from ``part``."""
    try:
        return shard_json(part, **header)
    except (TypeError, ValueError):
        for key in list(part):
            try:
                dumps(part[key])
            except (TypeError, ValueError) as exc:
                del part[key]
                warnings.append(StoreWarning(key[:200], "unserialisable", str(exc)[:200]))
        return shard_json(part, **header)


def _delete_quietly(objects: Objects, keys: list[str]) -> None:
    def delete(key: str) -> None:
        try:
            objects.delete(key, "cleanup")
        except StateStoreError as exc:
            logger.warning("state_cleanup_failed", extra={"key": key, "error": str(exc)})

    objects.parallel(delete, keys)


def _delete_older_generations(objects: Objects, prefix: str, generation: int) -> None:
    """After a reshard's commit: shard objects of older generations are referenced by nothing."""
    try:
        keys = objects.list_keys(f"{prefix}{STATE_DIR}targets-", "cleanup")
    except StateStoreError as exc:
        logger.warning("state_cleanup_failed", extra={"error": str(exc)})
        return
    _delete_quietly(objects, [key for key in keys if (parsed := parse_shard_key(key)) and parsed[0] < generation])
