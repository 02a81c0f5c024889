"""Anchor the plan in last year's data: calibrate it from the CRM, check it against the market.

A target pulled out of thin air fails; last year is "the mirror of the target". `calibrate`
reads a CRM export (deals, key-account renewals, reps), measures the funnel, the deal sizes,
the lead flow, the renewals and the team, and writes a plan whose every figure says where it
came from: its sample size and fit quality, or the default it fell back to when the data
were too thin. It also reviews last year on the source's three axes (customer tier,
product, region) and checks the funnel's shape against 5 : 3 : 2 : 1. A plan may state its
market; `market_warning` flags a target that asks for more than the reachable share.
`plan_sales` and `plan_team` write the plan's sections, `review` the review.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from ..errors import UsageError
from ..plan import quantities as q
from ..plan.market import market_ceiling, market_warning
from ..plan.plan import Market
from ..run.options import day, nonnegative_int, worker_count
from .backcast import RUNS
from .calibration import Calibration
from .plan_yaml import PlanYaml, money, pct, yaml_str
from .review import last_year_review


# -- the plan ---------------------------------------------------------------------------
def plan_yaml(cal: Calibration) -> str:
    """The calibrated plan as commented YAML (written once: it lists the defaults it used)."""
    if cal.plan_text is None:
        cal.plan_text = _write_plan(cal)
    return cal.plan_text


def _write_plan(cal: Calibration) -> str:
    # the sections need the statistics: they load only when a plan is written
    from .plan_sales import write_channels, write_products, write_segments
    from .plan_team import team_reps, write_team
    y, ex = PlanYaml(), cal.ex
    files = ", ".join(f"{Path(f).name}" for f in ex.files.values())
    y.comment(0, f"Calibrated by `python -m simulate calibrate` from the CRM export {files}, covering "
                 f"{ex.start} to {ex.as_of} ({ex.years:.2f} years).")
    y.comment(0, "Every fitted figure states its sample size (n), its interval or fit quality. Figures the "
                 "export cannot give, or gives from fewer than 30 observations, fall back to the reference "
                 "plan's (scenarios/baseline.yaml) and say so. Last year's review is in "
                 f"{cal.name}.review.md.")
    y.blank()
    y.put(0, "name", yaml_str(cal.name))
    y.put(0, "description", yaml_str(f"Calibrated from {files} ({ex.start} to {ex.as_of})."))
    y.put(0, "seed", str(ex.as_of.year + 1))
    y.put(0, "runs", "1000")
    y.put(0, "horizon")
    y.put(2, "start", (ex.as_of + dt.timedelta(days=1)).isoformat(), "the day after the export")
    y.put(2, "years", "1")
    last = sum(cal.by_axis(2, cal.last).values())
    y.put(0, "target")
    y.put(2, "metric", "bookings")
    y.put(2, "annual", money(cal.target or last, 4), "as given (--target)" if cal.target else
          "last year's bookings (won deals + renewed contracts): set your own with --target")
    if cal.market is not None:
        m = cal.market
        y.put(0, "market", f"{{size: {money(m.size, 4)}, growth: {pct(m.growth)}, reachable_share: "
                           f"{pct(m.reachable_share)}}}", f"ceiling {money(market_ceiling(m))}")
    reps = team_reps(cal)
    regions = sorted({r["region"] for r in reps if r["region"]})
    if regions:
        y.put(0, "regions", "[" + ", ".join(yaml_str(r) for r in regions) + "]")
    y.blank()
    write_products(cal, y)
    write_segments(cal, y)
    write_channels(cal, y)
    write_team(cal, y, reps)
    y.blank()
    y.comment(0, "The export has no invoices or payments: collections are the reference plan's.")
    y.put(0, "collections", "{share: 90%, delay: {gamma: {mean: 45d, sd: 15d}}}")
    cal.defaults.append("collections: the export has no payments")
    return y.text()

# -- last year's review -----------------------------------------------------------------
def review_markdown(cal: Calibration, warning: str | None = None, backcast: dict | None = None) -> str:
    """Last year on the three axes, the funnel's health, the back-cast, the market check, the defaults."""
    plan_yaml(cal)                 # lists the defaults the plan fell back to
    return last_year_review(cal, warning, backcast)


