"""`python -m simulate advise PLAN.yaml`: what to change, at what cost, to sign the target.

`signoff` says whether a target can be signed; this command answers the question that
follows: which of the plan's `levers` (hires, spend, visit cadence, a rebate, a backup
supplier), at which values, make it signable for the least money. With `--budget` it finds
the highest P(hit) that money buys instead.

1. Search: Optuna's TPE sampler, seeded (same seed, same advice), proposes lever values on
   their grids; the bar's checks are its constraints. Every trial plays the same years
   (common random numbers), so trials differ by their levers, not by luck, and at low
   fidelity (`--runs`, 200 years per plan). A trial is raced: the plan is played first, and
   the stress scenarios only when the plan's own check can still pass; a trial that costs
   more than a lever set already found to clear the bar is pruned unplayed.
2. Confirm: the best few lever sets are played again, together, on fresh seeds, with enough
   years for about +-2 pp at the bar, and one is picked with paired comparisons on those
   common years (analysis/advice.py).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..analysis.advice import Candidate, describe, frontier, select
from ..analysis.summary import build_summary
from ..errors import UsageError
from ..format import money, pad, pct
from ..load.decisions import apply_levers, check_lever_ends
from ..load.loader import load_scenario, plan_from_document
from ..plan.decisions import Lever, cost
from ..plan.plan import Plan
from ..run.options import amount, positive_int
from ..run.scenario import apply_rule_switches
from ..stats.sample_stats import Z95, wilson
from ..words import say
from .decide import (
    Simulator,
    add_options,
    bar_of,
    bar_options,
    finish,
    open_folder,
    stress_paths,
    unique_names,
)
from .signoff import signable_target

TRIALS = 40
SEARCH_RUNS = 200
CONFIRM = 3             # lever sets confirmed on fresh seeds
PROPOSALS = 20          # proposals per lever set played: those rejected on cost alone are free
HALF_WIDTH = 0.02       # the confirmation's target: +-2 pp at the plan's bar
Values = dict[str, float]


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="the plan to advise on, with its `levers:`, e.g. scenarios/baseline.yaml")
    add_options(p)
    next(a for a in p._actions if a.dest == "runs").help = (
        f"years per plan for each lever set tried in the search (default {SEARCH_RUNS})")
    bar_options(p)
    p.add_argument("--budget", type=amount, metavar="X",
                   help="find the highest P(hit) that costs at most X (e.g. 250k) instead")
    p.add_argument("--trials", type=positive_int, default=TRIALS, metavar="N",
                   help=f"lever sets played in the search (default {TRIALS}); proposals "
                        "rejected on cost alone (over the budget, dearer than a set that "
                        "clears the bar) do not count")
    p.add_argument("--confirm", type=positive_int, default=CONFIRM, metavar="K",
                   help=f"the best K lever sets played again on fresh seeds (default {CONFIRM})")
    p.add_argument("--confirm-runs", type=positive_int, metavar="N",
                   help="years per plan when confirming (default: enough for +-2 pp at the bar; "
                        "with --split, 1000)")
    p.add_argument("--split", action="store_true",
                   help="propose a split of the annual target by segment, product, region, quarter "
                        "and rep, each part as likely to be reached as the others, instead of levers")
    p.add_argument("--fix", action="append", metavar="DIM:PART=SHARE",
                   help="with --split: a part whose share is fixed, e.g. segment:KA=60%%, or bounded, "
                        "e.g. segment:KA>=60%% or product:legacy_oa<=5%% (repeatable)")


def confirm_runs(confidence: float) -> int:
    """Years for a 95 % half-width of HALF_WIDTH at the bar, rounded up to hundreds."""
    return max(100, math.ceil(Z95 ** 2 * confidence * (1 - confidence) / HALF_WIDTH ** 2 / 100) * 100)


class Problem:
    """The plan, its scenarios and levers: lever values to validated plans, and their cost."""

    def __init__(self, args: argparse.Namespace):
        self.doc = load_scenario(args.scenario)
        self.args = args
        self.base = apply_rule_switches(plan_from_document(self.doc), args)
        self.levers: list[Lever] = list(self.base.levers)
        if not self.levers:
            raise UsageError(f"{args.scenario}: the plan declares no `levers:` for advise to move "
                             "(see scenarios/baseline.yaml)")
        check_lever_ends(self.doc, self.base)
        self.bar = bar_of(args, self.base)
        self.paths = stress_paths(self.doc, self.base, args.stress)
        self.home = Path(args.scenario).stem
        self.names = unique_names(self.paths, taken=(self.home,))
        self.docs = {self.home: self.doc} | {n: load_scenario(p) for n, p in zip(self.names, self.paths)}
        self.required = {self.home: self.bar["confidence"]} | {n: self.bar["stress_confidence"] for n in self.names}
        self._plans: dict[tuple, dict[str, Plan]] = {}

    def cost(self, levers: Values) -> float:
        return sum(cost(lv, levers[lv.name], self.base) for lv in self.levers)

    def plans(self, levers: Values) -> dict[str, Plan]:
        """The plan and each stress scenario with the levers at these values (all against the
        levered plan's target)."""
        key = tuple(levers[lv.name] for lv in self.levers)
        if key not in self._plans:
            played = {n: apply_rule_switches(apply_levers(d, self.levers, levers)[1], self.args)
                      for n, d in self.docs.items()}
            target = played[self.home].target
            self._plans[key] = {n: p if n == self.home else p.model_copy(update={"target": target})
                                for n, p in played.items()}
        return self._plans[key]

    def advised_yaml(self, levers: Values, folder: Path) -> str:
        """The plan with these lever values: `extends` the original, states only the changes."""
        changes = apply_levers(self.doc, self.levers, levers)[2]
        parent = os.path.relpath(Path(self.args.scenario).resolve(), folder.resolve())
        head = "".join(f"#   {lv.name}: {levers[lv.name]:g}\n" for lv in self.levers)
        return (f"# The plan with the levers `advise` recommends:\n{head}"
                + yaml.safe_dump({"extends": parent, "name": f"{self.base.name}-advised", **changes,
                                  "levers": []},
                                 sort_keys=False, allow_unicode=True))


class Search:
    """The Optuna study: each trial is a lever set, played raced on common random numbers."""

    def __init__(self, problem: Problem, sim: Simulator, runs: int, budget: float | None,
                 say: Callable[[str], None]):
        self.problem, self.sim, self.runs, self.budget, self.say = problem, sim, runs, budget, say
        self.evaluated: dict[tuple, dict[str, Any]] = {}
        self.best_cost = math.inf
        self.pruned = 0
        self.seen: dict[str, list[float]] = {}     # each scenario's P(hit) in the trials played

    def levers_of(self, trial: Any) -> Values:
        return {lv.name: lv.grid()[trial.suggest_int(lv.name, 0, len(lv.grid()) - 1)]
                for lv in self.problem.levers}

    def play(self, levers: Values) -> dict[str, Any]:
        """P(hit) of each check at these values; the scenarios only while the set can still pass."""
        key = tuple(levers.values())
        if key in self.evaluated:
            return self.evaluated[key]
        p = self.problem
        plans = p.plans(levers)
        hits = {p.home: self.sim.records({p.home: plans[p.home]}, self.runs)[p.home]["hit"].to_numpy() >= 0.5}
        plan_p = float(hits[p.home].mean())
        upper = wilson(int(hits[p.home].sum()), len(hits[p.home]))[1]
        raced = self.budget is not None or upper < p.required[p.home]
        # the scenarios one at a time, the weakest so far first: once one of them cannot pass
        # (its Wilson upper bound below its bar), the lever set fails and the rest are not played
        for n in sorted(p.names, key=lambda n: np.mean(self.seen.get(n, [-1.0]))):
            if raced:
                break
            hits[n] = self.sim.records({n: plans[n]}, self.runs)[n]["hit"].to_numpy() >= 0.5
            self.seen.setdefault(n, []).append(float(hits[n].mean()))
            raced = wilson(int(hits[n].sum()), len(hits[n]))[1] < p.required[n]
        # a scenario not played is estimated at the plan's P(hit): a shock does not help
        probs = {n: float(hits[n].mean()) if n in hits else plan_p for n in p.required}
        out = {"levers": dict(levers), "cost": p.cost(levers), "p": probs, "played": sorted(hits),
               "violations": [p.required[n] - probs[n] for n in p.required]}
        self.evaluated[key] = out
        return out

    def objective(self, trial: Any) -> float:
        import optuna
        levers = self.levers_of(trial)
        c = self.problem.cost(levers)
        if self.budget is not None and c > self.budget:
            trial.set_constraint("budget", c - self.budget)
            return 0.0
        if self.budget is None and c > self.best_cost:
            self.pruned += 1
            self.say(f"  proposal at cost {money(c)} pruned unplayed (a cheaper set clears the bar)")
            raise optuna.TrialPruned()
        out = self.play(levers)
        if self.budget is not None:
            trial.set_constraint("budget", c - self.budget)
            value = out["p"][self.problem.home]
        else:
            for check, violation in zip(self.problem.required, out["violations"]):
                trial.set_constraint(check, violation)
            value = c
            if max(out["violations"]) <= 0:
                self.best_cost = min(self.best_cost, c)
        self.say(f"  trial {len(self.evaluated)}: cost {money(c)}, P(hit) {pct(out['p'][self.problem.home], 0)}"
                 + ("" if len(out["played"]) > 1 or not self.problem.names else " (scenarios not played)"))
        return value

    def run(self, trials: int, seed: int) -> None:
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, trials // 4)),
                                             multivariate=True)
        study = optuna.create_study(sampler=sampler,
                                    direction="maximize" if self.budget is not None else "minimize")
        lows = {lv.name: 0 for lv in self.problem.levers}
        highs = {lv.name: len(lv.grid()) - 1 for lv in self.problem.levers}
        for start in (lows, highs):     # the plan as it stands, and every lever at its top
            study.enqueue_trial(start, skip_if_exists=True)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.optimize(self.objective, n_trials=PROPOSALS * trials, callbacks=[
                lambda st, _t: st.stop() if len(self.evaluated) >= trials else None])

    def shortlist(self, k: int) -> list[dict[str, Any]]:
        """The lever sets worth confirming: the cheapest that cleared the bar (or, within a
        budget, the highest P(hit)), then the nearest misses."""
        home = self.problem.home
        evals = list(self.evaluated.values())
        if self.budget is not None:
            within = [e for e in evals if e["cost"] <= self.budget]
            return sorted(within, key=lambda e: (-e["p"][home], e["cost"]))[:k]
        cleared = sorted((e for e in evals if max(e["violations"]) <= 0), key=lambda e: (e["cost"], -e["p"][home]))
        # a raced set's scenarios are only estimated (at the plan's P(hit)): fully played first
        missed = sorted((e for e in evals if max(e["violations"]) > 0),
                        key=lambda e: (len(e["played"]) < len(self.problem.required),
                                       sum(max(0.0, v) for v in e["violations"]), e["cost"]))
        return (cleared + missed)[:k]


