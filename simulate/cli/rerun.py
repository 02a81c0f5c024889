"""`python -m simulate rerun results/.../manifest.json`: run a recorded run again, exactly.

A run is reproducible when its inputs are: the manifest keeps the resolved plan (after
`extends`), the seed, the number of replications and the options that change what is
computed. Rerunning simulates that recorded plan, not whatever the scenario files say
today, so an auditor gets the same numbers months later; if the files or the installed
versions changed since, a note says so.

`rerun --resume FOLDER` finishes a run that Ctrl-C stopped: replication r always plays the
streams of (seed, r), so the years already in the partial folder are kept as they are and
only the missing ones are played. The finished run goes to a new folder and is the run an
uninterrupted one would have given (the weekly KPI spreads to the last bits of a float).
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError
from ..load.loader import plan_from_document
from ..load.yamlio import Document
from ..run.options import build_parser, worker_count
from ..version import __version__

REQUIRED = ("scenario", "plan", "seed", "runs")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", type=Path, help="a run's manifest.json (or its run folder)")
    p.add_argument("--out", type=Path, help="write the new run into this folder itself")
    p.add_argument("--results", type=Path, default=Path("results"),
                   help="root of the run folders (default: results/)")
    p.add_argument("--workers", type=worker_count,
                   help="worker processes (the results do not depend on it)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary table")
    p.add_argument("--json", action="store_true", help="print summary.json to stdout")
    p.add_argument("--resume", action="store_true",
                   help="finish a partial (interrupted) run: play only the replications it lacks")


def run(args: argparse.Namespace) -> int:
    """Rebuild the recorded plan and options, then run them like any run (a new folder)."""
    from .run import execute, make_manifest  # the engine loads only when a run is asked for
    path = args.manifest / "manifest.json" if args.manifest.is_dir() else args.manifest
    recorded = read_manifest(path)
    if getattr(args, "resume", False):
        return resume(path, recorded, args)
    for note in changes_since(recorded):
        print(f"note: {note}", file=sys.stderr)
    options = recorded_options(recorded, args)
    files = recorded.get("files") or []
    sources = tuple(f["path"] for f in files) or (str(path),)
    plan = plan_from_document(Document(recorded["plan"], {}, sources))
    manifest = make_manifest(files, recorded["plan"], recorded["scenario"], recorded["seed"],
                             recorded["runs"], options)
    return execute({**manifest, "rerun_of": str(path)}, plan, options)


def resume(path: Path, recorded: dict[str, Any], args: argparse.Namespace) -> int:
    """Finish the partial run recorded at `path`: its years, then the missing ones."""
    from ..run.runner import run_replications, runner_options
    from .run import execute, make_manifest, verdict_settle
    if not recorded.get("partial"):
        raise UsageError(f"{path}: the run is complete, there is nothing to resume "
                         "(rerun it without --resume to play it again)")
    options = recorded_options(recorded, args)
    if getattr(options, "precision", None) is not None:
        raise UsageError(f"{path}: a run with --precision decides its length as it goes and "
                         "cannot be resumed; rerun it without --resume")
    files = recorded.get("files") or []
    sources = tuple(f["path"] for f in files) or (str(path),)
    plan = plan_from_document(Document(recorded["plan"], {}, sources))
    manifest = make_manifest(files, recorded["plan"], recorded["scenario"], recorded["seed"],
                             recorded["runs"], options)

    def replications(variants: dict, runs: int, seed: int, progress: Any = None) -> Any:
        # The runner carries the restored years on: the same batches, cap and checks as a
        # first run, and Ctrl-C again leaves a partial run that can be resumed in turn.
        return run_replications(variants, runs, seed, progress=progress,
                                collector=restore(path.parent, variants),
                                settle=verdict_settle(plan, runs, options), **runner_options(options))

    print(f"note: resuming {path.parent}: {recorded.get('runs_done', 0)} of {recorded['runs']} "
          "replications done", file=sys.stderr)
    return execute({**manifest, "resumed_from": str(path)}, plan, options, replications)


def restore(folder: Path, variants: dict) -> Any:
    """A runner `Collector` holding the partial folder's replications, as the run left it."""
    import numpy as np
    import pandas as pd

    from ..run.runner import Collector
    from .run import RESUME_STATE
    try:
        state = np.load(folder / RESUME_STATE)
        table = pd.read_parquet(folder / "replications.parquet")
        firings = pd.read_parquet(folder / "firings.parquet") if (folder / "firings.parquet").is_file() else None
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder}: cannot resume: the partial run's {RESUME_STATE} or tables "
                         f"cannot be read ({exc})") from None
    collector = Collector(list(variants))
    done = None
    for i, name in enumerate(variants):
        if f"name_{i}" not in state or str(state[f"name_{i}"]) != name:
            raise InputError(f"{folder}: cannot resume: it holds other variants than the plan plays")
        columns = [str(c) for c in state[f"columns_{i}"]]
        rows = table[table["variant"] == name].sort_values("replication")
        n = len(rows)
        if done is not None and n != done or list(rows["replication"]) != list(range(n)):
            raise InputError(f"{folder}: cannot resume: its replications table is not 0..n-1 for every variant")
        done = n
        values = rows[columns].to_numpy(dtype=float)
        t = collector.tallies[name]
        t.n, t.events = n, int(state[f"events_{i}"])
        t.blocks = [(tuple(columns), values)] if n else []
        t.hits = [values[:, columns.index("hit")] >= 0.5] if n else []
        t.cumulative = [state[f"cumulative_{i}"]] if n else []
        t.mean = state[f"mean_{i}"].copy() if n else None
        t.m2 = state[f"sd_{i}"] ** 2 * n if n else None
        if firings is not None:
            own = firings[firings["variant"] == name].drop(columns="variant").reset_index(drop=True)
            t.firings = [own] if len(own) else []
    collector.folded = collector.received = done or 0
    return collector


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest's data, or one clear line saying why it is not a manifest."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the manifest {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        where = f"{path}:{exc.lineno}:{exc.colno}"
        raise InputError(f"{where}: not a JSON manifest: {exc.msg}") from None
    missing = [k for k in REQUIRED if not isinstance(data, dict) or k not in data]
    if missing:
        raise InputError(f"{path}: not a run manifest: missing {', '.join(missing)}")
    return data


