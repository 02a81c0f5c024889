"""The vocabulary of plan files: quantities with units, and the frozen base model.

`Fraction` reads 0.2 or "20%", `Days` reads 14, "14d", "6w" or "3mo", `Money` reads
"60k" or "1.2M"; each rejects NaN, infinities and values out of range with a message that
names what it found. Plan, shock and playbook models are all built from these.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from . import quantities as q
from .distributions import DISTRIBUTION_JSON_SCHEMA, Distribution, parse_distribution


def _fraction(value: Any) -> float:
    x = q.parse_fraction(value)
    if not 0.0 <= x <= 1.0:
        bare = isinstance(value, (int, float)) and not isinstance(value, bool)
        hint = f" (did you mean {x:g}%?)" if bare and 1 < x <= 100 else ""
        raise ValueError(f"expected a fraction in [0, 1] or a percentage, got {value!r}{hint}")
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


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    return _finite(float(value))


_NUMBER_OR_TEXT = {"type": ["number", "string"]}
Fraction = Annotated[float, BeforeValidator(_fraction),
                     WithJsonSchema({**_NUMBER_OR_TEXT, "description": "0.2 or '20%'"})]
Money = Annotated[float, BeforeValidator(lambda v: _nonnegative(q.parse_money(v))),
                  WithJsonSchema({**_NUMBER_OR_TEXT, "description": "1200, '60k', '1.2M'"})]
Days = Annotated[float, BeforeValidator(lambda v: _nonnegative(q.parse_days(v))),
                 WithJsonSchema({**_NUMBER_OR_TEXT, "description": "days: 14, '14d', '6w', '3mo', '1y'"})]
Count = Annotated[float, BeforeValidator(lambda v: _nonnegative(q.parse_count(v))),
                  WithJsonSchema({**_NUMBER_OR_TEXT, "description": "a count: 20, '1.2k'"})]
Growth = Annotated[float, BeforeValidator(lambda v: _finite(q.parse_fraction(v))),
                   Field(ge=-1, le=100), WithJsonSchema({**_NUMBER_OR_TEXT, "description": "+40% or -20%"})]
PositiveNumber = Annotated[float, BeforeValidator(number), AfterValidator(_positive)]
Number = Annotated[float, BeforeValidator(number)]
NonNegative = Annotated[float, BeforeValidator(number), AfterValidator(_nonnegative)]
Date = Annotated[dt.date, BeforeValidator(lambda v: q.parse_date(v)),
                 WithJsonSchema({"type": "string", "format": "date"})]
DaysDist = Annotated[Distribution, BeforeValidator(lambda v: parse_distribution(v, q.parse_days)),
                     WithJsonSchema(DISTRIBUTION_JSON_SCHEMA)]
CountDist = Annotated[Distribution, BeforeValidator(lambda v: parse_distribution(v, q.parse_count)),
                      WithJsonSchema(DISTRIBUTION_JSON_SCHEMA)]
MoneyDist = Annotated[Distribution, BeforeValidator(lambda v: parse_distribution(v, q.parse_money)),
                      WithJsonSchema(DISTRIBUTION_JSON_SCHEMA)]

class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class ReferenceProblem(ValueError):
    """A cross-reference error, carrying the path of the offending value for the loader."""

    def __init__(self, path: tuple, message: str):
        self.path = path
        super().__init__(message)
