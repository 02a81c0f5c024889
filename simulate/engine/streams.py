"""How randomness flows: one seed, one stream per replication and per source of chance.

`SeedSequence(seed, spawn_key=(replication,))` is replication r's root, so a replication
depends only on (seed, r), never on the worker that ran it or the batch it came in. Inside
a replication each source of chance (a channel's arrivals, its leads' fates, the team, the
key accounts...) gets its own child keyed by a stable hash of its name. Two plan variants
therefore see the same leads, the same rep departures and the same renewal draws wherever
their plans agree: common random numbers, which make paired comparisons sharp.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..plan.distributions import Distribution

BLOCK = 256


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


class Draws:
    """Block-buffered draws from one distribution, for values needed one event at a time."""

    __slots__ = ("_dist", "_rng", "_buf", "_fixed")

    def __init__(self, dist: "Distribution", rng: np.random.Generator):
        self._dist, self._rng, self._buf = dist, rng, []
        self._fixed = dist.mean if dist.variance == 0 else None

    def __call__(self) -> float:
        if self._fixed is not None:
            return self._fixed
        if not self._buf:
            self._buf = self._dist.sample(self._rng, BLOCK).tolist()
        return self._buf.pop()
