"""`rerun`: a run folder's manifest reproduces the run exactly, months later, even if the
scenario files were edited since; a broken manifest gets one clear line and exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from factory import minimal_plan_data
from results_checks import without_timings

from simulate.cli.main import main


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rerun")
    plan = folder / "tiny.yaml"
    plan.write_text(yaml.safe_dump(minimal_plan_data(), sort_keys=False))
    assert main([str(plan), "--runs", "80", "--seed", "7", "--out", str(folder / "run"),
                 "--workers", "1", "--quiet"]) == 0
    return folder / "run"


def same_results(a: Path, b: Path) -> None:
    for table in ("replications.csv", "weekly.csv"):
        assert (a / table).read_bytes() == (b / table).read_bytes(), table
    sa, sb = (json.loads((f / "summary.json").read_text()) for f in (a, b))
    assert without_timings(sa) == without_timings(sb)


def test_rerun_reproduces_the_run_exactly(original: Path, tmp_path: Path) -> None:
    assert main(["rerun", str(original / "manifest.json"), "--out", str(tmp_path / "again"),
                 "--workers", "2", "--quiet"]) == 0
    same_results(original, tmp_path / "again")
    manifest = json.loads((tmp_path / "again" / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["runs"] == 80
    assert manifest["rerun_of"] == str(original / "manifest.json")
    options = json.loads((original / "manifest.json").read_text())["options"]
    assert options["seed"] == 7 and "workers" not in options and "out" not in options
    assert manifest["options"] == options


def test_rerun_uses_the_recorded_plan_not_todays_file(original: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    scenario = Path(json.loads((original / "manifest.json").read_text())["files"][0]["path"])
    before = scenario.read_text()
    try:
        scenario.write_text(before.replace("annual: 100000", "annual: 999999"))
        assert main(["rerun", str(original), "--out", str(tmp_path / "again"), "--quiet"]) == 0
    finally:
        scenario.write_text(before)
    assert "has changed since the run" in capsys.readouterr().err
    same_results(original, tmp_path / "again")


def test_rerun_goes_to_a_new_run_folder_by_default(original: Path, tmp_path: Path) -> None:
    assert main(["rerun", str(original), "--results", str(tmp_path), "--quiet"]) == 0
    runs = [p for p in (tmp_path / "tiny").iterdir() if p.name != "latest"]
    assert len(runs) == 1 and (tmp_path / "tiny" / "latest").resolve() == runs[0].resolve()
    same_results(original, runs[0])


@pytest.mark.parametrize("content, message", [
    (None, "cannot read the manifest"),
    ("{not json", "not a JSON manifest"),
    ('{"scenario": "x"}', "missing plan, seed, runs"),
])
def test_a_bad_manifest_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                          content: str | None, message: str) -> None:
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_text(content)
    assert main(["rerun", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
