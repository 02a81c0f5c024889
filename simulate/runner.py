"""Repeat the simulated year into a distribution: the Monte Carlo runner.

Replication r of a run always uses the streams of (seed, r), so the results do not depend
on how replications are batched or which worker ran them. Batches go to an executor (a
local process pool by default); their results stream back into a `Collector`, which keeps
one small row per replication and running sums of the weekly KPIs, never whole ledgers.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Callable, Iterator, Protocol

import numpy as np
import pandas as pd

from .errors import RunError
from .ledger import KPI_COLUMNS, K, ReplicationResult
from .model import simulate_year
from .plan import Plan

Progress = Callable[[int, int], None]   # (replications done, replications planned)


@dataclass
class Batch:
    """A slice of replications of one plan variant, small enough to ship to a worker."""

    variant: str
    plan: Plan
    seed: int
    start: int
    stop: int


@dataclass
class BatchResult:
    variant: str
    start: int
    records: list[dict[str, float]]
    weekly_sum: np.ndarray
    weekly_sq: np.ndarray
    cumulative: np.ndarray          # (replications, weeks) bookings to date, float32
    events: int
    seconds: float


def run_batch(batch: Batch) -> BatchResult:
    """Simulate replications [start, stop) of one variant (runs in a worker process)."""
    t0 = time.perf_counter()
    records, weekly = [], []
    events = 0
    for r in range(batch.start, batch.stop):
        result: ReplicationResult = simulate_year(batch.plan, batch.seed, r)
        rec = dict(result.record)
        rec["replication"] = float(r)
        records.append(rec)
        weekly.append(result.weekly)
        events += result.events
    w = np.asarray(weekly)
    return BatchResult(batch.variant, batch.start, records, w.sum(axis=0), (w**2).sum(axis=0),
                       w[:, :, K["bookings_cum"]].astype(np.float32), events,
                       time.perf_counter() - t0)


class Executor(Protocol):
    """Runs batches somewhere and yields their results as they complete."""

    def map_unordered(self, batches: list[Batch]) -> Iterator[BatchResult]: ...

    def close(self) -> None: ...


class InProcess:
    """Runs batches one after another in this process (workers=1, tests, debugging)."""

    def map_unordered(self, batches: list[Batch]) -> Iterator[BatchResult]:
        for b in batches:
            yield run_batch(b)

    def close(self) -> None:
        pass


class LocalPool:
    """A pool of worker processes on this machine."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=get_context("fork"))

    def map_unordered(self, batches: list[Batch]) -> Iterator[BatchResult]:
        from concurrent.futures import as_completed
        futures: list[Future] = [self._pool.submit(run_batch, b) for b in batches]
        try:
            for fut in as_completed(futures):
                try:
                    yield fut.result()
                except Exception as exc:   # a worker crashed: never return a smaller sample
                    raise RunError(f"a worker failed while simulating: {exc}") from exc
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def make_executor(workers: int | None) -> Executor:
    n = default_workers() if workers is None else workers
    return InProcess() if n <= 1 else LocalPool(n)


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


class Collector:
    """Streams batch results in; keeps rows and running sums, ordered by replication."""

    def __init__(self) -> None:
        self.batches: dict[str, list[BatchResult]] = {}

    def add(self, result: BatchResult) -> None:
        self.batches.setdefault(result.variant, []).append(result)

    def done(self, variant: str) -> int:
        return sum(len(b.records) for b in self.batches.get(variant, []))

    def variant(self, name: str, plan: Plan) -> VariantResults:
        parts = sorted(self.batches.get(name, []), key=lambda b: b.start)
        rows = [rec for b in parts for rec in b.records]
        n = len(rows)
        weeks = int(np.ceil(plan.horizon.days / 7))
        if n:
            s = sum(b.weekly_sum for b in parts)
            sq = sum(b.weekly_sq for b in parts)
            mean = s / n
            sd = np.sqrt(np.maximum(sq / n - mean**2, 0.0))
            cumulative = np.concatenate([b.cumulative for b in parts])
        else:
            mean = sd = np.zeros((weeks, len(KPI_COLUMNS)))
            cumulative = np.zeros((0, weeks), dtype=np.float32)
        records = pd.DataFrame(rows)
        if n:
            records["replication"] = records["replication"].astype(int)
            records = records.set_index("replication")
        frame = lambda a: pd.DataFrame(a, columns=list(KPI_COLUMNS), index=pd.RangeIndex(1, weeks + 1, name="week"))
        return VariantResults(name, plan, records, frame(mean), frame(sd), cumulative,
                              sum(b.events for b in parts))


def plan_batches(variants: dict[str, Plan], seed: int, start: int, stop: int, batch_size: int) -> list[Batch]:
    """Cut replications [start, stop) of every variant into batches, interleaving variants."""
    out = []
    for lo in range(start, stop, batch_size):
        hi = min(stop, lo + batch_size)
        out.extend(Batch(name, plan, seed, lo, hi) for name, plan in variants.items())
    return out


def runner_options(args: object) -> dict:
    """The runner's keyword arguments taken from parsed command-line options."""
    return {"workers": getattr(args, "workers", None)}


def run_replications(variants: dict[str, Plan] | Plan, runs: int, seed: int, *,
                     workers: int | None = None, batch_size: int | None = None,
                     progress: Progress | None = None,
                     executor: Executor | None = None) -> RunResults:
    """Simulate `runs` years of each variant on common random numbers."""
    if isinstance(variants, Plan):
        variants = {"plan": variants}
    n_workers = default_workers() if workers is None else workers
    size = batch_size or max(1, min(100, -(-runs // (4 * max(1, n_workers)))))
    t0 = time.perf_counter()
    collector = Collector()
    own = executor is None
    ex = executor or make_executor(n_workers)
    total = runs * len(variants)
    partial = False
    try:
        for result in ex.map_unordered(plan_batches(variants, seed, 0, runs, size)):
            collector.add(result)
            if progress:
                progress(sum(collector.done(v) for v in variants), total)
    except KeyboardInterrupt:
        partial = True
    finally:
        if own:
            ex.close()
    results = {name: collector.variant(name, plan) for name, plan in variants.items()}
    done = min((len(v.records) for v in results.values()), default=0)
    return RunResults(results, seed, done if partial else runs, time.perf_counter() - t0, partial)

