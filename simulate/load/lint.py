"""`simulate rules lint`: what is wrong or risky in a playbook, before a year is simulated.

Loading already rejects unknown metrics and actions, type errors and conditions that can
never be true. The linter adds what needs the whole playbook (and, for a scenario file,
the plan): rules that conflict (move the same lever in opposite directions without a
shared group), rules that can never fire in this plan (their shock or event never
happens), and pairs of rules that can re-trigger each other (each one's actions move a
metric the other's condition reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plan.plan import Plan
from ..plan.rules import BUDGET_METRICS, PIPELINE_METRICS, Playbook, Rule
from ..plan.shocks import SHOCK_TYPES
from .loader import load_scenario, plan_from_document
from .yamlio import load_document

# Metrics that only move when a shock of this type happens (each shock type declares its own).
SHOCK_METRICS = {cls.metric: name for name, cls in SHOCK_TYPES.items() if cls.metric}


@dataclass(frozen=True)
class Finding:
    file: str
    rule: str
    kind: str          # conflict | never-fires | re-trigger | redundant
    message: str

    def __str__(self) -> str:
        return f"{self.file}: rule '{self.rule}': {self.kind}: {self.message}"


def lint_file(path: str | Path) -> list[Finding]:
    """Lint a playbook file, or the rules of a plan or scenario file (with its plan)."""
    doc = load_document(path)
    if "rules" in doc.data and "target" not in doc.data and "extends" not in doc.data:
        book = plan_from_document(doc, Playbook)
        return lint_rules(str(path), book.rules, None)
    plan: Plan = plan_from_document(load_scenario(path))
    return lint_rules(str(path), plan.rules, plan)


def lint_rules(file: str, rules: list[Rule], plan: Plan | None) -> list[Finding]:
    found: list[Finding] = []
    for rule in rules:
        if rule.once and rule.cooldown > 0:
            found.append(Finding(file, rule.name, "redundant", "`once` already stops it; the cooldown never applies"))
        if plan is not None:
            found.extend(_never_fires(file, rule, plan))
    for i, a in enumerate(rules):
        for b in rules[i + 1:]:
            conflict = _conflict(a, b)
            if conflict and not (a.group and a.group == b.group):
                found.append(Finding(file, a.name, "conflict", f"moves {conflict} the other way from rule "
                                     f"'{b.name}'; put both in one `group` so only one is in force"))
    for i, a in enumerate(rules):
        for b in rules[i:]:
            if a is b:
                if _moves(a) & a.when.metrics and not (a.once or a.cooldown or a.duration):
                    found.append(Finding(file, a.name, "re-trigger", "its actions move the metrics its own "
                                         "condition reads and it has no once, cooldown or duration: "
                                         "it may fire at every review"))
            elif not (a.once or b.once) and _moves(a) & b.when.metrics and _moves(b) & a.when.metrics:
                found.append(Finding(file, a.name, "re-trigger", f"it and rule '{b.name}' move the metrics "
                                     f"each other's condition reads ({', '.join(sorted(_moves(a) & b.when.metrics))}); "
                                     "check they cannot keep firing each other"))
    return found


def _moves(rule: Rule) -> set[str]:
    moved: set[str] = set()
    for action in rule.then:
        moved |= action.influences
    if rule.cost and rule.charge == "budget":
        moved |= BUDGET_METRICS | PIPELINE_METRICS
    return moved


def _never_fires(file: str, rule: Rule, plan: Plan) -> list[Finding]:
    shock_types = {s.type for s in plan.shocks}
    out = []
    for metric, needs in SHOCK_METRICS.items():
        if metric in rule.when.metrics and needs not in shock_types:
            out.append(Finding(file, rule.name, "never-fires", f"reads '{metric}', which stays 0 without a "
                               f"{needs} shock, and this plan has none (fine in a playbook shared with scenarios)"))
    if rule.check in ("shock_started", "shock_ended") and not plan.shocks:
        out.append(Finding(file, rule.name, "never-fires", f"checks on {rule.check}, but this plan has no shocks"))
    return out


def _directions(rule: Rule) -> dict[tuple[str, Any], int]:
    """(lever, key) -> +1 or -1 for each lever a rule's actions push one way."""
    out: dict[tuple[str, Any], int] = {}
    for a in rule.then:
        factor = getattr(a, "factor", None)
        if factor is not None and factor != 1:
            # The lever's key: segment x product, and the stage or rep level it acts on.
            stage = getattr(a, "stage", None)
            keys = [(s, p, stage, level) for s in (a.segments or ["*"]) for p in (a.products or ["*"])
                    for level in (getattr(a, "levels", None) or [None])]
            for key in keys:
                out[(a.action, key)] = 1 if factor > 1 else -1
        if a.action == "shift_budget":
            out[("channel_spend", a.source)] = -1
            out[("channel_spend", a.to)] = 1
        if a.action == "stop_product_spend":
            out[("product_demand", a.product)] = -1
            for p in a.reinvest_in:
                out[("product_demand", p)] = 1
    return out


def _conflict(a: Rule, b: Rule) -> str | None:
    da, db = _directions(a), _directions(b)
    for (lever, key), d in da.items():
        for (lever_b, key_b), e in db.items():
            if lever == lever_b and d == -e and _overlap(key, key_b):
                shown = tuple(x for x in key if x is not None) if isinstance(key, tuple) else key
                return f"{lever} {shown}"
    return None


def _overlap(k1: Any, k2: Any) -> bool:
    if isinstance(k1, tuple) and isinstance(k2, tuple):
        return all(x == y or "*" in (x, y) for x, y in zip(k1, k2))
    return k1 == k2
