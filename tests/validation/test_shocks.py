"""Shocks: each mechanism moves the year in its documented direction, by its documented size.

The sizes under test are the ones `simulate/shocks.py` documents: a price cut of X with
elasticity e multiplies the negotiation win rate by max(0, 1 - e X); a budget cut of X
multiplies a channel's leads by (1 - X) ** spend_elasticity; and so on. Each test builds a
small plan in which that one mechanism is visible, then asserts the theory with a
tolerance derived from the sample size (a z-score on a binomial or Poisson standard
error), never a pinned seeded number. Where the model is exact by construction (a delivery
slip of D days on a fixed delivery time) the test is exact.

Then: a shock's probability, its random start in a window and its duration; the errors a
bad shock gives at load (exit code 2, one line naming file, line and key); every scenario
file loads and runs; and a scenario's impact is measured on common random numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import SCENARIOS
from factory import make_plan, negotiation_funnel
from scipy import stats
from stats_checks import (
    ALPHA,
    assert_binomial,
    assert_close,
    assert_poisson,
    assert_poisson_binomial,
)

from simulate.analysis.summary import impact
from simulate.cli.main import main
from simulate.engine.ledger import K
from simulate.engine.world import World
from simulate.engine.year import SalesYear, simulate_year
from simulate.load.loader import load_plan
from simulate.plan.distributions import Fixed
from simulate.run.runner import run_replications
from simulate.run.scenario import BASELINE, NO_RULES, variants_to_run, without_shocks

YEAR = 365.0
SEED = 11


# --- helpers ------------------------------------------------------------------------------





def new_logo(win: float = 0.5, lead_advance: float = 1.0, mix: dict | None = None, **extra) -> dict:
    return {"name": "SMB", "kind": "new_logo", "mix": mix or {"p": 1.0},
            "funnel": negotiation_funnel(win, lead_advance), **extra}


def key_accounts(count: int, renew: float = 0.8, after: float = 0.5, mix: dict | None = None, **extra) -> dict:
    """A KA book whose renewal does not depend on visits: p = `renew` unless a shock moves it."""
    return {"name": "KA", "kind": "key_accounts", "mix": mix or {"p": 1.0},
            "accounts": {"count": count, "contract_value": 1000, "renewal_without_visits": renew,
                         "renewal_with_full_visits": renew, "renewal_after_rep_left": after,
                         "visits_per_quarter": 0, "renewal_effort": 0}, **extra}


def web(leads: float, elasticity: float = 0.7, name: str = "web", share: float = 1.0) -> dict:
    return {"name": name, "segment": "SMB", "budget_share": share, "leads_per_year": leads,
            "spend_elasticity": elasticity}


TWO_PRODUCTS = [{"name": "p", "portfolio": "star", "price": 1000, "margin": "50%",
                 "delivery_days": 3, "supplier": "s1"},
                {"name": "q", "portfolio": "cash_cow", "price": 1000, "margin": "50%",
                 "delivery_days": 3, "supplier": "s2"}]


def ka_plan(count: int, shocks: list[dict], renew: float = 0.8, after: float = 0.5,
            mix: dict | None = None, reps: list[dict] | None = None, **segment_extra) -> object:
    """Key accounts only (no channel): every booking is a renewal."""
    return make_plan({"products": TWO_PRODUCTS,
                      "segments": [key_accounts(count, renew, after, mix, **segment_extra)],
                      "channels": [],
                      "team": {"reps": reps or [{"name": "A", "visits_per_week": 50}]},
                      "shocks": shocks})


def play(plan, r: int, seed: int = SEED) -> SalesYear:
    """Run replication r and keep the whole year (world, ledger, levers, team) to inspect."""
    year = SalesYear(World(plan, seed, r))
    year.run()
    return year


def renewals(year: SalesYear, product: str | None = None, after: float = -1.0) -> int:
    """Renewal bookings (channel -1) signed after day `after`, of one product or all."""
    names = year.world.product_names
    return sum(1 for b in year.world.ledger.bookings
               if b.channel == -1 and b.day > after and (product is None or names[b.product] == product))


def accounts(year: SalesYear) -> list:
    return [a for book in year.books for a in book.accounts]


def renewals_of_p_lost_to(shock: dict, years: int = 2) -> tuple[int, int]:
    """Renewals of product p the shock takes, against the same years without it, and the
    number of p accounts (2,000 accounts, half p, half q); q must renew exactly as before."""
    hit, calm = (ka_plan(2000, s, mix={"p": 0.5, "q": 0.5}) for s in ([shock], []))
    n_p = lost = 0
    for r in range(years):
        shocked, base = play(hit, r), play(calm, r)
        n_p += sum(1 for a in accounts(shocked) if a.product == 0)
        lost += renewals(base, "p") - renewals(shocked, "p")
        assert renewals(shocked, "q") == renewals(base, "q"), "q is not hit"
        assert renewals(shocked, "p") <= renewals(base, "p")
    return lost, n_p


# --- price_cut -------------------------------------------------------------------------------

PRICE_CUT = {"type": "price_cut", "name": "cut", "start": "2027-01-01", "size": "20%",
             "stall_share": 0, "discount_ask": 0, "renewal_elasticity": 0}


@pytest.mark.parametrize("elasticity", [0.5, 1.5, 3.0, 6.0])
def test_price_cut_multiplies_the_win_rate_by_1_minus_elasticity_times_cut(elasticity):
    """Win rate 50 % x max(0, 1 - e x 20 %): 45 %, 35 %, 20 %, and 0 when e x X > 1.

    Every deal reaches negotiation (lead and intent always advance) and stall_share is 0,
    so each negotiation ends once, won or lost: the win share of n decided deals is a
    binomial proportion with standard error sqrt(p (1 - p) / n).
    """
    plan = make_plan({"segments": [new_logo(win=0.5)], "channels": [web(2500)],
                      "shocks": [{**PRICE_CUT, "elasticity": elasticity}]})
    signed = lost = 0
    for r in range(3):
        rec = simulate_year(plan, SEED, r).record
        signed, lost = signed + rec["signed"], lost + rec["lost"]
    expected = 0.5 * max(0.0, 1 - elasticity * 0.2)
    if expected == 0:
        assert signed == 0 and lost > 0
    else:
        assert_binomial(signed, signed + lost, expected, f"win rate with elasticity {elasticity}")


def test_without_a_price_cut_the_win_rate_is_the_plan_s():
    plan = make_plan({"segments": [new_logo(win=0.5)], "channels": [web(2500)]})
    recs = [simulate_year(plan, SEED, r).record for r in range(3)]
    signed, lost = sum(r["signed"] for r in recs), sum(r["lost"] for r in recs)
    assert_binomial(signed, signed + lost, 0.5, "win rate without a shock")


@pytest.mark.parametrize("stall_share", [0.3, 1.0])
def test_of_the_forgone_wins_stall_share_stall_instead_of_being_lost(stall_share):
    """Per negotiation round: won 35 %, stalled 15 % x s, lost the rest. A stalled deal
    negotiates again, so among the deals that end the win share is 0.35 / (1 - 0.15 s)."""
    plan = make_plan({"segments": [new_logo(win=0.5)], "channels": [web(2500)],
                      "shocks": [{**PRICE_CUT, "elasticity": 1.5, "stall_share": stall_share}]})
    signed = lost = 0
    for r in range(3):
        rec = simulate_year(plan, SEED, r).record
        signed, lost = signed + rec["signed"], lost + rec["lost"]
    expected = 0.35 / (1 - 0.15 * stall_share)
    assert_binomial(signed, signed + lost, expected, f"win share among ended deals, stall_share {stall_share}")


def test_a_price_cut_makes_won_deals_ask_for_a_discount():
    """Realised price x (1 - discount_ask x discount_match x X) = 1 - 0.5 x 0.5 x 20 % = 95 %
    on average. Each deal lists at 10 x 1000; the tolerance allows either a share of deals
    asking for the full match or every deal getting the average."""
    ask, match, cut = 0.5, 0.5, 0.2
    plan = make_plan({"segments": [new_logo(win=0.5)], "channels": [web(1500)],
                      "shocks": [{**PRICE_CUT, "discount_ask": ask, "discount_match": match}]})
    bookings = signed = 0.0
    for r in range(2):
        rec = simulate_year(plan, SEED, r).record
        bookings, signed = bookings + rec["bookings"], signed + rec["signed"]
    per_deal = match * cut * math.sqrt(ask * (1 - ask))
    assert_close(bookings / signed / 10_000, 1 - ask * match * cut, per_deal / math.sqrt(signed),
                 "mean realised price factor")


def test_a_price_cut_lowers_renewals_of_the_products_it_hits():
    """Renewal x (1 - renewal_elasticity x X) = 80 % x (1 - 0.3 x 20 %) = 75.2 % on p; q is
    untouched. The renewal draws are common to both years, so the renewals the cut takes
    are exactly the accounts with 75.2 % <= u < 80 %: a binomial count of the p accounts."""
    lost, n_p = renewals_of_p_lost_to({**PRICE_CUT, "products": ["p"], "renewal_elasticity": 0.3})
    assert_binomial(lost, n_p, 0.8 - 0.8 * (1 - 0.3 * 0.2), "share of p renewals lost to the cut")


def test_a_price_cut_renewal_rate_against_theory():
    plan = ka_plan(3000, [{**PRICE_CUT, "renewal_elasticity": 0.3}])
    recs = [simulate_year(plan, SEED, r).record for r in range(2)]
    due, renewed = sum(r["ka_due"] for r in recs), sum(r["ka_renewed"] for r in recs)
    assert due == 6000
    assert_binomial(renewed, due, 0.8 * (1 - 0.3 * 0.2), "KA renewal rate under a 20 % cut")


def test_a_price_cut_reaches_only_the_segments_it_names():
    plan = make_plan({"products": TWO_PRODUCTS,
                      "segments": [new_logo(win=0.5), key_accounts(500)],
                      "channels": [web(500)],
                      "shocks": [{**PRICE_CUT, "segments": ["KA"], "products": ["q"], "elasticity": 1.5}]})
    year = play(plan, 0)
    lev = year.world.levers
    assert lev.win_multiplier("KA", "q") == pytest.approx(1 - 1.5 * 0.2)
    assert lev.win_multiplier("SMB", "q") == 1.0 and lev.win_multiplier("KA", "p") == 1.0
    assert year.world.conditions["competitor_price_cut"] == pytest.approx(0.2)


# --- rep_leaves -------------------------------------------------------------------------------

LEAVE_DAY = 120.0                    # 2027-05-01


def leaver_plan(**team) -> object:
    """Two reps share the SMB funnel and the KA book; A resigns on 1 May."""
    return make_plan({
        "segments": [new_logo(win=0.5), key_accounts(200, renew=0.9, after=0.5)],
        "channels": [web(1500)],
        "team": {"reps": [{"name": "A", "visits_per_week": 50}, {"name": "B", "visits_per_week": 50}],
                 "handover_days": 30, "hiring_delay": 60, **team},
        "shocks": [{"type": "rep_leaves", "name": "a_quits", "reps": ["A"], "start": "2027-05-01"}]})


def test_a_named_rep_leaves_on_the_day_and_works_no_more():
    year = play(leaver_plan(), 0)
    a = next(r for r in year.world.team.reps if r.name == "A")
    assert a.left_at == LEAVE_DAY and not a.active
    assert year.world.ledger.counts["reps_left"] == 1
    assert a.busy_until <= LEAVE_DAY + 1e-9, "A started no task after leaving"
    assert year.world.ledger.shock_log[0][:3] == (LEAVE_DAY, "a_quits", "rep_leaves")


def test_a_rep_who_leaves_books_nothing_after_the_day():
    """Deals and renewals that close between the leaving day and the hand-over are booked
    to nobody ('unassigned'), then to the successor: never to the rep who left."""
    for r in range(2):
        year = play(leaver_plan(), r)
        bookings = year.world.ledger.bookings
        late = [b for b in bookings if b.rep == 0 and b.day > LEAVE_DAY]
        assert late == [], f"replication {r}: {len(late)} bookings credited to A after day {LEAVE_DAY:g}"
        rec = year.world.ledger.record(year.rep_names)
        assert rec["rep:A"] == pytest.approx(sum(b.value for b in bookings if b.rep == 0))
        assert rec["rep:unassigned"] > 0        # the hand-over takes 30 days: some close meanwhile


def test_after_the_hand_over_the_leaver_s_book_is_credited_to_the_successor():
    year = play(leaver_plan(), 0)
    a = year.world.team.reps[0]
    assert a.successor is not None and a.successor.name == "B"
    late = [b for b in year.world.ledger.bookings if b.rep == 0 and b.day > LEAVE_DAY + 30 + 1e-9]
    assert late == []


def test_accounts_of_a_rep_who_left_renew_at_the_no_hand_over_rate():
    """A holds the whole KA book and resigns on day 120: accounts renewing before renew at
    90 %, after at most at renewal_after_rep_left = 50 % (no hand-over team)."""
    plan = ka_plan(1500, [{"type": "rep_leaves", "reps": ["A"], "start": "2027-05-01"}],
                   renew=0.9, after=0.5)
    before = after = 0
    p_before: list[float] = []
    p_after: list[float] = []
    for r in range(2):
        year = play(plan, r)
        accs = accounts(year)
        assert all(a.lost_rep for a in accs)
        p_before += [0.9 for a in accs if a.renewal_day < LEAVE_DAY]
        p_after += [0.5 for a in accs if a.renewal_day > LEAVE_DAY]
        before += renewals(year) - renewals(year, after=LEAVE_DAY)
        after += renewals(year, after=LEAVE_DAY)
    assert_poisson_binomial(before, p_before, "renewals before A left (90 %)")
    assert_poisson_binomial(after, p_after, "renewals after A left (50 %)")


def test_top_n_leavers_are_the_reps_with_the_biggest_books():
    plan = make_plan({
        "segments": [{**key_accounts(60), "accounts": {**key_accounts(60)["accounts"],
                                                       "contract_value": {"lognormal": {"mean": 1000, "sd": 800}}}}],
        "channels": [],
        "team": {"reps": [{"name": n, "visits_per_week": 50} for n in "ABCDE"]},
        "shocks": [{"type": "rep_leaves", "top": 2, "start": "Q2"}]})
    for r in range(3):
        year = play(plan, r)
        reps = year.world.team.reps[:5]
        book = {rep.name: sum(a.value for a in accounts(year) if a.owner is rep) for rep in reps}
        top = sorted(book, key=lambda n: -book[n])[:2]
        left = [rep.name for rep in reps if rep.left_at is not None]
        assert sorted(left) == sorted(top), f"left {left}, biggest books {top}: {book}"
        assert all(rep.left_at == 90.0 for rep in reps if rep.name in left)


def test_a_replacement_is_hired_after_the_hiring_delay_and_ramps_up():
    year = play(leaver_plan(), 0)
    new = [r for r in year.world.team.reps if r.name == "A (replacement)"]
    assert len(new) == 1 and new[0].level == "new_hire"
    assert new[0].joined == pytest.approx(LEAVE_DAY + 60)
    headcount = year.world.ledger.kpi[:, K["headcount"]]
    week = int((LEAVE_DAY + 60) // 7) + 1       # the first week closed after the hire
    assert headcount[week] == 2


def test_a_vacancy_is_open_from_leaving_until_the_hiring_delay_has_passed():
    year = play(leaver_plan(), 0)
    vacancies = year.world.ledger.kpi[:, K["vacancies"]]
    ends = np.arange(1, len(vacancies) + 1) * 7.0          # each row is closed at its week's end
    open_ = (ends > LEAVE_DAY) & (ends < LEAVE_DAY + 60)
    assert (vacancies[open_] == 1).all() and (vacancies[ends < LEAVE_DAY] == 0).all()
    assert (vacancies[ends > LEAVE_DAY + 60] == 0).all()
    assert year.world.ledger.counts["hires"] == 1


# --- budget_cut ------------------------------------------------------------------------------

LEADS_ONLY = new_logo(lead_advance=0.0)      # every lead is lost at once: counting leads is cheap


WEEK_2 = "+1w"     # day 7: a week boundary, where the week's leads and spend are drawn


def with_shock_from_day_7(leads: float, factor: float) -> float:
    """Leads in a year whose lead rate is x factor from day 7 on."""
    return leads * 7 / YEAR + leads * (YEAR - 7) / YEAR * factor


@pytest.mark.parametrize("cut, elasticity", [(0.3, 0.7), (0.5, 1.0), (0.8, 0.4)])
def test_budget_cut_leads_follow_the_spend_curve(cut, elasticity):
    """Leads x (1 - X) ** spend_elasticity, against the Poisson sampling error."""
    plan = make_plan({"segments": [LEADS_ONLY], "channels": [web(4000, elasticity)],
                      "shocks": [{"type": "budget_cut", "start": WEEK_2, "size": cut}]})
    runs = 3
    leads = sum(simulate_year(plan, SEED, r).record["leads"] for r in range(runs))
    assert_poisson(leads, runs * with_shock_from_day_7(4000, (1 - cut) ** elasticity),
                   f"leads after a {cut:.0%} cut, elasticity {elasticity}")


def test_budget_cut_spends_less_and_hits_only_the_channels_named():
    plan = make_plan({"segments": [LEADS_ONLY],
                      "channels": [web(3000, 1.0, "web", 0.5), web(3000, 1.0, "shows", 0.5)],
                      "shocks": [{"type": "budget_cut", "start": WEEK_2, "size": "40%",
                                  "channels": ["web"]}]})
    seen = {"web": 0, "shows": 0}
    for r in range(2):
        year = play(plan, r)
        for flow in year.flows:
            seen[flow.channel.name] += flow.leads_seen
        spent = year.world.ledger.money["marketing_spent"]
        assert spent == pytest.approx(100_000 * (7 / YEAR + (YEAR - 7) / YEAR * (0.5 * 0.6 + 0.5)), rel=1e-9)
        assert year.world.conditions["budget_cut"] == pytest.approx(0.4)
    assert_poisson(seen["web"], 2 * with_shock_from_day_7(3000, 0.6), "leads of the cut channel")
    assert_poisson(seen["shows"], 2 * 3000, "leads of the channel not cut")


def test_a_shock_from_the_first_day_is_in_force_in_the_first_week():
    plan = make_plan({"segments": [LEADS_ONLY], "channels": [web(100)],
                      "shocks": [{"type": "budget_cut", "start": "2027-01-01", "size": "40%"}]})
    year = play(plan, 0)
    assert year.world.ledger.money["marketing_spent"] == pytest.approx(100_000 * 0.6, rel=1e-9)


def test_a_drawn_cut_is_never_more_than_100_percent():
    """The load check allows a size distribution whose 99.9th percentile is at most 100 %,
    so a rare draw can exceed it: the mechanism clips it (no negative spend or demand)."""
    plan = make_plan({"segments": [LEADS_ONLY], "channels": [web(100)],
                      "shocks": [{"type": "budget_cut", "start": WEEK_2, "size": "50%"}]})
    shock = plan.shocks[0].model_copy(update={"size": Fixed(1.2)})   # past the load check on purpose
    year = play(plan.model_copy(update={"shocks": [shock]}), 0)
    assert year.shocks[0].size == 1.0
    assert year.world.ledger.money["marketing_spent"] == pytest.approx(100_000 * 7 / YEAR)
    assert year.world.conditions["budget_cut"] == 1.0
    assert year.world.ledger.kpi[1:, K["leads_week"]].sum() == 0


# --- supplier_delay -------------------------------------------------------------------------------


def supplier_plan(days: float, **shock) -> object:
    return make_plan({"products": TWO_PRODUCTS,
                      "segments": [new_logo(win=1.0, mix={"p": 0.5, "q": 0.5})],
                      "channels": [web(1500)],
                      "shocks": [{"type": "supplier_delay", "supplier": "s1", "start": "2027-01-01",
                                  "size": f"{days}d", **shock}]})


def test_a_supplier_delay_within_tolerance_slips_delivery_and_revenue_not_bookings():
    """D = 10 days on a 3-day delivery: every p deal is delivered exactly 13 days after
    signing, q deals still in 3; nothing is lost; bookings are those of the calm year."""
    calm = make_plan({"products": TWO_PRODUCTS, "segments": [new_logo(win=1.0, mix={"p": 0.5, "q": 0.5})],
                      "channels": [web(1500)]})
    year, base = play(supplier_plan(10, tolerance="14d"), 0), play(calm, 0)
    slips = {round(b.delivered_day - b.day, 9) for b in year.world.ledger.bookings if b.product == 0}
    others = {round(b.delivered_day - b.day, 9) for b in year.world.ledger.bookings if b.product == 1}
    assert slips == {13.0} and others == {3.0}
    assert year.world.ledger.counts["lost_late_delivery"] == 0
    rec, ref = year.world.ledger.record(year.rep_names), base.world.ledger.record(base.rep_names)
    assert rec["bookings"] == ref["bookings"]
    assert rec["revenue"] < ref["revenue"]
    assert rec["revenue"] == pytest.approx(sum(b.value for b in year.world.ledger.bookings
                                               if b.delivered_day < YEAR))
    assert year.world.conditions["supplier_delay_days"] == 10


def test_a_supplier_delay_over_tolerance_loses_lost_share_of_the_deals():
    """D = 30 days: delivery 33 > 14 days of tolerance, so 30 % of p's would-be wins walk away."""
    plan = supplier_plan(30, tolerance="14d", lost_share="30%")
    late = won = 0
    for r in range(2):
        year = play(plan, r)
        late += year.world.ledger.counts["lost_late_delivery"]
        won += sum(1 for b in year.world.ledger.bookings if b.product == 0)
        assert all(b.delivered_day - b.day == pytest.approx(3.0)
                   for b in year.world.ledger.bookings if b.product == 1)
    assert_binomial(late, late + won, 0.3, "share of p deals lost to late delivery")


