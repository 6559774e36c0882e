"""The state store on moto's S3: overlap guard, conditional sharded records, rebuilds, per-run documents.

Everything is sequential: two StateStore instances stand for two overlapping runs and interleave their
calls in a fixed order (moto's conditional writes are not atomic under real concurrency).
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from thermostat.exceptions import StateConflictError, StateStoreError
from thermostat.store import Lease, Snapshot, StateStore, make_run_name
from thermostat.store.codec import shard_key

BUCKET = "thermostat-state-test"
NOW = 1_763_800_000_000
TTL = 240_000
LEASE_KEY = "thermostat/state/v1/lease.json"
MANIFEST_KEY = "thermostat/state/v1/manifest.json"


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def store(s3: Any) -> StateStore:
    return StateStore(s3, BUCKET, clock=lambda: NOW)


@pytest.fixture
def other(s3: Any) -> StateStore:
    """A second run's store on the same bucket (its own client, as another Lambda would have)."""
    return StateStore(boto3.client("s3", region_name="us-east-1"), BUCKET, clock=lambda: NOW)


def records(count: int, tag: str = "a") -> dict[str, dict[str, Any]]:
    return {f"fn-{i:05d}:live": {"v": 1, "tag": tag, "peaks": [[i % 7, 3], [None, 2]]} for i in range(count)}


def read_json(s3: Any, key: str) -> Any:
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return json.loads(gzip.decompress(body) if key.endswith(".gz") else body)


