"""ADSL variables taken by record position instead of looked up by USUBJID: treatment
dates as running extremes, the first/last dose record, DM variables of a repeated USUBJID,
DTHCAUS from the earliest source record, and one parse of a --DTC column for its dates and
datetimes. Every expected value is worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.adam.adsl import _dose_record, _extreme_dates, derive_adsl
from cdiscmap.adam.dates import impute_dtc, impute_dtm, impute_dtm_times
from cdiscmap.adam.settings import AdamSettings, AdslSettings, DateSource
from cdiscmap.findings import Findings

NAT = np.datetime64("NaT", "ns")


def d(text: str) -> np.datetime64:
    return np.datetime64(text, "ns")


def test_extreme_dates_by_adsl_record() -> None:
    # records of ADSL records 0, 1, 0, none, 1, 0; record 1's dates are all missing
    subject = np.array([0, 1, 0, -1, 1, 0])
    dates = pd.Series(np.array([d("2020-01-05"), NAT, d("2020-01-03"), d("2019-01-01"), NAT,
                                d("2020-02-01")]))
    earliest = _extreme_dates(subject, dates, 3, latest=False)
    latest = _extreme_dates(subject, dates, 3, latest=True)
    assert earliest.tolist() == pd.Series([d("2020-01-03"), NAT, NAT]).to_numpy().tolist()
    assert latest.tolist() == pd.Series([d("2020-02-01"), NAT, NAT]).to_numpy().tolist()


def test_dose_record_first_and_last() -> None:
    # ADSL record 0: rows 0 and 1 at 10:00 (EXSEQ 2 and 1), row 2 at 08:00 without EXSEQ;
    # ADSL record 1: rows 3 and 4 tie on time and EXSEQ; row 5 has no time; row 6 no subject
    subject = np.array([0, 0, 0, 1, 1, 1, -1])
    stamps = np.array([d("2021-01-01T10:00"), d("2021-01-01T10:00"), d("2021-01-01T08:00"),
                       d("2021-02-01"), d("2021-02-01"), NAT, d("2030-01-01")])
    seq = np.array([2.0, 1.0, np.nan, 1.0, 1.0, 9.0, 1.0])
    # first: earliest time (row 2); record 1: the tie's first row (3); record 2: none
    assert _dose_record(subject, stamps, seq, 3, last=False).tolist() == [2, 3, -1]
    # last: latest time, then highest EXSEQ (row 0); the tie's last row (4)
    assert _dose_record(subject, stamps, seq, 3, last=True).tolist() == [0, 4, -1]


def test_dose_record_missing_seq_sorts_last() -> None:
    # one subject, one time: EXSEQ 1 then missing (sorted last): first row 1, last row 0
    subject = np.array([0, 0])
    stamps = np.array([d("2021-01-01"), d("2021-01-01")])
    seq = np.array([np.nan, 1.0])
    assert _dose_record(subject, stamps, seq, 1, last=False).tolist() == [1]
    assert _dose_record(subject, stamps, seq, 1, last=True).tolist() == [0]


def test_impute_dtm_times_as_separate_calls() -> None:
    dtc = pd.Series(["2021-03-01T09", "2021-03", None, "2021-03-01T09", "bad", "2021-04-02"],
                    dtype="string", index=[10, 11, 12, 13, 14, 15])
    dates, (first, last) = impute_dtm_times(dtc, "D", "first", ("first", "last"))
    # by hand: day imputed to 01 for 2021-03 (flag D, time flag H); "bad" is invalid
    assert dates.dates.tolist() == [pd.Timestamp("2021-03-01"), pd.Timestamp("2021-03-01"),
                                    pd.NaT, pd.Timestamp("2021-03-01"), pd.NaT,
                                    pd.Timestamp("2021-04-02")]
    assert dates.flag.tolist() == [pd.NA, "D", pd.NA, pd.NA, pd.NA, pd.NA]
    assert dates.invalid.tolist() == [False, False, False, False, True, False]
    assert first.datetimes.tolist()[:2] == [pd.Timestamp("2021-03-01T09:00:00"),
                                            pd.Timestamp("2021-03-01T00:00:00")]
    assert last.datetimes.tolist()[:2] == [pd.Timestamp("2021-03-01T09:59:59"),
                                           pd.Timestamp("2021-03-01T23:59:59")]
    assert last.time_flag.tolist() == ["M", "H", pd.NA, "M", pd.NA, "H"]
    # the same as one call each
    once = impute_dtc(dtc, "D", "first")
    pd.testing.assert_series_equal(dates.dates, once.dates)
    pd.testing.assert_series_equal(dates.flag, once.flag)
    pd.testing.assert_series_equal(dates.invalid, once.invalid)
    for time, made in (("first", first), ("last", last)):
        alone = impute_dtm(dtc, "D", "first", time)
        for name in ("datetimes", "date_flag", "time_flag", "invalid"):
            pd.testing.assert_series_equal(getattr(made, name), getattr(alone, name))


def _sdtm() -> dict[str, pd.DataFrame]:
    def s(values: list) -> pd.Series:
        return pd.Series(values, dtype="string")

    # DM lists X-2 twice (the first record counts); X-9 has DS records but no DM record
    dm = pd.DataFrame({
        "STUDYID": s(["X"] * 4), "USUBJID": s(["X-2", "X-1", "X-2", "X-3"]),
        "ARM": s(["B", "A", "Z", "C"]), "ACTARM": s(["B", "A", "Z", "C"]),
        "RFICDTC": s(["2020-01-02", "2020-01-01", "2020-09-09", "2020-01"]),
        "DTHDTC": s(["2021-05", None, "2021-01-01", "2021-06-01"]),
        "DTHFL": s([None, "y", "Y", None]),
    })
    # DS death records: X-1 undated first, then two dated (the earliest, 2021-02-01, wins
    # over the undated one); X-3 two records on one date (record order decides)
    ds = pd.DataFrame({
        "USUBJID": s(["X-1", "X-1", "X-9", "X-3", "X-1", "X-3"]),
        "DSDECOD": s(["DEATH"] * 6),
        "DSTERM": s(["UNDATED", "LATER", "NOT IN DM", "FIRST ROW", "EARLIEST", "SECOND ROW"]),
        "DSSTDTC": s([None, "2021-03-01", "2021-01-01", "2021-06-01", "2021-02-01",
                      "2021-06-01"]),
    })
    return {"DM": dm, "DS": ds}


def test_dm_variables_death_and_cause_by_position() -> None:
    settings = AdamSettings(adsl=AdslSettings(
        death_imputation="D", last_alive_sources=[DateSource(dataset="DM", date="DTHDTC")],
        death_cause_sources=[DateSource(dataset="DS", date="DSSTDTC",
                                        where={"DSDECOD": "DEATH"}, value="DSTERM")]))
    found = Findings()
    adsl = derive_adsl(_sdtm(), settings, found, {}).adsl.set_index("USUBJID")
    assert list(adsl.index) == ["X-1", "X-2", "X-3"]
    # X-2's first DM record: ARM B, RFICDTC 2020-01-02, DTHDTC 2021-05 (day imputed)
    assert adsl["TRT01P"].tolist() == ["A", "B", "C"]
    assert adsl["RFICDT"].tolist() == [pd.Timestamp("2020-01-01"), pd.Timestamp("2020-01-02"),
                                       pd.NaT]
    assert adsl["DTHDT"].tolist() == [pd.NaT, pd.Timestamp("2021-05-01"),
                                      pd.Timestamp("2021-06-01")]
    assert adsl["DTHDTF"].tolist() == [pd.NA, "D", pd.NA]
    # DTHFL "y" (upper-cased); X-2: its first record's DTHDT; X-3: DTHDTC
    assert adsl["DTHFL"].tolist() == ["Y", "Y", "Y"]
    assert adsl["DTHCAUS"].tolist() == ["EARLIEST", pd.NA, "FIRST ROW"]
    assert adsl["DTHDOM"].tolist() == ["DS", pd.NA, "DS"]


def _more_sdtm() -> dict[str, pd.DataFrame]:
    def s(values: list) -> pd.Series:
        return pd.Series(values, dtype="string")

    dm = pd.DataFrame({
        "STUDYID": s(["X"] * 3), "USUBJID": s(["X-1", "X-2", "X-3"]),
        "ARM": s(["A"] * 3), "ACTARM": s(["A"] * 3),
        "COUNTRY": s([" usa", "FRA", None]), "RFICDTC": s(["2020-01-01"] * 3),
    })
    # QNAM written " cohort" (trimmed, upper-cased: COHORT); X-1 has COHORT twice (the
    # first counts; the finding shows COHORT); an AE-domain record and X-9 (not in DM)
    supp = pd.DataFrame({
        "RDOMAIN": s(["DM", "DM", "DM", "AE", "DM", "DM"]),
        "USUBJID": s(["X-1", "X-1", "X-2", "X-3", "X-9", "X-2"]),
        "QNAM": s([" cohort", "COHORT", "COHORT", "COHORT", "COHORT", "PATHOL"]),
        "QVAL": s(["1", "2", "3", "4", "5", "NSCLC"]),
    })
    # undated COMPLETED record last in the file but sorted first (undated first), so
    # the dated DISCONTINUED one decides; X-2: two records on one date, the later row wins;
    # a screen failure then an undated completion (the failure is its last dated one)
    ds = pd.DataFrame({
        "USUBJID": s(["X-1", "X-2", "X-2", "X-3", "X-3", "X-1"]),
        "DSCAT": s(["DISPOSITION EVENT"] * 6),
        "DSSCAT": s(["STUDY PARTICIPATION"] * 6),
        "DSDECOD": s(["ADVERSE EVENT", "COMPLETED", "lost to follow-up", "SCREEN FAILURE",
                      "COMPLETED", "COMPLETED"]),
        "DSSTDTC": s(["2021-01-10", "2021-02-01", "2021-02-01", "2020-01-05", None, None]),
        "DSTERM": s(["AE", "DONE", "LOST", "FAILED", "DONE", "DONE"]),
    })
    # TU: X-1 baseline by VISIT; X-2 by date (on/before TRTSDT 2021-01-01), and a later
    # record; X-3 never dosed: its reference date (ENRLDT) is not derived, no baseline by
    # date; an independent reader's record is left out
    tu = pd.DataFrame({
        "USUBJID": s(["X-1", "X-2", "X-2", "X-3", "X-1"]),
        "TUSEQ": [1.0, 1.0, 2.0, 1.0, 2.0],
        "TUEVAL": s(["INVESTIGATOR", "investigator", "INVESTIGATOR", None,
                     "INDEPENDENT ASSESSOR"]),
        "TUSTRESC": s(["target", "NON-TARGET", "TARGET", "TARGET", "TARGET"]),
        "VISIT": s(["SCREENING", "CYCLE 1", "CYCLE 2", "WEEK 8", "BASELINE"]),
        "TUDTC": s(["2020-12-01", "2021-01-01", "2021-02-01", "2021-01-01", "2020-12-01"]),
    })
    ex = pd.DataFrame({
        "USUBJID": s(["X-1", "X-2"]), "EXTRT": s(["DRUG"] * 2), "EXDOSE": [100.0, 100.0],
        "EXSTDTC": s(["2021-01-05", "2021-01-01"]), "EXENDTC": s(["2021-02-01"] * 2),
    })
    return {"DM": dm, "SUPPDM": supp, "DS": ds, "TU": tu, "EX": ex}


def test_cohorts_end_of_study_groupings_and_baseline() -> None:
    settings = AdamSettings(adsl=AdslSettings(
        cohort_variables=["COHORT", "PATHOL", "GENALT"],
        last_alive_sources=[DateSource(dataset="DS", date="DSSTDTC")]))
    found = Findings()
    result = derive_adsl(_more_sdtm(), settings, found, {})
    adsl = result.adsl.set_index("USUBJID")
    assert adsl["COHORT"].tolist() == ["1", "3", pd.NA]
    assert adsl["PATHOL"].tolist() == [pd.NA, "NSCLC", pd.NA]
    repeated = [f for f in found if f.rule == "CMAP-AD0011"]
    assert [(f.usubjid, f.value) for f in repeated] == [("X-1", "COHORT")]
    assert [f.variable for f in found if f.rule == "CMAP-AD0006"] == ["GENALT"]
    assert adsl["EOSSTT"].tolist() == ["DISCONTINUED", "DISCONTINUED", pd.NA]
    assert adsl["DCSREAS"].tolist() == ["ADVERSE EVENT", "LOST TO FOLLOW-UP", pd.NA]
    assert adsl["EOSDT"].tolist() == [pd.Timestamp("2021-01-10"), pd.Timestamp("2021-02-01"),
                                      pd.NaT]
    assert adsl["SCRFDT"].tolist() == [pd.NaT, pd.NaT, pd.Timestamp("2020-01-05")]
    # REGION1 by the trimmed upper-case COUNTRY (" usa" is USA); a missing one is Missing
    assert adsl["REGION1"].tolist() == ["North America", "Rest of the World", "Missing"]
    assert adsl["REGION1N"].tolist()[:2] == [1.0, 2.0]
    assert np.isnan(adsl["REGION1N"].iloc[2])
    base = result.baseline_tumours
    assert base["USUBJID"].tolist() == ["X-1", "X-2"]
    assert base["TUSTRESC"].tolist() == ["TARGET", "NON-TARGET"]
    assert base["SEQ"].tolist() == [1.0, 1.0]
