"""Warm Batch: per-group send-ahead, distinct environments, throttles counted and bounded, no re-sent timeouts,
the v1 fallback, late batches."""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from thermostat.exceptions import InvalidInputError, TargetThrottledError
from thermostat.models import WarmBatch
from thermostat.warming import (
    Reply,
    Runtime,
    WarmOptions,
    batch_output,
    lambda_invoker,
    map_item_envelope,
    parse_warm_batch,
    warm_batch,
)
from thermostat_target.exceptions import PingError
from thermostat_target.protocol import CLIENT_CONTEXT_B64, make_answer

START = 1_763_800_000_000.0


class FakeTargets:
    """Lambda's routing, in miniature: a request takes an idle environment of its function or starts a new
    (cold) one; with ``hold``, every ping waits for all ``hold`` pings to arrive (a barrier standing in for
    ``release_at``), so overlapping pings occupy distinct environments. Records when each ping was sent."""

    def __init__(self, clock: Any, hold: int | None = None, throttle_first: int = 0,
                 always_throttle: frozenset[str] = frozenset(), speaks: dict[str, int] | None = None,
                 kind: dict[str, str] | None = None) -> None:
        self.clock = clock
        self.barrier = threading.Barrier(hold, timeout=5) if hold else None
        self.throttle_first = throttle_first
        self.always_throttle = always_throttle
        self.speaks = speaks or {}
        self.kind = kind or {}
        self.lock = threading.Lock()
        self.idle: dict[str, list[str]] = {}
        self.created = Counter[str]()
        self.attempts = Counter[tuple[str, int]]()
        self.calls = Counter[str]()
        self.pings: list[tuple[str, float, dict[str, Any]]] = []

    def __call__(self, function: str, qualifier: str | None, payload: bytes) -> Reply:
        ping = json.loads(payload)["thermostat"]
        with self.lock:
            self.calls[function] += 1
            self.attempts[(function, ping["slot"])] += 1
            self.pings.append((function, self.clock.now_ms(), ping))
            if function in self.always_throttle or self.attempts[(function, ping["slot"])] <= self.throttle_first:
                return Reply("throttled", message="TooManyRequestsException: Rate Exceeded.")
        if function in self.kind:
            return Reply(self.kind[function], message=f"{self.kind[function]}: boom")  # type: ignore[arg-type]
        speaks = self.speaks.get(function, 2)
        if ping["v"] != speaks:
            error = PingError("unsupported_version", "thermostat.v", f"version {ping['v']} not in [{speaks}]")
            answer = make_answer(env="x", cold=False, init_ms=0.0, held_ms=0.0, invocations=1, error=error, v=speaks)
            return Reply("ok", json.dumps(answer).encode())
        with self.lock:
            pool = self.idle.setdefault(function, [])
            cold = not pool
            if cold:
                self.created[function] += 1
                env = f"{function}-env{self.created[function]}"
            else:
                env = pool.pop()
        if self.barrier is not None:
            self.barrier.wait()
        with self.lock:
            self.idle[function].append(env)
        answer = make_answer(env=env, cold=cold, init_ms=120.0 if cold else 0.0, held_ms=90.0, invocations=3,
                             late_ms=0.0, real=2, real_age_ms=1500.0, ping_age_ms=300000.0, v=speaks)
        return Reply("ok", json.dumps(answer).encode())


def group(name: str, count: int, send_ahead_ms: float = 100.0, protocol: int = 2,
          first_slot: int = 0) -> dict[str, Any]:
    return {"key": name, "function": name, "qualifier": None, "first_slot": first_slot, "count": count,
            "of": first_slot + count, "send_ahead_ms": send_ahead_ms, "protocol": protocol}


def batch_of(*groups: dict[str, Any], release_in_ms: int = 1000, window_ms: int = 4000) -> WarmBatch:
    release = int(START) + release_in_ms
    return parse_warm_batch({
        "run": "arn:aws:states:us-east-1:123456789012:execution:sm:run-1", "run_name": "run-1", "batch": 4,
        "round": 0, "release_at_ms": release, "max_hold_ms": 1500, "period_s": 300, "refresh": True,
        "deadline_ms": release + window_ms, "pings": list(groups),
    })


