"""One run from the command line: load, simulate, summarise, save, print.

This is the "sandwich" around the engine: preprocess (load and validate the scenario, check
that the output folder is writable before spending minutes simulating), run (the
replications, with a progress bar on a terminal), postprocess (summary, tables, manifest,
all written atomically into the run folder).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import __version__
from .loader import plan_from_document
from .output import (file_sha256, new_run_folder, point_latest, prepare_out, write_atomic,
                     write_json)
from .runner import RunResults, run_replications, runner_options
from .scenario import variants_to_run
from .summary import build_summary
from .terminal import render
from .yamlio import Document, load_document

DEPENDENCIES = ("simpy", "numpy", "pandas", "scipy", "PyYAML", "matplotlib", "pydantic", "pyarrow", "rich")


def run_scenario(args: argparse.Namespace) -> int:
    doc = load_document(args.scenario)
    plan = plan_from_document(doc)
    runs = args.runs or plan.runs
    seed = plan.seed if args.seed is None else args.seed
    scenario = Path(args.scenario).stem
    manifest = make_manifest(doc, doc.data, scenario, seed, runs)
    return execute(manifest, plan, args)


def execute(manifest: dict[str, Any], plan, args: argparse.Namespace) -> int:
    """Run a manifest's plan and save everything into its run folder."""
    scenario, seed, runs = manifest["scenario"], manifest["seed"], manifest["runs"]
    if args.out:
        folder = prepare_out(args.out)
    else:
        folder = new_run_folder(args.results, scenario, json.dumps(manifest["files"]))
    with progress_bar(enabled=not args.quiet and sys.stderr.isatty(), total=runs) as progress:
        results = run_replications(variants_to_run(plan, args), runs, seed, progress=progress,
                                   **runner_options(args))
    summary = build_summary(results, scenario)
    save_run(folder, results, summary, manifest)
    if not args.out:
        point_latest(folder)
    if args.json:
        print(json.dumps(json.loads((folder / "summary.json").read_text()), indent=2))
    elif not args.quiet:
        print(render(summary), end="")
        print(f"  results: {folder}")
    if results.partial:
        print("interrupted: the completed replications were saved, marked partial", file=sys.stderr)
        return 130
    return 0


def make_manifest(doc: Document, data: dict, scenario: str, seed: int, runs: int) -> dict[str, Any]:
    """Everything needed to rerun this exact run: inputs with hashes, plan, seed, versions."""
    versions = {}
    for dist in DEPENDENCIES:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "scenario": scenario,
        "files": [{"path": f, "sha256": file_sha256(f)} for f in doc.files if Path(f).is_file()],
        "plan": data,
        "seed": seed,
        "runs": runs,
        "python": platform.python_version(),
        "package": {"simulate": __version__},
        "dependencies": versions,
        "command": ["python", "-m", "simulate", *sys.argv[1:]],
    }


def save_run(folder: Path, results: RunResults, summary: dict[str, Any], manifest: dict[str, Any]) -> None:
    """Write the tables, the manifest and, last, summary.json (its presence means complete)."""
    tables: dict[str, pd.DataFrame] = {}
    for name, v in results.variants.items():
        rec = v.records.copy()
        rec.insert(0, "variant", name)
        tables.setdefault("replications", pd.DataFrame())
        tables["replications"] = pd.concat([tables["replications"], rec.reset_index()], ignore_index=True)
        weekly = pd.concat({"mean": v.weekly_mean, "sd": v.weekly_sd}, axis=1)
        weekly.columns = [f"{col}_{stat}" for stat, col in weekly.columns]
        bands = np.percentile(v.cumulative, [10, 50, 90], axis=0) if len(v.cumulative) else np.zeros((3, len(weekly)))
        weekly.insert(0, "bookings_cum_p90", bands[2])
        weekly.insert(0, "bookings_cum_p50", bands[1])
        weekly.insert(0, "bookings_cum_p10", bands[0])
        weekly.insert(0, "variant", name)
        tables["weekly"] = pd.concat([tables.get("weekly", pd.DataFrame()), weekly.reset_index()],
                                     ignore_index=True)
    for name, table in tables.items():
        write_table(folder, name, table)
    write_json(folder / "manifest.json", {**manifest, "partial": results.partial})
    write_json(folder / "summary.json", summary)


def write_table(folder: Path, name: str, table: pd.DataFrame) -> None:
    """A table as Parquet (for analysts) and CSV (for spreadsheets)."""
    write_atomic(folder / f"{name}.parquet", lambda tmp: table.to_parquet(tmp, index=False))
    write_atomic(folder / f"{name}.csv", lambda tmp: table.to_csv(tmp, index=False))


class progress_bar:
    """A rich progress bar on a terminal for runs longer than a moment; silent otherwise."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total = enabled, total
        self._bar = None

    def __enter__(self) -> Callable[[int, int], None] | None:
        if not self.enabled:
            return None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeRemainingColumn)
        self._bar = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(),
                             TimeRemainingColumn(), transient=True)
        self._bar.start()
        task = self._bar.add_task("years", total=self.total)
        return lambda done, total: self._bar.update(task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
