"""Faults: workers killed, disks full or read-only, Ctrl-C. Nothing lost, nothing half-written.

Each test injects one fault and checks what a user is left with:
- a worker process killed mid-run (local pool, Dask): the run finishes with every
  replication exactly once, the same numbers as an undisturbed run, or stops with one clear
  line and exit code 1; never a silently smaller sample;
- a full disk, or a results folder that turns read-only before the save: one clear line,
  exit code 1, no run folder left behind, earlier runs byte for byte intact;
- Ctrl-C during the simulation: the completed replications are saved and marked partial,
  and `rerun --resume` finishes them into the run an uninterrupted one gives; Ctrl-C during
  the save: nothing of the run is kept, nothing earlier is touched.

The disk faults mount a tiny tmpfs and need root; they are skipped with the reason otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pytest
import yaml
from factory import make_plan, minimal_plan_data
from processes import group_cpu_seconds, interruptible
from results_checks import without_timings

import simulate.cli.run as session
import simulate.run.runner as runner
from simulate.cli.main import main
from simulate.errors import RunError
from simulate.run.executors import InProcess, LocalPool
from simulate.run.runner import run_replications

ROOT = Path(__file__).resolve().parents[2]
SEED = 5
FAULTS: list[str] = []     # one line per fault injected and what happened: printed at the end


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    print(f"\nfaults injected: {len(FAULTS)}")
    for line in FAULTS:
        print(f"  - {line}")


def plan_data(**extra: Any) -> dict:
    data = minimal_plan_data()
    data["rules"] = [{"name": "push", "check": "weekly", "when": "week >= 20", "once": True,
                      "then": [{"action": "scale_win_rate", "factor": 1.2}]}]
    data["shocks"] = [{"type": "budget_cut", "name": "cut", "size": "30%", "start": "Q2"}]
    return {**data, **extra}


def write_plan(folder: Path, **extra: Any) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(plan_data(**extra), sort_keys=False))
    return path


def digest(folder: Path) -> dict[str, str]:
    """Every file of a folder and its hash: to prove a run folder is untouched."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(capsys: pytest.CaptureFixture, code: int, expected: int = 1) -> str:
    err = capsys.readouterr().err
    assert code == expected, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def same_records(a: Path, b: Path) -> None:
    for table in ("replications.csv", "firings.csv"):
        assert (a / table).read_bytes() == (b / table).read_bytes(), table
    pd.testing.assert_frame_equal(pd.read_parquet(a / "weekly.parquet"), pd.read_parquet(b / "weekly.parquet"),
                                  check_exact=False, rtol=1e-12)
    sa, sb = (json.loads((f / "summary.json").read_text()) for f in (a, b))
    assert without_timings(sa) == without_timings(sb)


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: 120 years of the plan, run without a fault."""
    folder = tmp_path_factory.mktemp("undisturbed")
    assert main([str(write_plan(folder)), "--runs", "120", "--out", str(folder / "run"), "--workers", "1",
                 "-q"]) == 0
    return folder / "run"


# -- workers killed ------------------------------------------------------------------------

@contextlib.contextmanager
def killing_workers(monkeypatch: pytest.MonkeyPatch, times: int) -> Iterator[list[int]]:
    """Kill a worker of the run's local pool, by SIGKILL from outside, at the first `times`
    results the runner receives (each time in the pool then running)."""
    pools: list[LocalPool] = []
    killed: list[int] = []
    make = runner.make_executor

    def capture(*args: Any, **kwargs: Any) -> Any:
        ex = make(*args, **kwargs)
        pools.append(ex)
        return ex

    real = runner.run_replications

    def with_killer(*args: Any, progress: Any = None, **kwargs: Any) -> Any:
        def kill(done: int, total: int) -> None:
            pool = pools[-1]._pool if pools and getattr(pools[-1], "_pool", None) else None
            if pool is not None and len(killed) < times and pool._processes:
                pid = sorted(pool._processes)[0]
                if pid not in killed:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            if progress:
                progress(done, total)
        return real(*args, progress=kill, **kwargs)

    monkeypatch.setattr(runner, "make_executor", capture)
    monkeypatch.setattr(session, "run_replications", with_killer)
    yield killed


def test_a_worker_killed_mid_run_costs_no_replication(tmp_path, monkeypatch, undisturbed):
    plan = write_plan(tmp_path)
    with killing_workers(monkeypatch, times=1) as killed:
        code = main([str(plan), "--runs", "120", "--out", str(tmp_path / "run"), "--workers", "2",
                     "--batch-size", "10", "-q"])
    assert code == 0 and len(killed) == 1
    same_records(undisturbed, tmp_path / "run")
    FAULTS.append("local pool, 1 worker SIGKILLed mid-run: batches replayed in a fresh pool, "
                  "120/120 replications, identical to the undisturbed run")


def test_workers_that_keep_dying_stop_the_run_with_one_clear_line(tmp_path, monkeypatch, capsys):
    plan = write_plan(tmp_path)
    with killing_workers(monkeypatch, times=5) as killed:
        code = main([str(plan), "--runs", "120", "--out", str(tmp_path / "run"), "--workers", "2",
                     "--batch-size", "10", "-q"])
    message = one_line_error(capsys, code, expected=1)
    assert "worker process died 2 times" in message and "batches could not be simulated" in message
    assert len(killed) == 2
    assert not (tmp_path / "run").exists(), "no run folder, and so no smaller sample, is left"
    FAULTS.append(f"local pool, a worker SIGKILLed in the pool and again in its replacement: "
                  f"exit 1, '{message[:70]}...', no run folder")


def test_a_pool_that_loses_batches_never_reports_a_smaller_sample(monkeypatch):
    """An executor that silently drops a batch (a lost worker no one noticed)."""
    class Forgetful(InProcess):
        def map_unordered(self, task, items):
            for item in items:
                if item.start != 40:
                    yield task(item)

    with pytest.raises(RunError, match="refusing to report a smaller sample"):
        run_replications(make_plan(), 100, SEED, executor=Forgetful(), batch_size=20)
    FAULTS.append("executor dropped a batch silently: RunError 'refusing to report a smaller sample'")


@pytest.mark.slow
def test_dask_workers_killed_over_and_over_stop_the_run_clearly():
    """On Dask, a worker killed mid-run is replaced (test_dask.py checks the numbers); one
    killed at every batch exhausts the scheduler's patience: a clear RunError, no sample."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=50)
    client = distributed.Client(cluster, set_as_default=False)
    try:
        with pytest.raises(RunError, match="Dask workers kept dying"):
            _dask_run_with_suicide(client)
    finally:
        client.close()
        cluster.close()
    FAULTS.append("Dask, the worker running a batch killed at every attempt: RunError "
                  "'Dask workers kept dying on a batch', no sample reported")


