"""Who holds key accounts from the first day, what happens to work filed for a rep who has
not started yet, a re-forecast's clock, which starts on its as-of day, and lever edits
(shocks, rules) that overlap and end in any order."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import SCENARIOS
from factory import make_plan

from simulate.cli.main import main
from simulate.engine.levers import LeverEdits, Levers
from simulate.engine.world import World
from simulate.engine.year import SalesYear

PRODUCT = [{"name": "p", "portfolio": "star", "price": 1000, "margin": "50%", "delivery_days": 3}]


def ka_team_plan(reps: list[dict]):
    """40 key accounts visited three times a quarter, no new-logo channel."""
    segment = {"name": "KA", "kind": "key_accounts", "mix": {"p": 1.0},
               "accounts": {"count": 40, "contract_value": 1000, "renewal_without_visits": 0.5,
                            "renewal_with_full_visits": 0.9, "renewal_after_rep_left": 0.5,
                            "visits_per_quarter": 3, "renewal_effort": 1}}
    return make_plan({"products": PRODUCT, "segments": [segment], "channels": [],
                      "team": {"reps": reps, "attrition_per_year": 0}})


def play(plan) -> SalesYear:
    year = SalesYear(World(plan, 1, 0))
    year.run()
    return year


def test_new_hires_hold_no_key_accounts_when_the_segment_has_seasoned_reps():
    year = play(ka_team_plan([{"name": "A", "segments": ["KA"], "visits_per_week": 20},
                              {"name": "N", "level": "new_hire", "start": "2027-01-04", "segments": ["KA"],
                               "visits_per_week": 20}]))
    owners = {acc.owner.name for book in year.books for acc in book.accounts}
    assert owners == {"A"}


def test_a_rep_who_starts_later_takes_up_the_work_filed_for_them():
    """B holds half the book from the start but arrives in June: the visits and renewal
    talks of their accounts wait for them and are done once they start, none is lost."""
    year = play(ka_team_plan([{"name": "A", "segments": ["KA"], "visits_per_week": 20},
                              {"name": "B", "segments": ["KA"], "start": "2027-06-01", "visits_per_week": 20}]))
    team = year.world.team
    b = next(r for r in team.reps if r.name == "B")
    assert b.active and b.visits > 0
    assert team.orphans.get(b.index, []) == []
    their_visits = [d for book in year.books for acc in book.accounts if acc.owner is b for d in acc.visit_days]
    assert their_visits and min(their_visits) >= b.joined


# --- re-forecast: the clock starts on the as-of day ---------------------------------------------

DATA = SCENARIOS / "data"


def reforecast(tmp_path, as_of: str, runs: int = 3) -> int:
    return main([str(SCENARIOS / "baseline.yaml"), "--from-pipeline", str(DATA / "deals.csv"),
                 str(DATA / "accounts.csv"), "--as-of", as_of, "--runs", str(runs), "--workers", "1",
                 "--quiet", "--rule-value-runs", "0", "--out", str(tmp_path / "run")])


def test_a_reforecast_on_the_last_day_is_the_bookings_to_date(tmp_path):
    assert reforecast(tmp_path, "2027-12-31") == 0
    records = pd.read_parquet(tmp_path / "run" / "replications.parquet")
    assert records["bookings"].nunique() == 1 and records["bookings"].iloc[0] > 0


def test_a_reforecast_after_the_horizon_is_refused(tmp_path, capsys):
    assert reforecast(tmp_path, "2028-01-01") == 2
    assert "outside the plan's horizon 2027-01-01 to 2027-12-31" in capsys.readouterr().err


# --- lever edits that end in any order ------------------------------------------------------------

@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
@pytest.mark.parametrize("factors", [(0.0, 0.5), (0.5, 0.0), (0.0, 0.0), (0.8, 0.5)])
def test_overlapping_lever_edits_undo_to_the_product_still_in_force(factors, order):
    """A 100 % cut (factor 0) overlapping another edit: the lever reads the product of the
    edits in force, whichever is applied or ended first, and 1 once both have ended."""
    levers = Levers()
    edits = [LeverEdits(levers), LeverEdits(levers)]
    for e, f in zip(edits, factors):
        e.scale(levers.lead_boost, "SMB", f)
    assert levers.lead_boost["SMB"] == pytest.approx(factors[0] * factors[1])
    first, second = order
    edits[first].undo()
    assert levers.lead_boost["SMB"] == pytest.approx(factors[second])
    edits[second].undo()
    assert levers.lead_boost["SMB"] == pytest.approx(1.0) and levers.zeroed == {}