def test_a_supplier_delay_hits_renewals_of_that_supplier_s_products():
    """Renewals of p x (1 - renewal_hit): the renewals lost are the accounts with
    u in [80 % x 0.9, 80 %), a binomial count of the p accounts; q renews as before."""
    lost, n_p = renewals_of_p_lost_to({"type": "supplier_delay", "supplier": "s1", "start": "2027-01-01",
                                       "size": "20d", "renewal_hit": "10%"})
    assert_binomial(lost, n_p, 0.8 * 0.1, "share of p renewals lost to the supplier delay")


# --- policy_shift ----------------------------------------------------------------------------------


def test_a_policy_shift_removes_the_industry_s_share_of_leads():
    """Education is 40 % of SMB demand; closing 90 % of it leaves 1 - 0.4 x 0.9 = 64 %."""
    plan = make_plan({"segments": [{**LEADS_ONLY, "industries": {"education": "40%", "retail": "30%"}}],
                      "channels": [web(4000)],
                      "shocks": [{"type": "policy_shift", "industry": "education",
                                  "start": WEEK_2, "size": "90%"}]})
    leads = sum(simulate_year(plan, SEED, r).record["leads"] for r in range(3))
    assert_poisson(leads, 3 * with_shock_from_day_7(4000, 1 - 0.4 * 0.9), "leads after the policy shift")


