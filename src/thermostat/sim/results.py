"""Per-policy figures of a replay (the JSON ``policies.<name>`` objects; keys documented in
docs/simulate.md) and the DESIGN §7 anchors they are compared with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from thermostat import cost
from thermostat.sim.costing import anchor_basis_usd, policy_cost, tick_loads
from thermostat.sim.engine import FunctionResult
from thermostat.sim.policies import WORKFLOW_KINDS, Policy, SimSettings
from thermostat.sim.trace import Trace

SCHEMA = "thermostat.simulate/1"
REFERENCE_TRACE = ("azure2019-1000fn-24h", 1000, 1440)  # the anchors hold for this trace, unfiltered
# DESIGN §7: reference replay on azure2019-1000fn-24h, 5-minute ticks (rate, warming $/month).
ANCHORS: dict[str, dict[str, float]] = {
    "none": {"cold_start_rate": 0.0267, "usd_month": 0.0},
    "fixed:1": {"cold_start_rate": 0.0123, "usd_month": 222.0},
    "fixed:8": {"cold_start_rate": 0.0045, "usd_month": 255.0},
    "reactive": {"cold_start_rate": 0.0146, "usd_month": 104.0},
    "oracle": {"cold_start_rate": 0.00044, "usd_month": 68.0},
    "provisioned": {"cold_start_rate": 0.0, "usd_month": 7503.0},
}


def summarize(trace: Trace, policies: list[Policy], results: list[FunctionResult], settings: SimSettings,
              wall_s: dict[str, float] | None = None) -> dict[str, Any]:
    trace_seconds = trace.minutes * 60.0
    month = cost.MONTH_SECONDS / trace_seconds
    none_cold = sum(r.outcomes["none"].cold_starts for r in results)
    reference = (Path(trace.source).name, trace.functions, trace.minutes) == REFERENCE_TRACE
    out: dict[str, Any] = {}
    for policy in policies:
        name = policy.name
        rows = [r.outcomes[name] for r in results]
        invocations = sum(o.invocations for o in rows)
        cold = sum(o.cold_starts for o in rows)
        rates = np.array([o.cold_starts / o.invocations for o in rows if o.invocations])
        ping_usd, init_usd = sum(o.ping_usd for o in rows), sum(o.init_usd for o in rows)
        loads = []
        if policy.pings:
            matrix = np.vstack([o.pings_per_tick for o in rows if o.pings_per_tick is not None]) if rows else None
            loads = tick_loads(trace.ids, matrix, settings) if matrix is not None and matrix.size else []
        forecast_s = sum(o.forecast_s for o in rows)
        costs = policy_cost(policy, ping_usd=ping_usd, init_usd=init_usd,
                            provisioned_usd=sum(o.provisioned_usd for o in rows), loads=loads,
                            forecast_s_total=forecast_s, trace_seconds=trace_seconds, settings=settings)
        total = costs["total"]
        avoided_month = (none_cold - cold) * month
        models: dict[str, int] = {}
        for o in rows:
            for model, count in o.models.items():
                models[model] = models.get(model, 0) + count
        out[name] = {
            "kind": policy.kind,
            "invocations": invocations,
            "cold_starts": cold,
            "cold_start_rate": cold / invocations if invocations else 0.0,
            "throttles": sum(o.throttles for o in rows),
            "warm_pings": sum(o.pings for o in rows),
            "warming_inits": sum(o.warming_inits for o in rows),
            "wasted_env_minutes": sum(o.wasted_ms for o in rows) / 60_000.0,
            "per_function_cold_start_rate": {
                "p50": float(np.percentile(rates, 50)) if rates.size else 0.0,
                "p75": float(np.percentile(rates, 75)) if rates.size else 0.0,
                "functions": int(rates.size),
            },
            "cost_usd_month": costs,
            "anchor_basis_usd_month": (anchor_basis_usd(ping_usd, init_usd, loads, trace_seconds)
                                       if policy.pings else costs["total"]),
            "cold_starts_avoided_per_usd": avoided_month / total if total > 0 else None,
            "batches_per_tick": (sum(load.batches for load in loads) / len(loads)
                                 if loads and policy.kind in WORKFLOW_KINDS else 0.0),
            "forecast_seconds": forecast_s,
            "models": dict(sorted(models.items(), key=lambda kv: -kv[1])),
            "wall_s": (wall_s or {}).get(name),
            "anchor": ANCHORS.get(name) if reference else None,
        }
    return out


def frontier(policies: dict[str, Any]) -> list[str]:
    """Pareto-efficient policies: no other one is both cheaper (or equal) and colder-start-free."""
    points = [(p["cost_usd_month"]["total"], p["cold_start_rate"], name) for name, p in policies.items()]
    best: list[str] = []
    floor = float("inf")
    for _usd, rate, name in sorted(points):
        if rate < floor:
            best.append(name)
            floor = rate
    return best
