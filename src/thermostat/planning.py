"""Desired counts -> pings within the concurrency budget -> warm batches. Pure: no AWS, no clock.

**The budget is the account's** (never only the targets' own use). At most ``share`` (clamped to
:data:`SHARE_CAP`: a share of concurrency always stays with real traffic, whatever the setting) of what is
free *now*:

- targets without reserved concurrency share ``floor((unreserved_limit - unreserved_in_use) * share)``,
  handed out by need — floors first (smallest first), then the rest evenly (max-min fair). Unknown account
  limits (``GetAccountSettings`` denied) or no fresh ``UnreservedConcurrentExecutions`` datapoint: no ping
  (``unknown_limits``) — except, after a Collect Metrics failure, a last plan younger than
  :data:`TRUSTED_PLAN_MS`, which was made within the budget then;
- a target with reserved concurrency R gets ``floor((R - busy) * share)``: ``busy`` is its fresh datapoint,
  else its highest known real peak of the last hour + 1, else the whole pool (no ping);
- provisioned concurrency >= desired: no ping ("covered by provisioned concurrency"); below it, ``desired``
  pings (the first land on the provisioned environments);
- a target whose reserved/provisioned settings were never read gets no ping.

**Batches**: each target's pings are contiguous slots; a target with more than ``max_batch_size`` spans
several full batches, the rest share batches first-fit decreasing. At most ``map_max_concurrency`` batches
run at once, so batches form waves (a target's batches stay in one wave), each with its own release time:
now + a lead covering the Map's start and the largest send-ahead of the wave.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from thermostat import claims, models
from thermostat.config import PlanSettings
from thermostat.telemetry import SEND_AHEAD_DEFAULT_MS

SHARE_CAP = 0.9  # the budget share is clamped here in code too
MAP_START_MS = 2000  # Plan's end -> Map -> Warm Batch running (a cold start of it, the batch document read)
TOPUP_LEAD_FACTOR = 2  # the top-up round gets twice the Map-start allowance
TRUSTED_PLAN_MS = 15 * 60_000  # without an account reading, a last plan this young still stands
RESULTS_INLINE_BYTES = 64 * 1024  # all batches' inline results together (the Map output joins them with Plan's)
BATCH_RESULT_INLINE_MAX = 48 * 1024


@dataclass(frozen=True)
class Need:
    """One target going into the budget: what it wants and why."""

    target: models.TargetPlanInput
    desired: int
    term: str
    reason: str
    trusted_cap: int | None = None  # account unknown: a recent last plan's pings still allowed


@dataclass(frozen=True)
class Grant:
    requested: int
    limited_by: models.LimitedBy | None
    note: str  # why (empty when the desired count went through untouched)


def effective_share(share: float) -> float:
    return min(max(share, 0.0), SHARE_CAP)


def reserved_busy(target: models.TargetPlanInput) -> tuple[int, str]:
    """(busy, where it comes from) of a reserved pool: fresh datapoint > last hour's peak + 1 > all of it."""
    if target["busy"] is not None:
        return target["busy"], "now"
    if target["recent_peak"] is not None:
        return target["recent_peak"] + 1, "last hour's peak + 1, no fresh datapoint"
    return target["reserved"] or 0, "unknown: no fresh datapoint, no recent peak"


def share_out(wants: Sequence[tuple[int, int]], pool: int) -> list[int]:
    """``(floor, desired)`` per target -> granted: floors first (smallest first), then the rest max-min fair."""
    granted = [0] * len(wants)
    remaining = max(pool, 0)
    for i in sorted(range(len(wants)), key=lambda i: (wants[i][0], i)):
        give = min(max(wants[i][0], 0), wants[i][1], remaining)
        granted[i], remaining = give, remaining - give
    active = sorted((i for i in range(len(wants)) if wants[i][1] > granted[i]),
                    key=lambda i: (wants[i][1] - granted[i], i))
    for pos, i in enumerate(active):
        if remaining <= 0:
            break
        extra = wants[i][1] - granted[i]
        if extra <= remaining // (len(active) - pos):
            granted[i] += extra
            remaining -= extra
            continue
        rest = sorted(active[pos:])
        fair, bonus = divmod(remaining, len(rest))
        for j, index in enumerate(rest):
            granted[index] += fair + (1 if j < bonus else 0)
        break
    return granted


