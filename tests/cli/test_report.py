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
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from factory import minimal_plan_data

from simulate.cli.main import main
from simulate.format import money, odds_phrase, pct
from simulate.report.board import board_content
from simulate.report.plots.board import board_files
from simulate.report.plots.charts import width, wrap
from simulate.report.plots.decide import comparison_title, matrix_title
from simulate.report.report import render_page, write_report
from simulate.report.view import RunView

SECTIONS = ("1. The verdict", "2. The distributions", "3. The assumptions")   # a plain run
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


def test_parts_a_run_did_not_have_are_left_out(run: Path) -> None:
    page = (run / "report.html").read_text()
    assert "not part of this run" not in page
    for absent in ("The risks", "The playbook", "Plan variants", "Stress matrix", "Sign-off"):
        assert absent not in page, absent


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
    assert "'more_reps' clearly raises P(hit): +10 pts" in next(p.title for p in plots
                                                                if p.name == "variants")
    page = (tmp_path / "report.html").read_text()
    assert "not part of this run" not in page
    assert "3. The risks" in page and "4. The playbook's value" in page
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


def signoff_section(verdict: str = "do not sign") -> dict:
    """A sign-off as `python -m simulate signoff` writes it: the plan and one stress scenario,
    and a breaking point of each status."""
    passes = verdict == "sign"
    return {
        "target": 9_600_000, "metric": "bookings",
        "bar": {"confidence": 0.8, "stress_confidence": 0.5}, "verdict": verdict,
        "checks": [{"scenario": "plan", "p_hit": 0.733, "p_hit_ci95": [0.61, 0.829],
                    "required": 0.8, "passes": passes},
                   {"scenario": "price_war", "p_hit": 0.217, "p_hit_ci95": [0.131, 0.336],
                    "required": 0.5, "passes": passes}],
        "signable_target": 9_080_000, "signable_target_ci95": [8_836_126, 9_302_665],
        "signable_binding": "price_war", "signable_rounds": 2, "signable_converged": passes,
        "signable_p_hit": {"plan": 0.983, "price_war": 0.5},
        "breaking_points": [
            {"scenario": "price_war", "shock": "competitor_bundle", "type": "price_cut",
             "unit": "fraction", "declared_size": 0.2167, "breaks_at": 0.09375, "status": "breaks",
             "searched": [0.0859, 0.09375], "p_hit_searched": [0.5, 0.45]},
            {"scenario": "price_war", "shock": "supplier_late", "type": "supplier_delay",
             "unit": "days", "declared_size": 28.0, "breaks_at": None,
             "status": "holds at any size", "searched": [0.0, 180.0], "p_hit_searched": [0.7, 0.6]},
            {"scenario": "key_rep_leaves", "shock": "top_rep_quits", "type": "rep_leaves",
             "unit": "reps", "declared_size": 1.0, "breaks_at": 0.0,
             "status": "already fails at 0", "searched": [0.0, 0.0], "p_hit_searched": [0.4, 0.4]}],
        "search": {"runs": 40, "playbook": True, "assumes": "each shock happens"},
        "years_simulated": 720}


def matrix_cell(p_hit: float, p10: float, shortfall: float) -> dict:
    return {"runs": 60, "p_hit": p_hit,
            "p_hit_ci95": [max(0.0, p_hit - 0.1), min(1.0, p_hit + 0.1)],
            "attainment_p10": p10, "attainment_p50": p10 + 0.05, "expected_shortfall": shortfall,
            "cvar10": p10 - 0.03}


def matrix_section() -> dict:
    """A stress matrix: 3 variants x 3 scenarios; one variant is weakest under budget_cut."""
    p = {"plan": (0.733, 0.20, 0.55), "hire_4_smb_q1": (0.817, 0.18, 0.6),
         "aggressive_target": (0.2, 0.017, 0.01)}
    scenarios = ["baseline", "price_war", "budget_cut"]
    cells = {v: {s: matrix_cell(x, 0.98 - 0.05 * j, 60_000 + 250_000 * j)
                 for j, (s, x) in enumerate(zip(scenarios, ps))} for v, ps in p.items()}
    return {"scenarios": scenarios, "baseline": "baseline", "variants": cells,
            "weakest": {"plan": "price_war", "hire_4_smb_q1": "price_war",
                        "aggressive_target": "budget_cut"}}


