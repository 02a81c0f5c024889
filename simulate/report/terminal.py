"""What the manager reads in the terminal: the verdict first, then the breakdowns.

Plain text with aligned columns (wide Chinese characters count as two), so it reads the same
in a terminal, a CI log or an email, in the language of the summary.
"""

from __future__ import annotations

from typing import Any

from ..format import aligned, money, odds_phrase, pad, pct, style, width
from ..words import say


def render(summary: dict[str, Any]) -> str:
    """The compact summary printed after a run."""
    with style(summary.get("language"), summary.get("currency")):
        return _render(summary)


def _render(summary: dict[str, Any]) -> str:
    lines = []
    labels = [say(k) for k in ("term.p_hit", "term.verdict", "term.attainment", "term.bar")]
    column = max(width(label) for label in labels) + 2
    p_hit, verdict, attainment, bar = (pad(label, column) for label in labels)
    for name, v in summary["variants"].items():
        title = summary["scenario"] if name == "plan" else f"{summary['scenario']} / {name}"
        partial = say("term.partial") if summary.get("partial") else ""
        lines.append(say("term.head", title=title, runs=f"{v['runs']:,}", target=money(summary["target"]),
                         metric=say(f"metric.{summary['metric']}"), partial=partial))
        lo, hi = v["p_hit_ci95"]
        lines.append(f"  {p_hit}{pct(v['p_hit'])}   {say('term.ci', lo=pct(lo), hi=pct(hi))}")
        lines.append(f"  {verdict}{odds_phrase(v['p_hit'])}")
        seq = summary.get("sequential")
        if name == "plan" and seq:
            side = say("term.above" if v["p_hit"] >= seq["bar"] else "term.below")
            lines.append(f"  {bar}{pct(seq['bar'], 0)}: " + (
                say("term.settled", side=side, runs=f"{seq['runs']:,}", max=f"{seq['max_runs']:,}")
                if seq["settled"] else say("term.unsettled", runs=f"{seq['runs']:,}")))
        for key, part, base in (("term.impact", "impact", "p_hit_baseline"),
                                ("term.playbook", "playbook", "p_hit_no_rules")):
            if v.get(part):
                i = v[part]
                lo, hi = (f"{100 * x:+.1f}" for x in i["p_hit_diff_ci95"])
                lines.append("  " + say(key, diff=f"{100 * i['p_hit_diff']:+.1f}", lo=lo, hi=hi,
                                        base=pct(i[base])))
        for h in v.get("harmful_rules") or []:
            lo, hi = (f"{100 * x:+.1f}" for x in h["p_hit_diff_ci95"])
            lines.append("  " + say("term.harmful", rule=h["rule"], diff=f"{100 * h['p_hit_diff']:+.1f}", lo=lo, hi=hi))
        a = v["attainment"]
        lines.append(f"  {attainment}" + say("term.att_line", mean=pct(a["mean"]), p10=pct(a["p10"]),
                                             p50=pct(a["p50"]), p90=pct(a["p90"])))
        for dim in ("segment", "product", "quarter"):
            lines.extend(_table(say(f"dim.{dim}"), v[f"by_{dim}"]))
        valued = {rule: r["value"] for rule, r in (v.get("rules") or {}).items() if r.get("value")}
        if valued:
            first = max(width(say("term.rule_value")), *(width(r) for r in valued)) + 2
            delta, years, stopped = say("term.rule_cols").split("|")
            lines.extend(["", f"  {pad(say('term.rule_value'), first)}{pad(delta, 11)}{pad(years, 9)}{stopped}"])
            for rule, val in valued.items():
                diff, runs = f"{100 * val['p_hit_diff']:+.1f} pts", f"{val['runs']:,}"
                lines.append(f"  {pad(rule, first)}{pad(diff, 11)}{pad(runs, 9)}"
                             f"{val.get('stopped', say('term.fixed_sample'))}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _table(label: str, rows: dict[str, Any]) -> list[str]:
    if not rows:
        return []
    heads = [label, say("col.target"), "P10", "P50", "P90", say("col.attain_p50"), say("col.p_hit")]
    body = [[name, money(r["target"]), money(r["value"]["p10"]), money(r["value"]["p50"]),
             money(r["value"]["p90"]), pct((r.get("attainment") or {}).get("p50"), 0),
             pct(r.get("p_hit"), 0)] for name, r in rows.items()]
    return ["", *aligned([heads, *body], gap=3)]
