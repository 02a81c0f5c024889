"""board.html: the one page for the board, written by every run beside report.html.

The verdict, P(hit) with its interval, the target that can be signed, the main risks and what
to do, large enough to project and to print on one A4 page, and readable on a phone. Every
figure comes from summary.json; the detail stays in report.html.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..format import money, odds_phrase, pct, size_text
from ..stats.sample_stats import highest_target
from ..words import language, say, term
from .sections import esc
from .view import RunView

CONFIDENCE = 0.8        # the bar a plain run's signable target is read at, as in the report

CSS = """
@page{size:A4;margin:14mm}*{box-sizing:border-box}
body{font:17px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans CJK SC","Noto Sans SC",
sans-serif;color:#1d2327;max-width:820px;margin:0 auto;padding:20px}
h1{font-size:24px;margin:0 0 14px}h2{font-size:15px;text-transform:uppercase;letter-spacing:.6px;
color:#1f5f8b;margin:18px 0 6px}
.call{font-size:34px;font-weight:800;padding:12px 18px;border-left:10px solid;margin:0 0 10px}
.call.yes{background:#e8f5ec;border-color:#2e7d4f;color:#1e6b3e}
.call.no{background:#fdecea;border-color:#c0392b;color:#a93226}
.call.open{background:#eef4f9;border-color:#1f5f8b;color:#1f5f8b;font-size:24px}
.figures{display:flex;flex-wrap:wrap;gap:12px}.figure{flex:1 1 220px;border:1px solid #d5dde3;
padding:10px 14px}.big{font-size:40px;font-weight:800;white-space:nowrap}
.sub{color:#555;font-size:15px}ol,ul{margin:4px 0;padding-left:24px}li{margin:4px 0}
.foot{margin-top:18px;font-size:12.5px;color:#666;border-top:1px solid #d5dde3;padding-top:6px}
@media (max-width:600px){body{padding:12px;font-size:16px}.call{font-size:26px}.big{font-size:34px}}
@media print{body{padding:0}}
"""


def render_board(view: RunView, manifest: dict[str, Any]) -> str:
    """The page, in the language and currency in force."""
    s = view.summary
    v = s["variants"][view.headline]
    title = say("board.title", scenario=s["scenario"], target=money(s["target"]))
    runs = s["runs"]
    parts = [f"<h1>{esc(title)}</h1>", call(s, v)]
    if v["runs"]:
        parts.append("<div class=figures>" + odds_box(v) + signable_box(view) + "</div>")
    parts += [f"<h2>{say('board.h_risks')}</h2>",
              "<ul>" + "".join(f"<li>{esc(r)}</li>" for r in risks(s, v)) + "</ul>",
              f"<h2>{say('board.h_todo')}</h2>",
              "<ol>" + "".join(f"<li>{esc(t)}</li>" for t in todo(s, v, view)) + "</ol>",
              f"<p class=foot>{esc(say('board.foot', runs=f'{runs:,}', seed=s['seed']))}</p>"]
    lang = "zh-CN" if language() == "zh" else "en"
    return (f"<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            + "".join(parts).replace(" %", "\u00a0%") + "</body></html>\n")


def board_content(view: RunView) -> dict[str, Any]:
    """What the page says, as plain text, for board.png and board.pdf (plots/board.py): the
    same figures and sentences as board.html, plus the recommended levers after `advise`."""
    s = view.summary
    v = s["variants"][view.headline]
    kind, verdict, sub = decision(s, v)
    out: dict[str, Any] = {
        "title": say("board.title", scenario=s["scenario"], target=money(s["target"])),
        "kind": kind, "verdict": verdict, "verdict_sub": sub, "odds": None, "signable": None,
        "risks": risks(s, v), "todo": todo(s, v, view), "levers": levers(s),
        "foot": say("board.foot", runs=f"{s['runs']:,}", seed=s["seed"]),
        "h_risks": say("board.h_risks"), "h_todo": say("board.h_todo"),
        "h_levers": say("board.h_levers")}
    if v["runs"]:
        lo, hi = v["p_hit_ci95"]
        out["odds"] = (say("board.h_odds"), pct(v["p_hit"]), say("board.ci", ci=f"{pct(lo)} – {pct(hi)}"))
        target, confidence, binding = signable(view)
        bound = say("board.binding", name=binding) if binding else ""
        out["signable"] = (say("board.h_signable"), money(target),
                           say("board.signable", target=money(target),
                               share=pct(target / s["target"], 0), conf=pct(confidence, 0),
                               binding=bound))
    return out


def decision(s: dict[str, Any], v: dict[str, Any]) -> tuple[str, str, str]:
    """SIGN / DO NOT SIGN when the run checked the bar (`signoff`, or `advise` with its
    recommended levers), else the odds in words: (kind, verdict, the line under it)."""
    so, r = s.get("signoff"), (s.get("advice") or {}).get("recommended")
    if so:
        sign = so["verdict"] == "sign"
        return ("yes" if sign else "no"), f"{say('board.sign' if sign else 'board.no_sign')} {money(so['target'])}", ""
    if r:
        sign = bool(r["passes"])
        return (("yes" if sign else "no"), f"{say('board.sign' if sign else 'board.no_sign')} {money(s['target'])}",
                say("board.advise_yes" if sign else "board.advise_no"))
    return "open", odds_phrase(v["p_hit"]), say("board.no_bar")


def levers(s: dict[str, Any]) -> list[str]:
    """After `advise`: the changes that cost something (at most three), the cost and odds, and
    when nothing clears the bar, the target the closest set supports."""
    r = (s.get("advice") or {}).get("recommended")
    if not r:
        return []
    costs = r.get("costs") or {}
    paid = [(k, x) for k, x in r["levers"].items() if costs.get(k, 0) > 0]
    out = [say("board.lever", name=k, value=f"{x:g}") for k, x in paid[:3]] or [say("board.lever_none")]
    out.append(say("board.lever_cost", cost=money(r["cost"]), p=pct(r["p_hit"], 0)))
    if not r["passes"] and r.get("signable_target"):
        out.append(say("board.lever_fails", target=money(r["signable_target"])))
    return out


def call(s: dict[str, Any], v: dict[str, Any]) -> str:
    kind, verdict, sub = decision(s, v)
    return (f"<div class='call {kind}'>{esc(verdict)}" + (f"<div class=sub>{esc(sub)}</div>" if sub else "")
            + "</div>")


def odds_box(v: dict[str, Any]) -> str:
    lo, hi = v["p_hit_ci95"]
    return (f"<div class=figure><h2>{say('board.h_odds')}</h2><div class=big>{pct(v['p_hit'])}</div>"
            f"<div class=sub>{say('board.ci', ci=f'{pct(lo)} – {pct(hi)}')}</div></div>")


def signable(view: RunView) -> tuple[float, float, str]:
    """The target that can be signed, the confidence it is read at, and what binds it."""
    s = view.summary
    so = s.get("signoff")
    if so:
        return so["signable_target"], so["bar"]["confidence"], so.get("signable_binding") or ""
    r = (s.get("advice") or {}).get("recommended") or {}
    if r.get("signable_target"):        # what the closest lever set supports, every check counted
        return r["signable_target"], r["bar"]["confidence"], ""
    values = view.rows()[s["metric"]].to_numpy(dtype=float)
    return highest_target(values, CONFIDENCE) if values.size else np.nan, CONFIDENCE, ""


def signable_box(view: RunView) -> str:
    target, confidence, binding = signable(view)
    share = pct(target / view.summary["target"], 0)
    bound = say("board.binding", name=binding) if binding else ""
    text = say("board.signable", target=money(target), share=share, conf=pct(confidence, 0),
               binding=bound)
    return (f"<div class=figure><h2>{say('board.h_signable')}</h2><div class=big>"
            f"{esc(money(target))}</div><div class=sub>{esc(text)}</div></div>")


def risks(s: dict[str, Any], v: dict[str, Any]) -> list[str]:
    """At most three: the weakest scenario, a shock that breaks the target below its declared
    size, the factors that move P(hit) most, the shocks' impact, the weakest targeted segment."""
    out = []
    scenario = weakest_scenario(s)
    if scenario:
        out.append(say("board.risk_scenario", name=scenario[0], p=pct(scenario[1])))
    for b in ((s.get("signoff") or {}).get("breaking_points") or []):
        if b["status"] == "breaks" and b["breaks_at"] <= b["declared_size"]:
            out.append(say("board.risk_break", shock=b["shock"], scenario=b["scenario"],
                           at=size_text(b["breaks_at"], b["unit"]),
                           declared=size_text(b["declared_size"], b["unit"])))
    for f in ((s.get("sensitivity") or {}).get("factors") or [])[:2]:
        out.append(say("board.risk_factor", name=term("factor", f["name"]), low=pct(f["p_hit_low"], 0),
                       high=pct(f["p_hit_high"], 0)))
    if v.get("impact"):
        out.append(say("board.risk_shock", diff=f"{-100 * v['impact']['p_hit_diff']:.1f}",
                       base=pct(v["impact"]["p_hit_baseline"])))
    segments = {n: x for n, x in (v.get("by_segment") or {}).items() if x.get("p_hit") is not None}
    if segments:
        name = min(segments, key=lambda n: segments[n]["p_hit"])
        out.append(say("board.risk_segment", name=name, p=pct(segments[name]["p_hit"])))
    return out[:3] or [say("board.risk_none")]


def weakest_scenario(s: dict[str, Any]) -> tuple[str, float] | None:
    """The stress scenario with the lowest P(hit): from the sign-off's checks or the matrix."""
    so, m = s.get("signoff"), s.get("matrix")
    if so and len(so["checks"]) > 1:
        c = min(so["checks"][1:], key=lambda c: c["p_hit"])
        return c["scenario"], c["p_hit"]
    if m and m.get("variants"):
        plan = next(iter(m["variants"]))
        name = (m.get("weakest") or {}).get(plan)
        if name:
            return name, m["variants"][plan][name]["p_hit"]
    return None


def todo(s: dict[str, Any], v: dict[str, Any], view: RunView) -> list[str]:
    """At most three steps: sign or lower the target, the best clear lever, then PDCA."""
    out = []
    so = s.get("signoff")
    if so:
        if so["verdict"] == "sign":
            out.append(say("board.todo_sign", target=money(so["target"])))
        else:
            failing = [c["scenario"] for c in so["checks"] if not c["passes"]]
            out.append(say("board.todo_lower", proposed=money(so["target"]),
                           target=money(so["signable_target"]), name=", ".join(failing)))
    comps = s.get("comparisons") or {}
    clear = {n: c for n, c in comps.items() if (c.get("p_hit_diff_ci95") or [0])[0] > 0}
    if clear:
        best = max(clear, key=lambda n: clear[n]["p_hit_diff"])
        out.append(say("board.todo_raise", name=best, diff=f"{100 * clear[best]['p_hit_diff']:+.1f}"))
    book = v.get("playbook") or {}
    if (book.get("p_hit_diff_ci95") or [0])[0] > 0:
        out.append(say("board.todo_playbook", diff=f"{100 * book['p_hit_diff']:+.1f}"))
    factors = (s.get("sensitivity") or {}).get("factors") or []
    if factors:
        out.append(say("board.todo_factor", name=term("factor", factors[0]["name"])))
    p_hit = v["p_hit"] if v["runs"] else 0.0
    out.append(say("board.todo_safe" if p_hit >= CONFIDENCE else "board.todo_risky"))
    return out[:3]
