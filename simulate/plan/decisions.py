"""Levers: what a manager may change to make a target signable, in what range, at what cost.

They are the decision variables of `advise`, declared in the plan's `levers:` list (not to be
confused with `engine/levers.py`, the state that rules and shocks turn inside a simulated
year). A lever either sets a value at a path of the plan (`set: segments[KA].accounts.
visits_per_quarter`, merged like a variant's `set`) or takes a typed `action`:

- `hire`: N new hires in a segment, starting in a quarter (two weeks apart), who train and
  ramp up like any new hire;
- `spend`: X more a year on a channel (the marketing budget grows by X; the other channels
  keep their spend);
- `budget_share`: a channel's share of an unchanged budget (the others keep their
  proportions);
- `loyalty_rebate`: R off the key accounts' renewal uplift, raising their renewal
  probabilities by `renewal_gain` x R (relative);
- `backup_supplier`: 0 or 1, a backup contracted for a supplier, so that its delays last at
  most `delay` days;
- `drop_rule`: 0 or 1, the playbook with or without one `rule` (a rule whose value is
  significantly negative is flagged by every run: this lets `advise` try the plan without it).

Each lever costs something, charged to one of: `none` (dropping a rule: what the rule spent is
already in the simulated bookings), money (`90k per hire-year`: salary for the
months each hire is employed within the horizon; `40k per unit`: per unit above the range's
low end), `marketing budget` (the extra budget the value needs; a share moved within the
budget costs none), `rep time` (capacity taken from other work, no money) and `price` (a
lower price that the simulated bookings already carry, no money on top). A value lives on the
grid low, low + step, ..., high; the low end is the plan as written only if it says so.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from . import quantities as q
from .types import Days, Model, Name, NonNegative, ReferenceProblem

ACTIONS = ("hire", "spend", "budget_share", "loyalty_rebate", "backup_supplier", "drop_rule")
CHARGES = ("money", "marketing budget", "rep time", "price", "none")
# The parameters each action takes (besides name, description, range, step, cost).
PARAMETERS = {"hire": {"segment", "quarter", "region", "skill"}, "spend": {"channel"},
              "budget_share": {"channel"}, "loyalty_rebate": {"segment", "renewal_gain"},
              "backup_supplier": {"supplier", "delay"}, "drop_rule": {"rule"}, None: set()}
REQUIRED = {"hire": ("segment", "quarter"), "spend": ("channel",), "budget_share": ("channel",),
            "loyalty_rebate": ("segment", "renewal_gain"), "backup_supplier": ("supplier", "delay"),
            "drop_rule": ("rule",), None: ()}
WHOLE = ("hire", "backup_supplier", "drop_rule")     # counted in whole units
HIRE_SPACING_DAYS = 14                  # hires of one quarter start two weeks apart
MAX_GRID = 10_000                       # values of one lever: more is a typo in `step`
_PATH_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[([^\[\]]+)\]")
_COST = re.compile(r"(?P<rate>\S+)\s+per\s+(?P<per>hire-year|unit)", re.IGNORECASE)


def lever_value(value: Any) -> float:
    """A range end or step as written: 3, 25%, 60k, 14d."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return q.parse_fraction(value)
    try:
        return q.parse_money(value)
    except ValueError:
        pass
    try:
        return q.parse_days(value)
    except ValueError:
        raise ValueError(f"expected a number such as 3, 25%, 60k or 14d, got {value!r}") from None


Value = Annotated[float, BeforeValidator(lever_value)]


class Cost(Model):
    """What a lever costs and what it is charged to; `rate` is money per `per` (money only)."""

    charge: Literal["money", "marketing budget", "rep time", "price", "none"]
    rate: float = 0.0
    per: Literal["hire-year", "unit"] | None = None


def parse_cost(value: Any) -> Any:
    """`90k per hire-year`, `40k per unit`, `marketing budget`, `rep time`, `price` or `none`."""
    if not isinstance(value, str):
        return value
    text = " ".join(value.split())
    if text.lower() in CHARGES:
        return {"charge": text.lower()}
    match = _COST.fullmatch(text)
    if match is None:
        raise ValueError(f"expected a cost such as '90k per hire-year', '40k per unit', 'marketing "
                         f"budget', 'rep time', 'price' or 'none', got {value!r}")
    rate = q.parse_money(match["rate"])
    if not 0 <= rate <= 1e15:
        raise ValueError(f"expected a rate between 0 and 1e15, got {match['rate']!r}")
    return {"charge": "money", "rate": rate, "per": match["per"].lower()}


