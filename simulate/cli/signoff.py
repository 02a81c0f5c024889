"""`python -m simulate signoff PLAN.yaml`: can this target be signed, and which one can?

The bar a target must clear is written in the plan's `signoff` block: P(hit) of at least 80 %
on the plan itself and of at least 50 % under each named stress scenario (both can be changed
there or on the command line). The plan and every scenario are played, playbook active, on
the same simulated worlds, and against the plan's target. Three answers come back:

- the verdict on the proposed target, sign or do not sign, with every check behind it;
- the highest target that clears the whole bar, "the target you can sign at 80 %";
- each shock's breaking point: the size at which its scenario falls under the bar.

The checks play until the verdict is settled (a sequential test: one check settled under
its bar already decides "do not sign"), then on, doubling the years, until the signable
target is known to +-1 % of the proposed target, never past `--runs`.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..analysis.summary import build_summary
from ..format import money, pad, pct, size_text, width
from ..load.loader import load_scenario, plan_from_document
from ..plan.distributions import Fixed
from ..plan.plan import Plan
from ..report.sections import on_fewer_years
from ..run.options import positive_int
from ..run.runner import Collector, RunResults
from ..run.scenario import apply_rule_switches
from ..stats.sample_stats import TOLERANCE, Z95, highest_target, wilson
from ..stats.sequential import z_spent
from ..words import say
from .decide import (
    Simulator,
    add_options,
    bar_of,
    bar_options,
    declared_size,
    finish,
    open_folder,
    speak,
    stress_paths,
    unique_names,
    values,
    with_target,
)

MAX_ROUNDS = 4          # re-simulations while looking for the signable target's fixed point
SEARCH_RUNS = 300
SIGNABLE_PRECISION = 0.01   # the signable target's 95 % half-width, as a share of the proposed target
# How far each kind of shock is searched, and when the search stops (rep_leaves: the team).
# Budget cuts stop at 99 %: with every channel's spend at zero the playbook's spend shift
# divides by zero (playbook.shift_spend); 99 % is within the search's 1 pp of "everything".

def check(scenario: str, hits: np.ndarray, required: float, z: float = Z95) -> dict[str, Any]:
    """One line of the verdict: P(hit) under a scenario against what the bar requires there
    (its interval at `z`: adjusted for the looks of a run that stopped once settled)."""
    n, k = len(hits), int(np.count_nonzero(hits))
    p = k / n if n else math.nan
    return {"scenario": scenario, "p_hit": p, "p_hit_ci95": list(wilson(k, n, z)), "required": required,
            "passes": bool(n) and k >= required * n - TOLERANCE * n, "runs": n}


def verdict(checks: list[dict[str, Any]]) -> str:
    """Sign only when every check passes (the plan's own year always counts)."""
    return "sign" if checks and all(c["passes"] for c in checks) else "do not sign"


def quantile_ci(values: np.ndarray, confidence: float, level: float = 0.95) -> tuple[float, float]:
    """Distribution-free interval of `highest_target`: the number of years reaching the true
    quantile is binomial(n, confidence), so the interval runs between the order statistics of
    the binomial's 2.5 % and 97.5 % points."""
    n = len(values)
    tail = (1 - level) / 2
    most = int(min(n, stats.binom.isf(tail, n, confidence) + 1))
    least = int(max(1, stats.binom.ppf(tail, n, confidence)))
    desc = np.sort(values)[::-1]
    return float(desc[most - 1]), float(desc[least - 1])


def round_down(x: float) -> float:
    """To three significant figures, downwards (9,617,342 -> 9,610,000): still signable."""
    if x <= 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(x)) - 2)
    return math.floor(x / step) * step


def signable_interval(plans: dict[str, Plan], required: dict[str, float],
                      vals: dict[str, np.ndarray]) -> dict[str, Any]:
    """The scenario that binds the signable target on the years `vals` and the target's 95 %
    interval there (its quantile's)."""
    binding = min(plans, key=lambda s: highest_target(vals[s], required[s]))
    return {"signable_target_ci95": list(quantile_ci(vals[binding], required[binding])),
            "signable_binding": binding}


