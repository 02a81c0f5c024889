"""The playbook: every action does what its docstring says, rules fire when they should.

Each registered action gets a small plan in which its lever is the only thing that moves,
and a rule that fires at the first weekly review (day 7). The test then asserts the
documented effect: exactly where the model is deterministic (a price, a delivery time, a
lever's value, a spend), against theory with a tolerance from the sample size where it is
not (a win rate, a lead count). Then the engine: a rule that never fires changes nothing;
a rule fires at the first review after its condition becomes true; once, cooldown,
priority and groups resolve conflicts deterministically; costs come out of the budget;
`--no-rules` and `--without`; bad rules fail at load with file, line and rule; and the
value of a rule is measured exactly on common random numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import SCENARIOS
from factory import make_plan, negotiation_funnel
from results_checks import same_record
from stats_checks import assert_binomial, assert_poisson, assert_poisson_binomial

import simulate.engine.year as year_module
from simulate.analysis import rule_value
from simulate.analysis.rule_value import rule_values
from simulate.cli.main import main
from simulate.engine.ledger import K
from simulate.engine.levers import Levers
from simulate.engine.metrics import OBSERVE, observe
from simulate.engine.world import World
from simulate.engine.year import SalesYear, simulate_year
from simulate.errors import UsageError
from simulate.load.loader import load_plan
from simulate.plan.plan import without_rules
from simulate.plan.rules import ACTIONS
from simulate.run.runner import run_replications
from simulate.run.scenario import apply_rule_switches
from simulate.stats.paired import paired_mean, paired_proportion

YEAR = 365.0
SEED = 13
FIRST_REVIEW = 7.0


# --- helpers ------------------------------------------------------------------------------





def new_logo(win: float = 0.5, lead_advance: float = 1.0, mix: dict | None = None, effort: float = 0) -> dict:
    return {"name": "SMB", "kind": "new_logo", "mix": mix or {"p": 1.0},
            "funnel": negotiation_funnel(win, lead_advance, effort)}


def key_accounts(count: int, renew: float = 0.8, after: float = 0.5) -> dict:
    return {"name": "KA", "kind": "key_accounts", "mix": {"p": 1.0},
            "accounts": {"count": count, "contract_value": 1000, "renewal_without_visits": renew,
                         "renewal_with_full_visits": renew, "renewal_after_rep_left": after,
                         "visits_per_quarter": 0, "renewal_effort": 0}}


def web(leads: float, elasticity: float = 0.7, name: str = "web", share: float = 1.0, **extra) -> dict:
    return {"name": name, "segment": "SMB", "budget_share": share, "leads_per_year": leads,
            "spend_elasticity": elasticity, **extra}


TWO_PRODUCTS = [{"name": "p", "portfolio": "star", "price": 1000, "margin": "50%", "delivery_days": 3,
                 "supplier": "s1"},
                {"name": "q", "portfolio": "dog", "price": 1000, "margin": "50%", "delivery_days": 3,
                 "supplier": "s2"}]


def rule(then: list[dict] | dict, name: str = "r", when: str | bool = True, check: str = "weekly",
         **extra) -> dict:
    return {"name": name, "check": check, "when": when,
            "then": then if isinstance(then, list) else [then], **extra}


def once(then: list[dict] | dict, **extra) -> dict:
    """A rule that fires at the first weekly review (day 7) and never again."""
    return rule(then, once=True, **extra)


def play(plan, r: int = 0, seed: int = SEED, probes: dict | None = None) -> SalesYear:
    """Run replication r and keep the year; `probes` {day: fn(year)} run at those days."""
    year = SalesYear(World(plan, seed, r))
    for day, fn in (probes or {}).items():
        year.world.at(day, lambda fn=fn: fn(year))
    year.run()
    return year


def firings(year: SalesYear) -> list[tuple]:
    return [(day, name, action) for day, name, action, _, _ in year.world.ledger.firings]


def fired_days(year: SalesYear, name: str) -> list[float]:
    return [day for day, n, *_ in year.world.ledger.firings if n == name]


def with_change_from_day_7(total: float, factor: float) -> float:
    """A yearly quantity whose rate is x factor from the first review (day 7) on."""
    return total * FIRST_REVIEW / YEAR + total * (YEAR - FIRST_REVIEW) / YEAR * factor


COVERED: set[str] = set()


def covers(action: str):
    """Mark a test as the proof of one registered action's documented effect."""
    COVERED.add(action)
    return lambda f: f


# --- each action, its documented effect -----------------------------------------------------


@covers("scale_win_rate")
def test_scale_win_rate_multiplies_the_negotiation_win_rate():
    """50 % x 1.4 = 70 %. The first negotiation ends on day 15, after the rule bites (day 7)."""
    plan = make_plan({"segments": [new_logo(0.5)], "channels": [web(2500)],
                      "rules": [once({"action": "scale_win_rate", "factor": 1.4})]})
    signed = lost = 0
    for r in range(3):
        year = play(plan, r)
        signed += year.world.ledger.counts["signed"]
        lost += year.world.ledger.counts["lost"]
        assert year.world.ledger.firings == [(FIRST_REVIEW, "r", "scale_win_rate", "factor=1.4", 0.0)]
    assert_binomial(signed, signed + lost, 0.7, "win rate after scale_win_rate 1.4")


@covers("scale_price")
def test_scale_price_multiplies_the_realised_price_of_the_products_named():
    plan = make_plan({"products": TWO_PRODUCTS, "segments": [new_logo(1.0, mix={"p": 0.5, "q": 0.5})],
                      "channels": [web(300)],
                      "rules": [once({"action": "scale_price", "products": ["q"], "factor": 0.9})]})
    year = play(plan)
    values = {name: {round(b.value, 6) for b in year.world.ledger.bookings
                     if year.world.product_names[b.product] == name} for name in ("p", "q")}
    assert values == {"p": {10_000.0}, "q": {9_000.0}}
    assert year.world.levers.price == {("*", "q"): 0.9}


@covers("scale_renewal")
def test_scale_renewal_multiplies_key_account_renewals_from_the_firing_on():
    """80 % before day 7, 80 % x 1.1 = 88 % after."""
    plan = make_plan({"segments": [key_accounts(1500)], "channels": [],
                      "rules": [once({"action": "scale_renewal", "segments": ["KA"], "factor": 1.1})]})
    renewed, probabilities = 0, []
    for r in range(2):
        year = play(plan, r)
        accounts = year.books[0].accounts
        probabilities += [0.8 if a.renewal_day < FIRST_REVIEW else 0.88 for a in accounts]
        renewed += year.world.ledger.counts["ka_renewed"]
    assert_poisson_binomial(renewed, probabilities, "renewals after scale_renewal 1.1")


