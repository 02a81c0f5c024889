"""Anchor the plan in last year's data: calibrate it from the CRM, check it against the market.

A target pulled out of thin air fails; last year is "the mirror of the target". `calibrate`
reads a CRM export (deals, key-account renewals, reps), measures the funnel, the deal sizes,
the lead flow, the renewals and the team, and writes a plan whose every figure says where it
came from: its sample size and fit quality, or the default it fell back to when the data
were too thin. It also reviews last year on the source's three axes (customer tier,
product, region) and checks the funnel's shape against 5 : 3 : 2 : 1. A plan may state its
market; `market_warning` flags a target that asks for more than the reachable share.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from . import quantities as q
from .cli import register
from .crm import RepRecord
from .errors import UsageError
from .market import market_ceiling, market_warning
from .plan import Market, Plan

if TYPE_CHECKING:
    from .fit import Estimates, Proportion


def _money(x: float, digits: int = 3) -> str:
    """1.23M, 45.6k, 789 (in plan files, with four significant digits)."""
    for size, unit in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.{digits}g}{unit}"
    return f"{x:.{digits}g}"


# -- the calibrated plan ------------------------------------------------------------------
# Figures a CRM export cannot give (or gives too thinly) fall back to the reference plan's.
DEFAULT_STAGES = {   # kind -> per stage: advance, time mean, time sd (days), effort (visits)
    "key_accounts": ((0.60, 21, 10, 0.5), (0.67, 30, 12, 1.0), (0.50, 45, 20, 2.0)),
    "new_logo": ((0.60, 12, 6, 0.25), (0.67, 11, 5, 1.0), (0.50, 10, 5, 1.5)),
}
VISITS_PER_WEEK = 7.0
BASELINE = "default (scenarios/baseline.yaml)"
STAGES = ("lead", "intent", "negotiation")


class Calibration:
    """The plan a CRM export implies, written as commented YAML, and last year's review."""

    def __init__(self, est: Estimates, name: str, target: float | None = None,
                 budget: float | None = None, market: Market | None = None):
        self.est, self.ex = est, est.export
        self.name, self.target, self.budget, self.market = name, target, budget, market
        self.defaults: list[str] = []            # what fell back to a default, for the review
        self._plan: str | None = None
        self.values = est.deal_values()
        self.last = (self.ex.as_of - dt.timedelta(days=364), self.ex.as_of)
        prev = (self.ex.as_of - dt.timedelta(days=729), self.ex.as_of - dt.timedelta(days=365))
        self.previous = prev if self.ex.start <= prev[0] + dt.timedelta(days=15) else None
        self.kinds = {s: "key_accounts" if any(r.segment == s for r in self.ex.renewals) else "new_logo"
                      for s in est.segments}
        fed = set(est.channel_segment.values())       # a funnel needs a channel feeding it leads
        self.segments = [s for s in est.segments if self.kinds[s] == "key_accounts" or s in fed]

    # -- last year's bookings, for the review and the defaults ----------------------------
    def bookings(self) -> list[tuple[dt.date, float, str, str, str]]:
        """(date, value, segment, product, region): won deals and renewed contracts."""
        region = {r.name: r.region for r in self.ex.reps}
        out = [(d.closed, d.amount, d.segment, d.product, d.region or region.get(d.rep or "") or "unknown")
               for d in self.ex.deals if d.outcome == "won" and d.closed and d.amount]
        out += [(r.renewal_date, r.contract_value, r.segment, r.product,
                 r.region or region.get(r.rep or "") or "unknown") for r in self.ex.renewals if r.renewed]
        return out

    def by_axis(self, axis: int, period: tuple[dt.date, dt.date] | None) -> dict[str, float]:
        totals: dict[str, float] = {}
        if period is None:
            return totals
        for b in self.bookings():
            if period[0] <= b[0] <= period[1]:
                totals[b[axis]] = totals.get(b[axis], 0.0) + b[1]
        return totals

    def default(self, what: str, why: str) -> str:
        self.defaults.append(f"{what}: {why}")
        return f"{BASELINE}: {why}"

    # -- the plan ---------------------------------------------------------------------------
    def plan_yaml(self) -> str:
        if self._plan is None:
            self._plan = self._write_plan()
        return self._plan

    def _write_plan(self) -> str:
        y, ex = _Yaml(), self.ex
        files = ", ".join(f"{Path(f).name}" for f in ex.files.values())
        y.comment(0, f"Calibrated by `python -m simulate calibrate` from the CRM export {files}, covering "
                     f"{ex.start} to {ex.as_of} ({ex.years:.2f} years).")
        y.comment(0, "Every fitted figure states its sample size (n), its interval or fit quality. Figures the "
                     "export cannot give, or gives from fewer than 30 observations, fall back to the reference "
                     "plan's (scenarios/baseline.yaml) and say so. Last year's review is in "
                     f"{self.name}.review.md.")
        y.blank()
        y.put(0, "name", _name(self.name))
        y.put(0, "description", _name(f"Calibrated from {files} ({ex.start} to {ex.as_of})."))
        y.put(0, "seed", str(ex.as_of.year + 1))
        y.put(0, "runs", "1000")
        y.put(0, "horizon")
        y.put(2, "start", (ex.as_of + dt.timedelta(days=1)).isoformat(), "the day after the export")
        y.put(2, "years", "1")
        last = sum(self.by_axis(2, self.last).values())
        y.put(0, "target")
        y.put(2, "metric", "bookings")
        y.put(2, "annual", _money(self.target or last, 4), "as given (--target)" if self.target else
              "last year's bookings (won deals + renewed contracts): set your own with --target")
        if self.market is not None:
            m = self.market
            y.put(0, "market", f"{{size: {_money(m.size, 4)}, growth: {_pct(m.growth)}, reachable_share: "
                               f"{_pct(m.reachable_share)}}}", f"ceiling {_money(market_ceiling(m))}")
        reps = self.team_reps()
        regions = sorted({r["region"] for r in reps if r["region"]})
        if regions:
            y.put(0, "regions", "[" + ", ".join(_name(r) for r in regions) + "]")
        y.blank()
        self.write_products(y)
        self.write_segments(y)
        self.write_channels(y)
        self.write_team(y, reps)
        y.blank()
        y.comment(0, "The export has no invoices or payments: collections are the reference plan's.")
        y.put(0, "collections", "{share: 90%, delay: {gamma: {mean: 45d, sd: 15d}}}")
        self.defaults.append("collections: the export has no payments")
        return y.text()

    def write_products(self, y: _Yaml) -> None:
        shares = self.by_axis(3, self.last)
        before = self.by_axis(3, self.previous)
        total = sum(shares.values()) or 1.0
        names = list(dict.fromkeys(sorted(shares, key=lambda p: -shares[p]) +
                                   [d.product for d in self.ex.deals] + [r.product for r in self.ex.renewals]))
        prices = self.values[2] if self.values else {}
        y.comment(0, "Deal value = units x price. The export gives amounts, not licence counts, so a fit of "
                     "log(amount) = segment effect + product effect splits them: `price` is the average deal of "
                     f"that product in {self.values[1] if self.values else 'the main segment'} (1 unit), and each "
                     "segment's `units` say how many such deals one of its deals is worth.")
        for (seg, prod), fit in self.est.value_cells().items():
            y.comment(0, f"  deal values {seg} / {prod}: {fit.family} mean {_money(fit.mean)}, sd "
                         f"{_money(fit.sd)} (n={fit.n}; {fit.quality()})")
        y.put(0, "products")
        fallback = sorted(prices.values())[len(prices) // 2] if prices else 1000.0
        for p in names:
            share = shares.get(p, 0.0) / total
            growth = (shares.get(p, 0.0) / before[p] - 1) if before.get(p) else None
            high_share, high_growth = share >= 1 / len(names), (growth or 0.0) >= 0.10
            klass = ("star" if high_growth else "cash_cow") if high_share else \
                ("question_mark" if high_growth or growth is None else "dog")
            basis = f"share {share:.0%}" + (f", growth {growth:+.0%}" if growth is not None else
                                            ", growth unknown (one year of data)")
            y.put(2, "name", _name(p), item=True)
            y.put(4, "portfolio", klass, f"growth-share class from last year's {basis}")
            if p in prices:
                wins = sum(d.outcome == "won" and d.product == p for d in self.ex.deals)
                y.put(4, "price", _money(prices[p], 4), f"its average deal in the reference segment ({wins} wins)")
            else:
                y.put(4, "price", _money(fallback, 4), self.default(f"price of {p}", "no won deal to price it; "
                                                                 "the median product price"))
            y.put(4, "margin", "70%", self.default(f"margin of {p}", "the export has no costs"))
            y.put(4, "growth", _pct(growth) if growth is not None else "0%",
                  "last year against the year before" if growth is not None else "unknown: one year of data")
            y.put(4, "delivery_days", "3d", BASELINE)
        y.blank()

    def write_segments(self, y: _Yaml) -> None:
        est = self.est
        y.put(0, "segments")
        order = sorted(self.segments, key=lambda s: self.kinds[s] != "key_accounts")
        for seg in order:
            kind = self.kinds[seg]
            y.put(2, "name", _name(seg), item=True)
            y.put(4, "kind", kind)
            if kind == "key_accounts":
                products = [r.product for r in self.est.last_year_accounts(seg)] or \
                    [d.product for d in self.ex.deals if d.segment == seg]
                y.put(4, "mix", _shares(products), f"products of the {len(products)} contracts due last year")
                self.write_accounts(y, seg)
            else:
                products = [d.product for d in self.ex.deals if d.segment == seg]
                y.put(4, "mix", _shares(products), f"products of its {len(products)} leads")
            if seg in est.channel_segment.values():
                self.write_funnel(y, seg, kind)
        y.comment(2, "The export has no win-back calls: add a `winback` segment by hand (see baseline.yaml).")
        y.blank()

    def write_accounts(self, y: _Yaml, seg: str) -> None:
        from .fit import MIN_N, fit_distribution
        due = self.est.last_year_accounts(seg)
        rate = self.est.renewal_rate(seg)
        y.put(4, "accounts")
        y.put(6, "count", str(max(len(due), 1)), "contracts due for renewal in the last 12 months")
        values = [r.contract_value for r in due if r.contract_value > 0]
        if len(values) >= MIN_N:
            import numpy as np
            fit = fit_distribution(exact=np.asarray(values), families=("lognormal", "gamma"))
            y.comment(6, f"contract values: {fit.family} fitted to n={fit.n} ({fit.quality()})")
            y.put(6, "contract_value", _dist(fit.family, fit.mean, fit.sd, lambda x: _money(x, 4)))
        elif len(values) >= 5:
            y.put(6, "contract_value", "{empirical: [" + ", ".join(_money(v, 4) for v in values) + "]}",
                  f"only {len(values)} contracts: resampling them")
        else:
            y.put(6, "contract_value", "{lognormal: {mean: 150k, sd: 60k}}",
                  self.default(f"{seg} contract values", f"only {len(values)} contracts"))
        y.put(6, "renewal_uplift", "5%", self.default("renewal uplift", "the export has no price changes"))
        if rate.n >= MIN_N:
            lo, hi = rate.ci()
            observed = rate.p
            y.comment(6, f"renewals: {rate.k} of {rate.n} renewed ({_pc(observed)}, 95 % CI {_pc(lo)} to "
                         f"{_pc(hi)}), taken as the rate with last year's visits on plan; without visits, "
                         "12 pp less (DOMAIN: visits took KA renewal from 80 % to 92 %).")
            y.put(6, "renewal_without_visits", _pct(max(observed - 0.12, 0.0)))
            y.put(6, "renewal_with_full_visits", _pct(observed))
        else:
            observed = 0.92
            y.put(6, "renewal_without_visits", "80%", self.default("renewal rates", f"only {rate.n} renewals"))
            y.put(6, "renewal_with_full_visits", "92%", BASELINE)
        y.put(6, "renewal_after_rep_left", _pct(min(0.70, max(observed - 0.12, 0.0))),
              self.default("renewal after a rep left", "the export does not say whose rep left"))
        for key, value in (("visits_per_quarter", "4"), ("visit_effort", "1"), ("talks_open", "3mo"),
                           ("renewal_effort", "2")):
            y.put(6, key, value, BASELINE)

    def lead_base(self, seg: str) -> tuple[str, Proportion] | None:
        """The weakest channel of a segment with enough completed leads, and its conversion.

        The model multiplies the lead -> intent conversion by the channel's quality, and a
        quality below 1 leaves the rest of the leads stalled rather than lost; so the stage
        takes the weakest channel's conversion and the others a quality of 1 or more."""
        from .fit import MIN_N
        convs = {c: self.est.stage(0, channel=c).conversion
                 for c, s in self.est.channel_segment.items() if s == seg}
        good = {c: p for c, p in convs.items() if p.n >= MIN_N}
        if not good:
            return None
        channel = min(good, key=lambda c: good[c].p)
        return channel, good[channel]

    def write_funnel(self, y: _Yaml, seg: str, kind: str) -> None:
        from .fit import MIN_N
        y.put(4, "funnel")
        for k, stage in enumerate(STAGES):
            advance, mean, sd, effort = DEFAULT_STAGES[kind][k]
            data = self.est.stage(k, segment=seg)
            y.put(6, stage)
            conv = data.conversion
            base = self.lead_base(seg) if k == 0 else None
            if base is not None:
                lo, hi = base[1].ci()
                y.comment(8, f"lead -> intent: {conv.k} of {conv.n} completed leads advanced ({_pc(conv.p)}); the "
                             f"weakest channel, {base[0]}, converted {base[1].k} of {base[1].n} (95 % CI {_pc(lo)} to "
                             f"{_pc(hi)}): the stage takes its rate, the other channels a quality above 1.")
                y.put(8, "advance", _pct(max(base[1].p, 0.001)))
            elif conv.n >= MIN_N:
                lo, hi = conv.ci()
                y.put(8, "advance", _pct(conv.p), f"{conv.k} of {conv.n} advanced (95 % CI {_pc(lo)} to {_pc(hi)})")
            else:
                y.put(8, "advance", _pct(advance), self.default(f"{seg} {stage} conversion",
                                                                f"only {conv.n} completed {stage} stages"))
            fit = self.est.stage_time(data)
            work = effort * 7.0 / VISITS_PER_WEEK
            if fit is not None:
                lo, hi = fit.mean_ci()
                y.comment(8, f"time: {fit.family} fitted to n={fit.n} completed {stage} stages ({fit.censored} "
                             f"still open, censored): mean {_days(fit.mean)} (95 % CI {_days(lo)} to {_days(hi)}), "
                             f"sd {_days(fit.sd)}; {fit.quality()}. The model adds the rep's work ({effort:g} "
                             f"visits = {work:.2g}d at {VISITS_PER_WEEK:g} visits a week): the time below is the fit "
                             "minus that.")
                family = "exponential" if fit.family == "exponential" and work == 0 else \
                    fit.family if fit.family in ("gamma", "lognormal") else "gamma"
                if family != fit.family:
                    y.comment(8, f"the plan format has no {fit.family}: written as a gamma with its mean and sd")
                y.put(8, "time", _dist(family, max(fit.mean - work, 0.5), fit.sd, _days))
            else:
                y.put(8, "time", _dist("gamma", mean, sd, _days),
                      self.default(f"{seg} {stage} time", f"only {data.days.size} completed {stage} stages"))
            y.put(8, "effort", f"{effort:g}", f"{BASELINE}: the export has no visits")
        self.write_units(y, seg)

    def write_units(self, y: _Yaml, seg: str) -> None:
        from .fit import MIN_N, fit_distribution
        units = self.values[3].get(seg) if self.values else None
        if units is not None and units.size >= MIN_N:
            fit = fit_distribution(exact=units, families=("lognormal", "gamma"))
            y.comment(6, f"units: {fit.family} fitted to the n={fit.n} won deals' amount / price ({fit.quality()})")
            y.put(6, "units", _dist(fit.family, fit.mean, fit.sd, _num))
        elif units is not None and units.size >= 5:
            y.put(6, "units", "{empirical: [" + ", ".join(_num(u) for u in units) + "]}",
                  f"only {units.size} won deals: resampling their amount / price")
        else:
            y.put(6, "units", "{lognormal: {mean: 1, sd: 0.6}}",
                  self.default(f"{seg} deal sizes", f"only {0 if units is None else units.size} won deals"))

    def write_channels(self, y: _Yaml) -> None:
        from .fit import MIN_N
        est = self.est
        channels = list(est.channel_segment)
        shares = _even(len(channels))
        y.comment(0, "Leads per channel over the whole export. Seasonality is written when a chi-square test "
                     "against a constant rate rejects it at 1 %; quality is the channel's lead -> intent "
                     "conversion against its segment's.")
        self.defaults.append("marketing budget and channel spend shares: the export has no spend")
        y.put(0, "marketing")
        y.put(2, "budget", _money(self.budget or 800e3, 4), "as given (--budget)" if self.budget else
              f"{BASELINE}: the export has no spend")
        y.put(0, "channels")
        for channel, share in zip(channels, shares):
            seg = est.channel_segment[channel]
            rate, season = est.arrivals(channel)
            lo, hi = rate.ci()
            y.put(2, "name", _name(channel), item=True)
            y.put(4, "segment", _name(seg))
            y.put(4, "budget_share", share, "even split: the export has no spend")
            y.put(4, "leads_per_year", f"{rate.value:.4g}",
                  f"{rate.events} leads in {rate.exposure:.2f} years (95 % CI {lo:.4g} to {hi:.4g})")
            y.put(4, "spend_elasticity", "0.7", BASELINE)
            own, base = est.stage(0, channel=channel).conversion, self.lead_base(seg)
            if base is None:
                y.put(4, "quality", "1", self.default(f"{channel} quality", f"only {own.n} completed leads"))
            elif own.n >= MIN_N:
                y.put(4, "quality", f"{min(max(own.p / max(base[1].p, 0.001), 0.01), 5):.4g}",
                      f"lead -> intent {_pc(own.p)} (n={own.n}) against {_pc(base[1].p)} ({base[0]})")
            else:
                pooled = est.stage(0, segment=seg).conversion
                y.put(4, "quality", f"{min(max(pooled.p / max(base[1].p, 0.001), 0.01), 5):.4g}",
                      f"only {own.n} completed leads: {seg}'s average conversion, {_pc(pooled.p)}")
            verdict = f"chi-square {season.chi2:.1f} on {season.df} df, p={season.p:.3g}"
            if season.testable and season.p < 0.01:
                y.put(4, "seasonality", "[" + ", ".join(f"{w:.2f}" for w in season.weights) + "]",
                      f"monthly rate / average: {verdict}")
            elif season.testable:
                y.comment(4, f"no seasonality: not significant ({verdict})")
            else:
                y.comment(4, "no seasonality: too few months or leads to test it")
        y.blank()

    def team_reps(self) -> list[dict]:
        """The reps on the team at the export date (without reps.csv: the reps on the deals),
        working the plan's segments; a segment nobody works gets a rep to hire."""
        ex = self.ex
        worked: dict[str, list[tuple[str, str | None]]] = {}
        for d in ex.deals:
            if d.rep:
                worked.setdefault(d.rep, []).append((d.segment, d.region))
        records = [r for r in ex.reps if r.hire <= ex.as_of and (r.leave is None or r.leave > ex.as_of)] \
            if ex.reps else [RepRecord(n, ex.start - dt.timedelta(days=365), None, None, (), None) for n in worked]
        out = []
        for r in records:
            deals = worked.get(r.name, [])
            segments = [s for s in r.segments if s in self.segments] or \
                sorted({s for s, _ in deals if s in self.segments})
            if not segments:
                continue        # works only what the export has no data for (win-back...)
            regions = [g for _, g in deals if g]
            new = (ex.as_of - r.hire).days < 6 * 365 / 12           # still training or mentored
            out.append({"name": r.name, "level": "new_hire" if new else
                        (r.level if r.level in ("core", "reserve") else "core"),
                        "start": r.hire if new else None, "segments": segments,
                        "region": r.region or (max(set(regions), key=regions.count) if regions else None)})
        for seg in self.segments:
            if not any(seg in r["segments"] for r in out):
                out.append({"name": f"{seg} rep (to hire)", "level": "core", "start": None,
                            "segments": [seg], "region": None})
                self.defaults.append(f"team: nobody works {seg} at the export date; a rep to hire added")
        return out

    def write_team(self, y: _Yaml, reps: list[dict]) -> None:
        from .fit import MIN_N
        est = self.est
        y.put(0, "team")
        att = est.attrition()
        if att.exposure >= 10:
            lo, hi = att.ci()
            y.put(2, "attrition_per_year", _pct(min(att.value, 1.0)),
                  f"{att.events} leavers in {att.exposure:.1f} rep-years (95 % CI {_pc(lo)} to {_pc(hi)})")
        else:
            y.put(2, "attrition_per_year", "15%", self.default("attrition", f"only {att.exposure:.1f} rep-years"))
        gaps = sorted(est.hiring_delays())
        if len(gaps) >= 3:
            y.put(2, "hiring_delay", f"{gaps[len(gaps) // 2]}d",
                  f"median days from a leaver to the next hire in the same segments (n={len(gaps)})")
        else:
            y.put(2, "hiring_delay", "2mo", self.default("hiring delay", f"only {len(gaps)} leaver-to-hire gaps"))
        y.put(2, "handover_days", "30d", BASELINE)
        ramp = est.ramp_fit()
        if ramp is not None:
            train, pace, ratios, expected = ramp
            profile = ", ".join(f"m{m + 1} {r:.2f}" for m, r in enumerate(ratios) if r is not None)
            y.comment(2, f"ramp-up: deals new hires took on per month of tenure, against reps of a year's "
                         f"tenure in the same segments: {profile} ({expected:.0f} deals expected in months "
                         "1-6). Months below 0.2 count as training; the next three set the mentored pace "
                         "(deals taken match capacity only when reps are busy).")
            y.put(2, "training_months", str(train))
            y.put(2, "mentored_months", "3", BASELINE)
            y.put(2, "mentored_capacity", _pct(min(max(pace, 0.05), 1.0)))
        else:
            reason = "too few new hires in the export to draw a ramp-up curve"
            y.put(2, "training_months", "3", self.default("ramp-up", reason))
            y.put(2, "mentored_months", "3", BASELINE)
            y.put(2, "mentored_capacity", "40%", BASELINE)
        y.put(2, "mentoring_visits_per_week", "1", BASELINE)
        y.put(2, "mentees_per_mentor", "2", BASELINE)
        skills = est.skills()
        y.comment(2, f"skill: negotiation wins against those expected at the segment's rate, for reps with at "
                     f"least {MIN_N} negotiations (else 1); visits_per_week is the reference plan's "
                     f"{VISITS_PER_WEEK:g} (the export has no visits).")
        y.put(2, "reps")
        for r in reps:
            parts = [f"name: {_name(r['name'])}", f"level: {r['level']}"]
            if r["start"]:
                parts.append(f"start: {r['start']}")
            parts.append("segments: [" + ", ".join(_name(s) for s in r["segments"]) + "]")
            if r["region"]:
                parts.append(f"region: {_name(r['region'])}")
            note = ""
            rate, n = skills.get(r["name"], (None, 0))
            if rate is not None and n >= MIN_N:
                lo, hi = rate.ci()
                parts.append(f"skill: {min(max(rate.value, 0.05), 3):.3g}")
                note = f"{rate.events} wins of {n}, {rate.exposure:.1f} expected (95 % CI {lo:.2f} to {hi:.2f})"
            y.line(4, "- {" + ", ".join(parts) + "}", note)

    # -- last year's review -----------------------------------------------------------------
    def review_markdown(self, warning: str | None = None) -> str:
        """Last year on the three axes, the funnel's health, the market check, the defaults."""
        self.plan_yaml()                 # lists the defaults the plan fell back to
        ex = self.ex
        source = (f"From {', '.join(ex.files.values())} ({len(ex.deals)} deals, {len(ex.renewals)} renewals, "
                  f"{len(ex.reps)} reps), covering {ex.start} to {ex.as_of}. Bookings are won deals at their "
                  "closing date plus renewed contracts at their renewal date.")
        lines = [f"# Review of last year: {self.last[0]} to {self.last[1]}", "", source]
        if self.previous is None:
            lines.append("The export covers less than two years: shares only, no growth.")
        for title, axis in (("Customer tier", 2), ("Product", 3), ("Region", 4)):
            lines += ["", f"## By {title.lower()}", ""] + self.axis_table(title, axis)
        lines += ["", "## Funnel health", ""] + self.funnel_health()
        lines += ["", "## Market", ""]
        if self.market is None:
            lines.append("No market stated: pass --market-size, --market-growth and --reachable-share to check "
                         "the target against the market's ceiling.")
        else:
            m = self.market
            lines.append(f"Market {_money(m.size)}, growth {_pct(m.growth)}, reachable share "
                         f"{_pct(m.reachable_share)}: ceiling {_money(market_ceiling(m))}.")
            lines.append(f"**Warning**: {warning}" if warning else "The target sits under the ceiling.")
        if self.defaults:
            lines += ["", "## Defaults used (data too thin or absent)", ""]
            lines += [f"- {d}" for d in dict.fromkeys(self.defaults)]
        return "\n".join(lines) + "\n"

    def axis_table(self, title: str, axis: int) -> list[str]:
        now, before = self.by_axis(axis, self.last), self.by_axis(axis, self.previous)
        total = sum(now.values()) or 1.0
        rows = [f"| {title} | bookings | share | growth |", "| --- | ---: | ---: | ---: |"]
        for key in sorted(set(now) | set(before), key=lambda k: -now.get(k, 0.0)):
            growth = f"{now.get(key, 0.0) / before[key] - 1:+.0%}" if before.get(key) else "n/a"
            rows.append(f"| {key} | {_money(now.get(key, 0.0))} | {now.get(key, 0.0) / total:.0%} | {growth} |")
        growth = f"{total / sum(before.values()) - 1:+.0%}" if before else "n/a"
        rows.append(f"| **total** | {_money(sum(now.values()))} | 100% | {growth} |")
        return rows

    def funnel_health(self) -> list[str]:
        """Leads created last year by the furthest stage they reached, per 5 leads, against
        5 : 3 : 2 : 1; and the open pipeline at the export date."""
        cohort = [d for d in self.ex.deals if self.last[0] <= d.created <= self.last[1]]
        if not cohort:
            return ["No leads were created in the last 12 months."]
        reached = [len(cohort), sum(d.intent is not None for d in cohort),
                   sum(d.negotiation is not None for d in cohort), sum(d.outcome == "won" for d in cohort)]
        shape = [5 * r / reached[0] for r in reached]
        summary = (f"Of last year's {reached[0]} leads, {reached[1]} reached intent, {reached[2]} negotiation "
                   f"and {reached[3]} were won (open deals count at the stage they have reached). A healthy "
                   "funnel holds 5 : 3 : 2 : 1.")
        out = [summary, "",
               "| stage | deals | per 5 leads | healthy |", "| --- | ---: | ---: | ---: |"]
        for name, n, x, ref in zip(("lead", "intent", "negotiation", "won"), reached, shape, (5, 3, 2, 1)):
            out.append(f"| {name} | {n} | {x:.2f} | {ref} |")
        out.append("")
        for name, x, ref in zip(("intent", "negotiation", "won"), shape[1:], (3, 2, 1)):
            if abs(x / ref - 1) > 0.2:
                out.append(f"- {name}: {x:.2f} per 5 leads against {ref}: "
                           f"{'below' if x < ref else 'above'} the 5 : 3 : 2 : 1 funnel by more than 20 %.")
        still = [d.last_stage for d in self.ex.deals if d.outcome == "open"]
        if still:
            counts = [still.count(s) for s in STAGES]
            share = counts[2] / len(still)
            out.append(f"- Open pipeline at {self.ex.as_of}: lead {counts[0]}, intent {counts[1]}, negotiation "
                       f"{counts[2]} ({share:.0%} in negotiation" +
                       ("; 40 % or more warns of delayed signings)." if share >= 0.4 else ")."))
        for k, stage in enumerate(STAGES):
            conv = self.est.stage(k).conversion
            if conv.n:
                lo, hi = conv.ci()
                out.append(f"- {stage} conversion over the export: {_pc(conv.p)} of {conv.n} completed "
                           f"(95 % CI {_pc(lo)} to {_pc(hi)}); the healthy funnel's is "
                           f"{('60%', '67%', '50%')[k]}.")
        return out


class _Yaml:
    """Lines of YAML with comments: short notes at the end of the line, long ones above it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def comment(self, indent: int, text: str) -> None:
        for chunk in textwrap.wrap(text, width=100 - indent - 2, break_on_hyphens=False):
            self.lines.append(" " * indent + "# " + chunk)

    def line(self, indent: int, body: str, note: str = "") -> None:
        if note and len(note) + len(body) + indent > 120:
            self.comment(indent, note)
            note = ""
        text = " " * indent + body
        self.lines.append(f"{text:<40}  # {note}" if note else text)

    def put(self, indent: int, key: str, value: str | None = None, note: str = "", item: bool = False) -> None:
        body = ("- " if item else "") + f"{key}:" + (f" {value}" if value is not None else "")
        self.line(indent, body, note)

    def blank(self) -> None:
        self.lines.append("")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def _name(text: str) -> str:
    plain = re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]*", text) and text.lower() not in _YAML_WORDS
    return text if plain else json.dumps(text, ensure_ascii=False)


_YAML_WORDS = {"yes", "no", "true", "false", "on", "off", "null", "y", "n"}


def _pct(x: float) -> str:
    return f"{100 * x:.4g}%"


def _pc(x: float) -> str:
    return f"{100 * x:.1f}%"


def _days(x: float) -> str:
    return f"{x:.3g}d" if x < 100 else f"{x:.0f}d"


def _num(x: float) -> str:
    return f"{x:.4g}"


def _dist(family: str, mean: float, sd: float, fmt) -> str:
    if family == "exponential":
        return f"{{exponential: {{mean: {fmt(mean)}}}}}"
    return f"{{{family}: {{mean: {fmt(mean)}, sd: {fmt(max(sd, mean * 1e-3))}}}}}"


def _shares(items: list[str]) -> str:
    counts = {k: items.count(k) for k in dict.fromkeys(items)}
    keys = sorted(counts, key=lambda k: -counts[k])
    shares = _even(len(keys), [counts[k] / len(items) for k in keys])
    return "{" + ", ".join(f"{_name(k)}: {s}" for k, s in zip(keys, shares)) + "}"


def _even(n: int, weights: list[float] | None = None) -> list[str]:
    """Percentages with two decimals that add up to exactly 100 %."""
    weights = weights or [1 / n] * n
    cents = [round(w * 10000) for w in weights]
    cents[0] += 10000 - sum(cents)
    return [f"{c / 100:g}%" for c in cents]


# -- the command ------------------------------------------------------------------------
def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path, metavar="CSV",
                   help="DEALS.csv, then optionally ACCOUNTS.csv and REPS.csv (told apart by their headers)")
    p.add_argument("--out", type=Path, required=True, help="the plan to write, e.g. scenarios/calibrated.yaml; "
                   "the review goes next to it as NAME.review.md")
    p.add_argument("--as-of", type=q.parse_date, metavar="DATE",
                   help="the export's date (default: the end of the month of its latest date)")
    p.add_argument("--target", type=q.parse_money, help="annual target (default: last year's bookings)")
    p.add_argument("--budget", type=q.parse_money, help="marketing budget (default: 800k, the baseline's)")
    p.add_argument("--market-size", type=q.parse_money, metavar="MONEY", help="market size last year, e.g. 200M")
    p.add_argument("--market-growth", type=q.parse_fraction, default=0.0, metavar="PCT", help="e.g. 5%%")
    p.add_argument("--reachable-share", type=q.parse_fraction, metavar="PCT",
                   help="the share of the market the team can reach, e.g. 8%%")
    p.add_argument("--quiet", "-q", action="store_true", help="do not print the review")


def run(args: argparse.Namespace) -> int:
    from .crm import read_export  # statistics load only when calibrating
    from .fit import Estimates
    from .loader import plan_from_document
    from .output import write_text
    from .yamlio import load_document
    if (args.market_size is None) != (args.reachable_share is None):
        raise UsageError("--market-size and --reachable-share go together (with --market-growth if known)")
    if args.out.suffix not in (".yaml", ".yml"):
        raise UsageError(f"--out: expected a .yaml file for the plan, got '{args.out}'")
    export = read_export(args.files[0], list(args.files[1:]), args.as_of)
    market = None
    if args.market_size is not None:
        try:
            market = Market(size=args.market_size, growth=args.market_growth, reachable_share=args.reachable_share)
        except ValueError as exc:          # pydantic's ValidationError is a ValueError
            problem = exc.errors()[0] if hasattr(exc, "errors") else {"loc": ("market",), "msg": str(exc)}
            raise UsageError(f"--{str(problem['loc'][0]).replace('_', '-')}: {problem['msg']}") from None
    cal = Calibration(Estimates(export), args.out.stem, args.target, args.budget, market)
    text = cal.plan_yaml()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out, text)
    plan = plan_from_document(load_document(args.out))    # what we wrote must load: a bug otherwise
    review = cal.review_markdown(market_warning(plan))
    review_path = args.out.with_name(args.out.stem + ".review.md")
    write_text(review_path, review)
    if not args.quiet:
        print(review)
    print(f"wrote {args.out} and {review_path}", file=sys.stderr)
    return 0


register("calibrate", "fit a plan to last year's CRM export and review last year", configure, run)
