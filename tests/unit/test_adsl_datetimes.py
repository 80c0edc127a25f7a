"""ADSL TRTSDTM/TRTEDTM with their imputation flags, AGEGR1 of a missing AGE and numbered
companions (COHORTN), on hand-written subjects; every expected value is worked out by hand.

S1: doses 2021-02-01T08:30 .. 2021-02-14 and 2021-02-15 .. 2021-02-28T18:45. First dose at
    08:30 (only seconds missing: imputed 00, flag S only when asked); last end 18:45 → 18:45:59.
S2: a dose 2021-03-01 .. 2021-03-10 (no times) and an open dose from 2021-03-01T09. Start
    ties on the date; the datetimes are 00:00:00 (H) and 09:00:00 (M): the first is 00:00:00.
    Ends: 2021-03-10 → 23:59:59 (H); the open record counts its start with the time last
    (2021-03-01T09:59:59, M); the latest is 2021-03-10T23:59:59, H.
S3: only a 0-dose record (no placebo): never dosed, no datetimes.
S4: start 2021-04 (partial), end 2021-04-20T12:00:00 (complete). No start imputation by
    default: no TRTSDTM; TRTEDTM 12:00:00 without flag. With start_imputation D: 2021-04-01,
    00:00:00, TRTSDTF D, TRTSTMF H.
S5: two doses starting 2021-05-01, EXSEQ 2 (no time, H) listed before EXSEQ 1 (T00:00: only
    seconds missing). Both are 00:00:00; the lowest EXSEQ decides: no flag.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.adam.adsl import derive_adsl
from cdiscmap.adam.settings import AdamSettings, AdslSettings, Exposure, NumberedVariable
from cdiscmap.errors import InputDataError
from cdiscmap.findings import Findings

T = pd.Timestamp
IDS = ["S1", "S2", "S3", "S4", "S5", "S6"]


def s(values: list) -> pd.Series:
    return pd.Series(values, dtype="string")


def sdtm() -> dict[str, pd.DataFrame]:
    dm = pd.DataFrame({
        "STUDYID": s(["X"] * 6), "USUBJID": s(IDS), "SUBJID": s(["1", "2", "3", "4", "5", "6"]),
        "AGE": [30.0, None, 70.0, 12.0, 50.0, 50.0], "ARM": s(["A"] * 6),
        "ACTARM": s(["A"] * 6),
    })
    ex = pd.DataFrame({
        "USUBJID": s(["S1", "S1", "S2", "S2", "S3", "S4", "S5", "S5"]),
        "EXSEQ": [1.0, 2.0, 1.0, 2.0, 1.0, 1.0, 2.0, 1.0],
        "EXTRT": s(["DRUG"] * 8),
        "EXDOSE": [100.0, 100.0, 100.0, 100.0, 0.0, 100.0, 100.0, 100.0],
        "EXSTDTC": s(["2021-02-01T08:30", "2021-02-15", "2021-03-01", "2021-03-01T09",
                      "2021-03-05", "2021-04", "2021-05-01", "2021-05-01T00:00"]),
        "EXENDTC": s(["2021-02-14", "2021-02-28T18:45", "2021-03-10", None, "2021-03-06",
                      "2021-04-20T12:00:00", "2021-05-02", "2021-05-03"]),
    })
    supp = pd.DataFrame({
        "RDOMAIN": s(["DM"] * 6), "USUBJID": s(IDS), "QNAM": s(["COHORT"] * 6),
        "QVAL": s(["10", "2", "1", "B", None, "A"]),
    })
    return {"DM": dm, "EX": ex, "SUPPDM": supp}


def derive(**adsl: object) -> tuple[pd.DataFrame, dict[str, str]]:
    methods: dict[str, str] = {}
    settings = AdamSettings(adsl=AdslSettings(cohort_variables=["COHORT"], **adsl))
    result = derive_adsl(sdtm(), settings, Findings(), methods)
    return result.adsl.set_index("USUBJID"), methods


def col(adsl: pd.DataFrame, name: str) -> list:
    return [None if pd.isna(v) else v for v in adsl[name].tolist()]


def test_treatment_datetimes_and_time_flags():
    adsl, methods = derive()
    assert col(adsl, "TRTSDTM") == [T("2021-02-01 08:30:00"), T("2021-03-01 00:00:00"), None,
                                    None, T("2021-05-01 00:00:00"), None]
    assert col(adsl, "TRTSTMF") == [None, "H", None, None, None, None]
    assert col(adsl, "TRTEDTM") == [T("2021-02-28 18:45:59"), T("2021-03-10 23:59:59"), None,
                                    T("2021-04-20 12:00:00"), T("2021-05-03 23:59:59"), None]
    assert col(adsl, "TRTETMF") == [None, "H", None, None, "H", None]
    # the dates are the datetimes' days
    assert col(adsl, "TRTSDT") == [T("2021-02-01"), T("2021-03-01"), None, None,
                                   T("2021-05-01"), None]
    assert col(adsl, "TRTEDT") == [T("2021-02-28"), T("2021-03-10"), None, T("2021-04-20"),
                                   T("2021-05-03"), None]
    # no date imputation allowed: no date flags
    assert "TRTSDTF" not in adsl.columns and "TRTEDTF" not in adsl.columns
    assert "00:00:00" in methods["TRTSDTM"] and "23:59:59" in methods["TRTEDTM"]


def test_seconds_flag_and_date_imputation_from_settings():
    adsl, methods = derive(exposure=Exposure(flag_imputed_seconds=True, start_imputation="D"))
    assert col(adsl, "TRTSDTM") == [T("2021-02-01 08:30:00"), T("2021-03-01 00:00:00"), None,
                                    T("2021-04-01 00:00:00"), T("2021-05-01 00:00:00"), None]
    assert col(adsl, "TRTSTMF") == ["S", "H", None, "H", "S", None]
    assert col(adsl, "TRTSDTF") == [None, None, None, "D", None, None]
    assert col(adsl, "TRTETMF") == ["S", "H", None, None, "H", None]
    assert col(adsl, "TRTSDT")[3] == T("2021-04-01")
    assert methods["TRTSTMF"].endswith("H, M or S")
    assert "TRTEDTF" not in adsl.columns


def test_open_record_ignored_when_set():
    # admiral: a record without EXENDTC gives no TRTEDTM; S2's latest end is still 2021-03-10
    adsl, _ = derive(exposure=Exposure(open_end_uses_start=False))
    assert col(adsl, "TRTEDTM")[:2] == [T("2021-02-28 18:45:59"), T("2021-03-10 23:59:59")]


def test_age_group_of_a_missing_age():
    adsl, methods = derive()
    assert col(adsl, "AGEGR1") == ["18-64", "Missing", ">64", "<18", "18-64", "18-64"]
    assert col(adsl, "AGEGR1N") == [2.0, None, 3.0, 1.0, 2.0, 2.0]
    assert methods["AGEGR1"].endswith("Missing when AGE is missing (AGEGR1N empty)")
    adsl, _ = derive(age_missing=None)
    assert col(adsl, "AGEGR1")[1] is None


def test_cohort_numbers_by_value_then_settings_order():
    adsl, methods = derive(numbered=[NumberedVariable(variable="COHORT")])
    # values 10, 2, 1, B, (none), A: numbers as text by number (1, 2, 10), then text (A, B)
    assert col(adsl, "COHORTN") == [3.0, 2.0, 1.0, 5.0, None, 4.0]
    assert methods["COHORTN"].startswith("COHORT numbered by value")
    adsl, _ = derive(numbered=[NumberedVariable(variable="COHORT", order=["B", "10"])])
    assert col(adsl, "COHORTN") == [2.0, 4.0, 3.0, 1.0, None, 5.0]


def test_arm_numbers_follow_the_cohort():
    # TRT01P "ARM 10", "ARM 2", "ARM 1", "ARM B", "ARM X", "ARM A" for cohorts 10, 2, 1, B,
    # (none), A: by COHORT the arms are numbered 1 (cohort 1), 2 (2), 3 (10), 4 (A), 5 (B),
    # and ARM X, whose subject has no cohort, last (6); by value they would sort as text
    data = sdtm()
    data["DM"]["ARM"] = s(["ARM 10", "ARM 2", "ARM 1", "ARM B", "ARM X", "ARM A"])
    methods: dict[str, str] = {}
    settings = AdamSettings(adsl=AdslSettings(cohort_variables=["COHORT"], numbered=[
        NumberedVariable(variable="TRT01P", by="COHORT")]))
    adsl = derive_adsl(data, settings, Findings(), methods).adsl.set_index("USUBJID")
    assert col(adsl, "TRT01PN") == [3.0, 2.0, 1.0, 5.0, 6.0, 4.0]
    assert methods["TRT01PN"] == "TRT01P numbered in the order of COHORT (numbers by value, " \
                                 "then text)"


def test_numbering_an_unknown_variable_is_an_input_error():
    with pytest.raises(InputDataError, match="numbered PATHOL: ADSL has no PATHOL"):
        derive(numbered=[NumberedVariable(variable="PATHOL")])
