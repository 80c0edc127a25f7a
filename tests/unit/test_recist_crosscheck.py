"""Cross-check of collected RS against computed responses, and derived RS records."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdiscmap.errors import InputDataError
from cdiscmap.findings import Severity
from cdiscmap.recist import COMPARISON_COLUMNS, crosscheck, timepoint_responses, to_rs_records


def study() -> tuple[pd.DataFrame, pd.DataFrame]:
    """S01: T01 30 + T02 20 = 50 at baseline, NT01 present; visit 2: 25 + 15 = 40 (-20 %, SD);
    visit 3: 20 + 10 = 30 (-40 %, PR); visit 4: T02 not done (NE).
    S02: non-target only, present → NON-CR/NON-PD at visit 2."""
    tu = pd.DataFrame({
        "USUBJID": ["S01", "S01", "S01", "S02"], "TULNKID": ["T01", "T02", "NT01", "NT01"],
        "TUSTRESC": ["TARGET", "TARGET", "NON-TARGET", "NON-TARGET"],
        "VISITNUM": [1.0, 1.0, 1.0, 1.0]}).astype(
        {"USUBJID": "string", "TULNKID": "string", "TUSTRESC": "string"})
    rows = [
        ("S01", "T01", "LDIAM", 30, None, None, 1), ("S01", "T02", "LDIAM", 20, None, None, 1),
        ("S01", "NT01", "TUMSTATE", None, "PRESENT", None, 1),
        ("S01", "T01", "LDIAM", 25, None, None, 2), ("S01", "T02", "LDIAM", 15, None, None, 2),
        ("S01", "NT01", "TUMSTATE", None, "PRESENT", None, 2),
        ("S01", "T01", "LDIAM", 20, None, None, 3), ("S01", "T02", "LDIAM", 10, None, None, 3),
        ("S01", "NT01", "TUMSTATE", None, "PRESENT", None, 3),
        ("S01", "T01", "LDIAM", 20, None, None, 4), ("S01", "T02", "LDIAM", None, None,
                                                     "NOT DONE", 4),
        ("S01", "NT01", "TUMSTATE", None, "PRESENT", None, 4),
        ("S02", "NT01", "TUMSTATE", None, "PRESENT", None, 1),
        ("S02", "NT01", "TUMSTATE", None, "PRESENT", None, 2),
    ]
    tr = pd.DataFrame(rows, columns=["USUBJID", "TRLNKID", "TRTESTCD", "TRSTRESN", "TRSTRESC",
                                     "TRSTAT", "VISITNUM"])
    tr["TRSTRESN"] = tr["TRSTRESN"].astype(np.float64)
    tr["VISIT"] = "WEEK " + ((tr["VISITNUM"] - 1) * 6).astype(int).astype(str)
    tr["TRDTC"] = "2024-0" + tr["VISITNUM"].astype(str) + "-10"
    text = ["USUBJID", "TRLNKID", "TRTESTCD", "TRSTRESC", "TRSTAT", "VISIT", "TRDTC"]
    return tu, tr.astype({c: "string" for c in text})


def rs_frame(rows: list[tuple], **extra: list) -> pd.DataFrame:
    """(USUBJID, VISITNUM, RSTESTCD, RSSTRESC) rows of the investigator, from rs.csv rows 1.."""
    frame = pd.DataFrame(rows, columns=["USUBJID", "VISITNUM", "RSTESTCD", "RSSTRESC"])
    frame["VISITNUM"] = frame["VISITNUM"].astype(np.float64)
    frame["RSCAT"] = "RECIST 1.1"
    frame["RSEVAL"] = "INVESTIGATOR"
    frame["_SRCFILE"] = "rs.csv"
    frame["_SRCROW"] = np.arange(1, len(frame) + 1)
    for name, values in extra.items():
        frame[name] = values
    return frame.astype({c: "string" for c in ("USUBJID", "RSTESTCD", "RSSTRESC", "RSCAT",
                                                 "RSEVAL", "_SRCFILE")})


@pytest.fixture(scope="module")
def computed() -> pd.DataFrame:
    out = timepoint_responses(*study())
    # the hand-worked responses the cross-check relies on
    assert list(out["OVRLRESP"].fillna("-")) == ["-", "SD", "PR", "NE", "-", "NON-CR/NON-PD"]
    return out


AGREEING = [("S01", 2, "OVRLRESP", "SD"), ("S01", 3, "OVRLRESP", "PR"),
            ("S01", 4, "OVRLRESP", "NE"), ("S02", 2, "OVRLRESP", "NON-CR/NON-PD")]


def test_agreement_gives_no_finding(computed: pd.DataFrame) -> None:
    table, findings = crosscheck(computed, rs_frame(AGREEING))
    assert findings == []
    assert list(table.columns) == COMPARISON_COLUMNS
    assert list(table["STATUS"]) == ["AGREE"] * 4
    assert list(table["SOURCE"]) == ["rs.csv row 1", "rs.csv row 2", "rs.csv row 3",
                                     "rs.csv row 4"]


def test_a_disagreement_is_one_warning_with_the_numbers(computed: pd.DataFrame) -> None:
    rows = list(AGREEING)
    rows[0] = ("S01", 2, "OVRLRESP", "PR")            # investigator PR, computed SD
    table, findings = crosscheck(computed, rs_frame(rows))
    assert len(findings) == 1
    f = findings[0]
    assert (f.rule, f.severity, f.dataset, f.variable, f.usubjid) == (
        "CMAP-RC0001", Severity.WARNING, "RS", "RSSTRESC", "S01")
    assert f.value == "investigator=PR computed=SD"
    assert f.source == "rs.csv row 1"
    # visit 2: sum 40 vs baseline 50 = -20.0 %, nadir 50 → -20.0 %
    assert f.message == (
        "OVRLRESP at WEEK 6 (VISITNUM 2): investigator PR, computed from TU/TR SD; "
        "sum 40mm, baseline 50mm (-20.0%), nadir 50mm (-20.0%); "
        "reason SD:sum-20.0% from baseline/-20.0% from nadir")
    assert list(table["STATUS"]) == ["DISAGREE", "AGREE", "AGREE", "AGREE"]


def test_components_are_compared_where_rs_has_them(computed: pd.DataFrame) -> None:
    rows = AGREEING + [
        ("S01", 3, "TRGRESP", "PR"),                       # agrees
        ("S01", 3, "NTRGRESP", "CR"),                      # computed NON-CR/NON-PD
        ("S01", 4, "TRGRESP", "NOT ALL EVALUATED"),        # same as computed NE
        ("S02", 2, "TRGRESP", "NA"),                       # no targets on either side
    ]
    table, findings = crosscheck(computed, rs_frame(rows))
    assert [(f.rule, f.value) for f in findings] == [
        ("CMAP-RC0001", "investigator=CR computed=NON-CR/NON-PD")]
    assert findings[0].message.startswith("NTRGRESP at WEEK 12 (VISITNUM 3): investigator CR")
    s01_v3 = table[(table["USUBJID"] == "S01") & (table["VISITNUM"] == 3.0)]
    assert list(s01_v3["RSTESTCD"]) == ["OVRLRESP", "TRGRESP", "NTRGRESP"]
    assert list(s01_v3["STATUS"]) == ["AGREE", "AGREE", "DISAGREE"]


def test_visits_on_one_side_only_are_notices(computed: pd.DataFrame) -> None:
    rows = [r for r in AGREEING if r[1] != 4] + [("S01", 5, "OVRLRESP", "PD")]
    table, findings = crosscheck(computed, rs_frame(rows))
    assert [(f.rule, f.severity, f.value) for f in findings] == [
        ("CMAP-RC0002", Severity.NOTICE, "investigator=(none) computed=NE"),
        ("CMAP-RC0002", Severity.NOTICE, "investigator=PD computed=(none)")]
    assert findings[0].message == ("OVRLRESP at WEEK 18 (VISITNUM 4): computed NE "
                                   "(NE:target T02 not evaluated) has no investigator RS record")
    assert findings[1].message == ("OVRLRESP at VISITNUM 5: investigator PD has no computed "
                                   "response (no TR assessment)")
    assert findings[1].source == "rs.csv row 4"
    assert list(table["STATUS"]) == ["AGREE", "AGREE", "COMPUTED ONLY", "RS ONLY", "AGREE"]


def test_disagreements_only_keeps_the_findings_and_the_rows_that_are_not_agree(
        computed: pd.DataFrame) -> None:
    """The run wants the findings alone: the table then holds only the rows that do not
    agree, in the whole table's order, and the findings are the same, in the same order."""
    rows = [r for r in AGREEING if r[1] != 4] + [
        ("S01", 5, "OVRLRESP", "PD"), ("S01", 3, "NTRGRESP", "CR"), ("S01", 2, "OVRLRESP", "PR")]
    whole, findings = crosscheck(computed, rs_frame(rows))
    table, only = crosscheck(computed, rs_frame(rows), disagreements_only=True)
    assert only == findings
    assert [(f.rule, f.value) for f in only] == [
        ("CMAP-RC0001", "investigator=PR computed=SD"),
        ("CMAP-RC0001", "investigator=CR computed=NON-CR/NON-PD"),
        ("CMAP-RC0002", "investigator=(none) computed=NE"),
        ("CMAP-RC0002", "investigator=PD computed=(none)")]
    assert list(table["STATUS"]) == ["DISAGREE", "DISAGREE", "COMPUTED ONLY", "RS ONLY"]
    assert table.equals(whole[whole["STATUS"] != "AGREE"].reset_index(drop=True))


