"""Repeat the simulated year into a distribution: the Monte Carlo runner.

Replication r of a run always uses the streams of (seed, r), so the results do not depend
on how replications are batched or which worker ran them. Batches go to an executor (this
process, the local cores, or a Dask cluster: see `executors`); their results stream back
into a `Collector`, which folds them in replication order into one row per replication,
running weekly KPI moments and the bookings-to-date curve, never whole ledgers.

With a precision target the run goes on in rounds until the 95 % half-width of P(hit), or of
the paired difference between variants, is small enough. Rounds end on replication counts
decided from the results so far, never on worker timing, so the same seed and target give
the same replications 0..n-1 on any machine.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import pandas as pd

from ..engine.ledger import KPI_COLUMNS, K
from ..engine.year import simulate_year
from ..errors import RunError, UsageError
from ..plan.plan import Plan
from ..stats.sequential import LOOK, Retire, Settle
from .cache import ReplicationCache, Year
from .executors import Executor, InProcess, LocalPool, default_workers, make_executor  # noqa: F401 (re-exported)
from .precision import MAX_RUNS, next_round_stop, precision_report

Progress = Callable[[int, int], None]   # (replications done, replications planned)

MIN_BATCH, MAX_BATCH = 20, 100
FIRING_COLUMNS = ("replication", "day", "rule", "action", "params", "cost")


@dataclass
class Batch:
    """A slice of replications of one plan variant, small enough to ship to a worker."""

    variant: str
    plan: Plan
    seed: int
    start: int
    stop: int
    value_rules: tuple[str, ...] = ()   # rules whose years without them are forked off


@dataclass
class BatchResult:
    """What a worker sends back: flat records and weekly KPIs of replications [start, stop)."""

    variant: str
    start: int
    columns: tuple[str, ...]
    values: np.ndarray          # (replications, columns) the flat records
    weekly: np.ndarray          # (replications, weeks, KPIs)
    events: int
    seconds: float
    firings: pd.DataFrame | None = None     # one row per rule firing, FIRING_COLUMNS
    without: list[tuple[int, str, float, float]] = field(default_factory=list)  # (r, rule, hit, attainment)
    year_events: list[int] = field(default_factory=list)    # each replication's events

    @property
    def stop(self) -> int:
        return self.start + len(self.values)


def run_batch(batch: Batch) -> BatchResult:
    """Simulate replications [start, stop) of one variant (runs in a worker process)."""
    t0 = time.perf_counter()
    years: list[Year] = []
    for r in range(batch.start, batch.stop):
        years.append(play_year(batch.plan, batch.seed, r, batch.value_rules))
    return assemble(batch, years, time.perf_counter() - t0)


def play_year(plan: Plan, seed: int, r: int, value_rules: tuple[str, ...] = ()) -> Year:
    """Replication `r` of `plan`, as the cache keeps it."""
    result = simulate_year(plan, seed, r, value_rules=value_rules)
    return (result.record, result.weekly, [(r, *f) for f in result.firings],
            [(r, rule, rec["hit"], rec["attainment"]) for rule, rec in result.without.items()], result.events)


def assemble(batch: Batch, years: list[Year], seconds: float) -> BatchResult:
    """A batch's result from its years, played now or read from the cache (the same either way)."""
    records = [y[0] for y in years]
    firings = [f for y in years for f in y[2]]
    columns = tuple(dict.fromkeys(k for rec in records for k in rec))
    values = np.array([[rec.get(c, math.nan) for c in columns] for rec in records], dtype=float)
    return BatchResult(batch.variant, batch.start, columns, values.reshape(len(records), len(columns)),
                       np.asarray([y[1] for y in years], dtype=float), sum(y[4] for y in years), seconds,
                       pd.DataFrame(firings, columns=list(FIRING_COLUMNS)) if firings else None,
                       [w for y in years for w in y[3]], [y[4] for y in years])


def years_of(result: BatchResult) -> list[Year]:
    """A batch's result split back into its years, to keep in the cache."""
    by_r: dict[int, list[tuple]] = {}
    if result.firings is not None:
        for row in result.firings.itertuples(index=False, name=None):
            by_r.setdefault(int(row[0]), []).append(row)
    without: dict[int, list[tuple]] = {}
    for w in result.without:
        without.setdefault(w[0], []).append(w)
    return [(dict(zip(result.columns, row.tolist())), result.weekly[i], by_r.get(result.start + i, []),
             without.get(result.start + i, []), result.year_events[i])
            for i, row in enumerate(result.values)]


