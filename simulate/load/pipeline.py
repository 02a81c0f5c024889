"""A re-forecast's starting point read from a CRM export: the bookings of the horizon so far,
the deals open on the as-of date with the time they have spent in their stage, and the rule
that flags stale deals, written into the plan as its `opening`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, UsageError, did_you_mean
from ..plan import quantities as q
from .crm import CsvError, Deal, Export, read_export
from .crm_formats import load_map
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
    data["opening"] = opening_from_crm([Path(p) for p in paths], day, data, getattr(args, "crm_map", None))
    return Document(data, doc.locations, doc.files + tuple(str(p) for p in paths))


def opening_from_crm(paths: list[Path], as_of: dt.date, plan_data: dict[str, Any],
                     crm_map: Path | None = None) -> dict[str, Any]:
    """The `opening` block for a plan, from a CRM export (deals, then optionally the
    accounts file for the key-account renewals booked so far) seen on `as_of`, read through
    `crm_map` (see crm_formats). An export of current stages only gives each open deal its
    current stage, entered on an unknown day."""
    export = read_export(paths[0], paths[1:], export_map=load_map(crm_map))   # what followed as_of is ignored
    return opening_from_export(export, as_of, plan_data)


def opening_from_export(export: Export, as_of: dt.date, plan_data: dict[str, Any]) -> dict[str, Any]:
    """The `opening` block for a plan from an export already read (see `opening_from_crm`)."""
    path = Path(export.files["deals"])
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
    for renewal in export.renewals:
        if renewal.renewed and start <= renewal.renewal_date <= as_of and renewal.segment in names["segments"] \
                and renewal.product in names["products"]:
            bookings.append({"date": renewal.renewal_date.isoformat(), "amount": renewal.contract_value,
                             "segment": renewal.segment, "product": renewal.product,
                             "rep": renewal.rep if renewal.rep in reps else None})
    stale = stale_rule(export.deals, as_of)
    silent = silent_rule(export.deals, as_of, stale["after_days"]) if stale is not None else None
    ages = OpenAges(export.deals, as_of)
    for deal in export.deals:
        if deal.closed is not None and deal.closed < start:
            continue                                   # settled in an earlier year
        for column, value in (("segment", deal.segment), ("product", deal.product)):
            _known(path, deal, column, value, names[column + "s"])
        rep = deal.rep if deal.rep in reps else None
        if deal.closed is not None and deal.closed <= as_of:
            if deal.outcome == "won":
                bookings.append({"date": deal.closed.isoformat(), "amount": deal.amount or 0.0,
                                 "segment": deal.segment, "product": deal.product, "rep": rep})
            continue
        stage = _stage_on(deal, as_of) if export.stage_dates else deal.last_stage if deal.created <= as_of else None
        if stage is None:
            continue
        channel = deal.channel if deal.channel in names["channels"] else f"{deal.channel} ({deal.segment})"
        if channel not in names["channels"]:          # calibrate's name for a shared channel, else an error
            _known(path, deal, "channel", deal.channel, names["channels"])
        entered = deal.entered(("lead", "intent", "negotiation").index(stage)) if export.stage_dates else \
            _entered_guess(deal, stage, plan_data, as_of)
        age = (as_of - deal.created).days
        is_stale = stale is not None and age > stale["after_days"]
        # a stale deal: the share of deals still open at its own age that were not won since;
        # a younger one: its chance of being a silent loss
        lost = round(ages.loss(age), 4) if is_stale else silent.lost_already(age) if silent is not None else 0.0
        open_deals.append({"id": deal.id, "stage": stage, "channel": channel, "product": deal.product,
                           "rep": rep, "amount": deal.amount,
                           "entered": entered.isoformat() if entered else None, "stale": is_stale,
                           "lost_already": lost})
    return {"as_of": as_of.isoformat(), "bookings": bookings, "open_deals": open_deals, "stale": stale,
            "silent": silent.spec() if silent is not None else None}


def _known(path: Path, deal: Deal, column: str, value: str, names: set[str]) -> None:
    """A deal the re-forecast must place names a segment, product or channel of the plan."""
    if value not in names:
        plan_has = ", ".join(sorted(n for n in names if n))
        raise CsvError(path, deal.row, column, f"a {column} of the plan ({plan_has})",
                       f"{value!r}{did_you_mean(value, names)}")


def stale_rule(deals: Sequence[Deal], as_of: dt.date) -> dict[str, Any] | None:
    """When a deal open on `as_of` is stale, and the chance a stale deal is lost.

    Stale: open for longer than the 95th percentile of the cycle (created to closed) of the
    deals closed by `as_of`. The loss chance is measured on the export's own history: of the
    deals that were still open at that age, the share that has not been won since (deals
    still open count as not won, so it leans to caution). None when no deal closed.
    """
    cycles = [(d.closed - d.created).days for d in deals if d.closed is not None and d.closed <= as_of]
    if not cycles:
        return None
    after = float(np.percentile(cycles, 95))
    ages = OpenAges(deals, as_of)
    reached, won = ages.reached_and_won(after)
    return {"after_days": after, "loss": ages.loss(after), "reached": reached, "won_after": won}


class OpenAges:
    """Which deals of an export were still open at a given age, and which of those were won
    by `as_of`: the chance that a deal still open at that age is lost, measured."""

    def __init__(self, deals: Sequence[Deal], as_of: dt.date):
        self.age = np.array([(as_of - d.created).days for d in deals], float)
        self.closed_at = np.array([(d.closed - d.created).days if d.closed is not None and d.closed <= as_of
                                   else np.inf for d in deals], float)
        self.won = np.array([d.outcome == "won" and d.closed is not None and d.closed <= as_of for d in deals])

    def reached_and_won(self, age: float) -> tuple[int, int]:
        """Deals older than `age` today that were still open on their first day older than it
        (`age` rounded down, plus one), and how many of those were won since."""
        first = int(age) + 1
        reached = (self.age >= first) & (self.closed_at >= first)
        return int(reached.sum()), int((reached & self.won).sum())

    def loss(self, age: float) -> float:
        reached, won = self.reached_and_won(age)
        return 1.0 - won / reached if reached else 1.0


def _entered_guess(deal: Deal, stage: str, plan_data: dict[str, Any], as_of: dt.date) -> dt.date | None:
    """An export of current stages only: the day a deal probably entered its stage, its
    creation plus the plan's mean times of the stages before (at most `as_of`). Taking the
    day as unknown would restart every open deal's stage and push its close too late."""
    if stage == "lead":
        return deal.created
    from ..plan.distributions import parse_distribution
    segment = next((s for s in plan_data.get("segments", []) if isinstance(s, dict) and s.get("name") == deal.segment),
                   None)
    funnel = segment.get("funnel") if segment else None
    if not isinstance(funnel, dict):
        return None
    try:
        before = sum(parse_distribution(funnel[st]["time"], q.parse_days).mean
                     for st in ("lead", "intent")[:("intent", "negotiation").index(stage) + 1])
    except (KeyError, TypeError, ValueError):
        return None
    return min(as_of, deal.created + dt.timedelta(days=round(before)))


