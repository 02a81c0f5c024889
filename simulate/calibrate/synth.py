"""A synthetic CRM export played from a known plan: last year's deals, renewals and reps.

Calibration must be tested on data whose true parameters are known, and the only such data
is data the model made itself. `synth-crm` plays a year (or several) of a plan with the
model's trace on, and writes it the way a CRM exports it: one row per deal with the date it
entered each stage, how it ended and for how much; one row per key-account renewal; one row
per rep with hire and leave dates. Calibrating the export should give the plan back, within
sampling error (tests/validation/test_calibrate.py holds it to that).

Real exports rarely look that tidy, so a `Shape` writes the same history the way real ones
come: Salesforce or HubSpot column and stage names, the current stage only (no stage dates;
an open deal carries an expected close date), US dates or datetime stamps, amounts with a
currency, lost deals nobody closed in the CRM (stale), deals created before a date missing
(left truncation), deals closed before a date missing (an export of the deals open or closed
since a date, where the older deals still there are the ones that lived long), and Excel
workbooks.

    python -m simulate synth-crm scenarios/baseline.yaml --out scenarios/data --seed 7
    python -m simulate synth-crm scenarios/baseline.yaml --out /tmp/sf --crm salesforce \\
        --dates us --amounts currency --stale 0.5 --since 2027-03-01 --format xlsx
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..load.crm_formats import STYLES
from ..load.loader import load_plan
from ..plan.plan import Horizon, Plan
from ..run.options import day, fraction, nonnegative_int

DEAL_HEADER = ("deal_id", "created", "intent_date", "negotiation_date", "closed_date",
               "last_stage", "outcome", "amount", "segment", "product", "channel", "rep", "region")
ACCOUNT_HEADER = ("account_id", "segment", "product", "contract_value", "renewal_date",
                  "renewed", "rep", "region")
REP_HEADER = ("rep", "level", "hire_date", "leave_date", "segments", "region")
HEADERS = {"deals.csv": DEAL_HEADER, "accounts.csv": ACCOUNT_HEADER, "reps.csv": REP_HEADER}
CURRENT_HEADER = ("deal_id", "created", "closed_date", "stage", "amount", "rep", "channel", "segment", "product",
                  "region")
DATE_COLUMNS = {"created", "intent_date", "negotiation_date", "closed_date", "renewal_date", "hire_date",
                "leave_date"}
AMOUNT_COLUMNS = {"amount", "contract_value"}
EXPECTED_CLOSE_DAYS = 90      # an open deal's close date in a CRM that asks for one: a guess, as reps make it


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


@dataclass(frozen=True)
class Shape:
    """How an export looks (the defaults: canonical columns with the date of each stage)."""

    crm: str = "canonical"           # canonical | salesforce | hubspot: column and stage names
    current_stage: bool = False      # no stage dates (implied by salesforce and hubspot)
    dates: str = "iso"               # iso | us (03/14/2027) | datetime (2027-03-14 09:00:00)
    amounts: str = "plain"           # plain | currency ($12,500.00)
    stale: float = 0.0               # share of lost deals nobody closed in the CRM: left open
    since: dt.date | None = None     # deals created before this day are missing (left truncation)
    format: str = "csv"              # csv | xlsx
    closed_since: dt.date | None = None  # deals closed before this day are missing (filtered on close date)

    @property
    def stages_only(self) -> bool:
        return self.current_stage or self.crm != "canonical"


def shaped(tables: dict[str, list[tuple]], shape: Shape, seed: int,
           ) -> dict[str, tuple[tuple[str, ...], list[tuple]]]:
    """The canonical tables as `shape` writes them: file name -> (header, rows)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    deals = []
    for row in tables["deals.csv"]:
        d = dict(zip(DEAL_HEADER, row))
        if shape.since is not None and d["created"] < shape.since.isoformat():
            continue
        if shape.closed_since is not None and d["closed_date"] and d["closed_date"] < shape.closed_since.isoformat():
            continue
        if d["outcome"] == "lost" and shape.stale > 0 and rng.random() < shape.stale:
            d.update(outcome="open", closed_date="")      # nobody closed it: it looks open forever
        deals.append(d)
    header = DEAL_HEADER
    if shape.stages_only:
        stages = STYLES[shape.crm]["stages"] if shape.crm != "canonical" else {}
        for d in deals:
            now = d["outcome"] if d["outcome"] != "open" else d["last_stage"]
            d["stage"] = stages.get(now, now)
            if d["outcome"] == "open" and shape.crm != "canonical":
                d["closed_date"] = (dt.date.fromisoformat(d["created"])
                                    + dt.timedelta(days=EXPECTED_CLOSE_DAYS)).isoformat()
        header = CURRENT_HEADER
    out = {"deals.csv": (header, [tuple(d[c] for c in header) for d in deals]),
           "accounts.csv": (ACCOUNT_HEADER, tables["accounts.csv"]),
           "reps.csv": (REP_HEADER, tables["reps.csv"])}
    return {name: (header, [tuple(_cell(c, v, shape) for c, v in zip(header, row)) for row in rows])
            for name, (header, rows) in out.items()}