def keys(s3: Any, prefix: str = "thermostat/state/v1/targets-") -> list[str]:
    return sorted(obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def before_put(client: Any, action: Callable[[], object]) -> None:
    """Runs ``action`` once, just before ``client``'s next PutObject: the other run wins the race."""
    fired: list[bool] = []

    def hook(**_: Any) -> None:
        if not fired:
            fired.append(True)
            action()

    client.meta.events.register("before-call.s3.PutObject", hook)


# --- lease ----------------------------------------------------------------------------------------------

def test_first_run_creates_the_lease_object(store: StateStore, s3: Any) -> None:
    # GIVEN no lease object  WHEN run A acquires
    lease = store.acquire("run-a", NOW, TTL)
    # THEN it holds the lease, and the object says so in the documented format
    assert lease.acquired and not lease.overlap and lease.etag
    assert read_json(s3, LEASE_KEY) == {"format": "thermostat.lease/1", "run": "run-a", "acquired_at_ms": NOW,
                                        "expires_at_ms": NOW + TTL, "released_at_ms": None}


def test_a_live_lease_of_another_run_is_an_overlap(store: StateStore, other: StateStore) -> None:
    # GIVEN run A holds the lease
    store.acquire("run-a", NOW, TTL)
    # WHEN run B tries one minute later
    lease = other.acquire("run-b", NOW + 60_000, TTL)
    # THEN B is told who holds it and until when
    assert lease.overlap and lease.holder == "run-a" and lease.expires_at_ms == NOW + TTL and lease.etag is None


def test_the_holder_can_acquire_again_and_renews(store: StateStore, other: StateStore, s3: Any) -> None:
    # GIVEN run A holds the lease  WHEN A (a fallback state) acquires again later
    first = store.acquire("run-a", NOW, TTL)
    again = store.acquire("run-a", NOW + 30_000, TTL)
    # THEN it still holds it, since the first acquisition, for longer; B still overlaps
    assert again.acquired and again.acquired_at_ms == NOW and again.expires_at_ms == NOW + 30_000 + TTL
    assert again.etag != first.etag and again.previous is None
    assert other.acquire("run-b", NOW + 31_000, TTL).holder == "run-a"


def test_an_expired_lease_is_taken_over(store: StateStore, other: StateStore, s3: Any) -> None:
    # GIVEN run A's lease has expired (A died without releasing)
    store.acquire("run-a", NOW, TTL)
    # WHEN run B acquires after the expiry
    lease = other.acquire("run-b", NOW + TTL, TTL)
    # THEN B holds it and knows whose lease it replaced
    assert lease.acquired and lease.previous == "run-a"
    assert read_json(s3, LEASE_KEY)["run"] == "run-b"


def test_a_released_lease_is_free_at_once(store: StateStore, other: StateStore, s3: Any) -> None:
    # GIVEN run A acquired and released
    lease = store.acquire("run-a", NOW, TTL)
    assert store.release(lease, NOW + 5_000) is True
    assert read_json(s3, LEASE_KEY)["released_at_ms"] == NOW + 5_000
    # WHEN run B acquires before A's expiry  THEN it gets it
    assert other.acquire("run-b", NOW + 6_000, TTL).acquired


def test_release_by_a_run_that_no_longer_holds_the_lease_does_nothing(
        store: StateStore, other: StateStore, s3: Any) -> None:
    # GIVEN A's lease expired and B took it over
    stale = store.acquire("run-a", NOW, TTL)
    other.acquire("run-b", NOW + TTL + 1, TTL)
    etag = s3.head_object(Bucket=BUCKET, Key=LEASE_KEY)["ETag"]
    # WHEN A releases its old lease, and B releases its overlap result
    released = store.release(stale, NOW + TTL + 2)
    overlap = other.release(Lease("run-c", False, NOW, holder="run-b"))
    # THEN neither writes anything: B's lease is untouched
    assert released is False and overlap is False
    assert s3.head_object(Bucket=BUCKET, Key=LEASE_KEY)["ETag"] == etag
    assert read_json(s3, LEASE_KEY)["run"] == "run-b" and read_json(s3, LEASE_KEY)["released_at_ms"] is None


def test_release_with_an_outdated_copy_of_the_own_lease_still_releases(store: StateStore) -> None:
    # GIVEN A acquired, then renewed (the first Lease object's ETag is stale)
    first = store.acquire("run-a", NOW, TTL)
    store.acquire("run-a", NOW + 1_000, TTL)
    # WHEN A releases with the first copy (e.g. passed through the state machine)
    released = store.release(Lease.from_dict(json.loads(json.dumps(first.to_dict()))), NOW + 2_000)
    # THEN its own lease is released
    assert released is True
    assert store.acquire("run-b", NOW + 3_000, TTL).previous == "run-a"


def test_losing_the_creation_race_reports_the_winner(store: StateStore, other: StateStore) -> None:
    # GIVEN run B reads no lease, and run A creates one just before B's conditional create
    before_put(other._objects.s3, lambda: store.acquire("run-a", NOW, TTL))
    # WHEN B's create (If-None-Match: *) is refused
    lease = other.acquire("run-b", NOW, TTL)
    # THEN B reports an overlap with A
    assert lease.overlap and lease.holder == "run-a"


def test_losing_the_takeover_race_reports_the_winner(store: StateStore, other: StateStore, s3: Any) -> None:
    # GIVEN an expired lease of run X; run C takes it over between B's read and B's write
    store.acquire("run-x", NOW, TTL)
    third = StateStore(boto3.client("s3", region_name="us-east-1"), BUCKET)
    before_put(other._objects.s3, lambda: third.acquire("run-c", NOW + TTL, TTL))
    # WHEN B's takeover (If-Match on X's ETag) is refused  THEN B overlaps with C
    lease = other.acquire("run-b", NOW + TTL, TTL)
    assert lease.overlap and lease.holder == "run-c"


def test_a_corrupt_lease_object_is_taken_over(store: StateStore, s3: Any) -> None:
    # GIVEN the lease object is garbage
    s3.put_object(Bucket=BUCKET, Key=LEASE_KEY, Body=b"\x00not json")
    # WHEN a run acquires  THEN it gets the lease (the object is overwritten)
    assert store.acquire("run-a", NOW, TTL).acquired
    assert read_json(s3, LEASE_KEY)["run"] == "run-a"


# --- records --------------------------------------------------------------------------------------------

def test_fresh_store_loads_empty_and_first_save_creates_the_documented_objects(store: StateStore, s3: Any) -> None:
    # GIVEN an empty bucket
    snapshot = store.load()
    assert snapshot.fresh and snapshot.records == {} and snapshot.warnings == ()
    assert store.load(known_count_hint=5_000).planned_shards == 8
    # WHEN records are saved
    saved = store.save(snapshot, records(3), run="run-a", now_ms=NOW)
    # THEN a manifest and one gzip'd shard hold them in the versioned format
    manifest = read_json(s3, MANIFEST_KEY)
    assert manifest["format"] == "thermostat.manifest/1" and manifest["shards"] == 1 and manifest["records"] == 3
    assert manifest["keys"] == keys(s3) == [shard_key("thermostat/", saved.generation, 0, 1)]
    shard = read_json(s3, manifest["keys"][0])
    assert {k: shard[k] for k in ("format", "shard", "shards", "run", "written_at_ms")} == {
        "format": "thermostat.state/1", "shard": 0, "shards": 1, "run": "run-a", "written_at_ms": NOW}
    assert shard["targets"] == records(3)
    # AND a load returns exactly what was saved
    assert store.load().records == records(3)


def test_save_after_save_uses_the_returned_snapshot(store: StateStore) -> None:
    # GIVEN a save  WHEN the same run saves again with the snapshot the save returned
    first = store.save(store.load(), records(2), now_ms=NOW)
    store.save(first, records(2, tag="b"), now_ms=NOW + 1)
    # THEN the second save is committed; the first snapshot is stale now
    assert store.load().records == records(2, tag="b")
    with pytest.raises(StateConflictError):
        store.save(first, records(2, tag="c"))


def test_interleaved_runs_the_second_save_conflicts_and_changes_nothing(
        store: StateStore, other: StateStore, s3: Any) -> None:
    # GIVEN committed records, loaded by run A and by run B
    store.save(store.load(), records(10), now_ms=NOW)
    snap_a, snap_b = store.load(), other.load()
    # WHEN A saves, then B saves
    store.save(snap_a, records(10, tag="A"), run="run-a")
    manifest = s3.head_object(Bucket=BUCKET, Key=MANIFEST_KEY)["ETag"]
    with pytest.raises(StateConflictError) as raised:
        other.save(snap_b, records(10, tag="B"), run="run-b")
    # THEN B gets a named conflict that says which object, and the store still holds A's records
    assert raised.value.operation == "save" and BUCKET in raised.value.key
    assert store.load().records == records(10, tag="A")
    assert s3.head_object(Bucket=BUCKET, Key=MANIFEST_KEY)["ETag"] == manifest


def test_interleaved_first_saves_on_an_empty_store_conflict(store: StateStore, other: StateStore, s3: Any) -> None:
    # GIVEN two runs that both loaded an empty store
    snap_a, snap_b = store.load(), other.load()
    # WHEN both save (each as a new generation: If-None-Match everywhere)
    store.save(snap_a, records(5, tag="A"), now_ms=NOW)
    with pytest.raises(StateConflictError):
        other.save(snap_b, records(5, tag="B"), now_ms=NOW + 1)
    # THEN A's records are the state and B left no object behind
    assert store.load().records == records(5, tag="A")
    assert len(keys(s3)) == 1


def test_growing_past_the_band_reshards_under_new_keys_and_deletes_the_old(store: StateStore, s3: Any) -> None:
    # GIVEN 100 records in one shard
    first = store.save(store.load(), records(100), now_ms=NOW)
    old_keys = keys(s3)
    # WHEN 2,500 records are saved (more than 1,500 per shard)
    grown = store.save(store.load(), records(2_500), now_ms=NOW + 1)
    # THEN they are spread over 4 shards of a new generation, the old shard is gone, nothing is lost
    assert grown.shards == 4 and grown.generation > first.generation
    assert keys(s3) == sorted(shard_key("thermostat/", grown.generation, i, 4) for i in range(4))
    assert not set(old_keys) & set(keys(s3))
    assert read_json(s3, MANIFEST_KEY)["counts"] == [len(read_json(s3, k)["targets"]) for k in keys(s3)]
    loaded = store.load(known_count_hint=2_500)
    assert loaded.records == records(2_500) and loaded.shards == 4 and loaded.planned_shards == 4
    # AND shrinking well below the band goes back to one shard
    assert store.save(loaded, records(300), now_ms=NOW + 2).shards == 1
    assert len(keys(s3)) == 1 and store.load().records == records(300)


def test_shard_count_does_not_flap_around_a_boundary(store: StateStore) -> None:
    # GIVEN 900 records in one shard  WHEN 1,400 are saved  THEN still one shard (no reshard at 1,001)
    store.save(store.load(), records(900), now_ms=NOW)
    assert store.save(store.load(), records(1_400), now_ms=NOW + 1).shards == 1


def test_a_reshard_that_loses_to_a_plain_save_conflicts_and_cleans_up(
        store: StateStore, other: StateStore, s3: Any) -> None:
    # GIVEN one shard loaded by A and B; B saves a small update first
    store.save(store.load(), records(50), now_ms=NOW)
    snap_a, snap_b = store.load(), other.load()
    other.save(snap_b, records(50, tag="B"), now_ms=NOW + 1)
    kept = keys(s3)
    # WHEN A saves enough records to reshard
    with pytest.raises(StateConflictError):
        store.save(snap_a, records(2_500, tag="A"), now_ms=NOW + 2)
    # THEN B's state stands and A's new-generation shards were removed
    assert keys(s3) == kept and store.load().records == records(50, tag="B")


@pytest.mark.parametrize(("body", "problem"), [
    (b"not gzip at all", "corrupt"),
    (gzip.compress(b"{not json"), "corrupt"),
    (gzip.compress(b'{"format": "thermostat.state/9", "targets": {}}'), "unknown_format"),
    (gzip.compress(b"[1, 2]"), "corrupt"),
], ids=["not-gzip", "not-json", "unknown-format", "not-an-object"])
def test_a_corrupt_shard_loads_empty_and_the_next_save_overwrites_it(
        store: StateStore, s3: Any, body: bytes, problem: str) -> None:
    # GIVEN records over four shards, one of which gets overwritten with garbage
    saved = store.save(store.load(), records(2_100), now_ms=NOW)
    broken = shard_key("thermostat/", saved.generation, 1, saved.shards)
    s3.put_object(Bucket=BUCKET, Key=broken, Body=body)
    # WHEN loading  THEN the other shard's records are there, the broken one's are not, with a warning
    snapshot = store.load()
    assert [(w.key, w.problem) for w in snapshot.warnings] == [(broken, problem)]
    expected = records(2_100)
    assert 0 < len(snapshot.records) < 2_100
    assert all(snapshot.records[k] == expected[k] for k in snapshot.records)
    # AND the next save (If-Match on the corrupt object's ETag) repairs it
    store.save(snapshot, records(2_100), now_ms=NOW + 1)
    repaired = store.load()
    assert repaired.warnings == () and repaired.records == records(2_100)


def test_a_missing_shard_is_recreated(store: StateStore, s3: Any) -> None:
    # GIVEN a shard named by the manifest was deleted
    saved = store.save(store.load(), records(5), now_ms=NOW)
    key = shard_key("thermostat/", saved.generation, 0, 1)
    s3.delete_object(Bucket=BUCKET, Key=key)
    # WHEN loading, then saving
    snapshot = store.load()
    assert snapshot.records == {} and [(w.key, w.problem) for w in snapshot.warnings] == [(key, "missing")]
    store.save(snapshot, records(5, tag="new"), now_ms=NOW + 1)
    # THEN the shard exists again (created with If-None-Match)
    assert store.load().records == records(5, tag="new")


def test_a_corrupt_manifest_is_recovered_by_listing(store: StateStore, s3: Any) -> None:
    # GIVEN the manifest is garbage but the shards are intact
    store.save(store.load(), records(30), now_ms=NOW)
    s3.put_object(Bucket=BUCKET, Key=MANIFEST_KEY, Body=b'{"format": "thermostat.manifest/1", "shards": 3}')
    # WHEN loading  THEN the records are recovered, with a warning about the manifest
    snapshot = store.load()
    assert snapshot.records == records(30)
    assert [(w.key, w.problem) for w in snapshot.warnings] == [(MANIFEST_KEY, "corrupt")]
    # AND the next save rewrites the manifest
    store.save(snapshot, records(30), now_ms=NOW + 1)
    assert store.load().warnings == () and read_json(s3, MANIFEST_KEY)["shards"] == 1


def test_a_missing_manifest_is_recovered_and_older_generations_cleaned(store: StateStore, s3: Any) -> None:
    # GIVEN shards of two generations and no manifest (e.g. someone deleted it)
    store.save(store.load(), records(30), now_ms=NOW)
    old = keys(s3)
    store.save(store.load(), records(2_500), now_ms=NOW + 1)  # generation 2, 4 shards; delete old: re-add one
    s3.put_object(Bucket=BUCKET, Key=old[0], Body=b"left over")
    s3.delete_object(Bucket=BUCKET, Key=MANIFEST_KEY)
    # WHEN loading  THEN the newest generation is used, with a warning; a save removes the leftover
    snapshot = store.load()
    assert snapshot.records == records(2_500) and snapshot.warnings[0].problem == "missing"
    assert snapshot.stale_keys == (old[0],)
    store.save(snapshot, records(2_500), now_ms=NOW + 2)
    assert old[0] not in keys(s3) and store.load().warnings == ()


def test_a_record_that_is_not_strict_json_is_dropped_not_fatal(store: StateStore) -> None:
    # GIVEN one record holds a NaN (not valid JSON) and another a set
    bad = {**records(3), "nan:live": {"x": float("nan")}, "set:live": {"x": {1, 2}}}
    # WHEN saving  THEN the others are saved and the snapshot names the dropped ones
    saved = store.save(store.load(), bad, now_ms=NOW)
    assert sorted((w.key, w.problem) for w in saved.warnings) == [("nan:live", "unserialisable"),
                                                                  ("set:live", "unserialisable")]
    assert store.load().records == records(3)


# --- errors ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda s: s.load(),
    lambda s: s.save(Snapshot({}, 0, 0), records(1)),
    lambda s: s.acquire("run-a", NOW, TTL),
    lambda s: s.put_run_doc("run", "plan", {}),
    lambda s: s.get_run_doc("thermostat/runs/run/plan.json"),
    lambda s: s.list_runs(5),
], ids=["load", "save", "acquire", "put_run_doc", "get_run_doc", "list_runs"])
def test_s3_failures_raise_a_named_error_with_operation_and_key(aws: None, call: Callable[[Any], Any]) -> None:
    # GIVEN a store whose bucket does not exist
    store = StateStore(boto3.client("s3", region_name="us-east-1"), "no-such-bucket-thermostat")
    # WHEN any operation runs  THEN a StateStoreError names the operation, the key and S3's code
    try:
        call(store)
    except StateStoreError as exc:
        assert exc.code == "NoSuchBucket" and "no-such-bucket-thermostat" in exc.key and exc.operation
    except (ClientError, BotoCoreError) as exc:  # pragma: no cover - the failure this test exists for
        pytest.fail(f"botocore error escaped: {exc!r}")
    else:
        pytest.fail("no error raised")


