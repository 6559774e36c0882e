"""The state store's pure codec: object formats, shard choice, key-safe run names."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thermostat.store import codec
from thermostat.store.codec import CorruptObjectError

HEADER = {"generation": 7, "shard": 1, "shards": 4}


def shard_bytes(doc: object) -> bytes:
    return gzip.compress(json.dumps(doc).encode())


def test_shard_round_trip_is_compact_gzip_json_with_its_header() -> None:
    # GIVEN two records  WHEN encoded
    targets = {"a:live": {"peaks": [[1, 3]], "name": "é"}, "b": {}}
    data = codec.encode_shard(targets, written_at_ms=5, run="r", **HEADER)
    # THEN it is gzip of compact JSON in the versioned format, and decodes to the same records
    text = gzip.decompress(data).decode()
    assert text.startswith('{"format":"thermostat.state/1","generation":7,"shard":1,"shards":4,')
    assert ", " not in text and '"é"' in text
    assert codec.decode_shard(data, **HEADER) == (targets, 0)


def test_encoding_is_deterministic() -> None:
    # gzip carries no timestamp: the same records give the same bytes (and ETag)
    args = {"written_at_ms": 5, "run": "r", **HEADER}
    assert codec.encode_shard({"a": {}}, **args) == codec.encode_shard({"a": {}}, **args)


@pytest.mark.parametrize(("data", "problem", "detail"), [
    (b"plain text", "corrupt", "not gzip"),
    (gzip.compress(b"x" * 100)[:20], "corrupt", "truncated"),
    (shard_bytes({"format": "thermostat.state/1"})[:-4] + b"\0\0\0\0", "corrupt", "not gzip"),
    (gzip.compress(b"{oops"), "corrupt", "not JSON"),
    (gzip.compress(b"\xff\xfe"), "corrupt", "not JSON"),
    (shard_bytes([1]), "corrupt", "expected a JSON object"),
    (shard_bytes({"targets": {}}), "corrupt", "format None"),
    (shard_bytes({"format": "thermostat.state/2", **HEADER, "targets": {}}), "unknown_format", "thermostat.state/2"),
    (shard_bytes({"format": "thermostat.state/1", **HEADER, "shard": 2, "targets": {}}), "corrupt", "header"),
    (shard_bytes({"format": "thermostat.state/1", **HEADER, "shards": "4", "targets": {}}), "corrupt", "shards"),
    (shard_bytes({"format": "thermostat.state/1", **HEADER, "targets": []}), "corrupt", "targets"),
], ids=["not-gzip", "truncated", "bad-crc", "bad-json", "bad-utf8", "array", "no-format", "newer-format",
        "other-shard", "string-count", "targets-list"])
def test_unreadable_shards_raise_corrupt_object_error_only(data: bytes, problem: str, detail: str) -> None:
    with pytest.raises(CorruptObjectError) as raised:
        codec.decode_shard(data, **HEADER)
    assert raised.value.problem == problem and detail in raised.value.detail


def test_entries_that_are_not_objects_are_dropped_and_counted() -> None:
    data = shard_bytes({"format": "thermostat.state/1", **HEADER, "targets": {"a": {}, "b": 3, "c": None}})
    assert codec.decode_shard(data, **HEADER) == ({"a": {}}, 2)


def test_a_gzip_bomb_is_corrupt_not_a_memory_blowup() -> None:
    bomb = gzip.compress(b"\0" * 2_000_000)
    with pytest.raises(CorruptObjectError, match="inflates past"):
        codec.gunzip_bytes(bomb, limit=1_000_000)


@pytest.mark.parametrize(("doc", "ok"), [
    ({"format": "thermostat.manifest/1", "generation": 3, "shards": 8}, True),
    ({"format": "thermostat.manifest/1", "generation": 3, "shards": 6}, False),
    ({"format": "thermostat.manifest/1", "generation": 0, "shards": 1}, False),
    ({"format": "thermostat.manifest/1", "generation": 3, "shards": 2048}, False),
    ({"format": "thermostat.manifest/1", "generation": True, "shards": 1}, False),
    ({"format": "thermostat.state/1", "generation": 3, "shards": 1}, False),
])
def test_manifest_decoding_checks_its_fields(doc: dict[str, object], ok: bool) -> None:
    data = json.dumps(doc).encode()
    if ok:
        assert codec.decode_manifest(data) == codec.Manifest(3, 8)
    else:
        with pytest.raises(CorruptObjectError):
            codec.decode_manifest(data)


def test_manifest_lists_its_shard_keys_and_counts() -> None:
    doc = json.loads(codec.encode_manifest("p/", codec.Manifest(9, 2), counts=[3, 4], written_at_ms=1, run="r"))
    assert doc["keys"] == ["p/state/v1/targets-g9-0000-of-0002.json.gz", "p/state/v1/targets-g9-0001-of-0002.json.gz"]
    assert doc["records"] == 7 and doc["shard_format"] == "thermostat.state/1"


def test_lease_round_trip_and_rejects() -> None:
    lease = codec.LeaseRecord("arn:run", 1, 2, None)
    assert codec.decode_lease(codec.encode_lease(lease)) == lease
    for bad in ({"format": "thermostat.lease/1", "run": 3, "acquired_at_ms": 1, "expires_at_ms": 2},
                {"format": "thermostat.lease/1", "run": "r", "acquired_at_ms": 1, "expires_at_ms": 2,
                 "released_at_ms": "now"},
                {"format": "thermostat.lease/1", "run": "r", "acquired_at_ms": 1}):
        with pytest.raises(CorruptObjectError):
            codec.decode_lease(json.dumps(bad).encode())


def test_strict_json_refuses_nan() -> None:
    with pytest.raises(ValueError):
        codec.dumps({"x": float("nan")})


# --- shard choice ---------------------------------------------------------------------------------------

def test_shard_of_is_crc32_and_stable() -> None:
    # The assignment must never change between versions or processes (no salted hash()).
    assert codec.shard_of("orders-api:live", 8) == zlib.crc32(b"orders-api:live") % 8
    counts = [0] * 8
    for i in range(8_000):
        counts[codec.shard_of(f"fn-{i}", 8)] += 1
    assert min(counts) > 850 and max(counts) < 1_150


@pytest.mark.parametrize(("count", "shards"), [(0, 1), (1, 1), (1_000, 1), (1_001, 2), (2_000, 2), (2_001, 4),
                                               (5_000, 8), (10**9, codec.MAX_SHARDS)])
def test_desired_shards_is_the_smallest_power_of_two_at_1000_per_shard(count: int, shards: int) -> None:
    assert codec.desired_shards(count) == shards


@pytest.mark.parametrize(("count", "current", "chosen"), [
    (1_400, 1, 1),  # inside the band: keep
    (1_501, 1, 2),  # above 1,500 per shard: grow to the desired count
    (3_100, 2, 4),
    (900, 2, 2),  # 450 per shard: keep
    (700, 2, 1),  # 350 per shard: shrink
    (0, 1, 1),
    (5_000, 0, 8),  # no shards yet
])
def test_choose_shards_has_hysteresis(count: int, current: int, chosen: int) -> None:
    assert codec.choose_shards(count, current) == chosen


@given(st.integers(min_value=0, max_value=2_000_000))
def test_a_fresh_choice_is_stable_on_the_next_save(count: int) -> None:
    # Whatever the count, the shard count chosen is inside its own band: saving again does not reshard.
    shards = codec.desired_shards(count)
    assert codec.choose_shards(count, shards) == shards


def test_shard_keys_parse_back() -> None:
    key = codec.shard_key("thermostat/", 1_763_800_000_000, 3, 8)
    assert key == "thermostat/state/v1/targets-g1763800000000-0003-of-0008.json.gz"
    assert codec.parse_shard_key(key) == (1_763_800_000_000, 3, 8)
    for other in ("thermostat/state/v1/manifest.json", "thermostat/state/v1/targets-g1-0008-of-0008.json.gz",
                  "thermostat/state/v1/targets-g1-0001-of-0008.json"):
        assert codec.parse_shard_key(other) is None


# --- run names ------------------------------------------------------------------------------------------

@given(st.text(max_size=400))
def test_safe_segment_is_safe_idempotent_and_bounded(text: str) -> None:
    safe = codec.safe_segment(text)
    assert safe and len(safe) <= codec.SEGMENT_MAX and not safe.startswith(".")
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in safe)
    assert codec.safe_segment(safe) == safe


@pytest.mark.parametrize(("a", "b"), [("run:1", "run/1"), ("", "_"), ("x" * 200, "x" * 201), ("..", "_")])
def test_safe_segment_keeps_different_names_apart(a: str, b: str) -> None:
    assert codec.safe_segment(a) != codec.safe_segment(b)


def test_safe_segment_leaves_ordinary_execution_names_alone() -> None:
    assert codec.safe_segment("3f0c2a7e-1b2c-4d5e-8f90-a1b2c3d4e5f6") == "3f0c2a7e-1b2c-4d5e-8f90-a1b2c3d4e5f6"


def test_run_names_sort_newest_first_and_parse_back() -> None:
    # GIVEN runs started in this order
    starts = [1_763_800_000_000, 1_763_800_300_000, 1_763_800_300_001, 1_900_000_000_000]
    names = [codec.make_run_name("exec", at) for at in starts]
    # THEN plain string order (S3's listing order) is newest first, and the name tells start and execution
    assert sorted(names) == names[::-1]
    assert names[0] == "8236199999999-20251122T082640Z-exec"
    assert [codec.parse_run_name(n) for n in names] == [(at, "exec") for at in starts]
    assert codec.parse_run_name("hand-made") == (None, "hand-made")
