"""`advise`: levers in the plan, and the cheapest lever set that clears the bar.

The known answer: a funnel in which every lead signs at once for 10k, fed by one channel
whose leads grow in proportion to its spend (elasticity 1). A year's deals are then
Poisson(L x (1 + x / 100k)) for x more spend, P(hit 300k) = P(N >= 30) is exact, and the
cheapest grid value with P(hit) >= 80 % is known. A second lever costs money and does
nothing for bookings: the advice must leave it at its low end.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from factory import LEADS, SPEND, TARGET, USELESS, known_plan
from scipy import stats
from stats_checks import assert_binomial

from simulate.analysis.advice import frontier
from simulate.cli.main import main
from simulate.load.loader import load_scenario, plan_from_document

DEAL, STEP = 10_000.0, 5_000.0


def p_hit(extra: float) -> float:
    """P(N >= 30) for Poisson deals with `extra` spend (a lead signs 0.003 days after it comes)."""
    mean = LEADS * (1 + extra / 100_000) * (365 - 0.003) / 365
    return float(stats.poisson.sf(math.ceil(TARGET / DEAL) - 1, mean))


def advise(path: Path, out: Path, *extra: str) -> dict:
    code = main(["advise", str(path), "--out", str(out), "--workers", "1", "--quiet", *extra])
    assert code == 0
    return json.loads((out / "summary.json").read_text())["advice"]


def test_advise_finds_the_cheapest_spend_within_a_step(tmp_path):
    """The analytic cheapest spend reaching 80 % is 40k (P 82 %; 35k gives 76 %)."""
    cheapest = min(x for x in range(0, 100_001, 5_000) if p_hit(x) >= 0.8)
    assert cheapest == 40_000
    advice = advise(known_plan(tmp_path), tmp_path / "run", "--trials", "16", "--runs", "200",
                    "--confirm-runs", "600", "--seed", "3")
    rec = advice["recommended"]
    assert abs(rec["levers"]["web_spend"] - cheapest) <= STEP, rec
    assert rec["levers"]["collect"] == 0.5 and rec["passes"]
    assert rec["cost"] == rec["levers"]["web_spend"]
    truth = p_hit(rec["levers"]["web_spend"])
    # confirmed on fresh years (at most 600: the confirmation stops once each lever set passes
    # or fails the bar): a binomial share against the exact P(hit)
    n = advice["confirm"]["runs"]
    assert 100 <= n <= 600 and n % 100 == 0
    assert_binomial(rec["p_hit"] * n, n, truth, "advised P(hit) against the exact value")
    assert advice["years_simulated"] >= n * len(advice["candidates"])
    advised = tmp_path / "run" / "advised.yaml"
    plan = plan_from_document(load_scenario(advised))
    assert plan.marketing.budget == 100_000 + rec["levers"]["web_spend"] and not plan.levers


def test_same_seed_same_advice(tmp_path):
    path = known_plan(tmp_path)
    runs = ("--trials", "8", "--runs", "100", "--confirm-runs", "200", "--confirm", "2", "--seed", "5")
    first, second = (advise(path, tmp_path / name, *runs) for name in ("a", "b"))
    for a in (first, second):
        a.pop("seconds")
    assert first == second


@pytest.mark.parametrize("lever", [{**SPEND, "channel": "webb"}, {**USELESS, "range": [0.5, 2]}])
def test_advise_refuses_a_bad_lever_in_one_located_line(tmp_path, capsys, lever):
    path = known_plan(tmp_path, [lever])
    assert main(["advise", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{path}:" in err and "lever" in err, err
    assert not (tmp_path / "run" / "summary.json").exists()


def test_within_a_budget_the_highest_p_hit_it_buys(tmp_path):
    """Within 30k the best is all of it on spend (25k with a 5k grid, the useless lever low)."""
    advice = advise(known_plan(tmp_path), tmp_path / "run", "--budget", "30k", "--trials", "10",
                    "--runs", "100", "--confirm-runs", "300", "--seed", "3")
    rec = advice["recommended"]
    assert rec["cost"] <= 30_000 and abs(rec["levers"]["web_spend"] - 25_000) <= STEP, rec
    assert advice["budget"] == 30_000


def test_the_front_keeps_only_what_no_cheaper_set_matches():
    """A dominated set (dearer, no better) and the worse of two equally cheap sets drop out."""
    points = [{"cost": 30, "p_hit": 0.7}, {"cost": 10, "p_hit": 0.5}, {"cost": 20, "p_hit": 0.5},
              {"cost": 10, "p_hit": 0.6}, {"cost": 40, "p_hit": 0.65}, {"cost": 0, "p_hit": 0.4}]
    assert frontier(points) == [{"cost": 0, "p_hit": 0.4}, {"cost": 10, "p_hit": 0.6}, {"cost": 30, "p_hit": 0.7}]


def test_advise_drops_a_rule_that_hurts(tmp_path):
    """A rule that halves every win at once is in the playbook; a drop_rule lever lets advise try
    the plan without it. Dropping it costs nothing and restores the known funnel, so the advice
    drops it and spends what the plan without the rule needs (40k, within a step)."""
    import yaml
    drop = {"name": "no_panic", "action": "drop_rule", "rule": "panic", "range": [0, 1], "cost": "none"}
    path = known_plan(tmp_path, levers=[SPEND, drop])
    data = yaml.safe_load(path.read_text())
    data["rules"] = [{"name": "panic", "when": True, "once": True,
                      "then": [{"action": "scale_win_rate", "factor": 0.5}]}]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    rec = advise(path, tmp_path / "run", "--trials", "16", "--runs", "200", "--confirm-runs", "600",
                 "--seed", "3")["recommended"]
    assert rec["levers"]["no_panic"] == 1 and rec["passes"], rec
    assert abs(rec["levers"]["web_spend"] - 40_000) <= STEP, rec
    advised = plan_from_document(load_scenario(tmp_path / "run" / "advised.yaml"))
    assert [r.name for r in advised.rules] == []


def test_when_nothing_clears_the_bar_the_closest_set_says_what_it_supports(tmp_path):
    """A bar no lever set reaches: the recommendation carries the highest target its own
    confirmation years support at that bar, as signoff computes a signable target."""
    import pandas as pd

    from simulate.cli.signoff import round_down
    from simulate.stats.sample_stats import highest_target
    path = known_plan(tmp_path)
    path.write_text(path.read_text().replace(f"annual: {TARGET}", f"annual: {4 * TARGET}"))   # 120 deals
    advice = advise(path, tmp_path / "run", "--trials", "4", "--runs", "100", "--confirm-runs", "100",
                    "--seed", "3")
    rec = advice["recommended"]
    assert not rec["passes"]
    years = pd.read_csv(tmp_path / "run" / "replications.csv")
    own = years[years["variant"] == years["variant"].iloc[0]]["bookings"].to_numpy()     # the recommendation's
    assert rec["signable_target"] == round_down(highest_target(own, 0.8)) > 0
