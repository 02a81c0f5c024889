"""report.html: the one file a manager sends to whoever signs the target off.

It reads top-down in the order a sign-off meeting runs: the verdict, the distributions
behind it, the risks, what the playbook is worth, and last the assumptions (the plan as
simulated). It is a single self-contained page: the charts are embedded PNGs, every number
is text (searchable, copyable), and nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import math
import re
from multiprocessing import Value
from pathlib import Path
from typing import Any

from ..files import write_bytes, write_text
from ..format import level, money, odds_phrase, pct, style
from ..plan.distributions import FAMILIES
from ..run.executors import aside
from ..stats.sample_stats import highest_target
from ..words import language, say, term
from .excel import workbook_bytes
from .plots import draw_all
from .plots.charts import Plot, companions
from .plots.decide import matrix_title
from .sections import CSS, ci, esc, figure, pts, signoff_verdict, spoken, stress_matrix, table
from .view import RunView

SHOCK_COLUMNS = ("name", "type", "description", "start", "size", "probability", "duration")


def write_report(folder: Path, view: RunView, manifest: dict[str, Any]) -> list[Plot]:
    """Draw the charts into plots/ (PNG and SVG) and write report.html and board.html (with
    board.png and board.pdf) beside them, in the summary's language and currency."""
    with style(view.summary.get("language"), view.summary.get("currency")):
        return _write_report(folder, view, manifest)


def _write_report(folder: Path, view: RunView, manifest: dict[str, Any]) -> list[Plot]:
    """The user waits for the files once the years are played, with a second core idle: a
    forked process writes the workbook, then renders charts. Each process takes the next chart
    nobody has taken, so the two finish together whether the workbook is small or large."""
    from .plots.board import board_files
    plots = draw_all(view)
    taken = Value("i", 0)
    with aside(_workbook_then_charts, view.summary, view.replications, plots, taken) as other:
        board = board_files(view)
        rendered = _render_untaken(plots, taken)
        workbook, more = other()
    for p in plots:
        if p.name in more:
            p.close()           # rendered by the other process: the figure is done here too
    rendered.update(more)
    _write_pages(folder, view, manifest, plots, rendered)
    for fmt, data in board.items():
        write_bytes(folder / f"board.{fmt}", data)
    write_bytes(folder / "results.xlsx", workbook)
    return plots


def _render_untaken(plots: list[Plot], taken: Any) -> dict[str, dict[str, bytes]]:
    """Render, one at a time, the charts no other process has taken (`taken` counts them)."""
    out = {}
    while True:
        with taken.get_lock():
            i = taken.value
            taken.value += 1
        if i >= len(plots):
            return out
        out[plots[i].name] = plots[i].render()


def _workbook_then_charts(summary: dict[str, Any], replications: Any, plots: list[Plot],
                          taken: Any) -> tuple[bytes, dict[str, dict[str, bytes]]]:
    return workbook_bytes(summary, replications), _render_untaken(plots, taken)


def _write_pages(folder: Path, view: RunView, manifest: dict[str, Any], plots: list[Plot],
                 rendered: dict[str, dict[str, bytes]]) -> None:
    from .board import render_board
    images: dict[str, str] = {}
    if plots:
        (folder / "plots").mkdir(exist_ok=True)
    for p in plots:
        for fmt, data in rendered[p.name].items():
            write_bytes(folder / "plots" / f"{p.name}.{fmt}", data)
        images[p.name] = base64.b64encode(rendered[p.name]["png"]).decode("ascii")
    page = render_page(view, manifest, {p.name: (p.title, images[p.name]) for p in plots})
    write_text(folder / "report.html", page)
    write_text(folder / "board.html", render_board(view, manifest))


def numbered(parts: list[str]) -> list[str]:
    """The sections a run has, numbered in order (those it lacks are left out, not announced)."""
    numerals = "一二三四五六七八九" if language() == "zh" else "123456789"
    count = iter(numerals)
    return [re.sub(r"^<h2>(.*)</h2>$", lambda m: "<h2>" + say("h.numbered", n=next(count),
                                                             title=m.group(1)) + "</h2>", part)
            for part in parts]


