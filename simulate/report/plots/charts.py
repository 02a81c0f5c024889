"""Slides from a run: each plot answers one question a manager asks, and its title says the answer.

Every chart is drawn from the run's own tables (the rows of replications, the weekly KPI
bands, the rule firings) and from summary.json, so what the slide says is what the files
hold. The target is drawn in wherever it applies, money reads in k/M, and charts for parts
of a run that did not happen (no shocks, no playbook, no variants) are simply not drawn.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")   # files only, never a window: safe on servers and in workers
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from ...format import money_short, odds_phrase, width  # noqa: E402
from ...run.scenario import BASELINE  # noqa: E402
from ...words import language, say  # noqa: E402
from ..view import RunView

# Chinese names and labels: a subset of Noto Sans SC (the 3,755 common hanzi of GB 2312 level 1,
# regular and bold, OFL; see report/fonts/) ships with the package, behind DejaVu Sans for Latin text.
FONTS = Path(__file__).resolve().parents[1] / "fonts"


def font_family() -> list[str]:
    """The fallback chain of families for every chart: Latin from DejaVu, CJK after it."""
    for weight in ("Regular", "Bold"):
        font_manager.fontManager.addfont(str(FONTS / f"NotoSansSCSubset-{weight}.otf"))
    return ["DejaVu Sans", "Noto Sans SC Subset"]


STYLE = {"font.family": font_family(), "axes.unicode_minus": False,
         "figure.figsize": (9, 5), "figure.dpi": 110, "font.size": 10.5, "axes.titlesize": 12.5,
         "axes.titleweight": "bold", "axes.spines.top": False, "axes.spines.right": False,
         "axes.grid": True, "grid.alpha": 0.3, "svg.fonttype": "none",
         "figure.constrained_layout.use": True}
BLUE, LIGHT, RED, MISS, GREY = "#1f5f8b", "#9cc3dd", "#c0392b", "#e3a6a0", "#7f8c8d"
STAGES = ("lead", "intent", "negotiation", "signed")
STAGE_COLOURS = ("#c9dcea", "#8fb8d6", "#e6a04d", "#2e7d4f")
HEALTHY = np.array([5, 3, 2, 1]) / 11          # methodology: lead : intent : negotiation : signed
NEGOTIATION_WARNING = 0.40                      # methodology: ~40 % in negotiation delays signings
# Lines beside the headline's (other scenarios, variants, the years without shocks or rules):
# each its own colour and dash, so no two read alike.
# The target path is red and dashed: no companion is either.
COMPANION_LINES = (("#8e44ad", "-."), ("#16a085", (0, (1, 1.5))), ("#b7950b", (0, (5, 2, 1, 2, 1, 2))),
                   ("#d35400", (0, (1, 3))), ("#2c3e50", (0, (6, 2))))
OPENING_WEEKS = 4      # the fan's finding ignores the year's first weeks: a few deals' noise
PERCENT = FuncFormatter(lambda x, _pos: f"{x:.0f} %")
MONEY = FuncFormatter(money_short)


OPENING = "（《「『(“"
CLOSING = "。，、；：！？）》」』%,.;:!?)"


def wrap(text: str, columns: int) -> list[str]:
    """Lines of at most `columns` display columns: at spaces, or anywhere in CJK text, but
    never before closing punctuation (。，）...) nor between a number and its %."""
    lines, line = [], ""
    columns -= 2                        # room for a closing mark that may not start a line
    for token in _tokens(text.replace(" %", "\u00a0%")):
        if line and width(line + token) > columns and token[0] not in CLOSING:
            carry = line[-1] if line[-1] in OPENING else ""      # an opening mark moves on
            lines.append(line[:len(line) - len(carry)].rstrip())
            line = carry + token.lstrip()
        else:
            line += token
    return lines + [line.rstrip()] if line.strip() else lines


def _tokens(text: str) -> list[str]:
    """Words with their trailing space, each CJK character on its own."""
    out, word = [], ""
    for c in text:
        if unicodedata.east_asian_width(c) in "WF":
            if word:
                out.append(word)
                word = ""
            out.append(c)
        else:
            word += c
            if c == " ":
                out.append(word)
                word = ""
    return out + [word] if word else out


@dataclass
class Plot:
    """One chart: its file name (without extension), its finding (the title), the figure."""

    name: str
    title: str
    figure: Figure

    def render(self) -> dict[str, bytes]:
        """PNG and SVG bytes, rendered with the house style (text stays text in the SVG)."""
        out = {}
        with plt.rc_context(STYLE):
            for fmt in ("png", "svg"):
                buf = io.BytesIO()
                self.figure.savefig(buf, format=fmt)
                out[fmt] = buf.getvalue()
                self.figure.set_layout_engine("none")   # laid out once: the SVG reuses it
        self.close()
        return out

    def close(self) -> None:
        plt.close(self.figure)


def companions(view: RunView) -> list[str]:
    """The years drawn beside the headline's: in a stress run, the same variant under the
    other scenarios (not other variants, whose targets may differ); else the run's others."""
    m = view.summary.get("matrix")
    head = view.headline.split(" @ ")[0]
    if not m or f"{head} @ {m['baseline']}" != view.headline:
        return view.others()
    names = set(view.replications.get("variant", []))
    cells = (f"{head} @ {sc}" for sc in m["scenarios"])
    return [k for k in cells if k != view.headline and k in names][:len(COMPANION_LINES)]


