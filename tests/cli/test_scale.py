"""Scale: a company of 1,000 reps and 100,000 key accounts plays its year in bounded memory.

The plan is generated (half the reps on key accounts, half on new logos with 20,000 leads a
year), and two years are played through the runner in a fresh process over a half-year
horizon, so that the test stays under a minute. The cost is printed: wall time, events,
peak memory, and the memory after each year, which must not grow from one year to the next
(the runner keeps one flat row and the weekly KPIs per year, never a ledger).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_MB = 1500

PROBE = r"""
import json, resource, sys, time
sys.path[:0] = [{tests!r}, {root!r}]
from factory import make_plan
from simulate.run.executors import InProcess
from simulate.run.runner import run_replications

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

t0 = time.perf_counter()
plan = make_plan({{
    "horizon": {{"years": 0.5}}, "target": {{"annual": "1bn"}},
    "segments": [
        {{"name": "SMB", "kind": "new_logo", "mix": {{"p": 1.0}}, "funnel": {{
            "lead": {{"advance": 0.6, "time": 5, "effort": 0.25}}, "intent": {{"advance": 0.5, "time": 5, "effort": 1}},
            "negotiation": {{"advance": 0.5, "time": 5, "effort": 1}}, "units": 10}}}},
        {{"name": "KA", "kind": "key_accounts", "mix": {{"p": 1.0}}, "accounts": {{
            "count": 100_000, "contract_value": {{"lognormal": {{"mean": 20000, "sd": 8000}}}},
            "renewal_without_visits": 0.8, "renewal_with_full_visits": 0.92,
            "renewal_after_rep_left": 0.7, "visits_per_quarter": 1}}}}],
    "channels": [{{"name": "web", "segment": "SMB", "budget_share": 1.0, "leads_per_year": 20000}}],
    "team": {{"reps": [{{"name": f"r{{i}}", "visits_per_week": 10, "segments": ["KA"] if i % 2 else ["SMB"]}}
                       for i in range(1000)], "attrition_per_year": 0.15}},
}})
built = time.perf_counter() - t0
after = []
def progress(done, total):
    after.append(rss_mb())
res = run_replications(plan, 2, 1, executor=InProcess(), batch_size=1, progress=progress)
rec = res.variants["plan"].records
print(json.dumps({{"build_s": built, "run_s": res.seconds, "events": res.variants["plan"].events,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_after_mb": after,
                  "ka_due": float(rec["ka_due"].sum()), "leads": float(rec["leads"].sum()),
                  "reps": len(plan.team.reps), "accounts": plan.segments[1].accounts.count}}))
"""


@pytest.mark.slow
def test_a_thousand_reps_and_a_hundred_thousand_accounts_in_bounded_memory():
    code = PROBE.format(tests=str(ROOT / "tests"), root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    cost = json.loads(done.stdout.strip().splitlines()[-1])
    per_year = cost["run_s"] / 2
    print(f"\nscale: {cost['reps']} reps, {cost['accounts']:,} key accounts, half-year horizon, 2 years played")
    print(f"  plan built and validated in {cost['build_s']:.2f} s")
    print(f"  {per_year:.1f} s and {cost['events'] / 2:,.0f} events per year "
          f"({cost['events'] / cost['run_s']:,.0f} events/s); renewals due {cost['ka_due'] / 2:,.0f}, "
          f"leads {cost['leads'] / 2:,.0f} per year")
    print(f"  peak memory {cost['peak_mb']:.0f} MB; resident after each year "
          + ", ".join(f"{m:.0f} MB" for m in cost["rss_after_mb"]))
    assert cost["ka_due"] > 0 and cost["leads"] > 0
    assert cost["peak_mb"] < MAX_MB
    first, second = cost["rss_after_mb"]
    assert second < first * 1.15 + 50, "memory does not build up from one year to the next"
