"""core_rules._date10 (CR0014-CR0016 compare the date part of DM's reference dates with
EX/DS): each distinct text stripped and cut to 10 characters in Python, as the "string"
accessors (``str.strip().str.slice(0, 10)``, blank → null) do it."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.checks.core_rules import _date10

# No NUL character and no lone surrogate: the column's distinct values are those of its text
# facts, which (as pd.factorize and Series.unique on text, through pandas' C string table)
# compare values up to a NUL ("a" and "a\x00" are one value) and cannot tell strings with
# unencodable lone surrogates apart reliably; so it was before this function took the facts'
# values one by one (f93f823)
TEXTS = st.one_of(st.none(), st.sampled_from(["", "  ", "2020-01-02", " 2020-01-02T10:00",
                                              "2020-01", "\t2020-13-99 ", "x" * 12]),
                  st.text(st.characters(blacklist_categories=("Cs",),
                                        blacklist_characters="\x00"), max_size=14))


def _accessors(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().str.slice(0, 10).mask(lambda x: x == "")


@settings(max_examples=300)
@given(values=st.lists(TEXTS, max_size=25))
def test_date10_is_the_accessors_expression(values):
    column = pd.Series(values, dtype="string")
    pd.testing.assert_series_equal(_date10(column), _accessors(column), check_exact=True)


def test_date10_hand_checked():
    column = pd.Series([" 2020-01-02T10:00", "  ", None, "2020-01", "2020-01-02"],
                       dtype="string", index=[5, 6, 7, 8, 9])
    out = _date10(column)
    assert out.tolist()[0] == "2020-01-02" and out.tolist()[3:] == ["2020-01", "2020-01-02"]
    assert out.isna().tolist() == [False, True, True, False, False]
    assert out.index.tolist() == [5, 6, 7, 8, 9] and out.dtype == "string"
