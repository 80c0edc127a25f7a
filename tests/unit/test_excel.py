"""Excel workbooks as raw forms: one sheet per form, text values, dates as ISO 8601, blanks."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from openpyxl import Workbook

from cdiscmap.errors import InputDataError
from cdiscmap.ingest import read_form


@pytest.fixture()
def workbook(tmp_path):
    wb = Workbook()
    ae = wb.active
    ae.title = "AE"
    ae.append(["SUBJECT", "TERM", "START", "GRADE", "DOSE", "ONSET"])
    ae.append(["001", " Nausea ", dt.datetime(2020, 2, 1), 2, 12.5, dt.datetime(2020, 2, 1, 13, 45)])
    ae.append([None, None, None, None, None, None])            # blank row between records
    ae.append(["002", "", dt.date(2020, 3, 5), 3, 40.0, dt.time(9, 5)])
    ae.append(["003", "Rash", "2020-03-07", None, None, None])  # a date typed as text
    dm = wb.create_sheet("Demography")
    dm.append(["SUBJECT", "SEX"])
    dm.append(["001", "F"])
    dm.append(["002", "M"])
    path = tmp_path / "crf.xlsx"
    wb.save(path)
    return path


def test_sheet_read_as_text_with_iso_dates_and_blanks(workbook):
    form = read_form("ae", workbook)               # the sheet named like the form (case-blind)
    f = form.frame
    assert list(f.columns) == ["SUBJECT", "TERM", "START", "GRADE", "DOSE", "ONSET",
                               "_SRCFILE", "_SRCROW"]
    assert f["SUBJECT"].tolist() == ["001", "002", "003"]
    assert f["TERM"].iloc[0] == "Nausea"          # trimmed
    assert pd.isna(f["TERM"].iloc[1])              # blank string cell → missing
    assert f["START"].tolist() == ["2020-02-01", "2020-03-05", "2020-03-07"]
    assert f["GRADE"].tolist()[:2] == ["2", "3"]  # numbers as text, no ".0"
    assert pd.isna(f["GRADE"].iloc[2])             # empty cell → missing
    assert f["DOSE"].tolist()[:2] == ["12.5", "40"]
    assert f["ONSET"].tolist()[:2] == ["2020-02-01T13:45:00", "09:05:00"]
    # _SRCROW is the sheet's data-row number (sheet row − 1): the blank sheet row 3 is row 2
    assert f["_SRCROW"].tolist() == [1, 3, 4]
    assert form.n_rows == 4
    assert form.dropped.to_dict("records") == [{"_SRCROW": 2, "reason": "blank row in sheet"}]


def test_sheet_named_in_study_yaml(workbook):
    f = read_form("dm", workbook, sheet="Demography").frame
    assert f["SEX"].tolist() == ["F", "M"]
    assert f["_SRCROW"].tolist() == [1, 2]
    with pytest.raises(InputDataError, match=r"no sheet 'DM' \(sheets: AE, Demography\)"):
        read_form("dm", workbook, sheet="DM")
    with pytest.raises(InputDataError, match="none named like the form 'dm'.*give 'sheet'"):
        read_form("dm", workbook)


def test_header_problems(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["A", "A", "B"])
    ws.append([1, 2, 3])
    wb.save(tmp_path / "dup.xlsx")
    with pytest.raises(InputDataError, match=r"duplicate column names \['A'\]"):
        read_form("x", tmp_path / "dup.xlsx")
    wb = Workbook()
    ws = wb.active
    ws.append(["A", None])
    ws.append([1, 2])
    wb.save(tmp_path / "nohead.xlsx")
    with pytest.raises(InputDataError, match="column B has data but no header"):
        read_form("x", tmp_path / "nohead.xlsx")


def test_not_a_workbook(tmp_path):
    (tmp_path / "ae.xlsx").write_bytes(b"PK not really")
    with pytest.raises(InputDataError, match="not a readable Excel workbook"):
        read_form("ae", tmp_path / "ae.xlsx")


def test_sheets_no_form_reads_are_counted(workbook):
    from cdiscmap.sdtm.accounting import Accounting
    from cdiscmap.spec.models import FormSpec

    acc = Accounting()
    acc.finish({"ae": FormSpec(file="crf.xlsx")}, {}, workbook.parent)
    assert acc.unread_parts == {"crf.xlsx [Demography]": 2}     # the AE sheet is read
    acc = Accounting()
    acc.finish({}, {}, workbook.parent)
    assert acc.unlisted_files == {"crf.xlsx": 5}     # 3 AE records + 2 DM, blank row skipped
