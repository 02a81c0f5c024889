import os
import time

import pytest

from simulate.errors import InputError, Location, YamlError
from simulate.load import yamlio
from simulate.load.yamlio import Document, load_document, parse_yaml_text


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def error_of(path) -> YamlError:
    with pytest.raises(YamlError) as info:
        load_document(path)
    assert isinstance(info.value, InputError) and info.value.exit_code == 2
    return info.value


# --- reading a single file -----------------------------------------------------------


def test_plain_data_with_locations(tmp_path):
    path = write(tmp_path, "plan.yaml", "name: test\nsegments:\n  - name: SMB\n    deals: 10\n")
    doc = load_document(path)
    assert doc.data == {"name": "test", "segments": [{"name": "SMB", "deals": 10}]}
    assert doc.files == (str(path),)
    assert doc.locations[()] == Location(str(path))
    assert doc.locations[("segments", 0, "name")] == Location(str(path), 3, 5)
    assert doc.locations[("segments", 0, "deals")] == Location(str(path), 4, 5)


def test_dates_stay_strings():
    data, _ = parse_yaml_text("start: 2027-01-01\nwhen: [2027-03-15]\n", "p.yaml")
    assert data == {"start": "2027-01-01", "when": ["2027-03-15"]}


def test_scalar_types_are_plain_python():
    data, _ = parse_yaml_text("a: 1\nb: 0.5\nc: true\nd: ~\ne: '20%'\n", "p.yaml")
    assert data == {"a": 1, "b": 0.5, "c": True, "d": None, "e": "20%"}


def test_non_string_keys_become_strings():
    data, locations = parse_yaml_text("1: one\ntrue: yes\n2.5: x\n", "p.yaml")
    assert data == {"1": "one", "true": True, "2.5": "x"}
    assert locations[("1",)] == Location("p.yaml", 1, 1)


def test_locate_walks_up_to_the_nearest_known_path(tmp_path):
    doc = load_document(write(tmp_path, "p.yaml", "a:\n  b: 1\n"))
    assert doc.locate(("a", "b", "missing", 3)) == doc.locations[("a", "b")]
    assert doc.locate(("nope",)) == Location(str(tmp_path / "p.yaml"))
    assert Document({}, {}, ("x.yaml",)).locate(("a",)) == Location("x.yaml")


def test_yaml_merge_keys_are_supported():
    text = "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n"
    data, locations = parse_yaml_text(text, "p.yaml")
    assert data["use"] == {"x": 1, "y": 3}
    assert locations[("use", "x")] == Location("p.yaml", 1, 11)
    assert locations[("use", "y")] == Location("p.yaml", 4, 3)


def test_missing_file(tmp_path):
    error = error_of(tmp_path / "nope.yaml")
    assert str(error) == f"{tmp_path / 'nope.yaml'}: file not found"


def test_directory(tmp_path):
    assert "is a directory" in str(error_of(tmp_path))


