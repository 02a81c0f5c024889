"""Numbers as a manager reads them: money, percentages, odds in words, shock sizes.

One home for the formatting every layer prints (the terminal, the report, the charts, the
warnings of a plan check).
"""

from __future__ import annotations

import math


def money(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    for size, unit in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.2f}{unit}"
    return f"{x:.0f}"


def money_short(x: float, _pos: object = None) -> str:
    """Money in as few characters as it takes: 9.6M, 250k, 0 (chart axes, titles)."""
    for size, unit in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.1f}".rstrip("0").rstrip(".") + unit
    return f"{x:.0f}"


def pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:.{digits}f} %"


def odds_phrase(p_hit: float | None) -> str:
    """P(hit) in words a board understands: how often the year falls short."""
    if p_hit is None or not math.isfinite(p_hit):
        return "no completed years to judge"
    if p_hit >= 0.9:
        return "the target is safe: fewer than 1 year in 10 falls short"
    if p_hit >= 0.6:
        short = round(1 / (1 - p_hit))
        return f"the target is more likely than not, but 1 year in {short} falls short"
    if p_hit > 0.4:
        return "hitting the target is a coin flip"
    if p_hit >= 0.1:
        return f"the target is more likely missed: only 1 year in {round(1 / p_hit)} makes it"
    return "the target is out of reach: fewer than 1 year in 10 makes it"


def size_text(x: float | None, unit: str) -> str:
    """A shock size for people: 22 %, 28 days, 2 reps."""
    if x is None or not math.isfinite(x):
        return "-"
    if unit == "fraction":
        return f"{100 * x:.1f} %"
    return f"{x:.0f} {unit[:-1] if round(x) == 1 else unit}"