@covers("bundle_uplift")
def test_bundle_uplift_adds_to_the_order_value_of_new_deals():
    plan = make_plan({"segments": [new_logo(1.0)], "channels": [web(200)],
                      "rules": [once({"action": "bundle_uplift", "segments": ["SMB"], "uplift": "15%"})]})
    year = play(plan)
    assert {round(b.value, 6) for b in year.world.ledger.bookings} == {11_500.0}


@covers("scale_visits")
def test_scale_visits_multiplies_every_rep_s_pace():
    """A saturated rep (38 leads a week, 1 visit each, 10 visits a week) works 10 visits in
    the first week and 20 a week after the rule doubles the pace: 10 + 20 x 358 / 7."""
    plan = make_plan({"segments": [new_logo(lead_advance=0.0, effort=1)], "channels": [web(2000)],
                      "team": {"reps": [{"name": "A", "visits_per_week": 10}]},
                      "rules": [once({"action": "scale_visits", "factor": 2})]})
    year = play(plan)
    rep = year.world.team.reps[0]
    assert year.world.team.visits_per_week(rep) == 20
    assert rep.visits == pytest.approx(10 + 20 * (YEAR - FIRST_REVIEW) / 7, abs=2)


@covers("scale_stage_time")
def test_scale_stage_time_shortens_the_customer_s_time_in_a_stage():
    """Negotiation 5 days x 0.5: every deal signs 2.5 days earlier than in the same world
    without the rule (the same leads arrive at the same times: common random numbers)."""
    base = make_plan({"segments": [new_logo(1.0)], "channels": [web(500)]})
    fast = make_plan({"segments": [new_logo(1.0)], "channels": [web(500)],
                      "rules": [once({"action": "scale_stage_time", "stage": "negotiation", "factor": 0.5})]})
    slow_days = sorted(b.day for b in play(base).world.ledger.bookings)
    fast_days = sorted(b.day for b in play(fast).world.ledger.bookings)
    assert len(fast_days) >= len(slow_days) > 100
    np.testing.assert_allclose(fast_days[:len(slow_days)], np.array(slow_days) - 2.5, atol=1e-9)


@covers("shift_budget")
def test_shift_budget_moves_spend_at_equal_money_and_leads_follow_each_curve():
    """40 % of web's half of the budget moves to shows: web spends 60 %, shows 140 % of plan;
    with elasticity 1 their leads move in proportion; the money spent is unchanged."""
    plan = make_plan({"segments": [new_logo(lead_advance=0.0)],
                      "channels": [web(3000, 1.0, "web", 0.5), web(3000, 1.0, "shows", 0.5)],
                      "rules": [once({"action": "shift_budget", "from": "web", "to": "shows", "share": "40%"})]})
    seen = {"web": 0, "shows": 0}
    for r in range(2):
        year = play(plan, r)
        assert year.world.levers.channel_spend == {"web": pytest.approx(0.6), "shows": pytest.approx(1.4)}
        assert year.world.ledger.money["marketing_spent"] == pytest.approx(100_000, rel=1e-9)
        for flow in year.flows:
            seen[flow.channel.name] += flow.leads_seen
    assert_poisson(seen["web"], 2 * with_change_from_day_7(3000, 0.6), "web leads after the shift")
    assert_poisson(seen["shows"], 2 * with_change_from_day_7(3000, 1.4), "shows leads after the shift")


@covers("shift_to_best_channel")
def test_shift_to_best_channel_moves_spend_to_the_channel_that_signed_best_so_far():
    """'good' leads convert 80 % (quality 1.6), 'bad' 20 % (quality 0.4), though 'bad' has
    more leads planned: observed conversion, not volume, decides."""
    plan = make_plan({"segments": [new_logo(1.0, lead_advance=0.5)],
                      "channels": [web(300, 1.0, "good", 0.5, quality=1.6),
                                   web(900, 1.0, "bad", 0.5, quality=0.4)],
                      "rules": [once({"action": "shift_to_best_channel", "share": "30%"}, when="day >= 70")]})
    year = play(plan)
    assert fired_days(year, "r") == [70.0]
    assert year.world.levers.channel_spend == {"bad": pytest.approx(0.7), "good": pytest.approx(1.3)}


@covers("stop_product_spend")
def test_stop_product_spend_stops_the_product_s_leads_and_saves_its_money():
    """q's leads stop from the firing: no q deal is born after day 7, so none signs after
    day 7 + 15. Its 40 % of marketing.by_product is no longer spent."""
    plan = make_plan({"products": TWO_PRODUCTS, "segments": [new_logo(1.0, mix={"p": 0.5, "q": 0.5})],
                      "channels": [web(1000)], "marketing": {"budget": 100_000, "by_product": {"p": "60%", "q": "40%"}},
                      "rules": [once({"action": "stop_product_spend", "product": "q"})]})
    year = play(plan)
    q_days = [b.day for b in year.world.ledger.bookings if b.product == 1]
    assert q_days and max(q_days) <= FIRST_REVIEW + 15 + 1e-9
    assert sum(1 for b in year.world.ledger.bookings if b.product == 0) > 300
    assert year.world.ledger.money["marketing_spent"] == pytest.approx(with_change_from_day_7(100_000, 0.6),
                                                                       rel=1e-9)


def test_stop_product_spend_reinvests_in_the_products_named():
    """q's 50 % share goes to p: p's leads x (1 + 0.5 / 0.5) ** 0.7 = 1.62."""
    plan = make_plan({"products": TWO_PRODUCTS, "segments": [new_logo(1.0, mix={"p": 0.5, "q": 0.5})],
                      "channels": [web(2000)], "marketing": {"budget": 100_000, "by_product": {"p": "50%", "q": "50%"}},
                      "rules": [once({"action": "stop_product_spend", "product": "q", "reinvest_in": ["p"]})]})
    born = 0
    for r in range(2):
        year = play(plan, r)
        born += sum(1 for b in year.world.ledger.bookings if b.product == 0 and b.day < 350 + 15)
    expected = 2 * 2000 * 0.5 * (FIRST_REVIEW + (350 - FIRST_REVIEW) * 2 ** 0.7) / YEAR
    assert_poisson(born, expected, "p deals after reinvesting q's budget")


@covers("boost_demand")
def test_boost_demand_multiplies_leads_without_spending_more():
    plan = make_plan({"segments": [new_logo(lead_advance=0.0)], "channels": [web(3000)],
                      "rules": [once({"action": "boost_demand", "segments": ["SMB"], "factor": 1.5})]})
    leads = 0
    for r in range(2):
        year = play(plan, r)
        leads += year.world.ledger.counts["leads"]
        assert year.world.ledger.money["marketing_spent"] == pytest.approx(100_000, rel=1e-9)
    assert_poisson(leads, 2 * with_change_from_day_7(3000, 1.5), "leads after boost_demand 1.5")


