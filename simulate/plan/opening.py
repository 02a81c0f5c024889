"""Re-forecast from today: the year so far, as the simulation's starting point.

Mid-year, the manager knows what was booked and which deals are open in which stage.
`--from-pipeline DEALS.csv --as-of 2027-06-30` turns a CRM export into an `opening`: the
bookings made from the horizon's start up to that date are counted as they are (earlier ones
belong to another year), the deals open on that date carry on in the stage they were in,
with the time they have already spent there, and only the rest of the year is simulated.
Deals open for longer than the 95th percentile of closed deals' cycle are stale: each is lost
on the as-of day with a stated chance. Younger ones may be dead too: many CRMs hold deals that
were lost but never closed, and each open deal carries the chance that it is one of them,
measured on the export (see `Silent`). The opening is part of the resolved plan, so a
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
    # The chance it has already ended without anyone closing it: for a stale deal, of the
    # export's deals still open at its age, the share not won since; for a younger one, its
    # chance of being a silent loss. None (older plans): a stale deal takes `Stale.loss`.
    lost_already: Fraction | None = None


class Silent(Model):
    """Deals that end without anyone closing them in the CRM: of the `cohort` deals created a
    year up to the stale age before as-of, `still_open` are open, against `expected_open` that
    a cycle as long as the closed deals' would leave; `share` is the excess, as a share."""

    share: Fraction
    cohort: int
    still_open: int
    expected_open: float


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
    silent: Silent | None = None


def stale_warnings(opening: Opening) -> list[str]:
    """The review's lines on stale open deals and on deals lost without being closed."""
    out = []
    stale = [d for d in opening.open_deals if d.stale]
    if stale and opening.stale is not None:
        s = opening.stale
        out.append(f"re-forecast: {len(stale)} of {len(opening.open_deals)} open deals are stale (open longer than "
                   f"{s.after_days:.0f} days, the 95th percentile of closed deals' cycle); each is taken as lost on "
                   f"{opening.as_of} with the share of the export's deals still open at its age that were not won "
                   f"since: {s.loss:.0%} at {s.after_days:.0f} days (of {s.reached} deals, {s.won_after} won since)"
                   + (f", {_mean(d.lost_already for d in stale):.0%} on average" if stale[0].lost_already is not None
                      else ""))
    silent = opening.silent
    young = [d.lost_already or 0.0 for d in opening.open_deals if not d.stale]
    if silent is not None and silent.share > 0 and young:
        out.append(f"re-forecast: {silent.share:.0%} of deals end without anyone closing them in the CRM (of the "
                   f"{silent.cohort} deals created in the year before the stale age, {silent.still_open} are still "
                   f"open where closed deals' cycles leave {silent.expected_open:.0f}); each younger open deal is "
                   f"taken as already lost with a chance that grows with its age, {sum(young) / len(young):.0%} "
                   "on average")
    return out


def _mean(values) -> float:
    values = list(values)
    return sum(v or 0.0 for v in values) / len(values) if values else 0.0