def allocate(needs: Sequence[Need], account: models.AccountView | None, share: float) -> list[Grant]:
    """Every need through the budget rules (same order)."""
    share = effective_share(share)
    out: list[Grant | None] = [None] * len(needs)
    shared: list[int] = []
    for i, need in enumerate(needs):
        target, desired = need.target, max(need.desired, 0)
        if "error" in target:
            out[i] = Grant(0, None, target["error"])
        elif desired == 0:
            out[i] = Grant(0, None, "nothing to warm")
        elif target["provisioned"] >= desired:
            out[i] = Grant(0, "provisioned", f"covered by provisioned concurrency ({target['provisioned']})")
        elif not target["described"]:
            out[i] = Grant(0, "unknown_limits", "its reserved/provisioned concurrency is not read yet")
        elif target["reserved"] is not None:
            busy, source = reserved_busy(target)
            pool = math.floor(max(target["reserved"] - busy, 0) * share)
            granted = min(desired, pool)
            out[i] = Grant(granted, "reserved" if granted < desired else None,
                           f"reserved concurrency {target['reserved']}, {busy} busy ({source}): {pool} may be pinged"
                           if granted < desired else "")
        else:
            shared.append(i)
    limit = None if account is None else account["unreserved_limit"]
    in_use = None if account is None else account["unreserved_in_use"]
    if limit is None or in_use is None:
        why = (account.get("problem") if account is not None else None) or "the account's free concurrency is unknown"
        for i in shared:
            desired, cap = needs[i].desired, needs[i].trusted_cap
            if cap is None:
                out[i] = Grant(0, "unknown_limits", f"{why}: no ping")
            else:
                granted = min(desired, cap)
                out[i] = Grant(granted, "unknown_limits" if granted < desired else None,
                               f"{why}: the last plan ({cap} pings) stands")
    else:
        pool = math.floor(max(limit - in_use, 0) * share)
        amounts = share_out([(min(needs[i].target["min"], needs[i].desired), needs[i].desired) for i in shared], pool)
        note = f"account: {limit} unreserved, {in_use} in use, {pool} may be pinged (share {share:g})"
        for i, amount in zip(shared, amounts, strict=True):
            cut = amount < needs[i].desired
            out[i] = Grant(amount, "account" if cut else None, note if cut else "")
    return [grant for grant in out if grant is not None]


# --- batches ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PingRequest:
    function: str
    qualifier: str | None
    count: int
    send_ahead_ms: float = SEND_AHEAD_DEFAULT_MS
    protocol: int = 2
    key: str = ""  # "" = name or name:qualifier
    learned: bool = False  # the lead was learned from this target's answers (Warm Batch adds no allowance)

    @property
    def target_key(self) -> str:
        return self.key or models.target_label(self.function, self.qualifier)


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
    for request, slot in sorted(remainders, key=lambda r: (r[1] - r[0].count, r[0].target_key)):
        size = request.count - slot
        fits = next((i for i, load in enumerate(loads) if load + size <= max_batch_size), None)
        if fits is None:
            batches.append([_group(request, slot, size)])
            loads.append(size)
        else:
            batches[fits].append(_group(request, slot, size))
            loads[fits] += size
    return batches


def _group(request: PingRequest, first_slot: int, count: int) -> models.PingGroup:
    return {"key": request.target_key, "function": request.function, "qualifier": request.qualifier,
            "first_slot": first_slot, "count": count, "of": request.count,
            "send_ahead_ms": request.send_ahead_ms, "protocol": request.protocol, "learned": request.learned}


def order_in_waves(batches: list[list[models.PingGroup]], wave_size: int) -> list[tuple[int, list[models.PingGroup]]]:
    """(wave, batch) pairs in Map order. Batches that share a target form a group that stays in one
    wave (a group bigger than a wave gets waves of its own); groups are placed first-fit decreasing."""
    parent = list(range(len(batches)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for index, groups in enumerate(batches):
        for group in groups:
            if group["key"] in owner:
                parent[root(index)] = root(owner[group["key"]])
            owner.setdefault(group["key"], index)
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
                 lead_factor: int = 1) -> list[models.WarmBatch]:
    """WarmBatch documents of one round (``run["round"]``); one release time per wave."""
    placed = order_in_waves(pack([r for r in requests if r.count > 0], settings.max_batch_size),
                           settings.map_max_concurrency)
    if not placed:
        return []
    ahead: dict[int, float] = {}
    for wave, groups in placed:
        ahead[wave] = max([ahead.get(wave, 0.0), *(g["send_ahead_ms"] for g in groups)])
    release: dict[int, int] = {}
    at = now_ms
    for wave in sorted(ahead):
        at += MAP_START_MS * lead_factor + math.ceil(ahead[wave]) + (settings.max_hold_ms if wave else 0)
        release[wave] = at
    inline = min(BATCH_RESULT_INLINE_MAX, RESULTS_INLINE_BYTES // len(placed))
    run_name = models.run_name_of(run)
    return [{"run": run["id"], "run_name": run_name, "batch": index, "round": run["round"],
             "release_at_ms": release[wave], "deadline_ms": release[wave] + settings.warm_deadline_ms,
             "max_hold_ms": settings.max_hold_ms, "period_s": settings.period_s, "refresh": True,
             "pings": groups, "result_inline_bytes": inline}
            for index, (wave, groups) in enumerate(placed)]


def plan_topup(shortfalls: list[PingRequest], run: models.RunInfo, settings: PlanSettings,
               now_ms: int) -> list[models.WarmBatch]:
    """Top-up round: the full request again (new pings must overlap the warm environments to reach new
    ones), with a longer lead. ``run`` must already carry ``round = 1``."""
    return make_batches(shortfalls, run, settings, now_ms, lead_factor=TOPUP_LEAD_FACTOR)


def map_items(store: claims.RunDocs, batches: list[models.WarmBatch]) -> list[models.MapItem]:
    """The Map's items for a round: every batch document inline when all of them fit the inline limit
    together, else each one by reference (``runs/<run>/batch-<round>-<i>.json``)."""
    sizes = [claims.compact_size(batch) for batch in batches]
    limit = claims.INLINE_LIMIT_BYTES if sum(sizes) <= claims.INLINE_LIMIT_BYTES else -1
    return [{"batch": batch["batch"],
             "doc": claims.offload(store, batch["run_name"], f"batch-{batch['round']}-{batch['batch']}", batch,
                                   limit=limit, size=size)}
            for batch, size in zip(batches, sizes, strict=True)]