def test_a_policy_shift_cuts_renewals_of_key_accounts_in_the_industry():
    """Accounts in education renew at 80 % x (1 - 90 %) = 8 %; the others at 80 %."""
    plan = ka_plan(1500, [{"type": "policy_shift", "industry": "education", "start": "2027-01-01",
                           "size": "90%"}],
                   industries={"education": "40%", "retail": "30%"})
    renewed, probabilities, n_edu = 0, [], 0
    for r in range(2):
        year = play(plan, r)
        accs = accounts(year)
        n_edu += sum(1 for a in accs if a.industry == "education")
        probabilities += [0.8 * 0.1 if a.industry == "education" else 0.8 for a in accs]
        renewed += year.world.ledger.counts["ka_renewed"]
    assert_binomial(n_edu, len(probabilities), 0.4, "share of education accounts")
    assert_poisson_binomial(renewed, probabilities, "KA renewals after the policy shift")


# --- probability, random start, duration ------------------------------------------------------


def tiny(shock: dict) -> object:
    """A plan that costs almost nothing to simulate, to look at when and whether shocks hit."""
    return make_plan({"segments": [LEADS_ONLY], "channels": [web(5)], "shocks": [shock]})


def shock_starts(plan, runs: int) -> list[float | None]:
    """Each replication's start day of its first shock, or None when it did not happen."""
    out = []
    for r in range(runs):
        year = play(plan, r)
        starts = [day for day, _, _, _, what in year.world.ledger.shock_log if what == "start"]
        out.append(starts[0] if starts else None)
    return out


