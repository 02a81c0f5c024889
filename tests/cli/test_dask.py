"""The Dask backend: a cluster plays the same replications as this process, even when one of
its workers is killed mid-run. The cluster is a LocalCluster bound to 127.0.0.1."""

from __future__ import annotations

import os
import signal
import time

import pytest
from factory import make_plan
from results_checks import assert_same

from simulate.run.executors import DaskCluster, InProcess
from simulate.run.runner import run_batch, run_replications

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow   # a cluster takes seconds to start

SEED = 11


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=40)
    c = Client(cluster, set_as_default=False)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def variants():
    return {"plan": make_plan(), "more_leads": make_plan({"channels": [
        {"name": "web", "segment": "SMB", "budget_share": 1.0, "leads_per_year": 130}]})}


@pytest.fixture(scope="module")
def reference(variants):
    return run_replications(variants, 60, SEED, executor=InProcess())


def test_a_dask_cluster_gives_the_same_results_as_one_process(client, variants, reference):
    got = run_replications(variants, 60, SEED, executor=DaskCluster(client), batch_size=8)
    assert_same(reference, got)


def test_a_precision_run_on_dask_matches_the_local_one(client, variants):
    local = run_replications(variants, 40, SEED, workers=2, precision=0.05)
    remote = run_replications(variants, 40, SEED, executor=DaskCluster(client), precision=0.05)
    assert_same(local, remote)
    assert remote.extra["precision"] == local.extra["precision"]


def slow_batch(batch):
    """A batch that takes long enough to be caught mid-run."""
    time.sleep(0.3)
    return run_batch(batch)


class SlowDask(DaskCluster):
    def map_unordered(self, task, items):
        return super().map_unordered(slow_batch, items)


def test_a_worker_killed_mid_run_is_replaced_without_losing_or_doubling_replications(
        client, variants, reference):
    pids = sorted(client.run(os.getpid).values())
    killed: list[int] = []

    def kill_one_worker(done: int, total: int) -> None:
        if not killed:   # a batch is in flight on every worker: kill one of them
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    got = run_replications(variants, 60, SEED, executor=SlowDask(client), batch_size=5,
                           progress=kill_one_worker)
    assert killed
    assert_same(reference, got)
    assert got.extra["execution"]["batches"] == 24