def attainment_pct(view: RunView, variant: str | None = None) -> np.ndarray:
    return view.rows(variant)["attainment"].to_numpy() * 100


def attainment(view: RunView) -> Plot:
    v = view.summary["variants"][view.headline]
    title = say("chart.attainment_title", p=f"{100 * v['p_hit']:.0f} %", phrase=odds_phrase(v["p_hit"]))
    if (v.get("impact") or {}).get("p_hit_baseline") is not None:
        title += say("chart.without_shocks", p=f"{100 * v['impact']['p_hit_baseline']:.0f} %")
    att = attainment_pct(view)
    beside = (attainment_pct(view, n) for n in companions(view))
    bins = bins_at_target(np.concatenate([att, *beside]))
    fig, ax = plt.subplots()
    ax.hist(att[att < 100], bins=bins, color=MISS, edgecolor="white",
            label=say("chart.years_short", name=view.label(view.headline)))
    ax.hist(att[att >= 100], bins=bins, color=LIGHT, edgecolor="white",
            label=say("chart.years_over", name=view.label(view.headline)))
    for name, (colour, dash) in zip(companions(view), COMPANION_LINES):   # e.g. without the shocks
        ax.hist(attainment_pct(view, name), bins=bins, histtype="step", linewidth=1.8,
                color=colour, linestyle=dash, label=view.label(name))
    ax.axvline(100, color=RED, linewidth=2,
               label=say("chart.target", target=money_short(view.summary["target"])))
    ax.set_ylim(top=ax.get_ylim()[1] * 1.3)   # headroom: the legend and the box never hide a bar
    lo, hi = v["p_hit_ci95"]
    box = say("chart.phit_box", p=f"{100 * v['p_hit']:.1f} %", lo=f"{100 * lo:.1f}", hi=f"{100 * hi:.1f} %")
    ax.text(0.98, 0.95, box, transform=ax.transAxes, ha="right", va="top", fontsize=12,
            fontweight="bold", bbox={"facecolor": "white", "edgecolor": GREY, "alpha": 0.9})
    ax.set(xlabel=say("chart.attainment_x", metric=say(f"metric.{view.summary['metric']}")),
           ylabel=say("chart.years"))
    ax.xaxis.set_major_formatter(PERCENT)
    below(ax)
    return Plot("attainment", title, fig)


