"""The replay's document (``--json``; keys in docs/simulate.md) and its terminal table (rich)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from thermostat import cost
from thermostat.sim.policies import SimSettings
from thermostat.sim.results import SCHEMA, frontier
from thermostat.sim.trace import Trace


def document(trace: Trace, settings: SimSettings, policies: dict[str, Any], none_cold_starts: int,
             wall_s: float) -> dict[str, Any]:
    life = dataclasses.asdict(settings.life)
    return {
        "schema": SCHEMA,
        "trace": {"source": trace.source, "kind": trace.kind, "functions": trace.functions,
                  "minutes": trace.minutes, "invocations": trace.invocations, "start_ms": trace.start_ms,
                  "memory_source": trace.memory_source},
        "settings": {
            "seed": settings.seed, "arrivals": settings.arrivals, "lifecycle": life,
            "tick_minutes": settings.tick_minutes, "baseline_hold_ms": settings.baseline_hold_ms,
            "workflow_hold_ms": settings.workflow_hold_ms, "workflow": settings.workflow,
            "quantile": settings.forecast.quantile, "horizon_minutes": settings.forecast.horizon_minutes,
            "budget_share": settings.plan.budget_share, "max_batch_size": settings.plan.max_batch_size,
            "min_warm": settings.discovery.min_warm, "max_warm": settings.discovery.max_warm,
            "lookback_minutes": settings.discovery.lookback_minutes,
            "metrics_delay_minutes": settings.metrics_delay_minutes,
            "account_unreserved": settings.account_unreserved,
        },
        "prices": {"as_of": cost.PRICES.as_of, "region": cost.PRICES.region, "month_days": 30},
        "none_cold_starts": none_cold_starts,
        "policies": policies,
        "pareto_frontier": frontier(policies),
        "wall_s": round(wall_s, 3),
    }


def write_json(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=False, allow_nan=False) + "\n", encoding="utf-8")


def _pct(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{100.0 * value:.2f}%" if value >= 0.001 or value == 0 else f"{100.0 * value:.3f}%"


def _usd(value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:,.0f}" if value >= 10 else f"${value:.2f}"


def _count(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    return f"{value / 1e3:.1f}k" if value >= 1e4 else f"{value:,.0f}"


HEADERS = ("policy", "cold", "rate", "ref", "$/mo", "as ref", "ref $", "pings", "inits", "avoid/$")


def rows(doc: dict[str, Any]) -> list[list[str]]:
    best = set(doc["pareto_frontier"])
    out: list[list[str]] = []
    for name, p in doc["policies"].items():
        anchor = p.get("anchor") or {}
        avoided = p["cold_starts_avoided_per_usd"]
        out.append([
            f"*{name}" if name in best else name,
            _count(p["cold_starts"]), _pct(p["cold_start_rate"]), _pct(anchor.get("cold_start_rate")),
            _usd(p["cost_usd_month"]["total"]), _usd(p["anchor_basis_usd_month"]), _usd(anchor.get("usd_month")),
            _count(p["warm_pings"]), _count(p["warming_inits"]), "—" if avoided is None else _count(avoided),
        ])
    return out


def table(doc: dict[str, Any]) -> Table:
    trace = doc["trace"]
    title = (f"{trace['functions']:,} functions x {trace['minutes'] / 60:.0f} h, {trace['invocations']:,} requests; "
             f"$ per 30-day month, {doc['settings']['workflow']} workflow")
    grid = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                 padding=0)
    body = rows(doc)
    for index, name in enumerate(HEADERS):
        width = max(len(name), *(len(row[index]) for row in body)) if body else len(name)
        grid.add_column(name, justify="left" if index == 0 else "right", no_wrap=True, min_width=width)
    for row in body:
        grid.add_row(*row)
    return grid


def print_report(doc: dict[str, Any], console: Console) -> None:
    console.print(table(doc), highlight=False)
    console.print(f"[dim]* = on the Pareto frontier (nothing else is cheaper with fewer cold starts). ref = DESIGN §7 "
                  f"anchors; as ref = costed like the anchors (pings + inits + Standard with one Map iteration per "
                  f"warmed function per tick). avoid/$ = cold starts avoided vs none per dollar. "
                  f"Prices {doc['prices']['as_of']} {doc['prices']['region']}; wall {doc['wall_s']:.1f} s.[/]",
                  highlight=False)
    thermo = doc["policies"].get("thermostat")
    if thermo:
        parts = ", ".join(f"{k} {_usd(v)}" for k, v in thermo["cost_usd_month"].items()
                          if v and k not in ("total", "orchestration"))
        console.print(f"[dim]thermostat cost parts per month: {parts}[/]", highlight=False)
