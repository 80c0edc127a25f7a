"""The collected date styles beyond DMY/YMD: SAS DATE9/DATETIME text, ISO text, separate
year/month/day columns, SAS numeric dates and date-times, Excel serials (each expected value
worked out by hand; day counts in the comments)."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from cdiscmap.errors import InputDataError
from cdiscmap.sdtm.dates import parse_date_parts, parse_dates
from cdiscmap.sdtm.engine import map_study
from cdiscmap.spec.loader import load_study
from cdiscmap.spec.models import Iso8601Args


def _one(fmt: str, text: str):
    r = parse_dates(pd.Series([text], dtype="string"), fmt)
    return (r.iso.iloc[0] if pd.notna(r.iso.iloc[0]) else None,
            bool(r.unparseable.iloc[0]), bool(r.impossible.iloc[0]))


@pytest.mark.parametrize(("fmt", "text", "expected"), [
    ("DATE9", "01FEB2020", ("2020-02-01", False, False)),
    ("DATE9", "1feb2020", ("2020-02-01", False, False)),
    ("DATE9", "UNFEB2020", ("2020-02", False, False)),
    ("DATE9", "UNUNK2020", ("2020", False, False)),
    ("DATE9", "29FEB2019", (None, False, True)),
    ("DATE9", "01-FEB-2020", (None, True, False)),      # DMY text is not DATE9
    ("DATETIME", "01FEB2020:00:00:00", ("2020-02-01T00:00:00", False, False)),
    ("DATETIME", "01FEB2020:13:45", ("2020-02-01T13:45", False, False)),
    ("DATETIME", "01FEB2020:13:45:07.250", ("2020-02-01T13:45:07", False, False)),
    ("DATETIME", "01FEB2020", ("2020-02-01", False, False)),
    ("DATETIME", "01FEB2020:24:00", ("2020-02-01", False, True)),   # bad time: date kept
    ("ISO", "2020", ("2020", False, False)),
    ("ISO", "2020-02", ("2020-02", False, False)),
    ("ISO", "2020-02-01T13:45:30+01:00", ("2020-02-01T13:45:30", False, False)),
    ("ISO", "2020-02-01 13:45:00", ("2020-02-01T13:45:00", False, False)),  # SAS via pyreadstat
    ("ISO", "2020-02-30", (None, False, True)),
    ("ISO", "01/02/2020", (None, True, False)),
])
def test_text_styles(fmt, text, expected):
    assert _one(fmt, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("0", "1960-01-01"),
    ("-1", "1959-12-31"),
    ("21946", "2020-02-01"),        # 60 years of 365 days + 15 leap days (1960..2016) + 31
    ("21946.9", "2020-02-01"),      # fractions of a day are truncated
])
def test_sas_numeric_dates(text, expected):
    assert _one("SAS_DATE", text) == (expected, False, False)


def test_sas_numeric_datetimes():
    # 21946 days × 86400 s = 1 896 134 400 s; 13:45 is 49 500 s later
    assert _one("SAS_DATETIME", "1896134400") == ("2020-02-01T00:00:00", False, False)
    assert _one("SAS_DATETIME", "1896183900") == ("2020-02-01T13:45:00", False, False)
    assert _one("SAS_DATETIME", "soon") == (None, True, False)
    assert _one("SAS_DATE", "1e15") == (None, False, True)      # past year 9999


@pytest.mark.parametrize(("text", "expected"), [
    ("1", ("1900-01-01", False, False)),
    ("59", ("1900-02-28", False, False)),
    ("60", (None, False, True)),            # Excel's 1900-02-29, a day that never was
    ("61", ("1900-03-01", False, False)),
    ("43831", ("2020-01-01", False, False)),
    ("43831.5", ("2020-01-01T12:00:00", False, False)),
    ("0", (None, False, True)),
    ("", (None, False, False)),
    ("n/a", (None, True, False)),
])
def test_excel_serials_and_the_1900_leap_year_bug(text, expected):
    assert _one("EXCEL", text) == expected


def test_year_month_day_parts_with_unknowns():
    year = pd.Series(["2020", "2020", "2020", "2020", "", "2019", "2020"], dtype="string")
    month = pd.Series(["02", "UNK", "Feb", "2", "03", "02", None], dtype="string")
    day = pd.Series(["UN", "05", "1", "", "04", "29", "UNK"], dtype="string")
    r = parse_date_parts(year, month, day)
    assert r.iso.fillna("").tolist() == ["2020-02", "2020", "2020-02-01", "2020-02", "", "",
                                         "2020"]
    assert r.impossible.tolist() == [False, False, False, False, False, True, False]
    assert not r.unparseable.any()


def test_parts_time_and_model_rules():
    r = parse_date_parts(pd.Series(["2020"]), pd.Series(["2"]), pd.Series(["1"]),
                         pd.Series(["9:05"]))
    assert r.iso.tolist() == ["2020-02-01T09:05"]
    with pytest.raises(ValueError, match="exactly one of 'date'"):
        Iso8601Args()
    with pytest.raises(ValueError, match="takes no separate 'time'"):
        Iso8601Args(date="X", time="T", format="DATETIME")
    with pytest.raises(ValueError, match="not to 'parts'"):
        Iso8601Args(parts={"year": "Y"}, format="YMD")


STUDY = """\
studyid: DT
title: Dates
standards: {sdtmig: "3.4"}
forms:
  ae: {file: ae.csv}
domains: [AE]
"""

AE = """\
domain: AE
blocks:
  - name: log
    source: {form: ae}
    variables:
      AETERM: {take: TERM}
      AESTDTC: {iso8601: {date: START, format: DATE9}}
      AEENDTC: {iso8601: {parts: {year: EY, month: EM, day: ED}}}
variables:
  STUDYID: {constant: DT}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
"""


def _study(tmp_path, raw_csv: str):
    study = tmp_path / "study"
    (study / "sdtm").mkdir(parents=True)
    (study / "study.yaml").write_text(STUDY)
    (study / "sdtm" / "ae.yaml").write_text(textwrap.dedent(AE))
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "ae.csv").write_text(raw_csv)
    return map_study(load_study(study), raw, {}, {"AE": {"AETERM"}})


def test_engine_date9_and_parts(tmp_path):
    res = _study(tmp_path, "SUBJECT,TERM,START,EY,EM,ED\n"
                           "001,Nausea,01FEB2020,2020,02,UN\n"
                           "002,Rash,31FEB2020,2020,UNK,UNK\n")
    ae = res.domains["AE"]
    assert ae["AESTDTC"].fillna("").tolist() == ["2020-02-01", ""]
    assert ae["AEENDTC"].tolist() == ["2020-02", "2020"]
    rules = [f.rule for f in res.findings]
    assert rules.count("CMAP-DATE0002") == 1        # one impossible date: a finding, not an error


def test_column_that_never_parses_is_an_error(tmp_path):
    with pytest.raises(InputDataError, match=r"ae\.yaml:7: AE\.AESTDTC: no value of column "
                                             r"START in ae\.csv \(form ae\) is a DATE9 date, "
                                             r"e\.g\. '2020-02-01' \(2 rows\)"):
        _study(tmp_path, "SUBJECT,TERM,START,EY,EM,ED\n"
                         "001,Nausea,2020-02-01,2020,02,01\n"
                         "002,Rash,2020-03-01,2020,03,01\n"
                         "003,Cough,,2020,03,01\n")
