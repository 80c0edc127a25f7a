"""Frames the mapping builds from columns (``vectorize.columns_frame``) are those pandas builds
with ``columns=list(data)``: same columns (names, order, index dtype), dtypes, values, and the
text arrays taken as they are, not copied."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.sdtm.vectorize import columns_frame


def _column(kind: str, n: int, index: pd.Index) -> object:
    if kind == "text":
        return pd.array(["a", None, " b", ""] * n, dtype="string")[:n]
    if kind == "float":
        return pd.Series(np.arange(n, dtype="float64"), index=index)
    if kind == "int":
        return pd.Series(np.arange(n, dtype="int64"), index=index)
    return pd.Series(np.array(["x"] * n, dtype=object), index=index)


@settings(deadline=None, max_examples=100)
@given(st.integers(0, 5), st.lists(st.tuples(st.sampled_from(["USUBJID", "AESEQ", "_SRCROW",
                                                              "X", "Y"]),
                                             st.sampled_from(["text", "float", "int",
                                                              "object"])), max_size=6),
       st.booleans())
def test_columns_frame_as_pandas_with_columns(n, columns, numbered):
    index = pd.RangeIndex(n) if numbered else pd.Index(np.arange(n) * 3 + 1)
    data = {name: _column(kind, n, index) for name, kind in columns}
    got = columns_frame(data, index)
    want = pd.DataFrame(data, index=index, columns=list(data), copy=False)
    pdt.assert_frame_equal(got, want, check_exact=True)
    assert got.columns.equals(want.columns) and got.columns.dtype == want.columns.dtype
    assert got.index.equals(want.index) and type(got.index) is type(want.index)
    for name, value in data.items():
        if isinstance(value, pd.arrays.StringArray):
            assert got[name].array is value       # not copied: its factorisation stays known


def test_columns_frame_by_hand():
    index = pd.RangeIndex(2)
    text = pd.array(["A", None], dtype="string")
    frame = columns_frame({"B": text, "A": pd.Series([1.5, 2.5], index=index)}, index)
    assert frame.columns.tolist() == ["B", "A"]
    assert frame["B"].array is text
    assert frame["A"].tolist() == [1.5, 2.5]
    empty = columns_frame({}, pd.RangeIndex(3))
    assert empty.shape == (3, 0) and empty.columns.dtype == object
    assert empty.columns.equals(pd.DataFrame(index=pd.RangeIndex(3), columns=[]).columns)


_NAMES = st.sampled_from(["Week 2", "WEEK 4", "Screening", "unscheduled", "Cycle 1", " ", None])


@settings(deadline=None, max_examples=150)
@given(st.lists(_NAMES, max_size=12), st.lists(_NAMES, max_size=5, unique=True),
       st.booleans())
def test_visit_text_by_name_as_series_map(rows, known, cached):
    """VISIT by distinct collected name is ``Series.map`` of the visit table, as text."""
    from cdiscmap.sdtm.vectorize import codes_cache, remembered
    from cdiscmap.sdtm.vocabulary import _text_by_name

    collected = pd.Series(rows, dtype="string", index=pd.RangeIndex(len(rows)) * 2)
    names = pd.Series([None if n is None else f"V:{n}".upper() for n in known],
                      index=pd.Index([n for n in known], dtype=object), dtype=object)
    names = names[names.index.notna()]
    want = collected.map(names).astype("string")
    if cached:
        with codes_cache():
            got = _text_by_name(collected, names)
            known_codes = remembered(got)
            assert known_codes is not None
            codes, uniques = known_codes
            np.testing.assert_array_equal(
                np.append(np.asarray(uniques, dtype=object), None)[codes],
                got.to_numpy(dtype=object, na_value=None))
    else:
        got = _text_by_name(collected, names)
    pdt.assert_series_equal(got, want, check_names=False)
    assert got.dtype == want.dtype and got.index.equals(want.index)


def test_visit_text_by_name_by_hand():
    from cdiscmap.sdtm.vocabulary import _text_by_name

    collected = pd.Series(["Week 2", None, "Week 9", "Week 2"], dtype="string")
    names = pd.Series(["WEEK 2", None], index=pd.Index(["Week 2", "Week 9"], dtype=object))
    assert _text_by_name(collected, names).tolist() == ["WEEK 2", pd.NA, pd.NA, "WEEK 2"]


@st.composite
def _calendar_entries(draw):
    from cdiscmap.sdtm.vocabulary import VisitCalendarEntry

    entries = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, 8))
        index = pd.RangeIndex(n) * 2 + 1
        subjects = draw(st.lists(st.sampled_from(["S1", "S2", "S3", None]), min_size=n,
                                 max_size=n))
        days = draw(st.lists(st.one_of(st.none(), st.integers(0, 6)), min_size=n, max_size=n))
        kind = draw(st.lists(st.sampled_from(["anchor", "calendar", "other"]), min_size=n,
                             max_size=n))
        numbers = draw(st.lists(st.sampled_from([1.0, 2.0, 3.0, np.nan]), min_size=n,
                                max_size=n))
        date = pd.Series(pd.to_datetime(["2024-01-01"] * n) +
                         pd.to_timedelta([np.nan if d is None else d for d in days], unit="D"),
                         index=index)
        calendar = pd.Series([k == "calendar" for k in kind], index=index, dtype=bool)
        entries.append(VisitCalendarEntry(
            block=None, variable="VISITNUM", usubjid=pd.Series(subjects, index=index,
                                                                 dtype="string"),
            date=date, visitnum=pd.Series(numbers, index=index).mask(calendar, np.nan),
            anchor=pd.Series([k == "anchor" for k in kind], index=index, dtype=bool),
            calendar=calendar))
    return entries


@pytest.mark.filterwarnings("ignore::FutureWarning")   # pandas' notes on the old path
@settings(deadline=None, max_examples=150)
@given(_calendar_entries())
def test_unscheduled_numbers_arrays_as_per_entry_frames(entries):
    """The calendar numbered from the entries' arrays joined once gives the numbers the
    per-entry frames and lookups gave (same values, dtypes, entries without rows None)."""
    from unittest import mock

    from cdiscmap.sdtm import engine
    from cdiscmap.sdtm.vectorize import codes_cache

    with codes_cache():
        got = engine._unscheduled_numbers(entries)
        with mock.patch.object(engine, "_numpy_columns", lambda *a: False):
            want = engine._unscheduled_numbers(entries)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g is None) == (w is None)
        if w is not None:
            assert g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)


def test_unscheduled_numbers_by_hand():
    """Subject S1: scheduled visit 2 on Jan 3, unscheduled visits Jan 4 (twice) and Jan 6:
    2.01, 2.01, 2.02 (number_unscheduled)."""
    from cdiscmap.sdtm import engine
    from cdiscmap.sdtm.vectorize import codes_cache
    from cdiscmap.sdtm.vocabulary import VisitCalendarEntry

    index = pd.RangeIndex(4)
    calendar = pd.Series([False, True, True, True], index=index)
    entry = VisitCalendarEntry(
        block=None, variable="VISITNUM", usubjid=pd.Series(["S1"] * 4, dtype="string"),
        date=pd.Series(pd.to_datetime(["2024-01-03", "2024-01-04", "2024-01-04",
                                       "2024-01-06"])),
        visitnum=pd.Series([2.0, np.nan, np.nan, np.nan]), anchor=~calendar, calendar=calendar)
    with codes_cache():
        assert engine._numpy_columns([[pd.Series([0.0] * 4), entry.date, entry.visitnum]],
                                     [[entry.anchor, entry.calendar]])
        (numbers,) = engine._unscheduled_numbers([entry])
    assert numbers.tolist() == [2.01, 2.01, 2.02]


@settings(deadline=None, max_examples=100)
@given(st.integers(0, 5), st.lists(st.tuples(st.sampled_from(["X", "Y", "Z", "USUBJID"]),
                                             st.sampled_from(["text", "float"])), max_size=6),
       st.booleans())
def test_blockframe_items_as_out_items(n, steps, numbered):
    """``BlockFrame.items()`` and ``index`` are those of ``out`` (joined), names in ``out``'s
    order with a name set again in its first place, each column's values and dtype."""
    from cdiscmap.sdtm.vocabulary import BlockFrame

    index = pd.RangeIndex(n) if numbered else pd.Index(np.arange(n) * 2)
    base = pd.DataFrame({"_SRCROW": np.arange(n, dtype="int64")}, index=index)
    a = BlockFrame(raw=pd.DataFrame(index=index), out=base.copy(), form="F", file="f.csv")
    b = BlockFrame(raw=pd.DataFrame(index=index), out=base.copy(), form="F", file="f.csv")
    for name, kind in steps:
        values = pd.Series(["v"] * n, index=index, dtype="string") if kind == "text" else \
            pd.Series(np.arange(n, dtype="float64"), index=index)
        a.set_variable(name, values)
        b.set_variable(name, values)
    items = a.items()
    assert a.index.equals(index)
    want = list(b.out.items())
    assert [k for k, _ in items] == [k for k, _ in want]
    for (_, got), (_, exp) in zip(items, want, strict=True):
        pdt.assert_series_equal(got, exp, check_names=False)


