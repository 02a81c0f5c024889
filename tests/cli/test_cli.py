"""The command line: usage errors, `validate`, `schema`, and a small run.

Usage errors exit 2 with one line that names the option and the value found; `validate`
checks files without running them; `schema` prints the JSON Schema of the plan format.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, SCENARIOS

from simulate.cli.main import main
from simulate.plan.plan import Plan

SCENARIO_FILES = sorted(SCENARIOS.glob("*.yaml"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(capsys, *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


# --- usage errors ------------------------------------------------------------------------


@pytest.mark.parametrize("argv, fragments", [
    (["--runs", "0"], ("--runs", "expected a number >= 1", "got 0")),
    (["--runs", "-5"], ("--runs", "got -5")),
    (["--runs", "abc"], ("--runs", "expected a whole number", "'abc'")),
    (["--runs", "1.5"], ("--runs", "'1.5'")),
    (["--seed", "-1"], ("--seed", "expected a number >= 0", "got -1")),
    (["--workers", "0"], ("--workers", "got 0")),
    (["--bogus"], ("unrecognized arguments: --bogus",)),
    (["--runs"], ("--runs", "expected one argument")),
])
def test_bad_options_exit_2_with_one_line(capsys, argv, fragments):
    message = usage_error(capsys, str(SCENARIOS / "baseline.yaml"), *argv)
    for fragment in fragments:
        assert fragment in message, message
    assert "--help" in message


def test_no_scenario(capsys):
    assert "required: scenario" in usage_error(capsys)


def test_validate_without_files(capsys):
    assert "required: files" in usage_error(capsys, "validate")


def test_validate_unknown_option(capsys):
    assert "unrecognized arguments: --runs" in usage_error(capsys, "validate", "x.yaml", "--runs", "3")


def test_schema_takes_no_arguments(capsys):
    assert "unrecognized arguments: extra" in usage_error(capsys, "schema", "extra")


def test_usage_errors_come_before_reading_the_file(capsys, tmp_path):
    """A bad option is reported even when the file is also bad: the command line first."""
    message = usage_error(capsys, str(tmp_path / "nope.yaml"), "--runs", "0")
    assert "--runs" in message


def test_help_and_version_exit_0(capsys):
    for flag in ("--help", "--version"):
        with pytest.raises(SystemExit) as info:
            main([flag])
        assert info.value.code == 0
    out = capsys.readouterr().out
    assert "validate" in out and "schema" in out and "simulate 0." in out


# --- validate ----------------------------------------------------------------------------


def test_validate_accepts_every_scenario(capsys):
    assert SCENARIO_FILES, "scenarios/ holds the tutorial plans"
    code, out, err = run(capsys, "validate", *map(str, SCENARIO_FILES))
    assert code == 0, err
    assert err == ""
    assert out.splitlines() == [f"{f}: ok" for f in SCENARIO_FILES]
    code, out, err = run(capsys, "validate", "--quiet", *map(str, SCENARIO_FILES))
    assert (code, out, err) == (0, "", "")


def test_validate_reports_each_bad_file_and_still_checks_the_others(capsys, tmp_path):
    good = SCENARIOS / "baseline.yaml"
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    shutil.copytree(SCENARIOS.parent / "rules", tmp_path / "rules")   # ../rules/ from the copy
    (tmp_path / "scenarios").mkdir()
    shutil.copytree(SCENARIOS / "data", tmp_path / "scenarios" / "data")
    bad = tmp_path / "scenarios" / "bad.yaml"
    text = good.read_text()
    assert text.count("\n  years: 1\n") == 1
    bad.write_text(text.replace("\n  years: 1\n", "\n  years: -1\n"))
    line = text[: text.index("\n  years: 1\n")].count("\n") + 2
    code, out, err = run(capsys, "validate", str(empty), str(good), str(bad))
    assert code == 2
    assert out == f"{good}: ok\n"
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in err
    assert lines[0].startswith(f"{empty}:") and "empty" in lines[0]
    assert lines[1].startswith(f"{bad}:{line}:") and "horizon.years" in lines[1] and "-1" in lines[1]


def test_validate_does_not_run_or_write(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from simulate.run import runner
    monkeypatch.setattr(runner, "run_replications", lambda *a, **k: pytest.fail("validate ran the plan"))
    code, _, _ = run(capsys, "validate", str(SCENARIOS / "baseline.yaml"))
    assert code == 0
    assert list(tmp_path.iterdir()) == []


# --- schema ------------------------------------------------------------------------------


def test_schema_is_json_describing_the_plan(capsys):
    code, out, err = run(capsys, "schema")
    assert code == 0 and err == ""
    schema = json.loads(out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["type"] == "object"
    assert set(Plan.model_fields) <= set(schema["properties"])
    assert "extends" in schema["properties"]
    assert schema.get("additionalProperties") is False     # unknown keys are refused
    assert set(schema.get("required", [])) >= {"target", "products", "segments", "marketing", "team"}
    # every $ref points at a definition that exists
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(schema)
    for ref in refs:
        assert ref.startswith("#/$defs/") and ref.split("/")[-1] in schema["$defs"], ref


def test_schema_gives_stage_effort_as_a_number_or_a_distribution(capsys):
    _, out, _ = run(capsys, "schema")
    effort = json.loads(out)["$defs"]["Stage"]["properties"]["effort"]
    written, distribution = effort["anyOf"]
    number, text = written["anyOf"]                   # a number, or text such as "1.5" or "2 visits"
    assert number["type"] == "number" and (number["minimum"], number["maximum"]) == (0, 1000)
    assert text == {"type": "string"}
    assert {"gamma", "exponential", "empirical"} <= set(distribution["propertyNames"]["enum"])
    assert effort["default"] == 1


def test_schema_and_validate_through_python_m_simulate():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "simulate"]
    schema = subprocess.Popen([*cmd, "schema"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    validate = subprocess.Popen([*cmd, "validate", *map(str, SCENARIO_FILES)], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = schema.communicate(timeout=120)
    assert schema.returncode == 0, err
    assert json.loads(out)["type"] == "object"
    out, err = validate.communicate(timeout=120)
    assert validate.returncode == 0, err
    assert out.count(": ok") == len(SCENARIO_FILES)


# --- a small run -------------------------------------------------------------------------


def test_a_small_run_writes_its_folder(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, str(SCENARIOS / "baseline.yaml"), "--runs", "3", "--seed", "5",
                         "--workers", "1", "--out", str(out_dir), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["runs"] == 3 and summary["seed"] == 5
    assert json.loads((out_dir / "summary.json").read_text()) == summary
    assert (out_dir / "manifest.json").exists()
    assert not list(out_dir.glob(".*.tmp")), "temporary files must be renamed or removed"