def cannot_bind(plans: dict[str, Plan], required: dict[str, float], vals: dict[str, np.ndarray],
                keep: str) -> set[str]:
    """The scenarios whose highest target's 95 % interval lies wholly above the binding
    scenario's: more years of them cannot move the signable target, so they play no more
    (`keep`, the plan itself, always plays on: it is the run's headline)."""
    binding = signable_interval(plans, required, vals)
    top = binding["signable_target_ci95"][1]
    return {s for s in plans if s not in (keep, binding["signable_binding"])
            and quantile_ci(vals[s], required[s])[0] > top}


def sharp(signable: dict[str, Any], target: float) -> bool:
    """Is the signable target known well enough to sign: its 95 % interval within
    SIGNABLE_PRECISION of the proposed target on either side?"""
    lo, hi = signable["signable_target_ci95"]
    return (hi - lo) / 2 <= SIGNABLE_PRECISION * target


def signable_target(sim: Simulator, plans: dict[str, Plan], required: dict[str, float],
                    first: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """The highest target meeting the bar in every scenario (the binding one sets it).

    `first` holds each scenario's years at the proposed target. A target reaches the year
    only through the playbook (a rule reading attainment to date fires earlier under a higher
    target), so with rules the candidate is played again on the same seeds and the search
    iterates to a fixed point: the candidate whose own years support it. Only the years in
    which some rule's condition would have answered otherwise are played again (each year
    records the targets under which it is the same year: `same_year_target_low`, `_high`);
    the others are the same years. Without rules one pass is exact.
    """
    def best(vals: dict[str, np.ndarray]) -> float:
        return round_down(min(highest_target(vals[s], required[s]) for s in plans))

    def meets(vals: dict[str, np.ndarray], t: float) -> bool:
        return all(np.mean(vals[s] >= t) >= required[s] - TOLERANCE for s in plans)

    first_vals = {s: values(first[s], plans[s]) for s in plans}
    target, vals, rounds, converged = best(first_vals), first_vals, 0, True
    if any(p.rules for p in plans.values()):
        tried: list[tuple[float, dict[str, np.ndarray]]] = []
        candidate, converged, played = target, False, first_vals
        while rounds < MAX_ROUNDS and not converged and candidate > 0:
            played = {s: at_target(sim, first[s], plans[s], candidate) for s in plans}
            rounds += 1
            if meets(played, candidate):
                tried.append((candidate, played))
            converged, candidate = best(played) == candidate, best(played)
        if tried:
            target, vals = max(tried, key=lambda t: t[0])
        else:   # no candidate carried its own years: report the last, marked unconverged
            target, vals, converged = candidate, played, False
    return {"signable_target": target, **signable_interval(plans, required, vals),
            "signable_rounds": rounds, "signable_converged": converged,
            "signable_p_hit": {s: float(np.mean(vals[s] >= target)) for s in plans}}


def at_target(sim: Simulator, records: pd.DataFrame, plan: Plan, target: float) -> np.ndarray:
    """Each year's value had the plan asked for `target`: the years whose rules would have
    answered otherwise are played again at it, the others are the same years."""
    out = values(records, plan).copy()
    same = (records["same_year_target_low"] <= target) & (target <= records["same_year_target_high"])
    again = [int(r) for r in records.index[~same.to_numpy()]]
    if again:
        moved = with_target(plan, target)
        replayed = sim.replay(moved, again, phase=f"signable target {money(target)}")
        position = {r: i for i, r in enumerate(records.index)}
        for r, rec in replayed.items():
            out[position[r]] = rec[plan.target.metric]
    return out


@dataclass
class Search:
    """One shock's size, searched on common random numbers: at `lo` the scenario still clears
    its bar, at `hi` it no longer does. The shock is assumed to happen, at full size.

    Each next size is where the bracket's two P(hit) cross the bar on the normal (probit)
    scale, which is a straight line in the size when the shock shifts a normal year's result
    in proportion: near the breaking point at once, where halving the bracket needs six or
    seven steps, each of them at the bar (where no size settles early). A size is kept at
    least `precision` inside the bracket, so a guess that lands next to one end closes the
    search with its next probe. The end kept twice in a row has its weight halved (the
    Illinois rule), and a bracket that three probes did not halve is halved by the fourth:
    at worst four sizes for each of bisection's.
    """

    scenario: str
    plan: Plan
    index: int
    lo: float
    hi: float
    precision: float
    p_lo: float = math.nan
    p_hi: float = math.nan
    status: str = "breaks"
    kept: str = ""                  # which end the last probe left in place ("lo", "hi")
    weight: float = 1.0             # the Illinois weight of the end kept twice in a row
    widths: tuple[float, ...] = ()  # the bracket's width before each probe

    @classmethod
    def of(cls, scenario: str, plan: Plan, index: int) -> Search:
        top, precision = plan.shocks[index].search
        top = float(len(plan.team.reps)) if math.isnan(top) else top
        return cls(scenario, plan, index, 0.0, top, precision)

    def at(self, x: float) -> Plan:
        shock = self.plan.shocks[self.index]
        if self.whole():
            sized = shock.model_copy(update={"top": round(x), "reps": [], "probability": 1.0})
        else:
            sized = shock.model_copy(update={"size": Fixed(float(x)), "probability": 1.0})
        shocks = list(self.plan.shocks)
        shocks[self.index] = sized
        return self.plan.model_copy(update={"shocks": shocks})

    def whole(self) -> bool:
        """Is the size counted in whole units (reps)?"""
        return self.plan.shocks[self.index].type == "rep_leaves"

    def next_size(self, bar: float, years: int) -> float:
        """The size to try next: the bar's crossing between the ends (see the class)."""
        width = self.hi - self.lo
        if len(self.widths) >= 3 and width > self.widths[-3] / 2:
            x = (self.lo + self.hi) / 2
        else:
            z_bar = normal_score(bar, years)
            above = normal_score(self.p_lo, years) - z_bar          # >= 0: lo clears the bar
            below = z_bar - normal_score(self.p_hi, years)          # > 0: hi does not
            above *= self.weight if self.kept == "lo" else 1.0
            below *= self.weight if self.kept == "hi" else 1.0
            x = self.lo + width * above / (above + below) if above + below > 0 else self.lo + width / 2
        x = min(max(x, self.lo + self.precision), self.hi - self.precision)   # open(): width > precision
        return float(round(x)) if self.whole() else x

    def tried(self, x: float, p: float, bar: float) -> None:
        """Record P(hit) at size `x`: it becomes the end on its side of the bar."""
        self.widths = (*self.widths, self.hi - self.lo)
        kept = "lo" if p < bar - TOLERANCE else "hi"
        self.weight = self.weight / 2 if kept == self.kept else 1.0
        self.kept = kept
        if kept == "hi":
            self.lo, self.p_lo = x, p
        else:
            self.hi, self.p_hi = x, p

    def open(self) -> bool:
        return self.status == "breaks" and self.hi - self.lo > self.precision + TOLERANCE

    def report(self) -> dict[str, Any]:
        shock = self.plan.shocks[self.index]
        breaks = {"breaks": self.hi, "already fails at 0": 0.0}.get(self.status)
        return {"scenario": self.scenario, "shock": shock.label(), "type": shock.type,
                "unit": shock.unit, "declared_size": declared_size(shock), "breaks_at": breaks,
                "status": self.status, "searched": [self.lo, self.hi], "p_hit_searched": [self.p_lo, self.p_hi],
                "sizes_tried": len(self.widths) + 2}


def normal_score(p: float, years: int) -> float:
    """P(hit) on the normal scale; 0 and 1 are taken as half a year of `years` (the most a
    size plays) from either end."""
    edge = 0.5 / max(years, 1)
    return float(stats.norm.ppf(min(max(p, edge), 1 - edge)))


def breaking_points(sim: Simulator, scenarios: dict[str, Plan], bar: float, runs: int) -> list[dict[str, Any]]:
    """Each shock of each scenario, sized until P(hit) falls under `bar` (others as declared).

    All searches step together, so each step is one batch of plans on the same seeds, in
    which each size tried stops once it is settled against the bar (a sequential test per
    size, up to `runs` years; sizes are never compared with each other). The ends are tried
    first: a scenario that clears the bar at the largest size holds at any size, one that
    fails with the shock at zero already fails. Then each search tries the size where its
    ends cross the bar (`Search`), until the bracket is within the shock's precision.
    """
    searches = [Search.of(name, plan, i) for name, plan in scenarios.items() for i in range(len(plan.shocks))]

    def p_hit(probes: dict[str, Plan]) -> dict[str, float]:
        """Each size's P(hit), on the years it took to settle against the bar."""
        if not probes:
            return {}
        records = sim.records(probes, runs, bars={k: bar for k in probes},
                              phase=f"breaking points, step {len(steps) + 1}", each=True)
        steps.append(max(len(r) for r in records.values()))
        return {k: float(r["hit"].mean()) for k, r in records.items()}

    steps: list[int] = []

    ends = p_hit({f"{k}:{x}": s.at(x) for k, s in enumerate(searches) for x in (s.lo, s.hi)})
    for k, s in enumerate(searches):
        s.p_lo, s.p_hi = ends[f"{k}:{s.lo}"], ends[f"{k}:{s.hi}"]
        if s.p_lo < bar - TOLERANCE:
            s.status, s.hi, s.p_hi = "already fails at 0", s.lo, s.p_lo
        elif s.p_hi >= bar - TOLERANCE:
            s.status = "holds at any size"
    while active := [(k, s, s.next_size(bar, runs)) for k, s in enumerate(searches) if s.open()]:
        probed = p_hit({f"{k}:{x}": s.at(x) for k, s, x in active})
        for k, s, x in active:
            s.tried(x, probed[f"{k}:{x}"], bar)
    return [{**s.report(), "years_per_step": steps} for s in searches]


def checks_sample(sim: Simulator, plans: dict[str, Plan], required: dict[str, float], home: str,
                  runs: int) -> RunResults:
    """The checks' years: played until the verdict is settled, then grown, doubling, until
    the signable target is sharp (or `runs`). Before each doubling the scenarios that cannot
    set the signable target stop (`cannot_bind`); one that could after all, on the final
    years, is played on to the same years."""
    phase, sample = "checks: " + ", ".join(plans), Collector(list(plans))
    results = sim.run(plans, groups={"verdict": required}, phase=phase, collector=sample)
    settled = results.extra.get("sequential")     # where the verdict settled
    target = next(iter(plans.values())).target
    while True:
        vals = {n: values(v.records, plans[n]) for n, v in results.variants.items()}
        if results.runs >= runs or sharp(signable_interval(plans, required, vals), target.annual):
            break
        sample.retire(cannot_bind(plans, required, vals, keep=home))
        results = sim.run(plans, min(runs, 2 * results.runs), phase=phase + " (the signable target)",
                          collector=sample)
    stopped = cannot_bind(plans, required, vals, keep=home)
    late = {n: p for n, p in plans.items() if len(vals[n]) < results.runs and n not in stopped}
    if late:
        again = sim.run(late, results.runs, phase=phase + " (rechecked)")
        results.variants.update(again.variants)
    if settled is not None:
        results.extra["sequential"] = settled
    return results


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="the plan to sign off, e.g. scenarios/baseline.yaml")
    add_options(p)
    bar_options(p)
    p.add_argument("--search-runs", type=positive_int, default=SEARCH_RUNS, metavar="N",
                   help=f"replications per size tried in the breaking-point search (default {SEARCH_RUNS})")


