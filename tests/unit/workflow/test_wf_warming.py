"""Warm Batch: concurrent pings, distinct environments, throttle retries with full jitter, errors counted."""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from thermostat import models
from thermostat.exceptions import InvalidInputError, TargetThrottledError
from thermostat.warming import Reply, Runtime, WarmOptions, lambda_invoker, parse_warm_batch, warm_batch
from thermostat_target.exceptions import PingError
from thermostat_target.protocol import make_answer

START = 1_763_800_000_000.0


class FakeTargets:
    """Lambda's routing, in miniature: a request takes an idle environment of its function or starts a new
    (cold) one; with ``hold``, every ping waits for all ``hold`` pings to arrive (a barrier standing in for
    ``release_at``), so overlapping pings occupy distinct environments."""

    def __init__(self, hold: int | None = None, throttle_first: int = 0, serial: bool = False) -> None:
        self.barrier = threading.Barrier(hold, timeout=5) if hold else None
        self.throttle_first = throttle_first
        self.serial = threading.Lock() if serial else None
        self.lock = threading.Lock()
        self.idle: dict[str, list[str]] = {}
        self.created = Counter[str]()
        self.attempts = Counter[tuple[str, int]]()
        self.pings: list[dict[str, Any]] = []

    def __call__(self, function: str, qualifier: str | None, payload: bytes) -> Reply:
        ping = json.loads(payload)["thermostat"]
        with self.lock:
            self.attempts[(function, ping["slot"])] += 1
            if self.attempts[(function, ping["slot"])] <= self.throttle_first:
                return Reply("throttled", message="TooManyRequestsException: Rate Exceeded.")
            self.pings.append(ping)
        if self.serial:
            with self.serial:
                return self._run(function)
        return self._run(function)

    def _run(self, function: str) -> Reply:
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
        answer = make_answer(env=env, cold=cold, init_ms=120.0 if cold else 0.0, held_ms=900.0, invocations=1,
                             function=function)
        return Reply("ok", json.dumps(answer).encode())


def batch_of(*groups: tuple[str, int], release_in_ms: int = 1000, window_ms: int = 4000,
             first_slot: int = 0) -> models.WarmBatch:
    release = int(START) + release_in_ms
    return {
        "run": "arn:aws:states:us-east-1:123456789012:execution:sm:run-1", "batch": 4, "round": 0,
        "release_at_ms": release, "max_hold_ms": 1500, "period_s": 300, "refresh": True,
        "deadline_ms": release + window_ms,
        "pings": [{"function": name, "qualifier": None, "first_slot": first_slot, "count": count,
                   "of": first_slot + count} for name, count in groups],
    }


def runtime(clock: Any) -> Runtime:
    return Runtime(now_ms=clock.now_ms, sleep=clock.sleep, uniform=clock.uniform)


@pytest.mark.parametrize("n", [1, 10, 50])
def test_n_held_pings_reach_n_distinct_environments(n: int, clock: Any) -> None:
    # GIVEN a target whose pings hold until all have arrived WHEN a batch of N pings is warmed
    fake = FakeTargets(hold=n)
    result = warm_batch(batch_of(("orders", n)), fake, runtime(clock))
    # THEN N distinct environments answered, all cold (first warm-up), nothing throttled or failed
    [outcome] = result["results"]
    assert (outcome["requested"], outcome["answered"], len(outcome["envs"])) == (n, n, n)
    assert outcome["cold_envs"] == outcome["envs"]
    assert (outcome["throttled"], outcome["errors"], outcome["error_samples"]) == (0, 0, [])
    assert outcome["billed_ms"] == n * (900 + 2) + n * 120
    assert sorted(p["slot"] for p in fake.pings) == list(range(n))
    run = "arn:aws:states:us-east-1:123456789012:execution:sm:run-1"
    assert {(p["of"], p["batch"], p["run"]) for p in fake.pings} == {(n, 4, run)}


def test_pings_that_do_not_overlap_share_one_environment(clock: Any) -> None:
    # GIVEN a target that serves one request at a time and pings that do not hold
    fake = FakeTargets(serial=True)
    [outcome] = warm_batch(batch_of(("orders", 8)), fake, runtime(clock))["results"]
    # THEN all 8 answered but from one environment: distinct envs, not answers, are counted
    assert outcome["answered"] == 8
    assert outcome["envs"] == ["orders-env1"] and outcome["cold_envs"] == ["orders-env1"]


def test_slots_continue_across_batches_of_a_big_target(clock: Any) -> None:
    # GIVEN the second batch of a target spanning batches (slots 50..59 of 60) WHEN warmed
    fake = FakeTargets(hold=10)
    warm_batch(batch_of(("orders", 10), first_slot=50), fake, runtime(clock))
    # THEN the pings carry their own slots and the target's total
    assert sorted(p["slot"] for p in fake.pings) == list(range(50, 60))
    assert {p["of"] for p in fake.pings} == {60}


