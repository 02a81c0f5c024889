"""`python -m simulate compare PLAN.yaml`: which version of the plan holds up best?

A manager weighing "hire 4 SMB reps in Q1" against "move 30 % of online spend to academic
promotion" wants to know whether either changes the odds of the target, and by how much.
Every variant is played on the same simulated worlds as the plan itself (common random
numbers): the same leads arrive, the same reps resign, the same accounts come up for renewal.
The difference is then measured world by world, with a paired interval far narrower than two
separate runs would give; the summary says how much narrower (`variance_ratio`).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.summary import build_summary
from ..errors import InputError
from ..format import aligned, money, pct
from ..load.loader import load_scenario, load_variants
from ..plan.plan import Plan
from ..run.scenario import apply_rule_switches
from ..stats.paired import p_beats, paired_mean, paired_proportion
from ..stats.sample_stats import spread, wilson
from ..words import say
from .decide import Simulator, add_options, finish, open_folder, speak, values

BASE = "plan"


def comparisons(records: dict[str, pd.DataFrame], plans: dict[str, Plan], descriptions: dict[str, str],
                base: str = BASE) -> dict[str, dict[str, Any]]:
    """Each variant against the base, world by world: the `comparisons` section of summary.json.

    `p_beats_base` is the share of worlds in which the variant's figure in the base's target
    metric (bookings, say) is higher than the base's (ties count half): it compares plans, not
    ambitions, so a variant that only raises the target neither beats nor loses.
    """
    metric_plan = plans[base]
    out: dict[str, dict[str, Any]] = {}
    for name, rec in records.items():
        both = rec.index.intersection(records[base].index)
        v, b = rec.loc[both], records[base].loc[both]
        hit_v, hit_b = v["hit"].to_numpy() >= 0.5, b["hit"].to_numpy() >= 0.5
        n = len(both)
        entry: dict[str, Any] = {
            "description": descriptions.get(name, ""),
            "target": plans[name].target.annual,
            "runs": n,
            "p_hit": float(hit_v.mean()) if n else math.nan,
            "p_hit_ci95": list(wilson(int(hit_v.sum()), n)),
            "attainment": spread(v["attainment"]),
        }
        if name == base:
            entry.update({"p_hit_diff": 0.0, "p_hit_diff_ci95": [0.0, 0.0], "attainment_mean_diff": 0.0,
                          "attainment_mean_diff_ci95": [0.0, 0.0], "p_beats_base": 0.5,
                          "variance_ratio": None})
        else:
            d_hit, ci_hit = paired_proportion(hit_v, hit_b)
            d_att, ci_att = paired_mean(v["attainment"].to_numpy(), b["attainment"].to_numpy())
            entry.update({"p_hit_diff": d_hit, "p_hit_diff_ci95": list(ci_hit),
                          "attainment_mean_diff": d_att, "attainment_mean_diff_ci95": list(ci_att),
                          "p_beats_base": p_beats(values(v, metric_plan), values(b, metric_plan)),
                          "variance_ratio": variance_ratio(hit_v, hit_b)})
        out[name] = entry
    return out


def variance_ratio(hit_a: np.ndarray, hit_b: np.ndarray) -> float:
    """How many times smaller the variance of the P(hit) difference is on common random
    numbers than it would be with the two plans run on independent seeds.

    Independent: (pa(1 - pa) + pb(1 - pb)) / n. Paired: (p10 + p01 - (p10 - p01)^2) / n,
    from the discordant worlds. Infinite when the plans agree in every world.
    """
    a, b = np.asarray(hit_a, bool), np.asarray(hit_b, bool)
    pa, pb = a.mean(), b.mean()
    p10, p01 = np.mean(a & ~b), np.mean(~a & b)
    independent = pa * (1 - pa) + pb * (1 - pb)
    paired = p10 + p01 - (p10 - p01) ** 2
    if paired <= 0:
        return math.inf if independent > 0 else math.nan
    return float(independent / paired)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="a plan or scenario with `variants:`, e.g. scenarios/baseline.yaml")
    add_options(p)


def run(args: argparse.Namespace) -> int:
    doc = load_scenario(args.scenario)
    plans = {name: apply_rule_switches(plan, args) for name, plan in load_variants(doc).items()}
    if len(plans) == 1:
        raise InputError(f"{args.scenario}: no variants to compare; add a `variants:` list "
                         "(see the end of scenarios/baseline.yaml)")
    base = plans[BASE]
    speak(args, base)
    runs, seed = args.runs or base.runs, base.seed if args.seed is None else args.seed
    name = Path(args.scenario).stem
    descriptions = {BASE: doc.data.get("description") or "the plan as proposed",
                    **{v["name"]: v.get("description", "") for v in doc.data.get("variants") or []}}
    folder = open_folder(args, name, "compare", args.scenario)
    with Simulator(args, seed, runs) as sim:
        results = sim.run(plans)
    summary = build_summary(results, name, with_rule_values=False)
    summary["comparisons"] = comparisons({n: v.records for n, v in results.variants.items()},
                                         plans, descriptions)
    for v in doc.data.get("variants") or []:      # a target of its own and nothing else
        summary["comparisons"][v["name"]]["target_only"] = set(v.get("set") or {}) <= {"target"}
    summary["years_reused"] = sim.reused
    return finish(folder, args, [doc], doc.data, name, seed, runs, results, summary, base,
                  render(summary))


def render(summary: dict[str, Any]) -> str:
    comps = summary["comparisons"]
    rows = [say("cmp.cols").split("|")]
    for name, c in comps.items():
        lo, hi = c["p_hit_diff_ci95"]
        base = name == BASE
        diff = "-" if base else f"{100 * c['p_hit_diff']:+.1f} pp"
        ci = "-" if base else say("cmp.term_ci", lo=f"{100 * lo:+.1f}", hi=f"{100 * hi:+.1f}")
        beats = "-" if base else say("cmp.term_same") if c.get("target_only") else pct(c["p_beats_base"], 0)
        ratio = c["variance_ratio"]
        gain = "-" if base or ratio is None or math.isnan(ratio) else (
            say("cmp.term_no_noise") if math.isinf(ratio) else f"{ratio:.1f}x")
        rows.append([name, money(c["target"]), pct(c["p_hit"]), diff, ci, beats, pct(c["attainment"]["p50"]), gain])
    lines = [say("cmp.term_head", scenario=summary["scenario"], n=len(comps), runs=f"{summary['runs']:,}"),
             *aligned(rows)]
    lines.append("  " + say("cmp.term_books"))
    lines.append("  " + say("cmp.term_gain"))
    return "\n".join(lines) + "\n"
