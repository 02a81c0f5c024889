"""Exports as they come: Salesforce and HubSpot names, current stages only, US dates,
currency amounts, a map; every bad value named by file, row and the file's own column.

The exports are written here from the committed sample (scenarios/data/deals.csv, played by
the model), so the truth they are checked against is known.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from conftest import SCENARIOS

from simulate.cli.main import main
from simulate.load.crm import read_export
from simulate.load.crm_formats import load_map
from simulate.load.loader import plan_from_document
from simulate.load.yamlio import load_document

SAMPLE = SCENARIOS / "data" / "deals.csv"
SF_STAGES = {"lead": "Prospecting", "intent": "Needs Analysis", "negotiation": "Negotiation/Review"}
HS_STAGES = {"lead": "Discovery", "intent": "Demo done", "negotiation": "Contract out"}


def sample_rows() -> list[dict[str, str]]:
    with SAMPLE.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def salesforce(path: Path, rows: list[dict[str, str]]) -> Path:
    """A Salesforce opportunity report: current stage, datetime stamps, '$1,054.00'."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Id", "CreatedDate", "CloseDate", "StageName", "Amount", "OwnerId", "LeadSource",
                    "Segment__c", "Product__c", "Probability"])
        for r in rows:
            stage = {"won": "Closed Won", "lost": "Closed Lost"}.get(r["outcome"]) or SF_STAGES[r["last_stage"]]
            amount = f"${float(r['amount']):,.2f}" if r["amount"] else ""
            w.writerow([r["deal_id"], r["created"] + " 00:00:00", r["closed_date"] and r["closed_date"] + " 10:30:00",
                        stage, amount, r["rep"], r["channel"], r["segment"], r["product"], "10"])
    return path


def hubspot(path: Path, rows: list[dict[str, str]]) -> Path:
    """A HubSpot deal export with the company's own stage names and US dates (needs a map)."""
    def us(day: str) -> str:
        return dt.date.fromisoformat(day).strftime("%m/%d/%Y") if day else ""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Record ID", "Deal Name", "Create Date", "Close Date", "Deal Stage", "Amount", "Deal owner",
                    "Tier", "Line"])
        for r in rows:
            stage = {"won": "Signed", "lost": "Dropped"}.get(r["outcome"]) or HS_STAGES[r["last_stage"]]
            w.writerow([r["deal_id"], "deal", us(r["created"]), us(r["closed_date"]), stage, r["amount"],
                        r["rep"], r["segment"], r["product"]])
    return path


HS_MAP = """columns: {deal_id: Record ID, created: Create Date, closed_date: Close Date, stage: Deal Stage,
          amount: Amount, rep: Deal owner, segment: Tier, product: Line}
dates: "%m/%d/%Y"
stages: {Discovery: lead, Demo done: intent, Contract out: negotiation, Signed: won, Dropped: lost}
"""


def test_a_salesforce_report_calibrates_without_a_map(tmp_path, capsys):
    rows = sample_rows()
    export = read_export(salesforce(tmp_path / "opps.csv", rows), [])
    assert not export.stage_dates and len(export.deals) == len(rows)
    won = [d for d in export.deals if d.outcome == "won"]
    assert sum(d.amount for d in won) == pytest.approx(sum(float(r["amount"]) for r in rows if r["outcome"] == "won"))
    assert {d.channel for d in export.deals} == {r["channel"] for r in rows}
    out = tmp_path / "plan.yaml"
    assert main(["calibrate", str(tmp_path / "opps.csv"), "--out", str(out), "--quiet"]) == 0
    plan = plan_from_document(load_document(out))
    review = (tmp_path / "plan.review.md").read_text()
    assert "current stages only" in review and "ASSUMED" in out.read_text()
    # the funnel's stages multiply to the measured win rate of each segment with enough deals
    for segment in plan.segments:
        closed = [r for r in rows if r["segment"] == segment.name and r["outcome"] != "open"]
        if segment.funnel is None or len(closed) < 30:
            continue
        stages = segment.funnel.stages()
        product = stages[0].advance * stages[1].advance * stages[2].advance
        assert product == pytest.approx(sum(r["outcome"] == "won" for r in closed) / len(closed), rel=1e-3)


def test_a_hubspot_export_reads_through_its_map(tmp_path):
    rows = sample_rows()
    (tmp_path / "map.yaml").write_text(HS_MAP)
    export = read_export(hubspot(tmp_path / "deals.csv", rows), [], export_map=load_map(tmp_path / "map.yaml"))
    assert [d.created for d in export.deals[:3]] == [dt.date.fromisoformat(r["created"]) for r in rows[:3]]
    assert sum(d.outcome == "won" for d in export.deals) == sum(r["outcome"] == "won" for r in rows)
    open_stage = {d.id: d.last_stage for d in export.deals if d.outcome == "open"}
    assert open_stage == {r["deal_id"]: r["last_stage"] for r in rows if r["outcome"] == "open"}
    assert any("map.yaml" in n for n in export.notes)