def test_a_shock_happens_in_about_p_of_the_worlds_and_starts_uniformly_in_its_window():
    """probability 30 %: a binomial share of 400 worlds. between [Q2, Q3]: days 90 to 181,
    uniform (Kolmogorov-Smirnov at the same level)."""
    runs = 400
    plan = tiny({"type": "budget_cut", "size": "10%", "probability": "30%",
                 "start": {"between": ["Q2", "Q3"]}})
    starts = shock_starts(plan, runs)
    happened = [s for s in starts if s is not None]
    assert_binomial(len(happened), runs, 0.3, "share of worlds the shock hits")
    assert all(90.0 <= s <= 181.0 for s in happened)
    assert stats.kstest(happened, stats.uniform(90.0, 91.0).cdf).pvalue > ALPHA


def test_a_shock_hits_the_same_worlds_at_the_same_time_in_every_variant_that_has_it():
    """Common random numbers: another shock before it, or a bigger budget, does not change
    whether, when and how hard it hits."""
    shock = {"type": "price_cut", "name": "war", "size": {"uniform": ["10%", "30%"]},
             "probability": "50%", "start": {"between": ["Q1", "Q4"]}}
    other = {"type": "budget_cut", "name": "cut", "size": "10%", "start": "Q3"}
    one = tiny(shock)
    two = make_plan({"segments": [LEADS_ONLY], "channels": [web(50)], "shocks": [other, shock],
                     "marketing": {"budget": 200_000}})
    for r in range(20):
        a = SalesYear(World(one, SEED, r)).shocks[0]
        b = SalesYear(World(two, SEED, r)).shocks[1]
        assert (a.happens, a.start, a.size) == (b.happens, b.start, b.size), f"replication {r}"