def test_an_rs_record_at_baseline_is_rs_only_with_the_reason(computed: pd.DataFrame) -> None:
    _, findings = crosscheck(computed, rs_frame(AGREEING + [("S01", 1, "OVRLRESP", "SD")]))
    assert [f.message for f in findings] == [
        "OVRLRESP at WEEK 0 (VISITNUM 1): investigator SD has no computed response (BASELINE)"]


def test_other_evaluators_and_derived_records_are_not_compared(computed: pd.DataFrame) -> None:
    rows = AGREEING + [("S01", 2, "OVRLRESP", "PD"), ("S01", 3, "OVRLRESP", "CR")]
    rs = rs_frame(rows)
    rs.loc[4, "RSEVAL"] = "INDEPENDENT ASSESSOR"
    rs.loc[5, "RSEVAL"] = pd.NA
    rs["RSDRVFL"] = pd.array([None] * 5 + ["Y"], dtype="string")
    table, findings = crosscheck(computed, rs)
    assert findings == [] and len(table) == 4
    # …but the other evaluator's records are compared when it is chosen
    _, findings = crosscheck(computed, rs, evaluator="independent assessor")
    assert [(f.rule, f.value) for f in findings] == [
        ("CMAP-RC0001", "independent assessor=PD computed=SD"),
        ("CMAP-RC0002", "independent assessor=(none) computed=PR"),
        ("CMAP-RC0002", "independent assessor=(none) computed=NE"),
        ("CMAP-RC0002", "independent assessor=(none) computed=NON-CR/NON-PD")]