def runtime_of(clock: Any) -> Runtime:
    return Runtime(now_ms=clock.now_ms, sleep=clock.sleep, uniform=clock.uniform)


def by_key(outcomes: list[Any]) -> dict[str, Any]:
    return {o["key"]: o for o in outcomes}


def test_each_groups_pings_land_on_distinct_environments_with_compact_telemetry(clock: Any) -> None:
    # GIVEN a batch of 6 pings to one target and 3 to another, which overlap (the barrier holds them)
    fake = FakeTargets(clock, hold=9)
    # WHEN the batch is warmed
    outcomes = by_key(warm_batch(batch_of(group("a", 6), group("b", 3)), fake, runtime_of(clock)))
    # THEN every ping reached its own environment, and each answer is the compact telemetry array
    assert [len({a[0] for a in outcomes[k]["answers"]}) for k in ("a", "b")] == [6, 3]
    assert sorted(outcomes["a"]["answers"])[0] == ["a-env1", True, 90.0, 0.0, 2, 1500.0, 300000.0, 120.0]
    assert (outcomes["a"]["throttled"], outcomes["a"]["errors"], outcomes["a"]["protocol"]) == (0, 0, 2)
    # AND every ping is protocol v2 with its own slot and the batch's release time
    assert sorted(p["slot"] for f, _, p in fake.pings if f == "a") == list(range(6))
    assert {p["v"] for _, _, p in fake.pings} == {2}
    assert {p["release_at_ms"] for _, _, p in fake.pings} == {int(START) + 1000}
    # AND billed ms: held 90 + 2 overhead per ping, plus the 120 ms init of each new environment
    assert outcomes["b"]["billed_ms"] == 3 * 92 + 3 * 120


def test_each_group_starts_its_own_send_ahead_before_the_release_time(clock: Any) -> None:
    # GIVEN one target that needs a 300 ms lead and one that needs 40 ms, released together
    fake = FakeTargets(clock)
    batch = batch_of(group("slow", 2, send_ahead_ms=300.0), group("fast", 2, send_ahead_ms=40.0))
    # WHEN the batch is warmed (the fake clock only moves when someone sleeps)
    outcomes = by_key(warm_batch(batch, fake, runtime_of(clock), WarmOptions(send_ms_per_ping=0.0)))
    # THEN the sender waited until 300 ms before release_at, let the slow group go, waited 260 ms more and
    # let the fast one go (the threads read a fake clock the sender moves, so only its waits are exact)
    assert [round(s * 1000) for s in clock.sleeps] == [1000 - 300, 300 - 40]
    fast_sent = {round(batch["release_at_ms"] - t) for g, t, _ in fake.pings if g == "fast"}
    assert fast_sent == {40}
    assert (outcomes["slow"]["send_ahead_ms"], outcomes["fast"]["send_ahead_ms"]) == (300.0, 40.0)


def test_a_group_gets_at_least_the_sending_time_of_every_ping_leaving_from_its_start(clock: Any) -> None:
    # GIVEN learned leads of 20 ms (100 pings), 30 ms (50 pings) and 500 ms (10 pings); sending costs 2 ms a ping
    batch = batch_of(group("big", 100, send_ahead_ms=20.0), group("mid", 50, send_ahead_ms=30.0),
                     group("far", 10, send_ahead_ms=500.0))
    outcomes = by_key(warm_batch(batch, FakeTargets(clock), runtime_of(clock)))
    # THEN the last group to start sends its own 100 pings in time, the one before also the 100 after it,
    # and a long learned lead is kept
    assert [outcomes[k]["send_ahead_ms"] for k in ("big", "mid", "far")] == [200.0, 300.0, 500.0]


