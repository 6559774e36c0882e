"""Planning: forecasts -> clamped, budgeted requests -> packed batches with shared release times."""

from __future__ import annotations

from collections import Counter

import pytest

from thermostat import models
from thermostat.config import PlanSettings
from thermostat.planning import PingRequest, allocate, clamp, make_batches, pack, plan_round, plan_topup

RUN: models.RunInfo = {"id": "arn:exec:1", "name": "1", "started_at_ms": 0, "round": 0}


def target(name: str, desired: int, *, lo: int = 0, hi: int = 50, reserved: int | None = None,
           current: int = 0, error: str | None = None) -> models.TargetForecast:
    t: models.TargetForecast = {
        "function": name, "qualifier": None, "arn": f"arn:aws:lambda:us-east-1:1:function:{name}",
        "min": lo, "max": hi, "memory_mb": 128, "timeout_s": 3, "reserved_concurrency": reserved,
        "current_concurrency": current,
        "forecast": {"desired": desired, "quantile": 0.95, "model": "recent_max", "reason": "r", "point": 1.0},
    }
    if error:
        t["error"] = error
    return t


def state(targets: list[models.TargetForecast], unreserved: int = 1000, dry_run: bool = False) -> models.ForecastState:
    return {
        "run": RUN,
        "request": {"targets": [], "discover": True, "quantile": 0.95, "horizon_minutes": 5, "dry_run": dry_run},
        "account": {"concurrency_limit": 1000, "unreserved_concurrency": unreserved},
        "targets": targets,
    }


def test_clamp_names_the_bound_that_applied() -> None:
    assert clamp(0, 1, 5) == (1, "min")
    assert clamp(9, 1, 5) == (5, "max")
    assert clamp(3, 1, 5) == (3, None)


def test_reserved_budget_is_share_of_reserved_minus_real_use() -> None:
    # GIVEN a function with 20 reserved, 4 in use by real traffic, share 0.5 -> 10 - 4 = 6
    [alloc] = allocate([target("f", 9, reserved=20, current=4)], {"concurrency_limit": 1000,
                                                                   "unreserved_concurrency": 900}, 0.5)
    assert (alloc.requested, alloc.limited_by) == (6, "reserved")


def test_shared_account_budget_is_handed_out_smallest_first() -> None:
    # GIVEN 30 unreserved * 0.5 = 15 shared, minus 3 in real use = 12; requests 2, 5, 20
    targets = [target("big", 20), target("small", 2, current=3), target("mid", 5)]
    allocs = allocate(targets, {"concurrency_limit": 1000, "unreserved_concurrency": 30}, 0.5)
    # THEN small and mid are served in full, big gets the rest and is marked as budget-limited
    assert [a.requested for a in allocs] == [5, 2, 5]
    assert allocs[0].limited_by == "budget"
    assert sum(a.requested for a in allocs) <= 12


@pytest.mark.parametrize("counts,size", [([120], 50), ([3, 7, 49, 1, 50, 51], 50), ([10] * 9, 25), ([1], 1)])
def test_pack_keeps_every_ping_once_and_respects_batch_size(counts: list[int], size: int) -> None:
    requests = [PingRequest(f"f{i}", None, c) for i, c in enumerate(counts)]
    batches = pack(requests, size)
    assert all(sum(g["count"] for g in b) <= size for b in batches)
    slots: Counter[tuple[str, int]] = Counter()
    for b in batches:
        for g in b:
            assert g["of"] == counts[int(g["function"][1:])]
            for s in range(g["first_slot"], g["first_slot"] + g["count"]):
                slots[(g["function"], s)] += 1
    assert sorted(slots) == sorted((f"f{i}", s) for i, c in enumerate(counts) for s in range(c))
    assert set(slots.values()) == {1}


def test_small_targets_share_a_batch_and_a_big_one_spans_several() -> None:
    batches = pack([PingRequest("big", None, 120), PingRequest("a", None, 3), PingRequest("b", None, 4)], 50)
    assert len(batches) == 3  # 50 + 50 + (20 + 4 + 3)
    assert sorted(g["function"] for g in batches[-1]) == ["a", "b", "big"]


def test_batches_of_one_target_share_a_release_time_even_across_waves() -> None:
    # GIVEN map concurrency 2, a target needing 2 batches and two that need one each
    settings = PlanSettings(max_batch_size=10, map_max_concurrency=2, lead_ms=1000, max_hold_ms=1500)
    reqs = [PingRequest("big", None, 20), PingRequest("x", None, 10), PingRequest("y", None, 10)]
    batches = make_batches(reqs, RUN, settings, now_ms=1_000_000)
    release: dict[str, set[int]] = {}
    for b in batches:
        for g in b["pings"]:
            release.setdefault(g["function"], set()).add(b["release_at_ms"])
    # THEN each target has exactly one release time, and batch numbers are 0..n-1 in Map order
    assert all(len(v) == 1 for v in release.values())
    assert [b["batch"] for b in batches] == list(range(len(batches)))
    assert [b["release_at_ms"] for b in batches] == sorted(b["release_at_ms"] for b in batches)
    assert min(b["release_at_ms"] for b in batches) == 1_001_000


def test_plan_round_keeps_errors_and_skips_zero() -> None:
    out = plan_round(state([target("a", 3), target("b", 0), target("c", 2, error="FunctionNotFound: c")]),
                     PlanSettings(), now_ms=5_000)
    by = {p["function"]: p for p in out["plan"]}
    assert (by["a"]["status"], by["a"]["requested"]) == ("planned", 3)
    assert by["b"]["status"] == "skipped"
    assert by["c"]["status"] == "error" and "FunctionNotFound" in by["c"]["reason"]
    assert out["warm_needed"] is True
    assert sum(g["count"] for b in out["batches"] for g in b["pings"]) == 3


def test_dry_run_plans_but_warms_nothing() -> None:
    out = plan_round(state([target("a", 3)], dry_run=True), PlanSettings(), now_ms=0)
    assert out["plan"][0]["requested"] == 3
    assert out["batches"] == [] and out["warm_needed"] is False


def test_topup_resends_the_full_request_with_a_longer_lead() -> None:
    settings = PlanSettings(lead_ms=1000)
    run = {**RUN, "round": 1}
    [batch] = plan_topup([PingRequest("a", None, 7)], run, settings, now_ms=0)  # type: ignore[arg-type]
    assert batch["round"] == 1 and batch["release_at_ms"] == 2000
    assert batch["pings"][0]["count"] == 7


def test_a_target_is_capped_at_the_pings_that_can_overlap() -> None:
    # GIVEN 3 Map iterations at once of 10 pings each: no more than 30 pings can hold together
    out = plan_round(state([target("a", 45, hi=100)]), PlanSettings(max_batch_size=10, map_max_concurrency=3), 0)
    assert (out["plan"][0]["requested"], out["plan"][0]["limited_by"]) == (30, "fanout")
    assert len({b["release_at_ms"] for b in out["batches"]}) == 1