def test_throttles_are_retried_with_full_jitter_until_answered(make_clock: Any) -> None:
    # GIVEN a target that throttles the first 3 attempts of every ping
    clock = make_clock(START, pick=1.0)
    fake = FakeTargets(hold=5, throttle_first=3)
    [outcome] = warm_batch(batch_of(("orders", 5)), fake, runtime(clock))["results"]
    # THEN every ping got through (5 distinct envs) after 3 throttles each, backing off 50, 100, 200 ms
    assert (outcome["answered"], len(outcome["envs"])) == (5, 5)
    assert (outcome["throttled"], outcome["throttled_final"]) == (15, 0)
    assert sorted(hi for _, hi in clock.bounds) == sorted([50.0, 100.0, 200.0] * 5)
    assert all(lo == 0.0 for lo, _ in clock.bounds)


def test_a_batch_where_nothing_gets_through_raises_after_backing_off_to_the_deadline(make_clock: Any) -> None:
    # GIVEN a single-ping batch whose target always throttles, deadline 4 s after release
    clock = make_clock(START, pick=1.0)
    fake = FakeTargets(throttle_first=10**9)
    batch = batch_of(("orders", 1), release_in_ms=1000, window_ms=4000)
    # WHEN warmed THEN TargetThrottledError (for the Map's Retry) names the target and the count
    with pytest.raises(TargetThrottledError, match=r"batch 4 \(round 0\): all 1 pings to orders stayed throttled"):
        warm_batch(batch, fake, runtime(clock))
    # AND the backoff grew exponentially from 50 ms up to the 1 s cap, and stopped exactly at the deadline
    highs = [hi for _, hi in clock.bounds]
    assert highs == [min(1000.0, 50.0 * 2**i) for i in range(len(highs))]
    assert highs[-1] == 1000.0
    assert clock.now == batch["deadline_ms"]
    assert fake.attempts[("orders", 0)] == len(highs) + 1


def test_partial_throttling_returns_results_for_the_topup(clock: Any) -> None:
    # GIVEN a batch shared by a target that always throttles and one that answers
    always = FakeTargets(throttle_first=10**9)
    fine = FakeTargets(hold=3)

    def invoke(function: str, qualifier: str | None, payload: bytes) -> Reply:
        return (always if function == "busy" else fine)(function, qualifier, payload)

    result = warm_batch(batch_of(("busy", 2), ("calm", 3)), invoke, runtime(clock))
    # THEN no exception: the busy target reports its final throttles, the calm one its environments
    busy, calm = result["results"]
    assert (busy["answered"], busy["throttled_final"], busy["envs"]) == (0, 2, [])
    assert busy["throttled"] >= 2
    assert (calm["answered"], len(calm["envs"]), calm["throttled_final"]) == (3, 3, 0)


def test_errors_are_counted_with_samples_and_do_not_raise(clock: Any) -> None:
    # GIVEN targets that fail: a function error, a handler that is not warm-aware, a rejected ping, no access
    rejected = make_answer(env="e", cold=False, init_ms=0, held_ms=0, invocations=3,
                           error=PingError("unsupported_version", "thermostat.v", "version 1 not in [2]"))
    replies = {
        "crash": Reply("function_error", b'{"errorType": "ValueError", "errorMessage": "boom"}',
                       "ValueError: boom"),
        "plain": Reply("ok", json.dumps({"statusCode": 200, "body": "hi"}).encode()),
        "old": Reply("ok", json.dumps(rejected).encode()),
        "denied": Reply("error", message="AccessDeniedException: not authorized"),
    }
    result = warm_batch(batch_of(("crash", 2), ("plain", 1), ("old", 1), ("denied", 1)),
                        lambda f, q, p: replies[f], runtime(clock))
    samples = {o["function"]: (o["errors"], o["answered"], o["error_samples"]) for o in result["results"]}
    # THEN each failure is an error with a readable sample, and the batch still returns results
    assert samples["crash"] == (2, 0, ["ValueError: boom"])
    assert samples["plain"][0:2] == (1, 0) and samples["plain"][2][0].startswith("NotWarmAwareError: ")
    assert samples["old"][0:2] == (1, 0) and samples["old"][2][0].startswith("PingRejected: unsupported_version")
    assert samples["denied"] == (1, 0, ["AccessDeniedException: not authorized"])


def test_transient_errors_are_retried_a_bounded_number_of_times(clock: Any) -> None:
    # GIVEN a target whose invokes always fail with a 5xx
    calls = Counter[str]()

    def invoke(function: str, qualifier: str | None, payload: bytes) -> Reply:
        calls[function] += 1
        return Reply("transient", message="ServiceException: internal")

    options = WarmOptions(max_transient_retries=2)
    [outcome] = warm_batch(batch_of(("flaky", 1)), invoke, runtime(clock), options)["results"]
    # THEN it was tried 1 + 2 times, then counted as an error (not a throttle)
    assert calls["flaky"] == 3
    assert (outcome["errors"], outcome["throttled_final"]) == (1, 0)
    assert outcome["error_samples"] == ["ServiceException: internal"]


