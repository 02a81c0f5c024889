"""Distributions of uncertain quantities: stage times, deal sizes, contract values.

A plan declares every uncertain figure the same way, e.g. `{gamma: {mean: 14d, sd: 7d}}`
or just `14d` for a fixed value. Each distribution knows its analytic mean and variance, so
that tests can hold the simulation to theory, and samples in blocks, because one numpy call
per event is too slow inside the event loop.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

Parser = Callable[[Any], float]


@dataclass(frozen=True)
class Distribution:
    """Base class: a named family with an analytic mean and variance."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        raise NotImplementedError

    @property
    def mean(self) -> float:
        raise NotImplementedError

    @property
    def variance(self) -> float:
        raise NotImplementedError

    def scaled(self, factor: float) -> "Distribution":
        """The same family with its mean multiplied by `factor` (for what-if sweeps).

        For continuous families every value is multiplied by `factor`; a Poisson count
        keeps being a count, so its rate is scaled (variance x factor, not x factor^2).
        """
        raise NotImplementedError

    def describe(self) -> str:
        return f"{type(self).__name__.lower()}(mean={self.mean:.4g})"

    def remaining(self, rng: np.random.Generator, age: float) -> float:
        """One draw of T - age given T > age: what is left of a duration already `age` long.

        A deal open in a stage for `age` days answers after this (re-forecast), not after a
        fresh stage time. Drawn by inversion of the tail, `isf(u * sf(age))`, so a long age
        stays accurate; 0 when no mass is left beyond `age` (it answers at once).
        """
        if age <= 0:
            return float(self.sample(rng, 1)[0])
        tail = self.sf(age)
        if not tail > 0:
            return 0.0
        return max(0.0, self.isf((1.0 - rng.random()) * tail) - age)

    def sf(self, x: float) -> float:
        """P(T > x)."""
        return float(_scipy_law(self).sf(x))

    def isf(self, q: float) -> float:
        """The x with P(T > x) = q."""
        return float(_scipy_law(self).isf(q))

    def scipy(self) -> Any:
        """The same law as a frozen scipy distribution (for its tail, see `remaining`)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Fixed(Distribution):
    value: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value)

    @property
    def mean(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0

    def scaled(self, factor: float) -> "Fixed":
        return Fixed(self.value * factor)

    def describe(self) -> str:
        return f"{self.value:.4g}"

    def remaining(self, rng: np.random.Generator, age: float) -> float:
        return max(0.0, self.value - age)


@dataclass(frozen=True)
class Uniform(Distribution):
    low: float
    high: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def scaled(self, factor: float) -> "Uniform":
        return Uniform(self.low * factor, self.high * factor)

    def scipy(self) -> Any:
        from scipy import stats
        return stats.uniform(self.low, self.high - self.low)


@dataclass(frozen=True)
class Triangular(Distribution):
    low: float
    mode: float
    high: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.low == self.high:
            return np.full(size, self.low)
        return rng.triangular(self.low, self.mode, self.high, size)

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    @property
    def variance(self) -> float:
        a, c, b = self.low, self.mode, self.high
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18

    def scaled(self, factor: float) -> "Triangular":
        return Triangular(self.low * factor, self.mode * factor, self.high * factor)

    def scipy(self) -> Any:
        from scipy import stats
        width = self.high - self.low
        if width == 0:
            return stats.uniform(self.low, 0.0)
        return stats.triang((self.mode - self.low) / width, loc=self.low, scale=width)


@dataclass(frozen=True)
class Normal(Distribution):
    """Normal by mean and sd, clipped at zero: quantities here are never negative.

    The plan loader refuses a normal whose mass below zero exceeds 1 %, so the analytic
    mean and variance below stay accurate to that order.
    """

    mu: float
    sd: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.maximum(rng.normal(self.mu, self.sd, size), 0.0)

    @property
    def mean(self) -> float:
        return self.mu

    @property
    def variance(self) -> float:
        return self.sd**2

    def scaled(self, factor: float) -> "Normal":
        return Normal(self.mu * factor, self.sd * factor)

    def scipy(self) -> Any:
        from scipy import stats
        return stats.norm(self.mu, self.sd)


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Lognormal given by its own mean and sd (not those of the underlying normal)."""

    mu: float
    sd: float

    def _params(self) -> tuple[float, float]:
        sigma2 = math.log(1 + (self.sd / self.mu) ** 2)
        return math.log(self.mu) - sigma2 / 2, math.sqrt(sigma2)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        m, s = self._params()
        return rng.lognormal(m, s, size)

    @property
    def mean(self) -> float:
        return self.mu

    @property
    def variance(self) -> float:
        return self.sd**2

    def scaled(self, factor: float) -> "LogNormal":
        return LogNormal(self.mu * factor, self.sd * factor)

    def sf(self, x: float) -> float:
        from scipy import special
        m, s = self._params()
        return float(special.ndtr((m - math.log(x)) / s)) if x > 0 else 1.0

    def isf(self, q: float) -> float:
        from scipy import special
        m, s = self._params()
        return math.exp(m - s * float(special.ndtri(q)))

    def scipy(self) -> Any:
        from scipy import stats
        m, s = self._params()
        return stats.lognorm(s, scale=math.exp(m))


