"""analysis.text: trimmed/upper-cased text per distinct value, the same as pandas row by row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.analysis.text import CleanCodes, as_dates, clean_text, text_eq, text_in


def test_clean_text_trims_and_upper_cases_each_value_keeping_missing_and_index() -> None:
    values = pd.Series([" cr", "PR ", None, "", " cr", np.nan], index=[7, 3, 9, 1, 2, 5],
                       name="AVALC", dtype=object)
    out = clean_text(values, upper=True)
    assert out.tolist() == ["CR", "PR", pd.NA, "", "CR", pd.NA]
    assert out.index.tolist() == [7, 3, 9, 1, 2, 5]
    assert out.name == "AVALC"
    assert out.dtype == pd.StringDtype()
    assert clean_text(values).tolist() == ["cr", "PR", pd.NA, "", "cr", pd.NA]


def test_clean_text_equals_the_pandas_string_methods() -> None:
    values = pd.Series([" y", "Y", "n ", None, "y", " "], dtype="string")
    for upper in (False, True):
        expected = values.str.strip()
        if upper:
            expected = expected.str.upper()
        pd.testing.assert_series_equal(clean_text(values, upper=upper), expected)
    empty = pd.Series([], dtype="string")
    pd.testing.assert_series_equal(clean_text(empty, upper=True), empty)


def test_text_eq_missing_is_false() -> None:
    flags = pd.Series(["Y", " y ", None, "N"], dtype="string")
    assert text_eq(flags, "Y").tolist() == [True, False, False, False]
    assert text_eq(flags, "Y", upper=True).tolist() == [True, True, False, False]


def test_as_dates_keeps_parsed_dates_and_parses_text() -> None:
    parsed = pd.Series(pd.to_datetime(["2020-01-31", None]), name="ENRLDT")
    assert parsed.dtype == "datetime64[ns]"
    assert as_dates(parsed) is parsed                    # no second look at each value
    text = pd.Series(["2020-01-31", "not a date", None], dtype=object)
    out = as_dates(text)
    assert out.dtype == "datetime64[ns]"
    assert out.iloc[0] == pd.Timestamp(2020, 1, 31)
    assert out.iloc[1:].isna().tolist() == [True, True]


def test_text_eq_of_every_kind_of_missing_and_of_no_rows() -> None:
    # object column with None, NaN and <NA> (all missing), blanks and case variants; the
    # expected rows are worked out by hand: trimmed 'PR' (upper-cased with upper=True)
    values = pd.Series(["PR", None, " pr", np.nan, pd.NA, "PR ", "", "CR", "P R"],
                       index=[9, 8, 7, 6, 5, 4, 3, 2, 1], dtype=object)
    assert text_eq(values, "PR").tolist() == [True, False, False, False, False, True,
                                              False, False, False]
    assert text_eq(values, "PR", upper=True).tolist() == [True, False, True, False, False,
                                                          True, False, False, False]
    assert text_eq(pd.Series([None, np.nan], dtype=object), "Y").tolist() == [False, False]
    none = text_eq(pd.Series([], dtype="string"), "Y")
    assert none.dtype == bool and none.shape == (0,)


def test_text_in_is_any_of_the_wanted_values_by_hand() -> None:
    values = pd.Series(["BOR", " ovr", None, "OVR ", "RSP", np.nan, "bor"], dtype=object)
    assert text_in(values, {"BOR", "OVR"}).tolist() == [True, False, False, True, False,
                                                         False, False]
    assert text_in(values, {"BOR", "OVR"}, upper=True).tolist() == [True, True, False, True,
                                                                     False, False, True]
    assert text_in(values, set()).tolist() == [False] * 7
    none = text_in(pd.Series([], dtype="string"), {"Y"})
    assert none.dtype == bool and none.shape == (0,)


def test_clean_codes_rows_of_each_cleaned_value() -> None:
    values = pd.Series([" cr", "PR ", None, "CR", "pr", np.nan, "cr "], index=[9, 8, 7, 6, 5, 4, 3],
                       dtype=object)
    upper = CleanCodes(values, upper=True)
    assert upper.rows("CR").tolist() == [0, 3, 6]          # positions, not index labels
    assert upper.rows("PR").tolist() == [1, 4]
    assert upper.rows("SD").tolist() == []
    exact = CleanCodes(values)                             # trimmed only: case counts
    assert exact.rows("cr").tolist() == [0, 6]
    assert exact.rows("CR").tolist() == [3]