def test_unreadable(tmp_path, monkeypatch):
    path = write(tmp_path, "p.yaml", "a: 1\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(yamlio, "open", refuse, raising=False)
    assert str(error_of(path)) == f"{path}: cannot read file: Permission denied"


def test_too_large_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: [" + b"1," * (6 * 1024 * 1024) + b"]\n")
    start = time.perf_counter()
    error = error_of(path)
    assert time.perf_counter() - start < 1
    assert "file is 12.1 MB; plans are limited to 10 MB" in str(error)


def test_not_utf8(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    assert "not UTF-8 text (byte 0xe9 at offset 9)" in str(error_of(path))


def test_tabs_in_indentation(tmp_path):
    path = write(tmp_path, "p.yaml", "a:\n  b: 1\n \tc: 2\n")
    error = error_of(path)
    assert error.location == Location(str(path), 3, 2)
    assert "indentation must use spaces" in str(error)


def test_tab_inside_a_value_is_fine():
    data, _ = parse_yaml_text("a: 'x\ty'\n", "p.yaml")
    assert data == {"a": "x\ty"}


def test_syntax_error_has_line_and_column(tmp_path):
    path = write(tmp_path, "p.yaml", "a: 1\nb: [1, 2\nc: 3\n")
    error = error_of(path)
    assert error.location.file == str(path) and error.location.line == 3
    assert error.location.column is not None
    assert "expected ',' or ']'" in str(error)


@pytest.mark.parametrize("text", ["", "# only a comment\n\n", "---\n", "~\n"])
def test_empty_file(tmp_path, text):
    path = write(tmp_path, "p.yaml", text)
    assert str(error_of(path)) == f"{path}: file is empty; expected a plan mapping"


@pytest.mark.parametrize("text, found", [("- a\n- b\n", "a list"), ("hello\n", "'hello'")])
def test_top_level_must_be_a_mapping(tmp_path, text, found):
    error = error_of(write(tmp_path, "p.yaml", text))
    assert "top level must be a mapping" in str(error) and found in str(error)
    assert error.location.line == 1


def test_duplicate_keys(tmp_path):
    path = write(tmp_path, "p.yaml", "seg:\n  rate: 1\n  other: 2\n  rate: 3\n")
    error = error_of(path)
    assert error.location == Location(str(path), 4, 3)
    assert "duplicate key 'rate' (first at line 2, again at line 4)" in str(error)


def test_duplicate_keys_compare_as_strings():
    with pytest.raises(YamlError, match="duplicate key '1'"):
        parse_yaml_text("1: a\n'1': b\n", "p.yaml")


def test_complex_keys_are_refused():
    with pytest.raises(YamlError, match=r"p.yaml:1:3: mapping keys must be plain .*found a list"):
        parse_yaml_text("? [a, b]\n: 1\n", "p.yaml")


def test_merge_key_needs_a_mapping():
    with pytest.raises(YamlError, match=r"p.yaml:3:3: '<<' must be followed by an alias"):
        parse_yaml_text("a: &a 3\nb:\n  <<: *a\n", "p.yaml")


@pytest.mark.parametrize("text", ["a: !!binary aGVsbG8=\n", "a: !!python/name:os.system x\n",
                                  "a: !!set {x, y}\n", "a: !!timestamp 2027-01-01\n"])
def test_exotic_tags_are_refused(text):
    with pytest.raises(YamlError, match=r"p.yaml:1:4: unsupported YAML tag"):
        parse_yaml_text(text, "p.yaml")


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    path = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    start = time.perf_counter()
    error = error_of(path)
    assert time.perf_counter() - start < 1
    assert "document expands to more than 100000 values (YAML alias bomb?)" in str(error)
    assert error.location.file == str(path) and error.location.line is not None


def test_modest_aliases_are_fine():
    data, _ = parse_yaml_text("a: &a [1, 2]\nb: [*a, *a]\n", "p.yaml")
    assert data == {"a": [1, 2], "b": [[1, 2], [1, 2]]}


def test_deep_nesting_is_refused():
    deep = "a: " + "[" * 60 + "]" * 60 + "\n"
    with pytest.raises(YamlError, match=r"p.yaml:1:\d+: values are nested more than 50 levels"):
        parse_yaml_text(deep, "p.yaml")
    parse_yaml_text("a: " + "[" * 40 + "]" * 40 + "\n", "p.yaml")


def test_very_deep_nesting_does_not_crash():
    with pytest.raises(YamlError, match="nested more than 50 levels"):
        parse_yaml_text("a: " + "[" * 5000 + "]" * 5000 + "\n", "p.yaml")


def test_nesting_through_aliases_is_counted():
    text = "a: &a " + "[" * 30 + "]" * 30 + "\nb: " + "[" * 25 + "*a" + "]" * 25 + "\n"
    with pytest.raises(YamlError, match="nested more than 50 levels"):
        parse_yaml_text(text, "p.yaml")


def test_recursive_alias_is_refused():
    with pytest.raises(YamlError, match="nested more than 50 levels"):
        parse_yaml_text("a: &a [1, *a]\n", "p.yaml")


# --- extends -------------------------------------------------------------------------

BASE = """\
start: 2027-01-01
target: 12M
team: {reps: 5, ramp: 3mo}
segments:
  - name: Enterprise
    deals: 10
  - name: SMB
    deals: 100
    size: 20k
  - name: Gov
    deals: 3
shocks: [a, b]
"""


def test_extends_merges_by_name_and_keeps_locations(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", """\
extends: base.yaml
target: 15M
team: {reps: 7}
segments:
  - name: SMB
    deals: 120
  - name: Gov
    remove: true
  - name: Partner
    deals: 5
shocks: [c]
""")
    doc = load_document(child)
    assert doc.data == {
        "start": "2027-01-01",
        "target": "15M",
        "team": {"reps": 7, "ramp": "3mo"},
        "segments": [
            {"name": "Enterprise", "deals": 10},
            {"name": "SMB", "deals": 120, "size": "20k"},
            {"name": "Partner", "deals": 5},
        ],
        "shocks": ["c"],
    }
    base, kid = str(tmp_path / "base.yaml"), str(child)
    assert doc.files == (kid, base)
    loc = doc.locations
    assert loc[()] == Location(kid)
    assert "extends" not in doc.data and ("extends",) not in loc
    assert loc[("start",)] == Location(base, 1, 1)
    assert loc[("target",)] == Location(kid, 2, 1)
    assert loc[("team", "reps")].file == kid and loc[("team", "ramp")].file == base
    assert loc[("segments", 0, "deals")] == Location(base, 6, 5)
    assert loc[("segments", 1, "deals")] == Location(kid, 6, 5)
    assert loc[("segments", 1, "size")] == Location(base, 9, 5)
    assert loc[("segments", 2, "name")] == Location(kid, 9, 5)
    assert loc[("shocks", 0)].file == kid and ("shocks", 1) not in loc


def test_null_in_child_replaces(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nteam: null\nsegments: []\n")
    doc = load_document(child)
    assert doc.data["team"] is None and doc.data["segments"] == []


def test_list_without_names_replaces(tmp_path):
    write(tmp_path, "base.yaml", "items:\n  - {name: a, x: 1}\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nitems:\n  - {x: 2}\n")
    assert load_document(child).data["items"] == [{"x": 2}]


def test_extends_list_and_relative_paths(tmp_path):
    write(tmp_path, "common/a.yaml", "x: 1\ny: 1\n")
    write(tmp_path, "common/b.yaml", "extends: a.yaml\ny: 2\nz: 2\n")
    child = write(tmp_path, "plans/c.yaml", "extends: [../common/a.yaml, ../common/b.yaml]\nz: 3\n")
    doc = load_document(child)
    assert doc.data == {"x": 1, "y": 2, "z": 3}
    common = tmp_path / "common"
    assert doc.files == (str(child), str(common / "a.yaml"), str(common / "b.yaml"))
    assert doc.locations[("y",)] == Location(str(tmp_path / "common/b.yaml"), 2, 1)


def test_locations_use_the_path_as_given(tmp_path, monkeypatch):
    write(tmp_path, "scenarios/base.yaml", "a: 1\n")
    write(tmp_path, "scenarios/x.yaml", "extends: base.yaml\nb: 2\n")
    monkeypatch.chdir(tmp_path)
    doc = load_document("scenarios/x.yaml")
    assert doc.files == ("scenarios/x.yaml", os.path.join("scenarios", "base.yaml"))
    assert str(doc.locate(("a",))) == "scenarios/base.yaml:1:1"


def test_extends_cycle(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "x: 1\nextends: a.yaml\n")
    error = error_of(tmp_path / "a.yaml")
    a, b = str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")
    assert f"extends cycle: {a} -> {b} -> {a}" in str(error)
    assert error.location == Location(b, 2, 1)


def test_extends_itself(tmp_path):
    path = write(tmp_path, "a.yaml", "extends: a.yaml\n")
    assert f"extends cycle: {path} -> {path}" in str(error_of(path))


def test_missing_parent_points_at_extends_line(tmp_path):
    path = write(tmp_path, "child.yaml", "x: 1\nextends: [base.yaml, nope.yaml]\n")
    write(tmp_path, "base.yaml", "y: 1\n")
    error = error_of(path)
    assert error.location == Location(str(path), 2, 22)
    assert str(error) == (f"{path}:2:22: extends: parent file not found: "
                          f"{tmp_path / 'nope.yaml'}")


def test_bad_extends_value(tmp_path):
    path = write(tmp_path, "child.yaml", "extends: 3\n")
    assert str(error_of(path)) == (f"{path}:1:1: extends: expected a file name or a list "
                                   "of file names, got 3")


def test_errors_in_parent_name_the_parent(tmp_path):
    write(tmp_path, "base.yaml", "a: 1\na: 2\n")
    error = error_of(write(tmp_path, "child.yaml", "extends: base.yaml\n"))
    assert error.location == Location(str(tmp_path / "base.yaml"), 2, 1)


def test_removing_an_unknown_name(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    path = write(tmp_path, "child.yaml", "extends: base.yaml\nsegments:\n"
                 "  - name: Gvo\n    remove: true\n")
    error = error_of(path)
    assert error.location == Location(str(path), 3, 5)
    assert ("cannot remove 'Gvo': no inherited item has that name (did you mean 'Gov'?)"
            in str(error))


def test_duplicate_names_in_a_merged_list(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    path = write(tmp_path, "child.yaml", "extends: base.yaml\nsegments:\n"
                 "  - name: SMB\n  - name: SMB\n")
    error = error_of(path)
    assert error.location == Location(str(path), 4, 5)
    assert "name 'SMB' appears twice in a list merged by name (first at line 3)" in str(error)


def test_an_overlay_that_is_not_there_merges_nothing():
    """A plan variant with no `set:` is the plan itself, not a KeyError."""
    doc = Document({"a": 1, "variants": [{"name": "same"}]}, {}, ("<test>",))
    assert yamlio.overlay(doc, ("variants", 0, "set"), drop=("variants",)).data == {"a": 1}


@pytest.mark.parametrize("value, text", [(999_700, "1M"), (1_234_000, "1.23M"), (45_600, "45.6k"),
                                         (999.96, "1k"), (789, "789")])
def test_money_rounds_before_it_picks_the_unit(value, text):
    from simulate.calibrate.plan_yaml import money
    from simulate.plan.quantities import parse_money
    assert money(value) == text
    assert parse_money(text) == pytest.approx(value, rel=5e-3)    # 3 significant digits: <= half of 1 %
