"""What the company sells, to whom, and how a lead becomes a deal: the plan's demand side.

Last year's won deals price each product and size each segment's deals; the renewals of
key accounts set their renewal rates; the funnel's conversions and stage times come from
the deals that went through it; each channel's leads per year, seasonality and
month-to-month volatility from when its leads arrived. Where the export is too thin, the
reference plan's figure stands, and says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..load.crm import STAGE_NAMES
from ..stats.fit import VALUE_FAMILIES, Dispersion, Proportion, Rate, fit_distribution
from .estimates import MIN_N
from .plan_yaml import (
    BASELINE,
    DEFAULT_STAGES,
    VISITS_PER_WEEK,
    PlanYaml,
    distribution,
    even_shares,
    in_days,
    mix,
    money,
    num,
    pct,
    pct1,
    yaml_str,
)

if TYPE_CHECKING:
    from .calibration import Calibration
EFFORT_NOTE = "the reference's, scaled to the reps' throughput (see the review)"


def write_products(cal: Calibration, y: PlanYaml) -> None:
    shares = cal.by_axis(3, cal.last)
    before = cal.by_axis(3, cal.previous)
    total = sum(shares.values()) or 1.0
    names = list(dict.fromkeys(sorted(shares, key=lambda p: -shares[p]) +
                               [d.product for d in cal.ex.deals] + [r.product for r in cal.ex.renewals]))
    prices = cal.values[2] if cal.values else {}
    y.comment(0, "Deal value = units x price. The export gives amounts, not licence counts, so a fit of "
                 "log(amount) = segment effect + product effect splits them: `price` is the average deal of "
                 f"that product in {cal.values[1] if cal.values else 'the main segment'} (1 unit), and each "
                 "segment's `units` say how many such deals one of its deals is worth.")
    for (seg, prod), fit in cal.est.value_cells().items():
        y.comment(0, f"  deal values {seg} / {prod}: {fit.family} mean {money(fit.mean)}, sd "
                     f"{money(fit.sd)} (n={fit.n}; {fit.quality()})")
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
        y.put(2, "name", yaml_str(p), item=True)
        y.put(4, "portfolio", klass, f"growth-share class from last year's {basis}")
        if p in prices:
            wins = sum(d.outcome == "won" and d.product == p for d in cal.ex.deals)
            y.put(4, "price", money(prices[p], 4), f"its average deal in the reference segment ({wins} wins)")
        else:
            y.put(4, "price", money(fallback, 4), cal.default(f"price of {p}", "no won deal to price it; "
                                                              "the median product price"))
        y.put(4, "margin", "70%", cal.default(f"margin of {p}", "the export has no costs"))
        y.put(4, "growth", pct(growth) if growth is not None else "0%",
              "last year against the year before" if growth is not None else "unknown: one year of data")
        y.put(4, "delivery_days", "3d", BASELINE)
    y.blank()


def write_segments(cal: Calibration, y: PlanYaml) -> None:
    est = cal.est
    y.put(0, "segments")
    order = sorted(cal.segments, key=lambda s: cal.kinds[s] != "key_accounts")
    for seg in order:
        kind = cal.kinds[seg]
        y.put(2, "name", yaml_str(seg), item=True)
        y.put(4, "kind", kind)
        if kind == "key_accounts":
            products = [r.product for r in cal.est.last_year_accounts(seg)] or \
                [d.product for d in cal.ex.deals if d.segment == seg]
            y.put(4, "mix", mix(products), f"products of the {len(products)} contracts due last year")
            write_accounts(cal, y, seg)
        else:
            products = [d.product for d in cal.ex.deals if d.segment == seg]
            y.put(4, "mix", mix(products), f"products of its {len(products)} leads")
        if seg in est.channel_segment.values():
            write_funnel(cal, y, seg, kind)
    y.comment(2, "The export has no win-back calls: add a `winback` segment by hand (see baseline.yaml).")
    y.blank()


def write_accounts(cal: Calibration, y: PlanYaml, seg: str) -> None:
    due = cal.est.last_year_accounts(seg)
    rate = cal.est.renewal_rate(seg)
    y.put(4, "accounts")
    y.put(6, "count", str(max(len(due), 1)), "contracts due for renewal in the last 12 months")
    values = [r.contract_value for r in due if r.contract_value > 0]
    if len(values) >= MIN_N:
        fit = fit_distribution(exact=np.asarray(values), families=VALUE_FAMILIES)
        y.comment(6, f"contract values: {fit.family} fitted to n={fit.n} ({fit.quality()})")
        y.put(6, "contract_value", distribution(fit.family, fit.mean, fit.sd, lambda x: money(x, 4)))
    elif len(values) >= 5:
        y.put(6, "contract_value", "{empirical: [" + ", ".join(money(v, 4) for v in values) + "]}",
              f"only {len(values)} contracts: resampling them")
    else:
        y.put(6, "contract_value", "{lognormal: {mean: 150k, sd: 60k}}",
              cal.default(f"{seg} contract values", f"only {len(values)} contracts"))
    y.put(6, "renewal_uplift", "5%", cal.default("renewal uplift", "the export has no price changes"))
    if rate.n >= MIN_N:
        lo, hi = rate.ci()
        observed = rate.p
        y.comment(6, f"renewals: {rate.k} of {rate.n} renewed ({pct1(observed)}, 95 % CI {pct1(lo)} to "
                     f"{pct1(hi)}), taken as the rate with last year's visits on plan; without visits, "
                     "12 pp less (methodology: visits took KA renewal from 80 % to 92 %).")
        y.put(6, "renewal_without_visits", pct(max(observed - 0.12, 0.0)))
        y.put(6, "renewal_with_full_visits", pct(observed))
    else:
        observed = 0.92
        y.put(6, "renewal_without_visits", "80%", cal.default("renewal rates", f"only {rate.n} renewals"))
        y.put(6, "renewal_with_full_visits", "92%", BASELINE)
    y.put(6, "renewal_after_rep_left", pct(min(0.70, max(observed - 0.12, 0.0))),
          cal.default("renewal after a rep left", "the export does not say whose rep left"))
    for key, value in (("visits_per_quarter", "4"), ("visit_effort", "1"), ("talks_open", "3mo"),
                       ("renewal_effort", "2")):
        y.put(6, key, value, BASELINE)


def lead_base(cal: Calibration, seg: str) -> tuple[str, Proportion] | None:
    """The weakest channel of a segment with enough completed leads, and its conversion.

    The model multiplies the lead -> intent conversion by the channel's quality, and a
    quality below 1 leaves the rest of the leads stalled rather than lost; so the stage
    takes the weakest channel's conversion and the others a quality of 1 or more."""
    if not cal.ex.stage_dates:
        return None
    convs = {c: cal.est.stage(0, channel=c).conversion
             for c, s in cal.est.channel_segment.items() if s == seg}
    good = {c: p for c, p in convs.items() if p.n >= MIN_N}
    if not good:
        return None
    channel = min(good, key=lambda c: good[c].p)
    return channel, good[channel]


