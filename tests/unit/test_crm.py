"""Reading a CRM export: a bad CSV gives one line naming the file, row and column, exit 2.

Each case writes a small export into a temporary folder and breaks one cell or the header.
Rows are counted like a spreadsheet: the header is row 1, the first deal row 2.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from simulate.cli.main import main
from simulate.load.crm import CsvError, read_export

DEALS = """deal_id,created,intent_date,negotiation_date,closed_date,last_stage,outcome,amount,segment,product,channel,rep,region
D1,2027-01-03,2027-01-10,2027-01-20,2027-02-01,negotiation,won,12500.50,SMB,erp,web,Ann,East
D2,2027-01-05,,,2027-01-19,lead,lost,,SMB,erp,web,Bob,West
D3,2027-02-01,2027-02-11,,,intent,open,,SMB,crm,fairs,Ann,East
"""
ACCOUNTS = """account_id,segment,product,contract_value,renewal_date,renewed,rep
KA-1,KA,erp,150000,2027-03-01,yes,Ann
KA-2,KA,crm,90000,2027-06-01,no,Bob
"""
REPS = """rep,level,hire_date,leave_date,segments,region
Ann,core,2022-01-10,,SMB;KA,East
Bob,core,2021-05-01,2027-09-30,SMB,West
"""


def export(tmp_path: Path, deals: str = DEALS, accounts: str = ACCOUNTS, reps: str = REPS) -> list[Path]:
    paths = []
    for name, text in (("deals.csv", deals), ("accounts.csv", accounts), ("reps.csv", reps)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    return paths


def one_error(tmp_path: Path, capsys, **files: str) -> str:
    """Calibrate the broken export: exit 2, nothing on stdout, exactly one line on stderr."""
    paths = export(tmp_path, **files)
    code = main(["calibrate", *map(str, paths), "--out", str(tmp_path / "plan.yaml"), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert not (tmp_path / "plan.yaml").exists()
    return lines[0]


def broken(row: int, column: str, new: str, text: str = DEALS) -> str:
    """`text` with one cell replaced: data row `row` (header = row 1), column by name."""
    lines = text.splitlines()
    header = lines[0].split(",")
    cells = lines[row - 1].split(",")
    cells[header.index(column)] = new
    lines[row - 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


def test_a_good_export_reads(tmp_path):
    ex = read_export(*split(export(tmp_path)))
    assert [d.id for d in ex.deals] == ["D1", "D2", "D3"]
    assert ex.deals[0].amount == 12500.50 and ex.deals[0].negotiation == dt.date(2027, 1, 20)
    assert [r.renewed for r in ex.renewals] == [True, False]
    assert ex.reps[0].segments == ("SMB", "KA")
    assert (ex.start, ex.as_of) == (dt.date(2027, 1, 1), dt.date(2027, 9, 30))


def split(paths: list[Path]) -> tuple[Path, list[Path]]:
    return paths[0], paths[1:]


def test_accounts_and_reps_are_told_apart_by_their_headers(tmp_path):
    deals, accounts, reps = export(tmp_path)
    ex = read_export(deals, [reps, accounts])
    assert len(ex.renewals) == 2 and len(ex.reps) == 2


def test_missing_column(tmp_path, capsys):
    line = one_error(tmp_path, capsys, deals=DEALS.replace(",amount,", ",amout,", 1))
    assert "deals.csv" in line and "row 1" in line and "column 'amount'" in line
    assert "did you mean 'amout'" in line


# A cell broken in the export: (row, column, new text), and what the one error line must say.
BROKEN_CELLS = {
    "dates in the wrong order": (2, "negotiation_date", "2027-01-08", [
        "deals.csv: row 2, column 'negotiation_date'", "on or after intent_date (2027-01-10)", "2027-01-08"]),
    "amount that is not a number": (2, "amount", "twelve", [
        "deals.csv: row 2, column 'amount': expected a number", "'twelve'"]),
    "unknown outcome": (3, "outcome", "lots", [
        "row 3, column 'outcome': expected one of won, lost, open", "'lots' (did you mean 'lost'?)"]),
    "a date that is not ISO": (4, "created", "01/02/2027", [
        "row 4, column 'created': expected an ISO date such as 2027-03-14 (a time may follow; other formats: "
        "`dates:` in --map), found '01/02/2027'"]),
    "a won deal needs an amount": (2, "amount", "", ["row 2, column 'amount'", "an empty cell"]),
    "a stage date beyond the last stage": (3, "intent_date", "2027-01-09", [
        "row 3, column 'intent_date': expected an empty cell: last_stage is 'lead'"]),
    "duplicate deal id": (3, "deal_id", "D1", ["row 3, column 'deal_id'", "first on row 2"]),
    "unknown rep": (3, "rep", "Bobb", ["row 3, column 'rep'", "'Bobb' (did you mean 'Bob'?)"]),
}


@pytest.mark.parametrize("case", BROKEN_CELLS)
def test_a_broken_cell_is_named(case, tmp_path, capsys):
    row, column, text, fragments = BROKEN_CELLS[case]
    line = one_error(tmp_path, capsys, deals=broken(row, column, text))
    for fragment in fragments:
        assert fragment in line, (fragment, line)


def test_empty_file(tmp_path, capsys):
    line = one_error(tmp_path, capsys, deals="")
    assert "deals.csv: row 1: expected a header row" in line and "an empty file" in line


def test_header_without_rows(tmp_path, capsys):
    line = one_error(tmp_path, capsys, deals=DEALS.splitlines()[0] + "\n")
    assert "deals.csv: row 2" in line and "no rows" in line


def test_a_row_with_too_few_fields(tmp_path, capsys):
    line = one_error(tmp_path, capsys, deals=DEALS + "D9,2027-03-01\n")
    assert "row 5" in line and "13 fields" in line


def test_bad_renewed_value(tmp_path, capsys):
    line = one_error(tmp_path, capsys, accounts=broken(3, "renewed", "maybe", ACCOUNTS))
    assert "accounts.csv: row 3, column 'renewed'" in line and "'maybe'" in line


def test_rep_leaving_before_being_hired(tmp_path, capsys):
    line = one_error(tmp_path, capsys, reps=broken(3, "leave_date", "2020-01-01", REPS))
    assert "reps.csv: row 3, column 'leave_date': expected a date on or after hire_date" in line


def test_an_unrecognised_file(tmp_path, capsys):
    line = one_error(tmp_path, capsys, reps="name,start\nAnn,2020-01-01\n")
    assert "reps.csv: row 1: expected the header of an accounts file" in line


def test_csv_error_carries_its_location(tmp_path):
    with pytest.raises(CsvError) as info:
        read_export(*split(export(tmp_path, deals=broken(2, "amount", "n/a"))))
    err = info.value
    assert (Path(err.file).name, err.row, err.column, err.found) == ("deals.csv", 2, "amount", "'n/a'")
    assert err.exit_code == 2


def test_semicolon_separated_files_read_too(tmp_path):
    deals, accounts, reps = export(tmp_path, deals=DEALS.replace(",", ";"))
    assert len(read_export(deals, [accounts, reps]).deals) == 3
