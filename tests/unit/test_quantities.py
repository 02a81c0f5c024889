import datetime as dt
import math
import re

import pytest

from simulate.plan.quantities import (
    days_between,
    parse_count,
    parse_date,
    parse_days,
    parse_fraction,
    parse_money,
)

START = dt.date(2027, 1, 1)
BAD_NUMBERS = [True, False, None, [1], {"a": 1}, math.nan, math.inf, -math.inf, "nan", "inf", ""]


@pytest.mark.parametrize("value, expected", [
    (0.2, 0.2), (0, 0.0), (1, 1.0), ("0.2", 0.2), ("20%", 0.2), ("20 %", 0.2), (" 2.5% ", 0.025),
    ("100%", 1.0), (20, 20.0), ("150%", 1.5),
])
def test_fraction(value, expected):
    assert parse_fraction(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", BAD_NUMBERS + ["abc", "20 percent", "%", "1,5%", "nan%"])
def test_fraction_rejects(value):
    with pytest.raises(ValueError, match="expected a fraction such as 0.2 or a percentage"):
        parse_fraction(value)


def test_fraction_error_names_the_value():
    with pytest.raises(ValueError, match=r"got 'abc'$"):
        parse_fraction("abc")
    with pytest.raises(ValueError, match=r"got True$"):
        parse_fraction(True)


@pytest.mark.parametrize("value, expected", [
    (1200, 1200.0), (1200.5, 1200.5), ("1200", 1200.0), ("60k", 6e4), ("60K", 6e4),
    ("1.2M", 1.2e6), ("1.2m", 1.2e6), ("1,200,000", 1.2e6), ("1,200.50", 1200.5),
    ("1.5bn", 1.5e9), ("1.5B", 1.5e9), ("1.5 bn", 1.5e9), ("1e6", 1e6), ("-5k", -5000.0),
    ("80万", 8e5), ("1.2亿", 1.2e8), ("¥80万", 8e5), ("80万元", 8e5), ("960 万", 9.6e6), ("3千", 3e3),
])
def test_money(value, expected):
    assert parse_money(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", BAD_NUMBERS + ["1,2", "12,34,567", "$5", "5 dollars", "k", "万",
                                                 "80万万"])
def test_money_rejects(value):
    with pytest.raises(ValueError, match="expected an amount such as 1200, 60k, 1.2M, 1.5bn, 80万"):
        parse_money(value)


