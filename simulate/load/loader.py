"""From a YAML file to a validated `Plan`, or one clear error pointing at the line.

`yamlio` reads the file (with `extends`) and remembers where each value was written;
pydantic checks types and ranges; this module translates pydantic's complaints into
`file:line:col: key: what was expected, got what` with a "did you mean" for unknown keys.
"""

from __future__ import annotations

import csv
import io
import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import Location, PlanError, did_you_mean
from ..plan.plan import Plan
from ..plan.rules import Playbook
from .yamlio import MAX_BYTES, Document, _exists, load_document, overlay

MAX_SHOWN = 5
MAX_MESSAGE = 1000      # characters of one problem: a 10,000-character value is not repeated
_LONG_QUOTED = re.compile(r"'(?:[^'\\\n]|\\.){80,}'|\"(?:[^\"\\\n]|\\.){80,}\"")


def load_plan(path: str | Path) -> Plan:
    """Load, merge and validate a plan file (with its playbooks)."""
    return plan_from_document(load_scenario(path))


def load_variants(doc: Document) -> dict[str, Plan]:
    """The plan (as `plan`) and each of its named variants, all validated."""
    plans = {"plan": plan_from_document(doc)}
    for i, variant in enumerate(doc.data.get("variants") or []):
        name = variant["name"]
        if name in plans:
            raise PlanError(f"variant name '{name}' is used twice (or is the reserved name 'plan')",
                            doc.locate(("variants", i, "name")), f"variants[{i}].name")
        vdoc = inline_contracts(overlay(doc, ("variants", i, "set"), drop=("variants",)))
        try:
            plans[name] = plan_from_document(vdoc)
        except PlanError as exc:
            raise PlanError(f"{exc.message} (in variant '{name}')", exc.location, exc.key) from None
    return plans


def load_scenario(path: str | Path) -> Document:
    """Read a plan or scenario file (YAML, or an Excel workbook from `template`), then inline
    the rules of the playbooks it names.

    Playbook paths are relative to the file that names them. Their rules join the plan's
    inline `rules` (after them), keeping their own file and line for error messages; the
    `playbooks` key is then dropped, so the resolved plan is self-contained (a manifest can
    rerun it without the playbook files).
    """
    if Path(path).suffix.lower() == ".xlsx":
        from .workbook import read_workbook
        doc = inline_contracts(read_workbook(Path(path)))
    else:
        doc = inline_contracts(load_document(path))
    books = doc.data.get("playbooks")
    if not books:
        return doc
    if not isinstance(books, list) or not all(isinstance(b, str) for b in books):
        raise PlanError(f"expected a list of playbook files, got {books!r}", doc.locate(("playbooks",)), "playbooks")
    data = dict(doc.data)
    locations = dict(doc.locations)
    rules = list(data.get("rules") or [])
    files = list(doc.files)
    for i, book in enumerate(books):
        where = doc.locate(("playbooks", i))
        target = Path(where.file).parent / book
        if not _exists(target, "is_file"):
            raise PlanError(_clipped(f"playbook file not found: {book} (looked for {target})"), where,
                            f"playbooks[{i}]")
        pdoc = load_document(target)
        plan_from_document(pdoc, Playbook)          # the playbook file is valid on its own
        offset = len(rules)
        for j, rule in enumerate(pdoc.data.get("rules") or []):
            rules.append(rule)
            for loc_path, loc in pdoc.locations.items():
                if loc_path[:2] == ("rules", j):
                    locations[("rules", offset + j) + loc_path[2:]] = loc
        files.extend(f for f in pdoc.files if f not in files)
    data["rules"] = rules
    del data["playbooks"]
    return Document(data, locations, tuple(files))


CONTRACT_COLUMNS = ("account", "contract_value", "renewal_date", "product")
CONTRACT_OPTIONAL = ("rep", "industry")


