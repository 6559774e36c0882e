"""The shortfall top-up round (at most one per execution): the Map items of round 1.

A target short of distinct environments gets its full request again, not only the missing count: new
pings land on the idle warm environments first, so only pings that overlap all of them reach new ones.
Each target is sent with the lead its record learned from round 0's answers (``observe_round`` grows it
when pings arrived late); the batches, their release times (twice the Map-start allowance) and the Map
items (inline while small, else claim checks) are the plan's own (:func:`thermostat.planning.plan_topup`,
:func:`thermostat.planning.map_items`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from thermostat import planning
from thermostat.config import PlanSettings
from thermostat.models import RunInfo, TargetReport, WarmBatch
from thermostat.telemetry import SEND_AHEAD_DEFAULT_MS


def topup_batches(short: Sequence[TargetReport], leads: Mapping[str, float], run: Mapping[str, Any],
                  settings: PlanSettings, now_ms: int) -> list[WarmBatch]:
    """Round-1 WarmBatch documents for the ``short`` targets (``leads``: key -> send-ahead ms)."""
    requests = [planning.PingRequest(r["function"], r["qualifier"], r["requested"],
                                     send_ahead_ms=leads.get(r["key"], SEND_AHEAD_DEFAULT_MS),
                                     protocol=r["protocol"], key=r["key"])
                for r in short if r["requested"] > 0]
    return planning.plan_topup(requests, cast(RunInfo, {**run, "round": 1}), settings, now_ms)