def run(args: argparse.Namespace) -> int:
    doc = load_scenario(args.scenario)
    base = apply_rule_switches(plan_from_document(doc), args)
    speak(args, base)
    bar = bar_of(args, base)
    paths = stress_paths(doc, base, args.stress)
    home = Path(args.scenario).stem
    names = unique_names(paths, taken=(home,))
    docs = [doc] + [load_scenario(p) for p in paths]
    stressed = {n: apply_rule_switches(plan_from_document(d), args).model_copy(update={"target": base.target})
                for n, d in zip(names, docs[1:])}
    plans = {home: base} | stressed
    required = {home: bar["confidence"]} | {n: bar["stress_confidence"] for n in names}
    runs, seed = args.runs or base.runs, base.seed if args.seed is None else args.seed
    search_runs = args.search_runs
    folder = open_folder(args, home, "signoff", " ".join(map(str, [args.scenario, *paths])))
    with Simulator(args, seed, runs) as sim:
        results = checks_sample(sim, plans, required, home, runs)
        records = {n: v.records for n, v in results.variants.items()}
        signable = signable_target(sim, plans, required, records)
        z = z_spent(runs) if sim.sequential else Z95
        checks = [check(n, records[n]["hit"].to_numpy() >= 0.5, required[n], z) for n in plans]
        before = sim.years
        points = breaking_points(sim, stressed, bar["stress_confidence"], search_runs)
        search_years = sim.years - before
    summary = build_summary(results, home, with_rule_values=False)
    summary["signoff"] = {
        "target": base.target.annual, "metric": base.target.metric, "bar": bar,
        "verdict": verdict(checks), "checks": checks, **signable, "breaking_points": points,
        "checks_runs": results.runs, "search_years": search_years,
        "search": {"runs": search_runs, "playbook": bool(base.rules),
                   "assumes": "each shock happens (probability 100 %) at its declared start and "
                              "the given size; the scenario's other shocks as declared"},
        "years_simulated": sim.years}
    summary["years_reused"] = sim.reused
    return finish(folder, args, docs, doc.data, home, seed, runs, results, summary, base,
                  render(summary["signoff"], results.runs))


