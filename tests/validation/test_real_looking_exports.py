"""Exports as they come calibrate, back-cast and backtest without a hand edit.

One two-year history of the reference plan is written the ways real CRMs export it: a
Salesforce report (current stages only, US dates, '$12,500.00', half the lost deals never
closed, the first quarter missing), a HubSpot Excel export (current stages, datetime stamps,
a third of the losses stale), a Salesforce report of the deals open or closed since a date,
and a canonical file of current stages. Each must calibrate to a
plan whose back-cast median lies within 0.8-1.25 of the actual year, and backtest.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import SCENARIOS

from simulate.calibrate.synth import Shape, play_export, write_export
from simulate.cli.main import main
from simulate.load.loader import load_plan

SHAPES = {
    "salesforce csv": Shape(crm="salesforce", dates="us", amounts="currency", stale=0.5,
                            since=dt.date(2027, 4, 1)),
    "hubspot xlsx": Shape(crm="hubspot", dates="datetime", stale=0.3, format="xlsx"),
    "current stage": Shape(current_stage=True),
    "salesforce, filtered on close date": Shape(crm="salesforce", closed_since=dt.date(2027, 4, 1)),
}


@pytest.fixture(scope="module")
def history():
    return play_export(load_plan(SCENARIOS / "baseline.yaml"), 3, years=2)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHAPES)
def test_a_real_looking_export_calibrates_back_casts_and_backtests(name, history, tmp_path, capsys):
    paths = [str(p) for p in write_export(history, tmp_path / "export", SHAPES[name], seed=3)]
    plan = tmp_path / "calibrated.yaml"
    assert main(["calibrate", *paths, "--out", str(plan), "--backcast-runs", "100", "--workers", "1",
                 "--quiet"]) == 0
    total = json.loads((tmp_path / "calibrated.backcast.json").read_text())["backcast"]["total"]
    assert 0.8 <= total["p50"] / total["actual"] <= 1.25, total
    assert main(["validate", str(plan)]) == 0
    assert main(["backtest", *paths, "--cut", "2028-03-31", "2028-06-30", "2028-09-30", "--horizon", "3mo",
                 "--runs", "60", "--workers", "1", "--out", str(tmp_path / "bt"), "--quiet"]) == 0
    cuts = json.loads((tmp_path / "bt" / "summary.json").read_text())["backtest"]["cuts"]
    assert [c["cut"] for c in cuts] == ["2028-03-31", "2028-06-30", "2028-09-30"]
    # a forecast, not a placeholder: ordered quantiles of a spread sample, and scores of it
    # (its coverage is tested on 24 cuts of this Salesforce shape in test_backtest.py)
    assert all(0 < c["p05"] < c["p50"] < c["p95"] and 0 <= c["pit"] <= 1 and c["crps"] > 0 for c in cuts), cuts
    capsys.readouterr()
