"""Signing off a target: the verdict, the signable target, the breaking points.

Validation: on the Poisson funnel with a constant deal value (bookings = v N, N ~ Poisson(mu))
the highest target T with P(bookings >= T) >= c is v times a Poisson quantile; the search must
land within the exact sampling law of the k-th largest of n years. A budget cut's breaking
point is found where the Poisson tail crosses the bar. Unit tests: the verdict at the edges
(exactly at the bar, one year short, no stress scenarios), the bisection on a known curve.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from factory import make_plan, minimal_plan_data, write_plan_with_slump
from hypothesis import given, settings
from hypothesis import strategies as st
from results_checks import same_record
from scipy import stats
from stats_checks import ALPHA, Z

from simulate.cli.decide import Simulator, values, with_target
from simulate.cli.main import main
from simulate.cli.signoff import (
    Search,
    at_target,
    breaking_points,
    cannot_bind,
    check,
    highest_target,
    quantile_ci,
    round_down,
    sharp,
    signable_target,
    verdict,
)
from simulate.engine import KIND as ENGINE
from simulate.run.options import fraction

DEAL = 10 * 1000.0          # units x price: every deal is worth the same
QUIET = argparse.Namespace(quiet=True, json=False, workers=2, batch_size=None)


# --- the verdict at the edges --------------------------------------------------------------

def hits(k: int, n: int) -> np.ndarray:
    return np.arange(n) < k


def test_exactly_at_the_bar_passes_and_one_year_short_fails():
    bar = fraction("80%")
    assert check("plan", hits(240, 300), bar)["passes"]             # 240 / 300 = 80 %
    assert not check("plan", hits(239, 300), bar)["passes"]
    assert check("war", hits(5, 10), fraction("0.5"))["passes"]
    assert not check("war", hits(4, 10), 0.5)["passes"]


def test_bars_of_zero_and_one_and_no_years():
    assert check("plan", hits(0, 50), 0.0)["passes"]
    assert check("plan", hits(50, 50), 1.0)["passes"] and not check("plan", hits(49, 50), 1.0)["passes"]
    assert not check("plan", hits(0, 0), 0.5)["passes"]


def test_verdict_needs_every_check():
    ok, short = check("plan", hits(9, 10), 0.8), check("war", hits(4, 10), 0.5)
    assert verdict([ok]) == "sign"                       # no stress scenarios: the plan alone
    assert verdict([ok, short]) == "do not sign"
    assert verdict([check("plan", hits(7, 10), 0.8), check("war", hits(9, 10), 0.5)]) == "do not sign"
    assert verdict([]) == "do not sign"


def test_command_line_shares():
    assert fraction("80%") == fraction("0.8") == 0.8
    with pytest.raises(argparse.ArgumentTypeError, match="got 120%"):
        fraction("120%")


# --- the highest target a share of years reaches --------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=60), st.floats(0, 1))
def test_highest_target_is_reached_often_enough_and_nothing_higher_is(draws, confidence):
    v = np.array(draws, dtype=float) * DEAL
    t = highest_target(v, confidence)
    assert np.mean(v >= t) >= confidence - 1e-9
    above = v[v > t]
    assert above.size == 0 or np.mean(v >= above.min()) < confidence - 1e-9


def test_round_down_keeps_three_figures_and_never_rounds_up():
    assert round_down(9_617_342) == 9_610_000
    assert round_down(250_000) == 250_000
    assert round_down(999.9) == 999
    assert round_down(0) == 0


# --- the signable target against the Poisson answer -------------------------------------------

def funnel_plan(leads_per_year: float, target: float = 250_000, **extra):
    stage = lambda p: {"advance": p, "time": 0.001, "effort": 0}
    return make_plan({"segments": [{"name": "SMB", "kind": "new_logo", "mix": {"p": 1.0}, "funnel": {
        "lead": stage(1.0), "intent": stage(1.0), "negotiation": stage(0.5), "units": 10}}],
        "channels": [{"name": "web", "segment": "SMB", "budget_share": 1.0, "leads_per_year": leads_per_year,
                      "spend_elasticity": 1.0}],
        "target": {"annual": target}, **extra})


def mean_deals(leads_per_year: float) -> float:
    return leads_per_year * 0.5 * (365 - 0.003) / 365


def accepted(mu: float, confidence: float, n: int) -> tuple[float, float]:
    """Where the k-th largest of n Poisson(mu) years falls with probability 1 - ALPHA: exactly,
    P(estimate >= v j) = P(at least k years reach j) = binom.sf(k - 1, n, poisson.sf(j - 1, mu))."""
    k = math.ceil(confidence * n - 1e-9)
    j = np.arange(0, int(stats.poisson.isf(1e-12, mu)) + 2)
    reach = stats.binom.sf(k - 1, n, stats.poisson.sf(j - 1, mu))     # P(estimate >= v j)
    low = j[reach >= 1 - ALPHA / 2].max()
    high = j[reach > ALPHA / 2].max()
    return low * DEAL, high * DEAL


def test_signable_target_matches_the_poisson_quantile():
    """The plan at 80 % and a slump (fewer leads) at 50 %: the slump binds."""
    n = 300
    plans = {"plan": funnel_plan(60), "slump": funnel_plan(45)}
    required = {"plan": 0.8, "slump": 0.5}
    with Simulator(QUIET, 7, n) as sim:
        records = sim.records(plans)
        first = {s: values(records[s], plans[s]) for s in plans}
        out = signable_target(sim, plans, required, records)
    analytic = {s: DEAL * stats.poisson.ppf(1 - required[s], mean_deals(L)) for s, L in (("plan", 60), ("slump", 45))}
    bounds = {s: accepted(mean_deals(L), required[s], n) for s, L in (("plan", 60), ("slump", 45))}
    low, high = min(b[0] for b in bounds.values()), min(b[1] for b in bounds.values())
    assert low <= out["signable_target"] <= high, (out["signable_target"], low, high, analytic)
    assert out["signable_rounds"] == 0 and out["signable_converged"]     # no rules: one pass is exact
    assert out["signable_binding"] == "slump"
    assert np.mean(first["slump"] >= out["signable_target"]) >= 0.5
    lo, hi = quantile_ci(first["slump"], 0.5, level=1 - ALPHA)
    assert lo <= analytic["slump"] <= hi
    assert out["signable_target_ci95"][0] <= out["signable_target"] <= out["signable_target_ci95"][1]


def test_with_a_rule_reading_attainment_the_target_is_a_fixed_point():
    """A rule that boosts demand when behind the target path fires more under a higher target;
    the signable target, played again at itself, still clears the bar."""
    rule = {"name": "push", "check": "weekly", "when": "week >= 4 and attainment_to_date < 95%",
            "then": [{"action": "boost_demand", "factor": 1.5}], "once": True}
    plan = funnel_plan(60, rules=[rule])
    n = 80
    with Simulator(QUIET, 3, n) as sim:
        out = signable_target(sim, {"plan": plan}, {"plan": 0.8}, sim.records({"plan": plan}))
        t = out["signable_target"]
        replayed = values(sim.records({"plan": with_target(plan, t)})["plan"], plan)
    assert out["signable_rounds"] >= 1
    assert np.mean(replayed >= t) >= 0.8, f"{np.mean(replayed >= t):.3f} of years reach {t:,.0f}"



def test_only_the_years_a_target_can_change_are_played_again():
    """At another target, the years whose rule conditions answer the same everywhere are
    reused and the rest replayed: the values equal playing every year at that target."""
    rule = {"name": "push", "check": "weekly", "when": "week >= 4 and attainment_to_date < 95%",
            "then": [{"action": "boost_demand", "factor": 1.5}], "once": True}
    plan = funnel_plan(60, rules=[rule])
    n = 60
    with Simulator(QUIET, 5, n) as sim:
        records = sim.records({"plan": plan})["plan"]
        for share in (0.7, 0.97, 1.0, 1.03, 1.3):
            t = plan.target.annual * share
            before = sim.years
            reused = at_target(sim, records, plan, t)
            replayed = sim.years - before
            full = values(sim.records({"plan": with_target(plan, t)})["plan"], plan)
            assert np.array_equal(reused, full), share
            assert (replayed == 0) == (share == 1.0), (share, replayed)
            if share in (0.97, 1.03):
                assert replayed < n / 2, (share, replayed)


def without_target(record: dict) -> dict:
    """A year's record less what reads the target itself (and the range, kept in currency)."""
    return {k: v for k, v in record.items()
            if k not in ("attainment", "hit", "same_year_target_low", "same_year_target_high")}


