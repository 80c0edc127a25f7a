"""ADEX record frame: ADSL variables taken by each record's ADSL position, the record order
(summaries by PARAMN, then EX-record parameters by date, SRCSEQ, PARAMN) and ASEQ, the same
on the array path and on the frame-sort path; values worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.adam.adex import _frame

T = pd.Timestamp


def _adsl() -> pd.DataFrame:
    s = lambda v: pd.Series(v, dtype="string")  # noqa: E731
    return pd.DataFrame({
        "STUDYID": s(["X", "X"]), "USUBJID": s(["X-2", "X-1"]), "SUBJID": s(["2", "1"]),
        "SITEID": s(["S", "S"]), "TRTSDT": [T("2021-02-01"), T("2021-01-01")],
        "TRTEDT": [T("2021-02-28"), T("2021-01-31")], "TRT01A": s(["B", "A"]),
    })


def _params(group_dtype: str) -> pd.DataFrame:
    # two summaries (PARAMN 2 listed before 1) and two EX records (the later one
    # listed first); X-2: one summary
    return pd.DataFrame({
        "USUBJID": pd.Series(["X-1", "X-1", "X-2", "X-1", "X-1"], dtype="string"),
        "PARAMCD": ["CUMDOSE", "TRTDURD", "TRTDURD", "DOSE", "DOSE"],
        "PARAM": ["Cumulative", "Duration", "Duration", "Dose", "Dose"],
        "PARAMN": [2.0, 1.0, 1.0, 7.0, 7.0],
        "AVAL": [100.0, 31.0, 28.0, 60.0, 40.0],
        "PARCAT1": ["OVERALL", "OVERALL", "OVERALL", "INDIVIDUAL", "INDIVIDUAL"],
        "_G": pd.Series([0, 0, 0, 1, 1], dtype=group_dtype),
        "ASTDT": [pd.NaT, pd.NaT, pd.NaT, T("2021-01-15"), T("2021-01-01")],
        "AENDT": [pd.NaT, pd.NaT, pd.NaT, T("2021-01-31"), T("2021-01-14")],
        "SRCSEQ": [np.nan, np.nan, np.nan, 2.0, 1.0],
    })


def test_frame_order_aseq_and_adsl_variables() -> None:
    out = _frame(_params("int64"), _adsl())
    assert out["USUBJID"].tolist() == ["X-1"] * 4 + ["X-2"]
    assert out["PARAMCD"].tolist() == ["TRTDURD", "CUMDOSE", "DOSE", "DOSE", "TRTDURD"]
    assert out["AVAL"].tolist() == [31.0, 100.0, 40.0, 60.0, 28.0]
    assert out["ASEQ"].tolist() == [1.0, 2.0, 3.0, 4.0, 1.0]
    # summaries carry TRTSDT/TRTEDT; EX records their own dates
    assert out["ASTDT"].tolist() == [T("2021-01-01"), T("2021-01-01"), T("2021-01-01"),
                                     T("2021-01-15"), T("2021-02-01")]
    assert out["AENDT"].tolist()[2:] == [T("2021-01-14"), T("2021-01-31"), T("2021-02-28")]
    assert out["SUBJID"].tolist() == ["1", "1", "1", "1", "2"]
    assert out["TRT01A"].tolist() == ["A", "A", "A", "A", "B"]
    assert list(out.columns[:6]) == ["STUDYID", "USUBJID", "SUBJID", "SITEID", "ASEQ",
                                     "TRT01A"]


def test_frame_sort_path_gives_the_same() -> None:
    # a float _G takes the frame sort; the result is the array path's
    pd.testing.assert_frame_equal(_frame(_params("float64"), _adsl()),
                                  _frame(_params("int64"), _adsl()))
