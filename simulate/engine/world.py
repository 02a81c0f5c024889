"""What one replication shares: the clock, the plan, the levers, the team, the ledger and
the streams. Every flow of the year holds the `World`; none of them needs the others."""

from __future__ import annotations

import math
from typing import Callable

import simpy

from ..plan.plan import Plan, Segment
from .clock import NORMAL, Call
from .ledger import Booking, Ledger, Trace
from .levers import Levers
from .streams import Draws, Uniforms, replication_seed, stream
from .team import RepState, Team

MONTH_DAYS = 365.0 / 12


class World:
    """Everything one replication shares: clock, plan, levers, team, ledger, streams."""

    def __init__(self, plan: Plan, seed: int, replication: int, levers: Levers | None = None,
                 trace: bool = False):
        self.plan = plan
        # a re-forecast starts the day after as_of: the export already holds that day's bookings
        start = 0.0 if plan.opening is None else float((plan.opening.as_of - plan.horizon.start).days + 1)
        self.env = simpy.Environment(initial_time=start)
        self._schedule = self.env.schedule
        self.root = replication_seed(seed, replication)
        self.levers = levers or Levers()
        self.horizon = plan.horizon.days
        self.ledger = Ledger(plan, self.horizon)
        if trace:
            self.ledger.trace = Trace()
        self.events = 0
        self.segment_index = {s.name: i for i, s in enumerate(plan.segments)}
        self.product_names = [p.name for p in plan.products]
        self.region_index = {r: i for i, r in enumerate(plan.regions)}
        self.team = Team(self.env, [s.name for s in plan.segments], lambda: self.levers.visits_scale)
        self._money = Uniforms(stream(self.root, "collections"))
        self._collection_delay = Draws(plan.collections.delay, stream(self.root, "collection-delay"))
        self._delivery = [Draws(p.delivery_days, stream(self.root, f"delivery/{p.name}"))
                          for p in plan.products]
        self.spend_paid_until = self.env.now     # marketing is paid a week ahead, see spend_marketing
        self.conditions: dict[str, float] = {}      # what a manager can observe of the market
        self.on_week: list[Callable[[int], None]] = []
        self.on_event: list[Callable[[str, dict], None]] = []

    def at(self, delay: float, action: Callable[[], None]) -> None:
        """Run `action` after `delay` days (one SimPy event, no process)."""
        self.events += 1
        self._schedule(Call(action), NORMAL, delay if delay > 0 else 0.0)

    def at_day(self, day: float, action: Callable[[], None]) -> None:
        """Run `action` on day `day` of the horizon (now, if that day has passed)."""
        self.at(day - self.env.now, action)

    def month_of(self, day: float) -> int:
        """The plan year's month of horizon day `day` (0-11, twelfths of 365 days from the
        start), as reviews and the `month` metric count them, like quarters and targets.
        Seasonality is the market's and follows calendar months instead (see season.py)."""
        return int(day // MONTH_DAYS) % 12

    def product_mix(self, segment: Segment) -> list[tuple[int, float]]:
        return [(self.product_names.index(p), w) for p, w in segment.mix.items() if w > 0]

    def delivery_days(self, product: int) -> float:
        """Days from signature to delivery: the product's own time, plus delays, within caps."""
        name = self.product_names[product]
        days = self._delivery[product]() + self.levers.delivery_extra_days.get(name, 0.0)
        return min(days, self.levers.delivery_cap_days.get(name, days))

    def industry_factor(self, segment: Segment) -> float:
        """Demand left in a segment after industry shocks: shares weighted by their levers."""
        if not segment.industries or not self.levers.industry_demand:
            return 1.0
        shares = segment.industries
        return 1.0 - sum(w * (1.0 - self.levers.industry_demand.get(i, 1.0)) for i, w in shares.items())

    def spend_share(self) -> float:
        """The share of the planned marketing spend the channels run at, at today's levers."""
        lev = self.levers
        share = sum(c.budget_share * lev.spend(c.name) for c in self.plan.channels) * lev.spend_scale
        return share * (1.0 - lev.spend_saved)

    def spend_marketing(self, days: float) -> None:
        """Charge the channels' spend for the coming `days` at today's spend levers."""
        self.ledger.money["marketing_spent"] += self.plan.marketing.budget * days / self.horizon * self.spend_share()
        self.spend_paid_until = self.env.now + days

    def budget_left(self) -> float:
        m = self.ledger.money
        return self.plan.marketing.budget - m["marketing_spent"] - m["rule_costs_budget"]

    def remaining_spend(self) -> float:
        """What the channels will still spend this horizon at today's levers."""
        # The current week's spend went out when the week opened: only later weeks can shrink.
        left = max(0.0, self.horizon - self.spend_paid_until)
        return self.plan.marketing.budget * left / self.horizon * self.spend_share()

    def shock_started(self, name: str, kind: str, size: float) -> None:
        self.ledger.shock_log.append((self.env.now, name, kind, size, "start"))
        for hook in self.on_event:
            hook("shock_started", {"shock": name, "type": kind, "size": size})

    def shock_ended(self, name: str, kind: str) -> None:
        self.ledger.shock_log.append((self.env.now, name, kind, 0.0, "end"))
        for hook in self.on_event:
            hook("shock_ended", {"shock": name, "type": kind})

    def record_booking(self, value: float, cost: float, segment: int, product: int,
                       rep: RepState | None, channel: int, delivery: float) -> None:
        """A deal is signed now: book it, schedule delivery and the invoice's collection."""
        now = self.env.now
        delivered = now + delivery
        collected = math.inf
        if self._money() < self.plan.collections.share:
            collected = delivered + self._collection_delay()
        if rep is not None and not rep.active:
            rep = None      # its rep has left and nobody has taken it over yet: unassigned
        region = self.region_index.get(rep.region, -1) if rep is not None and rep.region else -1
        self.ledger.book(Booking(now, value, value - cost, segment, product,
                                 rep.index if rep is not None else -1, channel, region,
                                 delivered, collected))