def test_the_bundled_playbook_plays_the_same_year_under_every_target_of_its_range():
    """The reference plan, its whole playbook active: a year played at a target inside the
    range its record gives is the same year, to the bit."""
    from simulate.engine.year import simulate_year
    from simulate.load.loader import load_plan
    plan = load_plan(Path(__file__).parents[2] / "scenarios" / "baseline.yaml")
    inside = 0
    for r in range(12):
        rec = simulate_year(plan, plan.seed, r).record
        for share in (0.94, 1.06):
            t = plan.target.annual * share
            if rec["same_year_target_low"] <= t <= rec["same_year_target_high"]:
                inside += 1
                again = simulate_year(with_target(plan, t), plan.seed, r).record
                assert same_record(without_target(again), without_target(rec)), (r, share)
    assert inside >= 12


@pytest.mark.skipif(ENGINE == "compiled", reason="fakes a World, which a compiled engine refuses")
@pytest.mark.parametrize("by_quarter", [{}, {"Q1": 0.1, "Q2": 0.2, "Q3": 0.3, "Q4": 0.4}])
@pytest.mark.parametrize("day", [0.0, 40.0, 200.0, 364.0])
def test_target_terms_are_how_the_metrics_read_under_another_target(by_quarter, day):
    """Each target-reading metric, observed in one state under the plan's target and under
    s times it, is a + b*s + c/s with the terms `target_terms` gives (the metrics' own code)."""
    from types import SimpleNamespace

    from simulate.engine.ledger import KPI_COLUMNS, K
    from simulate.engine.metrics import OBSERVE, target_terms
    from simulate.plan.conditions import TARGET_METRICS
    plan = make_plan()
    plan = plan.model_copy(update={"target": plan.target.model_copy(update={"by_quarter": by_quarter})})
    kpi = np.zeros((53, len(KPI_COLUMNS)))
    kpi[5, K["bookings_week"]] = 12_345.0

    def observed(p):
        ledger = SimpleNamespace(bookings_total=0.3 * plan.target.annual, kpi=kpi)    # the same bookings
        world = SimpleNamespace(plan=p, env=SimpleNamespace(now=day), horizon=365.0, ledger=ledger)
        return SimpleNamespace(world=world, week_index=5)

    now = {n: OBSERVE[n](observed(plan)) for n in TARGET_METRICS}
    terms = target_terms(observed(plan), now)
    for scale in (0.5, 0.9, 1.1, 3.0):
        moved = with_target(plan, plan.target.annual * scale)
        for name in TARGET_METRICS:
            a, b, c = terms[name]
            assert OBSERVE[name](observed(moved)) == pytest.approx(a + b * scale + c / scale, rel=1e-12, abs=1e-12), \
                (name, scale)

