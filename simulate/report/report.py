"""report.html: the one file a manager sends to whoever signs the target off.

It reads top-down in the order a sign-off meeting runs: the verdict, the distributions
behind it, the risks, what the playbook is worth, and last the assumptions (the plan as
simulated). It is a single self-contained page: the charts are embedded PNGs, every number
is text (searchable, copyable), and nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

from ..files import write_bytes, write_text
from ..format import money, odds_phrase, pct
from ..plan.distributions import FAMILIES
from ..stats.sample_stats import highest_target
from .plots import draw_all
from .plots.charts import Plot
from .plots.decide import matrix_title
from .sections import ABSENT, CSS, ci, esc, figure, pts, signoff_verdict, stress_matrix, table
from .view import RunView

SHOCK_COLUMNS = ("name", "type", "description", "start", "size", "probability", "duration")


def write_report(folder: Path, view: RunView, manifest: dict[str, Any]) -> list[Plot]:
    """Draw the charts into plots/ (PNG and SVG) and write report.html beside them."""
    plots = draw_all(view)
    images: dict[str, str] = {}
    if plots:
        (folder / "plots").mkdir(exist_ok=True)
    for p in plots:
        rendered = p.render()
        for fmt, data in rendered.items():
            write_bytes(folder / "plots" / f"{p.name}.{fmt}", data)
        images[p.name] = base64.b64encode(rendered["png"]).decode("ascii")
    page = render_page(view, manifest, {p.name: (p.title, images[p.name]) for p in plots})
    write_text(folder / "report.html", page)
    return plots


def render_page(view: RunView, manifest: dict[str, Any], figs: dict[str, tuple[str, str]]) -> str:
    s = view.summary
    question = f"can we sign {money(s['target'])} of {esc(s['metric'])}?"
    parts = [f"<h1>{esc(s['scenario'])}: {question}</h1>",
             (f"<p class=small>{s['runs']:,} simulated years, seed {s['seed']}, "
              f"run in {s.get('seconds', 0):.1f} s.</p>")]
    if s.get("partial"):
        parts.append("<p class=partial>PARTIAL: the run was interrupted; these figures cover only "
                     f"the {s['runs']:,} years completed.</p>")
    parts += [f"<p class=partial>Warning: {esc(w)}</p>" for w in s.get("warnings", [])]
    parts += verdict(view, figs) + distributions(view, figs) + risks(view, figs)
    parts += playbook(view, figs) + assumptions(manifest)
    p_hit = s["variants"][view.headline]["p_hit"]
    call = f"{(s.get('signoff') or {}).get('verdict', '')}, ".lstrip(", ")
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>{esc(s['scenario'])}: {esc(call)}P(hit) {pct(p_hit)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")


def verdict(view: RunView, figs: dict[str, tuple[str, str]]) -> list[str]:
    s = view.summary
    v = s["variants"][view.headline]
    out = ["<h2>1. The verdict</h2>"]
    if not v["runs"]:
        return out + ["<p class=verdict>No simulated year completed: nothing to judge.</p>"]
    out += signoff_verdict(s)
    values = view.rows()[s["metric"]].to_numpy()
    safe, even = highest_target(values, 0.8), highest_target(values, 0.5)   # as sign-off counts
    a = v["attainment"]
    if s.get("signoff") or s.get("matrix"):
        out.append(f"<h3>The plan itself ({esc(view.headline)}, no stress)</h3>")
    out.append(f"<p class=verdict>P(target hit) {pct(v['p_hit'])} "
               f"(95 % CI {ci(v['p_hit_ci95'])}): {esc(odds_phrase(v['p_hit']))}.</p>")
    out.append(f"<p>Attainment: P10 {pct(a['p10'])}, median {pct(a['p50'])}, P90 {pct(a['p90'])}, "
               f"mean {pct(a['mean'])}. {signable_text(s, safe, even)}</p>")
    if s.get("signoff") or s.get("matrix"):
        pass    # the checks above, or the stress matrix in section 3, hold every column
    elif len(s["variants"]) > 1:
        out.append(table(["variant", "years", "P(hit)", "95 % CI", "attainment P50"],
                         ([esc(n), f"{x['runs']:,}", pct(x["p_hit"]), ci(x["p_hit_ci95"]),
                           pct(x["attainment"]["p50"])] for n, x in s["variants"].items())))
    out += variants(view, figs)
    if s.get("advice"):
        out += advice(s["advice"], figs)
    if not s.get("signoff"):
        out += ["<h3>Sign-off against the bar</h3>",
                ABSENT.format(what="A sign-off (python -m simulate signoff)")]
    return out


def advice(a: dict[str, Any], figs: dict[str, tuple[str, str]]) -> list[str]:
    """`advise`: the recommendation in one sentence, the cost front and the candidates."""
    r = a["recommended"]
    levers = ", ".join(f"{esc(k)} {v:g}" for k, v in r["levers"].items())
    stress = "; ".join(f"{esc(n)} {pct(v['p_hit'], 0)}" for n, v in r["stress"].items())
    said = ("clears the bar" if r["passes"] else "does not clear the bar (the closest found)")
    out = ["<h3>What to change</h3>",
           f"<p><b>{levers}: cost {money(r['cost'])}; P(hit) {pct(r['p_hit'], 0)} "
           f"({ci(r['p_hit_ci95'])}){'; ' + stress if stress else ''}.</b> It {said}; "
           f"{esc(r['chosen'])}, confirmed on {a['confirm']['runs']:,} fresh years per plan.</p>",
           figure(figs, "advice_frontier")]
    out.append(table(["candidate", "levers", "cost", "P(hit)", "95 % CI", "vs recommended", "clears"],
                     ([esc(c["name"]), esc(", ".join(f"{k} {v:g}" for k, v in c["levers"].items())),
                       money(c["cost"]), pct(c["p_hit"]), ci(c["p_hit_ci95"]), pts(c["p_hit_diff"]),
                       "yes" if c["passes"] else "no"] for c in a["candidates"])))
    return out


def variants(view: RunView, figs: dict[str, tuple[str, str]]) -> list[str]:
    s = view.summary
    out = ["<h3>Plan variants</h3>"]
    comps = s.get("comparisons")
    if not comps and s.get("matrix"):
        finding = esc(matrix_title(s["matrix"]))
        return out + [(f"<p><b>Under stress: {finding}.</b> Each plan variant under each stress "
                       "scenario: see the stress matrix in section 3.</p>")]
    if not comps:
        return out + [ABSENT.format(what="Comparing plan variants")]
    out.append(figure(figs, "variants"))
    out.append(table(["variant", "P(hit)", f"change vs {view.headline}", "95 % CI", "P(beats it)"],
                     ([esc(n), pct(c["p_hit"]), pts(c["p_hit_diff"]),
                       ci(c["p_hit_diff_ci95"], True), pct(c.get("p_beats_base"))]
                      for n, c in comps.items())))
    return out


def signable_text(s: dict[str, Any], safe: float, even: float) -> str:
    """The 80 % target on the plan's own years; in a stress run or a sign-off, said to be the
    unstressed one, next to where the target under stress is."""
    share = f"({pct(safe / s['target'], 0)} of the proposed target)"
    if s.get("signoff"):
        return (f"On the plan's own, unstressed years, 80 % reach {money(safe)} {share} and the "
                f"median year books {money(even)}; with the stress scenarios counted, the target "
                f"you can sign is <b>{money(s['signoff']['signable_target'])}</b> (above).")
    if s.get("matrix"):
        return (f"On the plan's own, unstressed years, 80 % reach {money(safe)} {share} and the "
                f"median year books {money(even)}; how the target fares under stress is in "
                "section 3.")
    return (f"A target you can sign with <b>80 % confidence is {money(safe)}</b> {share}; the "
            f"median year books {money(even)}.")


def distributions(view: RunView, figs: dict[str, tuple[str, str]]) -> list[str]:
    v = view.summary["variants"][view.headline]
    out = ["<h2>2. The distributions</h2>"]
    out += [figure(figs, n) for n in ("attainment", "bookings_fan", "by_segment", "by_product")]
    for dim in ("segment", "product", "quarter", "region"):
        rows = v.get(f"by_{dim}") or {}
        if rows:
            out.append(f"<h3>By {dim}</h3>")
            out.append(table([dim, "target", "P10", "median", "P90", "attainment P50", "P(hit)"],
                             ([esc(n), money(r.get("target")), money(r["value"]["p10"]),
                               money(r["value"]["p50"]), money(r["value"]["p90"]),
                               pct((r.get("attainment") or {}).get("p50"), 0),
                               pct(r.get("p_hit"), 0)] for n, r in rows.items())))
    out += ["<h3>Pipeline health</h3>", figure(figs, "pipeline_health")]
    k = v.get("kpis") or {}
    if k.get("leads"):
        shares = k.get("stage_shares") or {}
        out.append(table(["KPI (per simulated year)", "value"], [
            ["leads, median", f"{k['leads']['p50']:,.0f}"],
            ["signed deals, median", f"{k['signed_deals']['p50']:,.0f}"],
            ["key-account renewal rate", pct(k.get("ka_renewal_rate"))],
            ["reps who left, mean", f"{k['reps_left']['mean']:.1f}"],
            ["rep visits per week, mean", f"{k.get('visits_per_week') or 0:.1f}"],
            ["open pipeline lead : intent : negotiation",
             " : ".join(pct(shares.get(st), 0) for st in ("lead", "intent", "negotiation"))]]))
    return out


def risks(view: RunView, figs: dict[str, tuple[str, str]]) -> list[str]:
    s = view.summary
    out = ["<h2>3. The risks</h2>", "<h3>Shocks</h3>"]
    if not s.get("shocks") and (s.get("signoff") or s.get("matrix")):
        where = ("played in the stress matrix below" if s.get("matrix") else
                 "in the checks of section 1, with each shock's breaking point")
        out.append(f"<p>The plan itself has no shocks; the stress scenarios are {where}.</p>")
    elif not s.get("shocks"):
        out.append(ABSENT.format(what="Shocks (price cuts, departures, budget cuts...)"))
    else:
        cols = [c for c in SHOCK_COLUMNS if any(x.get(c) is not None for x in s["shocks"])]
        out.append(table(cols, ([pct(x[c], 0) if c == "probability" and x.get(c) is not None
                                 else cell(x.get(c)) for c in cols] for x in s["shocks"]),
                         len(cols)))
        rows = [[esc(n), pct(x["p_hit"]), esc(i.get("against")), pct(i.get("p_hit_baseline")),
                 pts(i.get("p_hit_diff")), ci(i.get("p_hit_diff_ci95"), True),
                 pts(i.get("attainment_mean_diff")), ci(i.get("attainment_mean_diff_ci95"), True)]
                for n, x in s["variants"].items() if (i := x.get("impact"))]
        if rows:
            out.append(table(["variant", "P(hit)", "against", "its P(hit)", "impact on P(hit)",
                              "95 % CI", "impact on mean attainment", "95 % CI"], rows))
    out += stress_matrix(s, figs)
    out.append("<h3>What moves P(hit) most</h3>")
    if not (s.get("sensitivity") or {}).get("factors"):
        return out + [ABSENT.format(what="Sensitivity analysis")]
    out.append(figure(figs, "sensitivity"))
    out.append(table(["factor", "low", "high", "P(hit) at low", "P(hit) at high", "median at low",
                      "median at high"],
                     ([esc(f["name"]), esc(f["low"]), esc(f["high"]), pct(f["p_hit_low"]),
                       pct(f["p_hit_high"]), pct(f.get("p50_low")), pct(f.get("p50_high"))]
                      for f in s["sensitivity"]["factors"])))
    return out


def playbook(view: RunView, figs: dict[str, tuple[str, str]]) -> list[str]:
    out = ["<h2>4. The playbook's value</h2>"]
    ruled = {n: x["rules"] for n, x in view.summary["variants"].items() if x.get("rules")}
    if not ruled:
        return out + [ABSENT.format(what="A playbook of rules")]
    out.append(figure(figs, "rule_firings"))
    for name, rules in ruled.items():
        whole = view.summary["variants"][name].get("playbook")
        if whole:       # the shocked worlds with and without the whole playbook
            out.append(f"<p class='finding'>The whole playbook is worth <b>{pts(whole['p_hit_diff'])}</b> of "
                       f"P(hit) ({ci(whole['p_hit_diff_ci95'], True)}) in these shocked years: "
                       f"{pct(whole['p_hit_no_rules'])} without it, {pct(view.summary['variants'][name]['p_hit'])} "
                       f"with it.</p>")
        out.append(f"<h3>Rules in '{esc(name)}'</h3>")
        rows = []
        for rule, r in rules.items():
            day = (r.get("first_firing_day") or {}).get("p50")
            known = day is not None and math.isfinite(day)
            when = f"{view.date(day).day} {view.date(day):%b}" if known else "-"
            value = r.get("value") or {}
            rows.append([esc(rule), pct(r.get("fired_share"), 0), when,
                         pct(r.get("attainment_fired")), pct(r.get("attainment_not_fired")),
                         pts(value.get("p_hit_diff")), ci(value.get("p_hit_diff_ci95"), True)])
        out.append(table(["rule", "fires in", "first firing (median)", "attainment when fired",
                          "when not fired", "value: P(hit)", "95 % CI"], rows))
    return out


def assumptions(manifest: dict[str, Any]) -> list[str]:
    """The resolved plan (after `extends`), in the units the plan's author wrote."""
    out = ["<h2>5. The assumptions</h2>", "<p>The plan as simulated, after <code>extends</code> "
           "was resolved, in its author's units.</p>"]
    out += section("plan", manifest.get("plan") or {})
    files = "".join(f"<li><code>{esc(f['path'])}</code> sha256 {esc(f['sha256'][:16])}…</li>"
                    for f in manifest.get("files", []))
    deps = ", ".join(f"{k} {v}" for k, v in (manifest.get("dependencies") or {}).items() if v)
    command = esc(" ".join(manifest.get("command", [])))
    folder = esc(manifest.get("folder", "RUN_FOLDER"))
    out.append(f"<h3>Reproduce this run</h3><p><code>python -m simulate rerun "
               f"{folder}/manifest.json</code></p><ul>{files}</ul>"
               f"<p class=small>Command: <code>{command}</code>; Python "
               f"{esc(manifest.get('python'))}; {esc(deps)}.</p>")
    return out


