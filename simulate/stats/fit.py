"""Statistics for calibration: intervals, distribution fits, seasonality and deal sizes.

A figure read off last year's data is an estimate, so each one comes with what a reader
needs to trust it: its sample size, an interval (Wilson for conversion and renewal rates,
exact Poisson for counts per year, t for means), and for a fitted distribution the
goodness of fit (AIC against the other candidate families, and a Kolmogorov-Smirnov test).
Stage times are fitted by maximum likelihood with open deals as right-censored: a deal still
in negotiation at the export date has taken at least that long, and dropping it would make
negotiations look shorter than they are. CRM dates are whole days, so a duration of d days
is read as "between d - 1/2 and d + 1/2". `estimates.Estimates` applies these to a CRM export.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import optimize, stats

from .sample_stats import wilson

FAMILIES = {"gamma": stats.gamma, "lognormal": stats.lognorm, "weibull": stats.weibull_min,
            "exponential": stats.expon}
DURATION_FAMILIES = ("gamma", "lognormal", "weibull", "exponential")
VALUE_FAMILIES = ("lognormal", "gamma")


@dataclass(frozen=True)
class Proportion:
    """k successes out of n, e.g. deals that advanced out of deals that left the stage."""

    k: int
    n: int

    @property
    def p(self) -> float:
        return self.k / self.n if self.n else math.nan

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        """Wilson score interval."""
        return wilson(self.k, self.n, float(stats.norm.ppf(0.5 + level / 2)))


@dataclass(frozen=True)
class Rate:
    """`events` seen over `exposure` (years, rep-years...): a Poisson rate with its exact CI."""

    events: int
    exposure: float

    @property
    def value(self) -> float:
        return self.events / self.exposure if self.exposure > 0 else math.nan

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        a = 1 - level
        lo = stats.chi2.ppf(a / 2, 2 * self.events) / 2 if self.events > 0 else 0.0
        hi = stats.chi2.ppf(1 - a / 2, 2 * self.events + 2) / 2
        return (lo / self.exposure, hi / self.exposure)


@dataclass(frozen=True)
class DistFit:
    """The best of several candidate families for a sample, and how well it fits."""

    family: str
    params: tuple[float, ...]            # scipy's shape(s) and scale, loc fixed at 0
    n: int                               # observed values (durations: completed stages)
    censored: int                        # still open at the export date
    aic: dict[str, float] = field(default_factory=dict)
    ks: float = math.nan
    ks_p: float = math.nan

    @property
    def frozen(self):
        return FAMILIES[self.family](*self.params[:-1], loc=0, scale=self.params[-1])

    @property
    def mean(self) -> float:
        return float(self.frozen.mean())

    @property
    def sd(self) -> float:
        return float(self.frozen.std())

    def mean_ci(self, level: float = 0.95) -> tuple[float, float]:
        """t-interval for the mean: mean +- t * sd / sqrt(n)."""
        t = stats.t.ppf(0.5 + level / 2, max(self.n - 1, 1))
        half = t * self.sd / math.sqrt(max(self.n, 1))
        return (self.mean - half, self.mean + half)

    def quality(self) -> str:
        ranked = sorted(self.aic, key=self.aic.__getitem__)
        order = " < ".join(f"{f} {self.aic[f]:.0f}" for f in ranked)
        return f"AIC {order}; KS D={self.ks:.3f}, p={self.ks_p:.2f}"


def _start(family: str, mean: float, var: float) -> list[float]:
    """Moment estimates: where the likelihood search starts (log parameters)."""
    cv2 = max(var / mean**2, 1e-4)
    if family == "gamma":
        return [math.log(1 / cv2), math.log(mean * cv2)]
    if family == "lognormal":
        s = math.sqrt(math.log1p(cv2))
        return [math.log(s), math.log(mean) - s * s / 2]
    if family == "weibull":
        c = max(cv2 ** -0.543, 0.05)
        return [math.log(c), math.log(mean / math.gamma(1 + 1 / c))]
    return [math.log(mean)]


def _fit_family(family: str, exact: np.ndarray, intervals: np.ndarray, right: np.ndarray,
                mean: float, var: float) -> tuple[tuple[float, ...], float]:
    """Maximum likelihood with loc = 0: exact values, interval-censored and right-censored."""
    dist = FAMILIES[family]

    def loglik(theta: np.ndarray) -> float:
        params = np.exp(theta)
        shapes, scale = params[:-1], params[-1]
        with np.errstate(all="ignore"):
            ll = dist.logpdf(exact, *shapes, scale=scale).sum() if exact.size else 0.0
            if intervals.size:
                mass = dist.cdf(intervals[:, 1], *shapes, scale=scale) - dist.cdf(intervals[:, 0], *shapes, scale=scale)
                ll += np.log(np.maximum(mass, 1e-300)).sum()
            if right.size:
                ll += dist.logsf(right, *shapes, scale=scale).sum()
        return float(ll) if math.isfinite(ll) else -1e300

    best = optimize.minimize(lambda th: -loglik(th), _start(family, mean, var), method="Nelder-Mead",
                             options={"xatol": 1e-5, "fatol": 1e-6, "maxiter": 2000})
    return tuple(float(v) for v in np.exp(best.x)), loglik(best.x)


def fit_distribution(exact: np.ndarray | None = None, days: np.ndarray | None = None,
                     right: np.ndarray | None = None, families: tuple[str, ...] = DURATION_FAMILIES) -> DistFit:
    """Fit each family by maximum likelihood and keep the lowest AIC.

    `exact`: values known exactly (deal amounts); `days`: whole-day durations (d means
    d +- 1/2); `right`: whole-day durations still running at the export date (more than d).
    The KS test runs on the observed values (`with_ks` runs it on another sample); whole days
    are spread uniformly within their day by a fixed generator, so the test is repeatable.
    """
    exact = np.asarray(exact if exact is not None else [], float)
    days = np.asarray(days if days is not None else [], float)
    right = np.maximum(np.asarray(right if right is not None else [], float) - 0.5, 0.0)
    intervals = np.column_stack([np.maximum(days - 0.5, 0.0), days + 0.5]) if days.size else np.empty((0, 2))
    observed = np.concatenate([exact, days])
    mean, var = float(np.mean(observed)), float(np.var(observed)) + (1 / 12 if days.size else 0.0)
    mean = max(mean, 0.5)
    fits = {f: _fit_family(f, exact, intervals, right, mean, max(var, 1e-9)) for f in families}
    aic = {f: 2 * len(p) - 2 * ll for f, (p, ll) in fits.items()}
    family = min(aic, key=aic.__getitem__)
    best = DistFit(family, fits[family][0], int(observed.size), int(right.size), aic)
    sample = within_their_day(days) if days.size else exact
    return with_ks(best, sample) if sample.size else best


def with_ks(fit: DistFit, sample: np.ndarray) -> DistFit:
    """The same fit, its KS test run on `sample` instead."""
    if len(sample) == 0:
        return replace(fit, ks=math.nan, ks_p=math.nan)
    ks = stats.kstest(np.asarray(sample, float), fit.frozen.cdf)
    return replace(fit, ks=float(ks.statistic), ks_p=float(ks.pvalue))


def durations_ks_sample(days: np.ndarray, started_days_before: np.ndarray, horizon: float) -> np.ndarray:
    """Completed durations of stages entered more than `horizon` days before the export date,
    spread within their day: nearly all of those have completed, so the sample is not cut
    short by the export date (the KS test needs an uncensored sample)."""
    return within_their_day(np.asarray(days, float)[np.asarray(started_days_before) > horizon])


def within_their_day(days: np.ndarray) -> np.ndarray:
    """Whole-day durations spread uniformly within their day (a fixed generator: repeatable)."""
    return np.maximum(days + np.random.default_rng(0).uniform(-0.5, 0.5, days.size), 0.0)


MIN_SWING_DF = 3        # months beyond those fitted, needed to measure a flow's month-to-month swing


@dataclass(frozen=True)
class Seasonality:
    """Monthly arrival counts against a constant rate: weights and the tests that keep them.

    `chi2` tests the calendar months against a steady Poisson flow. A flow that swings month
    to month fails that test too, so when some calendar months were seen more than once,
    the F test (`swing_f`, on `swing_df` months beyond one per calendar month) asks whether
    the calendar months differ by more than the same month differs from itself (a
    quasi-Poisson test): only a season that recurs is a season.
    """

    counts: tuple[int, ...]
    exposure_days: tuple[float, ...]
    weights: tuple[float, ...]           # daily rate in each calendar month (January first) / average
    chi2: float
    df: int
    p: float
    swing_f: float = math.nan
    swing_df_season: int = 0        # the F test's degrees of freedom: calendar months seen in full, less one
    swing_df: int = 0               # and full months beyond one per calendar month
    swing_p: float = math.nan

    @property
    def testable(self) -> bool:
        """Every month seen, with at least 5 arrivals expected in each."""
        n, days = sum(self.counts), sum(self.exposure_days)
        return min(self.exposure_days) > 0 and min(n * d / days for d in self.exposure_days) >= 5

    @property
    def significance(self) -> float:
        """The p-value the plan goes by: the F test's when the months allow it, else the chi-square's."""
        return self.swing_p if self.swing_df >= MIN_SWING_DF else self.p

    def verdict(self) -> str:
        if self.swing_df >= MIN_SWING_DF:
            return (f"F {self.swing_f:.2f} on {self.swing_df_season} and {self.swing_df} df against the months' own swing, "
                    f"p={self.swing_p:.3g}")
        return f"chi-square {self.chi2:.1f} on {self.df} df, p={self.p:.3g}"


def seasonality(counts: list[int], exposure_days: list[float],
                months: list[tuple[int, int, float]] | None = None) -> Seasonality:
    """Weights and tests from `counts` and `exposure_days` by calendar month (January first);
    `months`: (calendar month 0-11, count, days) of each full month, for the F test."""
    counts_a, days = np.asarray(counts, float), np.asarray(exposure_days, float)
    seen = days > 0
    n = counts_a.sum()
    expected = n * days / days.sum()
    chi2 = float(((counts_a[seen] - expected[seen]) ** 2 / np.maximum(expected[seen], 1e-12)).sum())
    df = int(seen.sum()) - 1
    p = float(stats.chi2.sf(chi2, df)) if df > 0 else 1.0
    mean_rate = n / days.sum() if days.sum() > 0 else 0.0
    weights = np.where(seen, counts_a / np.maximum(days, 1e-12) / max(mean_rate, 1e-12), 0.0)
    season = Seasonality(tuple(int(c) for c in counts), tuple(float(d) for d in days),
                         tuple(float(w) for w in weights), chi2, df, p)
    return _against_swing(season, months) if months else season


def _against_swing(season: Seasonality, months: list[tuple[int, int, float]]) -> Seasonality:
    """The F test of `Seasonality`: Pearson chi-squares of a steady and of a seasonal rate
    over the full months, the seasonal one's per degree of freedom (at least 1: never
    surer than Poisson) the yardstick for the season's gain."""
    cal = np.array([m for m, _, _ in months])
    c = np.array([k for _, k, _ in months], float)
    d = np.array([x for _, _, x in months], float)
    present = np.unique(cal)
    df1, df2 = len(present) - 1, len(months) - len(present)
    if df1 < 1 or df2 < 1 or c.sum() == 0:
        return season
    steady = d * c.sum() / d.sum()
    rate = {j: c[cal == j].sum() / d[cal == j].sum() for j in present}
    seasonal = d * np.array([rate[j] for j in cal])
    chi0 = float(np.sum((c - steady) ** 2 / steady))
    keep = seasonal > 0
    chi1 = float(np.sum((c[keep] - seasonal[keep]) ** 2 / seasonal[keep]))
    f = (chi0 - chi1) / df1 / max(chi1 / df2, 1.0)
    return replace(season, swing_f=f, swing_df_season=df1, swing_df=df2, swing_p=float(stats.f.sf(f, df1, df2)))