def inline_contracts(doc: Document) -> Document:
    """Read each key-account book given as a CSV file into the plan, row by row.

    The path is relative to the file that names it. Every cell keeps its file and line, so
    a bad contract is reported at its row; the resolved plan holds the contracts themselves
    (a manifest reruns without the CSV), and the CSV joins the plan's input files.
    """
    segments = doc.data.get("segments")
    if not isinstance(segments, list):
        return doc
    data, locations, files = doc.data, doc.locations, list(doc.files)
    for i, segment in enumerate(segments):
        accounts = segment.get("accounts") if isinstance(segment, dict) else None
        name = accounts.get("contracts") if isinstance(accounts, dict) else None
        if not isinstance(name, str):
            continue
        path = ("segments", i, "accounts", "contracts")
        where = doc.locate(path)
        target = Path(where.file).parent / name
        rows, cells = _read_contracts(target, name, where, path)
        if data is doc.data:
            data, locations = _copy_tree(doc.data), dict(doc.locations)
        data["segments"][i]["accounts"]["contracts"] = rows
        locations.update(cells)
        if str(target) not in files:
            files.append(str(target))
    return doc if data is doc.data else Document(data, locations, tuple(files))


def _copy_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_tree(v) for v in value]
    return value


def _read_contracts(target: Path, name: str, where: Location,
                    path: tuple) -> tuple[list[dict], dict[tuple, Location]]:
    """The rows of a contracts CSV as plan data (empty cells left out), with their lines."""
    key = "segments[{}].accounts.contracts".format(path[1])
    if not _exists(target, "is_file"):
        raise PlanError(_clipped(f"contracts file not found: {name} (looked for {target})"), where, key)
    raw = target.read_bytes()
    if len(raw) > MAX_BYTES:
        raise PlanError("the contracts file is over 10 MB; plans are limited to 10 MB", where, key)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise PlanError(f"expected a UTF-8 text file, found a byte 0x{raw[e.start]:02x} that is not",
                        Location(str(target)), key) from None
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=max(",;\t", key=first.count))
    header = [h.strip().lower() for h in next(reader, [])]
    shown = str(target)
    allowed = CONTRACT_COLUMNS + CONTRACT_OPTIONAL
    for col in header:
        if col not in allowed:
            raise PlanError(f"unknown column '{col}'{did_you_mean(col, allowed)}; expected the columns "
                            f"{', '.join(CONTRACT_COLUMNS)} and optionally {', '.join(CONTRACT_OPTIONAL)}",
                            Location(shown, 1), key)
    missing = [c for c in CONTRACT_COLUMNS if c not in header]
    if missing:
        raise PlanError(f"missing column '{missing[0]}'; expected the columns {', '.join(CONTRACT_COLUMNS)} "
                        f"and optionally {', '.join(CONTRACT_OPTIONAL)}, found {', '.join(header) or 'none'}",
                        Location(shown, 1), key)
    rows: list[dict] = []
    cells: dict[tuple, Location] = {}
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise PlanError(f"expected {len(header)} cells ({', '.join(header)}), found {len(fields)}",
                            Location(shown, line), f"{key}[{len(rows)}]")
        row = {col: cell.strip() for col, cell in zip(header, fields) if cell.strip()}
        item = path + (len(rows),)
        cells[item] = Location(shown, line)
        for col in row:
            cells[item + (col,)] = Location(shown, line)
        rows.append(row)
    if not rows:
        raise PlanError("the contracts file lists no contract", Location(shown, 1), key)
    return rows, cells


def plan_from_document(doc: Document, model: type[BaseModel] = Plan) -> Any:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise _plan_error(exc, doc, model) from None


def _plan_error(exc: ValidationError, doc: Document, model: type[BaseModel]) -> PlanError:
    problems = [_describe(err, doc, model) for err in _explained_missing_dropped(exc.errors())]
    first_loc, first_key, first_msg = problems[0]
    more = [f"{loc}: {key}: {msg}" for loc, key, msg in problems[1:MAX_SHOWN]]
    if len(problems) > MAX_SHOWN:
        more.append(f"... and {len(problems) - MAX_SHOWN} more problems")
    message = first_msg + "".join("\n  also " + m for m in more)
    return PlanError(message, first_loc, first_key or None)