def write_cycle_funnel(cal: Calibration, y: PlanYaml, seg: str, kind: str) -> None:
    """A funnel from an export of current stages only, which measures the win rate and the
    cycle from created to closed, not each stage: the reference plan's stages give the split.

    Each stage's conversion is the reference's times one common factor, so that their product
    is the measured win rate; each stage's mean time is the reference's share of the measured
    cycle, with one coefficient of variation chosen so the three add up to the cycle's sd."""
    ref = DEFAULT_STAGES[kind]
    rate = cal.est.win_rate(seg)
    fit, stale = cal.est.cycle(seg)
    open_by_stage = {st: sum(d.segment == seg and d.outcome == "open" and d.last_stage == st for d in cal.ex.deals)
                     for st in STAGE_NAMES}
    y.comment(4, "ASSUMED: the export holds each deal's current stage only, not the day it entered each stage. "
                 "Measured: the win rate, the cycle from created to closed, the furthest stage of open deals "
                 f"({', '.join(f'{k} {v}' for k, v in open_by_stage.items())}). The split into three stages follows "
                 "the reference plan's shape.")
    y.put(4, "funnel")
    reference_win = float(np.prod([r[0] for r in ref]))
    if rate.n >= MIN_N:
        lo, hi = rate.ci()
        win, why = rate.p, (f"win rate {rate.k} of {rate.n} closed deals ({pct1(rate.p)}, 95 % CI {pct1(lo)} to "
                            f"{pct1(hi)}) split over the stages")
    else:
        win, why = reference_win, cal.default(f"{seg} win rate", f"only {rate.n} closed deals")
    factor = (max(win, 1e-6) / reference_win) ** (1 / 3)
    if fit is not None:
        lo, hi = fit.mean_ci()
        cycle_mean, cycle_sd = fit.mean, fit.sd
        y.comment(6, f"cycle created -> won: {fit.family} fitted to n={fit.n} wins ({fit.censored} open deals in "
                     f"negotiation censored, {stale} stale ones left out): mean {in_days(fit.mean)} (95 % CI "
                     f"{in_days(lo)} to {in_days(hi)}), sd {in_days(fit.sd)}; {fit.quality()}")
    else:
        cycle_mean = sum(r[1] for r in ref)
        cycle_sd = float(np.sqrt(sum(r[2] ** 2 for r in ref)))
        cal.default(f"{seg} cycle time", "fewer than 30 won deals")
    shares = np.array([r[1] for r in ref], float) / sum(r[1] for r in ref)
    efforts = [float(f"{r[3] * cal.effort_scale:.3g}") for r in ref]
    work = np.array(efforts) * 7.0 / VISITS_PER_WEEK
    means = np.maximum(shares * cycle_mean - work, 0.5)
    cv = cycle_sd / float(np.sqrt(np.sum((shares * cycle_mean) ** 2)))
    for k, stage in enumerate(STAGE_NAMES):
        y.put(6, stage)
        y.put(8, "advance", pct(min(ref[k][0] * factor, 1.0)), why if k == 0 else "the same split")
        y.put(8, "time", distribution("gamma", float(means[k]), float(means[k] * cv), in_days),
              f"{shares[k]:.0%} of the cycle, less the rep's work")
        y.put(8, "effort", f"{efforts[k]:g}", EFFORT_NOTE)
    write_units(cal, y, seg)


