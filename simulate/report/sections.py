"""report.html's building blocks, and the parts the decision commands add to it.

The helpers (tables, intervals, figures) are shared by every section of the report. The
sections here answer the questions asked before a target is signed: `signoff` (the verdict
on the proposed target against the bar in the plan's `signoff:` block, the target that can
be signed, and how big each shock may get before the target breaks) and `matrix` (every plan
variant under every stress scenario, each variant's weakest scenario marked).
"""

from __future__ import annotations

import html
import math
from typing import Any, Iterable

from ..format import money, pct, size_text
from ..words import say

CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2327;
max-width:1040px;margin:0 auto;padding:24px}h1{font-size:26px;margin:0 0 4px}
h2{border-bottom:2px solid #1f5f8b;padding-bottom:4px;margin-top:40px}h3{margin:24px 0 8px}
.verdict{font-size:22px;font-weight:600;background:#eef4f9;border-left:6px solid #1f5f8b;
padding:14px 18px}.partial{background:#fdecea;border-left:6px solid #c0392b;padding:10px 16px;
font-weight:600}.absent{color:#7f8c8d;font-style:italic}table{border-collapse:collapse;
margin:8px 0 16px;font-size:13.5px;display:block;max-width:100%;overflow-x:auto}
th,td{border:1px solid #d5dde3;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f6f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:16px 0}figure img{max-width:100%;height:auto;border:1px solid #e3e8ec}
figcaption{font-size:13px;color:#555}code{background:#f3f6f8;padding:1px 4px}
.small{font-size:12.5px;color:#555}
.signoff{padding:14px 18px;margin:12px 0;border-left:8px solid}.signoff p{margin:6px 0}
.signoff.yes{background:#e8f5ec;border-color:#2e7d4f}.signoff.no{background:#fdecea;
border-color:#c0392b}.signoff .call{font-size:28px;font-weight:700;letter-spacing:.5px}
.signoff.yes .call{color:#1e6b3e}.signoff.no .call{color:#a93226}
.pass{color:#1e6b3e;font-weight:600}.fail{color:#a93226;font-weight:700}
td.weak{background:#fdecea;outline:2px solid #c0392b;outline-offset:-2px}
td.cellm{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.tag{font-size:11.5px;font-weight:700;color:#a93226;text-transform:uppercase}
td.n,.nw{white-space:nowrap}
@media (max-width:600px){body{padding:10px;font-size:14px}h1{font-size:21px}h2{margin-top:28px}
.verdict{font-size:18px;padding:10px 12px}.signoff{padding:10px 12px}.signoff .call{font-size:22px}
table{font-size:12.5px}th,td{padding:3px 5px}
table.stack,table.stack tbody,table.stack tr,table.stack td{display:block}
table.stack tr:first-child{display:none}table.stack tr{border:1px solid #d5dde3;margin:0 0 8px}
table.stack td{border:none;border-bottom:1px solid #eef1f3;text-align:left;white-space:normal}
table.stack td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:#555}}
"""


STACK_FROM = 5      # a table this wide reads as one card per row on a phone


def esc(x: Any) -> str:
    return html.escape(str(x))


def figure(figs: dict[str, tuple[str, str]], name: str, note: str = "") -> str:
    """A chart with its finding, how to read it, and `note` (what its lines are)."""
    if name not in figs:
        return ""
    title, data = figs[name]
    return (f"<figure><img src='data:image/png;base64,{data}' alt='{esc(title)}'><figcaption>"
            f"<b>{esc(title)}.</b> {esc(say('read.' + READ.get(name, name)))} {esc(note)} "
            f"{esc(say('read.slide', name=name))}</figcaption></figure>")


# How to read each chart (read.<key> in the catalogue), printed under it after its finding.
READ = {"by_segment": "boxes", "by_product": "boxes"}


def table(header: Iterable[str], rows: Iterable[Iterable[Any]], numeric_from: int = 1,
          numeric_to: int | None = None) -> str:
    """An HTML table; columns `numeric_from` to `numeric_to` (default: the last) are
    right-aligned numbers, the others text."""
    header = list(header)
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    last = math.inf if numeric_to is None else numeric_to
    labels = [f" data-label='{esc(h)}'" for h in header]
    body = "".join("<tr>" + "".join(f"<td{' class=n' if numeric_from <= i < last else ''}"
                                    f"{labels[i] if i < len(labels) else ''}>{cell}</td>"
                                    for i, cell in enumerate(row)) + "</tr>"
                   for row in rows)
    stack = " class=stack" if len(header) >= STACK_FROM else ""   # cards on a phone
    return f"<table{stack}><tr>{head}</tr>{body}</table>"


def ci(pair: list[float] | None, points: bool = False) -> str:
    """An interval, kept on one line."""
    if not pair or any(x is None for x in pair):
        return "-"
    if points:
        lo, hi = f"{100 * pair[0]:+.1f}", f"{100 * pair[1]:+.1f} pts"
    else:
        lo, hi = pct(pair[0]), pct(pair[1])
    return f"<span class=nw>{say('range', lo=lo, hi=hi)}</span>"


def spoken(size: Any) -> str | None:
    """A shock size as its author wrote it, in words: {triangular: [15%, 20%, 30%]} reads
    '15% to 30%, most likely 20%'; None when there is nothing to say."""
    if not isinstance(size, dict) or len(size) != 1:
        return None if size is None else str(size)
    (family, args), = size.items()
    if family == "triangular" and isinstance(args, list) and len(args) == 3:
        return say("size.triangular", lo=args[0], mode=args[1], hi=args[2])
    if family == "uniform" and isinstance(args, list) and len(args) == 2:
        return say("size.uniform", lo=args[0], hi=args[1])
    if isinstance(args, dict):
        return f"{family}: " + ", ".join(f"{k} {v}" for k, v in args.items())
    return None


def pts(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:+.1f} pts"


# ---- signoff: section 1 -------------------------------------------------------------------

def on_fewer_years(so: dict[str, Any]) -> set[str]:
    """The checks that stopped early because they cannot set the signable target (a check
    of an older summary, without its years, is taken as complete)."""
    most = max((c.get("runs", 0) for c in so["checks"]), default=0)
    return {c["scenario"] for c in so["checks"]
            if c.get("runs", most) < most and c["scenario"] != so.get("signable_binding")}


def signoff_verdict(s: dict[str, Any]) -> list[str]:
    """The call on the proposed target, the checks behind it, the signable target, and each
    shock's breaking point. Empty when the run is not a sign-off."""
    so = s.get("signoff")
    if not so:
        return []
    bar, checks = so["bar"], so["checks"]
    failing = [c["scenario"] for c in checks if not c["passes"]]
    sign = so["verdict"] == "sign"
    why = (say("so.all_pass", n=len(checks)) if sign else
           say("so.some_fail", k=len(failing), n=len(checks), names=esc(", ".join(failing))))
    target = say("so.target", target=money(so["target"]), metric=esc(say(f"metric.{so['metric']}")))
    out = [f"<div class='signoff {'yes' if sign else 'no'}'>",
           f"<div class=call>{say('so.sign' if sign else 'so.no_sign')} {target}</div>",
           "<p>" + why + " " + say("so.bar", plan=pct(bar["confidence"], 0),
                                   stress=pct(bar["stress_confidence"], 0)) + "</p>",
           signable_sentence(so), "</div>"]
    rows, fewer = [], on_fewer_years(so)
    for i, c in enumerate(checks):
        lo, hi = c["p_hit_ci95"]
        close = (f" <span class=small>{say('so.close')}</span>"
                 if lo < c["required"] <= hi else "")
        if c["scenario"] in fewer:
            close += " <span class=small>" + say("so.fewer", runs=f"{c['runs']:,}") + "</span>"
        result = (f"<span class=pass>{say('so.passes')}</span>" if c["passes"] else
                  f"<span class=fail>{say('so.fails')}</span>")
        own = f" <span class=small>{say('so.own')}</span>" if i == 0 else ""
        name = esc(c["scenario"]) + own
        rows.append([name, pct(c["p_hit"]), ci(c["p_hit_ci95"]), f"≥ {pct(c['required'], 0)}",
                     result + close])
    out.append(table([say("col.scenario"), say("col.p_hit"), say("col.ci"), say("col.required"),
                      say("col.result")], rows, 1, 4))
    return out + breaking_points(so)


def signable_sentence(so: dict[str, Any]) -> str:
    t, (lo, hi) = so["signable_target"], so["signable_target_ci95"]
    binding = so["signable_binding"]
    at = "; ".join(f"{esc(n)} {pct(p, 0)}" for n, p in (so.get("signable_p_hit") or {}).items())
    note = ("" if so.get("signable_converged", True) else
            f" <b>It did not settle after {so.get('signable_rounds')} rounds: check it with more "
            "runs.</b>")
    return "<p>" + say("so.signable", target=money(t), lo=money(lo), hi=money(hi),
                       share=pct(t / so["target"], 0), binding=esc(binding), at=at) + f"{note}</p>"


def breaking_points(so: dict[str, Any]) -> list[str]:
    out = [f"<h3>{say('so.h_breaking')}</h3>"]
    points = so.get("breaking_points") or []
    if not points:
        return []
    search = so.get("search") or {}
    bar = pct(so["bar"]["stress_confidence"], 0)
    rows = []
    for b in points:
        unit = b["unit"]
        (held, failed), (p_held, p_failed) = b["searched"], b["p_hit_searched"]
        declared = size_text(b["declared_size"], unit)
        if b["status"] == "breaks":
            at = size_text(b["breaks_at"], unit)
            bracket = say("bp.holds_fails", held=size_text(held, unit), p_held=pct(p_held, 0),
                          failed=size_text(failed, unit), p_failed=pct(p_failed, 0))
            room = b["breaks_at"] - b["declared_size"]
            status = (say("bp.breaks_below", declared=declared) if room <= 0 else
                      say("bp.room", room=headroom(room, unit), declared=declared))
        elif b["status"] == "holds at any size":
            at = say("bp.never")
            bracket = say("bp.largest", p=pct(p_failed, 0), size=size_text(failed, unit))
            status = say("bp.any_size")
        else:
            at = size_text(0.0, unit)
            bracket = say("bp.at_zero", p=pct(p_held, 0))
            status = say("bp.fails_zero")
        rows.append([esc(b["scenario"]), esc(b["shock"]), declared, at, bracket, status])
    out.append(table([say("col.scenario"), say("col.shock"), say("col.declared"),
                      say("col.breaks_at"), say("col.bracket"), say("col.status")], rows, 2, 4))
    playbook = say("bp.on") if search.get("playbook") else say("bp.off")
    out.append("<p class=small>" + say("bp.note", bar=bar, playbook=playbook, runs=f"{search.get('runs', 0):,}")
               + "</p>")
    return out


def headroom(x: float, unit: str) -> str:
    if unit == "fraction":
        return say("bp.pts", x=f"{100 * x:.1f}")
    return size_text(x, unit)


# ---- matrix: section 3 --------------------------------------------------------------------

def stress_matrix(s: dict[str, Any], figs: dict[str, tuple[str, str]]) -> list[str]:
    """Every variant under every scenario: P(hit), P10 attainment, expected shortfall."""
    m = s.get("matrix")
    out = [f"<h3>{say('h.matrix')}</h3>"]
    if not m or not m.get("variants"):
        return []
    out.append(figure(figs, "stress_matrix"))
    scenarios, weakest = m["scenarios"], m.get("weakest") or {}
    head = "".join(f"<th>{esc(sc)}{' ' + say('mx.no_stress') if sc == m.get('baseline') else ''}</th>"
                   for sc in scenarios)
    body = []
    for v, row in m["variants"].items():
        cells = []
        for sc in scenarios:
            c = row.get(sc)
            if c is None:
                cells.append("<td class=cellm>-</td>")
                continue
            weak = weakest.get(v) == sc
            cells.append(f"<td class='cellm{' weak' if weak else ''}'>"
                         f"{'<span class=tag>' + say('mx.weakest_tag') + '</span><br>' if weak else ''}"
                         f"<b>{say('mx.cell_p', p=pct(c['p_hit']))}</b><br><span class=small>"
                         f"{ci(c['p_hit_ci95'])}</span><br>P10 {pct(c['attainment_p10'])}<br>"
                         f"{say('mx.cell_short', amount=money(c['expected_shortfall']))}</td>")
        body.append(f"<tr><td>{esc(v)}<br><span class=small>"
                    f"{esc(say('mx.weakest_of', name=weakest.get(v) or '-'))}</span></td>{''.join(cells)}</tr>")
    out.append(f"<table><tr><th>{say('mx.variant')}</th>{head}</tr>{''.join(body)}</table>")
    out.append(f"<p class=small>{say('mx.note')}</p>")
    return out
