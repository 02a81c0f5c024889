"""Bad input: every broken plan gives one clear line and exit code 2, never a traceback.

Each case copies scenarios/baseline.yaml into a temporary folder and breaks one line, so
the line numbers are real. The message must name the file and line, the key, and what
was found; most cases also say what was expected. The CLI is called in process through
`simulate.cli.main.main`, and a few cases again as a real `python -m simulate` subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SCENARIOS

from simulate.cli.main import main

BASELINE = (SCENARIOS / "baseline.yaml").read_text(encoding="utf-8")
CRM_EXPORT = shutil.ignore_patterns("deals.csv", "accounts.csv", "reps.csv")   # not the plan's data


def scenario_folder(tmp_path: Path) -> Path:
    """tmp_path/scenarios, with a copy of the project's other folders beside it, so that the
    baseline's relative references (such as ../rules/playbook.yaml) still resolve."""
    folder = tmp_path / "scenarios"
    if not folder.exists():
        folder.mkdir()
        shutil.copytree(ROOT / "rules", tmp_path / "rules")
        shutil.copytree(SCENARIOS / "data", folder / "data", ignore=CRM_EXPORT)
    return folder


def broken(tmp_path: Path, old: str, new: str, name: str = "broken.yaml") -> tuple[Path, int]:
    """The baseline with the one line holding `old` changed to hold `new`; and that line."""
    lines = BASELINE.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if old in line]
    assert len(hits) == 1, f"{old!r} must occur on exactly one line of baseline.yaml, found {len(hits)}"
    lines[hits[0]] = lines[hits[0]].replace(old, new, 1)
    path = scenario_folder(tmp_path) / name
    path.write_text("".join(lines), encoding="utf-8")
    return path, hits[0] + 1


def beside_baseline(tmp_path: Path, name: str, text: str) -> Path:
    """Write `name` next to an intact copy of the baseline (for `extends: baseline.yaml`)."""
    folder = scenario_folder(tmp_path)
    (folder / "baseline.yaml").write_text(BASELINE, encoding="utf-8")
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unbroken_copy_is_valid(tmp_path, capsys):
    """The premise of this file: the copied baseline is valid, so each edit is the cause."""
    path, _ = broken(tmp_path, "name: baseline", "name: baseline")
    code, _, err = run(capsys, "validate", str(path))
    assert (code, err) == (0, "")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error(capsys, path: Path, *, command: str = "run") -> str:
    """Run or validate `path`, expect exit 2 and exactly one line on stderr; return it."""
    argv = [str(path), "--runs", "2", "--out", str(path.parent / "out"), "--quiet", "--workers", "1"] \
        if command == "run" else ["validate", str(path)]
    code, out, err = run(capsys, *argv)
    assert code == 2, f"exit code {code}, stderr: {err}"
    assert "Traceback" not in err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{err}"
    return lines[0]


def assert_names(message: str, where: str, *fragments: str) -> None:
    assert message.removeprefix("error: ").startswith(where), f"{where!r} not at the start of: {message}"
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"


# --- the file itself -------------------------------------------------------------------


def test_missing_file(tmp_path, capsys):
    path = tmp_path / "nope.yaml"
    message = one_error(capsys, path)
    assert message == f"error: {path}: file not found"


def test_missing_file_in_validate(tmp_path, capsys):
    path = tmp_path / "nope.yaml"
    assert one_error(capsys, path, command="validate") == f"{path}: file not found"


def test_a_directory_is_not_a_plan(tmp_path, capsys):
    folder = tmp_path / "plan.yaml"
    folder.mkdir()
    assert_names(one_error(capsys, folder), f"{folder}:", "is a directory", "expected a YAML file")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path, capsys, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    assert_names(one_error(capsys, path), f"{path}:", "file is empty", "expected a plan mapping")


def test_not_utf8(tmp_path, capsys):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(BASELINE.replace("Northwind", "Nörthwind").encode("latin-1"))
    assert_names(one_error(capsys, path), f"{path}:", "not UTF-8", "0xf6")


