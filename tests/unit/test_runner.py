"""The runner: the same replications whatever the workers, batches or order of arrival;
precision rounds that stop on the data, never on timing; a dead worker costs no replication."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS
from factory import make_plan
from results_checks import assert_same

from simulate.cli.main import COMMANDS, main
from simulate.engine.year import simulate_year
from simulate.errors import RunError, UsageError
from simulate.run.executors import InProcess, LocalPool
from simulate.run.options import build_parser
from simulate.run.precision import next_round_stop, paired_half_width, wilson_half_width
from simulate.run.runner import (
    Collector,
    RunResults,
    plan_batches,
    replay_records,
    run_batch,
    run_replications,
    runner_options,
)
from simulate.stats.paired import paired_proportion
from simulate.stats.sample_stats import wilson

SEED = 7


@pytest.fixture(scope="module")
def variants():
    """A plan and a companion with 30 % more leads: the same worlds, paired."""
    return {"plan": make_plan(), "more_leads": make_plan({"channels": [
        {"name": "web", "segment": "SMB", "budget_share": 1.0, "leads_per_year": 130}]})}


@pytest.fixture(scope="module")
def reference(variants) -> RunResults:
    return run_replications(variants, 45, SEED, executor=InProcess(), batch_size=45)


@pytest.mark.parametrize("workers, batch_size", [(1, 1), (1, 4), (2, 1), (2, 7), (2, None)])
def test_results_are_identical_for_any_workers_and_batch_size(variants, reference, workers, batch_size):
    assert_same(reference, run_replications(variants, 45, SEED, workers=workers, batch_size=batch_size))


def test_a_shorter_run_is_a_prefix_of_a_longer_one(variants, reference):
    short = run_replications(variants, 20, SEED, executor=InProcess())
    for name, v in short.variants.items():
        pd.testing.assert_frame_equal(v.records, reference.variants[name].records.iloc[:20], check_exact=True)
        np.testing.assert_array_equal(v.cumulative, reference.variants[name].cumulative[:20])


def test_batches_arriving_out_of_order_or_twice_are_folded_once_in_order(variants, reference):
    results = [run_batch(b) for b in plan_batches(variants, SEED, 0, 45, 6)]
    shuffled = results + results[:5]
    random.Random(1).shuffle(shuffled)
    collector = Collector(list(variants))
    for r in shuffled:
        collector.add(r)
    assert collector.folded == 45 and collector.received == 2 * 45
    got = RunResults({n: collector.variant(n, p) for n, p in variants.items()}, SEED, 45, 0.0)
    assert_same(reference, got)


def test_rule_firings_are_collected_in_replication_order_with_their_variant():
    from simulate.cli.bench import scaled_plan  # noqa: F401  (bench imports cleanly)
    plan = make_plan({"rules": [{"name": "r", "check": "weekly", "when": "day >= 70", "once": True,
                                 "then": [{"action": "scale_win_rate", "factor": 1.2}]}]})
    one = run_replications(plan, 12, SEED, executor=InProcess(), batch_size=12)
    many = run_replications(plan, 12, SEED, workers=2, batch_size=5)
    f = one.extra["firings"]
    assert list(f.columns) == ["variant", "replication", "day", "rule", "action", "params", "cost"]
    assert list(f["replication"]) == list(range(12)) and set(f["rule"]) == {"r"}
    pd.testing.assert_frame_equal(f, many.extra["firings"], check_exact=True)
    assert "firings" not in run_replications(make_plan(), 3, SEED, executor=InProcess()).extra


def test_records_keep_one_row_per_replication_indexed_by_replication(reference):
    rec = reference.variants["plan"].records
    assert list(rec.index) == list(range(45)) and rec.index.name == "replication"
    assert set(rec["hit"].unique()) <= {0.0, 1.0}
    assert reference.variants["plan"].cumulative.shape == (45, 53)


def test_chosen_replications_replay_on_all_cores_exactly_as_one_by_one(variants):
    plan, chosen = variants["plan"], [3, 17, 4, 40, 41, 42, 0]
    got = replay_records(plan, SEED, chosen, workers=2)
    assert got == {r: simulate_year(plan, SEED, r).record for r in chosen}


# -- precision ----------------------------------------------------------------------------
def test_precision_runs_rounds_until_the_wilson_half_width_is_reached(variants):
    plan = {"plan": variants["plan"]}
    res = run_replications(plan, 50, SEED, executor=InProcess(), precision=0.05)
    p = res.extra["precision"]
    assert p["measure"] == "p_hit" and p["met"] and p["reached"] <= 0.05
    assert p["runs"] == res.runs == len(res.variants["plan"].records) > 50
    assert p["rounds"] >= 2
    hits = res.variants["plan"].records["hit"].sum()
    lo, hi = wilson(hits, res.runs)
    assert p["reached"] == pytest.approx((hi - lo) / 2)
    again = run_replications(plan, 50, SEED, workers=2, batch_size=7, precision=0.05)
    assert_same(res, again)   # rounds end on the data, not on worker timing


def test_max_runs_caps_a_precision_run_and_says_the_target_was_missed(variants):
    res = run_replications(variants["plan"], 40, SEED, executor=InProcess(), precision=0.001, max_runs=120)
    p = res.extra["precision"]
    assert res.runs == 120 and p["max_runs"] == 120 and p["met"] is False and p["reached"] > 0.001


def test_with_variants_precision_is_the_paired_difference(variants):
    res = run_replications(variants, 40, SEED, workers=2, precision=0.05)
    p = res.extra["precision"]
    assert p["measure"] == "paired_difference" and p["compared_with"] == "plan"
    assert set(p["by_variant"]) == {"more_leads"} and p["met"]
    a = res.variants["plan"].records["hit"].to_numpy() > 0.5
    b = res.variants["more_leads"].records["hit"].to_numpy() > 0.5
    assert p["reached"] == pytest.approx(paired_half_width(a, b))
    assert len(a) == len(b) == res.runs


def test_paired_half_width_is_the_summary_interval_and_honest_when_no_pair_disagrees_yet():
    same = np.ones(50, dtype=bool)
    assert 0 < paired_half_width(same, same) < 0.06
    assert paired_half_width(same, same) > paired_half_width(np.ones(500, bool), np.ones(500, bool))
    a, b = np.array([1, 1, 0, 0] * 100, bool), np.array([1, 0, 1, 0] * 100, bool)
    lo, hi = paired_proportion(a, b)[1]
    assert paired_half_width(a, b) == pytest.approx((hi - lo) / 2)
    # discordant pairs 1 in 2: close to the Wald value 1.96 * sqrt(0.5 / 400)
    assert paired_half_width(a, b) == pytest.approx(1.96 * np.sqrt(0.5 / 400), rel=0.02)


def test_rounds_aim_at_the_projected_need_in_whole_hundreds_and_respect_the_cap():
    assert next_round_stop(1000, 0.02, 0.01, 100_000) == 4200       # 4x the runs, plus 5 %
    assert next_round_stop(1000, 0.0101, 0.01, 100_000) == 1100     # at least one more hundred
    assert next_round_stop(100, 0.5, 0.01, 100_000) == 800          # at most 8x per round
    assert next_round_stop(1000, 0.02, 0.01, 2500) == 2500


def test_wilson_half_width_is_half_the_summary_interval():
    for hits, n in [(0, 10), (3, 10), (660, 1000), (1000, 1000)]:
        lo, hi = wilson(hits, n)
        assert wilson_half_width(hits, n) == pytest.approx((hi - lo) / 2)


def test_a_wilson_interval_holds_its_estimate_even_at_0_and_100_percent():
    """At 0 or n hits the score bound equals the estimate; rounding once left it 1e-17 outside
    (wilson(0, 3)), and a chart's error bar came out negative."""
    for n in range(1, 400):
        for hits in (0, 1, n // 2, n - 1, n):
            lo, hi = wilson(hits, n)
            assert 0.0 <= lo <= hits / n <= hi <= 1.0, (hits, n)


# -- failures -----------------------------------------------------------------------------
class DiesOn:
    """A task whose worker process dies on the batch starting at `start` (once, or always)."""

    def __init__(self, marker: Path, start: int, always: bool = False):
        self.marker, self.start, self.always = marker, start, always

    def __call__(self, batch):
        if batch.start == self.start and (self.always or not self.marker.exists()):
            self.marker.touch()
            os._exit(9)
        return run_batch(batch)


class Sabotaged(LocalPool):
    def __init__(self, workers: int, task):
        super().__init__(workers)
        self.task = task

    def map_unordered(self, task, items):
        return super().map_unordered(self.task, items)


def test_a_dead_worker_is_replaced_and_its_batches_replayed(variants, reference, tmp_path):
    ex = Sabotaged(2, DiesOn(tmp_path / "died", start=20))
    try:
        got = run_replications(variants, 45, SEED, executor=ex, batch_size=5)
    finally:
        ex.close()
    assert (tmp_path / "died").exists()
    assert_same(reference, got)


def test_a_worker_dying_again_fails_the_run_loudly(variants, tmp_path):
    ex = Sabotaged(2, DiesOn(tmp_path / "died", start=20, always=True))
    try:
        with pytest.raises(RunError, match="worker process died 2 times"):
            run_replications(variants, 45, SEED, executor=ex, batch_size=5)
    finally:
        ex.close()



# -- command line -------------------------------------------------------------------------
def options(*argv: str) -> dict:
    return runner_options(build_parser().parse_args(["plan.yaml", *argv]))


def test_command_line_options_reach_the_runner():
    o = options("--workers", "3", "--precision", "1%", "--max-runs", "5000", "--batch-size", "50")
    assert o == {"workers": 3, "batch_size": 50, "precision": 0.01, "max_runs": 5000,
                 "backend": "local", "scheduler": None, "cache": None}     # the suite plays every year
    assert options("--backend", "dask", "--scheduler", "tcp://127.0.0.1:8786")["backend"] == "dask"


def test_the_cache_lives_under_the_results_root_unless_switched_off(monkeypatch):
    from pathlib import Path
    monkeypatch.delenv("SIMULATE_NO_CACHE")
    assert options("--results", "runs")["cache"].root == Path("runs") / ".cache"
    assert options("--no-cache")["cache"] is None
    monkeypatch.setenv("SIMULATE_NO_CACHE", "1")
    assert options()["cache"] is None


@pytest.mark.parametrize("argv, message", [
    (["--backend", "dask"], "needs --scheduler"),
    (["--scheduler", "tcp://127.0.0.1:8786"], "needs --backend dask"),
    (["--precision", "2"], "between 0 and 1"),
    (["--precision", "tight"], "got 'tight'"),
    (["--backend", "spark"], "invalid choice"),
])
def test_bad_runner_options_are_usage_errors(argv, message):
    with pytest.raises(UsageError, match=message):
        options(*argv)


def test_bench_is_a_registered_command():
    assert "bench" in COMMANDS


def test_bench_scales_the_plan_it_measures():
    from simulate.cli.bench import bare_simpy_rate, longer_horizon, scaled_plan
    plan = make_plan()
    big = scaled_plan(plan, 10)
    assert len(big.team.reps) == 10 * len(plan.team.reps)
    assert len({r.name for r in big.team.reps}) == len(big.team.reps)
    assert big.channels[0].leads_per_year == 10 * plan.channels[0].leads_per_year
    assert big.target.annual == 10 * plan.target.annual
    assert longer_horizon(plan, 3).horizon.days == 3 * plan.horizon.days
    assert bare_simpy_rate(seconds=0.01, processes=10) > 0


@pytest.mark.slow
def test_bench_quick_measures_every_target(capsys):
    """The benchmark runs end to end and reports a number for each of the issue's targets."""
    assert main(["bench", str(SCENARIOS / "baseline.yaml"), "--quick", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["bare_simpy_events_per_second"] > 0 and m["overhead_per_event"] > 1
    assert m["one_process"]["rate"] > 0 and m["one_process"]["rounds"] == 3
    assert m["one_process"]["events_per_replication"] > 1000
    assert m["all_cores"]["rate"] > 0 and 0 < m["parallel_efficiency"]
    assert m["memory"]["main_mb"] > 0 and m["aggregation"]["main_mb"] > 0
    assert m["plan_10x"]["cost_ratio"] > 1 and m["horizon_3y"]["cost_ratio"] > 1


def _pid_after(seconds: float) -> int:
    import time
    time.sleep(seconds)
    return os.getpid()


def test_a_task_aside_runs_in_another_process_and_hands_its_result_back():
    from simulate.run.executors import aside, default_workers
    with aside(_pid_after, 0.0) as result:
        pid = result()
    assert (pid != os.getpid()) == (default_workers() >= 2)


def test_a_caller_that_fails_stops_the_task_aside():
    """The task's result is no longer wanted: it is terminated, not waited for."""
    import multiprocessing
    import signal

    from simulate.run.executors import aside, default_workers
    if default_workers() < 2:
        pytest.skip("one core: the task runs at the call, nothing is aside")
    with pytest.raises(ZeroDivisionError):
        with aside(_pid_after, 30.0):
            children = multiprocessing.active_children()
            1 / 0
    assert children and all(p.exitcode == -signal.SIGTERM for p in children)
    assert not multiprocessing.active_children()
