"""The re-forecast is right: bookings before the horizon never count, open deals keep their
age in stage and the work already done, stale deals are lost with their stated chance.

Tolerances come from the sample sizes (stats_checks); the timing checks use fixed stage
times, so their answers are exact.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from factory import make_plan, minimal_plan_data
from scipy import integrate
from stats_checks import assert_binomial, assert_close

from simulate.cli.main import main
from simulate.engine.ledger import K
from simulate.engine.year import simulate_year
from simulate.errors import InputError
from simulate.load.crm import Deal
from simulate.load.pipeline import opening_from_crm, stale_rule
from simulate.plan.distributions import (
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    LogNormal,
    Triangular,
    Uniform,
)

N = 4000


def residual_mean(law, age: float) -> float:
    """E[T - age | T > age], by numerical integration of the survival function."""
    frozen = law.scipy()
    tail = integrate.quad(frozen.sf, age, np.inf, limit=200)[0]
    return tail / frozen.sf(age)


@pytest.mark.parametrize("law", [Gamma(30.0, 15.0), LogNormal(30.0, 20.0), Exponential(30.0),
                                 Uniform(10.0, 50.0), Triangular(0.0, 10.0, 60.0)])
@pytest.mark.parametrize("age", [0.0, 20.0, 45.0])
def test_the_time_left_in_a_stage_is_the_conditional_residual(law, age):
    rng = np.random.default_rng(5)
    left = np.array([law.remaining(rng, age) for _ in range(N)])
    assert (left >= 0).all()
    if age == 0:
        expected = law.mean
    else:
        expected = residual_mean(law, age)
    assert_close(left.mean(), expected, left.std(ddof=1) / math.sqrt(N), f"{law} residual at {age}")


def test_fixed_and_empirical_residuals_are_exact():
    rng = np.random.default_rng(1)
    assert Fixed(30.0).remaining(rng, 12.0) == 18.0 and Fixed(30.0).remaining(rng, 40.0) == 0.0
    draws = {Empirical((5.0, 20.0, 40.0)).remaining(rng, 10.0) for _ in range(200)}
    assert draws == {10.0, 30.0}
    assert Empirical((5.0,)).remaining(rng, 10.0) == 0.0


def test_the_memoryless_exponential_forgets_its_age():
    rng = np.random.default_rng(2)
    left = np.array([Exponential(10.0).remaining(rng, 200.0) for _ in range(N)])
    assert_close(left.mean(), 10.0, 10.0 / math.sqrt(N), "exponential residual at 20 means")


# --- the model: a plan with no new leads, only the opening's deals ---------------------------

AS_OF = dt.date(2027, 3, 1)            # day 59 of the horizon: the clock starts on day 60


def opening_plan(open_deals: list[dict], effort: float = 1.0, stage_time: float = 150.0,
                 stale: dict | None = None, bookings: list[dict] | None = None):
    fixed = {"advance": 1.0, "time": stage_time, "effort": effort}
    return make_plan({
        "segments": [{"name": "SMB", "kind": "new_logo", "mix": {"p": 1.0},
                      "funnel": {"lead": fixed, "intent": fixed, "negotiation": fixed, "units": 10}}],
        "channels": [{"name": "web", "segment": "SMB", "budget_share": 1.0, "leads_per_year": 0.001}],
        "team": {"reps": [{"name": "A", "visits_per_week": 7}], "attrition_per_year": 0},
        "opening": {"as_of": AS_OF.isoformat(), "bookings": bookings or [], "open_deals": open_deals,
                    "stale": stale},
    })


def deals(n: int, entered: str | None, stale: bool = False) -> list[dict]:
    return [{"id": f"D{i}", "stage": "negotiation", "channel": "web", "product": "p", "rep": "A",
             "entered": entered, "stale": stale} for i in range(n)]


def test_an_open_deal_answers_when_its_own_stage_time_is_up_and_its_work_is_not_redone():
    """In negotiation since 2026-11-01: 121 days when the clock starts on the day after as-of
    (day 60); a 1-visit stage at 7 visits a week took 1 day of work, so the fixed 150-day stage
    has 150 - 120 = 30 days left: every deal signs on day 90 (week 12), and no visit is spent
    on them again."""
    year = simulate_year(opening_plan(deals(20, "2026-11-01")), 1, 0)
    signed = year.weekly[:, K["signed_week"]]
    assert signed[12] == 20 and signed.sum() == 20
    assert year.weekly[:, K["visits_new_logo"]].sum() == 0
    assert year.record["open_start"] == 20


def test_a_deal_that_just_entered_its_stage_gets_its_work_and_the_whole_stage_time():
    """Entry unknown: the rep's 2 visits each (6 visits, about a week of one rep's time), then
    the whole 30-day stage, so they sign between day 60 + 30 = 90 (week 12) and a week later.
    Entered on as-of: the clock starts the next morning, a day in the stage, one visit of the
    two done (7 a week): 3 visits left in all."""
    for entered, visits in ((None, 6.0), (AS_OF.isoformat(), 3.0)):
        year = simulate_year(opening_plan(deals(3, entered), effort=2.0, stage_time=30.0), 1, 0)
        assert year.weekly[:, K["visits_new_logo"]].sum() == pytest.approx(visits)
        signed = year.weekly[:, K["signed_week"]]
        assert signed[12:14].sum() == 3 == signed.sum()


@pytest.mark.parametrize("loss", [0.0, 0.3, 1.0])
def test_a_stale_deal_is_lost_at_once_with_its_stated_chance(loss):
    n, runs = 50, 20
    stale = {"after_days": 60, "loss": loss, "reached": 10, "won_after": 7}
    plan = opening_plan(deals(n, "2026-11-01", stale=True), stale=stale)
    signed = sum(simulate_year(plan, 3, r).record["signed"] for r in range(runs))
    assert_binomial(n * runs - signed, n * runs, loss, "stale deals lost")


@pytest.mark.parametrize("loss", [0.3, 1.0])
def test_a_deal_lost_unrecorded_is_lost_at_once_with_its_chance(loss):
    n, runs = 50, 20
    plan = opening_plan([{**d, "lost_already": loss} for d in deals(n, "2026-11-01")])
    signed = sum(simulate_year(plan, 3, r).record["signed"] for r in range(runs))
    assert_binomial(n * runs - signed, n * runs, loss, "deals lost unrecorded")


def test_a_booking_before_the_horizon_is_refused_in_the_plan():
    with pytest.raises(Exception, match="belongs to another year"):
        opening_plan([], bookings=[{"date": "2026-12-20", "amount": 1000, "segment": "SMB", "product": "p"}])


def test_bookings_fall_in_their_quarter_of_the_horizon():
    plan = opening_plan([], bookings=[{"date": "2027-01-01", "amount": 1000, "segment": "SMB", "product": "p"},
                                      {"date": "2027-02-28", "amount": 500, "segment": "SMB", "product": "p"}])
    record = simulate_year(plan, 1, 0).record
    assert record["quarter:Q1"] == 1500 and record["bookings"] == 1500


# --- from the CRM export -----------------------------------------------------------------------

HEADER = "deal_id,created,intent_date,negotiation_date,closed_date,last_stage,outcome,amount,segment,product,channel,rep\n"


def write_deals(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "deals.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def plan_data() -> dict:
    return minimal_plan_data()


def test_the_opening_counts_no_booking_made_before_the_horizon(tmp_path):
    path = write_deals(tmp_path, [
        "D1,2026-10-01,2026-10-10,2026-11-01,2026-12-15,negotiation,won,9000,SMB,p,web,A",   # last year
        "D2,2026-12-01,2026-12-10,2027-01-05,2027-02-01,negotiation,won,4000,SMB,p,web,A",   # this year
        "D3,2027-01-10,2027-01-20,2027-02-10,,negotiation,open,,SMB,p,web,A",
        "D0,2026-03-01,,,2026-05-01,lead,lost,,Enterprise,p,web,A",   # unknown segment, but long settled
    ])
    opening = opening_from_crm([path], AS_OF, plan_data())
    assert [b["amount"] for b in opening["bookings"]] == [4000]
    (deal,) = opening["open_deals"]
    assert deal["entered"] == "2027-02-10" and deal["stage"] == "negotiation"


def test_a_deal_the_plan_cannot_place_is_named_by_row_and_column(tmp_path):
    path = write_deals(tmp_path, ["D1,2027-01-10,,,,lead,open,,SMB,p,web,A",
                                  "D2,2027-01-10,,,,lead,open,,Enterprise,p,web,A"])
    with pytest.raises(InputError, match=r"row 3, column 'segment': expected a segment of the plan \(SMB\), "
                                         r"found 'Enterprise'"):
        opening_from_crm([path], AS_OF, plan_data())


def test_the_cli_refuses_it_in_one_line(tmp_path, capsys):
    path = write_deals(tmp_path, ["D1,2027-01-10,,,,lead,open,,SMB,p,nowhere,A"])
    plan = tmp_path / "plan.yaml"
    import yaml
    plan.write_text(yaml.safe_dump(plan_data()))
    code = main([str(plan), "--from-pipeline", str(path), "--as-of", "2027-03-01", "--runs", "2",
                 "--workers", "1", "--quiet", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "deals.csv: row 2, column 'channel'" in err


def crm_deal(i: int, created: dt.date, closed: dt.date | None, outcome: str) -> Deal:
    return Deal(f"D{i}", created, None, None, closed, "lead", outcome, 1.0 if outcome == "won" else None,
                "SMB", "p", "web", None, None)


def test_the_stale_rule_is_the_95th_percentile_and_the_share_not_won_after_it():
    """100 deals closed after 1..100 days (p95 = 95.05 days); deals open at that age: the
    five closed after 96..100 days (two won) and three still open, 200 days old: 2 of 8 won."""
    start = dt.date(2026, 1, 1)
    as_of = dt.date(2027, 1, 1)
    ds = [crm_deal(i, start, start + dt.timedelta(days=i), "won" if i in (97, 99) else "lost") for i in range(1, 101)]
    ds += [crm_deal(200 + i, as_of - dt.timedelta(days=200), None, "open") for i in range(3)]
    ds.append(crm_deal(300, as_of - dt.timedelta(days=10), None, "open"))     # young: not reached
    rule = stale_rule(ds, as_of)
    assert rule["after_days"] == pytest.approx(95.05)
    assert (rule["reached"], rule["won_after"]) == (8, 2) and rule["loss"] == pytest.approx(0.75)


def _history(stale: float, tmp_path: Path) -> tuple[list, list]:
    """Two years of the reference plan as a CRM holds them (`stale`: the share of lost deals
    nobody closed), read back, with the true deals beside them."""
    from conftest import SCENARIOS

    from simulate.calibrate.synth import Shape, play_export, write_export
    from simulate.load.crm import read_export
    from simulate.load.loader import load_plan
    tables = play_export(load_plan(SCENARIOS / "baseline.yaml"), 5, years=2)
    seen = read_export(*_split(write_export(tables, tmp_path / "seen", Shape(stale=stale), seed=5))).deals
    truth = read_export(*_split(write_export(tables, tmp_path / "truth"))).deals
    return list(seen), list(truth)


def _split(paths: list[Path]) -> tuple[Path, list[Path]]:
    return paths[0], paths[1:]


@pytest.mark.parametrize("stale", [0.0, 0.5])
def test_deals_lost_without_being_closed_are_measured(stale, tmp_path):
    """The silent-loss share matches the lost deals the CRM left open (known here), within a
    binomial interval; an export that closes every deal shows (almost) none, and then no open
    deal is taken as lost."""
    from simulate.load.pipeline import silent_rule
    seen, truth = _history(stale, tmp_path)
    as_of = dt.date(2028, 6, 30)
    after = stale_rule(seen, as_of)["after_days"]
    rule = silent_rule(seen, as_of, after)
    real = {d.id: d for d in truth}
    cohort = [d for d in seen if after < (as_of - d.created).days <= after + 365]
    silent = sum(d.outcome == "open" and real[d.id].outcome == "lost" for d in cohort)
    assert rule.cohort == len(cohort)
    assert_binomial(round(rule.share * len(cohort)), len(cohort), silent / len(cohort), "silent losses")
    if stale == 0:
        # every deal closes: those still open are the slow tail the closed cycles predict
        # (a sum of Bernoulli draws: its sd is at most the square root of its mean)
        assert_close(rule.still_open, rule.expected, max(rule.expected, 1.0) ** 0.5, "open in the cohort")
        assert rule.share == 0 or rule.lost_already(20) < rule.share
    else:
        ages = [1, 20, 40, after]
        chances = [rule.lost_already(a) for a in ages]
        assert chances[0] < 0.05 and chances == sorted(chances) and chances[-1] > 0.8
