"""Statistics for calibration: intervals, distribution fits, seasonality and deal sizes.

A figure read off last year's data is an estimate, so each one comes with what a reader
needs to trust it: its sample size, an interval (Wilson for conversion and renewal rates,
exact Poisson for counts per year, t for means), and for a fitted distribution the
goodness of fit (AIC against the other candidate families, and a Kolmogorov-Smirnov test).
Stage times are fitted by maximum likelihood with open deals as right-censored: a deal still
in negotiation at the export date has taken at least that long, and dropping it would make
negotiations look shorter than they are. CRM dates are whole days, so a duration of d days
is read as "between d - 1/2 and d + 1/2". `Estimates` applies these to a CRM export: stage
conversions and times, lead arrivals, deal values, renewals, attrition, ramp-up and skill.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize, stats

if TYPE_CHECKING:
    from .crm import Export

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
        if self.n == 0:
            return (0.0, 1.0)
        z = stats.norm.ppf(0.5 + level / 2)
        p, n = self.p, self.n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return (max(0.0, centre - half), min(1.0, centre + half))


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
                     right: np.ndarray | None = None, families: tuple[str, ...] = DURATION_FAMILIES,
                     ks_sample: np.ndarray | None = None) -> DistFit:
    """Fit each family by maximum likelihood and keep the lowest AIC.

    `exact`: values known exactly (deal amounts); `days`: whole-day durations (d means
    d +- 1/2); `right`: whole-day durations still running at the export date (more than d).
    The KS test runs on `ks_sample` (default: the observed values); whole days are spread
    uniformly within their day by a fixed generator, so the test is repeatable.
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
    if ks_sample is not None:
        sample = np.asarray(ks_sample, float)
    elif days.size:
        sample = np.maximum(days + np.random.default_rng(0).uniform(-0.5, 0.5, days.size), 0.0)
    else:
        sample = exact
    if sample.size == 0:
        return best
    ks = stats.kstest(sample, best.frozen.cdf)
    return DistFit(family, best.params, best.n, best.censored, aic, float(ks.statistic), float(ks.pvalue))


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
    keep = np.asarray(days, float)[np.asarray(started_days_before) > horizon]
    jitter = np.random.default_rng(0).uniform(-0.5, 0.5, keep.size)
    return np.maximum(keep + jitter, 0.0)


@dataclass(frozen=True)
class Seasonality:
    """Monthly arrival counts against a constant rate: weights and a chi-square test."""

    counts: tuple[int, ...]
    exposure_days: tuple[float, ...]
    weights: tuple[float, ...]           # rate in each calendar month / the average rate
    chi2: float
    df: int
    p: float

    @property
    def testable(self) -> bool:
        """Every month seen, with at least 5 arrivals expected in each."""
        n, days = sum(self.counts), sum(self.exposure_days)
        return min(self.exposure_days) > 0 and min(n * d / days for d in self.exposure_days) >= 5


def seasonality(counts: list[int], exposure_days: list[float]) -> Seasonality:
    counts_a, days = np.asarray(counts, float), np.asarray(exposure_days, float)
    seen = days > 0
    n = counts_a.sum()
    expected = n * days / days.sum()
    chi2 = float(((counts_a[seen] - expected[seen]) ** 2 / np.maximum(expected[seen], 1e-12)).sum())
    df = int(seen.sum()) - 1
    p = float(stats.chi2.sf(chi2, df)) if df > 0 else 1.0
    mean_rate = n / days.sum() if days.sum() > 0 else 0.0
    weights = np.where(seen, counts_a / np.maximum(days, 1e-12) / max(mean_rate, 1e-12), 0.0)
    return Seasonality(tuple(int(c) for c in counts), tuple(float(d) for d in days),
                       tuple(float(w) for w in weights), chi2, df, p)


