"""Shocks: the year goes wrong. Each shock is a spec (what the scenario file says) and a
mechanism (which levers of the model it moves, by how much, from when).

Every shock has a start (a date, an offset such as +90d, a quarter such as Q2, or
`{between: [Q2, Q3]}` for a random date in a window), a size (fixed or a distribution), an
optional duration and an optional probability of happening. Its random draws come from a
stream keyed by the shock's name, so the same shock hits the same simulated worlds in every
variant that has it (common random numbers).

Mechanisms (also in the README and the scenario files):
- price_cut: a competitor cuts price by X on some products and segments. The negotiation
  win rate is multiplied by max(0, 1 - elasticity * X); of the deals that no longer win,
  `stall_share` stall (another negotiation round) instead of being lost; a share
  `discount_ask` of the deals still won ask for `discount_match * X` off; key-account
  renewals of the affected products are multiplied by max(0, 1 - renewal_elasticity * X).
- rep_leaves: named reps, or the top N by book, resign on the date: their queued work and
  open deals wait for the hand-over, their accounts renew at most at the plan's
  `renewal_after_rep_left`, and a replacement is hired after the hiring delay and ramps up.
- budget_cut: marketing spend falls by X on the channels named (all by default); each
  channel's leads follow its spend curve, leads x (1 - X) ** spend_elasticity.
- supplier_delay: delivery takes D more days for the products of a supplier; a deal whose
  delivery exceeds the customer's `tolerance` is lost with probability `lost_share` (else
  it slips: booked, recognised later); key-account renewals of those products are
  multiplied by (1 - renewal_hit).
- policy_shift: regulation closes an industry: leads from it fall by X (its share of each
  segment's leads), and key accounts in it renew with probability multiplied by (1 - X).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import numpy as np
from pydantic import BeforeValidator, Field, model_validator

from . import quantities as q
from .distributions import DISTRIBUTION_JSON_SCHEMA, Distribution, parse_distribution
from .errors import did_you_mean
from .levers import LeverEdits
from .plan_types import MAX_NAME, Days, Fraction, Model, days, known_kind

if TYPE_CHECKING:
    from .model import SalesYear


def _start(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"between"} or not isinstance(value["between"], list) or len(value["between"]) != 2:
            raise ValueError(f"expected a date, an offset (+90d), a quarter (Q2) or {{between: [Q2, Q3]}}, got {value!r}")
        return {"between": [str(v) for v in value["between"]]}
    if isinstance(value, (dt.date, str)):
        return str(value)
    raise ValueError(f"expected a date, an offset (+90d), a quarter (Q2) or {{between: [Q2, Q3]}}, got {value!r}")


Start = Annotated[Union[str, dict], BeforeValidator(_start)]
FractionDist = Annotated[Distribution, BeforeValidator(lambda v: parse_distribution(v, q.parse_fraction)),
                         Field(json_schema_extra=DISTRIBUTION_JSON_SCHEMA)]
DaysDist = Annotated[Distribution, BeforeValidator(lambda v: parse_distribution(v, days)),
                     Field(json_schema_extra=DISTRIBUTION_JSON_SCHEMA)]


class ShockBase(Model):
    """What every shock has: a name, a start, an optional duration and probability."""

    name: Annotated[str, Field(max_length=MAX_NAME)] = ""
    start: Start
    duration: DaysDist | None = None
    probability: Fraction = 1.0
    note: str = ""

    def label(self) -> str:
        return self.name or self.type   # type: ignore[attr-defined]


class PriceCut(ShockBase):
    type: Literal["price_cut"]
    size: FractionDist
    products: list[str] = []
    segments: list[str] = []
    elasticity: Annotated[float, Field(ge=0, le=10)] = 1.5
    stall_share: Fraction = 0.3
    discount_ask: Fraction = 0.5
    discount_match: Fraction = 0.5
    renewal_elasticity: Annotated[float, Field(ge=0, le=10)] = 0.3


class RepLeaves(ShockBase):
    type: Literal["rep_leaves"]
    reps: list[str] = []
    top: Annotated[int, Field(strict=True, ge=0, le=10_000)] = 0

    @model_validator(mode="after")
    def _who(self) -> "RepLeaves":
        if bool(self.reps) == bool(self.top):
            raise ValueError("name the leavers with `reps: [..]` or give `top: N`, not both or neither")
        return self


class BudgetCut(ShockBase):
    type: Literal["budget_cut"]
    size: FractionDist
    channels: list[str] = []


class SupplierDelay(ShockBase):
    type: Literal["supplier_delay"]
    supplier: str
    size: DaysDist
    tolerance: Days = 14
    lost_share: Fraction = 0.3
    renewal_hit: Fraction = 0.05


class PolicyShift(ShockBase):
    type: Literal["policy_shift"]
    industry: str
    size: FractionDist = Field(default_factory=lambda: parse_distribution(1.0, q.parse_fraction))


FRACTION_SIZED = ("price_cut", "budget_cut", "policy_shift")
SHOCK_TYPES = {"price_cut": PriceCut, "rep_leaves": RepLeaves, "budget_cut": BudgetCut,
               "supplier_delay": SupplierDelay, "policy_shift": PolicyShift}


Shock = Annotated[Union[PriceCut, RepLeaves, BudgetCut, SupplierDelay, PolicyShift],
                  Field(discriminator="type"), BeforeValidator(known_kind("type", SHOCK_TYPES, "shock"))]


# -- mechanisms ---------------------------------------------------------------------------

class ShockRun:
    """One shock inside one replication: draws whether, when and how big, then acts."""

    def __init__(self, year: "SalesYear", shock: Any, index: int):
        from .streams import stream
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


def resolve_start(start: Any, horizon_start: dt.date, horizon_days: float, u: float) -> float:
    """Days from the horizon start; `{between: [a, b]}` picks uniformly with `u`."""
    if isinstance(start, dict):
        lo, hi = (resolve_start(s, horizon_start, horizon_days, 0.0) for s in start["between"])
        if hi < lo:
            raise ValueError(f"between: the window ends before it starts ({start['between']})")
        return lo + u * (hi - lo)
    day = q.parse_date(start, horizon_start)
    return float((day - horizon_start).days)


def check_shocks(plan: Any) -> None:
    """Cross-checks that need the whole plan: names, dates inside the horizon, suppliers."""
    from .plan_types import ReferenceProblem
    reps = {r.name for r in plan.team.reps}
    products = {p.name for p in plan.products}
    segments = {s.name for s in plan.segments}
    channels = {c.name for c in plan.channels}
    suppliers = {p.supplier for p in plan.products if p.supplier}
    industries = {i for s in plan.segments for i in s.industries}
    end = plan.horizon.start + dt.timedelta(days=plan.horizon.days)

    def known(path: tuple, name: str, names: set[str], kind: str) -> None:
        if name not in names:
            raise ReferenceProblem(path, f"unknown {kind} '{name}'{did_you_mean(name, names)}; "
                                         f"the plan has: {', '.join(sorted(names)) or 'none'}")

    for i, s in enumerate(plan.shocks):
        base = ("shocks", i)
        starts = s.start["between"] if isinstance(s.start, dict) else [s.start]
        days = []
        for j, st in enumerate(starts):
            try:
                day = q.parse_date(st, plan.horizon.start)
            except ValueError as exc:
                raise ReferenceProblem(base + ("start",), str(exc)) from None
            if not plan.horizon.start <= day < end:
                raise ReferenceProblem(base + ("start",), f"{day} is outside the horizon "
                                       f"{plan.horizon.start} to {end - dt.timedelta(days=1)}")
            days.append(day)
        if len(days) == 2 and days[1] < days[0]:
            raise ReferenceProblem(base + ("start",), f"between: the window ends ({days[1]}) "
                                   f"before it starts ({days[0]})")
        for name in getattr(s, "reps", []):
            known(base + ("reps",), name, reps, "rep")
        for name in getattr(s, "products", []):
            known(base + ("products",), name, products, "product")
        for name in getattr(s, "segments", []):
            known(base + ("segments",), name, segments, "segment")
        for name in getattr(s, "channels", []):
            known(base + ("channels",), name, channels, "channel")
        if s.type == "supplier_delay":
            known(base + ("supplier",), s.supplier, suppliers, "supplier (no product uses it)")
        if s.type == "policy_shift":
            known(base + ("industry",), s.industry, industries, "industry")
        if hasattr(s, "size") and s.type in FRACTION_SIZED:
            hi = _upper(s.size)
            if hi > 1:
                raise ReferenceProblem(base + ("size",), f"a cut of at most 100% is possible, got {hi:.0%}")


def _upper(d: Distribution) -> float:
    """The largest value a size distribution can take (its 99.9th percentile if unbounded)."""
    return float(np.quantile(d.sample(np.random.default_rng(0), 4000), 0.999)) \
        if d.variance > 0 else d.mean
