"""Re-forecast from today: the year so far, as the simulation's starting point.

Mid-year, the manager knows what was booked and which deals are open in which stage.
`--from-pipeline DEALS.csv --as-of 2027-06-30` turns a CRM export into an `opening`: the
bookings made up to that date are counted as they are, the deals open on that date start
in the stage they were in, and only the rest of the year is simulated. The opening is
part of the resolved plan, so a manifest reruns it exactly.
"""

from __future__ import annotations

from typing import Literal

from .types import Date, Model, Money


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


class Opening(Model):
    """Where the year stands on `as_of`: what was booked, and what is open."""

    as_of: Date
    bookings: list[PastBooking] = []
    open_deals: list[OpenDeal] = []
