"""Pure encoding of the state store's objects: formats, keys, shard choice, gzip'd JSON, run names.

Nothing here talks to S3. Every decoder raises :class:`CorruptObjectError` (never anything else) on bytes
that are not a well-formed object of the expected format, so that the store can treat them as empty.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

STATE_FORMAT = "thermostat.state/1"
MANIFEST_FORMAT = "thermostat.manifest/1"
LEASE_FORMAT = "thermostat.lease/1"
STATE_DIR = "state/v1/"
RUNS_DIR = "runs/"

RECORDS_PER_SHARD = 1000  # the shard count aims at <= this many records per shard
GROW_ABOVE = 1500  # ...and changes only when a shard would hold more than this
SHRINK_BELOW = 400  # ...or fewer than this (hysteresis: no resharding back and forth around a boundary)
MAX_SHARDS = 1024
MAX_INFLATED_BYTES = 512 * 1024 * 1024  # a gzip object inflating past this is treated as corrupt
GZIP_LEVEL = 4  # 1/3 of level 6's CPU for ~13% more bytes (JSON of records; bench/bench_store.py)

MAX_MS = 9_999_999_999_999  # run names count down from here so that S3's ascending listing is newest first
SEGMENT_MAX = 160
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_SHARD_KEY = re.compile(r"targets-g(\d+)-(\d{4})-of-(\d{4})\.json\.gz$")
_RUN_NAME = re.compile(r"^(\d{13})-(\d{8}T\d{6}Z)-(.*)$")

Problem = Literal["missing", "corrupt", "unknown_format", "unserialisable"]


class CorruptObjectError(ValueError):
    """Bytes that are not a well-formed object: bad gzip, bad JSON, wrong shape or unknown format."""

    def __init__(self, problem: Problem, detail: str) -> None:
        self.problem = problem
        self.detail = detail
        super().__init__(f"{problem}: {detail}")


# --- keys -----------------------------------------------------------------------------------------------

def shard_key(prefix: str, generation: int, shard: int, shards: int) -> str:
    return f"{prefix}{STATE_DIR}targets-g{generation}-{shard:04d}-of-{shards:04d}.json.gz"


def parse_shard_key(key: str) -> tuple[int, int, int] | None:
    """``(generation, shard, shards)`` of a shard object's key, None for any other key."""
    match = _SHARD_KEY.search(key)
    if match is None:
        return None
    generation, shard, shards = (int(group) for group in match.groups())
    return (generation, shard, shards) if 0 <= shard < shards else None


def shard_of(target_key: str, shards: int) -> int:
    """The shard a target's record lives in: crc32 of its key (stable across processes and versions)."""
    return zlib.crc32(target_key.encode("utf-8")) % shards


def desired_shards(count: int) -> int:
    """Smallest power of two that keeps every shard at <= RECORDS_PER_SHARD records (1 for an empty store)."""
    shards = 1
    while shards * RECORDS_PER_SHARD < count and shards < MAX_SHARDS:
        shards *= 2
    return shards


def choose_shards(count: int, current: int) -> int:
    """The shard count to write ``count`` records with, keeping ``current`` (0 = none yet) unless it fell
    out of the [SHRINK_BELOW, GROW_ABOVE] records-per-shard band."""
    if current > 0 and count <= GROW_ABOVE * current and (current == 1 or count >= SHRINK_BELOW * current):
        return current
    return desired_shards(count)


# --- bytes ----------------------------------------------------------------------------------------------