def run(args: argparse.Namespace) -> int:
    if args.split:
        from .split import run_split
        return run_split(args)
    if args.fix:
        raise UsageError("--fix goes with --split")
    t0 = time.perf_counter()
    problem = Problem(args)
    seed = problem.base.seed if args.seed is None else args.seed
    runs = args.runs or SEARCH_RUNS
    n_confirm = args.confirm_runs or confirm_runs(problem.bar["confidence"])
    folder = open_folder(args, problem.home, "advise", " ".join(map(str, [args.scenario, *problem.paths])))
    loud = not args.quiet and not args.json

    def say(text: str) -> None:
        if loud:
            print(text, file=sys.stderr, flush=True)

    with Simulator(args, seed, runs) as sim:
        say(f"advise: searching {args.trials} lever sets, {runs:,} years per plan played")
        search = Search(problem, sim, runs, args.budget, say)
        search.run(args.trials, seed)
        search_years = sim.years
        short = search.shortlist(args.confirm)
        if not short:
            raise UsageError(f"no lever set costs at most {money(args.budget)}: the cheapest costs "
                             f"{money(problem.cost({lv.name: lv.range[0] for lv in problem.levers}))}")
        say(f"advise: confirming {len(short)} lever sets on fresh seeds, up to {n_confirm:,} years per plan "
            "(until each set passes or fails the bar)")
        fresh = int(np.random.SeedSequence(seed).generate_state(1)[0])
        sim.seed = fresh
        plays = {f"c{k + 1}": problem.plans(e["levers"]) for k, e in enumerate(short)}
        named = {c: {n: f"{c} @ {n}" if n != problem.home else c for n in ps} for c, ps in plays.items()}
        # each lever set's verdict (every check passes, or one fails) settles the confirmation;
        # a budget's best P(hit) needs all the years
        groups = None if args.budget is not None else \
            {c: {named[c][n]: problem.required[n] for n in ps} for c, ps in plays.items()}
        results = sim.run({named[c][n]: p for c, ps in plays.items() for n, p in ps.items()}, n_confirm,
                          phase="advise: confirm", groups=groups)
        n_confirm = results.runs
        candidates = []
        for (c, ps), e in zip(plays.items(), short):
            hits = {n: results.variants[named[c][n]].records["hit"].to_numpy() >= 0.5 for n in ps}
            candidates.append(Candidate(c, e["levers"], e["cost"], hits, problem.required,
                                        search_p_hit=e["p"][problem.home]))
        best, how = select(candidates, args.budget)
        supports = None
        if not how["cleared"] and args.budget is None:
            records = {n: results.variants[named[best.name][n]].records for n in plays[best.name]}
            supports = signable_target(sim, plays[best.name], problem.required, records)["signable_target"]
    order = [best.name] + [n for n in results.variants if n != best.name]
    results = replace(results, variants={n: results.variants[n] for n in order})
    advice = summarise(problem, search, candidates, best, how, args, seed, fresh, runs, n_confirm)
    advice.update({"years_simulated": sim.years, "search_years": search_years,
                   "seconds": time.perf_counter() - t0})
    if supports is not None:
        advice["recommended"]["signable_target"] = supports
    summary = build_summary(results, problem.home, with_rule_values=False)
    summary["advice"] = advice
    docs = list(problem.docs.values())
    summary["years_reused"] = sim.reused
    return finish(folder, args, docs, problem.doc.data, problem.home, fresh, n_confirm, results, summary,
                  problem.base, render(advice, problem), {"advised.yaml": problem.advised_yaml(best.levers, folder)})


