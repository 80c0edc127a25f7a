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


# --------------------------------------------------------------------------- report

def _report_before(ctx, frame: BlockFrame, mask: pd.Series, values: pd.Series | None) -> list:
    """MapContext.report as it was: the flagged rows of every raw column selected first."""
    from cdiscmap.findings import Finding, Severity
    from cdiscmap.sdtm.vocabulary import _subject_column

    found = []
    if not mask.any():
        return found
    rows = frame.raw.loc[mask.fillna(False).astype(bool)]
    vals = (values if values is not None else pd.Series("", index=frame.raw.index))
    vals = vals.loc[rows.index].astype("string").fillna("")
    subj_col = _subject_column(ctx.study, frame.form)
    subj = rows[subj_col].astype("string").fillna("") if subj_col in rows else \
        pd.Series("", index=rows.index)
    usubjid = frame.out["USUBJID"].loc[rows.index].astype("string").fillna("") \
        if "USUBJID" in frame.out else subj
    src = rows["_SRCFILE"].astype(str) + " row " + rows["_SRCROW"].astype(str)
    table = pd.DataFrame({"v": vals, "u": usubjid, "s": src})
    grouped = table.groupby("v", sort=True, dropna=False)
    first = grouped.first()
    counts = grouped.size()
    for value, row in first.iterrows():
        found.append(Finding(
            rule="R", severity=Severity.WARNING, message="m", dataset=ctx.domain,
            usubjid=str(row["u"]), variable=ctx.variable, value=str(value),
            source=f"{row['s']} (spec {ctx.where})", count=int(counts[value])))
    return found


@settings(deadline=None, max_examples=150)
@given(st.integers(0, 8).flatmap(lambda n: st.tuples(
    st.lists(st.sampled_from([True, False, None]), min_size=n, max_size=n),
    st.lists(_TEXT, min_size=n, max_size=n),
    st.lists(st.sampled_from(["01", "02", None]), min_size=n, max_size=n),
    st.booleans(), st.booleans(), st.booleans(), st.integers(0, 3))))
def test_report_as_before(case):
    from cdiscmap.findings import Findings, Severity
    from cdiscmap.sdtm.vocabulary import MapContext
    from cdiscmap.spec.models import StudySpec

    flags, texts, subjects, with_subject, with_usubjid, with_values, start = case
    n = len(flags)
    index = pd.RangeIndex(start, start + n)
    raw = pd.DataFrame({"A": pd.Series(texts, index=index, dtype="string"),
                        "_SRCFILE": ["f.csv"] * n, "_SRCROW": np.arange(1, n + 1)},
                       index=index)
    if with_subject:
        raw["SUBJECT"] = pd.Series(subjects, index=index, dtype="string")
    out = pd.DataFrame(index=index)
    frame = BlockFrame(raw=raw, out=out, form="f", file="f.csv")
    if with_usubjid:
        frame.set_variable("USUBJID", pd.Series(subjects, index=index, dtype="string"))
    study = StudySpec.model_validate({"studyid": "S", "title": "t", "standards": {},
                                      "forms": {"f": {"file": "f.csv"}}, "domains": ["AE"]})
    ctx = MapContext(study=study, codelist_terms={}, findings=Findings(), domain="AE",
                     where="ae.yaml:3", variable="X")
    mask = pd.Series(flags, index=index, dtype="boolean")
    values = raw["A"] if with_values else None
    expected = _report_before(ctx, frame, mask, values)
    ctx.report(frame, mask, rule="R", severity=Severity.WARNING, message="m", values=values)
    assert list(ctx.findings) == expected


def _snapshot_after_a() -> tuple[BlockFrame, BlockFrame, pd.Index]:
    """A two-row block with variable A set, and a snapshot taken right after."""
    index = pd.RangeIndex(2)
    frame = BlockFrame(raw=pd.DataFrame(index=index),
                       out=pd.DataFrame({"_SRCROW": [1, 2]}, index=index), form="F",
                       file="f.csv")
    frame.set_variable("A", pd.Series(["x", "y"], index=index, dtype="string"))
    return frame, frame.snapshot(), index


