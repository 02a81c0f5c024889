"""`python -m simulate rules lint|metrics|actions`: check playbooks and list what rules can use.

Like business-rules' `export_rule_data`, the metrics and actions a rule may use are listed
from the same registries the loader checks against, so the list is never out of date.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from ..load.lint import lint_file
from ..plan.conditions import METRICS
from ..plan.rules import ACTIONS, CADENCES, EVENTS


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="what", required=True, metavar="{lint,metrics,actions}")
    lint = sub.add_parser("lint", help="check playbooks (or scenarios with their playbooks)")
    lint.add_argument("files", nargs="+")
    lint.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    sub.add_parser("metrics", help="list the metrics a condition may read")
    sub.add_parser("actions", help="list the actions and their parameters")


def run(args: argparse.Namespace) -> int:
    if args.what == "metrics":
        for m in METRICS.values():
            print(f"{m.name:<26} {m.description}")
        return 0
    if args.what == "actions":
        print(f"check: {', '.join(CADENCES)} (reviews) or {', '.join(EVENTS)} (events)\n")
        for name, cls in ACTIONS.items():
            params = [f for f in cls.model_fields if f != "action"]
            print(f"{name:<24} {', '.join(params)}")
            print(f"{'':<24} {' '.join((cls.__doc__ or '').split())}")
        return 0
    failed, warnings = 0, 0
    for f in args.files:
        try:
            findings = lint_file(f)
        except InputError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        for finding in findings:
            warnings += 1
            print(f"warning: {finding}")
        if not findings:
            print(f"{f}: ok")
    if failed:
        return 2
    return 1 if warnings and args.strict else 0
