"""The sales plan as frozen, typed objects: team, funnel, customers, products, budget, target.

This module is pure data. The loader turns a YAML document into a `Plan`; the model reads a
`Plan` and never the YAML. Every figure has a unit in its name or its type (`Days`,
`Money`, `Fraction`), and the reference values come from the methodology (docs/methodology.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, get_args

from pydantic import BeforeValidator, Field, model_validator

from . import quantities as q
from .decisions import Lever, check_levers
from .distributions import Fixed, parse_distribution
from .opening import Opening
from .rules import Rule, check_rules
from .shocks import Shock, check_shocks
from .types import (
    Count,
    CountDist,
    Date,
    Days,
    DaysDist,
    Fraction,
    Growth,
    Model,
    Money,
    MoneyDist,
    Name,
    NonNegative,
    PositiveNumber,
    ReferenceProblem,
    Spread,
    Visits,
    VisitsDist,
    number,
)

STAGES = ("lead", "intent", "negotiation")
MAX_RUNS = 1_000_000    # replications per variant: a million years hold P(hit) to +-0.1 pp
MAX_LEADS = 1_000_000   # leads a year per channel: more is a typo, and a year that never ends
Metric = Literal["bookings", "revenue", "collections", "margin"]     # what a target counts
METRICS: tuple[str, ...] = get_args(Metric)


class Horizon(Model):
    """The simulated period: one year from a calendar start date by default."""

    start: Date = dt.date(2027, 1, 1)
    years: PositiveNumber = 1.0
    warm_start: bool = Field(default=True, description=(
        "open the year with the pipeline the plan's own flows would hold on its first day "
        "(false: an empty funnel, as if the company opened on that day)"))

    @property
    def days(self) -> float:
        return 365.0 * self.years

    @model_validator(mode="after")
    def _sane(self) -> "Horizon":
        if self.years > 10:
            raise ValueError(f"years: a horizon of at most 10 years is supported, got {self.years:g}")
        return self


class Target(Model):
    """What the manager signs: an annual figure, optionally split by segment, product, quarter."""

    metric: Metric = "bookings"
    annual: Money
    by_segment: dict[str, Money] = {}
    by_product: dict[str, Money] = {}
    by_region: dict[str, Money] = {}
    by_quarter: dict[Literal["Q1", "Q2", "Q3", "Q4"], Fraction] = {}

    @model_validator(mode="after")
    def _quarters_sum(self) -> "Target":
        if self.by_quarter and abs(sum(self.by_quarter.values()) - 1) > 1e-6:
            raise ValueError(f"by_quarter: shares must add up to 100%, got {sum(self.by_quarter.values()):.1%}")
        if self.annual <= 0:
            raise ValueError(f"annual: expected a target > 0, got {self.annual:g}")
        return self


class Product(Model):
    """A product line and its place in the growth-share matrix."""

    name: Name
    portfolio: Literal["star", "cash_cow", "question_mark", "dog"]
    price: Money = Field(description="list price of one licence unit")
    margin: Fraction
    growth: Growth = 0.0
    delivery_days: DaysDist = Field(default_factory=lambda: parse_distribution(0, q.parse_days))
    supplier: Name | None = None


class Stage(Model):
    """One funnel stage: the rep's work on it, the customer's time, and how it ends.

    After the rep has spent `effort` visits, the customer takes `time` days; then the deal
    advances with probability `advance`, is lost with `lost` (default: the rest), and
    otherwise stalls for another stage time. Effort, like time, may be a distribution: each
    deal draws its own (a demo that runs long, a quick call).
    """

    advance: Fraction
    lost: Fraction | None = None
    time: DaysDist
    effort: VisitsDist = Field(default_factory=lambda: Fixed(1.0),
                               json_schema_extra={"default": 1.0})

    @property
    def lost_probability(self) -> float:
        return 1.0 - self.advance if self.lost is None else self.lost

    @model_validator(mode="after")
    def _has_exit(self) -> "Stage":
        if self.advance + self.lost_probability > 1 + 1e-9:
            raise ValueError(f"advance ({self.advance:.0%}) + lost ({self.lost_probability:.0%}) exceeds 100%")
        if self.advance + self.lost_probability <= 0:
            raise ValueError("stage has no exit: advance and lost are both 0, deals would stay forever")
        return self


class Funnel(Model):
    """lead -> intent -> negotiation -> signed, with the units a signed deal buys."""

    lead: Stage
    intent: Stage
    negotiation: Stage
    units: CountDist

    def stages(self) -> tuple[Stage, Stage, Stage]:
        return (self.lead, self.intent, self.negotiation)


class Contract(Model):
    """One key-account contract the manager holds: known, so it is data, never a draw."""

    account: Name
    contract_value: Money
    renewal_date: Date = Field(description="the contract's renewal date; it renews on that day every year")
    product: str
    rep: Name | None = Field(default=None, description="the rep who holds the account (default: shared out)")
    industry: Name | None = None


class KeyAccounts(Model):
    """The KA book: contracts renewing through the year, kept warm by visits.

    A book the manager holds is listed in `contracts` (inline, or a CSV file named here);
    only a book nobody holds yet (a new region) is described by a `count` and a
    `contract_value` distribution, and is then drawn afresh in every simulated year.
    """

    contracts: list[Contract] = Field(default=[], max_length=1_000_000, description=(
        "the contracts held: a list, or a CSV file (relative to this file) with the columns "
        "account, contract_value, renewal_date, product and optionally rep, industry"))
    count: Annotated[int, Field(strict=True, ge=1, le=1_000_000)] | None = None
    contract_value: MoneyDist | None = None
    renewal_uplift: Fraction = 0.0
    renewal_without_visits: Fraction
    renewal_with_full_visits: Fraction
    renewal_after_rep_left: Fraction
    visits_per_quarter: Annotated[float, BeforeValidator(number), Field(ge=0, le=91.25, description=(
        "at most one visit a day"))] = 4
    visit_effort: Visits = 1
    talks_open: Days = 91.25
    renewal_effort: Visits = 2

    @model_validator(mode="after")
    def _book_is_listed_or_described(self) -> "KeyAccounts":
        if self.contracts and (self.count is not None or self.contract_value is not None):
            raise ValueError("give either 'contracts' (the book you hold) or 'count' and "
                             "'contract_value' (a book drawn in every simulated year), not both")
        if not self.contracts and (self.count is None or self.contract_value is None):
            raise ValueError("expected 'contracts' (the book you hold), or both 'count' and "
                             "'contract_value' (a book drawn in every simulated year)")
        return self

    @property
    def size(self) -> int:
        """The number of accounts in the book."""
        return len(self.contracts) if self.contracts else int(self.count or 0)


class WinBack(Model):
    """Churned customers (> 2 years' tenure) called back with a come-back offer."""

    pool: Annotated[int, Field(strict=True, ge=0, le=1_000_000)]
    calls_per_month: Annotated[float, BeforeValidator(number), Field(ge=0, le=10_000)]
    call_effort: Visits = 0.5
    win_probability: Fraction
    offer_discount: Fraction = 0.0
    units: CountDist


class Segment(Model):
    """A customer tier with its own flow: key accounts, new logos, or win-back."""

    name: Name
    kind: Literal["key_accounts", "new_logo", "winback"]
    mix: dict[str, Fraction]
    funnel: Funnel | None = None
    accounts: KeyAccounts | None = None
    winback: WinBack | None = None
    industries: dict[str, Fraction] = Field(default={}, description=(
        "share of the segment's leads and key accounts by industry; the rest is 'other'"))

    @model_validator(mode="after")
    def _parts_match_kind(self) -> "Segment":
        if sum(self.industries.values()) > 1 + 1e-6:
            raise ValueError(f"industries: shares add up to {sum(self.industries.values()):.1%}, more than 100%")
        if abs(sum(self.mix.values()) - 1) > 1e-6:
            raise ValueError(f"mix: product shares must add up to 100%, got {sum(self.mix.values()):.1%}")
        if self.kind == "key_accounts" and self.accounts is None:
            raise ValueError("a key_accounts segment needs 'accounts'")
        if self.kind == "new_logo" and self.funnel is None:
            raise ValueError("a new_logo segment needs 'funnel'")
        if self.kind == "winback" and self.winback is None:
            raise ValueError("a winback segment needs 'winback'")
        return self


class Channel(Model):
    """A marketing channel: spend turns into leads along a curve of diminishing returns.

    At the annual spend `at_spend` (default: the planned spend) the channel yields
    `leads_per_year`; at s times that spend it yields leads_per_year * s ** spend_elasticity.
    `seasonality` shapes the year by calendar month without changing its volume (season.py).
    `volatility` is how much a month's lead rate strays from the plan's beyond chance: real
    lead flows swing month to month more than a steady Poisson flow does.
    """

    name: Name
    segment: str
    budget_share: Fraction
    leads_per_year: Annotated[Count, Field(le=MAX_LEADS, description="at planned spend")]
    at_spend: Money | None = Field(default=None, description=(
        "the annual spend at which the channel yields leads_per_year (default: its planned "
        "spend); give it and a variant that moves budget moves leads along the curve"))
    spend_elasticity: Annotated[float, BeforeValidator(number), Field(gt=0, le=1)] = 0.7
    quality: Annotated[float, BeforeValidator(number), Field(gt=0, le=5)] = 1.0
    volatility: Spread = Field(default=0.0, description=(
        "the sd of a month's lead rate around the plan's, as a share of it: each month of a "
        "simulated year draws its own level (a gamma with mean 1); 0 is a steady flow"))
    seasonality: list[Annotated[NonNegative, Field(le=1000)]] = Field(default=[], description=(
        "twelve relative weights of the calendar months, January first: each day's lead rate "
        "follows its month's weight, and the horizon's first 365 days still expect "
        "leads_per_year; 1 is a month at the year's average daily rate"))

    @model_validator(mode="after")
    def _twelve_months(self) -> "Channel":
        if self.seasonality and len(self.seasonality) != 12:
            raise ValueError(f"seasonality: expected 12 monthly weights, got {len(self.seasonality)}")
        if self.seasonality and sum(self.seasonality) <= 0:
            raise ValueError("seasonality: weights must not all be zero")
        return self


class Marketing(Model):
    budget: Money
    by_product: dict[str, Fraction] = {}


class Rep(Model):
    """A sales rep: the scarce resource. Capacity is counted in visits per week."""

    name: Name
    level: Literal["new_hire", "core", "reserve"] = "core"
    start: Date | None = None
    visits_per_week: Annotated[float, BeforeValidator(number), Field(ge=0, le=100)] = 7
    skill: Annotated[float, BeforeValidator(number), Field(gt=0, le=3)] = 1.0
    segments: list[str] = []
    region: str | None = None


class Team(Model):
    """The team, how new hires ramp up, and how reps leave and are replaced."""

    reps: list[Rep] = Field(min_length=1)
    attrition_per_year: Fraction = 0.15
    hiring_delay: Days = 60
    training_months: Annotated[float, BeforeValidator(number), Field(ge=0, le=24)] = 3
    mentored_months: Annotated[float, BeforeValidator(number), Field(ge=0, le=24)] = 3
    mentored_capacity: Fraction = 0.4
    mentoring_visits_per_week: Annotated[float, BeforeValidator(number), Field(ge=0, le=20)] = 1
    mentees_per_mentor: Annotated[int, Field(strict=True, ge=1, le=10)] = 2
    handover_days: Days = 30


class Collections(Model):
    share: Fraction = 0.9
    delay: DaysDist = Field(default_factory=lambda: parse_distribution(45, q.parse_days))


class Variant(Model):
    """A named alternative plan: overrides merged onto the plan (same rules as `extends`)."""

    name: Name
    description: str = ""
    set: dict = Field(default={}, description="overrides, e.g. {target: {annual: 10.5M}}")


class SignOff(Model):
    """The bar a target must clear before it is signed."""

    confidence: Fraction = 0.8                 # P(hit) on the plan itself
    stress_confidence: Fraction = 0.5          # P(hit) under each stress scenario
    # stress scenario files, relative to this file
    scenarios: list[Annotated[str, Field(min_length=1, max_length=4096)]] = []


class Market(Model):
    """The market the target is sold into: a target must sit under its ceiling, size x
    (1 + growth) x reachable share (methodology section 1, market validation)."""

    size: Money = Field(description="the market's size last year, in the target's currency")
    growth: Growth = 0.0
    reachable_share: Fraction = Field(description="the share of the market this team can win")


class Plan(Model):
    """A whole sales plan: everything the simulated year needs."""

    name: Name = "plan"
    description: str = ""
    seed: Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)] = 2027
    runs: Annotated[int, Field(strict=True, ge=1, le=MAX_RUNS)] = 1000
    language: Literal["en", "zh"] = Field(
        default="en", description="the language of the summary, report and charts (--lang overrides)")
    currency: Annotated[str, Field(min_length=1, max_length=8)] = Field(
        default="", description="shown before amounts: a sign or a code (CNY and RMB read ¥)")
    horizon: Horizon = Horizon()
    target: Target
    regions: list[Name] = []
    products: list[Product] = Field(min_length=1)
    segments: list[Segment] = Field(min_length=1)
    channels: list[Channel] = []
    marketing: Marketing
    team: Team
    collections: Collections = Collections()
    shocks: list[Shock] = []
    playbooks: list[str] = Field(default=[], description="playbook files, relative to this file")
    rules: list[Rule] = Field(default=[], description="rules, inline or read from `playbooks`")
    variants: list[Variant] = []
    signoff: SignOff = SignOff()
    opening: Opening | None = Field(default=None, description="re-forecast: the year so far")
    market: Market | None = None
    levers: list[Lever] = Field(default=[], description=(
        "what `advise` may change to make the target signable, in what range, at what cost"))

    @model_validator(mode="after")
    def _references(self) -> "Plan":
        check_references(self)
        check_shocks(self)
        check_rules(self)
        check_levers(self)
        return self

    def product(self, name: str) -> Product:
        return next(p for p in self.products if p.name == name)

    def segment(self, name: str) -> Segment:
        return next(s for s in self.segments if s.name == name)


