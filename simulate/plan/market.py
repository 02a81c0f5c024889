"""The market ceiling: a target must sit under what the market can give this team.

Methodology, market validation: a target above market size x reachable share is a warning
sign (the company that doubled its target on an overestimated market ended with channel
stuffing). The warning appears in `validate`, in the run summary and in the report.
"""

from __future__ import annotations

from ..format import money
from .opening import stale_warning
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


def plan_warnings(plan: Plan) -> list[str]:
    """Every warning about a plan that loads but may not hold: the market ceiling, and a
    re-forecast's stale open deals."""
    stale = stale_warning(plan.opening) if plan.opening is not None else None
    return [w for w in (market_warning(plan), stale) if w]