def test_findings_without_lineage_have_an_empty_source(computed: pd.DataFrame) -> None:
    rs = rs_frame([("S01", 2, "OVRLRESP", "PR")]).drop(columns=["_SRCFILE", "_SRCROW"])
    _, findings = crosscheck(computed, rs)
    assert findings[0].source == ""


def test_missing_rs_columns_stop_with_a_readable_error(computed: pd.DataFrame) -> None:
    with pytest.raises(InputDataError, match="RS lacks column.*RSSTRESC"):
        crosscheck(computed, rs_frame(AGREEING).drop(columns="RSSTRESC"))
    with pytest.raises(InputDataError, match="computed responses lack column"):
        crosscheck(computed.drop(columns="REASON"), rs_frame(AGREEING))


# --- derived RS records ---------------------------------------------------------------------------

def test_to_rs_records_writes_each_computed_response(computed: pd.DataFrame) -> None:
    rs = to_rs_records(computed, "STUDY1")
    assert list(rs.columns) == ["STUDYID", "DOMAIN", "USUBJID", "RSTESTCD", "RSTEST", "RSCAT",
                                "RSORRES", "RSSTRESC", "RSDRVFL", "RSEVAL", "VISITNUM", "VISIT",
                                "RSDTC"]
    # S01: 3 follow-ups × 4 tests; S02 (no targets): 1 follow-up × 3 tests (no TRGRESP)
    assert len(rs) == 15
    s01_v2 = rs[(rs["USUBJID"] == "S01") & (rs["VISITNUM"] == 2.0)]
    assert list(s01_v2["RSTESTCD"]) == ["TRGRESP", "NTRGRESP", "NEWLPROG", "OVRLRESP"]
    assert list(s01_v2["RSTEST"]) == ["Target Response", "Non-target Response",
                                      "New Lesion Progression", "Overall Response"]
    assert list(s01_v2["RSSTRESC"]) == ["SD", "NON-CR/NON-PD", "N", "SD"]
    assert list(s01_v2["RSORRES"]) == list(s01_v2["RSSTRESC"])
    assert set(rs["RSCAT"]) == {"RECIST 1.1"} and set(rs["RSDRVFL"]) == {"Y"}
    assert rs["RSEVAL"].isna().all() and set(rs["DOMAIN"]) == {"RS"}
    assert list(s01_v2["RSDTC"]) == ["2024-02-10"] * 4 and list(s01_v2["VISIT"]) == ["WEEK 6"] * 4
    s02 = rs[rs["USUBJID"] == "S02"]
    assert list(s02["RSTESTCD"]) == ["NTRGRESP", "NEWLPROG", "OVRLRESP"]
    assert rs["STUDYID"].dtype == pd.StringDtype() and rs["VISITNUM"].dtype == np.float64
    assert "RSSEQ" not in rs.columns