@dataclass(frozen=True)
class Gamma(Distribution):
    """Gamma given by mean and sd: shape = (mean/sd)^2, scale = sd^2/mean."""

    mu: float
    sd: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        shape = (self.mu / self.sd) ** 2
        return rng.gamma(shape, self.sd**2 / self.mu, size)

    @property
    def mean(self) -> float:
        return self.mu

    @property
    def variance(self) -> float:
        return self.sd**2

    def scaled(self, factor: float) -> "Gamma":
        return Gamma(self.mu * factor, self.sd * factor)

    def sf(self, x: float) -> float:      # scipy.special: a hundred times faster than stats
        from scipy import special
        return float(special.gammaincc((self.mu / self.sd) ** 2, x * self.mu / self.sd**2))

    def isf(self, q: float) -> float:
        from scipy import special
        return float(special.gammainccinv((self.mu / self.sd) ** 2, q)) * self.sd**2 / self.mu

    def scipy(self) -> Any:
        from scipy import stats
        return stats.gamma((self.mu / self.sd) ** 2, scale=self.sd**2 / self.mu)


@dataclass(frozen=True)
class Exponential(Distribution):
    mu: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mu, size)

    @property
    def mean(self) -> float:
        return self.mu

    @property
    def variance(self) -> float:
        return self.mu**2

    def scaled(self, factor: float) -> "Exponential":
        return Exponential(self.mu * factor)

    def remaining(self, rng: np.random.Generator, age: float) -> float:
        return float(rng.exponential(self.mu))        # memoryless

    def scipy(self) -> Any:
        from scipy import stats
        return stats.expon(scale=self.mu)


@dataclass(frozen=True)
class Poisson(Distribution):
    """Counts, e.g. licence units in an order."""

    rate: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.poisson(self.rate, size).astype(float)

    @property
    def mean(self) -> float:
        return self.rate

    @property
    def variance(self) -> float:
        return self.rate

    def scaled(self, factor: float) -> "Poisson":
        return Poisson(self.rate * factor)   # stays a count: see Distribution.scaled

    def scipy(self) -> Any:
        from scipy import stats
        return stats.poisson(self.rate)


SMALL_MEAN = 100.0    # below: sum the CDF from 0; above: sum the pmf outwards from the mode
SUMMED_TAIL = 1e-9    # the CDF summed from 0 serves u up to 1 - this; beyond, the upper tail


def poisson_quantile(u: float, mean: float) -> int:
    """The Poisson(mean) count of uniform `u`: the smallest k with P(N <= k) >= u.

    Counts drawn by inversion grow with the mean for the same `u`, so two plans that differ
    in a mean draw counts as close as their laws allow (the comonotone coupling). Exact to
    rounding, without approximation: the CDF is summed term by term for small means (the
    common case, a few steps); large means and the far upper tail take `_quantile_by_terms`.
    """
    if mean <= 0.0 or u <= 0.0:
        return 0
    if mean >= SMALL_MEAN or u >= 1.0 - SUMMED_TAIL:
        return _quantile_by_terms(u, mean)
    k, p = 0, math.exp(-mean)
    cdf = p
    while cdf < u:
        k += 1
        p *= mean / k
        cdf += p
    return k


def _quantile_by_terms(u: float, mean: float) -> int:
    """The quantile from the pmf's terms relative to the mode's, 14 sd (and more) each way,
    beyond which they vanish against 2**-53: no term underflows, each carries a rounding
    per step from the mode, and the upper tail is summed from its end, where 1 - u is exact.
    The cost, O(sqrt(mean)), is small against the events of the mean's leads."""
    mode = int(mean)
    reach = int(14 * math.sqrt(mean)) + 30
    up = np.cumprod(mean / np.arange(mode + 1, mode + reach + 1))       # p(mode + i) / p(mode)
    down = np.cumprod(np.arange(mode, max(mode - reach, 0), -1) / mean)  # p(mode - i) / p(mode)
    terms = np.concatenate([down[::-1], [1.0], up])
    first = mode - len(down)
    if u < 0.5:
        return first + int(np.searchsorted(np.cumsum(terms), u * terms.sum()))
    beyond = np.cumsum(terms[::-1])          # the last 1, 2, ... terms: P(N > k) for k falling
    return first + len(terms) - 1 - int(np.searchsorted(beyond, (1.0 - u) * terms.sum(), side="right"))