# --- breaking points ----------------------------------------------------------------------

class Oracle:
    """A stand-in simulator whose P(hit) is a known function of the shock's size: world r hits
    when its uniform (r + 0.5) / 200 is below p(size)."""

    def __init__(self, p):
        self.p, self.u = p, (np.arange(200) + 0.5) / 200

    def records(self, plans, runs=None, bars=None, phase=None, each=False):
        def size(plan):
            s = plan.shocks[0]
            return s.top if s.type == "rep_leaves" else s.size.value
        return {k: pd.DataFrame({"hit": (self.u < self.p(size(plan))).astype(float)}) for k, plan in plans.items()}


def shocked(shock: dict) -> dict:
    return {"shocked": make_plan({"shocks": [shock], "products": [
        {"name": "p", "portfolio": "star", "price": 1000, "margin": "50%", "supplier": "acme"}],
        "team": {"reps": [{"name": n, "visits_per_week": 50} for n in "ABCDE"]}})}


CUT = {"type": "budget_cut", "name": "cut", "start": "2027-04-01", "size": "30%"}


def test_bisection_brackets_a_known_breaking_point():
    [b] = breaking_points(Oracle(lambda x: 0.9 - x), shocked(CUT), 0.5, 200)
    assert b["status"] == "breaks" and b["unit"] == "fraction" and b["declared_size"] == pytest.approx(0.3)
    lo, hi = b["searched"]
    assert hi - lo <= 0.01 + 1e-9 and b["breaks_at"] == hi
    assert lo <= 0.4 + 0.005 and hi >= 0.4 - 0.005      # 0.9 - x crosses 50 % at 0.4, on a grid of 1/200
    assert b["p_hit_searched"][0] >= 0.5 > b["p_hit_searched"][1]


