"""Comparing plan variants and the stress matrix.

Validation: the paired interval of a difference in P(hit) keeps its coverage on a model whose
difference is known (a bivariate Bernoulli, and the Poisson funnel whose P(hit) is a Poisson
tail), and it is narrower than independent runs would give: the test measures by how much.
Unit tests: the base variant's zeros, the figures of a stress cell, the weakest scenario, a
variant's overrides landing on a scenario. End to end: `compare` and `stress` on small plans.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import SCENARIOS
from factory import make_plan, minimal_plan_data, write_plan_with_slump
from scipy import stats
from stats_checks import ALPHA, Z, assert_close

from simulate.cli.compare import comparisons, variance_ratio
from simulate.cli.decide import cell, with_overrides
from simulate.cli.main import command as command_of
from simulate.cli.main import main
from simulate.cli.stress import weakest
from simulate.load.loader import load_scenario, load_variants, plan_from_document
from simulate.run import runner
from simulate.run.runner import run_replications
from simulate.stats.paired import paired_proportion


def frame(hit: np.ndarray, attainment: np.ndarray | None = None, target: float = 100.0) -> pd.DataFrame:
    att = hit.astype(float) if attainment is None else attainment
    return pd.DataFrame({"hit": hit.astype(float), "attainment": att, "bookings": att * target})


# --- the paired interval against a known difference ------------------------------------

CELLS = (0.50, 0.08, 0.16, 0.26)        # P(both hit), P(only a), P(only b), P(neither)
KNOWN = CELLS[2] - CELLS[1]             # P(hit | b) - P(hit | a) = 0.08


def test_paired_interval_covers_a_known_difference():
    """5,000 experiments of 200 paired worlds each: the 95 % interval covers the true
    difference 95 % of the time, within the binomial error of 5,000 trials."""
    rng = np.random.default_rng(20270)
    experiments, n, covered = 5000, 200, 0
    for _ in range(experiments):
        cell_of = rng.choice(4, size=n, p=CELLS)
        a, b = np.isin(cell_of, (0, 1)), np.isin(cell_of, (0, 2))
        lo, hi = paired_proportion(b, a)[1]
        covered += lo <= KNOWN <= hi
    coverage = covered / experiments
    se = math.sqrt(0.95 * 0.05 / experiments)
    assert abs(coverage - 0.95) <= Z * se, f"coverage {coverage:.4f}, expected 0.95 +- {Z * se:.4f}"


def test_comparisons_report_that_paired_interval():
    rng = np.random.default_rng(1)
    cell_of = rng.choice(4, size=300, p=CELLS)
    a, b = np.isin(cell_of, (0, 1)), np.isin(cell_of, (0, 2))
    out = comparisons({"plan": frame(a), "b": frame(b)}, {"plan": make_plan(), "b": make_plan()}, {})
    diff, ci = paired_proportion(b, a)
    assert out["b"]["p_hit_diff"] == diff and out["b"]["p_hit_diff_ci95"] == list(ci)


def test_base_variant_reads_zero_and_others_are_paired():
    a = np.array([1, 1, 0, 0, 1, 0, 1, 1], bool)
    b = np.array([1, 1, 1, 0, 1, 0, 1, 1], bool)
    plans = {"plan": make_plan(), "b": make_plan({"target": {"annual": 90_000}})}
    out = comparisons({"plan": frame(a), "b": frame(b)}, plans, {"b": "one more year"})
    base = out["plan"]
    assert base["p_hit_diff"] == 0 and base["p_hit_diff_ci95"] == [0, 0] and base["p_beats_base"] == 0.5
    assert out["b"]["p_hit_diff"] == pytest.approx(1 / 8)
    assert out["b"]["p_beats_base"] == pytest.approx((1 + 7 * 0.5) / 8)   # one world better, the rest tie
    assert out["b"]["description"] == "one more year" and out["b"]["target"] == 90_000
    assert set(out["b"]) >= {"p_hit", "p_hit_ci95", "attainment", "p_hit_diff", "p_hit_diff_ci95",
                             "attainment_mean_diff", "attainment_mean_diff_ci95", "p_beats_base"}


def test_variance_ratio_of_identical_and_independent_plans():
    rng = np.random.default_rng(3)
    a = rng.random(100_000) < 0.6
    assert math.isinf(variance_ratio(a, a))                      # the same years: no noise at all
    # Independent years: the ratio is 1 / (1 - r) for their sample correlation r, whose
    # standard error is 1 / sqrt(n); so is the ratio's, near 1.
    assert_close(variance_ratio(a, rng.random(100_000) < 0.6), 1.0, 1 / math.sqrt(100_000),
                 "variance ratio of independent years")


# --- the same on the simulation: the Poisson funnel with two lead volumes ---------------

def funnel_plan(leads_per_year: float):
    stage = lambda p: {"advance": p, "time": 0.001, "effort": 0}
    return make_plan({"segments": [{"name": "SMB", "kind": "new_logo", "mix": {"p": 1.0}, "funnel": {
        "lead": stage(1.0), "intent": stage(1.0), "negotiation": stage(0.5), "units": 10}}],
        "channels": [{"name": "web", "segment": "SMB", "budget_share": 1.0, "leads_per_year": leads_per_year}],
        "target": {"annual": 300_000}})


def p_hit_theory(leads_per_year: float) -> float:
    """Signed deals ~ Poisson(leads x 0.5 x (365 - 0.003) / 365); a hit is 30 deals of 10k."""
    return float(stats.poisson.sf(29, leads_per_year * 0.5 * (365 - 0.003) / 365))


@pytest.mark.slow
def test_paired_interval_on_the_simulation_and_its_gain_over_independent_runs(capsys):
    """Blocks of 40 years are independent experiments: each paired interval should cover the
    Poisson answer. The variance ratio (independent runs / same worlds) of the difference in
    P(hit) is measured over all years, with a bootstrap tolerance, and the paired intervals
    must be narrower than independent runs' of the same size."""
    blocks, n = 30, 40
    plans = {"plan": funnel_plan(60), "more": funnel_plan(66)}
    results = run_replications(plans, blocks * n, 5, workers=2)
    a, b = (results.variants[v].records["hit"].to_numpy() > 0.5 for v in ("plan", "more"))
    known = p_hit_theory(66) - p_hit_theory(60)
    covered, widths = 0, []
    for i in range(blocks):
        rows = slice(i * n, (i + 1) * n)
        lo, hi = comparisons({"plan": frame(a[rows]), "more": frame(b[rows])}, plans, {})["more"]["p_hit_diff_ci95"]
        covered += lo <= known <= hi
        widths.append(hi - lo)
    assert covered >= stats.binom.ppf(ALPHA, blocks, 0.95), f"{covered} of {blocks} intervals cover {known:.3f}"
    ratio = variance_ratio(b, a)
    rng = np.random.default_rng(0)
    boot = [variance_ratio(b[i], a[i]) for i in rng.integers(0, len(a), (400, len(a)))]
    assert ratio - Z * np.std(boot) > 1, f"variance ratio {ratio:.2f} +- {Z * np.std(boot):.2f}"
    pa, pb = a.mean(), b.mean()
    independent_width = 2 * 1.96 * math.sqrt((pa * (1 - pa) + pb * (1 - pb)) / n)
    assert np.mean(widths) < independent_width
    with capsys.disabled():
        print(f"\n  paired vs independent runs: variance ratio {ratio:.2f} (bootstrap sd "
              f"{np.std(boot):.2f}, {len(a)} years); mean 95 % CI width on {n} years "
              f"{np.mean(widths):.3f} paired vs {independent_width:.3f} independent")