def test_a_shock_with_a_duration_is_taken_back_exactly_when_it_ends():
    """A 50 % budget cut (elasticity 1) from week 14 for 13 weeks: leads halve in those
    weeks only, and every lever and market condition is neutral again afterwards."""
    plan = make_plan({"segments": [LEADS_ONLY], "channels": [web(5200, 1.0)],
                      "shocks": [{"type": "budget_cut", "name": "h", "start": "+14w",
                                  "duration": "13w", "size": "50%"}]})
    during = outside = 0.0
    for r in range(3):
        year = play(plan, r)
        weekly = year.world.ledger.kpi[:, K["leads_week"]]
        during += weekly[14:27].sum()
        outside += weekly.sum() - weekly[14:27].sum()
        assert year.world.levers.channel_spend == {"web": 1.0}
        assert year.world.conditions["budget_cut"] == 0.0
        log = [(day, what) for day, _, _, _, what in year.world.ledger.shock_log]
        assert log == [(98.0, "start"), (189.0, "end")]
    rate = 5200 / YEAR
    assert_poisson(during, 3 * rate * 91 * 0.5, "leads during the cut")
    assert_poisson(outside, 3 * rate * (YEAR - 91), "leads outside the cut")


def test_a_price_cut_with_a_duration_restores_every_lever():
    edu = {"industries": {"edu": "50%"}}
    plan = make_plan({"products": TWO_PRODUCTS, "segments": [new_logo(win=0.5, **edu), key_accounts(50, **edu)],
                      "channels": [web(100)],
                      "shocks": [{"type": "price_cut", "start": "Q2", "duration": {"uniform": ["20d", "60d"]},
                                  "size": "20%"},
                                 {"type": "supplier_delay", "supplier": "s1", "start": "Q2",
                                  "duration": "30d", "size": "20d"},
                                 {"type": "policy_shift", "industry": "edu", "start": "Q3",
                                  "duration": "10d", "size": "50%"}]})
    year = play(plan, 0)
    lev = year.world.levers
    assert all(v == pytest.approx(1.0) for table in (lev.win_rate, lev.price, lev.renewal, lev.industry_demand)
               for v in table.values())
    assert all(v == pytest.approx(0.0) for v in lev.stall_share.values())
    assert all(v == pytest.approx(0.0) for v in lev.delivery_extra_days.values())
    assert lev.delivery_tolerance == {} and lev.late_lost_share == {}
    assert all(v == pytest.approx(0.0) for v in year.world.conditions.values())
    ends = [what for *_, what in year.world.ledger.shock_log]
    assert ends.count("start") == ends.count("end") == 3


