"""The drop_rule lever: advise can try the plan without one rule of its playbook."""

from __future__ import annotations

import pytest
import yaml
from factory import known_plan

from simulate.cli.main import main
from simulate.load.decisions import apply_levers
from simulate.load.loader import load_scenario, plan_from_document


def _plan(tmp_path, lever: dict) -> object:
    path = known_plan(tmp_path, levers=[lever])
    data = yaml.safe_load(path.read_text())
    data["rules"] = [{"name": "panic", "when": True, "once": True,
                      "then": [{"action": "scale_win_rate", "factor": 0.5}]},
                     {"name": "coach", "when": True, "once": True,
                      "then": [{"action": "scale_win_rate", "factor": 1.2}]}]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_dropping_a_rule_removes_it_and_nothing_else(tmp_path):
    path = _plan(tmp_path, {"name": "no_panic", "action": "drop_rule", "rule": "panic", "range": [0, 1],
                            "cost": "none"})
    doc = load_scenario(path)
    levers = plan_from_document(doc).levers
    kept = apply_levers(doc, levers, {"no_panic": 0})[1]
    dropped = apply_levers(doc, levers, {"no_panic": 1})[1]
    assert [r.name for r in kept.rules] == ["panic", "coach"]
    assert [r.name for r in dropped.rules] == ["coach"]
    assert dropped.levers == [] and kept.model_copy(update={"rules": dropped.rules, "levers": []}) == dropped


@pytest.mark.parametrize("lever, says", [
    ({"name": "x", "action": "drop_rule", "rule": "panik", "range": [0, 1], "cost": "none"},
     "levers[0].rule: unknown rule 'panik' (did you mean 'panic'?)"),
    ({"name": "x", "action": "drop_rule", "range": [0, 1], "cost": "none"}, "action 'drop_rule' needs 'rule'"),
    ({"name": "x", "action": "drop_rule", "rule": "panic", "range": [0, 2], "cost": "none"},
     "a rule is kept (0) or dropped (1)"),
])
def test_a_bad_drop_lever_is_one_located_line(tmp_path, capsys, lever, says):
    assert main(["validate", str(_plan(tmp_path, lever))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err, err