@dataclass(frozen=True)
class LogLinear:
    """log(deal value) = intercept + segment effect + product effect + noise.

    A deal's value is units x price: the segment sets how many units a deal buys, the
    product its price. `effects[("segment"|"product", name)]` are the fitted log-scale
    effects (the first segment and the first product are the reference, effect 0), `se` their
    standard errors.
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
    segs = tuple(dict.fromkeys(segments))
    prods = tuple(dict.fromkeys(products))
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


# -- the export, measured ------------------------------------------------------------------
MIN_N = 30              # fewer observations than this: the figure falls back to a default
MONTH_DAYS = 365.0 / 12


@dataclass(frozen=True)
class StageData:
    """Every deal that entered one stage: completed durations and those still running."""

    conversion: Proportion
    days: np.ndarray                   # completed: days from entering the stage to leaving it
    started_before: np.ndarray         # for each completed one: days from entry to the export date
    open_days: np.ndarray              # still open: days in the stage so far


class Estimates:
    """What the CRM export says about each part of the plan, with sample sizes and intervals."""

    def __init__(self, export: Export):
        self.export = export
        self.segments = list(dict.fromkeys([r.segment for r in export.renewals] + [d.segment for d in export.deals]))
        self.channel_segment = _most_common([(d.channel, d.segment) for d in export.deals])

    # -- funnel ----------------------------------------------------------------------
    def stage(self, stage: int, segment: str | None = None, channel: str | None = None) -> StageData:
        as_of = self.export.as_of
        adv = n = 0
        days, before, still = [], [], []
        for d in self.export.deals:
            if (segment and d.segment != segment) or (channel and d.channel != channel):
                continue
            entered = d.entered(stage)
            if entered is None:
                continue
            reached = ("lead", "intent", "negotiation").index(d.last_stage)
            if reached > stage:
                end, advanced = d.entered(stage + 1), True
            elif d.outcome == "open":
                still.append((as_of - entered).days)
                continue
            else:
                end, advanced = d.closed, d.outcome == "won"
            n += 1
            adv += advanced
            days.append((end - entered).days)
            before.append((as_of - entered).days)
        return StageData(Proportion(adv, n), np.asarray(days, float), np.asarray(before, float),
                         np.asarray(still, float))

    def stage_time(self, data: StageData) -> DistFit | None:
        """Stage duration fitted with open deals censored; None when too thin to fit."""
        if data.days.size < MIN_N:
            return None
        fit = fit_distribution(days=data.days, right=data.open_days)
        horizon = float(fit.frozen.ppf(0.995))
        sample = durations_ks_sample(data.days, data.started_before, horizon)
        return with_ks(fit, sample if sample.size >= MIN_N else
                       durations_ks_sample(data.days, data.started_before, -1.0))

    def skills(self) -> dict[str, tuple[Rate, int]]:
        """Each rep's negotiation wins against the wins expected at their segments' rates:
        skill = observed / expected (a Poisson rate on the expected count), and n."""
        rates = {s: self.stage(2, segment=s).conversion.p for s in self.segments}
        won: dict[str, int] = {}
        expected: dict[str, float] = {}
        count: dict[str, int] = {}
        for d in self.export.deals:
            if d.rep and d.last_stage == "negotiation" and d.outcome != "open":
                won[d.rep] = won.get(d.rep, 0) + (d.outcome == "won")
                expected[d.rep] = expected.get(d.rep, 0.0) + rates[d.segment]
                count[d.rep] = count.get(d.rep, 0) + 1
        return {r: (Rate(won[r], expected[r]), count[r]) for r in won if expected[r] > 0}

    # -- leads ------------------------------------------------------------------------
    def arrivals(self, channel: str) -> tuple[Rate, Seasonality]:
        """Leads per year over the whole export, and their calendar-month profile."""
        ex = self.export
        counts = [0] * 12
        for d in ex.deals:
            if d.channel == channel:
                counts[d.created.month - 1] += 1
        exposure = [0.0] * 12
        day = ex.start
        while day <= ex.as_of:
            exposure[day.month - 1] += 1
            day += dt.timedelta(days=1)
        return Rate(sum(counts), ex.years), seasonality(counts, exposure)

    # -- deal values ------------------------------------------------------------------
    def deal_values(self) -> tuple[LogLinear, str, dict[str, float], dict[str, np.ndarray]] | None:
        """Deal value = units x price: the log-linear split into a price per product and
        units per segment. Prices are scaled so the average deal of the reference segment
        (the one with most wins) is 1 unit: a product's price is its average deal there."""
        won = [d for d in self.export.deals if d.outcome == "won" and d.amount]
        if not won:
            return None
        model = log_linear(np.array([d.amount for d in won]), [d.segment for d in won], [d.product for d in won])
        ref = _most_common([("reference", d.segment) for d in won])["reference"]
        base = {p: math.exp(model.intercept + model.effects[("segment", ref)] + model.effects[("product", p)])
                for p in model.products}
        scale = float(np.mean([d.amount / base[d.product] for d in won if d.segment == ref]))
        prices = {p: b * scale for p, b in base.items()}
        units: dict[str, list[float]] = {}
        for d in won:
            units.setdefault(d.segment, []).append(d.amount / prices[d.product])
        return model, ref, prices, {s: np.asarray(u) for s, u in units.items()}

    def value_cells(self) -> dict[tuple[str, str], DistFit]:
        """Deal values by segment and product, fitted where a cell holds enough wins."""
        cells: dict[tuple[str, str], list[float]] = {}
        for d in self.export.deals:
            if d.outcome == "won" and d.amount:
                cells.setdefault((d.segment, d.product), []).append(d.amount)
        return {k: fit_distribution(exact=np.asarray(v), families=VALUE_FAMILIES)
                for k, v in sorted(cells.items()) if len(v) >= MIN_N}

    # -- key accounts -----------------------------------------------------------------
    def renewal_rate(self, segment: str) -> Proportion:
        decided = [r.renewed for r in self.export.renewals if r.segment == segment and r.renewed is not None]
        return Proportion(sum(decided), len(decided))

    def last_year_accounts(self, segment: str) -> list:
        first = self.export.as_of - dt.timedelta(days=364)
        return [r for r in self.export.renewals if r.segment == segment and r.renewal_date >= first]

    # -- team -------------------------------------------------------------------------
    def attrition(self) -> Rate:
        """Leavers per rep-year of exposure within the export."""
        ex = self.export
        exposure = leavers = 0
        for r in ex.reps:
            first, last = max(r.hire, ex.start), min(r.leave or ex.as_of, ex.as_of)
            exposure += max(0, (last - first).days)
            leavers += r.leave is not None and ex.start <= r.leave <= ex.as_of
        return Rate(leavers, exposure / 365.0)

    def hiring_delays(self) -> list[int]:
        """Days from each leaver to the next hire who takes the same segments."""
        ex = self.export
        hires = sorted((r for r in ex.reps if r.hire >= ex.start), key=lambda r: r.hire)
        used: set[str] = set()
        gaps = []
        for r in sorted((r for r in ex.reps if r.leave and r.leave >= ex.start), key=lambda r: r.leave):
            nxt = next((h for h in hires if h.hire >= r.leave and h.name not in used
                        and set(h.segments) == set(r.segments)), None)
            if nxt is not None:
                used.add(nxt.name)
                gaps.append((nxt.hire - r.leave).days)
        return gaps

    def ramp(self) -> list[tuple[float, float]]:
        """Month of tenure 1..12 of reps hired during the export: (deals they took on,
        deals reps of at least a year's tenure in the same segments would have taken)."""
        ex = self.export
        taken: dict[str, list[dt.date]] = {}
        for d in ex.deals:
            if d.rep:
                taken.setdefault(d.rep, []).append(d.created)
        tenured_rate: dict[tuple, list[float]] = {}
        for r in ex.reps:
            first = max(r.hire + dt.timedelta(days=365), ex.start)
            last = min(r.leave or ex.as_of, ex.as_of)
            if last > first:
                n = sum(first <= c <= last for c in taken.get(r.name, []))
                acc = tenured_rate.setdefault(tuple(sorted(r.segments)), [0.0, 0.0])
                acc[0] += n
                acc[1] += (last - first).days
        curve = [[0.0, 0.0] for _ in range(12)]
        for r in ex.reps:
            rate = tenured_rate.get(tuple(sorted(r.segments)))
            if r.hire < ex.start or not rate or rate[1] <= 0:
                continue
            per_day = rate[0] / rate[1]
            end = min(r.leave or ex.as_of, ex.as_of)
            for m in range(12):
                lo = r.hire + dt.timedelta(days=m * MONTH_DAYS)
                hi = min(r.hire + dt.timedelta(days=(m + 1) * MONTH_DAYS), end + dt.timedelta(days=1))
                if hi <= lo:
                    break
                curve[m][0] += sum(lo <= c < hi for c in taken.get(r.name, []))
                curve[m][1] += (hi - lo).days * per_day
        return [(a, b) for a, b in curve]


    def ramp_fit(self) -> tuple[int, float, list[float | None], float] | None:
        """Training months (leading months at under 0.2 of a tenured rep's deals), the pace of
        the three months after (mentored), the whole curve, and the deals expected in months
        1 to 6; None when months 1 to 6 expect fewer than MIN_N deals in all."""
        curve = self.ramp()
        expected = sum(e for _, e in curve[:6])
        if any(e <= 0 for _, e in curve[:6]) or expected < MIN_N:
            return None
        ratios = [taken / e if e > 0 else None for taken, e in curve]
        train = 0
        while train < 6 and (ratios[train] or 0.0) < 0.2:
            train += 1
        window = curve[train:train + 3]
        pace = sum(t for t, _ in window) / max(sum(e for _, e in window), 1e-9)
        return train, pace, ratios, expected


def _most_common(pairs: list[tuple]) -> dict:
    """For each key, the value it is paired with most often (the first seen on a tie)."""
    counts: dict = {}
    for k, v in pairs:
        counts.setdefault(k, {}).setdefault(v, 0)
        counts[k][v] += 1
    return {k: max(c, key=c.__getitem__) for k, c in counts.items()}
