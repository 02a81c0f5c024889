"""Playbook rules as data: when to act, what to do, what it costs.

A rule is the manager's pre-agreed response: "if the competitor cuts price 20 % or more,
launch the bundle upgrade". It has a condition (`when`, see `expressions`), a review
cadence (`check`: weekly, monthly, quarterly, or an event), and actions (`then`) drawn
from the registry below, each with typed parameters. `delay` is how long an action takes
to bite, `duration` how long it lasts, `cost` what it takes from the marketing budget or
from margin. `once`, `cooldown`, `priority` and mutually exclusive `group`s decide what
fires when several rules want to; ties are broken by priority, then name.

Each action says, in its docstring, which lever it moves: that is its documented effect.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BeforeValidator, Field, WithJsonSchema

from ..errors import did_you_mean
from .conditions import Condition, parse_condition
from .types import Days, Fraction, Model, Money, Name, PositiveNumber, known_kind

STAGE_INDEX = {"lead": 0, "intent": 1, "negotiation": 2}
EVENTS = ("rep_left", "shock_started", "shock_ended")
CADENCES = ("weekly", "monthly", "quarterly")
Factor = Annotated[PositiveNumber, Field(le=10)]

# Which metrics an action can move (the linter's re-trigger check): each action declares its own.
BOOKINGS_METRICS = frozenset({"bookings_to_date", "attainment_to_date", "attainment", "behind_plan",
                              "weekly_bookings", "weekly_bookings_vs_plan", "conversion_negotiation",
                              "collection_rate"})
PIPELINE_METRICS = frozenset({"open_lead", "open_intent", "open_negotiation", "pipeline", "share_lead",
                              "share_intent", "share_negotiation", "conversion_lead", "conversion_intent"})
BUDGET_METRICS = frozenset({"budget_left", "budget_spent"})


class Action(Model):
    influences: ClassVar[frozenset[str]]     # the condition metrics it can move
    segments: list[Name] = []
    products: list[Name] = []

    def params(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.model_dump(exclude={"action"}).items() if v not in ([], None))


class ScaleWinRate(Action):
    """Negotiation win rate x factor for the segments and products named (default: all)."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | PIPELINE_METRICS
    action: Literal["scale_win_rate"]
    factor: Factor


class ScalePrice(Action):
    """Realised price x factor (0.9 = a 10 % discount or rebate) for new deals and renewals."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS
    action: Literal["scale_price"]
    factor: Factor


class ScaleRenewal(Action):
    """Key-account renewal probability x factor (e.g. a loyal-customer rebate)."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | frozenset({"ka_renewal_rate"})
    action: Literal["scale_renewal"]
    factor: Factor


class BundleUplift(Action):
    """Order value + uplift on new deals in the segments named (product + service bundles)."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS
    action: Literal["bundle_uplift"]
    uplift: Fraction


class ScaleVisits(Action):
    """Every rep's visits per week x factor (overtime, fewer internal meetings)."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | PIPELINE_METRICS | frozenset({"visits_week", "visits_ka_week"})
    action: Literal["scale_visits"]
    factor: Factor


class ScaleStageTime(Action):
    """Customer time in a stage x factor (< 1 pushes deals: closing events, deadlines)."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | PIPELINE_METRICS
    action: Literal["scale_stage_time"]
    stage: Literal["lead", "intent", "negotiation"]
    factor: Factor


class ShiftBudget(Action):
    """Move `share` of channel `source`'s spend to channel `to` (leads follow each curve)."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | PIPELINE_METRICS
    action: Literal["shift_budget"]
    source: Name = Field(alias="from")
    to: Name
    share: Fraction


class ShiftToBestChannel(Action):
    """Move `share` of every other channel's spend to the channel whose leads have signed
    best so far this year (signed / leads, observed, not planned)."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | PIPELINE_METRICS
    action: Literal["shift_to_best_channel"]
    share: Fraction


class StopProductSpend(Action):
    """Stop marketing a product: its new leads stop. The money it had (its share of
    `marketing.by_product`) is saved, or reinvested in the products of `reinvest_in`,
    whose leads then grow along a spend curve of elasticity 0.7."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | PIPELINE_METRICS | BUDGET_METRICS
    action: Literal["stop_product_spend"]
    product: Name
    reinvest_in: list[Name] = []