def command(s: dict[str, Any]) -> str:
    """Which command made the run, from the sections it added to the summary."""
    return next((c for key, c in (("signoff", "signoff"), ("matrix", "stress"), ("advice", "advise"),
                                  ("split", "split"), ("comparisons", "compare"), ("sensitivity", "sensitivity"))
                 if s.get(key)), "run")


def page_title(s: dict[str, Any]) -> str:
    """The report's question: 'can we sign X?' for a run, the command's own for the others."""
    return say(f"title.{command(s)}", scenario=s["scenario"], target=money(s["target"]),
               metric=say(f"metric.{s['metric']}"))


def html_lang() -> str:
    return "zh-CN" if language() == "zh" else "en"


def render_page(view: RunView, manifest: dict[str, Any], figs: dict[str, tuple[str, str]]) -> str:
    s = view.summary
    parts = [f"<h1>{esc(page_title(s))}</h1>",
             "<p class=small>" + say("report.meta", runs=f"{s['runs']:,}", seed=s["seed"],
                                     seconds=f"{s.get('wall_seconds', s.get('seconds', 0)):.1f}") + "</p>"]
    if s.get("partial"):
        runs = f"{s['runs']:,}"
        parts.append(f"<p class=partial>{say('report.partial', runs=runs)}</p>")
    parts += [f"<p class=partial>{say('report.warning', text=esc(w))}</p>" for w in s.get("warnings", [])]
    parts += numbered(verdict(view, figs) + distributions(view, figs) + risks(view, figs)
                      + playbook(view, figs) + assumptions(manifest))
    p_hit = s["variants"][view.headline]["p_hit"]
    call = f"{(s.get('signoff') or {}).get('verdict', '')}, ".lstrip(", ")
    return (f"<!DOCTYPE html><html lang=\"{html_lang()}\"><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{esc(s['scenario'])}: {esc(call)}P(hit) {pct(p_hit)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")


def verdict(view: RunView, figs: dict[str, tuple[str, str]]) -> list[str]:
    s = view.summary
    v = s["variants"][view.headline]
    out = [f"<h2>{say('h.verdict')}</h2>"]
    if not v["runs"]:
        return out + [f"<p class=verdict>{say('verdict.none')}</p>"]
    out += signoff_verdict(s)
    values = view.rows()[s["metric"]].to_numpy()
    safe, even = highest_target(values, 0.8), highest_target(values, 0.5)   # as sign-off counts
    a = v["attainment"]
    if s.get("signoff") or s.get("matrix"):
        out.append(f"<h3>{say('h.plan_itself', name=esc(view.headline))}</h3>")
    out.append("<p class=verdict>" + say("verdict.p_hit", p=pct(v["p_hit"]), ci=ci(v["p_hit_ci95"]),
                                         phrase=esc(odds_phrase(v["p_hit"]))) + "</p>")
    out.append("<p>" + say("verdict.attainment", p10=pct(a["p10"]), p50=pct(a["p50"]),
                           p90=pct(a["p90"]), mean=pct(a["mean"])) +
               f" {signable_text(s, safe, even)}</p>")
    for h in v.get("harmful_rules") or []:
        lo, hi = (f"{100 * x:.1f}" for x in h["p_hit_diff_ci95"])
        out.append("<p class=partial>" + esc(say("verdict.harmful", rule=h["rule"], diff=f"{-100 * h['p_hit_diff']:.1f}",
                                                 lo=lo, hi=hi)) + "</p>")
    if s.get("signoff") or s.get("matrix"):
        pass    # the checks above, or the stress matrix in section 3, hold every column
    elif len(s["variants"]) > 1:
        out.append(table([say("col.variant"), say("col.years"), say("col.p_hit"), say("col.ci"),
                          say("col.attainment_p50")],
                         ([esc(n), f"{x['runs']:,}", pct(x["p_hit"]), ci(x["p_hit_ci95"]),
                           pct(x["attainment"]["p50"])] for n, x in s["variants"].items())))
    out += variants(view, figs)
    if s.get("advice"):
        out += advice(s["advice"], figs)
    if s.get("split"):
        out += split(s["split"])
    return out


