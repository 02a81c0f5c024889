"""Shared fixtures: small plans built in code, so tests do not depend on the tutorial files."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def baseline_path() -> Path:
    return SCENARIOS / "baseline.yaml"
