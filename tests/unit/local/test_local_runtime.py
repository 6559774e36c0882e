"""The local Lambda runtime without moto or the state machine: environments, reuse, reclaim, limits, faults."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from thermostat.local.clock import ManualClock
from thermostat.local.exceptions import TooManyRequestsException
from thermostat.local.faults import FaultPlan
from thermostat.local.runtime import LocalLambdaRuntime, split_name

from .conftest import FUNCTIONS, counter_code


def call(rt: LocalLambdaRuntime, name: str = "counter", **event: Any) -> dict[str, Any]:
    result = rt.invoke(name, json.dumps(event).encode())
    body: dict[str, Any] = json.loads(result.payload)
    body["_cold"] = result.cold
    body["_error"] = result.function_error
    return body


def concurrently(rt: LocalLambdaRuntime, n: int, name: str = "counter", sleep: float = 0.3) -> list[Any]:
    out: list[Any] = [None] * n

    def one(i: int) -> None:
        try:
            out[i] = call(rt, name, sleep=sleep)
        except TooManyRequestsException as exc:
            out[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_module_state_lives_as_long_as_its_environment(runtime: LocalLambdaRuntime) -> None:
    # GIVEN a function whose module counts calls (in app.py and in a sibling module)
    # WHEN it is invoked three times in a row
    bodies = [call(runtime) for _ in range(3)]
    # THEN one environment answered all three, with state carried over; only the first was cold
    assert {b["env"] for b in bodies} == {bodies[0]["env"]}
    assert [b["calls"] for b in bodies] == [1, 2, 3]
    assert [b["helper_calls"] for b in bodies] == [1, 2, 3]
    assert [b["_cold"] for b in bodies] == [True, False, False]
    assert [b["target_cold"] for b in bodies] == [True, False, False]


def test_concurrent_requests_get_distinct_environments_each_with_fresh_modules(runtime: LocalLambdaRuntime) -> None:
    # WHEN five requests overlap in time
    bodies = concurrently(runtime, 5)
    # THEN five environments answered, each having run its own init (own app, sibling and target library)
    assert len({b["env"] for b in bodies}) == 5
    assert len({b["target_env"] for b in bodies}) == 5
    assert all(b["calls"] == 1 and b["helper_calls"] == 1 and b["_cold"] for b in bodies)
    assert runtime.stats["counter"].cold_starts == 5


def test_idle_environments_are_reused_last_in_first_out(runtime: LocalLambdaRuntime, clock: ManualClock) -> None:
    # GIVEN three environments freed one after the other
    envs = [b["env"] for b in concurrently(runtime, 3)]
    idle = runtime.idle_environments("counter")
    assert sorted(idle) == sorted({r.env_id for r in runtime.invocations})
    # WHEN one more request comes
    body = call(runtime)
    # THEN it ran in the most recently freed environment, warm
    assert not body["_cold"]
    assert body["env"] in envs
    last_freed = idle[-1]
    assert [r.env_id for r in runtime.invocations][-1] == last_freed


def test_idle_environments_are_reclaimed_after_the_ttl(runtime: LocalLambdaRuntime, clock: ManualClock) -> None:
    # GIVEN a warm environment
    first = call(runtime)
    # WHEN the fake clock passes just under, then over, the idle TTL
    clock.advance(599)
    second = call(runtime)
    clock.advance(601)
    third = call(runtime)
    # THEN the request within the TTL was warm, the one after it started a new environment
    assert second["env"] == first["env"] and not second["_cold"]
    assert third["env"] != first["env"] and third["_cold"]
    assert runtime.stats["counter"].reclaimed == 1


def test_reserved_concurrency_throttles_excess_requests(runtime: LocalLambdaRuntime) -> None:
    # GIVEN a reserved concurrency of 2
    runtime.set_reserved_concurrency("counter", 2)
    # WHEN four requests overlap
    results = concurrently(runtime, 4)
    # THEN two ran and two got Lambda's 429 with the reserved-limit reason
    throttled = [r for r in results if isinstance(r, TooManyRequestsException)]
    assert len(throttled) == 2
    assert {t.reason for t in throttled} == {"ReservedFunctionConcurrentInvocationLimitExceeded"}
    assert throttled[0].code == 429 and json.loads(throttled[0].get_body())["__type"] == "TooManyRequestsException"
    assert runtime.stats["counter"].throttles == 2


def test_account_limit_is_shared_by_unreserved_functions(sandboxed: None, clock: ManualClock) -> None:
    # GIVEN an account limit of 3 and two functions without reservations
    rt = LocalLambdaRuntime(clock=clock, account_limit=3)
    rt.register(counter_code("counter"))
    rt.register(counter_code("other"))
    holder = threading.Thread(target=lambda: concurrently(rt, 2, "other", sleep=0.6))
    holder.start()
    while sum(rt._busy.values()) < 2:  # "other" holds two of the three
        threading.Event().wait(0.01)
    # WHEN "counter" gets two overlapping requests
    results = concurrently(rt, 2, "counter", sleep=0.1)
    holder.join()
    # THEN only one fits in what is left of the account's concurrency
    throttled = [r for r in results if isinstance(r, TooManyRequestsException)]
    assert len(throttled) == 1 and throttled[0].reason == "ConcurrentInvocationLimitExceeded"


def test_a_raising_handler_returns_lambdas_error_payload_and_keeps_its_environment(
        runtime: LocalLambdaRuntime) -> None:
    # WHEN the handler raises
    failed = call(runtime, **{"raise": "bad order"})
    after = call(runtime)
    # THEN the payload is Lambda's FunctionError shape, and the environment lives on (warm next time)
    assert failed["_error"] == "Unhandled"
    assert failed["errorType"] == "ValueError" and failed["errorMessage"] == "bad order"
    assert isinstance(failed["stackTrace"], list) and failed["stackTrace"]
    assert after["env"] == failed.get("env", after["env"]) and not after["_cold"]


def test_init_failure_is_an_import_error_and_the_environment_is_discarded(runtime: LocalLambdaRuntime) -> None:
    # GIVEN a function whose module raises at import
    runtime.register(counter_code("boom", code_dir=FUNCTIONS / "boom"))
    # WHEN it is invoked twice
    first = call(runtime, "boom")
    second = call(runtime, "boom")
    # THEN both fail with the init error and no environment is kept
    assert first["_error"] == second["_error"] == "Unhandled"
    assert first["errorType"] == "RuntimeError" and "init exploded" in first["errorMessage"]
    assert runtime.idle_environments("boom") == []


def test_context_and_environment_variables_come_from_the_function(runtime: LocalLambdaRuntime) -> None:
    # WHEN two functions with different variables run
    a, b = call(runtime, "counter", thread=True), call(runtime, "other", thread=True)
    # THEN each sees its own variables (also in threads it starts) and a Lambda-like context
    assert (a["greeting"], a["init_greeting"], a["thread_greeting"]) == ("hello from counter",) * 3
    assert (b["greeting"], b["thread_greeting"]) == ("hello from other",) * 2
    assert a["function"] == a["lambda_name_env"] == "counter" and a["version"] == "$LATEST"
    assert a["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:counter"
    assert 0 < a["remaining_ms"] <= 5000 and a["memory"] == 128
    assert a["request_id"] != b["request_id"]


def test_variables_a_handler_sets_persist_in_its_environment_only(runtime: LocalLambdaRuntime) -> None:
    # WHEN a handler sets a variable
    call(runtime, "counter", set_env="yes")
    # THEN the same environment sees it next time, another function does not
    assert call(runtime, "counter")["set_by_handler"] == "yes"
    assert call(runtime, "other")["set_by_handler"] is None


def test_target_library_is_told_when_the_environment_started(runtime: LocalLambdaRuntime) -> None:
    # WHEN a new environment answers its first request
    body = call(runtime)
    # THEN init_ms measured by the target library covers the init, from the runtime's start mark
    record = list(runtime.invocations)[-1]
    assert record.init_ms is not None and body["target_init_ms"] >= 0.0
    assert body["target_init_ms"] >= record.init_ms * 0.5


def test_handler_output_is_captured_per_invocation(capsys: pytest.CaptureFixture[str],
                                                   runtime: LocalLambdaRuntime) -> None:
    # (capsys first: the sandbox must wrap the stream pytest captures, not the other way round)
    # WHEN a handler prints during init and during the request
    result = runtime.invoke("counter", b"{}")
    # THEN its lines are in that invocation's log and nothing reached the terminal
    assert result.log.startswith("init ") and '"message": "handling"' in result.log
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("fault, expected_error", [
    ({"error": "DownstreamError", "times": 2}, ["DownstreamError", "DownstreamError", None]),
    ({"timeout": True, "times": 1}, ["Sandbox.Timedout", None, None]),
])
def test_error_faults_fail_the_configured_number_of_invocations(sandboxed: None, clock: ManualClock,
                                                                 fault: dict[str, Any],
                                                                 expected_error: list[str | None]) -> None:
    # GIVEN a fault plan for the function
    rt = LocalLambdaRuntime(clock=clock, faults=FaultPlan.from_dict({"functions": {"counter": fault}}))
    rt.register(counter_code("counter"))
    # WHEN it is invoked three times
    bodies = [call(rt) for _ in range(3)]
    # THEN the first invocations fail with the configured error, then the handler runs
    assert [b.get("errorType") for b in bodies] == expected_error
    assert [b["_error"] for b in bodies] == ["Unhandled" if e else None for e in expected_error]


def test_a_timeout_discards_the_environment(sandboxed: None, clock: ManualClock) -> None:
    # GIVEN a function whose first invocation times out
    rt = LocalLambdaRuntime(clock=clock, faults=FaultPlan.from_dict({"functions": {"counter": {"timeout": True,
                                                                                                 "times": 1}}}))
    rt.register(counter_code("counter"))
    # WHEN it is invoked twice
    first = rt.invoke("counter", b"{}")
    second = rt.invoke("counter", b"{}")
    # THEN the second request needed a new environment, as Lambda resets one after a timeout
    assert first.env_id != second.env_id and second.cold


def test_throttle_and_latency_faults(sandboxed: None, clock: ManualClock) -> None:
    # GIVEN the first two invokes throttled and 50 ms of latency
    plan = FaultPlan.from_dict({"functions": {"counter": {"throttle_first": 2, "latency_ms": 50}}})
    rt = LocalLambdaRuntime(clock=clock, faults=plan)
    rt.register(counter_code("counter"))
    # WHEN it is invoked three times
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(rt.invoke("counter", b"{}").duration_ms)
        except TooManyRequestsException:
            outcomes.append("throttled")
    # THEN two throttles, then a request that took at least the latency
    assert outcomes[:2] == ["throttled", "throttled"]
    assert isinstance(outcomes[2], float) and outcomes[2] >= 50.0


@pytest.mark.parametrize("name, qualifier, expected", [
    ("fn", None, ("fn", None)),
    ("fn:live", None, ("fn", "live")),
    ("123456789012:function:fn:3", None, ("fn", "3")),
    ("arn:aws:lambda:us-east-1:123456789012:function:fn", "live", ("fn", "live")),
    ("arn:aws:lambda:us-east-1:123456789012:function:fn:7", None, ("fn", "7")),
])
def test_function_names_and_arns_resolve(name: str, qualifier: str | None, expected: tuple[str, str | None]) -> None:
    assert split_name(name, qualifier) == expected


def test_each_environment_has_its_own_handler_module_until_it_is_reclaimed(
        runtime: LocalLambdaRuntime, clock: ManualClock) -> None:
    import sys

    # GIVEN two environments of the same function
    concurrently(runtime, 2)
    aliases = {f"app__env_{env_id}" for env_id in runtime.idle_environments("counter")}
    # THEN each has its handler module under its own name (classes defined there resolve by __module__)
    assert len(aliases) == 2 and aliases <= set(sys.modules) and "app" not in sys.modules
    assert len({sys.modules[a].ENV_ID for a in aliases}) == 2
    # WHEN they are reclaimed
    clock.advance(601)
    runtime.reclaim_idle()
    # THEN their modules are gone with them
    assert not aliases & set(sys.modules)


def test_a_handler_that_overruns_its_timeout_is_reported_timed_out(sandboxed: None, clock: ManualClock) -> None:
    # GIVEN a function with a 0.1 s timeout whose handler takes 0.2 s (a thread cannot be killed)
    rt = LocalLambdaRuntime(clock=clock)
    rt.register(counter_code("counter", timeout_s=0.1))
    # WHEN it is invoked
    first = rt.invoke("counter", json.dumps({"sleep": 0.2}).encode())
    second = rt.invoke("counter", b"{}")
    # THEN the caller gets Lambda's timeout error and the environment is not reused
    assert first.function_error == "Unhandled"
    assert json.loads(first.payload)["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 0.10 seconds" in json.loads(first.payload)["errorMessage"]
    assert second.env_id != first.env_id


PING = {"custom": {"thermostat": "2"}}


def test_pings_and_real_requests_are_counted_apart(runtime: LocalLambdaRuntime) -> None:
    # GIVEN counters before
    before = runtime.snapshot()
    # WHEN a ping (ClientContext marker) and then two real requests arrive one after the other
    runtime.invoke("counter", b"{}", client_context=PING)
    runtime.invoke("counter", b"{}")
    runtime.invoke("counter", b"{}", client_context={"custom": {"thermostat": "1"}})  # not the v2 marker
    # THEN the ping started the environment, the real requests found it warm
    stats = runtime.stats["counter"].since(before["counter"])
    assert (stats.ping_invocations, stats.real_invocations, stats.invocations) == (1, 2, 3)
    assert (stats.ping_cold_starts, stats.real_cold_starts, stats.cold_starts) == (1, 0, 1)
    assert [r.ping for r in runtime.invocations] == [True, False, False]


def test_throttle_all_throttles_every_ping_and_no_real_request(sandboxed: None, clock: ManualClock) -> None:
    # GIVEN a function whose pings are all throttled
    rt = LocalLambdaRuntime(clock=clock, faults=FaultPlan.from_dict({"functions": {"counter": {"throttle_all": True}}}))
    rt.register(counter_code("counter"))
    # WHEN three pings and one real request arrive
    for _ in range(3):
        with pytest.raises(TooManyRequestsException):
            rt.invoke("counter", b"{}", client_context=PING)
    rt.invoke("counter", b"{}")
    # THEN every ping got 429 and the real request was served; throttles are split by kind
    stats = rt.stats["counter"]
    assert (stats.ping_throttles, stats.real_throttles, stats.real_invocations) == (3, 0, 1)


def test_real_throttles_are_counted_for_any_function(runtime: LocalLambdaRuntime) -> None:
    # GIVEN "other" reserved to one environment and busy with a real request
    runtime.set_reserved_concurrency("other", 1)
    busy = threading.Event()
    release = threading.Event()

    def hold() -> None:
        busy.set()
        release.wait(5)

    worker = threading.Thread(target=lambda: runtime.invoke("other", b"{}", hold=hold))
    worker.start()
    busy.wait(5)
    # WHEN a real request and a ping arrive meanwhile
    outcomes = []
    for context in (None, PING):
        try:
            runtime.invoke("other", b"{}", client_context=context)
        except TooManyRequestsException:
            outcomes.append("429")
    release.set()
    worker.join()
    # THEN both were throttled, counted as one real and one ping throttle
    assert outcomes == ["429", "429"]
    assert (runtime.stats["other"].real_throttles, runtime.stats["other"].ping_throttles) == (1, 1)


def test_hold_keeps_the_environment_busy_after_the_handler_returns(runtime: LocalLambdaRuntime) -> None:
    # GIVEN a request whose environment is held 0.3 s after its handler returned
    first: list[Any] = []
    worker = threading.Thread(target=lambda: first.append(runtime.invoke("counter", b"{}", hold=0.3)))
    worker.start()
    while runtime.invocation_count == 0 and not runtime._busy.get("counter"):
        threading.Event().wait(0.01)
    threading.Event().wait(0.1)
    # WHEN another request comes meanwhile
    second = runtime.invoke("counter", b"{}")
    worker.join()
    # THEN it needed an environment of its own, and the held request's duration includes the hold
    assert second.env_id != first[0].env_id and second.cold
    assert first[0].duration_ms >= 300.0


def test_invoke_jitter_is_seeded_and_comes_before_the_environment(sandboxed: None, clock: ManualClock,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import thermostat.local.runtime as runtime_module

    def delays(seed: int) -> list[float]:
        # GIVEN a jitter of 10-50 ms with a seed (sleeps recorded instead of slept)
        slept: list[float] = []
        monkeypatch.setattr(runtime_module.time, "sleep", slept.append)
        rt = LocalLambdaRuntime(clock=clock, faults=FaultPlan.from_dict({"invoke": {"jitter_ms": [10, 50],
                                                                                   "seed": seed}}))
        rt.register(counter_code("counter"))
        # WHEN it is invoked five times
        for _ in range(5):
            rt.invoke("counter", b"{}")
        monkeypatch.undo()
        return slept

    first, again, other = delays(1), delays(1), delays(2)
    # THEN each invoke waited once, within the range; the same seed gives the same delays
    assert len(first) == 5 and all(0.010 <= d <= 0.050 for d in first)
    assert first == again and first != other


def test_idle_environments_of_other_functions_are_swept_on_later_invokes(runtime: LocalLambdaRuntime,
                                                                        clock: ManualClock) -> None:
    # GIVEN an idle environment of "other"
    call(runtime, "other")
    # WHEN the TTL passes and only "counter" is invoked
    clock.advance(601)
    call(runtime, "counter")
    # THEN the sweep reclaimed "other"'s environment too
    assert runtime.stats["other"].reclaimed == 1
