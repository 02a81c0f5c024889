"""Backtest: would the re-forecast have been right? Cut the export in the past, forecast, compare.

For each cut date the export is seen as it stood that day: deals created later are gone,
outcomes after the cut are hidden (a deal closed later is open, in the stage it had reached;
its amount, known only at closing, is dropped), renewals due later and reps hired later are
gone (a contract due later is known, its renewal is not). `calibrate` fits a plan to that, the re-forecast plays it from the open pipeline of the
cut to the horizon, and the bookings of (cut, horizon] are compared with what happened: the
actual, P05-P95, the PIT and the CRPS. The two forecasts a CRM user already has are scored on
the same windows: the weighted pipeline (open deals x their stage's historical win rate, plus
renewals due x the renewal rate, plus the usual new business of such a window) and the run rate
(the last 90 days' bookings per day x the window's days); each is a single number, so its CRPS
is its absolute error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import UsageError
from ..load.crm import STAGE_NAMES, Deal, Export, Renewal
from ..load.loader import plan_from_document
from ..load.pipeline import opening_from_export
from ..load.yamlio import Document, parse_yaml_text
from ..plan import quantities as q
from ..plan.plan import Plan
from ..run.runner import run_replications
from ..stats.scores import crps, pit, quantiles
from .calibrate import plan_yaml
from .calibration import Calibration
from .estimates import MIN_N, Estimates

MIN_HISTORY = 90        # days of export before a cut: less and there is nothing to calibrate on
RUN_RATE_DAYS = 90


def horizon_end(cut: dt.date, spec: str) -> dt.date:
    """The last day forecast from `cut`: `year-end` (31 December of the cut's year, or of
    the next when the cut is 31 December), a duration (`3mo`, `6w`, `30d`) or a date. Months
    from a month's last day end on a month's last day (30 April + 3mo: 31 July)."""
    if spec == "year-end":
        end = dt.date(cut.year, 12, 31)
        return end if end > cut else dt.date(cut.year + 1, 12, 31)
    try:
        try:
            end = q.parse_date(spec)
        except ValueError:
            end = q.parse_date("+" + spec, cut, month_ends=True)
    except ValueError:
        raise UsageError(f"--horizon: expected year-end, a duration such as 3mo or a date such as 2027-12-31, "
                         f"got '{spec}'") from None
    if end <= cut:
        raise UsageError(f"--horizon {spec}: the horizon end {end} is not after the cut {cut}")
    return end


def check_cut(export: Export, cut: dt.date, end: dt.date) -> None:
    """A cut needs history before it and a known outcome up to its horizon."""
    if (cut - export.start).days < MIN_HISTORY:
        raise UsageError(f"--cut {cut}: the export starts on {export.start}; a cut needs at least "
                         f"{MIN_HISTORY} days of history before it")
    if end > export.as_of:
        raise UsageError(f"--cut {cut}: its horizon ends on {end}, after the export's last day {export.as_of}, "
                         "so what happened is not known; choose an earlier cut or a shorter --horizon")


def censor(export: Export, cut: dt.date) -> Export:
    """The export as it stood on `cut` (see the module's note). An export of current stages
    only does not say which stage a deal closed later was in on the cut: it is placed by its
    age against the median cycle of the deals won by then (first, second or last third)."""
    won = [(d.closed - d.created).days for d in export.deals
           if d.outcome == "won" and d.closed is not None and d.closed <= cut]
    median = float(np.median(won)) if won else 30.0
    deals = []
    for d in export.deals:
        if d.created > cut:
            continue
        if d.closed is not None and d.closed <= cut:
            deals.append(d)
            continue
        if export.stage_dates:
            intent = d.intent if d.intent is not None and d.intent <= cut else None
            negotiation = d.negotiation if d.negotiation is not None and d.negotiation <= cut else None
            stage = "negotiation" if negotiation else "intent" if intent else "lead"
        else:
            intent = negotiation = None
            stage = STAGE_NAMES[min(int(3 * (cut - d.created).days / max(median, 1.0)), 2)]
        deals.append(replace(d, intent=intent, negotiation=negotiation, closed=None, last_stage=stage,
                             outcome="open", amount=d.amount if d.outcome == "open" else None))
    # the contracts of one year, as the CRM knows them on the cut: those due in its last year,
    # and, when the export holds less, those due next up to a year's worth (not decided yet)
    first = max(export.start, cut - dt.timedelta(days=364))
    renewals = tuple(r if r.renewal_date <= cut else replace(r, renewed=None) for r in export.renewals
                     if first <= r.renewal_date < first + dt.timedelta(days=365))
    reps = tuple(replace(r, leave=r.leave if r.leave is not None and r.leave <= cut else None)
                 for r in export.reps if r.hire <= cut)
    return replace(export, deals=tuple(deals), renewals=renewals, reps=reps, as_of=cut)


def actual_bookings(export: Export, start: dt.date, end: dt.date) -> float:
    """What was booked in (start, end]: won deals at their close, renewed contracts."""
    return (sum(d.amount or 0.0 for d in export.deals
                if d.outcome == "won" and d.closed is not None and start < d.closed <= end)
            + sum(r.contract_value for r in export.renewals if r.renewed and start < r.renewal_date <= end))


def forecast_plan(seen: Export, cut: dt.date, end: dt.date, name: str) -> tuple[Plan, str]:
    """The plan calibrated on what was known on `cut`, re-forecasting (cut, end] from its open
    pipeline (the bookings so far are known, not forecast: the opening books none); and its YAML."""
    text = plan_yaml(Calibration(Estimates(seen), name))
    data, locations = parse_yaml_text(text, f"{name}.yaml")
    data["horizon"] = {"start": cut.isoformat(), "years": ((end - cut).days + 1) / 365.0, "warm_start": False}
    data["opening"] = {**opening_from_export(seen, cut, data), "bookings": []}
    return plan_from_document(Document(data, locations, (f"{name}.yaml",))), text


def weighted_pipeline(seen: Export, due: list[Renewal], cut: dt.date, end: dt.date) -> float:
    """Open deals x the historical win rate of their stage (by segment when it has MIN_N
    closed deals there), at their amount or the segment's average win; renewals due in the
    window x the segment's renewal rate; plus the usual new business of a window as long."""
    closed = [d for d in seen.deals if d.outcome != "open"]

    def rate(deals: list[Deal]) -> float:
        return sum(d.outcome == "won" for d in deals) / len(deals) if deals else 0.0

    def reached(d: Deal, stage: int) -> bool:
        return STAGE_NAMES.index(d.last_stage) >= stage if seen.stage_dates else True

    overall = [rate([d for d in closed if reached(d, k)]) for k in range(3)]
    wins: dict[str, list[float]] = {}
    for d in closed:
        if d.outcome == "won" and d.amount:
            wins.setdefault(d.segment, []).append(d.amount)
    average = float(np.mean([a for v in wins.values() for a in v])) if wins else 0.0
    total = 0.0
    for d in seen.deals:
        if d.outcome != "open":
            continue
        k = STAGE_NAMES.index(d.last_stage)
        same = [c for c in closed if c.segment == d.segment and reached(c, k)]
        p = rate(same) if len(same) >= MIN_N else overall[k]
        total += p * (d.amount if d.amount else float(np.mean(wins[d.segment])) if d.segment in wins else average)
    return total + renewals_due(seen, due) + new_business(seen, cut, (end - cut).days)


def renewals_due(seen: Export, due: list[Renewal]) -> float:
    """The contracts due in the window (their dates and values are known before), each at its
    value x its segment's renewal rate so far."""
    decided = [r for r in seen.renewals if r.renewed is not None]
    total = 0.0
    for r in due:
        same = [x.renewed for x in decided if x.segment == r.segment]
        total += r.contract_value * (sum(same) / len(same) if same else 0.0)
    return total


def new_business(seen: Export, cut: dt.date, days: int) -> float:
    """The bookings a window of `days` usually gets from deals created in it: the average,
    over windows ending weekly in the year before the cut, of the deals created and won inside."""
    ends = [cut - dt.timedelta(days=7 * k) for k in range(53)]
    ends = [e for e in ends if (e - seen.start).days >= days and (cut - e).days <= 365]
    if not ends:
        return 0.0
    won = [(d.created, d.closed, d.amount or 0.0) for d in seen.deals if d.outcome == "won" and d.closed]
    return float(np.mean([sum(a for c, w, a in won if e - dt.timedelta(days=days) < c and w <= e) for e in ends]))


def run_rate(seen: Export, cut: dt.date, end: dt.date) -> float:
    """The last 90 days' bookings per day, times the window's days."""
    return actual_bookings(seen, cut - dt.timedelta(days=RUN_RATE_DAYS), cut) / RUN_RATE_DAYS * (end - cut).days


def one_cut(export: Export, cut: dt.date, end: dt.date, runs: int, seed: int,
            workers: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The backtest of one cut (summary.json's entry) and what its charts need."""
    seen = censor(export, cut)
    plan, text = forecast_plan(seen, cut, end, f"cut-{cut}")
    result = run_replications(plan, runs, seed, workers=workers).variants["plan"]
    sample = result.records["bookings"].to_numpy(float)
    actual = actual_bookings(export, cut, end)
    entry: dict[str, Any] = {"cut": cut.isoformat(), "horizon_end": end.isoformat(), "actual": actual,
                             **quantiles(sample), "pit": pit(sample, actual), "crps": crps(sample, actual),
                             "baselines": {}}
    due = [r for r in export.renewals if cut < r.renewal_date <= end]
    for name, value in (("weighted_pipeline", weighted_pipeline(seen, due, cut, end)),
                        ("run_rate", run_rate(seen, cut, end))):
        entry["baselines"][name] = {"p50": value, "crps": abs(value - actual)}
    booked = sorted([(d.closed, d.amount or 0.0) for d in export.deals
                     if d.outcome == "won" and d.closed is not None and cut < d.closed <= end] +
                    [(r.renewal_date, r.contract_value) for r in due if r.renewed])
    chart = {"cut": cut, "end": end, "weeks": result.cumulative.shape[1], "entry": entry, "plan_text": text,
             "bands": np.percentile(result.cumulative, [5, 10, 50, 90, 95], axis=0),
             "actual_days": np.array([(day - cut).days for day, _ in booked]),
             "actual_cum": np.cumsum([v for _, v in booked])}
    return entry, chart


def backtest(export: Export, cuts: list[dt.date], horizon: str, runs: int, seed: int,
             workers: int | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """summary.json's `backtest` section over the cuts, and each cut's chart data."""
    ends = [horizon_end(c, horizon) for c in cuts]
    for c, e in zip(cuts, ends):
        check_cut(export, c, e)
    entries, charts = [], []
    for c, e in zip(cuts, ends):
        entry, chart = one_cut(export, c, e, runs, seed, workers)
        entries.append(entry)
        charts.append(chart)
    crps_mean = float(np.mean([x["crps"] for x in entries]))
    weighted = float(np.mean([x["baselines"]["weighted_pipeline"]["crps"] for x in entries]))
    return {"cuts": entries,
            "coverage80": float(np.mean([x["p10"] <= x["actual"] <= x["p90"] for x in entries])),
            "coverage90": float(np.mean([x["p05"] <= x["actual"] <= x["p95"] for x in entries])),
            "crps_mean": crps_mean,
            "crps_skill_vs_weighted_pipeline": 1.0 - crps_mean / weighted if weighted > 0 else None}, charts
