"""Overall timepoint response (RECIST 1.1 §4.4.1 tables 1 and 2) and the shape of the result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from cdiscmap.errors import InputDataError, SpecError
from cdiscmap.recist import (
    OUTPUT_COLUMNS,
    RecistSettings,
    overall_response,
    settings_from_mapping,
    timepoint_responses,
)

TU_TEXT = ("USUBJID", "TULNKID", "TUSTRESC", "TUEVAL")
TR_TEXT = ("USUBJID", "TRLNKID", "TRTESTCD", "TRSTRESC", "TRSTAT", "TREVAL", "VISIT", "TRDTC")


def tu_frame(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """(USUBJID, TULNKID, TUSTRESC, VISITNUM) rows."""
    frame = pd.DataFrame(rows, columns=["USUBJID", "TULNKID", "TUSTRESC", "VISITNUM"])
    frame["TUEVAL"] = "INVESTIGATOR"
    return frame.astype({c: "string" for c in TU_TEXT})


def tr_frame(rows: list[tuple]) -> pd.DataFrame:
    """(USUBJID, TRLNKID, TRTESTCD, TRSTRESN, TRSTRESC, TRSTAT, VISITNUM, TRDTC[, TREVAL]) rows."""
    records = []
    for row in rows:
        usubjid, lnk, test, num, text, stat, visit, dtc = row[:8]
        records.append({"USUBJID": usubjid, "TRLNKID": lnk, "TRTESTCD": test,
                        "TRSTRESN": np.nan if num is None else float(num), "TRSTRESC": text,
                        "TRSTAT": stat, "TREVAL": row[8] if len(row) > 8 else "INVESTIGATOR",
                        "VISITNUM": float(visit), "VISIT": f"VISIT {visit:g}", "TRDTC": dtc})
    columns = ["USUBJID", "TRLNKID", "TRTESTCD", "TRSTRESN", "TRSTRESC", "TRSTAT", "TREVAL",
               "VISITNUM", "VISIT", "TRDTC"]
    return pd.DataFrame(records, columns=columns).astype({c: "string" for c in TR_TEXT})


# Lesion-level results at visit 2 that give each component response. Baseline: T01 30 mm,
# NT01 present. T01: 0 → CR; 15 (-50 %) → PR; 27 (-10 %) → SD; 40 (+33 %/+10 mm) → PD;
# not done → NE. NT01: ABSENT → CR, PRESENT → NON-CR/NON-PD, not done → NE, UNEQUIVOCAL → PD.
TARGET = {"CR": (0.0, None), "PR": (15.0, None), "SD": (27.0, None), "PD": (40.0, None),
          "NE": (None, "NOT DONE")}
NONTARGET = {"CR": ("ABSENT", None), "NON-CR/NON-PD": ("PRESENT", None),
             "NE": (None, "NOT DONE"), "PD": ("UNEQUIVOCAL", None)}


def scenario(trg: str | None, ntrg: str | None, new: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One subject whose visit 2 has the given component responses (None = no such lesions)."""
    tu_rows, tr_rows = [], []
    if trg is not None:
        tu_rows.append(("S01", "T01", "TARGET", 1.0))
        num, stat = TARGET[trg]
        tr_rows += [("S01", "T01", "LDIAM", 30.0, None, None, 1, "2024-01-10"),
                    ("S01", "T01", "LDIAM", num, None, stat, 2, "2024-03-10")]
    if ntrg is not None:
        tu_rows.append(("S01", "NT01", "NON-TARGET", 1.0))
        text, stat = NONTARGET[ntrg]
        tr_rows += [("S01", "NT01", "TUMSTATE", None, "PRESENT", None, 1, "2024-01-10"),
                    ("S01", "NT01", "TUMSTATE", None, text, stat, 2, "2024-03-10")]
    if new:
        tu_rows.append(("S01", "NEW01", "NEW", 2.0))
        tr_rows.append(("S01", "NEW01", "TUMSTATE", None, "UNEQUIVOCAL", None, 2, "2024-03-10"))
    return tu_frame(tu_rows), tr_frame(tr_rows)


