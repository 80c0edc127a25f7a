"""ADSL derivations on four hand-written subjects; every expected value is worked out by hand.

A 001: 17 y, paediatric IMT cohort; doses 250 mg, a 0 mg interruption, then an open 200 mg
       record (ongoing); alive; baseline TU at VISIT BASELINE.
B 002: 64 y; died (DTHDTC 2020-06, day unknown); DS END OF STUDY = DEATH (partial date);
       baseline TU only recognisable by date (VISIT UNSCHEDULED, on the first-dose day).
C 003: 70 y; registered, never dosed; completed the study.
D 004: no age, no registration record; a dose record with a partial start; its only TU record is
       after first dose (not baseline); DM.DTHFL = Y without a death date.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.adam.adsl import baseline_tumour_records, derive_adsl
from cdiscmap.adam.settings import (
    AdamSettings,
    AdrsSettings,
    AdslSettings,
    DateSource,
    ExDateRule,
    ResponseAnalysis,
    SubjectDate,
)
from cdiscmap.errors import InputDataError
from cdiscmap.findings import Findings

T = pd.Timestamp


def s(values: list) -> pd.Series:
    return pd.Series(values, dtype="string")


def sdtm() -> dict[str, pd.DataFrame]:
    ids = ["X-001", "X-002", "X-003", "X-004"]
    dm = pd.DataFrame({
        "STUDYID": s(["X"] * 4), "USUBJID": s(ids), "SUBJID": s(["001", "002", "003", "004"]),
        "SITEID": s(["10"] * 4), "AGE": [17.0, 64.0, 70.0, None], "AGEU": s(["YEARS"] * 4),
        "SEX": s(["F", "M", "F", "M"]), "RACE": s(["WHITE"] * 4), "ETHNIC": s([None] * 4),
        "COUNTRY": s(["FRA"] * 4), "ARMCD": s(["C16", "C05", "C05", "C01"]),
        "ARM": s(["Cohort 16", "Cohort 5", "Cohort 5", "Cohort 1"]),
        "ACTARMCD": s(["C16", "C05", None, "C01"]),
        "ACTARM": s(["Cohort 16", "Cohort 5", None, "Cohort 1"]),
        "RFICDTC": s(["2020-01-02", "2020-01-30", "2020-02-28", None]),
        "DTHDTC": s([None, "2020-06", None, None]), "DTHFL": s([None, "Y", None, "Y"]),
        "RFPENDTC": s([None, None, None, None]),
    })
    suppdm = pd.DataFrame({
        "RDOMAIN": s(["DM"] * 4), "USUBJID": s(["X-001", "X-001", "X-001", "X-002"]),
        "QNAM": s(["COHORT", "PATHOL", "GENALT", "COHORT"]),
        "QVAL": s(["16", "IMT", "ALK TRANSLOCATION", "5"]),
    })
    ds = pd.DataFrame({
        "USUBJID": s(["X-001", "X-002", "X-002", "X-003", "X-003"]),
        "DSSEQ": [1.0, 1.0, 2.0, 1.0, 2.0],
        "DSTERM": s(["REGISTERED", "REGISTERED", "DEATH DUE TO PROGRESSION", "REGISTERED",
                     "COMPLETED"]),
        "DSDECOD": s(["ENTERED INTO TRIAL", "ENTERED INTO TRIAL", "DEATH",
                      "ENTERED INTO TRIAL", "COMPLETED"]),
        "DSCAT": s(["PROTOCOL MILESTONE", "PROTOCOL MILESTONE", "DISPOSITION EVENT",
                    "PROTOCOL MILESTONE", "DISPOSITION EVENT"]),
        "DSSCAT": s([None, None, "END OF STUDY", None, "END OF STUDY"]),
        "DSSTDTC": s(["2020-01-10", "2020-02-01", "2020-06", "2020-03-01", "2021-03-01"]),
    })
    ex = pd.DataFrame({
        "USUBJID": s(["X-001", "X-001", "X-001", "X-002", "X-004", "X-004"]),
        "EXSEQ": [1.0, 2.0, 3.0, 1.0, 1.0, 2.0], "EXTRT": s(["CRIZOTINIB"] * 6),
        "EXDOSE": [250.0, 0.0, 200.0, 250.0, 250.0, 250.0],
        "EXSTDTC": s(["2020-01-15", "2020-02-12", "2020-02-21", "2020-02-05", "2020-04",
                      "2020-04-10"]),
        "EXENDTC": s(["2020-02-11", "2020-02-20", None, "2020-04-30", "2020-04-09",
                      "2020-05-10"]),
    })
    ae = pd.DataFrame({"USUBJID": s(["X-001"]), "AESEQ": [1.0], "AEDECOD": s(["NAUSEA"]),
                       "AESTDTC": s(["2020-03-01"]), "AEENDTC": s(["2020-03-15"])})
    rs = pd.DataFrame({"USUBJID": s(["X-001", "X-002"]), "RSSEQ": [1.0, 1.0],
                       "RSTESTCD": s(["OVRLRESP"] * 2), "RSSTRESC": s(["SD", "PD"]),
                       "RSEVAL": s(["INVESTIGATOR"] * 2),
                       "RSDTC": s(["2020-03-10", "2020-04-01"])})
    tu = pd.DataFrame({
        "USUBJID": s(["X-001", "X-002", "X-003", "X-004"]), "TUSEQ": [1.0, 1.0, 1.0, 1.0],
        "TUSTRESC": s(["TARGET", "NON-TARGET", "TARGET", "TARGET"]),
        "TUEVAL": s(["INVESTIGATOR"] * 4),
        "VISIT": s(["BASELINE", "UNSCHEDULED", "BASELINE", "WEEK 4"]),
        "TUDTC": s(["2020-01-05", "2020-02-05", "2020-02-25", "2020-05-01"]),
    })
    return {"DM": dm, "SUPPDM": suppdm, "DS": ds, "EX": ex, "AE": ae, "RS": rs, "TU": tu}


def basket_like(**adsl: object) -> AdamSettings:
    enrl = SubjectDate(variable="ENRLDT", source=DateSource(
        dataset="DS", date="DSSTDTC", where={"DSDECOD": "ENTERED INTO TRIAL"}))
    cfg = {"dates": [enrl], "ittfl_from": "ENRLDT",
           "cohort_variables": ["COHORT", "PATHOL", "GENALT"]}
    cfg.update(adsl)
    return AdamSettings(adsl=AdslSettings(**cfg),
                        adrs=AdrsSettings(analyses=[ResponseAnalysis(reference_date="ENRLDT")]))


def derive(data: dict[str, pd.DataFrame] | None = None, settings: AdamSettings | None = None
           ) -> tuple[pd.DataFrame, Findings, dict[str, str]]:
    findings, methods = Findings(), {}
    result = derive_adsl(data if data is not None else sdtm(), settings or basket_like(),
                         findings, methods)
    return result.adsl.set_index("USUBJID"), findings, methods


def col(adsl: pd.DataFrame, name: str) -> list:
    return [None if pd.isna(v) else v for v in adsl[name].tolist()]


def test_one_record_per_dm_subject_in_usubjid_order():
    adsl, _, _ = derive()
    assert list(adsl.index) == ["X-001", "X-002", "X-003", "X-004"]
    assert col(adsl, "SUBJID") == ["001", "002", "003", "004"]


def test_age_groups_and_treatment_variables():
    adsl, _, methods = derive()
    # admiral ad_adsl.R agegr1_lookup bands (<18, 18-64, >64; issue 11 §2, was >=65)
    assert col(adsl, "AGEGR1") == ["<18", "18-64", ">64", "Missing"]   # no AGE (admiral)
    assert col(adsl, "AGEGR1N") == [1.0, 2.0, 3.0, None]
    assert col(adsl, "TRT01P") == ["Cohort 16", "Cohort 5", "Cohort 5", "Cohort 1"]
    assert col(adsl, "TRT01A") == ["Cohort 16", "Cohort 5", None, "Cohort 1"]
    assert methods["TRT01A"] == "DM.ACTARM"


def test_cohort_variables_from_suppdm():
    adsl, findings, _ = derive()
    assert col(adsl, "COHORT") == ["16", "5", None, None]
    assert col(adsl, "PATHOL") == ["IMT", None, None, None]
    assert col(adsl, "GENALT") == ["ALK TRANSLOCATION", None, None, None]
    data = sdtm()
    del data["SUPPDM"]
    with pytest.raises(InputDataError, match="SUPPDM is missing"):
        derive(data)
    _, findings, _ = derive(settings=basket_like(cohort_variables=["COHORT", "STAGE"]))
    assert any(f.rule == "CMAP-AD0006" and f.variable == "STAGE" for f in findings)


def test_registration_informed_consent_and_itt():
    adsl, _, methods = derive()
    assert col(adsl, "ENRLDT") == [T("2020-01-10"), T("2020-02-01"), T("2020-03-01"), None]
    assert col(adsl, "RFICDT") == [T("2020-01-02"), T("2020-01-30"), T("2020-02-28"), None]
    assert col(adsl, "ITTFL") == ["Y", "Y", "Y", "N"]
    assert "DSDECOD = ENTERED INTO TRIAL" in methods["ENRLDT"]


def test_treatment_dates_skip_zero_doses_and_partial_starts():
    adsl, _, _ = derive()
    # 001: first 250 mg dose 2020-01-15; the 0 mg record is an interruption; the open 200 mg
    #      record (no EXENDTC) counts with its start 2020-02-21 → TRTEDT 2020-02-21
    # 004: the record starting "2020-04" is not a complete date → first dose 2020-04-10
    assert col(adsl, "TRTSDT") == [T("2020-01-15"), T("2020-02-05"), None, T("2020-04-10")]
    assert col(adsl, "TRTEDT") == [T("2020-02-21"), T("2020-04-30"), None, T("2020-05-10")]
    # 001: 15 Jan → 21 Feb is 37 days, +1 = 38; 002: 5 Feb → 30 Apr 2020 is 85 days, +1 = 86
    # 004: 10 Apr → 10 May is 30 days, +1 = 31
    assert col(adsl, "TRTDURD") == [38.0, 86.0, None, 31.0]
    assert col(adsl, "SAFFL") == ["Y", "Y", "N", "Y"]


def test_treatment_end_without_open_record_rule_and_with_imputation():
    adsl, _, _ = derive(settings=basket_like(exposure={"open_end_uses_start": False,
                                                       "start_imputation": "D"}))
    # 001: open record ignored → last complete end of a dose is 2020-02-11
    assert adsl.loc["X-001", "TRTEDT"] == T("2020-02-11")
    # 004: "2020-04" imputed to 2020-04-01 → first dose 2020-04-01
    assert adsl.loc["X-004", "TRTSDT"] == T("2020-04-01")


def test_death_variables():
    adsl, _, _ = derive()
    # 002: DTHDTC 2020-06 → 2020-06-01 with DTHDTF D (day imputed to the first)
    assert col(adsl, "DTHDT") == [None, T("2020-06-01"), None, None]
    assert col(adsl, "DTHDTF") == [None, "D", None, None]
    # 004: DM.DTHFL = Y without a date still flags the death
    assert col(adsl, "DTHFL") == [None, "Y", None, "Y"]
    # no DD dataset → DS DEATH record's DSTERM
    assert col(adsl, "DTHCAUS") == [None, "DEATH DUE TO PROGRESSION", None, None]


def test_death_cause_prefers_dd_when_present():
    data = sdtm()
    data["DD"] = pd.DataFrame({"USUBJID": s(["X-002"]), "DDSEQ": [1.0],
                               "DDTESTCD": s(["PRCDTH"]), "DDSTRESC": s(["PROGRESSIVE DISEASE"]),
                               "DDDTC": s(["2020-06-20"])})
    adsl, _, _ = derive(data)
    assert adsl.loc["X-002", "DTHCAUS"] == "PROGRESSIVE DISEASE"


def test_last_known_alive_date():
    adsl, _, methods = derive()
    # 001: AE end 2020-03-15 is the latest (RS 2020-03-10, EX 2020-02-21, DS 2020-01-10)
    # 002: EX end 2020-04-30 (the DS DEATH record is excluded, and partial anyway)
    # 003: DS END OF STUDY COMPLETED 2021-03-01; 004: EX end 2020-05-10
    assert col(adsl, "LSTALVDT") == [T("2020-03-15"), T("2020-04-30"), T("2021-03-01"),
                                     T("2020-05-10")]
    assert "DS.DSSTDTC where DSDECOD != DEATH" in methods["LSTALVDT"]


def test_end_of_study():
    adsl, _, _ = derive()
    assert col(adsl, "EOSSTT") == ["ONGOING", "DISCONTINUED", "COMPLETED", "ONGOING"]
    # 002's end-of-study date is partial (2020-06) and no imputation is asked: missing
    assert col(adsl, "EOSDT") == [None, None, T("2021-03-01"), None]
    assert col(adsl, "DCSREAS") == [None, "DEATH", None, None]
    adsl, _, _ = derive(settings=basket_like(date_imputation="D"))
    assert adsl.loc["X-002", "EOSDT"] == T("2020-06-01")


def test_end_of_study_without_dsscat_is_a_notice():
    data = sdtm()
    data["DS"] = data["DS"].drop(columns="DSSCAT")
    adsl, findings, _ = derive(data)
    assert any(f.rule == "CMAP-AD0004" and f.variable == "DSSCAT" for f in findings)
    assert col(adsl, "EOSSTT") == ["ONGOING", "DISCONTINUED", "COMPLETED", "ONGOING"]


def test_efffl_needs_dose_and_baseline():
    adsl, _, methods = derive()
    # 001 baseline by VISIT; 002 baseline by date (TUDTC = first dose day); 003 never dosed;
    # 004's only TU record is after first dose
    assert col(adsl, "EFFFL") == ["Y", "Y", "N", "N"]
    assert methods["EFFFL"].startswith("Y when at least one dose and a baseline tumour")
    adsl, _, _ = derive(settings=basket_like(efffl={"require_dose": False}))
    assert col(adsl, "EFFFL") == ["Y", "Y", "Y", "N"]


def test_missing_optional_datasets_are_notices_not_errors():
    data = {k: v for k, v in sdtm().items() if k in ("DM", "SUPPDM", "DS")}
    adsl, findings, _ = derive(data)
    assert adsl["TRTSDT"].isna().all() and col(adsl, "SAFFL") == ["N"] * 4
    assert {f.dataset for f in findings if f.rule == "CMAP-AD0005"} >= {"EX", "TU"}
    with pytest.raises(InputDataError, match="DM is missing"):
        derive({"DS": sdtm()["DS"]})


def test_repeated_dm_subject_is_an_error_finding():
    data = sdtm()
    data["DM"] = pd.concat([data["DM"], data["DM"].iloc[[0]]], ignore_index=True)
    adsl, findings, _ = derive(data)
    assert len(adsl) == 4
    assert [f.rule for f in findings if f.severity.value == "error"] == ["CMAP-AD0010"]


def gist_sdtm() -> dict[str, pd.DataFrame]:
    ids = ["G-1", "G-2", "G-3", "G-4"]
    dm = pd.DataFrame({"STUDYID": s(["G"] * 4), "USUBJID": s(ids),
                       "ARMCD": s(["STOP", "CONT", "STOP", "STOP"])})
    ds = pd.DataFrame({"USUBJID": s(ids), "DSSEQ": [1.0] * 4, "DSTERM": s(["RANDOMIZED"] * 4),
                       "DSDECOD": s(["RANDOMIZED"] * 4), "DSSTDTC": s(["2020-01-01"] * 4)})
    ex = pd.DataFrame({
        "USUBJID": s(["G-1", "G-1", "G-2", "G-2", "G-3", "G-3", "G-4"]),
        "EXSEQ": [1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0], "EXDOSE": [400.0] * 7,
        "EPOCH": s([None, "RECHALLENGE", None, None, None, None, None]),
        "EXSTDTC": s(["2019-06-01", "2020-06-01", "2020-01-01", "2020-04-01", "2019-12-01",
                      "2020-01-20", "2020-01-25"]),
        "EXENDTC": s(["2019-12-31", None, "2020-03-31", "2020-06-30", "2020-01-10",
                      "2020-03-01", "2020-02-28"]),
    })
    return {"DM": dm, "DS": ds, "EX": ex}


def gist_settings(rule: ExDateRule) -> AdamSettings:
    return AdamSettings(adsl=AdslSettings(ex_dates=[rule]))


def test_reintroduction_after_a_gap():
    rule = ExDateRule(variable="RCHSDT", rule="first_after_gap", gap_days=28, anchor="RANDDT")
    adsl, _, methods = derive(gist_sdtm(), gist_settings(rule))
    # G-1: stopped 2019-12-31, restarted 2020-06-01: 152 days after randomization → RCHSDT
    # G-2: continuous (2020-04-01 follows the 2020-03-31 end) → none
    # G-3: pre-study dose ends 2020-01-10 (later than randomization), restart 2020-01-20:
    #      a 10-day gap → none
    # G-4: first study dose 2020-01-25, 24 days after randomization → none
    assert col(adsl, "RCHSDT") == [T("2020-06-01"), None, None, None]
    assert "28 days" in methods["RCHSDT"]
    shorter = ExDateRule(variable="RCHSDT", rule="first_after_gap", gap_days=14,
                         anchor="RANDDT")
    adsl, _, _ = derive(gist_sdtm(), gist_settings(shorter))
    assert col(adsl, "RCHSDT") == [T("2020-06-01"), None, None, T("2020-01-25")]
    ten = ExDateRule(variable="RCHSDT", rule="first_after_gap", gap_days=10, anchor="RANDDT")
    adsl, _, _ = derive(gist_sdtm(), gist_settings(ten))
    assert col(adsl, "RCHSDT") == [T("2020-06-01"), None, T("2020-01-20"), T("2020-01-25")]
    only_stop = ExDateRule(variable="RCHSDT", rule="first_after_gap", gap_days=10,
                           anchor="RANDDT", armcd=["CONT"])
    adsl, _, _ = derive(gist_sdtm(), gist_settings(only_stop))
    assert adsl["RCHSDT"].isna().all()


def test_reintroduction_by_matching_record():
    rule = ExDateRule(variable="RCHSDT", rule="first_matching", where={"EPOCH": "rechallenge"})
    adsl, _, _ = derive(gist_sdtm(), gist_settings(rule))
    assert col(adsl, "RCHSDT") == [T("2020-06-01"), None, None, None]


def test_baseline_tumours_keep_the_evaluator_case_blind_and_records_without_one():
    tu = pd.DataFrame({
        "USUBJID": pd.array(["S-1", "S-1", "S-1", "S-2"], dtype="string"),
        "TUEVAL": pd.array(["Investigator", "INDEPENDENT ASSESSOR", None, "INVESTIGATOR"],
                           dtype="string"),
        "VISIT": pd.array(["BASELINE"] * 4, dtype="string"),
        "TUSTRESC": pd.array(["target", "TARGET", "NON-TARGET", "NEW"], dtype="string"),
        "TUSEQ": [1.0, 2.0, 3.0, 1.0]})
    adsl = pd.DataFrame({"USUBJID": pd.array(["S-1", "S-2"], dtype="string"),
                         "TRTSDT": pd.to_datetime(["2020-01-01", "2020-01-01"])})
    settings = AdamSettings.model_validate({"adsl": {"baseline": {"by_date": False}}})
    got = baseline_tumour_records({"TU": tu}, adsl, settings, "TRTSDT", Findings())
    assert got["SEQ"].tolist() == [1.0, 3.0, 1.0]
    assert got["TUSTRESC"].tolist() == ["TARGET", "NON-TARGET", "NEW"]
