"""The `expr` algorithm: grammar whitelist, every operator and function on hand-checked values,
SQL-like nulls, findings for values that do not fit, and one study mapped through the engine."""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdiscmap.errors import InputDataError, SpecError
from cdiscmap.sdtm import vocabulary as v
from cdiscmap.sdtm.engine import map_study, plan_block
from cdiscmap.sdtm.expressions import ExpressionError, evaluate, parse
from cdiscmap.spec.loader import load_study
from cdiscmap.spec.models import VariableSpec


def raw(**cols: list) -> pd.DataFrame:
    return pd.DataFrame({k: pd.Series(x, dtype="string") for k, x in cols.items()})


def ev(text: str, data: pd.DataFrame, variables: pd.DataFrame | None = None,
       problems: list | None = None) -> list:
    def report(mask, rule, message, values):
        assert problems is not None, f"unexpected finding {rule}: {message}"
        problems.append((rule, message, sorted(values[mask].tolist())))

    out = evaluate(text, data, variables, report=report)
    return [None if pd.isna(x) else x for x in out.tolist()]


ONE = raw(X=["1"])


def one(text: str, variables: pd.DataFrame | None = None):
    """The value of an expression with no column (literals and functions)."""
    return ev(text, ONE, variables)[0]


# --------------------------------------------------------------------------- operators

@pytest.mark.parametrize(("text", "expected"), [
    ("7 + 2", 9.0), ("7 - 2", 5.0), ("7 * 2", 14.0), ("7 / 2", 3.5),
    ("7 // 2", 3.0), ("-7 // 2", -4.0), ("7 % 3", 1.0), ("-7 % 3", 2.0), ("7 % -3", -2.0),
    ("-(2 + 3)", -5.0), ("1 + 2 * 3", 7.0), ("(1 + 2) * 3", 9.0),
    ("'T' + 'U'", "TU"), ("'T' + None", None), ("None + 1", None),
    ("'Y' if 2 > 1 else 'N'", "Y"), ("'Y' if 2 >= 2 else 'N'", "Y"),
    ("'Y' if 2 < 1 else 'N'", "N"), ("'Y' if 2 <= 1 else 'N'", "N"),
    ("'Y' if 2 == 2.0 else 'N'", "Y"), ("'Y' if 2 != 2 else 'N'", "N"),
    ("'Y' if 'a' < 'b' else 'N'", "Y"), ("'Y' if 'a' == 'A' else 'N'", "N"),
    ("'Y' if 1 < 2 < 3 else 'N'", "Y"), ("'Y' if 1 < 3 < 2 else 'N'", "N"),
    ("'Y' if 1 < 2 and 2 < 1 else 'N'", "N"), ("'Y' if 1 < 2 or 2 < 1 else 'N'", "Y"),
    ("'Y' if not 1 < 2 else 'N'", "N"),
    ("'Y' if 2 in (1, 2) else 'N'", "Y"), ("'Y' if 'b' not in ('a', 'b') else 'N'", "N"),
    ("'abcdef'[0:3]", "abc"), ("'abcdef'[-2:]", "ef"), ("'abcdef'[1]", "b"),
    ("'abcdef'[-1]", "f"), ("'abcdef'[:2]", "ab"), ("'abc'[5:9]", None),
])
def test_operators(text, expected):
    assert one(text) == expected


def test_plus_adds_a_raw_column_to_a_number_and_joins_text():
    data = raw(SEQ=["3", "3", "4"], REP=["1", "12", "2"], L=["7", "10", "3"])
    assert ev("SEQ + REP / 100", data) == [3.01, 3.12, 4.02]
    assert ev("'T' + zfill(L, 2)", data) == ["T07", "T10", "T03"]
    assert ev("SEQ + '-' + REP", data) == ["3-1", "3-12", "4-2"]
    assert ev("number(SEQ) + number(REP)", data) == [4.0, 15.0, 6.0]