def write_funnel(cal: Calibration, y: PlanYaml, seg: str, kind: str) -> None:
    if not cal.ex.stage_dates:
        write_cycle_funnel(cal, y, seg, kind)
        return
    y.put(4, "funnel")
    for k, stage in enumerate(STAGE_NAMES):
        advance, mean, sd, effort = DEFAULT_STAGES[kind][k]
        effort = float(f"{effort * cal.effort_scale:.3g}")
        data = cal.est.stage(k, segment=seg)
        y.put(6, stage)
        conv = data.conversion
        base = lead_base(cal, seg) if k == 0 else None
        if base is not None:
            lo, hi = base[1].ci()
            y.comment(8, f"lead -> intent: {conv.k} of {conv.n} completed leads advanced ({pct1(conv.p)}); the "
                         f"weakest channel, {base[0]}, converted {base[1].k} of {base[1].n} (95 % CI {pct1(lo)} to "
                         f"{pct1(hi)}): the stage takes its rate, the other channels a quality above 1.")
            y.put(8, "advance", pct(max(base[1].p, 0.001)))
        elif conv.n >= MIN_N:
            lo, hi = conv.ci()
            y.put(8, "advance", pct(conv.p), f"{conv.k} of {conv.n} advanced (95 % CI {pct1(lo)} to {pct1(hi)})")
        else:
            y.put(8, "advance", pct(advance), cal.default(f"{seg} {stage} conversion",
                                                          f"only {conv.n} completed {stage} stages"))
        fit = cal.est.stage_time(data)
        work = effort * 7.0 / VISITS_PER_WEEK
        if fit is not None:
            lo, hi = fit.mean_ci()
            y.comment(8, f"time: {fit.family} fitted to n={fit.n} completed {stage} stages ({fit.censored} "
                         f"still open, censored): mean {in_days(fit.mean)} (95 % CI {in_days(lo)} to {in_days(hi)}), "
                         f"sd {in_days(fit.sd)}; {fit.quality()}. The model adds the rep's work ({effort:g} "
                         f"visits = {work:.2g}d at {VISITS_PER_WEEK:g} visits a week): the time below is the fit "
                         "minus that.")
            family = "exponential" if fit.family == "exponential" and work == 0 else \
                fit.family if fit.family in ("gamma", "lognormal") else "gamma"
            if family != fit.family:
                why = ("the plan format has no weibull" if fit.family == "weibull" else
                       "an exponential less the rep's work is no longer exponential")
                y.comment(8, f"{why}: written as a gamma with the fit's mean and sd")
            if fit.mean - work < 0.5:      # a stage time must be positive: say where that binds
                y.comment(8, f"the rep's work ({work:.2g}d) leaves {fit.mean - work:.2g}d of the fit: floored at 0.5d")
            y.put(8, "time", distribution(family, max(fit.mean - work, 0.5), fit.sd, in_days))
        else:
            y.put(8, "time", distribution("gamma", mean, sd, in_days),
                  cal.default(f"{seg} {stage} time", f"only {data.days.size} completed {stage} stages"))
        y.put(8, "effort", f"{effort:g}", EFFORT_NOTE)
    write_units(cal, y, seg)