def test_top_level_must_be_a_mapping(tmp_path, capsys):
    path = tmp_path / "list.yaml"
    path.write_text("- name: baseline\n- runs: 10\n")
    assert_names(one_error(capsys, path), f"{path}:1:1:", "must be a mapping", "found a list")


# --- YAML syntax -----------------------------------------------------------------------


def test_yaml_syntax_error_in_a_flow_mapping(tmp_path, capsys):
    path, line = broken(tmp_path, "win-back: 0.17M}", "win-back: 0.17M")   # unclosed brace
    message = one_error(capsys, path)
    # the parser notices on the next line; it names both lines
    assert_names(message, f"{path}:{line + 1}:", "expected ',' or '}'", f"line {line}")


def test_yaml_syntax_error_mapping_value(tmp_path, capsys):
    path, line = broken(tmp_path, "  metric: bookings", "  metric: bookings: revenue")
    assert_names(one_error(capsys, path), f"{path}:{line}:19:", "mapping values are not allowed")


def test_unclosed_quote_names_where_it_opened(tmp_path, capsys):
    path, line = broken(tmp_path, "seed: 2027 ", 'seed: "2027 ')
    assert_names(one_error(capsys, path), f"{path}:", "quoted scalar", f"line {line}")


def test_tabs_in_indentation(tmp_path, capsys):
    path, line = broken(tmp_path, "  years: 1", "\tyears: 1")
    assert_names(one_error(capsys, path), f"{path}:{line}:1:", "spaces, not tabs")


def test_duplicate_key(tmp_path, capsys):
    path, line = broken(tmp_path, "runs: 1000 ", "runs: 10\nruns: 1000 ")
    assert_names(one_error(capsys, path), f"{path}:{line + 1}:1:", "duplicate key 'runs'",
                 f"first at line {line}")


def test_alias_bomb(tmp_path, capsys):
    bomb = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        bomb.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text(BASELINE + "\nbomb:\n" + "".join(f"  {line}\n" for line in bomb))
    first = len(BASELINE.splitlines()) + 2
    message = one_error(capsys, path)
    assert_names(message, f"{path}:", "alias bomb", "100000 values")
    line = int(message.split(":")[2])
    assert first <= line < first + len(bomb)


# --- unknown keys ------------------------------------------------------------------------


def test_unknown_key_did_you_mean(tmp_path, capsys):
    path, line = broken(tmp_path, "  years: 1", "  yeers: 1")
    assert_names(one_error(capsys, path), f"{path}:{line}:3:", "horizon.yeers",
                 "unknown key 'yeers'", "did you mean 'years'", "expected one of: start, warm_start, years")


def test_misspelt_required_key_is_one_message(tmp_path, capsys):
    """`advnce` is unknown and `advance` missing: one line, the one with the suggestion."""
    old = "      intent:      {advance: 67%, time: {gamma: {mean: 11d"
    path, line = broken(tmp_path, old, old.replace("advance", "advnce"))
    assert_names(one_error(capsys, path), f"{path}:{line}:", "segments[1].funnel.intent.advnce",
                 "did you mean 'advance'")


def test_unknown_top_level_key(tmp_path, capsys):
    path, line = broken(tmp_path, "marketing:", "marketting:")
    message = one_error(capsys, path)
    # the misspelt section is unknown and `marketing` is missing: the suggestion explains both
    assert_names(message, f"{path}:{line}:1:", "marketting", "did you mean 'marketing'")


def test_unknown_name_reference_did_you_mean(tmp_path, capsys):
    old = "    mix: {smart_erp: 45%"
    path, line = broken(tmp_path, old, old.replace("smart_erp", "smart_rep"))
    assert_names(one_error(capsys, path), f"{path}:{line}:", "segments[1].mix.smart_rep",
                 "unknown product 'smart_rep'", "did you mean 'smart_erp'")


def test_unknown_distribution_did_you_mean(tmp_path, capsys):
    old = "      lead:        {advance: 60%, time: {gamma: {mean: 12d"
    path, line = broken(tmp_path, old, old.replace("gamma", "gama"))
    assert_names(one_error(capsys, path), f"{path}:{line}:", "segments[1].funnel.lead.time",
                 "unknown distribution 'gama'", "did you mean 'gamma'")


