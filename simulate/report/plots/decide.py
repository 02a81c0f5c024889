"""The charts of the decision commands: plan variants, the tornado, the stress matrix and
the cost against P(hit) front of `advise`.

Like every chart of the report, each title states the finding, computed from the same numbers
the tables show: which variant changes P(hit) beyond noise (its 95 % interval excludes zero),
which factor moves P(hit) most, which scenario is each variant's weakest.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.patches import Patch, Rectangle

from ...format import level, money_short
from ...words import say, term
from ..view import RunView
from .charts import BLUE, GREY, LIGHT, MISS, MONEY, PERCENT, RED, Plot

# P(hit): red where the target is likely missed, amber at a coin flip, green where it is safe.
ODDS = LinearSegmentedColormap.from_list("odds", ["#c0392b", "#f0b27a", "#f7f2d0", "#a9d8b8",
                                                  "#2e7d4f"])


def significance(ci: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which 95 % intervals lie wholly above zero (clear gains) and wholly below (clear losses)."""
    return ci[:, 0] > 0, ci[:, 1] < 0


def signed(x: float) -> str:
    """Points with their sign, minus as a real minus: +8, −53."""
    return f"{x:+.0f}".replace("-", "\u2212")


def comparison_title(names: list[str], diffs: np.ndarray, ci: np.ndarray, plan: str) -> str:
    """The finding: the variants whose change in P(hit) is beyond noise (95 % CI excludes 0):
    the best gain and the worst loss, each with its interval; else that none is."""
    up, down = significance(ci)

    def said(i: int, others: int) -> str:
        also = say("cmp.also1") if others == 1 else say("cmp.also_n", n=others) if others else ""
        return say("cmp.said", d=signed(diffs[i]), lo=signed(ci[i, 0]), hi=signed(ci[i, 1]), also=also)

    if not up.any() and not down.any():
        return say("cmp.none", plan=plan)
    if up.any():
        best = int(np.argmax(np.where(up, diffs, -np.inf)))
        first = say("cmp.up", name=names[best], said=said(best, int(up.sum()) - 1))
    else:
        first = say("cmp.no_up", plan=plan)
    if not down.any():
        return first
    worst = int(np.argmin(np.where(down, diffs, np.inf)))
    what = say("cmp.it") if up.any() else say("mx.colour")
    return say("cmp.down", first=first, name=names[worst], what=what, said=said(worst, int(down.sum()) - 1))


def comparison(view: RunView) -> Plot | None:
    """Plan variants against the headline plan: the paired change in P(hit), with its CI."""
    comps = view.summary.get("comparisons") or {}
    if not comps:
        return None
    names = list(comps)
    diffs = np.array([100 * comps[n]["p_hit_diff"] for n in names])
    ci = np.array([[100 * c for c in comps[n]["p_hit_diff_ci95"]] for n in names])
    up, down = significance(ci)
    fig, ax = plt.subplots(figsize=(9, 1.9 + 0.6 * len(names)))
    y = np.arange(len(names))[::-1]
    colours = [BLUE if u else RED if d else (MISS if x < 0 else LIGHT)
               for u, d, x in zip(up, down, diffs, strict=True)]
    ax.barh(y, diffs, color=colours)
    ax.errorbar(diffs, y, xerr=[diffs - ci[:, 0], ci[:, 1] - diffs], fmt="none", ecolor="black",
                capsize=4)
    ax.axvline(0, color=GREY, linewidth=1.5)
    for yi, n, d, hi in zip(y, names, diffs, ci[:, 1], strict=True):
        ax.annotate(say("cmp.bar", p=f"{100 * comps[n]['p_hit']:.0f} %", d=f"{d:+.1f}"), (max(hi, 0), yi),
                    xytext=(8, 0), textcoords="offset points", va="center", fontsize=9.5)
    ax.margins(x=0.25)
    ax.set_yticks(y, names)
    base, plan = 100 * view.summary["variants"][view.headline]["p_hit"], view.headline
    ax.set_xlabel(say("cmp.x", plan=plan, base=f"{base:.0f} %"))
    fig.legend(handles=[Patch(color=BLUE, label=say("cmp.gain")), Patch(color=RED, label=say("cmp.loss")),
                        Patch(color=LIGHT, label=say("cmp.noise"))],
               loc="outside lower center", ncol=3, frameon=False, fontsize=9)
    return Plot("variants", comparison_title(names, diffs, ci, plan), fig)


def tornado(view: RunView) -> Plot | None:
    """One-at-a-time sensitivity: P(hit) with each factor at its low and its high value."""
    factors = (view.summary.get("sensitivity") or {}).get("factors") or []
    if not factors:
        return None
    base = 100 * view.summary["variants"][view.headline]["p_hit"]
    factors = factors[::-1]     # the summary ranks by swing (ties: median swing); the top bar goes last
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.55 * len(factors)))
    y = np.arange(len(factors))
    for key, colour, label in (("p_hit_low", MISS, say("tor.low")), ("p_hit_high", BLUE, say("tor.high"))):
        ax.barh(y, np.array([100 * f[key] for f in factors]) - base, left=base, color=colour,
                height=0.6, label=label)
    ax.axvline(base, color="black", linewidth=1.2)
    ax.set_yticks(y, [f"{term('factor', f['name'])}\n({level(f, 'low')} → {level(f, 'high')})" for f in factors])
    top = factors[-1]
    title = say("tor.title", name=term("factor", top["name"]), lo=f"{100 * top['p_hit_low']:.0f} %",
                hi=f"{100 * top['p_hit_high']:.0f} %", base=f"{base:.0f} %")
    ax.set_xlabel(say("tor.x"))
    ax.xaxis.set_major_formatter(PERCENT)
    fig.legend(loc="outside lower center", ncol=2, frameon=False, fontsize=9)   # under the axes, no gap
    return Plot("sensitivity", title, fig)