def write_units(cal: Calibration, y: PlanYaml, seg: str) -> None:
    units = cal.values[3].get(seg) if cal.values else None
    if units is not None and units.size >= MIN_N:
        fit = fit_distribution(exact=units, families=VALUE_FAMILIES)
        y.comment(6, f"units: {fit.family} fitted to the n={fit.n} won deals' amount / price ({fit.quality()})")
        y.put(6, "units", distribution(fit.family, fit.mean, fit.sd, num))
    elif units is not None and units.size >= 5:
        y.put(6, "units", "{empirical: [" + ", ".join(num(u) for u in units) + "]}",
              f"only {units.size} won deals: resampling their amount / price")
    else:
        y.put(6, "units", "{lognormal: {mean: 1, sd: 0.6}}",
              cal.default(f"{seg} deal sizes", f"only {0 if units is None else units.size} won deals"))


MAX_VOLATILITY = 1.0     # a month's sd beyond this is a change of level, not a swing
SIGNIFICANT = 0.01       # a season or a swing is written when its test rejects at this level


def volatile(swing: Dispersion | None) -> bool:
    """Whether the months swing beyond chance: the plan gets a volatility, the rate a wider interval."""
    return swing is not None and swing.p < SIGNIFICANT and swing.cv > 0


def write_volatility(y: PlanYaml, swing: Dispersion | None, why_not: str) -> None:
    """The channel's month-to-month swing, written when a chi-square test against a steady
    flow rejects it at 1 %: a forecast from a steady flow would be surer than the past was.
    Above MAX_VOLATILITY the months look like a change of level more than a swing: capped."""
    if swing is None:
        y.comment(4, f"no volatility: {why_not}")
        return
    verdict = (f"{len(swing.counts)} full months of {min(swing.counts)} to {max(swing.counts)} new deals: chi-square "
               f"{swing.chi2:.1f} on {swing.df} df, p={swing.p:.3g}")
    if not volatile(swing):
        y.comment(4, f"no volatility: months within a steady flow's spread ({verdict})")
    elif swing.cv > MAX_VOLATILITY:
        y.put(4, "volatility", pct(MAX_VOLATILITY), f"capped: measured {pct(swing.cv)}, more a change of level "
              f"than a swing (look at the months: {', '.join(map(str, swing.counts))}); {verdict}")
    else:
        y.put(4, "volatility", pct(swing.cv), f"sd of a month's lead rate beyond chance, {verdict}")


