"""Mutation tests: every value of every bundled scenario and playbook, replaced in turn.

Each scalar value of `scenarios/*.yaml` and `rules/*.yaml` is replaced by a value of the
wrong type (a list, a mapping), out of range (-1, 1e18), NaN, infinity, an empty value
(null, "") and a 10,000-character text. Every mutated document must either be refused with
an `InputError` whose message starts with `file:line:col: key:`, or be accepted because the
value is legal there: the accepted cases are listed in `LEGAL` with the reason, so a new
acceptance fails this file until someone says why it is legal. One accepted plan of each
kind is then played for a year, to show the value really is harmless.

Mutations are made in memory on the loaded document (the locations are kept, so messages
still point at the real line); `test_mutated_files_through_the_cli` does a sample through
real files and `python -m simulate validate`, end to end. `pytest -s` prints the tally; it is
also written to a JSON file under the test's tmp folder.
"""

from __future__ import annotations

import copy
import json
import math
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import ROOT, SCENARIOS

from simulate.cli.main import main
from simulate.engine.year import simulate_year
from simulate.errors import InputError
from simulate.load.decisions import check_lever_ends
from simulate.load.loader import _key, load_scenario, load_variants, plan_from_document
from simulate.load.yamlio import Document, load_document
from simulate.plan.rules import Playbook

MUTATIONS: dict[str, Any] = {
    "list": [1, 2], "mapping": {"a": 1}, "negative": -1, "huge": 1e18, "nan": math.nan,
    "inf": math.inf, "null": None, "empty": "", "long_text": "x" * 10_000,
}
# The same as YAML text, for mutations written into real files.
YAML_TEXT = {"list": "[1, 2]", "mapping": "{a: 1}", "negative": "-1", "huge": "1e18", "nan": ".nan",
             "inf": ".inf", "null": "~", "empty": '""', "long_text": "x" * 10_000}

# Where a mutation may be accepted, and why the value is legal there. A pattern matches the
# value's path with list indices written [] (a variant's `set` is matched as the plan it edits).
LEGAL: list[tuple[str, set[str], str]] = [
    (r"(.*\.)?description", {"empty", "long_text"}, "free text"),
    (r"shocks\[\]\.note", {"empty", "long_text"}, "free text"),
    (r"shocks\[\]\.name", {"empty"}, "an unnamed shock is named after its type"),
    (r"rules\[\]\.duration", {"null"}, "no duration: the actions last to the year's end"),
    (r"rules\[\]\.then\[\]\.handover_days", {"null"}, "the team's own handover_days applies"),
    (r"rules\[\]\.group", {"null"}, "a rule in no group"),
    (r"rules\[\]\.priority", {"negative", "huge"}, "any whole number orders rules"),
    (r"products\[\]\.growth", {"negative"}, "-100 % growth: the product's market vanishes"),
    (r"products\[\]\.supplier", {"null"}, "a product with no named supplier (none of its rules "
                                          "or shocks names one)"),
    (r"team\.reps\[\]\.region", {"null"}, "a rep with no region"),
    (r"team\.reps\[\]\.start", {"null"}, "a rep on the team from the start"),
    (r"channels\[\]\.at_spend", {"null"}, "leads_per_year is then the yield at the planned spend"),
    (r"segments\[\]\.accounts\.contracts\[\]\.rep", {"null"}, "a contract shared out to the segment's reps"),
    (r"segments\[\]\.accounts\.contracts\[\]\.industry", {"null"}, "a contract in no named industry"),
    (r"levers\[\]\.step", {"null"}, "no step: 1 for whole units, else a tenth of the range"),
]
# Where a message leads with the file and line, then the key: `scenarios/x.yaml:12:5: key: ...`.
LOCATED = re.compile(r"^(?P<file>[^\n]+?):(?P<line>\d+)(:\d+)?: ")


