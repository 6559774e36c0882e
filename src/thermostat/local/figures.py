"""Figures of a local run from its execution history: billed transitions, the largest state payload.

Step Functions Standard bills one transition per state entered (``*StateEntered`` events, Map iterations'
states included); every state's input and output must stay under 256 KiB. Both are read from
``GetExecutionHistory`` exactly as the console would show them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from thermostat.cost import sfn_standard_usd


@dataclass(frozen=True)
class Payload:
    bytes: int
    state: str | None  # None: no state input/output in the history
    kind: str  # "input" | "output"


def transitions(events: list[dict[str, Any]]) -> int:
    """State transitions Standard workflows bill: one per ``*StateEntered`` event."""
    return sum(1 for event in events if str(event.get("type", "")).endswith("StateEntered"))


def payloads(events: list[dict[str, Any]]) -> list[Payload]:
    """Every state input and output of the history (UTF-8 bytes), in history order; Map iterations'
    states included."""
    out: list[Payload] = []
    for event in events:
        for key, kind, field in (("stateEnteredEventDetails", "input", "input"),
                                 ("stateExitedEventDetails", "output", "output")):
            details = event.get(key)
            if details:
                out.append(Payload(len(str(details.get(field) or "").encode("utf-8")), str(details.get("name")), kind))
    return out


def largest_payload(events: list[dict[str, Any]]) -> Payload:
    """The largest state input or output (UTF-8 bytes) and the state it belongs to."""
    best = Payload(0, None, "input")
    for payload in payloads(events):
        if payload.bytes > best.bytes:
            best = payload
    return best


def run_figures(name: str, status: str, wall_s: float, events: list[dict[str, Any]]) -> dict[str, Any]:
    """One execution's figures for ``thermostat local run --json``."""
    count = transitions(events)
    return {"name": name, "status": status, "wall_s": round(wall_s, 3), "events": len(events),
            "transitions": count, "transition_cost_usd": sfn_standard_usd(count),
            "largest_payload": asdict(largest_payload(events))}


def human_bytes(size: int) -> str:
    return f"{size:,} B" if size < 1024 else f"{size / 1024:,.1f} KiB"
