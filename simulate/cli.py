"""The command line: `python -m simulate SCENARIO.yaml` and its sub-commands.

Only the package's own errors are caught: an `InputError` (the user's files or arguments)
exits 2 with one clear line, any other `SimulateError` exits 1. A bug is a bug and keeps
its traceback, so that it gets reported and fixed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .errors import InputError, SimulateError, UsageError
from .loader import plan_from_document
from .plan import Plan
from .yamlio import load_document

Configure = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[str, Configure, Handler]] = {}


def register(name: str, help: str, configure: Configure, run: Handler) -> None:
    """Add a sub-command: `configure(parser)` declares its arguments, `run(args)` runs it."""
    COMMANDS[name] = (help, configure, run)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):   # argparse exits 2 on its own; keep our one-line style
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="plan or scenario YAML file, e.g. scenarios/baseline.yaml")
    p.add_argument("--runs", type=_positive_int, help="replications (default: the plan's `runs`, 1000)")
    p.add_argument("--seed", type=_nonnegative_int, help="random seed (default: the plan's `seed`)")
    p.add_argument("--out", type=Path, help="write the run into this folder itself")
    p.add_argument("--results", type=Path, default=Path("results"),
                   help="root of the run folders (default: results/)")
    p.add_argument("--workers", type=_positive_int, help="worker processes (default: all cores)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary table")
    p.add_argument("--json", action="store_true", help="print summary.json to stdout")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def load(path: str | Path) -> Plan:
    return plan_from_document(load_document(path))


def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", help="YAML files to check")


def _validate(args: argparse.Namespace) -> int:
    failed = 0
    for f in args.files:
        try:
            load(f)
            print(f"{f}: ok")
        except InputError as exc:
            failed += 1
            print(str(exc), file=sys.stderr)
    return 2 if failed else 0


def _schema(args: argparse.Namespace) -> int:
    schema = Plan.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["properties"]["extends"] = {"description": "parent plan file(s), relative to this file",
                                       "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    print(json.dumps(schema, indent=2))
    return 0


register("validate", "check plan and scenario files without running them", _validate_args, _validate)
register("schema", "print the JSON Schema of the plan format (for editors)", lambda p: None, _schema)


def run_command(args: argparse.Namespace) -> int:
    from .session import run_scenario
    return run_scenario(args)


def build_parser(prog: str = "python -m simulate") -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description=(
        "Stress-test an annual sales target: simulate the year thousands of times and report "
        "how likely the target is. Sub-commands: " + ", ".join(COMMANDS) + "."),
        epilog="Exit codes: 0 success, 2 bad input or usage, 1 internal failure.")
    p.add_argument("--version", action="version", version=f"simulate {__version__}")
    _run_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            help_text, configure, run = COMMANDS[argv[0]]
            sub = _Parser(prog=f"python -m simulate {argv[0]}", description=help_text)
            configure(sub)
            return run(sub.parse_args(argv[1:]))
        return run_command(build_parser().parse_args(argv))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except SimulateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0
