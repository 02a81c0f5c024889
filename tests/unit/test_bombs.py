"""Resource bombs: inputs built to exhaust memory or time get one clear line, and fast.

Each case is validated through the CLI in this process and must exit 2 with a message that
starts with the file (and, where there is one, the line), in well under the time a real
parse of the bomb would take. The time is the process's CPU time, so that a busy machine
does not fail the test; the limits hold on an idle laptop with room to spare.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from factory import merge, minimal_plan_data

from simulate.cli.main import main

FAST = 2.0      # CPU seconds: the slowest case (a sum of 100,000 terms) takes under one


def plan_file(folder: Path, name: str, overrides: dict | None = None, text: str | None = None) -> Path:
    path = folder / f"{name}.yaml"
    if text is None:
        text = yaml.safe_dump(merge(minimal_plan_data(), overrides or {}), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def refused(capsys: pytest.CaptureFixture, *argv: str) -> tuple[str, float]:
    """Run the CLI; expect exit 2 and one line; return the line and the CPU time used."""
    t0 = time.process_time()
    code = main(list(argv))
    spent = time.process_time() - t0
    out, err = capsys.readouterr()
    assert code == 2, f"exit {code}: {err[:500]}"
    assert "Traceback" not in err and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[:1000]
    assert len(lines[0]) < 1200, "a bomb's content is not echoed back"
    return lines[0], spent


def validate(capsys, path: Path) -> tuple[str, float]:
    return refused(capsys, "validate", str(path))


def rule(when: str) -> dict:
    return {"rules": [{"name": "r", "when": when, "then": [{"action": "scale_visits", "factor": 1.1}]}]}


BOMBS: dict[str, tuple[dict | None, str | None, str]] = {
    # name: (plan overrides, or None with YAML text; a fragment the message must hold)
    "billion laughs": (None, "\n".join(
        ['name: bomb', 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        + [f"{n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefgh", "bcdefghi")]) + "\n",
        "alias bomb"),
    "flow nesting 1000 deep": (None, "a: " + "[" * 1000 + "]" * 1000 + "\n", "nested more than 50 levels"),
    "block nesting 1000 deep": (None, "".join("  " * i + f"k{i}:\n" for i in range(1000)) + "  " * 1000 + "v: 1\n",
                                "nested more than 50 levels"),
    "a 9 MB list": (None, "a:\n" + "- 1\n" * 2_300_000, "more than 100000 values"),
    "an integer of 5,000 digits": (None, "runs: 1" + "0" * 5000 + "\n", "5,001 characters"),
    "runs: 10**12": ({"runs": 10**12}, None, "runs: input should be less than or equal to 1000000"),
    "a horizon of 1,000 years": ({"horizon": {"years": 1000}}, None, "at most 10 years"),
    "a start in year 9999": ({"horizon": {"start": "9999-12-01"}}, None, "between 1900 and 2200"),
    "a shock 10**11 days away": ({"shocks": [{"type": "budget_cut", "size": 0.1, "start": "+99999999999d"}]},
                                 None, "outside the calendar"),
    "a condition nested 10,000 deep": (rule("(" * 10_000 + "week > 1" + ")" * 10_000), None, "nested"),
    "10,000 nots": (rule("not " * 10_000 + "week > 1"), None, "nested too deeply"),
    "100,000 minus signs": (rule("-" * 100_000 + "week > 1"), None, "nested too deeply"),
    "a sum of 100,000 terms": (rule("week" + " + 1" * 100_000 + " > 1"), None, "nested too deeply"),
    "a distribution of 150,000 values": (None, None, "more than 100000 values"),
    "10**18 leads a year": ({"channels": [{"name": "web", "segment": "SMB", "budget_share": 1,
                                            "leads_per_year": 1e18}]}, None, "leads_per_year"),
    "a visit every 10**-12 days": ({"segments": [{"name": "KA", "kind": "key_accounts", "mix": {"p": 1},
                                                  "accounts": {"count": 10, "contract_value": 1000,
                                                               "renewal_without_visits": 0.8,
                                                               "renewal_with_full_visits": 0.9,
                                                               "renewal_after_rep_left": 0.7,
                                                               "visits_per_quarter": 1e12}}]},
                                   None, "visits_per_quarter"),
    "a rule that compounds every week": (rule("true") | {"rules": [{"name": "r", "when": "true", "then": [
        {"action": "boost_demand", "factor": 1.3}]}]}, None, "compounds to x"),
    "a name of 10,000 characters": ({"products": [{"name": "p" * 10_000, "portfolio": "star", "price": 1,
                                                   "margin": 0.5}]}, None, "at most 200 characters"),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_bomb_is_refused_fast_with_one_clear_line(tmp_path, capsys, name):
    overrides, text, fragment = BOMBS[name]
    if name == "a distribution of 150,000 values":
        data = minimal_plan_data()
        data["products"][0]["delivery_days"] = "HERE"
        text = yaml.safe_dump(data, sort_keys=False).replace(
            "HERE", "{empirical: [" + ", ".join(map(str, range(150_000))) + "]}")
    path = plan_file(tmp_path, "bomb", overrides, text)
    message, spent = validate(capsys, path)
    assert message.startswith(f"{path}:"), message
    assert fragment in message, message
    assert spent < FAST, f"{name}: {spent:.2f} CPU s"


def test_a_100_mb_file_is_refused_before_it_is_read(tmp_path, capsys):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:       # sparse: costs no disk and no time
        f.truncate(100 * 1024 * 1024)
    message, spent = validate(capsys, path)
    assert message == f"{path}: file is 100.0 MB; plans are limited to 10 MB"
    assert spent < 0.5


def test_runs_on_the_command_line_are_bounded_too(tmp_path, capsys):
    path = plan_file(tmp_path, "ok")
    message, spent = refused(capsys, str(path), "--runs", str(10**12), "--out", str(tmp_path / "out"))
    assert "--runs" in message and "<= 1,000,000" in message
    assert not (tmp_path / "out").exists(), "refused before the run folder is made"


def test_a_thousand_workers_are_not_forked(tmp_path, capsys):
    path = plan_file(tmp_path, "ok")
    for argv in ([str(path), "--workers", "1000"], ["rerun", str(tmp_path), "--workers", "100000"]):
        message, _ = refused(capsys, *argv)
        assert "--workers" in message and "worker processes" in message


def test_an_endless_extends_chain_or_a_thousand_parents(tmp_path, capsys):
    for i in range(1000):
        (tmp_path / f"c{i}.yaml").write_text(f"extends: c{i + 1}.yaml\n")
    message, spent = validate(capsys, tmp_path / "c0.yaml")
    assert "reads more than 50 files" in message and spent < FAST
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(minimal_plan_data()))
    many = plan_file(tmp_path, "many", text="extends: [" + ", ".join(["base.yaml"] * 1000) + "]\n")
    message, spent = validate(capsys, many)
    assert message.startswith(f"{many}:1:") and "reads more than 50 files" in message and spent < FAST


def test_names_the_os_refuses_are_plain_errors(tmp_path, capsys):
    """A parent or playbook name too long for the file system, or holding a NUL."""
    for value in ("x" * 5000, "a\\0b"):
        path = plan_file(tmp_path, "child", text=f'extends: "{value}"\n')
        message, _ = validate(capsys, path)
        assert message.startswith(f"{path}:1:") and "parent file not found" in message
        data = yaml.safe_dump(minimal_plan_data())
        path = plan_file(tmp_path, "books", text=data + f'playbooks: ["{value}"]\n')
        message, _ = validate(capsys, path)
        assert "playbook file not found" in message