def test_derived_records_round_trip_through_the_crosscheck(computed: pd.DataFrame) -> None:
    derived = to_rs_records(computed, "STUDY1").assign(
        RSEVAL=pd.array(["INVESTIGATOR"] * 15, dtype="string"))
    derived = derived.drop(columns="RSDRVFL")
    table, findings = crosscheck(computed, derived)
    assert findings == []
    # OVRLRESP 4 visits, TRGRESP 3 (S01 only), NTRGRESP 4, NEWLPROG 4 (compared since CMAP-RC0004)
    assert set(table["STATUS"]) == {"AGREE"} and len(table) == 4 + 3 + 4 + 4


def test_a_visit_computed_twice_pairs_each_rs_record_with_both(computed: pd.DataFrame) -> None:
    # S01 visit 3 computed PR (-40 %), given twice: the RS PR record meets both copies
    twice = pd.concat([computed, computed[computed["VISITNUM"] == 3.0]], ignore_index=True)
    table, _ = crosscheck(twice, rs_frame([("S01", 3, "OVRLRESP", "PR"),
                                           ("S01", 3, "TRGRESP", "SD")]))
    at3 = table[(table["USUBJID"] == "S01") & (table["VISITNUM"] == 3.0)]
    assert list(zip(at3["RSTESTCD"], at3["COMPUTED"], at3["STATUS"], strict=True)) == [
        ("OVRLRESP", "PR", "AGREE"), ("OVRLRESP", "PR", "AGREE"),
        ("TRGRESP", "PR", "DISAGREE"), ("TRGRESP", "PR", "DISAGREE")]
    # the other visits appear once, on the computed side only
    assert list(table.loc[table["USUBJID"] == "S01", "VISITNUM"]) == [2.0, 3.0, 3.0, 3.0, 3.0,
                                                                       4.0]


@pytest.mark.parametrize("repeat", [1, 400])       # 7 rows by value; 2,800 by addresses
def test_factorize_text_is_factorize_objects_hashing_each_object_once(repeat: int) -> None:
    from cdiscmap.checks.read import factorize_objects
    from cdiscmap.recist.crosscheck import factorize_text

    b, a, nul = "BB", "A", "a\x00b"
    other_b = "".join(["B", "B"])                  # equal text, another object
    assert other_b is not b
    rows = np.array([b, a, None, other_b, nul, a, pd.NA] * repeat, dtype=object)
    codes, uniques = factorize_text(rows)
    assert codes.tolist() == [0, 1, -1, 0, 2, 1, -1] * repeat      # by hand: first appearance
    assert list(uniques) == ["BB", "A", "a\x00b"]                # whole values: no cut at NUL
    expected_codes, expected = factorize_objects(rows)
    assert codes.tolist() == expected_codes.tolist() and list(uniques) == list(expected)
    # a new object on every row (the by-value path at once): the same codes
    fresh = np.array(["".join(["X", str(i % 3)]) for i in range(3000)] + [None], dtype=object)
    codes, uniques = factorize_text(fresh)
    assert codes.tolist() == [i % 3 for i in range(3000)] + [-1]
    assert list(uniques) == ["X0", "X1", "X2"]


def test_select_text_shares_one_object_per_choice() -> None:
    from cdiscmap.recist.target import select_text

    first = np.array([True, False, False, False])
    second = np.array([True, True, False, False])
    out = select_text([first, second], [None, "PD"], default="SD")
    assert out.dtype == object and out.tolist() == [None, "PD", "SD", "SD"]
    assert out[2] is out[3]
    assert out.tolist() == np.select([first, second], [None, "PD"], default="SD").tolist()