def leaves(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from leaves(value, path + (i,))
    else:
        yield path, data


def mutated(doc: Document, path: tuple, value: Any) -> Document:
    """The document with the value at `path` replaced (only the containers on the way are
    copied: validation never writes into its input)."""
    data = dict(doc.data)
    node: Any = data
    for step in path[:-1]:
        child = node[step]
        node[step] = child = dict(child) if isinstance(child, dict) else list(child)
        node = child
    node[path[-1]] = copy.deepcopy(value)
    return Document(data, doc.locations, doc.files)


def pattern(path: tuple) -> str:
    """`team.reps[].region` for ('team', 'reps', 3, 'region'); a variant's set as the plan."""
    if path[:1] == ("variants",) and len(path) > 3 and path[2] == "set":
        path = path[3:]
    return re.sub(r"\[\d+\]", "[]", _key(path))


def legal(path: tuple, kind: str) -> str | None:
    for rx, kinds, why in LEGAL:
        if kind in kinds and re.fullmatch(rx, pattern(path)):
            return why
    return None


def sources() -> list[tuple[str, Document, Any]]:
    """(label, document, validate) for each file; a scenario's own values only (those it
    inherits from the baseline are mutated once, in the baseline)."""
    out = []
    baseline = load_scenario(SCENARIOS / "baseline.yaml")
    out.append(("scenarios/baseline.yaml", baseline, None))
    for path in sorted(SCENARIOS.glob("*.yaml")):
        if path.name != "baseline.yaml":
            out.append((f"scenarios/{path.name}", load_scenario(path), path.name))
    for path in sorted((ROOT / "rules").glob("*.yaml")):
        out.append((f"rules/{path.name}", load_document(path), "playbook"))
    return out


def validate(doc: Document, kind: Any) -> Any:
    if kind == "playbook":
        return {"playbook": plan_from_document(doc, Playbook)}
    plans = load_variants(doc)    # the plan and every variant, as `validate` checks them,
    check_lever_ends(doc, plans["plan"])    # and each lever at both ends of its range
    return plans


def classify(doc: Document, path: tuple, message: str) -> str:
    """'at the key': the message points at the mutated value's line or names its key;
    'dependent': it points at a value that refers to the mutated one (a renamed product is
    then unknown where the mix names it), still with file, line and key."""
    where = doc.locate(path)
    located = LOCATED.match(message)
    assert located, f"no file:line at the start of: {message[:300]}"
    keys = [_key(path[:i]) for i in range(len(path), 0, -1)]
    if path[:1] == ("variants",) and len(path) > 3:
        keys += [_key(path[3:i]) for i in range(len(path), 3, -1)]
    if located["file"] == where.file and int(located["line"]) == where.line:
        return "at the key"
    if any(f" {k}:" in message or f" {k}." in message for k in keys if k):
        return "at the key"
    return "dependent"


@pytest.fixture(scope="module")
def tally(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    counts: Counter = Counter()
    by_file: dict[str, Counter] = {}
    accepted: dict[str, tuple[Document, Any, tuple, str]] = {}
    surprises: list[str] = []
    for label, doc, kind in sources():
        here = by_file.setdefault(label, Counter())
        for path, _ in leaves(doc.data):
            if "contracts" in path and path[path.index("contracts") + 1] != 0:
                continue     # every row of the book has the same schema: the first one stands for all
            if isinstance(kind, str) and kind != "playbook" and not doc.locate(path).file.endswith(kind):
                continue     # inherited from the baseline
            here["values"] += 1
            for name, value in MUTATIONS.items():
                mdoc = mutated(doc, path, value)
                here["tried"] += 1
                try:
                    plans = validate(mdoc, kind)
                except InputError as exc:
                    message = str(exc)
                    assert "Traceback" not in message
                    where = classify(doc, path, message)
                    here[f"rejected {where}"] += 1
                    continue
                # anything else than InputError propagates: a crash fails the test here
                why = legal(path, name)
                if why is None:
                    surprises.append(f"{label}: {_key(path)} = {name} was accepted")
                    continue
                here["accepted"] += 1
                counts[f"accepted: {why}"] += 1
                accepted.setdefault(f"{pattern(path)} = {name}", (mdoc, plans, path, label))
    totals = Counter()
    for c in by_file.values():
        totals.update(c)
    report = {"by_file": {k: dict(v) for k, v in by_file.items()}, "totals": dict(totals),
              "accepted_because": dict(counts), "surprises": surprises}
    out = tmp_path_factory.mktemp("mutations") / "mutations.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nmutations ({out})")
    print(f"  {'file':34s} {'values':>6s} {'tried':>6s} {'rejected':>9s} {'dependent':>9s} {'accepted':>8s}")
    for label, c in [*by_file.items(), ("total", totals)]:
        print(f"  {label:34s} {c['values']:6d} {c['tried']:6d} {c['rejected at the key']:9d} "
              f"{c['rejected dependent']:9d} {c['accepted']:8d}")
    for why, n in sorted(counts.items()):
        print(f"  {n:5d}  {why}")
    return {"totals": totals, "surprises": surprises, "accepted": accepted, "report": report}


def test_every_value_of_every_bundled_file_is_mutated(tally):
    t = tally["totals"]
    assert t["values"] >= 450, "every scalar of the scenarios and playbook is visited"
    assert set(tally["report"]["by_file"]) >= {"scenarios/baseline.yaml", "scenarios/price_war.yaml",
                                               "rules/playbook.yaml"}


def test_no_mutation_is_accepted_unless_the_value_is_legal_there(tally):
    assert not tally["surprises"], "\n".join(tally["surprises"][:30])


def test_rejections_name_the_mutated_key_or_what_depends_on_it(tally):
    t = tally["totals"]
    assert t["rejected at the key"] >= 0.97 * (t["rejected at the key"] + t["rejected dependent"])


def test_an_accepted_mutation_of_each_kind_still_plays_a_year(tally):
    """Legal means harmless: one plan of each accepted kind plays a year with finite results."""
    for what, (_, plans, path, label) in sorted(tally["accepted"].items()):
        for name, plan in plans.items():
            if isinstance(plan, Playbook):
                continue
            record = simulate_year(plan, 1, 0).record
            assert math.isfinite(record["bookings"]) and record["bookings"] >= 0, (label, what, name)


# -- the same through real files and the command line ----------------------------------------

SCALAR_LINE = re.compile(r"^(?P<indent> *)(?P<key>[a-z_]+): (?P<value>[^#{\[\n]*?[^ #{\[\n])(?P<rest> +#.*)?$")


def scalar_lines(text: str) -> list[tuple[int, str]]:
    return [(i, m["key"]) for i, line in enumerate(text.splitlines())
            if (m := SCALAR_LINE.match(line)) and m["key"] not in ("description", "note")]


def mutate_line(text: str, index: int, literal: str) -> str:
    lines = text.splitlines(keepends=True)
    m = SCALAR_LINE.match(lines[index].rstrip("\n"))
    assert m
    lines[index] = f"{m['indent']}{m['key']}: {literal}{m['rest'] or ''}\n"
    return "".join(lines)


FILE_CASES = [(name, step) for name, step in (("baseline.yaml", 15), ("price_war.yaml", 3),
                                             ("supplier_delay.yaml", 2), ("../rules/playbook.yaml", 12))]


@pytest.mark.parametrize("name, step", FILE_CASES)
def test_mutated_files_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture, name: str,
                                       step: int) -> None:
    """Every `step`-th `key: value` line of a real file, mutated as YAML text, validated by
    the CLI: exit 2, one message that starts with this file and this line, or exit 0 where
    the value is legal."""
    import shutil
    shutil.copytree(SCENARIOS, tmp_path / "scenarios", ignore=shutil.ignore_patterns("deals.csv", "accounts.csv", "reps.csv"))
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    target = (tmp_path / "scenarios" / name).resolve()
    original = target.read_text(encoding="utf-8")
    lines = scalar_lines(original)[::step]
    assert len(lines) >= 3
    entry = tmp_path / "scenarios" / ("baseline.yaml" if name.startswith("..") else name)
    tried = refused = at_line = 0
    for index, key in lines:
        for kind, literal in YAML_TEXT.items():
            target.write_text(mutate_line(original, index, literal), encoding="utf-8")
            code = main(["validate", str(entry)])
            out, err = capsys.readouterr()
            tried += 1
            assert code in (0, 2), (key, kind, err)
            assert "Traceback" not in err
            if code == 0:
                continue
            refused += 1
            message = err.strip().splitlines()[0]
            located = LOCATED.match(message)
            assert located, message[:300]
            if Path(located["file"]).resolve() == target and int(located["line"]) == index + 1:
                at_line += 1
    target.write_text(original, encoding="utf-8")
    assert refused >= 0.8 * tried, f"{refused} of {tried} refused"
    assert at_line >= 0.9 * refused, f"{at_line} of {refused} point at the mutated line"


