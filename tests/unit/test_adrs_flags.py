"""ADRS analysis flags on category codes (ANL01FL: the worst response of each subject and
date; ANL02FL: up to the first PD) against the frame sort they replace, and by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.adam.adrs import _flag_analysis, _flag_analysis_sorted

SUBJECTS = pd.CategoricalDtype(["A", "B", "C"])
T = pd.Timestamp


def _ovr(ids: list[str], days: list[int | None], avalc: list[str | None],
         seq: list[float]) -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": pd.Series(ids, dtype=SUBJECTS),
        "ADT": pd.Series([pd.NaT if d is None else T("2024-01-01") + pd.Timedelta(d, "D")
                          for d in days], dtype="datetime64[ns]"),
        "AVALC": pd.Series(avalc, dtype="string"),
        "SRCSEQ": pd.Series(seq, dtype="float64"),
    })


def _sorted(ovr: pd.DataFrame, refdt: pd.Series, nact: pd.Series
            ) -> tuple[pd.Series, pd.Series]:
    usable = ovr["AVALC"].isin(["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE"]) \
        .fillna(False).astype(bool) & ovr["ADT"].notna()
    after_ref = (ovr["ADT"] >= refdt).fillna(False).astype(bool)
    before_nact = (nact.isna() | (ovr["ADT"] <= nact)).astype(bool)
    return _flag_analysis_sorted(ovr, usable & after_ref & before_nact, after_ref)


def test_hand_checked_flags() -> None:
    # A: day 0 before the reference (day 1); day 10 SD and PR (SD is worse: flagged); day 20
    # PD; day 30 after the PD (ANL01FL yes, ANL02FL no). B: undated, NE, unknown response
    ovr = _ovr(["A", "A", "A", "A", "A", "B", "B"], [0, 10, 10, 20, 30, None, 5],
               ["CR", "PR", "SD", "PD", "CR", "PR", "XX"], [1, 2, 3, 4, 5, 1, 2])
    refdt = pd.Series([T("2024-01-02")] * 7)
    nact = pd.Series([pd.NaT] * 7, dtype="datetime64[ns]")
    anl1, anl2 = _flag_analysis(ovr, refdt, nact)
    assert anl1.tolist() == [False, False, True, True, True, False, False]
    assert anl2.tolist() == [False, True, True, True, False, False, True]


@settings(deadline=None, max_examples=150)
@given(st.data())
def test_flags_as_the_frame_sort(data) -> None:
    n = data.draw(st.integers(0, 25))
    ids = data.draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=n, max_size=n))
    days = data.draw(st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=n, max_size=n))
    avalc = data.draw(st.lists(st.sampled_from(["CR", "PR", "SD", "PD", "NE", "NON-CR/NON-PD",
                                                None]), min_size=n, max_size=n))
    seq = data.draw(st.lists(st.sampled_from([np.nan, 1.0, 2.0]), min_size=n, max_size=n))
    ovr = _ovr(ids, days, avalc, seq)
    refdt = pd.Series([T("2024-01-02")] * n, dtype="datetime64[ns]")
    nact = pd.Series(data.draw(st.lists(st.sampled_from([pd.NaT, T("2024-01-04")]),
                                        min_size=n, max_size=n)), dtype="datetime64[ns]")
    got, want = _flag_analysis(ovr, refdt, nact), _sorted(ovr, refdt, nact)
    pd.testing.assert_series_equal(got[0], want[0])
    pd.testing.assert_series_equal(got[1], want[1])