def test_throttles_are_counted_and_retried_with_full_jitter(clock: Any) -> None:
    # GIVEN the first two attempts of every ping are throttled
    fake = FakeTargets(clock, throttle_first=2)
    # WHEN the batch is warmed
    [outcome] = warm_batch(batch_of(group("a", 3)), fake, runtime_of(clock))
    # THEN every throttle response is counted, every ping got through on its third attempt
    assert (outcome["throttled"], outcome["throttled_final"], len(outcome["answers"])) == (6, 0, 3)
    assert fake.calls["a"] == 9
    # AND the backoff draws were full jitter: uniform(0, min(cap, 50 * 2**attempt))
    assert sorted(set(clock.bounds)) == [(0.0, 50.0), (0.0, 100.0)]


def test_a_target_throttled_on_every_ping_stops_quickly_while_others_are_warmed(clock: Any) -> None:
    # GIVEN target "limited" throttles everything, "ok" answers; the batch may retry for 20 s
    fake = FakeTargets(clock, always_throttle=frozenset({"limited"}))
    batch = batch_of(group("limited", 5), group("ok", 2), window_ms=20_000)
    # WHEN the batch is warmed
    outcomes = by_key(warm_batch(batch, fake, runtime_of(clock)))
    # THEN "limited" stopped after about 3 rounds of attempts, every throttle counted, all pings final
    limited = outcomes["limited"]
    assert limited["stopped"] is True and limited["throttled_final"] == 5
    assert limited["throttled"] == fake.calls["limited"] <= 5 * 3
    # AND no ping of it tried more than 3 times (at most 50 + 100 ms of backoff, not the 20 s window);
    # the other target was warmed
    assert max(n for (f, _), n in fake.attempts.items() if f == "limited") <= 3
    assert len(outcomes["ok"]["answers"]) == 2 and outcomes["ok"]["stopped"] is False


def test_a_batch_where_nothing_got_through_raises_for_the_map_retry_and_is_bounded(clock: Any) -> None:
    # GIVEN every invoke is throttled
    fake = FakeTargets(clock, always_throttle=frozenset({"a", "b"}))
    # WHEN / THEN TargetThrottledError naming the pings, well before the 20 s deadline
    with pytest.raises(TargetThrottledError, match=r"all 4 pings to a, b"):
        warm_batch(batch_of(group("a", 2), group("b", 2), window_ms=20_000), fake, runtime_of(clock))
    assert fake.calls["a"] <= 2 * 3 and max(fake.attempts.values()) <= 3


def test_a_ping_whose_throttles_persist_stops_at_the_deadline(clock: Any) -> None:
    # GIVEN slot 0 of "a" always throttled while slot 1 got through first (so the target is not cut off)
    answered = threading.Event()

    class SlotOneFirst(FakeTargets):
        def __call__(self, function: str, qualifier: str | None, payload: bytes) -> Reply:
            if json.loads(payload)["thermostat"]["slot"] == 0:
                assert answered.wait(5)
                return super().__call__(function, qualifier, payload)
            reply = super().__call__(function, qualifier, payload)
            answered.set()
            return reply

    fake = SlotOneFirst(clock, throttle_first=10_000)
    fake.attempts[("a", 1)] = 10_000
    # WHEN warmed with a 3 s retry window
    [outcome] = warm_batch(batch_of(group("a", 2), window_ms=3000), fake, runtime_of(clock))
    # THEN slot 0 was retried until the deadline and ends throttled; slot 1 answered
    assert (len(outcome["answers"]), outcome["throttled_final"], outcome["stopped"]) == (1, 1, False)
    assert outcome["throttled"] == fake.calls["a"] - 1 and fake.calls["a"] > 6
    assert clock.now >= START + 1000 + 3000 - 1


@pytest.mark.parametrize(("kind", "calls", "timeouts"), [("timeout", 1, 1), ("function_error", 1, 0),
                                                          ("error", 1, 0), ("transient", 3, 0)])
