"""Read plan files as plain data, remembering where every value was written.

Plans are hand-written YAML, so every later error must point back to a file, line and
column; this module records that location for each value. It also refuses YAML we do not
want (tabs, duplicate keys, alias bombs, exotic tags) and resolves `extends`.

`extends: parent.yaml` (or a list of parents, merged in order; paths are relative to the
child's folder) loads the parents first, then merges the child onto them:

- mappings merge key by key, recursively;
- a list whose items are all mappings with a `name` key (in parent and child) merges by
  name: items with a matching name are deep-merged in the parent's order, new names are
  appended, and an item `{name: x, remove: true}` deletes x;
- any other list, a scalar or a `null` in the child replaces the parent's value.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import Location, YamlError, did_you_mean

MAX_BYTES = 10 * 1024 * 1024
MAX_VALUES = 100_000
MAX_DEPTH = 50
MAX_FILES = 50          # files read to resolve one plan's `extends` (a chain or a diamond)

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as strings (plans parse dates themselves) and stops
    composing once a document has more than MAX_VALUES nodes, before the rest is read: a
    10 MB file of `- 1` lines would otherwise take minutes and a gigabyte to refuse."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _TAG + "timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    filename = "<input>"
    nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.nodes += 1
        if self.nodes > MAX_VALUES:
            raise YamlError(f"document has more than {MAX_VALUES} values",
                            _mark(self.filename, self.peek_event().start_mark))
        return super().compose_node(parent, index)


@dataclass(frozen=True)
class Document:
    """A loaded plan: plain data plus where each value was written."""

    data: dict
    locations: dict[tuple, Location]
    files: tuple[str, ...]

    def locate(self, path: tuple) -> Location:
        """Where `path` was written, or its nearest recorded parent."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.locations:
                return self.locations[path[:end]]
        return Location(self.files[0] if self.files else "<input>")


@dataclass
class _Node:
    """A value with its location, so merges can carry locations along."""

    value: Any  # dict[str, _Node] | list[_Node] | scalar
    loc: Location


def load_document(path: str | Path) -> Document:
    """Load a plan file, resolve `extends`, and return the merged document."""
    shown = str(path)
    tree, files = _load_tree(Path(path), shown, [(Path(path).resolve(), shown)], [1])
    locations: dict[tuple, Location] = {}
    return Document(_unwrap(tree, (), locations), locations, tuple(files))


def overlay(doc: Document, path: tuple, drop: tuple[str, ...] = ()) -> Document:
    """Merge the mapping found at `path` onto the document (by the `extends` rules).

    Plan variants use this: `variants[i].set` is an overlay on the plan; every value keeps
    the location where it was written, so errors in a variant point at the right line.
    """
    base = {k: v for k, v in doc.data.items() if k not in drop}
    over: Any = doc.data
    for step in path:       # a variant with no `set:` overlays nothing
        over = over.get(step, {}) if isinstance(over, dict) else over[step]
    merged = _merge(_wrap(base, (), doc.locations), _wrap(over, path, doc.locations))
    locations: dict[tuple, Location] = {}
    return Document(_unwrap(merged, (), locations), locations, doc.files)


def _wrap(value: Any, path: tuple, locations: dict[tuple, Location]) -> _Node:
    loc = locations.get(path) or Location("<input>")
    if isinstance(value, dict):
        return _Node({k: _wrap(v, path + (k,), locations) for k, v in value.items()}, loc)
    if isinstance(value, list):
        return _Node([_wrap(v, path + (i,), locations) for i, v in enumerate(value)], loc)
    return _Node(value, loc)


def parse_yaml_text(text: str, filename: str) -> tuple[Any, dict[tuple, Location]]:
    """Parse one file's text (no `extends`) into plain data and locations."""
    locations: dict[tuple, Location] = {}
    return _unwrap(_parse(text, filename), (), locations), locations


# --- one file -------------------------------------------------------------------------


def _read(path: Path, shown: str) -> str:
    loc = Location(shown)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise YamlError("is a directory; expected a YAML file", loc)
        if not stat.S_ISREG(info.st_mode):
            raise YamlError("is not a regular file; expected a YAML file", loc)
        if info.st_size > MAX_BYTES:
            size = math.ceil(info.st_size / (1024 * 1024) * 10) / 10
            raise YamlError(f"file is {size} MB; plans are limited to 10 MB", loc)
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise YamlError("file not found", loc) from None
    except OSError as e:
        raise YamlError(f"cannot read file: {e.strerror or e}", loc) from None
    if len(raw) > MAX_BYTES:
        raise YamlError("file is over 10 MB; plans are limited to 10 MB", loc)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise YamlError(
            f"file is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})", loc
        ) from None


