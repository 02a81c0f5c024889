"""Backtest: cut the export in the past, calibrate on what was known, re-forecast, score.

The export seen on a cut hides every later outcome; the scores are the textbook ones (the
sample CRPS against its definition); the command writes summary.json's `backtest` exactly as
documented and refuses cuts it cannot score with one line. The slow test plays a known plan
for three years and backtests 24 monthly cuts: the 80 % interval must cover the actual at a
rate a binomial test cannot tell from 80 %.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from conftest import SCENARIOS
from factory import make_plan
from scipy import stats

from simulate.calibrate.backtest import censor, horizon_end
from simulate.calibrate.synth import Shape, play_export, write_export
from simulate.cli.main import main
from simulate.errors import UsageError
from simulate.load.crm import read_export
from simulate.stats.scores import crps, pit, quantiles

SAMPLE = [SCENARIOS / "data" / n for n in ("deals.csv", "accounts.csv", "reps.csv")]


def test_the_export_seen_on_a_cut_hides_what_came_later():
    export = read_export(SAMPLE[0], SAMPLE[1:])
    cut = dt.date(2027, 6, 30)
    seen = censor(export, cut)
    assert seen.as_of == cut and all(d.created <= cut for d in seen.deals)
    assert all(x <= cut for d in seen.deals for x in (d.intent, d.negotiation, d.closed) if x is not None)
    later = {d.id for d in export.deals if d.created <= cut and d.closed is not None and d.closed > cut}
    hidden = [d for d in seen.deals if d.id in later]
    assert hidden and all(d.outcome == "open" and d.amount is None for d in hidden)
    assert all(r.renewed is None for r in seen.renewals if r.renewal_date > cut)
    assert all(r.leave is None or r.leave <= cut for r in seen.reps)


def test_crps_and_pit_of_a_sample():
    rng = np.random.default_rng(3)
    x, y = rng.normal(10, 2, 300), 11.0
    brute = np.mean(np.abs(x - y)) - 0.5 * np.mean(np.abs(x[:, None] - x[None, :]))
    assert crps(x, y) == pytest.approx(brute)
    assert crps(np.array([5.0]), 8.0) == pytest.approx(3.0)          # a single number: its absolute error
    assert pit(np.array([1.0, 2.0, 3.0, 4.0]), 2.0) == pytest.approx(0.375)
    assert quantiles(np.arange(101.0))["p05"] == pytest.approx(5.0)


def test_horizons():
    cut = dt.date(2027, 3, 31)
    assert horizon_end(cut, "year-end") == dt.date(2027, 12, 31)
    assert horizon_end(dt.date(2027, 12, 31), "year-end") == dt.date(2028, 12, 31)
    assert horizon_end(cut, "3mo") == dt.date(2027, 6, 30)
    assert horizon_end(dt.date(2027, 4, 30), "3mo") == dt.date(2027, 7, 31)      # month ends stay month ends
    assert horizon_end(dt.date(2027, 9, 30), "3mo") == dt.date(2027, 12, 31)
    assert horizon_end(dt.date(2027, 4, 15), "3mo") == dt.date(2027, 7, 15)
    assert horizon_end(dt.date(2027, 4, 30), "3 months") == dt.date(2027, 7, 31)   # any way months are written
    assert horizon_end(dt.date(2027, 2, 28), "1y") == dt.date(2028, 2, 29)
    assert horizon_end(cut, "2027-05-15") == dt.date(2027, 5, 15)
    with pytest.raises(UsageError, match="--horizon"):
        horizon_end(cut, "soon")


@pytest.mark.parametrize("cut, horizon, says", [("2027-02-01", "3mo", "90 days of history"),
                                                 ("2027-11-30", "3mo", "after the export's last day")])
def test_a_cut_that_cannot_be_scored_is_one_line(tmp_path, capsys, cut, horizon, says):
    code = main(["backtest", str(SAMPLE[0]), "--cut", cut, "--horizon", horizon, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and says in err


def test_backtest_writes_its_section(tmp_path, capsys):
    assert main(["backtest", *map(str, SAMPLE), "--cut", "2027-05-31", "2027-08-31", "--horizon", "3mo",
                 "--runs", "30", "--workers", "1", "--out", str(tmp_path), "--quiet"]) == 0
    section = json.loads((tmp_path / "summary.json").read_text())["backtest"]
    assert set(section) == {"cuts", "coverage80", "coverage90", "crps_mean", "crps_skill_vs_weighted_pipeline"}
    first = section["cuts"][0]
    assert set(first) == {"cut", "horizon_end", "actual", "p05", "p10", "p50", "p90", "p95", "pit", "crps",
                          "baselines"}
    assert first["cut"] == "2027-05-31" and first["horizon_end"] == "2027-08-31"
    assert set(first["baselines"]) == {"weighted_pipeline", "run_rate"}
    assert all(set(b) == {"p50", "crps"} for b in first["baselines"].values())
    for name in ("backtest_fans.png", "backtest_pit.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000
    assert (tmp_path / "cuts" / "2027-08-31.yaml").is_file() and (tmp_path / "backtest.csv").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("shape", [Shape(), Shape(crm="salesforce", dates="us", amounts="currency", stale=0.5)],
                         ids=["stage dates", "salesforce current stage, half the losses stale"])
def test_the_80_percent_interval_covers_80_percent_of_cuts(tmp_path, shape):
    """A known plan (two new-logo segments, ~500k a month, lumpy mid-market deals) plays three
    years; 24 monthly cuts in its second and third years each forecast the next month. Windows
    do not overlap, so the covers are close to independent: a binomial test at 1 %. The same
    history is also written as a Salesforce report holding current stages only, with half the
    lost deals never closed in the CRM."""
    plan = make_plan(data=TRUTH)
    paths = write_export(play_export(plan, plan.seed), tmp_path / "export", shape, plan.seed)
    cuts = [(dt.date(2027 + k // 12, k % 12 + 1, 1) - dt.timedelta(days=1)).isoformat() for k in range(24)]
    assert main(["backtest", str(paths[0]), str(paths[2]), "--cut", *cuts, "--horizon", "1mo", "--runs", "200",
                 "--workers", "2", "--out", str(tmp_path / "bt"), "--quiet"]) == 0
    section = json.loads((tmp_path / "bt" / "summary.json").read_text())["backtest"]
    n = len(section["cuts"])
    covered = round(section["coverage80"] * n)
    assert n == 24 and stats.binomtest(covered, n, 0.8).pvalue > 0.01, section["coverage80"]
    assert section["crps_skill_vs_weighted_pipeline"] > 0


def _stage(advance: float, mean: float, sd: float) -> dict:
    return {"advance": advance, "time": {"gamma": {"mean": mean, "sd": sd}}, "effort": 0}


TRUTH = {
    "name": "truth", "seed": 5, "runs": 10,
    "horizon": {"start": "2026-01-01", "years": 3, "warm_start": False},
    "target": {"annual": "5M"},
    "products": [{"name": "basic", "portfolio": "cash_cow", "price": 1000, "margin": "60%"},
                 {"name": "pro", "portfolio": "star", "price": 2500, "margin": "70%"}],
    "segments": [
        {"name": "SMB", "kind": "new_logo", "mix": {"basic": 0.6, "pro": 0.4},
         "funnel": {"lead": _stage(0.6, 12, 6), "intent": _stage(0.67, 11, 5), "negotiation": _stage(0.5, 20, 8),
                    "units": {"lognormal": {"mean": 10, "sd": 6}}}},
        {"name": "MID", "kind": "new_logo", "mix": {"basic": 0.3, "pro": 0.7},
         "funnel": {"lead": _stage(0.5, 15, 5), "intent": _stage(0.6, 20, 8), "negotiation": _stage(0.5, 30, 10),
                    "units": {"lognormal": {"mean": 40, "sd": 24}}}},
    ],
    "marketing": {"budget": "1M"},
    "channels": [{"name": "web", "segment": "SMB", "budget_share": 0.6, "leads_per_year": 900},
                 {"name": "partners", "segment": "MID", "budget_share": 0.4, "leads_per_year": 250}],
    "team": {"attrition_per_year": 0, "reps": [{"name": f"S{i}", "segments": ["SMB"]} for i in range(4)]
             + [{"name": f"M{i}", "segments": ["MID"]} for i in range(2)]},
    "collections": {"share": 1.0, "delay": 0},
}
