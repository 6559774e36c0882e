"""Warm Batch handler under moto: real boto3 invokes routed to a tiny fake of Lambda's environments."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError

from thermostat.exceptions import TargetThrottledError
from thermostat_target.protocol import make_answer

SR, SSM = "thermostat-demo-schema-registry", "thermostat-demo-ssm-config"


class Throttled(JsonRESTError):
    code = 429

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")


class Environments:
    """Per function: an idle environment is reused, else a new (cold) one starts; every ping waits until the
    whole batch has arrived (standing in for the shared release_at), so overlapping pings stay distinct."""

    def __init__(self, hold: int, throttle_once: set[tuple[str, int]] | None = None,
                 always_throttle: bool = False, crash: set[str] | None = None) -> None:
        self.barrier = threading.Barrier(hold, timeout=10)
        self.throttle_once = set(throttle_once or ())
        self.always_throttle = always_throttle
        self.crash = crash or set()
        self.lock = threading.Lock()
        self.idle: dict[str, list[str]] = {}
        self.started = Counter[str]()
        self.calls = Counter[str]()

    def __call__(self, backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
                 response_headers: dict[str, str]) -> bytes:
        name = function_name.rsplit(":", 1)[-1]
        ping = json.loads(body)["thermostat"]
        with self.lock:
            self.calls[name] += 1
            if self.always_throttle or (name, ping["slot"]) in self.throttle_once:
                self.throttle_once.discard((name, ping["slot"]))
                raise Throttled()
            if name in self.crash:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({"errorType": "RuntimeError", "errorMessage": "init failed"}).encode()
            pool = self.idle.setdefault(name, [])
            cold = not pool
            if cold:
                self.started[name] += 1
            env = f"{name}#{self.started[name]}" if cold else pool.pop()
        self.barrier.wait()
        with self.lock:
            self.idle[name].append(env)
        return json.dumps(make_answer(env=env, cold=cold, init_ms=150.0 if cold else 0.0, held_ms=800.0,
                                      invocations=1, function=name)).encode()


def route(monkeypatch: Any, fake: Environments) -> Environments:
    """Every moto Lambda invoke goes to ``fake`` (moto's simple backend would echo the payload)."""
    monkeypatch.setattr(LambdaSimpleBackend, "invoke",
                        lambda backend, name, qualifier, body, headers, response_headers:
                        fake(backend, name, qualifier, body, headers, response_headers))
    return fake


@pytest.fixture
def targets(make_function: Any) -> None:
    make_function(SR, tags={"thermostat:enabled": "true"})
    make_function(SSM, tags={"thermostat:enabled": "true"})


def test_sample_batch_warms_distinct_environments_and_retries_a_throttle(
        targets: None, load_handler: Any, load_event: Any, context: Any, monkeypatch: Any) -> None:
    # GIVEN events/warm-batch.json (6 pings to one demo target, 3 to the other) and a Lambda that throttles
    # the first attempt of one ping
    batch = load_event("warm-batch.json")
    total = sum(g["count"] for g in batch["pings"])
    fake = route(monkeypatch, Environments(hold=total, throttle_once={(SR, 2)}))
    app = load_handler("warm_batch")
    # WHEN the handler runs
    result = app.handler(batch, context)
    # THEN each target reached as many distinct environments as pings, the throttle was retried and counted
    outcomes = {o["function"]: o for o in result["results"]}
    assert (len(outcomes[SR]["envs"]), len(outcomes[SSM]["envs"])) == (6, 3)
    assert (outcomes[SR]["throttled"], outcomes[SR]["throttled_final"], outcomes[SR]["errors"]) == (1, 0, 0)
    assert fake.calls[SR] == 7 and fake.calls[SSM] == 3
    assert result["batch"] == batch["batch"] and result["round"] == batch["round"]
    # AND the shared client: a pool for a whole batch, no SDK retries (throttles are retried by us)
    config = app.lambda_client().meta.config
    assert config.max_pool_connections >= 50
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}


def test_a_function_error_is_counted_and_the_batch_still_returns(
        targets: None, load_handler: Any, load_event: Any, context: Any, monkeypatch: Any) -> None:
    # GIVEN one of the two targets fails every invocation
    batch = load_event("warm-batch.json")
    route(monkeypatch, Environments(hold=6, crash={SSM}))
    result = load_handler("warm_batch").handler(batch, context)
    outcomes = {o["function"]: o for o in result["results"]}
    # THEN the healthy target is warmed and the failing one reports its errors with a sample
    assert len(outcomes[SR]["envs"]) == 6
    assert (outcomes[SSM]["errors"], outcomes[SSM]["error_samples"]) == (3, ["RuntimeError: init failed"])


def test_a_batch_where_everything_stays_throttled_raises_for_the_map_retry(
        targets: None, load_handler: Any, load_event: Any, context: Any, monkeypatch: Any) -> None:
    # GIVEN every invoke is throttled and the handler has 3.6 s left (stops retrying 0.6 s from now)
    route(monkeypatch, Environments(hold=1, always_throttle=True))
    context.remaining_ms = 3600
    # WHEN the handler runs THEN TargetThrottledError: the Map's Retry (not this Lambda) retries the batch
    with pytest.raises(TargetThrottledError, match="all 9 pings"):
        load_handler("warm_batch").handler(load_event("warm-batch.json"), context)