def render(s: dict[str, Any], runs: int) -> str:
    bar = s["bar"]
    fewer = on_fewer_years(s)
    lines = [say("so.term_head_fewer" if fewer else "so.term_head", target=money(s["target"]),
                 metric=say(f"metric.{s['metric']}"), runs=f"{runs:,}", total=f"{s['years_simulated']:,}"),
             "  " + say("so.term_verdict", verdict=say("so.sign" if s["verdict"] == "sign" else "so.no_sign"),
                        plan=pct(bar["confidence"], 0), stress=pct(bar["stress_confidence"], 0))]
    w = max(width(say("col.scenario")), *(width(c["scenario"]) for c in s["checks"])) + 2
    lines.append("  " + pad(say("col.scenario"), w) + pad(say("col.p_hit"), 9, ">") + pad(say("col.ci"), 20, ">")
                 + pad(say("col.required"), 10, ">"))
    for c in s["checks"]:
        lo, hi = c["p_hit_ci95"]
        close = "  " + say("so.close") if lo < c["required"] <= hi else ""
        close += "  " + say("so.fewer", runs=f"{c['runs']:,}") if c["scenario"] in fewer else ""
        lines.append("  " + pad(c["scenario"], w) + pad(pct(c["p_hit"]), 9, ">")
                     + pad(say("so.term_range", lo=pct(lo), hi=pct(hi)), 20, ">") + pad(pct(c["required"], 0), 10, ">")
                     + "   " + say("so.passes" if c["passes"] else "so.fails") + close)
    lo, hi = s["signable_target_ci95"]
    lines.append("  " + say("so.term_signable", target=money(s["signable_target"]), lo=money(lo), hi=money(hi),
                            by=s["signable_binding"])
                 + ("" if s["signable_converged"] else " " + say("so.term_unsettled")))
    if s["breaking_points"]:
        search = s["search"]
        lines.append("  " + say("so.term_bp_head_rules" if search["playbook"] else "so.term_bp_head",
                                runs=f"{search['runs']:,}", total=f"{s['search_years']:,}"))
        shock_w = max(width(b["shock"]) for b in s["breaking_points"]) + 2
        for b in s["breaking_points"]:
            if b["status"] == "breaks":
                what = say("so.term_breaks", at=size_text(b["breaks_at"], b["unit"]),
                           holds=size_text(b["searched"][0], b["unit"]), p=pct(b["p_hit_searched"][0], 0))
            elif b["status"] == "holds at any size":
                what = say("so.term_holds", up_to=size_text(b["searched"][1], b["unit"]))
            else:
                what = say("so.term_fails_at_zero")
            lines.append("    " + pad(b["scenario"], w) + pad(b["shock"], shock_w)
                         + say("so.term_declared", size=pad(size_text(b["declared_size"], b["unit"]), 8, ">"),
                               what=what))
    return "\n".join(lines) + "\n"