class BoostDemand(Action):
    """Leads in the segments named x factor without extra spend (a new industry or region
    opened by a ground team: the source's pivot after a policy change)."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | PIPELINE_METRICS
    action: Literal["boost_demand"]
    factor: Factor


class Hire(Action):
    """Hire `count` reps for the segments named; they start after the hiring delay and ramp."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | PIPELINE_METRICS | frozenset({"headcount", "vacancies", "ramping"})
    action: Literal["hire"]
    count: Annotated[int, Field(strict=True, ge=1, le=1000)]
    level: Literal["new_hire", "core"] = "new_hire"
    hiring_delay: Days | None = None


class HandoverTeam(Action):
    """A reserve core rep + a new hire take over leavers' accounts: renewals of accounts
    whose rep left are kept at `renewal_floor` or better, and hand-over takes `handover_days`."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | frozenset({"ka_renewal_rate"})
    action: Literal["handover_team"]
    renewal_floor: Fraction
    handover_days: Days | None = None


class BackupSupplier(Action):
    """Switch a supplier's products to a backup with expedited freight: delivery capped at
    `max_delivery_days`; `cost_premium` of each deal's value comes off margin."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | frozenset({"collection_rate"})
    action: Literal["backup_supplier"]
    supplier: Name
    max_delivery_days: Days
    cost_premium: Fraction = 0.0