def test_snapshot_leaves_out_later_variables():
    frame, taken, index = _snapshot_after_a()
    frame.set_variable("B", pd.Series([1.0, 2.0], index=index))
    frame.set_variable("A", pd.Series(["z", "z"], index=index, dtype="string"))
    assert list(taken.out.columns) == ["_SRCROW", "A"]
    assert taken.out["A"].tolist() == ["x", "y"]
    assert list(frame.out.columns) == ["_SRCROW", "A", "B"]
    assert frame.out["A"].tolist() == ["z", "z"]
    later = frame.snapshot()
    frame.set_variable("C", pd.Series([3.0, 4.0], index=index))
    assert list(later.out.columns) == ["_SRCROW", "A", "B"]


@settings(deadline=None, max_examples=50)
@given(st.text(max_size=5), st.integers(0, 5), st.integers(-3, 3))
def test_constant_text_as_pandas_broadcast(value, n, start):
    from cdiscmap.sdtm.vectorize import constant_text

    index = pd.RangeIndex(start, start + n)
    pd.testing.assert_series_equal(constant_text(value, index),
                                   pd.Series(value, index=index, dtype="string"))


_DATES = st.one_of(st.none(), st.just("2020-01"), st.dates(
    min_value=__import__("datetime").date(1900, 1, 1),
    max_value=__import__("datetime").date(2100, 12, 31)).map(lambda d: d.isoformat()))


@settings(deadline=None, max_examples=150)
@given(st.lists(st.tuples(_DATES, _DATES), max_size=8))
def test_study_day_as_series_arithmetic(pairs):
    """--DY by numpy day counts equals the pandas Series arithmetic it replaced."""
    from cdiscmap.sdtm.dates import complete_date, study_day

    dtc = pd.Series([a for a, _ in pairs], dtype="string")
    ref = pd.Series([b for _, b in pairs], dtype="string")
    delta = (complete_date(dtc) - complete_date(ref)).dt.days.astype("float64")
    expected = pd.Series(np.where(delta >= 0, delta + 1, delta), index=dtc.index,
                         dtype="float64")
    pd.testing.assert_series_equal(study_day(dtc, ref), expected)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.one_of(st.none(), _DATES, st.sampled_from(
    ["2020-02-30", "2020-13-01", "2020-01-01T10:20", "2020-1-1", " 2020-01-01", "٢٠٢٠-01-01",
     "2020-01-01x", "0001-01-01", "9999-12-31", "2020-00-10", ""])), max_size=8),
    st.integers(-2, 2))
def test_complete_date_as_string_methods(values, start):
    """_complete_date equals the pandas string-method chain it replaced."""
    from cdiscmap.sdtm.dates import _complete_date

    dtc = pd.Series(values, index=pd.RangeIndex(start, start + len(values)), dtype="string",
                    name="DTC")
    text = dtc.astype("string").str.slice(0, 10)
    ok = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False).astype(bool)
    expected = pd.to_datetime(text.where(ok), format="%Y-%m-%d", errors="coerce")
    pd.testing.assert_series_equal(_complete_date(dtc), expected)


def test_column_inserted_in_place_is_kept():
    """A column set in place in ``out`` (as code outside the engine may do) is kept when
    variables set later are joined, and stays out of a snapshot taken before it."""
    frame, taken, index = _snapshot_after_a()
    frame.out["LATER"] = "z"
    frame.set_variable("B", pd.Series([1.0, 2.0], index=index))
    assert list(frame.out.columns) == ["_SRCROW", "A", "LATER", "B"]
    assert list(taken.out.columns) == ["_SRCROW", "A"]


@settings(deadline=None, max_examples=60)
@given(st.lists(st.sampled_from(["a.csv", "b.csv"]), max_size=5), st.booleans())
def test_lineage_as_copy_then_file_as_text(files, renumber):
    from cdiscmap.sdtm.engine import LINEAGE, _file_as_text, _lineage

    index = pd.RangeIndex(len(files)) if renumber else pd.Index(range(3, 3 + len(files)))
    df = pd.DataFrame({"A": range(len(files)), "_SRCFILE": np.array(files, dtype=object),
                       "_SRCROW": np.arange(1, len(files) + 1)}, index=index)
    with codes_cache():
        expected = df[LINEAGE].copy()
        _file_as_text(expected)
        got = _lineage(df)
        pd.testing.assert_frame_equal(got, expected)
        if expected["_SRCFILE"].dtype == "string":
            want, have = remembered(expected["_SRCFILE"]), remembered(got["_SRCFILE"])
            assert want is not None and have is not None
            assert np.array_equal(want[0], have[0]) and list(want[1]) == list(have[1])