def summarise(problem: Problem, search: Search, candidates: list[Candidate], best: Candidate,
              how: dict[str, Any], args: argparse.Namespace, seed: int, fresh: int, runs: int,
              n_confirm: int) -> dict[str, Any]:
    """The `advice` section of summary.json."""
    rows = [describe(c, best, len(candidates) - 1) for c in candidates]
    rec = next(r for r in rows if r["name"] == best.name)
    points = [{"levers": e["levers"], "cost": e["cost"], "p_hit": e["p"][problem.home]}
              for e in search.evaluated.values()]
    return {
        "bar": problem.bar, "budget": args.budget,
        "objective": "highest P(hit) within the budget" if args.budget is not None
                     else "the cheapest lever set that clears the bar",
        "levers": [{"name": lv.name, "changes": lv.set or lv.action, "range": list(lv.range),
                    "step": lv.grid_step, "cost": lv.cost.model_dump()} for lv in problem.levers],
        "recommended": {"levers": best.levers, "cost": best.cost,
                        "costs": {lv.name: cost(lv, best.levers[lv.name], problem.base) for lv in problem.levers},
                        "bar": problem.bar, "p_hit": rec["p_hit"], "p_hit_ci95": rec["p_hit_ci95"],
                        "stress": {s: {"p_hit": v["p_hit"], "p_hit_ci95": v["p_hit_ci95"]}
                                   for s, v in rec["stress"].items()},
                        "passes": best.clears, "chosen": how["rule"]},
        "candidates": rows, "frontier": frontier(points),
        "search": {"sampler": "optuna TPE (multivariate, constrained)", "seed": seed, "runs": runs,
                   "trials": args.trials, "lever_sets_played": len(search.evaluated),
                   "pruned": search.pruned},
        "confirm": {"seed": fresh, "runs": n_confirm, "candidates": len(candidates)},
        "trials": args.trials,
    }


