"""results.xlsx: a run's results as a workbook, for managers who live in Excel.

Sheets: `summary` (the headline figures), `variants`, `segments`, `products`, `quarters`,
`regions` (each variant's breakdowns), `rules` (when the plan has a playbook), `matrix`,
`signoff` and `sensitivity` (when the decision commands made them), and `replications`, one
row per simulated year (the CSV and Parquet files hold the same). Shares are numbers formatted
as percentages, amounts are plain numbers in the plan's currency.
"""

from __future__ import annotations

import io
from typing import Any, Iterable

import pandas as pd

PERCENT, MONEY = "0.0%", "#,##0"
MAX_ROWS = 1_048_575     # Excel's limit, less the header


def workbook_bytes(summary: dict[str, Any], replications: pd.DataFrame) -> bytes:
    """The workbook, written in openpyxl's streaming mode (a big run stays cheap)."""
    from openpyxl import Workbook
    book = Workbook(write_only=True)
    for name, header, rows, formats in sheets(summary):
        if rows:
            _sheet(book, name, header, rows, formats)
    table = replications.iloc[:MAX_ROWS]
    _sheet(book, "replications", list(table.columns),
           table.astype(object).where(table.notna(), None).itertuples(index=False), {})
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


Sheet = tuple[str, list[str], list[list[Any]], dict[str, str]]


def sheets(s: dict[str, Any]) -> list[Sheet]:
    """Every sheet but the replications: name, header, rows, number formats by column."""
    currency = s.get("currency") or ""
    head = next(iter(s["variants"].values()))
    summary = [["scenario", s["scenario"]], ["simulated years", s["runs"]], ["seed", s["seed"]],
               ["metric", s["metric"]], ["currency", currency], ["target", s["target"]],
               ["P(hit)", head["p_hit"]], ["P(hit) 95 % CI low", head["p_hit_ci95"][0]],
               ["P(hit) 95 % CI high", head["p_hit_ci95"][1]],
               *[[f"attainment {k}", head["attainment"][k]] for k in ("mean", "p10", "p50", "p90")]]
    if s.get("signoff"):
        so = s["signoff"]
        summary += [["verdict", so["verdict"]], ["signable target", so["signable_target"]],
                    ["signable target set by", so["signable_binding"]]]
    summary += [["warning", w] for w in s.get("warnings", [])]
    out: list[Sheet] = [("summary", ["item", "value"], summary, {})]
    out.append(("variants", ["variant", "years", "target", "P(hit)", "CI low", "CI high",
                             "attainment mean", "attainment P10", "attainment P50", "attainment P90"],
                [[n, v["runs"], s["target"], v["p_hit"], *v["p_hit_ci95"],
                  *(v["attainment"][k] for k in ("mean", "p10", "p50", "p90"))]
                 for n, v in s["variants"].items()],
                {"target": MONEY, "P(hit)": PERCENT, "CI low": PERCENT, "CI high": PERCENT,
                 **{f"attainment {k}": PERCENT for k in ("mean", "P10", "P50", "P90")}}))
    for dim in ("segment", "product", "quarter", "region"):
        out.append((f"{dim}s", ["variant", dim, "target", "P10", "median", "P90", "attainment P50",
                                "P(hit)"],
                    [[n, name, r.get("target"), r["value"]["p10"], r["value"]["p50"],
                      r["value"]["p90"], (r.get("attainment") or {}).get("p50"), r.get("p_hit")]
                     for n, v in s["variants"].items() for name, r in (v.get(f"by_{dim}") or {}).items()],
                    {"target": MONEY, "P10": MONEY, "median": MONEY, "P90": MONEY,
                     "attainment P50": PERCENT, "P(hit)": PERCENT}))
    out.append(("rules", ["variant", "rule", "fires in (share of years)", "first firing day (median)",
                          "attainment when fired", "attainment when not", "value: P(hit) change"],
                [[n, rule, r.get("fired_share"), (r.get("first_firing_day") or {}).get("p50"),
                  r.get("attainment_fired"), r.get("attainment_not_fired"),
                  (r.get("value") or {}).get("p_hit_diff")]
                 for n, v in s["variants"].items() for rule, r in (v.get("rules") or {}).items()],
                {"fires in (share of years)": PERCENT, "attainment when fired": PERCENT,
                 "attainment when not": PERCENT, "value: P(hit) change": PERCENT}))
    out += decisions(s)
    return out


