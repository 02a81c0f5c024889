"""What the manager reads in the terminal: the verdict first, then the breakdowns.

Plain text with aligned columns, so it reads the same in a terminal, a CI log or an email.
"""

from __future__ import annotations

from typing import Any

from ..format import money, odds_phrase, pct


def render(summary: dict[str, Any]) -> str:
    """The compact summary printed after a run."""
    lines = []
    for name, v in summary["variants"].items():
        title = summary["scenario"] if name == "plan" else f"{summary['scenario']} / {name}"
        partial = "  (PARTIAL: interrupted)" if summary.get("partial") else ""
        lines.append(f"{title}: {v['runs']:,} simulated years, target {money(summary['target'])} "
                     f"{summary['metric']}{partial}")
        lo, hi = v["p_hit_ci95"]
        lines.append(f"  P(target hit)  {pct(v['p_hit'])}   (95 % CI {pct(lo)} to {pct(hi)})")
        lines.append(f"  Verdict        {odds_phrase(v['p_hit'])}")
        seq = summary.get("sequential")
        if name == "plan" and seq:
            side = "above" if v["p_hit"] >= seq["bar"] else "below"
            lines.append(f"  Sign-off bar   {pct(seq['bar'], 0)}: " + (
                f"P(hit) settled {side} it after {seq['runs']:,} of {seq['max_runs']:,} years"
                if seq["settled"] else f"not settled by {seq['runs']:,} years (the CI includes it)"))
        if v.get("impact"):
            i = v["impact"]
            lo, hi = (100 * x for x in i["p_hit_diff_ci95"])
            lines.append(f"  Shocks' impact P(hit) {100 * i['p_hit_diff']:+.1f} pts (95 % CI "
                         f"{lo:+.1f} to {hi:+.1f}) against {pct(i['p_hit_baseline'])} without them")
        if v.get("playbook"):
            b = v["playbook"]
            lo, hi = (100 * x for x in b["p_hit_diff_ci95"])
            lines.append(f"  Playbook value P(hit) {100 * b['p_hit_diff']:+.1f} pts (95 % CI "
                         f"{lo:+.1f} to {hi:+.1f}) against {pct(b['p_hit_no_rules'])} without it")
        a = v["attainment"]
        lines.append(f"  Attainment     mean {pct(a['mean'])}   P10 {pct(a['p10'])}   "
                     f"P50 {pct(a['p50'])}   P90 {pct(a['p90'])}")
        for dim, label in (("by_segment", "Segment"), ("by_product", "Product"), ("by_quarter", "Quarter")):
            lines.extend(_table(label, v[dim], summary["metric"]))
        valued = {rule: r["value"] for rule, r in (v.get("rules") or {}).items() if r.get("value")}
        if valued:
            lines.extend(["", "  Rule value     ΔP(hit)   years   stopped"])
            for rule, val in valued.items():
                lines.append(f"  {rule:<28}{100 * val['p_hit_diff']:+6.1f} pts {val['runs']:>7,}   "
                             f"{val.get('stopped', 'fixed sample')}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _table(label: str, rows: dict[str, Any], metric: str) -> list[str]:
    if not rows:
        return []
    width = max(len(label), *(len(n) for n in rows)) + 2
    out = ["", f"  {label:<{width}}{'target':>9}{'P10':>9}{'P50':>9}{'P90':>9}{'attain P50':>12}{'P(hit)':>9}"]
    for name, r in rows.items():
        val = r["value"]
        att = r.get("attainment")
        out.append(f"  {name:<{width}}{money(r['target']):>9}{money(val['p10']):>9}{money(val['p50']):>9}"
                   f"{money(val['p90']):>9}{pct(att['p50'] if att else None, 0):>12}"
                   f"{pct(r.get('p_hit'), 0):>9}")
    return out
