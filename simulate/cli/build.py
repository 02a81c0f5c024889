"""`python -m simulate compile`: build the engine with mypyc, for 1.6 times the years per second.

A year is some 5,000 small events, each a few Python calls; compiled to C, the same code
runs them in about 60 % of the time and plays exactly the same years (the golden outcomes
hold both ways). The build is optional: it needs a C compiler and mypy
(`pip install -e '.[compiled]'`). It compiles a copy of the package, so nothing is built next
to the sources, and lands in `simulate/engine/compiled/` all at once, with a record of the
sources it was built from: the engine uses it only while they are unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..engine import BUILD_RECORD, COMPILED, HERE, source_digest
from ..errors import RunError, UsageError

# mypy checks before mypyc compiles. The engine is typed for readers, not proven: these
# checks would stop the build where the code is right at run time (numpy, SimPy, Optional
# attributes set once), and every compiled call still checks its arguments' types.
RELAXED = ["--ignore-missing-imports", "--follow-imports=silent",
           *(f"--disable-error-code={code}" for code in
             ("union-attr", "arg-type", "attr-defined", "misc", "return-value", "has-type",
              "assignment", "index", "operator", "var-annotated", "call-overload"))]

SETUP = """from setuptools import setup
from mypyc.build import mypycify
setup(name="simulate_engine", ext_modules=mypycify({args!r}, opt_level="3"))
"""


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--remove", action="store_true", help="delete the compiled build (the engine runs pure Python)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only errors")


def run(args: argparse.Namespace) -> int:
    if args.remove:
        shutil.rmtree(COMPILED, ignore_errors=True)
        if not args.quiet:
            print(f"{COMPILED}: removed; the engine runs pure Python")
        return 0
    try:
        import mypyc  # noqa: F401
    except ImportError:
        raise UsageError("compiling the engine needs mypy: pip install -e '.[compiled]'") from None
    t0 = time.perf_counter()
    names = build(COMPILED)
    if not args.quiet:
        print(f"compiled {len(names)} engine modules in {time.perf_counter() - t0:.0f} s into "
              f"{COMPILED}\nthe engine runs compiled from the next command on "
              "(SIMULATE_ENGINE=pure runs the pure-Python reference)")
    return 0


def build(target: Path) -> list[str]:
    """Compile the engine's modules into `target` (replaced whole, never half-written)."""
    package = HERE.parent
    with tempfile.TemporaryDirectory(prefix="simulate-compile-") as tmp:
        copy = Path(tmp) / package.name
        shutil.copytree(package, copy, ignore=shutil.ignore_patterns(
            "__pycache__", "*.so", COMPILED.name + "*", "fonts"))
        sources = [str(p.relative_to(tmp)) for p in sorted((copy / "engine").glob("*.py"))
                   if p.name != "__init__.py"]
        (Path(tmp) / "setup.py").write_text(SETUP.format(args=[*RELAXED, *sources]), encoding="utf-8")
        done = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tmp,
                              capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise RunError(f"mypyc could not compile the engine:\n{tail}")
        modules = sorted((copy / "engine").glob("*.so"))
        names = sorted(p.name.split(".")[0] for p in modules)
        if names != sorted(Path(s).stem for s in sources):
            raise RunError(f"mypyc built {names}, not every engine module")
        built = modules + sorted(Path(tmp).glob("*__mypyc*.so"))
        staging = target.with_name(target.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for path in built:
            shutil.copy2(path, staging / path.name)
        record = {"python": sys.implementation.cache_tag, "sources": source_digest(copy / "engine"),
                  "mypy": _mypy_version(), "modules": names}
        (staging / BUILD_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return names


def _mypy_version() -> str:
    from importlib import metadata
    return metadata.version("mypy")