@covers("hire")
def test_hire_opens_positions_now():
    plan = make_plan({"segments": [new_logo()], "channels": [web(50)],
                      "rules": [once({"action": "hire", "count": 2, "hiring_delay": "30d"})]})
    year = play(plan)
    vacancies = year.world.ledger.kpi[:, K["vacancies"]]
    assert vacancies[1] == 2 and vacancies[0] == 0      # week 1 (days 7-14) has two openings
    assert year.world.ledger.counts["hires"] == 2
    assert [r.name for r in year.world.team.reps] == ["A", "hire 1", "hire 2"]


def test_hired_reps_start_after_the_hiring_delay():
    plan = make_plan({"segments": [new_logo()], "channels": [web(50)],
                      "rules": [once({"action": "hire", "count": 2, "hiring_delay": "30d", "level": "core"})]})
    year = play(plan)
    hires = [r for r in year.world.team.reps if r.name.startswith("hire")]
    assert [r.joined for r in hires] == [FIRST_REVIEW + 30] * 2
    assert all(r.level == "core" for r in hires)


@covers("handover_team")
def test_handover_team_keeps_renewals_of_a_leaver_s_accounts_at_the_floor():
    """A and B share 1,500 accounts; A resigns on day 120. Without the team, A's accounts
    renew at 50 % after that; with it at min(90 %, 85 %) = 85 %; B's at 90 % throughout."""
    plan = make_plan({"segments": [key_accounts(1500, renew=0.9, after=0.5)], "channels": [],
                      "team": {"reps": [{"name": "A", "visits_per_week": 50}, {"name": "B", "visits_per_week": 50}]},
                      "shocks": [{"type": "rep_leaves", "reps": ["A"], "start": "2027-05-01"}],
                      "rules": [rule({"action": "handover_team", "renewal_floor": "85%"}, check="rep_left",
                                     once=True)]})
    renewed, probabilities = 0, []
    for r in range(2):
        year = play(plan, r)
        assert fired_days(year, "r") == [120.0]
        for a in year.books[0].accounts:
            probabilities.append(0.85 if a.lost_rep and a.renewal_day > 120 else 0.9)
        renewed += year.world.ledger.counts["ka_renewed"]
    assert_poisson_binomial(renewed, probabilities, "renewals with a hand-over team")


def test_handover_team_speeds_up_the_hand_over_of_the_rep_whose_leaving_fired_it():
    """handover_days 7d: the leaver's book has a successor a week after they leave, not 30 days."""
    plan = make_plan({"segments": [key_accounts(100)], "channels": [],
                      "team": {"reps": [{"name": "A"}, {"name": "B"}], "handover_days": "30d"},
                      "shocks": [{"type": "rep_leaves", "reps": ["A"], "start": "2027-05-01"}],
                      "rules": [rule({"action": "handover_team", "renewal_floor": "85%", "handover_days": "7d"},
                                     check="rep_left", once=True)]})
    seen = {}
    year = play(plan, probes={120 + 7.5: lambda y: seen.setdefault("successor", y.world.team.reps[0].successor)})
    assert seen["successor"] is year.world.team.reps[1]


@covers("backup_supplier")
def test_backup_supplier_caps_delivery_and_costs_margin():
    """cloud s1 is 30 days late (delivery 33 > 14 days of tolerance): the rule reacts at the
    first review; from then every p deal is delivered in 7 days, none is lost for lateness,
    and 3 % of each deal's value comes off margin."""
    plan = make_plan({"products": TWO_PRODUCTS, "segments": [new_logo(1.0)], "channels": [web(500)],
                      "shocks": [{"type": "supplier_delay", "supplier": "s1", "start": "2027-01-01", "size": "30d"}],
                      "rules": [once({"action": "backup_supplier", "supplier": "s1", "max_delivery_days": "7d",
                                      "cost_premium": "3%"}, when="supplier_delay_days > 7")]})
    year = play(plan)
    ledger = year.world.ledger
    assert fired_days(year, "r") == [FIRST_REVIEW]
    assert {round(b.delivered_day - b.day, 9) for b in ledger.bookings} == {7.0}
    assert ledger.counts["lost_late_delivery"] == 0
    rec = ledger.record(year.rep_names)
    assert rec["margin"] == pytest.approx(rec["bookings"] * (0.5 - 0.03), rel=1e-9)


@covers("training")
def test_training_multiplies_the_win_rate_of_the_levels_named():
    """A core rep's 50 % x 1.25 = 62.5 %; the lever leaves other levels alone."""
    plan = make_plan({"segments": [new_logo(0.5)], "channels": [web(2500)],
                      "rules": [once({"action": "training", "factor": 1.25, "levels": ["core"]})]})
    signed = lost = 0
    for r in range(3):
        year = play(plan, r)
        assert year.world.levers.skill == {"core": 1.25}
        signed += year.world.ledger.counts["signed"]
        lost += year.world.ledger.counts["lost"]
    assert_binomial(signed, signed + lost, 0.625, "core win rate after training 1.25")


@covers("mentoring")
def test_mentoring_lets_each_core_rep_coach_more_new_hires():
    """One core rep may coach 1 new hire (team setting): the second ramping new hire has no
    mentor until the rule raises the limit to 2; mentored new hires win x 1.2."""
    plan = make_plan({"segments": [new_logo()], "channels": [web(50)],
                      "team": {"mentees_per_mentor": 1,
                               "reps": [{"name": "M"},
                                        {"name": "H1", "level": "new_hire", "start": "2026-12-01"},
                                        {"name": "H2", "level": "new_hire", "start": "2026-12-01"}]},
                      "rules": [once({"action": "mentoring", "mentees_per_mentor": 2, "new_hire_win_rate": 1.2})]})
    seen: dict = {}

    def look(when):
        return lambda y: seen.setdefault(when, [(r.name, r.mentor.name if r.mentor else None) for r in y.world.team.reps])
    year = play(plan, probes={3: look("before"), 8: look("after")})
    assert seen["before"] == [("M", None), ("H1", "M"), ("H2", None)]
    assert seen["after"] == [("M", None), ("H1", "M"), ("H2", "M")]
    assert year.world.levers.skill == {"new_hire": 1.2}


def test_every_registered_action_has_a_test_of_its_documented_effect():
    assert COVERED == set(ACTIONS), f"untested actions: {sorted(set(ACTIONS) - COVERED)}"