def _explained_missing_dropped(errors: list[Any]) -> list[Any]:
    """A misspelt key is reported twice by pydantic: `advnce` unknown and `advance` missing.
    Keep the unknown key, whose "did you mean 'advance'" says it all, and drop the other."""
    unknown = [e["loc"] for e in errors if e["type"] == "extra_forbidden" and e["loc"]]

    def explained(err: Any) -> bool:
        loc = err["loc"]
        return err["type"] == "missing" and bool(loc) and any(
            u[:-1] == loc[:-1] and did_you_mean(str(u[-1]), [str(loc[-1])]) for u in unknown)

    return [e for e in errors if not explained(e)]


def _describe(err: Any, doc: Document, model: type[BaseModel]) -> tuple[Any, str, str]:
    path = _data_path(err["loc"], doc.data)
    ctx = err.get("ctx") or {}
    cause = ctx.get("error")
    if cause is not None and getattr(cause, "path", None):
        path = path + tuple(cause.path)
    key = _key(path)
    kind = err["type"]
    if kind == "extra_forbidden":
        name = str(path[-1])
        allowed = _fields_at(model, path[:-1])
        msg = f"unknown key '{name}'{did_you_mean(name, allowed)}"
        if allowed:
            msg += f"; expected one of: {', '.join(sorted(allowed))}"
    elif kind == "missing":
        msg = "required key is missing"
    elif cause is not None:
        msg = str(cause)
    else:
        msg = f"{err['msg'][0].lower()}{err['msg'][1:]}, got {_show(err.get('input'))}"
    where = doc.locate(path)
    if where.line is None:      # a key missing at the top: point at the file's first key
        tops = [loc for p, loc in doc.locations.items()
                if len(p) == 1 and loc.file == where.file and loc.line is not None]
        where = min(tops, key=lambda loc: (loc.line, loc.column or 0), default=where)
        where = Location(where.file, where.line, 1) if where.line is not None else where
    return where, key, _clipped(msg + _rule_name(path, doc.data))


def _clipped(message: str) -> str:
    """The message with any long quoted value shortened, and at most MAX_MESSAGE long."""
    message = _LONG_QUOTED.sub(
        lambda m: f"{m.group(0)[:30]}...{m.group(0)[-10:]} ({len(m.group(0)) - 2:,} characters)", message)
    if len(message) > MAX_MESSAGE:
        message = f"{message[:MAX_MESSAGE - 200]} ... {message[-190:]}"
    return message


def _data_path(loc: tuple, data: Any) -> tuple:
    """Pydantic's loc, keeping only the steps that index into the user's data."""
    path: list[Any] = []
    node = data
    for step in loc:
        if isinstance(node, dict) and step in node:
            path.append(step)
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            path.append(step)
            node = node[step]
        elif isinstance(node, dict) and isinstance(step, str) and step not in node and step == loc[-1]:
            path.append(step)   # a missing or unknown key: name it
            node = None
    return tuple(path)


def _key(path: tuple) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _rule_name(path: tuple, data: Any) -> str:
    """' (rule 'x')' for a problem inside a named rule, so the message names the rule."""
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        rules = data.get("rules") if isinstance(data, dict) else None
        if isinstance(rules, list) and 0 <= path[1] < len(rules) and isinstance(rules[path[1]], dict):
            name = rules[path[1]].get("name")
            if isinstance(name, str):
                return f" (rule '{name}')"
    return ""


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return f"a mapping with keys {', '.join(map(str, value)) or 'none'}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return repr(value)


def _fields_at(model: type[BaseModel], path: tuple) -> list[str]:
    """The keys allowed at `path`, found by walking the model's type annotations."""
    tp: Any = model
    for step in path:
        tp = _strip(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(step))
            if field is None:
                return []
            tp = field.annotation
        else:
            args = typing.get_args(tp)
            tp = args[-1] if args else None
        if tp is None:
            return []
    tp = _strip(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _strip(tp: Any) -> Any:
    """Unwrap Optional[...] and Annotated[...] down to the model or container type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            parts = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = parts[0]
        else:
            return tp
