"""Paired differences: the same simulated worlds with and without a shock, rule or variant.

Because replication r of two variants shares its random streams, the difference between
them is measured world by world, and most of the noise cancels. These helpers give the
difference with a 95 % interval that uses the pairing:

- P(hit): the Bonett-Price adjusted Wald interval for paired proportions, built from the
  discordant worlds (hit in one, missed in the other). It keeps its coverage even when
  few worlds disagree, unlike the plain McNemar-Wald interval.
- means: the t interval of the per-world differences.
"""

from __future__ import annotations

import math

import numpy as np

from .sample_stats import Z95


def paired_proportion(hit_a: np.ndarray, hit_b: np.ndarray, z: float = Z95) -> tuple[float, tuple[float, float]]:
    """P(hit in a) - P(hit in b), with its paired 95 % interval."""
    a = np.asarray(hit_a, dtype=bool)
    b = np.asarray(hit_b, dtype=bool)
    n = a.size
    if n == 0:
        return math.nan, (math.nan, math.nan)
    only_a = int(np.sum(a & ~b))
    only_b = int(np.sum(~a & b))
    diff = (only_a - only_b) / n
    p12 = (only_a + 1) / (n + 2)
    p21 = (only_b + 1) / (n + 2)
    centre = p12 - p21
    half = z * math.sqrt(max(p12 + p21 - centre**2, 0.0) / (n + 2))
    return diff, (max(-1.0, centre - half), min(1.0, centre + half))


def paired_mean(x_a: np.ndarray, x_b: np.ndarray, level: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Mean of a - b over paired worlds, with a t interval."""
    d = np.asarray(x_a, dtype=float) - np.asarray(x_b, dtype=float)
    n = d.size
    if n == 0:
        return math.nan, (math.nan, math.nan)
    mean = float(d.mean())
    if n < 2:
        return mean, (math.nan, math.nan)
    from scipy.special import stdtrit  # Student's t quantile, without loading scipy.stats
    half = float(stdtrit(n - 1, 0.5 + level / 2) * d.std(ddof=1) / math.sqrt(n))
    return mean, (mean - half, mean + half)


def p_beats(x_a: np.ndarray, x_b: np.ndarray) -> float:
    """Share of worlds in which a does strictly better than b (ties count half)."""
    a = np.asarray(x_a, dtype=float)
    b = np.asarray(x_b, dtype=float)
    if a.size == 0:
        return math.nan
    return float(np.mean(a > b) + 0.5 * np.mean(a == b))
