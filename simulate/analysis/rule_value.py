"""What each playbook rule is worth: the same worlds with the rule and without it.

Removing a rule changes nothing in a simulated year until the moment it would have
fired: the streams are the same, so the year is identical up to then. A replication in
which the rule never fired is therefore exactly unchanged without it, and only the
replications where it fired need to be played again. The value of a rule is the paired
difference over all replications (zero where it never fired), net of its cost.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..plan.plan import Plan
from ..run.executors import Executor, make_executor
from ..run.options import VALUE_RUNS
from ..run.runner import replay_records
from ..run.scenario import without_rules
from ..stats.paired import paired_mean, paired_proportion
from ..stats.sample_stats import spread


def rule_values(plan: Plan, records: pd.DataFrame, seed: int, workers: int | None = None,
                runs: int = VALUE_RUNS) -> dict[str, dict[str, Any]]:
    """One entry per rule: how often and when it fired, and its paired value.

    The value uses the first `runs` years of the run (all of them in a shorter run): a
    paired estimate on a fixed subsample, with its interval, at a bounded cost. The
    replays of every rule share one pool of workers. `runs=0` skips the values.
    """
    out = rule_firings(plan, records)
    if runs <= 0:
        return out
    sample = records.sort_index().iloc[:runs]
    executor = make_executor(workers)
    try:
        for rule in plan.rules:
            col = sample.get(f"fired:{rule.name}")
            fired = sample.index[col > 0] if col is not None else sample.index[:0]
            out[rule.name]["value"] = _value(plan, rule.name, sample, fired, seed, executor)
    finally:
        executor.close()
    return out


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


def _value(plan: Plan, name: str, records: pd.DataFrame, fired: pd.Index, seed: int,
           executor: Executor) -> dict[str, Any]:
    if not len(fired):      # never fired: every year is identical without it, exactly
        return {"p_hit_diff": 0.0, "p_hit_diff_ci95": [0.0, 0.0], "attainment_mean_diff": 0.0,
                "attainment_mean_diff_ci95": [0.0, 0.0], "replayed": 0, "runs": len(records)}
    hit_with = records["hit"].to_numpy(dtype=bool)
    att_with = records["attainment"].to_numpy()
    hit_without, att_without = hit_with.copy(), att_with.copy()
    reduced = without_rules(plan, [name])
    position = {r: i for i, r in enumerate(records.index)}
    for r, rec in replay_records(reduced, seed, [int(r) for r in fired], executor=executor).items():
        hit_without[position[r]] = rec["hit"] >= 1
        att_without[position[r]] = rec["attainment"]
    d_hit, ci_hit = paired_proportion(hit_with, hit_without)
    d_att, ci_att = paired_mean(att_with, att_without)
    return {"p_hit_diff": d_hit, "p_hit_diff_ci95": list(ci_hit),
            "attainment_mean_diff": d_att, "attainment_mean_diff_ci95": list(ci_att),
            "replayed": int(len(fired)), "runs": len(records)}