def render(a: dict[str, Any], problem: Problem) -> str:
    r, bar = a["recommended"], a["bar"]
    target = money(problem.base.target.annual)
    levers = ", ".join(f"{k} {v:g}" for k, v in r["levers"].items())
    lo, hi = r["p_hit_ci95"]
    stress = "; ".join(f"{s} {pct(v['p_hit'], 0)}" for s, v in r["stress"].items())
    if a["budget"] is not None:
        head = say("adv.term_within", budget=money(a["budget"]), levers=levers)
    elif r["passes"]:
        head = say("adv.term_to_sign", target=target, bar=pct(bar["confidence"], 0), levers=levers)
    else:
        head = say("adv.term_none", target=target, levers=levers, supports=money(r.get("signable_target")))
    lines = [head, "  " + say("adv.term_cost", cost=money(r["cost"]), p=pct(r["p_hit"], 0), lo=pct(lo, 0),
                              hi=pct(hi, 0), stress=f"; {stress}" if stress else "",
                              result=say("adv.term_passes" if r["passes"] else "adv.term_fails")),
             "  " + say("adv.term_confirmed", runs=f"{a['confirm']['runs']:,}", n=len(a["candidates"]))]
    for c in a["candidates"]:
        lo, hi = c["p_hit_diff_ci"]
        lines.append("    " + say("adv.term_candidate", name=c["name"], cost=pad(money(c["cost"]), 8, ">"),
                                  p=pad(pct(c["p_hit"], 0), 5, ">"), d=f"{100 * c['p_hit_diff']:+.1f}",
                                  lo=f"{100 * lo:+.1f}", hi=f"{100 * hi:+.1f}",
                                  result=say("adv.term_clears") if c["passes"] else say("adv.term_short")))
    lines.append("  " + say("adv.term_front", front=", ".join(
        f"{money(f['cost'])} -> {pct(f['p_hit'], 0)}" for f in a["frontier"])))
    lines.append("  " + say("adv.term_years", years=f"{a['years_simulated']:,}", seconds=f"{a['seconds']:.0f}"))
    return "\n".join(lines) + "\n"
