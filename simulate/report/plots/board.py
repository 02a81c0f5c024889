"""board.png and board.pdf: board.html as one landscape A4 page, drawn with matplotlib.

The same content as board.html (report/board.py gathers it): the verdict, P(hit) with its
interval, the target that can be signed, the main risks, what to do and, after `advise`, the
levers to change. Large type for a projector; Chinese in the bundled font; no browser needed.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..board import board_content
from ..view import RunView
from .charts import BLUE, STYLE, wrap

PAGE = (11.69, 8.27)            # A4 landscape, inches
DPI = 150
INK, GREY, LINE = "#1d2327", "#555555", "#d5dde3"
CALL = {"yes": ("#e8f5ec", "#2e7d4f", "#1e6b3e"), "no": ("#fdecea", "#c0392b", "#a93226"),
        "open": ("#eef4f9", BLUE, BLUE)}
MARGIN = 0.045
SIZES = (15.5, 14, 12.5, 11)    # the lists' type, largest first
FOOT = 0.05                     # the footer's rule


def board_files(view: RunView) -> dict[str, bytes]:
    """The page as PNG and PDF bytes, in the language and currency in force."""
    with plt.rc_context({**STYLE, "figure.constrained_layout.use": False}):
        content = board_content(view)
        for size in SIZES:                  # the largest type at which the page holds it all
            fig, bottom = board_figure(content, size)
            if bottom > FOOT + 0.01 or size == SIZES[-1]:
                break
            plt.close(fig)
        out = {}
        for fmt in ("png", "pdf"):
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=DPI)
            out[fmt] = buf.getvalue()
        plt.close(fig)
    return out


def fit(span: float, size: float) -> int:
    """How many display columns fit in `span` (a fraction of the page's width) at `size` points:
    a Latin character is about 0.5 em wide, a CJK character 1 em (two columns)."""
    em = 0.5          # per display column: CJK characters count two
    return max(10, int(span * PAGE[0] * 72 / (size * em)))




class Page:
    """Text set top-down on the figure; y is the figure fraction of the next line's top."""

    def __init__(self, fig: Figure):
        self.fig = fig
        self.height = fig.get_figheight() * 72          # points

    def lines(self, x: float, y: float, lines: list[str], size: float, **kw: Any) -> float:
        step = size * 1.45 / self.height
        for line in lines:
            self.fig.text(x, y, line, fontsize=size, va="top", ha="left", color=kw.get("color", INK),
                          fontweight=kw.get("weight", "normal"))
            y -= step
        return y

    def items(self, x: float, y: float, items: list[str], columns: int, size: float,
              numbered: bool) -> float:
        for i, item in enumerate(items, 1):
            mark = f"{i}." if numbered else "•"
            self.fig.text(x, y, mark, fontsize=size, va="top", ha="left", color=BLUE,
                          fontweight="bold")
            y = self.lines(x + 0.025, y, wrap(item, columns), size) - size * 0.5 / self.height
        return y


def board_figure(c: dict[str, Any], body: float = SIZES[0]) -> tuple[Figure, float]:
    """The page, and how low its text reaches (a figure fraction) with lists set at `body`."""
    fig = plt.figure(figsize=PAGE, dpi=DPI)
    fig.patch.set_facecolor("white")
    page = Page(fig)
    left, right = MARGIN, 1 - MARGIN
    y = page.lines(left, 0.955, wrap(c["title"], fit(right - left, 22)), 22, weight="bold") - 0.012

    # the verdict, in a coloured band
    fill, edge, ink = CALL[c["kind"]]
    size = 30 if c["kind"] != "open" else 22
    verdict = wrap(c["verdict"], fit(right - left - 0.05, size))
    sub = wrap(c["verdict_sub"], fit(right - left - 0.05, 14)) if c["verdict_sub"] else []
    band = (len(verdict) * size * 1.45 + len(sub) * 14 * 1.45 + 18) / page.height
    fig.add_artist(Rectangle((left, y - band), right - left, band, transform=fig.transFigure,
                             facecolor=fill, edgecolor="none"))
    fig.add_artist(Rectangle((left, y - band), 0.012, band, transform=fig.transFigure,
                             facecolor=edge, edgecolor="none"))
    inner = page.lines(left + 0.03, y - 9 / page.height, verdict, size, weight="bold", color=ink)
    page.lines(left + 0.03, inner, sub, 14, color=GREY)
    y -= band + 0.03

    # the two figures: the odds and the target that can be signed
    boxes = [b for b in (c["odds"], c["signable"]) if b]
    if boxes:
        gap = 0.02
        w = (right - left - gap * (len(boxes) - 1)) / len(boxes)
        wraps = [wrap(b[2], fit(w - 0.03, 13)) for b in boxes]
        h = (12 * 1.5 + 38 * 1.3 + max(len(x) for x in wraps) * 13 * 1.45 + 26) / page.height
        for i, (box, sub_lines) in enumerate(zip(boxes, wraps)):
            x = left + i * (w + gap)
            fig.add_artist(Rectangle((x, y - h), w, h, transform=fig.transFigure,
                                     facecolor="white", edgecolor=LINE, linewidth=1.2))
            inner = page.lines(x + 0.015, y - 10 / page.height, [box[0].upper()], 12,
                               weight="bold", color=BLUE)
            inner = page.lines(x + 0.015, inner - 2 / page.height, [box[1]], 36, weight="bold")
            page.lines(x + 0.015, inner + 8 / page.height, sub_lines, 13, color=GREY)
        y -= h + 0.035

    # the risks, and what to do (and the levers after advise), side by side
    columns = [(c["h_risks"], c["risks"], False), (c["h_todo"], c["todo"], True)]
    if c["levers"]:
        columns.append((c["h_levers"], c["levers"], False))
    gap = 0.03
    w = (right - left - gap * (len(columns) - 1)) / len(columns)
    chars = fit(w - 0.025, body)
    bottom = 1.0
    for i, (head, items, numbered) in enumerate(columns):
        x = left + i * (w + gap)
        top = page.lines(x, y, [head.upper()], 14, weight="bold", color=BLUE)
        bottom = min(bottom, page.items(x, top - 4 / page.height, items, chars, body, numbered))

    fig.add_artist(plt.Line2D([left, right], [FOOT, FOOT], transform=fig.transFigure,
                              color=LINE, linewidth=1))
    page.lines(left, FOOT - 0.008, wrap(c["foot"], fit(right - left, 10.5)), 10.5, color=GREY)
    return fig, bottom
