"""What a CRM export says about last year: the estimates, last year's bookings by segment,
product and region, and the defaults the calibrated plan had to fall back to."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from ..plan.plan import Market
from .plan_yaml import BASELINE, DEFAULT_STAGES, VISITS_PER_WEEK

BUSY_WEEK = 90          # capacity must cover a rep's 90th-percentile week of the export
MIN_WEEKS = 8           # reps active fewer weeks than this do not set the effort

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
        self.effort_scale, self.effort_note = self._effort()

    def _effort(self) -> tuple[float, str]:
        """The export has no visits: the reference plan's rep effort per stage, scaled so that
        every rep's busy week (the 90th percentile of the visits their deals asked for) fits
        into VISITS_PER_WEEK, i.e. capacity binds no more than the data shows (never scaled up)."""
        loads = {r: w for r, w in self.est.rep_load(lambda s: [st[3] for st in DEFAULT_STAGES[self.kinds[s]]]).items()
                 if w.size >= MIN_WEEKS}
        if not loads:
            return 0.0, ("rep effort: the export names no rep active for 8 weeks or more, so it cannot show "
                         "capacity binding: effort 0 (reps never limit the funnel)")
        busy = {r: float(np.percentile(w, BUSY_WEEK)) for r, w in loads.items()}
        rep = max(busy, key=busy.__getitem__)
        scale = min(1.0, VISITS_PER_WEEK / busy[rep]) if busy[rep] > 0 else 1.0
        return scale, (f"rep effort inferred from throughput (the export has no visits): in the busiest rep's "
                       f"({rep}) 90th-percentile week, their deals asked for {busy[rep]:.1f} visits at the reference "
                       f"plan's effort per stage, against {VISITS_PER_WEEK:g} visits a week; every stage's effort is "
                       f"the reference's x {scale:.3g}, so capacity binds no more than the data shows")

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
