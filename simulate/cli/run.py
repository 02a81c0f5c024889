"""One run from the command line: load, simulate, summarise, save, print.

This is the "sandwich" around the engine: preprocess (load and validate the scenario, check
that the output folder is writable before spending minutes simulating), run (the
replications, with a progress bar on a terminal), postprocess (summary, tables, plots,
report and manifest, all written atomically into the run folder). The manifest records
everything `rerun` needs to reproduce the run exactly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..analysis.rule_value import Valuation
from ..analysis.summary import build_summary
from ..engine import KIND as ENGINE
from ..engine.ledger import week_lengths
from ..files import (
    all_or_nothing,
    file_sha256,
    jsonable,
    new_run_folder,
    point_latest,
    prepare_out,
    remove_if_empty,
    write_atomic,
    write_bytes,
    write_json,
    write_text,
)
from ..format import use
from ..load.loader import load_scenario, plan_from_document
from ..load.pipeline import with_pipeline
from ..load.yamlio import Document
from ..plan.plan import Plan
from ..report.terminal import render
from ..report.view import RunView
from ..run.runner import RunResults, run_replications, runner_options
from ..run.scenario import variants_to_run
from ..stats.sequential import Settle, bars_settled
from ..version import __version__
from ..words import language, say

DEPENDENCIES = ("simpy", "numpy", "pandas", "scipy", "PyYAML", "matplotlib", "pydantic", "pyarrow", "rich",
                "openpyxl", "optuna")
# Options that say where a run goes, how it is shown or where it executes, never what it
# computes (results do not depend on workers or batches): a rerun takes its own.
NOT_RECORDED = ("scenario", "out", "results", "quiet", "json", "workers", "batch_size", "backend",
                "scheduler")
PROGRESS_DELAY = 1.5   # seconds before a progress bar appears: short runs stay quiet


def run_scenario(args: argparse.Namespace) -> int:
    doc = with_pipeline(load_scenario(args.scenario), args)
    plan = plan_from_document(doc)
    runs = args.runs or plan.runs
    seed = plan.seed if args.seed is None else args.seed
    scenario = Path(args.scenario).stem
    manifest = make_manifest(input_files(doc), doc.data, scenario, seed, runs, args)
    return execute(manifest, plan, args)


Replications = Callable[..., RunResults]


def execute(manifest: dict[str, Any], plan: Plan, args: argparse.Namespace,
            replications: Replications | None = None) -> int:
    """Run a manifest's plan and save everything into its run folder.

    `replications(variants, runs, seed, progress=...)` plays the years (default: all of
    them, `run_replications`; `rerun --resume` passes one that plays only the missing ones).
    A run that fails or is stopped before anything is saved leaves no empty folder behind.
    """
    scenario, seed, runs = manifest["scenario"], manifest["seed"], manifest["runs"]
    use(getattr(args, "lang", None) or plan.language, plan.currency)
    existed = bool(args.out) and Path(args.out).is_dir()
    if args.out:
        folder = prepare_out(args.out)
    else:
        folder = new_run_folder(args.results, scenario, json.dumps(manifest["files"]))
    options = runner_options(args)

    def play_all(variants: dict[str, Plan], runs: int, seed: int, progress: Any) -> RunResults:
        local = options["backend"] == "local"      # Dask workers do not fork: values replay after
        valuer = Valuation(variants, args.rule_value_runs) if local and args.rule_value_runs > 0 else None
        return run_replications(variants, runs, seed, progress=progress, settle=verdict_settle(plan, runs, args),
                                valuer=valuer, **options)

    play = replications or play_all
    variants = variants_to_run(plan, args)
    try:
        with progress_bar(enabled=not args.quiet and sys.stderr.isatty(), total=runs * len(variants),
                          phase=manifest["scenario"]) as progress:
            results = play(variants, runs, seed, progress=progress)
        if results.partial and results.runs == 0:
            raise KeyboardInterrupt     # before the first year was done: nothing to keep
        summary, values_cut = summary_of(results, scenario, args)
        summary["language"] = language()
        save_run(folder, results, summary, {**manifest, "folder": str(folder)}, plan)
    except BaseException:
        if not existed:
            remove_if_empty(folder)
        raise
    if not args.out:
        point_latest(folder)
    if args.json:
        print(json.dumps(json.loads((folder / "summary.json").read_text()), indent=2))
    elif not args.quiet:
        print(render(summary), end="")
        print(say("term.saved", folder=folder, report=folder / "report.html",
                  board=folder / "board.html"))
    if results.partial:
        print("interrupted: the completed replications were saved, marked partial", file=sys.stderr)
        return 130
    if values_cut:
        print("interrupted while valuing the rules: every year was saved, the rule values left out",
              file=sys.stderr)
        return 130
    return 0


def verdict_settle(plan: Plan, runs: int, args: argparse.Namespace) -> Settle | None:
    """A plain run stops once its P(hit) is settled against the plan's sign-off bar
    (`signoff.confidence`), unless `--all-runs` asks for every year (see `sequential`)."""
    if getattr(args, "all_runs", False) or getattr(args, "precision", None) is not None:
        return None
    return bars_settled({"plan": plan.signoff.confidence}, runs)


def summary_of(results: RunResults, scenario: str, args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """The summary, and whether Ctrl-C cut the rule values short: their replays can take as
    long as the run, and stopping them must not lose the years already played."""
    try:
        return build_summary(results, scenario, rule_value_runs=args.rule_value_runs,
                             workers=getattr(args, "workers", None)), False
    except KeyboardInterrupt:
        summary = build_summary(results, scenario, with_rule_values=False)
        summary["warnings"].append("interrupted while valuing the rules: rule values left out")
        return summary, True


def input_files(doc: Document) -> list[dict[str, str]]:
    """The scenario file and every file it extends, with their hashes."""
    return [{"path": f, "sha256": file_sha256(f)} for f in doc.files if Path(f).is_file()]


def make_manifest(files: list[dict[str, str]], data: dict, scenario: str, seed: int, runs: int,
                  args: argparse.Namespace) -> dict[str, Any]:
    """Everything needed to rerun this exact run: inputs with hashes, the resolved plan, seed,
    the options that change results (not where output goes), versions, the command line."""
    versions = {}
    for dist in DEPENDENCIES:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "scenario": scenario,
        "files": files,
        "plan": data,
        "seed": seed,
        "runs": runs,
        "options": {k: plain(v) for k, v in vars(args).items() if k not in NOT_RECORDED},
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "package": {"simulate": __version__},
        "engine": ENGINE,      # compiled or pure: the same years either way
        "dependencies": versions,
        "command": ["python", "-m", "simulate", *sys.argv[1:]],
    }


def plain(value: Any) -> Any:
    """An option's value as JSON can hold it (paths as text)."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def save_run(folder: Path, results: RunResults, summary: dict[str, Any], manifest: dict[str, Any],
             plan: Plan, extra: dict[str, str] | None = None) -> None:
    """Write the tables, the manifest, the plots and report, and last summary.json (its
    presence means the folder is complete). All or nothing: a save that fails (full disk,
    Ctrl-C) takes back what it wrote. A partial run also keeps what `rerun --resume` needs."""
    from . import STARTED
    summary["wall_seconds"] = round(time.monotonic() - STARTED, 3)    # what the user waited so far
    with all_or_nothing(folder) as staging:
        for name, text in (extra or {}).items():
            write_text(staging / name, text)
        _save_run(staging, results, summary, manifest, plan)


