"""`python -m simulate backtest EXPORT --cut DATE ...`: would the re-forecast have been right?

For each cut, calibrate on what the export knew that day, re-forecast to the horizon, and score
the forecast against what happened, beside the weighted pipeline and the 90-day run rate (see
calibrate/backtest.py). The run folder holds summary.json (key `backtest`), backtest.csv (one
row per cut), the charts (a fan per cut, the PIT histogram) and each cut's calibrated plan.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..files import new_run_folder, point_latest, prepare_out, write_bytes, write_json, write_text
from ..run.options import day, nonnegative_int, positive_int, worker_count

RUNS = 200


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path, metavar="CSV",
                   help="the export: DEALS.csv, then optionally ACCOUNTS.csv and REPS.csv")
    p.add_argument("--map", type=Path, metavar="MAP.yaml", dest="crm_map",
                   help="how to read the deals file of a CRM: its columns, stage names and date format")
    p.add_argument("--cut", type=day, nargs="+", action="extend", required=True, metavar="DATE",
                   help="the days to forecast from, e.g. --cut 2027-03-31 2027-06-30 (repeatable)")
    p.add_argument("--horizon", default="3mo",
                   help="how far each forecast reaches: year-end, a duration such as 3mo (default) or a date")
    p.add_argument("--runs", type=positive_int, default=RUNS, help=f"simulated futures per cut (default {RUNS})")
    p.add_argument("--seed", type=nonnegative_int, default=1, help="random seed (default 1)")
    p.add_argument("--workers", type=worker_count, help="worker processes (default: all cores)")
    p.add_argument("--out", type=Path, help="write into this folder itself")
    p.add_argument("--results", type=Path, default=Path("results"), help="root of the run folders (default: results/)")
    p.add_argument("--quiet", "-q", action="store_true", help="no table")
    p.add_argument("--json", action="store_true", help="print summary.json to stdout")


def table(section: dict[str, Any]) -> str:
    """The cuts side by side with the two CRM forecasts, then coverage and skill."""
    from ..format import money_short
    lines = [(f"{'cut':>10} {'horizon':>10} {'actual':>8} {'P10':>8} {'P50':>8} {'P90':>8} {'PIT':>5} "
              f"{'CRPS':>8} {'weighted':>9} {'run rate':>9}")]
    for c in section["cuts"]:
        b = c["baselines"]
        lines.append(f"{c['cut']:>10} {c['horizon_end']:>10} {money_short(c['actual']):>8} {money_short(c['p10']):>8} "
                     f"{money_short(c['p50']):>8} {money_short(c['p90']):>8} {c['pit']:>5.2f} "
                     f"{money_short(c['crps']):>8} {money_short(b['weighted_pipeline']['p50']):>9} "
                     f"{money_short(b['run_rate']['p50']):>9}")
    skill = section["crps_skill_vs_weighted_pipeline"]
    lines.append(f"coverage: 80 % interval {section['coverage80']:.0%}, 90 % interval {section['coverage90']:.0%} "
                 f"of {len(section['cuts'])} cuts; mean CRPS {money_short(section['crps_mean'])}, skill against the "
                 f"weighted pipeline {'n/a' if skill is None else f'{skill:+.2f}'}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from ..calibrate.backtest import backtest
    from ..load.crm import read_export
    from ..load.crm_formats import load_map
    from ..report.plots.backtest import fans, pit_histogram
    export = read_export(args.files[0], list(args.files[1:]), None, load_map(args.crm_map))
    cuts = sorted(set(args.cut))
    name = args.files[0].stem
    folder = prepare_out(args.out) if args.out else new_run_folder(args.results, f"{name}-backtest", str(cuts))
    section, charts = backtest(export, cuts, args.horizon, args.runs, args.seed, args.workers)
    (folder / "cuts").mkdir(exist_ok=True)
    for chart in charts:
        write_text(folder / "cuts" / f"{chart['cut']}.yaml", chart["plan_text"])
    rows = [("cut,horizon_end,actual,p05,p10,p50,p90,p95,pit,crps,weighted_pipeline,weighted_pipeline_crps,"
             "run_rate,run_rate_crps")]
    for c in section["cuts"]:
        b = c["baselines"]
        rows.append(",".join(str(v) for v in (c["cut"], c["horizon_end"], c["actual"], c["p05"], c["p10"], c["p50"],
                                              c["p90"], c["p95"], c["pit"], c["crps"], b["weighted_pipeline"]["p50"],
                                              b["weighted_pipeline"]["crps"], b["run_rate"]["p50"],
                                              b["run_rate"]["crps"])))
    write_text(folder / "backtest.csv", "\n".join(rows) + "\n")
    (folder / "plots").mkdir(exist_ok=True)
    for plot in (fans(charts, section), pit_histogram(section)):
        for fmt, data in plot.render().items():
            write_bytes(folder / "plots" / f"{plot.name}.{fmt}", data)
    summary = {"scenario": f"{name}-backtest", "seed": args.seed, "runs": args.runs, "horizon": args.horizon,
               "files": [str(f) for f in args.files], "backtest": section}
    write_json(folder / "summary.json", summary)
    if not args.out:
        point_latest(folder)
    if args.json:
        print(json.dumps(json.loads((folder / "summary.json").read_text()), indent=2))
    elif not args.quiet:
        print(table(section), end="")
    print(f"wrote {folder}", file=sys.stderr)
    return 0