# --- wrong types --------------------------------------------------------------------------


@pytest.mark.parametrize("old, new, key, found", [
    ("  years: 1", "  years: one", "horizon.years", "'one'"),
    ("      pool: 60", "      pool: sixty", "segments[2].winback.pool", "'sixty'"),
    ("    price: 1500", "    price: cheap", "products[0].price", "'cheap'"),
    ("  annual: 9.6M", "  annual: [9.6M]", "target.annual", "9.6M"),
    ("  start: 2027-01-01", "  start: 2027-13-01", "horizon.start", "'2027-13-01'"),
    ("runs: 1000 ", "runs: 1000.5 ", "runs", "1000.5"),
    ("    budget_share: 35%", "    budget_share: {a: 1}", "channels[0].budget_share", "{'a': 1}"),
    ("effort: 1.5}", "effort: {gamma: {mean: 1.5, sd: 1v}}}", "segments[1].funnel.negotiation.effort", "'1v'"),
])
def test_wrong_type(tmp_path, capsys, old, new, key, found):
    path, line = broken(tmp_path, old, new)
    assert_names(one_error(capsys, path), f"{path}:{line}:", f"{key}:", found)


def test_a_scalar_where_a_list_is_expected(tmp_path, capsys):
    path, line = broken(tmp_path, "regions: [East, North-west]", "regions: East")
    assert_names(one_error(capsys, path), f"{path}:{line}:", "regions:", "valid list", "'East'")


def test_a_boolean_is_not_a_number(tmp_path, capsys):
    path, line = broken(tmp_path, "seed: 2027 ", "seed: true ")
    assert_names(one_error(capsys, path, command="validate"), f"{path}:{line}:", "seed:", "True")


# --- the key-account book as a CSV file ---------------------------------------------------

CONTRACTS = "      contracts: data/ka_contracts.csv"


def broken_book(tmp_path: Path, old: str, new: str) -> tuple[Path, Path, int]:
    """The baseline beside a copy of its contracts CSV with one line changed; that CSV and line."""
    path, _ = broken(tmp_path, CONTRACTS, CONTRACTS)
    book = path.parent / "data" / "ka_contracts.csv"
    lines = book.read_text(encoding="utf-8").splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if old in line]
    assert len(hits) == 1
    lines[hits[0]] = lines[hits[0]].replace(old, new, 1)
    book.write_text("".join(lines), encoding="utf-8")
    return path, book, hits[0] + 1


@pytest.mark.parametrize("old, new, key, fragments", [
    ("Anhui Steel,58700,", "Anhui Steel,58.7 thousand,", "segments[0].accounts.contracts[0].contract_value",
     ("58.7 thousand",)),
    ("2027-01-14,smart_erp", "2027-14-01,smart_erp", "segments[0].accounts.contracts[1].renewal_date",
     ("2027-14-01",)),
    ("Changjiang Logistics,131100,2027-01-23,finance_basic",
     "Changjiang Logistics,131100,2027-01-23,finance_basc", "segments[0].accounts.contracts[2].product",
     ("unknown product", "did you mean 'finance_basic'")),
    ("ai_analytics,Ma,", "ai_analytics,Mao,", "segments[0].accounts.contracts[3].rep",
     ("unknown rep 'Mao'", "did you mean 'Ma'")),
    ("Baiyun Foods,", "Anhui Steel,", "segments[0].accounts.contracts[1].account", ("listed twice",)),
])
def test_a_bad_contract_names_its_row_and_column(tmp_path, capsys, old, new, key, fragments):
    path, book, line = broken_book(tmp_path, old, new)
    assert_names(one_error(capsys, path), f"{book}:{line}:", f"{key}:", *fragments)


def test_a_contracts_file_with_a_wrong_header(tmp_path, capsys):
    path, book, line = broken_book(tmp_path, "account,contract_value", "acount,contract_value")
    assert_names(one_error(capsys, path), f"{book}:1:", "unknown column 'acount'", "did you mean 'account'")


