"""Intervals and summaries of a sample, shared by the run summary, precision stopping,
rule values, the decision commands and calibration."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

Z95 = 1.959963984540054     # the two-sided 95 % normal quantile
TOLERANCE = 1e-9            # exactly at a bar passes: 240 hits in 300 years is 80 %


def _wilson_centre_half(hits: float, n: int, z: float) -> tuple[float, float]:
    p = hits / n
    denom = 1 + z * z / n
    return (p + z * z / (2 * n)) / denom, z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom


def wilson(hits: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion: honest near 0 % and 100 %. It holds
    the estimate hits/n (at 0 and n, rounding would leave it a hair outside)."""
    if n <= 0:
        return (0.0, 1.0)
    centre, half = _wilson_centre_half(hits, n, z)
    p = hits / n
    return (min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def wilson_half_width(hits: float, n: int, z: float = Z95) -> float:
    """Half the width of the Wilson score interval, before clipping to [0, 1] (0.5 with no data)."""
    if n <= 0:
        return 0.5
    return _wilson_centre_half(hits, n, z)[1]


def spread(values: pd.Series | np.ndarray) -> dict[str, float]:
    """Mean and P10/P50/P90 of a sample."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return {"mean": math.nan, "p10": math.nan, "p50": math.nan, "p90": math.nan}
    p10, p50, p90 = np.percentile(v, [10, 50, 90])
    return {"mean": float(v.mean()), "p10": float(p10), "p50": float(p50), "p90": float(p90)}


def highest_target(values: np.ndarray, confidence: float) -> float:
    """The highest T that at least a share `confidence` of the years reach: the k-th largest
    value, k = ceil(confidence x n). Any higher T is reached by fewer than k years."""
    n = len(values)
    k = min(n, max(1, math.ceil(confidence * n - TOLERANCE * n)))
    return float(np.sort(values)[n - k])