def test_comparisons_of_raw_columns_with_numbers_are_numeric():
    # as text "10" < "9"; as numbers it is not
    data = raw(A=["10", "9"])
    assert ev("'big' if A > 9.5 else 'small'", data) == ["big", "small"]
    assert ev("'Y' if A in (9, 11) else 'N'", data) == ["N", "Y"]


def test_variables_keep_their_type():
    data = raw(X=["a", "b"])
    variables = pd.DataFrame({"N": [1.0, 2.0], "T": pd.Series(["p", None], dtype="string")})
    assert ev("var(N) * 10", data, variables) == [10.0, 20.0]
    assert ev("var(T) + X", data, variables) == ["pa", None]
    assert ev("text(var(N)) + X", data, variables) == ["1a", "2b"]


# --------------------------------------------------------------------------- functions

@pytest.mark.parametrize(("text", "expected"), [
    ("round(2.5)", 3.0), ("round(-2.5)", -3.0), ("round(3.5)", 4.0), ("round(2.4)", 2.0),
    ("round(2.675, 2)", 2.68), ("round(1.005, 2)", 1.01), ("round(1234, -2)", 1200.0),
    ("round(1250, -2)", 1300.0), ("round(150.975, 1)", 151.0),
    ("floor(2.7)", 2.0), ("floor(-2.2)", -3.0), ("ceil(2.2)", 3.0), ("ceil(-2.7)", -2.0),
    ("abs(-4.5)", 4.5), ("min(3, 1, 2)", 1.0), ("max(3, 1)", 3.0),
    ("coalesce(None, None, 'c')", "c"), ("coalesce(1, 2)", 1.0), ("if_null(None, 0)", 0.0),
    ("'Y' if is_null(None) else 'N'", "Y"), ("'Y' if is_null('') else 'N'", "Y"),
    ("'Y' if is_null(0) else 'N'", "N"),
    ("number(' 12.5 ')", 12.5), ("number('1e3')", 1000.0),
    ("text(3.0)", "3"), ("text(2.5)", "2.5"), ("text(-0.0)", "0"), ("text(0.1 + 0.2)", "0.3"),
    ("text(100000)", "100000"), ("text('ab')", "ab"),
    ("zfill(7, 3)", "007"), ("zfill('-5', 3)", "-05"), ("zfill('1234', 2)", "1234"),
    ("fmt(7, '03d')", "007"), ("fmt(2.25, '.1f')", "2.2"), ("fmt(255, 'x')", "ff"),
    ("fmt(0.125, '.1%')", "12.5%"), ("fmt('ab', '>4')", "  ab"), ("fmt(1234567, ',d')",
                                                                  "1,234,567"),
    ("upper('aBc')", "ABC"), ("lower('aBc')", "abc"), ("strip(' a ')", "a"),
    ("len('abcd')", 4.0), ("len('é')", 1.0),
])
def test_functions(text, expected):
    assert one(text) == expected


@pytest.mark.parametrize(("d1", "d2", "days", "months", "years"), [
    # the birthday rule: 29 February completes a year on 28 Feb in leap years only
    ("2000-02-29", "2001-02-28", 365, 11, 0),
    ("2000-02-29", "2001-03-01", 366, 12, 1),
    ("2000-02-29", "2004-02-28", 1460, 47, 3),
    ("2000-02-29", "2004-02-29", 1461, 48, 4),
    ("1960-06-15", "2020-06-14", 21914, 719, 59),
    ("1960-06-15", "2020-06-15", 21915, 720, 60),
    # a month is complete on the same day of the month (31 Jan → 29 Feb is not yet a month)
    ("2000-01-31", "2000-02-29", 29, 0, 0),
    ("2000-01-31", "2000-03-01", 30, 1, 0),
    ("2014-03-05", "2014-03-05", 0, 0, 0),
    # backwards: the same count, negative
    ("2001-03-01", "2000-02-29", -366, -12, -1),
    ("2001-02-28", "2000-02-29", -365, -11, 0),
    # a time after T is ignored
    ("2014-03-05T10:30", "2014-03-06T08:00", 1, 0, 0),
])
def test_date_differences(d1, d2, days, months, years):
    data = raw(A=[d1], B=[d2])
    assert ev("days_between(A, B)", data) == [float(days)]
    assert ev("months_between(A, B)", data) == [float(months)]
    assert ev("years_between(A, B)", data) == [float(years)]


