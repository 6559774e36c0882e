"""Planning: the concurrency budget (account, reserved, provisioned), packing, waves and release times."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from thermostat import claims, models
from thermostat.config import PlanSettings
from thermostat.planning import (
    MAP_START_MS,
    SHARE_CAP,
    TOPUP_LEAD_FACTOR,
    Need,
    PingRequest,
    allocate,
    make_batches,
    map_items,
    order_in_waves,
    pack,
    plan_topup,
    share_out,
)

RUN: models.RunInfo = {"id": "arn:exec:1", "name": "1", "started_at_ms": 0, "round": 0}
NOW = 1_763_800_000_000


def target(key: str, *, lo: int = 1, hi: int = 50, reserved: int | None = None, busy: int | None = None,
           peak: int | None = None, provisioned: int = 0, described: bool = True, error: str | None = None
           ) -> models.TargetPlanInput:
    t: models.TargetPlanInput = {
        "key": key, "function": key, "qualifier": None, "source": "tag", "min": lo, "max": hi,
        "price_per_cold_start": None, "memory_mb": 128, "reserved": reserved, "provisioned": provisioned,
        "busy": busy, "recent_peak": peak, "described": described, "send_ahead_ms": None, "protocol": 2}
    if error:
        t["error"] = error
    return t


def account(unreserved: int | None = 1000, in_use: int | None = 0, limit: int | None = 1000) -> models.AccountView:
    return {"limit": limit, "unreserved_limit": unreserved, "unreserved_in_use": in_use, "read_at_ms": NOW}


def need(t: models.TargetPlanInput, desired: int, trusted: int | None = None) -> Need:
    return Need(t, desired, "recent", f"{desired}: forecast", trusted)


# --- the budget ---------------------------------------------------------------------------------------


def test_other_functions_using_the_unreserved_pool_shrink_the_budget() -> None:
    # GIVEN an unreserved limit of 50 of which other functions use 35 now, and a target wanting 20
    grants = allocate([need(target("api"), 20)], account(50, 35, 50), 0.5)
    # THEN it gets half of what is free (15 x 0.5 = 7), not half of the limit, and says the account cut it
    assert (grants[0].requested, grants[0].limited_by) == (7, "account")
    assert "35 in use" in grants[0].note


def test_floors_first_then_the_rest_evenly() -> None:
    # GIVEN 10 free slots and three targets with floors 2, 2, 1 wanting 9, 3 and 1
    wants = [(2, 9), (2, 3), (1, 1)]
    # THEN floors are served first (5), then the other 5 go where the need is, evenly: 3 + 1 more each ...
    assert share_out(wants, 10) == [6, 3, 1]
    # ... and when the floors alone do not fit, the smallest floors go first
    assert share_out([(3, 5), (1, 5), (2, 2)], 3) == [0, 1, 2]
    assert share_out([(0, 4), (0, 4), (0, 4)], 10) == [4, 3, 3]  # max-min fair, the spare one by order


def test_the_share_is_clamped_in_code_too() -> None:
    # GIVEN a share of 1.0 (a template would refuse it; code must not trust that)
    (grant,) = allocate([need(target("api", hi=1000), 1000)], account(100, 0, 100), 1.0)
    # THEN a share always stays with real traffic
    assert grant.requested == int(100 * SHARE_CAP)


def test_unknown_account_limits_mean_no_ping_for_unreserved_targets() -> None:
    # GIVEN GetAccountSettings denied (limits None) — or a stale account datapoint (in use None)
    for view in (account(None, 0, None), account(1000, None)):
        grants = allocate([need(target("api"), 3), need(target("pool", reserved=10, busy=0), 3)], view, 0.5)
        # THEN the unreserved target gets nothing and says why; the reserved one its own pool
        assert (grants[0].requested, grants[0].limited_by) == (0, "unknown_limits")
        assert grants[1].requested == 3


def test_a_recent_last_plan_stands_when_the_account_is_unknown() -> None:
    grants = allocate([need(target("a"), 6, trusted=4), need(target("b"), 2, trusted=5)], None, 0.5)
    assert [(g.requested, g.limited_by) for g in grants] == [(4, "unknown_limits"), (2, None)]


def test_a_reserved_target_with_a_stale_datapoint_counts_its_last_hour_peak_plus_one() -> None:
    # GIVEN reserved concurrency 10, no fresh datapoint (metric lag), a real peak of 5 in the last hour
    (grant,) = allocate([need(target("pool", reserved=10, peak=5), 5)], account(), 0.5)
    # THEN busy = 6, so floor((10 - 6) x 0.5) = 2 pings, not 5
    assert (grant.requested, grant.limited_by) == (2, "reserved")
    assert "6 busy" in grant.note


def test_a_reserved_target_with_nothing_known_is_left_alone() -> None:
    (grant,) = allocate([need(target("pool", reserved=10), 5)], account(), 0.5)
    assert (grant.requested, grant.limited_by) == (0, "reserved")


def test_a_reserved_target_with_a_fresh_datapoint() -> None:
    (grant,) = allocate([need(target("pool", reserved=10, busy=2, peak=9), 5)], account(), 0.5)
    assert (grant.requested, grant.limited_by) == (4, "reserved")  # floor((10 - 2) x 0.5), the peak ignored


def test_reserved_targets_do_not_draw_on_the_shared_pool() -> None:
    grants = allocate([need(target("pool", reserved=100, busy=0), 40), need(target("api"), 9)],
                      account(10, 0, 110), 0.9)
    assert [g.requested for g in grants] == [40, 9]


def test_provisioned_concurrency_covering_the_plan_means_no_ping() -> None:
    grants = allocate([need(target("pc", provisioned=5), 5), need(target("part", provisioned=2), 5)], account(), 0.5)
    # THEN the first is covered; the second gets the full 5 (the first 2 land on provisioned environments)
    assert (grants[0].requested, grants[0].limited_by) == (0, "provisioned")
    assert "covered by provisioned concurrency" in grants[0].note
    assert (grants[1].requested, grants[1].limited_by) == (5, None)


def test_errors_undescribed_targets_and_zero_desire_get_nothing() -> None:
    grants = allocate([need(target("gone", error="FunctionNotFound: gone"), 3),
                       need(target("new", described=False), 3), need(target("idle", lo=0), 0)], account(), 0.5)
    assert [(g.requested, g.limited_by) for g in grants] == [(0, None), (0, "unknown_limits"), (0, None)]


# --- packing, waves, release times --------------------------------------------------------------------


def groups_by_key(batches: list[list[models.PingGroup]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for batch in batches:
        for group in batch:
            counts[group["key"]] += group["count"]
    return counts


def test_pack_splits_big_targets_and_fills_batches() -> None:
    requests = [PingRequest("big", None, 1200), PingRequest("a", None, 300), PingRequest("b", "live", 250)]
    batches = pack(requests, 500)
    # THEN no batch passes 500 pings, every ping is there once, in contiguous slots per target
    assert all(sum(g["count"] for g in batch) <= 500 for batch in batches)
    assert groups_by_key(batches) == {"big": 1200, "a": 300, "b:live": 250}
    big = sorted((g["first_slot"], g["count"]) for b in batches for g in b if g["key"] == "big")
    assert big == [(0, 500), (500, 500), (1000, 200)] and all(g["of"] == 1200 for b in batches for g in b
                                                                if g["key"] == "big")
    assert len(batches) == 4


def test_a_target_stays_in_one_wave() -> None:
    # GIVEN 3 targets of 700 pings in batches of 500: t0 and t1 share a remainder batch, t2 has its own
    batches = pack([PingRequest(f"t{i}", None, 700) for i in range(3)], 500)
    assert len(batches) == 5
    waves = order_in_waves(batches, 4)
    wave_of: dict[str, set[int]] = {}
    for wave, groups in waves:
        for group in groups:
            wave_of.setdefault(group["key"], set()).add(wave)
    assert all(len(w) == 1 for w in wave_of.values())
    # THEN the group of 3 and the group of 2 cannot share a wave of 4
    assert Counter(w for w, _ in waves) == Counter({0: 3, 1: 2})


def test_batches_carry_send_ahead_protocol_and_one_release_time_per_wave() -> None:
    settings = PlanSettings(max_batch_size=2, map_max_concurrency=2, max_hold_ms=1000)
    requests = [PingRequest("a", None, 2, send_ahead_ms=300.0), PingRequest("b", None, 2, send_ahead_ms=40.0,
                                                                            protocol=1),
                PingRequest("c", None, 2), PingRequest("d", None, 0)]
    batches = make_batches(requests, {**RUN, "run_name": "r"}, settings, NOW)
    # THEN three batches (d has nothing), two waves of at most two batches
    assert len(batches) == 3 and [b["batch"] for b in batches] == [0, 1, 2]
    releases = sorted({b["release_at_ms"] for b in batches})
    assert len(releases) == 2
    # AND the first release leaves the Map's start plus the largest send-ahead of its wave
    first = [b for b in batches if b["release_at_ms"] == releases[0]]
    ahead = max(g["send_ahead_ms"] for b in first for g in b["pings"])
    assert releases[0] == NOW + MAP_START_MS + ahead
    assert releases[1] > releases[0] + settings.max_hold_ms
    groups = {g["key"]: g for b in batches for g in b["pings"]}
    assert groups["b"]["protocol"] == 1 and groups["c"]["send_ahead_ms"] == 100.0  # the default until learned
    assert all(b["deadline_ms"] == b["release_at_ms"] + settings.warm_deadline_ms for b in batches)
    assert all(b["run_name"] == "r" and b["round"] == 0 for b in batches)


def test_the_top_up_round_has_a_longer_lead() -> None:
    settings = PlanSettings()
    (batch,) = plan_topup([PingRequest("a", None, 3, send_ahead_ms=50.0)], {**RUN, "round": 1}, settings, NOW)
    assert batch["round"] == 1 and batch["release_at_ms"] == NOW + MAP_START_MS * TOPUP_LEAD_FACTOR + 50


class Docs:
    def __init__(self) -> None:
        self.docs: dict[str, Any] = {}

    def put_run_doc(self, run_name: str, name: str, doc: Any) -> str:
        key = f"thermostat/runs/{run_name}/{name}.json"
        self.docs[key] = doc
        return key

    def get_run_doc(self, key: str) -> Any:
        return self.docs[key]


@pytest.mark.parametrize(("count", "inline"), [(3, True), (4000, False)])
def test_map_items_are_inline_only_while_all_of_them_are_small(count: int, inline: bool) -> None:
    docs = Docs()
    batches = make_batches([PingRequest(f"fn-{i}", None, 1) for i in range(count)], {**RUN, "run_name": "r"},
                           PlanSettings(), NOW)
    items = map_items(docs, batches)
    assert [i["batch"] for i in items] == [b["batch"] for b in batches]
    assert all(("inline" in i["doc"]) is inline for i in items)
    assert [claims.resolve(docs, i["doc"], "doc") for i in items] == batches
    if not inline:
        assert set(docs.docs) == {f"thermostat/runs/r/batch-0-{b['batch']}.json" for b in batches}
