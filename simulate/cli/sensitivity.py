"""`python -m simulate sensitivity PLAN.yaml`: which assumptions move the target's odds most?

A plan rests on figures nobody knows exactly: how many leads marketing will bring, how often
negotiations close, how many key accounts renew, how fast reps work. This command moves each
of them, one at a time, to a low and a high value (lead volume x0.8 and x1.2, say) and plays
the plan again on the same simulated worlds, so that the change in P(hit) and in the median
attainment is due to that figure alone. The shocks of the sign-off scenarios count as factors
too (low: the shock as declared; high: no shock). Sorted by swing, this is the tornado: the
assumptions at the top are the ones to check before signing.

Each factor edits a copy of the plan as written and is validated like a plan file, so a low
or high value that breaks a rule of the format fails at once, with the line it came from.
"""

from __future__ import annotations

import argparse
import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ..analysis.summary import build_summary
from ..format import aligned, level, pct, size_text, style
from ..load.loader import load_scenario, plan_from_document
from ..load.yamlio import Document
from ..plan import distributions as d
from ..plan.plan import STAGES, Plan
from ..plan.quantities import parse_days
from ..run.runner import RunResults
from ..run.scenario import apply_rule_switches
from ..words import say, term
from .decide import (
    Simulator,
    add_options,
    declared_size,
    finish,
    open_folder,
    speak,
    stress_paths,
    unique_names,
)
from .run import write_table

Edit = Callable[[dict, Plan, float], None]     # (the plan's data, the plan, the level)


@dataclass(frozen=True)
class Factor:
    """An uncertain input with its low and high value, and how to set it in the plan's data."""

    name: str
    low: float
    high: float
    labels: tuple[str, str]
    edit: Edit


def _leads(data: dict, plan: Plan, f: float) -> None:
    for i, c in enumerate(plan.channels):
        data["channels"][i]["leads_per_year"] = c.leads_per_year * f


def _win_rate(data: dict, plan: Plan, f: float) -> None:
    for i, s in enumerate(plan.segments):
        if s.funnel is not None:
            stage = s.funnel.negotiation
            room = 1.0 - (stage.lost or 0.0)
            data["segments"][i]["funnel"]["negotiation"]["advance"] = min(room, stage.advance * f)


def _renewal(data: dict, plan: Plan, delta: float) -> None:
    for i, s in enumerate(plan.segments):
        if s.accounts is not None:
            rate = s.accounts.renewal_with_full_visits + delta
            data["segments"][i]["accounts"]["renewal_with_full_visits"] = min(1.0, max(0.0, rate))


def _deal_size(data: dict, plan: Plan, f: float) -> None:
    for i, s in enumerate(plan.segments):
        if s.funnel is not None:
            data["segments"][i]["funnel"]["units"] = as_data(s.funnel.units.scaled(f))
        if s.winback is not None:
            data["segments"][i]["winback"]["units"] = as_data(s.winback.units.scaled(f))


def _team(key: str) -> Edit:
    def edit(data: dict, plan: Plan, value: float) -> None:
        data["team"][key] = value
    return edit


def _pace(data: dict, plan: Plan, f: float) -> None:
    for i, r in enumerate(plan.team.reps):
        data["team"]["reps"][i]["visits_per_week"] = r.visits_per_week * f


def _stage_times(data: dict, plan: Plan, f: float) -> None:
    for i, s in enumerate(plan.segments):
        if s.funnel is not None:
            for name, stage in zip(STAGES, s.funnel.stages()):
                data["segments"][i]["funnel"][name]["time"] = as_data(stage.time.scaled(f))


FACTORS = (
    Factor("lead volume", 0.8, 1.2, ("x0.8", "x1.2"), _leads),
    Factor("negotiation win rate", 0.9, 1.1, ("x0.9", "x1.1"), _win_rate),
    Factor("KA renewal", -0.05, 0.05, ("-5 pts", "+5 pts"), _renewal),
    Factor("deal size", 0.9, 1.1, ("x0.9", "x1.1"), _deal_size),
    Factor("attrition", 0.05, 0.25, ("5 %/yr", "25 %/yr"), _team("attrition_per_year")),
    Factor("hiring delay", parse_days("1mo"), parse_days("3mo"), ("1mo", "3mo"), _team("hiring_delay")),
    Factor("rep pace", 0.9, 1.1, ("x0.9", "x1.1"), _pace),
    Factor("stage times", 0.8, 1.2, ("x0.8", "x1.2"), _stage_times),
)

_FORMS: dict[type, Callable[[Any], Any]] = {
    d.Fixed: lambda x: x.value, d.Uniform: lambda x: {"uniform": [x.low, x.high]},
    d.Triangular: lambda x: {"triangular": [x.low, x.mode, x.high]},
    d.Normal: lambda x: {"normal": {"mean": x.mu, "sd": x.sd}},
    d.LogNormal: lambda x: {"lognormal": {"mean": x.mu, "sd": x.sd}},
    d.Gamma: lambda x: {"gamma": {"mean": x.mu, "sd": x.sd}},
    d.Exponential: lambda x: {"exponential": {"mean": x.mu}},
    d.Poisson: lambda x: {"poisson": {"mean": x.rate}},
    d.Empirical: lambda x: {"empirical": list(x.values)},
}


