"""When to stop simulating: the precision of P(hit), or of a paired difference, reached so far.

A board asks "how likely is the target?", and the answer is worth the width of its interval.
The run therefore goes on in rounds until the 95 % half-width of P(hit) (Wilson), or, when
variants are compared, of each paired difference to the headline (as `paired` reports it),
is small enough. Rounds end on replication counts computed from the results so far, rounded
to whole hundreds, so the replications a run includes never depend on timing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..stats.paired import paired_proportion
from ..stats.sample_stats import wilson_half_width

MAX_RUNS = 100_000        # default cap of a precision run, replications per variant
ROUND_GRANULE = 100       # rounds end on multiples of this many replications
MAX_GROWTH = 8            # a round at most multiplies the replications done by this
MARGIN = 1.05             # aim 5 % past the projected need, so one more round rarely follows


def paired_half_width(a: np.ndarray, b: np.ndarray) -> float:
    """Half the width of the paired 95 % interval of P(hit | a) - P(hit | b) (1 with no data)."""
    if min(len(a), len(b)) == 0:
        return 1.0
    lo, hi = paired_proportion(a, b)[1]
    return (hi - lo) / 2


def precision_report(hits: dict[str, np.ndarray], target: float | None, paired: bool = True) -> dict[str, Any]:
    """The half-width reached: of P(hit) for one variant, else of each paired difference to
    the first variant. `hits` holds, by variant, whether each replication hit the target.
    Variants that are not `paired` (each stopped on its own) get the half-width of their own P(hit)."""
    names = list(hits)
    head = names[0]
    n = max(len(h) for h in hits.values())
    if len(names) == 1 or not paired:
        measure = "p_hit"
        by_variant = {v: wilson_half_width(float(h.sum()), len(h)) for v, h in hits.items()}
    else:
        measure = "paired_difference"
        by_variant = {v: paired_half_width(hits[head], hits[v]) for v in names[1:]}
    reached = max(by_variant.values())
    return {"measure": measure, "target": target, "reached": reached, "runs": n,
            "met": None if target is None else reached <= target,
            "by_variant": by_variant, "compared_with": head if measure == "paired_difference" else None}


def next_round_stop(n: int, reached: float, target: float, cap: int) -> int:
    """Where the next round ends: the half-width shrinks as 1/sqrt(n), so project the need."""
    need = n * (reached / target) ** 2 * MARGIN
    stop = max(math.ceil(need / ROUND_GRANULE) * ROUND_GRANULE, n + ROUND_GRANULE)
    return min(stop, MAX_GROWTH * n, cap)
