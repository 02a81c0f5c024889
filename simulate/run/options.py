"""The options every simulating command takes, and the checks of their values.

They describe how a run is played (replications, seed, workers, batches, precision, rules)
and where it lands; the command line declares them once here and each command adds its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from ..errors import UsageError
from ..plan.plan import MAX_RUNS
from ..plan.quantities import parse_date, parse_fraction, parse_money
from ..version import __version__
from .executors import BACKENDS

VALUE_RUNS = 500     # years used to value each rule by default: the first 500 of the run


def common_options(p: argparse.ArgumentParser) -> None:
    """The options every simulating command takes: runs, seed, output, workers, batches, rules."""
    p.add_argument("--runs", type=positive_int, help="replications (default: the plan's `runs`, 1000)")
    p.add_argument("--seed", type=nonnegative_int, help="random seed (default: the plan's `seed`)")
    p.add_argument("--out", type=Path, help="write the run into this folder itself")
    p.add_argument("--results", type=Path, default=Path("results"),
                   help="root of the run folders (default: results/)")
    p.add_argument("--workers", type=worker_count, help="worker processes (default: all cores)")
    p.add_argument("--batch-size", type=positive_int, metavar="N",
                   help="replications per batch sent to a worker (default: automatic; "
                        "results do not depend on it)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary table")
    p.add_argument("--json", action="store_true", help="print summary.json to stdout")
    p.add_argument("--no-rules", action="store_true", help="switch the contingency playbooks off")
    p.add_argument("--without", action="append", metavar="RULE", default=[],
                   help="switch one rule off (repeatable)")
    p.add_argument("--lang", choices=("en", "zh"),
                   help="language of the summary, report and charts (default: the plan's "
                        "`language`, else en); zh reads amounts in 万 and 亿")
    p.add_argument("--all-runs", action="store_true",
                   help="play every one of --runs years, even once the answer is settled")
    p.add_argument("--no-cache", action="store_true",
                   help="play every year again instead of reading the years already played from "
                        "RESULTS/.cache (python -m simulate cache --clear empties it)")


def run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="plan or scenario YAML file, e.g. scenarios/baseline.yaml")
    common_options(p)
    p.add_argument("--from-pipeline", metavar="CSV", nargs="+",
                   help="re-forecast: start from a CRM export's bookings and open deals: deals.csv, "
                        "optionally accounts.csv for renewals booked so far (with --as-of)")
    p.add_argument("--as-of", metavar="DATE", help="re-forecast date, e.g. 2027-06-30")
    p.add_argument("--map", type=Path, metavar="MAP.yaml", dest="crm_map",
                   help="how to read the CRM export of --from-pipeline: its columns, stages, date format")
    p.add_argument("--backend", choices=BACKENDS, default="local",
                   help="where the years are played: local cores (default) or a Dask cluster")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="the Dask scheduler, e.g. tcp://HOST:8786 (with --backend dask)")
    p.add_argument("--precision", type=half_width, metavar="X",
                   help="run rounds of replications until the 95%% half-width of P(hit) (of the "
                        "paired difference, when comparing variants) is at most X, e.g. 0.01 or 1%%")
    p.add_argument("--max-runs", type=positive_int, metavar="N",
                   help="at most N replications per variant (default with --precision: 100000)")
    p.add_argument("--rule-value-runs", type=nonnegative_int, metavar="N", default=VALUE_RUNS,
                   help=f"value each playbook rule on the first N years, replayed without it "
                        f"(default: {VALUE_RUNS}; 0: report firings only, faster)")


def half_width(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a half-width such as 0.01 or 1%, got '{text}'") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a half-width between 0 and 1 (0.01 = 1 pp), got {text}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    if value > MAX_RUNS:    # replications, workers, batch sizes: none is sane beyond this
        raise argparse.ArgumentTypeError(f"expected a number <= {MAX_RUNS:,}, got {value:,}")
    return value


def worker_count(text: str) -> int:
    """Worker processes: each is a forked copy of this one, so a typo (1000 for 10) must not
    fork a thousand; up to four per core, and at least 64, are allowed."""
    from .executors import default_workers
    value = positive_int(text)
    limit = max(64, 4 * default_workers())
    if value > limit:
        raise argparse.ArgumentTypeError(f"expected at most {limit} worker processes "
                                         f"({default_workers()} cores here), got {value:,}")
    return value


def nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


class Parser(argparse.ArgumentParser):
    def error(self, message: str):   # argparse exits 2 on its own; keep our one-line style
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser(prog: str = "python -m simulate", commands: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """The plain run's parser (`commands` names the sub-commands in its help)."""
    p = Parser(prog=prog, description=(
        "Stress-test an annual sales target: simulate the year thousands of times and report "
        "how likely the target is. Sub-commands: " + ", ".join(commands) + "."),
        epilog="Exit codes: 0 success, 2 bad input or usage, 1 internal failure.")
    p.add_argument("--version", action="version", version=f"simulate {__version__}")
    run_arguments(p)
    return p


def fraction(text: str) -> float:
    """A command-line share: 0.8 or 80%."""
    try:
        value = parse_fraction(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share such as 0.8 or 80%, got '{text}'") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1 (or 0% and 100%), got {text}")
    return value


def amount(text: str) -> float:
    """A command-line amount: 250k, 1.2M, 80万."""
    try:
        value = parse_money(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an amount such as 250k or 1.2M, got '{text}'") from None
    if not 0 <= value <= 1e15:
        raise argparse.ArgumentTypeError(f"expected an amount between 0 and 1e15, got {text}")
    return value


def day(text: str) -> dt.date:
    """A command-line date: 2027-03-01."""
    try:
        return parse_date(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date such as 2027-03-01, got '{text}'") from None
