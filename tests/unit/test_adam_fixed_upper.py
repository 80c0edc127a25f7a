"""adam.io's trimmed upper-case helpers against the code they replace (the distinct texts
through ``Series(uniques, dtype="string").str.strip().str.upper()``): same texts, same matches, and
select_records' array filters keep the records the aligned Series filters kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.adam.dates import factorize_text, spread_text
from cdiscmap.adam.io import select_records, upper_isin, upper_text

_TEXT = st.one_of(st.none(), st.sampled_from(["pd", " PD ", "Pd\t", "sd", "ß", "ǆ", "ﬁ", "\u00a0cr",
                                              "CR\u2003", "", "  ", "ne"]), st.text(max_size=4))


def _replaced_upper_text(values: pd.Series) -> pd.Series:
    """upper_text as it was (commit afe84d6): the distinct texts through a "string" Series."""
    codes, uniques = factorize_text(values)
    clean = pd.Series(uniques, dtype="string").str.strip().str.upper().to_numpy(dtype=object)
    return spread_text(clean, codes, values.index)


def _replaced_upper_isin(values: pd.Series, wanted: list[str]) -> np.ndarray:
    """upper_isin as it was (commit afe84d6)."""
    codes, uniques = factorize_text(values)
    if not len(uniques):
        return np.zeros(len(values), dtype=bool)
    clean = pd.Series(uniques, dtype="string").str.strip().str.upper()
    hit = clean.isin([w.strip().upper() for w in wanted]).to_numpy(dtype=bool)
    return np.where(codes >= 0, hit[np.clip(codes, 0, None)], False)


@settings(deadline=None, max_examples=200)
@given(st.lists(_TEXT, max_size=30), st.lists(st.sampled_from(["PD", " cr", "SS", "FI", "Ǆ", ""]),
                                            min_size=1, max_size=3))
def test_upper_helpers_match_the_pandas_path(texts: list[str | None], wanted: list[str]) -> None:
    values = pd.Series(texts, dtype="string", index=np.arange(len(texts)) * 2)
    pd.testing.assert_series_equal(upper_text(values), _replaced_upper_text(values))
    assert upper_isin(values, wanted).tolist() == _replaced_upper_isin(values, wanted).tolist()
    # and, text without NUL (factorize_text compares up to a NUL), as pandas' own str methods
    if not any("\x00" in t for t in texts if t is not None):
        expected = values.str.strip().str.upper()
        pd.testing.assert_series_equal(upper_text(values), expected)


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


def test_report_bad_dates_selects_flagged_records_by_position() -> None:
    from cdiscmap.adam.io import report_bad_dates
    from cdiscmap.findings import Findings

    ae = pd.DataFrame({"USUBJID": ["S1", "S2", "S3"], "AESEQ": [1.0, 2.0, 3.0],
                       "AESTDTC": ["2020-01-01", "2020-02-30", "UNK"]}, index=[7, 7, 9])
    findings = Findings()
    report_bad_dates(findings, ae, np.array([False, False, False]), "AE", "AESTDTC")
    assert findings.items == []
    report_bad_dates(findings, ae, pd.Series([False, True, True], index=ae.index), "AE",
                     "AESTDTC")
    assert [(f.rule, f.usubjid, f.value, f.source) for f in findings] == [
        ("CMAP-AD0001", "S2", "2020-02-30", "AE AESEQ=2"),
        ("CMAP-AD0001", "S3", "UNK", "AE AESEQ=3")]


@settings(deadline=None, max_examples=200)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["CR", "PR", "pr", "SD", "", "NE "])),
                max_size=30),
       st.dictionaries(st.sampled_from(["CR", "PR", "SD", "NE", "", "X"]),
                       st.one_of(st.integers(-3, 9), st.floats(allow_nan=False)), max_size=5))
def test_text_numbers_as_series_map(texts: list[str | None], mapping: dict[str, float]) -> None:
    from cdiscmap.adam.io import text_numbers

    values = pd.Series(texts, dtype="string", index=np.arange(len(texts)) + 3)
    expected = values.map(mapping).astype("float64")
    pd.testing.assert_series_equal(text_numbers(values, mapping), expected, check_names=False)


def test_text_numbers_hand_checked() -> None:
    from cdiscmap.adam.io import text_numbers

    values = pd.Series(["Y", None, "N", "y", "Y"], dtype="string")
    got = text_numbers(values, {"Y": 1.0, "N": 0.0})
    assert got.dtype == "float64"
    assert got.tolist()[:1] + got.tolist()[2:3] + got.tolist()[4:] == [1.0, 0.0, 1.0]
    assert got.isna().tolist() == [False, True, False, True, False]
    assert text_numbers(values.iloc[:0], {"Y": 1}).tolist() == []


def test_upper_values_hand_checked() -> None:
    from cdiscmap.adam.io import upper_values

    got = upper_values(np.array([" a ", "ß", "\tNon-cr/non-pd", ""], dtype=object))
    assert got.dtype == object and got.tolist() == ["A", "SS", "NON-CR/NON-PD", ""]
    assert upper_values(np.array([], dtype=object)).tolist() == []