def test_null_blanks_as_blank_to_null():
    """The domain's blank → null from its columns is that of the frame."""
    from cdiscmap.sdtm.engine import _blank_to_null, _null_blanks

    frame = pd.DataFrame({"A": pd.array([" x", "  ", None], dtype="string"),
                          "N": [1.0, np.nan, 3.0], "O": np.array(["", "y", None], dtype=object)})
    got = _null_blanks(list(frame.items()), frame.index)
    pdt.assert_frame_equal(got, _blank_to_null(frame))
    assert got["A"].tolist() == ["x", pd.NA, pd.NA] and got.columns.dtype == object


_DTC = st.sampled_from(["2024-01-05", "2024-02-30", "2024-03", "2024-01-05T10:30", " ", "",
                        "1600-01-01", "2024-13-01", "UNK", None])


@settings(deadline=None, max_examples=150)
@given(st.lists(_DTC, max_size=10), st.sampled_from(["string", "object", "datetime"]),
       st.booleans())
def test_complete_days_as_complete_date(values, kind, cached):
    """``complete_days`` is ``complete_date(...).to_numpy("datetime64[ns]")`` for text,
    object and datetime columns, inside and outside the run's memo."""
    from cdiscmap.sdtm.dates import complete_date, complete_days
    from cdiscmap.sdtm.vectorize import codes_cache

    index = pd.RangeIndex(len(values)) * 3
    if kind == "datetime":
        dtc = pd.Series(pd.to_datetime([v[:10] if v and v[:7] == "2024-01" else None
                                        for v in values]), index=index)
    else:
        dtc = pd.Series(values, index=index, dtype="string" if kind == "string" else object)
    want = complete_date(dtc).to_numpy(dtype="datetime64[ns]")
    if cached:
        with codes_cache():
            got = complete_days(dtc)
            again = complete_days(dtc)
        np.testing.assert_array_equal(again, want)
    else:
        got = complete_days(dtc)
    assert got.dtype == np.dtype("datetime64[ns]")
    np.testing.assert_array_equal(got, want)


