"""Seasonality: a channel's twelve calendar-month weights as a lead rate that keeps the year.

Weights are the calendar months, January first, as `calibrate` fits them: horizon day t is
the date `horizon.start + t`, so a plan year starting in July meets July's weight first. Each
day has its own month's rate, and the rate is normalised on the horizon's first 365 days:

    daily rate in month m = leads_per_year * w_m / sum_k(w_k * days of month k in those 365 days)

so those 365 days expect exactly `leads_per_year`, whatever the start and wherever a 29
February falls. Later years of a longer horizon repeat the same daily rates by calendar
month (a year with a 29 February gets that day's rate on top).
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

YEAR_DAYS = 365


@dataclass(frozen=True)
class Season:
    """The seasonal profile on the horizon's days, as a share of the year's leads.

    Piecewise constant: `rates[i]` (share of the year per day) holds from `bounds[i]` to the
    next bound; `cumulative[i]` is the share expected before `bounds[i]`.
    """

    bounds: tuple[float, ...]
    rates: tuple[float, ...]
    cumulative: tuple[float, ...]

    def share(self, start: float, end: float) -> float:
        """The share of a year's leads expected between horizon days `start` and `end`; days
        before the horizon (the year before it, for the pipeline on day 0) take the rate of
        the same calendar day a year later."""
        if end <= 0.0:
            return self.share(start + YEAR_DAYS, end + YEAR_DAYS)
        return self._before(end) - self._before(start)

    def _before(self, day: float) -> float:
        i = bisect.bisect_right(self.bounds, day) - 1
        return self.cumulative[i] + (day - self.bounds[i]) * self.rates[i]


@lru_cache(maxsize=256)
def season(weights: tuple[float, ...], start: dt.date, horizon_days: float) -> Season:
    """The profile of calendar-month `weights` (none: a constant rate) on a horizon from `start`."""
    if not weights:
        return Season((0.0,), (1.0 / YEAR_DAYS,), (0.0,))
    months = _months(start, max(horizon_days, YEAR_DAYS))
    norm = sum(weights[m] * (min(end, YEAR_DAYS) - begin) for begin, end, m in months if begin < YEAR_DAYS)
    bounds, rates, cumulative, total = [], [], [], 0.0
    for begin, end, m in months:
        bounds.append(float(begin))
        rates.append(weights[m] / norm)
        cumulative.append(total)
        total += (end - begin) * rates[-1]
    return Season(tuple(bounds), tuple(rates), tuple(cumulative))


def _months(start: dt.date, days: float) -> list[tuple[int, int, int]]:
    """The calendar months met from `start` for `days` days: (first day, end day, month 0-11)
    in horizon days, the first and last cut to the horizon's whole days."""
    out, begin, date = [], 0, start
    while begin < days:
        following = dt.date(date.year + date.month // 12, date.month % 12 + 1, 1)
        end = begin + (following - date).days
        out.append((begin, end, date.month - 1))
        begin, date = end, following
    return out
