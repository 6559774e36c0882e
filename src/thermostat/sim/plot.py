"""``--plot``: cold-start rate versus monthly cost, one labelled point per policy, log-x, Pareto frontier.

A $0 policy (``none``) cannot sit on a log axis: it is drawn at the left edge, labelled "$0".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot(doc: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    policies: dict[str, Any] = doc["policies"]
    costs = {name: p["cost_usd_month"]["total"] for name, p in policies.items()}
    positive = [c for c in costs.values() if c > 0]
    floor = (min(positive) / 4.0) if positive else 1.0
    xs = {name: (c if c > 0 else floor) for name, c in costs.items()}
    ys = {name: 100.0 * p["cold_start_rate"] for name, p in policies.items()}
    best = doc["pareto_frontier"]

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    ax.set_xscale("log")
    if len(best) > 1:
        fx, fy = [xs[n] for n in best], [ys[n] for n in best]
        ax.step(fx, fy, where="post", color="tab:green", alpha=0.5, linewidth=1.5, label="Pareto frontier")
    for kind, color in (("fixed", "tab:blue"), ("thermostat", "tab:red")):
        family = sorted((n for n, p in policies.items() if p["kind"] == kind), key=lambda n: xs[n])
        if len(family) > 1:  # fixed:1..64 and thermostat at several prices trace curves
            ax.plot([xs[n] for n in family], [ys[n] for n in family], color=color, alpha=0.6, linewidth=1,
                    label="fixed:N" if kind == "fixed" else "thermostat at several prices per cold start")
    fixed_names = [n for n, p in policies.items() if p["kind"] == "fixed"]
    labelled = set(fixed_names if len(fixed_names) <= 8 else
                   [n for n in fixed_names if policies[n].get("kind") == "fixed" and _power_of_two(n)])
    for name, p in policies.items():
        on_frontier = name in best
        thermostat = p["kind"] == "thermostat"
        ax.scatter(xs[name], ys[name], s=140 if thermostat else (60 if on_frontier else 30), zorder=4,
                   color="tab:red" if thermostat else ("tab:green" if on_frontier else "tab:gray"),
                   marker="*" if thermostat else "o", edgecolors="black", linewidths=0.5)
        if p["kind"] != "fixed" or name in labelled:
            label = f"{name}\n$0" if costs[name] <= 0 else f"{name}\n${costs[name]:,.2f}"
            ax.annotate(label, (xs[name], ys[name]), textcoords="offset points", xytext=(6, 6), fontsize=7)
    trace = doc["trace"]
    ax.set_xlabel(f"warming cost, USD per 30-day month (log; {doc['settings']['workflow']} workflow)")
    ax.set_ylabel("cold-start rate (% of requests)")
    ax.set_title(f"Cold starts vs cost — {trace['functions']:,} functions, {trace['minutes'] / 60:.0f} h, "
                 f"{trace['invocations']:,} requests", fontsize=10)
    top = max(ys.values(), default=1.0) or 1.0
    ax.set_ylim(-0.04 * top, 1.12 * top)
    if any(c <= 0 for c in costs.values()):
        ax.text(0.01, 0.01, "$0 policies are drawn at the left edge", transform=ax.transAxes, fontsize=7,
                color="gray")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _power_of_two(name: str) -> bool:
    n = int(name.split(":")[1])
    return n & (n - 1) == 0
