"""Shared helpers of the target library's tests (sample events, a recording handler)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
EVENTS = Path(__file__).parents[3] / "events"
NOT_PINGS = sorted(p.stem for p in DATA.glob("*.json"))


def load_event(name: str) -> Any:
    """A sample event: ``events/<name>.json`` (the project's) or ``data/<name>.json`` (these tests')."""
    path = EVENTS / f"{name}.json"
    if not path.exists():
        path = DATA / f"{name}.json"
    return json.loads(path.read_text())


class Recorder:
    """A handler that records the objects it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        self.calls.append((event, context))
        return {"handled": True}
