"""The checks' fixed-cost paths (issue 13) against the pandas expressions they replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.checks import core_rules
from cdiscmap.checks import core_rules_events as ev

# text as an export holds it: repeated values, padding, blanks, nulls
_TEXT = st.sampled_from(["A", "B", " A", "A ", "", "  ", None, "ab", "AB"])


def _column(values: list[str | None]) -> pd.Series:
    return pd.Series(pd.array(values, dtype="string"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT), max_size=14))
def test_alone_is_a_group_of_one_of_the_cleaned_text(rows) -> None:
    frame = pd.DataFrame({"U": _column([u for u, _ in rows]), "R": _column([r for _, r in rows])})
    with ev.column_cache():
        got = core_rules._alone(frame, "U", "R")
        keys = pd.DataFrame({"u": ev.text(frame, "U"), "r": ev.text(frame, "R")})
    size = keys.groupby(["u", "r"])["r"].transform("size")
    assert got.tolist() == (size == 1).tolist()


def test_alone_hand_checked() -> None:
    frame = pd.DataFrame({"U": _column(["S1", "S1 ", "S1", "S2", None, "S3"]),
                          "R": _column(["1", "1", "2", "1", "1", " "])})
    with ev.column_cache():
        # "S1"/"1" twice (padding stripped); a null subject or blank RELID is no group
        assert core_rules._alone(frame, "U", "R").tolist() == [False, False, True, True,
                                                               False, False]


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, max_size=14), st.sampled_from(["A", "B", "AB", "X"]),
       st.sampled_from(["A", "B", "", "X"]))
def test_is_value_is_isin_of_the_cleaned_text(values, one, two) -> None:
    frame = pd.DataFrame({"C": _column(values)})
    with ev.column_cache():
        got = ev.is_value(frame, "C", one, two)
        expected = ev.text(frame, "C").isin([one, two]).fillna(False).to_numpy(dtype=bool)
    assert got.tolist() == expected.tolist()


def test_is_value_of_an_absent_column_is_false() -> None:
    frame = pd.DataFrame({"C": _column(["Y", "N"])})
    assert ev.is_value(frame, "D", "Y").tolist() == [False, False]


def test_picked_makes_each_frame_empty_slice_once() -> None:
    from cdiscmap.checks.crossdomain import _picked

    frame = pd.DataFrame({"USUBJID": _column(["A", "B"]), "X": [1.0, 2.0]})
    empties: dict[int, pd.DataFrame] = {}
    first = _picked(frame, np.zeros(2, dtype=bool), empties)
    again = _picked(frame, pd.Series([False, False]), empties)
    assert first is again and first.empty and list(first.columns) == ["USUBJID", "X"]
    picked = _picked(frame, np.array([False, True]), empties)
    assert picked["USUBJID"].tolist() == ["B"]


_PARM = st.sampled_from(["STYPE", "INTTYPE", "ADDON", "TITLE", "TRT", "TCNTRL", "RANDOM",
                         "INTMODEL", None])
_VAL = st.sampled_from(["INTERVENTIONAL", "interventional", "DRUG", "Y", "y", "N", "ACTIVE",
                        "", "  ", None, "x"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_PARM, _VAL, _VAL), max_size=12), st.booleans())
def test_ts_required_on_text_is_the_pandas_path(rows, with_nf) -> None:
    from cdiscmap.checks.ts_required import check_ts_required, required_parameters

    data = {"TSPARMCD": [p for p, _, _ in rows], "TSVAL": [v for _, v, _ in rows]}
    if with_nf:
        data["TSVALNF"] = [nf for _, _, nf in rows]
    text = pd.DataFrame({k: pd.array(v, dtype="string") for k, v in data.items()})
    objects = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items()})
    assert required_parameters(text) == required_parameters(objects)     # the pandas path
    assert check_ts_required(text) == check_ts_required(objects)


def test_ts_required_hand_checked() -> None:
    from cdiscmap.checks.ts_required import REQUIRED, check_ts_required

    ts = pd.DataFrame({"TSPARMCD": pd.array(["STYPE", "TITLE", "TRT", None], dtype="string"),
                       "TSVAL": pd.array(["interventional", "  ", None, "X"], dtype="string"),
                       "TSVALNF": pd.array([None, None, "NA", None], dtype="string")})
    missing = [f.value for f in check_ts_required(ts)]
    # STYPE given (so INTMODEL, INTTYPE, NARMS are required); TITLE blank; TRT by TSVALNF
    assert "STYPE" not in missing and "TRT" not in missing and "TITLE" in missing
    assert {"INTMODEL", "INTTYPE", "NARMS"} <= set(missing)
    assert len(missing) == len(REQUIRED) - 2 + 3


def test_duplicated_among_without_duplicates_copies_nothing() -> None:
    from cdiscmap.checks.crossdomain import _duplicated_among
    from cdiscmap.checks.facts import facts_cache

    rs = pd.DataFrame({"USUBJID": pd.array(["S1", "S1", "S2"], dtype="string"),
                       "VISITNUM": [1.0, 2.0, 1.0]},
                      index=[5, 6, 7])
    with facts_cache():
        picked, dup = _duplicated_among(rs, pd.Series(True, index=rs.index),
                                        ["USUBJID", "VISITNUM"])
    assert picked.empty and list(picked.columns) == ["USUBJID", "VISITNUM"]
    assert dup.empty and picked[dup].empty


def test_allowed_terms_once_per_codelist() -> None:
    from cdiscmap.checks import schema
    from cdiscmap.standards.models import Codelist, Term

    ny = Codelist(name="NY", label="No Yes", extensible=False, source="test",
                  terms=[Term(value="N"), Term(value="Y")])
    first = schema._allowed_terms(ny)
    assert first == frozenset({"N", "Y"}) and schema._allowed_terms(ny) is first
    same_terms = ny.model_copy()                    # another codelist object: its own entry
    assert schema._allowed_terms(same_terms) == first
    assert schema._ALLOWED[id(same_terms)][0] is same_terms


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["CR", "PR", "SD", "PD", "NE", "cr", " CR", ""]), unique=True,
                max_size=8),
       st.frozensets(st.sampled_from(["CR", "PR", "SD", "PD", "NE", "NOT EVALUABLE"])))
def test_value_level_isin_is_the_string_isin(uniques, allowed) -> None:
    from cdiscmap.checks.value_level import _isin

    values = np.array(uniques, dtype=object)
    expected = pd.Series(values, dtype="string").isin(list(allowed)).to_numpy(dtype=bool)
    assert _isin(values, allowed).tolist() == expected.tolist()


_RESULT = st.sampled_from(["CR", "PR", "NE", "1.5", " 2", "1e3", "-1", "nan", "inf", "ABC",
                           "", "18446744073709551615", None])


@settings(max_examples=300, deadline=None)
@given(st.lists(_RESULT, max_size=12))
def test_stresc_membership_or_number_is_the_callable_test(values) -> None:
    import pytest

    from cdiscmap.checks import schema
    from cdiscmap.checks.facts import facts_cache
    from cdiscmap.standards import load_standards

    var = load_standards().dataset("RS").variable("RSSTRESC")
    plan = schema._Plan(var=var, iso8601=False, dates_allowed=False, memberships=(
        schema._Membership("CMAP-SD0006", frozenset({"CR", "PR", "NE"}), "codelist X"),))
    series = _column(values)

    def failures() -> dict:
        found = schema._Failures([], [], False, {})
        with facts_cache():
            assert schema._text_failures(found, "RSSTRESC", series, plan)
        return found.values

    got = failures()
    original = schema._text_tests

    def called(plan: schema._Plan) -> list:     # each test called on the distinct values
        return [(rule, test if not hasattr(test, "allowed") else
                 (lambda values, test=test: test(values))) for rule, test in original(plan)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(schema, "_text_tests", called)
        assert got == failures()
