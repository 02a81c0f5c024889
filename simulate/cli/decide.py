"""What the decision commands share: options, one simulator for many plans, the run folder.

`compare`, `stress`, `signoff` and `sensitivity` each answer a question asked before a target
is signed, and each does it the same way: it plays several plans on the same simulated worlds
(common random numbers), so that a difference between two columns is due to the plans and not
to luck. This module holds what they have in common: their command-line options, a
`Simulator` that keeps one pool of workers for every batch of plans, the figures of one cell
(P(hit), the worst years, the expected shortfall), and the run folder each command leaves
behind, like a plain run's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import PlanError, RunError, UsageError
from ..files import new_run_folder, point_latest, prepare_out
from ..format import use
from ..load.yamlio import Document, overlay
from ..plan.plan import Plan
from ..run.executors import make_executor
from ..run.options import common_options, fraction
from ..run.runner import Collector, RunResults, cache_of, replay_records, run_replications
from ..stats.sample_stats import spread, wilson
from ..stats.sequential import bars_settled, each_settled, verdicts_settled
from ..words import language, say

WORST_SHARE = 0.10      # cvar10: the mean attainment of the worst tenth of years


def speak(args: argparse.Namespace, plan: Plan) -> None:
    """The language and currency of everything this command prints and writes."""
    use(args.lang or plan.language, plan.currency)


def add_options(p: argparse.ArgumentParser) -> None:
    """The options every decision command takes (its positional files are its own)."""
    common_options(p)


class Simulator:
    """Plays dicts of named plans on the same seeds, reusing one pool of workers throughout.

    Use it as a context manager: the worker pool is closed on the way out. An interrupted run
    raises rather than returning a smaller sample: a search or a matrix cannot be half done.
    """

    def __init__(self, args: argparse.Namespace, seed: int, runs: int):
        self.seed, self.runs = seed, runs
        self.show_progress = not args.quiet and not args.json and sys.stderr.isatty()
        self.executor = make_executor(args.workers)
        self.batch_size: int | None = args.batch_size
        self.cache = cache_of(args)
        self.sequential = not getattr(args, "all_runs", False)
        self.years = 0          # simulated years played, all plans and calls together

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.executor.close()

    def run(self, plans: dict[str, Plan], runs: int | None = None,
            bars: dict[str, float] | None = None, phase: str | None = None,
            groups: dict[str, dict[str, float]] | None = None,
            collector: Collector | None = None, each: bool = False) -> RunResults:
        """Play `runs` years of each plan; with `bars` (P(hit) each named plan must reach),
        stop once every one is settled against its bar; with `groups` (checks of several
        plans that pass or fail together), once every group's verdict is settled
        (`sequential`; neither with --all-runs); with `each` too, each plan stops alone once
        settled (independent answers, not paired). A `collector` from an earlier call on the
        same plans carries its sample on instead of starting again. Each call is one phase
        with its own named bar: `phase`, else the plans' names."""
        from .run import progress_bar
        n = runs or self.runs
        settle, retire = None, None
        if self.sequential and bars and each:
            retire = each_settled(bars, n)
        if self.sequential and groups:
            settle = verdicts_settled(groups, n)
        elif self.sequential and bars and not each:
            settle = bars_settled(bars, n)
        name = phase or ", ".join(plans)
        before = collector.years if collector is not None else 0
        playing = len(collector.names) if collector is not None else len(plans)
        with progress_bar(enabled=self.show_progress, total=n * playing, phase=name) as progress:
            results = run_replications(plans, n, self.seed, executor=self.executor, batch_size=self.batch_size,
                                       progress=progress, settle=settle, retire=retire, cache=self.cache,
                                       collector=collector)
        if results.partial:
            raise RunError("interrupted: nothing was saved")
        self.years += sum(len(v.records) for v in results.variants.values()) - before
        return results

    @property
    def reused(self) -> int:
        """Years read from the replication cache instead of played, all calls together."""
        return self.cache.hits if self.cache is not None else 0

    def replay(self, plan: Plan, replications: list[int], phase: str) -> dict[int, dict[str, float]]:
        """The records of chosen years of `plan`, played again (or read from the cache)."""
        from .run import progress_bar
        with progress_bar(enabled=self.show_progress, total=len(replications), phase=phase) as progress:
            out = replay_records(plan, self.seed, replications, executor=self.executor, cache=self.cache,
                                 progress=progress)
        self.years += len(out)      # as `run` counts them: read from the cache or played
        return out

    def records(self, plans: dict[str, Plan], runs: int | None = None, bars: dict[str, float] | None = None,
                phase: str | None = None, each: bool = False) -> dict[str, pd.DataFrame]:
        return {name: v.records for name, v in self.run(plans, runs, bars, phase, each=each).variants.items()}


def with_target(plan: Plan, annual: float) -> Plan:
    """The same plan asking for `annual` instead; its splits scale in proportion."""
    t = plan.target
    f = annual / t.annual

    def scaled(split: dict[str, float]) -> dict[str, float]:
        return {k: v * f for k, v in split.items()}

    target = t.model_copy(update={"annual": annual, "by_segment": scaled(t.by_segment),
                                  "by_product": scaled(t.by_product), "by_region": scaled(t.by_region)})
    return plan.model_copy(update={"target": target})


