"""One objective in dollars: warm the k-th environment when the cold starts it avoids are worth more than
keeping it warm costs.

For each level k above the target's floor, per window:
- value(k) = price of a cold start x P(the k-th environment is needed), where "needed" is the window's
  real peak reaching k (:class:`~thermostat.forecast.demand.Demand`, raised by the seasonal and
  periodic-burst hints) or one of the k-1 below it being lost during the window (Lambda recycles an
  environment after about :data:`RECYCLE_MINUTES`, so each is lost with probability window/recycle);
- cost(k) = its ping (request + billed hold at the target's memory) + its warming init when it is not
  warm already (INIT is billed: learned init time x memory).
``desired`` is the largest k whose value still exceeds its cost (values fall with k), never below the
floor (the target's ``min``), never above its ``max``. The reason names the term that decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thermostat import cost
from thermostat.forecast.demand import Demand
from thermostat.forecast.hints import Hint
from thermostat.ping_price import ping_usd

RECYCLE_MINUTES = 120.0  # Lambda replaces an environment after about 2 h whatever its use
DEFAULT_PRICE_PER_COLD_START = 0.001  # USD ($1 per 1,000 cold starts); docs/forecast.md says how it was chosen


@dataclass(frozen=True)
class Prices:
    """What one target's environment costs to keep warm, and what a cold start is worth to its owner."""

    price_per_cold_start: float = DEFAULT_PRICE_PER_COLD_START
    memory_mb: int = 128
    hold_ms: float = 50.0
    init_ms: float = 250.0
    window_minutes: float = 5.0

    @property
    def ping_usd(self) -> float:
        return ping_usd(self.memory_mb, self.hold_ms)

    @property
    def init_usd(self) -> float:
        return cost.lambda_duration_usd(self.memory_mb, self.init_ms)

    @property
    def loss_per_window(self) -> float:
        return min(1.0, self.window_minutes / RECYCLE_MINUTES)


@dataclass(frozen=True)
class Level:
    """The k-th environment: what it is worth and what it costs per window."""

    k: int
    need: float  # P(it is needed this window)
    value_usd: float
    cost_usd: float
    term: str  # the evidence that makes it needed: recent / burst / seasonal / periodic / headroom / loss


@dataclass(frozen=True)
class Sizing:
    desired: int
    term: str  # what decided: floor / recent / burst / seasonal / periodic / headroom / max / provisioned
    reason: str
    levels: tuple[Level, ...] = field(default_factory=tuple)  # every level above the floor that paid off
    ping_usd_month: float = 0.0
    provisioned_usd_month: float = 0.0  # Provisioned Concurrency at the same level, for the break-even


def peak_survival(k: int, demand: Demand, hints: tuple[Hint, ...]) -> float:
    """P(the next window's peak >= k): the history's, raised by any model hint that says more."""
    value = demand.survival(k)
    for hint in hints:
        value = max(value, hint.survival(k))
    return value


def _term(k: int, demand: Demand, hints: tuple[Hint, ...]) -> str:
    """The evidence that makes level k needed: a model's hint when it says more than the history does."""
    history = demand.survival(k)
    best = max(hints, key=lambda hint: hint.survival(k), default=None)
    if best is not None and best.survival(k) > history:
        return best.kind
    if k <= demand.recent_peak:
        return "recent"
    if k <= demand.burst_peak:
        return "burst"
    return "headroom"


def coverage_level(demand: Demand, hints: tuple[Hint, ...], quantile: float, cap: int) -> int:
    """The smallest k with P(peak > k) <= 1 - quantile: the ``quantile`` of the next window's peak."""
    k = 0
    while k < cap and peak_survival(k + 1, demand, hints) > 1.0 - quantile:
        k += 1
    return k


def size(demand: Demand, prices: Prices, *, floor: int, cap: int, warm_now: int,
         hints: tuple[Hint, ...] = (), coverage: float | None = None) -> Sizing:
    """Desired environments for the next window. ``warm_now``: environments the last round kept warm (a
    level above it pays a warming init). ``coverage``: never below that quantile of the peak (the
    execution input's ``quantile``), even where a cold start's price would not pay for it."""
    floor, cap = max(0, floor), max(0, cap)
    levels: list[Level] = []
    ticks = cost.MONTH_SECONDS / (prices.window_minutes * 60.0)
    ping, init, loss_rate = prices.ping_usd, prices.init_usd, prices.loss_per_window
    price = prices.price_per_cold_start
    lower = peak_survival(floor, demand, hints) if floor >= 1 else 0.0
    k = floor + 1
    while k <= cap:
        peak = peak_survival(k, demand, hints)
        loss = loss_rate * (k - 1) * lower
        need = min(1.0, peak + loss)
        value = price * need
        keep = ping + (init if k > warm_now else init * loss_rate)
        if value < keep:
            break
        # a level needed mostly as cover for the ones below is there for their reason
        term = _term(k, demand, hints) if peak >= loss else (levels[-1].term if levels else "loss")
        levels.append(Level(k, need, value, keep, term))
        lower = peak
        k += 1
    desired = min(max(floor, floor + len(levels)), cap) if cap else 0
    decided = "max" if levels and desired == cap and cap > floor and k > cap else \
        (levels[-1].term if levels else "floor")
    if coverage is not None and cap:
        covered = coverage_level(demand, hints, coverage, cap)
        if covered > desired:
            desired, decided = covered, "quantile"
    ping_month = desired * prices.ping_usd * ticks
    pc_month = cost.provisioned_usd(prices.memory_mb, desired, cost.MONTH_SECONDS)
    return Sizing(desired, decided, _reason(desired, decided, demand, levels, prices, floor, ticks),
                  tuple(levels), ping_month, pc_month)


def _reason(desired: int, decided: str, demand: Demand, levels: list[Level], prices: Prices, floor: int,
            ticks: float) -> str:
    seen = (f"peak {demand.recent_peak:g} in the last 6 h, {demand.burst_peak:g} in the last day"
            f" ({demand.burst_age_h:.0f} h ago)" if demand.known_windows else "no traffic known yet")
    if decided == "quantile":
        return f"{desired}: the requested quantile of the next window's peak (above what the price pays); {seen}"
    if not levels:
        return f"{desired}: the floor (min {floor}); {seen}"
    last = levels[-1]
    what = {"recent": "recent peak", "burst": "a burst of the last day", "headroom": "headroom over the peaks",
            "loss": "cover for a recycled environment", "seasonal": "seasonal forecast (daily pattern)",
            "periodic": "a periodic burst due now", "max": "capped at the target's max",
            "quantile": "the requested quantile of the peak"}[decided]
    worth = last.need * ticks
    return (f"{desired}: {what}; {seen}; environment {last.k} avoids ~{worth:.2g} cold starts/month "
            f"(${last.value_usd * ticks:.4f}) for ${last.cost_usd * ticks:.4f}/month "
            f"at ${prices.price_per_cold_start:g} per cold start")
