"""ADaM date imputation (adam.dates): hand-checked texts of every shape, plain shapes read as
arrays against Python's own calendar, and the odd shapes still read by the regexes."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.adam.dates import factorize_text, impute_dtc, impute_dtm


def text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def test_plain_shapes_hand_checked() -> None:
    got = impute_dtm(text("2014-03-05", "2014-03-05T10", "2014-03-05T10:30",
                          "2014-03-05T10:30:15", "2014-03", "2014", None, "2014-02-30",
                          "2014-03-05T24:00"), "M", "first", "first")
    assert got.datetimes.tolist()[:6] == [
        pd.Timestamp("2014-03-05 00:00:00"), pd.Timestamp("2014-03-05 10:00:00"),
        pd.Timestamp("2014-03-05 10:30:00"), pd.Timestamp("2014-03-05 10:30:15"),
        pd.Timestamp("2014-03-01 00:00:00"), pd.Timestamp("2014-01-01 00:00:00")]
    assert got.datetimes.iloc[6:8].isna().all()
    # an hour 24 is no time: the time is imputed (flag H) on the complete date
    assert got.datetimes.iloc[8] == pd.Timestamp("2014-03-05 00:00:00")
    assert got.date_flag.tolist()[:6] == [pd.NA, pd.NA, pd.NA, pd.NA, "D", "M"]
    assert got.time_flag.tolist()[:6] == ["H", "M", pd.NA, pd.NA, "H", "H"]
    assert got.time_flag.iloc[8] == "H"
    assert got.invalid.tolist() == [False] * 7 + [True, False]


def test_odd_shapes_still_read_by_the_regex() -> None:
    """Texts with spaces, an unknown month, a fraction of a second or a time after a
    year-month are not plain; they read as before."""
    got = impute_dtm(text(" 2014-03-05 ", "2014---05", "2014-03-05T10:30:15.5",
                          "2014-03T10", "UNK", "  ", "2014-3-05"), "M", "last", "last",
                     flag_seconds=True)
    assert got.datetimes.tolist()[:4] == [
        pd.Timestamp("2014-03-05 23:59:59"), pd.Timestamp("2014-12-31 23:59:59"),
        pd.Timestamp("2014-03-05 10:30:15"), pd.Timestamp("2014-03-31 23:59:59")]
    assert got.date_flag.tolist()[:4] == [pd.NA, "M", pd.NA, "D"]
    assert got.time_flag.tolist()[:4] == ["H", "H", pd.NA, "H"]
    assert got.invalid.tolist() == [False, False, False, False, True, False, True]


def test_dates_keep_the_complete_day_and_flag_imputed_ones() -> None:
    got = impute_dtc(text("2016-02-29", "2015-02-29", "2016-02", "2015", "1677-12-31",
                          "2262-01-01T10:00"), "M", "last")
    assert got.dates.tolist()[:4] == [pd.Timestamp("2016-02-29"), pd.NaT,
                                      pd.Timestamp("2016-02-29"), pd.Timestamp("2015-12-31")]
    assert got.flag.tolist()[:4] == [pd.NA, pd.NA, "D", "M"]
    # outside datetime64[ns] (1678..2261) a year is invalid, with or without a time
    assert got.invalid.tolist() == [False, True, False, False, True, True]


@settings(deadline=None, max_examples=300)
@given(st.integers(1678, 2261), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
       st.integers(0, 61), st.integers(0, 61), st.sampled_from([10, 13, 16, 19]))
def test_plain_datetime_texts_read_as_the_calendar_says(year, month, day, hour, minute, second,
                                                        size):
    full = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    value = full[:size]
    try:
        date = datetime(year, month, day)
    except ValueError:
        date = None
    got = impute_dtm(text(value, value), "none", "first", "first", flag_seconds=True)
    assert got.invalid.tolist() == [date is None] * 2
    if date is None:
        assert got.datetimes.isna().all()
        return
    # the time counts only when every component given is in range (else it is imputed whole)
    given = [v for v, at in ((hour, 13), (minute, 16), (second, 19)) if size >= at]
    ok = all(v <= limit for v, limit in zip(given, (23, 59, 59), strict=False))
    h, m, s = ([*given, None, None, None][:3] if ok else [None, None, None])
    expected = date.replace(hour=h or 0, minute=m or 0, second=s or 0)
    assert got.datetimes.tolist() == [pd.Timestamp(expected)] * 2
    flag = "H" if h is None else "M" if m is None else "S" if s is None else None
    assert got.time_flag.tolist() == [pd.NA if flag is None else flag] * 2
    assert np.all(got.date_flag.isna())


def test_factorize_text_codes_in_first_appearance_order_missing_minus_one() -> None:
    codes, uniques = factorize_text(pd.Series(["b", None, "a ", "b", pd.NA, "a"],
                                              dtype="object"))
    assert codes.tolist() == [0, -1, 1, 0, -1, 2]
    assert uniques.tolist() == ["b", "a ", "a"]
    codes, uniques = factorize_text(pd.Series([2.0, float("nan"), 2.0]))   # text of numbers
    assert codes.tolist() == [0, -1, 0] and uniques.tolist() == ["2.0"]
    codes, uniques = factorize_text(pd.Series([], dtype="string"))
    assert codes.tolist() == [] and uniques.tolist() == []


def test_factorize_text_of_a_string_column_takes_it_without_a_copy(monkeypatch) -> None:
    """A "string" column is factorised as it is (no astype copy), with the codes the object
    column of the same values gets."""
    values = ["b", None, "a ", "b", pd.NA, "a"]
    want = factorize_text(pd.Series(values, dtype="object"))
    column = pd.Series(values, dtype="string")

    def no_copy(*_args, **_kwargs):
        raise AssertionError("astype called")

    monkeypatch.setattr(pd.Series, "astype", no_copy)
    codes, uniques = factorize_text(column)
    assert codes.tolist() == want[0].tolist() == [0, -1, 1, 0, -1, 2]
    assert uniques.tolist() == want[1].tolist()


def test_impute_dtc_spreads_dates_and_flags_by_code() -> None:
    # repeated texts, a null, a bad date and partial ones on a non-default index: each row
    # gets its text's date, flag (made when first read, then kept) and invalid mark
    dtc = pd.Series(["2024-03", None, "2024-03", "2024-02-30", "2024", "2024-03-05"],
                    index=[10, 11, 12, 13, 14, 15], dtype="string")
    got = impute_dtc(dtc, "M", "first")
    assert got.dates.index.tolist() == [10, 11, 12, 13, 14, 15]
    assert got.dates.dtype == "datetime64[ns]"
    assert [str(d.date()) if pd.notna(d) else None for d in got.dates] == \
        ["2024-03-01", None, "2024-03-01", None, "2024-01-01", "2024-03-05"]
    assert got.invalid.tolist() == [False, False, False, True, False, False]
    assert got.flag.tolist() == ["D", pd.NA, "D", pd.NA, "M", pd.NA]
    assert got.flag is got.flag            # made once
    assert got.flag.index.equals(dtc.index)
