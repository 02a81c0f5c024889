"""report.html and the plots: complete, self-contained, in the sign-off order, and rendered by
a real browser (headless Chromium) with every image loading and the key numbers on screen.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from factory import minimal_plan_data
from simulate.cli import main
from simulate.output import RunView
from simulate.report import render_page, write_report
from simulate.terminal import money, odds_phrase, pct

SECTIONS = ("1. The verdict", "2. The distributions", "3. The risks", "4. The playbook's value",
            "5. The assumptions")
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small run of a plan with segment and quarter targets."""
    folder = tmp_path_factory.mktemp("report")
    data = minimal_plan_data()
    data["target"] = {"annual": 140_000, "by_segment": {"SMB": 140_000},
                      "by_quarter": {"Q1": "25%", "Q2": "25%", "Q3": "25%", "Q4": "25%"}}
    (folder / "tiny.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    assert main([str(folder / "tiny.yaml"), "--runs", "120", "--out", str(folder / "run"),
                 "--workers", "1", "--quiet"]) == 0
    return folder / "run"


def view_of(folder: Path, summary: dict | None = None,
            firings: pd.DataFrame | None = None) -> RunView:
    """What a run folder holds, read back (the tiny plan's year starts 2027-01-01)."""
    return RunView(summary or json.loads((folder / "summary.json").read_text()),
                   pd.read_parquet(folder / "replications.parquet"),
                   pd.read_parquet(folder / "weekly.parquet"), firings, dt.date(2027, 1, 1), 365.0)