def _parse(text: str, filename: str) -> _Node:
    _check_tabs(text, filename)
    _count_values(text, filename)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        loader.filename = filename
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        raise YamlError(_problem(e), _mark(filename, e.problem_mark)) from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        raise YamlError(f"unacceptable character #x{e.character:04x}: {e.reason}",
                        Location(filename, line)) from None
    except RecursionError:
        raise YamlError(f"values are nested more than {MAX_DEPTH} levels deep",
                        Location(filename)) from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None or root.tag == _TAG + "null":
        raise YamlError("file is empty; expected a plan mapping", Location(filename))
    if not isinstance(root, yaml.MappingNode):
        raise YamlError("the top level must be a mapping of `key: value` lines, found "
                        f"{_describe(root)}", _mark(filename, root.start_mark))
    _measure(root, 1, filename, {})
    tree = _build(root, filename)
    tree.loc = Location(filename)
    return tree


_VALUE_EVENTS = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent, yaml.AliasEvent)


def _count_values(text: str, filename: str) -> None:
    """Refuse a document of more than MAX_VALUES values in a tenth of the time the pure-Python
    composer takes to reach that count, using libyaml's parser when it is installed. Syntax
    errors are left to the composer, which reports them in its own words."""
    if not getattr(yaml, "__with_libyaml__", False):
        return
    count = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, _VALUE_EVENTS):
                count += 1
                if count > MAX_VALUES:
                    raise YamlError(f"document has more than {MAX_VALUES} values",
                                    _mark(filename, event.start_mark))
    except yaml.YAMLError:
        return


def _check_tabs(text: str, filename: str) -> None:
    if "\t" not in text:
        return
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip():
            raise YamlError("YAML indentation must use spaces, not tabs",
                            Location(filename, number, indent.index("\t") + 1))


def _problem(e: yaml.MarkedYAMLError) -> str:
    problem = e.problem or str(e)
    if not e.context or e.context_mark is None:
        return problem
    if problem.startswith("but "):  # "expected a single document..., but found another"
        return f"{e.context} (line {e.context_mark.line + 1}), {problem}"
    return f"{problem} ({e.context} at line {e.context_mark.line + 1})"


def _mark(filename: str, mark: Any) -> Location:
    if mark is None:
        return Location(filename)
    return Location(filename, mark.line + 1, mark.column + 1)


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    return f"the value {node.value!r}"


def _measure(node: yaml.Node, depth: int, filename: str, memo: dict[int, tuple[int, int]]) -> int:
    """Size of `node` once aliases are expanded, refusing bombs and deep nesting.

    Aliases are the same node objects, so memoising by id keeps this linear in the text.
    Returns the expanded size; memo holds (size, height) per node.
    """
    if id(node) in memo:
        size, height = memo[id(node)]
        if depth - 1 + height > MAX_DEPTH:
            raise YamlError(f"values are nested more than {MAX_DEPTH} levels deep",
                            _mark(filename, node.start_mark))
        return size
    if isinstance(node, yaml.ScalarNode):
        memo[id(node)] = (1, 0)
        return 1
    if depth > MAX_DEPTH:
        raise YamlError(f"values are nested more than {MAX_DEPTH} levels deep",
                        _mark(filename, node.start_mark))
    children = [c for pair in node.value for c in pair] if isinstance(
        node, yaml.MappingNode) else node.value
    size = 1 + sum(_measure(c, depth + 1, filename, memo) for c in children)
    if size > MAX_VALUES:
        raise YamlError(f"document expands to more than {MAX_VALUES} values (YAML alias bomb?)",
                        _mark(filename, node.start_mark))
    height = 1 + max((memo[id(c)][1] for c in children), default=0)
    memo[id(node)] = (size, height)
    return size


def _build(node: yaml.Node, filename: str) -> _Node:
    loc = _mark(filename, node.start_mark)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _TAG + "seq":
            raise YamlError(f"unsupported YAML tag {node.tag!r}", loc)
        return _Node([_build(item, filename) for item in node.value], loc)
    if isinstance(node, yaml.MappingNode):
        if node.tag != _TAG + "map":
            raise YamlError(f"unsupported YAML tag {node.tag!r}", loc)
        return _Node(_build_mapping(node, filename), loc)
    if node.tag not in _SCALAR_TAGS:
        raise YamlError(f"unsupported YAML tag {node.tag!r} on {node.value!r}", loc)
    try:
        return _Node(yaml.constructor.SafeConstructor().construct_object(node), loc)
    except ValueError:      # an integer of thousands of digits (Python refuses to convert it)
        raise YamlError(f"the number {_clip(node.value)} has {len(node.value):,} characters; "
                        "no plan figure needs that many", loc) from None


def _clip(text: str, keep: int = 20) -> str:
    return text if len(text) <= 2 * keep else f"{text[:keep]}...{text[-keep:]}"


