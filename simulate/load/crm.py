"""Last year's CRM export, read and checked: the deals, the key-account renewals, the reps.

Calibration is only as good as the rows it reads, so every row is checked as it is read: a
date that is not a date, a negotiation that starts before the intent it follows, an amount
that is not a number. The first bad value stops the reading with the file, the row (the
header is row 1), the column, what was expected and what was found. Extra columns are
ignored: CRMs export many more than calibration needs.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from ..errors import InputError, Location, did_you_mean
from ..plan import quantities as q
from .crm_formats import ExportMap, describe, infer_dates, money_text, normal

STAGE_NAMES = ("lead", "intent", "negotiation")
OUTCOMES = ("won", "lost", "open")
LEVELS = ("new_hire", "core", "reserve")
DEAL_COLUMNS = ("deal_id", "created", "intent_date", "negotiation_date", "closed_date",
                "last_stage", "outcome", "amount", "segment", "product", "channel", "rep")
# An export of current stages only (Salesforce, HubSpot): no date for entering each stage.
CURRENT_STAGE_COLUMNS = ("deal_id", "created", "stage", "amount")
ONE = "all"      # the segment, product or channel of an export that has no such column
ACCOUNT_COLUMNS = ("account_id", "segment", "product", "contract_value", "renewal_date", "renewed")
REP_COLUMNS = ("rep", "hire_date", "leave_date")
YES, NO = ("yes", "y", "true", "1", "renewed"), ("no", "n", "false", "0", "churned")


class CsvError(InputError):
    """A bad value in a CRM export, located by file, row and column."""

    def __init__(self, file: str | Path, row: int, column: str | None, expected: str, found: str):
        self.file, self.row, self.column = str(file), row, column
        self.expected, self.found = expected, found
        where = f"row {row}" + (f", column '{column}'" if column else "")
        super().__init__(f"{where}: expected {expected}, found {found}", Location(str(file)))


@dataclass(frozen=True)
class Deal:
    """One opportunity: the day it entered each stage it reached, and how it ended."""

    id: str
    created: dt.date
    intent: dt.date | None
    negotiation: dt.date | None
    closed: dt.date | None
    last_stage: str
    outcome: str
    amount: float | None
    segment: str
    product: str
    channel: str
    rep: str | None
    region: str | None
    row: int = 0                  # its row in the file (header = 1), for errors found later

    def entered(self, stage: int) -> dt.date | None:
        return (self.created, self.intent, self.negotiation)[stage]


@dataclass(frozen=True)
class Renewal:
    """One key-account contract that came up for renewal, and whether it renewed."""

    account: str
    segment: str
    product: str
    contract_value: float
    renewal_date: dt.date
    renewed: bool | None          # None: not decided yet
    rep: str | None
    region: str | None


@dataclass(frozen=True)
class RepRecord:
    name: str
    hire: dt.date
    leave: dt.date | None
    level: str | None
    segments: tuple[str, ...]
    region: str | None


MIN_CYCLES = 30          # closed deals created after the first close needed to judge truncation
TRUNCATION_EVIDENCE = math.log(100)     # expected early closes none of which were seen: 1 % chance


@dataclass(frozen=True)
class Export:
    """A whole CRM export and the period it covers (`start` to `as_of`, both included).

    `stage_dates` is False for an export of current stages only: its deals' intent and
    negotiation dates are unknown (None), a lost deal's furthest stage too (`lead`), and only
    the cycle from created to closed and the outcome are measured. `notes` says how it was read.
    """

    deals: tuple[Deal, ...]
    renewals: tuple[Renewal, ...]
    reps: tuple[RepRecord, ...]
    files: dict[str, str]
    start: dt.date
    as_of: dt.date
    stage_dates: bool = True
    notes: tuple[str, ...] = ()

    @property
    def days(self) -> int:
        return (self.as_of - self.start).days + 1

    @property
    def years(self) -> float:
        return self.days / 365.0

    @cached_property
    def observed_from(self) -> dt.date:
        """The first day from which deals are in the export whatever their fate: its first
        close, when the deals created before it are too many to have all stayed open until
        then (an export of the deals open or closed since a date left out those closed
        before it, and a deal created earlier is in it only because it was still open); else
        its start.

        Too many: at the cycles of the deals created from the first close on, the deals
        created before it would have closed before it about `expected` times, and seeing
        none of that has a chance exp(-expected) under 1 %. A new company whose deals all
        take months is not truncated, nor an export with fewer than MIN_CYCLES later cycles.
        """
        closes = [d.closed for d in self.deals if d.closed is not None]
        if not closes:
            return self.start
        first = min(closes)
        later = sorted((d.closed - d.created).days for d in self.deals if d.closed is not None and d.created >= first)
        if len(later) < MIN_CYCLES:
            return self.start
        expected = sum(bisect_left(later, (first - d.created).days) for d in self.deals if d.created < first)
        return first if expected / len(later) > TRUNCATION_EVIDENCE else self.start


def read_rows(path: Path, kind: str, required: tuple[str, ...] | tuple[tuple[str, ...], ...],
              export_map: ExportMap | None = None, shown: dict[str, str] | None = None,
              ) -> list[tuple[int, dict[str, str]]]:
    """(row number, {column: text}) for each data row of a CSV file or of a workbook's first
    sheet; the header is row 1.

    `required` is one set of columns, or several sets of which the header must hold one.
    With a map, the header is read in canonical names (see crm_formats); `shown` then
    receives canonical name -> the file's own name, for errors and notes.
    """
    header, body = _xlsx_table(path, kind) if path.suffix.lower() in XLSX else _csv_table(path, kind)
    options = required if required and isinstance(required[0], tuple) else (required,)
    if header is None:
        raise CsvError(path, 1, None, f"a header row naming the columns {', '.join(options[0])}", "an empty file")
    header = [normal(h) for h in header]
    if export_map is not None:
        header, names = export_map.rename(header)
        if shown is not None:
            shown.update(names)
    fits = [cols for cols in options if all(c in header for c in cols)]
    if not fits:
        best = min(options, key=lambda cols: sum(c not in header for c in cols))
        column = next(c for c in best if c not in header)
        near = did_you_mean(column, header)
        alternatives = " or ".join(", ".join(cols) for cols in options)
        hint = "; name the columns with --map MAP.yaml" if export_map is not None else ""
        raise CsvError(path, 1, column, f"the columns {alternatives}",
                       f"no column '{column}'{near} (found: {', '.join(header)}){hint}")
    rows = []
    for number, values in body:
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise CsvError(path, number, None, f"{len(header)} fields like the header", f"{len(values)}")
        rows.append((number, {h: v.strip() for h, v in zip(header, values)}))
    if not rows:
        raise CsvError(path, 2, None, f"at least one {kind} row after the header", "no rows")
    return rows


XLSX = (".xlsx", ".xlsm")


def _csv_table(path: Path, kind: str) -> tuple[list[str] | None, Iterator[tuple[int, list[str]]]]:
    """A CSV file's header and numbered rows; the delimiter is the header's commonest of , ; tab."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read the {kind} file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CsvError(path, 1 + text_row(path, exc.start), None, "UTF-8 text", "bytes that are not UTF-8") from None
    if not text.strip():
        return None, iter(())
    first = text.splitlines()[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=max(",;\t", key=first.count))
    return next(reader), enumerate(reader, start=2)


