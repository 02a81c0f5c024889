"""Levers in the plan: what they change, what each value costs, and located errors.

The plan is the known-answer plan of `test_advise.py`: one channel, every lead signing at
once for 10k; `web_spend` adds spend to the channel, `collect` sets a share that costs money.
"""

from __future__ import annotations

import pytest
from conftest import SCENARIOS
from factory import SPEND, USELESS, known_plan

from simulate.cli.main import main
from simulate.load.decisions import apply_levers
from simulate.load.loader import load_scenario, plan_from_document
from simulate.plan.decisions import cost


def test_levers_become_plans_and_costs(tmp_path):
    """Spend grows the budget and pins the channel's curve; the money lever costs per unit."""
    doc = load_scenario(known_plan(tmp_path))
    plan = plan_from_document(doc)
    _, levered, changes = apply_levers(doc, plan.levers, {"web_spend": 40_000, "collect": 0.7})
    assert levered.marketing.budget == 140_000
    assert levered.channels[0].at_spend == 100_000 and levered.channels[0].budget_share == 1.0
    assert levered.collections.share == 0.7 and not levered.levers
    assert changes["collections"] == {"share": 0.7}
    spend, collect = plan.levers
    assert cost(spend, 40_000, plan) == 40_000
    assert cost(collect, 0.7, plan) == pytest.approx(2_000)
    assert spend.grid()[:3] == [0, 5_000, 10_000] and len(spend.grid()) == 21


def test_hires_cost_their_months_in_the_horizon(tmp_path):
    hire = {"name": "hires", "action": "hire", "segment": "SMB", "quarter": "Q3", "range": [0, 2],
            "cost": "120k per hire-year"}
    doc = load_scenario(known_plan(tmp_path, [hire]))
    plan = plan_from_document(doc)
    _, levered, _ = apply_levers(doc, plan.levers, {"hires": 2})
    new = [r for r in levered.team.reps if r.name.startswith("hires-")]
    assert [str(r.start) for r in new] == ["2027-07-01", "2027-07-15"]
    assert all(r.level == "new_hire" and r.segments == ["SMB"] for r in new)
    days = (184 + 170) / 365       # 1 July and 15 July to the end of 2027
    assert cost(plan.levers[0], 2, plan) == pytest.approx(120_000 * days)


def test_the_reference_plans_levers_follow_its_figures():
    """Four Q1 hires at 90k a hire-year, a trade-show share moved within the 800k budget, a
    rebate off the 5 % uplift, a 40k backup that caps the supplier delay at 7 days."""
    doc = load_scenario(SCENARIOS / "supplier_delay.yaml")
    plan = plan_from_document(doc)
    top = {lv.name: lv.grid()[-1] for lv in plan.levers}
    _, levered, _ = apply_levers(doc, plan.levers, top)
    costs = {lv.name: cost(lv, top[lv.name], plan) for lv in plan.levers}
    assert costs["smb_hires_q1"] == pytest.approx(90_000 * (365 + 351 + 337 + 323) / 365)
    assert costs["trade_show_share"] == costs["ka_visits"] == costs["loyalty_rebate"] == 0
    assert costs["backup_supplier"] == 40_000
    assert levered.marketing.budget == 800_000
    assert sum(c.budget_share for c in levered.channels) == pytest.approx(1)
    assert levered.shocks[0].size.mean == 7
    ka = levered.segment("KA").accounts
    assert ka.renewal_uplift == 0 and ka.visits_per_quarter == 6
    assert ka.renewal_with_full_visits == pytest.approx(0.92 * (1 + 1.67 * 0.05))


@pytest.mark.parametrize("lever, key, says", [
    ({**SPEND, "channel": "webb"}, "levers[0].channel", "unknown channel 'webb'"),
    ({**SPEND, "cost": "a lot"}, "levers[0].cost", "expected a cost such as"),
    ({**SPEND, "range": ["100k", 0]}, "levers[0].range", "low < high"),
    ({k: v for k, v in SPEND.items() if k != "channel"}, "levers[0]", "needs 'channel'"),
    ({**USELESS, "set": "collections.shar"}, "levers[0].set", "no key 'shar'"),
    ({**USELESS, "set": "segments[KA].accounts.visits_per_quarter"}, "levers[0].set", "no item named 'KA'"),
    ({**USELESS, "range": [0.5, 2]}, "collections.share", "with lever 'collect' at 2"),
    ({**SPEND, "quarter": "Q1"}, "levers[0]", "takes no 'quarter'"),
])
def test_a_bad_lever_is_one_located_line(tmp_path, capsys, lever, key, says):
    path = known_plan(tmp_path, [lever])
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"{path}:" in err and key in err and says in err, err
