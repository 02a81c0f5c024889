"""Which plans a run simulates side by side, on common random numbers.

A plain plan runs alone as the variant `plan`. A scenario with shocks also runs its
companion without the shocks, `BASELINE`, on the same seeds: the summary's `impact` is then
the paired difference, due to the shocks alone; with a playbook it also runs `NO_RULES`,
the same shocked worlds without the playbook, for the summary's `playbook` value.
`--no-rules` drops the playbook and
`--without RULE` one rule, before anything runs, so the damage can be seen raw.
"""

from __future__ import annotations

import argparse

from ..errors import UsageError, did_you_mean
from ..plan.plan import Plan, without_rules

BASELINE = "__baseline__"   # companion variants start with "__": they are not the user's
NO_RULES = "__no_rules__"


def variants_to_run(plan: Plan, args: argparse.Namespace | None = None) -> dict[str, Plan]:
    """The named plans to simulate for one scenario run; the first is the headline."""
    plan = apply_rule_switches(plan, args)
    variants = {"plan": plan}
    if plan.shocks:
        variants[BASELINE] = without_shocks(plan)
        if plan.rules:      # what the playbook is worth against this year's shocks
            variants[NO_RULES] = plan.model_copy(update={"rules": []})
    return variants


def apply_rule_switches(plan: Plan, args: argparse.Namespace | None) -> Plan:
    """Honour --no-rules and --without RULE (an unknown rule name is a usage error)."""
    if args is None:
        return plan
    if getattr(args, "no_rules", False):
        return plan.model_copy(update={"rules": []})
    names = [r.name for r in plan.rules]
    drop = list(getattr(args, "without", None) or [])
    for name in drop:
        if name not in names:
            raise UsageError(f"--without {name}: no such rule{did_you_mean(name, names)}; "
                             f"the playbook has: {', '.join(names) or 'no rules'}")
    return without_rules(plan, drop) if drop else plan


def without_shocks(plan: Plan) -> Plan:
    return plan.model_copy(update={"shocks": []})


def is_companion(name: str) -> bool:
    return name.startswith("__")
