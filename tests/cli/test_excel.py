"""Excel: a plan entered in a workbook (template -> edit -> run) and the results as one."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from simulate.cli.main import main
from simulate.load.loader import load_plan

BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml"


def cell_of(book: openpyxl.Workbook, setting: str) -> openpyxl.cell.Cell:
    """The value cell of a setting on the plan sheet."""
    return next(row[1] for row in book["plan"].iter_rows(min_row=2) if row[0].value == setting)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xlsx") / "plan.xlsx"
    assert main(["template", str(path)]) == 0
    return path


def test_the_template_holds_the_plan_it_was_made_from(template: Path) -> None:
    read, written = load_plan(template), load_plan(BASELINE)  # Excel reads 1.0 back as 1
    assert read.model_copy(update={"rules": []}) == written.model_copy(update={"rules": []})
    assert [(r.name, r.when.text, r.then) for r in read.rules] == [
        (r.name, r.when.text, r.then) for r in written.rules]       # conditions hold parse trees
    book = openpyxl.load_workbook(template)
    assert {"plan", "reps", "contracts KA"} <= set(book.sheetnames)
    assert cell_of(book, "target.annual").value == "9.6M"


def test_edit_the_template_then_run_it(template: Path, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(template)
    cell_of(book, "target.annual").value = "900万"
    cell_of(book, "target.by_segment.KA").value = "585万"
    edited = tmp_path / "edited.xlsx"
    book.save(edited)
    out = tmp_path / "run"
    assert main([str(edited), "--runs", "20", "--out", str(out), "--workers", "1", "--quiet",
                 "--no-rules"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["target"] == 9_000_000
    results = openpyxl.load_workbook(out / "results.xlsx", read_only=True)
    assert {"summary", "variants", "segments", "products", "quarters", "replications"} <= set(
        results.sheetnames)
    assert results["replications"].max_row in (None, 21)
    rows = {r[0]: r[1] for r in results["summary"].iter_rows(min_row=2, values_only=True)}
    assert rows["target"] == 9_000_000 and rows["P(hit)"] == summary["variants"]["plan"]["p_hit"]


@pytest.mark.parametrize("sheet, where, value, message", [
    ("plan", "target.annual", "lots", "sheet 'plan', cell B"),
    ("reps", "start", "not a date", "sheet 'reps', cell "),
    ("plan", "horizon.start", "{bad", "cannot read"),
])
def test_an_error_names_the_sheet_and_the_cell(template: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture, sheet: str,
                                               where: str, value: str, message: str) -> None:
    book = openpyxl.load_workbook(template)
    if sheet == "plan":
        target = cell_of(book, where)
    else:
        header = [c.value for c in book[sheet][1]]
        target = book[sheet].cell(row=3, column=header.index(where) + 1)
    target.value = value
    bad = tmp_path / "bad.xlsx"
    book.save(bad)
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err and f"{target.coordinate}" in err, err
