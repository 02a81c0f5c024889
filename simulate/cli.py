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
from .executors import BACKENDS
from .rule_value import VALUE_RUNS
from .loader import load_scenario, load_variants, plan_from_document
from .plan import MAX_RUNS, Plan

Configure = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[str, Configure, Handler]] = {}


def register(name: str, help: str, configure: Configure, run: Handler) -> None:
    """Add a sub-command: `configure(parser)` declares its arguments, `run(args)` runs it."""
    COMMANDS[name] = (help, configure, run)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):   # argparse exits 2 on its own; keep our one-line style
        raise UsageError(f"{message} (see '{self.prog} --help')")


def common_options(p: argparse.ArgumentParser) -> None:
    """The options every simulating command takes: runs, seed, output, workers, batches, rules."""
    p.add_argument("--runs", type=_positive_int, help="replications (default: the plan's `runs`, 1000)")
    p.add_argument("--seed", type=_nonnegative_int, help="random seed (default: the plan's `seed`)")
    p.add_argument("--out", type=Path, help="write the run into this folder itself")
    p.add_argument("--results", type=Path, default=Path("results"),
                   help="root of the run folders (default: results/)")
    p.add_argument("--workers", type=_workers, help="worker processes (default: all cores)")
    p.add_argument("--batch-size", type=_positive_int, metavar="N",
                   help="replications per batch sent to a worker (default: automatic; "
                        "results do not depend on it)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary table")
    p.add_argument("--json", action="store_true", help="print summary.json to stdout")
    p.add_argument("--no-rules", action="store_true", help="switch the contingency playbooks off")
    p.add_argument("--without", action="append", metavar="RULE", default=[],
                   help="switch one rule off (repeatable)")
    p.add_argument("--all-runs", action="store_true",
                   help="play every one of --runs years, even once the answer is settled")


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="plan or scenario YAML file, e.g. scenarios/baseline.yaml")
    common_options(p)
    p.add_argument("--from-pipeline", metavar="CSV", nargs="+",
                   help="re-forecast: start from a CRM export's bookings and open deals: deals.csv, "
                        "optionally accounts.csv for renewals booked so far (with --as-of)")
    p.add_argument("--as-of", metavar="DATE", help="re-forecast date, e.g. 2027-06-30")
    p.add_argument("--backend", choices=BACKENDS, default="local",
                   help="where the years are played: local cores (default) or a Dask cluster")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="the Dask scheduler, e.g. tcp://HOST:8786 (with --backend dask)")
    p.add_argument("--precision", type=_half_width, metavar="X",
                   help="run rounds of replications until the 95%% half-width of P(hit) (of the "
                        "paired difference, when comparing variants) is at most X, e.g. 0.01 or 1%%")
    p.add_argument("--max-runs", type=_positive_int, metavar="N",
                   help="at most N replications per variant (default with --precision: 100000)")
    p.add_argument("--rule-value-runs", type=_nonnegative_int, metavar="N", default=VALUE_RUNS,
                   help=f"value each playbook rule on the first N years, replayed without it "
                        f"(default: {VALUE_RUNS}; 0: report firings only, faster)")


def _half_width(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a half-width such as 0.01 or 1%, got '{text}'") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a half-width between 0 and 1 (0.01 = 1 pp), got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    if value > MAX_RUNS:    # replications, workers, batch sizes: none is sane beyond this
        raise argparse.ArgumentTypeError(f"expected a number <= {MAX_RUNS:,}, got {value:,}")
    return value


def _workers(text: str) -> int:
    """Worker processes: each is a forked copy of this one, so a typo (1000 for 10) must not
    fork a thousand; up to four per core, and at least 64, are allowed."""
    from .executors import default_workers
    value = _positive_int(text)
    limit = max(64, 4 * default_workers())
    if value > limit:
        raise argparse.ArgumentTypeError(f"expected at most {limit} worker processes "
                                         f"({default_workers()} cores here), got {value:,}")
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
    return plan_from_document(load_scenario(path))


def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", help="YAML files to check")


def _validate(args: argparse.Namespace) -> int:
    failed = 0
    for f in args.files:
        try:
            plan = load_variants(load_scenario(f))["plan"]    # the plan and each variant
            print(f"{f}: ok")
            from .market import plan_warnings
            for warning in plan_warnings(plan):
                print(f"warning: {f}: {warning}", file=sys.stderr)
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

from . import bench  # noqa: E402,F401  (registers `bench`)


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
    except SimulateError as exc:    # bad input exits 2, a failed run 1: the error knows which
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:   # Ctrl-C outside a run (a run saves its completed years itself)
        print("interrupted", file=sys.stderr)
        return 130


from . import rerun  # noqa: E402,F401  (registers the `rerun` sub-command)
from . import rules_cli  # noqa: E402,F401  (registers `rules lint|metrics|actions`)
from . import calibrate, crm_synth  # noqa: E402,F401  (registers `calibrate`, `synth-crm`)
from . import compare, sensitivity, signoff, stress  # noqa: E402,F401  (registers the decision commands)