@dataclass(frozen=True)
class Dispersion:
    """Monthly counts against a fitted Poisson rate: how far they spread beyond chance.

    A month whose level is a gamma with mean 1 and sd v gives a count of variance
    m + v^2 m^2 (m its expected count): v is estimated by moments on the months left after
    the `fitted` parameters (the level, and a season's weights when it has them), and a
    chi-square test says whether the spread is more than a steady flow's.
    """

    counts: tuple[int, ...]
    expected: tuple[float, ...]
    cv: float                            # v: the sd of a month's level, as a share
    chi2: float
    df: int
    p: float

    @property
    def inflation(self) -> float:
        """Var(total count) / total expected: how much wider than a Poisson count's the
        interval of a rate measured over these months is."""
        m = np.asarray(self.expected)
        return 1.0 + self.cv**2 * float(np.sum(m * m)) / float(m.sum())


def dispersion(counts: list[int], expected: list[float], fitted: int = 1) -> Dispersion:
    """`expected`: each month's share of the flow (its days, times its season's weight), scaled
    here to the counts' total; `fitted`: parameters fitted on these same months."""
    c, m = np.asarray(counts, float), np.asarray(expected, float)
    m = m * c.sum() / m.sum()
    k, df = len(c), len(c) - fitted
    squares = float(np.sum((c - m) ** 2))
    chi2 = float(np.sum((c - m) ** 2 / m))
    phi = max(0.0, (squares * k / df - float(m.sum())) / float(np.sum(m * m)))
    return Dispersion(tuple(int(v) for v in c), tuple(float(v) for v in m), math.sqrt(phi), chi2, df,
                      float(stats.chi2.sf(chi2, df)))