def test_release_never_raises_when_s3_fails(aws: None, caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN a lease in hand and a bucket that has gone
    store = StateStore(boto3.client("s3", region_name="us-east-1"), "no-such-bucket-thermostat")
    lease = Lease("run-a", True, NOW + TTL, etag='"abc"', acquired_at_ms=NOW)
    # WHEN releasing  THEN False, logged
    with caplog.at_level(logging.WARNING):
        assert store.release(lease, NOW) is False
    assert "lease_release_failed" in caplog.text


# --- per-run documents ----------------------------------------------------------------------------------

def test_run_documents_round_trip_under_key_safe_names(store: StateStore, s3: Any) -> None:
    # GIVEN a run name with characters S3 keys and shells dislike
    key = store.put_run_doc("exec:1/../x y", "batch-0", {"pings": [1, 2]})
    # THEN the key is one safe segment under runs/, and the document reads back as plain JSON
    assert key.startswith("thermostat/runs/exec_1_.._x_y-") and key.endswith("/batch-0.json")
    assert key.count("/") == 3
    assert store.get_run_doc(key) == {"pings": [1, 2]}
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()) == {"pings": [1, 2]}
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentType"] == "application/json"
    # AND two names that sanitise alike stay apart
    assert store.put_run_doc("exec:1", "a", {}) != store.put_run_doc("exec/1", "a", {})