def test_complete_days_by_hand():
    from cdiscmap.sdtm.dates import complete_days
    from cdiscmap.sdtm.vectorize import codes_cache

    dtc = pd.Series(["2024-01-05T10:30", "2024-02", None, "2024-02-30"], dtype="string")
    with codes_cache():
        got = complete_days(dtc)
    assert got.tolist()[0] == pd.Timestamp("2024-01-05").value
    assert np.isnat(got[1:]).all()


def _old_order(plan):
    """The block's order as planning made it before: each pick recomputed every variable's
    references against the pending ones (the reference the new order must equal)."""
    from cdiscmap.sdtm import vocabulary as vocab

    ordered, done = [], set()
    for stage in sorted({pv.stage for pv in plan}):
        written = [pv for pv in sorted(plan, key=lambda pv: pv.where_index)
                   if pv.stage == stage]
        pending = [pv.name for pv in written]
        by_name = {pv.name: pv for pv in written}
        while pending:
            for n in pending:
                deps = vocab.referenced_variables(by_name[n].spec) & set(pending)
                if deps <= done:
                    ordered.append(n)
                    done.add(n)
                    pending.remove(n)
                    break
    return ordered


def test_plan_order_of_every_bundled_block():
    """Every block of every bundled study is planned in the order the pick-by-pick
    recomputation gave (stages, then dependencies, then as written)."""
    from dataclasses import dataclass

    from cdiscmap.pipeline.run import study_standards
    from cdiscmap.resources import bundled_study_names, resolve_study_dir
    from cdiscmap.sdtm.engine import _plan_block

    @dataclass
    class _Written:
        name: str
        spec: object
        stage: int
        where_index: int

    checked = 0
    for study in bundled_study_names():
        _, loaded = study_standards(resolve_study_dir(study))
        for domain in loaded.domains.values():
            for index in range(len(domain.blocks)):
                plan = _plan_block(loaded, domain, index)
                written = list(dict.fromkeys([*domain.variables, *domain.blocks[index].variables,
                                              *(f"_SUPP_{q}" for q in domain.supp)]))
                position = {n: i for i, n in enumerate(written)}
                reference = _old_order([_Written(pv.name, pv.spec, pv.stage, position[pv.name])
                                        for pv in plan])
                assert [pv.name for pv in plan] == reference, (study, domain.domain, index)
                checked += 1
    assert checked > 50