# -- the command ------------------------------------------------------------------------
def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path, metavar="CSV",
                   help="DEALS.csv, then optionally ACCOUNTS.csv and REPS.csv (told apart by their headers)")
    p.add_argument("--map", type=Path, metavar="MAP.yaml", dest="crm_map",
                   help="how to read the deals file of a CRM: its columns, stage names and date format "
                        "(without it: canonical names, else standard Salesforce and HubSpot names)")
    p.add_argument("--out", type=Path, required=True, help="the plan to write, e.g. scenarios/calibrated.yaml; "
                   "the review goes next to it as NAME.review.md")
    p.add_argument("--as-of", type=day, metavar="DATE",
                   help="the export's date (default: the end of the month of its latest date)")
    p.add_argument("--target", type=q.parse_money, help="annual target (default: last year's bookings)")
    p.add_argument("--budget", type=q.parse_money, help="marketing budget (default: 800k, the baseline's)")
    p.add_argument("--market-size", type=q.parse_money, metavar="MONEY", help="market size last year, e.g. 200M")
    p.add_argument("--market-growth", type=q.parse_fraction, default=0.0, metavar="PCT", help="e.g. 5%%")
    p.add_argument("--reachable-share", type=q.parse_fraction, metavar="PCT",
                   help="the share of the market the team can reach, e.g. 8%%")
    p.add_argument("--backcast-runs", type=nonnegative_int, default=RUNS, metavar="N",
                   help=f"simulated years of the back-cast, the plan played over the export's own period "
                        f"(default {RUNS}; 0 skips it)")
    p.add_argument("--workers", type=worker_count, help="worker processes for the back-cast (default: all cores)")
    p.add_argument("--quiet", "-q", action="store_true", help="do not print the review")


def run(args: argparse.Namespace) -> int:
    from ..files import write_text
    from ..load.crm import read_export  # statistics load only when calibrating
    from ..load.loader import plan_from_document
    from ..load.yamlio import load_document
    from .estimates import Estimates
    if (args.market_size is None) != (args.reachable_share is None):
        raise UsageError("--market-size and --reachable-share go together (with --market-growth if known)")
    if args.out.suffix not in (".yaml", ".yml"):
        raise UsageError(f"--out: expected a .yaml file for the plan, got '{args.out}'")
    from ..load.crm_formats import load_map
    export = read_export(args.files[0], list(args.files[1:]), args.as_of, load_map(args.crm_map))
    market = None
    if args.market_size is not None:
        try:
            market = Market(size=args.market_size, growth=args.market_growth, reachable_share=args.reachable_share)
        except ValueError as exc:          # pydantic's ValidationError is a ValueError
            problem = exc.errors()[0] if hasattr(exc, "errors") else {"loc": ("market",), "msg": str(exc)}
            raise UsageError(f"--{str(problem['loc'][0]).replace('_', '-')}: {problem['msg']}") from None
    cal = Calibration(Estimates(export), args.out.stem, args.target, args.budget, market)
    text = plan_yaml(cal)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out, text)
    plan = plan_from_document(load_document(args.out))    # what we wrote must load: a bug otherwise
    result = None
    if args.backcast_runs:
        from ..files import write_json
        from .backcast import backcast
        result = backcast(cal, plan, args.backcast_runs, args.workers)
        write_json(args.out.with_name(args.out.stem + ".backcast.json"), {"backcast": result})
    review = review_markdown(cal, market_warning(plan), result)
    review_path = args.out.with_name(args.out.stem + ".review.md")
    write_text(review_path, review)
    if not args.quiet:
        print(review)
    for line in result["warnings"] if result else ():
        print(f"warning: {line}", file=sys.stderr)
    written = [args.out, review_path] + ([args.out.with_name(args.out.stem + ".backcast.json")] if result else [])
    print(f"wrote {', '.join(map(str, written))}", file=sys.stderr)
    return 0