# RECIST 1.1 §4.4.1 table 1 (target ± non-target): every row, with each "Non-PD / any" expanded.
TABLE_1 = [
    # target, non-target, new lesion, overall
    ("CR", "CR", False, "CR"),
    ("CR", None, False, "CR"),                        # no non-target lesions at all
    ("CR", "NON-CR/NON-PD", False, "PR"),
    ("CR", "NE", False, "PR"),
    ("PR", "NON-CR/NON-PD", False, "PR"),
    ("PR", "CR", False, "PR"),
    ("PR", "NE", False, "PR"),
    ("SD", "NON-CR/NON-PD", False, "SD"),
    ("SD", "CR", False, "SD"),
    ("SD", "NE", False, "SD"),
    ("NE", "NON-CR/NON-PD", False, "NE"),
    ("NE", "CR", False, "NE"),
    ("NE", "NE", False, "NE"),
    ("PD", "NON-CR/NON-PD", False, "PD"),
    ("PD", "CR", True, "PD"),
    ("PD", "NE", False, "PD"),
    ("SD", "PD", False, "PD"),
    ("CR", "PD", True, "PD"),
    ("NE", "PD", False, "PD"),
    ("CR", "CR", True, "PD"),
    ("PR", "NON-CR/NON-PD", True, "PD"),
    ("NE", "NE", True, "PD"),
]

# RECIST 1.1 §4.4.1 table 2 (non-target disease only).
TABLE_2 = [
    ("CR", False, "CR"),
    ("NON-CR/NON-PD", False, "NON-CR/NON-PD"),
    ("NE", False, "NE"),
    ("PD", False, "PD"),
    ("PD", True, "PD"),
    ("CR", True, "PD"),
    ("NON-CR/NON-PD", True, "PD"),
    ("NE", True, "PD"),
]


def _visit2(out: pd.DataFrame) -> pd.Series:
    return out[out["VISITNUM"] == 2.0].iloc[0]


@pytest.mark.parametrize(("trg", "ntrg", "new", "expected"), TABLE_1)
def test_table_1_from_lesions(trg: str, ntrg: str | None, new: bool, expected: str) -> None:
    row = _visit2(timepoint_responses(*scenario(trg, ntrg, new)))
    assert row["TRGRESP"] == trg
    assert (pd.isna(row["NTRGRESP"]) if ntrg is None else row["NTRGRESP"] == ntrg)
    assert row["NEWLPROG"] == ("Y" if new else "N")
    assert row["OVRLRESP"] == expected
    assert row["REASON"].startswith(expected + ":")


@pytest.mark.parametrize(("trg", "ntrg", "new", "expected"), TABLE_1)
def test_table_1_from_components(trg: str, ntrg: str | None, new: bool, expected: str) -> None:
    got = overall_response(np.array([trg], object), np.array([ntrg], object),
                           np.array(["Y" if new else "N"], object), np.array([True]))
    assert got[0] == expected


@pytest.mark.parametrize(("ntrg", "new", "expected"), TABLE_2)
def test_table_2_from_lesions(ntrg: str, new: bool, expected: str) -> None:
    row = _visit2(timepoint_responses(*scenario(None, ntrg, new)))
    assert pd.isna(row["TRGRESP"]) and row["NTRGRESP"] == ntrg
    assert row["OVRLRESP"] == expected


@pytest.mark.parametrize(("ntrg", "new", "expected"), TABLE_2)
def test_table_2_from_components(ntrg: str, new: bool, expected: str) -> None:
    got = overall_response(np.array([None], object), np.array([ntrg], object),
                           np.array(["Y" if new else "N"], object), np.array([False]))
    assert got[0] == expected


def test_reasons_for_the_cr_based_rows() -> None:
    assert _visit2(timepoint_responses(*scenario("CR", "NON-CR/NON-PD", False)))["REASON"] == (
        "PR:targets gone/nodes<10mm;non-target present")
    assert _visit2(timepoint_responses(*scenario("CR", "NE", False)))["REASON"] == (
        "PR:targets gone/nodes<10mm;non-target NT01 not evaluated")
    assert _visit2(timepoint_responses(*scenario("CR", "CR", False)))["REASON"] == (
        "CR:targets gone/nodes<10mm;non-targets absent")


def test_null_components_give_a_null_overall_response() -> None:
    got = overall_response(np.array([None, None], object), np.array([None, None], object),
                           np.array([None, "Y"], object), np.array([True, False]))
    assert list(got) == [None, None]


# --- shape of the result --------------------------------------------------------------------------

