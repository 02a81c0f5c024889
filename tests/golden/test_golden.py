"""Golden outcomes: the bundled plans' first five years, pinned to the bit.

A refactoring must not change a single simulated year. These records were written by the
code before a move; a change of model that alters outcomes on purpose regenerates them with
`python tests/golden/test_golden.py --write` and says why in its commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SCENARIOS = ROOT / "scenarios"
GOLDEN = HERE / "outcomes.json"
YEARS = 5
PINNED = ("bookings", "revenue", "collections", "margin", "leads", "open_start", "signed", "lost",
          "ka_renewed", "reps_left", "hires")


def outcomes(name: str) -> list[dict]:
    """Replications 0-4 of a bundled scenario: totals, the bookings by segment, the events
    and the rule firings."""
    from simulate.engine.year import simulate_year
    from simulate.load.loader import load_plan
    plan = load_plan(SCENARIOS / name)
    years = []
    for r in range(YEARS):
        result = simulate_year(plan, plan.seed, r)
        rec = result.record
        years.append({
            **{k: rec[k] for k in PINNED if k in rec},
            **{k: v for k, v in rec.items() if k.startswith(("segment:", "fired:"))},
            "events": result.events,
            "firings": [list(f) for f in result.firings],
        })
    return years


def bundled() -> list[str]:
    return sorted(p.name for p in SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("name", bundled())
def test_the_bundled_plans_play_the_same_years(name):
    pinned = json.loads(GOLDEN.read_text(encoding="utf-8"))[name]
    assert json.loads(json.dumps(outcomes(name))) == pinned


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    sys.path.insert(0, str(ROOT))
    GOLDEN.write_text(json.dumps({n: outcomes(n) for n in bundled()}, indent=1) + "\n", encoding="utf-8")
