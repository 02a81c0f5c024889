"""The answer belongs to the plan: the book a manager holds is data, what they cannot know is
drawn in every simulated year, and P(hit) does not depend on the seed beyond its interval."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import SCENARIOS
from factory import make_plan
from scipy import stats
from stats_checks import ALPHA, assert_close

from simulate.engine.accounts import renewal_day
from simulate.engine.world import World
from simulate.engine.year import SalesYear
from simulate.load.loader import load_plan
from simulate.run.runner import run_replications

SEEDS = (1, 2, 3, 4, 5)


def key_accounts(accounts: dict) -> dict:
    return {"segments": [{"name": "KA", "kind": "key_accounts", "mix": {"p": 1.0}, "accounts": {
        **accounts, "renewal_without_visits": 0.8, "renewal_with_full_visits": 0.9,
        "renewal_after_rep_left": 0.5, "visits_per_quarter": 0}}],
        "channels": [], "target": {"annual": 1000}, "team": {"reps": [
            {"name": "A", "segments": ["KA"]}, {"name": "B", "segments": ["KA"]}], "attrition_per_year": 0}}


def book_of(plan, seed: int, replication: int) -> list[tuple]:
    year = SalesYear(World(plan, seed, replication))
    year.run()
    return [(a.value, a.renewal_day, a.owner.name) for a in year.books[0].accounts]


def test_the_contracts_held_are_the_book_in_every_year():
    contracts = [{"account": "Acme", "contract_value": "120k", "renewal_date": "2026-03-15", "product": "p",
                  "rep": "B"},
                 {"account": "Bolt", "contract_value": 80000, "renewal_date": "2027-11-30", "product": "p"}]
    plan = make_plan(key_accounts({"contracts": contracts}))
    books = {tuple(book_of(plan, seed, r)) for seed in (1, 2) for r in (0, 7)}
    # Acme renews on its anniversary and is held by B, as listed; Bolt is shared out (to B).
    assert books == {((120_000.0, 73.0, "B"), (80_000.0, 333.0, "B"))}


def test_a_book_described_by_a_count_is_drawn_afresh_in_every_year():
    plan = make_plan(key_accounts({"count": 30, "contract_value": {"lognormal": {"mean": 1000, "sd": 400}}}))
    totals = [sum(v for v, _, _ in book_of(plan, 1, r)) for r in range(40)]
    assert len(set(totals)) == 40, "one book per year, not one per seed"
    # The yearly book total is a sum of 30 draws: its mean and variance are the distribution's
    # (mean 30 x 1,000, variance 30 x 400^2). The variance check is chi-square on 39 degrees of
    # freedom (the sum of 30 lognormals is close to normal), at the suite's level.
    sd = 400 * np.sqrt(30)
    assert_close(float(np.mean(totals)), 30_000, sd / np.sqrt(40), "mean book total")
    ratio = 39 * np.var(totals, ddof=1) / sd**2
    lo, hi = stats.chi2.ppf([ALPHA / 2, 1 - ALPHA / 2], 39)
    assert lo <= ratio <= hi, f"book total variance: 39 s^2 / sigma^2 = {ratio:.1f}, outside [{lo:.1f}, {hi:.1f}]"


@pytest.mark.parametrize("renewal, start, day", [
    ("2027-03-01", "2027-01-01", 59), ("2025-03-01", "2027-01-01", 59), ("2027-12-31", "2027-07-01", 183),
    ("2027-01-05", "2027-07-01", 188), ("2024-02-29", "2027-01-01", 58)])
def test_a_renewal_date_falls_on_its_next_anniversary(renewal, start, day):
    assert renewal_day(dt.date.fromisoformat(renewal), dt.date.fromisoformat(start)) == day


def test_the_reference_plan_ships_its_book():
    book = load_plan(SCENARIOS / "baseline.yaml").segment("KA").accounts
    assert len(book.contracts) == 40 and book.count is None
    assert {c.rep for c in book.contracts} == {"Chen", "Li", "Wang", "Ma"}


def seed_homogeneity(plan, runs: int) -> tuple[float, list[float]]:
    """The p-value of a chi-square test that P(hit) is the same at every seed, and the P(hit)s."""
    hits = []
    for seed in SEEDS:
        records = run_replications(plan, runs, seed, workers=2).variants["plan"].records
        hits.append(int(records["hit"].sum()))
    table = np.array([[h, runs - h] for h in hits])
    if table[:, 0].sum() in (0, table.sum()):      # every year hits, or none: trivially homogeneous
        return 1.0, [h / runs for h in hits]
    return float(stats.chi2_contingency(table)[1]), [h / runs for h in hits]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.glob("*.yaml")))
def test_p_hit_is_a_property_of_the_plan_not_of_the_seed(name):
    """Five seeds: the P(hit)s are draws of one binomial (chi-square p >= 1e-4, the suite's level). With the
    book frozen per seed the reference plan gave 78 %, 9 % and 2 % at seeds 1, 3 and 7, a
    gap that 100 years per seed already shows at p < 1e-30; the reference plan gets 300."""
    runs = 300 if name == "baseline.yaml" else 100
    p, shares = seed_homogeneity(load_plan(SCENARIOS / name), runs)
    assert p >= ALPHA, f"{name}: P(hit) at seeds {SEEDS} = {shares}, chi-square p = {p:.2g}"