def test_timeouts_and_errors_are_never_resent_transients_at_most_twice(clock: Any, kind: str, calls: int,
                                                                        timeouts: int) -> None:
    # GIVEN a target whose every invoke ends with ``kind``
    fake = FakeTargets(clock, kind={"a": kind})
    # WHEN one ping is sent
    [outcome] = warm_batch(batch_of(group("a", 1)), fake, runtime_of(clock))
    # THEN a timeout (it may have run) and errors are one invocation; a never-sent call is retried twice
    assert fake.calls["a"] == calls
    assert (outcome["errors"], outcome["timeouts"], outcome["error_samples"]) == (1, timeouts, [f"{kind}: boom"])


def test_an_old_library_gets_the_group_again_in_v1_and_the_outcome_says_so(clock: Any) -> None:
    # GIVEN a target whose library speaks only v1 (answers unsupported_version, supported [1])
    fake = FakeTargets(clock, speaks={"old": 1})
    # WHEN a v2 group of 3 is sent
    [outcome] = warm_batch(batch_of(group("old", 3)), fake, runtime_of(clock))
    # THEN each ping was re-sent once as v1, all re-sent pings share one release time, answers have v1 nulls
    versions = Counter(p["v"] for _, _, p in fake.pings)
    assert versions == {2: 3, 1: 3}
    assert len({p["release_at_ms"] for _, _, p in fake.pings if p["v"] == 1}) == 1
    assert outcome["protocol"] == 1 and len(outcome["answers"]) == 3 and outcome["errors"] == 0
    assert all(a[3] is None and a[4] is None for a in outcome["answers"])


def test_a_v1_group_is_sent_v1(clock: Any) -> None:
    fake = FakeTargets(clock, speaks={"old": 1})
    [outcome] = warm_batch(batch_of(group("old", 2, protocol=1)), fake, runtime_of(clock))
    assert [p["v"] for _, _, p in fake.pings] == [1, 1] and outcome["protocol"] == 1


def test_a_late_batch_rebases_its_release_and_keeps_its_retry_window(make_clock: Any) -> None:
    # GIVEN a batch that starts 500 ms after its planned release_at
    clock = make_clock(start_ms=START + 1500)
    fake = FakeTargets(clock, hold=3)
    batch = batch_of(group("a", 3, send_ahead_ms=100.0), release_in_ms=1000, window_ms=4000)
    # WHEN it runs
    [outcome] = warm_batch(batch, fake, runtime_of(clock))
    # THEN its pings carry now + lead + margin, and still reach 3 environments
    [release] = {p["release_at_ms"] for _, _, p in fake.pings}
    assert release == int(START) + 1500 + 100 + 50 == outcome["release_at_ms"]
    assert len({a[0] for a in outcome["answers"]}) == 3


def test_batch_output_is_counts_and_the_envelope(clock: Any) -> None:
    batch = batch_of(group("a", 2), group("b", 1))
    outcomes = warm_batch(batch, FakeTargets(clock, hold=3), runtime_of(clock))
    output = batch_output(batch, outcomes, {"inline": outcomes})
    assert {k: output[k] for k in ("batch", "round", "pings", "answered", "distinct", "throttled", "errors")} == \
        {"batch": 4, "round": 0, "pings": 3, "answered": 3, "distinct": 3, "throttled": 0, "errors": 0}


# --- the boto3 adapter ---------------------------------------------------------------------------------