def parse_path(text: str) -> tuple[str | tuple[str], ...]:
    """`segments[KA].accounts.visits_per_quarter` as steps: a key, or (name,) for the item of
    a named list."""
    steps: list[str | tuple[str]] = []
    at = 0
    while at < len(text):
        match = _PATH_STEP.match(text, at)
        if match is None or (at == 0 and text.startswith(".")):
            raise ValueError(f"expected a path such as segments[KA].accounts.visits_per_quarter, "
                             f"got {text!r}")
        steps.append(match[1] if match[1] else (match[2].strip(),))
        at = match.end()
    if not steps or not isinstance(steps[0], str):
        raise ValueError(f"expected a path starting with a key of the plan, got {text!r}")
    return tuple(steps)


class Lever(Model):
    """One lever: what it changes, the values it may take and what each value costs."""

    name: Name
    description: str = ""
    set: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="a path in the plan, e.g. segments[KA].accounts.visits_per_quarter")
    action: Literal["hire", "spend", "budget_share", "loyalty_rebate", "backup_supplier", "drop_rule"] | None = None
    segment: Name | None = None
    quarter: Literal["Q1", "Q2", "Q3", "Q4"] | None = None
    region: Name | None = None
    skill: Annotated[float, Field(gt=0, le=3)] = 1.0
    channel: Name | None = None
    supplier: Name | None = None
    rule: Name | None = Field(default=None, description="drop_rule: the rule the plan is tried without")
    delay: Days | None = Field(default=None, description="backup_supplier: the longest delay left")
    renewal_gain: NonNegative | None = Field(default=None, le=100, description=(
        "loyalty_rebate: relative rise in renewal probability per unit of rebate (at most 100: "
        "a 1 % rebate doubling renewals)"))
    range: tuple[Value, Value]
    step: Value | None = Field(default=None, description="default: 1 for hire and backup_supplier, "
                                                         "else a tenth of the range")
    cost: Annotated[Cost, BeforeValidator(parse_cost)]

    @model_validator(mode="after")
    def _consistent(self) -> "Lever":
        if (self.set is None) == (self.action is None):
            raise ValueError("give either `set: PATH` or `action:` "
                             f"({', '.join(ACTIONS)}), not both or neither")
        if self.set is not None:
            parse_path(self.set)
        given = {k for k in ("segment", "quarter", "region", "channel", "supplier", "delay",
                             "renewal_gain", "rule") if getattr(self, k) is not None}
        if self.skill != 1.0:
            given.add("skill")
        stray = sorted(given - PARAMETERS[self.action])
        if stray:
            what = f"action '{self.action}'" if self.action else "a `set` lever"
            raise ValueError(f"{what} takes no '{stray[0]}'; it takes "
                             f"{', '.join(sorted(PARAMETERS[self.action])) or 'only range, step and cost'}")
        for key in REQUIRED[self.action]:
            if getattr(self, key) is None:
                raise ValueError(f"action '{self.action}' needs '{key}'")
        lo, hi = self.range
        if not lo < hi:
            raise ReferenceProblem(("range",), f"expected [low, high] with low < high, got [{lo:g}, {hi:g}]")
        if self.step is not None and not self.step > 0:
            raise ReferenceProblem(("step",), f"expected a step > 0, got {self.step:g}")
        if self.step is not None and self.step > hi - lo:
            raise ReferenceProblem(("step",), f"a step of {self.step:g} is wider than the range "
                                              f"[{lo:g}, {hi:g}]: the lever could only stay at its low end")
        if (hi - lo) / self.grid_step > MAX_GRID:
            raise ReferenceProblem(("step",), f"{self.grid_step:g} cuts the range into more than {MAX_GRID:,} values")
        if self.action in WHOLE and not (float(lo).is_integer() and float(self.grid_step).is_integer()):
            raise ReferenceProblem(("range",), f"action '{self.action}' counts whole units: expected a whole range and step")
        if self.action == "hire" and lo < 0:
            raise ReferenceProblem(("range",), f"expected hires >= 0, got {lo:g}")
        if self.action == "backup_supplier" and (lo, hi) != (0, 1):
            raise ReferenceProblem(("range",), "a backup supplier is contracted or not: expected [0, 1]")
        if self.action == "drop_rule" and (lo, hi) != (0, 1):
            raise ReferenceProblem(("range",), "a rule is kept (0) or dropped (1): expected [0, 1]")
        if self.action in ("budget_share", "loyalty_rebate") and not 0 <= lo < hi <= 1:
            raise ReferenceProblem(("range",), f"expected shares between 0% and 100%, got [{lo:g}, {hi:g}]")
        if self.action == "spend" and lo < 0:
            raise ReferenceProblem(("range",), f"expected extra spend >= 0, got {lo:g}")
        per, hire = self.cost.per, self.action == "hire"
        if hire and self.cost.charge == "money" and per != "hire-year":
            raise ReferenceProblem(("cost",), "a hire costs money per hire-year, e.g. '90k per hire-year'")
        if per == "hire-year" and not hire:
            raise ReferenceProblem(("cost",), "'per hire-year' is what a hire costs; use 'X per unit'")
        if self.cost.charge == "marketing budget" and self.action not in ("spend", "budget_share") \
                and self.set != "marketing.budget":
            raise ReferenceProblem(("cost",), "'marketing budget' is what spend, budget_share or "
                             "marketing.budget levers draw on; use 'X per unit' for other money")
        return self

    @property
    def grid_step(self) -> float:
        if self.step is not None:
            return self.step
        return 1.0 if self.action in WHOLE else (self.range[1] - self.range[0]) / 10

    def grid(self) -> list[float]:
        """The values the lever may take: low, low + step, ..., up to high."""
        lo, hi = self.range
        n = math.floor((hi - lo) / self.grid_step + 1e-9)
        return [round(lo + k * self.grid_step, 12) for k in range(n + 1)]


