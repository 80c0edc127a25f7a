"""adam.io's trimmed upper-case helpers against the pandas path they replace
(``Series(uniques, dtype="string").str.strip().str.upper()``): same texts, same matches, and
select_records' array filters keep the records the aligned Series filters kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.adam.io import select_records, upper_isin, upper_text

_TEXT = st.one_of(st.none(), st.sampled_from(["pd", " PD ", "Pd\t", "sd", "ß", "ǆ", "ﬁ", "\u00a0cr",
                                              "CR\u2003", "", "  ", "ne"]), st.text(max_size=4))


def _pandas_upper(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.upper()


@settings(deadline=None, max_examples=200)
@given(st.lists(_TEXT, max_size=30), st.lists(st.sampled_from(["PD", " cr", "SS", "FI", "Ǆ", ""]),
                                            min_size=1, max_size=3))
def test_upper_helpers_match_the_pandas_path(texts: list[str | None], wanted: list[str]) -> None:
    values = pd.Series(texts, dtype="string", index=np.arange(len(texts)) * 2)
    expected = _pandas_upper(values)
    pd.testing.assert_series_equal(upper_text(values), expected, check_names=False)
    hit = expected.isin([w.strip().upper() for w in wanted]).fillna(False).to_numpy(dtype=bool)
    assert upper_isin(values, wanted).tolist() == hit.tolist()


def test_upper_isin_hand_checked() -> None:
    values = pd.Series([" pd ", "ß", None, "sd\t", "ﬁ"], dtype="object")
    # "ß".upper() is "SS" and "ﬁ".upper() is "FI", as pandas' str.upper gives them
    assert upper_isin(values, ["PD", "SS"]).tolist() == [True, True, False, False, False]
    assert upper_isin(values, [" fi "]).tolist() == [False, False, False, False, True]
    assert upper_text(values).tolist() == ["PD", "SS", pd.NA, "SD", "FI"]


def test_select_records_array_filters_hand_checked() -> None:
    frame = pd.DataFrame({"A": ["x", "Y", "y ", None], "B": ["1", "2", "3", "4"]},
                         index=[10, 11, 11, 13])       # a repeated label is kept once per row
    kept, skipped = select_records(frame, {"A": "y", "C": "z"}, {"B": ["3"]})
    assert kept.index.tolist() == [11] and kept["B"].tolist() == ["2"]
    assert skipped == ["C"]
    same, _ = select_records(frame, {})
    assert same is frame