@dataclass(frozen=True)
class LogLinear:
    """log(deal value) = intercept + segment effect + product effect + noise.

    A deal's value is units x price: the segment sets how many units a deal buys, the
    product its price. `effects[("segment"|"product", name)]` are the fitted log-scale
    effects (the most frequent segment and product are the reference, effect 0: the best
    measured baseline, and one that does not hang on which deal the export lists first), `se`
    their standard errors.
    """

    segments: tuple[str, ...]
    products: tuple[str, ...]
    intercept: float
    effects: dict[tuple[str, str], float]
    se: dict[tuple[str, str], float]
    residual_sd: float
    n: int

    def effect_ci(self, key: tuple[str, str], level: float = 0.95) -> tuple[float, float]:
        t = stats.t.ppf(0.5 + level / 2, max(self.n - len(self.effects) + 1, 1))
        return (self.effects[key] - t * self.se[key], self.effects[key] + t * self.se[key])


def log_linear(values: np.ndarray, segments: list[str], products: list[str]) -> LogLinear:
    segs = tuple(s for s, _ in Counter(segments).most_common())
    prods = tuple(p for p, _ in Counter(products).most_common())
    names = [("segment", s) for s in segs[1:]] + [("product", p) for p in prods[1:]]
    x = np.ones((len(values), 1 + len(names)))
    for j, (kind, name) in enumerate(names, start=1):
        x[:, j] = [(s if kind == "segment" else p) == name for s, p in zip(segments, products)]
    y = np.log(np.asarray(values, float))
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    dof = max(len(y) - x.shape[1], 1)
    sigma2 = float(((y - x @ coef) ** 2).sum() / dof)
    cov = sigma2 * np.linalg.pinv(x.T @ x)
    effects = {("segment", segs[0]): 0.0, ("product", prods[0]): 0.0}
    se = dict(effects)
    for j, key in enumerate(names, start=1):
        effects[key] = float(coef[j])
        se[key] = float(math.sqrt(cov[j, j]))
    return LogLinear(segs, prods, float(coef[0]), effects, se, math.sqrt(sigma2), len(y))
