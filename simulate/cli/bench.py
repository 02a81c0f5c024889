"""`python -m simulate bench`: how fast, how parallel and how lean a run is on this machine.

A planning meeting waits for the answer, so speed is part of the product. The benchmark plays
the reference plan in one process and on all cores, measures the memory a 10,000-year run
needs, checks that cost grows in proportion to the work (a company ten times the size, a
three-year horizon), and times a bare SimPy loop on the same machine, so that the model's
own cost per event is visible as a ratio. Targets are printed next to the measures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..run.options import nonnegative_int, positive_int, worker_count

TARGETS = {"rate": 100.0, "efficiency": 0.90, "memory_10k_mb": 300.0, "memory_100k_mb": 1024.0,
           "scale_10x": 10.0, "horizon_3y": 3.0}


def bare_simpy_rate(seconds: float = 1.0, processes: int = 100) -> float:
    """Events per second of the simplest SimPy model: processes that only wait."""
    import simpy

    def clock(env: simpy.Environment):
        while True:
            yield env.timeout(1.0)

    best, until = 0.0, 200
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        env = simpy.Environment()
        for _ in range(processes):
            env.process(clock(env))
        t0 = time.perf_counter()
        env.run(until=until)
        best = max(best, processes * until / (time.perf_counter() - t0))
    return best


LEADS_PER_YEAR = 3000   # the funnel's size: ~4x the model's events a year, as issue 16 measured it
FUNNEL_YEARS = 40       # the unit u: this many years of the plain SimPy funnel, on one core
GOALS_U = {"run": 5.0, "price_war": 10.0, "signoff": 30.0}     # issue 16, default options, 2 cores


def plain_funnel_year(seed: int) -> int:
    """One year of a plain SimPy sales funnel, the yardstick of the unit u: 3,000 leads a
    year (Poisson), each taking a rep (a `simpy.Resource` of 10) for its visit, then its
    stage time, through lead -> intent -> negotiation. Written the textbook way (a process
    per deal, a request per visit); returns its number of events."""
    import random

    import simpy
    rnd = random.Random(seed)
    env = simpy.Environment()
    reps = simpy.Resource(env, capacity=10)
    count = [0]

    def deal(env: simpy.Environment):
        for advance in (0.8, 0.6, 0.5):
            with reps.request() as visit:
                yield visit
                yield env.timeout(rnd.expovariate(1 / 0.3))
            yield env.timeout(rnd.expovariate(1 / 14))
            count[0] += 4
            if rnd.random() >= advance:
                return

    def leads(env: simpy.Environment):
        while True:
            yield env.timeout(rnd.expovariate(LEADS_PER_YEAR / 365))
            count[0] += 1
            env.process(deal(env))

    env.process(leads(env))
    env.run(until=365)
    return count[0]


def unit_seconds(years: int = FUNNEL_YEARS, rounds: int = 3) -> float:
    """The unit u on this machine now: the plain funnel's `years` years in this process
    (the best of `rounds`, as `timeit` does: a shared machine only slows a round down)."""
    best = math.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        for y in range(years):
            plain_funnel_year(y)
        best = min(best, time.perf_counter() - t0)
    return best


def time_command(argv: list[str], cwd: Path | None = None, cache: bool = False) -> tuple[float, dict[str, Any]]:
    """Wall seconds of `python -m simulate ARGV` in a fresh process, and its summary.json;
    without `cache` every year is played (a cold start, whatever an earlier run kept)."""
    env = {**os.environ, "SIMULATE_NO_CACHE": "0" if cache else "1"}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "simulate", *argv, "--quiet", "--out", tmp],
                             capture_output=True, text=True, check=False, cwd=cwd, env=env)
        seconds = time.perf_counter() - t0
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {out.stderr.strip()[-500:]}")
        return seconds, json.loads((Path(tmp) / "summary.json").read_text())


def goals(say: Any) -> dict[str, Any]:
    """Issue 16's goals, each command timed in a fresh process and divided by u, measured
    just before and after it (their mean: the machine's load moves during a long run)."""
    commands = {"run": ["scenarios/baseline.yaml"], "price_war": ["scenarios/price_war.yaml"],
                "signoff": ["signoff", "scenarios/baseline.yaml"]}
    out: dict[str, Any] = {}
    for name, argv in commands.items():
        before = unit_seconds()
        seconds, summary = time_command(argv)
        u = (before + unit_seconds()) / 2
        years = (summary.get("signoff", {}).get("years_simulated")
                 or summary["runs"] * len(summary["variants"]))
        out[name] = {"seconds": seconds, "u_seconds": u, "u": seconds / u, "goal_u": GOALS_U[name],
                     "runs": summary["runs"], "years": years}
        say(f"  goal {' '.join(argv):<32} {seconds:7.1f} s = {seconds / u:5.1f} u   "
            f"(u = {u:.2f} s; {summary['runs']:,} runs)   [goal <= {GOALS_U[name]:.0f} u]")
    out["rerun_after_edit"] = rerun_after_edit(say)
    return out


def rerun_after_edit(say: Any, runs: int = 200) -> dict[str, Any]:
    """Issue 16's last goal: `stress` on a copy of the bundled files, played once to fill a
    fresh cache, then after editing one scenario (price_war's most likely cut, 20 % -> 25 %),
    then unchanged; each time in u, with the years read from the cache."""
    root = Path(__file__).resolve().parents[2]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for folder in ("scenarios", "rules", "schemas"):
            shutil.copytree(root / folder, Path(tmp) / folder)
        price_war = Path(tmp) / "scenarios" / "price_war.yaml"
        argv = ["stress", "scenarios/baseline.yaml", "--runs", str(runs), "--results", str(Path(tmp) / "results")]
        for step in ("cold", "one scenario edited", "unchanged"):
            if step == "one scenario edited":
                price_war.write_text(price_war.read_text().replace("[15%, 20%, 30%]", "[15%, 25%, 30%]"))
            before = unit_seconds()
            seconds, summary = time_command(argv, cwd=Path(tmp), cache=True)
            u = (before + unit_seconds()) / 2
            years = summary["runs"] * len(summary["variants"])
            out[step] = {"seconds": seconds, "u": seconds / u, "years": years, "reused": summary["years_reused"]}
            say(f"  rerun: stress, {step:<20} {seconds:7.1f} s = {seconds / u:5.1f} u   "
                f"({summary['years_reused']:,} of {years:,} years from the cache)   [goal, unchanged <= 2 u]")
    return out


def scaled_plan(plan: Any, factor: int) -> Any:
    """The same company `factor` times bigger: reps, key accounts, win-back pool, leads, target."""
    k = factor
    reps = [r.model_copy(update={"name": f"{r.name}#{i}" if i else r.name})
            for i in range(k) for r in plan.team.reps]
    segments = []
    for s in plan.segments:
        update: dict[str, Any] = {}
        if s.accounts is not None:
            book = s.accounts
            if book.contracts:      # each copy of the company holds its own copy of the book
                contracts = [c.model_copy(update={"account": f"{c.account}#{i}" if i else c.account,
                                                  "rep": f"{c.rep}#{i}" if i and c.rep else c.rep})
                             for i in range(k) for c in book.contracts]
                update["accounts"] = book.model_copy(update={"contracts": contracts})
            else:
                update["accounts"] = book.model_copy(update={"count": book.size * k})
        if s.winback is not None:
            update["winback"] = s.winback.model_copy(update={"pool": s.winback.pool * k,
                                                             "calls_per_month": s.winback.calls_per_month * k})
        segments.append(s.model_copy(update=update))
    t = plan.target
    target = t.model_copy(update={"annual": t.annual * k, **{
        key: {n: v * k for n, v in getattr(t, key).items()} for key in ("by_segment", "by_product", "by_region")}})
    return plan.model_copy(update={
        "team": plan.team.model_copy(update={"reps": reps}),
        "segments": segments,
        "channels": [c.model_copy(update={"leads_per_year": c.leads_per_year * k}) for c in plan.channels],
        "target": target})


def longer_horizon(plan: Any, years: float) -> Any:
    return plan.model_copy(update={"horizon": plan.horizon.model_copy(update={"years": years})})


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    import resource
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def in_process(plan: Any, seed: int, runs: int, rounds: int = 3) -> dict[str, float]:
    """Replications per second and events in this process, no pool: the best of `rounds`
    plays of the same years, as `timeit` does, since a shared machine only ever slows a
    round down (one round alone varied by +-15 % here)."""
    from ..run.runner import InProcess, run_replications
    best = None
    for _ in range(rounds):
        cpu = cpu_seconds()
        res = run_replications(plan, runs, seed, executor=InProcess())
        cpu = cpu_seconds() - cpu
        if best is None or res.seconds < best[0].seconds:
            best = (res, cpu)
    assert best is not None
    res, cpu = best
    events = sum(v.events for v in res.variants.values())
    return {"runs": runs, "rounds": rounds, "seconds": res.seconds, "rate": runs / res.seconds,
            "cpu_per_replication": cpu / runs,
            "events_per_replication": events / runs, "events_per_second": events / res.seconds}


def on_all_cores(plan: Any, seed: int, runs: int, workers: int) -> dict[str, float]:
    """The same on a pool; CPU time counts the workers and the collecting process."""
    from ..run.runner import run_replications
    cpu = cpu_seconds()
    res = run_replications(plan, runs, seed, workers=workers)
    ex = res.extra["execution"]
    return {"runs": runs, "seconds": res.seconds, "rate": runs / res.seconds, "workers": workers,
            "cpu_per_replication": (cpu_seconds() - cpu) / runs,
            "batches": ex["batches"], "busy": ex["busy_seconds"] / (res.seconds * workers)}


def memory_probe(mode: str, scenario: str, runs: int, workers: int) -> dict[str, float]:
    """Peak resident memory of a fresh process: a whole CLI run, or aggregation alone."""
    with tempfile.TemporaryDirectory() as tmp:
        code = (f"from simulate.cli.bench import _probe; _probe({mode!r}, {scenario!r}, {runs}, "
                f"{workers}, {str(Path(tmp) / 'run')!r})")
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"memory probe failed: {out.stderr.strip()[-500:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["seconds"] = time.perf_counter() - t0
        return result


def _probe(mode: str, scenario: str, runs: int, workers: int, out: str) -> None:
    """Runs inside the probe process: a run, its summary and its per-replication table, then
    the peak memory of this process and of its largest worker, as JSON.

    Mode "aggregate" swaps the simulation for copies of one real replication, so that the
    collector, summary and table of a very large run are measured in seconds.
    """
    import resource

    from ..analysis.summary import build_summary
    from ..load.loader import load_plan as load
    from ..run.runner import run_replications
    if mode == "aggregate":
        _stub_simulation(scenario)
        workers = 1
    plan = load(scenario)
    results = run_replications(plan, runs, plan.seed, workers=workers)
    build_summary(results, "probe", with_rule_values=False)   # rule values replay years serially
    Path(out).mkdir(parents=True)
    for name, v in results.variants.items():
        v.records.reset_index().to_parquet(Path(out) / f"{name}.parquet")
    mb = lambda who: resource.getrusage(who).ru_maxrss / 1024
    print(json.dumps({"main_mb": mb(resource.RUSAGE_SELF), "worker_mb": mb(resource.RUSAGE_CHILDREN)}))


def _stub_simulation(scenario: str) -> None:
    """Make every batch return copies of replication 0, of the real shape, without simulating."""
    import numpy as np

    from ..engine.year import simulate_year
    from ..load.loader import load_plan as load
    from ..run import runner
    plan = load(scenario)
    one = simulate_year(plan, plan.seed, 0)
    columns = tuple(one.record)
    row = np.array([one.record[c] for c in columns])

    def copies(batch: "runner.Batch") -> "runner.BatchResult":
        n = batch.stop - batch.start
        return runner.BatchResult(batch.variant, batch.start, columns, np.repeat(row[None], n, 0),
                                  np.repeat(one.weekly[None], n, 0), one.events * n, 0.0)

    runner.run_batch = copies


def precision_run(variants: dict[str, Any], seed: int, precision: float, workers: int) -> dict[str, Any]:
    from ..run.runner import run_replications
    res = run_replications(variants, 1000, seed, workers=workers, precision=precision)
    return {**res.extra["precision"], "seconds": res.seconds}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", nargs="?", default="scenarios/baseline.yaml",
                   help="plan to measure (default: scenarios/baseline.yaml)")
    p.add_argument("--runs", type=positive_int, default=1000, help="replications on all cores (default 1000)")
    p.add_argument("--single-runs", type=positive_int, default=60,
                   help="replications in one process, played three times, the best counts (default 60)")
    p.add_argument("--memory-runs", type=nonnegative_int, default=10_000,
                   help="replications of the memory probe (default 10000; 0 skips)")
    p.add_argument("--scale-runs", type=positive_int, default=3, help="replications of the 10x plan (default 3)")
    p.add_argument("--workers", type=worker_count, default=None, help="worker processes (default: all cores)")
    p.add_argument("--precision", action="store_true",
                   help="also time the precision targets: P(hit) and a paired difference to +-1 pp")
    p.add_argument("--goals", action="store_true",
                   help="also time issue 16's goals in u: the main command, price_war, signoff")
    p.add_argument("--quick", action="store_true", help="small samples: a smoke test of the benchmark")
    p.add_argument("--json", action="store_true", help="print the measures as JSON")