def without_rules(plan: Plan, names: list[str]) -> Plan:
    """The plan as if its playbook never had the rules `names` (`--without`, a rule's value)."""
    return plan.model_copy(update={"rules": [r for r in plan.rules if r.name not in names]})


def check_references(plan: Plan) -> None:
    """Every name used must be declared once: products, segments, regions, reps."""
    from ..errors import did_you_mean

    def unique(path: tuple, names: list[str]) -> set[str]:
        seen: set[str] = set()
        for i, n in enumerate(names):
            if n in seen:
                raise ReferenceProblem(path + (i, "name"), f"the name '{n}' is used twice")
            seen.add(n)
        return seen

    def known(path: tuple, name: str, names: set[str], kind: str) -> None:
        if name not in names:
            raise ReferenceProblem(path, f"unknown {kind} '{name}'{did_you_mean(name, names)}; "
                                         f"declared: {', '.join(sorted(names)) or 'none'}")

    def adds_up(path: tuple, shares: list[float]) -> None:
        if shares and abs(sum(shares) - 1) > 1e-6:
            raise ReferenceProblem(path, f"shares must add up to 100%, got {sum(shares):.1%}")

    products = unique(("products",), [p.name for p in plan.products])
    segments = unique(("segments",), [s.name for s in plan.segments])
    unique(("channels",), [c.name for c in plan.channels])
    unique(("team", "reps"), [r.name for r in plan.team.reps])
    regions = set(plan.regions)
    for i, s in enumerate(plan.segments):
        for p in s.mix:
            known(("segments", i, "mix", p), p, products, "product")
        if s.funnel is not None and not any(c.segment == s.name for c in plan.channels):
            raise ReferenceProblem(("segments", i, "funnel"),
                                   f"segment '{s.name}' has a funnel but no channel feeds it leads")
        if not any(not r.segments or s.name in r.segments for r in plan.team.reps):
            raise ReferenceProblem(("segments", i, "name"), f"no rep works segment '{s.name}'")
    reps = {r.name for r in plan.team.reps}
    for i, s in enumerate(plan.segments):
        book = s.accounts.contracts if s.accounts is not None else []
        seen_accounts: set[str] = set()
        for j, c in enumerate(book):
            where = ("segments", i, "accounts", "contracts", j)
            if c.account in seen_accounts:
                raise ReferenceProblem(where + ("account",), f"the account '{c.account}' is listed twice")
            seen_accounts.add(c.account)
            known(where + ("product",), c.product, set(s.mix) & products, f"product of segment '{s.name}'")
            if c.rep is not None:
                known(where + ("rep",), c.rep, reps, "rep")
            if c.industry is not None and s.industries:
                known(where + ("industry",), c.industry, set(s.industries), "industry")
    for i, c in enumerate(plan.channels):
        known(("channels", i, "segment"), c.segment, segments, "segment")
        if plan.segment(c.segment).kind == "winback":
            raise ReferenceProblem(("channels", i, "segment"), f"'{c.segment}' is a win-back pool; "
                                   "channels feed new_logo or key_accounts segments")
    horizon_end = plan.horizon.start + dt.timedelta(days=plan.horizon.days)
    for i, r in enumerate(plan.team.reps):
        for s in r.segments:
            known(("team", "reps", i, "segments"), s, segments, "segment")
        if r.region is not None and regions:
            known(("team", "reps", i, "region"), r.region, regions, "region")
        if r.start is not None and r.start >= horizon_end:
            raise ReferenceProblem(("team", "reps", i, "start"),
                                   f"{r.start} is after the horizon ends ({horizon_end})")
    for name in plan.target.by_segment:
        known(("target", "by_segment", name), name, segments, "segment")
    for name in plan.target.by_product:
        known(("target", "by_product", name), name, products, "product")
    for name in plan.target.by_region:
        known(("target", "by_region", name), name, regions, "region")
    for name in plan.marketing.by_product:
        known(("marketing", "by_product", name), name, products, "product")
    adds_up(("channels",), [c.budget_share for c in plan.channels])
    for i, c in enumerate(plan.channels):
        if c.at_spend is None:
            continue
        if c.at_spend <= 0:
            raise ReferenceProblem(("channels", i, "at_spend"), "expected the spend (> 0) at which the "
                                   "channel yields leads_per_year; leave it out for the planned spend")
        planned = plan.marketing.budget * c.budget_share
        implied = c.leads_per_year * (planned / c.at_spend) ** c.spend_elasticity
        if implied > MAX_LEADS:
            raise ReferenceProblem(("channels", i, "at_spend"), (
                f"at the planned spend ({planned:,.0f}) the channel would bring {implied:,.0f} leads "
                f"a year, more than {MAX_LEADS:,}: is at_spend ({c.at_spend:,g}) in the right unit?"))
    if plan.opening is not None:
        channels = {c.name for c in plan.channels}
        for i, b in enumerate(plan.opening.bookings):
            known(("opening", "bookings", i, "segment"), b.segment, segments, "segment")
            known(("opening", "bookings", i, "product"), b.product, products, "product")
            if not plan.horizon.start <= b.date <= plan.opening.as_of:
                raise ReferenceProblem(("opening", "bookings", i, "date"), (
                    f"{b.date} is outside {plan.horizon.start} to as_of {plan.opening.as_of}: a booking "
                    "before the horizon belongs to another year, one after as_of is not known yet"))
        for i, d in enumerate(plan.opening.open_deals):
            known(("opening", "open_deals", i, "channel"), d.channel, channels, "channel")
            known(("opening", "open_deals", i, "product"), d.product, products, "product")
        end = plan.horizon.start + dt.timedelta(days=plan.horizon.days)    # the day after the last
        if not plan.horizon.start <= plan.opening.as_of < end:
            raise ReferenceProblem(("opening", "as_of"), f"{plan.opening.as_of} is outside the horizon")
    adds_up(("marketing", "by_product"), list(plan.marketing.by_product.values()))
