"""How a calibrated plan is written: every figure with a note saying where it came from.

A manager trusts a calibrated plan only as far as its sources, so each line carries its
sample size, its interval or the reference plan's default it fell back to. Short notes sit
at the end of the line, long ones above it; money, rates and days are written the way a
plan file reads them (150k, 12.5%, 30d).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable

# Figures a CRM export cannot give (or gives too thinly) fall back to the reference plan's.
BASELINE = "default (scenarios/baseline.yaml)"
VISITS_PER_WEEK = 7.0         # the reference plan's: the export has no visits
DEFAULT_STAGES = {   # kind -> per stage: advance, time mean, time sd (days), effort (visits)
    "key_accounts": ((0.60, 21, 10, 0.5), (0.67, 30, 12, 1.0), (0.50, 45, 20, 2.0)),
    "new_logo": ((0.60, 12, 6, 0.25), (0.67, 11, 5, 1.0), (0.50, 10, 5, 1.5)),
}


class PlanYaml:
    """Lines of YAML with comments: short notes at the end of the line, long ones above it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def comment(self, indent: int, text: str) -> None:
        for chunk in textwrap.wrap(text, width=100 - indent - 2, break_on_hyphens=False):
            self.lines.append(" " * indent + "# " + chunk)

    def line(self, indent: int, body: str, note: str = "") -> None:
        if note and len(note) + len(body) + indent > 120:
            self.comment(indent, note)
            note = ""
        text = " " * indent + body
        self.lines.append(f"{text:<40}  # {note}" if note else text)

    def put(self, indent: int, key: str, value: str | None = None, note: str = "", item: bool = False) -> None:
        body = ("- " if item else "") + f"{key}:" + (f" {value}" if value is not None else "")
        self.line(indent, body, note)

    def blank(self) -> None:
        self.lines.append("")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def money(x: float, digits: int = 3) -> str:
    """1.23M, 45.6k, 789 (in plan files, with four significant digits)."""
    x = float(f"{x:.{digits}g}")        # round first: 999,700 is 1M, not 1e+03k
    for size, unit in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.{digits}g}{unit}"
    return f"{x:.{digits}g}"


def yaml_str(text: str) -> str:
    """A name as YAML reads it back: bare when plain, quoted when YAML would misread it."""
    plain = re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]*", text) and text.lower() not in _YAML_WORDS
    return text if plain else json.dumps(text, ensure_ascii=False)


_YAML_WORDS = {"yes", "no", "true", "false", "on", "off", "null", "y", "n"}


def pct(x: float) -> str:
    """A rate for the plan to read, with four significant digits: 12.35%."""
    return f"{100 * x:.4g}%"


def pct1(x: float) -> str:
    """A rate for a note, with one decimal: 12.3%."""
    return f"{100 * x:.1f}%"


def in_days(x: float) -> str:
    return f"{x:.3g}d" if x < 100 else f"{x:.0f}d"


def num(x: float) -> str:
    return f"{x:.4g}"


def distribution(family: str, mean: float, sd: float, fmt: Callable[[float], str]) -> str:
    if family == "exponential":
        return f"{{exponential: {{mean: {fmt(mean)}}}}}"
    return f"{{{family}: {{mean: {fmt(mean)}, sd: {fmt(max(sd, mean * 1e-3))}}}}}"


def mix(items: list[str]) -> str:
    """The share of each item, most frequent first: {smart_erp: 60%, finance_basic: 40%}."""
    counts = {k: items.count(k) for k in dict.fromkeys(items)}
    keys = sorted(counts, key=lambda k: -counts[k])
    shares = even_shares(len(keys), [counts[k] / len(items) for k in keys])
    return "{" + ", ".join(f"{yaml_str(k)}: {s}" for k, s in zip(keys, shares)) + "}"


def even_shares(n: int, weights: list[float] | None = None) -> list[str]:
    """Percentages with two decimals that add up to exactly 100 %."""
    weights = weights or [1 / n] * n
    cents = [round(w * 10000) for w in weights]
    cents[0] += 10000 - sum(cents)
    return [f"{c / 100:g}%" for c in cents]