def test_an_action_with_no_delay_bites_in_the_week_of_the_review():
    """The weekly review closes week k and the rule fires; with delay 0 its levers are in
    force for week k + 1's leads and spend, exactly like a delay of a few hours would not
    be. (Here: the money of a stopped product is saved from day 7, not day 14.)"""
    plan = make_plan({"products": TWO_PRODUCTS, "segments": [new_logo(lead_advance=0.0, mix={"p": 0.5, "q": 0.5})],
                      "channels": [web(10)], "marketing": {"budget": 100_000, "by_product": {"p": "50%", "q": "50%"}},
                      "rules": [once({"action": "stop_product_spend", "product": "q"})]})
    spent = play(plan).world.ledger.money["marketing_spent"]
    assert spent == pytest.approx(with_change_from_day_7(100_000, 0.5), rel=1e-9)


def test_delay_and_duration_bound_when_an_action_is_in_force():
    """delay 2w, duration 4w: the price lever is 0.8 from day 21 to day 49, 1 otherwise."""
    plan = make_plan({"segments": [new_logo(1.0)], "channels": [web(50)],
                      "rules": [once({"action": "scale_price", "factor": 0.8}, delay="2w", duration="4w")]})
    seen = {}

    def price_on(day: float):
        return lambda y: seen.__setitem__(day, y.world.levers.price_factor("SMB", "p"))
    year = play(plan, probes={day: price_on(day) for day in (20.9, 21.1, 48.9, 49.1)})
    assert seen == {20.9: 1.0, 21.1: pytest.approx(0.8), 48.9: pytest.approx(0.8), 49.1: pytest.approx(1.0)}
    assert fired_days(year, "r") == [FIRST_REVIEW]


# --- a rule that never fires changes nothing ----------------------------------------------------


def test_a_rule_that_never_fires_leaves_every_result_identical():
    base = load_plan(SCENARIOS / "baseline.yaml")
    bare = without_rules(base, [r.name for r in base.rules])
    never = bare.model_copy(update={"rules": [r for r in make_plan({"rules": [
        rule({"action": "scale_win_rate", "factor": 2}, name="never", when="competitor_price_cut >= 50%")]}).rules]})
    for r in range(3):
        a, b = simulate_year(bare, base.seed, r), simulate_year(never, base.seed, r)
        assert b.record["fired:never"] == 0
        for key, value in a.record.items():
            assert b.record[key] == pytest.approx(value, rel=0, abs=0, nan_ok=True), key
        np.testing.assert_array_equal(a.weekly, b.weekly)


# --- a rule fires at the first review after its condition becomes true -------------------------

# Weekly reviews close each week: days 7, 14, ... The monthly review is the first weekly
# review of a new month (month boundaries at 365/12 = 30.4, 60.8, 91.25 ... days), plus the
# very first review; the quarterly one likewise (boundaries at 91.25, 182.5, 273.75).
TIMING = [
    ("weekly", "+50d", 56.0),
    ("weekly", "+56d", 56.0),        # true on a review day: fires at that review
    ("monthly", "+50d", 63.0),       # month 3 starts on day 60.8; first review after: day 63
    ("quarterly", "+50d", 98.0),     # Q2 starts on day 91.25; first review after: day 98
    ("monthly", "+5d", 7.0),         # the first review of the year is also monthly
    ("shock_started", "+50d", 50.0),  # events fire at once
]


@pytest.mark.parametrize("check, start, day", TIMING)
def test_a_rule_fires_at_the_first_review_after_its_condition_becomes_true(check, start, day):
    plan = make_plan({"segments": [new_logo()], "channels": [web(20)],
                      "shocks": [{"type": "price_cut", "start": start, "size": "25%"}],
                      "rules": [rule({"action": "scale_price", "factor": 0.95}, when="competitor_price_cut >= 20%",
                                     check=check, once=True)]})
    year = play(plan)
    assert fired_days(year, "r") == [day]
    assert year.world.ledger.record(year.rep_names)["first:r"] == day


def test_a_shock_ended_rule_fires_the_day_the_shock_ends():
    plan = make_plan({"segments": [new_logo()], "channels": [web(20)],
                      "shocks": [{"type": "budget_cut", "start": "+50d", "duration": "30d", "size": "25%"}],
                      "rules": [rule({"action": "scale_price", "factor": 0.95}, check="shock_ended",
                                     when="budget_cut == 0")]})
    assert fired_days(play(plan), "r") == [80.0]


def test_the_week_metric_counts_the_weeks_closed():
    plan = make_plan({"rules": [once({"action": "scale_price", "factor": 0.9}, when="week >= 5")]})
    assert fired_days(play(plan), "r") == [35.0]


def test_a_rep_left_rule_fires_on_the_day_the_rep_leaves():
    plan = make_plan({"segments": [new_logo()], "channels": [web(20)],
                      "team": {"reps": [{"name": "A"}, {"name": "B"}]},
                      "shocks": [{"type": "rep_leaves", "reps": ["B"], "start": "+100d"}],
                      "rules": [rule({"action": "scale_visits", "factor": 1.1}, check="rep_left",
                                     when="reps_left >= 1")]})
    assert fired_days(play(plan), "r") == [100.0]


def test_metrics_read_at_a_review_are_the_week_just_closed():
    """At the review that closes week k, `week` is k + 1 and the weekly metrics are row k."""
    plan = make_plan({"segments": [new_logo(1.0, effort=1)], "channels": [web(300)],
                      "rules": [rule({"action": "scale_price", "factor": 1.0}, when="competitor_price_cut > 50%")]})
    rows: list[dict] = []
    year = SalesYear(World(plan, SEED, 0))
    year.world.on_week.append(lambda week: rows.append({"k": week, **observe(year, frozenset(OBSERVE))}))
    year.run()
    kpi = year.world.ledger.kpi
    assert len(rows) >= 52, "a review closes every week"
    for row in rows[:-1]:
        k = row["k"]
        assert row["week"] == k + 1
        assert row["day"] == 7.0 * (k + 1)
        assert row["weekly_bookings"] == kpi[k, K["bookings_week"]]
        assert row["visits_week"] == pytest.approx(kpi[k, [K["visits_ka"], K["visits_new_logo"],
                                                           K["visits_winback"]]].sum())
        window = kpi[max(0, k - 3): k + 1]
        exited = window[:, K["exited_lead"]].sum()
        assert row["conversion_lead"] == (window[:, K["advanced_lead"]].sum() / exited if exited else 0.0)
        assert row["pipeline"] == kpi[k, [K["open_lead"], K["open_intent"], K["open_negotiation"]]].sum()
    assert sum(row["weekly_bookings"] for row in rows) > 0


# --- conflicts: once, cooldown, priority, groups ---------------------------------------------

PRICE = {"action": "scale_price", "factor": 0.99}


def conflict_plan(rules: list[dict]) -> object:
    return make_plan({"segments": [new_logo()], "channels": [web(10)], "rules": rules})