@pytest.mark.parametrize("value, expected", [
    (14, 14.0), (2.5, 2.5), ("14", 14.0), ("14d", 14.0), ("2.5d", 2.5), ("14 days", 14.0),
    ("6w", 42.0), ("3mo", 3 * 365 / 12), ("1y", 365.0), ("1yr", 365.0), ("2 weeks", 14.0),
])
def test_days(value, expected):
    assert parse_days(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", BAD_NUMBERS + ["14x", "d", "1e3d", "3 fortnights"])
def test_days_rejects(value):
    with pytest.raises(ValueError, match="expected a duration such as 14d, 6w, 3mo or 1y"):
        parse_days(value)


def test_days_error_message():
    with pytest.raises(ValueError) as info:
        parse_days("14x")
    assert str(info.value) == "expected a duration such as 14d, 6w, 3mo or 1y, got '14x'"
    with pytest.raises(ValueError, match=r"'m' is ambiguous: write 3mo for months"):
        parse_days("3m")


@pytest.mark.parametrize("value, expected", [
    (250, 250.0), (2.5, 2.5), ("250", 250.0), ("1.2k", 1200.0), ("2M", 2e6), ("1,500", 1500.0),
])
def test_count(value, expected):
    assert parse_count(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", BAD_NUMBERS + ["many", "3 deals"])
def test_count_rejects(value):
    with pytest.raises(ValueError, match="expected a count such as 250 or 1.2k"):
        parse_count(value)


@pytest.mark.parametrize("value, expected", [
    ("2027-03-15", dt.date(2027, 3, 15)),
    (" 2027-03-15 ", dt.date(2027, 3, 15)),
    (dt.date(2027, 3, 15), dt.date(2027, 3, 15)),
    (dt.datetime(2027, 3, 15, 10, 30), dt.date(2027, 3, 15)),
])
def test_date_absolute(value, expected):
    assert parse_date(value) == expected
    assert parse_date(value, START) == expected


@pytest.mark.parametrize("value, expected", [
    ("Q1", dt.date(2027, 1, 1)), ("Q2", dt.date(2027, 4, 1)), ("q4", dt.date(2027, 10, 1)),
    ("month 1", dt.date(2027, 1, 1)), ("month 4", dt.date(2027, 4, 1)),
    ("Month 12", dt.date(2027, 12, 1)),
    ("+30d", dt.date(2027, 1, 31)), ("+6w", dt.date(2027, 2, 12)), ("+3mo", dt.date(2027, 4, 1)),
    ("+1y", dt.date(2028, 1, 1)), ("+0d", START), ("+10", dt.date(2027, 1, 11)),
])
def test_date_relative(value, expected):
    assert parse_date(value, START) == expected


def test_date_relative_to_a_mid_year_start():
    start = dt.date(2027, 7, 31)
    assert parse_date("Q2", start) == dt.date(2027, 10, 31)
    assert parse_date("Q3", start) == dt.date(2028, 1, 31)
    assert parse_date("+1mo", start) == dt.date(2027, 8, 31)
    assert parse_date("month 3", start) == dt.date(2027, 9, 30)  # clamped to month end


def test_month_offsets_keep_month_ends_only_when_asked():
    """A plan's dates clamp (30 April + 3mo: 30 July); a period to a month's end (a backtest's
    horizon) keeps month ends, however the months are written; days and weeks never move."""
    start = dt.date(2027, 4, 30)
    assert parse_date("+3mo", start) == dt.date(2027, 7, 30)
    assert parse_date("+3mo", start, month_ends=True) == dt.date(2027, 7, 31)
    assert parse_date("+2 months", dt.date(2027, 2, 28), month_ends=True) == dt.date(2027, 4, 30)
    assert parse_date("+1y", dt.date(2027, 2, 28), month_ends=True) == dt.date(2028, 2, 29)
    assert parse_date("+3mo", dt.date(2027, 4, 15), month_ends=True) == dt.date(2027, 7, 15)
    assert parse_date("+14d", start, month_ends=True) == dt.date(2027, 5, 14)


@pytest.mark.parametrize("value", ["Q2", "+30d", "month 4"])
def test_relative_date_needs_a_start(value):
    with pytest.raises(ValueError, match=re.escape(f"'{value}' is relative to the plan's start")):
        parse_date(value)


@pytest.mark.parametrize("value, message", [
    ("2027-02-30", "'2027-02-30' is not a calendar date"),
    ("15/03/2027", "expected a date such as 2027-03-15, Q2, 'month 4' or +30d, got '15/03/2027'"),
    ("Q5", "got 'Q5'"),
    ("+3x", "got '+3x'"),
    ("month 13", "expected 'month 1' to 'month 12', got 'month 13'"),
    ("+2.5d", "a date offset must be a whole number of days, got '+2.5d'"),
    ("+1.5mo", "month and year offsets must be whole numbers, got '+1.5mo'"),
    (20270315, "expected a date such as 2027-03-15, Q2, 'month 4' or +30d, got 20270315"),
    (None, "got None"),
    (True, "got True"),
])
def test_date_rejects(value, message):
    with pytest.raises(ValueError) as info:
        parse_date(value, START)
    assert message in str(info.value)


def test_date_without_start_mentions_only_iso():
    with pytest.raises(ValueError) as info:
        parse_date("tomorrow")
    assert str(info.value) == "expected a date such as 2027-03-15, got 'tomorrow'"


def test_days_between():
    assert days_between(START, dt.date(2027, 1, 31)) == 30.0
    assert days_between(START, dt.date(2026, 12, 31)) == -1.0
    assert isinstance(days_between(START, START), float)