def test_a_late_batch_rebases_its_release_and_keeps_its_retry_window(make_clock: Any) -> None:
    # GIVEN a batch started 10 s after its planned release (e.g. a Map retry), window 4 s
    batch = batch_of(("orders", 2), release_in_ms=1000, window_ms=4000)
    clock = make_clock(batch["release_at_ms"] + 10_000, pick=1.0)
    fake = FakeTargets(hold=2, throttle_first=2)
    [outcome] = warm_batch(batch, fake, runtime(clock), WarmOptions(min_lead_ms=250))["results"]
    # THEN its pings carry a new shared release 250 ms ahead, and throttles were still retried
    assert {p["release_at_ms"] for p in fake.pings} == {batch["release_at_ms"] + 10_250}
    assert (outcome["answered"], len(outcome["envs"]), outcome["throttled"]) == (2, 2, 4)


def test_stop_by_bounds_the_retries(make_clock: Any) -> None:
    # GIVEN a batch whose deadline is later than the Lambda's own time left WHEN its target always throttles
    clock = make_clock(START, pick=1.0)
    batch = batch_of(("orders", 1), window_ms=60_000)
    with pytest.raises(TargetThrottledError):
        warm_batch(batch, FakeTargets(throttle_first=10**9), runtime(clock), WarmOptions(stop_by_ms=START + 3000))
    # THEN retrying stopped at stop_by, not at the batch deadline
    assert clock.now == START + 3000


def test_empty_batch_returns_no_results(clock: Any) -> None:
    assert warm_batch(batch_of(), FakeTargets(), runtime(clock))["results"] == []


# --- the boto3 adapter (botocore Stubber: no sockets) -------------------------------------------------


def _client() -> Any:
    return boto3.client("lambda", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")


def _body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def test_lambda_invoker_classifies_responses() -> None:
    # GIVEN a Lambda client answering 429, a function error, 500, 403 and an answer, in that order
    client = _client()
    answer = json.dumps(make_answer(env="e1", cold=True, init_ms=1, held_ms=2, invocations=1)).encode()
    with Stubber(client) as stub:
        stub.add_client_error("invoke", "TooManyRequestsException", "Rate Exceeded.", 429)
        stub.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                     "Payload": _body(b'{"errorType":"KeyError","errorMessage":"x"}')})
        stub.add_client_error("invoke", "ServiceException", "internal", 500)
        stub.add_client_error("invoke", "AccessDeniedException", "no", 403)
        stub.add_response("invoke", {"StatusCode": 200, "Payload": _body(answer)},
                          {"FunctionName": "f", "InvocationType": "RequestResponse", "Payload": b"{}",
                           "Qualifier": "live"})
        invoke = lambda_invoker(client)
        kinds = [invoke("f", None, b"{}") for _ in range(4)]
        last = invoke("f", "live", b"{}")
    # THEN each is classified, and the qualifier and RequestResponse are passed on
    assert [r.kind for r in kinds] == ["throttled", "function_error", "transient", "error"]
    assert kinds[1].message == "KeyError: x"
    assert kinds[3].message == "AccessDeniedException: no"
    assert (last.kind, last.payload) == ("ok", answer)


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda b: b.pop("run"), "run"),
    (lambda b: b.update(release_at_ms="soon"), "release_at_ms"),
    (lambda b: b.update(refresh=1), "refresh"),
    (lambda b: b.update(pings={}), "pings"),
    (lambda b: b["pings"][0].update(function=""), "pings[0].function"),
    (lambda b: b["pings"][0].update(count=True), "pings[0].count"),
    (lambda b: b["pings"][0].update(count=7, of=5), "pings[0].count"),
])
def test_bad_warm_batch_input_names_the_field(load_event: Any, mutate: Any, path: str) -> None:
    # GIVEN events/warm-batch.json with one field broken WHEN parsed THEN the error names that field
    event = load_event("warm-batch.json")
    assert parse_warm_batch(load_event("warm-batch.json")) == event
    mutate(event)
    with pytest.raises(InvalidInputError) as caught:
        parse_warm_batch(event)
    assert caught.value.path == path


@pytest.mark.parametrize("pings,ahead_ms", [(5, 400.0), (100, 1000.0)])
def test_an_early_batch_waits_and_fires_shortly_before_release(pings: int, ahead_ms: float, clock: Any) -> None:
    # GIVEN a batch whose Map iteration starts 3 s before the shared release time
    fake = FakeTargets(hold=pings)
    warm_batch(batch_of(("orders", pings), release_in_ms=3000, window_ms=10_000), fake, runtime(clock))
    # THEN its first sleep ends send-ahead ms before release: 400 ms, or 10 ms per ping for a big batch
    assert clock.sleeps[0] * 1000.0 == pytest.approx(3000.0 - ahead_ms)
