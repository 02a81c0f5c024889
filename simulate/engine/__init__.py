"""One simulated year on a SimPy clock: the world and its streams, the team, the funnel, the
key accounts, the shocks and actions that move the levers, the playbook, and the year that
assembles them. `simulate_year(plan, seed, replication)` is its one entry point.

The engine may run compiled: `python -m simulate compile` builds these modules with mypyc
into `compiled/`, and they are used only while that build matches the sources here byte for
byte, so an edited module is never shadowed by a stale build. The pure-Python modules are the
reference; `SIMULATE_ENGINE=pure` insists on them, `SIMULATE_ENGINE=compiled` on the build
(the command line refuses to run without it).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMPILED = HERE / "compiled"
BUILD_RECORD = "build.json"


def source_digest(folder: Path = HERE) -> str:
    """SHA-256 over the engine's modules (those a build compiles): names and bytes."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.glob("*.py") if p.name != "__init__.py"):
        h.update(path.name.encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def compiled_build() -> str | None:
    """Why the compiled build cannot be used (None: it can)."""
    try:
        record = json.loads((COMPILED / BUILD_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no compiled build (python -m simulate compile)"
    if record.get("python") != sys.implementation.cache_tag:
        return f"built for {record.get('python')}, this is {sys.implementation.cache_tag}"
    if record.get("sources") != source_digest():
        return "the engine's sources changed since it was built (python -m simulate compile)"
    return None


ENGINES = ("pure", "compiled")


def _kind() -> str:
    if os.environ.get("SIMULATE_ENGINE") == "pure" or compiled_build() is not None:
        return "pure"
    return "compiled"


KIND = _kind()      # "compiled" or "pure": recorded in every run's manifest
if KIND == "compiled":
    __path__.insert(0, str(COMPILED))       # noqa: F821 - the package's own search path
    sys.path.append(str(COMPILED))          # the build's shared library, a top-level module
