"""Per-policy figures of a replay (the JSON ``policies.<name>`` objects; keys documented in
docs/simulate.md), the Pareto frontier, and how each thermostat policy compares with the others."""

from __future__ import annotations

from typing import Any

import numpy as np

from thermostat import cost
from thermostat.sim.costing import policy_cost, tick_loads
from thermostat.sim.engine import FunctionResult, score_window
from thermostat.sim.policies import WORKFLOW_KINDS, Policy, SimSettings, tick_minutes_of
from thermostat.sim.trace import Trace

SCHEMA = "thermostat.simulate/2"


def summarize(trace: Trace, policies: list[Policy], results: list[FunctionResult], settings: SimSettings,
              wall_s: dict[str, float] | None = None) -> dict[str, Any]:
    lo, hi = score_window(settings, trace.minutes)
    seconds = (hi - lo) / 1000.0
    month = cost.MONTH_SECONDS / seconds
    none_cold = sum(r.outcomes["none"].cold_starts for r in results)
    ticks = tick_minutes_of(trace.minutes, settings.tick_minutes) * 60_000.0
    scored_ticks = (ticks >= lo) & (ticks < hi)
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
            per_tick = [o.pings_per_tick for o in rows if o.pings_per_tick is not None]
            if per_tick:
                loads = tick_loads(trace.ids, np.vstack(per_tick)[:, scored_ticks], settings)
        metric_reads = sum(o.metric_reads for o in rows)
        costs = policy_cost(policy, ping_usd=ping_usd, init_usd=init_usd,
                            provisioned_usd=sum(o.provisioned_usd for o in rows), loads=loads,
                            metric_reads=metric_reads, trace_seconds=seconds, settings=settings)
        total = costs["total"]
        worst = max(results, key=lambda r: r.outcomes[name].cold_starts, default=None)
        decided: dict[str, int] = {}
        for o in rows:
            for term, count in o.models.items():
                decided[term] = decided.get(term, 0) + count
        out[name] = {
            "kind": policy.kind,
            "price_per_cold_start": (policy.price or settings.price_per_cold_start) if policy.kind == "thermostat"
            else None,
            "invocations": invocations,
            "cold_starts": cold,
            "cold_start_rate": cold / invocations if invocations else 0.0,
            "cold_starts_after_first_hour": cold - sum(o.cold_first_hour for o in rows) if lo == 0 else cold,
            "worst_function": None if worst is None else trace.ids[worst.index],
            "cold_starts_without_worst_function": cold - (0 if worst is None else worst.outcomes[name].cold_starts),
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
            "cold_starts_avoided_per_usd": (none_cold - cold) * month / total if total > 0 else None,
            "batches_per_tick": (sum(load.batches for load in loads) / len(loads)
                                 if loads and policy.kind in WORKFLOW_KINDS else 0.0),
            "metric_reads": metric_reads,
            "get_metric_data_usd_per_target_month": costs["get_metric_data"] / max(trace.functions, 1),
            "real_cold_starts_seen": sum(o.real_cold_seen for o in rows),
            "decided_by": dict(sorted(decided.items(), key=lambda kv: -kv[1])),
            "wall_s": (wall_s or {}).get(name),
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


def comparisons(policies: dict[str, Any]) -> dict[str, Any]:
    """For every thermostat policy: vs none, vs the best fixed:N that costs no more, vs the oracle, and what
    its overhead (everything that is not a ping) costs against its pings."""
    none = policies.get("none")
    fixed = {name: p for name, p in policies.items() if p["kind"] == "fixed"}
    oracle = policies.get("oracle")
    out: dict[str, Any] = {}
    for name, p in policies.items():
        if p["kind"] != "thermostat":
            continue
        total = p["cost_usd_month"]["total"]
        entry: dict[str, Any] = {"cost_usd_month": total}
        if none and none["cold_starts"]:
            base = none["cold_starts"]
            entry["fewer_than_none"] = 1.0 - p["cold_starts"] / base
            entry["fewer_than_none_after_first_hour"] = (
                1.0 - p["cold_starts_after_first_hour"] / max(none["cold_starts_after_first_hour"], 1))
            entry["fewer_than_none_without_worst_function"] = (
                1.0 - p["cold_starts_without_worst_function"] / max(none["cold_starts_without_worst_function"], 1))
        affordable = [(f["cold_starts"], n) for n, f in fixed.items() if f["cost_usd_month"]["total"] <= total]
        if affordable:
            cold, best = min(affordable)
            entry["best_fixed_costing_no_more"] = best
            entry["share_of_its_cold_starts"] = p["cold_starts"] / cold if cold else None
        if oracle:
            entry["times_oracle"] = p["cold_starts"] / oracle["cold_starts"] if oracle["cold_starts"] else None
        parts = p["cost_usd_month"]
        entry["overhead_usd_month"] = parts["overhead"]
        entry["pings_usd_month"] = parts["pings"]
        entry["overhead_over_pings"] = parts["overhead"] / parts["pings"] if parts["pings"] else None
        entry["overhead_over_pings_other_workflow"] = (
            (parts["overhead"] - parts["orchestration"] + parts[f"orchestration_{_other(parts)}"]) / parts["pings"]
            if parts["pings"] else None)
        entry["get_metric_data_usd_per_target_month"] = p["get_metric_data_usd_per_target_month"]
        out[name] = entry
    return out


def _other(parts: dict[str, float]) -> str:
    return "express" if parts["orchestration"] == parts["orchestration_standard"] else "standard"