def decisions(s: dict[str, Any]) -> list[Sheet]:
    """The sheets of compare, stress, sign-off and sensitivity, when the run has them."""
    out: list[Sheet] = []
    m = s.get("matrix") or {}
    out.append(("matrix", ["variant", "scenario", "P(hit)", "CI low", "CI high", "attainment P10",
                           "attainment P50", "expected shortfall", "weakest"],
                [[v, sc, c["p_hit"], *c["p_hit_ci95"], c["attainment_p10"], c["attainment_p50"],
                  c["expected_shortfall"], (m.get("weakest") or {}).get(v) == sc]
                 for v, row in (m.get("variants") or {}).items() for sc, c in row.items()],
                {"P(hit)": PERCENT, "CI low": PERCENT, "CI high": PERCENT, "attainment P10": PERCENT,
                 "attainment P50": PERCENT, "expected shortfall": MONEY}))
    so = s.get("signoff") or {}
    out.append(("signoff", ["check: scenario", "P(hit)", "CI low", "CI high", "required", "passes", "years"],
                [[c["scenario"], c["p_hit"], *c["p_hit_ci95"], c["required"], c["passes"], c.get("runs")]
                 for c in so.get("checks", [])],
                {"P(hit)": PERCENT, "CI low": PERCENT, "CI high": PERCENT, "required": PERCENT}))
    out.append(("breaking points", ["scenario", "shock", "unit", "declared size", "breaks at", "status"],
                [[b["scenario"], b["shock"], b["unit"], b["declared_size"], b["breaks_at"], b["status"]]
                 for b in so.get("breaking_points", [])], {}))
    out.append(("compare", ["variant", "target", "P(hit)", "change in P(hit)", "CI low", "CI high",
                            "P(books more than the plan)"],
                [[n, c.get("target"), c["p_hit"], c["p_hit_diff"], *c["p_hit_diff_ci95"],
                  c.get("p_beats_base")] for n, c in (s.get("comparisons") or {}).items()],
                {"target": MONEY, "P(hit)": PERCENT, "change in P(hit)": PERCENT, "CI low": PERCENT,
                 "CI high": PERCENT, "P(books more than the plan)": PERCENT}))
    out.append(("sensitivity", ["factor", "low", "high", "P(hit) at low", "P(hit) at high", "swing"],
                [[f["name"], f["low"], f["high"], f["p_hit_low"], f["p_hit_high"], f.get("swing")]
                 for f in (s.get("sensitivity") or {}).get("factors", [])],
                {"P(hit) at low": PERCENT, "P(hit) at high": PERCENT, "swing": PERCENT}))
    return out


def _sheet(book: Any, name: str, header: list[str], rows: Iterable[Iterable[Any]],
           formats: dict[str, str]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    sheet = book.create_sheet(name)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    sheet.append([_styled(WriteOnlyCell(sheet, value=h), font=bold) for h in header])
    fmt = [formats.get(h) for h in header]
    for row in rows:
        sheet.append([_styled(WriteOnlyCell(sheet, value=_plain(x)), number_format=f) if f else _plain(x)
                      for x, f in zip(row, fmt)])


def _styled(cell: Any, **style: Any) -> Any:
    for key, value in style.items():
        setattr(cell, key, value)
    return cell


def _plain(x: Any) -> Any:
    """A value a cell can hold: numpy scalars as Python numbers, NaN as empty."""
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and x != x:
        return None
    return x
