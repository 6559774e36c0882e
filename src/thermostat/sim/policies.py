"""The policies a replay compares, parsed from ``--policies``, and the baselines' ping schedules.

``none`` never pings; ``fixed:N`` sends N concurrent pings to every function at every tick (one warmer
Lambda, serverless-plugin-warmup style); ``reactive`` pings the peak real concurrency of the last
window; ``oracle`` the true peak real concurrency of the coming window (the limit of ping-based
warming); ``thermostat`` runs the real forecast + planning code online (``thermostat_policy``);
``provisioned`` is cost only: Provisioned Concurrency at the function's peak, all month, no cold starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from thermostat.config import DiscoverySettings, ForecastSettings, PlanSettings
from thermostat.sim.lifecycle import Lifecycle
from thermostat.sim.workload import Profile, window_max
from thermostat.warming import WarmOptions

KINDS = ("none", "fixed", "reactive", "thermostat", "oracle", "provisioned")
DEFAULT_POLICIES = "none,fixed:1,fixed:8,reactive,thermostat,oracle,provisioned"
PING_KINDS = ("fixed", "reactive", "thermostat", "oracle")
WORKFLOW_KINDS = ("reactive", "thermostat", "oracle")  # costed as the Thermostat workflow


@dataclass(frozen=True)
class Policy:
    kind: str
    n: int = 0

    @property
    def name(self) -> str:
        return f"fixed:{self.n}" if self.kind == "fixed" else self.kind

    @property
    def pings(self) -> bool:
        return self.kind in PING_KINDS


def parse_policies(text: str) -> list[Policy]:
    """``none,fixed:1,fixed:8,...``; ``fixed:1:2:4`` is short for ``fixed:1,fixed:2,fixed:4``."""
    out: list[Policy] = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        kind, _, rest = raw.partition(":")
        kind = kind.lower()
        if kind not in KINDS:
            raise ValueError(f"unknown policy {raw!r}; expected one of {', '.join(KINDS)} (fixed:N)")
        if kind == "fixed":
            if not rest:
                raise ValueError(f"policy {raw!r} needs a count: fixed:N")
            for number in rest.split(":"):
                if not number.isdigit() or int(number) < 1:
                    raise ValueError(f"policy {raw!r}: {number!r} is not a positive whole number")
                out.append(Policy("fixed", int(number)))
        elif rest:
            raise ValueError(f"policy {raw!r} takes no argument")
        else:
            out.append(Policy(kind))
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
    workflow: str = "standard"
    hold_override_ms: float | None = None  # workflow pings' hold; default WarmOptions.send_ahead_ms (capped)

    @property
    def tick_minutes(self) -> int:
        return self.forecast.tick_minutes

    @property
    def workflow_hold_ms(self) -> float:
        """Hold of a workflow ping: Warm Batch (``thermostat.warming.warm_batch``) waits until
        ``WarmOptions.send_ahead_ms`` before the shared ``release_at`` and then fires, so each ping holds
        about that long — never more than the lead or the target's ``max_hold_ms``."""
        if self.hold_override_ms is not None:
            return self.hold_override_ms
        return float(min(WarmOptions().send_ahead_ms, self.plan.lead_ms, self.plan.max_hold_ms))

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
