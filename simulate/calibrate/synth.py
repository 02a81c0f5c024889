"""A synthetic CRM export played from a known plan: last year's deals, renewals and reps.

Calibration must be tested on data whose true parameters are known, and the only such data
is data the model made itself. `synth-crm` plays a year (or several) of a plan with the
model's trace on, and writes it the way a CRM exports it: one row per deal with the date it
entered each stage, how it ended and for how much; one row per key-account renewal; one row
per rep with hire and leave dates. Calibrating the export should give the plan back, within
sampling error (tests/test_calibrate.py holds it to that).

    python -m simulate synth-crm scenarios/baseline.yaml --out scenarios/data --seed 7
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import math
from pathlib import Path

import numpy as np

from ..load.loader import load_plan
from ..plan.plan import Horizon, Plan
from ..run.options import nonnegative_int

DEAL_HEADER = ("deal_id", "created", "intent_date", "negotiation_date", "closed_date",
               "last_stage", "outcome", "amount", "segment", "product", "channel", "rep", "region")
ACCOUNT_HEADER = ("account_id", "segment", "product", "contract_value", "renewal_date",
                  "renewed", "rep", "region")
REP_HEADER = ("rep", "level", "hire_date", "leave_date", "segments", "region")


def play_export(plan: Plan, seed: int, years: float | None = None, rules: bool = True,
                replication: int = 0) -> dict[str, list[tuple]]:
    """One traced run of `plan`, as the rows of deals.csv, accounts.csv and reps.csv.

    `years` replaces the plan's horizon (a two-year export gives the review its growth);
    `rules=False` plays the plan without its playbook, so the export shows the plan's own
    figures and nothing the manager's rules changed.
    """
    from ..engine.year import simulate_year  # the engine loads only when data is asked for
    update: dict = {}
    if years is not None:
        update["horizon"] = Horizon(start=plan.horizon.start, years=years)
    if not rules:
        update["rules"] = []
    played = plan.model_copy(update=update) if update else plan
    trace = simulate_year(played, seed, replication, trace=True).trace
    assert trace is not None
    start = plan.horizon.start

    def day(d: float | None) -> str:
        return "" if d is None else (start + dt.timedelta(days=math.floor(d))).isoformat()

    # Reps already on the team before the export starts get a plausible past hire date
    # (1 to 6 years back); the model only knows they are fully ramped.
    past = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replication, 1)))
    region_of = {r["rep"]: r["region"] or "" for r in trace.reps}
    reps = []
    for r in trace.reps:
        start_day = r["start_day"] if r["start_day"] >= 0 else -365.0 * float(past.uniform(1, 6))
        reps.append((r["rep"], r["level"], day(start_day), day(r["left_day"]),
                     ";".join(r["segments"]), r["region"] or ""))
    deals = []
    for d in trace.deals:
        stage = "negotiation" if d["negotiation_day"] is not None else \
            "intent" if d["intent_day"] is not None else "lead"
        amount = "" if d["amount"] is None else f"{d['amount']:.2f}"
        deals.append((f"D{d['deal']:05d}", day(d["lead_day"]), day(d["intent_day"]),
                      day(d["negotiation_day"]), day(d["closed_day"]), stage, d["outcome"], amount,
                      d["segment"], d["product"], d["channel"], d["rep"] or "",
                      region_of.get(d["rep"], "")))
    accounts = [(r["account"], r["segment"], r["product"], f"{r['contract_value']:.2f}",
                 day(r["renewal_day"]), "yes" if r["renewed"] else "no", r["rep"] or "",
                 region_of.get(r["rep"], "")) for r in trace.renewals]
    return {"deals.csv": deals, "accounts.csv": accounts, "reps.csv": reps}


def csv_text(header: tuple[str, ...], rows: list[tuple]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write_export(tables: dict[str, list[tuple]], folder: Path) -> list[Path]:
    """Write the three CSV files into `folder` (each written whole, then renamed)."""
    from ..files import prepare_out, write_text
    prepare_out(folder)
    headers = {"deals.csv": DEAL_HEADER, "accounts.csv": ACCOUNT_HEADER, "reps.csv": REP_HEADER}
    paths = []
    for name, rows in tables.items():
        write_text(folder / name, csv_text(headers[name], rows))
        paths.append(folder / name)
    return paths


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan", help="the plan that plays the past, e.g. scenarios/baseline.yaml")
    p.add_argument("--out", type=Path, required=True, help="folder for deals.csv, accounts.csv, reps.csv")
    p.add_argument("--seed", type=nonnegative_int, help="random seed (default: the plan's `seed`)")
    p.add_argument("--years", type=float, help="years of history (default: the plan's horizon)")
    p.add_argument("--no-rules", action="store_true", help="play the plan without its playbooks")


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    if args.years is not None and not 0 < args.years <= 10:
        raise UsageError(f"--years: expected a number of years in (0, 10], got {args.years:g}")
    plan = load_plan(args.plan)
    seed = plan.seed if args.seed is None else args.seed
    tables = play_export(plan, seed, args.years, rules=not args.no_rules)
    for path in write_export(tables, args.out):
        print(f"{path}: {len(tables[path.name])} rows")
    return 0


