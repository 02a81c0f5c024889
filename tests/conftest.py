"""Shared fixtures: small plans built in code, so tests do not depend on the tutorial files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
# Every test plays its years (an interrupted run, a timed progress bar, a fault injected
# mid-run must not be answered from years an earlier test kept); tests/cli/test_cache.py
# switches the cache back on where it is the subject.
os.environ["SIMULATE_NO_CACHE"] = "1"
# The suite tests the pure-Python engine, the reference; tests/golden/test_compiled.py checks a
# compiled build against it (SIMULATE_ENGINE=compiled pytest runs everything on the build).
os.environ.setdefault("SIMULATE_ENGINE", "pure")


@pytest.fixture
def baseline_path() -> Path:
    return SCENARIOS / "baseline.yaml"
