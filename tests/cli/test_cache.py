"""The replication cache: a year played once is read back, bit for bit, by any later run that
needs it; an edited variant, another seed or another model code plays again; --no-cache and
a damaged file are safe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factory import make_plan

from simulate.cli.main import main
from simulate.run import cache as cache_module
from simulate.run.cache import ReplicationCache
from simulate.run.runner import replay_records, run_replications


def _plans():
    plan = make_plan({"runs": 60})
    edited = plan.model_copy(update={"target": plan.target.model_copy(update={"annual": plan.target.annual * 1.2})})
    return plan, edited


def test_cached_years_are_the_years_played(tmp_path):
    plan, _ = _plans()
    fresh = run_replications(plan, 60, 3, workers=1)
    cache = ReplicationCache(tmp_path)
    first = run_replications(plan, 60, 3, workers=1, cache=cache)
    again = run_replications(plan, 60, 3, workers=1, cache=ReplicationCache(tmp_path), batch_size=7)
    assert (first.extra["execution"]["cached_years"], again.extra["execution"]["cached_years"]) == (0, 60)
    for a, b in ((fresh, first), (fresh, again)):
        va, vb = a.variants["plan"], b.variants["plan"]
        assert va.records.equals(vb.records) and va.weekly_mean.equals(vb.weekly_mean)
        assert (va.cumulative == vb.cumulative).all() and va.events == vb.events


def test_only_what_changed_plays_again(tmp_path, monkeypatch):
    plan, edited = _plans()
    run_replications({"plan": plan, "bigger": edited}, 40, 3, workers=1, cache=ReplicationCache(tmp_path))
    other = plan.model_copy(update={"channels": [c.model_copy(update={"leads_per_year": c.leads_per_year * 1.1})
                                                 for c in plan.channels]})
    hits = run_replications({"plan": plan, "more leads": other}, 40, 3, workers=1, cache=ReplicationCache(tmp_path))
    assert hits.extra["execution"]["cached_years"] == 40           # the plan's years; the edited variant played
    cosmetic = plan.model_copy(update={"name": "another name", "description": "said differently"})
    assert run_replications(cosmetic, 40, 3, workers=1,
                            cache=ReplicationCache(tmp_path)).extra["execution"]["cached_years"] == 40
    assert run_replications(plan, 40, 4, workers=1,
                            cache=ReplicationCache(tmp_path)).extra["execution"]["cached_years"] == 0  # seed
    monkeypatch.setattr(cache_module, "model_code", lambda: "another model")
    assert run_replications(plan, 40, 3, workers=1,
                            cache=ReplicationCache(tmp_path)).extra["execution"]["cached_years"] == 0  # code


def test_a_damaged_year_is_played_again(tmp_path):
    plan, _ = _plans()
    fresh = run_replications(plan, 40, 3, workers=1, cache=ReplicationCache(tmp_path))
    for path in list(tmp_path.rglob("*.pkl"))[:3]:
        path.write_bytes(b"not a pickle")
    again = run_replications(plan, 40, 3, workers=1, cache=ReplicationCache(tmp_path))
    assert again.variants["plan"].records.equals(fresh.variants["plan"].records)
    assert again.extra["execution"]["cached_years"] < 40



def test_chosen_years_played_again_share_the_cache_with_runs(tmp_path):
    """A replay of chosen years (the signable target's, a resumed run's rule values) reads the
    years a run kept and keeps the ones it plays, the same years either way."""
    plan, edited = _plans()
    run = run_replications(plan, 30, 3, workers=1, cache=ReplicationCache(tmp_path))
    cache = ReplicationCache(tmp_path)
    read = replay_records(plan, 3, [4, 17, 29], workers=1, cache=cache)
    assert cache.hits == 3
    assert all(read[r] == run.variants["plan"].records.loc[r].to_dict() for r in (4, 17, 29))
    played = replay_records(edited, 3, [2, 5], workers=1, cache=ReplicationCache(tmp_path))
    cache = ReplicationCache(tmp_path)
    assert replay_records(edited, 3, [5, 2], workers=1, cache=cache) == played and cache.hits == 2
    again = run_replications(edited, 6, 3, workers=1, cache=ReplicationCache(tmp_path))
    assert again.extra["execution"]["cached_years"] == 0        # a run's batch needs every year of it
    assert again.variants["plan"].records.loc[5].to_dict() == played[5]

@pytest.fixture(autouse=True)
def cache_on(monkeypatch):
    monkeypatch.delenv("SIMULATE_NO_CACHE", raising=False)


def _run(tmp_path: Path, out: str, *extra: str) -> dict:
    plan = tmp_path / "plan.yaml"
    if not plan.exists():
        import yaml
        from factory import minimal_plan_data
        plan.write_text(yaml.safe_dump(minimal_plan_data(), sort_keys=False))
    assert main([str(plan), "--runs", "80", "--all-runs", "--workers", "1", "--quiet", "--results",
                 str(tmp_path / "results"), "--out", str(tmp_path / out), *extra]) == 0
    return json.loads((tmp_path / out / "summary.json").read_text())


def test_a_rerun_from_the_cache_writes_the_same_files(tmp_path):
    assert _run(tmp_path, "first")["years_reused"] == 0
    assert _run(tmp_path, "second")["years_reused"] == 80
    assert _run(tmp_path, "fresh", "--no-cache")["years_reused"] == 0
    for name in ("replications.csv", "weekly.csv"):
        first = (tmp_path / "first" / name).read_bytes()
        assert first == (tmp_path / "second" / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes()
    assert main(["cache", "--results", str(tmp_path / "results"), "--clear"]) == 0
    assert not (tmp_path / "results" / ".cache").exists()


def test_no_cache_writes_no_cache(tmp_path):
    _run(tmp_path, "run", "--no-cache")
    assert not (tmp_path / "results" / ".cache").exists()


@pytest.mark.parametrize("garbage", [b"", b"\x80\x05not"])
def test_load_refuses_a_broken_file(tmp_path, garbage):
    plan, _ = _plans()
    cache = ReplicationCache(tmp_path)
    run_replications(plan, 20, 3, workers=1, cache=cache)
    key = cache.key(plan, 3, ())
    (tmp_path / key[:2] / key / "0.pkl").write_bytes(garbage)
    assert cache.load(plan, 3, (), range(0, 20)) is None


def test_a_years_key_is_the_same_in_every_interpreter():
    """Sets in a plan (a condition's metrics) iterate in hash-seed order: the key must not."""
    import subprocess
    import sys

    from conftest import ROOT, SCENARIOS
    code = ("from pathlib import Path; from simulate.load.loader import load_plan; "
            "from simulate.run.cache import ReplicationCache; "
            f"print(ReplicationCache(Path('.')).key(load_plan({str(SCENARIOS / 'perfect_storm.yaml')!r}), 1, ('r',)))")
    keys = {subprocess.run([sys.executable, "-c", code], env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
                           capture_output=True, text=True, cwd=ROOT, check=True).stdout
            for seed in ("1", "2", "3", "2718281828")}
    assert len(keys) == 1 and len(keys.pop().strip()) == 64


@pytest.mark.parametrize("path", sorted(p.name for p in (Path(__file__).parents[2] / "scenarios").glob("*.yaml")))
def test_every_part_of_a_plan_reaches_its_key(path, tmp_path):
    """An edited distribution (pydantic's own dump writes it by its declared type: empty) or
    an edited condition changes the key; a name or a description does not."""
    import dataclasses

    from conftest import SCENARIOS

    from simulate.load.loader import load_plan
    from simulate.plan.conditions import parse_condition
    plan = load_plan(SCENARIOS / path)
    cache = ReplicationCache(tmp_path)
    key = cache.key(plan, 1, ())
    assert cache.key(plan.model_copy(update={"name": "x", "description": "y"}), 1, ()) == key
    seg = plan.segments[0]
    units = seg.funnel.units
    field = dataclasses.fields(units)[0].name
    funnel = seg.funnel.model_copy(update={"units": dataclasses.replace(units, **{field: getattr(units, field) + 1})})
    segments = [seg.model_copy(update={"funnel": funnel}), *plan.segments[1:]]
    assert cache.key(plan.model_copy(update={"segments": segments}), 1, ()) != key
    for i, shock in enumerate(plan.shocks):
        size = shock.size if hasattr(shock, "size") else None
        if size is not None and dataclasses.fields(size):
            f = dataclasses.fields(size)[-1].name
            edited = shock.model_copy(update={"size": dataclasses.replace(size, **{f: getattr(size, f) * 0.9})})
            shocks = [*plan.shocks[:i], edited, *plan.shocks[i + 1:]]
            assert cache.key(plan.model_copy(update={"shocks": shocks}), 1, ()) != key
    if plan.rules:
        rule = plan.rules[0].model_copy(update={"when": parse_condition("week > 3")})
        assert cache.key(plan.model_copy(update={"rules": [rule, *plan.rules[1:]]}), 1, ()) != key