def values(records: pd.DataFrame, plan: Plan) -> np.ndarray:
    """Each simulated year's figure in the target's metric, in currency."""
    return records[plan.target.metric].to_numpy(dtype=float)


def cell(records: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    """One plan under one scenario: how likely the target is, and how bad the bad years are."""
    att = records["attainment"].to_numpy(dtype=float)
    n = att.size
    hits = int(np.count_nonzero(att >= 1.0))
    worst = np.sort(att)[: max(1, math.ceil(WORST_SHARE * n))] if n else att
    short = np.maximum(0.0, plan.target.annual - values(records, plan))
    return {"runs": n, "p_hit": hits / n if n else math.nan, "p_hit_ci95": list(wilson(hits, n)),
            "attainment_p10": spread(att)["p10"], "attainment_p50": spread(att)["p50"],
            "expected_shortfall": float(short.mean()) if n else math.nan,
            "cvar10": float(worst.mean()) if n else math.nan}


def declared_size(shock: Any) -> float:
    """How big a shock is as written: the mean of its size, or the number of reps leaving."""
    if shock.type == "rep_leaves":
        return float(shock.top or len(shock.reps))
    return float(shock.size.mean)


def with_overrides(doc: Document, source: Document, path: tuple) -> Document:
    """`doc` with the mapping found at `path` in `source` merged onto it (by the `extends`
    rules), e.g. a plan's variant applied to a stress scenario. Its own variants are dropped;
    every value keeps the file and line where it was written."""
    key = "__overrides__"
    over: Any = source.data
    for step in path:
        over = over[step]
    locations = dict(doc.locations)
    locations.update({(key,) + p[len(path):]: loc for p, loc in source.locations.items()
                      if p[: len(path)] == path})
    files = doc.files + tuple(f for f in source.files if f not in doc.files)
    return overlay(Document({**doc.data, key: over}, locations, files), (key,), drop=(key, "variants"))


def bar_options(p: argparse.ArgumentParser) -> None:
    """The sign-off bar and its stress scenarios, as `signoff` and `advise` take them."""
    p.add_argument("--confidence", type=fraction, help="P(hit) required on the plan (default: "
                   "the plan's signoff.confidence, 80%%)")
    p.add_argument("--stress-confidence", type=fraction, help="P(hit) required under each stress "
                   "scenario (default: the plan's signoff.stress_confidence, 50%%)")
    p.add_argument("--scenario", dest="stress", action="append", metavar="FILE",
                   help="a stress scenario (repeatable; replaces the plan's signoff.scenarios)")


def bar_of(args: argparse.Namespace, plan: Plan) -> dict[str, float]:
    """The bar in force: the command line's, else the plan's `signoff` block."""
    return {"confidence": plan.signoff.confidence if args.confidence is None else args.confidence,
            "stress_confidence": (plan.signoff.stress_confidence if args.stress_confidence is None
                                  else args.stress_confidence)}


def stress_paths(doc: Document, plan: Plan, chosen: list[str] | None) -> list[Path]:
    """The stress scenarios: those given on the command line, else the plan's `signoff`
    list, each relative to the file where it is written."""
    if chosen:
        paths = [Path(p) for p in chosen]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise UsageError(f"--scenario {missing[0]}: file not found")
        return paths
    paths = []
    for i, name in enumerate(plan.signoff.scenarios):
        where = doc.locate(("signoff", "scenarios", i))
        path = Path(where.file).parent / name
        if not path.is_file():
            raise PlanError(f"stress scenario file not found: {name} (looked for {path})", where,
                            f"signoff.scenarios[{i}]")
        paths.append(path)
    return paths


def unique_names(paths: list[Path], taken: tuple[str, ...] = ()) -> list[str]:
    """A short name per scenario file (its stem), made unique with a number if needed."""
    names: list[str] = []
    for p in paths:
        name, k = p.stem, 2
        while name in names or name in taken:
            name, k = f"{p.stem}_{k}", k + 1
        names.append(name)
    return names


def open_folder(args: argparse.Namespace, name: str, kind: str, fingerprint: str) -> Path:
    """The run folder, created before anything is simulated: a bad path costs seconds."""
    if args.out:
        return prepare_out(args.out)
    return new_run_folder(args.results, f"{name}-{kind}", fingerprint)


def finish(folder: Path, args: argparse.Namespace, docs: list[Document], plan_data: dict, name: str,
           seed: int, runs: int, results: RunResults, summary: dict[str, Any], plan: Plan,
           text: str, extra: dict[str, str] | None = None) -> int:
    """Save the run folder (tables, manifest, report, summary.json, and any `extra` text
    files by name) and print the answer."""
    from .run import input_files, make_manifest, save_run
    summary["language"] = language()
    files = list({f["path"]: f for d in docs for f in input_files(d)}.values())
    manifest = make_manifest(files, plan_data, name, seed, runs, args)
    save_run(folder, results, summary, {**manifest, "folder": str(folder)}, plan, extra)
    if not args.out:
        point_latest(folder)
    if args.json:
        print(json.dumps(json.loads((folder / "summary.json").read_text()), indent=2))
    elif not args.quiet:
        print(text, end="")
        print(say("term.saved", folder=folder, report=folder / "report.html",
                  board=folder / "board.html"))
    return 0