# --- bad input: one line, file and line, exit code 2 --------------------------------------------

SHOCK_CASES = {
    "unknown type": ("type: price_cutt\n    size: 20%\n    start: Q2",
                     4, ["shocks[0]", "unknown shock type 'price_cutt'", "did you mean 'price_cut'"]),
    "unknown rep": ("type: rep_leaves\n    reps: [Chenn]\n    start: Q2",
                    6, ["shocks[0].reps", "unknown rep 'Chenn'", "did you mean 'Chen'"]),
    "date after the horizon": ("type: budget_cut\n    size: 20%\n    start: 2028-03-01",
                               7, ["shocks[0].start", "2028-03-01", "outside the horizon"]),
    "date before the horizon": ("type: budget_cut\n    size: 20%\n    start: 2026-12-01",
                                7, ["shocks[0].start", "2026-12-01", "outside the horizon"]),
    "window past the horizon": ("type: budget_cut\n    size: 20%\n    start: {between: [Q3, 2028-02-01]}",
                                7, ["shocks[0].start", "2028-02-01", "outside the horizon"]),
    "window backwards": ("type: budget_cut\n    size: 20%\n    start: {between: [Q3, Q2]}",
                         7, ["shocks[0].start", "the window ends (2027-04-01) before it starts (2027-07-01)"]),
    "a 120 % cut": ("type: budget_cut\n    size: 120%\n    start: Q2",
                    6, ["shocks[0].size", "at most 100%", "120%"]),
    "a cut that may exceed 100 %": ("type: price_cut\n    size: {uniform: [50%, 130%]}\n    start: Q2",
                                    6, ["shocks[0].size", "at most 100%"]),
    "a supplier nobody uses": ("type: supplier_delay\n    supplier: nobody\n    size: 10d\n    start: Q2",
                               6, ["shocks[0].supplier", "'nobody'", "no product uses it", "cloudhost"]),
    "an unknown industry": ("type: policy_shift\n    industry: mining\n    start: Q2",
                            6, ["shocks[0].industry", "unknown industry 'mining'"]),
    "reps and top": ("type: rep_leaves\n    reps: [Chen]\n    top: 1\n    start: Q2",
                     4, ["shocks[0]", "not both"]),
    "probability over 1": ("type: budget_cut\n    size: 20%\n    start: Q2\n    probability: 1.5",
                           8, ["shocks[0].probability", "1.5"]),
    "negative duration": ("type: budget_cut\n    size: 20%\n    start: Q2\n    duration: -5d",
                          8, ["shocks[0].duration", "-5"]),
    "unknown channel": ("type: budget_cut\n    size: 20%\n    start: Q2\n    channels: [onlin]",
                        8, ["shocks[0].channels", "did you mean 'online'"]),
}