def check_levers(plan: Any) -> None:
    """Cross-checks that need the whole plan: names, and paths that lead to a number."""
    from ..errors import did_you_mean
    segments = {s.name: s for s in plan.segments}
    channels = {c.name for c in plan.channels}
    suppliers = {p.supplier for p in plan.products if p.supplier}
    seen: set[str] = set()

    def known(path: tuple, name: str, names: Any, kind: str) -> None:
        if name not in names:
            raise ReferenceProblem(path, f"unknown {kind} '{name}'{did_you_mean(name, names)}; "
                                         f"the plan has: {', '.join(sorted(names)) or 'none'}")

    for i, lever in enumerate(plan.levers):
        base = ("levers", i)
        if lever.name in seen:
            raise ReferenceProblem(base + ("name",), f"the name '{lever.name}' is used twice")
        seen.add(lever.name)
        if lever.segment is not None:
            known(base + ("segment",), lever.segment, segments, "segment")
        if lever.channel is not None:
            known(base + ("channel",), lever.channel, channels, "channel")
        if lever.supplier is not None:
            known(base + ("supplier",), lever.supplier, suppliers, "supplier (no product uses it)")
        if lever.rule is not None:
            known(base + ("rule",), lever.rule, {r.name for r in plan.rules}, "rule")
        if lever.region is not None and plan.regions:
            known(base + ("region",), lever.region, set(plan.regions), "region")
        if lever.action == "loyalty_rebate":
            accounts = segments[lever.segment].accounts
            if accounts is None:
                raise ReferenceProblem(base + ("segment",), f"'{lever.segment}' holds no key accounts "
                                       "to give a loyalty rebate to")
            if lever.range[1] > accounts.renewal_uplift + 1e-12:
                raise ReferenceProblem(base + ("range",), (
                    f"a rebate of {lever.range[1]:.1%} is more than the renewal uplift "
                    f"({accounts.renewal_uplift:.1%}) it comes off"))
        if lever.action == "budget_share" and len(plan.channels) < 2:
            raise ReferenceProblem(base + ("channel",), "a share can only move between channels, "
                                   "and the plan has one")
        if lever.set is not None:
            try:
                current = value_at(plan, parse_path(lever.set))
            except (KeyError, ValueError) as exc:
                raise ReferenceProblem(base + ("set",), str(exc.args[0])) from None
            if isinstance(current, bool) or not isinstance(current, (int, float)):
                raise ReferenceProblem(base + ("set",), f"{lever.set} is {type(current).__name__}, "
                                       "not a number a lever can set")


def value_at(plan: Any, steps: tuple) -> Any:
    """The plan's value at a parsed path (KeyError naming the step that leads nowhere)."""
    node, where = plan, ""
    for step in steps:
        where += f"[{step[0]}]" if isinstance(step, tuple) else (f".{step}" if where else step)
        if isinstance(step, tuple):
            named = {getattr(x, "name", None): x for x in node} if isinstance(node, (list, tuple)) else {}
            if step[0] not in named:
                raise KeyError(f"{where}: no item named '{step[0]}' there"
                               + (f"; it has: {', '.join(sorted(map(str, named)))}" if named else ""))
            node = named[step[0]]
        elif isinstance(node, dict):
            if step not in node:
                raise KeyError(f"{where}: no key '{step}' there")
            node = node[step]
        else:
            fields = getattr(type(node), "model_fields", {})
            if step not in fields:
                from ..errors import did_you_mean
                raise KeyError(f"{where}: no key '{step}' there{did_you_mean(step, fields)}")
            node = getattr(node, step)
        if node is None:
            raise KeyError(f"{where}: the plan does not set it, so a lever cannot change it")
    return node