def test_the_search_aims_at_the_crossing_and_needs_fewer_sizes_than_halving():
    """When the shock shifts a normal year's result in proportion, P(hit) is a straight line
    on the probit scale: the first guess lands at the crossing. Halving 0..99 % to 1 pp takes
    the two ends and seven sizes."""
    [b] = breaking_points(Oracle(lambda x: stats.norm.cdf(1.2 - 4 * x)), shocked(CUT), 0.5, 200)
    lo, hi = b["searched"]
    assert lo <= 0.3 <= hi and hi - lo <= 0.01 + 1e-9
    assert b["sizes_tried"] <= 5


@pytest.mark.parametrize("seed", range(20))
def test_a_noisy_non_monotone_p_hit_still_closes_the_bracket(seed):
    """Sampling noise makes P(hit) at nearby sizes cross back and forth: the search still ends
    with a bracket within the precision, its low end clearing the bar and its high end not,
    in no more sizes than four for each of bisection's (every fourth size halves the bracket
    at least, and 0..99 % halves to 1 pp in seven), plus the two ends."""
    rng = np.random.default_rng(seed)
    noise = {}

    def p(x):
        return noise.setdefault(x, float(np.clip(0.9 - x + rng.normal(0, 0.05), 0, 1)))
    [b] = breaking_points(Oracle(p), shocked(CUT), 0.5, 200)
    lo, hi = b["searched"]
    assert b["status"] == "breaks" and hi - lo <= 0.01 + 1e-9
    assert p(lo) >= 0.5 - 1 / 200 and p(hi) < 0.5 + 1 / 200
    assert b["sizes_tried"] <= 2 + 4 * 7


def test_holds_at_any_size_and_already_fails():
    [holds] = breaking_points(Oracle(lambda x: 0.9 - 0.3 * x), shocked(CUT), 0.5, 200)
    assert holds["status"] == "holds at any size" and holds["breaks_at"] is None
    [fails] = breaking_points(Oracle(lambda x: 0.4 - x), shocked(CUT), 0.5, 200)
    assert fails["status"] == "already fails at 0" and fails["breaks_at"] == 0


def test_rep_departures_are_searched_in_whole_reps_and_the_bar_itself_holds():
    leave = {"type": "rep_leaves", "name": "quit", "start": "2027-04-01", "top": 1}
    [b] = breaking_points(Oracle(lambda n: 0.8 - 0.1 * n), shocked(leave), 0.5, 200)
    assert b["unit"] == "reps" and b["declared_size"] == 1
    assert b["searched"] == [3, 4] and b["breaks_at"] == 4          # 3 leave: exactly 50 %, still holds


def test_supplier_delay_is_searched_in_days():
    delay = {"type": "supplier_delay", "name": "late", "supplier": "acme", "start": "2027-04-01", "size": "20d"}
    [b] = breaking_points(Oracle(lambda d: 0.9 - d / 100), shocked(delay), 0.5, 200)
    assert b["unit"] == "days" and b["searched"][1] - b["searched"][0] <= 2
    assert 39 <= b["breaks_at"] <= 42.5


def test_the_searched_shock_happens_at_the_size_tried():
    plan = shocked({**CUT, "probability": "50%", "size": {"uniform": ["10%", "50%"]}})["shocked"]
    sized = Search.of("s", plan, 0).at(0.37).shocks[0]
    assert sized.probability == 1.0 and sized.size.value == 0.37 and sized.label() == "cut"