@settings(deadline=None, max_examples=100)
@given(st.lists(st.sampled_from(["Week 2", "WEEK 2", "Screening", "x", ""]), unique=True),
       st.lists(st.sampled_from(["Week 2", "WEEK 2", "Screening", "y", ""]), unique=True))
def test_name_positions_as_get_indexer(names, distinct):
    from cdiscmap.sdtm.vocabulary import _name_positions

    index = pd.Index(names, dtype=object)
    values = np.array(distinct, dtype=object)
    got = _name_positions(index, values)
    np.testing.assert_array_equal(got, index.get_indexer(values))
    assert got.dtype == np.intp
    assert _name_positions(pd.Index(["a", "b"], dtype=object),
                           np.array(["b", "c"], dtype=object)).tolist() == [1, -1]
    many = pd.Index([f"S{i}" for i in range(3000)], dtype="string")     # get_indexer's side
    assert _name_positions(many, np.array(["S2999", "x", "S0"], dtype=object)).tolist() == \
        [2999, -1, 0]


def test_take_rows_carries_factorisations():
    """Rows taken with ``carry=True`` keep their source columns' factorisations (the kept
    rows' codes), as ``carry_rows`` after the take gave them; numbers are taken as they are."""
    from cdiscmap.sdtm.vectorize import coded, codes_cache, remembered
    from cdiscmap.sdtm.vocabulary import take_rows

    frame = pd.DataFrame({"T": pd.array(["b", "a", None, "b"], dtype="string"),
                          "N": [1.0, 2.0, 3.0, 4.0]}, index=pd.RangeIndex(4) * 5)
    keep = np.array([True, False, True, True])
    with codes_cache():
        coded(frame["T"])
        taken = take_rows(frame, keep, carry=True)
        known = remembered(taken["T"])
        assert known is not None
        codes, uniques = known
        assert np.append(np.asarray(uniques, dtype=object), None)[codes].tolist() == \
            ["b", None, "b"]
        plain = take_rows(frame, keep)
        assert remembered(plain["T"]) is None
    pdt.assert_frame_equal(taken, frame.loc[keep])
    pdt.assert_frame_equal(plain, frame.loc[keep])