def test_the_report_is_self_contained_and_in_sign_off_order(run: Path) -> None:
    page = (run / "report.html").read_text()
    positions = [page.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "nothing from the web"
    assert "<script" not in page
    images = re.findall(r"<img src='([^']+)'", page)
    assert len(images) >= 4 and all(i.startswith("data:image/png;base64,") for i in images)


def test_the_key_numbers_are_text(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    v = summary["variants"]["plan"]
    page = (run / "report.html").read_text()
    assert f"P(target hit) {pct(v['p_hit'])}" in page
    assert money(summary["target"]) in page and f"{summary['runs']:,} simulated years" in page
    assert "80 % confidence" in page
    assert "rerun" in page and "manifest.json" in page


def test_parts_a_run_did_not_have_say_so(run: Path) -> None:
    page = (run / "report.html").read_text()
    assert page.count("not part of this run") == 4   # variants, shocks, sensitivity, playbook


def test_every_plot_states_its_finding(run: Path) -> None:
    names = {p.stem for p in (run / "plots").glob("*.png")}
    assert names == {p.stem for p in (run / "plots").glob("*.svg")}
    assert {"attainment", "bookings_fan", "pipeline_health", "by_segment", "by_product"} <= names
    svg = (run / "plots" / "attainment.svg").read_text()
    p_hit = json.loads((run / "summary.json").read_text())["variants"]["plan"]["p_hit"]
    assert odds_phrase(p_hit).split(":")[0] in svg.replace("\u00a0", " "), "titles stay text"


def test_later_features_render_when_the_summary_has_them(run: Path, tmp_path: Path) -> None:
    """The shapes other parts of the summary take: variants, sensitivity, shocks, rules."""
    summary = json.loads((run / "summary.json").read_text())
    summary["comparisons"] = {"more_reps": {"p_hit": 0.8, "p_hit_diff": 0.1,
                                            "p_hit_diff_ci95": [0.05, 0.15], "p_beats_base": 0.3,
                                            "attainment": {}}}
    summary["sensitivity"] = {"factors": [
        {"name": "win rate", "low": "40%", "high": "60%", "p_hit_low": 0.3, "p_hit_high": 0.9,
         "p50_low": 0.95, "p50_high": 1.1},
        {"name": "attrition", "low": "5%", "high": "25%", "p_hit_low": 0.7, "p_hit_high": 0.6,
         "p50_low": 1.02, "p50_high": 1.0}]}
    summary["shocks"] = [{"type": "price_cut", "description": "Competitor bundle 20 % below list"}]
    v = summary["variants"]["plan"]
    v["impact"] = {"against": "baseline", "p_hit_diff": -0.2, "p_hit_diff_ci95": [-0.25, -0.15],
                   "attainment_mean_diff": -0.05, "attainment_mean_diff_ci95": [-0.06, -0.04],
                   "p_hit_baseline": 0.9, "attainment_p50_baseline": 1.1}
    v["rules"] = {"rescue_pipeline": {
        "fired_share": 0.4, "first_firing_day": {"mean": 120, "p10": 60, "p50": 110, "p90": 200},
        "attainment_fired": 0.97, "attainment_not_fired": 1.05,
        "value": {"p_hit_diff": 0.04, "p_hit_diff_ci95": [0.01, 0.07], "attainment_mean_diff": 0.01,
                  "attainment_mean_diff_ci95": [0.0, 0.02]}}}
    rng = np.random.default_rng(3)
    firings = pd.DataFrame({"replication": np.arange(48), "day": rng.uniform(30, 300, 48),
                            "rule": "rescue_pipeline", "action": "shift_budget", "cost": 1000.0})
    plots = write_report(tmp_path, view_of(run, summary, firings), {"plan": {}})
    assert {"variants", "sensitivity", "rule_firings"} <= {p.name for p in plots}
    assert "'more_reps' holds up best" in next(p.title for p in plots if p.name == "variants")
    page = (tmp_path / "report.html").read_text()
    assert "not part of this run" not in page
    for text in ("Competitor bundle 20 % below list", "-20.0 pts", "rescue_pipeline", "+4.0 pts",
                 "P(hit) moves most with win rate", "more_reps", "21 Apr"):
        assert text in page, text


def test_a_partial_or_empty_run_still_reports(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    summary["partial"] = True
    assert "PARTIAL" in render_page(view_of(run, summary), {}, {})
    empty = copy.deepcopy(summary)
    empty["runs"] = empty["variants"]["plan"]["runs"] = 0
    view = view_of(run, empty)
    view.replications = view.replications.iloc[:0]
    assert "No simulated year completed" in render_page(view, {}, {})


def test_the_assumptions_show_the_resolved_plan(run: Path) -> None:
    page = (run / "report.html").read_text()
    assert "<h3>channels</h3>" in page and "leads_per_year" in page
    assert "<h3>team: reps</h3>" in page


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    """Headless Chromium, offline and with a fresh profile."""
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-quic", "--no-first-run", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90, check=False)


# Once the page has loaded, write each image's state into the DOM, where --dump-dom shows it.
PROBE = ("<script>addEventListener('load', () => { const p = document.createElement('pre');"
         " p.id = 'probe'; p.textContent = JSON.stringify([...document.images].map("
         "i => [i.complete, i.naturalWidth, i.naturalHeight]));"
         " document.body.appendChild(p); });</script>")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (CI installs it: "
                                             "apt-get install chromium)")
def test_chromium_renders_the_report(run: Path, tmp_path: Path) -> None:
    probe = tmp_path / "probe.html"
    probe.write_text((run / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    done = chromium("--dump-dom", probe.as_uri(), profile=tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout)
    assert found, "the page loaded and ran its load handler"
    images = json.loads(found.group(1))
    assert len(images) >= 4 and all(ok and w > 300 and h > 200 for ok, w, h in images)
    summary = json.loads((run / "summary.json").read_text())
    text = re.sub(r"<[^>]+>", " ", done.stdout)
    assert f"P(target hit) {pct(summary['variants']['plan']['p_hit'])}" in text
    assert all(s in text for s in SECTIONS)
    shot = tmp_path / "report.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1200,3000",
                    (run / "report.html").as_uri(), profile=tmp_path / "profile2")
    assert done.returncode == 0 and shot.stat().st_size > 50_000, "a screenshot with content"