def test_partial_dates_are_null_without_a_finding_other_text_with_one():
    data = raw(A=["2014-03", "2014", "2014---15", "2014-02-30", "03/05/2014", None],
               B=["2015-01-01"] * 6)
    problems: list = []
    assert ev("days_between(A, B)", data, problems=problems) == [None] * 6
    assert problems == [("CMAP-EXPR0002", "A: not a complete ISO 8601 date (YYYY-MM-DD); left null",
                         ["03/05/2014", "2014-02-30"])]


# --------------------------------------------------------------------------- nulls

def test_nulls_propagate_like_sql():
    data = raw(A=["2", "", None], S=["x", "", " "])
    assert ev("A + 1", data) == [3.0, None, None]
    assert ev("S + 'y'", data) == ["xy", None, None]
    assert ev("len(S)", data) == [1.0, None, None]
    assert ev("round(A * 1.5, 0)", data) == [3.0, None, None]
    assert ev("min(A, 5)", data) == [2.0, None, None]
    assert ev("S[0:1]", data) == ["x", None, None]
    # a comparison with null is null, and a null condition counts as false
    assert ev("'T' if A > 1 else 'F'", data) == ["T", "F", "F"]
    assert ev("'T' if not A > 1 else 'F'", data) == ["F", "F", "F"]
    assert ev("'T' if is_null(A) else 'F'", data) == ["F", "T", "T"]
    assert ev("coalesce(A, 0)", data) == [2.0, 0.0, 0.0]


def test_three_valued_and_or():
    data = raw(A=[None])
    # A > 1 is null: False and null is false; True or null is true; the rest stay null
    assert ev("'T' if (1 > 2 and A > 1) else 'F'", data) == ["F"]
    assert ev("'T' if not (1 > 2 and A > 1) else 'F'", data) == ["T"]
    assert ev("'T' if (1 < 2 or A > 1) else 'F'", data) == ["T"]
    assert ev("'T' if not (1 < 2 and A > 1) else 'F'", data) == ["F"]     # not null → null


# --------------------------------------------------------------------------- findings

def test_text_that_is_not_a_number_is_one_finding_per_distinct_value():
    data = raw(A=["1", "x", "x", "y", "2"])
    problems: list = []
    # A is read twice: still one finding per value
    assert ev("A + A * 10", data, problems=problems) == [11.0, None, None, None, 22.0]
    assert problems == [("CMAP-EXPR0001", "A: not a number; left null", ["x", "x", "y"])]


def test_number_of_text_and_division_by_zero_and_fmt_are_findings():
    data = raw(A=["4", "0", "abc"], B=["2.5", "3", "1"])
    problems: list = []
    assert ev("number(A)", data, problems=problems) == [4.0, 0.0, None]
    assert problems == [("CMAP-EXPR0001", "A: not a number; left null", ["abc"])]
    problems.clear()
    assert ev("10 / number(A)", raw(A=["4", "0"]), problems=problems) == [2.5, None]
    assert problems == [("CMAP-EXPR0003", "10 / number(A): division by zero; left null", ["0"])]
    problems.clear()
    assert ev("fmt(B, '02d')", data, problems=problems) == [None, "03", "01"]
    assert [(r, vals) for r, _, vals in problems] == [("CMAP-EXPR0004", ["2.5"])]


def test_branches_run_on_their_own_rows():
    # the division and the number reading only happen where the guard lets them
    data = raw(A=["0", "4", "n/a"])
    problems: list = []
    out = ev("None if A == '0' or A == 'n/a' else 8 / A", data, problems=problems)
    assert out == [None, 2.0, None]
    assert problems == []


# --------------------------------------------------------------------------- refused at load

