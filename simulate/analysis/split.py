"""Split the annual target the way the methodology does: by customer tier, product, region,
quarter and rep, each part as sure of being reached as every other.

Strategy decoding breaks a target into parts that add up to it. A split is fair when no part
is a long shot while another is a formality: every part is reached with the same probability
c. With X_i a part's simulated bookings, its target is the (1 - c) quantile of X_i, and c is
the one level at which those quantiles add up to the annual target (the sum falls as c rises,
so a bisection finds it). Shares the manager fixes (`KA` at 60 % of the target) stay fixed,
and the rest is split the same way; a share the manager bounds (`KA` at least 60 %) is held
at its bound only when the fair split would break it. A rep's part is their quota: what
their book, ramp-up and capacity make as likely as every other rep's.

Because parts are not perfectly correlated, the level c is below the whole target's P(hit):
each part is harder to be sure of than the sum. The command confirms the split on fresh
years: each part's P(hit) at its proposed target, with its interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DIMENSIONS = ("segment", "product", "region", "quarter", "rep")
BISECTIONS = 60
BOUND_SLACK = 1e-9      # a target within this share of its bound keeps it (the bisection's cents)


def parts_of(records: Any, dimension: str) -> dict[str, np.ndarray]:
    """Each part's simulated value per year, from the run's records (`segment:KA`, ...); a
    part that never books anything (no new hires in the plan) is no part of the split."""
    prefix = f"{dimension}:"
    parts = {c[len(prefix):]: records[c].to_numpy(dtype=float) for c in records.columns if c.startswith(prefix)}
    return {k: v for k, v in parts.items() if np.any(v != 0)}


def bounded_split(parts: dict[str, np.ndarray], total: float, fixed: dict[str, float] | None = None,
                  at_least: dict[str, float] | None = None,
                  at_most: dict[str, float] | None = None) -> tuple[dict[str, float], float, dict[str, str]]:
    """`equal_confidence` with bounds on some parts (KA at least 60 %, a dog product at most
    5 %): a part whose equal-confidence target breaks its bound is held at the bound and the
    rest is split again, until no bound is broken. Each part's target falls as the level
    rises, and holding a part at a floor raises the level of the others (at a cap, lowers
    it), so a part held at a bound stays past it; one that no longer needs holding (a cap
    moved the level back) is let go. Also says which parts sit at which bound."""
    fixed = dict(fixed or {})
    floors = {k: v for k, v in (at_least or {}).items() if k in parts and k not in fixed}
    caps = {k: v for k, v in (at_most or {}).items() if k in parts and k not in fixed}
    held: dict[str, str] = {}
    for _ in range(2 * len(parts) + 1):     # each round holds or lets go of a part; at most so many
        pinned = {**fixed, **{k: floors[k] if side == "at_least" else caps[k] for k, side in held.items()}}
        targets, level = equal_confidence(parts, total, pinned)
        fair = {k: float(np.quantile(parts[k], 1.0 - level)) for k in held} if level == level else {}
        loose = {k for k, side in held.items()
                 if k in fair and (fair[k] >= floors[k] if side == "at_least" else fair[k] <= caps[k])}
        broken = {k: "at_least" for k, v in floors.items() if k not in held and targets[k] < v - BOUND_SLACK * abs(v)}
        broken |= {k: "at_most" for k, v in caps.items() if k not in held and targets[k] > v + BOUND_SLACK * abs(v)}
        if not broken and not loose:
            break
        held = {k: side for k, side in held.items() if k not in loose} | broken
    return {k: targets[k] for k in parts}, level, held     # in the parts' own order


def equal_confidence(parts: dict[str, np.ndarray], total: float,
                     fixed: dict[str, float] | None = None) -> tuple[dict[str, float], float]:
    """Targets for `parts` that add up to `total`, the `fixed` ones as given and the others at
    the (1 - c) quantile of their simulated values, with c the same for all; and c.

    c is 0 when even the parts' highest values fall short of what is left to split (no split
    can be reached), 1 when their lowest values already exceed it."""
    fixed = {k: v for k, v in (fixed or {}).items() if k in parts}
    free = {k: v for k, v in parts.items() if k not in fixed}
    rest = total - sum(fixed.values())
    if not free:
        return dict(fixed), float("nan")

    def targets(c: float) -> dict[str, float]:
        return {k: float(np.quantile(v, 1.0 - c)) for k, v in free.items()}

    lo, hi = 0.0, 1.0          # sum(targets(lo)) >= rest >= sum(targets(hi)), when feasible
    if sum(targets(0.0).values()) < rest:
        c = 0.0
    elif sum(targets(1.0).values()) > rest:
        c = 1.0
    else:
        for _ in range(BISECTIONS):
            mid = (lo + hi) / 2
            if sum(targets(mid).values()) > rest:
                lo = mid
            else:
                hi = mid
        c = (lo + hi) / 2
    out = targets(c)
    # the quantiles add up to `rest` only within the bisection's tolerance: the largest part
    # takes the last cents, so that the split adds up exactly
    if out:
        biggest = max(out, key=out.__getitem__)
        out[biggest] += rest - sum(out.values())
    return {**fixed, **out}, c
