"""The market ceiling: a target must sit under what the market can give this team.

Methodology, market validation: a target above market size x reachable share is a warning
sign (the company that doubled its target on an overestimated market ended with channel
stuffing). The warning appears in `validate`, in the run summary and in the report.
"""

from __future__ import annotations

from ..format import money
from .opening import stale_warnings
from .plan import Market, Plan


def market_ceiling(market: Market) -> float:
    """The most the team can sell next year: size x (1 + growth) x reachable share."""
    return market.size * (1.0 + market.growth) * market.reachable_share


def market_warning(plan: Plan) -> str | None:
    """A one-line warning when the target asks for more of the market than the team can
    reach (methodology: a target must sit under market size x reachable share); else None."""
    market = plan.market
    if market is None or market.size <= 0:
        return None
    ceiling = market_ceiling(market)
    if plan.target.annual <= ceiling:
        return None
    next_year = market.size * (1.0 + market.growth)
    share = plan.target.annual / next_year
    return (f"market: the target {money(plan.target.annual)} is {share:.1%} of next year's market "
            f"({money(market.size)} x {1 + market.growth:.3g} = {money(next_year)}), above the reachable "
            f"share of {market.reachable_share:.1%} (ceiling {money(ceiling)})")


SPLIT_TOLERANCE = 0.005    # a split may round: half a percent of the annual target


def split_warnings(plan: Plan) -> list[str]:
    """A target split by segment, product or region that does not add up to the annual
    target: all the parts named and their sum off, or the named parts alone above it
    (strategy decoding: each layer of the target must add up to the one above)."""
    target, out = plan.target, []
    axes = (("by_segment", target.by_segment, [s.name for s in plan.segments]),
            ("by_product", target.by_product, [p.name for p in plan.products]),
            ("by_region", target.by_region, list(plan.regions)))
    for key, split, names in axes:
        if not split:
            continue
        total = sum(split.values())
        off = (total - target.annual) / target.annual
        complete = set(names) <= set(split)
        if (complete and abs(off) > SPLIT_TOLERANCE) or (not complete and off > SPLIT_TOLERANCE):
            parts = "its parts" if complete else "the part named" if len(split) == 1 else f"the {len(split)} parts named"
            out.append(f"target: {key} adds up to {money(total)} ({parts}), {abs(off):.1%} "
                       f"{'above' if off > 0 else 'below'} the annual target {money(target.annual)}")
    return out


def plan_warnings(plan: Plan) -> list[str]:
    """Every warning about a plan that loads but may not hold: the market ceiling, a target
    split that does not add up, and a re-forecast's stale and silently lost open deals."""
    stale = stale_warnings(plan.opening) if plan.opening is not None else []
    return [w for w in (market_warning(plan), *split_warnings(plan), *stale) if w]
