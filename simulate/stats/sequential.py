"""Stop simulating once the answer is settled: sequential tests with a valid error rate.

A verdict against a bar ("P(hit) >= 80 %?") needs only enough years to put the interval on
one side of the bar, and a rule's value only enough to settle its sign or pin it down.
The run therefore looks at its results every `LOOK` replications, up to a cap (today's
fixed sample). Looking repeatedly at a growing sample inflates the error rate of a plain
95 % interval, so every look uses the same wider interval, Pocock's: the one whose chance of
ever missing the truth, at any of the looks planned, is `ALPHA`. A statistic's path over the
looks is a Brownian motion's (asymptotically), so that chance is an integral over the looks,
computed here by recursive numerical integration (Armitage, McPherson and Rowe) rather than
bounded. With 20 looks each uses z = 2.67 where Bonferroni's bound needs 3.02: it settles as
soon, and looks twice as often. The intervals reported after such a run are those adjusted
ones, so they keep their stated 95 %.

Looks fall on fixed replication counts and read only replications 0..n-1 in order, so the
stopping point never depends on timing, workers or batches.
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist
from typing import Callable

import numpy as np

from .paired import paired_proportion
from .sample_stats import TOLERANCE, wilson

ALPHA = 0.05            # the error rate spent over all the looks of one answer
STANDARD_NORMAL = NormalDist()
LOOK = 50               # replications between looks
VALUE_HALF_WIDTH = 0.02  # a rule's ΔP(hit) known to +-2 pp is pinned down, whatever its sign
GRID = 0.002            # the integration's step on the Brownian scale: z to 1e-3

Settle = Callable[[dict[str, np.ndarray]], bool]   # hits by variant -> is the answer settled?
Retire = Callable[[dict[str, np.ndarray]], set[str]]   # hits by variant -> those settled


def looks(cap: int) -> list[int]:
    """The replication counts at which a sample of at most `cap` is looked at: every LOOK,
    the last at the cap."""
    return [*range(LOOK, cap, LOOK), cap] if cap > 0 else [1]


def planned_looks(cap: int) -> int:
    """How many looks a sample of at most `cap` replications gets."""
    return len(looks(cap))


def z_spent(cap: int) -> float:
    """The normal quantile every look's two-sided interval uses: ALPHA over all the looks."""
    counts = looks(cap)
    return pocock(tuple(n / counts[-1] for n in counts))


def level_spent(cap: int) -> float:
    """The confidence level of one look's interval (0.95 with a single look)."""
    return 1 - 2 * STANDARD_NORMAL.cdf(-z_spent(cap))


@functools.lru_cache(maxsize=None)
def pocock(times: tuple[float, ...], alpha: float = ALPHA) -> float:
    """The constant z whose two-sided bound a standard Brownian motion, looked at on `times`
    (information fractions, the last 1), crosses with chance `alpha`."""
    single = STANDARD_NORMAL.inv_cdf(1 - alpha / 2)
    if len(times) == 1:
        return single
    from scipy.optimize import brentq  # here, not at startup: most commands never need it
    return float(brentq(lambda z: 1 - _never_crossed(z, times) - alpha, single, 6.0, xtol=1e-6))


def _never_crossed(z: float, times: tuple[float, ...]) -> float:
    """P(|W(t)| < z sqrt(t) at every look t): the density of W kept inside the bound, carried
    from look to look by convolving with the increment's normal density (by FFT: a run waits
    for its first look's bound, and the direct sum took 0.3 s of it)."""
    n = math.ceil(z / GRID)
    w = np.arange(-n, n + 1) * GRID
    density = np.where(np.abs(w) < z * math.sqrt(times[0]), _normal_pdf(w, math.sqrt(times[0])), 0.0)
    for before, t in zip(times, times[1:]):
        sd = math.sqrt(t - before)
        m = min(math.ceil(8 * sd / GRID), 2 * n)
        step = _normal_pdf(np.arange(-m, m + 1) * GRID, sd) * GRID
        density = _convolve(density, step)[m:m + len(w)]
        density[np.abs(w) >= z * math.sqrt(t)] = 0.0
    return float(density.sum() * GRID)


def _normal_pdf(x: np.ndarray, sd: float) -> np.ndarray:
    return np.exp(-(x / sd) ** 2 / 2.0) / math.sqrt(2 * math.pi) / sd


def _convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The full linear convolution of a and b, by FFT."""
    n = len(a) + len(b) - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(a, size) * np.fft.rfft(b, size), size)[:n]


def side_of_bar(hits: int, n: int, bar: float, cap: int) -> bool | None:
    """True when P(hit) is settled at or above `bar` (the bar itself passes), False when
    settled below it, None while the adjusted Wilson interval still straddles it."""
    if n == 0:
        return None
    lo, hi = wilson(hits, n, z_spent(cap))
    if lo >= bar - TOLERANCE:
        return True
    if hi < bar - TOLERANCE:
        return False
    return None


def bars_settled(bars: dict[str, float], cap: int) -> Settle:
    """Settled when every named variant's P(hit) is settled against its own bar."""
    def settle(hits: dict[str, np.ndarray]) -> bool:
        return all(side_of_bar(int(np.count_nonzero(hits[v])), len(hits[v]), bar, cap) is not None
                   for v, bar in bars.items())
    return settle


def each_settled(bars: dict[str, float], cap: int) -> Retire:
    """The variants whose P(hit) is settled against its own bar, each on its own: for
    independent answers, such as the sizes a search tries."""
    def retire(hits: dict[str, np.ndarray]) -> set[str]:
        return {v for v, h in hits.items()
                if v in bars and side_of_bar(int(np.count_nonzero(h)), len(h), bars[v], cap) is not None}
    return retire


def verdicts_settled(groups: dict[str, dict[str, float]], cap: int) -> Settle:
    """Settled when every group's verdict is: one check settled below its bar fails the group,
    all settled at or above pass it. `groups` maps a group (a lever set) to its checks
    (variant -> bar); a failed group needs no more years of its other checks."""
    def settle(hits: dict[str, np.ndarray]) -> bool:
        for checks in groups.values():
            sides = [side_of_bar(int(np.count_nonzero(hits[v])), len(hits[v]), bar, cap) for v, bar in checks.items()]
            if False not in sides and None in sides:
                return False
        return True
    return settle


def value_settled(hit_with: np.ndarray, hit_without: np.ndarray, cap: int) -> str | None:
    """Why a rule's paired ΔP(hit) needs no more years ('years cap', 'sign settled',
    'narrow'), or None."""
    if len(hit_with) >= cap:
        return "years cap"
    _, (lo, hi) = paired_proportion(hit_with, hit_without, z_spent(cap))
    if lo > 0 or hi < 0:
        return "sign settled"
    if (hi - lo) / 2 <= VALUE_HALF_WIDTH:
        return "narrow"
    return None
