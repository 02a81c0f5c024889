"""Where the simulated years are played: this process, a local process pool, or a Dask cluster.

An executor takes a task and a list of work items (batches of replications) and hands the
results back as they complete, in any order. That is the whole interface, so the runner does
not care whether the years are played on this laptop's cores or on a rack of servers. A
worker that dies mid-batch costs time, never replications: its batches are played again.
"""

from __future__ import annotations

import gc
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import get_all_start_methods, get_context
from typing import Any, Callable, Iterator, Protocol, Sequence, TypeVar

from ..engine.branch import ctrl_c_held, ctrl_c_released
from ..errors import RunError, UsageError

Task = Callable[[Any], Any]
T = TypeVar("T")

WATCHDOG_SECONDS = 2.0     # how often a waiting run checks that its workers are alive


class Executor(Protocol):
    """Runs `task(item)` for every item somewhere; yields the results as they complete."""

    name: str       # "in-process", "local", "dask": reported with the results
    workers: int    # how many batches run at once, for sizing batches

    def map_unordered(self, task: Task, items: Sequence[Any]) -> Iterator[Any]: ...

    def close(self) -> None: ...


def default_workers() -> int:
    """The cores this process may use (respects CPU affinity and container limits)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class InProcess:
    """Plays the batches one after another in this process (workers=1, tests, debugging)."""

    name = "in-process"
    workers = 1

    def map_unordered(self, task: Task, items: Sequence[Any]) -> Iterator[Any]:
        for item in items:
            yield task(item)

    def close(self) -> None:
        pass


class LocalPool:
    """A pool of worker processes on this machine, forked so they start in milliseconds.

    If a worker process dies (killed, out of memory), the pool breaks; the batches that had
    not come back are played again once in a fresh pool. A second death raises `RunError`:
    a smaller sample is never returned silently.
    """

    name = "local"

    def __init__(self, workers: int, retries: int = 1):
        if workers < 1:
            raise UsageError(f"workers(={workers}) must be >= 1")
        self.workers = workers
        self.retries = retries
        self._pool: ProcessPoolExecutor | None = None

    def _fresh_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Everything alive now (modules, the plan) lives as long as the workers: freezing
            # it before the fork keeps the workers' collector from scanning, and copying, the
            # parent's pages between years (Python's advice for fork without exec).
            gc.freeze()
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("fork"),
                                             initializer=ctrl_c_released,
                                             initargs=(signal.getsignal(signal.SIGINT),))
        return self._pool

    def map_unordered(self, task: Task, items: Sequence[Any]) -> Iterator[Any]:
        todo = dict(enumerate(items))
        for attempt in range(self.retries + 1):
            pool = self._fresh_pool()
            with ctrl_c_held():     # the first submit forks the workers
                futures: dict[Future, int] = {pool.submit(task, item): i for i, item in todo.items()}
            broken: BaseException | None = None
            try:
                pending = set(futures)
                while pending and broken is None:
                    done, pending = wait(pending, timeout=WATCHDOG_SECONDS, return_when=FIRST_COMPLETED)
                    if not done and _a_worker_died(pool):
                        # A worker killed at the wrong moment can leave the pool waiting
                        # forever instead of breaking: treat it as broken ourselves.
                        broken = BrokenProcessPool("a worker process died and the pool stalled")
                    for fut in done:
                        i = futures.pop(fut)
                        try:
                            result = fut.result()
                        except BrokenProcessPool as exc:
                            broken = exc
                            continue
                        del todo[i]
                        yield result
            finally:
                for fut in futures:
                    fut.cancel()
            if broken is None:
                return
            self._discard_pool()
            if attempt == self.retries:
                raise RunError(f"a worker process died {attempt + 1} times; {len(todo)} of "
                               f"{len(items)} batches could not be simulated ({broken})") from broken

    def _discard_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@contextmanager
def aside(task: Callable[..., T], *args: Any) -> Iterator[Callable[[], T]]:
    """Run `task(*args)` in a forked process while this one goes on; the yielded call waits
    for its result. A second core idles once the years are played, and a run's workbook
    takes as long as its charts. The child is a fork, so neither the task nor its arguments
    are pickled (a chart's figure cannot be); only the result comes back. On one core, or
    without fork, the task runs at the call."""
    if default_workers() < 2 or "fork" not in get_all_start_methods():
        yield lambda: task(*args)
        return
    ctx = get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def child() -> None:
        try:
            outcome = (True, task(*args))
        except BaseException as exc:    # handed to the caller, raised there
            outcome = (False, exc)
        send.send(outcome)

    process = ctx.Process(target=child, daemon=True)
    with ctrl_c_held():         # a Ctrl-C in the child is its parent's to handle
        process.start()
    send.close()
    received = False

    def result() -> T:
        nonlocal received
        try:
            ok, value = receive.recv()
        except EOFError:
            raise RunError(f"the process writing aside died (exit code {process.exitcode})") from None
        received = True
        if not ok:
            raise value
        return value

    try:
        yield result
    finally:
        if not received:
            process.terminate()     # the caller failed or was interrupted: its result is not wanted
        process.join()
        receive.close()


def _a_worker_died(pool: ProcessPoolExecutor) -> bool:
    """True when one of the pool's worker processes has exited (it never should mid-run)."""
    processes = getattr(pool, "_processes", None) or {}    # private, but the only way to see it
    return any(p.exitcode is not None for p in list(processes.values()))


class DaskCluster:
    """Batches as tasks on a Dask distributed cluster (`--backend dask --scheduler ADDRESS`).

    The scheduler re-runs the tasks of a worker that is lost mid-run (up to its
    `distributed.scheduler.allowed-failures`), and `retries` re-runs a task that raised.
    Results are released as soon as they are read, so the cluster holds only what is in flight.
    """

    name = "dask"

    def __init__(self, scheduler: Any, retries: int = 1, timeout: float = 10.0):
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--backend dask needs Dask distributed: pip install 'simulate[dask]'") from None
        self.retries = retries
        if isinstance(scheduler, Client):
            self.client, self._own = scheduler, False
        else:
            try:
                self.client = Client(scheduler, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise RunError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
            self._own = True
        self.workers = max(1, sum(self.client.nthreads().values()))

    def map_unordered(self, task: Task, items: Sequence[Any]) -> Iterator[Any]:
        from distributed import as_completed as dask_completed
        from distributed.scheduler import KilledWorker
        futures = {self.client.submit(task, item, pure=False, retries=self.retries): i
                   for i, item in enumerate(items)}
        try:
            for fut in dask_completed(list(futures), loop=self.client.loop):
                futures.pop(fut)
                try:
                    result = fut.result()
                except KilledWorker as exc:
                    raise RunError(f"Dask workers kept dying on a batch of replications: {exc}") from exc
                del fut
                yield result
        finally:
            if futures:
                self.client.cancel(list(futures))

    def close(self) -> None:
        if self._own:
            self.client.close()


BACKENDS = ("local", "dask")


def make_executor(workers: int | None = None, backend: str = "local",
                  scheduler: Any = None) -> Executor:
    """The executor for a run: all local cores by default, or a Dask cluster."""
    if backend == "dask":
        if scheduler is None:
            raise UsageError("--backend dask needs --scheduler ADDRESS, e.g. tcp://127.0.0.1:8786")
        return DaskCluster(scheduler)
    if backend != "local":
        raise UsageError(f"unknown backend '{backend}'; expected one of: {', '.join(BACKENDS)}")
    n = default_workers() if workers is None else workers
    return InProcess() if n <= 1 else LocalPool(n)