def test_once_fires_once():
    year = play(conflict_plan([rule(PRICE, once=True)]))
    assert fired_days(year, "r") == [FIRST_REVIEW]
    assert year.world.ledger.record(year.rep_names)["fired:r"] == 1


def test_cooldown_waits_between_firings():
    """cooldown 30d at weekly reviews: the next review at least 30 days later is 35 days on."""
    year = play(conflict_plan([rule(PRICE, cooldown="30d")]))
    assert fired_days(year, "r") == [7.0 + 35 * k for k in range(11)]


def test_a_group_in_force_blocks_its_other_rules_and_priority_decides_who_goes_first():
    """Both want to fire every week; 'high' (priority 2) goes first and holds the group for
    14 days, blocking 'low' and itself; when it is free again 'high' wins again."""
    year = play(conflict_plan([rule(PRICE, name="low", priority=1, group="g", duration="14d"),
                               rule(PRICE, name="high", priority=2, group="g", duration="14d")]))
    assert fired_days(year, "low") == []
    assert fired_days(year, "high") == [7.0 + 14 * k for k in range(26)]


def test_once_hands_the_group_to_the_next_rule_when_it_is_spent():
    year = play(conflict_plan([rule(PRICE, name="low", priority=1, group="g", duration="14d"),
                               rule(PRICE, name="high", priority=2, group="g", duration="14d", once=True)]))
    assert fired_days(year, "high") == [7.0]
    assert fired_days(year, "low") == [21.0 + 14 * k for k in range(25)]


def test_equal_priorities_are_broken_by_name():
    year = play(conflict_plan([rule(PRICE, name="beta", group="g"), rule(PRICE, name="alpha", group="g")]))
    assert [n for _, n, _ in firings(year)] == ["alpha"]


def test_rules_without_a_group_all_fire_highest_priority_first():
    year = play(conflict_plan([rule(PRICE, name="a", priority=1, once=True),
                               rule(PRICE, name="b", priority=5, once=True),
                               rule(PRICE, name="c", priority=3, once=True)]))
    assert firings(year) == [(7.0, "b", "scale_price"), (7.0, "c", "scale_price"), (7.0, "a", "scale_price")]


def test_conflict_resolution_does_not_depend_on_the_order_rules_are_written():
    rules = [rule(PRICE, name=n, priority=p, group=g, duration="10d", cooldown=c)
             for n, p, g, c in [("a", 1, "g", "0d"), ("b", 1, "g", "20d"), ("c", 3, None, "15d"),
                                ("d", 3, "h", "0d"), ("e", 0, "h", "0d")]]
    reference = firings(play(conflict_plan(rules)))
    assert len(reference) > 30
    for seed in range(3):
        shuffled = rules[:]
        random.Random(seed).shuffle(shuffled)
        assert firings(play(conflict_plan(shuffled))) == reference


# --- costs -----------------------------------------------------------------------------------------


def budget_plan(cost: str, allow_overrun: bool = False, charge: str = "budget") -> object:
    return make_plan({"segments": [new_logo(lead_advance=0.0)], "channels": [web(3000, 0.7)],
                      "rules": [once({"action": "scale_price", "factor": 1.0}, cost=cost, charge=charge,
                                     allow_overrun=allow_overrun)]})


def test_a_budget_cost_shrinks_the_remaining_spend_to_pay_for_it():
    """20k of a 100k budget at day 7: the channels' spend for the rest of the year falls
    from 100k x 358/365 to that minus 20k, and leads follow the spend curve."""
    left = 100_000 * (YEAR - FIRST_REVIEW) / YEAR
    scale = (left - 20_000) / left
    leads = 0
    for r in range(2):
        year = play(budget_plan("20k"), r)
        money = year.world.ledger.money
        assert money["rule_costs_budget"] == 20_000 and money["budget_overrun"] == 0
        assert money["marketing_spent"] + money["rule_costs_budget"] == pytest.approx(100_000, rel=1e-9)
        assert year.world.levers.spend_scale == pytest.approx(scale)
        assert year.world.ledger.firings[0][4] == 20_000
        leads += year.world.ledger.counts["leads"]
    assert_poisson(leads, 2 * with_change_from_day_7(3000, scale ** 0.7), "leads after paying 20k")


def test_a_cost_the_budget_cannot_pay_does_not_fire():
    year = play(budget_plan("200k"))
    rec = year.world.ledger.record(year.rep_names)
    assert rec["fired:r"] == 0 and rec["rules_unaffordable"] == 52     # refused at every review
    assert rec["rule_costs_budget"] == 0 and rec["budget_overrun"] == 0
    assert year.world.ledger.money["marketing_spent"] == pytest.approx(100_000, rel=1e-9)


def test_allow_overrun_fires_anyway_and_reports_the_overrun():
    year = play(budget_plan("200k", allow_overrun=True))
    rec = year.world.ledger.record(year.rep_names)
    left = 100_000 * (YEAR - FIRST_REVIEW) / YEAR
    assert rec["fired:r"] == 1
    assert rec["budget_overrun"] == pytest.approx(200_000 - left)
    assert rec["marketing_spent"] == pytest.approx(100_000 * FIRST_REVIEW / YEAR)   # nothing left to spend
    assert year.world.ledger.kpi[1:, K["leads_week"]].sum() == 0


def test_a_margin_cost_comes_off_margin_not_the_budget():
    plain = make_plan({"segments": [new_logo(1.0)], "channels": [web(300)]})
    charged = make_plan({"segments": [new_logo(1.0)], "channels": [web(300)],
                         "rules": [once({"action": "scale_price", "factor": 1.0}, cost="5k", charge="margin")]})
    a, b = simulate_year(plain, SEED, 0).record, simulate_year(charged, SEED, 0).record
    assert b["margin"] == pytest.approx(a["margin"] - 5_000)
    assert b["bookings"] == a["bookings"] and b["marketing_spent"] == a["marketing_spent"]


# --- switching rules off: --no-rules, --without ---------------------------------------------------


def switches(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"no_rules": False, "without": [], **kw})


def test_no_rules_and_without_drop_rules_before_the_run():
    plan = load_plan(SCENARIOS / "baseline.yaml")
    names = [r.name for r in plan.rules]
    assert "mentoring" in names
    assert apply_rule_switches(plan, switches(no_rules=True)).rules == []
    kept = apply_rule_switches(plan, switches(without=["mentoring", "backup_supplier"])).rules
    assert [r.name for r in kept] == [n for n in names if n not in ("mentoring", "backup_supplier")]
    assert apply_rule_switches(plan, switches()) is plan


