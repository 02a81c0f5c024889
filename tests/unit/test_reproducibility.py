"""Reproducibility: replication r depends only on (seed, r).

The same plan and seed give identical records for any number of workers and any batch
size; replication r is the same whether 5 or 50 replications run; different seeds give
different years; and plan variants that agree on a source of chance share its draws
(common random numbers).
"""

from __future__ import annotations

import gc
import random
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS
from factory import make_plan

from simulate.cli.main import main
from simulate.engine.ledger import K
from simulate.engine.streams import Weekly, replication_seed, stream
from simulate.engine.year import simulate_year
from simulate.load.loader import load_plan
from simulate.run.runner import run_replications

RUNS = 12


@pytest.fixture(scope="module")
def plan():
    """A small plan with every source of chance: stalls, scarce reps who leave, KA, win-back."""
    return make_plan({
        "products": [{"name": "p", "portfolio": "star", "price": 1000, "margin": "50%",
                      "delivery_days": {"triangular": [1, 5, 20]}}],
        "segments": [
            {"name": "SMB", "kind": "new_logo", "mix": {"p": 1.0}, "funnel": {
                "lead": {"advance": 0.5, "lost": 0.3, "time": {"gamma": {"mean": 10, "sd": 5}}, "effort": 0.5},
                "intent": {"advance": 0.6, "time": {"exponential": {"mean": 8}}, "effort": 1},
                "negotiation": {"advance": 0.5, "time": {"uniform": [5, 15]}, "effort": 1},
                "units": {"lognormal": {"mean": 10, "sd": 4}}}},
            {"name": "KA", "kind": "key_accounts", "mix": {"p": 1.0}, "accounts": {
                "count": 12, "contract_value": {"lognormal": {"mean": 50000, "sd": 20000}},
                "renewal_without_visits": 0.8, "renewal_with_full_visits": 0.92,
                "renewal_after_rep_left": 0.7}},
            {"name": "WB", "kind": "winback", "mix": {"p": 1.0}, "winback": {
                "pool": 20, "calls_per_month": 3, "win_probability": 0.3, "units": {"poisson": {"mean": 8}}}},
        ],
        "channels": [{"name": "web", "segment": "SMB", "budget_share": 1.0, "leads_per_year": 150}],
        "team": {"reps": [{"name": "A", "visits_per_week": 6}, {"name": "B", "visits_per_week": 4},
                          {"name": "C", "level": "new_hire", "start": "2027-02-01"}],
                 "attrition_per_year": 0.5, "hiring_delay": 30},
        "collections": {"share": 0.8, "delay": {"gamma": {"mean": 30, "sd": 10}}},
    })


@pytest.fixture(scope="module")
def reference(plan):
    return run_replications(plan, RUNS, 99, workers=1, batch_size=RUNS).variants["plan"]


@pytest.mark.parametrize("workers, batch_size", [(1, 1), (1, 5), (2, 1), (2, 5), (2, None)])
def test_same_records_for_any_workers_and_batch_size(plan, reference, workers, batch_size):
    got = run_replications(plan, RUNS, 99, workers=workers, batch_size=batch_size).variants["plan"]
    pd.testing.assert_frame_equal(got.records, reference.records, check_exact=True)
    np.testing.assert_array_equal(got.cumulative, reference.cumulative)


@pytest.mark.parametrize("workers, batch_size", [(1, 1), (2, 5)])
def test_same_weekly_tables_for_any_workers_and_batch_size(plan, reference, workers, batch_size):
    """Weekly KPIs are folded one replication at a time in replication order, so even their
    means and sds are bitwise identical, whatever the batching."""
    got = run_replications(plan, RUNS, 99, workers=workers, batch_size=batch_size).variants["plan"]
    pd.testing.assert_frame_equal(got.weekly_mean, reference.weekly_mean, check_exact=True)
    pd.testing.assert_frame_equal(got.weekly_sd, reference.weekly_sd, check_exact=True)


def test_a_record_is_simulate_year_of_seed_and_r(plan, reference):
    for r in (0, 5, RUNS - 1):
        record = simulate_year(plan, 99, r).record
        row = reference.records.loc[r]
        assert {k: row[k] for k in record} == record


def test_replication_r_does_not_depend_on_how_many_run(plan, reference):
    few = run_replications(plan, 4, 99, workers=1).variants["plan"].records
    pd.testing.assert_frame_equal(few, reference.records.iloc[:4], check_exact=True)


def test_replications_run_out_of_order_are_the_same(plan):
    forward = [simulate_year(plan, 3, r).record for r in range(4)]
    backward = [simulate_year(plan, 3, r).record for r in reversed(range(4))][::-1]
    assert forward == backward


def test_different_seeds_give_different_years(plan, reference):
    other = run_replications(plan, RUNS, 100, workers=1).variants["plan"].records
    for column in ("bookings", "leads", "signed"):
        assert not other[column].equals(reference.records[column]), column
    # and the replications of one seed differ from each other
    assert reference.records["bookings"].nunique() == RUNS


def test_seed_is_not_a_replication_offset(plan):
    """(seed 1, r 1) and (seed 2, r 0) are unrelated streams, not shifted copies."""
    assert simulate_year(plan, 1, 1).record != simulate_year(plan, 2, 0).record


def test_the_model_leaves_global_random_state_alone(plan):
    np_state, py_state = np.random.get_state(), random.getstate()
    simulate_year(plan, 7, 0)
    after = np.random.get_state()
    assert all(np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
               for a, b in zip(np_state, after))
    assert random.getstate() == py_state