def _xlsx_table(path: Path, kind: str) -> tuple[list[str] | None, Iterator[tuple[int, list[str]]]]:
    """A workbook's first sheet as text: a date cell reads as an ISO date, a whole number
    without its '.0', an empty cell as ''."""
    from openpyxl import load_workbook
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:     # openpyxl raises many kinds for a file that is not a workbook
        raise InputError(f"cannot read the {kind} file {path} as an Excel workbook: {exc}") from None
    rows = [[_cell_text(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    while rows and not any(rows[0]):
        rows.pop(0)
    if not rows:
        return None, iter(())
    width = max((i + 1 for i, h in enumerate(rows[0]) if h), default=0)
    return rows[0][:width], ((n, r[:width] + [""] * (width - len(r))) for n, r in enumerate(rows[1:], start=2))


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def dated(path: Path, rows: list[tuple[int, dict[str, str]]], columns: tuple[str, ...],
          export_map: ExportMap, notes: list[str] | None = None, shown: dict[str, str] | None = None) -> ExportMap:
    """The map with the file's date format, read off its date columns when the map gives none."""
    if export_map.dates:
        return export_map
    cells = [(number, c, values[c]) for number, values in rows for c in columns if values.get(c)]
    try:
        fmt = infer_dates([text for _, _, text in cells])
    except ValueError as exc:
        number, column, _ = cells[0]
        raise CsvError(path, number, (shown or {}).get(column, column), "dates that read one way only (say which with `dates:` in "
                       "--map MAP.yaml, e.g. dates: \"%d/%m/%Y\")", str(exc)) from None
    if fmt is None:
        return export_map
    if notes is not None:
        notes.append(f"{path.name}: dates read as {fmt}")
    return replace(export_map, dates=fmt)


def text_row(path: Path, offset: int) -> int:
    return path.read_bytes()[:offset].count(b"\n")


class _Row:
    """Typed access to one row's fields, raising CsvError with the row's location."""

    def __init__(self, path: Path, number: int, values: dict[str, str], export_map: ExportMap | None = None,
                 shown: dict[str, str] | None = None):
        self.path, self.line, self.values = path, number, values
        self.map, self.shown = export_map or ExportMap(), shown or {}

    def error(self, column: str, expected: str, found: str | None = None) -> CsvError:
        """Located by the file's own column name (a mapped column keeps its CRM name)."""
        text = self.values.get(column, "")
        return CsvError(self.path, self.line, self.shown.get(column, column), expected,
                        found or (repr(text) if text else "an empty cell"))

    def unique(self, column: str, seen: dict[str, int], what: str) -> str:
        """The cell's text, which no earlier row may repeat (`seen` maps text -> row)."""
        value = self.text(column)
        if value in seen:
            raise self.error(column, f"a unique {what}", f"{value!r} again (first on row {seen[value]})")
        seen[value] = self.line
        return value

    def text(self, column: str, required: bool = True) -> str | None:
        value = self.values.get(column, "")
        if not value and required:
            raise self.error(column, "a value")
        return value or None

    def date(self, column: str, required: bool = True) -> dt.date | None:
        value = self.text(column, required)
        if value is None:
            return None
        try:
            return self.map.date(value)
        except ValueError:
            raise self.error(column, self.map.date_hint()) from None

    def number(self, column: str, required: bool = True) -> float | None:
        value = self.text(column, required)
        if value is None:
            return None
        try:
            x = q.parse_money(money_text(value))
        except ValueError:
            raise self.error(column, "a number such as 12500.50") from None
        if not x >= 0:
            raise self.error(column, "a number >= 0")
        return x

    def choice(self, column: str, choices: tuple[str, ...], required: bool = True) -> str | None:
        value = self.text(column, required)
        if value is None:
            return None
        if value.lower() not in choices:
            raise self.error(column, f"one of {', '.join(choices)}", f"{value!r}{did_you_mean(value.lower(), choices)}")
        return value.lower()

    def rep(self, known: set[str] | None) -> str | None:
        name = self.text("rep", required=False)
        if name is not None and known is not None and name not in known:
            raise self.error("rep", "a rep listed in the reps file", f"{name!r}{did_you_mean(name, known)}")
        return name

    def after(self, column: str, later: dt.date | None, earlier_column: str, earlier: dt.date | None) -> None:
        if later is not None and earlier is not None and later < earlier:
            raise self.error(column, f"a date on or after {earlier_column} ({earlier})",
                             f"{later}, which is before it")


def read_deals(path: Path, known_reps: set[str] | None = None, export_map: ExportMap | None = None,
               notes: list[str] | None = None) -> tuple[list[Deal], bool]:
    """The deals, and whether the file dates each stage (else: current stages only).

    `notes` receives how the file was read (renamed columns, defaults), for the review."""
    deals: list[Deal] = []
    seen: dict[str, int] = {}
    shown: dict[str, str] = {}
    export_map = export_map or ExportMap()
    rows = read_rows(path, "deal", (DEAL_COLUMNS, CURRENT_STAGE_COLUMNS), export_map, shown)
    export_map = dated(path, rows, ("created", "intent_date", "negotiation_date", "closed_date"), export_map, notes,
                       shown)
    stage_dates = True
    undated: list[str] = []         # open leads without a created date (prospects not engaged yet)
    for number, values in rows:
        if not seen:
            stage_dates = all(c in values for c in DEAL_COLUMNS)
        row = _Row(path, number, values, export_map, shown)
        deal = _dated_deal(row, seen, known_reps) if stage_dates else _current_deal(row, seen, known_reps)
        if deal is None:
            undated.append(row.text("stage") or "")
        else:
            deals.append(deal)
    if undated and notes is not None:
        stages = ", ".join(f"'{name}'" for name in sorted(set(undated)))
        notes.append(f"{len(undated)} open deals at the lead stage ({stages}) have no date in column "
                     f"'{shown.get('created', 'created')}': left out (a prospect not engaged yet has not "
                     "entered the funnel, and nothing says since when it waits)")
    if notes is not None:
        how = describe(export_map, shown)
        notes.extend([how] if how else [])
        notes.extend(f"no {c} column: every deal is in '{ONE}'" for c in ("segment", "product", "channel")
                     if c not in shown)
        if not stage_dates:
            notes.append("current stages only: the export has no date for entering each stage, so the funnel's "
                         "split into stages is assumed (see the plan's comments); a lost deal's furthest stage is "
                         "unknown; an open deal's close date is an expected date and is ignored")
    return deals, stage_dates


def _dated_deal(row: _Row, seen: dict[str, int], known_reps: set[str] | None) -> Deal:
    """A row of the canonical export: the date each stage was entered, the furthest stage."""
    values = row.values
    deal_id = row.unique("deal_id", seen, "deal_id")
    created = row.date("created")
    stage = row.choice("last_stage", STAGE_NAMES)
    outcome = row.choice("outcome", OUTCOMES)
    reached = STAGE_NAMES.index(stage)
    dates = [created]
    for k, column in ((1, "intent_date"), (2, "negotiation_date")):
        when = row.date(column, required=reached >= k)
        if when is not None and reached < k:
            raise row.error(column, f"an empty cell: last_stage is '{stage}'", repr(values[column]))
        row.after(column, when, ("created", "intent_date")[k - 1], dates[-1])
        dates.append(when)
    if outcome == "won" and stage != "negotiation":
        raise row.error("last_stage", "'negotiation' for a won deal (a deal is signed in negotiation)")
    closed = row.date("closed_date", required=outcome != "open")
    if closed is not None and outcome == "open":
        raise row.error("closed_date", "an empty cell: the deal is open", repr(values["closed_date"]))
    row.after("closed_date", closed, ("created", "intent_date", "negotiation_date")[reached], dates[reached])
    amount = row.number("amount", required=outcome == "won")
    if outcome == "won" and not amount:
        raise row.error("amount", "an amount > 0 for a won deal")
    return Deal(deal_id, created, dates[1], dates[2], closed, stage, outcome, amount,
                row.text("segment"), row.text("product"), row.text("channel"),
                row.rep(known_reps), row.text("region", required=False), row.line)


def _current_deal(row: _Row, seen: dict[str, int], known_reps: set[str] | None) -> Deal | None:
    """A row of a current-stage export: created, closed, the CRM's stage name, the amount.

    The stage maps onto lead | intent | negotiation | won | lost (a map's `stages`, else the
    standard Salesforce and HubSpot names). A won deal went through negotiation; a lost
    one's furthest stage is unknown and written `lead`; an open deal's close date is only
    expected, and ignored. An open lead with no created date (CRMs list prospects before
    anyone engages them) is no deal yet: None."""
    deal_id = row.unique("deal_id", seen, "deal_id")
    text = row.text("stage")
    target = row.map.stage(text or "")
    if target is None:
        raise row.error("stage", "a stage of lead, intent, negotiation, won or lost (name the CRM's stages "
                                 "under `stages:` in --map MAP.yaml)")
    created = row.date("created", required=target != "lead")
    if created is None:
        return None
    outcome = target if target in ("won", "lost") else "open"
    stage = "negotiation" if target == "won" else "lead" if target == "lost" else target
    closed = row.date("closed_date", required=outcome != "open") if outcome != "open" else None
    row.after("closed_date", closed, "created", created)
    amount = row.number("amount", required=outcome == "won")
    if outcome == "won" and not amount:
        raise row.error("amount", "an amount > 0 for a won deal")
    return Deal(deal_id, created, None, None, closed, stage, outcome, amount,
                row.text("segment", required=False) or ONE, row.text("product", required=False) or ONE,
                row.text("channel", required=False) or ONE, row.rep(known_reps),
                row.text("region", required=False), row.line)


def read_renewals(path: Path, known_reps: set[str] | None = None) -> list[Renewal]:
    out = []
    rows = read_rows(path, "account", ACCOUNT_COLUMNS)
    export_map = dated(path, rows, ("renewal_date",), ExportMap())
    for number, values in rows:
        row = _Row(path, number, values, export_map)
        renewed = row.choice("renewed", YES + NO, required=False)
        out.append(Renewal(row.text("account_id"), row.text("segment"), row.text("product"),
                           row.number("contract_value"), row.date("renewal_date"),
                           None if renewed is None else renewed in YES,
                           row.rep(known_reps), row.text("region", required=False)))
    return out


def read_reps(path: Path) -> list[RepRecord]:
    out, seen = [], {}
    rows = read_rows(path, "rep", REP_COLUMNS)
    export_map = dated(path, rows, ("hire_date", "leave_date"), ExportMap())
    for number, values in rows:
        row = _Row(path, number, values, export_map)
        name = row.unique("rep", seen, "rep name")
        hire = row.date("hire_date")
        leave = row.date("leave_date", required=False)
        row.after("leave_date", leave, "hire_date", hire)
        segments = tuple(s.strip() for s in (row.text("segments", required=False) or "").replace("|", ";").split(";") if s.strip())
        out.append(RepRecord(name, hire, leave, row.choice("level", LEVELS, required=False), segments,
                             row.text("region", required=False)))
    return out


KINDS = {"accounts": ACCOUNT_COLUMNS, "reps": REP_COLUMNS}


def kind_of(path: Path) -> str:
    """Tell accounts from reps by their header, whatever the files are called."""
    header, _ = _xlsx_table(path, "export") if path.suffix.lower() in XLSX else _csv_table(path, "export")
    header = [normal(h) for h in header or []]
    for kind, columns in KINDS.items():
        if columns[0] in header:
            return kind
    raise CsvError(path, 1, None, "the header of an accounts file (account_id, ...) or a reps file (rep, hire_date, ...)",
                   f"the columns {', '.join(header) or 'none'}")


def read_export(deals_path: Path, others: list[Path], as_of: dt.date | None = None,
                export_map: ExportMap | None = None) -> Export:
    """Read and cross-check a CRM export: deals, and optionally accounts and reps (any order).
    `export_map` says how to read the deals file of a CRM (see crm_formats)."""
    files = {"deals": str(deals_path)}
    for path in others:
        kind = kind_of(path)
        if kind in files:
            raise InputError(f"two {kind} files given: {files[kind]} and {path}")
        files[kind] = str(path)
    reps = read_reps(Path(files["reps"])) if "reps" in files else []
    known = {r.name for r in reps} or None
    notes: list[str] = []
    deals, stage_dates = read_deals(deals_path, known, export_map, notes)
    renewals = read_renewals(Path(files["accounts"]), known) if "accounts" in files else []
    dates = [d for deal in deals for d in (deal.created, deal.intent, deal.negotiation, deal.closed) if d] + \
            [r.renewal_date for r in renewals]
    start = min(dates).replace(day=1)
    last = max(dates + [r.hire for r in reps] + [r.leave for r in reps if r.leave])
    if as_of is None:
        as_of = q.month_end(last)
    elif last > as_of:
        raise InputError(f"the export holds dates up to {last}, after --as-of {as_of}")
    return Export(tuple(deals), tuple(renewals), tuple(reps), files, start, as_of, stage_dates, tuple(notes))
