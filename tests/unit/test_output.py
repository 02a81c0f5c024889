"""The run folder: what a run leaves behind, written safely, and refused early when it can't be.

Runs use a tiny plan (one segment, one rep) so each takes a second or two.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from factory import minimal_plan_data
from processes import group_cpu_seconds, interruptible

from simulate.cli.main import main
from simulate.cli.run import progress_bar, write_table
from simulate.errors import RunError
from simulate.files import write_atomic

ROOT = Path(__file__).resolve().parents[2]


def write_plan(folder: Path, name: str = "tiny", **extra: object) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**minimal_plan_data(), **extra}, sort_keys=False))
    return path


def test_a_run_fills_its_folder(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    out = tmp_path / "run"
    assert main([str(plan), "--runs", "60", "--all-runs", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"manifest.json", "summary.json", "report.html", "plots", "replications.parquet",
            "replications.csv", "weekly.parquet", "weekly.csv"} <= names
    assert not [n for n in names if n.startswith(".")], "no temporary file is left behind"
    plots = {p.name for p in (out / "plots").iterdir()}
    assert {"attainment.png", "attainment.svg", "bookings_fan.png", "pipeline_health.svg"} <= plots
    rows = pd.read_parquet(out / "replications.parquet")
    assert len(rows) == 60 == len(pd.read_csv(out / "replications.csv"))
    assert {"attainment", "segment:SMB", "product:p", "quarter:Q1"} <= set(rows.columns)
    weekly = pd.read_parquet(out / "weekly.parquet")
    assert {"bookings_cum_p10", "bookings_cum_p50", "bookings_cum_p90"} <= set(weekly.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["runs"] == 60 and manifest["partial"] is False
    assert manifest["files"][0]["path"] == str(plan) and len(manifest["files"][0]["sha256"]) == 64
    assert manifest["python"] and manifest["dependencies"]["numpy"]
    assert (out / "summary.json").stat().st_mode & 0o044, "files are readable by others, as usual"


def test_the_manifest_holds_the_plan_after_extends(tmp_path: Path) -> None:
    write_plan(tmp_path, "base")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nname: child\ntarget: {annual: 120000}\n")
    out = tmp_path / "run"
    assert main([str(child), "--runs", "50", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert "extends" not in manifest["plan"]
    assert manifest["plan"]["target"]["annual"] == 120000 and manifest["plan"]["channels"]
    assert [Path(f["path"]).name for f in manifest["files"]] == ["child.yaml", "base.yaml"]


def test_runs_never_overwrite_each_other_and_latest_points_to_the_newest(tmp_path: Path) -> None:
    plan, results = write_plan(tmp_path), tmp_path / "results"
    args = [str(plan), "--runs", "50", "--results", str(results), "--workers", "1", "-q"]
    folder = results / "tiny"
    assert main(args) == 0
    first = {p for p in folder.iterdir() if p.name != "latest"}
    assert main(args) == 0
    second = {p for p in folder.iterdir() if p.name != "latest"} - first
    assert len(first) == len(second) == 1, "a second run never reuses the first one's folder"
    assert (folder / "latest").is_symlink()
    assert (folder / "latest").resolve() == second.pop().resolve()


@pytest.mark.parametrize("where", ["file/sub", "file", "/proc/simulate-out", "results-under-file"])
def test_an_unwritable_output_folder_is_refused_before_the_run(
        tmp_path: Path, where: str, capsys: pytest.CaptureFixture) -> None:
    """Tests run as root, whom chmod does not stop: a path under a file, or /proc, does."""
    plan = write_plan(tmp_path)
    (tmp_path / "file").write_text("not a folder")
    if where == "results-under-file":
        option = ["--results", str(tmp_path / "file")]
    else:
        option = ["--out", where if where.startswith("/") else str(tmp_path / where)]
    t0 = time.perf_counter()
    assert main([str(plan), "--runs", "100000", *option, "--workers", "1", "-q"]) == 2
    assert time.perf_counter() - t0 < 5, "the folder is checked before simulating"
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "folder" in err and err.count("\n") == 1


def test_write_atomic_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.write_text("old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(RunError, match="No space left"):
        write_atomic(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_tables_store_nested_values_as_json(tmp_path: Path) -> None:
    firings = pd.DataFrame({"replication": [0, 1], "day": [30.0, 95.5], "rule": ["r", "r"],
                            "params": [{"share": 0.3}, {"share": 0.5, "to": ["a"]}]})
    write_table(tmp_path, "firings", firings)
    back = pd.read_parquet(tmp_path / "firings.parquet")
    assert json.loads(back["params"][1]) == {"share": 0.5, "to": ["a"]}
    assert len(pd.read_csv(tmp_path / "firings.csv")) == 2


def test_the_progress_bar_is_off_unless_asked_for() -> None:
    with progress_bar(enabled=False, total=10) as progress:
        assert progress is None


def test_the_progress_bar_waits_before_showing(monkeypatch: pytest.MonkeyPatch) -> None:
    bar = progress_bar(enabled=True, total=10)
    with bar as progress:
        progress(5, 10)
        assert not bar._bar.live.is_started, "a quick run never shows a bar"
    monkeypatch.setattr("simulate.cli.run.PROGRESS_DELAY", 0.01)
    bar = progress_bar(enabled=True, total=10)
    with bar as progress:
        time.sleep(0.2)
        progress(10, 10)
        assert bar._bar.live.is_started
    assert not bar._bar.live.is_started


def test_a_piped_run_prints_no_progress_bar(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    done = subprocess.run([sys.executable, "-m", "simulate", str(plan), "--runs", "50", "--json",
                           "--out", str(tmp_path / "run"), "--workers", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["runs"] == 50
    assert done.stderr == ""


@pytest.mark.slow
def test_ctrl_c_keeps_the_completed_years_marked_partial(tmp_path: Path) -> None:
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, workers included."""
    plan = write_plan(tmp_path)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "simulate", str(plan), "--runs", "20000", "--all-runs",
                             "--out", str(out), "--workers", "2", "--quiet"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=interruptible)
    deadline = time.monotonic() + 90
    while group_cpu_seconds(proc.pid) < 6 and time.monotonic() < deadline:
        time.sleep(0.2)   # CPU, not wall time: a loaded CI machine still gets its first batches
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "partial" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True and 0 < summary["runs"] < 20000
    assert json.loads((out / "manifest.json").read_text())["partial"] is True
    assert len(pd.read_parquet(out / "replications.parquet")) == summary["runs"]
    assert "PARTIAL" in (out / "report.html").read_text()