@pytest.mark.slow
def test_budget_cut_breaks_where_the_poisson_tail_crosses_the_bar():
    """Leads fall by the cut from day 91 (elasticity 1): deals ~ Poisson(mu0 (91 + 274 (1 - x)) / 365).
    The search must land where the tail P(deals >= 25) crosses 50 %, within the sampling
    error of 200 years turned into a size through the curve's slope, plus the search's 1 pp."""
    n, bar, k = 200, 0.5, 25
    mu0 = mean_deals(60)
    plan = funnel_plan(60, shocks=[{"type": "budget_cut", "name": "cut", "start": "2027-04-01", "size": "30%"}])
    mu = lambda x: mu0 * (91 + 274 * (1 - x)) / 365
    from scipy.optimize import brentq
    x_star = brentq(lambda x: stats.poisson.sf(k - 1, mu(x)) - bar, 0, 1)
    slope = stats.poisson.pmf(k - 1, mu(x_star)) * mu0 * 274 / 365          # |dP(hit)/dx|
    tolerance = Z * math.sqrt(bar * (1 - bar) / n) / slope + 0.01
    with Simulator(QUIET, 11, n) as sim:
        [b] = breaking_points(sim, {"cut": plan}, bar, n)
    assert b["status"] == "breaks"
    assert abs(b["breaks_at"] - x_star) <= tolerance, (
        f"breaks at {b['breaks_at']:.3f}, theory {x_star:.3f} +- {tolerance:.3f}")


# --- end to end ------------------------------------------------------------------------------

@pytest.fixture
def small_plan(tmp_path):
    data = minimal_plan_data()
    data["channels"][0]["leads_per_year"] = 120
    data["signoff"] = {"confidence": "80%", "stress_confidence": "50%", "scenarios": ["slump.yaml"]}
    write_plan_with_slump(tmp_path, data)
    return tmp_path


def test_signoff_writes_verdict_target_and_breaking_points(small_plan, capsys):
    out = small_plan / "run"
    assert main(["signoff", str(small_plan / "plan.yaml"), "--runs", "30", "--search-runs", "12",
                 "--workers", "1", "--out", str(out)]) == 0
    assert "VERDICT" in capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text())["signoff"]
    assert s["bar"] == {"confidence": 0.8, "stress_confidence": 0.5} and s["metric"] == "bookings"
    assert [c["scenario"] for c in s["checks"]] == ["plan", "slump"]
    assert s["verdict"] == ("sign" if all(c["passes"] for c in s["checks"]) else "do not sign")
    assert s["signable_target"] > 0 and len(s["signable_target_ci95"]) == 2
    [b] = s["breaking_points"]
    assert b["scenario"] == "slump" and b["shock"] == "cut" and b["type"] == "budget_cut"
    assert set(b) >= {"unit", "declared_size", "breaks_at", "searched"} and s["search"]["runs"] == 12