def test_without_an_unknown_rule_is_a_usage_error_with_a_suggestion():
    plan = load_plan(SCENARIOS / "baseline.yaml")
    with pytest.raises(UsageError, match=r"--without mentorin: no such rule \(did you mean 'mentoring'\?\)"):
        apply_rule_switches(plan, switches(without=["mentorin"]))


@pytest.mark.parametrize("name, fragment", [("nope", "--without nope: no such rule; the playbook has: "),
                                            ("mentorin", "(did you mean 'mentoring'?)")])
def test_without_an_unknown_rule_exits_2_from_the_command_line(tmp_path, capsys, name, fragment):
    code = main([str(SCENARIOS / "baseline.yaml"), "--runs", "2", "--workers", "1", "--quiet",
                 "--out", str(tmp_path / "out"), "--without", name])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err, err
    assert not (tmp_path / "out" / "summary.json").exists()


class _Ran(Exception):
    """Raised by the stand-in runner with the variants the command line would simulate."""


@pytest.mark.parametrize("argv, dropped", [([], set()), (["--no-rules"], "all"),
                                           (["--without", "mentoring"], {"mentoring"}),
                                           (["--without", "mentoring", "--without", "policy_pivot"],
                                            {"mentoring", "policy_pivot"})])
def test_no_rules_and_without_from_the_command_line(tmp_path, monkeypatch, argv, dropped):
    """The switches reach the runner: the plan it is given has exactly the rules left."""
    from simulate.cli import run as session

    def runner(variants, *args, **kwargs):
        raise _Ran(variants)
    monkeypatch.setattr(session, "run_replications", runner)
    with pytest.raises(_Ran) as ran:
        main([str(SCENARIOS / "baseline.yaml"), "--runs", "2", "--workers", "1", "--quiet",
              "--out", str(tmp_path / "out"), *argv])
    every = [r.name for r in load_plan(SCENARIOS / "baseline.yaml").rules]
    left = [r.name for r in ran.value.args[0]["plan"].rules]
    assert left == ([] if dropped == "all" else [n for n in every if n not in dropped])


# --- the value of a rule ------------------------------------------------------------------------


def test_a_rule_that_never_fires_is_worth_exactly_zero():
    base = load_plan(SCENARIOS / "baseline.yaml")
    plan = base.model_copy(update={"rules": make_plan({"rules": [
        rule({"action": "scale_win_rate", "factor": 2}, name="never", when="supplier_delay_days > 100")]}).rules})
    records = run_replications(plan, 4, base.seed, workers=1).variants["plan"].records
    value = rule_values(plan, records, base.seed)["never"]
    assert value["fired_share"] == 0
    assert value["value"] == {"p_hit_diff": 0.0, "p_hit_diff_ci95": [0.0, 0.0], "attainment_mean_diff": 0.0,
                              "attainment_mean_diff_ci95": [0.0, 0.0], "replayed": 0, "runs": 4,
                              "stopped": "years cap", "looks": 1}


def test_the_replay_shortcut_is_exact():
    """Replaying only the years where the rule fired gives the value a direct run of the plan
    without the rule gives: the years where it did not fire are identical without it."""
    name, runs = "price_war_bundle", 8
    full = load_plan(SCENARIOS / "price_war.yaml")
    plan = without_rules(full, [r.name for r in full.rules if r.name != name])    # replay one rule only
    records = run_replications(plan, runs, plan.seed, workers=1).variants["plan"].records
    fired = records[f"fired:{name}"] > 0
    assert 0 < fired.sum() < runs, "the case needs years with and without a firing"
    direct_plan = apply_rule_switches(plan, switches(without=[name]))
    direct = run_replications(direct_plan, runs, plan.seed, workers=1).variants["plan"].records
    own = [c for c in direct.columns if c != "rules_unaffordable"]
    for r in records.index[~fired]:
        for c in own:
            assert records.loc[r, c] == pytest.approx(direct.loc[r, c], rel=0, abs=0, nan_ok=True), (r, c)
    value = rule_values(plan, records, plan.seed)[name]["value"]
    d_att, ci_att = paired_mean(records["attainment"].to_numpy(), direct["attainment"].to_numpy())
    d_hit, ci_hit = paired_proportion(records["hit"].to_numpy(dtype=bool), direct["hit"].to_numpy(dtype=bool))
    assert value["replayed"] == int(fired.sum())
    # one look (8 years): the intervals are the plain 95 % ones, to the last bits of the quantile
    assert value["attainment_mean_diff"] == d_att and value["attainment_mean_diff_ci95"] == pytest.approx(ci_att)
    assert value["p_hit_diff"] == d_hit and value["p_hit_diff_ci95"] == pytest.approx(ci_hit)


@pytest.mark.parametrize("fork_from", [0.0, 1.0], ids=["every firing forks", "every firing replays"])
@pytest.mark.parametrize("scenario", ["price_war", "baseline"])
def test_the_suffix_replay_equals_the_full_replay(scenario, fork_from, monkeypatch):
    """A year forked at a rule's first firing and finished without the rule is, record for
    record, the year played from day 0 by the plan without the rule; the parent's year is
    the year with every rule, untouched by the forks. The same holds when an early firing is
    kept for a replay instead of a fork (`FORK_FROM`: here all or none of the year forks)."""
    monkeypatch.setattr(year_module, "FORK_FROM", fork_from)
    plan = load_plan(SCENARIOS / f"{scenario}.yaml")
    names = tuple(r.name for r in plan.rules)
    forked = 0
    for r in range(4):
        # levers given by the caller: the rules move them during the year, a replay must not inherit that
        year = simulate_year(plan, plan.seed, r, levers=Levers(), value_rules=names)
        assert same_record(year.record, simulate_year(plan, plan.seed, r).record)
        for rule, record in year.without.items():
            alone = simulate_year(without_rules(plan, [rule]), plan.seed, r, levers=Levers()).record
            assert same_record(record, alone), rule
            forked += 1
    assert forked >= 4, "the case needs rules that fire"


_ctrl_c_at_fork = {"armed": False}


def _press_ctrl_c_at_fork() -> None:
    if _ctrl_c_at_fork["armed"]:
        _ctrl_c_at_fork["armed"] = False
        os.kill(os.getpid(), signal.SIGINT)


os.register_at_fork(after_in_parent=_press_ctrl_c_at_fork)