# --- the stress matrix ------------------------------------------------------------------

def test_a_cell_gives_shortfall_in_currency_and_the_worst_tenth():
    att = np.array([0.5, 0.7, 0.9, 1.0, 1.1, 1.2, 1.3, 0.8, 0.95, 1.05])
    plan = make_plan({"target": {"annual": 1000}})
    rec = pd.DataFrame({"attainment": att, "bookings": att * 1000})
    c = cell(rec, plan)
    assert c["p_hit"] == 0.5
    assert c["expected_shortfall"] == pytest.approx((500 + 300 + 100 + 200 + 50) / 10)
    assert c["cvar10"] == pytest.approx(0.5)                        # the worst one year in ten
    assert c["attainment_p10"] == pytest.approx(np.percentile(att, 10))


def test_weakest_scenario_is_lowest_p_hit_then_lowest_p10():
    cells = {"base": {"p_hit": 0.1, "attainment_p10": 0.5}, "war": {"p_hit": 0.4, "attainment_p10": 0.9},
             "cut": {"p_hit": 0.4, "attainment_p10": 0.8}}
    assert weakest(cells, ["war", "cut"]) == "cut"        # the plan's own year is not a stress
    assert weakest(cells, []) is None


def test_a_variant_lands_on_a_scenario_as_if_written_into_it():
    plan_doc = load_scenario(SCENARIOS / "baseline.yaml")
    war = load_scenario(SCENARIOS / "price_war.yaml")
    i = [v["name"] for v in plan_doc.data["variants"]].index("aggressive_target")
    plan = plan_from_document(with_overrides(war, plan_doc, ("variants", i, "set")))
    assert plan.target.annual == 10.2e6 and [s.type for s in plan.shocks] == ["price_cut"]
    assert plan.variants == []
    hire = plan_from_document(with_overrides(war, plan_doc, ("variants", 0, "set")))
    assert len(hire.team.reps) == len(load_variants(plan_doc)["plan"].team.reps) + 4


