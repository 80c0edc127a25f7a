"""The RECIST step's fixed-cost paths (issue 13) against the pandas code they replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.recist.target import fmt_number


def _pandas_fmt_number(values: np.ndarray, *, signed: bool = True, trim: bool = False
                       ) -> np.ndarray:
    """fmt_number as it was written with pandas' astype(str) (commit afe84d6)."""
    rounded = np.round(np.asarray(values, dtype=np.float64), 1) + 0.0
    codes, uniques = pd.factorize(rounded, use_na_sentinel=False)
    uniques = np.asarray(uniques, dtype=np.float64)
    text = pd.Series(uniques, dtype=np.float64).astype(str).fillna("nan").to_numpy(dtype=object)
    if trim:
        whole = np.isfinite(uniques) & (uniques == np.trunc(uniques)) & (np.abs(uniques) < 2**53)
        if whole.any():
            text[whole] = pd.Series(uniques[whole].astype(np.int64)).astype(str).to_numpy(object)
    if signed:
        text = np.where(uniques >= 0, "+", "").astype(object) + text
    return text[codes]


# (magnitudes below 1e300: np.round overflows near the float64 limit, in either version)
_NUMBER = st.one_of(st.floats(min_value=-1e300, max_value=1e300),
                    st.sampled_from([np.nan, np.inf, -np.inf]),
                    st.floats(min_value=-1e4, max_value=1e4),
                    st.sampled_from([0.0, -0.0, 0.05, -0.05, 12.25, 1e16, 2.0**53, -2.0**60]))


@settings(max_examples=500, deadline=None)
@given(st.lists(_NUMBER, max_size=10), st.booleans(), st.booleans())
def test_fmt_number_is_pandas_astype_str(values, signed, trim) -> None:
    array = np.array(values, dtype=np.float64)
    assert fmt_number(array, signed=signed, trim=trim).tolist() == \
        _pandas_fmt_number(array, signed=signed, trim=trim).tolist()


def test_fmt_number_hand_checked() -> None:
    values = np.array([35.0, -30.04, np.nan, 12.25, -0.0])
    assert fmt_number(values, signed=False, trim=True).tolist() == ["35", "-30", "nan",
                                                                     "12.2", "0"]
    assert fmt_number(values).tolist() == ["+35.0", "-30.0", "nan", "+12.2", "+0.0"]


_LABEL = st.sampled_from(["INVESTIGATOR", "INDEPENDENT ASSESSOR/RADIOLOGIST 1",
                          "A/B/C", "/X", "X/", "", None])


@settings(max_examples=300, deadline=None)
@given(st.lists(_LABEL, max_size=6))
def test_evaluator_of_is_the_pandas_split(labels) -> None:
    from cdiscmap.recist.readers import evaluator_of

    array = np.array(labels, dtype=object)
    expected = pd.Series(array, dtype=object).str.split("/", n=1).str[0].to_numpy(dtype=object)
    got = evaluator_of(array)
    assert got.dtype == object and len(got) == len(expected)
    assert all((g == e) or (pd.isna(g) and pd.isna(e)) for g, e in zip(got, expected, strict=True))


def test_evaluator_of_hand_checked() -> None:
    from cdiscmap.recist.readers import evaluator_of

    labels = np.array(["INDEPENDENT ASSESSOR/RADIOLOGIST 1", "INVESTIGATOR"], dtype=object)
    assert evaluator_of(labels).tolist() == ["INDEPENDENT ASSESSOR", "INVESTIGATOR"]