def _two_subjects() -> tuple[pd.DataFrame, pd.DataFrame]:
    tu = tu_frame([("S02", "T01", "TARGET", 1.0), ("S01", "T01", "TARGET", 1.0),
                   ("S01", "NT01", "NON-TARGET", 1.0)])
    tr = tr_frame([
        ("S02", "T01", "LDIAM", 40, None, None, 2.5, "2024-04-01"),   # unscheduled 2.5
        ("S02", "T01", "LDIAM", 40, None, None, 1, "2024-01-02"),
        ("S02", "T01", "LDIAM", 20, None, None, 2, "2024-03-01"),
        ("S01", "T01", "LDIAM", 50, None, None, 0, "2023-12-01"),     # before baseline
        ("S01", "T01", "LDIAM", 30, None, None, 1, "2024-01-05"),
        ("S01", "NT01", "TUMSTATE", None, "PRESENT", None, 1, "2024-01-03"),
        ("S01", None, "SUMDIAM", 30, None, None, 1, "2024-01-01"),
        ("S01", "T01", "LDIAM", 24, None, None, 2, "2024-03-09"),
        ("S01", "NT01", "TUMSTATE", None, "PRESENT", None, 2, "2024-03-07"),
        ("S01", None, "SUMDIAM", 24, None, None, 2, "2024-03-01"),
    ])
    return tu, tr


def test_one_row_per_subject_and_assessment_sorted_with_baseline_flagged() -> None:
    out = timepoint_responses(*_two_subjects())
    assert list(out.columns) == OUTPUT_COLUMNS
    assert list(zip(out["USUBJID"], out["VISITNUM"], strict=True)) == [
        ("S01", 1.0), ("S01", 2.0), ("S02", 1.0), ("S02", 2.0), ("S02", 2.5)]
    assert list(out["BASELINE_FL"].fillna("")) == ["Y", "", "Y", "", ""]
    assert list(out["REASON"][out["BASELINE_FL"] == "Y"]) == ["BASELINE", "BASELINE"]
    assert out["OVRLRESP"][out["BASELINE_FL"] == "Y"].isna().all()
    # S02: 40 → 20 (PR, -50 %) → 40: nadir 20, +100 %/+20 mm → PD
    assert list(out["OVRLRESP"].iloc[3:]) == ["PR", "PD"]
    assert out["NADIR"].iloc[4] == 20.0
    # S01: 30 → 24: -20 % → SD (non-target present)
    assert out["OVRLRESP"].iloc[1] == "SD" and out["BASE_SUM"].iloc[1] == 30.0


def test_dtypes_follow_the_conventions() -> None:
    out = timepoint_responses(*_two_subjects())
    for col in ("USUBJID", "VISIT", "ADTC", "BASELINE_FL", "TRGRESP", "NTRGRESP", "NEWLPROG",
                "OVRLRESP", "REASON"):
        assert out[col].dtype == pd.StringDtype(), col
    for col in ("VISITNUM", "SUMDIAM", "BASE_SUM", "NADIR", "PCHG_BASE", "PCHG_NADIR",
                "ACHG_NADIR"):
        assert out[col].dtype == np.float64, col
    assert out["N_TARGET_EXPECTED"].dtype == np.int64


def test_adtc_is_the_earliest_lesion_date_and_visit_comes_from_tr() -> None:
    out = timepoint_responses(*_two_subjects())
    # S01 visit 1: lesion dates 2024-01-05 and 2024-01-03; the SUMDIAM row's 2024-01-01 is no
    # lesion date → 2024-01-03. Visit 2: 2024-03-09 / 2024-03-07 → 2024-03-07.
    assert list(out["ADTC"].iloc[:2]) == ["2024-01-03", "2024-03-07"]
    assert list(out["VISIT"]) == ["VISIT 1", "VISIT 2", "VISIT 1", "VISIT 2", "VISIT 2.5"]


def test_assessments_before_baseline_are_ignored() -> None:
    out = timepoint_responses(*_two_subjects())
    assert 0.0 not in set(out["VISITNUM"])


