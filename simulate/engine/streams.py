"""How randomness flows: one seed, one stream per replication and per source of chance.

`SeedSequence(seed, spawn_key=(replication,))` is replication r's root, so a replication
depends only on (seed, r), never on the worker that ran it or the batch it came in. Inside
a replication each source of chance (a channel's lead counts, its arrival times, its leads'
fates, the team, the key accounts...) gets its own child keyed by a stable hash of its name.
Two plan variants therefore see the same leads, the same rep departures and the same renewal
draws wherever their plans agree: common random numbers, which make paired comparisons sharp.
A `Weekly` stream keeps them shared even after a week where the variants drew differently.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..plan.distributions import Distribution

BLOCK = 256
WEEK_STRIDE = 2**40     # draws reserved for each week of a `Weekly` stream: more than any week uses


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The root of replication `replication`; identical to SeedSequence(seed).spawn(..)[r]."""
    return np.random.SeedSequence(seed, spawn_key=(replication,))


def stream(root: np.random.SeedSequence, name: str) -> np.random.Generator:
    """A generator for one named source of chance inside a replication."""
    key = zlib.crc32(name.encode("utf-8"))
    child = np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (key,))
    return np.random.Generator(np.random.PCG64(child))


class Uniforms:
    """Block-buffered U(0,1) draws: one numpy call per 256 draws instead of one per event."""

    __slots__ = ("_rng", "_buf", "_i")

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self._buf: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        if self._i >= len(self._buf):
            self._buf = self._rng.random(BLOCK).tolist()
            self._i = 0
        self._i += 1
        return self._buf[self._i - 1]


class Weekly:
    """U(0,1) draws addressed by week: week w's start at draw w * WEEK_STRIDE of one stream.

    What a week draws does not depend on what earlier weeks drew, so two plan variants whose
    weeks draw different numbers of values still share every later week's values, and the
    first n values of a week are the same whatever the week's n. Jumping there is one
    `advance` of the PCG64 state (each float64 uses exactly one of its outputs).
    """

    __slots__ = ("_rng", "_at")

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self._at = 0        # outputs the generator has produced so far

    def draw(self, week: int, n: int) -> np.ndarray:
        start = week * WEEK_STRIDE
        self._rng.bit_generator.advance(start - self._at)
        self._at = start + n
        return self._rng.random(n)


class Draws:
    """Block-buffered draws from one distribution, for values needed one event at a time."""

    __slots__ = ("_dist", "_rng", "_buf", "_fixed")

    def __init__(self, dist: "Distribution", rng: np.random.Generator):
        self._dist, self._rng = dist, rng
        self._buf: list[float] = []
        self._fixed = dist.mean if dist.variance == 0 else None

    def __call__(self) -> float:
        if self._fixed is not None:
            return self._fixed
        if not self._buf:
            self._buf = self._dist.sample(self._rng, BLOCK).tolist()
        return self._buf.pop()
