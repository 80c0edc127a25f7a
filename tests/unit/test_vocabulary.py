"""Each mapping algorithm and condition on small frames (expected values worked by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdiscmap.findings import Findings
from cdiscmap.sdtm import vocabulary as v
from cdiscmap.spec.models import Condition, StudySpec, VariableSpec

STUDY = StudySpec.model_validate({
    "studyid": "S", "title": "t", "standards": {}, "forms": {"f": {"file": "f.csv"}},
    "domains": ["AE"],
    "codelists": {"YN": {"target": "NY", "map": {"yes": "Y", "no": "N"}},
                  "DROP": {"target": "NY", "on_unmapped": "null"}},
})


def frame(**cols) -> v.BlockFrame:
    raw = pd.DataFrame({k: pd.Series(x, dtype="string") for k, x in cols.items()})
    raw["_SRCFILE"] = "f.csv"
    raw["_SRCROW"] = range(1, len(raw) + 1)
    out = pd.DataFrame({"USUBJID": pd.Series([f"S-{i}" for i in range(len(raw))],
                                             dtype="string")}, index=raw.index)
    return v.BlockFrame(raw=raw, out=out, form="f", file="f.csv")


def ctx() -> v.MapContext:
    return v.MapContext(study=STUDY, codelist_terms={"NY": {"Y", "N", "U", "NA"}},
                        findings=Findings(), domain="AE", where="ae.yaml:3", variable="X")


def run(spec: dict, f: v.BlockFrame, c: v.MapContext | None = None) -> pd.Series:
    return v.run_algorithm(c or ctx(), f, VariableSpec.model_validate(spec))


def test_take_strips_and_blanks_are_null():
    out = run({"take": "A"}, frame(A=["  x ", "", None]))
    assert out.tolist()[0] == "x"
    assert out.isna().tolist() == [False, True, True]


def test_take_default_and_case():
    assert run({"take": {"column": "A", "default": "Z"}}, frame(A=["a", None])).tolist() == \
        ["a", "Z"]
    assert run({"take": "A", "case": "upper"}, frame(A=["MiXed"])).tolist() == ["MIXED"]


def test_constant_text_and_number():
    f = frame(A=["1", "2"])
    assert run({"constant": "CRIZOTINIB"}, f).tolist() == ["CRIZOTINIB"] * 2
    assert run({"constant": 5}, f).tolist() == [5.0, 5.0]


def test_concat_missing_part_gives_missing():
    f = frame(A=["001", None])
    out = run({"concat": {"parts": [{"value": "S"}, {"column": "A"}], "sep": "-"}}, f)
    assert out.iloc[0] == "S-001"
    assert pd.isna(out.iloc[1])


def test_concat_joins_each_combination_and_nulls_any_with_a_missing_part():
    f = frame(A=["a", "b", None, "a", "b", "a"], B=["1", "2", "3", None, "2", "1"])
    out = run({"concat": {"parts": [{"column": "A"}, {"value": "x"}, {"column": "B"}],
                          "sep": "/"}}, f)
    assert out.dtype == "string"
    assert out.tolist() == ["a/x/1", "b/x/2", pd.NA, pd.NA, "b/x/2", "a/x/1"]


def test_number_reports_text():
    c = ctx()
    out = run({"number": {"column": "A"}}, frame(A=["12.5", "abc", None]), c)
    assert out.iloc[0] == 12.5 and out.iloc[1:].isna().all()
    assert [(f.rule, f.value) for f in c.findings] == [("CMAP-NUM0001", "abc")]


def test_number_default_only_for_blanks():
    out = run({"number": {"column": "A", "default": 5}}, frame(A=["", "7"]))
    assert out.tolist() == [5.0, 7.0]


def test_assign_ct_null_on_unmapped_counts_rows():
    c = ctx()
    out = run({"assign_ct": {"column": "A", "codelist": "DROP"}}, frame(A=["Y", "maybe",
                                                                          "maybe"]), c)
    assert out.iloc[0] == "Y" and out.iloc[1:].isna().all()
    (finding,) = list(c.findings)
    assert (finding.rule, finding.value, finding.count) == ("CMAP-MAP0001", "maybe", 2)
    assert finding.source.startswith("f.csv row 2")


def test_when_first_matching_branch_wins_and_else():
    f = frame(A=["Yes", "No", None])
    spec = {"when": [{"if": {"column": "A", "equals": "yes"}, "then": {"constant": "Y"}},
                     {"if": {"column": "A", "blank": False}, "then": {"constant": "N"}},
                     {"else": {"constant": "U"}}]}
    assert run(spec, f).tolist() == ["Y", "N", "U"]


def test_when_gives_numbers_from_computed_and_constant_branches():
    c = ctx()
    f = frame(A=["x", "y", "X", None], N=["1.5", "2", "bad", "4"])
    spec = {"when": [{"if": {"column": "A", "equals": "x"}, "then": {"number": {"column": "N"}}},
                     {"if": {"column": "A", "blank": False}, "then": {"constant": 0}}]}
    out = run(spec, f, c)
    assert out.dtype == "float64" and out.index.tolist() == [0, 1, 2, 3]
    assert out.tolist()[:2] == [1.5, 0.0] and out.iloc[2:].isna().all()  # no branch: null
    (finding,) = list(c.findings)       # "bad" is in the first branch's rows; "4" is not
    assert (finding.rule, finding.value) == ("CMAP-NUM0001", "bad")


def test_when_branch_findings_only_for_its_rows():
    c = ctx()
    f = frame(A=["Yes", "bad"], K=["1", "2"])
    spec = {"when": [{"if": {"column": "K", "equals": "1"},
                      "then": {"assign_ct": {"column": "A", "codelist": "YN"}}}]}
    out = run(spec, f, c)
    assert out.iloc[0] == "Y" and pd.isna(out.iloc[1])
    assert list(c.findings) == []      # "bad" sits in a row the branch does not cover


def test_when_branch_sees_only_the_columns_it_reads_and_reports_with_lineage():
    c = ctx()
    f = frame(A=["Yes", "bad", "no"], K=["1", "1", "2"], SUBJECT=["01", "02", "03"],
              OTHER=["x", "y", "z"])
    spec = VariableSpec.model_validate({"assign_ct": {"column": "A", "codelist": "YN"}})
    reads = v._reads(c, f, spec)
    assert reads == ({"A", "_SRCFILE", "_SRCROW", "SUBJECT"}, {"USUBJID"})
    sub = f.subset(pd.Series([True, True, False]), reads)
    assert list(sub.raw.columns) == ["A", "SUBJECT", "_SRCFILE", "_SRCROW"]
    assert list(sub.out.columns) == ["USUBJID"] and sub.raw.index.tolist() == [0, 1]
    out = run({"when": [{"if": {"column": "K", "equals": "1"},
                         "then": {"assign_ct": {"column": "A", "codelist": "YN"}}}]}, f, c)
    assert out.tolist()[:2] == ["Y", "bad"] and pd.isna(out.iloc[2])   # kept as collected
    (finding,) = list(c.findings)       # "bad" (row 2) in the branch; "no" outside it
    assert (finding.value, finding.usubjid, finding.source) == \
        ("bad", "S-1", "f.csv row 2 (spec ae.yaml:3)")
    # an algorithm whose reads are not listed, or a column the block lacks: every column
    assert v._reads(c, f, VariableSpec.model_validate({"visit": {"column": "A"}})) is None
    whole = f.subset(pd.Series([True, False, True]), ({"MISSING"}, set()))
    assert list(whole.raw.columns) == list(f.raw.columns)


def test_take_rows_gives_what_loc_gives():
    raw = pd.DataFrame({"T": pd.Series(["a", None, "c", "d"], dtype="string"),
                        "N": [1.5, 2.0, None, 4.0], "I": [1, 2, 3, 4],
                        "D": pd.to_datetime(["2020-01-01", None, "2020-01-03", "2020-01-04"])},
                       index=[10, 11, 12, 13])
    keep = pd.Series([True, False, True, True], index=raw.index).to_numpy()
    pd.testing.assert_frame_equal(v.take_rows(raw, keep), raw.loc[keep])
    pd.testing.assert_frame_equal(v.take_rows(raw, keep, ["I", "T"]), raw.loc[keep, ["I", "T"]])
    assert v.take_rows(raw, keep, []).index.tolist() == [10, 12, 13]


def test_copy_reads_a_derived_variable():
    f = frame(A=["x"])
    f.out["RFXSTDTC"] = pd.Series(["2014-01-01"], dtype="string")
    assert run({"copy": "RFXSTDTC"}, f).tolist() == ["2014-01-01"]


@pytest.mark.parametrize(("cond", "expected"), [
    ({"column": "A", "in": ["a", "B"]}, [True, True, False, False]),
    ({"column": "A", "matches": "[ab]"}, [True, True, False, False]),
    ({"column": "A", "matches": "[AB]"}, [True, True, False, False]),    # case ignored
    ({"column": "A", "matches": "a|"}, [True, False, False, False]),      # the whole value
    ({"column": "A", "equals": "C"}, [False, False, True, False]),
    ({"column": "A", "not_equals": "a"}, [False, True, True, False]),
    ({"all": [{"column": "A", "blank": False}, {"column": "B", "equals": "1"}]},
     [True, False, False, False]),
    ({"any": [{"column": "A", "equals": "c"}, {"column": "B", "equals": "2"}]},
     [False, True, True, False]),
    ({"not": {"column": "A", "blank": True}}, [True, True, True, False]),
])
def test_conditions(cond, expected):
    f = frame(A=["a", "b", "c", None], B=["1", "2", "3", "1"])
    got = v.evaluate_condition(ctx(), f, Condition.model_validate(cond))
    assert got.tolist() == expected


def test_numeric_condition_compares_numbers():
    f = frame(A=["x", "y"])
    f.out["EXDOSE"] = pd.Series([0.0, 250.0])
    got = v.evaluate_condition(ctx(), f, Condition.model_validate({"var": "EXDOSE",
                                                                   "equals": "0"}))
    assert got.tolist() == [True, False]


def test_numeric_condition_never_spells_the_numbers_as_text(monkeypatch):
    """Spelling a long float column as text costs ~2 us a row; an equals on numbers needs none,
    nor does a blank test (a number's text is blank only when the number is missing)."""
    f = frame(A=["x", "y", "z"])
    f.out["EXDOSE"] = pd.Series([0.0, 250.0, np.nan])
    spelled = []
    text = v._text
    monkeypatch.setattr(v, "_text", lambda s: spelled.append(s.dtype) or text(s))
    got = v.evaluate_condition(ctx(), f, Condition.model_validate({"var": "EXDOSE",
                                                                   "equals": "250"}))
    assert got.tolist() == [False, True, False] and spelled == []
    got = v.evaluate_condition(ctx(), f, Condition.model_validate({"var": "EXDOSE",
                                                                   "blank": True}))
    assert got.tolist() == [False, False, True]
    got = v.evaluate_condition(ctx(), f, Condition.model_validate({"var": "EXDOSE",
                                                                   "blank": False}))
    assert got.tolist() == [True, True, False] and spelled == []
    f.out["N"] = pd.Series([0, 7, 3])
    got = v.evaluate_condition(ctx(), f, Condition.model_validate({"var": "N", "blank": True}))
    assert got.tolist() == [False, False, False] and spelled == []


def test_number_unscheduled_across_domains():
    sched = pd.DataFrame({"USUBJID": ["S1", "S1", "S2"],
                          "DATE": pd.to_datetime(["2020-01-01", "2020-03-01", "2020-01-01"]),
                          "VISITNUM": [0.0, 8.0, 0.0]})
    uns = pd.DataFrame({"USUBJID": ["S1", "S1", "S1", "S2"],
                        "DATE": pd.to_datetime(["2020-03-10", "2020-03-20", "2020-03-10",
                                                "2019-12-01"])})
    got = v.number_unscheduled(sched, uns).set_index(["USUBJID", "DATE"])["VISITNUM"]
    assert got[("S1", pd.Timestamp("2020-03-10"))] == 8.01
    assert got[("S1", pd.Timestamp("2020-03-20"))] == 8.02
    assert got[("S2", pd.Timestamp("2019-12-01"))] == 0.01   # before any scheduled visit


def test_number_unscheduled_with_subjects_as_numbers():
    # the engine's calendar gives subjects as float ids: the scheduled visits are grouped by
    # numpy then (the greatest VISITNUM of a subject's date; rows missing a key are dropped)
    nat = pd.NaT
    sched = pd.DataFrame({"USUBJID": [1.0, 1.0, 1.0, 2.0, 2.0, np.nan],
                          "DATE": pd.to_datetime(["2020-03-01", "2020-03-01", "2020-01-01",
                                                  "2020-01-01", nat, "2020-02-01"]),
                          "VISITNUM": [7.0, 8.0, 0.0, 0.0, 9.0, 9.0]})
    uns = pd.DataFrame({"USUBJID": [1.0, 1.0, 2.0, 2.0],
                        "DATE": pd.to_datetime(["2020-03-10", "2020-02-10", "2020-02-10",
                                                "2020-02-20"])})
    got = v.number_unscheduled(sched, uns).set_index(["USUBJID", "DATE"])["VISITNUM"]
    assert got[(1.0, pd.Timestamp("2020-03-10"))] == 8.01     # after 8.0, not 7.0
    assert got[(1.0, pd.Timestamp("2020-02-10"))] == 0.01
    # subject 2's undated visit 9 and the subjectless one are not in its calendar
    assert got[(2.0, pd.Timestamp("2020-02-10"))] == 0.01
    assert got[(2.0, pd.Timestamp("2020-02-20"))] == 0.02


@given(st.lists(st.sampled_from(["2014-03-01", "2014-02-01", None, "2014-01-15"]),
                min_size=1, max_size=12))
def test_seq_is_one_to_n_per_subject(dates):
    f = frame(A=["x"] * len(dates))
    f.out["USUBJID"] = pd.Series(["S1", "S2"] * (len(dates) // 2) + ["S1"] * (len(dates) % 2),
                                 dtype="string")
    f.out["AESTDTC"] = pd.Series(dates, dtype="string")
    f.out["_SRCFILE"] = "f.csv"
    f.out["_SRCROW"] = range(1, len(dates) + 1)
    seq = run({"seq": {"order": ["AESTDTC"]}}, f)
    for _, group in seq.groupby(f.out["USUBJID"]):
        assert sorted(group.tolist()) == list(range(1, len(group) + 1))
        # ordered by date, missing dates last
        by_seq = f.out.loc[group.sort_values().index, "AESTDTC"]
        known = by_seq.dropna().tolist()
        assert known == sorted(known)
        assert by_seq.isna().tolist() == sorted(by_seq.isna().tolist())


@given(st.lists(st.sampled_from(["b", "B", "a", "ab", "a ", "\u00e9", "Z9", "", None]),
                min_size=1, max_size=14))
def test_seq_sort_key_orders_text_as_pandas_sorts_it(values):
    s = pd.Series(values, dtype="string")
    key = v._sort_key(s)
    by_text = s.sort_values(kind="mergesort", na_position="last").index.tolist()
    by_key = pd.Series(key).sort_values(kind="mergesort").index.tolist()
    assert by_key == by_text
    # equal text, equal key (grouping); missing after every text
    assert len(set(key.tolist())) == s.nunique(dropna=False)
    if s.isna().any():
        assert key[s.isna().to_numpy()].min() > key[s.notna().to_numpy()].max(initial=-1)


def test_seq_sort_key_hand_checked():
    key = v._sort_key(pd.Series(["b", None, "B", "a", "b"], dtype="string"))
    # Python string order: "B" < "a" < "b"; missing last
    assert key.tolist() == [2, 3, 0, 1, 2]


def test_subject_lookup_gives_what_map_gives():
    by = pd.Series(pd.to_datetime(["2020-01-02", None, "2021-05-06"]),
                   index=pd.Index(["S1", "S2", "S3"], dtype="string"))
    usubjid = pd.Series(["S3", "S1", None, "S9", "S2", "S1"], dtype="string",
                        index=[5, 6, 7, 8, 9, 10], name="USUBJID")
    got = v._lookup_by_subject(usubjid, by)
    assert got.index.tolist() == [5, 6, 7, 8, 9, 10] and got.name == "USUBJID"
    assert got.dtype == "datetime64[ns]"
    # S9 is no subject, the missing identifier and S2's missing date stay missing
    assert got.tolist()[:2] == [pd.Timestamp("2021-05-06"), pd.Timestamp("2020-01-02")]
    assert got.isna().tolist() == [False, False, True, True, True, False]
    pd.testing.assert_series_equal(got, usubjid.map(by))


def test_cross_domain_findings_fold_when_systematic():
    from cdiscmap.checks.crossdomain import PER_RECORD_LIMIT, check_sdtm_cross

    n = PER_RECORD_LIMIT + 50
    dm = pd.DataFrame({"USUBJID": ["S-1"], "RFSTDTC": ["2020-01-01"]})
    # every AE --DY is off by one (a day-0 convention): one folded finding per distinct value
    ae = pd.DataFrame({"USUBJID": ["S-1"] * n, "AESEQ": [float(i) for i in range(1, n + 1)],
                       "AESTDTC": ["2020-01-05"] * n, "AESTDY": [4.0] * n})
    found = [f for f in check_sdtm_cross({"DM": dm, "AE": ae}) if f.rule == "CMAP-XD0006"]
    assert [(f.value, f.count) for f in found] == [("4.0", n)]      # by hand: day 5, not 4
    few = ae.head(3)
    found = [f for f in check_sdtm_cross({"DM": dm, "AE": few}) if f.rule == "CMAP-XD0006"]
    assert len(found) == 3 and all(f.count == 1 for f in found)


def test_last_by_takes_each_groups_latest_eligible_record():
    f = frame(A=["x"] * 7)
    f.out["TEST"] = pd.Series(["B", "A", "B", None, None, "A", "B"], dtype="string")
    f.out["N"] = [1.0, 1.0, float("nan"), float("nan"), 2.0, 1.0, 1.0]
    date = pd.Series(pd.to_datetime(["2020-01-02", "2020-01-05", "2020-01-02", "2020-01-01",
                                     "2020-01-03", "2020-01-05", None]))
    keep = pd.Series([True, True, True, True, True, True, False]).to_numpy()
    # TEST groups: A → rows 1, 5 (same date: the later row, 5); B → rows 0, 2 (same date: 2;
    # row 6 has no date); missing TEST → rows 3, 4 (4 is later)
    assert sorted(v._last_by(f, ["TEST"], date, keep).tolist()) == [2, 4, 5]
    # by two keys, one numeric with NaN as a group of its own
    assert sorted(v._last_by(f, ["TEST", "N"], date, keep).tolist()) == [0, 2, 3, 4, 5]
    assert v._last_by(f, ["A"], date.astype(object), keep) is None   # dates not datetime64


def test_stable_order_is_lexsort_of_the_keys():
    first = np.array([2, 1, 2, 1, 0, 2])
    second = np.array([5, -3, 5, 7, 7, 1])
    flags = np.array([True, False, False, True, True, False])
    position = np.arange(6)
    # by first, then second, then flags; ties (rows 0 and 2 differ only by flag) by position
    assert v._stable_order([first, second, flags, position], 6).tolist() == [4, 1, 3, 5, 2, 0]
    assert v._stable_order([first, second], 6).tolist() == [4, 1, 3, 5, 0, 2]
    # keys whose combined range does not fit one int64 are sorted by np.lexsort itself
    huge = np.array([0, 2 ** 40, 1, 2 ** 40, 5, 0])
    assert v._stable_order([huge, huge, second], 6).tolist() == \
        np.lexsort([second, huge, huge]).tolist()
    assert v._stable_order([first], 0).tolist() == []


def test_from_domain_rows_sorted_as_pandas_sorts_them() -> None:
    """from_domain's stable sort by ranks orders rows as ``sort_values(kind="mergesort")``:
    subjects in text order, null keys last, ties in record order; other key kinds fall back."""
    from cdiscmap.sdtm.vectorize import codes_cache

    frame = pd.DataFrame({
        "USUBJID": pd.array(["S-2", "S-10", "S-2", None, "S-10", "S-2"], dtype="string"),
        "EXSTDTC": pd.array(["2020-01-05", "2020-01-01", None, "2020-01-02", "2020-01-01",
                             "2020-01-03"], dtype="string"),
        "EXSEQ": [3.0, 2.0, np.nan, 1.0, 1.0, 3.0]}, index=[10, 11, 12, 13, 14, 15])
    with codes_cache():
        by_text = v._sorted_rows(frame, ["USUBJID", "EXSTDTC"])
        by_number = v._sorted_rows(frame, ["USUBJID", "EXSEQ"])
    # 'S-10' < 'S-2' as text; the null subject and the null date sort last; 11 before 14
    assert by_text.index.tolist() == [11, 14, 15, 10, 12, 13]
    assert by_number.index.tolist() == [14, 11, 10, 15, 12, 13]
    for by in (["USUBJID", "EXSTDTC"], ["USUBJID", "EXSEQ"]):
        assert v._sorted_rows(frame, by).equals(frame.sort_values(by, kind="mergesort"))
    # an object key is left to pandas' own sort
    objects = frame.assign(K=pd.Series([2, 9, 1, 3, 7, 0], index=frame.index, dtype=object))
    assert v._sorted_rows(objects, ["USUBJID", "K"]).index.tolist() == [14, 11, 15, 12, 10, 13]
