"""The house keeps its shape: layers import downwards, no module imports another that imports
it back (type-only imports count), and no folder grows past 15 modules."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "simulate"
# Lower numbers sit lower: a module may import its own layer or any layer below.
LAYERS = {"errors": 0, "format": 0, "files": 0, "version": 0, "words": 0, "stats": 1, "plan": 2, "load": 3,
          "engine": 4, "run": 5, "analysis": 6, "calibrate": 6, "report": 7, "cli": 8}
MAX_MODULES = 15


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports, anywhere in its body."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for candidate in [target] + [f"{target}.{a.name}" for a in node.names]:
                if candidate in known and candidate != name:
                    out.add(candidate)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def layer(name: str) -> int:
    parts = name.split(".")
    return LAYERS.get(parts[1], 9) if len(parts) > 1 else 9      # the package itself sits on top


def test_layers_import_downwards():
    upward = sorted(f"{a} -> {b}" for a, deps in graph().items() for b in deps if layer(b) > layer(a))
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_no_import_circles():
    edges = graph()
    seen: set[str] = set()
    circles = []

    def reach(start: str) -> set[str]:
        stack, found = [start], set()
        while stack:
            for nxt in edges[stack.pop()]:
                if nxt not in found:
                    found.add(nxt)
                    stack.append(nxt)
        return found

    reachable = {name: reach(name) for name in edges}
    for name in sorted(edges):
        if name in seen:
            continue
        back = {other for other in reachable[name] if name in reachable[other]}
        if back:
            circles.append(sorted(back | {name}))
            seen |= back
    assert not circles, f"import circles: {circles}"


def test_no_folder_holds_more_than_fifteen_modules():
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__")]:
        count = len([p for p in folder.glob("*.py") if p.name != "__init__.py"])
        assert count <= MAX_MODULES, f"{folder.relative_to(PACKAGE.parent)} holds {count} modules"