def _cell(column: str, value: str, shape: Shape) -> object:
    """A cell as the shape writes it: in a workbook, dates and amounts are typed cells."""
    if not value:
        return "" if shape.format == "csv" else None
    if column in DATE_COLUMNS:
        day = dt.date.fromisoformat(value)
        if shape.format == "xlsx":
            return day
        return day.strftime("%m/%d/%Y") if shape.dates == "us" else \
            f"{value} 09:00:00" if shape.dates == "datetime" else value
    if column in AMOUNT_COLUMNS:
        if shape.format == "xlsx":
            return float(value)
        return f"${float(value):,.2f}" if shape.amounts == "currency" else value
    return value


def header_names(header: tuple[str, ...], shape: Shape) -> tuple[str, ...]:
    names = STYLES[shape.crm]["columns"] if shape.crm != "canonical" else {}
    return tuple(names.get(c, c) for c in header)


def csv_text(header: tuple[str, ...], rows: list[tuple]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write_export(tables: dict[str, list[tuple]], folder: Path, shape: Shape = Shape(), seed: int = 0) -> list[Path]:
    """Write deals, accounts and reps into `folder` in `shape` (each written whole, then renamed);
    `seed` draws which lost deals go stale."""
    from ..files import prepare_out, write_bytes, write_text
    prepare_out(folder)
    paths = []
    for name, (header, rows) in shaped(tables, shape, seed).items():
        names = header_names(header, shape) if name == "deals.csv" else header
        if shape.format == "xlsx":
            path = folder / name.replace(".csv", ".xlsx")
            write_bytes(path, workbook_bytes(names, rows, header))
        else:
            path = folder / name
            write_text(path, csv_text(names, rows))
        paths.append(path)
    return paths


def workbook_bytes(names: tuple[str, ...], rows: list[tuple], header: tuple[str, ...]) -> bytes:
    """One sheet as a CRM's Excel export has it: a header row, date cells, number cells."""
    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.append(list(names))
    for row in rows:
        sheet.append(list(row))
    for i, column in enumerate(header, start=1):
        fmt = "yyyy-mm-dd" if column in DATE_COLUMNS else "#,##0.00" if column in AMOUNT_COLUMNS else None
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = fmt
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan", help="the plan that plays the past, e.g. scenarios/baseline.yaml")
    p.add_argument("--out", type=Path, required=True, help="folder for deals.csv, accounts.csv, reps.csv")
    p.add_argument("--seed", type=nonnegative_int, help="random seed (default: the plan's `seed`)")
    p.add_argument("--years", type=float, help="years of history (default: the plan's horizon)")
    p.add_argument("--no-rules", action="store_true", help="play the plan without its playbooks")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    shape = p.add_argument_group("the export's shape, as real exports come")
    shape.add_argument("--crm", choices=("canonical", "salesforce", "hubspot"), default="canonical",
                       help="column and stage names (salesforce and hubspot hold the current stage only)")
    shape.add_argument("--current-stage", action="store_true", help="no date for entering each stage")
    shape.add_argument("--dates", choices=("iso", "us", "datetime"), default="iso",
                       help="2027-03-14, 03/14/2027 or 2027-03-14 09:00:00 (default iso)")
    shape.add_argument("--amounts", choices=("plain", "currency"), default="plain", help="12500.00 or $12,500.00")
    shape.add_argument("--stale", type=fraction, default=0.0, metavar="SHARE",
                       help="share of lost deals nobody closed in the CRM, left open (e.g. 60%%)")
    shape.add_argument("--since", type=day, metavar="DATE",
                       help="leave out deals created before DATE (a left-truncated export)")
    shape.add_argument("--closed-since", type=day, metavar="DATE",
                       help="leave out deals closed before DATE (an export of deals open or closed since DATE)")
    shape.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="CSV files or Excel workbooks")


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    if args.years is not None and not 0 < args.years <= 10:
        raise UsageError(f"--years: expected a number of years in (0, 10], got {args.years:g}")
    plan = load_plan(args.plan)
    seed = plan.seed if args.seed is None else args.seed
    tables = play_export(plan, seed, args.years, rules=not args.no_rules)
    shape = Shape(args.crm, args.current_stage, args.dates, args.amounts, args.stale, args.since, args.format,
                  args.closed_since)
    for path in write_export(tables, args.out, shape, seed):
        if not args.quiet:
            print(f"{path}: {_rows(path)} rows")
    return 0


def _rows(path: Path) -> int:
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook
        return load_workbook(path, read_only=True).worksheets[0].max_row - 1
    return path.read_text(encoding="utf-8").count("\n") - 1