def test_visit_keys_match_as_a_merge_on_the_three_keys_nulls_included() -> None:
    from cdiscmap.recist.crosscheck import _visit_keys

    left = pd.DataFrame({
        "USUBJID": pd.array(["S1", "S2", None, "S1"], dtype="string"),
        "EVALUATOR": pd.array(["INV"] * 4, dtype="string"),
        "VISITNUM": [1.0, 1.0, 2.0, np.nan]})
    right = pd.DataFrame({
        "USUBJID": np.array(["S2", "S1", None, "S1"], dtype=object),
        "EVALUATOR": np.array(["INV", "INV", "INV", "IRC"], dtype=object),
        "VISITNUM": [1.0, 1.0, 2.0, np.nan]})
    left_keys, right_keys = _visit_keys(left, right)
    # numbered by first appearance; null USUBJID matches null, (S1, IRC) is new
    assert left_keys.tolist() == [0, 1, 2, 3]
    assert right_keys.tolist() == [1, 0, 2, 4]


def test_prepared_rs_pickles_to_the_same_records_nulls_and_all() -> None:
    # a forked child sends the prepared RS back pickled, its object columns as codes
    import pickle

    from cdiscmap.recist.crosscheck import RsRecords

    frame = pd.DataFrame({
        "USUBJID": np.array(["S01", None, "S02", "S01"], dtype=object),
        "VISITNUM": [1.0, np.nan, 2.0, 3.0],
        "RS_VISIT": np.array(["WEEK 6", pd.NA, "WEEK 6", pd.NA], dtype=object),
        "RSSTRESC": np.array(["PR", "NE", None, "PR"], dtype=object)})
    records = RsRecords(frame, np.array([0, 0, 1, 0]), np.array(["INVESTIGATOR", "IRC"],
                                                                dtype=object))
    back = pickle.loads(pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))
    assert back.frame.columns.tolist() == frame.columns.tolist()
    assert back.frame.dtypes.tolist() == frame.dtypes.tolist()
    assert back.frame["USUBJID"].tolist() == ["S01", None, "S02", "S01"]
    assert back.frame["RS_VISIT"].tolist() == ["WEEK 6", pd.NA, "WEEK 6", pd.NA]
    assert back.frame["RSSTRESC"].tolist() == ["PR", "NE", None, "PR"]
    assert back.frame["RSSTRESC"].iloc[2] is None and back.frame["RS_VISIT"].iloc[1] is pd.NA
    assert back.frame["VISITNUM"].tolist()[::2] == [1.0, 2.0]
    assert np.isnan(back.frame["VISITNUM"].iloc[1])
    assert back.reader.tolist() == [0, 0, 1, 0] and back.labels.tolist() == ["INVESTIGATOR",
                                                                               "IRC"]


def test_mapped_is_series_map_of_a_dict() -> None:
    from cdiscmap.recist.crosscheck import _mapped

    values = pd.Series(["OVRLRESP", None, "SUMDIAM", "XX", "OVRLRESP"] * 300, dtype=object)
    mapping = {"TRGRESP": 1, "OVRLRESP": 0, "SUMDIAM": 4}
    out = _mapped(values, mapping)
    assert out[:5].tolist()[::2] == [0.0, 4.0, 0.0] and np.isnan(out[[1, 3]]).all()
    np.testing.assert_array_equal(out, values.map(mapping).to_numpy(dtype=np.float64))


def test_nulls_is_isna_of_text_columns() -> None:
    from cdiscmap.recist.crosscheck import _nulls

    objects = np.array(["PR", None, pd.NA, np.nan, "", "SD"] * 300, dtype=object)
    assert _nulls(objects)[:6].tolist() == [False, True, True, True, False, False]
    np.testing.assert_array_equal(_nulls(objects), pd.isna(objects))
    text = pd.Series(pd.array(["PR", None, "SD"] * 500, dtype="string"))
    np.testing.assert_array_equal(_nulls(text), text.isna().to_numpy())


def test_shared_text_codes_normalise_each_distinct_text_once_across_columns() -> None:
    from cdiscmap.recist.lesions import shared_text_codes

    tu = pd.Series(pd.array(["b ", "A", None, "b "], dtype="string"))
    tr = pd.Series(np.array(["A", "c", "b", "  "], dtype=object))
    (tu_codes, tr_codes), categories = shared_text_codes([tu, tr], upper=True)
    assert categories.tolist() == ["A", "B", "C"]                 # stripped, upper, sorted
    assert tu_codes.tolist() == [1, 0, -1, 1] and tr_codes.tolist() == [0, 2, 1, -1]
    (codes,), categories = shared_text_codes([np.array([1, "x", 1], dtype=object)], upper=True)
    assert categories.tolist() == ["1", "X"] and codes.tolist() == [0, 1, 0]