def test_signoff_without_stress_scenarios_judges_the_plan_alone(tmp_path):
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(minimal_plan_data()))
    out = tmp_path / "run"
    assert main(["signoff", str(tmp_path / "plan.yaml"), "--runs", "20", "--confidence", "0%",
                 "--workers", "1", "--out", str(out), "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())["signoff"]
    assert len(s["checks"]) == 1 and s["breaking_points"] == []
    assert s["verdict"] == "sign" and s["bar"]["confidence"] == 0


def test_signoff_names_a_missing_stress_scenario(small_plan, capsys):
    (small_plan / "slump.yaml").unlink()
    assert main(["signoff", str(small_plan / "plan.yaml"), "--runs", "5"]) == 2
    err = capsys.readouterr().err
    assert "signoff.scenarios[0]" in err and "slump.yaml" in err


def test_checks_play_until_the_verdict_is_settled_and_the_signable_target_is_sharp(small_plan):
    """Years go to what the decision needs: the checks stop at the first look where the verdict
    is settled, then play on (doubling) only until the signable target is known to +-1 % of
    the proposed target, never past --runs. This plan's years are whole deals of 10k against
    100k, too coarse for +-1 %, so the checks play all their years."""
    out = small_plan / "run"
    assert main(["signoff", str(small_plan / "plan.yaml"), "--runs", "400", "--search-runs", "12",
                 "--stress-confidence", "99%", "--workers", "1", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    s = summary["signoff"]
    assert s["verdict"] == "do not sign" and all(c["runs"] == s["checks_runs"] for c in s["checks"])
    assert s["checks_runs"] == 400 and not sharp(s, s["target"])
    assert summary["sequential"]["settled"] and summary["sequential"]["runs"] < 400, "where the verdict settled"
    assert s["signable_rounds"] == 0, "no rules: the signable target needs no replay"
    assert s["years_simulated"] == 400 * len(s["checks"]) + s["search_years"], "the sample grows, never replays"



def test_a_scenario_that_cannot_set_the_signable_target_stops_early(tmp_path):
    """A boom (twice the leads) clears far more than the slump: once its highest target's
    interval lies wholly above the binding one's it plays no more, and says so; the plan
    itself always plays on."""
    data = minimal_plan_data()
    data["channels"][0]["leads_per_year"] = 120
    data["signoff"] = {"confidence": "80%", "stress_confidence": "50%", "scenarios": ["slump.yaml", "boom.yaml"]}
    write_plan_with_slump(tmp_path, data)
    boom = [{**c, "leads_per_year": 2 * c["leads_per_year"]} for c in data["channels"]]
    (tmp_path / "boom.yaml").write_text(yaml.safe_dump({"extends": "plan.yaml", "channels": boom}))
    out = tmp_path / "run"
    assert main(["signoff", str(tmp_path / "plan.yaml"), "--runs", "400", "--search-runs", "12",
                 "--workers", "1", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    s = summary["signoff"]
    runs = {c["scenario"]: c["runs"] for c in s["checks"]}
    assert runs["plan"] == s["checks_runs"] == summary["runs"] and runs["boom"] < runs["plan"], runs
    assert s["signable_binding"] != "boom"
    assert s["years_simulated"] == sum(runs.values()) + s["search_years"]
    assert summary["variants"]["boom"]["runs"] == runs["boom"]


def test_a_stopped_scenario_that_could_bind_after_all_is_played_to_the_same_years(tmp_path, monkeypatch):
    """On the final years the stopped scenario's interval reaches the binding one's: it is
    played on to the plan's years, and its check is the one a full run gives."""
    import simulate.cli.signoff as signoff
    data = minimal_plan_data()
    data["channels"][0]["leads_per_year"] = 120
    data["signoff"] = {"confidence": "80%", "stress_confidence": "50%", "scenarios": ["slump.yaml"]}
    write_plan_with_slump(tmp_path, data)
    calls = []

    def stops_then_binds(plans, required, vals, keep):
        calls.append(keep)
        return {"slump"} if len(calls) == 1 else set()
    monkeypatch.setattr(signoff, "cannot_bind", stops_then_binds)
    argv = ["signoff", str(tmp_path / "plan.yaml"), "--runs", "150", "--search-runs", "12", "--workers", "1",
            "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    s = json.loads((tmp_path / "run" / "summary.json").read_text())["signoff"]
    runs = {c["scenario"]: c["runs"] for c in s["checks"]}
    assert len(calls) >= 2 and runs["slump"] == runs["plan"] == s["checks_runs"] > 50, (calls, runs)
    monkeypatch.setattr(signoff, "cannot_bind", lambda plans, required, vals, keep: set())
    assert main([*argv, "--out", str(tmp_path / "full")]) == 0
    full = json.loads((tmp_path / "full" / "summary.json").read_text())["signoff"]
    assert full["checks"] == s["checks"] and full["signable_target"] == s["signable_target"]


def test_only_scenarios_wholly_above_the_binding_one_cannot_bind():
    plans = {"plan": None, "slump": None, "boom": None, "near": None}
    required = {"plan": 0.8, "slump": 0.5, "boom": 0.5, "near": 0.5}
    rng = np.random.default_rng(3)
    vals = {"plan": rng.normal(120, 10, 100), "slump": rng.normal(100, 10, 100),
            "boom": rng.normal(200, 10, 100), "near": rng.normal(101, 10, 100)}
    assert cannot_bind(plans, required, vals, keep="plan") == {"boom"}
    assert cannot_bind(plans, required, vals, keep="boom") == {"plan"}     # kept whatever it can set

def test_a_signable_target_is_sharp_within_one_percent_of_the_target():
    assert sharp({"signable_target_ci95": [9.0e6, 9.19e6]}, 9.6e6)
    assert not sharp({"signable_target_ci95": [8.9e6, 9.2e6]}, 9.6e6)
