"""`python -m simulate template plan.xlsx`: a plan workbook to fill in, for managers who live
in Excel. It holds a whole plan (the reference plan by default, or `--from PLAN.yaml`) after
`extends` and playbooks are resolved, so it stands alone; `python -m simulate plan.xlsx` runs
it with the same checks as a YAML plan (load/workbook.py describes the layout).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from ..load.loader import load_scenario
from ..load.workbook import write_template

REFERENCE = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", nargs="?", type=Path, help="the workbook to write, e.g. plan.xlsx")
    p.add_argument("--xlsx", type=Path, metavar="FILE", help="the same as OUT")
    p.add_argument("--from", dest="source", type=Path, metavar="PLAN.yaml",
                   help="the plan to start from (default: the reference plan, scenarios/baseline.yaml)")


def run(args: argparse.Namespace) -> int:
    out = args.xlsx or args.out
    if out is None or out.suffix.lower() != ".xlsx":
        raise UsageError("name the workbook to write, ending in .xlsx: "
                         "python -m simulate template plan.xlsx")
    source = args.source or REFERENCE
    if not source.is_file():
        raise UsageError(f"--from {source}: file not found")
    doc = load_scenario(source)
    data = {k: v for k, v in doc.data.items() if k != "variants"} | (
        {"variants": doc.data["variants"]} if doc.data.get("variants") else {})
    try:
        write_template(data, out)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"{out}: a plan workbook from {source}; edit column B of the 'plan' sheet and the "
          f"tables, then run: python -m simulate {out}")
    return 0