class Training(Action):
    """Training (role-play, KA negotiation, outside experts): the win rate of reps at the
    levels named x factor, once the rule's delay has passed."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | PIPELINE_METRICS
    action: Literal["training"]
    factor: Factor
    levels: list[Literal["new_hire", "core", "reserve"]] = ["new_hire", "core", "reserve"]


class Mentoring(Action):
    """Everyone mentors: each core rep coaches up to `mentees_per_mentor` new hires, and
    mentored new hires win `new_hire_win_rate` x more."""

    influences: ClassVar[frozenset[str]] = BOOKINGS_METRICS | PIPELINE_METRICS
    action: Literal["mentoring"]
    mentees_per_mentor: Annotated[int, Field(strict=True, ge=1, le=10)] = 2
    new_hire_win_rate: Factor = 1.0


ACTIONS = {cls.model_fields["action"].annotation.__args__[0]: cls for cls in (   # type: ignore[union-attr]
    ScaleWinRate, ScalePrice, ScaleRenewal, BundleUplift, ScaleVisits, ScaleStageTime, ShiftBudget,
    ShiftToBestChannel, StopProductSpend, BoostDemand, Hire, HandoverTeam, BackupSupplier, Training,
    Mentoring)}


AnyAction = Annotated[Union[tuple(ACTIONS.values())], Field(discriminator="action"),  # type: ignore[valid-type]
                      BeforeValidator(known_kind("action", ACTIONS, "action"))]


def _check(value: Any) -> str:
    if value in CADENCES or value in EVENTS:
        return value
    raise ValueError(f"expected a review cadence ({', '.join(CADENCES)}) or an event "
                     f"({', '.join(EVENTS)}), got {value!r}{did_you_mean(str(value), CADENCES + EVENTS)}")


class Rule(Model):
    """One entry of the playbook."""

    name: Name
    description: str = ""
    check: Annotated[str, BeforeValidator(_check)] = "weekly"
    when: Annotated[Condition, BeforeValidator(parse_condition),
                    WithJsonSchema({"type": "string", "description": "e.g. competitor_price_cut >= 20%"})] \
        = Field(default_factory=lambda: parse_condition("true"))
    then: list[AnyAction] = Field(min_length=1)
    delay: Days = 0.0
    duration: Days | None = None
    cost: Money = 0.0
    charge: Literal["budget", "margin"] = "budget"
    allow_overrun: bool = False
    once: bool = False
    cooldown: Days = 0.0
    priority: int = 0
    group: Name | None = None


class Playbook(Model):
    """A playbook file: a name and its rules."""

    name: Name = "playbook"
    description: str = ""
    rules: list[Rule] = []


MAX_COMPOUND = 10.0      # what one action may do (Factor <= 10), also after repeated firings
_PERIOD = {"weekly": 7.0, "monthly": 365.0 / 12, "quarterly": 91.25}


def _compounding(rule: Rule, horizon_days: float) -> tuple[int, str, float] | None:
    """(action index, what, how far) for an action that stacks past MAX_COMPOUND.

    A rule that is not `once` fires at every review its condition holds (or every `cooldown`);
    without a `duration` its actions are never taken back, so they stack: a weekly
    `boost_demand: 1.3` is x850,000 demand by December, a year that never ends. Unbounded levers
    (demand, price, order value, hires) are checked in the worst case, the condition always true.
    """
    if rule.once or rule.check not in _PERIOD:
        return None
    spacing = max(_PERIOD[rule.check], rule.cooldown)
    firings = max(1, int(horizon_days // spacing))
    if rule.duration is not None:
        firings = min(firings, int((rule.delay + rule.duration) // spacing) + 1)
    if firings <= 1:
        return None
    for j, action in enumerate(rule.then):
        # win and renewal rates stop at 100 % and a faster pace only shortens tasks; demand
        # and price have no ceiling: leads by the million, bookings by the billion
        factor = getattr(action, "factor", None) if action.action in ("boost_demand", "scale_price") else None
        if factor is not None and factor > 1 and factor ** firings > MAX_COMPOUND:
            total = factor ** firings
            shown = f"{total:,.0f}" if total < 1e15 else f"{total:.2g}"
            return j, f"{action.action} x{factor:g} compounds to x{shown}", firings
        if action.action == "bundle_uplift" and action.uplift * firings > 1:
            return j, f"bundle_uplift +{action.uplift:.0%} adds up to +{action.uplift * firings:.0%}", firings
        if action.action == "hire" and action.count * firings > 1000:
            return j, f"hire {action.count} adds up to {action.count * firings:,} hires", firings
    return None


def check_rules(plan: Any) -> None:
    """Every name an action uses must exist in the plan; rule names must be unique; no rule
    may compound its actions without bound by firing again and again."""
    from .types import ReferenceProblem
    names = {"segments": {s.name for s in plan.segments}, "products": {p.name for p in plan.products}}
    channels = {c.name for c in plan.channels}
    suppliers = {p.supplier for p in plan.products if p.supplier}
    seen: set[str] = set()

    def known(path: tuple, name: str, pool: set[str], kind: str) -> None:
        if name not in pool:
            raise ReferenceProblem(path, f"unknown {kind} '{name}'{did_you_mean(name, pool)}; "
                                         f"the plan has: {', '.join(sorted(pool)) or 'none'}")

    for i, rule in enumerate(plan.rules):
        if rule.name in seen:
            raise ReferenceProblem(("rules", i, "name"), f"the rule name '{rule.name}' is used twice")
        seen.add(rule.name)
        stacked = _compounding(rule, plan.horizon.days)
        if stacked is not None:
            j, what, firings = stacked
            raise ReferenceProblem(("rules", i, "then", j), (
                f"fired at every {rule.check} review, the rule stacks {firings} times and its {what}; "
                "give it `once: true`, a `cooldown` or a shorter `duration`, or a smaller step"))
        for j, action in enumerate(rule.then):
            base = ("rules", i, "then", j)
            for field in ("segments", "products"):
                for name in getattr(action, field):
                    known(base + (field,), name, names[field], field[:-1])
            for field in ("source", "to"):
                if hasattr(action, field):
                    known(base + ("from" if field == "source" else field,), getattr(action, field), channels, "channel")
            if hasattr(action, "product"):
                known(base + ("product",), action.product, names["products"], "product")
            for name in getattr(action, "reinvest_in", []):
                known(base + ("reinvest_in",), name, names["products"], "product")
            if hasattr(action, "supplier"):
                known(base + ("supplier",), action.supplier, suppliers, "supplier")
