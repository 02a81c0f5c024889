"""Editors check plan files against `python -m simulate schema`: every bundled file names its
schema in a modeline and passes it, read as an editor reads YAML (dates stay strings); the
committed schemas are the command's output; and a schema still refuses what the loader refuses."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import ROOT

from simulate.plan.schema import KINDS, editor_schema

SCHEMAS = ROOT / "schemas"
FILES = {"plan": "plan.json", "partial": "plan.partial.json", "playbook": "playbook.json"}
BUNDLED = sorted([*ROOT.glob("scenarios/*.yaml"), *ROOT.glob("rules/*.yaml")])


class EditorLoader(yaml.SafeLoader):
    """YAML as a JSON-based editor reads it: a date is a string."""


EditorLoader.yaml_implicit_resolvers = {
    key: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _schema_of(path: Path) -> Path:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix), f"{path.name}: no schema modeline"
    return (path.parent / first[len(prefix):]).resolve()


@pytest.mark.parametrize("kind", KINDS)
def test_the_committed_schemas_are_the_commands_output(kind):
    assert json.loads((SCHEMAS / FILES[kind]).read_text(encoding="utf-8")) == editor_schema(kind)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_bundled_file_passes_the_schema_it_names(path):
    schema = json.loads(_schema_of(path).read_text(encoding="utf-8"))
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=EditorLoader)
    errors = [f"{list(e.path)}: {e.message[:120]}" for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    assert not errors, errors
    expected = "plan.json" if path.name == "baseline.yaml" else \
        "playbook.json" if path.parent.name == "rules" else "plan.partial.json"
    assert _schema_of(path).name == expected


@pytest.mark.parametrize("duration", ["3mo", 60, {"triangular": ["30d", "60d", "120d"]},
                                      {"lognormal": {"mean": "60d", "sd": "20d"}}])
def test_a_distribution_may_be_written_in_any_form_the_loader_reads(duration):
    # An optional distribution is a `$ref` beside its own forms: both must take a family mapping.
    shock = {"type": "price_cut", "name": "bundle", "start": "2027-03-01", "duration": duration}
    errors = list(jsonschema.Draft202012Validator(editor_schema("partial")).iter_errors({"shocks": [shock]}))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("kind, data, where", [
    ("plan", {"targett": {"annual": "10M"}}, []),                    # a misspelt key
    ("partial", {"segments": [{"name": "SMB", "kind": "big"}]}, ["segments", 0, "kind"]),
    ("partial", {"horizon": {"years": [1]}}, ["horizon", "years"]),
    ("playbook", {"rules": [{"name": "r", "when": "true", "then": [{"action": "fly"}]}]}, ["rules", 0, "then", 0]),
])
def test_a_schema_still_refuses_what_the_loader_refuses(kind, data, where):
    errors = list(jsonschema.Draft202012Validator(editor_schema(kind)).iter_errors(data))
    assert errors and any(list(e.path)[:len(where)] == where for e in errors)
