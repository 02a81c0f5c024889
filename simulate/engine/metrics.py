"""What a manager can observe at a review: the metrics that playbook conditions read.

Each metric is computed from the ledger, the team and the market conditions at the
moment of the review, never from the future. Only the metrics a playbook actually uses
are computed (a weekly review with two rules costs two small sums, not forty).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

from ..plan.conditions import TARGET_METRICS, Terms
from .ledger import K

if TYPE_CHECKING:
    from .world import World


class Observed(Protocol):
    """What a review sees of the year: its world, and the last week closed."""

    world: "World"
    week_index: int


WINDOW_WEEKS = 4


def _share(stage: int) -> Callable[["Observed"], float]:
    def share(year: "Observed") -> float:
        total = sum(year.world.ledger.open)
        return year.world.ledger.open[stage] / total if total else 0.0
    return share


def _conversion(stage: str) -> Callable[["Observed"], float]:
    def conversion(year: "Observed") -> float:
        kpi = year.world.ledger.kpi
        rows = kpi[max(0, year.week_index - WINDOW_WEEKS + 1): year.week_index + 1]
        exited = rows[:, K[f"exited_{stage}"]].sum()
        return float(rows[:, K[f"advanced_{stage}"]].sum() / exited) if exited else 0.0
    return conversion


def target_to_date(year: "Observed") -> float:
    """The target path: the annual target spread by the quarter split (even if none)."""
    target = year.world.plan.target
    day = year.world.env.now
    if not target.by_quarter:
        return target.annual * min(1.0, day / year.world.horizon)
    done, quarter_days = 0.0, 365.0 / 4
    for q, share in sorted(target.by_quarter.items()):
        start = (int(q[1]) - 1) * quarter_days
        done += share * min(1.0, max(0.0, (day - start) / quarter_days))
    return target.annual * done


def collection_rate(year: "Observed") -> float:
    """Value collected / value invoiced long enough ago to be due (by the mean delay)."""
    now = year.world.env.now
    due_by = now - year.world.plan.collections.delay.mean
    due = [b for b in year.world.ledger.bookings if b.delivered_day <= due_by]
    total = sum(b.value for b in due)
    return sum(b.value for b in due if b.collected_day <= now) / total if total else 1.0


def _last_week(column: str) -> Callable[["Observed"], float]:
    return lambda y: float(y.world.ledger.kpi[y.week_index, K[column]])


OBSERVE: dict[str, Callable[["Observed"], float]] = {
    "day": lambda y: y.world.env.now,
    "week": lambda y: y.week_index + 1.0,
    "month": lambda y: float(y.world.month_of(max(0.0, y.world.env.now - 1e-9)) + 1),
    "quarter": lambda y: float(min(3, int(max(0.0, y.world.env.now - 1e-9) % 365 // 91.25)) + 1),
    "bookings_to_date": lambda y: y.world.ledger.bookings_total,
    "target_to_date": target_to_date,
    "attainment_to_date": lambda y: y.world.ledger.bookings_total / max(1e-9, target_to_date(y)),
    "attainment": lambda y: y.world.ledger.bookings_total / y.world.plan.target.annual,
    "behind_plan": lambda y: 1.0 - y.world.ledger.bookings_total / max(1e-9, target_to_date(y)),
    "weekly_bookings": _last_week("bookings_week"),
    "weekly_bookings_vs_plan": lambda y: float(y.world.ledger.kpi[y.week_index, K["bookings_week"]])
    / (y.world.plan.target.annual / 52.0),
    "open_lead": lambda y: float(y.world.ledger.open[0]),
    "open_intent": lambda y: float(y.world.ledger.open[1]),
    "open_negotiation": lambda y: float(y.world.ledger.open[2]),
    "pipeline": lambda y: float(sum(y.world.ledger.open)),
    "share_lead": _share(0),
    "share_intent": _share(1),
    "share_negotiation": _share(2),
    "conversion_lead": _conversion("lead"),
    "conversion_intent": _conversion("intent"),
    "conversion_negotiation": _conversion("negotiation"),
    "visits_week": lambda y: float(sum((y.world.ledger.kpi[y.week_index, K[c]]
                                        for c in ("visits_ka", "visits_new_logo", "visits_winback")), 0.0)),
    "visits_ka_week": _last_week("visits_ka"),
    "collection_rate": collection_rate,
    "headcount": lambda y: float(y.world.team.headcount()),
    "vacancies": lambda y: float(y.vacancies),
    "ramping": lambda y: float(y.world.team.ramping()),
    "reps_left": lambda y: float(y.world.ledger.counts["reps_left"]),
    "ka_renewal_rate": lambda y: (y.world.ledger.counts["ka_renewed"] / y.world.ledger.counts["ka_due"]
                                  if y.world.ledger.counts["ka_due"] else 1.0),
    "competitor_price_cut": lambda y: y.world.conditions.get("competitor_price_cut", 0.0),
    "supplier_delay_days": lambda y: y.world.conditions.get("supplier_delay_days", 0.0),
    "budget_cut": lambda y: y.world.conditions.get("budget_cut", 0.0),
    "policy_demand_lost": lambda y: max((1.0 - y.world.industry_factor(s) for s in y.world.plan.segments), default=0.0),
    "budget_spent": lambda y: y.world.ledger.money["marketing_spent"] + y.world.ledger.money["rule_costs_budget"],
    "budget_left": lambda y: y.world.budget_left(),
}


def observe(year: "Observed", names: frozenset[str]) -> dict[str, float]:
    """The values of the metrics named, now."""
    return {n: OBSERVE[n](year) for n in names}


def target_terms(year: "Observed", values: dict[str, float]) -> dict[str, Terms]:
    """How each target-reading metric in `values` would read had the target been s times
    larger, all else equal: a + b*s + c/s. (A target path still at zero, at the very start,
    reads the same at any target.)"""
    names = TARGET_METRICS.intersection(values)
    if not names:
        return {}
    path = values["target_to_date"] if "target_to_date" in names else target_to_date(year)
    terms: dict[str, Terms] = {}
    for name in names:
        v = values[name]
        if name == "target_to_date":
            terms[name] = (0.0, v, 0.0)
        elif name in ("attainment", "weekly_bookings_vs_plan"):      # over the annual target
            terms[name] = (0.0, 0.0, v)
        elif path <= 0:                                             # the path is still at zero
            terms[name] = (v, 0.0, 0.0)
        elif name == "attainment_to_date":
            terms[name] = (0.0, 0.0, v)
        else:                                   # behind_plan; not v - 1: no cancellation
            terms[name] = (1.0, 0.0, -year.world.ledger.bookings_total / path)
    return terms
