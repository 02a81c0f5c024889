"""The back-cast: a calibrated plan played over the period it was fitted on gives it back.

On the committed sample (one year of the reference plan, so the truth is known) the actual
bookings sit inside the simulated P05-P95 and the median is within sampling error of the
actual; rep effort, which the export does not hold, is scaled to the reps' throughput; and a
plan that cannot reproduce the year is warned about with the input that most likely causes it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SCENARIOS

from simulate.calibrate.backcast import backcast
from simulate.calibrate.calibrate import plan_yaml
from simulate.calibrate.calibration import Calibration
from simulate.calibrate.estimates import Estimates
from simulate.calibrate.plan_yaml import VISITS_PER_WEEK
from simulate.cli.main import main
from simulate.load.crm import read_export
from simulate.load.loader import plan_from_document
from simulate.load.yamlio import load_document

SAMPLE = [SCENARIOS / "data" / n for n in ("deals.csv", "accounts.csv", "reps.csv")]


@pytest.fixture(scope="module")
def calibration() -> Calibration:
    return Calibration(Estimates(read_export(SAMPLE[0], SAMPLE[1:])), "sample")


def test_effort_is_scaled_so_the_busiest_reps_busy_week_fits(calibration):
    """The busiest rep's 90th-percentile week, at the scaled effort, is exactly a week's visits."""
    from simulate.calibrate.plan_yaml import DEFAULT_STAGES
    loads = calibration.est.rep_load(lambda s: [st[3] for st in DEFAULT_STAGES[calibration.kinds[s]]])
    busiest = max(float(np.percentile(w, 90)) for w in loads.values() if w.size >= 8)
    assert 0 < calibration.effort_scale < 1
    assert busiest * calibration.effort_scale == pytest.approx(VISITS_PER_WEEK)
    text = plan_yaml(calibration)
    assert "effort: 1.17" in text and "scaled to the reps' throughput" in text    # 1.5 x 0.782


def test_calibrate_back_casts_the_sample(tmp_path, capsys):
    out = tmp_path / "cal.yaml"
    assert main(["calibrate", *map(str, SAMPLE), "--out", str(out), "--backcast-runs", "100",
                 "--workers", "1", "--quiet"]) == 0
    assert "warning" not in capsys.readouterr().err
    result = json.loads((tmp_path / "cal.backcast.json").read_text())["backcast"]
    total = result["total"]
    assert total["p05"] <= total["actual"] <= total["p95"] and not result["warnings"]
    assert set(result["by_segment"]) == {"KA", "SMB"} and set(result["by_quarter"]) == {"Q1", "Q2", "Q3", "Q4"}
    assert sum(r["actual"] for r in result["by_quarter"].values()) == pytest.approx(total["actual"])
    review = (tmp_path / "cal.review.md").read_text()
    assert "## Back-cast" in review and "| **total** |" in review


def test_a_plan_that_misses_the_year_is_warned_with_its_likely_cause(calibration, tmp_path):
    path = tmp_path / "sample.yaml"
    path.write_text(plan_yaml(calibration), encoding="utf-8")
    plan = plan_from_document(load_document(path))
    starved = plan.model_copy(update={"channels": [c.model_copy(update={"leads_per_year": c.leads_per_year / 3})
                                                   for c in plan.channels]})
    result = backcast(calibration, starved, runs=40, workers=1)
    assert result["total"]["outside"] and result["total"]["actual"] > result["total"]["p95"]
    assert any("segment SMB" in w and "above P95" in w for w in result["warnings"])
    assert "lead arrivals" in result["warnings"][-1]