def plain(x: float) -> float | int:
    """A whole number as an int, so that strict integer fields take it."""
    return int(x) if float(x).is_integer() else float(x)


def hire_starts(lever: Lever, plan: Any, count: int) -> list[Any]:
    """The start dates of `count` hires of a quarter, two weeks apart from its first day."""
    import datetime as dt
    first = q.parse_date(lever.quarter, plan.horizon.start)
    return [first + dt.timedelta(days=HIRE_SPACING_DAYS * k) for k in range(count)]


def overlay(lever: Lever, x: float, plan: Any) -> dict:
    """The overrides that put `lever` at `x` on `plan` (merged like a variant's `set`)."""
    if lever.set is not None:
        out: Any = plain(x)
        for step in reversed(parse_path(lever.set)):
            out = [{"name": step[0], **out}] if isinstance(step, tuple) else {step: out}
        return out
    if lever.action == "hire":
        count = round(x)
        return {"team": {"reps": [
            {"name": f"{lever.name}-{k + 1}", "level": "new_hire", "start": start.isoformat(),
             "segments": [lever.segment], "skill": lever.skill,
             **({"region": lever.region} if lever.region else {})}
            for k, start in enumerate(hire_starts(lever, plan, count))]}} if count else {}
    if lever.action in ("spend", "budget_share"):
        budget = plan.marketing.budget
        spend = {c.name: budget * c.budget_share for c in plan.channels}
        if lever.action == "spend":
            new_budget = budget + x
            new = {n: s + (x if n == lever.channel else 0.0) for n, s in spend.items()}
        else:
            new_budget = budget
            others = budget - spend[lever.channel]
            scale = (budget * (1 - x)) / others if others > 0 else 0.0
            new = {n: budget * x if n == lever.channel else s * scale for n, s in spend.items()}
        if new_budget <= 0:
            return {}
        # at_spend pinned to the planned spend, so that moving spend moves leads along the curve
        return {"marketing": {"budget": new_budget}, "channels": [
            {"name": c.name, "budget_share": new[c.name] / new_budget,
             "at_spend": c.at_spend if c.at_spend is not None else spend[c.name]}
            for c in plan.channels if c.at_spend is not None or spend[c.name] > 0]}
    if lever.action == "loyalty_rebate":
        acc = plan.segment(lever.segment).accounts
        gain = 1 + (lever.renewal_gain or 0.0) * x
        return {"segments": [{"name": lever.segment, "accounts": {
            "renewal_uplift": max(0.0, acc.renewal_uplift - x),
            "renewal_without_visits": min(1.0, acc.renewal_without_visits * gain),
            "renewal_with_full_visits": min(1.0, acc.renewal_with_full_visits * gain),
            "renewal_after_rep_left": min(1.0, acc.renewal_after_rep_left * gain)}}]}
    if lever.action == "drop_rule" and x >= 1:
        return {"rules": [{"name": lever.rule, "remove": True}]}
    if lever.action == "backup_supplier" and x >= 1:
        shocks = [s for s in plan.shocks if s.type == "supplier_delay" and s.supplier == lever.supplier
                  and s.name and s.size.mean > (lever.delay or 0.0)]
        if shocks:
            return {"shocks": [{"name": s.name, "size": lever.delay} for s in shocks]}
    return {}


def cost(lever: Lever, x: float, plan: Any) -> float:
    """The money a value costs (0 for rep time and price), by what the lever is charged to."""
    c = lever.cost
    if c.charge == "money" and c.per == "hire-year":
        end = plan.horizon.start.toordinal() + plan.horizon.days
        return c.rate * sum(max(0.0, end - d.toordinal()) / 365.0
                            for d in hire_starts(lever, plan, round(x)))
    if c.charge == "money":
        return c.rate * (x - lever.range[0])
    if c.charge == "marketing budget":
        if lever.action == "spend":
            return x
        return max(0.0, x - plan.marketing.budget) if lever.action is None else 0.0
    return 0.0
