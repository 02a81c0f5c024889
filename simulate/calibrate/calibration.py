"""What a CRM export says about last year: the estimates, last year's bookings by segment,
product and region, and the defaults the calibrated plan had to fall back to."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ..plan.plan import Market
from .plan_yaml import BASELINE

if TYPE_CHECKING:
    from .estimates import Estimates


class Calibration:
    """The plan a CRM export implies, written as commented YAML, and last year's review."""

    def __init__(self, est: Estimates, name: str, target: float | None = None,
                 budget: float | None = None, market: Market | None = None):
        self.est, self.ex = est, est.export
        self.name, self.target, self.budget, self.market = name, target, budget, market
        self.defaults: list[str] = []            # what fell back to a default, for the review
        self.plan_text: str | None = None        # the plan, once written
        self.values = est.deal_values()
        self.last = (self.ex.as_of - dt.timedelta(days=364), self.ex.as_of)
        prev = (self.ex.as_of - dt.timedelta(days=729), self.ex.as_of - dt.timedelta(days=365))
        self.previous = prev if self.ex.start <= prev[0] + dt.timedelta(days=15) else None
        self.kinds = {s: "key_accounts" if any(r.segment == s for r in self.ex.renewals) else "new_logo"
                      for s in est.segments}
        fed = set(est.channel_segment.values())       # a funnel needs a channel feeding it leads
        self.segments = [s for s in est.segments if self.kinds[s] == "key_accounts" or s in fed]

    # -- last year's bookings, for the review and the defaults ----------------------------
    def bookings(self) -> list[tuple[dt.date, float, str, str, str]]:
        """(date, value, segment, product, region): won deals and renewed contracts."""
        region = {r.name: r.region for r in self.ex.reps}
        out = [(d.closed, d.amount, d.segment, d.product, d.region or region.get(d.rep or "") or "unknown")
               for d in self.ex.deals if d.outcome == "won" and d.closed and d.amount]
        out += [(r.renewal_date, r.contract_value, r.segment, r.product,
                 r.region or region.get(r.rep or "") or "unknown") for r in self.ex.renewals if r.renewed]
        return out

    def by_axis(self, axis: int, period: tuple[dt.date, dt.date] | None) -> dict[str, float]:
        totals: dict[str, float] = {}
        if period is None:
            return totals
        for b in self.bookings():
            if period[0] <= b[0] <= period[1]:
                totals[b[axis]] = totals.get(b[axis], 0.0) + b[1]
        return totals

    def default(self, what: str, why: str) -> str:
        self.defaults.append(f"{what}: {why}")
        return f"{BASELINE}: {why}"
