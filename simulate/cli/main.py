"""The command line: `python -m simulate SCENARIO.yaml` and its sub-commands.

Only the package's own errors are caught: an `InputError` (the user's files or arguments)
exits 2 with one clear line, any other `SimulateError` exits 1. A bug is a bug and keeps
its traceback, so that it gets reported and fixed. `COMMANDS` is the one table of
sub-commands: each names its help, the function that declares its options and the one that
runs it.
"""

from __future__ import annotations

import argparse
import contextvars
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import InputError, SimulateError, UsageError
from ..load.decisions import check_lever_ends
from ..load.loader import load_scenario, load_variants
from ..run.options import Parser, build_parser

Configure = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]


def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", help="YAML files to check")
    p.add_argument("--quiet", "-q", action="store_true", help="print only warnings and errors (the exit code says ok)")


def _validate(args: argparse.Namespace) -> int:
    failed = 0
    for f in args.files:
        try:
            doc = load_scenario(f)
            plan = load_variants(doc)["plan"]    # the plan and each variant
            check_lever_ends(doc, plan)          # and each lever at both ends of its range
            if not args.quiet:
                print(f"{f}: ok")
            from ..plan.market import plan_warnings
            for warning in plan_warnings(plan):
                print(f"warning: {f}: {warning}", file=sys.stderr)
        except InputError as exc:
            failed += 1
            print(str(exc), file=sys.stderr)
    return 2 if failed else 0


def _schema_args(p: argparse.ArgumentParser) -> None:
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--extends", dest="kind", action="store_const", const="partial",
                      help="the schema of a file that extends a plan (nothing required)")
    kind.add_argument("--playbook", dest="kind", action="store_const", const="playbook",
                      help="the schema of a playbook file")


def _schema(args: argparse.Namespace) -> int:
    from ..plan.schema import editor_schema
    print(json.dumps(editor_schema(args.kind or "plan"), indent=2, ensure_ascii=False))
    return 0


def _cache_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", type=Path, default=Path("results"), help="root of the run folders (default: results/)")
    p.add_argument("--clear", action="store_true", help="delete every cached year")


def _cache(args: argparse.Namespace) -> int:
    from ..run.cache import ReplicationCache
    cache = ReplicationCache(args.results / ".cache")
    years, size = cache.size()
    if args.clear:
        cache.clear()
        print(f"{cache.root}: cleared {years:,} years ({size / 1e6:.1f} MB)")
    else:
        print(f"{cache.root}: {years:,} simulated years kept ({size / 1e6:.1f} MB); --clear empties it")
    return 0


# name -> (help, the module with its `configure` and `run`, or the two functions themselves).
# A command's module loads only when it runs: each brings its own libraries (SciPy's
# statistics, Optuna, openpyxl...), and the main command starts without them.
COMMANDS: dict[str, tuple[str, str | tuple[Configure, Handler]]] = {
    "validate": ("check plan and scenario files without running them", (_validate_args, _validate)),
    "schema": ("print the JSON Schema of the plan format (for editors)", (_schema_args, _schema)),
    "compare": ("compare the plan's variants on the same simulated years", "simulate.cli.compare"),
    "stress": ("play every plan variant under every stress scenario", "simulate.cli.stress"),
    "signoff": ("verdict on the target, the target you can sign, each shock's breaking point",
                "simulate.cli.signoff"),
    "sensitivity": ("tornado: which inputs move P(hit) and the median attainment most",
                    "simulate.cli.sensitivity"),
    "advise": ("the cheapest lever values that make the target signable (or the best P(hit) "
               "within a budget)", "simulate.cli.advise"),
    "cache": ("show or clear the simulated years kept for reuse (RESULTS/.cache)", (_cache_args, _cache)),
    "rerun": ("run a recorded run again from its manifest.json, exactly", "simulate.cli.rerun"),
    "rules": ("check playbooks; list the metrics and actions rules may use", "simulate.cli.rules"),
    "calibrate": ("fit a plan to last year's CRM export and review last year", "simulate.calibrate.calibrate"),
    "synth-crm": ("write a synthetic CRM export (deals, accounts, reps) played from a plan",
                  "simulate.calibrate.synth"),
    "backtest": ("calibrate at past cut dates, re-forecast, and score against what happened",
                 "simulate.cli.backtest"),
    "template": ("write a plan workbook (.xlsx) to fill in; run it with python -m simulate FILE.xlsx",
                 "simulate.cli.template"),
    "compile": ("build the simulation engine with mypyc (optional, 1.6x the years per second; "
                "needs a C compiler and pip install -e '.[compiled]')", "simulate.cli.build"),
    "bench": ("measure replications per second, parallel efficiency, memory and scaling",
              "simulate.cli.bench"),
}


def command(name: str) -> tuple[Configure, Handler]:
    """A sub-command's `configure` and `run`, its module loaded now."""
    where = COMMANDS[name][1]
    if isinstance(where, str):
        module = importlib.import_module(where)
        return module.configure, module.run
    return where


def check_engine() -> None:
    """`SIMULATE_ENGINE` names an engine this installation has (see `simulate.engine`)."""
    from ..engine import ENGINES, KIND, compiled_build
    asked = os.environ.get("SIMULATE_ENGINE")
    if asked is None:
        return
    if asked not in ENGINES:
        raise UsageError(f"SIMULATE_ENGINE={asked!r}: expected one of {', '.join(ENGINES)}")
    if asked != KIND:
        raise UsageError(f"SIMULATE_ENGINE=compiled: {compiled_build()}")


def run_command(args: argparse.Namespace) -> int:
    from .run import run_scenario
    return run_scenario(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command in a context of its own: the language it chooses ends with it."""
    return contextvars.copy_context().run(_main, list(sys.argv[1:] if argv is None else argv))


def _main(argv: list[str]) -> int:
    try:
        check_engine()
        if argv and argv[0] in COMMANDS:
            help_text = COMMANDS[argv[0]][0]
            configure, run = command(argv[0])
            sub = Parser(prog=f"python -m simulate {argv[0]}", description=help_text)
            configure(sub)
            return run(sub.parse_args(argv[1:]))
        return run_command(build_parser(commands=tuple(COMMANDS)).parse_args(argv))
    except SimulateError as exc:    # bad input exits 2, a failed run 1: the error knows which
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:   # Ctrl-C outside a run (a run saves its completed years itself)
        print("interrupted", file=sys.stderr)
        return 130