@pytest.mark.parametrize(("text", "column", "words"), [
    ("x.y", 1, "attribute access"),
    ("A + x.__class__", 5, "attribute access"),
    ("lambda: 1", 1, "lambda"),
    ("[a for a in B]", 1, "comprehension"),
    ("__import__('os')", 1, "unknown function __import__"),
    ("open('f')", 1, "unknown function open"),
    ("A + eval('1')", 5, "unknown function eval"),
    ("_SRCROW + 1", 1, "reserved"),
    ("var(__class__)", 5, "reserved"),
    ("'abc' * 2", 1, "needs a number, not text"),
    ("1 + 'T'", 1, "number and text"),
    ("A + B", 1, "two raw columns"),
    ("A ** 2", 1, "**"),
    ("upper(1)", 7, "needs text"),
    ("round(A, B)", 10, "whole-number literal"),
    ("zfill(A, 500)", 10, "0..200"),
    ("fmt(A, '{0}')", 8, "not a format spec"),
    ("fmt(A, 'n')", 8, "not a format spec"),
    ("fmt('a', 'd')", 1, "for numbers"),
    ("A if 'x' else 1", 6, "needs a condition"),
    ("A > 1", 1, "gives a condition"),
    ("S[::2]", 1, "step"),
    ("S[A]", 1, "whole-number literal"),
    ("f'{A}'", 1, "f-string"),
    ("{'a': 1}", 1, "Dict"),
    ("min(A)", 1, "2 or more"),
    ("round(A, ndigits=2)", 1, "positional"),
    ("A is None", 1, "is_null"),
    ("'é' + x.y", 7, "attribute access"),      # columns count characters, not UTF-8 bytes
    ("1 +", None, "syntax error"),
    ("", None, "non-empty"),
])
def test_forbidden_constructs_are_spec_errors_with_position(text, column, words):
    with pytest.raises(SpecError) as info:
        parse(text)
    message = str(info.value)
    assert words in message
    if column is not None:
        assert f"column {column}" in message


def test_a_bad_expression_names_file_line_and_column_at_spec_load(tmp_path):
    _write(tmp_path / "s", {**_study_files(), "sdtm/ex.yaml": EX.replace(
        "EXLNKID: {expr: \"'T' + zfill(LINE, 2)\"}", "EXLNKID: {expr: \"'T' + LINE.zfill(2)\"}")})
    with pytest.raises(SpecError) as info:
        load_study(tmp_path / "s")
    message = str(info.value)
    assert "ex.yaml:11" in message and "EXLNKID.expr" in message
    assert "column 7 ('LINE.zfill')" in message and "attribute access" in message


def test_type_clash_known_only_at_run_time_names_the_spec_line():
    f = v.BlockFrame(raw=raw(X=["a"]).assign(_SRCFILE="f.csv", _SRCROW=1),
                     out=pd.DataFrame({"N": [1.0]}), form="f", file="f.csv")
    from cdiscmap.findings import Findings
    from cdiscmap.spec.models import StudySpec
    study = StudySpec.model_validate({"studyid": "S", "title": "t", "standards": {},
                                      "forms": {"f": {"file": "f.csv"}}, "domains": ["AE"]})
    ctx = v.MapContext(study=study, codelist_terms={}, findings=Findings(), domain="AE",
                       where="ae.yaml:7", variable="AESPID")
    spec = VariableSpec.model_validate({"expr": "'T' + var(N)"})
    with pytest.raises(SpecError) as info:
        v.run_algorithm(ctx, f, spec)
    assert str(info.value).startswith("ae.yaml:7: expression \"'T' + var(N)\", column 1")
    assert isinstance(info.value, ExpressionError)
    with pytest.raises(InputDataError, match="raw column 'Y' is not in f.csv"):
        v.run_algorithm(ctx, f, VariableSpec.model_validate({"expr": "Y + 1"}))


def test_expr_declares_the_variables_it_reads():
    spec = VariableSpec.model_validate({"expr": "years_between(var(BRTHDTC), var(RFSTDTC))"})
    assert v.referenced_variables(spec) == {"BRTHDTC", "RFSTDTC"}
    nested = VariableSpec.model_validate({"when": [
        {"if": {"column": "A", "blank": False}, "then": {"expr": "var(VISITNUM) + 1"}}]})
    assert v.referenced_variables(nested) == {"VISITNUM"}