@settings(deadline=None, max_examples=200)
@given(st.sampled_from(["float", "string", "boolean"]),
       st.lists(st.tuples(st.sampled_from([None, 0, 1, 2]), st.sampled_from([None, 0, 1, 2])),
                max_size=8),
       st.sampled_from(["eq", "ne", "lt", "ge"]), st.booleans())
def test_null_where_missing_as_series_steps(kind, pairs, op, same_index):
    """A comparison's nulls made from the arrays equal the Series steps' (values, nulls,
    dtype, index, name), with the sides on one index object or two equal ones."""
    import operator

    from cdiscmap.sdtm.expressions import _null_where_missing

    def side(values, index, name):
        if kind == "float":
            return pd.Series([np.nan if v is None else float(v) for v in values],
                             index=index, name=name)
        if kind == "string":
            return pd.Series([None if v is None else f"v{v}" for v in values], index=index,
                             dtype="string", name=name)
        return pd.Series([None if v is None else bool(v % 2) for v in values], index=index,
                         dtype="boolean", name=name)

    index = pd.RangeIndex(len(pairs)) * 2
    a = side([x for x, _ in pairs], index, "X")
    b = side([y for _, y in pairs], index if same_index else pd.Index(list(index)), "X")
    if kind == "boolean" and op in ("lt", "ge"):
        op = "eq"
    fn = getattr(operator, op)
    out = fn(a, b)
    want = out.astype("boolean").mask(a.isna() | b.isna(), pd.NA)
    got = _null_where_missing(out, a, b)
    pdt.assert_series_equal(got, want)


def test_visit_rule_table_by_hand():
    """Each distinct visit name's rule, VISIT and VISITNUM (study.yaml visits), as the
    readers take them: RULE as int64, VISITNUM as float64 (null: NaN), VISIT text or None."""
    from cdiscmap.sdtm.vocabulary import MapContext, _visit_rule_table
    from cdiscmap.spec.models import StudySpec

    study = StudySpec.model_construct(visits=[
        type("R", (), {"match": "week\\s*(\\d+)", "visit": "WEEK {1}", "visitnum": "{1}",
                       "unscheduled": False})(),
        type("R", (), {"match": "unscheduled", "visit": "UNSCHEDULED", "visitnum": None,
                       "unscheduled": True})()])
    ctx = MapContext(study=study, codelist_terms={}, findings=None)  # type: ignore[arg-type]
    table = _visit_rule_table(ctx, ("Unscheduled", "Week 2", "other"))
    assert table.index.tolist() == ["Unscheduled", "Week 2"] and table.index.name == "raw"
    assert table["RULE"].to_numpy(dtype="int64").tolist() == [1, 0]
    assert table["VISIT"].tolist() == ["UNSCHEDULED", "WEEK 2"]
    assert np.isnan(table["VISITNUM"].iloc[0]) and table["VISITNUM"].iloc[1] == 2.0
    assert table["UNS"].tolist() == [True, False]
    empty = _visit_rule_table(ctx, ("other",))
    assert len(empty) == 0 and empty["VISITNUM"].astype("float64").dtype == "float64"


_CELLS = st.sampled_from(["A", "b c", "é", "x" * 201, "", None])


@settings(deadline=None, max_examples=150)
@given(st.lists(st.lists(_CELLS, min_size=3, max_size=3), min_size=1, max_size=3),
       st.booleans())