def matrix_title(matrix: dict) -> str:
    """Which scenario is weakest, for how many variants, and how low P(hit) falls there."""
    weakest = {v: s for v, s in (matrix.get("weakest") or {}).items() if s}
    if not weakest:
        return say("mx.none")
    (scenario, count), = Counter(weakest.values()).most_common(1)
    cells = matrix["variants"]
    there = [100 * cells[v][scenario]["p_hit"] for v, s in weakest.items() if s == scenario]
    lo, hi = min(there), max(there)
    odds = say("mx.one_odds", p=f"{lo:.0f} %") if round(lo) == round(hi) else \
        say("mx.odds", lo=f"{lo:.0f}", hi=f"{hi:.0f} %")
    who = say("mx.every") if count == len(cells) else say("mx.some", n=count, total=len(cells))
    return say("mx.title", scenario=scenario, who=who, odds=odds)


def stress_heatmap(view: RunView) -> Plot | None:
    """Variants (rows) x scenarios (columns), coloured by P(hit); the weakest cells framed."""
    m = view.summary.get("matrix") or {}
    if not m.get("variants"):
        return None
    variants, scenarios = list(m["variants"]), list(m["scenarios"])
    p = np.array([[m["variants"][v].get(s, {}).get("p_hit", np.nan) for s in scenarios]
                  for v in variants], dtype=float) * 100
    fig, ax = plt.subplots(figsize=(min(13, max(9, 3.2 + 1.9 * len(scenarios))),
                                    2.2 + 0.75 * len(variants)))
    image = ax.imshow(p, cmap=ODDS, vmin=0, vmax=100, aspect="auto")
    ax.grid(False)
    for i, v in enumerate(variants):
        for j, s in enumerate(scenarios):
            c = m["variants"][v].get(s)
            if c is None:
                continue
            r, g, b, _ = ODDS(p[i, j] / 100)
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5     # white text on dark cells only
            ax.text(j, i, f"{p[i, j]:.0f} %\nP10 {100 * c['attainment_p10']:.0f} %", ha="center",
                    va="center", fontsize=10, color="white" if dark else "black")
        if (s := (m.get("weakest") or {}).get(v)) in scenarios:
            ax.add_patch(Rectangle((scenarios.index(s) - 0.5, i - 0.5), 1, 1, fill=False,
                                   edgecolor="black", linewidth=3))
    ax.set_xticks(range(len(scenarios)),
                  [f"{s}\n{say('mx.no_stress')}" if s == m.get("baseline") else s for s in scenarios])
    ax.set_yticks(range(len(variants)), variants)
    ax.tick_params(axis="x", top=True, bottom=False, labeltop=True, labelbottom=False)
    ax.set_xlabel(say("mx.x"))
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label(say("mx.colour"))
    bar.ax.yaxis.set_major_formatter(PERCENT)
    return Plot("stress_matrix", matrix_title(m), fig)


def frontier(view: RunView) -> Plot | None:
    """`advise`: what money buys in P(hit), the front of the lever sets tried (search years),
    the confirmed candidates with their intervals, the bar and the recommendation."""
    advice = view.summary.get("advice") or {}
    front = advice.get("frontier") or []
    if not front:
        return None
    fig, ax = plt.subplots(figsize=(9, 5))
    ax.step([f["cost"] for f in front], [100 * f["p_hit"] for f in front], where="post", color=LIGHT,
            linewidth=2, marker="o", label=say("adv.front"))
    for c in advice.get("candidates") or []:
        p, (lo, hi) = 100 * c["p_hit"], (100 * x for x in c["p_hit_ci95"])
        ax.errorbar([c["cost"]], [p], yerr=[[p - lo], [hi - p]],
                    fmt="s", color=BLUE if c["passes"] else MISS, capsize=4)
    rec, bar = advice["recommended"], 100 * advice["bar"]["confidence"]
    ax.axhline(bar, color=RED, linewidth=1.5, linestyle="--", label=say("adv.bar", bar=f"{bar:.0f} %"))
    ax.plot([rec["cost"]], [100 * rec["p_hit"]], marker="*", markersize=18, color=BLUE, linestyle="none",
            label=say("adv.rec"))
    ax.set_xlabel(say("adv.x"))
    ax.xaxis.set_major_formatter(MONEY)
    ax.set_ylabel(say("adv.y"))
    ax.yaxis.set_major_formatter(PERCENT)
    ax.legend(loc="lower right", frameon=False, fontsize=9)
    p = f"{100 * rec['p_hit']:.0f} %"
    title = (say("adv.title_clears" if rec["passes"] else "adv.title_closest", cost=money_short(rec["cost"]), p=p)
             if advice.get("budget") is None else
             say("adv.title_budget", budget=money_short(advice["budget"]), p=p, cost=money_short(rec["cost"])))
    return Plot("advice_frontier", title, fig)


DECIDE_PLOTS: tuple[Callable[[RunView], Plot | None], ...] = (comparison, tornado, stress_heatmap, frontier)
