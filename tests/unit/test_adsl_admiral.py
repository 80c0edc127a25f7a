"""ADSL defaults that follow the admiral ad_adsl.R template (issue 11 §2), on five hand-written
subjects; every expected value is worked out by hand below.

A 001: 17 y, WHITE, USA; dosed 2020-01-10 .. 2020-03-01; died 2020-03-20 (DD: PROGRESSIVE
       DISEASE). DTHADY = 21 (Jan 10→31) + 29 (Feb 2020) + 20 + 1 = 71; LDDTHELD = 19 (Mar 1→20)
       → "<= 30", DTH30FL; DTHB30FL no (Mar 20 > Feb 9 = TRTSDT + 30).
B 002: 64 y, ASIAN, FRA; one dose 2020-01-10; died 2020-02-05 (DS DEATH, DSTERM SEPSIS).
       DTHADY = 26 + 1 = 27; LDDTHELD = 26 → DTH30FL; DTHB30FL (Feb 5 <= Feb 9).
C 003: 65 y, no RACE, no COUNTRY; dosed 2020-01-10 .. 2020-01-20; died 2020-03-01 (no cause).
       LDDTHELD = 11 + 29 + 1 = 41 → "> 30", DTHA30FL; DTHADY = 21 + 29 + 1 + 1 = 52.
D 004: no AGE; screen failure (DS SCREEN FAILURE 2020-01-05): EOSSTT/EOSDT/DCSREAS blank,
       SCRFDT 2020-01-05. Never dosed.
E 005: 40 y; dosed 2020-01-10 .. 2020-03-01, alive; AE start "2020-04" (admiral imputes the
       month's first day: 2020-04-01), LB at 2020-05-03T10:00, AE end "2020" (a year only: not
       imputed, highest imputation M); final retrieval visit 2020-06-30 (FRVDT); completed.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.adam.adsl import derive_adsl
from cdiscmap.adam.settings import AdamSettings, AdslSettings, DateSource, Grouping, ValueGroup
from cdiscmap.errors import InputDataError
from cdiscmap.findings import Findings

T = pd.Timestamp
IDS = ["X-001", "X-002", "X-003", "X-004", "X-005"]


def s(values: list) -> pd.Series:
    return pd.Series(values, dtype="string")


def sdtm() -> dict[str, pd.DataFrame]:
    dm = pd.DataFrame({
        "STUDYID": s(["X"] * 5), "USUBJID": s(IDS), "SUBJID": s(["1", "2", "3", "4", "5"]),
        "AGE": [17.0, 64.0, 65.0, None, 40.0], "RACE": s(["WHITE", "ASIAN", None, "WHITE",
                                                          "WHITE"]),
        "COUNTRY": s(["USA", "FRA", None, "FRA", "CAN"]),
        "ARM": s(["A"] * 5), "ACTARM": s(["A", "A", "A", None, "A"]),
        "DTHDTC": s(["2020-03-20", "2020-02-05", "2020-03-01", None, None]),
        "DTHFL": s(["Y", "Y", "Y", None, None]),
    })
    ex = pd.DataFrame({
        "USUBJID": s(["X-001", "X-002", "X-003", "X-005"]), "EXSEQ": [1.0, 1.0, 1.0, 1.0],
        "EXTRT": s(["DRUG"] * 4), "EXDOSE": [100.0] * 4,
        "EXSTDTC": s(["2020-01-10"] * 4),
        "EXENDTC": s(["2020-03-01", "2020-01-10", "2020-01-20", "2020-03-01"]),
    })
    ds = pd.DataFrame({
        "USUBJID": s(["X-002", "X-004", "X-005", "X-005"]), "DSSEQ": [1.0, 1.0, 1.0, 2.0],
        "DSTERM": s(["SEPSIS", "SCREEN FAILURE", "COMPLETED", "FINAL RETRIEVAL VISIT"]),
        "DSDECOD": s(["DEATH", "SCREEN FAILURE", "COMPLETED", "FINAL RETRIEVAL VISIT"]),
        "DSCAT": s(["DISPOSITION EVENT", "DISPOSITION EVENT", "DISPOSITION EVENT",
                    "OTHER EVENT"]),
        "DSSCAT": s(["END OF STUDY", "END OF STUDY", "END OF STUDY", None]),
        "DSSTDTC": s(["2020-02-05", "2020-01-05", "2020-06-01", "2020-06-30"]),
    })
    dd = pd.DataFrame({"USUBJID": s(["X-001"]), "DDSEQ": [1.0], "DDTESTCD": s(["PRCDTH"]),
                       "DDSTRESC": s(["PROGRESSIVE DISEASE"]), "DDDTC": s(["2020-03-20"])})
    ae = pd.DataFrame({"USUBJID": s(["X-005"]), "AESEQ": [1.0], "AEDECOD": s(["NAUSEA"]),
                       "AESTDTC": s(["2020-04"]), "AEENDTC": s(["2020"])})
    lb = pd.DataFrame({"USUBJID": s(["X-005"]), "LBSEQ": [1.0],
                       "LBDTC": s(["2020-05-03T10:00"])})
    return {"DM": dm, "EX": ex, "DS": ds, "DD": dd, "AE": ae, "LB": lb}


def derive(settings: AdamSettings | None = None, data: dict | None = None
           ) -> tuple[pd.DataFrame, dict[str, str]]:
    methods: dict[str, str] = {}
    result = derive_adsl(data or sdtm(), settings or AdamSettings(), Findings(), methods)
    return result.adsl.set_index("USUBJID"), methods


def col(adsl: pd.DataFrame, name: str) -> list:
    return [None if pd.isna(v) else v for v in adsl[name].tolist()]


def test_groupings_follow_the_admiral_template():
    adsl, methods = derive()
    assert col(adsl, "AGEGR1") == ["<18", "18-64", ">64", "Missing", "18-64"]
    assert col(adsl, "AGEGR1N") == [1.0, 2.0, 3.0, None, 2.0]
    assert col(adsl, "RACEGR1") == ["White", "Non-white", "Missing", "White", "White"]
    assert col(adsl, "RACEGR1N") == [1.0, 2.0, None, 1.0, 1.0]
    assert col(adsl, "REGION1") == ["North America", "Rest of the World", "Missing",
                                    "Rest of the World", "North America"]
    assert col(adsl, "REGION1N") == [1.0, 2.0, None, 2.0, 1.0]
    assert "RACEGR1" in methods and "REGION1N" in methods


def test_death_variables():
    adsl, _ = derive()
    assert col(adsl, "DTHADY") == [71.0, 27.0, 52.0, None, None]
    assert col(adsl, "LDDTHELD") == [19.0, 26.0, 41.0, None, None]
    assert col(adsl, "LDDTHGR1") == ["<= 30", "<= 30", "> 30", None, None]
    assert col(adsl, "DTH30FL") == ["Y", "Y", None, None, None]
    assert col(adsl, "DTHA30FL") == [None, None, "Y", None, None]
    assert col(adsl, "DTHB30FL") == [None, "Y", None, None, None]
    assert col(adsl, "DTHCAUS") == ["PROGRESSIVE DISEASE", "SEPSIS", None, None, None]
    assert col(adsl, "DTHDOM") == ["DD", "DS", None, None, None]
    # DTHCGR1: dead subjects only; a dead subject without a cause is blank (no "Missing")
    assert col(adsl, "DTHCGR1") == ["PROGRESSIVE DISEASE", "OTHER", None, None, None]
    assert col(adsl, "DTHCGR1N") == [1.0, 2.0, None, None, None]


def test_death_window_is_a_setting():
    adsl, methods = derive(AdamSettings(adsl=AdslSettings(death_window_days=20)))
    assert col(adsl, "LDDTHGR1") == ["<= 20", "> 20", "> 20", None, None]
    assert col(adsl, "DTHB30FL") == [None] * 5       # B: Feb 5 is after Jan 10 + 20 = Jan 30
    assert methods["DTHB30FL"] == "Y when DTHDT <= TRTSDT + 20 days"


def test_screen_failure_is_not_a_discontinuation():
    adsl, _ = derive()
    assert col(adsl, "EOSSTT") == ["ONGOING", "DISCONTINUED", "ONGOING", None, "COMPLETED"]
    assert col(adsl, "EOSDT") == [None, T("2020-02-05"), None, None, T("2020-06-01")]
    assert col(adsl, "DCSREAS") == [None, "DEATH", None, None, None]
    assert col(adsl, "SCRFDT") == [None, None, None, T("2020-01-05"), None]
    # [] restores the former coding: a screen failure is a discontinuation
    adsl, _ = derive(AdamSettings(adsl=AdslSettings(eos_screen_failure=[])))
    assert col(adsl, "EOSSTT")[3] == "DISCONTINUED"
    assert col(adsl, "DCSREAS")[3] == "SCREEN FAILURE"
    assert col(adsl, "EOSDT")[3] == T("2020-01-05")
    assert col(adsl, "SCRFDT")[3] is None


def test_final_retrieval_visit_date():
    adsl, methods = derive()
    assert col(adsl, "FRVDT") == [None, None, None, None, T("2020-06-30")]
    assert "FINAL RETRIEVAL VISIT" in methods["FRVDT"]


def test_last_alive_date_imputes_partial_ae_dates_and_reads_lb():
    adsl, methods = derive()
    # E: max(AE start 2020-04 → 04-01, AE end "2020" not imputed, LB 05-03, TRTEDT 03-01,
    #        DS 06-01 and 06-30 (not death)) = 2020-06-30
    assert col(adsl, "LSTALVDT")[4] == T("2020-06-30")
    template = [DateSource(dataset="AE", date="AESTDTC", imputation="M"),
                DateSource(dataset="AE", date="AEENDTC", imputation="M"),
                DateSource(dataset="LB", date="LBDTC", imputation="M"),
                DateSource(dataset="ADSL", date="TRTEDT")]
    adsl, methods = derive(AdamSettings(adsl=AdslSettings(last_alive_sources=template)))
    # admiral's four only: E = LB 2020-05-03; A-C = TRTEDT; D none
    assert col(adsl, "LSTALVDT") == [T("2020-03-01"), T("2020-01-10"), T("2020-01-20"), None,
                                     T("2020-05-03")]
    assert "AE.AESTDTC (missing day/month imputed to the first)" in methods["LSTALVDT"]
    assert "ADSL.TRTEDT" in methods["LSTALVDT"]
    # without imputation the partial AE start does not count
    no_imp = [DateSource(dataset="AE", date="AESTDTC")]
    adsl, _ = derive(AdamSettings(adsl=AdslSettings(last_alive_sources=no_imp)))
    assert col(adsl, "LSTALVDT") == [None] * 5
    month = [DateSource(dataset="AE", date="AESTDTC", imputation="M")]
    adsl, _ = derive(AdamSettings(adsl=AdslSettings(last_alive_sources=month)))
    assert col(adsl, "LSTALVDT") == [None, None, None, None, T("2020-04-01")]


def test_unknown_adsl_date_as_last_alive_source_is_an_input_error():
    bad = [DateSource(dataset="ADSL", date="XXDT")]
    with pytest.raises(InputDataError, match="ADSL.XXDT"):
        derive(AdamSettings(adsl=AdslSettings(last_alive_sources=bad)))


def test_a_study_grouping_and_no_missing_text():
    groups = [Grouping(variable="REGION1", source="COUNTRY", missing=None, groups=[
        ValueGroup(label="Europe", values=["FRA"]), ValueGroup(label="Other")])]
    adsl, _ = derive(AdamSettings(adsl=AdslSettings(groupings=groups)))
    assert col(adsl, "REGION1") == ["Other", "Europe", None, "Europe", "Other"]
    assert col(adsl, "REGION1N") == [2.0, 1.0, None, 1.0, 2.0]
    assert "RACEGR1" not in adsl.columns
