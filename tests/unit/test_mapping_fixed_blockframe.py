"""BlockFrame keeps the variables it is given aside until ``out`` is read: the frame then
read, its columns' values and dtypes and their remembered factorisations, are those that
setting each column on the frame (``out[name] = values``) gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.sdtm.vectorize import codes_cache, remembered
from cdiscmap.sdtm.vocabulary import BlockFrame

_TEXT = st.sampled_from(["A", "B", " C", "", None])


def _series(kind: str, values: list, index: pd.Index) -> pd.Series:
    if kind == "text":
        return pd.Series(values, index=index, dtype="string")
    if kind == "float":
        return pd.Series([np.nan if v is None else float(len(v)) for v in values],
                         index=index, dtype="float64")
    return pd.Series(values, index=index, dtype=object)


@st.composite
def _steps(draw):
    n = draw(st.integers(0, 6))
    names = st.sampled_from(["X", "Y", "Z", "_SRCROW"])
    steps = draw(st.lists(st.tuples(names, st.sampled_from(["text", "float", "object"]),
                                    st.lists(_TEXT, min_size=n, max_size=n),
                                    st.booleans()), max_size=8))
    return n, steps


@settings(deadline=None, max_examples=150)
@given(_steps())
def test_set_variable_as_setting_columns(case):
    n, steps = case
    index = pd.RangeIndex(n)
    start = pd.DataFrame({"_SRCFILE": ["f.csv"] * n, "_SRCROW": np.arange(n)}, index=index)
    expected = start.copy()
    frame = BlockFrame(raw=start.copy(), out=start.copy(), form="F", file="f.csv")
    with codes_cache():
        for name, kind, values, read in steps:
            series = _series(kind, values, index)
            expected[name] = series
            frame.set_variable(name, series)
            assert frame.has_variable(name)
            pd.testing.assert_series_equal(frame.variable(name), expected[name],
                                           check_names=False)
            if read:        # the frame read between steps
                pd.testing.assert_frame_equal(frame.out, expected)
        out = frame.out
        pd.testing.assert_frame_equal(out, expected)
        assert list(out.columns) == list(expected.columns)
        for name in out.columns:
            if out[name].dtype == "string":
                known = remembered(out[name])
                assert known is not None
                codes, uniques = known
                taken = np.append(np.asarray(uniques, dtype=object), None)[codes]
                assert [None if pd.isna(v) else v for v in out[name]] == list(taken)


def test_set_variable_copies():
    """The frame's column is its own copy: the values given stay apart from it."""
    index = pd.RangeIndex(3)
    frame = BlockFrame(raw=pd.DataFrame(index=index), out=pd.DataFrame(index=index),
                       form="F", file="f.csv")
    values = pd.Series([1.0, 2.0, 3.0], index=index)
    frame.set_variable("N", values)
    values.iloc[0] = 9.0
    assert frame.out["N"].tolist() == [1.0, 2.0, 3.0]


def test_subset_reads_variables_not_joined():
    """A subset narrowed to the variables it reads takes them from those set since the
    frame was last read, as from the frame."""
    index = pd.RangeIndex(4)
    frame = BlockFrame(raw=pd.DataFrame({"A": pd.array(["a", "b", "c", "d"], dtype="string"),
                                         "_SRCROW": np.arange(4)}, index=index),
                       out=pd.DataFrame({"_SRCROW": np.arange(4)}, index=index),
                       form="F", file="f.csv")
    frame.set_variable("USUBJID", pd.Series(["S1", "S2", "S3", "S4"], index=index,
                                            dtype="string"))
    frame.set_variable("N", pd.Series([1.0, 2.0, 3.0, 4.0], index=index))
    sub = frame.subset(np.array([False, True, False, True]), ({"A"}, {"USUBJID", "N"}))
    assert sub.out.index.tolist() == [1, 3]
    assert list(sub.out.columns) == ["USUBJID", "N"]
    assert sub.out["USUBJID"].tolist() == ["S2", "S4"]
    assert sub.out["N"].tolist() == [2.0, 4.0]
    assert sub.raw["A"].tolist() == ["b", "d"]
