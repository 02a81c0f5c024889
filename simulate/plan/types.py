"""The vocabulary of plan files: quantities with units, and the frozen base model.

`Fraction` reads 0.2 or "20%", `Days` reads 14, "14d", "6w" or "3mo", `Money` reads
"60k" or "1.2M"; each rejects NaN, infinities and values out of range with a message that
names what it found. Plan, shock and playbook models are all built from these.

Every quantity also has a ceiling no sales plan comes near (a century of days, a thousand
trillion in money, a billion units): a typo such as `1e18` is refused at load time instead of
turning into a year that never ends or a bookings figure of infinity.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from . import quantities as q
from .distributions import DISTRIBUTION_JSON_SCHEMA, Distribution, parse_distribution

MAX_MONEY = 1e15           # a thousand trillion: above any target, in any currency
MAX_DAYS = 36_500.0        # a century: no stage, delay or delivery takes longer
MAX_COUNT = 1e9            # units in a deal, leads in a year
MAX_VISITS = 1000.0        # rep time in one task: nearly three years at 7 visits a week
FIRST_YEAR, LAST_YEAR = 1900, 2200
MAX_NAME = 200             # characters in the name of a product, segment, rep, rule...


def _at_most(limit: float, what: str) -> Any:
    def check(x: float) -> float:
        if x > limit:
            raise ValueError(f"expected {what} of at most {limit:,.0f}, got {x:g}")
        return x
    return check


def _date(value: Any) -> dt.date:
    d = q.parse_date(value)
    if not FIRST_YEAR <= d.year <= LAST_YEAR:
        raise ValueError(f"expected a date between {FIRST_YEAR} and {LAST_YEAR}, got {value!r}")
    return d


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a name (text), got {value!r}")
    if not value.strip():
        raise ValueError(f"expected a name, got an empty one ({value!r})")
    if len(value) > MAX_NAME:
        raise ValueError(f"expected a name of at most {MAX_NAME} characters, got {len(value):,}")
    return value


def _fraction(value: Any) -> float:
    x = q.parse_fraction(value)
    if not 0.0 <= x <= 1.0:
        bare = isinstance(value, (int, float)) and not isinstance(value, bool)
        hint = f" (did you mean {x:g}%?)" if bare and 1 < x <= 100 else ""
        raise ValueError(f"expected a fraction in [0, 1] or a percentage, got {value!r}{hint}")
    return x


def _spread(value: Any) -> float:
    """An sd as a share of a mean: a fraction, up to 200 % (a swing can exceed the mean)."""
    x = _finite(q.parse_fraction(value))
    if not 0.0 <= x <= 2.0:
        raise ValueError(f"expected an sd as a share between 0 and 200%, got {value!r}")
    return x


def _finite(x: float) -> float:
    if not math.isfinite(x):
        raise ValueError(f"expected a finite number, got {x!r}")
    return x


def _nonnegative(x: float) -> float:
    if x < 0:
        raise ValueError(f"expected a value >= 0, got {x:g}")
    return x


def _positive(x: float) -> float:
    if not x > 0:
        raise ValueError(f"expected a value > 0, got {x:g}")
    return x


def money(value: Any) -> float:
    """An amount: >= 0 and at most MAX_MONEY."""
    return _at_most(MAX_MONEY, "an amount")(_nonnegative(q.parse_money(value)))


def days(value: Any) -> float:
    """A duration in days, at most MAX_DAYS (the sign is the caller's business)."""
    return _at_most(MAX_DAYS, "a duration in days")(q.parse_days(value))


def count(value: Any) -> float:
    """A count, at most MAX_COUNT."""
    return _at_most(MAX_COUNT, "a count")(q.parse_count(value))


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    return _finite(float(value))


def visits(value: Any) -> float:
    """Rep time in visits: a plain number, at most MAX_VISITS (the sign is the caller's
    business)."""
    return _at_most(MAX_VISITS, "visits")(number(value))


_NUMBER_OR_TEXT = {"type": ["number", "string"]}
Fraction = Annotated[float, BeforeValidator(_fraction),
                     WithJsonSchema({**_NUMBER_OR_TEXT, "description": "0.2 or '20%'"})]
Money = Annotated[float, BeforeValidator(money),
                  WithJsonSchema({**_NUMBER_OR_TEXT, "description": "1200, '60k', '1.2M'"})]
Days = Annotated[float, BeforeValidator(lambda v: _nonnegative(days(v))),
                 WithJsonSchema({**_NUMBER_OR_TEXT, "description": "days: 14, '14d', '6w', '3mo', '1y'"})]
Count = Annotated[float, BeforeValidator(lambda v: _nonnegative(count(v))),
                  WithJsonSchema({**_NUMBER_OR_TEXT, "description": "a count: 20, '1.2k'"})]
Spread = Annotated[float, BeforeValidator(_spread),
                   WithJsonSchema({**_NUMBER_OR_TEXT, "description": "an sd as a share: 0.2 or '20%', at most 200%"})]
Growth = Annotated[float, BeforeValidator(lambda v: _finite(q.parse_fraction(v))),
                   Field(ge=-1, le=100), WithJsonSchema({**_NUMBER_OR_TEXT, "description": "+40% or -20%"})]
PositiveNumber = Annotated[float, BeforeValidator(number), AfterValidator(_positive)]
NonNegative = Annotated[float, BeforeValidator(number), AfterValidator(_nonnegative)]
Visits = Annotated[float, BeforeValidator(number), AfterValidator(_nonnegative), Field(le=MAX_VISITS)]
Name = Annotated[str, BeforeValidator(_name), WithJsonSchema({"type": "string", "minLength": 1,
                                                              "maxLength": MAX_NAME})]
Date = Annotated[dt.date, BeforeValidator(_date),
                 WithJsonSchema({"type": "string", "format": "date"})]
DaysDist = Annotated[Distribution, BeforeValidator(lambda v: parse_distribution(v, days)),
                     WithJsonSchema(DISTRIBUTION_JSON_SCHEMA)]
CountDist = Annotated[Distribution, BeforeValidator(lambda v: parse_distribution(v, count)),
                      WithJsonSchema(DISTRIBUTION_JSON_SCHEMA)]
MoneyDist = Annotated[Distribution, BeforeValidator(lambda v: parse_distribution(v, money)),
                      WithJsonSchema(DISTRIBUTION_JSON_SCHEMA)]
# Visits are plain numbers (no units to write), so the fixed form is a number only.
VisitsDist = Annotated[Distribution, BeforeValidator(lambda v: parse_distribution(v, visits)),
                       WithJsonSchema({**DISTRIBUTION_JSON_SCHEMA, "anyOf": [
                           {"type": "number", "minimum": 0, "maximum": MAX_VISITS},
                           *DISTRIBUTION_JSON_SCHEMA["anyOf"][1:]]})]

class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class ReferenceProblem(ValueError):
    """A cross-reference error, carrying the path of the offending value for the loader."""

    def __init__(self, path: tuple, message: str):
        self.path = path
        super().__init__(message)


def known_kind(key: str, registry: Any, what: str) -> Any:
    """A before-validator for a tagged item (`type:` of a shock, `action:` of a rule): an
    unknown tag gets one clear message with a "did you mean", not pydantic's union noise."""
    from ..errors import did_you_mean
    label = what if key == what else f"{what} {key}"

    def check(value: Any) -> Any:
        if isinstance(value, dict):
            tag = value.get(key)
            if tag is None:
                raise ValueError(f"a {what} needs `{key}:` naming one of {', '.join(registry)}")
            if not isinstance(tag, str) or tag not in registry:
                raise ValueError(f"unknown {label} '{tag}'{did_you_mean(str(tag), registry)}; "
                                 f"expected one of {', '.join(registry)}")
        return value
    return check