def test_other_evaluators_are_ignored_unless_chosen() -> None:
    tu = tu_frame([("S01", "T01", "TARGET", 1.0)])
    tr = tr_frame([
        ("S01", "T01", "LDIAM", 30, None, None, 1, "2024-01-01"),
        ("S01", "T01", "LDIAM", 15, None, None, 2, "2024-03-01"),
        ("S01", "T01", "LDIAM", 30, None, None, 1, "2024-01-01", "INDEPENDENT ASSESSOR"),
        ("S01", "T01", "LDIAM", 36, None, None, 2, "2024-03-01", "INDEPENDENT ASSESSOR"),
    ])
    assert timepoint_responses(tu, tr)["OVRLRESP"].iloc[1] == "PR"       # 30 → 15
    # TU carries TUEVAL=INVESTIGATOR, so the other evaluator needs its own TU records
    tu_ind = tu.assign(TUEVAL=pd.array(["INDEPENDENT ASSESSOR"], dtype="string"))
    other = timepoint_responses(tu_ind, tr, RecistSettings(evaluator="independent assessor"))
    assert other["OVRLRESP"].iloc[1] == "PD"                              # 30 → 36: +20 %/+6


def test_subject_without_target_or_nontarget_lesions_gets_no_response() -> None:
    tu = tu_frame([("S01", "NEW01", "NEW", 2.0)])
    tr = tr_frame([("S01", "NEW01", "TUMSTATE", None, "UNEQUIVOCAL", None, 2, "2024-03-01")])
    out = timepoint_responses(tu, tr)
    assert len(out) == 1 and pd.isna(out["OVRLRESP"].iloc[0])
    assert out["REASON"].iloc[0] == "NA:no target or non-target lesion in TU"
    assert out.attrs["notes"] == [
        "1 subject(s) without a usable baseline get no response: "
        "S01 (NA:no target or non-target lesion in TU)"]


def test_subject_without_an_assessment_at_baseline_gets_no_response() -> None:
    tu = tu_frame([("S01", "T01", "TARGET", 1.0)])
    tr = tr_frame([("S01", "T01", "LDIAM", 30, None, None, 2, "2024-03-01")])
    out = timepoint_responses(tu, tr)
    assert list(out["REASON"]) == ["NA:no assessment at the baseline visit"]


def test_unlinked_and_duplicate_records_are_noted() -> None:
    tu = tu_frame([("S01", "T01", "TARGET", 1.0)])
    tr = tr_frame([
        ("S01", "T01", "LDIAM", 30, None, None, 1, "2024-01-01"),
        ("S01", "T01", "LDIAM", 30, None, None, 1, "2024-01-01"),
        ("S01", "T09", "LDIAM", 12, None, None, 1, "2024-01-01"),
        ("S01", "T01", "LDIAM", 18, None, None, 2, "2024-03-01"),
    ])
    out = timepoint_responses(tu, tr)
    assert out["OVRLRESP"].iloc[1] == "PR"                                # 30 → 18: -40 %
    assert out.attrs["notes"] == [
        "TR: 1 lesion record(s) not linked to a baseline or new lesion in TU, ignored: S01 T09",
        "TR: 2 lesion records share a USUBJID/TRLNKID/TRTESTCD/VISITNUM key with another; "
        "one kept per key"]


def test_empty_input_gives_an_empty_frame_with_all_columns() -> None:
    out = timepoint_responses(tu_frame([]), tr_frame([]))
    assert list(out.columns) == OUTPUT_COLUMNS and len(out) == 0


def test_missing_columns_stop_with_a_readable_error() -> None:
    tu, tr = _two_subjects()
    with pytest.raises(InputDataError, match="TR lacks column.*TRSTRESN"):
        timepoint_responses(tu, tr.drop(columns="TRSTRESN"))
    with pytest.raises(InputDataError, match="TU lacks column.*TUSTRESC"):
        timepoint_responses(tu.drop(columns="TUSTRESC"), tr)


# --- settings -------------------------------------------------------------------------------------

def test_settings_defaults_are_the_published_values() -> None:
    s = RecistSettings()
    assert (s.pr_change, s.pd_change, s.pd_absolute_mm, s.node_normal_mm,
            s.too_small_default_mm, s.evaluator, s.equivocal_new_lesion_is_pd) == (
        -30.0, 20.0, 5.0, 10.0, 5.0, "INVESTIGATOR", False)


def test_settings_refuse_unknown_keys_and_wrong_signs() -> None:
    with pytest.raises(ValidationError):
        RecistSettings(pr_threshold=-30)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        RecistSettings(pr_change=30.0)


def test_settings_from_study_yaml_block() -> None:
    assert settings_from_mapping({"pd_change": 25}).pd_change == 25.0
    assert settings_from_mapping(None) == RecistSettings()
    with pytest.raises(SpecError, match=r"study.yaml \[recist.pd_chnage\]"):
        settings_from_mapping({"pd_chnage": 25}, file="study.yaml")