def split(sp: dict[str, Any]) -> list[str]:
    """`advise --split`: each dimension's parts, their targets and P(hit) on fresh years."""
    out = [f"<h3>{say('h.split')}</h3>",
           "<p>" + say("split.intro", target=money(sp["target"]), runs=f"{sp['confirm_runs']:,}",
                       p=pct(sp["p_hit_total"], 0)) + "</p>"]
    for dim, d in sp["dimensions"].items():
        out.append(f"<h3>{say('split.dim', dim=say('dim.' + dim), level=pct(d['level'], 0))}</h3>")
        out.append(table(say("split.cols").split("|"),
                         ([esc(part_label(part, r)), money(r["target"]),
                           pct(r["share"], 0), pct(r["p_hit"], 0), ci(r["p_hit_ci95"]),
                           "-" if r["plan_target"] is None else money(r["plan_target"]),
                           "-" if r["gap"] is None else money(r["gap"])] for part, r in d["parts"].items())))
    out.append(f"<p class=small>{say('split.rep_note')}</p>")
    return out


def part_label(part: str, row: dict[str, Any]) -> str:
    """A part of the split, marked when fixed by the manager or held at a bound they set."""
    mark = say("split.fixed") if row["fixed"] else say(f"split.{row['bound']}") if row.get("bound") else ""
    return f"{part} {mark}".rstrip()


def advice(a: dict[str, Any], figs: dict[str, tuple[str, str]]) -> list[str]:
    """`advise`: the recommendation in one sentence, the cost front and the candidates."""
    r = a["recommended"]
    levers = ", ".join(f"{esc(k)} {v:g}" for k, v in r["levers"].items())
    stress = "; ".join(f"{esc(n)} {pct(v['p_hit'], 0)}" for n, v in r["stress"].items())
    said = say("adv.clears" if r["passes"] else "adv.closest")
    line = say("adv.line", levers=levers, cost=money(r["cost"]), p=pct(r["p_hit"], 0), ci=ci(r["p_hit_ci95"]),
               stress="; " + stress if stress else "")
    out = [f"<h3>{say('adv.h')}</h3>",
           f"<p><b>{line}</b> {said}; "
           + esc(say("adv.confirmed", chosen=r["chosen"], runs=f"{a['confirm']['runs']:,}")) + "</p>",
           figure(figs, "advice_frontier")]
    out.append(table(say("adv.cols").split("|"),
                     ([esc(c["name"]), esc(", ".join(f"{k} {v:g}" for k, v in c["levers"].items())),
                       money(c["cost"]), pct(c["p_hit"]), ci(c["p_hit_ci95"]), pts(c["p_hit_diff"]),
                       say("adv.yes" if c["passes"] else "adv.no")] for c in a["candidates"])))
    return out


def variants(view: RunView, figs: dict[str, tuple[str, str]]) -> list[str]:
    s = view.summary
    out = [f"<h3>{say('h.variants')}</h3>"]
    comps = s.get("comparisons")
    if not comps and s.get("matrix"):
        finding = esc(matrix_title(s["matrix"]))
        return out + [f"<p><b>{say('mx.under_stress', finding=finding)}</b> {say('mx.see_matrix')}</p>"]
    if not comps:
        return []
    out.append(figure(figs, "variants"))
    out.append(table([say("col.variant"), say("col.p_hit"), say("col.change_vs", name=view.headline),
                      say("col.ci"), say("col.beats")],
                     ([esc(n), pct(c["p_hit"]), pts(c["p_hit_diff"]),
                       ci(c["p_hit_diff_ci95"], True), "-" if n == view.headline else beats(c)]
                      for n, c in comps.items())))
    return out


def beats(c: dict[str, Any]) -> str:
    """P(books more than the plan); a variant that only moves the target books the same."""
    return say("beats.target_only") if c.get("target_only") else pct(c.get("p_beats_base"))


