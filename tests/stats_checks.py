"""Statistical assertions shared by the mechanism tests: tolerances come from the sample.

Every check allows |z| <= Z, a two-sided level of 1e-4, so a suite of a few hundred checks
fails by chance about once in a hundred runs of the whole suite, and never silently.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

ALPHA = 1e-4
Z = float(stats.norm.isf(ALPHA / 2))     # 3.89


def assert_close(observed: float, expected: float, se: float, what: str, allowed: float = Z) -> None:
    """|observed - expected| <= `allowed` standard errors (Z, or a t quantile for an estimated
    standard error), with the numbers in the message."""
    assert se > 0, f"{what}: the standard error must be positive"
    z = (observed - expected) / se
    assert abs(z) <= allowed, (f"{what}: observed {observed:.6g}, expected {expected:.6g}, "
                               f"se {se:.3g}, z = {z:.2f} (allowed {allowed:.2f})")


def assert_at_least(observed: float, bound: float, se: float, what: str, allowed: float = Z) -> None:
    """`observed` is not significantly below `bound`: at most `allowed` standard errors under it."""
    assert se > 0, f"{what}: the standard error must be positive"
    z = (observed - bound) / se
    assert z >= -allowed, (f"{what}: observed {observed:.6g}, at least {bound:.6g} expected, "
                           f"se {se:.3g}, z = {z:.2f} (allowed {-allowed:.2f})")


def assert_binomial(successes: float, trials: float, p: float, what: str) -> None:
    """A share of `trials` Bernoulli(p) outcomes, against p."""
    assert trials > 0, f"{what}: no trials"
    assert_close(successes / trials, p, math.sqrt(max(p * (1 - p), 1e-12) / trials), what)


def assert_poisson(count: float, mean: float, what: str) -> None:
    """A Poisson count against its mean (the standard error is sqrt(mean))."""
    assert_close(count, mean, math.sqrt(mean), what)


def assert_poisson_binomial(count: float, probabilities: list[float], what: str) -> None:
    """A count of independent Bernoulli(p_i) outcomes against sum(p_i)."""
    p = np.asarray(probabilities, dtype=float)
    assert_close(count, float(p.sum()), math.sqrt(max(float((p * (1 - p)).sum()), 1e-12)), what)


def assert_poisson_sample(counts: np.ndarray, mean: float, what: str) -> None:
    """A sample of Poisson(mean) counts: its mean against `mean`, its variance against `mean`.

    Var(s^2) = (mu4 - (n - 3) / (n - 1) sigma^4) / n, with mu4 = mean + 3 mean^2.
    """
    n = len(counts)
    assert n > 3, f"{what}: too few counts"
    assert_close(float(np.mean(counts)), mean, math.sqrt(mean / n), f"{what}: mean")
    se_var = math.sqrt((mean + 3 * mean**2 - (n - 3) / (n - 1) * mean**2) / n)
    assert_close(float(np.var(counts, ddof=1)), mean, se_var, f"{what}: variance")