def test_plain_text_only_when_the_text_rules_do_nothing(columns, with_numbers):
    """When ``plain_text`` holds, the ASCII and 200-byte rules leave the dataset as it is and
    report nothing; it holds for remembered ASCII text of at most 200 characters."""
    from cdiscmap.findings import Findings
    from cdiscmap.sdtm.engine import _null_blank_columns
    from cdiscmap.sdtm.text import enforce_ascii, plain_text, split_long_text
    from cdiscmap.sdtm.vectorize import codes_cache

    names = [f"V{i}" for i in range(len(columns))]
    items = [(n, pd.Series(c, dtype="string")) for n, c in zip(names, columns, strict=True)]
    items += [("USUBJID", pd.Series(["S1", "S2", "S3"], dtype="string")),
              ("_SRCFILE", pd.Series(["f.csv"] * 3, dtype="string")),
              ("_SRCROW", pd.Series([1, 2, 3], dtype="int64"))]
    if with_numbers:
        items.append(("N", pd.Series([1.0, 2.0, np.nan])))
    with codes_cache():
        data = _null_blank_columns(items)
        plain = plain_text(data.values())
        frame = pd.DataFrame(data, copy=False)
        frame.columns = [n for n, _ in items]
        findings = Findings()
        out = enforce_ascii(frame, "XX", "transliterate", findings)
        out, overflow = split_long_text(out, "XX", set(names), "supp", findings)
    values = {v for c in columns for v in c if v}
    assert plain == all(v.isascii() and len(v) <= 200 for v in values)
    if plain:
        assert out is frame and not findings.items and not len(overflow)


def test_plain_text_by_hand():
    from cdiscmap.sdtm.text import plain_text
    from cdiscmap.sdtm.vectorize import clean_text_array, codes_cache

    with codes_cache():
        ok = clean_text_array(pd.Series(["A", " B ", None], dtype="string"))
        accented = clean_text_array(pd.Series(["é"], dtype="string"))
        assert plain_text([ok, pd.Series([1.0])])
        assert not plain_text([ok, accented])
        assert not plain_text([pd.Series(["x"], dtype="category")])
    assert not plain_text([pd.array(["A"], dtype="string")])     # nothing remembered


@settings(deadline=None, max_examples=150)
@given(st.lists(st.sampled_from(["S1", "S2", "S3", None]), max_size=8),
       st.lists(st.sampled_from(["S1", "S2", "S4", None]), unique=True, max_size=4),
       st.booleans())
def test_lookup_by_subject_as_map(rows, subjects, cached):
    """Each record's DM value by subject is ``usubjid.map(by_subject)``, with DM's subjects
    as text (with or without a missing one) and the record's codes remembered or not."""
    from hypothesis import assume

    from cdiscmap.sdtm.vectorize import codes_cache
    from cdiscmap.sdtm.vocabulary import _lookup_by_subject

    assume(rows and subjects)       # (.map of nothing gives float64: not what is compared)
    usubjid = pd.Series(rows, dtype="string", index=pd.RangeIndex(len(rows)) * 2)
    by_subject = pd.Series([f"d{i}" for i in range(len(subjects))], dtype="string",
                           index=pd.Index(subjects, dtype="string", name="USUBJID"))
    want = usubjid.map(by_subject)
    if cached:
        with codes_cache():
            got = _lookup_by_subject(usubjid, by_subject, {})
    else:
        got = _lookup_by_subject(usubjid, by_subject)
    pdt.assert_series_equal(got, want)


def test_recoding_made_once_per_codelist_and_run():
    """assign_ct's tables for a study codelist are made once per context and are those a
    fresh context makes (the demo study's every codelist)."""
    from cdiscmap.findings import Findings
    from cdiscmap.pipeline.run import codelist_terms, study_standards
    from cdiscmap.resources import resolve_study_dir
    from cdiscmap.sdtm.vocabulary import MapContext, _recoding

    standards, loaded = study_standards(resolve_study_dir("crizotinib-basket"))
    terms = codelist_terms(standards)
    ctx = MapContext(study=loaded.study, codelist_terms=terms, findings=Findings())
    for name in loaded.study.codelists:
        made = _recoding(ctx, name)
        again = _recoding(MapContext(study=loaded.study, codelist_terms=terms,
                                     findings=Findings()), name)
        assert made[:3] == again[:3]
        assert [(p.pattern, r) for p, r in made[3]] == [(p.pattern, r) for p, r in again[3]]
    assert len(loaded.study.codelists) > 3