def test_the_collector_pause_is_undone_and_changes_nothing(plan):
    """A year pauses Python's cycle collector for speed: afterwards it is as it was (on, or
    off if the caller had switched it off), and the year is the same either way."""
    assert gc.isenabled()
    with_collector = simulate_year(plan, 7, 0)
    assert gc.isenabled()
    gc.disable()
    try:
        assert simulate_year(plan, 7, 0).record == with_collector.record
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_variants_share_random_numbers_where_their_plans_agree(plan):
    """Common random numbers: a KA renewal lever does not move a single lead or rep
    departure, and a different target changes only attainment, hit and the targets under
    which the year is the same (written in currency)."""
    base = [simulate_year(plan, 8, r).record for r in range(6)]
    ka = plan.segments[1]
    kinder = plan.model_copy(update={"segments": [plan.segments[0], ka.model_copy(update={
        "accounts": ka.accounts.model_copy(update={"renewal_without_visits": 0.95,
                                                   "renewal_with_full_visits": 0.99})}),
        plan.segments[2]]})
    other_target = plan.model_copy(update={"target": plan.target.model_copy(update={"annual": 1.0})})
    for r, rec in enumerate(base):
        variant = simulate_year(kinder, 8, r).record
        for key in ("leads", "reps_left", "hires", "ka_due", "winback_calls"):
            assert variant[key] == rec[key], key
        assert variant["ka_renewed"] >= rec["ka_renewed"]     # same uniforms, higher thresholds
        moved = simulate_year(other_target, 8, r).record
        target_read = ("attainment", "hit", "same_year_target_low", "same_year_target_high")
        assert {k: v for k, v in moved.items() if k not in target_read} == \
               {k: v for k, v in rec.items() if k not in target_read}


def test_a_variant_with_more_leads_has_the_same_leads_and_more():
    """Lead volume x1.1: week by week at least as many leads (one uniform inverted per
    week), and the smaller variant's leads arrive at a subset of the larger's times, even
    after weeks where the counts differed."""
    web = lambda leads: make_plan({"channels": [{"name": "web", "segment": "SMB", "budget_share": 1.0,
                                                  "leads_per_year": leads}]})
    for r in range(10):
        fewer, more = (simulate_year(web(leads), 8, r, trace=True) for leads in (300, 330))
        week = K["leads_week"]
        assert (more.weekly[:, week] >= fewer.weekly[:, week]).all()
        arrivals = [Counter(d["lead_day"] for d in year.trace.deals) for year in (fewer, more)]
        assert not arrivals[0] - arrivals[1], r
        # Not the same year: each week's counts agree with probability 0.42, all 53 by 1e-19.
        assert more.record["leads"] > fewer.record["leads"], r


def test_a_weekly_stream_draws_the_same_week_whatever_came_before():
    draws = lambda counts: [Weekly(stream(replication_seed(1, 0), "w")).draw(w, n) for w, n in counts]
    first, second = draws([(0, 3), (1, 2), (4, 5)]), draws([(0, 40), (1, 6), (2, 1), (4, 2)])
    np.testing.assert_array_equal(first[1], second[1][:2])
    np.testing.assert_array_equal(first[2][:2], second[3])


def test_baseline_file_gives_identical_results_files(tmp_path, capsys):
    """Two CLI runs of the same file and seed write byte-identical tables."""
    baseline = str(SCENARIOS / "baseline.yaml")
    for name, workers in (("one", "1"), ("two", "2")):
        code = main([baseline, "--runs", "6", "--seed", "11", "--workers", workers,
                     "--out", str(tmp_path / name), "--quiet"])
        assert code == 0, capsys.readouterr().err
    for table in ("replications.csv", "weekly.csv"):
        one, two = (tmp_path / "one" / table).read_bytes(), (tmp_path / "two" / table).read_bytes()
        assert one == two, table
    plan = load_plan(baseline)
    direct = simulate_year(plan, 11, 5).record
    rows = pd.read_csv(tmp_path / "one" / "replications.csv")
    assert rows.loc[rows["replication"] == 5, "bookings"].item() == pytest.approx(direct["bookings"], rel=1e-15)



def test_a_drawn_effort_moves_no_other_draw():
    """Efforts have streams of their own: `effort: 1` and `{fixed: 1}` play the same year, and
    drawing the negotiation's effort instead leaves every lead's arrival, product and answers
    as they were (no stage stalls here, so every answer is the lead's own draw)."""
    def plan(negotiation_effort: object):
        funnel = {"lead": {"advance": 0.6, "time": 5, "effort": 0.5},
                  "intent": {"advance": 0.5, "time": {"exponential": {"mean": 10}}, "effort": 1},
                  "negotiation": {"advance": 0.5, "time": 5, "effort": negotiation_effort},
                  "units": 10}
        return make_plan({"segments": [{"name": "SMB", "kind": "new_logo", "mix": {"p": 1.0},
                                        "funnel": funnel}],
                          "team": {"reps": [{"name": "A", "visits_per_week": 5}]}})
    fixed, written, drawn = plan(1), plan({"fixed": 1}), plan({"gamma": {"mean": 1, "sd": 0.8}})
    for r in range(3):
        base = simulate_year(fixed, 8, r, trace=True)
        same = simulate_year(written, 8, r, trace=True)
        assert same.record == base.record and same.trace == base.trace
        np.testing.assert_array_equal(same.weekly, base.weekly)
        deals = base.trace.deals
        other = simulate_year(drawn, 8, r, trace=True).trace.deals
        leads = [[(d["lead_day"], d["product"]) for d in year] for year in (deals, other)]
        assert leads[0] == leads[1]
        pairs = list(zip(deals, other))
        closed = [(a["outcome"], b["outcome"]) for a, b in pairs
                  if "open" not in (a["outcome"], b["outcome"])]
        assert len(closed) > 0.8 * len(deals) and all(a == b for a, b in closed)
        assert any(a["closed_day"] != b["closed_day"] for a, b in pairs if a["outcome"] == "won")