# --- end to end on small plans ------------------------------------------------------------

@pytest.fixture
def small_plan(tmp_path):
    """A small plan with two variants and one stress scenario, as files."""
    data = minimal_plan_data()
    data["channels"][0]["leads_per_year"] = 120
    data["variants"] = [{"name": "more_leads", "description": "More leads.",
                         "set": {"channels": [{"name": "web", "leads_per_year": 150}]}},
                        {"name": "stretch", "set": {"target": {"annual": 150_000}}}]
    data["signoff"] = {"scenarios": ["slump.yaml"]}
    write_plan_with_slump(tmp_path, data)
    return tmp_path


def test_compare_writes_comparisons(small_plan, capsys):
    out = small_plan / "run"
    assert main(["compare", str(small_plan / "plan.yaml"), "--runs", "30", "--workers", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "more_leads" in text and "precision gain" in text
    summary = json.loads((out / "summary.json").read_text())
    comps = summary["comparisons"]
    assert list(comps) == ["plan", "more_leads", "stretch"]
    assert comps["plan"]["p_hit_diff"] == 0 and comps["stretch"]["target"] == 150_000
    assert comps["stretch"]["p_hit_diff"] <= 0           # same worlds, a higher bar
    assert (out / "report.html").is_file() and (out / "manifest.json").is_file()


def test_compare_takes_a_batch_size_and_gives_the_same_years(small_plan, monkeypatch):
    """As in a plain run, `--batch-size` cuts the work (the batches are that long) but never
    changes a year: replication r depends only on (seed, r)."""
    sizes: list[int] = []
    cut = runner.plan_batches
    monkeypatch.setattr(runner, "plan_batches", lambda *a: sizes.append(a[4]) or cut(*a))
    outs = []
    for size in (4, 30):
        outs.append(small_plan / f"batches_of_{size}")
        assert main(["compare", str(small_plan / "plan.yaml"), "--runs", "30", "--workers", "1",
                     "--batch-size", str(size), "--out", str(outs[-1]), "--quiet"]) == 0
    assert sizes == [4, 30]
    a, b = ((o / "replications.csv").read_bytes() for o in outs)
    assert a == b
    comps = [json.loads((o / "summary.json").read_text())["comparisons"] for o in outs]
    assert comps[0] == comps[1]


@pytest.mark.parametrize("command", ["compare", "stress", "signoff", "sensitivity"])
def test_every_decision_command_takes_a_batch_size(command):
    """They all play their plans through `decide.Simulator`: the test above checks it honours the size."""
    parser = argparse.ArgumentParser()
    configure, _ = command_of(command)
    configure(parser)
    assert parser.parse_args(["plan.yaml", "--batch-size", "7"]).batch_size == 7


def test_compare_without_variants_is_an_input_error(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(minimal_plan_data()))
    assert main(["compare", str(tmp_path / "p.yaml"), "--runs", "5"]) == 2
    assert "no variants to compare" in capsys.readouterr().err


def test_stress_matrix_has_every_cell_and_names_the_weakest(small_plan, capsys):
    out = small_plan / "stress"
    assert main(["stress", str(small_plan / "plan.yaml"), "--runs", "30", "--workers", "1",
                 "--out", str(out), "--quiet"]) == 0
    matrix = json.loads((out / "summary.json").read_text())["matrix"]
    assert matrix["scenarios"] == ["plan", "slump"] and matrix["baseline"] == "plan"
    assert set(matrix["variants"]) == {"plan", "more_leads", "stretch"}
    for row in matrix["variants"].values():
        for c in row.values():
            assert set(c) >= {"p_hit", "p_hit_ci95", "attainment_p10", "expected_shortfall", "cvar10"}
    assert matrix["weakest"] == {"plan": "slump", "more_leads": "slump", "stretch": "slump"}
    # a 40 % budget cut from April takes a third of the leads: more is missed on average
    assert matrix["variants"]["plan"]["slump"]["expected_shortfall"] >= \
        matrix["variants"]["plan"]["plan"]["expected_shortfall"]
