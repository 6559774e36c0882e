"""The per-invocation process state: os.environ overlay, routed stdout, Powertools' cold-start flags."""

from __future__ import annotations

import io
import os
import sys
import threading

from thermostat.local import sandbox


def test_environ_overlay_is_per_thread_and_inherited_by_started_threads(sandboxed: None) -> None:
    # GIVEN two invocation contexts with different values for the same variable
    a = sandbox.InvocationContext(environ={"GREETING": "a"})
    b = sandbox.InvocationContext(environ={"GREETING": "b"})
    seen: dict[str, list[str | None]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def run(ctx: sandbox.InvocationContext, key: str) -> None:
        with sandbox.activate(ctx):
            barrier.wait()  # both contexts active at the same time
            seen[key].append(os.environ.get("GREETING"))
            child = threading.Thread(target=lambda: seen[key].append(os.getenv("GREETING")))
            child.start()
            child.join()

    # WHEN both run concurrently, each starting a worker thread
    threads = [threading.Thread(target=run, args=(a, "a")), threading.Thread(target=run, args=(b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN each saw only its own value, in its thread and in the thread it started; the host sees neither
    assert seen == {"a": ["a", "a"], "b": ["b", "b"]}
    assert "GREETING" not in os.environ or os.environ["GREETING"] not in ("a", "b")


def test_writes_inside_an_invocation_stay_in_its_overlay(sandboxed: None) -> None:
    # GIVEN an invocation context
    ctx = sandbox.InvocationContext(environ={})
    # WHEN handler code sets and deletes variables
    with sandbox.activate(ctx):
        os.environ["THERMOSTAT_TEST_ONLY"] = "inside"
        assert os.environ["THERMOSTAT_TEST_ONLY"] == "inside"
        assert "THERMOSTAT_TEST_ONLY" in dict(os.environ.items())
    # THEN the process environment never saw them, the overlay kept them
    assert "THERMOSTAT_TEST_ONLY" not in os.environ
    assert ctx.environ == {"THERMOSTAT_TEST_ONLY": "inside"}


def test_stdout_is_routed_to_the_invocation_log() -> None:
    # GIVEN the sandbox installed over a captured stdout
    captured = io.StringIO()
    real = sys.stdout
    sys.stdout = captured
    try:
        undo = sandbox.install()
        ctx = sandbox.InvocationContext(environ={})
        # WHEN code prints inside and outside an invocation
        with sandbox.activate(ctx):
            print('{"level": "INFO", "message": "inside"}')
        print("outside")
        undo()
    finally:
        sys.stdout = real
    # THEN the invocation's line went to its log only
    assert ctx.log_text() == '{"level": "INFO", "message": "inside"}\n'
    assert captured.getvalue() == "outside\n"


def test_install_is_undone_completely() -> None:
    # GIVEN the original process objects
    environ, stdout, start = os.environ, sys.stdout, threading.Thread.start
    # WHEN the sandbox is installed twice (nested) and undone twice
    outer = sandbox.install()
    inner = sandbox.install()
    inner()
    assert isinstance(os.environ, sandbox.ThreadLocalEnviron)  # still installed: the outer one holds it
    outer()
    # THEN everything is back
    assert os.environ is environ and sys.stdout is stdout and threading.Thread.start is start


def test_powertools_cold_start_flags_are_per_environment(sandboxed: None) -> None:
    # GIVEN Powertools' logger/tracer cold-start checks and two environments' flag sets
    from aws_lambda_powertools.logging import logger as pt_logger
    from aws_lambda_powertools.metrics.provider import cold_start
    from aws_lambda_powertools.tracing import tracer as pt_tracer

    first = sandbox.PowertoolsFlags()
    second = sandbox.PowertoolsFlags()
    results = []
    # WHEN each environment is invoked twice
    for flags in (first, first, second, second):
        with sandbox.activate(sandbox.InvocationContext(environ={}, powertools=flags)):
            metric_cold = cold_start.is_cold_start
            cold_start.is_cold_start = False  # what the metrics provider does after emitting ColdStart
            results.append((pt_logger._is_cold_start(), pt_tracer._is_cold_start(), metric_cold))
    # THEN each environment reports cold exactly once, on its first invocation
    assert results == [(True, True, True), (False, False, False), (True, True, True), (False, False, False)]
