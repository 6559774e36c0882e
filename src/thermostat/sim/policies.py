"""The policies a replay compares, parsed from ``--policies``, and the baselines' ping schedules.

``none`` never pings; ``fixed:N`` sends N concurrent pings to every function at every tick (one warmer
Lambda, serverless-plugin-warmup style); ``reactive`` pings the peak real concurrency of the last
window; ``oracle`` the true peak real concurrency of the coming window (the limit of ping-based
warming); ``thermostat`` runs the real forecast + planning code online (``thermostat_policy``);
``provisioned`` is cost only: Provisioned Concurrency at the function's peak, all month, no cold starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from thermostat.config import DiscoverySettings, ForecastSettings, PlanSettings
from thermostat.forecast.objective import DEFAULT_PRICE_PER_COLD_START
from thermostat.sim.lifecycle import Lifecycle
from thermostat.sim.workload import Profile, window_max

KINDS = ("none", "fixed", "reactive", "thermostat", "oracle", "provisioned")
DEFAULT_POLICIES = "none,fixed:1..8,thermostat,oracle,provisioned"
WORKFLOW_HOLD_MS = 30.0  # median hold of a workflow ping (bench/bench_local.py, learned send-ahead)
PING_KINDS = ("fixed", "reactive", "thermostat", "oracle")
WORKFLOW_KINDS = ("reactive", "thermostat", "oracle")  # costed as the Thermostat workflow


@dataclass(frozen=True)
class Policy:
    kind: str
    n: int = 0
    price: float | None = None  # thermostat@PRICE: this price per cold start instead of the default

    @property
    def name(self) -> str:
        if self.kind == "fixed":
            return f"fixed:{self.n}"
        return f"thermostat@{self.price:g}" if self.price is not None else self.kind

    @property
    def pings(self) -> bool:
        return self.kind in PING_KINDS


MAX_FIXED = 1000


def fixed_series(low: int, high: int) -> list[int]:
    """A..B: A, B and, between them, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, ... (each power of two and 1.5 times
    one: a warmer of N costs N times one of 1, so this spaces the curve evenly on a log scale)."""
    series, power = {low, high}, 1
    while power <= high:
        series.update(n for n in (power, power + power // 2) if low <= n <= high)
        power *= 2
    return sorted(series)


def _counts(raw: str, rest: str) -> list[int]:
    """``N``, ``A:B:C`` (a list) or ``A..B`` (:func:`fixed_series`)."""
    if ".." in rest:
        low, _, high = rest.partition("..")
        if not (low.isdigit() and high.isdigit()) or not 1 <= int(low) <= int(high) <= MAX_FIXED:
            raise ValueError(f"policy {raw!r}: a range is fixed:A..B with 1 <= A <= B <= {MAX_FIXED}")
        return fixed_series(int(low), int(high))
    counts = []
    for number in rest.split(":"):
        if not number.isdigit() or not 1 <= int(number) <= MAX_FIXED:
            raise ValueError(f"policy {raw!r}: {number!r} is not a whole number from 1 to {MAX_FIXED}")
        counts.append(int(number))
    return counts


def _price(raw: str, text: str) -> float:
    try:
        price = float(text)
    except ValueError:
        raise ValueError(f"policy {raw!r}: {text!r} is not a price in dollars per cold start") from None
    if not math.isfinite(price) or price <= 0:
        raise ValueError(f"policy {raw!r}: the price per cold start must be a positive number of dollars")
    return price


def parse_policies(text: str) -> list[Policy]:
    """``none,fixed:1,fixed:8,...``; ``fixed:1:2:4`` is ``fixed:1,fixed:2,fixed:4``; ``fixed:1..64`` is 1, 2, 3, 4, 6,
    8, 12, 16, 24, 32, 48, 64; ``thermostat@0.001`` the thermostat at that price per cold start (several trace
    its curve)."""
    out: list[Policy] = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        head, at, price = raw.partition("@")
        kind, _, rest = head.partition(":")
        kind = kind.lower()
        if kind not in KINDS:
            raise ValueError(f"unknown policy {raw!r}; expected one of {', '.join(KINDS)} (fixed:N, thermostat@PRICE)")
        if at and kind != "thermostat":
            raise ValueError(f"policy {raw!r}: only thermostat takes @PRICE")
        if kind == "fixed":
            if not rest:
                raise ValueError(f"policy {raw!r} needs a count: fixed:N")
            out.extend(Policy("fixed", n) for n in _counts(raw, rest))
        elif rest:
            raise ValueError(f"policy {raw!r} takes no argument")
        else:
            out.append(Policy(kind, price=_price(raw, price) if at else None))
    if not out:
        raise ValueError("no policy given")
    names = [p.name for p in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"policy {dupes[0]!r} given twice")
    return out


@dataclass(frozen=True)
class SimSettings:
    """Everything a replay depends on; the defaults are DESIGN §6/§7's and documented in docs/simulate.md."""

    life: Lifecycle = field(default_factory=Lifecycle)
    seed: int = 0
    arrivals: str = "uniform"
    baseline_hold_ms: float = 100.0  # fixed:N targets sleep briefly so concurrent pings hit distinct envs
    forecast: ForecastSettings = field(default_factory=ForecastSettings)
    plan: PlanSettings = field(default_factory=PlanSettings)
    discovery: DiscoverySettings = field(default_factory=DiscoverySettings)
    metrics_delay_minutes: int = 1  # the minute that just ended is not in CloudWatch yet (ingestion lag)
    account_unreserved: int = 1000  # per function: each function of the Azure sample has its own owner
    workflow: str = "express"  # the template's WorkflowType default
    hold_override_ms: float | None = None  # workflow pings' hold; default WORKFLOW_HOLD_MS
    price_per_cold_start: float = DEFAULT_PRICE_PER_COLD_START
    use_statsmodels: bool = True
    metric_read_hours: float = 6.0  # CloudWatch re-read interval per target (template MetricReadHours)
    score_from_minute: int = 0  # cold starts and costs are counted from this minute on (held-out scoring)
    score_to_minute: int | None = None
    hours: str | None = None  # warm hours of every function (thermostat.hours): no ping, no read outside

    @property
    def tick_minutes(self) -> int:
        return self.forecast.tick_minutes

    @property
    def workflow_hold_ms(self) -> float:
        """Hold of a workflow ping: Warm Batch starts each target's round its learned send-ahead before the
        shared ``release_at``; the pings arrive spread over it and each holds the rest. WORKFLOW_HOLD_MS is
        the median hold ``bench/bench_local.py`` measures on the local runtime with invoke jitter."""
        if self.hold_override_ms is not None:
            return self.hold_override_ms
        return WORKFLOW_HOLD_MS

    def hold_ms(self, policy: Policy) -> float:
        return self.workflow_hold_ms if policy.kind in WORKFLOW_KINDS else self.baseline_hold_ms


def tick_minutes_of(minutes: int, tick: int) -> npt.NDArray[np.int64]:
    return np.arange(0, minutes, tick, dtype=np.int64)


def baseline_pings(policy: Policy, prof: Profile, ticks: npt.NDArray[np.int64], window: int) -> npt.NDArray[np.int64]:
    """Pings per tick of the offline baselines (``thermostat`` decides online, elsewhere)."""
    if policy.kind == "fixed":
        return np.full(ticks.size, policy.n, dtype=np.int64)
    if policy.kind == "oracle":
        return window_max(prof.minute_max, ticks, window)
    if policy.kind == "reactive":
        last = window_max(prof.minute_max, ticks - window, window)
        last[ticks < window] = 0  # nothing observed before the first tick
        return last
    return np.zeros(ticks.size, dtype=np.int64)
