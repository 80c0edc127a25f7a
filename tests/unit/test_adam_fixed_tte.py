"""ADTTE's missing-value columns (made only where a source has no date)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.adam.adtte import _missing


def test_missing_dates_and_numbers_on_the_subjects_index() -> None:
    ids = pd.Series(["S1", "S2", "S3"], dtype="string", index=[4, 5, 6])
    dates = _missing(ids, "datetime64[ns]")
    assert dates.dtype == "datetime64[ns]" and dates.index.tolist() == [4, 5, 6]
    assert dates.isna().all()
    pd.testing.assert_series_equal(dates, pd.Series(pd.NaT, index=ids.index,
                                                    dtype="datetime64[ns]"))
    numbers = _missing(ids, "float64")
    pd.testing.assert_series_equal(numbers, pd.Series(np.nan, index=ids.index))
    assert len(_missing(ids.iloc[:0], "float64")) == 0


def test_by_subject_with_columns_is_the_reordered_default() -> None:
    from cdiscmap.adam.adtte import _by_subject

    adtte = pd.DataFrame({
        "USUBJID": pd.Series(["B", "A", "B", "Z"], dtype="string"),
        "PARAMCD": pd.Series(["PFS", "OS", "OS", "OS"], dtype="string"),
        "ADT": pd.to_datetime(["2020-01-02", None, "2020-01-01", "2020-03-01"]),
        "AVAL": [1.0, 2.0, 3.0, 4.0],
    })
    adsl = pd.DataFrame({"STUDYID": pd.Series(["X", "X"], dtype="string"),
                         "USUBJID": pd.Series(["A", "B"], dtype="string"),
                         "SITEID": pd.Series(["S1", "S2"], dtype="string")})
    columns = ["STUDYID", "USUBJID", "SITEID", "ASEQ", "PARAMCD", "ADT", "AVAL"]
    got = _by_subject(adtte, adsl, columns)
    pd.testing.assert_frame_equal(got, _by_subject(adtte, adsl)[columns])
    assert got["AVAL"].tolist() == [2.0, 3.0, 1.0, 4.0]      # A OS; B OS, PFS; Z
    assert got["ASEQ"].tolist() == [1.0, 1.0, 2.0, 1.0]
    assert got["STUDYID"].tolist()[:3] == ["X", "X", "X"] and pd.isna(got["STUDYID"].iloc[3])