@pytest.fixture
def ctrl_c_reaches_python():
    """Ctrl-C raises KeyboardInterrupt here, however pytest was started: a shell starts a
    background job (`pytest &`) with SIGINT ignored, and Python then leaves it ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_during_a_fork_stops_the_year(monkeypatch, ctrl_c_reaches_python):
    """A Ctrl-C that lands while the year forks stops it: Python drops a KeyboardInterrupt
    raised inside its at-fork hooks, so the fork holds the signal until it is done. The
    child is reaped, not left behind."""
    monkeypatch.setattr(year_module, "FORK_FROM", 0.0)
    children, fork = [], os.fork
    monkeypatch.setattr(os, "fork", lambda: children.append(fork()) or children[-1])
    plan = load_plan(SCENARIOS / "price_war.yaml")
    names = tuple(r.name for r in plan.rules)
    _ctrl_c_at_fork["armed"] = True
    try:
        with pytest.raises(KeyboardInterrupt):
            for r in range(4):
                simulate_year(plan, plan.seed, r, value_rules=names)
    finally:
        _ctrl_c_at_fork["armed"] = False
    assert children
    for pid in children:
        with pytest.raises(ChildProcessError):      # reaped already
            os.waitpid(pid, os.WNOHANG)


class _PressedWhileReading:
    """A child's pipe whose read is interrupted by Ctrl-C (the file still closes its pipe)."""

    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def read(self):
        raise KeyboardInterrupt


@pytest.mark.parametrize("moment", ["reading a child's record", "reaping a child"])
def test_ctrl_c_while_waiting_for_the_children_reaps_them(moment, monkeypatch):
    """A Ctrl-C while the year waits for its forked children stops it and reaps every child
    (killed, not left to play their year out), and closes no pipe twice."""
    monkeypatch.setattr(year_module, "FORK_FROM", 0.0)
    children, fork, wait, fdopen = [], os.fork, os.waitpid, os.fdopen
    monkeypatch.setattr(os, "fork", lambda: children.append(fork()) or children[-1])
    pressed = []

    def waitpid(pid: int, options: int):
        if not pressed and moment == "reaping a child":
            pressed.append(pid)
            raise KeyboardInterrupt
        return wait(pid, options)

    def opened(fd: int, mode: str):
        f = fdopen(fd, mode)
        if not pressed and moment == "reading a child's record":
            pressed.append(fd)
            return _PressedWhileReading(f)
        return f
    monkeypatch.setattr(os, "waitpid", waitpid)
    monkeypatch.setattr(os, "fdopen", opened)
    plan = load_plan(SCENARIOS / "price_war.yaml")
    with pytest.raises(KeyboardInterrupt):
        for r in range(4):
            simulate_year(plan, plan.seed, r, value_rules=tuple(x.name for x in plan.rules))
    monkeypatch.setattr(os, "waitpid", wait)
    assert pressed and children
    for pid in children:
        with pytest.raises(ChildProcessError):      # reaped already
            os.waitpid(pid, os.WNOHANG)


def test_ctrl_c_while_the_pool_forks_its_workers_is_not_lost(ctrl_c_reaches_python):
    """The local pool forks its workers at its first submit: a Ctrl-C then still stops the
    run (Python would drop it inside its at-fork hooks)."""
    from simulate.run.executors import LocalPool
    pool = LocalPool(2)
    _ctrl_c_at_fork["armed"] = True
    try:
        with pytest.raises(KeyboardInterrupt):
            list(pool.map_unordered(abs, [-1, -2, -3]))
    finally:
        _ctrl_c_at_fork["armed"] = False
        pool.close()


def test_a_rule_forked_alone_leaves_no_playbook_behind():
    """Dropping the last rule leaves the year of a plan without rules."""
    base = load_plan(SCENARIOS / "baseline.yaml")
    plan = without_rules(base, [r.name for r in base.rules if r.name != "mentoring"])
    year = simulate_year(plan, plan.seed, 0, value_rules=("mentoring",))
    assert same_record(year.without["mentoring"], simulate_year(without_rules(plan, ["mentoring"]), plan.seed, 0).record)


def test_values_forked_while_running_equal_values_from_full_replays():
    """The run's in-flight values (forks, sequential looks) equal a paired estimate against
    the plan without the rule played in full on the same years, at the same adjusted level."""
    from simulate.analysis.rule_value import Valuation
    from simulate.stats.sequential import level_spent, z_spent
    plan = load_plan(SCENARIOS / "baseline.yaml")
    runs = 12
    variants = {"plan": plan}
    valuation = Valuation(variants, runs)
    res = run_replications(variants, runs, plan.seed, workers=2, batch_size=5, valuer=valuation)
    records = res.variants["plan"].records
    for name in ("mentoring", "key_rep_handover"):
        value = valuation.value("plan", name, records)
        direct = run_replications(without_rules(plan, [name]), runs, plan.seed, workers=1).variants["plan"].records
        d_hit, ci_hit = paired_proportion(records["hit"].to_numpy(dtype=bool), direct["hit"].to_numpy(dtype=bool),
                                          z_spent(runs))
        d_att, ci_att = paired_mean(records["attainment"].to_numpy(), direct["attainment"].to_numpy(), level_spent(runs))
        assert value["runs"] == runs and value["stopped"] == "years cap"
        assert value["p_hit_diff"] == d_hit and value["p_hit_diff_ci95"] == list(ci_hit)
        assert value["attainment_mean_diff"] == d_att and value["attainment_mean_diff_ci95"] == list(ci_att)
        assert value["replayed"] == int((records[f"fired:{name}"] > 0).sum())


def test_rule_value_runs_sets_the_sample_and_zero_skips_the_forks(tmp_path):
    """`--rule-value-runs N` values each rule on the first N years; 0 forks nothing."""
    scenario = str(SCENARIOS / "baseline.yaml")
    assert main([scenario, "--runs", "6", "--workers", "1", "--quiet", "--out", str(tmp_path / "a"),
                 "--rule-value-runs", "3"]) == 0
    rules = json.loads((tmp_path / "a" / "summary.json").read_text())["variants"]["plan"]["rules"]
    assert {r["value"]["runs"] for r in rules.values()} == {3}
    assert max(r["value"]["replayed"] for r in rules.values()) == 3     # mentoring fires every year
    assert main([scenario, "--runs", "6", "--workers", "1", "--quiet", "--out", str(tmp_path / "b"),
                 "--rule-value-runs", "0"]) == 0
    rules = json.loads((tmp_path / "b" / "summary.json").read_text())["variants"]["plan"]["rules"]
    assert rules and all("value" not in r for r in rules.values())
    assert all("fired_share" in r for r in rules.values())


def test_ctrl_c_while_valuing_rules_keeps_every_year(tmp_path, monkeypatch, capsys):
    """Values replayed after the run (a run that did not fork them) can take as long as the
    run: stopping them saves the run without values."""
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(rule_value, "replay_records", interrupted)
    monkeypatch.setattr(rule_value.Valuation, "valued", lambda self, variant: False)
    out = tmp_path / "run"
    assert main([str(SCENARIOS / "baseline.yaml"), "--runs", "6", "--workers", "1", "--quiet",
                 "--out", str(out)]) == 130
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] == 6 and not summary["partial"]
    assert all("value" not in r for r in summary["variants"]["plan"]["rules"].values())
    assert any("rule values left out" in w for w in summary["warnings"])
    assert "valuing the rules" in capsys.readouterr().err


