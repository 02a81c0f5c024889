"""Property tests: generated plans, legal and broken, through the command line.

Every legal plan hypothesis writes (see `plan_strategies.plans`) must validate and play its
years; every plan broken in one place must exit with code 2 and one message that starts with
the file and line and names the key. Random text and random YAML structures must never get
past the loader as anything but a clear error. No exception other than the package's own
may escape: the CLI catches only `SimulateError`, so anything else fails the test here.

`pytest -s` prints how many inputs of each kind were tried; the counts also go to a JSON
file in the test's tmp folder.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_strategies import broken, plans

from simulate.cli.main import main
from simulate.engine.year import simulate_year
from simulate.load.loader import _key, load_plan

COUNTS: Counter = Counter()
SETTINGS = dict(deadline=None, suppress_health_check=[   # capsys is read out after every call
    HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
LOCATED = re.compile(r"^error: (?P<file>.+?):(?P<line>\d+):(?P<col>\d+): ")
FOLDER = Path(".")     # set to a tmp folder by the module fixture below


@pytest.fixture(scope="module", autouse=True)
def report(tmp_path_factory: pytest.TempPathFactory):
    global FOLDER
    FOLDER = tmp_path_factory.mktemp("plans")
    yield
    out = tmp_path_factory.mktemp("properties") / "generated.json"
    out.write_text(json.dumps(dict(COUNTS), indent=2))
    print(f"\ngenerated inputs ({out}):")
    for key, n in sorted(COUNTS.items()):
        print(f"  {n:5d}  {key}")


def write(data: Any, name: str = "plan.yaml") -> Path:
    path = FOLDER / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@settings(max_examples=80, **SETTINGS)
@given(plan=plans())
def test_a_legal_plan_validates_and_plays_its_years(plan, capsys):
    path = write(plan)
    code, out, err = cli(capsys, "validate", str(path))
    assert code == 0, err
    loaded = load_plan(path)
    for replication in (0, 1):
        record = simulate_year(loaded, loaded.seed, replication).record
        assert all(math.isfinite(v) or k.startswith("first:") for k, v in record.items()), record
    COUNTS["valid: validated and played 2 years"] += 1
    COUNTS[f"valid: with {len(plan.get('shocks', []))} shocks, {len(plan.get('rules', []))} rules"] += 1


@settings(max_examples=3, **SETTINGS)
@given(plan=plans())
def test_a_legal_plan_runs_through_the_cli(plan, capsys):
    path = write(plan)
    out = FOLDER / "run"
    code, _, err = cli(capsys, str(path), "--runs", "2", "--out", str(out), "--workers", "1", "--quiet")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] == 2 and summary["partial"] is False
    COUNTS["valid: run through the CLI (2 years, run folder)"] += 1


@settings(max_examples=100, **SETTINGS)
@given(data=st.data())
def test_a_broken_plan_exits_2_naming_the_file_line_and_key(data, capsys):
    plan = data.draw(plans(shocks=True, rules=True))
    bad, path, how = data.draw(broken(plan))
    file = write(bad)
    code, out, err = cli(capsys, "validate", str(file))
    assert code == 2, f"{how} at {_key(path)} was accepted"
    assert out == ""
    first = err.splitlines()[0]
    located = LOCATED.match("error: " + first)
    assert located and located["file"] == str(file), first
    keys = [_key(path[:i]) for i in range(len(path), 0, -1)]
    assert any(f" {k}:" in first or f" {k}." in first or f" {k}[" in first for k in keys), \
        f"{how} at {_key(path)}: {first}"
    COUNTS[f"broken: {how}"] += 1


@settings(max_examples=15, **SETTINGS)
@given(data=st.data())
def test_a_broken_plan_is_refused_by_a_run_too(data, capsys):
    """The run command refuses the same way, before making a run folder."""
    bad, path, how = data.draw(broken(data.draw(plans(shocks=False, rules=False))))
    file = write(bad)
    out = FOLDER / "never"
    code, _, err = cli(capsys, str(file), "--runs", "2", "--out", str(out), "--workers", "1", "-q")
    assert code == 2 and err.startswith(f"error: {file}:"), err
    assert not out.exists()
    COUNTS[f"broken: refused by a run ({how})"] += 1


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                    st.sampled_from(["20%", "14d", "1.2M", "2027-01-01", "Q2", "gamma", ".nan"]))
trees = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["name", "runs", "target", "annual", "products", "segments", "team",
                                     "reps", "funnel", "lead", "time", "gamma", "mean", "sd", "shocks",
                                     "rules", "when", "then", "action", "type", "x"]), inner, max_size=5)),
    max_leaves=25)


@settings(max_examples=100, **SETTINGS)
@given(tree=st.dictionaries(st.sampled_from(["name", "runs", "target", "products", "segments", "team",
                                             "channels", "marketing", "horizon", "shocks", "rules",
                                             "extends", "playbooks", "variants"]), trees, max_size=8))
def test_random_yaml_structures_are_refused_cleanly(tree, capsys):
    path = write(tree, "random.yaml")
    code, out, err = cli(capsys, "validate", str(path))
    assert code == 2 and err.startswith(str(path)), err[:500]
    COUNTS["broken: random YAML structure"] += 1


@settings(max_examples=100, **SETTINGS)
@given(text=st.text(max_size=300))
def test_random_text_is_refused_cleanly(text, capsys):
    path = FOLDER / "text.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    code, out, err = cli(capsys, "validate", str(path))
    assert code == 2 and err.startswith(str(path)), err[:500]
    COUNTS["broken: random text"] += 1
