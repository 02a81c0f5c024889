"""How good a forecast was, once the actual is known: its quantiles, the PIT and the CRPS.

A forecast here is a sample (the simulated years) or a single number (a CRM's weighted
pipeline). The PIT is where the actual fell in the forecast's distribution (uniform over many
forecasts when they are calibrated); the CRPS is the distance between the forecast's
distribution and the actual, in currency (for a single number, the absolute error), so two
forecasts of the same quantity can be compared: lower is better.
"""

from __future__ import annotations

import numpy as np

QUANTILES = {"p05": 5, "p10": 10, "p50": 50, "p90": 90, "p95": 95}


def quantiles(sample: np.ndarray) -> dict[str, float]:
    """P05, P10, P50, P90 and P95 of a sample."""
    values = np.percentile(np.asarray(sample, float), list(QUANTILES.values()))
    return {k: float(v) for k, v in zip(QUANTILES, values)}


def pit(sample: np.ndarray, actual: float) -> float:
    """The share of the forecast below the actual, ties counting half (mid-rank PIT)."""
    x = np.asarray(sample, float)
    return float((np.count_nonzero(x < actual) + 0.5 * np.count_nonzero(x == actual)) / x.size)


def crps(sample: np.ndarray, actual: float) -> float:
    """CRPS of a sample forecast: E|X - y| - E|X - X'| / 2, exactly for the sample's empirical
    distribution (the second term from the sorted sample in O(n log n))."""
    x = np.sort(np.asarray(sample, float))
    n = x.size
    spread = 2.0 * float(np.sum((2 * np.arange(1, n + 1) - n - 1) * x)) / (n * n)
    return float(np.mean(np.abs(x - actual))) - 0.5 * spread