# --------------------------------------------------------------------------- properties

floats = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False,
                                        min_value=-1e12, max_value=1e12))


@given(st.lists(st.tuples(floats, floats), min_size=1, max_size=30))
def test_addition_matches_pandas(pairs):
    a = pd.Series([p[0] for p in pairs], dtype="float64")
    b = pd.Series([p[1] for p in pairs], dtype="float64")
    variables = pd.DataFrame({"A": a, "B": b})
    out = evaluate("var(A) + var(B) * 2 - var(A) / 4", pd.DataFrame(index=a.index), variables)
    expected = a + b * 2 - a / 4
    assert np.array_equal(out.to_numpy(), expected.to_numpy(), equal_nan=True)


words = st.text(alphabet="ab-+09 ", min_size=1, max_size=8).map(str.strip).filter(bool)


@given(st.lists(words, min_size=1, max_size=20), st.integers(0, 12))
def test_zfill_matches_str_zfill(values, width):
    out = evaluate(f"zfill(A, {width})", raw(A=values))
    assert out.tolist() == [s.zfill(width) for s in values]


def _years_by_counting(d1: date, d2: date) -> int:
    """Completed years, counted one anniversary at a time (29 Feb → 1 Mar in other years)."""
    def anniversary(k: int) -> date:
        try:
            return d1.replace(year=d1.year + k)
        except ValueError:
            return date(d1.year + k, 3, 1)
    k = 0
    while anniversary(k + 1) <= d2:
        k += 1
    return k


@given(st.dates(date(1900, 1, 1), date(2100, 12, 31)), st.integers(0, 40000))
def test_years_between_counts_anniversaries(start, gap):
    end = start + timedelta(days=gap)
    if end.year > 9999:
        return
    data = raw(A=[start.isoformat()], B=[end.isoformat()])
    expected = float(_years_by_counting(start, end))
    assert ev("years_between(A, B)", data) == [expected]
    assert ev("years_between(B, A)", data) == [-expected or 0.0]


# --------------------------------------------------------------------------- engine

STUDY = """\
studyid: EXPR
title: Expressions
standards: {sdtmig: "3.4"}
forms:
  enrol: {file: enrol.csv, keys: [SUBJECT]}
  ex: {file: ex.csv}
domains: [DM, EX]
"""

DM = """\
domain: DM
blocks:
  - name: subjects
    source: {form: enrol}
    variables:
      STUDYID: {constant: EXPR}
      USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
      BRTHDTC: {iso8601: {date: BRTH, format: DMY}}
      AGE: {expr: "years_between(var(BRTHDTC), var(RFSTDTC))"}
      RFSTDTC: {from_domain: {domain: EX, variable: EXSTDTC, agg: min}}
"""

EX = """\
domain: EX
blocks:
  - name: log
    source: {form: ex}
    variables:
      STUDYID: {constant: EXPR}
      USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
      EXSTDTC: {iso8601: {date: START, format: DMY}}
      EXDOSE: {expr: "round(DOSE_MGM2 * BSA, 1)"}
      VISITNUM: {expr: "FolderSeq + InstanceRepeatNumber / 100"}
      EXLNKID: {expr: "'T' + zfill(LINE, 2)"}
"""

RAW = {
    "enrol.csv": """\
        SUBJECT,BRTH
        001,29-FEB-2000
        002,15-JUN-1960
        """,
    "ex.csv": """\
        SUBJECT,LINE,DOSE_MGM2,BSA,START,FolderSeq,InstanceRepeatNumber
        001,1,100,1.85,28-FEB-2001,3,1
        001,10,100,abc,01-MAR-2001,3,12
        002,2,75,2.013,14-JUN-2020,4,
        """,
}