def shock_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "shocked.yaml"
    path.write_text(f"extends: {SCENARIOS / 'baseline.yaml'}\nname: shocked\nshocks:\n"
                    f"  - name: s\n    {body}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("case", SHOCK_CASES)
def test_a_bad_shock_is_one_clear_line_and_exit_code_2(tmp_path, capsys, case):
    body, line, fragments = SHOCK_CASES[case]
    path = shock_file(tmp_path, body)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 2, f"exit {code}: {out}{err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"{path}:{line}:"), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} missing from: {lines[0]}"


def test_a_bad_shock_stops_a_run_before_it_starts(tmp_path, capsys):
    path = shock_file(tmp_path, SHOCK_CASES["window backwards"][0])
    code = main([str(path), "--runs", "2", "--workers", "1", "--quiet", "--out", str(tmp_path / "out")])
    _, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert not (tmp_path / "out" / "summary.json").exists()


# --- the scenario files -------------------------------------------------------------------------

SCENARIO_FILES = sorted(p.name for p in SCENARIOS.glob("*.yaml") if p.name != "baseline.yaml")


def test_there_are_six_shock_scenarios():
    assert SCENARIO_FILES == ["budget_cut.yaml", "key_rep_leaves.yaml", "perfect_storm.yaml",
                              "policy_shift.yaml", "price_war.yaml", "supplier_delay.yaml"]


@pytest.mark.parametrize("name", SCENARIO_FILES)
def test_every_scenario_file_loads_and_runs(name):
    plan = load_plan(SCENARIOS / name)
    assert plan.shocks, f"{name} has no shock"
    variants = variants_to_run(plan)
    # the plan, the same worlds without the shocks, and (with a playbook) without the playbook
    assert list(variants) == ["plan", BASELINE] + ([NO_RULES] if plan.rules else [])
    results = run_replications(variants, 3, plan.seed, workers=1)
    for v in results.variants.values():
        assert len(v.records) == 3 and v.records["attainment"].notna().all()
    hit = [play(plan, r).world.ledger.shock_log for r in range(3)]
    assert any(log for log in hit), f"{name}: the shock never started in 3 worlds"


def test_a_scenario_s_baseline_companion_is_the_plan_without_shocks_world_by_world():
    """The impact compares the shocked years with the same years without the shocks: the
    companion's replication r equals a direct run of baseline.yaml's replication r."""
    plan = load_plan(SCENARIOS / "price_war.yaml")
    base = load_plan(SCENARIOS / "baseline.yaml")
    runs = 4
    results = run_replications(variants_to_run(plan), runs, plan.seed, workers=1)
    companion = results.variants[BASELINE].records
    for r in range(runs):
        direct = simulate_year(base, plan.seed, r).record
        row = companion.loc[r]
        for key, value in direct.items():
            assert row[key] == pytest.approx(value, rel=0, abs=0, nan_ok=True), f"r={r} {key}"
    assert without_shocks(plan).shocks == []
    shocked = results.variants["plan"].records
    effect = impact(results.variants["plan"], results.variants[BASELINE])
    assert effect["runs"] == runs
    assert effect["attainment_mean_diff"] == pytest.approx(
        float((shocked["attainment"] - companion["attainment"]).mean()))
