"""Warm Batch handler under moto: real boto3 invokes (with the ClientContext marker) routed to a tiny fake of
Lambda's environments; batch documents and results through the S3 state bucket when they are big."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError

from thermostat.claims import resolve
from thermostat.exceptions import TargetThrottledError
from thermostat.store import StateStore
from thermostat_target.protocol import CLIENT_CONTEXT_B64, make_answer

SR, SSM = "thermostat-demo-schema-registry", "thermostat-demo-ssm-config"
BUCKET = "thermostat-state-test"


class Throttled(JsonRESTError):
    code = 429

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")


class Environments:
    """Per function: an idle environment is reused, else a new (cold) one starts; every ping waits until
    ``hold`` pings have arrived (standing in for the shared release_at). A ping without the ClientContext
    marker reaches the "user's handler", which echoes the event (what a marker-less ping would get)."""

    def __init__(self, hold: int, always_throttle: bool = False, crash: set[str] | None = None) -> None:
        self.barrier = threading.Barrier(hold, timeout=10)
        self.always_throttle = always_throttle
        self.crash = crash or set()
        self.lock = threading.Lock()
        self.idle: dict[str, list[str]] = {}
        self.started = Counter[str]()
        self.calls = Counter[str]()
        self.markers: list[str | None] = []

    def __call__(self, function_name: str, qualifier: str | None, body: Any, headers: Any,
                 response_headers: dict[str, str]) -> bytes:
        name = function_name.rsplit(":", 1)[-1]
        with self.lock:
            self.calls[name] += 1
            self.markers.append(headers.get("X-Amz-Client-Context"))
            if self.always_throttle:
                raise Throttled()
            if name in self.crash:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({"errorType": "RuntimeError", "errorMessage": "init failed"}).encode()
            if headers.get("X-Amz-Client-Context") != CLIENT_CONTEXT_B64:
                return body if isinstance(body, bytes) else str(body).encode()
            pool = self.idle.setdefault(name, [])
            cold = not pool
            if cold:
                self.started[name] += 1
            env = f"{name}#{self.started[name]}" if cold else pool.pop()
        self.barrier.wait()
        with self.lock:
            self.idle[name].append(env)
        return json.dumps(make_answer(env=env, cold=cold, init_ms=150.0 if cold else 0.0, held_ms=80.0,
                                      invocations=1, real=0, function=name)).encode()


def route(monkeypatch: Any, fake: Environments) -> Environments:
    """Every moto Lambda invoke goes to ``fake`` (moto's simple backend would echo the payload)."""
    monkeypatch.setattr(LambdaSimpleBackend, "invoke",
                        lambda backend, name, qualifier, body, headers, response_headers:
                        fake(name, qualifier, body, headers, response_headers))
    return fake


@pytest.fixture
def targets(make_function: Any, monkeypatch: Any) -> StateStore:
    make_function(SR, tags={"thermostat:enabled": "true"})
    make_function(SSM, tags={"thermostat:enabled": "true"})
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("THERMOSTAT_STATE_BUCKET", BUCKET)
    return StateStore(s3, BUCKET)


def soon(item: dict[str, Any], lead_ms: int = 1500) -> dict[str, Any]:
    """The sample's batch with its release time moved to now + lead (the sample's date is in the past)."""
    doc = item["doc"]["inline"]
    doc["release_at_ms"] = int(time.time() * 1000) + lead_ms
    doc["deadline_ms"] = doc["release_at_ms"] + 20_000
    return item


def test_sample_batch_warms_distinct_environments_with_the_marker(
        targets: StateStore, load_handler: Any, load_event: Any, context: Any, monkeypatch: Any) -> None:
    # GIVEN events/warm-batch.json (a Map item: 6 pings to one demo target, 3 to the other, inline)
    item = soon(load_event("warm-batch.json"))
    fake = route(monkeypatch, Environments(hold=9))
    app = load_handler("warm_batch")
    # WHEN the handler runs
    out = app.handler(item, context)
    # THEN every invoke carried the ClientContext marker, and each target reached as many environments as pings
    assert fake.markers == [CLIENT_CONTEXT_B64] * 9
    outcomes = {o["key"]: o for o in out["result"]["inline"]}
    assert [len({a[0] for a in outcomes[k]["answers"]}) for k in (SR, SSM)] == [6, 3]
    assert (out["pings"], out["answered"], out["distinct"], out["throttled"], out["errors"]) == (9, 9, 9, 0, 0)
    assert {tuple(a[1:5]) for a in outcomes[SR]["answers"]} == {(True, 80.0, 0.0, 0)}
    # AND the shared client: a pool for a whole batch of 500, no SDK retries, a read timeout above the hold cap
    config = app.lambda_client().meta.config
    assert config.max_pool_connections >= 500
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert config.read_timeout > 2 + 3


def test_a_big_batch_is_read_from_and_its_results_written_to_the_state_bucket(
        targets: StateStore, load_handler: Any, load_event: Any, context: Any, monkeypatch: Any) -> None:
    # GIVEN a batch of 120 pings to one target whose document is in S3 (a claim check)
    doc = soon(load_event("warm-batch.json"), lead_ms=2500)["doc"]["inline"]
    doc["pings"] = [dict(doc["pings"][0], count=120, of=120)]
    key = targets.put_run_doc(doc["run_name"], "batch-0", doc)
    route(monkeypatch, Environments(hold=120))
    # WHEN the handler runs on the Map item that refers to it
    out = load_handler("warm_batch").handler({"batch": 0, "doc": {"ref": key, "bytes": 1}}, context)
    # THEN its results are too big to travel inline: they are in S3, under the run's folder
    assert set(out["result"]) == {"ref", "bytes"} and out["result"]["ref"].endswith("/result-0-0.json")
    [outcome] = resolve(targets, out["result"], "result")
    assert len({a[0] for a in outcome["answers"]}) == out["distinct"] == 120
    assert len(json.dumps(out)) < 1024


def test_a_function_error_is_counted_and_the_batch_still_returns(
        targets: StateStore, load_handler: Any, load_event: Any, context: Any, monkeypatch: Any) -> None:
    # GIVEN one of the two targets fails every invocation
    route(monkeypatch, Environments(hold=6, crash={SSM}))
    out = load_handler("warm_batch").handler(soon(load_event("warm-batch.json")), context)
    outcomes = {o["key"]: o for o in out["result"]["inline"]}
    # THEN the healthy target is warmed and the failing one reports its errors with a sample, never re-sent
    assert len(outcomes[SR]["answers"]) == 6
    assert (outcomes[SSM]["errors"], outcomes[SSM]["error_samples"]) == (3, ["RuntimeError: init failed"])


def test_a_batch_where_everything_stays_throttled_stops_quickly_and_raises_for_the_map_retry(
        targets: StateStore, load_handler: Any, load_event: Any, context: Any, monkeypatch: Any) -> None:
    # GIVEN every invoke is throttled and the batch may retry for 20 s
    fake = route(monkeypatch, Environments(hold=1, always_throttle=True))
    item = soon(load_event("warm-batch.json"), lead_ms=300)
    started = time.monotonic()
    # WHEN the handler runs THEN TargetThrottledError (the Map's Retry retries the batch, not this Lambda)
    with pytest.raises(TargetThrottledError, match="all 9 pings"):
        load_handler("warm_batch").handler(item, context)
    # AND it gave up after a few rounds of attempts, well before the deadline
    assert time.monotonic() - started < 5 and sum(fake.calls.values()) <= 9 * 3