def dumps(obj: Any) -> bytes:
    """Compact, strict JSON (no NaN/Infinity: every object must be readable by any JSON tool)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def gzip_bytes(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=0)


def gunzip_bytes(data: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    inflater = zlib.decompressobj(wbits=31)  # gzip header and trailer (CRC and length checked)
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise CorruptObjectError("corrupt", f"not gzip: {exc}") from None
    if inflater.unconsumed_tail:
        raise CorruptObjectError("corrupt", f"inflates past {limit} bytes")
    if not inflater.eof:
        raise CorruptObjectError("corrupt", "truncated gzip stream")
    return out


def loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CorruptObjectError("corrupt", f"not JSON: {str(exc)[:200]}") from None


def _document(doc: Any, expected: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise CorruptObjectError("corrupt", f"expected a JSON object, got {type(doc).__name__}")
    found = doc.get("format")
    if found != expected:
        problem: Problem = "unknown_format" if isinstance(found, str) else "corrupt"
        raise CorruptObjectError(problem, f"format {repr(found)[:80]} is not {expected!r}")
    return doc


def _int(doc: dict[str, Any], name: str, minimum: int = 0) -> int:
    value = doc.get(name)
    if type(value) is not int or value < minimum:
        raise CorruptObjectError("corrupt", f"{name}: expected an integer >= {minimum}, got {str(value)[:40]!r}")
    return value


# --- shards ---------------------------------------------------------------------------------------------

def encode_shard(targets: dict[str, dict[str, Any]], *, generation: int, shard: int, shards: int,
                 written_at_ms: int, run: str, level: int = GZIP_LEVEL) -> bytes:
    return gzip_bytes(shard_json(targets, generation=generation, shard=shard, shards=shards,
                                 written_at_ms=written_at_ms, run=run), level)


def shard_json(targets: dict[str, dict[str, Any]], *, generation: int, shard: int, shards: int,
               written_at_ms: int, run: str) -> bytes:
    return dumps({"format": STATE_FORMAT, "generation": generation, "shard": shard, "shards": shards,
                  "written_at_ms": written_at_ms, "run": run, "targets": targets})


def decode_shard(data: bytes, *, generation: int, shard: int, shards: int) -> tuple[dict[str, dict[str, Any]], int]:
    """The records of a shard object, and how many entries were dropped because they were not objects.

    Raises CorruptObjectError when the object is unreadable or is not the shard it is expected to be."""
    doc = _document(loads(gunzip_bytes(data)), STATE_FORMAT)
    header = (_int(doc, "generation"), _int(doc, "shard"), _int(doc, "shards", 1))
    if header != (generation, shard, shards):
        raise CorruptObjectError("corrupt", f"header says generation {header[0]} shard {header[1]} of "
                                            f"{header[2]}, expected {generation} {shard} of {shards}")
    targets = doc.get("targets")
    if not isinstance(targets, dict):
        raise CorruptObjectError("corrupt", "targets: expected a JSON object")
    records = {key: value for key, value in targets.items() if isinstance(value, dict)}
    return records, len(targets) - len(records)


# --- manifest -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Manifest:
    generation: int
    shards: int


def encode_manifest(prefix: str, manifest: Manifest, *, counts: list[int], written_at_ms: int, run: str) -> bytes:
    keys = [shard_key(prefix, manifest.generation, i, manifest.shards) for i in range(manifest.shards)]
    return dumps({"format": MANIFEST_FORMAT, "generation": manifest.generation, "shards": manifest.shards,
                  "records": sum(counts), "shard_format": STATE_FORMAT, "written_at_ms": written_at_ms,
                  "run": run, "keys": keys, "counts": counts})


def decode_manifest(data: bytes) -> Manifest:
    doc = _document(loads(data), MANIFEST_FORMAT)
    generation, shards = _int(doc, "generation", 1), _int(doc, "shards", 1)
    if shards > MAX_SHARDS or shards & (shards - 1):
        raise CorruptObjectError("corrupt", f"shards: expected a power of two <= {MAX_SHARDS}, got {shards}")
    return Manifest(generation, shards)


# --- lease ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LeaseRecord:
    run: str
    acquired_at_ms: int
    expires_at_ms: int
    released_at_ms: int | None = None


def encode_lease(lease: LeaseRecord) -> bytes:
    return dumps({"format": LEASE_FORMAT, "run": lease.run, "acquired_at_ms": lease.acquired_at_ms,
                  "expires_at_ms": lease.expires_at_ms, "released_at_ms": lease.released_at_ms})


def decode_lease(data: bytes) -> LeaseRecord:
    doc = _document(loads(data), LEASE_FORMAT)
    run, released = doc.get("run"), doc.get("released_at_ms")
    if not isinstance(run, str):
        raise CorruptObjectError("corrupt", "run: expected a string")
    if released is not None and type(released) is not int:
        raise CorruptObjectError("corrupt", "released_at_ms: expected an integer or null")
    return LeaseRecord(run, _int(doc, "acquired_at_ms"), _int(doc, "expires_at_ms"), released)


# --- run names ------------------------------------------------------------------------------------------

def safe_segment(text: str, max_len: int = SEGMENT_MAX) -> str:
    """``text`` as one key-safe path segment (``[A-Za-z0-9._-]``, not starting with a dot, <= max_len).

    Idempotent; when anything had to change, a crc32 suffix keeps distinct inputs distinct."""
    cleaned = _UNSAFE.sub("_", text).lstrip(".")
    if cleaned == text and 0 < len(text) <= max_len:
        return text
    suffix = f"-{zlib.crc32(text.encode('utf-8', 'surrogatepass')):08x}"
    return (cleaned[: max_len - len(suffix)] or "_") + suffix


def make_run_name(execution_name: str, started_at_ms: int) -> str:
    """``<countdown>-<UTC start>-<execution name>``: S3 lists these newest first, and people can read them."""
    started_at_ms = min(max(started_at_ms, 0), MAX_MS)
    stamp = datetime.fromtimestamp(started_at_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    return safe_segment(f"{MAX_MS - started_at_ms:013d}-{stamp}-{execution_name}")


def parse_run_name(run_name: str) -> tuple[int | None, str]:
    """``(started_at_ms, execution name)`` of a name made by :func:`make_run_name`; (None, name) otherwise."""
    match = _RUN_NAME.match(run_name)
    if match is None:
        return None, run_name
    return MAX_MS - int(match.group(1)), match.group(3)
