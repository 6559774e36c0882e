"""The replay's document (``--json``; keys in docs/simulate.md) and its terminal table (rich)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from thermostat import cost
from thermostat.sim.policies import SimSettings
from thermostat.sim.results import SCHEMA, comparisons, frontier
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
            "price_per_cold_start": settings.price_per_cold_start, "use_statsmodels": settings.use_statsmodels,
            "metric_read_hours": settings.metric_read_hours, "horizon_minutes": settings.forecast.horizon_minutes,
            "budget_share": settings.plan.budget_share, "max_batch_size": settings.plan.max_batch_size,
            "min_warm": settings.discovery.min_warm, "max_warm": settings.discovery.max_warm,
            "score_window_minutes": [settings.score_from_minute,
                                     settings.score_to_minute if settings.score_to_minute is not None
                                     else trace.minutes],
            "account_unreserved": settings.account_unreserved,
            "hours": settings.hours,
        },
        "prices": {"as_of": cost.PRICES.as_of, "region": cost.PRICES.region, "month_days": 30},
        "none_cold_starts": none_cold_starts,
        "policies": policies,
        "pareto_frontier": frontier(policies),
        "comparisons": comparisons(policies),
        "wall_s": round(wall_s, 3),
    }


def json_text(doc: dict[str, Any]) -> str:
    """The document as ``--json`` writes it (strict JSON: a NaN or infinity is an error, not written)."""
    return json.dumps(doc, indent=2, sort_keys=False, allow_nan=False) + "\n"


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


HEADERS = ("policy", "cold", "rate", "vs none", "$/month", "overhead", "pings", "inits", "avoid/$")


def rows(doc: dict[str, Any]) -> list[list[str]]:
    best = set(doc["pareto_frontier"])
    none = doc["none_cold_starts"]
    out: list[list[str]] = []
    for name, p in doc["policies"].items():
        avoided = p["cold_starts_avoided_per_usd"]
        fewer = "—" if not none or name == "none" else f"-{100.0 * (1 - p['cold_starts'] / none):.1f}%"
        out.append([
            f"*{name}" if name in best else name,
            _count(p["cold_starts"]), _pct(p["cold_start_rate"]), fewer, _usd(p["cost_usd_month"]["total"]),
            _usd(p["cost_usd_month"]["overhead"]) if p["cost_usd_month"]["overhead"] else "—",
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
    window = doc["settings"]["score_window_minutes"]
    scored = "" if window == [0, doc["trace"]["minutes"]] else f" Scored: minutes {window[0]}-{window[1]}."
    console.print(f"[dim]* = on the Pareto frontier (nothing else is cheaper with fewer cold starts). overhead = "
                  f"everything that is not a ping (orchestration, workflow Lambdas, S3, CloudWatch reads). avoid/$ = "
                  f"cold starts avoided vs none per dollar. Prices {doc['prices']['as_of']} "
                  f"{doc['prices']['region']}.{scored} Wall {doc['wall_s']:.1f} s.[/]", highlight=False)
    for name, c in doc["comparisons"].items():
        console.print(comparison_text(name, c), highlight=False)


def comparison_text(name: str, c: dict[str, Any]) -> str:
    lines = [f"[bold]{name}[/] ${c['cost_usd_month']:.2f}/month:"]
    if "fewer_than_none" in c:
        lines.append(f"  {100 * c['fewer_than_none']:.1f}% fewer cold starts than none "
                     f"({100 * c['fewer_than_none_after_first_hour']:.1f}% after the first hour, "
                     f"{100 * c['fewer_than_none_without_worst_function']:.1f}% without the worst function)")
    if c.get("best_fixed_costing_no_more"):
        share = c["share_of_its_cold_starts"]
        lines.append(f"  the best fixed warmer costing no more is {c['best_fixed_costing_no_more']}: thermostat has "
                     + ("no cold starts it has" if share is None else f"{100 * share:.0f}% of its cold starts"))
    if c.get("times_oracle") is not None:
        lines.append(f"  {c['times_oracle']:.2f}x the oracle's cold starts")
    if c.get("overhead_over_pings") is not None:
        lines.append(f"  overhead ${c['overhead_usd_month']:.2f} = {c['overhead_over_pings']:.2f}x its pings "
                     f"(${c['pings_usd_month']:.2f}); {c['overhead_over_pings_other_workflow']:.2f}x with the other "
                     f"workflow type; GetMetricData ${c['get_metric_data_usd_per_target_month']:.4f} per target")
    return "\n".join(lines)
