"""What each playbook rule is worth: the same worlds with the rule and without it.

Removing a rule changes nothing in a simulated year until the moment it would have
fired: the streams are the same, so the year is identical up to then. A replication in
which the rule never fired is therefore exactly unchanged without it, and only the rest of
the years where it fired needs playing again: while the run plays, each year forks at a
rule's first firing and the child finishes it without the rule (`branch`, `Valuation`).
The value of a rule is the paired difference over all replications (zero where it never
fired), net of its cost. It stops once its ΔP(hit) is settled (`sequential`): its sign is
known or it is known to +-2 pp; its intervals are then those adjusted for the looks.
(`rule_values` replays whole years without the rule when the run did not fork them: a
resumed run, a Dask cluster.)
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..plan.plan import Plan, without_rules
from ..run.executors import make_executor
from ..run.options import VALUE_RUNS
from ..run.runner import Collector, replay_records
from ..run.scenario import is_companion
from ..stats.paired import paired_mean, paired_proportion
from ..stats.sample_stats import spread
from ..stats.sequential import level_spent, looks, planned_looks, value_settled, z_spent


def rule_values(plan: Plan, records: pd.DataFrame, seed: int, workers: int | None = None,
                runs: int = VALUE_RUNS, planned: int | None = None) -> dict[str, dict[str, Any]]:
    """One entry per rule: how often and when it fired, and its paired value, for a run that
    did not fork its years (a resumed run, a Dask cluster): the years in which a rule fired
    are replayed whole without it, then valued with the same looks and stopping rule as
    `Valuation`, so the value is the one the run would have reported. `planned` is the run's
    cap (its years if it played them all), which sets the looks. `runs=0` skips them.
    """
    out = rule_firings(plan, records)
    if runs <= 0:
        return out
    sample = records.sort_index().iloc[:runs]
    cap = min(runs, planned or len(records))
    executor = make_executor(workers)
    try:
        for rule in plan.rules:
            col = sample.get(f"fired:{rule.name}")
            fired = sample.index[col > 0] if col is not None else sample.index[:0]
            replayed = replay_records(without_rules(plan, [rule.name]), seed, [int(r) for r in fired],
                                      executor=executor) if len(fired) else {}
            without = {r: (float(rec["hit"]), float(rec["attainment"])) for r, rec in replayed.items()}
            n, why = _first_settled(sample, without, cap)
            out[rule.name]["value"] = paired_value(sample.iloc[:n], without, cap, why)
    finally:
        executor.close()
    return out


def _first_settled(sample: pd.DataFrame, without: dict[int, tuple[float, float]], cap: int) -> tuple[int, str]:
    """The first look (`sequential.looks`) at which the value is settled;
    a run that stopped before the cap ends the value where it ended, as in `Valuation`."""
    hit_with, _, hit_without, _, _ = _with_and_without(sample, without)
    for n in looks(cap):
        if n > len(sample):
            break
        why = value_settled(hit_with[:n], hit_without[:n], cap)
        if why is not None:
            return n, why
    return len(sample), "run ended"


def _with_and_without(sample: pd.DataFrame, without: dict[int, tuple[float, float]]) -> tuple:
    """Hits and attainment of `sample` with the rule, the same without it (`without` holds the
    years it changes), and how many of the sample's years it changes."""
    hit_with = sample["hit"].to_numpy(dtype=bool)
    att_with = sample["attainment"].to_numpy()
    hit_without, att_without = hit_with.copy(), att_with.copy()
    position = {r: i for i, r in enumerate(sample.index)}
    changed = [r for r in without if r in position]
    for r in changed:
        hit, att = without[r]
        hit_without[position[r]], att_without[position[r]] = hit >= 0.5, att
    return hit_with, att_with, hit_without, att_without, len(changed)


def paired_value(sample: pd.DataFrame, without: dict[int, tuple[float, float]], cap: int,
                 why: str) -> dict[str, Any]:
    """A rule's paired value over `sample` (the years it was valued on), `without` holding
    the hit and attainment of each year that changes without it; intervals adjusted for the
    looks of a sample capped at `cap`."""
    hit_with, att_with, hit_without, att_without, changed = _with_and_without(sample, without)
    d_hit, ci_hit = paired_proportion(hit_with, hit_without, z_spent(cap))
    d_att, ci_att = paired_mean(att_with, att_without, level_spent(cap))
    if not changed:      # never fired: every year is identical without it, exactly
        ci_hit, ci_att = (0.0, 0.0), (0.0, 0.0)
    return {"p_hit_diff": d_hit, "p_hit_diff_ci95": list(ci_hit),
            "attainment_mean_diff": d_att, "attainment_mean_diff_ci95": list(ci_att),
            "replayed": changed, "runs": len(sample), "stopped": why, "looks": planned_looks(cap)}