def test_a_missing_contracts_file(tmp_path, capsys):
    path, line = broken(tmp_path, CONTRACTS, "      contracts: data/book.csv")
    assert_names(one_error(capsys, path), f"{path}:{line}:", "segments[0].accounts.contracts",
                 "contracts file not found: data/book.csv")


def test_a_book_both_listed_and_described(tmp_path, capsys):
    path, line = broken(tmp_path, CONTRACTS, CONTRACTS + "\n      count: 40")
    assert_names(one_error(capsys, path), f"{path}:{line - 1}:", "segments[0].accounts:", "either 'contracts'",
                 "not both")


# --- out-of-range values ------------------------------------------------------------------


def test_probability_of_1_4(tmp_path, capsys):
    path, line = broken(tmp_path, "renewal_without_visits: 80%", "renewal_without_visits: 1.4")
    assert_names(one_error(capsys, path), f"{path}:{line}:7:", "segments[0].accounts.renewal_without_visits",
                 "expected a fraction in [0, 1] or a percentage", "got 1.4")


def test_probability_of_140_percent(tmp_path, capsys):
    """A percentage out of range gets no "did you mean a percentage" hint."""
    old = "      lead:        {advance: 60%, time: {gamma: {mean: 12d"
    path, line = broken(tmp_path, old, old.replace("60%", "140%"))
    message = one_error(capsys, path)
    assert_names(message, f"{path}:{line}:", "segments[1].funnel.lead.advance",
                 "expected a fraction in [0, 1]", "got '140%'")
    assert "did you mean" not in message


def test_negative_budget(tmp_path, capsys):
    path, line = broken(tmp_path, "  budget: 800k", "  budget: -800k")
    assert_names(one_error(capsys, path), f"{path}:{line}:3:", "marketing.budget",
                 "expected a value >= 0", "-800000")


@pytest.mark.parametrize("old, new, key, fragments", [
    ("  hiring_delay: 2mo", "  hiring_delay: -2mo", "team.hiring_delay", (">= 0", "-60.8")),
    ("  years: 1", "  years: 0", "horizon.years", ("> 0", "got 0")),
    ("runs: 1000 ", "runs: 0 ", "runs", ("greater than or equal to 1", "got 0")),
    ("      pool: 60", "      pool: -1", "segments[2].winback.pool", ("greater than or equal to 0", "got -1")),
    ("    leads_per_year: 720", "    leads_per_year: -720", "channels[0].leads_per_year", (">= 0", "-720")),
    ("effort: 1.5}", "effort: 2000}", "segments[1].funnel.negotiation.effort", ("at most 1,000", "2000")),
    ("effort: 1.5}", "effort: {exponential: {mean: -1}}}", "segments[1].funnel.negotiation.effort",
     ("exponential mean must be > 0", "-1")),
])
def test_out_of_range(tmp_path, capsys, old, new, key, fragments):
    path, line = broken(tmp_path, old, new)
    assert_names(one_error(capsys, path), f"{path}:{line}:", f"{key}:", *fragments)


def test_stage_with_no_exit(tmp_path, capsys):
    old = "      lead:        {advance: 60%, time: {gamma: {mean: 12d, sd: 6d}}, effort: 0.25}"
    path, line = broken(tmp_path, old, "      lead:        {advance: 0, lost: 0, time: 12d, effort: 0.25}")
    assert_names(one_error(capsys, path), f"{path}:{line}:", "segments[1].funnel.lead:",
                 "no exit", "advance and lost are both 0")


def test_stage_exits_over_100_percent(tmp_path, capsys):
    old = "advance: 60%, time: {gamma: {mean: 12d, sd: 6d}}"
    path, line = broken(tmp_path, old, "advance: 60%, lost: 50%, time: {gamma: {mean: 12d, sd: 6d}}")
    assert_names(one_error(capsys, path), f"{path}:{line}:", "segments[1].funnel.lead:",
                 "advance (60%) + lost (50%) exceeds 100%")


