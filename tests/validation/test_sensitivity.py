"""Sensitivity: each input moved one at a time to its low and high value.

Unit tests: every factor edits the figure it names, and only that, and its plans validate;
distributions are written back in the plan format; the shocks of the sign-off scenarios become
factors; the tornado is sorted by swing. End to end: `sensitivity` on a small plan.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import SCENARIOS
from factory import minimal_plan_data, write_plan_with_slump

from simulate.cli.main import main
from simulate.cli.sensitivity import FACTORS, as_data, factor_plans, render, shock_plans, tornado
from simulate.format import style, width
from simulate.load.loader import load_scenario, plan_from_document
from simulate.load.yamlio import Document
from simulate.plan import distributions as d
from simulate.plan.distributions import parse_distribution
from simulate.plan.quantities import parse_count

BY_NAME = {f.name: f for f in FACTORS}


@pytest.fixture(scope="module")
def baseline():
    doc = load_scenario(SCENARIOS / "baseline.yaml")
    return doc, plan_from_document(doc)


@pytest.mark.parametrize("dist", [d.Fixed(7.0), d.Uniform(1.0, 3.0), d.Triangular(1.0, 2.0, 5.0),
                                  d.Normal(20.0, 4.0), d.LogNormal(60.0, 30.0), d.Gamma(14.0, 7.0),
                                  d.Exponential(30.0), d.Poisson(12.0), d.Empirical((8.0, 10.0, 30.0))])
def test_distributions_are_written_back_in_the_plan_format(dist):
    assert parse_distribution(as_data(dist), parse_count) == dist


def test_every_factor_moves_its_own_figure(baseline):
    doc, plan = baseline
    lows, highs = {}, {}
    for f in FACTORS:
        lows[f.name], highs[f.name] = factor_plans(doc, plan, f)
    lo, hi = lows["lead volume"], highs["lead volume"]
    assert [c.leads_per_year for c in lo.channels] == pytest.approx([0.8 * c.leads_per_year for c in plan.channels])
    assert [c.leads_per_year for c in hi.channels] == pytest.approx([1.2 * c.leads_per_year for c in plan.channels])
    smb = [s.name for s in plan.segments].index("SMB")
    neg = plan.segments[smb].funnel.negotiation.advance
    assert lows["negotiation win rate"].segments[smb].funnel.negotiation.advance == pytest.approx(0.9 * neg)
    assert lows["KA renewal"].segments[0].accounts.renewal_with_full_visits == pytest.approx(0.87)
    assert highs["KA renewal"].segments[0].accounts.renewal_with_full_visits == pytest.approx(0.97)
    units = plan.segments[smb].funnel.units.mean
    assert highs["deal size"].segments[smb].funnel.units.mean == pytest.approx(1.1 * units)
    assert (lows["attrition"].team.attrition_per_year, highs["attrition"].team.attrition_per_year) == (0.05, 0.25)
    assert lows["hiring delay"].team.hiring_delay < plan.team.hiring_delay < highs["hiring delay"].team.hiring_delay
    assert [r.visits_per_week for r in highs["rep pace"].team.reps] == pytest.approx(
        [1.1 * r.visits_per_week for r in plan.team.reps])
    assert lows["stage times"].segments[smb].funnel.lead.time.mean == pytest.approx(
        0.8 * plan.segments[smb].funnel.lead.time.mean)
    # ... and nothing else: the lead-volume plans differ from the plan only in their channels
    # (rules are re-parsed, and parsed conditions compare by identity: they are set aside)
    assert lo.model_copy(update={"channels": plan.channels, "rules": plan.rules}) == plan
    assert plan.channels[0].leads_per_year == 720           # the plan itself is untouched


def test_a_win_rate_already_near_certain_is_capped_at_what_the_stage_allows():
    data = minimal_plan_data()
    data["segments"][0]["funnel"]["negotiation"].update({"advance": "95%", "lost": "5%"})
    doc = Document(data, {}, ("<test>",))
    _, high = factor_plans(doc, plan_from_document(doc), BY_NAME["negotiation win rate"])
    assert high.segments[0].funnel.negotiation.advance == pytest.approx(0.95)


def test_each_shock_of_the_signoff_scenarios_is_a_factor(baseline):
    doc, plan = baseline
    paths = [SCENARIOS / name for name in plan.signoff.scenarios]
    shocks = shock_plans(paths, plan)
    assert list(shocks) == ["competitor_bundle (price_war)", "top_reps_resign (key_rep_leaves)",
                            "h2_budget_cut (budget_cut)", "cloudhost_backlog (supplier_delay)"]
    for shocked, _size in shocks.values():
        assert len(shocked.shocks) == 1 and shocked.target == plan.target
    assert shocks["h2_budget_cut (budget_cut)"][1] == {"declared_size": pytest.approx(0.3), "unit": "fraction"}


def test_tornado_is_sorted_by_swing():
    rec = lambda hits, att: pd.DataFrame({"hit": hits, "attainment": att})
    records = {"plan": rec([1, 0, 1, 0], [1.1, 0.9, 1.0, 0.8]),
               "a: low": rec([0, 0, 1, 0], [0.9, 0.8, 1.0, 0.7]), "a: high": rec([1, 0, 1, 0], [1.1, 0.9, 1.0, 0.8]),
               "b: low": rec([0, 0, 0, 0], [0.8, 0.8, 0.9, 0.7]), "b: high": rec([1, 1, 1, 1], [1.2, 1.1, 1.1, 1.0])}
    out = tornado(records, [("a", "x0.8", "x1.2", "a: low", "a: high"), ("b", "x0.9", "x1.1", "b: low", "b: high")])
    assert [f["name"] for f in out["factors"]] == ["b", "a"]
    assert out["factors"][0]["swing"] == 1.0 and out["factors"][1]["swing"] == 0.25
    assert out["base"] == {"p_hit": 0.5, "p50": pytest.approx(0.95)}
    assert set(out["factors"][0]) >= {"name", "low", "high", "p_hit_low", "p_hit_high", "p50_low", "p50_high", "swing"}


def test_the_tornado_speaks_the_language_of_the_run():
    """Factor names, levels and a shock's declared size in Chinese; summary.json keeps its English."""
    rec = lambda hits: pd.DataFrame({"hit": hits, "attainment": [1.0] * len(hits)})
    records = {"plan": rec([1, 0]), "lead volume: low": rec([0, 0]), "lead volume: high": rec([1, 1]),
               "cut (slump): low": rec([0, 1])}
    out = tornado(records, [("lead volume", "x0.8", "x1.2", "lead volume: low", "lead volume: high"),
                            ("cut (slump)", "as declared (2 reps)", "none", "cut (slump): low", "plan")],
                  {"cut (slump)": {"declared_size": 2.0, "unit": "reps"}})
    assert [f["name"] for f in out["factors"]] == ["lead volume", "cut (slump)"]
    assert out["factors"][1]["declared_size"] == 2 and "declared_size" not in out["factors"][0]
    english = render(out, 2)
    with style("zh"):
        chinese = render(out, 2)
    assert "lead volume" in english and "as declared (2 reps)" in english
    assert "线索量" in chinese and "按设定（2 名销售）" in chinese and "无" in chinese
    assert "lead volume" not in chinese and "as declared" not in chinese
    assert len({width(line) for line in chinese.splitlines()[1:]}) == 1, "right-aligned columns line up"


def test_sensitivity_command_writes_the_tornado(tmp_path, capsys):
    data = minimal_plan_data()
    data["signoff"] = {"scenarios": ["slump.yaml"]}
    write_plan_with_slump(tmp_path, data)
    out = tmp_path / "run"
    assert main(["sensitivity", str(tmp_path / "plan.yaml"), "--runs", "20", "--workers", "1",
                 "--out", str(out)]) == 0
    assert "lead volume" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    factors = summary["sensitivity"]["factors"]
    assert len(factors) == len(FACTORS) + 1 and "cut (slump)" in [f["name"] for f in factors]
    assert [f["swing"] for f in factors] == sorted((f["swing"] for f in factors), reverse=True)
    assert list(summary["variants"]) == ["plan"]
    assert summary["sensitivity"]["base"]["p_hit"] == summary["variants"]["plan"]["p_hit"]
    table = pd.read_csv(out / "sensitivity.csv")
    assert set(table["plan_as"]) == {"plan", "cut (slump): low"} | {
        f"{f.name}: {level}" for f in FACTORS for level in ("low", "high")}