def below(ax: Any, columns: int = 2) -> None:
    """The legend under the axes, where it never covers a bar or a line."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=columns, frameon=False,
              fontsize=9)


def bins_at_target(att: np.ndarray) -> np.ndarray:
    """Histogram edges with one edge exactly at 100 %, so no bar straddles the target."""
    lo, hi = min(att.min(), 99.0), max(att.max(), 101.0)
    width = (hi - lo) / min(40, max(10, len(att) // 15))
    return 100 + width * np.arange(np.floor((lo - 100) / width), np.ceil((hi - 100) / width) + 1)


def month_name(day: dt.date) -> str:
    """A month as the language in force names it: 'March', or '3月'."""
    return f"{day.month}月" if language() == "zh" else f"{day:%B}"


def short_month(day: dt.date, year: bool = False) -> str:
    """A month on an axis: 'Mar' or '3月' (with the year: 'Mar 27', '27年3月')."""
    if language() == "zh":
        return f"{day:%y}年{day.month}月" if year else f"{day.month}月"
    return f"{day:%b %y}" if year else f"{day:%b}"


def month_axis(ax: Any, view: RunView) -> None:
    """Dates as month names (with the year when the horizon spans more than one)."""
    many = view.days > 366
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=range(1, 13, 3 if many else 1)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: short_month(mdates.num2date(x).date(), many)))


def fan(view: RunView) -> Plot:
    w, target = view.weeks(), view.summary["target"]
    days = np.array([view.week_end(wk) for wk in w["week"]])
    dates = [view.date(d) for d in days]
    fig, ax = plt.subplots()
    ax.fill_between(dates, w["bookings_cum_p10"], w["bookings_cum_p90"], color=LIGHT, alpha=0.6,
                    label=say("chart.band"))
    ax.plot(dates, w["bookings_cum_p50"], color=BLUE, linewidth=2.2, label=say("chart.median_year"))
    for name, (colour, dash) in zip(companions(view), COMPANION_LINES):
        other = view.weeks(name)
        ax.plot([view.date(view.week_end(wk)) for wk in other["week"]], other["bookings_cum_p50"],
                color=colour, linewidth=1.6, linestyle=dash,
                label=say("chart.median_of", name=view.label(name)))
    p50 = w["bookings_cum_p50"].to_numpy()
    metric = say(f"metric.{view.summary['metric']}")
    title = say("chart.fan_median", value=money_short(p50[-1]), metric=metric)
    if view.summary["metric"] == "bookings":
        path = view.target_to_date(days)
        ax.plot(dates, path, color=RED, linewidth=2, linestyle="--", label=say("chart.target_path"))
        behind = p50 < path - 0.01 * target   # by more than 1 % of the target,
        behind[: OPENING_WEEKS] = False       # after the year's first weeks (a few deals' noise)
        ends = f"{100 * p50[-1] / target:.0f} %"
        if not behind.any():
            title = say("chart.fan_keeps", p=ends)
        elif behind[-1]:
            ahead = np.flatnonzero(~behind)
            since = dates[ahead[-1] + 1 if ahead.size else 0]
            title = say("chart.fan_behind", month=month_name(since), p=ends)
        else:
            until = dates[np.flatnonzero(behind)[-1]]
            title = say("chart.fan_trails", month=month_name(until), p=ends)
    ax.set(xlabel=say("chart.week_ending", year=view.start.year), ylabel=say("chart.bookings_to_date"))
    ax.yaxis.set_major_formatter(MONEY)
    below(ax, 3)
    month_axis(ax, view)
    return Plot("bookings_fan", title, fig)


def pipeline(view: RunView) -> Plot:
    counts = view.monthly_pipeline()
    shares = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
    open_deals = counts[["lead", "intent", "negotiation"]].sum(axis=1)
    negotiation = (counts["negotiation"] / open_deals.replace(0, np.nan)).fillna(0.0)
    labels = [short_month(dt.datetime.strptime(m, "%Y-%m").date(), year=len(counts) > 12) for m in counts.index]
    # The year opens on an empty funnel: until deals reach negotiation, the shares mislead.
    filling = negotiation.iloc[0] < 0.5 * negotiation.median()
    if filling:
        labels[0] += "\n" + say("chart.pipe_filling")
    steady = shares.iloc[1:] if filling and len(shares) > 1 else shares
    hot = [lab for lab, s in zip(labels, negotiation, strict=True) if s > NEGOTIATION_WARNING]
    gap = steady.mean() - HEALTHY
    stage = gap.abs().idxmax()
    title = (say("chart.pipe_ok") if not hot else
             say("chart.pipe_hot", months=", ".join(h.replace("\n", " ") for h in hot[:4]) + ("..." if len(hot) > 4 else "")))
    if abs(gap[stage]) > 0.05:
        title += say("chart.pipe_gap", stage=say(f"stage.{stage}"), share=f"{100 * steady[stage].mean():.0f} %",
                     healthy=f"{100 * HEALTHY[STAGES.index(stage)]:.0f} %")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), height_ratios=[2.2, 1], sharex=True)
    x = np.arange(len(labels) + 1)
    table = np.vstack([HEALTHY, shares.to_numpy()]) * 100
    below = np.zeros(len(x))
    for i, (name, colour) in enumerate(zip(STAGES, STAGE_COLOURS, strict=True)):
        top.bar(x, table[:, i], bottom=below, color=colour, edgecolor="white", label=say(f"stage.{name}"))
        below += table[:, i]
    top.axvline(0.5, color=GREY, linewidth=1)
    top.set(ylabel=say("chart.pipe_share"), ylim=(0, 100))
    top.yaxis.set_major_formatter(PERCENT)
    top.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=4, frameon=False,
               fontsize=9)
    colours = [RED if s > NEGOTIATION_WARNING else STAGE_COLOURS[2] for s in negotiation]
    bottom.bar(x[1:], negotiation.to_numpy() * 100, color=colours)
    bottom.axhline(100 * NEGOTIATION_WARNING, color=RED, linestyle="--", linewidth=1.5)
    bottom.text(-0.4, 100 * NEGOTIATION_WARNING, say("chart.pipe_warn"), color=RED, va="bottom",
                fontsize=9)
    bottom.set(ylabel=say("chart.pipe_neg"),
               ylim=(0, max(60, 110 * negotiation.max())))
    bottom.yaxis.set_major_formatter(PERCENT)
    bottom.set_xticks(x, [say("chart.pipe_plan"), *labels])
    return Plot("pipeline_health", title, fig)


def breakdown(view: RunView, dim: str) -> Plot | None:
    """Box plots per segment or product: attainment where targeted, else the value itself."""
    entries = view.summary["variants"][view.headline].get(f"by_{dim}") or {}
    if not entries:
        return None
    targeted = {n: e["target"] for n, e in entries.items() if e.get("target")}
    names = list(targeted) or list(entries)
    data = [view.rows()[f"{dim}:{n}"].to_numpy() * (100 / targeted[n] if targeted else 1)
            for n in names]
    fig, ax = plt.subplots()
    ax.boxplot(data, whis=(10, 90), showfliers=False, widths=0.5, patch_artist=True,
               boxprops={"facecolor": LIGHT, "edgecolor": BLUE},
               medianprops={"color": BLUE, "linewidth": 2})
    ax.set_xticks(range(1, len(names) + 1), names)
    ax.set_xlabel(say("chart.box_x", dim=say(f"dim.{dim}")))
    if targeted:
        ax.axhline(100, color=RED, linewidth=2, label=say("chart.target_line"))
        for i, n in enumerate(names, 1):
            ax.annotate(say("chart.phit_short", p=f"{100 * entries[n]['p_hit']:.0f} %"),
                        (i, np.percentile(data[i - 1], 90)), xytext=(0, 6),
                        textcoords="offset points", ha="center", fontsize=9.5)
        weakest = min(names, key=lambda n: entries[n]["p_hit"])
        e = entries[weakest]
        weight = e["target"] / max(sum(targeted.values()), 1e-9)
        title = say("chart.weakest", name=weakest, weight=f"{100 * weight:.0f} %",
                    dim=say(f"dim.{dim}").lower(), p=f"{100 * e['p_hit']:.0f} %",
                    median=f"{100 * e['attainment']['p50']:.0f} %")
        ax.set_ylabel(say("chart.own_target"))
        ax.yaxis.set_major_formatter(PERCENT)
        ax.legend(loc="upper left", frameon=False)
    else:
        medians = {n: e["value"]["p50"] for n, e in entries.items()}
        top = max(medians, key=medians.__getitem__)
        share = medians[top] / max(sum(medians.values()), 1e-9)
        metric = say(f"metric.{view.summary['metric']}")
        title = say("chart.carries", name=top, share=f"{100 * share:.0f} %", metric=metric,
                    dim=say(f"dim.{dim}").lower())
        ax.set(ylabel=say("chart.per_year", metric=metric), ylim=(0, None))
        ax.yaxis.set_major_formatter(MONEY)
    return Plot(f"by_{dim}", title, fig)


def firing_timeline(view: RunView) -> Plot | None:
    """When the playbook reacts: the share of years in which each rule has fired, by date."""
    firsts = view.first_firings()
    if not firsts:
        return None
    runs = max(1, len(view.rows()))
    fig, ax = plt.subplots()
    for rule, days in sorted(firsts.items(), key=lambda item: -len(item[1])):
        share = np.arange(1, len(days) + 1) / runs * 100
        ax.step([view.date(d) for d in days], share, where="post", linewidth=2,
                label=f"{rule} ({share[-1]:.0f} %)")
    # The finding is the contingency that fires most without firing every year (a rule that
    # fires every year is routine); in a shocked run, the one the shocks set off most (more
    # years than without them), not one that random departures fire anyway. The count says
    # how much of the playbook ever reacts.
    contingent = {r: d for r, d in firsts.items() if len(d) < 0.99 * runs} or firsts
    rule, days = max(contingent.items(), key=lambda item: len(item[1]) / runs - usual(view, item[0]))
    rules = view.summary["variants"][view.headline].get("rules") or firsts
    half = view.date(np.median(days))
    title = say("chart.fire_title", n=len(firsts), total=len(rules), rule=rule,
                share=f"{100 * len(days) / runs:.0f} %", day=say("chart.day", d=half.day, month=month_name(half)))
    ax.set(xlabel=say("chart.fire_x"), ylabel=say("chart.fire_y"),
           ylim=(0, 105), xlim=(view.start, view.date(view.days)))
    ax.yaxis.set_major_formatter(PERCENT)
    below(ax)
    month_axis(ax, view)
    return Plot("rule_firings", title, fig)


def usual(view: RunView, rule: str) -> float:
    """The share of years a rule fires without the shocks (0 when the run has no such years)."""
    baseline = view.rows(BASELINE) if view.summary.get("shocks") else None
    column = f"fired:{rule}"
    if baseline is None or baseline.empty or column not in baseline:
        return 0.0
    return float((baseline[column] > 0).mean())


PLOTS: tuple[Callable[[RunView], Plot | None], ...] = (
    attainment, fan, pipeline, lambda v: breakdown(v, "segment"), lambda v: breakdown(v, "product"),
    firing_timeline)
