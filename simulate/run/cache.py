"""The replication cache: each simulated year kept, so that no decision plays it twice.

A year is fully determined by the plan variant that played it, the seed, its replication
number, the rules forked off it, and the model's code. Its outcome (the flat record, the
weekly KPIs, the rule firings and the forked years) is kept under `results/.cache/`, one
file per year, keyed by a hash of all of these. `compare`, `stress` and `signoff` then share
the years of the plan and of the scenarios they have in common, and a run after editing one
variant plays only that variant again. A change to the model's code (or its version)
changes every key, so stale years are never read; `--no-cache` turns the cache off and
`python -m simulate cache --clear` empties it.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..plan.plan import Plan
from ..version import __version__

# Plan keys that do not change a simulated year: who it is for, how many years, how it is read.
NOT_PLAYED = {"name", "description", "runs", "seed", "language", "levers", "signoff"}
MODEL_PACKAGES = ("engine", "plan", "stats")
FORMAT = 1              # the layout of a cached year; bump it when Year changes


@functools.lru_cache(maxsize=1)
def model_code() -> str:
    """A hash of the model's source (the engine, the plan format, the statistics) and version."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(f"{__version__}|{FORMAT}".encode())
    for package in MODEL_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def canonical(value: Any) -> Any:
    """A plan as plain JSON data, every field of every part by its own type: pydantic's dump
    writes a field by its declared type, so a triangular size declared as a distribution came
    out empty and an edited size kept its key. Sets come out sorted (their order follows the
    hash seed), a parsed condition as its tree's dump."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, BaseModel):
        return {"__type__": type(value).__name__,
                **{k: canonical(getattr(value, k)) for k in type(value).model_fields}}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type(value).__name__,
                **{f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(json.dumps(canonical(v), sort_keys=True) for v in value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, ast.AST):
        return ast.dump(value)
    raise TypeError(f"cannot key the cache on {type(value).__name__}")


Year = tuple[dict[str, float], Any, list[tuple], list[tuple], int]   # record, weekly, firings, without, events


class ReplicationCache:
    """Simulated years on disk under `root`, one file each, written whole then renamed."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.hits = 0           # years read from the cache by this object
        self._played: dict[int, tuple[Plan, str]] = {}

    def key(self, plan: Plan, seed: int, value_rules: tuple[str, ...]) -> str:
        """The same in every process: sets are written sorted (their order follows the hash
        seed), a parsed condition as its tree's dump. A plan is written once per cache (every
        batch asks twice); the memo holds the plan itself, so a recycled id never matches."""
        held = self._played.get(id(plan))
        if held is None or held[0] is not plan:
            held = (plan, json.dumps({k: v for k, v in canonical(plan).items() if k not in NOT_PLAYED},
                                     ensure_ascii=False))
            self._played[id(plan)] = held
        text = f"{model_code()}|{seed}|{','.join(value_rules)}|{held[1]}"
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str, replication: int) -> Path:
        return self.root / key[:2] / key / f"{replication}.pkl"

    def load(self, plan: Plan, seed: int, value_rules: tuple[str, ...], replications: range) -> list[Year] | None:
        """The years `replications` of this plan, or None unless every one is cached."""
        key = self.key(plan, seed, value_rules)
        paths = [self._path(key, r) for r in replications]
        if not all(p.is_file() for p in paths):
            return None
        years = []
        for p in paths:
            try:
                years.append(pickle.loads(p.read_bytes()))
            except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
                return None      # a damaged file: play the years again (and rewrite them)
        self.hits += len(years)
        return years

    def store(self, plan: Plan, seed: int, value_rules: tuple[str, ...], start: int, years: list[Year]) -> None:
        """Keep `years` (replications start, start + 1, ...); a full disk only loses the cache."""
        key = self.key(plan, seed, value_rules)
        try:
            folder = self._path(key, start).parent
            folder.mkdir(parents=True, exist_ok=True)
            for i, year in enumerate(years):
                path = self._path(key, start + i)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                tmp.write_bytes(pickle.dumps(year, protocol=pickle.HIGHEST_PROTOCOL))
                os.replace(tmp, path)
        except OSError:
            pass

    def size(self) -> tuple[int, int]:
        """(years kept, bytes)."""
        files = [p for p in self.root.rglob("*.pkl")] if self.root.is_dir() else []
        return len(files), sum(p.stat().st_size for p in files)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