@dataclass(frozen=True)
class Empirical(Distribution):
    """Resamples observed values with equal weight (e.g. last year's deal sizes)."""

    values: tuple[float, ...]

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.asarray(self.values)[rng.integers(0, len(self.values), size)]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def variance(self) -> float:
        return float(np.var(self.values))

    def scaled(self, factor: float) -> "Empirical":
        return Empirical(tuple(v * factor for v in self.values))

    def remaining(self, rng: np.random.Generator, age: float) -> float:
        if age <= 0:
            return float(self.sample(rng, 1)[0])
        longer = [v - age for v in self.values if v > age]
        return float(longer[rng.integers(0, len(longer))]) if longer else 0.0


@functools.lru_cache(maxsize=256)
def _scipy_law(law: Distribution) -> Any:
    """A distribution's scipy twin, built once: freezing one costs a millisecond."""
    return law.scipy()


FAMILIES = ("fixed", "uniform", "triangular", "normal", "lognormal", "gamma",
            "exponential", "poisson", "empirical")


def parse_distribution(value: Any, parse: Parser) -> Distribution:
    """Build a distribution from its YAML form; `parse` reads one quantity (days, money...).

    Raises ValueError with a message naming what was expected and what was found.
    """
    if not isinstance(value, dict):
        if isinstance(value, (list, tuple)):
            raise ValueError(f"expected a value or a distribution such as {{gamma: {{mean: .., sd: ..}}}}, got a list {value!r}")
        return Fixed(_nonnegative(parse(value), "value"))
    if len(value) != 1:
        raise ValueError(f"a distribution is one family name with its parameters, got keys {sorted(value)}")
    (family, args), = value.items()
    family = str(family)
    if family not in FAMILIES:
        from ..errors import did_you_mean
        raise ValueError(f"unknown distribution '{family}'{did_you_mean(family, FAMILIES)}; "
                         f"expected one of {', '.join(FAMILIES)}")
    if family == "fixed":
        return Fixed(_nonnegative(parse(args), "fixed"))
    if family == "empirical":
        if not isinstance(args, list) or not args:
            raise ValueError(f"empirical: expected a non-empty list of values, got {args!r}")
        return Empirical(tuple(_nonnegative(parse(v), "empirical value") for v in args))
    if family in ("uniform", "triangular"):
        names = ("low", "high") if family == "uniform" else ("low", "mode", "high")
        nums = _params(family, args, names, parse)
        if any(nums[i] > nums[i + 1] for i in range(len(nums) - 1)):
            raise ValueError(f"{family}: expected {' <= '.join(names)}, got {nums}")
        _nonnegative(nums[0], f"{family} low")
        return Uniform(*nums) if family == "uniform" else Triangular(*nums)
    if family == "exponential":
        (mu,) = _params(family, args, ("mean",), parse)
        return Exponential(_positive(mu, "exponential mean"))
    if family == "poisson":
        (rate,) = _params(family, args, ("mean",), parse)
        return Poisson(_positive(rate, "poisson mean"))
    mu, sd = _params(family, args, ("mean", "sd"), parse)
    _positive(mu, f"{family} mean")
    if family == "normal":
        _nonnegative(sd, "normal sd")
        if sd > 0 and mu / sd < 2.33:
            raise ValueError(f"normal: mean {mu:g} is within 2.33 sd ({sd:g}) of zero, so more than "
                             "1 % of draws would be negative; use lognormal or gamma")
        return Normal(mu, sd)
    _positive(sd, f"{family} sd")
    return LogNormal(mu, sd) if family == "lognormal" else Gamma(mu, sd)


def _params(family: str, args: Any, names: tuple[str, ...], parse: Parser) -> list[float]:
    if isinstance(args, dict):
        unknown = set(map(str, args)) - set(names)
        missing = [n for n in names if n not in args]
        if unknown or missing:
            raise ValueError(f"{family}: expected keys {', '.join(names)}, got {', '.join(map(str, args)) or 'none'}")
        return [parse(args[n]) for n in names]
    if isinstance(args, list) and len(args) == len(names):
        return [parse(a) for a in args]
    if len(names) == 1 and not isinstance(args, (list, dict)):
        return [parse(args)]
    raise ValueError(f"{family}: expected {{{', '.join(n + ': ..' for n in names)}}}, got {args!r}")


def _nonnegative(x: float, what: str) -> float:
    if not x >= 0:
        raise ValueError(f"{what} must be >= 0, got {x:g}")
    return x


def _positive(x: float, what: str) -> float:
    if not x > 0:
        raise ValueError(f"{what} must be > 0, got {x:g}")
    return x


DISTRIBUTION_JSON_SCHEMA: dict[str, Any] = {
    "description": "A fixed value, or one family: " + ", ".join(FAMILIES),
    "anyOf": [
        {"type": ["number", "string"]},
        {"type": "object", "minProperties": 1, "maxProperties": 1,
         "propertyNames": {"enum": list(FAMILIES)}},
    ],
}
