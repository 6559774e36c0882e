"""Billed transitions and the largest state payload, read from an execution history."""

from __future__ import annotations

from thermostat.local.figures import Payload, human_bytes, largest_payload, run_figures, transitions


def entered(name: str, payload: str) -> dict[str, object]:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name, "input": payload}}


def exited(name: str, payload: str) -> dict[str, object]:
    return {"type": "TaskStateExited", "stateExitedEventDetails": {"name": name, "output": payload}}


EVENTS = [
    {"type": "ExecutionStarted", "executionStartedEventDetails": {"input": "x" * 10_000}},  # not a state's
    entered("Collect", "{}"), {"type": "TaskScheduled"}, exited("Collect", '{"k": "' + "é" * 300 + '"}'),
    {"type": "MapStateEntered", "stateEnteredEventDetails": {"name": "Warm", "input": "[1]"}},
    entered("Warm Batch", "{}"), exited("Warm Batch", "{}"),
    {"type": "MapStateExited", "stateExitedEventDetails": {"name": "Warm", "output": "[]"}},
]


def test_transitions_are_the_states_entered() -> None:
    assert transitions(EVENTS) == 3


def test_the_largest_payload_is_measured_in_utf8_bytes_and_named() -> None:
    assert largest_payload(EVENTS) == Payload(len('{"k": ""}') + 600, "Collect", "output")
    assert largest_payload([]) == Payload(0, None, "input")


def test_run_figures_and_sizes() -> None:
    figures = run_figures("r", "SUCCEEDED", 1.23456, EVENTS)
    assert figures["transitions"] == 3 and abs(figures["transition_cost_usd"] - 3 * 0.025 / 1000) < 1e-12
    assert figures["largest_payload"] == {"bytes": 609, "state": "Collect", "kind": "output"}
    assert (human_bytes(512), human_bytes(2048)) == ("512 B", "2.0 KiB")