def _build_mapping(node: yaml.MappingNode, filename: str) -> dict[str, _Node]:
    merged: dict[str, _Node] = {}  # from `<<: *anchor`; explicit keys override them
    explicit: dict[str, _Node] = {}
    for key_node, value_node in node.value:
        key_loc = _mark(filename, key_node.start_mark)
        if not isinstance(key_node, yaml.ScalarNode):
            raise YamlError("mapping keys must be plain words or numbers, found "
                            f"{_describe(key_node)}", key_loc)
        if key_node.tag == _TAG + "merge":
            sources = value_node.value if isinstance(
                value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise YamlError("'<<' must be followed by an alias to a mapping, "
                                    "or a list of them", key_loc)
                for key, value in _build_mapping(source, filename).items():
                    merged.setdefault(key, value)
            continue
        key = key_node.value  # the key as written, so `1:` becomes "1"
        if key in explicit:
            raise YamlError(f"duplicate key '{key}' (first at line {explicit[key].loc.line}, "
                            f"again at line {key_loc.line})", key_loc)
        value = _build(value_node, filename)
        value.loc = key_loc
        explicit[key] = value
    return {**merged, **explicit}


def _unwrap(node: _Node, path: tuple, locations: dict[tuple, Location]) -> Any:
    locations[path] = node.loc
    if isinstance(node.value, dict):
        return {k: _unwrap(v, path + (k,), locations) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [_unwrap(v, path + (i,), locations) for i, v in enumerate(node.value)]
    return node.value


# --- extends --------------------------------------------------------------------------


def _load_tree(path: Path, shown: str, chain: list[tuple[Path, str]],
               reads: list[int]) -> tuple[_Node, list[str]]:
    tree = _parse(_read(path, shown), shown)
    extends = tree.value.pop("extends", None)
    files = [shown]
    if extends is None or extends.value is None:
        return tree, files
    parents = extends.value if isinstance(extends.value, list) else [extends]
    base: _Node | None = None
    for parent in parents:
        if not isinstance(parent.value, str) or not parent.value.strip():
            raise YamlError("expected a file name or a list of file names, got "
                            f"{_clip(repr(_unwrap(parent, (), {})), 60)}", parent.loc, key="extends")
        parent_path = path.parent / parent.value
        parent_shown = os.path.normpath(os.path.join(os.path.dirname(shown), parent.value))
        resolved = parent_path.resolve() if _exists(parent_path) else parent_path
        if any(resolved == seen for seen, _ in chain):
            cycle = " -> ".join([name for _, name in chain] + [parent_shown])
            raise YamlError(f"extends cycle: {cycle}", parent.loc, key="extends")
        if not _exists(parent_path):
            raise YamlError(f"parent file not found: {_clip(parent_shown, 60)}", parent.loc, key="extends")
        reads[0] += 1
        if reads[0] > MAX_FILES:
            raise YamlError(f"building this plan reads more than {MAX_FILES} files through "
                            "`extends`", parent.loc, key="extends")
        loaded, parent_files = _load_tree(parent_path, parent_shown,
                                          chain + [(resolved, parent_shown)], reads)
        base = loaded if base is None else _merge(base, loaded)
        files += [f for f in parent_files if f not in files]
    return (tree if base is None else _merge(base, tree)), files


def _exists(path: Path, test: str = "exists") -> bool:
    """`path.exists()` (or `is_file()`), False also for a name the OS refuses (too long, NUL)."""
    try:
        return bool(getattr(path, test)())
    except (OSError, ValueError):
        return False


def _merge(base: _Node, over: _Node) -> _Node:
    if isinstance(base.value, dict) and isinstance(over.value, dict):
        out = dict(base.value)
        for key, value in over.value.items():
            out[key] = _merge(out[key], value) if key in out else value
        return _Node(out, over.loc)
    if over.value and _named(over) and _named(base):
        return _merge_named(base, over)
    return over


def _named(node: _Node) -> bool:
    """True for a list whose items are all mappings with a plain `name`."""
    return isinstance(node.value, list) and all(
        isinstance(item.value, dict) and "name" in item.value
        and isinstance(item.value["name"].value, (str, int, float, bool))
        for item in node.value
    )


def _merge_named(base: _Node, over: _Node) -> _Node:
    items = _by_name(base)
    for name, item in _by_name(over).items():
        remove = item.value.get("remove")
        if remove is not None and remove.value is True:
            if name not in items:
                raise YamlError(f"cannot remove {name!r}: no inherited item has that name"
                                f"{did_you_mean(str(name), [str(n) for n in items])}", item.loc)
            del items[name]
        else:
            items[name] = _merge(items[name], item) if name in items else item
    return _Node(list(items.values()), over.loc)


def _by_name(node: _Node) -> dict[Any, _Node]:
    items: dict[Any, _Node] = {}
    for item in node.value:
        name = item.value["name"].value
        if name in items:
            raise YamlError(f"name {name!r} appears twice in a list merged by name "
                            f"(first at line {items[name].loc.line})", item.loc)
        items[name] = item
    return items