def test_open_prospects_without_a_created_date_are_left_out_and_said(tmp_path, capsys):
    """CRMs list prospects before anyone engages them, with no created date: such open leads
    are no deals yet (left out, counted in the review); a dateless deal past the lead stage is
    still a located error."""
    rows = sample_rows()
    leads = [r["deal_id"] for r in rows if r["outcome"] == "open" and r["last_stage"] == "lead"][:5]
    assert leads, "the sample has open leads"
    undated = [{**r, "created": ""} if r["deal_id"] in leads else r for r in rows]
    (tmp_path / "map.yaml").write_text(HS_MAP)
    path = hubspot(tmp_path / "deals.csv", undated)
    export = read_export(path, [], export_map=load_map(tmp_path / "map.yaml"))
    assert len(export.deals) == len(rows) - len(leads) and not {d.id for d in export.deals} & set(leads)
    assert any(f"{len(leads)} open deals at the lead stage ('Discovery') have no date in column 'create_date'"
               in n for n in export.notes)
    won = next(r for r in rows if r["outcome"] == "won")
    hubspot(path, [{**won, "created": ""}])
    code = main(["calibrate", str(path), "--map", str(tmp_path / "map.yaml"), "--out", str(tmp_path / "p.yaml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "row 2, column 'create_date'" in err[0], err


def test_the_canonical_export_takes_currency_and_time_stamps(tmp_path):
    text = SAMPLE.read_text(encoding="utf-8").splitlines()
    header, first = text[0], text[2].split(",")            # D00002, a won deal
    first[1] += " 00:00:00"
    first[7] = f'"${float(first[7]):,.2f}"'
    (tmp_path / "deals.csv").write_text("\n".join([header, ",".join(first)]) + "\n")
    (deal,) = read_export(tmp_path / "deals.csv", []).deals
    assert deal.created == dt.date(2027, 1, 1) and deal.amount == pytest.approx(4092.55)


def one_error(capsys, args: list[str]) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_an_unknown_stage_is_named_by_the_files_own_column(tmp_path, capsys):
    rows = sample_rows()[:40]
    rows[4]["outcome"], rows[4]["last_stage"] = "open", "lead"
    path = salesforce(tmp_path / "opps.csv", rows)
    text = path.read_text().splitlines()
    text[5] = text[5].replace("Prospecting", "Parked")
    path.write_text("\n".join(text) + "\n")
    err = one_error(capsys, ["calibrate", str(path), "--out", str(tmp_path / "p.yaml"), "--quiet"])
    assert "opps.csv" in err and "row 6, column 'stagename'" in err and "'Parked'" in err and "--map" in err


def test_a_date_in_another_format_is_named_with_the_expected_format(tmp_path, capsys):
    rows = sample_rows()[:40]
    (tmp_path / "map.yaml").write_text(HS_MAP)
    path = hubspot(tmp_path / "deals.csv", rows)
    text = path.read_text().splitlines()
    cells = text[3].split(",")
    cells[2] = "31/01/2027"                   # day-first in a month-first file (ISO would read: it is unambiguous)
    text[3] = ",".join(cells)
    path.write_text("\n".join(text) + "\n")
    err = one_error(capsys, ["calibrate", str(path), "--map", str(tmp_path / "map.yaml"),
                             "--out", str(tmp_path / "p.yaml"), "--quiet"])
    assert "row 4, column 'create_date': expected a date as %m/%d/%Y, found '31/01/2027'" in err


@pytest.mark.parametrize("text, message", [
    ("stages: {Signed: booked}", "'Signed' maps to 'booked': expected one of lead, intent, negotiation, won, lost"),
    ("columns: {owner: Deal owner}", "unknown field 'owner'"),
    ("dates: '%Q'", "dates"),
    ("colums: {}", "unknown key 'colums'"),
])
def test_a_bad_map_is_named(tmp_path, capsys, text, message):
    (tmp_path / "map.yaml").write_text(text)
    path = hubspot(tmp_path / "deals.csv", sample_rows()[:5])
    err = one_error(capsys, ["calibrate", str(path), "--map", str(tmp_path / "map.yaml"),
                             "--out", str(tmp_path / "p.yaml"), "--quiet"])
    assert "map.yaml" in err and message in err


def canonical(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_a_channel_feeding_two_segments_feeds_both(tmp_path):
    """Half of the 'online' deals belong to a second segment: both segments get a funnel and
    a channel of their own, none vanishes."""
    rows = sample_rows()
    online = [r for r in rows if r["channel"] == "online" and r["segment"] == "SMB"]
    for r in online[1::3]:
        r["segment"] = "MID"
    out = tmp_path / "plan.yaml"
    assert main(["calibrate", str(canonical(tmp_path / "deals.csv", rows)), "--out", str(out), "--quiet"]) == 0
    plan = plan_from_document(load_document(out))
    fed = {c.segment for c in plan.channels}
    assert {"SMB", "MID"} <= fed
    assert {c.segment for c in plan.channels if c.name.startswith("online")} == {"SMB", "MID"}


def test_a_short_left_truncated_export_says_so(tmp_path):
    """Nine months whose deals closed before 1 March are gone: the review names both."""
    rows = [r for r in sample_rows() if r["created"] < "2027-10-01"
            and not (r["closed_date"] and r["closed_date"] < "2027-03-01")]
    for r in rows:
        if r["closed_date"] > "2027-09-30" or not r["closed_date"]:     # open on the export's date
            r.update(closed_date="", outcome="open", amount="")
            for column in ("intent_date", "negotiation_date"):
                r[column] = "" if r[column] > "2027-09-30" else r[column]
            r["last_stage"] = "negotiation" if r["negotiation_date"] else "intent" if r["intent_date"] else "lead"
    out = tmp_path / "plan.yaml"
    assert main(["calibrate", str(canonical(tmp_path / "deals.csv", rows)), "--out", str(out),
                 "--as-of", "2027-09-30", "--quiet"]) == 0
    review = (tmp_path / "plan.review.md").read_text()
    assert "short export" in review and "9.0 months" in review and "left-truncated export" in review