def write_channels(cal: Calibration, y: PlanYaml) -> None:
    est = cal.est
    channels = list(est.channel_segment)
    shares = even_shares(len(channels))
    y.comment(0, "Leads per channel over the whole export. Seasonality is written when the calendar months "
                 "differ at 1 %: against a constant rate (chi-square), or, where a calendar month was seen "
                 "twice, against the months' own swing (F); volatility (how far a month's rate strays beyond "
                 "chance) when the full months reject a steady flow at 1 %; quality is the channel's lead -> "
                 "intent conversion against its segment's.")
    cal.defaults.append("marketing budget and channel spend shares: the export has no spend")
    y.put(0, "marketing")
    y.put(2, "budget", money(cal.budget or 800e3, 4), "as given (--budget)" if cal.budget else
          f"{BASELINE}: the export has no spend")
    y.put(0, "channels")
    for channel, share in zip(channels, shares):
        seg = est.channel_segment[channel]
        rate, season = est.arrivals(channel)
        seasonal = season.testable and season.significance < SIGNIFICANT
        swing, why_not = est.volatility(channel, season if seasonal else None)
        if volatile(swing):
            # a swinging flow's count varies more than a Poisson one: the exact interval of the
            # count it is worth (events / inflation) over as much less exposure
            lo, hi = Rate(rate.events / swing.inflation, rate.exposure / swing.inflation).ci()
            widened = ", widened by the months' swing"
        else:
            (lo, hi), widened = rate.ci(), ""
        y.put(2, "name", yaml_str(channel), item=True)
        y.put(4, "segment", yaml_str(seg))
        y.put(4, "budget_share", share, "even split: the export has no spend")
        y.put(4, "leads_per_year", f"{rate.value:.4g}",
              f"{rate.events} leads in {rate.exposure:.2f} years (95 % CI {lo:.4g} to {hi:.4g}{widened})")
        y.put(4, "spend_elasticity", "0.7", BASELINE)
        own, base = est.stage(0, channel=channel).conversion, lead_base(cal, seg)
        if not cal.ex.stage_dates:
            y.put(4, "quality", "1", "the export has no stage dates to compare channels' conversions")
        elif base is None:
            y.put(4, "quality", "1", cal.default(f"{channel} quality", f"only {own.n} completed leads"))
        elif own.n >= MIN_N:
            y.put(4, "quality", f"{min(max(own.p / max(base[1].p, 0.001), 0.01), 5):.4g}",
                  f"lead -> intent {pct1(own.p)} (n={own.n}) against {pct1(base[1].p)} ({base[0]})")
        else:
            pooled = est.stage(0, segment=seg).conversion
            y.put(4, "quality", f"{min(max(pooled.p / max(base[1].p, 0.001), 0.01), 5):.4g}",
                  f"only {own.n} completed leads: {seg}'s average conversion, {pct1(pooled.p)}")
        verdict = season.verdict()
        if seasonal:
            y.put(4, "seasonality", "[" + ", ".join(f"{w:.2f}" for w in season.weights) + "]",
                  f"daily rate by calendar month, January first, / average: {verdict}")
        elif season.testable:
            y.comment(4, f"no seasonality: not significant ({verdict})")
        else:
            y.comment(4, "no seasonality: too few months or leads to test it")
        write_volatility(y, swing, why_not)
    y.blank()
