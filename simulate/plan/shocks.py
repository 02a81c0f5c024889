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
import math
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
from pydantic import BeforeValidator, Field, model_validator

from ..errors import did_you_mean
from . import quantities as q
from .distributions import DISTRIBUTION_JSON_SCHEMA, Distribution, parse_distribution
from .types import MAX_NAME, Days, Fraction, Model, days, known_kind


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

    # What each type declares about itself, next to its definition: the unit of its size, the
    # range and step a breaking-point search explores, and the condition metric it sets.
    unit: ClassVar[str] = "fraction"
    search: ClassVar[tuple[float, float]] = (1.0, 0.01)
    metric: ClassVar[str | None] = None

    def label(self) -> str:
        return self.name or self.type   # type: ignore[attr-defined]


class PriceCut(ShockBase):
    metric: ClassVar[str | None] = "competitor_price_cut"
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
    unit: ClassVar[str] = "reps"
    search: ClassVar[tuple[float, float]] = (math.nan, 1.0)     # up to the team's size, one rep at a time
    type: Literal["rep_leaves"]
    reps: list[str] = []
    top: Annotated[int, Field(strict=True, ge=0, le=10_000)] = 0

    @model_validator(mode="after")
    def _who(self) -> "RepLeaves":
        if bool(self.reps) == bool(self.top):
            raise ValueError("name the leavers with `reps: [..]` or give `top: N`, not both or neither")
        return self


class BudgetCut(ShockBase):
    search: ClassVar[tuple[float, float]] = (0.99, 0.01)         # a 100 % cut is no marketing at all
    metric: ClassVar[str | None] = "budget_cut"
    type: Literal["budget_cut"]
    size: FractionDist
    channels: list[str] = []


class SupplierDelay(ShockBase):
    unit: ClassVar[str] = "days"
    search: ClassVar[tuple[float, float]] = (180.0, 2.0)
    metric: ClassVar[str | None] = "supplier_delay_days"
    type: Literal["supplier_delay"]
    supplier: str
    size: DaysDist
    tolerance: Days = 14
    lost_share: Fraction = 0.3
    renewal_hit: Fraction = 0.05


class PolicyShift(ShockBase):
    metric: ClassVar[str | None] = "policy_demand_lost"
    type: Literal["policy_shift"]
    industry: str
    size: FractionDist = Field(default_factory=lambda: parse_distribution(1.0, q.parse_fraction))


FRACTION_SIZED = ("price_cut", "budget_cut", "policy_shift")
SHOCK_TYPES = {"price_cut": PriceCut, "rep_leaves": RepLeaves, "budget_cut": BudgetCut,
               "supplier_delay": SupplierDelay, "policy_shift": PolicyShift}


Shock = Annotated[Union[PriceCut, RepLeaves, BudgetCut, SupplierDelay, PolicyShift],
                  Field(discriminator="type"), BeforeValidator(known_kind("type", SHOCK_TYPES, "shock"))]


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
    from .types import ReferenceProblem
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
