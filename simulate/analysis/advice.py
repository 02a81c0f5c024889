"""From the confirmed candidates of `advise` to one recommendation, and the cost front.

The search ranks lever sets on a few hundred years each; the candidates it keeps are then
played again on fresh seeds, all on the same years (common random numbers), and chosen here:

- to clear the bar: the cheapest candidate whose every check passes (P(hit) at least the bar,
  as `signoff` judges it); ties in cost go to the higher P(hit);
- within a budget: the candidate with the highest P(hit) on the plan, or a cheaper one that
  is not significantly worse (its paired difference with the best, Bonett-Price on the years
  they share, Bonferroni-corrected for the comparisons made, includes zero).

Every candidate's paired difference from the recommendation is reported the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ..stats.paired import paired_proportion
from ..stats.sample_stats import TOLERANCE, wilson

LEVEL = 0.95


@dataclass
class Candidate:
    """A lever set played on the confirmation years: hits per year for each check."""

    name: str
    levers: dict[str, float]
    cost: float
    hits: dict[str, np.ndarray]           # check (the plan first, then each scenario) -> years hit
    required: dict[str, float]
    search_p_hit: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)

    def p(self, check: str) -> float:
        return float(np.mean(self.hits[check])) if len(self.hits[check]) else math.nan

    @property
    def plan(self) -> str:
        return next(iter(self.hits))

    def passes(self, check: str) -> bool:
        n = len(self.hits[check])
        return bool(n) and int(np.count_nonzero(self.hits[check])) >= self.required[check] * n - TOLERANCE * n

    @property
    def clears(self) -> bool:
        return all(self.passes(c) for c in self.hits)

    @property
    def slack(self) -> float:
        """How far the weakest check sits above (or below) its bar."""
        return min(self.p(c) - self.required[c] for c in self.hits)


def bonferroni_z(comparisons: int, level: float = LEVEL) -> float:
    """The normal quantile of a two-sided interval at `level` for each of several comparisons."""
    return float(stats.norm.ppf(1 - (1 - level) / (2 * max(1, comparisons))))


def select(candidates: list[Candidate], budget: float | None) -> tuple[Candidate, dict[str, Any]]:
    """The recommendation, and how it was chosen."""
    z = bonferroni_z(len(candidates) - 1)
    if budget is None:
        passing = [c for c in candidates if c.clears]
        if passing:
            best = min(passing, key=lambda c: (c.cost, -c.p(c.plan)))
            return best, {"rule": "the cheapest candidate that clears the bar", "cleared": True}
        best = max(candidates, key=lambda c: (c.slack, -c.cost))
        return best, {"rule": "no candidate clears the bar: the one closest to it", "cleared": False}
    within = [c for c in candidates if c.cost <= budget + TOLERANCE] or candidates
    top = max(within, key=lambda c: (c.p(c.plan), -c.cost))
    level = 1 - (1 - LEVEL) / max(1, len(candidates) - 1)
    as_good = [c for c in within if c is top or paired_proportion(
        top.hits[top.plan], c.hits[c.plan], z)[1][0] <= 0]
    best = min(as_good, key=lambda c: (c.cost, -c.p(c.plan)))
    return best, {"rule": (f"the cheapest candidate within the budget whose P(hit) is not significantly "
                           f"below the best's (paired, {level:.1%} each, Bonferroni)"),
                  "cleared": best.clears}


def describe(c: Candidate, best: Candidate, comparisons: int) -> dict[str, Any]:
    """One confirmed candidate as the summary shows it, with its paired difference from the
    recommendation on the plan (Bonferroni-corrected)."""
    checks = list(c.hits)
    plan = c.plan
    n = len(c.hits[plan])
    diff, ci = paired_proportion(c.hits[plan], best.hits[plan], bonferroni_z(comparisons))
    return {"name": c.name, "levers": c.levers, "cost": c.cost, "runs": n,
            "p_hit": c.p(plan), "p_hit_ci95": list(wilson(int(np.count_nonzero(c.hits[plan])), n)),
            "stress": {s: {"p_hit": c.p(s), "p_hit_ci95": list(wilson(int(np.count_nonzero(c.hits[s])),
                                                                            len(c.hits[s]))),
                           "required": c.required[s], "passes": c.passes(s)} for s in checks[1:]},
            "passes": c.clears, "search_p_hit": c.search_p_hit,
            "p_hit_diff": diff if c is not best else 0.0,
            "p_hit_diff_ci": list(ci) if c is not best else [0.0, 0.0], **c.extra}


def frontier(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cost against P(hit) front: each point that no cheaper (or equally cheap) point
    matches in P(hit), cheapest first."""
    front: list[dict[str, Any]] = []
    for p in sorted(points, key=lambda p: (p["cost"], -p["p_hit"])):
        if not front or p["p_hit"] > front[-1]["p_hit"] + TOLERANCE:
            front.append(p)
    return front
