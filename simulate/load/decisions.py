"""Levers put onto plan documents: the plan (or a stress scenario) with chosen lever values.

Each lever's overrides are merged onto the document by the `extends` rules, one lever after
another (a lever reads the plan the previous ones left: extra spend on one channel, then a
share moved on another), and the result is validated like a file. Every overridden value is
located at its lever's line, so a value the plan refuses points at the lever that set it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import PlanError
from ..plan.decisions import Lever, overlay
from ..plan.plan import Plan
from .loader import plan_from_document
from .yamlio import Document
from .yamlio import overlay as merge

KEY = "__lever__"


def with_lever(doc: Document, plan: Plan, lever: Lever, x: float, index: int) -> Document:
    """`doc` with one lever at `x` and without `levers:`; its overrides are located at
    `levers[index]`."""
    over = overlay(lever, x, plan)
    if not over:
        return doc
    where = doc.locate(("levers", index))
    locations = dict(doc.locations)
    locations.update({(KEY,) + p: where for p in paths(over)})
    # the levered plan is one point of the search, not a search space: its `levers` go
    return merge(Document({**doc.data, KEY: over}, locations, doc.files), (KEY,), drop=(KEY, "levers"))


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a plain value, itself included."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, prefix + (i,))
    return out


def apply_levers(doc: Document, levers: list[Lever], values: Mapping[str, float]) -> tuple[Document, Plan, dict]:
    """The document and its validated plan with each named lever at its value (the rest as
    written), and the overrides that made it (to write beside the plan). A plan that refuses
    a value names the lever and the value."""
    plan = plan_from_document(doc)
    changes = Document({}, {}, doc.files)
    for i, lever in enumerate(levers):
        if lever.name not in values:
            continue
        x = values[lever.name]
        try:
            changes = with_lever(changes, plan, lever, x, i)
            doc = with_lever(doc, plan, lever, x, i)
            plan = plan_from_document(doc)
        except PlanError as exc:
            raise PlanError(f"{exc.message} (with lever '{lever.name}' at {x:g})", exc.location,
                            exc.key) from None
    return doc, plan, changes.data


def check_lever_ends(doc: Document, plan: Plan) -> None:
    """Every lever, alone, at both ends of its range, gives a plan that validates: a range the
    plan cannot take fails at load, not in the middle of a search."""
    for lever in plan.levers:
        for x in (lever.range[0], lever.grid()[-1]):
            apply_levers(doc, plan.levers, {lever.name: x})
