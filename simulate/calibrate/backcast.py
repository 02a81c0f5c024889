"""Back-cast: the calibrated plan plays the period it was fitted on, against what happened.

A plan fitted to last year should give last year back. `calibrate` plays it over the
export's own last twelve months (or its whole period, when shorter; from its first close
when deals closed before that were left out) with a living funnel on
the first day, and sets the simulated bookings beside the actual ones, in total, by segment
and by quarter: P05/P10/P50/P90/P95, the median against the actual, and where the actual fell
(PIT). An actual outside P05-P95 is warned about, with the input that most likely causes it,
read off the funnel's counts (leads, won deals, deals still open at the end, renewals).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..plan.plan import Horizon, Plan
from ..run.runner import run_replications
from ..stats.scores import pit, quantiles
from .plan_yaml import money

if TYPE_CHECKING:
    import pandas as pd

    from .calibration import Calibration

RUNS = 200
QUARTER_DAYS = 91.25
# the funnel's counts, and the input each points at when the simulation misses them
CHECKS = {
    "leads": ("leads", "lead arrivals (the channels' leads_per_year)"),
    "won_deals": ("signed", "the funnel's conversions and stage times"),
    "open_at_end": ("open_end", "rep capacity (the stages' effort, visits_per_week) or stage times"),
    "renewals": ("ka_renewed", "key-account renewals (accounts count, renewal rates)"),
}


def period(cal: Calibration) -> tuple[dt.date, dt.date]:
    """The period played: the export's last 365 days, or all of it when shorter, from the day
    every booking is in it (a left-truncated export's first close, Export.observed_from)."""
    return max(cal.ex.observed_from, cal.ex.as_of - dt.timedelta(days=364)), cal.ex.as_of


def over_period(plan: Plan, start: dt.date, end: dt.date) -> Plan:
    """The plan over [start, end], opening with its own living funnel, without playbooks."""
    horizon = Horizon(start=start, years=((end - start).days + 1) / 365.0, warm_start=True)
    return plan.model_copy(update={"horizon": horizon, "rules": [], "shocks": [], "opening": None})


def row(sample: np.ndarray, actual: float) -> dict[str, Any]:
    """Actual against the simulated spread: quantiles, median / actual, PIT, outside P05-P95."""
    q = quantiles(sample)
    return {"actual": actual, **q, "ratio": q["p50"] / actual if actual > 0 else None,
            "pit": pit(sample, actual), "outside": not q["p05"] <= actual <= q["p95"]}


def backcast(cal: Calibration, plan: Plan, runs: int = RUNS, workers: int | None = None) -> dict[str, Any]:
    """Play `plan` (the calibrated one) `runs` times over the export's period; compare."""
    start, end = period(cal)
    played = over_period(plan, start, end)
    records = run_replications(played, runs, plan.seed, workers=workers).variants["plan"].records
    booked = [b for b in cal.bookings() if start <= b[0] <= end]
    quarters = [c[len("quarter:"):] for c in records.columns if c.startswith("quarter:")]
    by_segment: dict[str, float] = {s.name: 0.0 for s in plan.segments}
    by_quarter: dict[str, float] = {q: 0.0 for q in quarters}
    for day, value, segment, *_ in booked:
        by_segment[segment] = by_segment.get(segment, 0.0) + value
        by_quarter[quarters[min(int((day - start).days // QUARTER_DAYS), len(quarters) - 1)]] += value

    def column(name: str) -> np.ndarray:
        return records[name].to_numpy(float) if name in records else np.zeros(len(records))

    out: dict[str, Any] = {
        "period": {"start": start.isoformat(), "end": end.isoformat(), "days": (end - start).days + 1},
        "runs": runs, "seed": plan.seed,
        "total": row(column("bookings"), sum(b[1] for b in booked)),
        "by_segment": {s: row(column(f"segment:{s}"), v) for s, v in by_segment.items()},
        "by_quarter": {q: row(column(f"quarter:{q}"), v) for q, v in by_quarter.items()},
        "checks": checks(cal, records, start, end),
        "effort": {"scale": cal.effort_scale, "note": cal.effort_note},
    }
    out["warnings"] = warnings(out)
    return out


def checks(cal: Calibration, records: pd.DataFrame, start: dt.date, end: dt.date) -> dict[str, dict[str, float]]:
    """The funnel's counts over the period, actual against the simulated median."""
    deals, after = cal.ex.deals, cal.est.stale_after()
    actual = {
        "leads": sum(start <= d.created <= end for d in deals),
        "won_deals": sum(d.outcome == "won" and d.closed is not None and start <= d.closed <= end for d in deals),
        "open_at_end": sum(d.created <= end and (d.closed is None or d.closed > end)
                           and (end - d.created).days <= after for d in deals),     # stale ones are not in the model
        "renewals": sum(bool(r.renewed) and start <= r.renewal_date <= end for r in cal.ex.renewals),
    }
    return {k: {"actual": float(actual[k]), "p50": float(np.median(records[CHECKS[k][0]]))}
            for k in CHECKS if CHECKS[k][0] in records and (actual[k] or k != "renewals")}


def likely_cause(result: dict[str, Any]) -> str:
    """The input whose count the simulation misses most (by the log of median / actual)."""
    misses = {k: abs(math.log(max(c["p50"], 0.5) / max(c["actual"], 0.5))) for k, c in result["checks"].items()}
    if not misses:
        return "no count to compare"
    worst = max(misses, key=misses.__getitem__)
    c = result["checks"][worst]
    return (f"{CHECKS[worst][1]}: {worst.replace('_', ' ')} simulated {c['p50']:,.0f} (median) against "
            f"{c['actual']:,.0f} in the export")


def warnings(result: dict[str, Any]) -> list[str]:
    """One line per actual outside the simulated P05-P95: the total, each segment and quarter."""
    out = []
    for label, r in [("total bookings", result["total"])] + \
            [(f"segment {k}", v) for k, v in result["by_segment"].items()] + \
            [(f"quarter {k}", v) for k, v in result["by_quarter"].items()]:
        if r["outside"]:
            side = "above P95" if r["actual"] > r["p95"] else "below P05"
            out.append(f"back-cast: {label} {money(r['actual'])} is {side} of the calibrated plan's "
                       f"({money(r['p05'])} to {money(r['p95'])})")
    if result["total"]["outside"]:
        out.append(f"back-cast: the likely cause is {likely_cause(result)}")
    return out


def markdown(result: dict[str, Any]) -> list[str]:
    """The review's back-cast section: the table, the funnel's counts, the warnings."""
    p = result["period"]
    lines = [(f"The calibrated plan played {result['runs']} times over {p['start']} to {p['end']} (seed "
              f"{result['seed']}, a living funnel on the first day, no playbook), against the export's bookings. "
              "PIT: the share of simulated years below the actual (50 % is dead centre)."), "",
             "| | actual | P05 | P10 | P50 | P90 | P95 | P50 / actual | PIT |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    rows = [("**total**", result["total"])] + list(result["by_segment"].items()) + list(result["by_quarter"].items())
    for name, r in rows:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "n/a"
        flag = " **outside P05-P95**" if r["outside"] else ""
        lines.append(f"| {name} | {money(r['actual'])} | {money(r['p05'])} | {money(r['p10'])} | {money(r['p50'])} "
                     f"| {money(r['p90'])} | {money(r['p95'])} | {ratio} | {r['pit']:.0%}{flag} |")
    lines += ["", "| count | actual | simulated median |", "| --- | ---: | ---: |"]
    lines += [f"| {k.replace('_', ' ')} | {c['actual']:,.0f} | {c['p50']:,.0f} |" for k, c in result["checks"].items()]
    lines += ["", f"- {result['effort']['note']}."]
    lines += [f"- **Warning**: {w}" for w in result["warnings"]] or \
        ["- The actual total lies within the simulated P05-P95."]
    return lines
