"""Last year in review: where the bookings came from, and whether the funnel is healthy.

Before planning next year, a manager looks back: bookings by customer tier, product and
region (with growth when the export covers two years), the funnel's shape against the
healthy 5 : 3 : 2 : 1, the market's ceiling, and which figures of the plan are defaults
because the data were too thin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..load.crm import STAGE_NAMES
from ..plan.market import market_ceiling
from .backcast import markdown as backcast_markdown
from .plan_yaml import money, pct, pct1

if TYPE_CHECKING:
    from .calibration import Calibration


def last_year_review(cal: Calibration, warning: str | None = None, backcast: dict[str, Any] | None = None) -> str:
    """Last year on the three axes, the funnel's health, the back-cast (when played), the
    market check, and the defaults the plan fell back to (write the plan first: writing it
    lists them)."""
    ex = cal.ex
    reps = len(ex.reps) or len({d.rep for d in ex.deals if d.rep})     # no reps file: those the deals name
    source = (f"From {', '.join(ex.files.values())} ({len(ex.deals)} deals, {len(ex.renewals)} renewals, "
              f"{reps} reps), covering {ex.start} to {ex.as_of}. Bookings are won deals at their "
              "closing date plus renewed contracts at their renewal date.")
    lines = [f"# Review of last year: {cal.last[0]} to {cal.last[1]}", "", source]
    if cal.previous is None:
        lines.append("The export covers less than two years: shares only, no growth.")
    for title, axis in (("Customer tier", 2), ("Product", 3), ("Region", 4)):
        lines += ["", f"## By {title.lower()}", ""] + axis_table(cal, title, axis)
    notes = [*ex.notes, cal.effort_note, *(f"**{n}**" for n in cal.est.coverage())]
    if notes:
        lines += ["", "## How the export was read", ""] + [f"- {n}" for n in notes]
    lines += ["", "## Funnel health", ""] + funnel_health(cal)
    stale = cal.est.stale()
    if stale:
        lines += ["", "## Stale open deals", "",
                  f"**{len(stale)} of {sum(d.outcome == 'open' for d in ex.deals)} open deals are stale**: open "
                  f"longer than {cal.est.stale_after():.0f} days, the 95th percentile of closed deals' cycle. They "
                  "are left out of the stage-time fits (as still running they would stretch them); a re-forecast "
                  "gives each a stated chance of being lost (see its warnings). The oldest: " +
                  ", ".join(f"{d.id} ({(ex.as_of - d.created).days}d)"
                            for d in sorted(stale, key=lambda d: d.created)[:5]) + "."]
    if backcast is not None:
        lines += ["", "## Back-cast: the plan over the period it was fitted on", ""] + backcast_markdown(backcast)
    lines += ["", "## Market", ""]
    if cal.market is None:
        lines.append("No market stated: pass --market-size, --market-growth and --reachable-share to check "
                     "the target against the market's ceiling.")
    else:
        m = cal.market
        lines.append(f"Market {money(m.size)}, growth {pct(m.growth)}, reachable share "
                     f"{pct(m.reachable_share)}: ceiling {money(market_ceiling(m))}.")
        lines.append(f"**Warning**: {warning}" if warning else "The target sits under the ceiling.")
    if cal.defaults:
        lines += ["", "## Defaults used (data too thin or absent)", ""]
        lines += [f"- {d}" for d in dict.fromkeys(cal.defaults)]
    return "\n".join(lines) + "\n"


def axis_table(cal: Calibration, title: str, axis: int) -> list[str]:
    now, before = cal.by_axis(axis, cal.last), cal.by_axis(axis, cal.previous)
    total = sum(now.values()) or 1.0
    rows = [f"| {title} | bookings | share | growth |", "| --- | ---: | ---: | ---: |"]
    # Ties (every key only in the year before) keep the export's order, not a set's hash order.
    for key in sorted(dict.fromkeys([*now, *before]), key=lambda k: -now.get(k, 0.0)):
        growth = f"{now.get(key, 0.0) / before[key] - 1:+.0%}" if before.get(key) else "n/a"
        rows.append(f"| {key} | {money(now.get(key, 0.0))} | {now.get(key, 0.0) / total:.0%} | {growth} |")
    growth = f"{total / sum(before.values()) - 1:+.0%}" if before else "n/a"
    rows.append(f"| **total** | {money(sum(now.values()))} | 100% | {growth} |")
    return rows


def funnel_health(cal: Calibration) -> list[str]:
    """Leads created last year by the furthest stage they reached, per 5 leads, against
    5 : 3 : 2 : 1; and the open pipeline at the export date."""
    cohort = [d for d in cal.ex.deals if cal.last[0] <= d.created <= cal.last[1]]
    if not cohort:
        return ["No leads were created in the last 12 months."]
    if not cal.ex.stage_dates:
        won = sum(d.outcome == "won" for d in cohort)
        closed = sum(d.outcome != "open" for d in cohort)
        return [f"The export holds current stages only: of last year's {len(cohort)} leads, {closed} closed and "
                f"{won} were won ({won / max(closed, 1):.0%} of those closed). The stages a lost deal went "
                "through are unknown, so the 5 : 3 : 2 : 1 shape cannot be checked."]
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
    still = [d.last_stage for d in cal.ex.deals if d.outcome == "open"]
    if still:
        counts = [still.count(s) for s in STAGE_NAMES]
        share = counts[2] / len(still)
        out.append(f"- Open pipeline at {cal.ex.as_of}: lead {counts[0]}, intent {counts[1]}, negotiation "
                   f"{counts[2]} ({share:.0%} in negotiation" +
                   ("; 40 % or more warns of delayed signings)." if share >= 0.4 else ")."))
    for k, stage in enumerate(STAGE_NAMES):
        conv = cal.est.stage(k).conversion
        if conv.n:
            lo, hi = conv.ci()
            out.append(f"- {stage} conversion over the export: {pct1(conv.p)} of {conv.n} completed "
                       f"(95 % CI {pct1(lo)} to {pct1(hi)}); the healthy funnel's is "
                       f"{('60%', '67%', '50%')[k]}.")
    return out