def lines_note(view: RunView) -> str:
    """What the thin lines of the attainment and bookings charts are, and which were left out."""
    s = view.summary
    drawn = companions(view)
    if not drawn:
        return ""
    kind = "stress" if s.get("matrix") else "shocks" if s.get("shocks") else "variants"
    if kind == "stress":
        head = view.headline.split(" @ ")[0]
        every = [f"{head} @ {sc}" for sc in s["matrix"]["scenarios"] if f"{head} @ {sc}" != view.headline]
    else:
        every = view.others()
    left = [view.label(n) for n in every if n not in drawn]
    out = say(f"lines.{kind}")
    if left:
        out += " " + say("lines.left_out", names=", ".join(left))
    return out


def signable_text(s: dict[str, Any], safe: float, even: float) -> str:
    """The 80 % target on the plan's own years; in a stress run or a sign-off, said to be the
    unstressed one, next to where the target under stress is."""
    share = say("signable.share", share=pct(safe / s["target"], 0))
    if s.get("signoff"):
        return say("signable.signoff", safe=money(safe), share=share, even=money(even),
                   signable=money(s["signoff"]["signable_target"]))
    key = "signable.stress" if s.get("matrix") else "signable.run"
    return say(key, safe=money(safe), share=share, even=money(even))


def distributions(view: RunView, figs: dict[str, tuple[str, str]]) -> list[str]:
    v = view.summary["variants"][view.headline]
    out = [f"<h2>{say('h.distributions')}</h2>"]
    note = lines_note(view)
    out += [figure(figs, n, note if n in ("attainment", "bookings_fan") else "")
            for n in ("attainment", "bookings_fan", "by_segment", "by_product")]
    for dim in ("segment", "product", "quarter", "region"):
        rows = v.get(f"by_{dim}") or {}
        if rows:
            out.append(f"<h3>{say('h.by', dim=say(f'dim.{dim}').lower())}</h3>")
            out.append(table([say(f"dim.{dim}").lower(), say("col.target"), "P10", say("col.median"),
                              "P90", say("col.attainment_p50"), say("col.p_hit")],
                             ([esc(n), money(r.get("target")), money(r["value"]["p10"]),
                               money(r["value"]["p50"]), money(r["value"]["p90"]),
                               pct((r.get("attainment") or {}).get("p50"), 0),
                               pct(r.get("p_hit"), 0)] for n, r in rows.items())))
    out += [f"<h3>{say('h.pipeline')}</h3>", figure(figs, "pipeline_health")]
    k = v.get("kpis") or {}
    if k.get("leads"):
        shares = k.get("stage_shares") or {}
        out.append(table([say("kpi.head"), say("col.value")], [
            [say("kpi.leads"), f"{k['leads']['p50']:,.0f}"],
            [say("kpi.signed"), f"{k['signed_deals']['p50']:,.0f}"],
            [say("kpi.renewal"), pct(k["ka_renewal_rate"]) if k.get("ka_renewal_rate") is not None
             else say("kpi.no_contract")],
            [say("kpi.left"), f"{k['reps_left']['mean']:.1f}"],
            [say("kpi.visits"), f"{k.get('visits_per_week') or 0:.1f}"],
            [say("kpi.shares"),
             " : ".join(pct(shares.get(st), 0) for st in ("lead", "intent", "negotiation"))]]))
    return out


