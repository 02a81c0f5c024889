"""What each shock does to the simulated year: draws whether, when and how big, then moves
the levers. The shock specs (their parameters and checks) are in `plan.shocks`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..plan.shocks import FRACTION_SIZED, resolve_start
from .levers import LeverEdits
from .streams import stream

if TYPE_CHECKING:
    from .team import RepState
    from .world import World


class Staffing(Protocol):
    """What a shock needs of the year: its world, and the people who can leave it."""

    world: "World"

    def leave(self, rep: "RepState") -> None: ...

    def book_value(self, rep: "RepState") -> float: ...


class ShockRun:
    """One shock inside one replication: draws whether, when and how big, then acts."""

    def __init__(self, year: "Staffing", shock: Any, index: int):
        self.year, self.shock, self.world = year, shock, year.world
        # Keyed by the shock's name (and its rank among shocks of that name), not by its
        # position in the list: a variant that adds or drops another shock keeps this one's draws.
        same = sum(1 for s in self.world.plan.shocks[:index] if s.label() == shock.label())
        rng = stream(self.world.root, f"shock/{shock.label()}/{same}")
        u = rng.random(3)
        self.happens = bool(u[0] < shock.probability)
        self.start = resolve_start(shock.start, self.world.plan.horizon.start, self.world.horizon, float(u[1]))
        self.size = float(shock.size.sample(rng, 1)[0]) if hasattr(shock, "size") else 0.0
        if shock.type in FRACTION_SIZED:    # a cut is at most 100 %, even in an unbounded tail
            self.size = min(max(self.size, 0.0), 1.0)
        self.duration = float(shock.duration.sample(rng, 1)[0]) if shock.duration is not None else None
        self.edits = LeverEdits(self.world.levers)

    def schedule(self) -> None:
        if not self.happens or self.start >= self.world.horizon:
            return
        if self.duration is not None and self.start + self.duration <= self.world.env.now:
            return      # re-forecast: the shock came and went before today
        self.world.at_day(self.start, self._begin)
        if self.duration is not None:
            self.world.at_day(self.start + self.duration, self._end)

    def _begin(self) -> None:
        getattr(self, f"_{self.shock.type}")()
        self.world.shock_started(self.shock.label(), self.shock.type, self.size)

    def _end(self) -> None:
        self.edits.undo()
        self.world.shock_ended(self.shock.label(), self.shock.type)

    def _targets(self, segments: list[str], products: list[str]) -> list[tuple[str, str]]:
        plan = self.world.plan
        segs = segments or [s.name for s in plan.segments]
        prods = products or [p.name for p in plan.products]
        return [(s, p) for s in segs for p in prods]

    def _price_cut(self) -> None:
        s, lev, x = self.shock, self.world.levers, self.size
        for key in self._targets(s.segments, s.products):
            self.edits.scale(lev.win_rate, key, max(0.0, 1.0 - s.elasticity * x))
            self.edits.add(lev.stall_share, key, s.stall_share)
            self.edits.scale(lev.price, key, 1.0 - s.discount_ask * s.discount_match * x)
            self.edits.scale(lev.renewal, key, max(0.0, 1.0 - s.renewal_elasticity * x))
        self.edits.add(self.world.conditions, "competitor_price_cut", x)

    def _rep_leaves(self) -> None:
        team = self.world.team
        if self.shock.reps:
            leavers = [r for r in team.reps if r.name in self.shock.reps and r.active]
        else:
            ranked = sorted((r for r in team.reps if r.active), key=lambda r: (-self.year.book_value(r), r.index))
            leavers = ranked[: self.shock.top]
        for rep in leavers:
            self.year.leave(rep)

    def _budget_cut(self) -> None:
        names = self.shock.channels or [c.name for c in self.world.plan.channels]
        for name in names:
            self.edits.scale(self.world.levers.channel_spend, name, 1.0 - self.size)
        self.edits.add(self.world.conditions, "budget_cut", self.size)

    def _supplier_delay(self) -> None:
        s, lev = self.shock, self.world.levers
        for p in self.world.plan.products:
            if p.supplier == s.supplier:
                self.edits.add(lev.delivery_extra_days, p.name, self.size)
                self.edits.scale(lev.renewal, ("*", p.name), 1.0 - s.renewal_hit)
        for seg in self.world.plan.segments:
            self.edits.set(lev.delivery_tolerance, seg.name, s.tolerance)
            self.edits.set(lev.late_lost_share, seg.name, s.lost_share)
        self.edits.add(self.world.conditions, "supplier_delay_days", self.size)

    def _policy_shift(self) -> None:
        self.edits.scale(self.world.levers.industry_demand, self.shock.industry, 1.0 - self.size)
