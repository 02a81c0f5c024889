"""Small plans built in code for tests: a minimal valid plan, changed by deep overrides."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from simulate.load.loader import plan_from_document
from simulate.load.yamlio import Document
from simulate.plan.plan import Plan


def minimal_plan_data() -> dict[str, Any]:
    """One product, one new-logo segment fed by one channel, one rep with ample capacity."""
    return {
        "name": "test",
        "seed": 1,
        "runs": 100,
        # An empty funnel on day 0: the analytic answers of the year's own flows assume it
        # (the pipeline at the start has tests of its own, in test_pipeline_at_start.py).
        "horizon": {"start": "2027-01-01", "years": 1, "warm_start": False},
        "target": {"annual": 100_000},
        "products": [{"name": "p", "portfolio": "star", "price": 1000, "margin": "50%"}],
        "segments": [{
            "name": "SMB", "kind": "new_logo", "mix": {"p": 1.0},
            "funnel": {
                "lead": {"advance": 0.6, "time": 5, "effort": 0},
                "intent": {"advance": 0.5, "time": 5, "effort": 0},
                "negotiation": {"advance": 0.5, "time": 5, "effort": 0},
                "units": 10,
            },
        }],
        "marketing": {"budget": 100_000},
        "channels": [{"name": "web", "segment": "SMB", "budget_share": 1.0, "leads_per_year": 100}],
        "team": {"reps": [{"name": "A", "visits_per_week": 50}], "attrition_per_year": 0},
        "collections": {"share": 1.0, "delay": 0},
    }


def merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base[k], v) if k in base else v
        return out
    return copy.deepcopy(over)


def make_plan(overrides: dict[str, Any] | None = None, data: dict[str, Any] | None = None) -> Plan:
    """A validated plan: `data` (default: the minimal plan) deep-merged with `overrides`."""
    d = merge(data or minimal_plan_data(), overrides or {})
    return plan_from_document(Document(d, {}, ("<test>",)))


def negotiation_funnel(win: float = 0.5, lead_advance: float = 1.0, effort: float = 0,
                       time: float = 5) -> dict:
    """A funnel whose only chance is the negotiation; every stage takes `time` days."""
    return {"lead": {"advance": lead_advance, "time": time, "effort": effort},
            "intent": {"advance": 1.0, "time": time, "effort": effort},
            "negotiation": {"advance": win, "time": time, "effort": effort},
            "units": 10}


SLUMP = {"type": "budget_cut", "name": "cut", "start": "2027-04-01", "size": "40%"}


def write_plan_with_slump(folder: Path, data: dict[str, Any]) -> Path:
    """`plan.yaml` from `data`, and `slump.yaml`: the same plan with 40 % of its budget cut
    from April, the stress scenario of the decision-command tests."""
    (folder / "plan.yaml").write_text(yaml.safe_dump(data))
    (folder / "slump.yaml").write_text(yaml.safe_dump({"extends": "plan.yaml", "shocks": [SLUMP]}))
    return folder / "plan.yaml"


# The known-answer plan of advise: one channel, every lead signing at once for 10k;
# `web_spend` adds spend to the channel, `collect` sets a share that costs money.
LEADS, TARGET = 25, 300_000.0
SPEND = {"name": "web_spend", "action": "spend", "channel": "web", "range": [0, "100k"],
         "step": "5k", "cost": "marketing budget"}
USELESS = {"name": "collect", "set": "collections.share", "range": ["50%", "100%"], "step": "10%",
           "cost": "10k per unit"}


def known_plan(folder: Path, levers: list | None = None) -> Path:
    stage = {"advance": 1.0, "time": 0.001, "effort": 0}
    data = minimal_plan_data()
    data["segments"][0]["funnel"] = {"lead": stage, "intent": stage, "negotiation": stage, "units": 10}
    data["channels"][0].update({"leads_per_year": LEADS, "spend_elasticity": 1.0})
    data["target"] = {"annual": TARGET}
    data["levers"] = [SPEND, USELESS] if levers is None else levers
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
