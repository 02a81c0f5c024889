"""`python -m simulate stress PLAN.yaml SCENARIO.yaml...`: every plan variant against every bad year.

Before choosing between "hire 4 SMB reps" and "move spend to academic promotion", a manager
asks how each holds up when the year goes wrong: a price war, a budget cut, a key rep
leaving. The stress matrix plays each variant of the plan (rows) under each scenario
(columns; the plan's own, unstressed year comes first) on the same simulated worlds. Each cell
gives P(hit), the P10 attainment (the one-year-in-ten bad year), the expected shortfall in
currency and the mean attainment of the worst tenth of years; each variant's weakest scenario
is named, so the conversation turns to the risk that matters for that plan.

A scenario is read as written (its shocks, its own changes), then the variant's overrides are
merged onto it by the `extends` rules, as if the variant had been written into the scenario.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..analysis.summary import build_summary
from ..errors import UsageError
from ..format import money, pad, pct, width
from ..load.loader import load_scenario, load_variants, plan_from_document
from ..load.yamlio import Document
from ..plan.plan import Plan
from ..run.scenario import apply_rule_switches
from ..words import say
from .decide import (
    Simulator,
    add_options,
    cell,
    finish,
    open_folder,
    speak,
    stress_paths,
    unique_names,
    with_overrides,
)

BASE = "plan"


def key(variant: str, scenario: str) -> str:
    """The name of one cell among the simulated plans (and in replications.csv)."""
    return f"{variant} @ {scenario}"


def variant_plans(plan_doc: Document, scenario_doc: Document, args: argparse.Namespace) -> dict[str, Plan]:
    """The plan and each of its variants, played under one scenario."""
    plans = {BASE: plan_from_document(scenario_doc)}
    for i, v in enumerate(plan_doc.data.get("variants") or []):
        plans[v["name"]] = plan_from_document(with_overrides(scenario_doc, plan_doc, ("variants", i, "set")))
    return {name: apply_rule_switches(p, args) for name, p in plans.items()}


def weakest(cells: dict[str, dict[str, Any]], stressed: list[str]) -> str | None:
    """The scenario with the lowest P(hit) (the lower P10 attainment breaks ties)."""
    return min(stressed, key=lambda s: (cells[s]["p_hit"], cells[s]["attainment_p10"]), default=None)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan", help="the plan whose variants are stressed, e.g. scenarios/baseline.yaml")
    p.add_argument("scenarios", nargs="*", help="stress scenario files (default: the plan's "
                                                 "`signoff.scenarios`)")
    add_options(p)


def run(args: argparse.Namespace) -> int:
    plan_doc = load_scenario(args.plan)
    plan_variants = {n: apply_rule_switches(p, args) for n, p in load_variants(plan_doc).items()}
    base = plan_variants[BASE]
    speak(args, base)
    plan_path = Path(args.plan)
    paths = [p for p in stress_paths(plan_doc, base, args.scenarios)
             if p.resolve() != plan_path.resolve()]
    if not paths:
        raise UsageError(f"no stress scenarios: name them after {args.plan}, or list them in its "
                         "`signoff.scenarios`")
    home = plan_path.stem
    names = unique_names(paths, taken=(home,))
    runs, seed = args.runs or base.runs, base.seed if args.seed is None else args.seed
    folder = open_folder(args, home, "stress", " ".join(map(str, [plan_path, *paths])))
    docs = [plan_doc] + [load_scenario(p) for p in paths]
    columns = {home: plan_variants} | {n: variant_plans(plan_doc, d, args) for n, d in zip(names, docs[1:])}
    plans = {key(v, s): p for s, row in columns.items() for v, p in row.items()}
    with Simulator(args, seed, runs) as sim:
        results = sim.run(plans)
    cells = {v: {s: cell(results.variants[key(v, s)].records, columns[s][v]) for s in columns}
             for v in plan_variants}
    summary = build_summary(results, home, with_rule_values=False)
    summary["matrix"] = {"scenarios": list(columns), "baseline": home,
                         "variants": cells, "weakest": {v: weakest(row, names) for v, row in cells.items()}}
    summary["years_reused"] = sim.reused
    return finish(folder, args, docs, plan_doc.data, home, seed, runs, results, summary, base,
                  render(summary["matrix"], runs,
                         (base.signoff.confidence, base.signoff.stress_confidence)))


def render(matrix: dict[str, Any], runs: int, bars: tuple[float, float]) -> str:
    """The matrix as text: P(hit) with its interval and whether it clears the sign-off bar
    (`bars`: the plan's own, then under stress), P10 attainment and the expected shortfall,
    each variant's weakest scenario."""
    scenarios, rows = matrix["scenarios"], matrix["variants"]
    w = max(width(say("col.variant")), *(width(v) for v in rows)) + 2
    col = max(22, *(width(s) + 2 for s in scenarios))

    def odds(c: dict[str, Any], scenario: str) -> str:
        lo, hi = c["p_hit_ci95"]
        bar = bars[0] if scenario == matrix["baseline"] else bars[1]
        mark = say("mx.term_ok") if c["p_hit"] >= bar else say("mx.term_fail")
        return f"{pct(c['p_hit'], 0)} ({100 * lo:.0f}-{100 * hi:.0f}) {mark}"

    lines = [say("mx.term_head", n=len(rows), m=len(scenarios), runs=f"{runs:,}", plan=matrix["baseline"])]
    for title, fmt in ((say("mx.term_odds", bar=pct(bars[0], 0), plan=matrix["baseline"],
                            stress=pct(bars[1], 0)), odds),
                       (say("mx.term_p10"), lambda c, _s: pct(c["attainment_p10"], 0)),
                       (say("mx.term_shortfall"), lambda c, _s: money(c["expected_shortfall"]))):
        lines += ["", f"  {title}", "  " + pad(say("col.variant"), w) + "".join(pad(s, col, ">") for s in scenarios)]
        lines += ["  " + pad(v, w) + "".join(pad(fmt(row[s], s), col, ">") for s in scenarios)
                  for v, row in rows.items()]
    lines += ["", "  " + say("mx.term_weakest", list="; ".join(f"{v}: {s}" for v, s in matrix["weakest"].items()))]
    return "\n".join(lines) + "\n"
