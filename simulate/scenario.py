"""Which plans a run simulates side by side, on common random numbers.

A plain plan runs alone as the variant `plan`. A scenario with shocks also runs its
companion without the shocks, `BASELINE`, on the same seeds: the summary's `impact` is then
the paired difference, due to the shocks alone. Playbooks and plan variants add their own
companions here, so every difference the summary reports is measured world by world.
"""

from __future__ import annotations

import argparse

from .plan import Plan

BASELINE = "__baseline__"   # companion variants start with "__": they are not the user's


def variants_to_run(plan: Plan, args: argparse.Namespace | None = None) -> dict[str, Plan]:
    """The named plans to simulate for one scenario run; the first is the headline."""
    variants = {"plan": plan}
    if plan.shocks:
        variants[BASELINE] = without_shocks(plan)
    return variants


def without_shocks(plan: Plan) -> Plan:
    return plan.model_copy(update={"shocks": []})


def is_companion(name: str) -> bool:
    return name.startswith("__")
