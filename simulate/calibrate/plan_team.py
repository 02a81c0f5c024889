"""The sales team as the export left it: who sells what, and how reps come, go and grow.

The reps on the books at the export date work the plan's segments; leavers per rep-year set
the attrition, the gap from a leaver to the next hire the hiring delay, and the deals new
hires took on month by month their ramp-up. A rep's skill is their negotiation wins against
those expected at their segments' rate.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ..load.crm import RepRecord
from .estimates import MIN_N
from .plan_yaml import BASELINE, VISITS_PER_WEEK, PlanYaml, pct, pct1, yaml_str

if TYPE_CHECKING:
    from .calibration import Calibration


def team_reps(cal: Calibration) -> list[dict]:
    """The reps on the team at the export date (without reps.csv: the reps on the deals),
    working the plan's segments; a segment nobody works gets a rep to hire."""
    ex = cal.ex
    worked: dict[str, list[tuple[str, str | None]]] = {}
    for d in ex.deals:
        if d.rep:
            worked.setdefault(d.rep, []).append((d.segment, d.region))
    records = [r for r in ex.reps if r.hire <= ex.as_of and (r.leave is None or r.leave > ex.as_of)] \
        if ex.reps else [RepRecord(n, ex.start - dt.timedelta(days=365), None, None, (), None) for n in worked]
    out = []
    for r in records:
        deals = worked.get(r.name, [])
        segments = [s for s in r.segments if s in cal.segments] or \
            sorted({s for s, _ in deals if s in cal.segments})
        if not segments:    # works only what the export has no data for (win-back...): said in the review
            cal.defaults.append(f"team: {r.name} has no deal in the plan's segments and is left out of the team")
            continue
        regions = [g for _, g in deals if g]
        usual = max(dict.fromkeys(regions), key=regions.count) if regions else None  # ties: first seen
        new = (ex.as_of - r.hire).days < 6 * 365 / 12           # still training or mentored
        out.append({"name": r.name, "level": "new_hire" if new else
                    (r.level if r.level in ("core", "reserve") else "core"),
                    "start": r.hire if new else None, "segments": segments,
                    "region": r.region or usual})
    for seg in cal.segments:
        if not any(seg in r["segments"] for r in out):
            out.append({"name": f"{seg} rep (to hire)", "level": "core", "start": None,
                        "segments": [seg], "region": None})
            cal.defaults.append(f"team: nobody works {seg} at the export date; a rep to hire added")
    return out


def write_team(cal: Calibration, y: PlanYaml, reps: list[dict]) -> None:
    est = cal.est
    y.put(0, "team")
    att = est.attrition()
    if att.exposure >= 10:
        lo, hi = att.ci()
        y.put(2, "attrition_per_year", pct(min(att.value, 1.0)),
              f"{att.events} leavers in {att.exposure:.1f} rep-years (95 % CI {pct1(lo)} to {pct1(hi)})")
    else:
        y.put(2, "attrition_per_year", "15%", cal.default("attrition", f"only {att.exposure:.1f} rep-years"))
    gaps = sorted(est.hiring_delays())
    if len(gaps) >= 3:
        y.put(2, "hiring_delay", f"{gaps[len(gaps) // 2]}d",
              f"median days from a leaver to the next hire in the same segments (n={len(gaps)})")
    else:
        y.put(2, "hiring_delay", "2mo", cal.default("hiring delay", f"only {len(gaps)} leaver-to-hire gaps"))
    y.put(2, "handover_days", "30d", BASELINE)
    ramp = est.ramp_fit()
    if ramp is not None:
        train, pace, ratios, expected = ramp
        profile = ", ".join(f"m{m + 1} {r:.2f}" for m, r in enumerate(ratios) if r is not None)
        y.comment(2, f"ramp-up: deals new hires took on per month of tenure, against reps of a year's "
                     f"tenure in the same segments: {profile} ({expected:.0f} deals expected in months "
                     "1-6). Months below 0.2 count as training; the next three set the mentored pace "
                     "(deals taken match capacity only when reps are busy).")
        y.put(2, "training_months", str(train))
        y.put(2, "mentored_months", "3", BASELINE)
        y.put(2, "mentored_capacity", pct(min(max(pace, 0.05), 1.0)))
    else:
        reason = "too few new hires in the export to draw a ramp-up curve"
        y.put(2, "training_months", "3", cal.default("ramp-up", reason))
        y.put(2, "mentored_months", "3", BASELINE)
        y.put(2, "mentored_capacity", "40%", BASELINE)
    y.put(2, "mentoring_visits_per_week", "1", BASELINE)
    y.put(2, "mentees_per_mentor", "2", BASELINE)
    skills = est.skills()
    y.comment(2, f"skill: negotiation wins against those expected at the segment's rate, for reps with at "
                 f"least {MIN_N} negotiations (else 1); visits_per_week is the reference plan's "
                 f"{VISITS_PER_WEEK:g} (the export has no visits). {cal.effort_note[0].upper()}{cal.effort_note[1:]}.")
    y.put(2, "reps")
    for r in reps:
        parts = [f"name: {yaml_str(r['name'])}", f"level: {r['level']}"]
        if r["start"]:
            parts.append(f"start: {r['start']}")
        parts.append("segments: [" + ", ".join(yaml_str(s) for s in r["segments"]) + "]")
        if r["region"]:
            parts.append(f"region: {yaml_str(r['region'])}")
        note = ""
        rate, n = skills.get(r["name"], (None, 0))
        if rate is not None and n >= MIN_N:
            lo, hi = rate.ci()
            parts.append(f"skill: {min(max(rate.value, 0.05), 3):.3g}")
            note = f"{rate.events} wins of {n}, {rate.exposure:.1f} expected (95 % CI {lo:.2f} to {hi:.2f})"
        y.line(4, "- {" + ", ".join(parts) + "}", note)