def as_data(dist: d.Distribution) -> Any:
    """A distribution written back in the plan format, e.g. {gamma: {mean: 12, sd: 6}}."""
    return _FORMS[type(dist)](dist)


def factor_plans(doc: Document, plan: Plan, factor: Factor) -> tuple[Plan, Plan]:
    """The plan with the factor at its low and at its high value, each validated."""
    def at(level: float) -> Plan:
        data = copy.deepcopy(doc.data)
        factor.edit(data, plan, level)
        return plan_from_document(Document(data, doc.locations, doc.files))
    return at(factor.low), at(factor.high)


def shock_plans(paths: list[Path], plan: Plan) -> dict[str, tuple[Plan, dict[str, Any]]]:
    """Each shock of the stress scenarios, alone, in its scenario, against the plan's target,
    with its declared size and unit."""
    out: dict[str, tuple[Plan, dict[str, Any]]] = {}
    for name, path in zip(unique_names(paths), paths):
        scenario = plan_from_document(load_scenario(path))
        for shock in scenario.shocks:
            alone = scenario.model_copy(update={"shocks": [shock], "target": plan.target})
            out[f"{shock.label()} ({name})"] = (alone, {"declared_size": declared_size(shock), "unit": shock.unit})
    return out


def tornado(records: dict[str, pd.DataFrame], rows: list[tuple[str, str, str, str, str]],
            declared: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The `sensitivity` section: one row per factor (name, labels, low and high runs), by swing;
    a shock's row also carries its `declared_size` and `unit`."""
    declared = declared or {}
    def p_hit(r: pd.DataFrame) -> float:
        return float(r["hit"].mean())

    def p50(r: pd.DataFrame) -> float:
        return float(r["attainment"].median())

    factors = [{"name": name, "low": low, "high": high,
                "p_hit_low": p_hit(records[lo]), "p_hit_high": p_hit(records[hi]),
                "p50_low": p50(records[lo]), "p50_high": p50(records[hi]),
                "swing": abs(p_hit(records[hi]) - p_hit(records[lo])),
                "p50_swing": abs(p50(records[hi]) - p50(records[lo])),
                **declared.get(name, {})}
               for name, low, high, lo, hi in rows]
    factors.sort(key=lambda f: (-f["swing"], -f["p50_swing"]))
    return {"factors": factors, "base": {"p_hit": p_hit(records["plan"]), "p50": p50(records["plan"])}}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="the plan whose inputs are varied, e.g. scenarios/baseline.yaml")
    add_options(p)
    p.add_argument("--scenario", dest="stress", action="append", metavar="FILE",
                   help="take the shocks from this scenario (repeatable; default: the plan's "
                        "signoff.scenarios)")


def run(args: argparse.Namespace) -> int:
    doc = load_scenario(args.scenario)
    plan = plan_from_document(doc)
    base = apply_rule_switches(plan, args)
    speak(args, base)
    runs, seed = args.runs or base.runs, base.seed if args.seed is None else args.seed
    name = Path(args.scenario).stem
    paths = stress_paths(doc, plan, args.stress)
    plans: dict[str, Plan] = {"plan": base}
    rows: list[tuple[str, str, str, str, str]] = []
    for f in FACTORS:
        low, high = factor_plans(doc, plan, f)
        plans[f"{f.name}: low"] = apply_rule_switches(low, args)
        plans[f"{f.name}: high"] = apply_rule_switches(high, args)
        rows.append((f.name, *f.labels, f"{f.name}: low", f"{f.name}: high"))
    declared: dict[str, dict[str, Any]] = {}
    for label, (shocked, size) in shock_plans(paths, plan).items():
        plans[f"{label}: low"] = apply_rule_switches(shocked, args)
        with style("en"):   # summary.json's labels are English in every language
            rows.append((label, f"as declared ({size_text(size['declared_size'], size['unit'])})", "none",
                         f"{label}: low", "plan"))
        declared[label] = size
    folder = open_folder(args, name, "sensitivity", " ".join(map(str, [args.scenario, *paths])))
    with Simulator(args, seed, runs) as sim:
        results = sim.run(plans)
    records = {n: v.records for n, v in results.variants.items()}
    headline = RunResults({"plan": results.variants["plan"]}, seed, runs, results.seconds, extra=results.extra)
    summary = build_summary(headline, name, with_rule_values=False)
    summary["sensitivity"] = tornado(records, rows, declared)
    table = pd.concat({n: r[["hit", "attainment", base.target.metric]] for n, r in records.items()},
                      names=["plan_as", "replication"]).reset_index()
    write_table(folder, "sensitivity", table)
    summary["years_reused"] = sim.reused
    return finish(folder, args, [doc] + [load_scenario(p) for p in paths], doc.data, name, seed, runs,
                  headline, summary, base, render(summary["sensitivity"], runs))


def render(s: dict[str, Any], runs: int) -> str:
    rows = [say("sens.cols").split("|")] + [
        [term("factor", f["name"]), level(f, "low"), level(f, "high"), pct(f["p_hit_low"], 0),
         pct(f["p_hit_high"], 0), pct(f["p50_low"], 0), pct(f["p50_high"], 0), f"{100 * f['swing']:.0f} pp"]
        for f in s["factors"]]
    lines = [say("sens.head", runs=f"{runs:,}", p=pct(s["base"]["p_hit"]), p50=pct(s["base"]["p50"])),
             *aligned(rows)]
    return "\n".join(lines) + "\n"


