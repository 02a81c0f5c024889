"""What last year's CRM export says about each part of the plan, measured with its sample size.

The funnel (how many deals advance out of each stage and how long they take), the deal
values (a price per product, units per segment), the lead flow of each channel, the
key-account renewals and the team (attrition, hiring delays, a new hire's ramp-up, each
rep's skill). A figure measured on fewer than MIN_N observations is too thin to plan on.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..load.crm import STAGE_NAMES
from ..plan import quantities as q
from ..stats.fit import (
    MIN_SWING_DF,
    VALUE_FAMILIES,
    Dispersion,
    DistFit,
    LogLinear,
    Proportion,
    Rate,
    Seasonality,
    dispersion,
    durations_ks_sample,
    fit_distribution,
    log_linear,
    seasonality,
    with_ks,
)

if TYPE_CHECKING:
    from ..load.crm import Export

MIN_N = 30              # fewer observations than this: the figure falls back to a default
THIN = 0.2              # a month with under this share of the typical month's new deals is thin
MONTH_DAYS = 365.0 / 12


@dataclass(frozen=True)
class StageData:
    """Every deal that entered one stage: completed durations and those still running."""

    conversion: Proportion
    days: np.ndarray                   # completed: days from entering the stage to leaving it
    started_before: np.ndarray         # for each completed one: days from entry to the export date
    open_days: np.ndarray              # still open: days in the stage so far


class Estimates:
    """What the CRM export says about each part of the plan, with sample sizes and intervals."""

    def __init__(self, export: Export):
        self.export = export
        self.segments = list(dict.fromkeys([r.segment for r in export.renewals] + [d.segment for d in export.deals]))
        # One plan channel per (CRM channel, segment) pair with deals: a channel that feeds
        # several segments feeds each of them (named "channel (segment)"), none goes missing.
        pairs = list(dict.fromkeys((d.channel, d.segment) for d in export.deals))
        fed = _most_common([(d.channel, d.segment) for d in export.deals])
        self.channels = {channel_name(c, seg, fed): (c, seg) for c, seg in pairs}
        self.channel_segment = {name: seg for name, (_, seg) in self.channels.items()}
        cycles = [(d.closed - d.created).days for d in export.deals if d.closed is not None]
        self._stale_after = float(np.percentile(cycles, 95)) if cycles else math.inf
        self.months, self.typical = _creations_by_month(export)
        # Leads are counted from the first month with a typical share of new deals: the empty
        # months of a left-truncated export would otherwise read as a slow season. An export
        # that left out the deals closed before its first close holds, of the deals created
        # before that, only those still open then: leads are counted from it.
        first = next((k for k, n in self.months.items() if n >= THIN * self.typical), next(iter(self.months)))
        self.leads_from = max(export.start, export.observed_from, dt.date(first[0], first[1], 1))
        # A full month: from its first day to its last, records on both sides (the export's
        # first creation, and a record within a week of its end: an export pulled mid-month
        # reads to that month's end, `read_export`).
        self._records = (min(d.created for d in export.deals),
                         max(max(d.created, d.closed or d.created) for d in export.deals))

    # -- funnel ----------------------------------------------------------------------
    def stage(self, stage: int, segment: str | None = None, channel: str | None = None) -> StageData:
        as_of = self.export.as_of
        adv = n = 0
        days, before, still = [], [], []
        source = self.channels[channel] if channel else None
        for d in self.export.deals if self.export.stage_dates else ():
            if (segment and d.segment != segment) or (source and (d.channel, d.segment) != source):
                continue
            entered = d.entered(stage)
            if entered is None:
                continue
            reached = STAGE_NAMES.index(d.last_stage)
            if reached > stage:
                end, advanced = d.entered(stage + 1), True
            elif d.outcome == "open":
                if (as_of - d.created).days <= self._stale_after:
                    still.append((as_of - entered).days)
                else:                 # stale: counted lost here, left out of the times (it would stretch them)
                    n += 1
                continue
            else:
                end, advanced = d.closed, d.outcome == "won"
            n += 1
            adv += advanced
            days.append((end - entered).days)
            before.append((as_of - entered).days)
        return StageData(Proportion(adv, n), np.asarray(days, float), np.asarray(before, float),
                         np.asarray(still, float))

    def coverage(self) -> list[str]:
        """What the export's period really is: short (under a year: annualised), left-truncated
        (closes starting long after the first creations), months with too few records."""
        ex, out = self.export, []
        if ex.days < 360:
            out.append(f"short export: {ex.start} to {ex.as_of} is {ex.days / MONTH_DAYS:.1f} months, not a year; "
                       f"counts per year (leads, attrition) are annualised (x {365 / ex.days:.2f}) and "
                       "\"last year\" is this period")
        if ex.observed_from > ex.start:
            created = min(d.created for d in ex.deals)
            out.append(f"left-truncated export: the first deal closes on {ex.observed_from}, "
                       f"{(ex.observed_from - created).days} days after the first is created ({created}); deals "
                       "closed before it are missing, so its first months under-count bookings and new deals")
        thin = [f"{y}-{m:02d} ({n})" for (y, m), n in self.months.items() if n < THIN * self.typical]
        if thin:
            out.append(f"months with under a fifth of the typical {self.typical:.0f} new deals: {', '.join(thin)}")
        early = [r.name for r in ex.reps if ex.start <= r.hire <= self.joined_before()]
        if early:
            out.append(f"{len(early)} reps hired in the data's first month ({', '.join(early[:4])}"
                       f"{', ...' if len(early) > 4 else ''}) count as on the team before it: their first months "
                       "show the export's pipeline filling up, not a ramp-up, and are left out of the ramp-up curve")
        if self.leads_from > ex.start:
            out.append(f"lead flows are measured from {self.leads_from} on ({(ex.as_of - self.leads_from).days + 1} "
                       "days), where every new deal is recorded and new deals reach a typical month's count; the "
                       "months before are left out")
        return out

    def win_rate(self, segment: str) -> Proportion:
        """Of the segment's deals that ended, the share won: all a current-stage export says.
        A stale open deal has ended without anyone closing it: it counts as lost."""
        ended = [d.outcome == "won" for d in self.export.deals if d.segment == segment and self.ended(d)]
        return Proportion(sum(ended), len(ended))

    def ended(self, deal) -> bool:
        """Closed, or stale: a deal open longer than `stale_after` has ended without anyone
        closing it, and counts as lost in every rate (not in stage times: it never left)."""
        return deal.outcome != "open" or (self.export.as_of - deal.created).days > self._stale_after

    def stale_after(self) -> float:
        """Days after which an open deal is stale: the 95th percentile of closed deals'
        cycle, created to closed (inf when none closed)."""
        return self._stale_after

    def stale(self) -> list:
        """The open deals older than `stale_after`: left out of the fits, listed in the review."""
        after, as_of = self.stale_after(), self.export.as_of
        return [d for d in self.export.deals if d.outcome == "open" and (as_of - d.created).days > after]

    def cycle(self, segment: str) -> tuple[DistFit | None, int]:
        """Created to closed of the segment's won deals, with its open deals in negotiation
        (the ones on their way to a signature) right-censored at their age, stale ones left
        out; and the number of stale deals left out. None when fewer than MIN_N wins."""
        as_of, after = self.export.as_of, self.stale_after()
        won = [(d.closed - d.created).days for d in self.export.deals
               if d.segment == segment and d.outcome == "won" and d.closed is not None]
        ages = [(as_of - d.created).days for d in self.export.deals
                if d.segment == segment and d.outcome == "open" and d.last_stage == "negotiation"]
        fresh = [a for a in ages if a <= after]
        if len(won) < MIN_N:
            return None, len(ages) - len(fresh)
        return fit_distribution(days=np.asarray(won, float), right=np.asarray(fresh, float)), len(ages) - len(fresh)

    def stage_time(self, data: StageData) -> DistFit | None:
        """Stage duration fitted with open deals censored; None when too thin to fit."""
        if data.days.size < MIN_N:
            return None
        fit = fit_distribution(days=data.days, right=data.open_days)
        horizon = float(fit.frozen.ppf(0.995))
        sample = durations_ks_sample(data.days, data.started_before, horizon)
        return with_ks(fit, sample if sample.size >= MIN_N else
                       durations_ks_sample(data.days, data.started_before, -1.0))

    def skills(self) -> dict[str, tuple[Rate, int]]:
        """Each rep's negotiation wins against the wins expected at their segments' rates:
        skill = observed / expected (a Poisson rate on the expected count), and n."""
        rates = {s: (self.stage(2, segment=s).conversion if self.export.stage_dates else self.win_rate(s)).p
                 for s in self.segments}
        won: dict[str, int] = {}
        expected: dict[str, float] = {}
        count: dict[str, int] = {}
        for d in self.export.deals:
            if d.rep and (d.last_stage == "negotiation" or not self.export.stage_dates) and self.ended(d):
                won[d.rep] = won.get(d.rep, 0) + (d.outcome == "won")
                expected[d.rep] = expected.get(d.rep, 0.0) + rates[d.segment]
                count[d.rep] = count.get(d.rep, 0) + 1
        return {r: (Rate(won[r], expected[r]), count[r]) for r in won if expected[r] > 0}

    def rep_load(self, effort: Callable[[str], Sequence[float]]) -> dict[str, np.ndarray]:
        """Each rep's work, week by week from their first deal to their last: the visits
        their deals asked for at `effort` (a segment's visits per stage) on entering each
        stage. An export of current stages dates all of a deal's work on its creation and
        sends a lost deal through every stage, so the load is never understated."""
        ex = self.export
        work: dict[str, list[tuple[int, float]]] = {}
        for d in ex.deals:
            if not d.rep:
                continue
            e = effort(d.segment)
            if ex.stage_dates:
                steps = [(d.entered(k), e[k]) for k in range(3) if d.entered(k) is not None]
            else:
                reached = 2 if d.outcome != "open" else STAGE_NAMES.index(d.last_stage)
                steps = [(d.created, float(sum(e[:reached + 1])))]
            work.setdefault(d.rep, []).extend(((day - ex.start).days // 7, v) for day, v in steps)
        out = {}
        for rep, steps in work.items():
            weeks = np.array([w for w, _ in steps])
            out[rep] = np.bincount(weeks - weeks.min(), weights=[v for _, v in steps])
        return out

    # -- leads ------------------------------------------------------------------------
    def arrivals(self, channel: str) -> tuple[Rate, Seasonality]:
        """Leads per year over the whole export, and their calendar-month profile: weights
        January first, each month's daily rate against the average, as the model reads them,
        tested against the months' own swing where a calendar month was seen twice."""
        ex = self.export
        counts = [0] * 12
        for d in ex.deals:
            if (d.channel, d.segment) == self.channels[channel] and d.created >= self.leads_from:
                counts[d.created.month - 1] += 1
        exposure = [0.0] * 12
        day = self.leads_from
        while day <= ex.as_of:
            exposure[day.month - 1] += 1
            day += dt.timedelta(days=1)
        months = [(m - 1, k, days) for (_, m), k, days in self.lead_months(channel)]
        return Rate(sum(counts), sum(exposure) / 365.0), seasonality(counts, exposure, months)

    def lead_months(self, channel: str) -> list[tuple[tuple[int, int], int, int]]:
        """((year, month), new deals, days) of the channel's full calendar months since leads
        are measured: the months a swing and a recurring season are measured on."""
        first, last = self._records
        since, until = max(self.leads_from, first), min(self.export.as_of, last + dt.timedelta(days=7))
        ends = {k: q.month_end(dt.date(k[0], k[1], 1)) for k in self.months}
        counts = {k: 0 for k, end in ends.items() if end.replace(day=1) >= since and end <= until}
        source = self.channels[channel]
        for d in self.export.deals:
            key = (d.created.year, d.created.month)
            if key in counts and (d.channel, d.segment) == source:
                counts[key] += 1
        return [(k, n, ends[k].day) for k, n in counts.items()]

    def volatility(self, channel: str, season: Seasonality | None) -> tuple[Dispersion | None, str]:
        """How far the channel's full months stray from its rate (shaped by `season` when the
        plan uses it, whose weights are then fitted on the same months), and why not when the
        months are too few: a forecast from a steady flow would be surer than the past was."""
        months = [(k, n, days * (season.weights[k[1] - 1] if season is not None else 1.0))
                  for k, n, days in self.lead_months(channel)]
        months = [m for m in months if m[2] > 0]          # a month the season gives no leads tells nothing
        fitted = len({k[1] for k, _, _ in months}) if season is not None else 1
        if len(months) - fitted < MIN_SWING_DF:
            return None, (f"{len(months)} full months since leads are measured" +
                          (f", {fitted} of them taken by the season's weights" if season is not None else "") +
                          f": too few to measure it (needs {fitted + MIN_SWING_DF})")
        if sum(n for _, n, _ in months) == 0:
            return None, "no new deals in its full months"
        return dispersion([n for _, n, _ in months], [e for _, _, e in months], fitted), ""

    # -- deal values ------------------------------------------------------------------
    def deal_values(self) -> tuple[LogLinear, str, dict[str, float], dict[str, np.ndarray]] | None:
        """Deal value = units x price: the log-linear split into a price per product and
        units per segment. Prices are scaled so the average deal of the reference segment
        (the one with most wins) is 1 unit: a product's price is its average deal there."""
        won = [d for d in self.export.deals if d.outcome == "won" and d.amount]
        if not won:
            return None
        model = log_linear(np.array([d.amount for d in won]), [d.segment for d in won], [d.product for d in won])
        ref = _most_common([("reference", d.segment) for d in won])["reference"]
        base = {p: math.exp(model.intercept + model.effects[("segment", ref)] + model.effects[("product", p)])
                for p in model.products}
        scale = float(np.mean([d.amount / base[d.product] for d in won if d.segment == ref]))
        prices = {p: b * scale for p, b in base.items()}
        units: dict[str, list[float]] = {}
        for d in won:
            units.setdefault(d.segment, []).append(d.amount / prices[d.product])
        return model, ref, prices, {s: np.asarray(u) for s, u in units.items()}

    def value_cells(self) -> dict[tuple[str, str], DistFit]:
        """Deal values by segment and product, fitted where a cell holds enough wins."""
        cells: dict[tuple[str, str], list[float]] = {}
        for d in self.export.deals:
            if d.outcome == "won" and d.amount:
                cells.setdefault((d.segment, d.product), []).append(d.amount)
        return {k: fit_distribution(exact=np.asarray(v), families=VALUE_FAMILIES)
                for k, v in sorted(cells.items()) if len(v) >= MIN_N}

    # -- key accounts -----------------------------------------------------------------
    def renewal_rate(self, segment: str) -> Proportion:
        decided = [r.renewed for r in self.export.renewals if r.segment == segment and r.renewed is not None]
        return Proportion(sum(decided), len(decided))

    def last_year_accounts(self, segment: str) -> list:
        first = self.export.as_of - dt.timedelta(days=364)
        return [r for r in self.export.renewals if r.segment == segment and r.renewal_date >= first]

    # -- team -------------------------------------------------------------------------
    def attrition(self) -> Rate:
        """Leavers per rep-year of exposure within the export."""
        ex = self.export
        exposure = leavers = 0
        for r in ex.reps:
            first, last = max(r.hire, ex.start), min(r.leave or ex.as_of, ex.as_of)
            exposure += max(0, (last - first).days)
            leavers += r.leave is not None and ex.start <= r.leave <= ex.as_of
        return Rate(leavers, exposure / 365.0)

    def hiring_delays(self) -> list[int]:
        """Days from each leaver to the next hire who takes the same segments."""
        ex = self.export
        hires = sorted((r for r in ex.reps if r.hire >= ex.start), key=lambda r: r.hire)
        used: set[str] = set()
        gaps = []
        for r in sorted((r for r in ex.reps if r.leave and r.leave >= ex.start), key=lambda r: r.leave):
            nxt = next((h for h in hires if h.hire >= r.leave and h.name not in used
                        and set(h.segments) == set(r.segments)), None)
            if nxt is not None:
                used.add(nxt.name)
                gaps.append((nxt.hire - r.leave).days)
        return gaps

    def joined_before(self) -> dt.date:
        """Reps hired by this day count as on the team before the export: a hire date in the
        data's first month is as often the day the CRM started as a real start, and their
        first months would show a pipeline filling up, not a new hire learning."""
        return self.leads_from + dt.timedelta(days=31)

    def ramp(self) -> list[tuple[float, float]]:
        """Month of tenure 1..12 of reps hired during the export: (deals they took on,
        deals reps of at least a year's tenure in the same segments would have taken)."""
        ex = self.export
        taken: dict[str, list[dt.date]] = {}
        for d in ex.deals:
            if d.rep:
                taken.setdefault(d.rep, []).append(d.created)
        tenured_rate: dict[tuple, list[float]] = {}
        for r in ex.reps:
            first = max(r.hire + dt.timedelta(days=365), ex.start)
            last = min(r.leave or ex.as_of, ex.as_of)
            if last > first:
                n = sum(first <= c <= last for c in taken.get(r.name, []))
                acc = tenured_rate.setdefault(tuple(sorted(r.segments)), [0.0, 0.0])
                acc[0] += n
                acc[1] += (last - first).days
        curve = [[0.0, 0.0] for _ in range(12)]
        for r in ex.reps:
            rate = tenured_rate.get(tuple(sorted(r.segments)))
            if r.hire <= self.joined_before() or not rate or rate[1] <= 0:
                continue
            per_day = rate[0] / rate[1]
            end = min(r.leave or ex.as_of, ex.as_of)
            for m in range(12):
                lo = r.hire + dt.timedelta(days=m * MONTH_DAYS)
                hi = min(r.hire + dt.timedelta(days=(m + 1) * MONTH_DAYS), end + dt.timedelta(days=1))
                if hi <= lo:
                    break
                curve[m][0] += sum(lo <= c < hi for c in taken.get(r.name, []))
                curve[m][1] += (hi - lo).days * per_day
        return [(a, b) for a, b in curve]

    def ramp_fit(self) -> tuple[int, float, list[float | None], float] | None:
        """Training months (leading months at under 0.2 of a tenured rep's deals), the pace of
        the three months after (mentored), the whole curve, and the deals expected in months
        1 to 6; None when months 1 to 6 expect fewer than MIN_N deals in all."""
        curve = self.ramp()
        expected = sum(e for _, e in curve[:6])
        if any(e <= 0 for _, e in curve[:6]) or expected < MIN_N:
            return None
        ratios = [taken / e if e > 0 else None for taken, e in curve]
        train = 0
        while train < 6 and (ratios[train] or 0.0) < 0.2:
            train += 1
        window = curve[train:train + 3]
        pace = sum(t for t, _ in window) / max(sum(e for _, e in window), 1e-9)
        return train, pace, ratios, expected


def _creations_by_month(ex: Export) -> tuple[dict[tuple[int, int], int], float]:
    """New deals in each calendar month of the export (months without any included), and the
    median month's count."""
    months: dict[tuple[int, int], int] = {}
    day = ex.start
    while day <= ex.as_of:
        months.setdefault((day.year, day.month), 0)
        day += dt.timedelta(days=1)
    for d in ex.deals:
        key = (d.created.year, d.created.month)
        if key in months:
            months[key] += 1
    return months, float(np.median(list(months.values())))


def channel_name(channel: str, segment: str, main_segment: dict[str, str]) -> str:
    """A plan channel's name: the CRM's, with the segment added where the CRM channel also
    feeds another segment than its main one (the re-forecast maps deals the same way)."""
    return channel if main_segment.get(channel) == segment else f"{channel} ({segment})"


def _most_common(pairs: list[tuple]) -> dict:
    """For each key, the value it is paired with most often (the first seen on a tie)."""
    counts: dict = {}
    for k, v in pairs:
        counts.setdefault(k, {}).setdefault(v, 0)
        counts[k][v] += 1
    return {k: max(c, key=c.__getitem__) for k, c in counts.items()}