@pytest.mark.parametrize("kind", list(YAML_TEXT))
def test_extends_and_playbooks_mutated(tmp_path: Path, capsys: pytest.CaptureFixture, kind: str) -> None:
    """The two keys read before validation (`extends`, `playbooks`) take every mutation too."""
    import shutil
    shutil.copytree(SCENARIOS, tmp_path / "scenarios", ignore=shutil.ignore_patterns("deals.csv", "accounts.csv", "reps.csv"))
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    for name, old in (("price_war.yaml", "extends: baseline.yaml"),
                      ("baseline.yaml", "playbooks: [../rules/playbook.yaml]")):
        path = tmp_path / "scenarios" / name
        text = path.read_text(encoding="utf-8")
        key = old.split(":")[0]
        path.write_text(text.replace(old, f"{key}: {YAML_TEXT[kind]}"), encoding="utf-8")
        code = main(["validate", str(path)])
        err = capsys.readouterr().err
        path.write_text(text, encoding="utf-8")
        if code == 0:      # `playbooks: ~` or `""`: no playbook, a legal plan
            assert key == "playbooks" and kind in ("null", "empty"), err
            continue
        assert code == 2 and "Traceback" not in err
        assert err.startswith(str(path)), err[:300]


def test_a_mutated_file_through_a_real_process(tmp_path: Path) -> None:
    """End to end: `python -m simulate validate` on mutated files exits 2 with one line."""
    procs = []
    base = (SCENARIOS / "baseline.yaml").read_text(encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ka_contracts.csv").write_bytes((SCENARIOS / "data" / "ka_contracts.csv").read_bytes())
    for kind in ("nan", "mapping", "huge"):
        path = tmp_path / f"{kind}.yaml"
        path.write_text(base.replace("  annual: 9.6M", f"  annual: {YAML_TEXT[kind]}")
                        .replace("playbooks: [../rules/playbook.yaml]", ""), encoding="utf-8")
        procs.append((path, subprocess.Popen([sys.executable, "-m", "simulate", "validate", str(path)],
                                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             text=True)))
    for path, proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 2 and out == "" and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1
        assert err.startswith(f"{path}:") and "target.annual:" in err, err