def risks(view: RunView, figs: dict[str, tuple[str, str]]) -> list[str]:
    s = view.summary
    out: list[str] = []
    if not s.get("shocks") and (s.get("signoff") or s.get("matrix")):
        where = say("shocks.in_matrix" if s.get("matrix") else "shocks.in_checks")
        out += [f"<h3>{say('h.shocks')}</h3>", f"<p>{say('shocks.none_stress', where=where)}</p>"]
    elif s.get("shocks"):
        out.append(f"<h3>{say('h.shocks')}</h3>")
        written = (view.plan.get("shocks") or []) if view.plan else []
        sizes = ([spoken(w.get("size")) for w in written] if len(written) == len(s["shocks"])
                 else [None] * len(s["shocks"]))
        cols = [c for c in SHOCK_COLUMNS if any(x.get(c) is not None for x in s["shocks"])]
        out.append(table([say(f"shock.{c}") for c in cols], ([pct(x[c], 0) if c == "probability" and x.get(c) is not None
                                 else esc(size) if c == "size" and size
                                 else cell(x.get(c)) for c in cols]
                                for x, size in zip(s["shocks"], sizes)), len(cols)))
        rows = [[esc(n), pct(x["p_hit"]), esc(i.get("against")), pct(i.get("p_hit_baseline")),
                 pts(i.get("p_hit_diff")), ci(i.get("p_hit_diff_ci95"), True),
                 pts(i.get("attainment_mean_diff")), ci(i.get("attainment_mean_diff_ci95"), True)]
                for n, x in s["variants"].items() if (i := x.get("impact"))]
        if rows:
            out.append(table(say("impact.cols").split("|"), rows))
    out += stress_matrix(s, figs)
    if not (s.get("sensitivity") or {}).get("factors"):
        return [f"<h2>{say('h.risks')}</h2>"] + out if out else []
    out = [f"<h2>{say('h.risks')}</h2>"] + out
    out += [f"<h3>{say('h.moves')}</h3>", figure(figs, "sensitivity")]
    out.append(table(say("sens.report_cols").split("|"),
                     ([esc(term("factor", f["name"])), esc(level(f, "low")), esc(level(f, "high")),
                       pct(f["p_hit_low"]),
                       pct(f["p_hit_high"]), pct(f.get("p50_low")), pct(f.get("p50_high"))]
                      for f in s["sensitivity"]["factors"])))
    return out


def playbook(view: RunView, figs: dict[str, tuple[str, str]]) -> list[str]:
    ruled = {n: x["rules"] for n, x in view.summary["variants"].items() if x.get("rules")}
    if not ruled:
        return []
    out = [f"<h2>{say('h.playbook')}</h2>", figure(figs, "rule_firings")]
    if len(ruled) > 1:      # a decision run: the headline's rules stand for the rest
        ruled = dict(list(ruled.items())[:1])
    for name, rules in ruled.items():
        whole = view.summary["variants"][name].get("playbook")
        if whole:       # the shocked worlds with and without the whole playbook
            out.append("<p class='finding'>" + say(
                "playbook.whole", diff=pts(whole["p_hit_diff"]), ci=ci(whole["p_hit_diff_ci95"], True),
                without=pct(whole["p_hit_no_rules"]), with_=pct(view.summary["variants"][name]["p_hit"]))
                + "</p>")
        valued = any((r.get("value") or {}).get("p_hit_diff") is not None for r in rules.values())
        own = name.split(" @ ")[0] == "plan"       # in a stress run, 'plan @ baseline'
        heading = say("h.rules") if own else say("h.rules_in", name=esc(name))
        out.append(f"<h3>{heading}</h3>")
        rows = []
        for rule, r in rules.items():
            day = (r.get("first_firing_day") or {}).get("p50")
            known = day is not None and math.isfinite(day)
            when = day_month(view.date(day)) if known else "-"
            value = r.get("value") or {}
            rows.append([esc(rule), pct(r.get("fired_share"), 0), when,
                         pct(r.get("attainment_fired")), pct(r.get("attainment_not_fired"))]
                        + ([pts(value.get("p_hit_diff")), ci(value.get("p_hit_diff_ci95"), True)]
                           if valued else []))
        out.append(table([say("col.rule"), say("col.fires_in"), say("col.first_firing"),
                          say("col.att_fired"), say("col.att_not_fired")]
                         + ([say("col.rule_value"), say("col.ci")] if valued else []), rows))
        if not valued:
            out.append(f"<p class=small>{say('playbook.no_values')}</p>")
    return out


def day_month(day: Any) -> str:
    """A day of the year, short: '27 Apr', or '4月27日'."""
    return f"{day.month}月{day.day}日" if language() == "zh" else f"{day.day} {day:%b}"