def run(args: argparse.Namespace) -> int:
    from ..load.loader import load_plan as load
    from ..run.runner import default_workers
    from ..version import __version__
    if args.quick:
        args.runs, args.single_runs, args.memory_runs, args.scale_runs = 100, 20, 500, 1
    workers = args.workers or default_workers()
    plan = load(args.scenario)
    seed = plan.seed
    say = (lambda *a: None) if args.json else (lambda text: print(text, flush=True))
    import simpy

    from ..engine import KIND
    say(f"simulate {__version__} bench: {args.scenario} on {workers} workers "
        f"(Python {platform.python_version()}, SimPy {simpy.__version__}, {KIND} engine)")
    import os
    m: dict[str, Any] = {"workers": workers, "load_average": os.getloadavg()[0], "engine": KIND}
    say(f"  load average {m['load_average']:.1f} on {default_workers()} cores before the run"
        f"{'  (a busy machine: rates by the clock are low)' if m['load_average'] > 0.5 else ''}")
    m["bare_simpy_events_per_second"] = bare = bare_simpy_rate()
    say(f"  bare SimPy loop          {bare:12,.0f} events/s")
    m["u_seconds"] = u = unit_seconds()
    say(f"  unit u                   {u:8.2f} s   (a plain SimPy funnel's {FUNNEL_YEARS} years on one core)")
    m["one_process"] = one = in_process(plan, seed, args.single_runs)
    m["overhead_per_event"] = bare / one["events_per_second"]
    say(f"  one process              {one['rate']:8.1f} replications/s   "
        f"{one['events_per_replication']:,.0f} events/replication   {one['events_per_second']:,.0f} events/s")
    say(f"                           model cost per event: {m['overhead_per_event']:.1f}x the bare loop")
    m["all_cores"] = par = on_all_cores(plan, seed, args.runs, workers)
    m["parallel_efficiency"] = eff = par["rate"] / (workers * one["rate"])
    m["cpu_efficiency"] = cpu_eff = one["cpu_per_replication"] / par["cpu_per_replication"]
    say(f"  all cores ({workers} workers)    {par['rate']:8.1f} replications/s   "
        f"{args.runs:,} in {par['seconds']:.1f} s   [target >= {TARGETS['rate']:.0f}/s]")
    say(f"  parallel efficiency      {eff:8.0%}   by the clock   [target >= {TARGETS['efficiency']:.0%}]")
    say(f"                           {cpu_eff:8.0%}   by CPU time (pool and collector vs one process); "
        f"workers busy {par['busy']:.0%} of the wall time, {par['batches']} batches")
    if args.memory_runs:
        m["memory"] = mem = memory_probe("run", args.scenario, args.memory_runs, workers)
        say(f"  peak memory, {args.memory_runs:,} runs  main {mem['main_mb']:.0f} MB, each worker <= "
            f"{mem['worker_mb']:.0f} MB ({mem['seconds']:.0f} s: run, summary, table)   [target <= 300 MB]")
        agg_runs = 10 * args.memory_runs
        m["aggregation"] = agg = memory_probe("aggregate", args.scenario, agg_runs, workers)
        say(f"  aggregating {agg_runs:,} runs  main {agg['main_mb']:.0f} MB ({agg['seconds']:.0f} s, "
            f"copies of one replication: collector, summary, table)   [target <= 1 GiB at 100,000]")
    base_cost = 1 / one["rate"]
    big = in_process(scaled_plan(plan, 10), seed, args.scale_runs)
    m["plan_10x"] = {**big, "cost_ratio": (1 / big["rate"]) / base_cost}
    say(f"  10x plan                 {big['rate']:8.2f} replications/s   cost {m['plan_10x']['cost_ratio']:.1f}x "
        f"the baseline, {big['events_per_replication'] / one['events_per_replication']:.1f}x the events"
        f"   [target <= ~10x]")
    long = in_process(longer_horizon(plan, 3), seed, max(2, args.single_runs // 4))
    m["horizon_3y"] = {**long, "cost_ratio": (1 / long["rate"]) / base_cost}
    say(f"  3-year horizon           {long['rate']:8.2f} replications/s   cost {m['horizon_3y']['cost_ratio']:.1f}x "
        f"the baseline, {long['events_per_replication'] / one['events_per_replication']:.1f}x the events"
        f"   [target <= ~3x]")
    if args.precision:
        m["precision_p_hit"] = p1 = precision_run({"plan": plan}, seed, 0.01, workers)
        say(f"  P(hit) to +-1 pp         {p1['seconds']:8.1f} s, {p1['runs']:,} replications, "
            f"half-width {p1['reached']:.4f}   [target <= 60 s]")
        more = [c.model_copy(update={"leads_per_year": c.leads_per_year * 1.1}) if i == 0 else c
                for i, c in enumerate(plan.channels)]
        pair = {"plan": plan, "more_leads": plan.model_copy(update={"channels": more})}
        m["precision_paired"] = p2 = precision_run(pair, seed, 0.01, workers)
        say(f"  paired difference +-1 pp {p2['seconds']:8.1f} s, {p2['runs']:,} replications per variant "
            f"(first channel +10 % leads), half-width {p2['reached']:.4f}   [target <= 20 s]")
    if args.goals:
        m["goals"] = goals(say)
    if args.json:
        print(json.dumps(m, indent=2))
    return 0
