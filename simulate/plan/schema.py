"""The plan format as an editor reads it: JSON Schemas for plans, partial plans and playbooks.

The models describe a plan once it is parsed; a file holds what a manager writes before that:
`25%`, `80万`, `90k per hire-year`, `most likely 20 %`, a contracts CSV's path, a condition
`true`. An editor checks the file, so the schema widens each parsed value to the text it is
written as, and a file that `extends` another may leave anything out. Every bundled file names
its schema in a modeline (`# yaml-language-server: $schema=...`), and a test validates them.
"""

from __future__ import annotations

from typing import Any

from .distributions import DISTRIBUTION_JSON_SCHEMA
from .plan import Plan
from .rules import Playbook

DIALECT = "https://json-schema.org/draft/2020-12/schema"
KINDS = ("plan", "partial", "playbook")
# Parsed values a manager writes as text or a number: a lever's cost (`90k per hire-year`).
WRITTEN_AS_TEXT = ("Cost",)
TEXT = {"type": "string"}


def editor_schema(kind: str = "plan") -> dict[str, Any]:
    """The schema of a plan (`plan`), of a file that extends one (`partial`: nothing is
    required) or of a playbook file (`playbook`)."""
    schema = (Playbook if kind == "playbook" else Plan).model_json_schema()
    schema = _widen(schema, partial=kind == "partial")
    if "Distribution" in schema.get("$defs", {}):
        # Written out here, not as the library renders a plain class (an empty object, which
        # pydantic 2.14 closes with `additionalProperties: false`, refusing `{triangular: ...}`).
        schema["$defs"]["Distribution"] = DISTRIBUTION_JSON_SCHEMA
    for name in WRITTEN_AS_TEXT:
        if name in schema.get("$defs", {}):
            schema["$defs"][name] = {"anyOf": [schema["$defs"][name], TEXT, {"type": "number"}]}
    if kind != "playbook":
        props = schema["properties"]
        props["extends"] = {"description": "parent plan file(s), relative to this file",
                            "anyOf": [TEXT, {"type": "array", "items": TEXT}]}
        props["playbooks"] = {"description": "playbook files whose rules join the plan's, relative to this file",
                              "type": "array", "items": TEXT}
        accounts = schema["$defs"]["KeyAccounts"]["properties"]
        accounts["contracts"] = {"anyOf": [accounts["contracts"], {**TEXT, "description": "a contracts CSV file"}]}
    rule = schema["$defs"]["Rule"]["properties"] if "Rule" in schema.get("$defs", {}) else None
    if rule is not None:
        rule["when"] = {"anyOf": [rule["when"], {"type": "boolean"}]}
    schema["$schema"] = DIALECT
    schema["title"] = {"plan": "simulate plan", "partial": "simulate plan that extends another",
                       "playbook": "simulate playbook"}[kind]
    return schema


def _widen(node: Any, partial: bool) -> Any:
    """Numbers also as text (`25%`, `80万`, `2w`); with `partial`, no required keys."""
    if isinstance(node, list):
        return [_widen(v, partial) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _widen(v, partial) for k, v in node.items() if not (partial and k == "required")}
    if out.get("type") in ("number", "integer"):
        bounds = {k: out.pop(k) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") if k in out}
        number = {"type": out.pop("type"), **bounds}
        return {**out, "anyOf": [number, TEXT]}
    return out
