"""Which plans a run simulates side by side, on common random numbers.

A plain plan runs alone as the variant `plan`. Shock scenarios, playbooks and plan variants
add companions here (the same plan without its shocks, without its rules...), so that every
difference the summary reports is paired: the same simulated worlds with and without.
"""

from __future__ import annotations

import argparse

from .plan import Plan


def variants_to_run(plan: Plan, args: argparse.Namespace | None = None) -> dict[str, Plan]:
    """The named plans to simulate for one scenario run; the first is the headline."""
    return {"plan": plan}
