"""`python -m simulate advise PLAN.yaml --split`: the annual target broken into parts.

The plan is played (`--runs` years), each dimension's parts are given targets that add up to
the annual target and are each reached with the same probability (analysis/split.py), with
the shares fixed by `--fix segment:KA=60%` kept and those bounded by `--fix segment:KA>=60%`
or `product:legacy_oa<=5%` held at their bound where the fair split would break it; then the
split is played again on fresh years (`--confirm-runs`) and each part's P(hit) at its
proposed target is measured with its interval, beside the plan's own split where it has one.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.split import BOUND_SLACK, DIMENSIONS, bounded_split, parts_of
from ..analysis.summary import build_summary
from ..errors import UsageError
from ..format import aligned, money, pct
from ..load.loader import load_scenario, plan_from_document
from ..plan import quantities as q
from ..report.report import part_label
from ..run.scenario import apply_rule_switches
from ..stats.sample_stats import wilson
from ..words import say
from .decide import Simulator, finish, open_folder, speak

SPLIT_RUNS = 1000
NONE = "(none)"          # bookings no part of a dimension holds (a deal without a region)
_FIX = re.compile(r"^(?P<dim>[a-z]+):(?P<part>[^=<>]+)(?P<op>>=|<=|=)(?P<share>.+)$")
BOUNDS = {"=": "fixed", ">=": "at_least", "<=": "at_most"}


def fixed_shares(texts: list[str], target: float) -> dict[str, dict[str, dict[str, float]]]:
    """`--fix segment:KA=60%`, `segment:KA>=60%` or `product:legacy_oa<=5%` (a share of the
    annual target, or an amount) as targets: by kind (`fixed`, `at_least`, `at_most`), then
    dimension, then part."""
    out: dict[str, dict[str, dict[str, float]]] = {kind: {} for kind in BOUNDS.values()}
    for text in texts:
        m = _FIX.match(text.strip())
        if m is None or m["dim"] not in DIMENSIONS:
            raise UsageError(f"--fix {text}: expected DIMENSION:PART=SHARE (or >=, <=) such as segment:KA=60% "
                             f"(dimensions: {', '.join(DIMENSIONS)})")
        share = m["share"].strip()
        try:
            value = q.parse_fraction(share) * target if share.endswith("%") else q.parse_money(share)
        except ValueError:
            raise UsageError(f"--fix {text}: expected a share such as 60% or an amount such as 5.8M") from None
        part = m["part"].strip()
        if any(part in out[kind].get(m["dim"], {}) for kind in out):
            raise UsageError(f"--fix {text}: {m['dim']}:{part} is already given")
        out[BOUNDS[m["op"]]].setdefault(m["dim"], {})[part] = value
    return out


def check_bounds(dim: str, parts: list[str], total: float, fixed: dict[str, float],
                 at_least: dict[str, float], at_most: dict[str, float]) -> None:
    """Refuse bounds no split can keep: floors over the target, or caps on every part under it."""
    unknown = sorted((set(fixed) | set(at_least) | set(at_most)) - set(parts))
    if unknown:
        raise UsageError(f"--fix {dim}:{unknown[0]}: no such {dim}; the plan has {', '.join(parts)}")
    low = sum(fixed.values()) + sum(at_least.values())
    if low > total * (1 + BOUND_SLACK):
        raise UsageError(f"--fix: the {dim} shares fixed and floored add up to {money(low)}, "
                         f"over the target {money(total)}")
    capped = {**at_most, **fixed}
    if set(capped) >= set(parts) and sum(capped.values()) < total * (1 - BOUND_SLACK):
        raise UsageError(f"--fix: every {dim} is fixed or capped, and together they reach only "
                         f"{money(sum(capped.values()))} of the target {money(total)}")


def run_split(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    doc = load_scenario(args.scenario)
    plan = apply_rule_switches(plan_from_document(doc), args)
    speak(args, plan)
    if plan.target.metric != "bookings":
        raise UsageError(f"--split splits a bookings target; the plan's target is {plan.target.metric}")
    home, total = Path(args.scenario).stem, plan.target.annual
    fixed = fixed_shares(args.fix or [], total)
    seed = plan.seed if args.seed is None else args.seed
    runs, n_confirm = args.runs or SPLIT_RUNS, args.confirm_runs or SPLIT_RUNS
    folder = open_folder(args, home, "split", str(args.scenario))
    with Simulator(args, seed, runs) as sim:
        fitted = sim.run({home: plan}, runs, phase="split: fit").variants[home].records
        fresh = int(np.random.SeedSequence(seed).generate_state(1)[0])
        sim.seed = fresh
        results = sim.run({home: plan}, n_confirm, phase="split: confirm")
    checked = results.variants[home].records
    dims: dict[str, Any] = {}
    for dim in DIMENSIONS:
        parts = with_rest(parts_of(fitted, dim), fitted["bookings"].to_numpy(dtype=float))
        if not parts:
            continue
        given = {kind: shares.get(dim, {}) for kind, shares in fixed.items()}
        check_bounds(dim, list(parts), total, given["fixed"], given["at_least"], given["at_most"])
        targets, level, held = bounded_split(parts, total, given["fixed"], given["at_least"], given["at_most"])
        again = with_rest(parts_of(checked, dim), checked["bookings"].to_numpy(dtype=float))
        own = getattr(plan.target, f"by_{dim}", None) or {}
        dims[dim] = {"level": level, "parts": {
            part: part_row(t, total, parts[part], again[part], own.get(part) if dim != "quarter" else
                           (own[part] * total if part in own else None), part in given["fixed"], held.get(part))
            for part, t in targets.items()}}
    hits = checked["hit"].to_numpy() >= 0.5
    lo, hi = wilson(int(hits.sum()), len(hits))
    split = {"target": total, "runs": runs, "confirm_runs": n_confirm, "seed": seed, "confirm_seed": fresh,
             "p_hit_total": float(hits.mean()), "p_hit_total_ci95": [lo, hi], "dimensions": dims,
             "fixed": fixed["fixed"], "bounds": {kind: fixed[kind] for kind in ("at_least", "at_most")},
             "seconds": time.perf_counter() - t0}
    summary = build_summary(results, home, with_rule_values=False)
    summary["split"] = split
    summary["years_reused"] = sim.reused
    return finish(folder, args, [doc], doc.data, home, fresh, n_confirm, results, summary, plan, render(split))


def with_rest(parts: dict[str, np.ndarray], total: np.ndarray) -> dict[str, np.ndarray]:
    """The parts, and what none of them holds as a part of its own (when there is any)."""
    if not parts:
        return parts
    rest = total - np.sum(list(parts.values()), axis=0)
    if np.abs(rest).max() > 1e-6 * max(float(np.abs(total).max()), 1.0):
        parts = {**parts, NONE: rest}
    return parts


def part_row(target: float, total: float, fitted: np.ndarray, values: np.ndarray, own: float | None,
             fixed: bool, bound: str | None = None) -> dict[str, Any]:
    """One part: its proposed target, share, P(hit) on the fitting years (at least the level:
    bookings come in whole deals, so a quantile may sit on an atom) and on the fresh years, the
    plan's own target, and the bound it is held at (`at_least`, `at_most`) if any."""
    floor = target - 1e-6 * max(abs(target), 1.0)
    hits = values >= floor
    lo, hi = wilson(int(hits.sum()), len(hits))
    return {"target": target, "share": target / total if total else None, "p_hit": float(hits.mean()),
            "p_hit_ci95": [lo, hi], "p_hit_fitted": float(np.mean(fitted >= floor)), "plan_target": own,
            "gap": None if own is None else target - own, "fixed": fixed, "bound": bound}


def render(split: dict[str, Any]) -> str:
    lo, hi = split["p_hit_total_ci95"]
    lines = [say("split.head", target=money(split["target"]), p=pct(split["p_hit_total"], 0),
                 lo=pct(lo, 0), hi=pct(hi, 0), runs=f"{split['confirm_runs']:,}")]
    for dim, d in split["dimensions"].items():
        lines.append("")
        lines.append("  " + say("split.dim", dim=say(f"dim.{dim}"), level=pct(d["level"], 0)))
        rows = [say("split.cols").split("|")]
        for part, r in d["parts"].items():
            a, b = r["p_hit_ci95"]
            rows.append([part_label(part, r), money(r["target"]),
                         pct(r["share"], 0), pct(r["p_hit"], 0), f"[{pct(a, 0)}, {pct(b, 0)}]",
                         money(r["plan_target"]), money(r["gap"])])
        lines += aligned(rows, indent="    ")
    lines.append("")
    lines.append("  " + say("split.seconds", seconds=f"{split['seconds']:.0f}"))
    return "\n".join(lines) + "\n"
