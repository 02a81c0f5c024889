"""synth-crm writes the shapes real exports have, and the reader takes each back as it was.

One history (the committed sample's plan played once) is written in every shape; reading a
shape back must give the same deals, outcomes and amounts as the canonical export, less what
the shape hides by design (stage dates, a stale deal's loss, deals before a truncation date).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import SCENARIOS

from simulate.calibrate.synth import Shape, play_export, write_export
from simulate.cli.main import main
from simulate.load.crm import read_export
from simulate.load.crm_formats import infer_dates
from simulate.load.loader import load_plan

SHAPES = {
    "canonical": Shape(),
    "current stage": Shape(current_stage=True),
    "salesforce, US dates, currency": Shape(crm="salesforce", dates="us", amounts="currency"),
    "hubspot, datetime stamps": Shape(crm="hubspot", dates="datetime"),
    "hubspot workbook": Shape(crm="hubspot", format="xlsx"),
    "canonical workbook": Shape(format="xlsx"),
}


@pytest.fixture(scope="module")
def history():
    plan = load_plan(SCENARIOS / "baseline.yaml").model_copy()
    return play_export(plan, 11, years=0.5)


def _read(paths: list[Path]):
    return read_export(paths[0], paths[1:])


def _by_id(export) -> dict:
    return {d.id: d for d in export.deals}


@pytest.fixture(scope="module")
def truth(history, tmp_path_factory):
    return _by_id(_read(write_export(history, tmp_path_factory.mktemp("truth"))))


@pytest.mark.parametrize("name", SHAPES)
def test_every_shape_reads_back_as_written(name, history, truth, tmp_path):
    shape = SHAPES[name]
    export = _read(write_export(history, tmp_path, shape, seed=1))
    seen = _by_id(export)
    assert set(seen) == set(truth)
    assert export.stage_dates == (not shape.stages_only)
    for key, deal in seen.items():
        real = truth[key]
        assert (deal.created, deal.closed, deal.outcome, deal.segment, deal.product, deal.rep) == \
               (real.created, real.closed, real.outcome, real.segment, real.product, real.rep)
        assert deal.amount == pytest.approx(real.amount) if real.amount else deal.amount is None
        if shape.stages_only:
            assert deal.intent is None and deal.negotiation is None
            assert deal.last_stage == (real.last_stage if real.outcome != "lost" else "lead")
        else:
            assert (deal.intent, deal.negotiation, deal.last_stage) == (real.intent, real.negotiation,
                                                                         real.last_stage)
    assert len(export.renewals) == len(history["accounts.csv"]) and len(export.reps) == len(history["reps.csv"])


def test_stale_deals_are_lost_deals_left_open(history, truth, tmp_path):
    export = _read(write_export(history, tmp_path, Shape(stale=0.5), seed=1))
    seen = _by_id(export)
    went_stale = [k for k, d in seen.items() if d.outcome == "open" and truth[k].outcome == "lost"]
    lost = sum(d.outcome == "lost" for d in truth.values())
    assert all(seen[k].closed is None and seen[k].last_stage == truth[k].last_stage for k in went_stale)
    assert all(truth[k].outcome in ("lost", "open") for k, d in seen.items() if d.outcome == "open")
    # each lost deal goes stale with probability 1/2: a binomial count at the suite's level
    assert abs(len(went_stale) - lost / 2) < 3.89 * (lost / 4) ** 0.5


def test_a_truncated_export_starts_at_its_date(history, truth, tmp_path):
    since = dt.date(2027, 3, 1)
    export = _read(write_export(history, tmp_path, Shape(since=since), seed=1))
    assert {d.id for d in export.deals} == {k for k, d in truth.items() if d.created >= since}


def test_synth_crm_writes_a_shape_from_the_command_line(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"extends: {SCENARIOS / 'baseline.yaml'}\nhorizon: {{years: 0.25}}\n", encoding="utf-8")
    assert main(["synth-crm", str(plan), "--out", str(tmp_path / "sf"), "--crm", "salesforce", "--dates", "us",
                 "--amounts", "currency", "--stale", "40%", "--format", "xlsx"]) == 0
    assert "deals.xlsx" in capsys.readouterr().out
    from openpyxl import load_workbook
    header = next(load_workbook(tmp_path / "sf" / "deals.xlsx").worksheets[0].iter_rows(values_only=True))
    assert header[:4] == ("Id", "CreatedDate", "CloseDate", "StageName")
    assert main(["synth-crm", str(plan), "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    assert capsys.readouterr().out == "" and (tmp_path / "quiet" / "deals.csv").stat().st_size > 0


@pytest.mark.parametrize("texts, fmt", [
    (["2027-03-14", "2027-03-15 10:30:00"], None),
    (["03/14/2027", "12/01/2027 9:05 AM"], "%m/%d/%Y"),
    (["14/03/2027", "01/12/2027"], "%d/%m/%Y"),
    (["14.03.2027"], "%d.%m.%Y"),
    (["14-Mar-2027"], "%d-%b-%Y"),
    (["2027-03-14", "03/14/2027"], None),           # a mix: the reader names the odd cell
])
def test_a_files_date_format_is_read_off_its_dates(texts, fmt):
    assert infer_dates(texts) == fmt


def test_dates_that_read_both_ways_are_refused_with_their_row(tmp_path, capsys):
    deals = tmp_path / "deals.csv"
    deals.write_text("Id,CreatedDate,CloseDate,StageName,Amount\nA,03/04/2027,05/06/2027,Closed Won,100\n"
                     "B,02/01/2027,,Prospecting,\n", encoding="utf-8")
    assert main(["calibrate", str(deals), "--out", str(tmp_path / "p.yaml"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "deals.csv: row 2, column 'createddate'" in err and "month-first" in err and "dates:" in err


def test_an_export_filtered_on_close_date_keeps_the_deals_open_or_closed_since(history, truth, tmp_path):
    since = dt.date(2027, 4, 1)
    export = _read(write_export(history, tmp_path, Shape(closed_since=since), seed=1))
    assert {d.id for d in export.deals} == {k for k, d in truth.items() if d.closed is None or d.closed >= since}
    assert export.observed_from >= since
    # an export filtered on created date holds every deal from its first day
    created_since = _read(write_export(history, tmp_path / "created", Shape(since=dt.date(2027, 1, 1)), seed=1))
    assert created_since.observed_from == created_since.start


def test_a_new_company_whose_deals_take_months_is_not_read_as_truncated(tmp_path):
    """Its first close comes 2 months after its first deal, as every cycle is about 75 days:
    the gap is its deals' own cycle, not closes left out, so leads count from its start."""
    from factory import make_plan, minimal_plan_data
    slow = {"advance": 0.8, "time": {"gamma": {"mean": 25, "sd": 5}}, "effort": 0}
    data = minimal_plan_data()
    data["horizon"] = {"start": "2027-01-01", "years": 1, "warm_start": False}
    for seg in data["segments"]:
        if "funnel" in seg:
            seg["funnel"].update(lead=slow, intent=slow, negotiation=slow)
    export = _read(write_export(play_export(make_plan(data=data), 3), tmp_path)[:1])    # no accounts to read
    first_close = min(d.closed for d in export.deals if d.closed is not None)
    assert (first_close - min(d.created for d in export.deals)).days > 45
    assert export.observed_from == export.start


def test_leads_of_an_export_filtered_on_close_date_are_counted_where_every_deal_is_there(history, truth, tmp_path):
    """Before the first close, the export holds only the deals that lived past it: counting
    leads from the first creation would under-count them. From the first close on, every new
    deal is in the export, so the count is exactly the full history's."""
    from simulate.calibrate.estimates import Estimates
    export = _read(write_export(history, tmp_path, Shape(closed_since=dt.date(2027, 4, 1)), seed=1))
    est = Estimates(export)
    assert est.leads_from == export.observed_from
    assert any("left-truncated export" in line for line in est.coverage())
    for name, (channel, segment) in est.channels.items():
        rate, _ = est.arrivals(name)
        assert rate.events == sum(d.channel == channel and d.segment == segment and d.created >= est.leads_from
                                  for d in truth.values())
    before = [d for d in export.deals if d.created < est.leads_from]
    assert before and len(before) < sum(d.created < est.leads_from for d in truth.values())