def _study_files() -> dict[str, str]:
    return {"study.yaml": STUDY, "sdtm/dm.yaml": DM, "sdtm/ex.yaml": EX}


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_expressions_through_the_engine(tmp_path):
    _write(tmp_path / "s", _study_files())
    _write(tmp_path / "raw", RAW)
    loaded = load_study(tmp_path / "s")
    # AGE reads RFSTDTC (a subject-level aggregate of EX): it runs at that stage, after it
    plan = {p.name: p.stage for p in plan_block(loaded, loaded.domains["DM"], 0)}
    assert plan["AGE"] == plan["RFSTDTC"] == v.SUBJECT
    res = map_study(loaded, tmp_path / "raw", {}, {"DM": set(), "EX": set()})
    dm = res.domains["DM"].set_index("USUBJID")
    # 001 born 29 Feb 2000, first dose 28 Feb 2001: not yet 1; 002 a day before turning 60
    assert dm.loc["EXPR-001", "AGE"] == 0.0
    assert dm.loc["EXPR-002", "AGE"] == 59.0
    ex = res.domains["EX"]
    # 100 × 1.85 = 185.0; BSA "abc" → null; 75 × 2.013 = 150.975 → 151.0 (half away from 0)
    assert ex["EXDOSE"].tolist()[0] == 185.0 and pd.isna(ex["EXDOSE"].iloc[1])
    assert ex["EXDOSE"].iloc[2] == 151.0
    assert ex["VISITNUM"].tolist()[:2] == [3.01, 3.12] and pd.isna(ex["VISITNUM"].iloc[2])
    assert ex["EXLNKID"].tolist() == ["T01", "T10", "T02"]
    (finding,) = [f for f in res.findings if f.rule.startswith("CMAP-EXPR")]
    assert (finding.rule, finding.variable, finding.value, finding.usubjid) == \
        ("CMAP-EXPR0001", "EXDOSE", "abc", "EXPR-001")
    assert finding.source.startswith("ex.csv row 2 (spec ") and "ex.yaml:9" in finding.source


def test_branches_take_each_rows_own_values_whatever_the_index():
    # an if's branches see their rows' values: taken by position when the block's index is
    # unique and the variables share it, by label when the variables are in another order
    data = pd.DataFrame({"X": pd.Series(["1", "5", "9", "2"], dtype="string",
                                        index=[13, 10, 12, 11])})
    same = pd.DataFrame({"N": [100.0, 200.0, 300.0, 400.0]}, index=data.index)
    text = "X * 10 if X > 4 else var(N) + X"
    assert ev(text, data, same) == [101.0, 50.0, 90.0, 402.0]
    shuffled = same.loc[[11, 13, 12, 10]]           # same labels, other order: by label
    assert ev(text, data, shuffled) == [101.0, 50.0, 90.0, 402.0]
    nested = "'lo' if X < 2 else ('mid' if X < 6 else text(var(N)))"
    assert ev(nested, data, same) == ["lo", "mid", "300", "mid"]


def test_if_branches_come_back_in_row_order_on_any_row_labels() -> None:
    """The branches of ``x if c else y`` are computed on their own rows and put back in the
    block's row order (by position when the labels are unique), whatever the labels are."""
    raw = pd.DataFrame({"A": ["1", "", "3", "x", "1"], "B": ["a", "b", "c", "d", "e"]},
                       index=[10, 4, 12, 2, 7])
    text = evaluate("B if A == '1' else 'Z' + B", raw)
    assert text.index.tolist() == [10, 4, 12, 2, 7]
    assert text.tolist() == ["a", "Zb", "Zc", "Zd", "e"]
    assert str(text.dtype) == "string"
    numbers = evaluate("number(A) if A != 'x' else 7", raw)
    assert numbers.index.tolist() == [10, 4, 12, 2, 7]
    # a blank A is null: the condition is not true, so the row takes the else branch
    assert numbers.tolist() == [1.0, 7.0, 3.0, 7.0, 1.0]
    # nested: the inner if runs on the outer branch's rows only
    nested = evaluate("'one' if A == '1' else ('three' if A == '3' else 'other')", raw)
    assert nested.tolist() == ["one", "other", "three", "other", "one"]