def test_a_signoff_leads_the_verdict(run: Path, tmp_path: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    summary["signoff"] = signoff_section()
    write_report(tmp_path, view_of(run, summary), {"plan": {}})
    page = (tmp_path / "report.html").read_text()
    verdict = page[page.index("1. The verdict"):page.index("2. The distributions")]
    assert verdict.index("DO NOT SIGN 9.60M of bookings") < verdict.index("P(target hit)")
    assert "<title>tiny: do not sign, P(hit)" in page
    for text in ("2 of 2 checks fail: plan, price_war", "at least <b>80 %</b>",
                 "at least <b>50 %</b>",                                    # the bar
                 "73.3 %", "61.0 % to 82.9 %", "≥ 80 %", "21.7 %", "13.1 % to 33.6 %", "≥ 50 %",
                 "FAILS", "close: the CI includes the bar",                 # the checks
                 "<b>9.08M</b> (95 % CI 8.84M to 9.30M)", "95 % of the proposed target",
                 "<b>price_war</b> binds it", "did not settle after 2 rounds",  # signable target
                 "competitor_bundle", "21.7 %", "9.4 %", "holds at 8.6 % (P(hit) 50 %)",
                 "fails at 9.4 % (P(hit) 45 %)", "breaks below the declared 21.7 %",
                 "supplier_late", "28 days", "holds at any size", "P(hit) 60 % at 180 days",
                 "top_rep_quits", "already fails at 0",                     # breaking points
                 "happens</b> (probability 100 %)", "with the playbook on",
                 "40 simulated years per size tried"):
        assert text in verdict, text
    assert "not part of this run" not in verdict
    summary["signoff"] = signoff_section("sign")
    page = render_page(view_of(run, summary), {}, {})
    assert "SIGN 9.60M of bookings" in page and "DO NOT SIGN" not in page
    assert "All 2 checks pass" in page and "did not settle" not in page


def test_a_stress_matrix_shows_every_cell_and_each_variants_weakest(run: Path,
                                                                    tmp_path: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    summary["matrix"] = matrix_section()
    plots = write_report(tmp_path, view_of(run, summary), {"plan": {}})
    heat = next(p for p in plots if p.name == "stress_matrix")
    assert heat.title == ("'price_war' is the weakest scenario for 2 of 3 variants: "
                          "P(hit) 18 to 20 % there")
    assert (tmp_path / "plots" / "stress_matrix.png").stat().st_size > 10_000
    assert "weakest scenario for 2 of 3" in (tmp_path / "plots" / "stress_matrix.svg").read_text()
    page = (tmp_path / "report.html").read_text()
    risks = page[page.index("3. The risks"):page.index("4. The assumptions")]
    table = risks[risks.index("<table>"):]
    for v, row in summary["matrix"]["variants"].items():
        for c in row.values():
            for text in (f"P(hit) {pct(c['p_hit'])}", f"P10 {pct(c['attainment_p10'])}",
                         f"shortfall {money(c['expected_shortfall'])}"):
                assert text in table, (v, text)
    assert table.count("class='cellm weak'") == 3 and table.count(">weakest<") == 3
    weak = re.findall(r"class='cellm weak'><span class=tag>weakest</span><br>"
                      r"<b>P\(hit\) ([\d.]+ %)", table)
    assert weak == ["20.0 %", "18.0 %", "1.0 %"]       # each row's own weakest, highlighted
    assert "baseline (no stress)" in table
    assert "Under stress: &#x27;price_war&#x27; is the weakest scenario" in page   # section 1


def test_the_variants_title_says_which_change_is_real() -> None:
    names = ["plan", "hire_4_smb_q1", "academic_shift", "aggressive_target"]
    diffs = np.array([0.0, 8.3, -1.7, -44.0])
    ci = np.array([[0.0, 0.0], [-0.1, 16.2], [-8.7, 5.4], [-49.0, -38.0]])
    title = comparison_title(names, diffs, ci, "plan")
    assert "includes zero" not in title
    assert title == ("No variant clearly beats 'plan'; 'aggressive_target' clearly lowers P(hit): "
                     "\u221244 pts (95 % CI \u221249 to \u221238)")
    ci[1] = [1.0, 16.2]
    assert comparison_title(names, diffs, ci, "plan").startswith(
        "'hire_4_smb_q1' clearly raises P(hit): +8 pts (95 % CI +1 to +16); "
        "'aggressive_target' clearly lowers it")
    ci[1], ci[3] = [-0.1, 16.2], [-49.0, 2.0]
    assert comparison_title(names, diffs, ci, "plan") == (
        "No variant changes P(hit) clearly against 'plan': every 95 % interval includes zero")
    everywhere = {"variants": {"a": {"x": {"p_hit": 0.1}}, "b": {"x": {"p_hit": 0.3}}},
                  "weakest": {"a": "x", "b": "x"}}
    assert matrix_title(everywhere) == ("'x' is the weakest scenario for every variant: "
                                        "P(hit) 10 to 30 % there")


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


def test_a_chinese_run_speaks_chinese_without_glyph_warnings(tmp_path: Path,
                                                             capfd: pytest.CaptureFixture) -> None:
    """--lang zh: the terminal, report.html and board.html in Chinese, amounts in 万 with ¥,
    Chinese names drawn in the charts without a missing-glyph warning."""
    data = minimal_plan_data()
    data["target"] = {"annual": "14万", "by_segment": {"SMB": "14万"}}
    data["products"][0]["name"] = "智能财务"
    data["segments"][0]["mix"] = {"智能财务": 1.0}
    (tmp_path / "zh.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                                      encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)     # a missing glyph is a UserWarning
        assert main([str(tmp_path / "zh.yaml"), "--runs", "60", "--out", str(tmp_path / "run"),
                     "--workers", "1", "--lang", "zh"]) == 0
    out, err = capfd.readouterr()
    assert "达成概率" in out and "¥14.0万" in out and "Glyph" not in err and "findfont" not in err
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "<h2>一、结论</h2>" in page and "¥14.0万" in page
    board = (tmp_path / "run" / "board.html").read_text(encoding="utf-8")
    assert "目标达成的可能性" in board and "可签约目标" in board
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["language"] == "zh"
    assert money(140_000) == "140.00k", "the language ends with the command"


def test_every_run_writes_a_board_page_with_the_verdict(run: Path, tmp_path: Path) -> None:
    board = (run / "board.html").read_text()
    summary = json.loads((run / "summary.json").read_text())
    assert odds_phrase(summary["variants"]["plan"]["p_hit"]) in board
    assert f"{pct(summary['variants']['plan']['p_hit'])}".replace(" ", "\u00a0") in board
    summary["signoff"] = signoff_section()
    write_report(tmp_path, view_of(run, summary), {"plan": {}})
    board = (tmp_path / "board.html").read_text()
    for text in ("DO NOT SIGN 9.60M", "9.08M", "Weakest scenario: price_war", "Do not sign 9.60M", "competitor_bundle (price_war) breaks the target"):
        assert text in board, text


def test_every_run_writes_the_board_page_as_png_and_pdf(run: Path, tmp_path: Path) -> None:
    """board.png and board.pdf beside board.html: one landscape page, the same content."""
    png, pdf = (run / "board.png").read_bytes(), (run / "board.pdf").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and pdf.startswith(b"%PDF")
    wide, high = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert wide > high > 1000, "landscape, large enough to project"
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(b"/Type/Page\n") <= 1
    summary = json.loads((run / "summary.json").read_text())
    summary["signoff"] = signoff_section()
    summary["advice"] = {"recommended": {
        "levers": {"hire_smb": 2, "price": 0.95, "visits": 12, "extra": 1, "rebate": 0},
        "costs": {"hire_smb": 60_000, "price": 20_000, "visits": 5_000, "extra": 5_000, "rebate": 0},
        "cost": 90_000, "p_hit": 0.83, "passes": True, "bar": {"confidence": 0.8, "stress_confidence": 0.5}}}
    content = board_content(view_of(run, summary))
    assert content["verdict"] == "DO NOT SIGN 9.60M" and content["kind"] == "no"    # sign-off's verdict rules
    assert content["signable"][1] == "9.08M" and len(content["risks"]) == 3
    assert content["levers"][:3] == ["hire_smb: 2", "price: 0.95", "visits: 12"]    # paid changes, three
    assert "Cost 90.00k" in content["levers"][3] and len(content["levers"]) == 4
    files = board_files(view_of(run, summary))
    assert files["png"].startswith(b"\x89PNG") and files["pdf"].startswith(b"%PDF")


def test_after_advise_the_board_says_whether_the_levers_make_the_target_signable(run) -> None:
    summary = json.loads((run / "summary.json").read_text())
    rec = {"levers": {"hire_smb": 0, "visits": 4}, "costs": {"hire_smb": 0.0, "visits": 0.0}, "cost": 0.0,
           "p_hit": 0.72, "passes": False, "signable_target": 9_110_000.0,
           "bar": {"confidence": 0.8, "stress_confidence": 0.5}}
    summary["advice"] = {"recommended": rec}
    from simulate.format import money
    target = money(summary["target"])
    content = board_content(view_of(run, summary))
    assert (content["kind"], content["verdict"]) == ("no", f"DO NOT SIGN {target}")
    assert content["verdict_sub"] == "no lever set in the plan's ranges clears the bar"
    assert content["signable"][1] == "9.11M"                       # what the closest set supports
    assert content["levers"][0].startswith("No paid change") and "supports 9.11M" in content["levers"][-1]
    summary["advice"] = {"recommended": {**rec, "passes": True, "costs": {"hire_smb": 90_000.0, "visits": 0.0},
                                         "levers": {"hire_smb": 1, "visits": 4}, "cost": 90_000.0}}
    content = board_content(view_of(run, summary))
    assert (content["kind"], content["verdict"]) == ("yes", f"SIGN {target}")
    assert content["levers"][0] == "hire_smb: 1" and not any("supports" in x for x in content["levers"])


def test_the_board_page_wraps_chinese_without_orphaned_punctuation() -> None:
    lines = wrap("最弱客户类型：老客户召回，其自身目标的达成概率 46.7 %。", 20)
    assert all(width(line) <= 20 for line in lines)
    assert not any(line[0] in "。，）%" for line in lines)
    assert all("\u00a0%" in line or "%" not in line for line in lines), "46.7 % stays whole"


def test_chinese_reports_use_the_methodologys_terms() -> None:
    """Segment kinds and portfolio classes in the plan tables, 签约目标 on the board page."""
    from simulate.format import style
    from simulate.report.report import section
    from simulate.words import say
    segments = [{"name": "KA", "kind": "key_accounts"}, {"name": "SMB", "kind": "new_logo"},
                {"name": "win-back", "kind": "winback"}]
    products = [{"name": n, "portfolio": c} for n, c in
                (("a", "star"), ("b", "cash_cow"), ("c", "question_mark"), ("d", "dog"))]
    with style("zh"):
        page = "".join(section("segments", segments) + section("products", products))
        title = say("board.title", scenario="baseline", target="¥960万")
    for text in ("大客户", "中小客户", "老客户召回", "明星", "金牛", "问题", "瘦狗"):
        assert text in page, text
    assert "签约目标" in title
    english = "".join(section("segments", segments))
    assert "key accounts" in english and "大客户" not in english
