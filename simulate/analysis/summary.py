"""From replications to the answer: P(hit), its interval, and attainment percentiles.

This builds `summary.json`, the public contract that scripts and later features read:

    {"scenario", "seed", "runs", "target", "metric", "partial",
     "variants": {NAME: {"runs", "p_hit", "p_hit_ci95", "attainment": {mean, p10, p50, p90},
                         "by_segment", "by_product", "by_quarter", "by_region", "by_rep",
                         "kpis"}}}

Keys are only ever added, never renamed or removed. The README documents each one.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..plan.market import plan_warnings
from ..plan.plan import METRICS
from ..run.runner import RunResults, VariantResults
from ..run.scenario import BASELINE, NO_RULES, is_companion
from ..stats.paired import paired_mean, paired_proportion
from ..stats.sample_stats import spread, wilson
from ..stats.sequential import ALPHA, planned_looks
from .rule_value import VALUE_RUNS, harmful_rules, rule_firings, rule_values


def breakdown(records: pd.DataFrame, dim: str, targets: dict[str, float]) -> dict[str, Any]:
    """One entry per segment/product/...: the metric's spread, and attainment if targeted."""
    out: dict[str, Any] = {}
    prefix = f"{dim}:"
    for col in [c for c in records.columns if c.startswith(prefix)]:
        name = col[len(prefix):]
        values = records[col]
        entry: dict[str, Any] = {"value": spread(values), "target": targets.get(name)}
        if name in targets and targets[name] > 0:
            att = values / targets[name]
            hits = int((att >= 1).sum())
            entry["attainment"] = spread(att)
            entry["p_hit"] = hits / len(values)
            entry["p_hit_ci95"] = list(wilson(hits, len(values)))
        out[name] = entry
    return out


def variant_summary(v: VariantResults) -> dict[str, Any]:
    rec, target = v.records, v.plan.target
    n = len(rec)
    hits = int(rec["hit"].sum()) if n else 0
    quarter_targets = {q: share * target.annual for q, share in target.by_quarter.items()}
    weekly = v.weekly_mean
    stage_cols = ["open_lead", "open_intent", "open_negotiation"]
    stages = weekly[stage_cols].sum()
    pipeline = float(stages.sum())
    return {
        "runs": n,
        "p_hit": hits / n if n else math.nan,
        "p_hit_ci95": list(wilson(hits, n)),
        "attainment": spread(rec["attainment"]) if n else spread([]),
        "value": spread(rec[target.metric]) if n else spread([]),
        "metrics": {m: spread(rec[m]) for m in METRICS} if n else {},
        "by_segment": breakdown(rec, "segment", target.by_segment),
        "by_product": breakdown(rec, "product", target.by_product),
        "by_quarter": breakdown(rec, "quarter", quarter_targets),
        "by_region": breakdown(rec, "region", target.by_region),
        "by_rep": breakdown(rec, "rep", {}),
        "kpis": {
            "leads": spread(rec["leads"]) if n else None,
            "signed_deals": spread(rec["signed"]) if n else None,
            # null, not 0 %, when no contract was due (a plan without key accounts)
            "ka_renewal_rate": float(rec["ka_renewed"].sum() / rec["ka_due"].sum()) if n and rec["ka_due"].sum() else None,
            "reps_left": spread(rec["reps_left"]) if n else None,
            "open_deals_at_end": spread(rec["open_end"]) if n else None,
            "open_deals_at_start": spread(rec["open_start"]) if n and "open_start" in rec else None,
            "stage_shares": {c.removeprefix("open_"): float(stages[c] / pipeline) if pipeline else None
                             for c in stage_cols},
            # per 7 days of the horizon: the last week is one day long and must not count as seven
            "visits_per_week": float(weekly[["visits_ka", "visits_new_logo", "visits_winback"]].to_numpy().sum()
                                     / (v.plan.horizon.days / 7.0)),
        },
        "events_per_replication": v.events / n if n else math.nan,
    }


