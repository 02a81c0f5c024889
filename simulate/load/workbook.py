"""A plan in Excel: the template a manager fills in, and reading it back as a plan document.

The workbook has a `plan` sheet with one row per setting: its path (`target.annual`,
`segments[KA].funnel.lead.advance`: a named item by its name in brackets), its value as
written in YAML (`20%`, `60k`, `80万`, a date, or a distribution such as
`{triangular: [15%, 20%, 30%]}`) and a note. A list of flat records (the reps, the products,
the key-account contracts) gets a sheet of its own, one record a row, and its row in `plan`
says `sheet: NAME`. Reading it back gives the same document a YAML file would, every value
located at its sheet and cell, so the plan is validated the same way and an error names the
cell to fix.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import Location, PlanError
from ..plan.distributions import FAMILIES
from .yamlio import Document

PLAN_SHEET = "plan"
HEADER = ("setting", "value", "note")
TABLE_ROWS = 3          # a list of flat records this long gets a sheet; shorter ones a cell
SHEET_REF = re.compile(r"sheet:\s*(.+)")
STEP = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")
HELP = ("Edit the values in column B. A path with [NAME] is the item of that list named NAME. "
        "Values read as in the YAML plan: 20%, 14d, 3mo, 60k, 1.2M, 80万, 1.2亿, dates, and "
        "distributions such as {triangular: [15%, 20%, 30%]}. A row whose value is "
        "'sheet: NAME' is the table on that sheet, one item a row. Read it with "
        "python -m simulate THIS.xlsx.")


# ---- writing the template ----------------------------------------------------------------

def write_template(data: dict[str, Any], path: Path) -> None:
    """A plan workbook holding `data` (a resolved plan), ready to edit."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = PLAN_SHEET
    sheet.append(HEADER)
    tables: dict[str, list[dict[str, Any]]] = {}
    for key, value, note in _rows(data, (), tables):
        sheet.append([key, _cell(value), note])
    sheet.append([])
    sheet.append(["", "", HELP])
    for name, records in tables.items():
        table = book.create_sheet(name)
        columns = list(dict.fromkeys(k for r in records for k in r))
        table.append(columns)
        for r in records:
            table.append([_cell(r.get(c)) for c in columns])
        _style(table, Font)
    _style(sheet, Font)
    book.save(path)


def _rows(value: Any, path: tuple, tables: dict[str, list]) -> list[tuple[str, Any, str]]:
    """(path, value, note) for every setting under `path`; flat record lists go to `tables`."""
    if isinstance(value, dict) and not _distribution(value):
        return [row for k, v in value.items() for row in _rows(v, path + (str(k),), tables)]
    tabular = isinstance(value, list) and len(value) >= TABLE_ROWS and all(map(_flat, value))
    if tabular:
        return [(_key(path), f"sheet: {_table(value, path, tables)}", "one item a row")]
    if _named(value):
        return [row for item in value for row in _rows(
            {k: v for k, v in item.items() if k != "name"}, path + (f"[{item['name']}]",), tables)]
    return [(_key(path), value, "")]


def _table(records: list[dict[str, Any]], path: tuple, tables: dict[str, list]) -> str:
    """A sheet name for a table (at most 31 characters, unique): 'reps', 'contracts KA'."""
    owner = next((p[1:-1] for p in reversed(path) if p.startswith("[")), "")
    base = f"{path[-1]} {owner}".strip()[:28]
    name, k = base, 2
    while name in tables or name == PLAN_SHEET:
        name, k = f"{base} {k}", k + 1
    tables[name] = records
    return name


def _named(value: Any) -> bool:
    return (isinstance(value, list) and bool(value)
            and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in value))


def _flat(item: Any) -> bool:
    """A record whose values are scalars or lists of scalars: one row of a table."""
    return isinstance(item, dict) and all(
        not isinstance(v, dict) and not (isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v))
        for v in item.values())