class Valuation:
    """Values the rules of every own variant while the run plays its first `end` years.

    Each batch forks the years of the rules still open; after each round (a look) a rule
    whose ΔP(hit) is settled closes, so later years no longer fork it. What a rule's value
    used is kept: the years 0..n-1 it was valued on, and why it stopped.
    """

    def __init__(self, variants: dict[str, Plan], end: int):
        self.end = end
        self.open = {name: [r.name for r in plan.rules] for name, plan in variants.items()
                     if end > 0 and plan.rules and not is_companion(name)}
        self.closed: dict[tuple[str, str], tuple[int, str]] = {}    # (variant, rule) -> (years, why)
        self.cap = end
        self._forks: dict[str, list[tuple[int, str, float, float]]] = {}

    def valued(self, variant: str) -> bool:
        return variant in self.open

    def plan(self, cap: int) -> None:
        self.cap = min(self.end, cap)

    def rules(self, variant: str) -> tuple[str, ...]:
        return tuple(self.open.get(variant, ()))

    def look(self, n: int, collector: Collector) -> None:
        for variant, rules in self.open.items():
            hits, _, forks = collector.outcomes(variant)
            for rule in list(rules):
                without = hits[:n].copy()
                for r, name, hit, _ in forks:
                    if name == rule and r < n:
                        without[r] = hit >= 0.5
                why = value_settled(hits[:n], without, self.cap)
                if why is not None:
                    rules.remove(rule)
                    self.closed[(variant, rule)] = (n, why)

    def value(self, variant: str, rule: str, records: pd.DataFrame) -> dict[str, Any]:
        """The rule's paired value over the years it was valued on (intervals adjusted for
        the looks), from the years forked without it."""
        n, why = self.closed.get((variant, rule), (min(self.cap, len(records)), "run ended"))
        without = {r: (hit, att) for r, hit, att in self.forks(variant, rule, n)}
        return paired_value(records.sort_index().iloc[:n], without, self.cap, why)

    def forks(self, variant: str, rule: str, n: int) -> list[tuple[int, float, float]]:
        return [(r, hit, att) for r, name, hit, att in self._forks.get(variant, []) if name == rule and r < n]

    def keep(self, collector: Collector) -> None:
        """Take the forked years out of the collector once the run is over."""
        self._forks = {v: collector.outcomes(v)[2] for v in self.open}


def rule_firings(plan: Plan, records: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """How often and when each rule fired, and attainment when it did and did not."""
    out: dict[str, dict[str, Any]] = {}
    n = len(records)
    for rule in plan.rules:
        fired_col = records.get(f"fired:{rule.name}")
        fired = records.index[fired_col > 0] if fired_col is not None else records.index[:0]
        first = records.loc[fired, f"first:{rule.name}"] if len(fired) else pd.Series(dtype=float)
        entry: dict[str, Any] = {
            "description": rule.description,
            "fired_share": len(fired) / n if n else math.nan,
            "firings_mean": float(fired_col.mean()) if fired_col is not None and n else 0.0,
            "first_firing_day": spread(first) if len(first) else None,
            "attainment_fired": float(records.loc[fired, "attainment"].mean()) if len(fired) else None,
            "attainment_not_fired": float(records["attainment"].drop(index=fired).mean()) if len(fired) < n else None,
            "cost_mean": rule.cost * float(fired_col.mean()) if fired_col is not None and n else 0.0,
        }
        out[rule.name] = entry
    return out


def harmful_rules(rules: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules whose value is significantly negative: the whole 95 % interval of their
    ΔP(hit) below zero. A playbook rule that loses targets should not sit unremarked in a table."""
    out = []
    for name, r in rules.items():
        value = r.get("value") or {}
        ci = value.get("p_hit_diff_ci95")
        if ci and ci[1] < 0:
            out.append({"rule": name, "p_hit_diff": value["p_hit_diff"], "p_hit_diff_ci95": list(ci)})
    return sorted(out, key=lambda h: h["p_hit_diff"])