@dataclass
class VariantResults:
    """Everything kept about one variant's replications."""

    name: str
    plan: Plan
    records: pd.DataFrame
    weekly_mean: pd.DataFrame
    weekly_sd: pd.DataFrame
    cumulative: np.ndarray          # (runs, weeks) bookings to date, in replication order
    events: int


@dataclass
class RunResults:
    variants: dict[str, VariantResults]
    seed: int
    runs: int
    seconds: float
    partial: bool = False
    extra: dict = field(default_factory=dict)


class _Tally:
    """One variant's replications, folded in replication order (Welford for the weekly KPIs)."""

    def __init__(self) -> None:
        self.n = 0
        self.blocks: list[tuple[tuple[str, ...], np.ndarray]] = []
        self.hits: list[np.ndarray] = []
        self.cumulative: list[np.ndarray] = []
        self.firings: list[pd.DataFrame] = []
        self.without: list[tuple[int, str, float, float]] = []
        self.attainment: list[np.ndarray] = []
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None
        self.events = 0

    def fold(self, b: BatchResult) -> None:
        if self.mean is None or self.m2 is None:
            self.mean, self.m2 = np.zeros(b.weekly.shape[1:]), np.zeros(b.weekly.shape[1:])
        for w in b.weekly:
            self.n += 1
            delta = w - self.mean
            self.mean += delta / self.n
            self.m2 += delta * (w - self.mean)
        self.blocks.append((b.columns, b.values))
        self.hits.append(b.values[:, b.columns.index("hit")] >= 0.5)
        self.attainment.append(b.values[:, b.columns.index("attainment")])
        self.without.extend(b.without)
        self.cumulative.append(b.weekly[:, :, K["bookings_cum"]].astype(np.float32))
        if b.firings is not None:
            self.firings.append(b.firings)
        self.events += b.events


class Collector:
    """Streams batch results in, in any order; folds each replication range once, in order.

    A range is folded when every variant has delivered it, so all variants always cover the
    same replications 0..n-1 (paired comparisons stay paired, even in a partial run); a
    variant retired once settled (`retire`) keeps its shorter sample and folds no more. A
    batch delivered twice (a worker retried after it had answered), or of a retired variant,
    is ignored.
    """

    def __init__(self, variants: list[str]):
        self.names = list(variants)
        self.tallies = {name: _Tally() for name in self.names}
        self.pending: dict[int, dict[str, BatchResult]] = {}
        self.folded = 0            # replications 0..folded-1 of every variant still folded are in
        self.received = 0          # replications received, all variants, duplicates excluded
        self.busy_seconds = 0.0

    def add(self, result: BatchResult) -> None:
        if (result.start < self.folded or result.variant not in self.names
                or result.variant in self.pending.get(result.start, {})):
            return
        self.pending.setdefault(result.start, {})[result.variant] = result
        self.received += len(result.values)
        self.busy_seconds += result.seconds
        while len(self.pending.get(self.folded, {})) == len(self.names):
            parts = self.pending.pop(self.folded)
            stops = {p.stop for p in parts.values()}
            if len(stops) != 1:
                raise RunError(f"variants were cut into different batches at replication {self.folded}")
            for name, part in parts.items():
                self.tallies[name].fold(part)
            self.folded = stops.pop()

    @property
    def years(self) -> int:
        """Years folded so far, all variants together (a retired one keeps its shorter sample)."""
        return sum(t.n for t in self.tallies.values())

    def retire(self, names: set[str]) -> None:
        """Fold these variants no more: their answers are settled (see `run_replications`'s
        `retire`), so the others play on without them and their samples stay as they are."""
        self.names = [n for n in self.names if n not in names]

    def all_hits(self) -> dict[str, np.ndarray]:
        """Whether each folded replication hit the target, by variant (the first is the headline)."""
        return {name: np.concatenate(t.hits) if t.hits else np.zeros(0, dtype=bool)
                for name, t in self.tallies.items()}

    def outcomes(self, name: str) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str, float, float]]]:
        """One variant's hits and attainment in replication order, and its forked years."""
        t = self.tallies[name]
        hits = np.concatenate(t.hits) if t.hits else np.zeros(0, dtype=bool)
        att = np.concatenate(t.attainment) if t.attainment else np.zeros(0)
        return hits, att, t.without

    def firings(self) -> pd.DataFrame:
        """Every rule firing of every variant, in replication order."""
        parts = [f.assign(variant=name) for name, t in self.tallies.items() for f in t.firings]
        if not parts:
            return pd.DataFrame(columns=["variant", *FIRING_COLUMNS])
        table = pd.concat(parts, ignore_index=True)
        return table[["variant", *FIRING_COLUMNS]]

    def variant(self, name: str, plan: Plan) -> VariantResults:
        t = self.tallies[name]
        weeks = int(np.ceil(plan.horizon.days / 7))
        index = pd.RangeIndex(0, t.n, name="replication")
        columns = list(dict.fromkeys(c for cols, _ in t.blocks for c in cols))
        if all(cols == tuple(columns) for cols, _ in t.blocks):
            values = np.concatenate([v for _, v in t.blocks]) if t.blocks else np.zeros((0, len(columns)))
            records = pd.DataFrame(values, columns=columns, index=index)
        else:   # a column appeared mid-run: align the blocks on the union of columns
            records = pd.concat([pd.DataFrame(v, columns=list(c)) for c, v in t.blocks], ignore_index=True)
            records = records[columns].set_axis(index)
        mean = t.mean if t.mean is not None else np.zeros((weeks, len(KPI_COLUMNS)))
        sd = np.sqrt(np.maximum(t.m2 / t.n, 0.0)) if t.m2 is not None and t.n else np.zeros_like(mean)
        cumulative = np.concatenate(t.cumulative) if t.cumulative else np.zeros((0, weeks), np.float32)
        frame = lambda a: pd.DataFrame(a, columns=list(KPI_COLUMNS), index=pd.RangeIndex(1, len(a) + 1, name="week"))
        return VariantResults(name, plan, records, frame(mean), frame(sd), cumulative, t.events)