@dataclass(frozen=True)
class SilentLosses:
    """Deals lost without anyone closing them in the CRM, measured on the export itself.

    Of the deals created in the year up to the stale age before as-of, nearly all real ones
    have closed: the closed deals' cycles say how many should still be open (`expected`);
    those open beyond that are silent losses, a share z of all deals. A deal open at age a is
    one of them with chance p = z / (z + (1 - z) S(a)), S the share of closed cycles longer
    than a. The plan's conversions already count a silent loss as lost (calibrate counts stale
    deals so), so the deal is taken as lost at once with the chance beyond that:
    1 - (1 - p) / (1 - z) = z F(a) / (z F(a) + S(a)), F = 1 - S: a silent loss that a CRM
    would have closed before age a, against a deal whose close is still to come. It is 0 for a
    new deal and grows with age.
    """

    share: float
    cohort: int
    still_open: int
    expected: float
    cycles: np.ndarray           # closed deals' cycles, created to closed, sorted

    def lost_already(self, age: float) -> float:
        z = self.share
        if z <= 0:
            return 0.0
        survive = float(survival(self.cycles, age))
        return round(z * (1 - survive) / (z * (1 - survive) + survive), 4) if survive < 1 else 0.0

    def spec(self) -> dict[str, Any]:
        return {"share": round(self.share, 4), "cohort": self.cohort, "still_open": self.still_open,
                "expected_open": round(self.expected, 1)}


def survival(cycles: np.ndarray, age: Any) -> Any:
    """S(age): the share of closed deals' `cycles` (sorted) longer than `age` (a number or an array)."""
    return 1.0 - np.searchsorted(cycles, age, side="right") / len(cycles)


def silent_rule(deals: Sequence[Deal], as_of: dt.date, after_days: float) -> SilentLosses | None:
    """The silent losses of an export seen on `as_of` (see SilentLosses); None without a
    cohort of at least MIN_COHORT deals old enough to judge."""
    cycles = np.sort([(d.closed - d.created).days for d in deals if d.closed is not None and d.closed <= as_of])
    cohort = [d for d in deals if after_days < (as_of - d.created).days <= after_days + 365]
    if len(cohort) < MIN_COHORT or not cycles.size:
        return None
    still = sum(d.closed is None or d.closed > as_of for d in cohort)
    ages = np.array([(as_of - d.created).days for d in cohort], float)
    expected = float(np.sum(survival(cycles, ages)))
    share = max(0.0, (still - expected) / max(len(cohort) - expected, 1.0))
    return SilentLosses(share, len(cohort), still, expected, cycles)


MIN_COHORT = 30


def _stage_on(deal: Any, as_of: dt.date) -> str | None:
    """The stage a deal was in on `as_of`, or None if it did not exist yet."""
    if deal.negotiation is not None and deal.negotiation <= as_of:
        return "negotiation"
    if deal.intent is not None and deal.intent <= as_of:
        return "intent"
    if deal.created <= as_of:
        return "lead"
    return None
