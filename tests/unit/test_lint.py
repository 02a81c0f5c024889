"""`rules lint`: two rules that push the same lever opposite ways are a conflict, unless
they act on different parts of it (stages, rep levels, segments) or share a group."""

from __future__ import annotations

import pytest
from factory import make_plan

from simulate.load.lint import lint_rules


def conflicts(*thens: dict, group: str | None = None) -> list[str]:
    rules = [{"name": f"r{i}", "check": "weekly", "when": True, "then": [then], "once": True,
              **({"group": group} if group else {})} for i, then in enumerate(thens)]
    plan = make_plan({"rules": rules})
    return [f.message for f in lint_rules("<test>", plan.rules, None) if f.kind == "conflict"]


def test_opposite_price_moves_conflict():
    found = conflicts({"action": "scale_price", "factor": 0.9}, {"action": "scale_price", "factor": 1.1})
    assert len(found) == 1 and "scale_price" in found[0] and "'r1'" in found[0]


def test_a_shared_group_settles_the_conflict():
    assert conflicts({"action": "scale_price", "factor": 0.9}, {"action": "scale_price", "factor": 1.1},
                     group="pricing") == []


@pytest.mark.parametrize("a, b", [
    ({"action": "scale_stage_time", "stage": "lead", "factor": 0.8},
     {"action": "scale_stage_time", "stage": "negotiation", "factor": 1.2}),
    ({"action": "training", "levels": ["new_hire"], "factor": 1.2},
     {"action": "training", "levels": ["core"], "factor": 0.9}),
])
def test_opposite_moves_on_different_parts_of_a_lever_do_not_conflict(a, b):
    assert conflicts(a, b) == []


def test_opposite_moves_on_a_shared_rep_level_conflict():
    assert len(conflicts({"action": "training", "levels": ["new_hire", "core"], "factor": 1.2},
                         {"action": "training", "levels": ["core"], "factor": 0.9})) == 1