LOOK_MIN_BATCH = 1      # a round that ends at a look is short: its last batches are single years


def guided_cuts(start: int, stop: int, workers: int, smallest: int = MIN_BATCH) -> list[tuple[int, int]]:
    """Replications [start, stop) cut into batches that shrink towards the end (guided
    self-scheduling): each takes a 1/(2 x workers) share of what is left, so the first are few
    and cheap to send, and the last are short, leaving no worker idle for long while the others
    finish a round (the years of a round are played before its look)."""
    cuts, lo = [], start
    while lo < stop:
        left = stop - lo
        size = min(left, max(smallest, min(MAX_BATCH, math.ceil(left / (2 * max(1, workers))))))
        cuts.append((lo, lo + size))
        lo += size
    return cuts


class Valuer(Protocol):
    """Values rules while the run plays (see `rule_value.Valuation`)."""

    end: int        # replications 0..end-1 may fork; rounds are cut there

    def plan(self, cap: int) -> None: ...

    def rules(self, variant: str) -> tuple[str, ...]: ...

    def look(self, n: int, collector: "Collector") -> None: ...

    def keep(self, collector: "Collector") -> None: ...


def plan_batches(variants: dict[str, Plan], seed: int, start: int, stop: int, batch_size: int | None,
                 valuer: Valuer | None = None, workers: int = 1, smallest: int = MIN_BATCH) -> list[Batch]:
    """Cut replications [start, stop) of every variant into batches, interleaving variants:
    `batch_size` years each, or by default `guided_cuts` for `workers`."""
    if batch_size:
        cuts = [(lo, min(stop, lo + batch_size)) for lo in range(start, stop, batch_size)]
    else:
        cuts = guided_cuts(start, stop, workers, smallest)
    out = []
    for lo, hi in cuts:
        out.extend(Batch(name, plan, seed, lo, hi, valuer.rules(name) if valuer and lo < valuer.end else ())
                   for name, plan in variants.items())
    return out


def _replay_chunk(job: tuple[Plan, int, list[int], bool]) -> list[tuple[int, Year | dict[str, float]]]:
    """Each year whole, to keep in the cache, or only its record."""
    plan, seed, replications, whole = job
    if whole:
        return [(r, play_year(plan, seed, r)) for r in replications]
    return [(r, simulate_year(plan, seed, r).record) for r in replications]