def impact(shocked: VariantResults, base: VariantResults, against: str = "baseline") -> dict[str, Any]:
    """A paired effect: the same worlds with and without the shocks (or the playbook)."""
    both = shocked.records.index.intersection(base.records.index)
    s, b = shocked.records.loc[both], base.records.loc[both]
    d_hit, ci_hit = paired_proportion(s["hit"].to_numpy(), b["hit"].to_numpy())
    d_att, ci_att = paired_mean(s["attainment"].to_numpy(), b["attainment"].to_numpy())
    return {
        "against": against,
        "runs": len(both),
        f"p_hit_{against}": float(b["hit"].mean()),
        f"attainment_p50_{against}": float(b["attainment"].median()),
        f"attainment_mean_{against}": float(b["attainment"].mean()),
        "p_hit_diff": d_hit,
        "p_hit_diff_ci95": list(ci_hit),
        "attainment_mean_diff": d_att,
        "attainment_mean_diff_ci95": list(ci_att),
        "attainment_p50_diff": float(s["attainment"].median() - b["attainment"].median()),
    }


def build_summary(results: RunResults, scenario: str, with_rule_values: bool = True,
                  rule_value_runs: int = VALUE_RUNS, workers: int | None = None) -> dict[str, Any]:
    """The run's `summary.json`. Rule values replay up to `rule_value_runs` years per rule
    on `workers` processes (0 years: firings only, no values)."""
    own = {n: v for n, v in results.variants.items() if not is_companion(n)}
    first = next(iter(own.values()))
    target = first.plan.target
    variants = {name: variant_summary(v) for name, v in own.items()}
    summary: dict[str, Any] = {
        "scenario": scenario,
        "seed": results.seed,
        "runs": results.runs,
        "target": target.annual,
        "metric": target.metric,
        "language": first.plan.language,
        "currency": first.plan.currency,
        "partial": results.partial,
        "seconds": round(results.seconds, 3),
        "variants": variants,
    }
    summary["warnings"] = plan_warnings(first.plan)
    if "precision" in results.extra:
        summary["precision"] = results.extra["precision"]
    if "execution" in results.extra:        # years read from the replication cache, not played
        summary["years_reused"] = results.extra["execution"].get("cached_years", 0)
    if "sequential" in results.extra:       # a plain run stopped once its verdict was settled
        seq = results.extra["sequential"]
        summary["sequential"] = {**seq, "bar": first.plan.signoff.confidence, "alpha": ALPHA,
                                 "looks": planned_looks(seq["max_runs"])}
    if first.plan.shocks:
        summary["shocks"] = [describe_shock(s) for s in first.plan.shocks]
    if BASELINE in results.variants:
        for name, v in own.items():
            variants[name]["impact"] = impact(v, results.variants[BASELINE])
    if NO_RULES in results.variants:
        for name, v in own.items():
            variants[name]["playbook"] = impact(v, results.variants[NO_RULES], against="no_rules")
    valuation = results.extra.get("valuation")
    for name, v in own.items():
        if not (v.plan.rules and len(v.records)):
            continue
        if valuation is not None and valuation.valued(name):     # forked while the run played
            rules = rule_firings(v.plan, v.records)
            for rule in v.plan.rules:
                rules[rule.name]["value"] = valuation.value(name, rule.name, v.records)
            variants[name]["rules"] = rules
        else:
            # the cap the run's looks were planned on, as `Valuation.plan` was given it
            planned = (results.extra.get("precision", {}).get("max_runs")
                       or results.extra.get("sequential", {}).get("max_runs"))
            variants[name]["rules"] = (rule_values(v.plan, v.records, results.seed, workers, rule_value_runs, planned)
                                       if with_rule_values else rule_firings(v.plan, v.records))
        variants[name]["harmful_rules"] = harmful_rules(variants[name]["rules"])
    return summary


def describe_shock(shock: Any) -> dict[str, Any]:
    """One line a manager can read: what hits, how hard, when, how likely."""
    size = getattr(shock, "size", None)
    return {"name": shock.label(), "type": shock.type,
            "size": size.describe() if size is not None else None,
            "start": shock.start, "probability": shock.probability,
            "duration": shock.duration.describe() if shock.duration is not None else None,
            "description": shock.note or shock.type.replace("_", " ")}