def _client() -> Any:
    return boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_lambda_invoker_sends_the_marker_and_maps_replies() -> None:
    # GIVEN a stubbed client: an answer, a throttle, a function error
    client = _client()
    answer = json.dumps(make_answer(env="e1", cold=False, init_ms=0.0, held_ms=10.0, invocations=1)).encode()
    expected = {"FunctionName": "f", "InvocationType": "RequestResponse", "Payload": b"{}",
                "ClientContext": CLIENT_CONTEXT_B64, "Qualifier": "live"}
    with Stubber(client) as stub:
        stub.add_response("invoke", {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(answer), len(answer))},
                          expected)
        stub.add_client_error("invoke", "TooManyRequestsException", "Rate Exceeded.", 429)
        body = b'{"errorType": "Boom", "errorMessage": "bad"}'
        stub.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                     "Payload": StreamingBody(io.BytesIO(body), len(body))})
        invoke = lambda_invoker(client)
        # WHEN three pings are sent THEN the ClientContext marker went with them, and the replies are mapped
        assert invoke("f", "live", b"{}") == Reply("ok", answer)
        assert invoke("f", None, b"{}").kind == "throttled"
        assert invoke("f", None, b"{}") == Reply("function_error", body, "Boom: bad")


class RaisingClient:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def invoke(self, **kwargs: Any) -> Any:
        raise self.exc


def test_lambda_invoker_read_timeout_is_a_timeout_and_an_unreachable_endpoint_is_transient() -> None:
    timeout = lambda_invoker(RaisingClient(ReadTimeoutError(endpoint_url="https://lambda")))("f", None, b"{}")
    unreachable = lambda_invoker(RaisingClient(EndpointConnectionError(endpoint_url="https://lambda")))("f", None, b"")
    assert (timeout.kind, unreachable.kind) == ("timeout", "transient")


# --- input ---------------------------------------------------------------------------------------------

def test_parse_fills_optional_group_fields_and_names_bad_ones(load_event: Any) -> None:
    # GIVEN the sample event THEN it parses; a v1-shaped group gets its key, default lead and protocol 2
    sample = parse_warm_batch(load_event("warm-batch.json")["doc"]["inline"])
    assert sample["pings"][0]["key"] == sample["pings"][0]["function"]
    legacy = dict(sample, pings=[{"function": "f", "qualifier": "live", "first_slot": 0, "count": 1, "of": 1}])
    [g] = parse_warm_batch(legacy)["pings"]
    assert (g["key"], g["send_ahead_ms"], g["protocol"]) == ("f:live", 100.0, 2)
    with pytest.raises(InvalidInputError, match=r"pings\[0\]\.protocol"):
        parse_warm_batch(dict(sample, pings=[dict(sample["pings"][0], protocol=3)]))
    with pytest.raises(InvalidInputError, match=r"pings\[0\]\.count: first_slot"):
        parse_warm_batch(dict(sample, pings=[dict(sample["pings"][0], first_slot=5, count=5, of=6)]))


def test_map_item_forms() -> None:
    assert map_item_envelope({"batch": 0, "doc": {"ref": "k"}}) == ({"ref": "k"}, "doc")
    assert map_item_envelope({"batch": {"batch": 0, "doc": {"inline": 1}}}) == ({"inline": 1}, "batch.doc")
    assert map_item_envelope({"pings": []}) == ({"inline": {"pings": []}}, "$")
    with pytest.raises(InvalidInputError):
        map_item_envelope({"batch": 3})


def test_a_learned_lead_is_used_as_is_and_only_an_unlearned_one_gets_the_per_ping_allowance() -> None:
    from thermostat.warming import group_leads

    def group(key: str, count: int, lead: float, learned: bool) -> Any:
        return {"key": key, "function": key, "qualifier": None, "first_slot": 0, "count": count, "of": count,
                "send_ahead_ms": lead, "protocol": 2, "learned": learned}

    options = WarmOptions()
    # GIVEN a target of 50 pings whose rounds showed 30 ms is enough, and a new one of 50 (default 100 ms)
    leads = group_leads([group("known", 50, 30.0, True), group("new", 50, 100.0, False)], options)
    # THEN the known one keeps its 30 ms (its answers already measured its spread); the new one gets at least
    # the time to send every ping that leaves from its start on
    assert leads[0] == 30.0
    assert leads[1] >= max(100.0, options.send_ms_per_ping * 100)
    # AND the learned lead never goes below the minimum
    assert group_leads([group("known", 5, 1.0, True)], options) == [options.min_send_ahead_ms]