def replay_records(plan: Plan, seed: int, replications: list[int], *, workers: int | None = None,
                   executor: Executor | None = None, cache: ReplicationCache | None = None,
                   progress: Progress | None = None) -> dict[int, dict[str, float]]:
    """The flat records of chosen replications of `plan` (say, the years in which a rule
    fired, played again without it), on all cores; identical to playing them one by one.
    With a `cache`, years already kept are read, and the years played are kept."""
    wanted = sorted(set(replications))
    out: dict[int, dict[str, float]] = {}
    for r in wanted if cache is not None else ():
        kept = cache.load(plan, seed, (), range(r, r + 1))
        if kept is not None:
            out[r] = kept[0][0]
    todo = [r for r in wanted if r not in out]
    if not todo:
        return out
    ex = executor or make_executor(workers)
    try:
        jobs = [(plan, seed, todo[lo:hi], cache is not None)
                for lo, hi in guided_cuts(0, len(todo), getattr(ex, "workers", 1))]
        for chunk in ex.map_unordered(_replay_chunk, jobs):
            for r, year in chunk:
                if cache is None:
                    out[r] = year
                else:
                    out[r] = year[0]
                    cache.store(plan, seed, (), r, [year])
            if progress is not None:
                progress(len(out), len(wanted))
    finally:
        if executor is None:
            ex.close()
    if len(out) != len(wanted):
        raise RunError(f"replayed {len(out)} of {len(wanted)} replications")
    return out


def runner_options(args: object) -> dict:
    """The runner's keyword arguments taken from parsed command-line options."""
    backend = getattr(args, "backend", None) or "local"
    scheduler = getattr(args, "scheduler", None)
    if scheduler and backend != "dask":
        raise UsageError(f"--scheduler {scheduler} needs --backend dask")
    if backend == "dask" and not scheduler:     # refused before a run folder is made
        raise UsageError("--backend dask needs --scheduler ADDRESS, e.g. tcp://127.0.0.1:8786")
    return {"workers": getattr(args, "workers", None), "batch_size": getattr(args, "batch_size", None),
            "precision": getattr(args, "precision", None), "max_runs": getattr(args, "max_runs", None),
            "backend": backend, "scheduler": scheduler, "cache": cache_of(args)}


def cache_of(args: object) -> ReplicationCache | None:
    """The replication cache under the results root, unless --no-cache, the environment says
    SIMULATE_NO_CACHE=1 (test suites and benchmarks, which must play), or no results root."""
    results = getattr(args, "results", None)
    if results is None or getattr(args, "no_cache", False) or os.environ.get("SIMULATE_NO_CACHE") == "1":
        return None
    return ReplicationCache(Path(results) / ".cache")