def _distribution(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in FAMILIES


def _key(path: tuple) -> str:
    return ".".join(path).replace(".[", "[")


def _cell(value: Any) -> Any:
    """A value as a cell holds it: numbers, text and dates as they are, the rest as YAML."""
    if value is None or isinstance(value, (bool, int, float, str, dt.date)):
        return value
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip()


def _style(sheet: Any, font: Any) -> None:
    for cell in sheet[1]:
        cell.font = font(bold=True)
    for column in sheet.columns:
        letter = column[0].column_letter
        longest = max(len(str(c.value)) for c in column if c.value is not None) if column else 8
        sheet.column_dimensions[letter].width = min(60, max(10, longest + 2))
    sheet.freeze_panes = "A2"


# ---- reading a plan workbook -------------------------------------------------------------

def read_workbook(path: Path) -> Document:
    """The plan document a workbook holds, each value located at its sheet and cell."""
    from openpyxl import load_workbook

    shown = str(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:     # openpyxl raises many kinds for a file that is not a workbook
        raise PlanError(f"cannot read as an Excel workbook: {exc}", Location(shown)) from None
    if PLAN_SHEET not in book.sheetnames:
        raise PlanError(f"no sheet named '{PLAN_SHEET}' (found: {', '.join(book.sheetnames)}); "
                        "start from python -m simulate template", Location(shown))
    data: dict[str, Any] = {}
    locations: dict[tuple, Location] = {}
    for row in book[PLAN_SHEET].iter_rows(min_row=2):
        key, value = (row[0].value if row else None), (row[1] if len(row) > 1 else None)
        if key is None or str(key).strip() == "" or value is None:
            continue
        where = _at(shown, PLAN_SHEET, value.coordinate)
        steps = _steps(str(key).strip(), _at(shown, PLAN_SHEET, row[0].coordinate))
        ref = SHEET_REF.fullmatch(value.value.strip()) if isinstance(value.value, str) else None
        parsed = (_sheet(book, ref.group(1).strip(), shown, where) if ref
                  else _value(value.value, where))
        located = _put(data, steps, parsed, where, locations)
        if ref:
            for (i, column), loc in parsed.locations.items():
                locations[located + (i, column)] = loc
            for i in range(len(parsed.records)):
                locations[located + (i,)] = _at(shown, ref.group(1).strip(), f"A{i + 2}")
    return Document(data, locations, (shown,))


class _Table:
    """The records of a table sheet and where each cell was."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.locations: dict[tuple[int, str], Location] = {}


def _sheet(book: Any, name: str, shown: str, where: Location) -> _Table:
    if name not in book.sheetnames:
        raise PlanError(f"no sheet named '{name}'", where)
    rows = book[name].iter_rows()
    header = [c.value for c in next(rows, [])]
    table = _Table()
    for row in rows:
        record = {}
        for column, cell in zip(header, row):
            if column is None or cell.value is None or cell.value == "":
                continue
            loc = _at(shown, name, cell.coordinate)
            record[str(column)] = _value(cell.value, loc)
            table.locations[(len(table.records), str(column))] = loc
        if record:
            table.records.append(record)
    return table


def _at(file: str, sheet: str, cell: str) -> Location:
    return Location(f"{file}, sheet '{sheet}', cell {cell}")


def _steps(key: str, where: Location) -> list[str | tuple[str]]:
    """'segments[KA].funnel' as ['segments', ('KA',), 'funnel']: a tuple is an item's name."""
    steps: list[str | tuple[str]] = []
    at = 0
    for m in STEP.finditer(key):
        if m.start() != at and key[at:m.start()] != ".":
            break
        steps.append(m.group(1).strip() if m.group(1) else (m.group(2).strip(),))
        at = m.end()
    if at != len(key) or not steps or isinstance(steps[0], tuple):
        raise PlanError(f"expected a setting such as target.annual or segments[KA].units, "
                        f"got {key!r}", where)
    return steps


def _value(value: Any, where: Location) -> Any:
    """A cell's value: dates as dates, YAML flow text ([...] or {...}) parsed, the rest as is."""
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time() else value
    if isinstance(value, str) and value.strip()[:1] in "[{":
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError as exc:
            problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
            raise PlanError(f"cannot read {value!r}: {problem}", where) from None
    return value


def _put(data: dict[str, Any], steps: list[str | tuple[str]], value: Any, where: Location,
         locations: dict[tuple, Location]) -> tuple:
    """Set `value` at `steps`, creating mappings and named items on the way; returns the
    document path it landed at."""
    node: Any = data
    path: tuple = ()
    for step, nxt in zip(steps, steps[1:] + [None]):
        if isinstance(step, tuple):
            if not isinstance(node, list):
                raise PlanError(f"'[{step[0]}]' follows a setting that is not a list", where)
            index = next((i for i, item in enumerate(node) if item.get("name") == step[0]), None)
            if index is None:
                node.append({"name": step[0]})
                index = len(node) - 1
                locations[path + (index, "name")] = where
            path += (index,)
            child = node[index]
        else:
            if not isinstance(node, dict):
                raise PlanError(f"'{step}' follows a setting that holds a value", where)
            path += (step,)
            if nxt is None:
                node[step] = value.records if isinstance(value, _Table) else value
                locations[path] = where
                return path
            child = node.setdefault(step, [] if isinstance(nxt, tuple) else {})
        locations.setdefault(path, where)
        if nxt is None:
            raise PlanError("a setting cannot end with a [NAME]: name one of its keys", where)
        node = child
    return path