def test_shares_that_do_not_add_up(tmp_path, capsys):
    path, _ = broken(tmp_path, "    budget_share: 35%", "    budget_share: 45%")
    channels = BASELINE.splitlines().index("channels:") + 1     # the error is about the list
    assert_names(one_error(capsys, path), f"{path}:{channels}:1: channels:", "add up to 100%", "110.0%")


# --- extends -------------------------------------------------------------------------------


def test_extends_cycle(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text("# a\nextends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    message = one_error(capsys, tmp_path / "a.yaml")
    assert_names(message, f"{tmp_path / 'b.yaml'}:1:", "extends", "cycle",
                 f"{tmp_path / 'a.yaml'} -> ", "b.yaml -> ")


def test_extends_itself(tmp_path, capsys):
    path = tmp_path / "self.yaml"
    path.write_text("extends: self.yaml\n")
    assert_names(one_error(capsys, path), f"{path}:1:", "extends", "cycle")


def test_extends_missing_parent(tmp_path, capsys):
    path = tmp_path / "child.yaml"
    path.write_text("name: child\nextends: basline.yaml\n")
    assert_names(one_error(capsys, path), f"{path}:2:", "extends", "parent file not found",
                 "basline.yaml")


def test_extends_error_points_into_the_child(tmp_path, capsys):
    path = beside_baseline(tmp_path, "child.yaml", "extends: baseline.yaml\nteam:\n  attrition_per_year: 140%\n")
    assert_names(one_error(capsys, path), f"{path}:3:3:", "team.attrition_per_year", "'140%'")


def test_extends_unknown_key_in_the_child(tmp_path, capsys):
    path = beside_baseline(tmp_path, "child.yaml", "extends: baseline.yaml\nteem:\n  attrition_per_year: 14%\n")
    assert_names(one_error(capsys, path), f"{path}:2:1:", "teem", "did you mean 'team'")


def test_extends_error_in_the_parent_names_the_parent(tmp_path, capsys):
    parent, line = broken(tmp_path, "  budget: 800k", "  budget: -800k", name="baseline.yaml")
    path = parent.parent / "child.yaml"
    path.write_text("extends: baseline.yaml\nruns: 10\n")
    assert_names(one_error(capsys, path), f"{parent}:{line}:", "marketing.budget", "-800000")


# --- the same through a real `python -m simulate` ------------------------------------------


SUBPROCESS_CASES = ("missing", "syntax", "unknown key", "bad --runs")


def write_case(folder: Path, case: str) -> tuple[list[str], str]:
    """Write one broken input into `folder`; return the argv and where the error must point."""
    if case == "missing":
        return ["nope.yaml"], "nope.yaml: file not found"
    if case == "syntax":
        path, line = broken(folder, "win-back: 0.17M}", "win-back: 0.17M")
        return [path.name], f"{path.name}:{line + 1}:"
    if case == "unknown key":
        path, line = broken(folder, "  years: 1", "  yeers: 1")
        return ["validate", path.name], f"{path.name}:{line}:3: horizon.yeers"
    return ["baseline.yaml", "--runs", "abc"], "argument --runs: expected a whole number, got 'abc'"


@pytest.fixture(scope="module")
def subprocess_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, str, Path]]:
    """Each case as a real `python -m simulate` (started together: the import takes ~1 s)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = {}
    for case in SUBPROCESS_CASES:
        folder = tmp_path_factory.mktemp(case.replace(" ", "_").replace("-", ""))
        argv, where = write_case(folder, case)
        cwd = scenario_folder(folder)
        (cwd / "baseline.yaml").write_text(BASELINE, encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "simulate", *argv], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started[case] = (proc, argv, where, folder)
    done = {}
    for case, (proc, argv, where, folder) in started.items():
        out, err = proc.communicate(timeout=120)
        done[case] = (subprocess.CompletedProcess(argv, proc.returncode, out, err), where, folder)
    return done


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_subprocess_exits_2_with_one_line(subprocess_runs, case):
    proc, where, folder = subprocess_runs[case]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert where in lines[0], lines[0]
    assert proc.stdout == ""
    assert not list(folder.rglob("results")), "a failed run must not leave a run folder"