# --- bad rules: file, line, rule, exit code 2 ------------------------------------------------------

GOOD_RULE = """  - name: first_rule
    when: pipeline > 3
    then:
      - action: scale_price
        factor: 0.9
"""

# (the second rule's text, the line of the error in the playbook file, fragments)
BAD_RULES = {
    "unknown action": ("    then:\n      - action: scale_prize\n        factor: 0.9\n", 11,
                       ["rules[1].then[0]", "unknown action 'scale_prize'", "did you mean 'scale_price'"]),
    "unknown metric": ("    when: pipline > 3\n", 9, ["rules[1].when", "unknown metric 'pipline'",
                                                       "did you mean 'pipeline'", "column 1"]),
    "syntax error": ("    when: pipeline > > 3\n", 9, ["rules[1].when", "syntax error", "column 12"]),
    "never true": ("    when: share_negotiation > 1.5\n", 9, ["rules[1].when", "can never be true",
                                                          "share_negotiation is in [0, 1]"]),
    "budget cut over 2": ("    when: budget_cut > 2\n", 9, ["rules[1].when", "can never be true"]),
    "unsafe": ("    when: __import__('os') > 0\n", 9, ["rules[1].when", "min(), max() and abs()"]),
    "unknown segment": ("    then:\n      - action: scale_price\n        segments: [SMBB]\n        factor: 0.9\n",
                        12, ["rules[1].then[0].segments", "unknown segment 'SMBB'", "did you mean 'SMB'"]),
    "unknown cadence": ("    check: weekley\n", 10, ["rules[1].check", "did you mean 'weekly'"]),
    "factor out of range": ("    then:\n      - action: scale_price\n        factor: 20\n", 12,
                            ["rules[1].then[0].factor", "10", "20"]),
    "unknown key": ("    priorty: 3\n", 10, ["rules[1].priorty", "unknown key 'priorty'", "did you mean 'priority'"]),
    "unknown channel": (("    then:\n      - action: shift_budget\n        from: onlin\n        to: academic\n"
                         "        share: 10%\n"), 12, ["rules[1].then[0].from", "unknown channel 'onlin'",
                                                      "did you mean 'online'"]),
    "duplicate name": (None, 8, ["rules[1].name", "'first_rule' is used twice"]),
}


def bad_playbook(tmp_path: Path, case: str) -> tuple[Path, Path]:
    text, _, _ = BAD_RULES[case]
    second = "  - name: first_rule\n" if text is None else "  - name: broken_rule\n"
    body = {"then": "    then:\n      - action: scale_price\n        factor: 0.9\n",
            "when": "    when: pipeline > 3\n"}
    if text is not None and text.startswith("    then"):
        second += body["when"] + text
    elif text is not None and text.startswith("    when"):
        second += text + body["then"]
    else:
        second += body["when"] + (text or "") + body["then"]
    book = tmp_path / "book.yaml"
    book.write_text("name: bad\nrules:\n" + GOOD_RULE + second, encoding="utf-8")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(f"extends: {SCENARIOS / 'baseline.yaml'}\nname: ruled\nplaybooks: [book.yaml]\n",
                        encoding="utf-8")
    return scenario, book


def one_error_line(capsys, argv: list[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2 and out == "", f"exit {code}: {err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("case", BAD_RULES)
def test_a_bad_rule_is_one_line_naming_the_file_and_line_and_exit_code_2(tmp_path, capsys, case):
    scenario, book = bad_playbook(tmp_path, case)
    _, line, fragments = BAD_RULES[case]
    message = one_error_line(capsys, ["validate", str(scenario)])
    assert message.startswith(f"{book}:{line}:"), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"


def test_a_bad_rule_s_message_names_the_rule(tmp_path, capsys):
    """Besides its index (rules[1]), the message names the rule as the manager wrote it."""
    for case in BAD_RULES:
        if BAD_RULES[case][0] is None:
            continue
        scenario, _ = bad_playbook(tmp_path, case)
        message = one_error_line(capsys, ["validate", str(scenario)])
        assert "broken_rule" in message, message


def test_a_bad_rule_stops_a_run_with_exit_code_2(tmp_path, capsys):
    scenario, book = bad_playbook(tmp_path, "unknown metric")
    message = one_error_line(capsys, [str(scenario), "--runs", "2", "--workers", "1", "--quiet",
                                      "--out", str(tmp_path / "out")])
    assert message.startswith(f"error: {book}:9:")
    assert not (tmp_path / "out" / "summary.json").exists()


def test_a_bad_inline_rule_points_into_the_scenario_file(tmp_path, capsys):
    scenario = tmp_path / "inline.yaml"
    scenario.write_text(f"extends: {SCENARIOS / 'baseline.yaml'}\nname: inline\nrules:\n"
                        "  - name: mine\n    when: budget_cut > 2\n    then:\n"
                        "      - action: scale_price\n        factor: 0.9\n", encoding="utf-8")
    message = one_error_line(capsys, ["validate", str(scenario)])
    assert message.startswith(f"{scenario}:5:") and "can never be true" in message


def test_a_rule_that_loses_targets_is_flagged(tmp_path, capsys):
    """A rule that halves the win rate at once costs P(hit) for sure: its value's interval is
    below zero, so summary.json lists it under `harmful_rules`, the terminal and the report's
    verdict say so; a rule that helps is not listed."""
    import json

    import yaml
    from factory import known_plan

    from simulate.cli.main import main
    path = known_plan(tmp_path, levers=[])
    data = yaml.safe_load(path.read_text())
    data["segments"][0]["funnel"]["negotiation"]["advance"] = 0.6
    data["target"] = {"annual": 41_000.0}        # the median year with both rules: P(hit) near a half
    data["rules"] = [once({"action": "scale_win_rate", "factor": 0.5}, name="panic_discount"),
                     once({"action": "scale_win_rate", "factor": 1.5}, name="coaching")]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main([str(path), "--runs", "200", "--all-runs", "--workers", "1", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    flagged = json.loads((tmp_path / "run" / "summary.json").read_text())["variants"]["plan"]["harmful_rules"]
    assert [h["rule"] for h in flagged] == ["panic_discount"]
    assert flagged[0]["p_hit_diff_ci95"][1] < 0
    assert "rule panic_discount lowers P(hit)" in out and "--without panic_discount" in out
    report = (tmp_path / "run" / "report.html").read_text()
    assert "Rule panic_discount lowers P(hit)" in report and "Rule coaching" not in report
