"""Re-forecast from today: the year so far, as the simulation's starting point.

Mid-year, the manager knows what was booked and which deals are open in which stage.
`--from-pipeline DEALS.csv --as-of 2027-06-30` turns a CRM export into an `opening`: the
bookings made from the horizon's start up to that date are counted as they are (earlier ones
belong to another year), the deals open on that date carry on in the stage they were in,
with the time they have already spent there, and only the rest of the year is simulated.
Deals open for longer than the 95th percentile of closed deals' cycle are stale: each is lost
on the as-of day with a stated chance. The opening is part of the resolved plan, so a
manifest reruns it exactly.
"""

from __future__ import annotations

from typing import Literal

from .types import Date, Days, Fraction, Model, Money


class PastBooking(Model):
    date: Date
    amount: Money
    segment: str
    product: str
    rep: str | None = None


class OpenDeal(Model):
    id: str
    stage: Literal["lead", "intent", "negotiation"]
    channel: str
    product: str
    rep: str | None = None
    amount: Money | None = None
    entered: Date | None = None     # the day it entered its stage; unknown: taken as as_of
    stale: bool = False             # open longer than the 95th percentile of closed deals


class Stale(Model):
    """When an open deal is stale, and the chance that one is lost: of the `reached` deals of
    the export that were still open at `after_days` old, the share not won since."""

    after_days: Days
    loss: Fraction
    reached: int
    won_after: int


class Opening(Model):
    """Where the year stands on `as_of`: what was booked, and what is open."""

    as_of: Date
    bookings: list[PastBooking] = []
    open_deals: list[OpenDeal] = []
    stale: Stale | None = None


def stale_warning(opening: Opening) -> str | None:
    """The review's line on stale open deals, or None when there are none."""
    stale = [d for d in opening.open_deals if d.stale]
    if not stale or opening.stale is None:
        return None
    s = opening.stale
    return (f"re-forecast: {len(stale)} of {len(opening.open_deals)} open deals are stale (open longer than "
            f"{s.after_days:.0f} days, the 95th percentile of closed deals' cycle); each is taken as lost on "
            f"{opening.as_of} with probability {s.loss:.0%} (of the {s.reached} deals of the export still "
            f"open at that age, {s.won_after} were won since)")