def section(title: str, value: Any) -> list[str]:
    """A mapping as a setting/value table, a list of named items as one table with a row each;
    lists of items nested in a mapping (the team's reps) get a table of their own."""
    if is_items(value):
        cols = list(dict.fromkeys(k for item in value for k in item))
        rows = ([cell(item[c]) if c in item else "" for c in cols] for item in value)
        return [f"<h3>{esc(title)}</h3>", table(cols, rows, len(cols))]
    rows = [[esc(k), cell(v)] for k, v in value.items() if not is_items(v) and
            not (title == "plan" and isinstance(v, dict))]
    out = [f"<h3>{esc(title)}</h3>", table(["setting", "value"], rows, 2)] if rows else []
    for k, v in value.items():
        if is_items(v) or (title == "plan" and isinstance(v, dict)):
            out += section(k if title == "plan" else f"{title}: {k}", v)
    return out


def is_items(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) for i in value)


def cell(value: Any) -> str:
    """A plan value as readable text: mappings one entry per line, distributions as name(args)."""
    if isinstance(value, dict) and not is_distribution(value):
        return "<br>".join(f"{esc(k)}: {inline(v)}" for k, v in value.items())
    if is_items(value):   # a rule's actions: one per line
        return "<br>".join(inline(item) for item in value)
    return inline(value)


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
