"""Sequential stopping keeps its error rate: runs on a model whose P(hit) is known exactly.

The model is a coin: replication r hits with probability p, drawn from its own stream of
(seed, r), so the runner, its looks and its batches are the real ones and only the year is
replaced. A verdict settled early on the wrong side of the bar is an error; the test counts
them over many seeds and checks that they stay within the 5 % spent (one side: 2.5 %).
"""

from __future__ import annotations

import numpy as np
import pytest
from factory import make_plan
from scipy import stats

from simulate.engine.ledger import KPI_COLUMNS
from simulate.run import runner
from simulate.run.runner import BatchResult, run_replications
from simulate.stats.sequential import ALPHA, LOOK, bars_settled, side_of_bar

CAP = 1000
BAR = 0.80


def coin(p: float):
    def run_batch(batch: runner.Batch) -> BatchResult:
        hits = np.array([np.random.default_rng([batch.seed, r]).random() < p
                         for r in range(batch.start, batch.stop)], dtype=float)
        values = np.column_stack([hits, hits])
        weekly = np.zeros((len(hits), 1, len(KPI_COLUMNS)))
        return BatchResult(batch.variant, batch.start, ("hit", "attainment"), values, weekly, 0, 0.0)
    return run_batch


def play(p: float, seeds: range, monkeypatch: pytest.MonkeyPatch, **kw) -> list[tuple[int, bool | None]]:
    """(years played, side settled on) for each seed."""
    monkeypatch.setattr(runner, "run_batch", coin(p))
    plan = make_plan()
    out = []
    for seed in seeds:
        res = run_replications(plan, CAP, seed, workers=1, settle=bars_settled({"plan": BAR}, CAP), **kw)
        hits = res.variants["plan"].records["hit"].to_numpy()
        side = side_of_bar(int(hits.sum()), len(hits), BAR, CAP) if res.runs < CAP else None
        out.append((res.runs, side))
    return out


@pytest.mark.parametrize("p", [0.77, 0.80, 0.83])
def test_a_settled_verdict_is_wrong_at_most_alpha_of_the_time(p, monkeypatch):
    """Near the bar, where errors are likeliest: stopping early on the wrong side happens in
    at most ALPHA / 2 of the runs (within the binomial noise of 400 runs)."""
    n = 400
    runs = play(p, range(n), monkeypatch)
    right = p >= BAR        # exactly at the bar passes
    errors = sum(1 for years, side in runs if years < CAP and side is not None and side != right)
    assert errors <= stats.binom.ppf(0.999, n, ALPHA / 2), (errors, n)
    assert all(years % LOOK == 0 for years, _ in runs)


def test_a_clear_verdict_stops_early_and_a_close_one_plays_the_cap(monkeypatch):
    far = play(0.60, range(50), monkeypatch)
    assert max(years for years, _ in far) <= 300 and all(side is False for _, side in far)
    close = play(0.795, range(20), monkeypatch)
    assert np.mean([years for years, _ in close]) > 600


def test_where_a_run_stops_does_not_depend_on_workers_or_batches(monkeypatch):
    """Looks fall on fixed replication counts: any batching stops at the same year."""
    stops = {tuple(years for years, _ in play(0.7, range(5), monkeypatch, batch_size=b)) for b in (7, 30, 100)}
    assert len(stops) == 1


def test_a_lever_sets_verdict_settles_when_one_check_fails_or_all_pass():
    """advise's confirmation stops once each lever set is decided: one check settled below its
    bar fails the set whatever its other checks say; all settled at or above pass it."""
    from simulate.stats.sequential import verdicts_settled
    n = 400
    low, high, near = np.zeros(n, bool), np.ones(n, bool), np.arange(n) % 5 < 4    # 0 %, 100 %, 80 %
    settle = verdicts_settled({"c1": {"c1": 0.8, "c1 @ war": 0.5}, "c2": {"c2": 0.8}}, 1000)
    assert settle({"c1": near, "c1 @ war": low, "c2": high})          # c1 fails on its war check
    assert not settle({"c1": near, "c1 @ war": high, "c2": high})     # c1's own check still open
    assert settle({"c1": high, "c1 @ war": high, "c2": high})


def test_independent_answers_stop_each_on_its_own(monkeypatch):
    """With `retire`, a size settled far from its bar stops at its own look while a close one
    plays on; each keeps exactly the years of a full run (a prefix), wherever it stopped, and
    the stopping points do not depend on the batches."""
    from simulate.stats.sequential import each_settled
    p = {"far": 0.55, "close": 0.795, "sure": 0.99}

    played = {name: 0 for name in p}

    def run_batch(batch: runner.Batch) -> BatchResult:
        played[batch.variant] += batch.stop - batch.start
        return coin(p[batch.variant])(batch)
    monkeypatch.setattr(runner, "run_batch", run_batch)
    plans = {name: make_plan() for name in p}
    full = run_replications(plans, CAP, 7, workers=1)
    lengths = set()
    for size in (9, 50):
        played = {name: 0 for name in p}
        res = run_replications(plans, CAP, 7, workers=1, batch_size=size,
                               retire=each_settled({name: BAR for name in p}, CAP))
        n = {name: len(v.records) for name, v in res.variants.items()}
        assert n["far"] <= 200 and n["sure"] <= 200 and n["close"] > 300, n
        assert played == n, "a retired variant is played no more"
        assert all(k % LOOK == 0 for k in n.values())
        for name, v in res.variants.items():
            whole = full.variants[name].records["hit"].to_numpy()[:n[name]]
            assert np.array_equal(v.records["hit"].to_numpy(), whole), name
            side = side_of_bar(int(whole.sum()), n[name], BAR, CAP)
            assert side is not None or n[name] == CAP, name
            if n[name] > LOOK:      # retired at the first look where it was settled, not later
                before = n[name] - LOOK
                assert side_of_bar(int(whole[:before].sum()), before, BAR, CAP) is None, name
        lengths.add(tuple(sorted(n.items())))
    assert len(lengths) == 1


@pytest.mark.parametrize("looks, published", [(2, 2.178), (3, 2.289), (5, 2.413), (10, 2.555)])
def test_the_boundary_is_pococks(looks, published):
    """Equally spaced looks: the constants of Pocock (1977), table 1, two-sided 5 %."""
    from simulate.stats.sequential import pocock
    assert pocock(tuple(np.arange(1, looks + 1) / looks)) == pytest.approx(published, abs=1e-3)


def test_a_brownian_path_crosses_the_boundary_alpha_of_the_time():
    """Unequal looks (50, 100 and a cap of 120): the share of 40,000 Gaussian random walks that
    ever leave the boundary is ALPHA within 3.3 binomial standard errors."""
    from simulate.stats.sequential import z_spent
    rng = np.random.default_rng(5)
    looks, n = np.array([50, 100, 120]), 40_000
    walks = np.cumsum(rng.standard_normal((n, 120)), axis=1)[:, looks - 1] / np.sqrt(looks)
    crossed = np.mean(np.any(np.abs(walks) >= z_spent(120), axis=1))
    assert abs(crossed - ALPHA) <= 3.3 * np.sqrt(ALPHA * (1 - ALPHA) / n), crossed