def run_replications(variants: dict[str, Plan] | Plan, runs: int, seed: int, *,
                     workers: int | None = None, batch_size: int | None = None,
                     progress: Progress | None = None, executor: Executor | None = None,
                     precision: float | None = None, max_runs: int | None = None,
                     backend: str = "local", scheduler: Any = None,
                     collector: "Collector | None" = None, settle: Settle | None = None,
                     retire: Retire | None = None, valuer: Valuer | None = None,
                     cache: ReplicationCache | None = None) -> RunResults:
    """Simulate `runs` years of each variant on common random numbers.

    With `precision`, `runs` is the first round: rounds follow until the 95 % half-width of
    P(hit) (of the paired difference to the first variant, with several variants) is at most
    `precision`, or `max_runs` (default 100,000) replications per variant are done.
    With `settle` (not with `precision`), the run looks at its hits every `LOOK` replications
    and stops at the first look where `settle(hits by variant)` holds (see `sequential`).
    With `retire`, the variants are independent answers (sizes tried by a search, each
    against its own bar): at each look the variants `retire(hits by variant)` names stop,
    the others play on, and the run stops when none is left. Their samples differ in length
    then (the run's `runs` is the longest), so they are not for paired comparisons.
    A `valuer` values rules while they play: it says which rules each batch forks at their
    first firing, and it looks at the results after each round.
    A `collector` already holding replications 0..k-1 (a resumed run) is carried on from k.
    With a `cache`, years already played are read instead of played, and new ones are kept.
    """
    if isinstance(variants, Plan):
        variants = {"plan": variants}
    if retire is not None and valuer is not None:
        raise UsageError("rules are valued on paired years: a run that retires variants cannot value them")
    if precision is not None and not 0 < precision < 1:
        raise UsageError(f"precision(={precision}) must be a half-width between 0 and 1, e.g. 0.01")
    if precision is None:
        cap = runs if max_runs is None else min(runs, max_runs)
    else:
        cap = max_runs if max_runs is not None else max(runs, MAX_RUNS)
    t0 = time.perf_counter()
    collector = collector or Collector(list(variants))
    own = executor is None
    ex = executor or make_executor(workers, backend, scheduler)
    n_workers = getattr(ex, "workers", 1)
    if precision is not None:
        settle = retire = None
    playing = {name: plan for name, plan in variants.items() if name in collector.names}    # not retired
    target, rounds, batches, partial, settled = min(runs, cap), 0, 0, False, False
    if valuer is not None:
        valuer.plan(target if precision is None else cap)
    hits_before = cache.hits if cache is not None else 0
    received, folded, playing_at_start = collector.received, collector.folded, len(playing)   # the bar's start
    try:
        while target > collector.folded:
            stop = min(target, _next_look(collector.folded, settle or retire, valuer))
            smallest = LOOK_MIN_BATCH if stop < target else MIN_BATCH
            work = plan_batches(playing, seed, collector.folded, stop, batch_size, valuer, n_workers, smallest)
            batches += len(work)
            planned = received + ((target if precision is None else cap) - folded) * playing_at_start
            if cache is not None:
                kept = [(b, cache.load(b.plan, b.seed, b.value_rules, range(b.start, b.stop))) for b in work]
                for b, years in kept:
                    if years is not None:
                        collector.add(assemble(b, years, 0.0))
                        if progress:
                            progress(collector.received, planned)
                work = [b for b, years in kept if years is None]
            by_start = {(b.variant, b.start): b for b in work}
            for result in ex.map_unordered(run_batch, work):
                collector.add(result)
                if cache is not None:
                    b = by_start[(result.variant, result.start)]
                    cache.store(b.plan, b.seed, b.value_rules, b.start, years_of(result))
                if progress:
                    progress(collector.received, planned)
            rounds += 1
            if collector.folded != stop:
                raise RunError(f"the executor returned replications 0..{collector.folded - 1} "
                               f"of 0..{stop - 1}; refusing to report a smaller sample")
            if valuer is not None and stop <= valuer.end:
                valuer.look(stop, collector)
            if retire is not None:
                hits = collector.all_hits()
                done = retire({name: hits[name] for name in playing})
                collector.retire(done)
                playing = {name: plan for name, plan in playing.items() if name not in done}
                settled = not playing
                if settled:
                    break
            if stop < target:
                if settle is not None and settle(collector.all_hits()):
                    settled = True
                    break
                continue
            if settle is not None:      # the last look: say whether the answer is settled too
                settled = settle(collector.all_hits())
            if precision is None or stop >= cap:
                break
            reached = precision_report(collector.all_hits(), precision)["reached"]
            if reached <= precision:
                break
            target = next_round_stop(stop, reached, precision, cap)
    except KeyboardInterrupt:
        partial = True
    finally:
        if own:
            ex.close()
    results = {name: collector.variant(name, plan) for name, plan in variants.items()}
    hits = collector.all_hits()
    paired = retire is None and len({len(h) for h in hits.values()}) == 1    # the same years, not settled alone
    reached = precision_report(hits, precision, paired=paired)
    extra: dict[str, Any] = {"precision": {**reached, "rounds": rounds,
                           "max_runs": cap if precision is not None else None},
             "execution": {"backend": getattr(ex, "name", type(ex).__name__), "workers": n_workers,
                           "batches": batches, "busy_seconds": collector.busy_seconds,
                           "cached_years": cache.hits - hits_before if cache is not None else 0}}
    if settle is not None or retire is not None:
        extra["sequential"] = {"settled": settled, "runs": collector.folded, "max_runs": min(runs, cap)}
    if valuer is not None:
        valuer.keep(collector)
        extra["valuation"] = valuer
    if any(getattr(plan, "rules", None) for plan in variants.values()):
        extra["firings"] = collector.firings()
    return RunResults(results, seed, collector.folded, time.perf_counter() - t0, partial, extra)


def _next_look(folded: int, settle: Settle | Retire | None, valuer: Valuer | None) -> int:
    """The next replication count at which the run looks at its results (no look: no limit)."""
    nxt = (folded // LOOK + 1) * LOOK
    marks = [nxt] if settle is not None else []
    if valuer is not None and folded < valuer.end:
        marks.append(min(nxt, valuer.end))
    return min(marks, default=math.inf)  # type: ignore[arg-type]
