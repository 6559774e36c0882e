"""Forecasts -> warm batches: per-target min/max, the concurrency budget, packing into batches.

Pure functions, no AWS. The same code runs in the Plan Lambda and in the simulator.

Budget: the pings of a round never take more than ``budget_share`` of the function's reserved
concurrency (when it has one) or of the account's unreserved concurrency (shared by every
unreserved target, handed out smallest request first), minus what real traffic uses now.

Packing: each target's pings are contiguous slots; a target with more pings than ``max_batch_size``
spans several full batches, the remainders share batches (first-fit decreasing). Step Functions runs
at most ``map_max_concurrency`` batches at once, so batches are grouped in waves of that size; all
batches of one target sit in the same wave, and each wave has its own release time (``lead_ms``
apart) so that a target's pings always overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from thermostat import models
from thermostat.config import PlanSettings

TOPUP_LEAD_FACTOR = 2  # the shortfall top-up round gets twice the lead time


@dataclass(frozen=True)
class PingRequest:
    function: str
    qualifier: str | None
    count: int


@dataclass(frozen=True)
class Allocation:
    requested: int
    desired: int
    limited_by: str | None  # "min" | "max" | "budget" | "reserved" | "fanout" | None


def clamp(desired: int, minimum: int, maximum: int) -> tuple[int, str | None]:
    """Per-target bounds; says which bound applied."""
    if desired < minimum:
        return minimum, "min"
    if desired > maximum:
        return maximum, "max"
    return desired, None


def reserved_budget(reserved: int, current: int, share: float) -> int:
    """Pings a function with reserved concurrency may receive now."""
    return max(0, math.floor(reserved * share) - max(current, 0))


def allocate(targets: list[models.TargetForecast], account: models.AccountLimits,
             share: float) -> list[Allocation]:
    """Clamp each forecast, then fit the requests into the concurrency budgets (same order as input)."""
    clamped = [clamp(max(t["forecast"]["desired"], 0), t["min"], t["max"]) for t in targets]
    out: list[Allocation | None] = [None] * len(targets)
    shared_pool = math.floor(account["unreserved_concurrency"] * share)
    shared_pool -= sum(max(t["current_concurrency"], 0) for t in targets if t["reserved_concurrency"] is None)
    shared: list[int] = []
    for index, (target, (desired, bound)) in enumerate(zip(targets, clamped, strict=True)):
        reserved = target["reserved_concurrency"]
        if reserved is None:
            shared.append(index)
            continue
        budget = reserved_budget(reserved, target["current_concurrency"], share)
        if desired > budget:
            out[index] = Allocation(budget, desired, "reserved")
        else:
            out[index] = Allocation(desired, desired, bound)
    remaining = max(shared_pool, 0)
    for index in sorted(shared, key=lambda i: (clamped[i][0], i)):
        desired, bound = clamped[index]
        granted = min(desired, remaining)
        remaining -= granted
        out[index] = Allocation(granted, desired, "budget" if granted < desired else bound)
    return [a for a in out if a is not None]


def pack(requests: list[PingRequest], max_batch_size: int) -> list[list[models.PingGroup]]:
    """Split big targets into full batches, pack the rest first-fit decreasing. Deterministic."""
    batches: list[list[models.PingGroup]] = []
    loads: list[int] = []
    remainders: list[tuple[PingRequest, int]] = []
    for request in requests:
        slot = 0
        while request.count - slot >= max_batch_size:
            batches.append([_group(request, slot, max_batch_size)])
            loads.append(max_batch_size)
            slot += max_batch_size
        if request.count > slot:
            remainders.append((request, slot))
    for request, slot in sorted(remainders, key=lambda r: (r[1] - r[0].count, r[0].function)):
        size = request.count - slot
        fits = [i for i, load in enumerate(loads) if load + size <= max_batch_size]
        if fits:
            batches[fits[0]].append(_group(request, slot, size))
            loads[fits[0]] += size
        else:
            batches.append([_group(request, slot, size)])
            loads.append(size)
    return batches


def _group(request: PingRequest, first_slot: int, count: int) -> models.PingGroup:
    return {"function": request.function, "qualifier": request.qualifier, "first_slot": first_slot,
            "count": count, "of": request.count}


def order_in_waves(batches: list[list[models.PingGroup]], wave_size: int) -> list[tuple[int, list[models.PingGroup]]]:
    """(wave, batch) pairs in Map order. Batches that share a target form a group that stays in one
    wave (a group bigger than a wave gets waves of its own); groups are placed first-fit decreasing."""
    parent = list(range(len(batches)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str | None], int] = {}
    for index, groups in enumerate(batches):
        for group in groups:
            key = (group["function"], group["qualifier"])
            if key in owner:
                parent[root(index)] = root(owner[key])
            owner.setdefault(key, index)
    components: dict[int, list[int]] = {}
    for index in range(len(batches)):
        components.setdefault(root(index), []).append(index)
    wave_loads: list[int] = []
    placed: list[tuple[int, int]] = []
    for members in sorted(components.values(), key=lambda m: (-len(m), m[0])):
        if len(members) > wave_size:
            first = len(wave_loads)
            for offset, member in enumerate(members):
                if offset % wave_size == 0:
                    wave_loads.append(0)
                wave_loads[first + offset // wave_size] += 1
                placed.append((first + offset // wave_size, member))
            continue
        wave = next((w for w, load in enumerate(wave_loads) if load + len(members) <= wave_size), None)
        if wave is None:
            wave = len(wave_loads)
            wave_loads.append(0)
        wave_loads[wave] += len(members)
        placed.extend((wave, member) for member in members)
    return [(wave, batches[member]) for wave, member in sorted(placed)]


def make_batches(requests: list[PingRequest], run: models.RunInfo, settings: PlanSettings, now_ms: int,
                 lead_ms: int | None = None) -> list[models.WarmBatch]:
    """WarmBatch documents for one round; release times per wave."""
    lead = settings.lead_ms if lead_ms is None else lead_ms
    packed = pack([r for r in requests if r.count > 0], settings.max_batch_size)
    wave_gap = lead + settings.max_hold_ms
    out: list[models.WarmBatch] = []
    for index, (wave, groups) in enumerate(order_in_waves(packed, settings.map_max_concurrency)):
        release = now_ms + lead + wave * wave_gap
        out.append({
            "run": run["id"], "batch": index, "round": run["round"], "release_at_ms": release,
            "max_hold_ms": settings.max_hold_ms, "period_s": settings.period_s, "refresh": True,
            "deadline_ms": release + settings.warm_deadline_ms, "pings": groups,
        })
    return out


def plan_round(state: models.ForecastState, settings: PlanSettings, now_ms: int) -> models.PlanState:
    """The Plan state: one record per target, the batches, and whether there is anything to warm."""
    healthy = [t for t in state["targets"] if "error" not in t]
    allocations = dict(zip((id(t) for t in healthy),
                           allocate(healthy, state["account"], settings.budget_share), strict=True))
    plan: list[models.PlanRecord] = []
    requests: list[PingRequest] = []
    for target in state["targets"]:
        record: models.PlanRecord = {
            "function": target["function"], "qualifier": target["qualifier"], "memory_mb": target["memory_mb"],
            "forecast": target["forecast"], "desired": 0, "requested": 0, "limited_by": None,
            "status": "error", "reason": target.get("error", ""),
        }
        allocation = allocations.get(id(target))
        fanout = settings.max_batch_size * settings.map_max_concurrency
        if allocation is not None and allocation.requested > fanout:
            allocation = Allocation(fanout, allocation.desired, "fanout")
        if allocation is not None:
            record["desired"], record["requested"] = allocation.desired, allocation.requested
            record["limited_by"] = allocation.limited_by
            record["status"] = "planned" if allocation.requested > 0 else "skipped"
            record["reason"] = _reason(target["forecast"], allocation)
            requests.append(PingRequest(target["function"], target["qualifier"], allocation.requested))
        plan.append(record)
    batches = make_batches(requests, state["run"], settings, now_ms)
    dry_run = state["request"]["dry_run"]
    return {
        "run": state["run"], "request": state["request"], "plan": plan,
        "batches": [] if dry_run else batches, "warm_needed": bool(batches) and not dry_run,
        "release_at_ms": batches[0]["release_at_ms"] if batches else now_ms,
    }


def plan_topup(shortfalls: list[PingRequest], run: models.RunInfo, settings: PlanSettings,
               now_ms: int) -> list[models.WarmBatch]:
    """Top-up round: the full request again (new pings must overlap the warm environments to reach
    new ones), with a longer lead time. ``run`` must already carry ``round = 1``."""
    return make_batches(shortfalls, run, settings, now_ms, lead_ms=settings.lead_ms * TOPUP_LEAD_FACTOR)


def _reason(forecast: models.ForecastInfo, allocation: Allocation) -> str:
    base = forecast["reason"] or f"forecast {forecast['desired']}"
    limits = {"min": "raised to the target's min", "max": "capped at the target's max",
              "budget": "cut by the account concurrency budget",
              "reserved": "cut by the function's reserved-concurrency budget",
              "fanout": "capped at MaxBatchSize x MapMaxConcurrency (pings that can overlap)"}
    if allocation.limited_by is None:
        return base
    return f"{base}; {limits[allocation.limited_by]} -> {allocation.requested}"
