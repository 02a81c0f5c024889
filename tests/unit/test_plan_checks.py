"""A plan that loads may still not hold together: its target split must add up."""

from __future__ import annotations

import pytest
from conftest import SCENARIOS
from factory import make_plan, minimal_plan_data

from simulate.cli.main import main
from simulate.load.loader import load_plan
from simulate.plan.market import plan_warnings


def two_segments(split: dict) -> dict:
    data = minimal_plan_data()
    data["segments"].append({**data["segments"][0], "name": "MID"})
    data["channels"].append({**data["channels"][0], "name": "fair", "segment": "MID", "budget_share": 0.5})
    data["channels"][0]["budget_share"] = 0.5
    data["target"] = {"annual": 100_000, "by_segment": split}
    return data


@pytest.mark.parametrize("split, says", [
    ({"SMB": 60_000, "MID": 30_000}, "by_segment adds up to 90.00k (its parts), 10.0% below"),
    ({"SMB": 60_000, "MID": 60_000}, "by_segment adds up to 120.00k (its parts), 20.0% above"),
    ({"SMB": 120_000}, "by_segment adds up to 120.00k (the part named), 20.0% above"),
])
def test_a_split_that_does_not_add_up_is_a_warning(split, says):
    warnings = plan_warnings(make_plan(data=two_segments(split)))
    assert len(warnings) == 1 and says in warnings[0], warnings


@pytest.mark.parametrize("split", [{"SMB": 60_000, "MID": 40_000}, {"SMB": 60_000, "MID": 40_300},
                                   {"SMB": 70_000}])
def test_a_split_that_adds_up_or_leaves_room_is_not(split):
    assert plan_warnings(make_plan(data=two_segments(split))) == []


def test_the_reference_plan_adds_up_and_validate_says_so(capsys):
    assert plan_warnings(load_plan(SCENARIOS / "baseline.yaml")) == []
    assert main(["validate", str(SCENARIOS / "baseline.yaml")]) == 0
    assert "warning" not in capsys.readouterr().err