def _suicidal_batch(batch):
    if batch.start == 10:
        os.kill(os.getpid(), signal.SIGKILL)
    return runner.run_batch(batch)


def _dask_run_with_suicide(client):
    from simulate.run.executors import DaskCluster

    class Suicidal(DaskCluster):
        def map_unordered(self, task, items):
            return super().map_unordered(_suicidal_batch, items)
    return run_replications(make_plan(), 40, SEED, executor=Suicidal(client), batch_size=10)


# -- disks ---------------------------------------------------------------------------------

@contextlib.contextmanager
def tmpfs(folder: Path, size: str = "2m") -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path, leave: int) -> None:
    """Write a filler file so that only about `leave` bytes stay free."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    with open(folder / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def test_a_full_disk_is_a_clear_error_and_earlier_runs_stay_intact(tmp_path, capsys):
    plan = write_plan(tmp_path)
    with tmpfs(tmp_path / "disk") as disk:
        assert main([str(plan), "--runs", "30", "--results", str(disk), "--workers", "1", "-q"]) == 0
        capsys.readouterr()
        earlier = digest(disk)
        fill(disk, leave=64 * 1024)
        code = main([str(plan), "--runs", "200", "--results", str(disk), "--workers", "1", "-q"])
        message = one_line_error(capsys, code)
        assert "No space left on device" in message and "nothing of this run was kept" in message
        after = digest(disk)
        del after["filler"]
        assert after == {k: v for k, v in earlier.items()}, "the earlier run is byte for byte intact"
        runs = [p for p in (disk / "tiny").iterdir() if p.name != "latest"]
        assert len(runs) == 1 and (runs[0] / "summary.json").is_file()
        assert (disk / "tiny" / "latest").resolve() == runs[0].resolve()
        # the same into the earlier run's own folder with --out: it is not touched either
        code = main([str(plan), "--runs", "200", "--out", str(runs[0]), "--workers", "1", "-q"])
        one_line_error(capsys, code)
        after = digest(disk)
        del after["filler"]
        assert after == earlier
    FAULTS.append("disk full during the save (tmpfs): exit 1 'No space left on device; nothing of this "
                  "run was kept', no new folder, the earlier run (also as --out target) byte for byte intact")


def test_a_results_folder_gone_read_only_before_the_save(tmp_path, capsys, monkeypatch):
    plan = write_plan(tmp_path)
    with tmpfs(tmp_path / "disk") as disk:
        assert main([str(plan), "--runs", "30", "--results", str(disk), "--workers", "1", "-q"]) == 0
        capsys.readouterr()
        earlier = digest(disk)
        real = session.run_replications

        def then_read_only(*args: Any, **kwargs: Any) -> Any:
            results = real(*args, **kwargs)
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
            return results

        monkeypatch.setattr(session, "run_replications", then_read_only)
        code = main([str(plan), "--runs", "50", "--results", str(disk), "--workers", "1", "-q"])
        message = one_line_error(capsys, code)
        assert "Read-only file system" in message
        assert digest(disk) == earlier
        # and a folder that is read-only from the start is refused before simulating
        monkeypatch.setattr(session, "run_replications", real)
        t0 = time.perf_counter()
        code = main([str(plan), "--runs", "100000", "--results", str(disk), "--workers", "1", "-q"])
        message = one_line_error(capsys, code, expected=2)
        assert "Read-only file system" in message and time.perf_counter() - t0 < 10
    FAULTS.append("results folder remounted read-only between simulation and save: exit 1 "
                  "'Read-only file system', earlier run intact; read-only from the start: exit 2 "
                  "before simulating")


# -- Ctrl-C ----------------------------------------------------------------------------------

def interrupt_after(monkeypatch: pytest.MonkeyPatch, results: int) -> None:
    """Ctrl-C arrives while the runner waits for its `results`-th batch result."""
    real = session.run_replications

    def interrupted(*args: Any, progress: Any = None, **kwargs: Any) -> Any:
        seen: list[int] = []

        def tick(done: int, total: int) -> None:
            seen.append(done)
            if len(seen) == results:
                raise KeyboardInterrupt
        return real(*args, progress=tick, **kwargs)

    monkeypatch.setattr(session, "run_replications", interrupted)


def test_ctrl_c_saves_a_partial_run_that_resume_finishes_exactly(tmp_path, monkeypatch, capsys, undisturbed):
    plan = write_plan(tmp_path)
    from simulate.load.loader import load_plan
    from simulate.run.scenario import variants_to_run
    companions = len(variants_to_run(load_plan(plan)))    # the plan, unshocked, without rules
    interrupt_after(monkeypatch, results=2 * companions + 1)    # 2 batches of 20 are in, before the first look
    code = main([str(plan), "--runs", "120", "--out", str(tmp_path / "partial"), "--workers", "1",
                 "--batch-size", "20", "-q"])
    assert code == 130 and "marked partial" in capsys.readouterr().err
    manifest = json.loads((tmp_path / "partial" / "manifest.json").read_text())
    summary = json.loads((tmp_path / "partial" / "summary.json").read_text())
    assert manifest["partial"] is True and summary["partial"] is True
    assert manifest["runs_done"] == summary["runs"] == 40 and manifest["runs"] == 120
    assert len(pd.read_parquet(tmp_path / "partial" / "replications.parquet")) == companions * 40
    monkeypatch.undo()
    before = digest(tmp_path / "partial")

    assert main(["rerun", "--resume", str(tmp_path / "partial"), "--out", str(tmp_path / "resumed"),
                 "--workers", "2", "-q"]) == 0
    assert "40 of 120 replications done" in capsys.readouterr().err
    same_records(undisturbed, tmp_path / "resumed")
    resumed = json.loads((tmp_path / "resumed" / "manifest.json").read_text())
    assert resumed["partial"] is False
    assert resumed["runs_done"] == json.loads((undisturbed / "manifest.json").read_text())["runs_done"]   # settled alike
    assert resumed["resumed_from"] == str(tmp_path / "partial" / "manifest.json")
    assert digest(tmp_path / "partial") == before, "the partial run is kept as it was"

    assert main(["rerun", str(tmp_path / "partial"), "--out", str(tmp_path / "rerun"), "-q"]) == 0
    same_records(undisturbed, tmp_path / "rerun")
    FAULTS.append("Ctrl-C after 40 of 120 years: exit 130, partial folder marked partial; "
                  "`rerun --resume` played the missing years: identical to the undisturbed run; "
                  "`rerun` of the partial manifest: identical too")


def test_ctrl_c_before_the_first_year_is_done_keeps_nothing(tmp_path, monkeypatch, capsys):
    """A Ctrl-C before any year of every variant is in: exit 130, 'interrupted', no folder
    (there is nothing to keep, and a summary of no years would fail)."""
    interrupt_after(monkeypatch, results=1)     # the plan's first batch in, its companion's not
    code = main([str(write_plan(tmp_path)), "--runs", "120", "--out", str(tmp_path / "none"), "--workers", "1",
                 "--batch-size", "20", "-q"])
    assert code == 130 and capsys.readouterr().err.strip() == "interrupted"
    assert not (tmp_path / "none").exists()


def test_resume_refuses_what_it_cannot_finish(tmp_path, capsys, undisturbed):
    code = main(["rerun", "--resume", str(undisturbed), "--out", str(tmp_path / "x")])
    assert "nothing to resume" in one_line_error(capsys, code, expected=2)
    assert not (tmp_path / "x").exists()


def test_ctrl_c_during_the_save_keeps_nothing_and_touches_nothing(tmp_path, monkeypatch, capsys, undisturbed):
    import simulate.report.report as report
    out = tmp_path / "earlier"
    import shutil
    shutil.copytree(undisturbed, out)
    before = digest(out)

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "write_report", interrupted)
    code = main([str(write_plan(tmp_path)), "--runs", "50", "--out", str(out), "--workers", "1", "-q"])
    assert code == 130 and capsys.readouterr().err.strip() == "interrupted"
    assert digest(out) == before and not [p for p in out.iterdir() if p.name.startswith(".")]
    code = main([str(write_plan(tmp_path)), "--runs", "50", "--out", str(tmp_path / "new"), "--workers", "1", "-q"])
    assert code == 130 and not (tmp_path / "new").exists()
    FAULTS.append("Ctrl-C during the save: exit 130 'interrupted', the --out folder's earlier run "
                  "byte for byte intact, a new folder not left behind")


@pytest.mark.slow
def test_a_real_ctrl_c_then_resume_gives_the_uninterrupted_run(tmp_path):
    """SIGINT to a real `python -m simulate` (its process group, as a terminal sends it),
    then `rerun --resume`: every year is there once, and years on both sides of the
    interruption are those an uninterrupted run plays (checked by replaying a sample)."""
    data = plan_data()
    data["channels"][0]["leads_per_year"] = 1200    # ~15 ms a year: still running at 3.5 CPU s
    plan = tmp_path / "busy.yaml"
    plan.write_text(yaml.safe_dump(data, sort_keys=False))
    runs = 700          # ~10 s of years: the interrupt at 3.5 CPU s lands mid-run on any machine
    proc = subprocess.Popen([sys.executable, "-m", "simulate", str(plan), "--runs", str(runs), "--out",
                             str(tmp_path / "partial"), "--workers", "1", "--batch-size", "10", "--quiet",
                             "--all-runs"],     # every year, so the resumed run must hold all of them
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=interruptible)
    deadline = time.monotonic() + 120
    while group_cpu_seconds(proc.pid) < 3.5 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    done = json.loads((tmp_path / "partial" / "manifest.json").read_text())["runs_done"]
    assert 0 < done < runs
    resumed = subprocess.run([sys.executable, "-m", "simulate", "rerun", "--resume", str(tmp_path / "partial"),
                              "--out", str(tmp_path / "resumed"), "--workers", "2", "--quiet"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    from simulate.engine.year import simulate_year
    from simulate.load.loader import load_plan
    from simulate.run.scenario import variants_to_run
    table = pd.read_parquet(tmp_path / "resumed" / "replications.parquet")
    variants = variants_to_run(load_plan(plan))
    rng = np.random.default_rng(0)
    sample = sorted(set(rng.choice(done, 6).tolist()) | set(rng.choice(np.arange(done, runs), 6).tolist()))
    for name, p in variants.items():
        rows = table[table["variant"] == name].set_index("replication")
        assert list(rows.index) == list(range(runs)), "every year once, in order"
        for r in sample:
            record = simulate_year(p, data["seed"], r).record
            assert rows.loc[r, list(record)].to_dict() == pytest.approx(record, rel=0, abs=0, nan_ok=True), (name, r)
    FAULTS.append(f"real SIGINT to a CLI run after {done} of {runs} years: exit 130, partial saved; "
                  f"`rerun --resume`: all {runs} years once, sampled years identical to an uninterrupted run")