def assumptions(manifest: dict[str, Any]) -> list[str]:
    """The resolved plan (after `extends`), in the units the plan's author wrote."""
    out = [f"<h2>{say('h.assumptions')}</h2>", f"<p>{say('assume.intro')}</p>"]
    plan = manifest.get("plan") or {}
    out += section("plan", plan)
    for seg in plan.get("segments") or []:
        contracts = ((seg.get("accounts") or {}) if isinstance(seg, dict) else {}).get("contracts")
        if is_items(contracts):
            out += section(say("book.h", segment=seg.get("name", "")), contracts)
    files = "".join(f"<li><code>{esc(f['path'])}</code> sha256 {esc(f['sha256'][:16])}…</li>"
                    for f in manifest.get("files", []))
    deps = ", ".join(f"{k} {v}" for k, v in (manifest.get("dependencies") or {}).items() if v)
    command = esc(" ".join(manifest.get("command", [])))
    folder = esc(manifest.get("folder", "RUN_FOLDER"))
    out.append(f"<h3>{say('h.reproduce')}</h3><p><code>python -m simulate rerun "
               f"{folder}/manifest.json</code></p><ul>{files}</ul>"
               f"<p class=small>{say('assume.command')}: <code>{command}</code>; Python "
               f"{esc(manifest.get('python'))}; {esc(deps)}.</p>")
    return out


def section(title: str, value: Any) -> list[str]:
    """A mapping as a setting/value table, a list of named items as one table with a row each;
    lists of items nested in a mapping (the team's reps) get a table of their own."""
    if is_items(value):
        cols = list(dict.fromkeys(k for item in value for k in item))
        rows = ([plan_cell(c, item[c]) if c in item else "" for c in cols] for item in value)
        return [f"<h3>{esc(title)}</h3>", table(cols, rows, len(cols))]
    rows = [[esc(k), cell(v)] for k, v in value.items() if not is_items(v) and
            not (title == "plan" and isinstance(v, dict))]
    out = [f"<h3>{esc(title)}</h3>", table([say("col.setting"), say("col.value")], rows, 2)] if rows else []
    for k, v in value.items():
        if is_items(v) or (title == "plan" and isinstance(v, dict)):
            out += section(k if title == "plan" else f"{title}: {k}", v)
    return out


TERMS = {"kind": "segment", "portfolio": "class"}   # columns whose values the methodology names


def plan_cell(column: str, value: Any) -> str:
    """A cell of a plan table: a segment's kind and a product's portfolio class in the
    methodology's words (大客户 / 中小客户 / 老客户召回, 明星 / 金牛 / 问题 / 瘦狗), the rest as written."""
    if column in TERMS and isinstance(value, str):
        return esc(term(TERMS[column], value))
    return cell(value)


def is_items(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) for i in value)


def cell(value: Any) -> str:
    """A plan value as readable text: mappings one entry per line, distributions as name(args)."""
    if isinstance(value, dict) and not is_distribution(value):
        return "<br>".join(f"{esc(k)}: {book(v) if k == 'contracts' and is_items(v) else inline(v)}"
                           for k, v in value.items())
    if is_items(value):   # a rule's actions: one per line
        return "<br>".join(inline(item) for item in value)
    return inline(value)


def book(contracts: list[dict[str, Any]]) -> str:
    """A book of contracts in one line (the table of them follows the plan's tables)."""
    values = [float(c.get("contract_value") or 0) for c in contracts]
    dates = sorted(str(c.get("renewal_date", "")) for c in contracts)
    top = max(range(len(contracts)), key=values.__getitem__)
    return esc(say("book.summary", n=len(contracts), value=money(sum(values)), first=dates[0], last=dates[-1],
                   largest=money(values[top]), account=contracts[top].get("account", "")))


def inline(value: Any) -> str:
    """A value on one line: {gamma: {mean: 21d, sd: 10d}} reads gamma(mean 21d, sd 10d)."""
    if is_distribution(value):
        (family, args), = value.items()
        return f"{esc(family)}({inline(args)})"
    if isinstance(value, dict):
        return ", ".join(f"{esc(k)} {inline(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(inline(v) for v in value)
    return esc("-" if value is None else value)


def is_distribution(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in FAMILIES