@pytest.mark.parametrize(("key", "code"), [
    ("thermostat/runs/r/missing.json", "NoSuchKey"),
    ("thermostat/state/v1/lease.json", "NotARunDocument"),
    ("other/runs/r/x.json", "NotARunDocument"),
])
def test_get_run_doc_errors_are_named(store: StateStore, key: str, code: str) -> None:
    with pytest.raises(StateStoreError) as raised:
        store.get_run_doc(key)
    assert raised.value.code == code and raised.value.operation == "get_run_doc"


def test_a_run_document_that_is_not_strict_json_is_refused(store: StateStore) -> None:
    with pytest.raises(StateStoreError, match="not strict JSON"):
        store.put_run_doc("run", "forecast", {"p": float("inf")})


def test_list_runs_is_newest_first_and_reads_reports(store: StateStore) -> None:
    # GIVEN five runs five minutes apart (written in no particular order), the newest without a report
    names = [make_run_name(f"exec-{i}", NOW + i * 300_000) for i in range(5)]
    for i in (2, 0, 4, 1, 3):
        store.put_run_doc(names[i], "plan", {"i": i})
        if i != 4:
            store.put_run_doc(names[i], "report", {"run": i})
    # WHEN listing three  THEN the three newest, newest first, with their start times
    runs = store.list_runs(3)
    assert [r.execution for r in runs] == ["exec-4", "exec-3", "exec-2"]
    assert [r.started_at_ms for r in runs] == [NOW + 1_200_000, NOW + 900_000, NOW + 600_000]
    # AND reports are read by run name (None while a run has none)
    assert store.get_run_report(runs[1].run_name) == {"run": 3}
    assert store.get_run_report(runs[0].run_name) is None


def test_a_custom_prefix_is_used_for_every_key(s3: Any) -> None:
    store = StateStore(s3, BUCKET, prefix="stacks/blue", clock=lambda: NOW)
    store.acquire("run-a", NOW, TTL)
    store.save(store.load(), records(1))
    store.put_run_doc("r", "plan", {})
    assert all(k.startswith("stacks/blue/") for k in keys(s3, ""))
    assert sorted({k.split("/")[2] for k in keys(s3, "")}) == ["runs", "state"]