def recorded_options(recorded: dict[str, Any], args: argparse.Namespace) -> argparse.Namespace:
    """The original run's options (typed by today's parser), with this command's output ones."""
    parser = build_parser()
    options = parser.parse_args([recorded["scenario"]])
    types = {a.dest: a.type for a in parser._actions}
    for key, value in (recorded.get("options") or {}).items():
        setattr(options, key, retype(types.get(key), value))
    for key in ("out", "results", "workers", "quiet", "json"):
        setattr(options, key, getattr(args, key))
    return options


def retype(kind: Any, value: Any) -> Any:
    """A recorded option back to its parsed type: a path recorded as text is a Path again."""
    if isinstance(value, list):
        return [retype(kind, v) for v in value]
    return kind(value) if isinstance(value, str) and callable(kind) else value


def changes_since(recorded: dict[str, Any]) -> list[str]:
    """What differs from the recorded run: edited inputs, other versions. Not fatal: the plan
    simulated is the recorded one, but other versions of the engine may give other numbers."""
    from ..files import file_sha256  # keeps `python -m simulate validate` from loading pandas
    notes = []
    for f in recorded.get("files", []):
        p = Path(f["path"])
        if not p.is_file():
            notes.append(f"{p} no longer exists; rerunning the plan recorded in the manifest")
        elif file_sha256(p) != f["sha256"]:
            notes.append(f"{p} has changed since the run; "
                         "rerunning the plan recorded in the manifest")
    if (recorded.get("package") or {}).get("simulate") not in (None, __version__):
        notes.append(f"simulate {recorded['package']['simulate']} made this run, "
                     f"this is {__version__}: results may differ")
    for dist, version in (recorded.get("dependencies") or {}).items():
        if version is not None and installed(dist) != version:
            notes.append(f"{dist} {version} made this run, {installed(dist)} is installed: "
                         "results may differ")
    return notes


def installed(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
