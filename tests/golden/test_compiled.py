"""The compiled engine (`python -m simulate compile`) plays exactly the reference's years.

Compiling must change the speed and nothing else: the golden years to the bit, and a whole
run with its forked rule values to the byte. Without a build these tests skip, unless
SIMULATE_REQUIRE_COMPILED=1 (CI builds the engine first) makes a missing build a failure.
A stale build (sources edited since) is never used: that is tested without compiling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import simulate.engine as engine

ROOT = Path(__file__).resolve().parent.parent.parent


def needs_build() -> None:
    why = engine.compiled_build()
    if why is None:
        return
    if os.environ.get("SIMULATE_REQUIRE_COMPILED") == "1":
        pytest.fail(f"SIMULATE_REQUIRE_COMPILED=1 but {why}")
    pytest.skip(why)


def simulate_cli(args: list[str], kind: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIMULATE_ENGINE": kind, "SIMULATE_NO_CACHE": "1"}
    return subprocess.run([sys.executable, "-m", "simulate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_the_compiled_engine_plays_the_golden_years():
    needs_build()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(ROOT / "tests" / "golden" / "test_golden.py")],
                          cwd=ROOT, env={**os.environ, "SIMULATE_ENGINE": "compiled"},
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout


@pytest.mark.slow
def test_a_run_with_its_rule_values_is_the_same_compiled(tmp_path):
    """The bundled playbook forks years mid-run to value its rules: a compiled year must fork
    and finish the same way. Tables compared to the byte, the summary bar its clock."""
    needs_build()
    out = {}
    for kind in ("pure", "compiled"):
        folder = tmp_path / kind
        done = simulate_cli([str(ROOT / "scenarios" / "baseline.yaml"), "--runs", "100", "--all-runs",
                             "--rule-value-runs", "100", "--quiet", "--out", str(folder)], kind, tmp_path)
        assert done.returncode == 0, done.stderr
        assert json.loads((folder / "manifest.json").read_text())["engine"] == kind
        summary = json.loads((folder / "summary.json").read_text())
        for clock in ("seconds", "wall_seconds"):
            summary.pop(clock)
        out[kind] = (summary, (folder / "replications.csv").read_bytes(),
                     (folder / "firings.csv").read_bytes(), (folder / "weekly.csv").read_bytes())
    assert out["compiled"][1:] == out["pure"][1:]
    assert out["compiled"][0] == out["pure"][0]
    values = out["pure"][0]["variants"]["plan"]["rules"]["mentoring"]["value"]
    assert values["replayed"] > 0          # the forks were exercised, not skipped


def test_a_build_is_used_only_for_the_sources_it_was_built_from(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "COMPILED", tmp_path)
    assert "no compiled build" in engine.compiled_build()
    record = {"python": sys.implementation.cache_tag, "sources": engine.source_digest()}
    (tmp_path / engine.BUILD_RECORD).write_text(json.dumps(record))
    assert engine.compiled_build() is None
    (tmp_path / engine.BUILD_RECORD).write_text(json.dumps({**record, "sources": "0" * 64}))
    assert "sources changed" in engine.compiled_build()
    (tmp_path / engine.BUILD_RECORD).write_text(json.dumps({**record, "python": "cpython-39"}))
    assert "built for cpython-39" in engine.compiled_build()


def test_an_edited_module_changes_the_digest(tmp_path):
    for name in ("team.py", "year.py"):
        (tmp_path / name).write_text("x = 1\n")
    before = engine.source_digest(tmp_path)
    (tmp_path / "team.py").write_text("x = 2\n")
    assert engine.source_digest(tmp_path) != before


def test_an_engine_the_installation_lacks_is_a_clear_error(tmp_path):
    done = simulate_cli(["validate", str(ROOT / "scenarios" / "baseline.yaml")], "fast", tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: SIMULATE_ENGINE='fast': expected one of pure, compiled"
    if engine.compiled_build() is not None:
        done = simulate_cli(["validate", str(ROOT / "scenarios" / "baseline.yaml")], "compiled", tmp_path)
        assert done.returncode == 2 and done.stderr.startswith("error: SIMULATE_ENGINE=compiled: ")
