"""Collected dates → ISO 8601 and study days (hand-checked cases plus properties)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdiscmap.sdtm.dates import complete_date, parse_dates, study_day
from cdiscmap.sdtm.vectorize import codes_cache

MON = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


@pytest.mark.parametrize(("text", "iso"), [
    ("05-MAR-2014", "2014-03-05"),
    ("5-mar-2014", "2014-03-05"),
    ("UN-MAR-2014", "2014-03"),
    ("UN-UNK-2014", "2014"),
    ("UK-UNK-2014", "2014"),
    ("29-FEB-2016", "2016-02-29"),
])
def test_dmy(text, iso):
    r = parse_dates(pd.Series([text], dtype="string"), "DMY")
    assert r.iso.iloc[0] == iso
    assert not r.unparseable.iloc[0] and not r.impossible.iloc[0]


@pytest.mark.parametrize(("text", "iso"), [
    ("2014-03-05", "2014-03-05"),
    ("2014-03-UN", "2014-03"),
    ("2014-UN-UN", "2014"),
    ("2014-UN-05", "2014"),      # right truncation: a day under an unknown month is dropped
])
def test_ymd(text, iso):
    assert parse_dates(pd.Series([text], dtype="string"), "YMD").iso.iloc[0] == iso


def test_unknown_year_blank_and_garbage():
    r = parse_dates(pd.Series(["UN-UNK-UNKN", "", None, "yesterday", "29-FEB-2015"],
                              dtype="string"), "DMY")
    assert r.iso.isna().all()
    assert r.unparseable.tolist() == [False, False, False, True, False]
    assert r.impossible.tolist() == [False, False, False, False, True]


def test_dates_met_again_in_a_run_give_the_same_results():
    # inside a run each spelling is parsed once (the run's memo); a second column repeating
    # some of them, in another order and with nulls, gets the same values and flags
    first = pd.Series(["05-MAR-2014", "yesterday", "29-FEB-2015", "UN-MAR-2014"],
                      dtype="string")
    second = pd.Series([None, "UN-MAR-2014", "29-FEB-2015", "06-MAR-2014", "yesterday",
                        "05-MAR-2014"], dtype="string", index=range(20, 26))
    with codes_cache():
        parse_dates(first, "DMY")
        r = parse_dates(second, "DMY")
        ymd = parse_dates(pd.Series(["05-MAR-2014"], dtype="string"), "YMD")
    assert r.iso.index.tolist() == list(range(20, 26))
    assert r.iso.tolist() == [pd.NA, "2014-03", pd.NA, "2014-03-06", pd.NA, "2014-03-05"]
    assert r.unparseable.tolist() == [False, False, False, False, True, False]
    assert r.impossible.tolist() == [False, False, True, False, False, False]
    # another style's memo is its own: 05-MAR-2014 is no YMD date
    assert ymd.iso.isna().all() and ymd.unparseable.tolist() == [True]
    with codes_cache():
        assert complete_date(r.iso).isna().tolist() == [True, True, True, False, True, False]
        again = complete_date(pd.Series(["2014-03-06", "2014-03-06T10:00", "2014"],
                                        dtype="string"))
    assert again.tolist()[:2] == [pd.Timestamp("2014-03-06")] * 2 and pd.isna(again[2])


def test_dates_with_times_in_a_run_join_as_outside_one():
    # in a run, dates and times are parsed apart and joined on the distinct pairs; outside
    # one, the pairs are parsed together: the same text and flags, hand-checked
    dates = pd.Series(["2014-03-05", "2014-03-UN", "2014-03-05", "2014-03-05", None,
                       "2014-02-30", "2014-02-30", "2014-03-05", "garbage", "2014-03-05"],
                      dtype="string")
    times = pd.Series(["9:05", "10:00", "", "24:10", "10:00", "10:00", "99:99", "10:00:30",
                       "10:00", None], dtype="string")
    plain = parse_dates(dates, "YMD", times)
    with codes_cache():
        parse_dates(pd.Series(["2014-03-05"], dtype="string"), "YMD")    # memo not empty
        joined = parse_dates(dates, "YMD", times)
    for r in (plain, joined):
        assert r.iso.tolist() == ["2014-03-05T09:05", "2014-03", "2014-03-05", "2014-03-05",
                                  pd.NA, pd.NA, pd.NA, "2014-03-05T10:00", pd.NA,
                                  "2014-03-05"]
        assert r.impossible.tolist() == [False, False, False, True, False, True, True,
                                         False, False, False]
        assert r.unparseable.tolist() == [False] * 8 + [True, False]


def test_time_only_on_complete_dates():
    dates = pd.Series(["2014-03-05", "2014-03-UN", "2014-03-05", "2014-03-05"], dtype="string")
    times = pd.Series(["9:05", "10:00", "", "24:10"], dtype="string")
    r = parse_dates(dates, "YMD", times)
    assert r.iso.tolist()[:3] == ["2014-03-05T09:05", "2014-03", "2014-03-05"]
    assert r.impossible.tolist() == [False, False, False, True]


def test_study_day_has_no_day_zero():
    ref = pd.Series(["2014-03-05"] * 4)
    dtc = pd.Series(["2014-03-05", "2014-03-04", "2014-03-06T10:00", "2014-03"])
    assert study_day(dtc, ref).tolist()[:3] == [1.0, -1.0, 2.0]
    assert pd.isna(study_day(dtc, ref).iloc[3])


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_dmy_round_trip_any_date(d):
    text = f"{d.day:02d}-{MON[d.month - 1]}-{d.year}"
    iso = parse_dates(pd.Series([text], dtype="string"), "DMY").iso.iloc[0]
    assert iso == d.isoformat()
    assert complete_date(pd.Series([iso])).iloc[0].date() == d


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2050, 1, 1)),
       st.integers(min_value=-5000, max_value=5000))
def test_study_day_property(ref, offset):
    d = ref + timedelta(days=offset)
    dy = study_day(pd.Series([d.isoformat()]), pd.Series([ref.isoformat()])).iloc[0]
    assert dy != 0
    assert dy == (offset + 1 if offset >= 0 else offset)



# (text, ISO 8601 or None, unparseable, impossible), hand-checked
_DMY_CASES = [
    ("05-MAR-2014", "2014-03-05", False, False), ("5/mar/2014", "2014-03-05", False, False),
    (" 05-MAR-2014 ", "2014-03-05", False, False), ("05-03-2014", "2014-03-05", False, False),
    ("UN-MAR-2014", "2014-03", False, False), ("ab-MAR-2014", "2014-03", False, False),
    ("05-UNK-2014", "2014", False, False), ("05-MAR-UNKN", None, False, False),
    ("05-13-2014", None, False, True), ("31-APR-2014", None, False, True),
    ("05-XYZ-2014", None, True, False), ("1600-01-01", None, True, False),
    # pandas' datetime64[ns] range is the calendar check: it starts 1677-09-21 00:12:43
    ("21-SEP-1677", None, False, True), ("22-SEP-1677", "1677-09-22", False, False),
    ("", None, False, False), (None, None, False, False)]
_YMD_CASES = [
    ("2014-03-05", "2014-03-05", False, False), ("2014-3-5", "2014-03-05", False, False),
    ("2014-MAR-05", "2014-03-05", False, False), ("2014-03-UN", "2014-03", False, False),
    ("2014-UN-05", "2014", False, False), ("2014-NK-05", "2014", False, False),
    ("UNKN-03-05", None, False, False), ("2014-13-01", None, False, True),
    ("2014-02-30", None, False, True), ("2300-01-01", None, False, True),
    ("2014-ZZZ-05", None, True, False), ("2014/03/05", None, True, False),
    ("", None, False, False), (None, None, False, False)]


@pytest.mark.parametrize(("fmt", "cases"), [("DMY", _DMY_CASES), ("YMD", _YMD_CASES)])
def test_run_memo_parses_like_the_column_path(fmt, cases):
    # inside a run the distinct spellings are parsed value by value (dates._parsed_shape);
    # outside one by the pandas string steps: both give the hand-checked values
    values = pd.Series([c[0] for c in cases], dtype="string")
    outside = parse_dates(values, fmt)
    with codes_cache():
        inside = parse_dates(values, fmt)
    for r in (outside, inside):
        assert r.iso.tolist() == [pd.NA if c[1] is None else c[1] for c in cases]
        assert r.unparseable.tolist() == [c[2] for c in cases]
        assert r.impossible.tolist() == [c[3] for c in cases]


def test_non_ascii_dates_in_a_run_parse_as_outside_one():
    # Arabic-Indic digits are digits to the regular expressions: such a batch of distinct
    # values takes the pandas steps inside a run too, so both agree value for value
    values = pd.Series(["٠٥-MAR-2014", "05-MAR-٢٠١٤", "05-MAR-2014"], dtype="string")
    outside = parse_dates(values, "DMY")
    with codes_cache():
        inside = parse_dates(values, "DMY")
    assert inside.iso.tolist() == outside.iso.tolist()
    assert inside.iso.iloc[2] == "2014-03-05"
    assert inside.unparseable.tolist() == outside.unparseable.tolist()
    assert inside.impossible.tolist() == outside.impossible.tolist()
