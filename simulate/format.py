"""Numbers as a manager reads them: money, percentages, odds in words, shock sizes.

One home for the formatting every layer prints (the terminal, the report, the charts, the
warnings of a plan check). `style(language, currency)` sets how they read: English amounts
in k/M/bn, Chinese ones in 万 (1e4) and 亿 (1e8), with the plan's currency sign in front.
"""

from __future__ import annotations

import math
import unicodedata
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any, Iterator

from .words import LANGUAGE, LANGUAGES, say, term

CURRENCY: ContextVar[str] = ContextVar("currency", default="")
SIGNS = {"CNY": "¥", "RMB": "¥", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}


def currency_sign(currency: str | None) -> str:
    """A plan's `currency` as its sign: CNY and RMB read ¥, USD $; a sign stays as written."""
    return SIGNS.get((currency or "").upper(), currency or "")


def use(language: str | None = None, currency: str | None = None) -> tuple[Token, Token]:
    """Format in `language` ('en' or 'zh') with `currency` in front of amounts from now on
    (in this context: the command line runs each command in a context of its own); Chinese
    without a currency reads ¥."""
    lang = language if language in LANGUAGES else "en"
    sign = currency_sign(currency) or ("¥" if lang == "zh" else "")
    return LANGUAGE.set(lang), CURRENCY.set(sign)


@contextmanager
def style(language: str | None = None, currency: str | None = None) -> Iterator[None]:
    """`use` for the length of a block."""
    tokens = use(language, currency)
    try:
        yield
    finally:
        LANGUAGE.reset(tokens[0])
        CURRENCY.reset(tokens[1])


def _scaled(x: float, digits: int, short: bool) -> str:
    """An amount in the units of the language in force: 9.60M, or 960万 and 1.20亿."""
    if LANGUAGE.get() == "zh":
        for size, unit in ((1e8, "亿"), (1e4, "万")):
            if abs(x) >= size:
                value = x / size
                places = 0 if unit == "万" and abs(value) >= 100 else 1 if unit == "万" else digits
                text = f"{value:.{places}f}"
                return (text.rstrip("0").rstrip(".") if short and "." in text else text) + unit
        return f"{x:.0f}"
    for size, unit in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            text = f"{x / size:.{digits}f}"
            return (text.rstrip("0").rstrip(".") if short else text) + unit
    return f"{x:.0f}"


def money(x: float | None) -> str:
    """An amount with its currency: ¥9.60M, or ¥960万 in Chinese."""
    if x is None or not math.isfinite(x):
        return "-"
    sign = "-" if x < 0 else ""
    return f"{sign}{CURRENCY.get()}{_scaled(abs(x), 2, False)}"


def money_short(x: float, _pos: object = None) -> str:
    """Money in as few characters as it takes: 9.6M, 250k, 0 (chart axes, titles)."""
    sign = "-" if x < 0 else ""
    return f"{sign}{CURRENCY.get()}{_scaled(abs(x), 1, True)}"


def pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:.{digits}f} %"


def odds_phrase(p_hit: float | None) -> str:
    """P(hit) in words a board understands: how often the year falls short."""
    if p_hit is None or not math.isfinite(p_hit):
        return say("odds.none")
    if p_hit >= 0.9:
        return say("odds.safe")
    if p_hit >= 0.6:
        return say("odds.likely", short=round(1 / (1 - p_hit)))
    if p_hit > 0.4:
        return say("odds.coin")
    if p_hit >= 0.1:
        return say("odds.unlikely", n=round(1 / p_hit))
    return say("odds.out")


def size_text(x: float | None, unit: str) -> str:
    """A shock size for people: 22 %, 28 days (28 天), 2 reps (2 名销售)."""
    if x is None or not math.isfinite(x):
        return "-"
    if unit == "fraction":
        return f"{100 * x:.1f} %"
    words = term("unit", unit[:-1] if round(x) == 1 else unit)   # "{n} reps", or a unit it does not name
    return words.format(n=f"{x:.0f}") if "{n}" in words else f"{x:.0f} {words}"


def level(factor: dict[str, Any], side: str) -> str:
    """A sensitivity factor's `low` or `high` value as the outputs print it (a shock's low value:
    its declared size)."""
    if side == "low" and "declared_size" in factor:
        return say("level.declared", size=size_text(factor["declared_size"], factor["unit"]))
    return term("level", factor[side])


def width(text: str) -> int:
    """How many terminal columns `text` takes: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c)
               else 1 for c in text)


def pad(text: str, columns: int, align: str = "<") -> str:
    """`text` padded to `columns` terminal columns, left ('<') or right ('>') aligned."""
    fill = " " * max(0, columns - width(text))
    return text + fill if align == "<" else fill + text


def aligned(rows: list[list[str]], indent: str = "  ", gap: int = 2) -> list[str]:
    """Rows of cells as terminal lines: the first column left-aligned, the others right-aligned,
    each as wide as its widest cell in display columns (a Chinese character takes two)."""
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + pad(r[0], widths[0]) + "".join(" " * gap + pad(c, w, ">") for c, w in zip(r[1:], widths[1:]))
            for r in rows]