RESUME_STATE = "resume.npz"


def _save_run(folder: Path, results: RunResults, summary: dict[str, Any], manifest: dict[str, Any],
              plan: Plan) -> None:
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
        weekly.insert(0, "days", week_lengths(v.plan.horizon.days)[:len(weekly)])  # the last week is partial
        weekly.insert(0, "variant", name)
        tables["weekly"] = pd.concat([tables.get("weekly", pd.DataFrame()), weekly.reset_index()],
                                     ignore_index=True)
    if isinstance(results.extra.get("firings"), pd.DataFrame):
        tables["firings"] = results.extra["firings"]
    for name, table in tables.items():
        write_table(folder, name, table)
    if results.partial:
        save_resume_state(folder, results)
    write_json(folder / "manifest.json",
               {**manifest, "partial": results.partial, "runs_done": results.runs})
    from ..report.report import write_report  # matplotlib loads only once the simulation is done
    view = RunView(summary, tables["replications"], tables["weekly"], tables.get("firings"),
                   plan.horizon.start, plan.horizon.days, manifest.get("plan"))
    write_report(folder, view, manifest)
    write_json(folder / "summary.json", summary)


def save_resume_state(folder: Path, results: RunResults) -> None:
    """What the replications table does not hold, for `rerun --resume`: per variant, the
    bookings-to-date curve of every year, the running weekly KPI moments and the columns."""
    import io
    arrays: dict[str, np.ndarray] = {}
    for i, (name, v) in enumerate(results.variants.items()):
        arrays[f"name_{i}"] = np.array(name)
        arrays[f"columns_{i}"] = np.array(list(v.records.columns), dtype=str)
        arrays[f"cumulative_{i}"] = v.cumulative
        arrays[f"mean_{i}"] = v.weekly_mean.to_numpy()
        arrays[f"sd_{i}"] = v.weekly_sd.to_numpy()
        arrays[f"events_{i}"] = np.array(v.events)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes(folder / RESUME_STATE, buf.getvalue())


def write_table(folder: Path, name: str, table: pd.DataFrame) -> None:
    """A table as Parquet (for analysts) and CSV (for spreadsheets). Mappings and lists in a
    column (a rule's parameters) are stored as JSON text, which both formats hold."""
    nested = [c for c in table.columns if table[c].map(lambda x: isinstance(x, (dict, list))).any()]
    if nested:
        table = table.assign(**{c: table[c].map(lambda x: json.dumps(jsonable(x)) if isinstance(
            x, (dict, list)) else x) for c in nested})
    write_atomic(folder / f"{name}.parquet", lambda tmp: table.to_parquet(tmp, index=False))
    write_atomic(folder / f"{name}.csv", lambda tmp: table.to_csv(tmp, index=False))


class progress_bar:
    """A rich progress bar on a terminal, shown only once a run has lasted PROGRESS_DELAY
    seconds (a timer starts it), so quick runs print nothing but their result."""

    def __init__(self, enabled: bool, total: int, phase: str = "simulating"):
        self.enabled, self.total, self.phase = enabled, total, phase
        self._bar: Any = None
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Callable[[int, int], None] | None:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )
        self._bar = Progress(TextColumn(self.phase), BarColumn(), MofNCompleteColumn(),
                             TimeRemainingColumn(), transient=True,
                             console=Console(stderr=True))   # stdout stays clean for --json
        task = self._bar.add_task("years", total=self.total)
        self._timer = threading.Timer(PROGRESS_DELAY, self._bar.start)
        self._timer.daemon = True
        self._timer.start()
        return lambda done, total: self._bar.update(task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()
        if self._bar is not None and self._bar.live.is_started:
            self._bar.stop()
