"""A re-forecast's starting point read from a CRM export: the bookings so far and the open
deals on the as-of date, written into the plan as its `opening`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ..errors import InputError, Location, UsageError, did_you_mean
from .crm import read_export
from .yamlio import Document


def with_pipeline(doc: Document, args: Any) -> Document:
    """Honour `--from-pipeline CSV --as-of DATE`: the document with an `opening` block."""
    paths = getattr(args, "from_pipeline", None)
    as_of = getattr(args, "as_of", None)
    if not paths and as_of is None:
        return doc
    if not paths or as_of is None:
        raise UsageError("--from-pipeline and --as-of go together")
    try:
        day = dt.date.fromisoformat(as_of)
    except ValueError:
        raise UsageError(f"--as-of: expected a date such as 2027-06-30, got '{as_of}'") from None
    data = dict(doc.data)
    data["opening"] = opening_from_crm([Path(p) for p in paths], day, data)
    return Document(data, doc.locations, doc.files + tuple(str(p) for p in paths))


def opening_from_crm(paths: list[Path], as_of: dt.date, plan_data: dict[str, Any]) -> dict[str, Any]:
    """The `opening` block for a plan, from a CRM export (deals, then optionally the
    accounts file for the key-account renewals booked so far) seen on `as_of`."""
    start = dt.date.fromisoformat(str(plan_data.get("horizon", {}).get("start", "2027-01-01")))
    years = float(plan_data.get("horizon", {}).get("years", 1))
    end = start + dt.timedelta(days=365 * years)     # the day after the horizon's last
    if not start <= as_of < end:
        raise InputError(f"--as-of {as_of} is outside the plan's horizon {start} to "
                         f"{end - dt.timedelta(days=1)}")
    names = {key: {item.get("name") for item in plan_data.get(key, []) if isinstance(item, dict)}
             for key in ("segments", "products", "channels")}
    reps = {r.get("name") for r in plan_data.get("team", {}).get("reps", []) if isinstance(r, dict)}
    bookings: list[dict[str, Any]] = []
    open_deals: list[dict[str, Any]] = []
    export = read_export(paths[0], paths[1:])    # what happened after as_of is ignored below
    where = Location(str(paths[0]))
    for renewal in export.renewals:
        if renewal.renewed and renewal.renewal_date <= as_of and renewal.segment in names["segments"] \
                and renewal.product in names["products"]:
            bookings.append({"date": renewal.renewal_date.isoformat(), "amount": renewal.contract_value,
                             "segment": renewal.segment, "product": renewal.product,
                             "rep": renewal.rep if renewal.rep in reps else None})
    for deal in export.deals:
        for key, value in (("segments", deal.segment), ("products", deal.product)):
            if value not in names[key]:
                raise InputError(f"deal {deal.id}: unknown {key[:-1]} '{value}'{did_you_mean(value, names[key])}; "
                                 f"the plan has: {', '.join(sorted(n for n in names[key] if n))}", where)
        rep = deal.rep if deal.rep in reps else None
        if deal.closed is not None and deal.closed <= as_of:
            if deal.outcome == "won":
                bookings.append({"date": deal.closed.isoformat(), "amount": deal.amount or 0.0,
                                 "segment": deal.segment, "product": deal.product, "rep": rep})
            continue
        stage = _stage_on(deal, as_of)
        if stage is None:
            continue
        if deal.channel not in names["channels"]:
            raise InputError(f"deal {deal.id}: unknown channel '{deal.channel}'"
                             f"{did_you_mean(deal.channel, names['channels'])}", where)
        open_deals.append({"id": deal.id, "stage": stage, "channel": deal.channel, "product": deal.product,
                           "rep": rep, "amount": deal.amount})
    return {"as_of": as_of.isoformat(), "bookings": bookings, "open_deals": open_deals}


def _stage_on(deal: Any, as_of: dt.date) -> str | None:
    """The stage a deal was in on `as_of`, or None if it did not exist yet."""
    if deal.negotiation is not None and deal.negotiation <= as_of:
        return "negotiation"
    if deal.intent is not None and deal.intent <= as_of:
        return "intent"
    if deal.created <= as_of:
        return "lead"
    return None
