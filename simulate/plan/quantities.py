"""Parse the quantities people naturally write in a plan: 20%, 1.2M, 80万, 6w, Q2.

Sales managers write "60k" and "3mo", not 60000.0 and 91.25, so the plan validators run
every number through these helpers. They raise ValueError with the offending value; the
caller adds the file, line and key. Range checks are the caller's job too.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import numbers
import re
from typing import Any

_NUMBER = r"[+-]?(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)"
# Chinese amounts count in 万 (1e4) and 亿 (1e8); 80万元 and ¥80万 are the same 800,000.
_MAGNITUDES = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "bn": 1e9, "千": 1e3, "万": 1e4, "亿": 1e8,
               "万亿": 1e12}
_MAGNITUDE_RE = re.compile(rf"¥?\s*({_NUMBER})\s*(k|m|bn|b|千|万亿|万|亿)?\s*元?",
                           re.IGNORECASE)
_DAYS = {"": 1.0, "d": 1.0, "day": 1.0, "days": 1.0, "w": 7.0, "wk": 7.0, "week": 7.0,
         "weeks": 7.0, "mo": 365 / 12, "month": 365 / 12, "months": 365 / 12,
         "y": 365.0, "yr": 365.0, "year": 365.0, "years": 365.0}
_DAYS_RE = re.compile(rf"({_NUMBER})\s*([a-z]*)", re.IGNORECASE)
_ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_QUARTER_RE = re.compile(r"q([1-4])", re.IGNORECASE)
_MONTH_RE = re.compile(r"month\s+(\d+)", re.IGNORECASE)
_OFFSET_RE = re.compile(rf"\+\s*({_NUMBER})\s*([a-z]*)", re.IGNORECASE)


def parse_fraction(value: Any) -> float:
    """0.2, "20%" or "2.5 %" as a fraction; a plain number is returned as written."""
    expected = "expected a fraction such as 0.2 or a percentage such as 20%"
    if isinstance(value, str) and value.strip().endswith("%"):
        return _number(value.strip()[:-1], expected, value) / 100
    return _number(value, expected)


def parse_money(value: Any) -> float:
    """1200, "1,200,000", "60k", "1.2M", "1.5bn", "80万", "1.2亿" or "¥80万" as a plain amount."""
    return _magnitude(value, "expected an amount such as 1200, 60k, 1.2M, 1.5bn, 80万 or 1.2亿")


def parse_count(value: Any) -> float:
    """A count such as 250 or "1.2k"."""
    return _magnitude(value, "expected a count such as 250 or 1.2k")


def parse_days(value: Any) -> float:
    """A duration in days: 14, "14d", "6w", "3mo" (3 * 365/12 days), "1y"."""
    expected = "expected a duration such as 14d, 6w, 3mo or 1y"
    if not isinstance(value, str):
        return _number(value, expected)
    match = _DAYS_RE.fullmatch(value.strip())
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _DAYS:
        hint = " ('m' is ambiguous: write 3mo for months)" if unit == "m" else ""
        raise ValueError(f"{expected}, got {value!r}{hint}")
    return _number(match.group(1).replace(",", ""), expected, value) * _DAYS[unit]


def parse_date(value: Any, start: dt.date | None = None, month_ends: bool = False) -> dt.date:
    """An ISO date; with `start`, also "Q2", "month 4" and offsets "+30d", "+6w", "+3mo".

    Quarters and months count from `start`, the first day of the plan year: "Q2" and
    "month 4" are both start + 3 months. Month and year offsets are calendar months; with
    `month_ends`, one from a month's last day ends on a month's last day (30 April + 3mo:
    31 July, not 30 July), as a period "to the end of the month" is meant.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    expected = "expected a date such as 2027-03-15" + (
        ", Q2, 'month 4' or +30d" if start is not None else "")
    if not isinstance(value, str):
        raise ValueError(f"{expected}, got {_show(value)}")
    text = value.strip()
    if _ISO_DATE_RE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a calendar date") from None
    relative = [r.fullmatch(text) for r in (_QUARTER_RE, _MONTH_RE, _OFFSET_RE)]
    if not any(relative):
        raise ValueError(f"{expected}, got {value!r}")
    if start is None:
        raise ValueError(f"{value!r} is relative to the plan's start date, which is not known "
                         "here; write an ISO date such as 2027-03-15")
    quarter, month, offset = relative
    if quarter:
        return _add_months(start, 3 * (int(quarter.group(1)) - 1))
    if month:
        number = int(month.group(1))
        if not 1 <= number <= 12:
            raise ValueError(f"expected 'month 1' to 'month 12', got {value!r}")
        return _add_months(start, number - 1)
    unit = offset.group(2).lower()
    if unit not in _DAYS:
        raise ValueError(f"{expected}, got {value!r}")
    return _offset(start, offset.group(1).replace(",", ""), unit, value, month_ends)


def days_between(start: dt.date, d: dt.date) -> float:
    """Days from `start` to `d` (negative when `d` is earlier)."""
    return float((d - start).days)


def _offset(start: dt.date, amount: str, unit: str, value: str, month_ends: bool = False) -> dt.date:
    try:
        if unit in ("mo", "month", "months", "y", "yr", "year", "years"):
            count = float(amount)
            if not count.is_integer():
                raise ValueError(f"month and year offsets must be whole numbers, got {value!r}")
            end = _add_months(start, int(count) * (1 if unit.startswith("m") else 12))
            return month_end(end) if month_ends and start == month_end(start) else end
        days = parse_days(amount + unit)
        if not days.is_integer():
            raise ValueError(f"a date offset must be a whole number of days, got {value!r}")
        return start + dt.timedelta(days=days)
    except (OverflowError, _OutOfRange):
        raise ValueError(f"the offset {value!r} lands outside the calendar") from None


def month_end(d: dt.date) -> dt.date:
    """The last day of `d`'s month."""
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


class _OutOfRange(ValueError):
    """A date arithmetic result past year 9999."""


def _add_months(d: dt.date, months: int) -> dt.date:
    year, month = divmod(d.month - 1 + months, 12)
    year += d.year
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise _OutOfRange(f"year {year} is out of range")
    return d.replace(year=year, month=month + 1,
                     day=min(d.day, calendar.monthrange(year, month + 1)[1]))


def _magnitude(value: Any, expected: str) -> float:
    if not isinstance(value, str):
        return _number(value, expected)
    match = _MAGNITUDE_RE.fullmatch(value.strip())
    if match is None:
        return _number(value, expected)  # "1e6" and friends, or a clear error
    amount = _number(match.group(1).replace(",", ""), expected, value)
    return amount * _MAGNITUDES[(match.group(2) or "").lower()]


def _number(value: Any, expected: str, original: Any = None) -> float:
    """A finite float from a number or numeric text; ValueError naming the value otherwise."""
    shown = _show(value if original is None else original)
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise ValueError(f"{expected}, got {shown}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{expected}, got {shown}") from None
    if not math.isfinite(number):
        raise ValueError(f"{expected}, got {shown}")
    return number


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)
