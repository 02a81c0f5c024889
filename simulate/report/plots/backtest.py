"""The backtest's charts: a fan per cut with what happened drawn in, and the PIT histogram.

Each fan is the re-forecast's bookings to date from the cut (P05-P95 and P10-P90 bands, the
median) with the actual bookings as a step line; the PIT histogram shows where the actuals
fell in their forecasts: flat when the forecasts are calibrated, U-shaped when too narrow,
humped when too wide, leaning when biased.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .charts import BLUE, LIGHT, MONEY, RED, STYLE, Plot


def fans(charts: list[dict[str, Any]], summary: dict[str, Any]) -> Plot:
    """Small multiples, one fan per cut; the title gives the 80 % interval's coverage."""
    n = len(charts)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, sharey=False)
        for ax, c in zip(axes.flat, charts):
            days = np.minimum(np.arange(1, c["weeks"] + 1) * 7.0, (c["end"] - c["cut"]).days)
            b = c["bands"]
            ax.fill_between(days, b[0], b[4], color=LIGHT, alpha=0.5, lw=0)
            ax.fill_between(days, b[1], b[3], color=LIGHT, lw=0)
            ax.plot(days, b[2], color=BLUE, lw=1.2)
            inside = c["entry"]["p10"] <= c["entry"]["actual"] <= c["entry"]["p90"]
            x = np.concatenate([[0.0], c["actual_days"]])
            y = np.concatenate([[0.0], c["actual_cum"]])
            ax.step(x, y, where="post", color="black" if inside else RED, lw=1.4)
            ax.set_title(f"cut {c['cut']}", fontsize=9.5)
            ax.yaxis.set_major_formatter(MONEY)
            ax.tick_params(labelsize=8)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        cov = summary["coverage80"]
        title = f"The 80 % interval held the actual at {round(cov * n)} of {n} cuts ({cov:.0%})"
        fig.suptitle(title, fontsize=11, fontweight="bold")
        fig.supxlabel("days after the cut: bookings to date, forecast P05-P95, P10-P90 and median; "
                      "actual in black (red when outside P10-P90)", fontsize=9)
    return Plot("backtest_fans", title, fig)


def pit_histogram(summary: dict[str, Any]) -> Plot:
    """Where the actuals fell in their forecasts, in tenths; flat is calibrated."""
    values = np.array([c["pit"] for c in summary["cuts"]])
    n = values.size
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        ax.hist(values, bins=np.linspace(0, 1, 11), color=BLUE, edgecolor="white")
        ax.axhline(n / 10, color=RED, ls="--", lw=1, label="calibrated: n / 10 per bar")
        ax.set_xlabel("PIT: share of simulated outcomes below the actual")
        ax.set_ylabel("cuts")
        ax.legend(frameon=False)
        low, high = int(np.sum(values < 0.1)), int(np.sum(values > 0.9))
        title = (f"PIT of {n} cuts: {low} below P10, {high} above P90 "
                 f"(calibrated: about {0.1 * n:.1f} each)")
        ax.set_title(title)
    return Plot("backtest_pit", title, fig)
