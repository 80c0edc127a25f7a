"""Trial design of the bundled studies (study.yaml only, no run) and SV visit names from TV.

- crizotinib-basket is a basket trial: each of its 23 cohorts is an Arm (SDTMIG 3.4 §7.2.1),
  with the ARMCD/ARM DM assigns from the cohort number (study codelists ARMCD/ARM).
- Every bundled study with a visit schedule plans its visits (TV) with the VISIT names its
  visit rules give; the literature case series has no visit schedule.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.resources import studies_root
from cdiscmap.sdtm.trial_design import build_se, build_sv
from cdiscmap.spec.design import TrialDesignSpec
from cdiscmap.spec.loader import load_study

ROOT = studies_root()


def _study(name: str):
    return load_study(ROOT / name).study


def test_basket_cohorts_are_the_arms() -> None:
    study = _study("crizotinib-basket")
    arms = study.trial_design.arms
    assert len(arms) == 23
    armcd, arm = study.codelists["ARMCD"].map, study.codelists["ARM"].map
    # cohort n (the raw COHORT value DM maps) -> the arm of TA, in cohort order
    assert [(a.armcd, a.arm) for a in arms] == [(armcd[str(n)], arm[str(n)])
                                               for n in range(1, 24)]
    assert arms[0].armcd == "C01" and arms[22].armcd == "C23"
    assert arms[15].arm == "Crizotinib, cohort 16: IMT, ALK translocation"
    # every cohort: screening, crizotinib, follow-up in the SCREENING/TREATMENT/FOLLOW-UP epochs
    assert {tuple((e.etcd, e.epoch) for e in a.elements) for a in arms} == {
        (("SCRN", "SCREENING"), ("CRZ", "TREATMENT"), ("FU", "FOLLOW-UP"))}
    # TS NARMS agrees with TA
    narms = [e.value for e in study.trial_summary if e.parmcd == "NARMS"]
    assert narms == ["23"]


@pytest.mark.parametrize(("name", "first", "last", "count"), [
    # baseline + WEEK 4 .. WEEK 284 every 4 weeks (accrual 2014-07-01, cut-off 2019-12-31)
    ("crizotinib-basket", (0.0, "BASELINE", None), (284.0, "WEEK 284", 1989.0), 1 + 71),
    # baseline + tumour weeks 8..272 (every 8) and QLQ-C30 weeks 12..276 (every 12), 11 shared
    ("gist-imatinib", (0.0, "BASELINE", None), (276.0, "WEEK 276", 1933.0), 1 + 34 + 23 - 11),
    # screening + day 1 of cycles 1..40 (28-day cycles)
    ("imt-pediatric", (0.0, "SCREENING", None), (40.0, "CYCLE 40 DAY 1", 1093.0), 41),
    ("imt-edc", (0.0, "SCREENING", None), (40.0, "CYCLE 40 DAY 1", 1093.0), 41),
    ("imt-odm", (0.0, "SCREENING", None), (40.0, "CYCLE 40 DAY 1", 1093.0), 41),
])
def test_planned_visits(name: str, first: tuple, last: tuple, count: int) -> None:
    visits = _study(name).trial_design.visits
    rows = [(v.visitnum, v.visit, v.visitdy) for v in visits]
    assert len(rows) == count
    assert rows[0] == first and rows[-1] == last
    assert [r[0] for r in rows] == sorted({r[0] for r in rows})      # unique, ascending


def test_case_series_has_no_visit_schedule() -> None:
    study = _study("alk-sarcoma-cases")
    assert study.trial_design is None or not study.trial_design.visits


def test_one_data_cutoff_per_bundled_study() -> None:
    dates = {}
    for name in ("crizotinib-basket", "gist-imatinib", "imt-pediatric", "imt-edc", "imt-odm",
                 "alk-sarcoma-cases"):
        study = _study(name)
        ts = {e.parmcd: e.derive for e in study.trial_summary}
        assert ts["DCUTDTC"] == "DCUTDTC" and ts["DCUTDESC"] == "DCUTDESC", name
        dates[name] = study.data_cutoff.date.isoformat()
    assert dates == {"crizotinib-basket": "2019-12-31", "gist-imatinib": "2025-06-30",
                     "imt-pediatric": "2021-03-01", "imt-edc": "2021-03-01",
                     "imt-odm": "2021-03-01", "alk-sarcoma-cases": "2021-08-22"}


def test_sv_names_a_planned_visit_as_tv_does() -> None:
    design = TrialDesignSpec.model_validate({"visits": [
        {"visitnum": 0, "visit": "SCREENING", "start": "Consent"},
        {"visitnum": 1, "visit": "CYCLE 1 DAY 1", "visitdy": 1, "start": "First dose"}]})
    # IE calls visit 0 BASELINE and dates it first; an unscheduled 1.01 keeps its own name
    ie = pd.DataFrame({"USUBJID": ["S1"], "VISITNUM": [0.0], "VISIT": ["BASELINE"],
                       "IEDTC": ["2024-01-01"]})
    lb = pd.DataFrame({"USUBJID": ["S1", "S1", "S1"], "VISITNUM": [0.0, 1.0, 1.01],
                       "VISIT": ["SCREENING", "CYCLE 1 DAY 1", "UNSCHEDULED"],
                       "LBDTC": ["2024-01-02", "2024-01-10", "2024-01-20"]})
    sv = build_sv(design, "S", {"IE": ie, "LB": lb})
    assert list(zip(sv["VISITNUM"], sv["VISIT"], sv["SVPRESP"].astype(object).where(
        sv["SVPRESP"].notna(), None), sv["SVSTDTC"], sv["SVENDTC"], strict=True)) == [
        (0.0, "SCREENING", "Y", "2024-01-01", "2024-01-02"),
        (1.0, "CYCLE 1 DAY 1", "Y", "2024-01-10", "2024-01-10"),
        (1.01, "UNSCHEDULED", None, "2024-01-20", "2024-01-20")]


def test_sv_orders_subjects_visits_and_dates_as_text_and_takes_the_first_visit_name() -> None:
    """Unplanned visits keep the first non-missing VISIT of their records in date order;
    subjects come in text order (S10 before S2), visits by number; the start/end are the
    first/last date part over all domains, a time of day only ordering records of one day."""
    ae = pd.DataFrame({"USUBJID": ["S2", "S10", "S2", "S2"],
                       "VISITNUM": [3.0, 3.0, 1.0, 3.0],
                       "VISIT": [None, "V3 (S10)", "V1", "LATE NAME"],
                       "AESTDTC": ["2024-02-01T10:00", "2024-03-05", "2024-01-02", "2024-02-09"]})
    lb = pd.DataFrame({"USUBJID": ["S2", "S2", None], "VISITNUM": [3.0, 1.0, 1.0],
                       "VISIT": ["EARLY NAME", None, "NO SUBJECT"],
                       "LBDTC": ["2024-02-01T08:00", None, "2024-01-01"]})
    sv = build_sv(TrialDesignSpec.model_validate({"visits": [
        {"visitnum": 0, "visit": "SCREENING", "start": "Consent"}]}), "S", {"AE": ae, "LB": lb})
    assert list(zip(sv["USUBJID"], sv["VISITNUM"], sv["VISIT"], sv["SVSTDTC"], sv["SVENDTC"],
                    strict=True)) == [
        ("S10", 3.0, "V3 (S10)", "2024-03-05", "2024-03-05"),
        ("S2", 1.0, "V1", "2024-01-02", "2024-01-02"),
        # LB's 08:00 record comes before AE's 10:00 one of the same day: its name is first
        ("S2", 3.0, "EARLY NAME", "2024-02-01", "2024-02-09")]


def test_se_element_starting_after_its_end_is_not_entered() -> None:
    """GIST's shape: follow-up starts at RFENDTC, which for a subject still treated is the data
    cut-off (2024-06-30), after the last contact RFPENDTC (06-21) that ends follow-up."""
    design = TrialDesignSpec.model_validate({
        "elements": [
            {"etcd": "SCRN", "element": "Screening", "start": "Consent",
             "start_date": "RFICDTC", "end_date": "RFPENDTC"},
            {"etcd": "TRT", "element": "Treatment", "start": "Randomization",
             "start_date": "RFSTDTC"},
            {"etcd": "FU", "element": "Follow-up", "start": "End of treatment",
             "start_date": "RFENDTC", "end_date": "RFPENDTC"}],
        "arms": [{"armcd": "A", "arm": "Arm A", "elements": [
            {"etcd": "SCRN", "epoch": "SCREENING"}, {"etcd": "TRT", "epoch": "TREATMENT"},
            {"etcd": "FU", "epoch": "FOLLOW-UP"}]}]})
    dm = pd.DataFrame({"USUBJID": ["S-1", "S-2"], "ARMCD": ["A", "A"],
                       "RFICDTC": ["2024-01-01", "2024-01-05"],
                       "RFSTDTC": ["2024-01-10", "2024-01-15"],
                       "RFENDTC": ["2024-03-01", "2024-06-30"],
                       "RFPENDTC": ["2024-04-01", "2024-06-21"]})
    se = build_se(design, "S", dm)
    rows = [tuple(None if pd.isna(v) else v for v in r) for r in
            se[["USUBJID", "ETCD", "SESTDTC", "SEENDTC"]].itertuples(index=False)]
    assert rows == [("S-1", "SCRN", "2024-01-01", "2024-01-10"),
                    ("S-1", "TRT", "2024-01-10", "2024-03-01"),
                    ("S-1", "FU", "2024-03-01", "2024-04-01"),
                    ("S-2", "SCRN", "2024-01-05", "2024-01-15"),
                    ("S-2", "TRT", "2024-01-15", None)]       # still treated: no follow-up


_SUBJECTS = st.sampled_from(["S1", "S2", "S10", None])
_VISITNUMS = st.sampled_from([1.0, 2.0, 2.5, None])
_VISITS = st.sampled_from(["A", "B", "", None])
_DATES = st.sampled_from(["2024-01-02", "2024-01-02T08:00", "2024-01-02T07:00", "2024-01-05",
                          "2023-12-31", "2024-01", None])


@st.composite
def _records(draw, dtc: str) -> pd.DataFrame:
    n = draw(st.integers(0, 25))
    return pd.DataFrame({"USUBJID": pd.array(draw(st.lists(_SUBJECTS, min_size=n, max_size=n)),
                                             dtype="string"),
                         "VISITNUM": draw(st.lists(_VISITNUMS, min_size=n, max_size=n)),
                         "VISIT": pd.array(draw(st.lists(_VISITS, min_size=n, max_size=n)),
                                           dtype="string"),
                         dtc: pd.array(draw(st.lists(_DATES, min_size=n, max_size=n)),
                                       dtype="string")}).astype({"VISITNUM": "float64"})


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_sv_bounds_equal_a_stable_sort_and_groupby_of_every_record(data) -> None:
    """SV keeps many repeated records of a visit (a lab panel) once before ordering: the
    result must be that of a stable sort of all records by subject, visit number, date part
    and date, grouped for the first non-missing VISIT and the first/last date part."""
    domains = {"AE": data.draw(_records("AESTDTC")), "LB": data.draw(_records("LBDTC"))}
    sv = build_sv(TrialDesignSpec.model_validate({"visits": [
        {"visitnum": 1, "visit": "ONE", "start": "Consent"}]}), "S", domains)
    rows = pd.concat([pd.DataFrame({"USUBJID": f["USUBJID"].astype(object),
                                    "VISITNUM": f["VISITNUM"],
                                    "VISIT": f["VISIT"].astype(object),
                                    "DTC": f[dtc].astype(object)})
                      for f, dtc in ((domains["AE"], "AESTDTC"), (domains["LB"], "LBDTC"))],
                     ignore_index=True)
    rows = rows[rows["USUBJID"].notna() & rows["VISITNUM"].notna() & rows["DTC"].notna()]
    if rows.empty:
        assert sv is None
        return
    rows = rows.assign(DAY=rows["DTC"].str.slice(0, 10)).sort_values(
        ["USUBJID", "VISITNUM", "DAY", "DTC"], kind="stable")
    rows["VISIT"] = rows["VISIT"].where(rows["VISIT"].notna(), None)
    expected = rows.groupby(["USUBJID", "VISITNUM"], sort=True).agg(
        VISIT=("VISIT", "first"), START=("DAY", "first"), END=("DAY", "last")).reset_index()
    planned_name = expected["VISIT"].where(expected["VISITNUM"] != 1.0, "ONE")
    got = sv.astype(object).where(sv.notna(), None)
    assert list(zip(got["USUBJID"], got["VISITNUM"], got["VISIT"], got["SVSTDTC"],
                    got["SVENDTC"], strict=True)) == list(zip(
        expected["USUBJID"], expected["VISITNUM"],
        planned_name.where(planned_name.notna(), None), expected["START"], expected["END"],
        strict=True))


def test_se_element_starting_on_the_day_it_ends_is_entered() -> None:
    """Only the date parts are compared: a start at 10:00 on the end's day is not after it;
    partial dates decide nothing (the element is entered)."""
    design = TrialDesignSpec.model_validate({
        "elements": [
            {"etcd": "SCRN", "element": "Screening", "start": "Consent",
             "start_date": "RFICDTC"},
            {"etcd": "FU", "element": "Follow-up", "start": "End of treatment",
             "start_date": "RFENDTC", "end_date": "RFPENDTC"}],
        "arms": [{"armcd": "A", "arm": "Arm A", "elements": [
            {"etcd": "SCRN", "epoch": "SCREENING"}, {"etcd": "FU", "epoch": "FOLLOW-UP"}]}]})
    dm = pd.DataFrame({"USUBJID": ["S-0", "S-1", "S-2", "S-3"], "ARMCD": ["A"] * 4,
                       "RFICDTC": ["2024-01-01"] * 4,
                       "RFENDTC": ["2024-03-01", "2024-03-01T10:00", "2024-03-02", "2024-04"],
                       "RFPENDTC": ["2024-03-05", "2024-03-01", "2024-03-01T23:00",
                                    "2024-03-01"]})
    se = build_se(design, "S", dm)
    # S-2's follow-up would start the day after it ends: not entered
    assert list(se.loc[se["ETCD"] == "FU", "USUBJID"]) == ["S-0", "S-1", "S-3"]


_SE_DESIGN = TrialDesignSpec.model_validate({
    "elements": [
        {"etcd": "SCRN", "element": "Screening", "start": "Consent",
         "start_date": "RFICDTC", "end_date": "RFPENDTC"},
        {"etcd": "TRTA", "element": "Drug A", "start": "First dose", "start_date": "RFSTDTC"},
        {"etcd": "TRTB", "element": "Drug B", "start": "First dose", "start_date": "RFSTDTC"},
        {"etcd": "FU", "element": "Follow-up", "start": "Last dose",
         "start_date": "RFENDTC", "end_date": "RFPENDTC"}],
    "arms": [
        {"armcd": "A", "arm": "Arm A", "elements": [
            {"etcd": "SCRN", "epoch": "SCREENING"}, {"etcd": "TRTA", "epoch": "TREATMENT"},
            {"etcd": "FU", "epoch": "FOLLOW-UP"}]},
        {"armcd": "B", "arm": "Arm B", "elements": [
            {"etcd": "SCRN", "epoch": "SCREENING"}, {"etcd": "TRTB", "epoch": "TREATMENT"}]}]})


def test_se_subjects_in_text_order_first_record_and_unplanned_arm() -> None:
    """Subjects in USUBJID text order (S10 before S2) whatever DM's order; a subject's first
    DM record gives its arm and dates (S2's second record is not read); an ARMCD no arm
    plans (screen failure S3) enters only the elements every arm starts with. Study days from
    RFSTDTC: 2024-01-02 is day -4 of 01-06 (no day 0), 03-02 is day 57 (2024 is a leap year)."""
    dm = pd.DataFrame({
        "USUBJID": ["S2", "S10", "S2", "S3"], "ARMCD": ["B", "A", "A", "SCRNFAIL"],
        "RFICDTC": ["2024-01-01", "2024-01-02", "2023-01-01", "2024-01-03"],
        "RFSTDTC": ["2024-01-05", "2024-01-06", "2023-01-05", None],
        "RFENDTC": ["2024-02-01", "2024-02-02", "2023-02-01", None],
        "RFPENDTC": [None, "2024-03-02", "2023-03-01", "2024-01-04"]})
    se = build_se(_SE_DESIGN, "S", dm)
    got = [tuple(None if pd.isna(v) else v for v in r) for r in se[[
        "USUBJID", "SESEQ", "ETCD", "EPOCH", "TAETORD", "SESTDTC", "SEENDTC", "SESTDY",
        "SEENDY"]].itertuples(index=False)]
    assert got == [
        ("S10", 1.0, "SCRN", "SCREENING", 1.0, "2024-01-02", "2024-01-06", -4.0, 1.0),
        ("S10", 2.0, "TRTA", "TREATMENT", 2.0, "2024-01-06", "2024-02-02", 1.0, 28.0),
        ("S10", 3.0, "FU", "FOLLOW-UP", 3.0, "2024-02-02", "2024-03-02", 28.0, 57.0),
        ("S2", 1.0, "SCRN", "SCREENING", 1.0, "2024-01-01", "2024-01-05", -4.0, 1.0),
        ("S2", 2.0, "TRTB", "TREATMENT", 2.0, "2024-01-05", None, 1.0, None),
        ("S3", 1.0, "SCRN", "SCREENING", 1.0, "2024-01-03", "2024-01-04", None, None)]
    assert list(se.columns) == ["STUDYID", "DOMAIN", "USUBJID", "SESEQ", "ETCD", "ELEMENT",
                                "TAETORD", "EPOCH", "SESTDTC", "SEENDTC", "SESTDY", "SEENDY",
                                "_SRCFILE", "_SRCROW"]
    assert set(se["STUDYID"]) == {"S"} and set(se["DOMAIN"]) == {"SE"}
    assert list(se["ELEMENT"][:3]) == ["Screening", "Drug A", "Follow-up"]


def _se_by_joins(design: TrialDesignSpec, dm: pd.DataFrame) -> pd.DataFrame | None:
    """SE as joins of DM with the planned elements (the shape build_se had before it worked
    on arrays): the oracle of the property test below."""
    from cdiscmap.sdtm.dates import study_day
    from cdiscmap.sdtm.trial_design import _NO_ARM, _day_after, _subject_arm_elements

    planned = _subject_arm_elements(design)
    planned = planned[planned["_START"].notna()]
    subjects = dm.drop_duplicates("USUBJID")
    armcd = subjects["ARMCD"].astype(object)
    subjects = subjects.assign(_ARM=armcd.where(armcd.isin(set(planned["ARMCD"])), _NO_ARM))
    se = subjects[["USUBJID", "_ARM"]].merge(
        planned.rename(columns={"ARMCD": "_ARM"}).astype({"_ARM": object}), on="_ARM")
    date_vars = sorted({v for v in (*planned["_START"], *planned["_END"].dropna())
                        if v in dm.columns})
    long = subjects.melt(id_vars="USUBJID", value_vars=date_vars, var_name="_VAR",
                         value_name="_DTC")
    long = long[long["_DTC"].notna()]
    start = se.merge(long.rename(columns={"_VAR": "_START", "_DTC": "SESTDTC"}),
                     on=["USUBJID", "_START"], how="left")
    start = start.merge(long.rename(columns={"_VAR": "_END", "_DTC": "_ENDDTC"}),
                        on=["USUBJID", "_END"], how="left")
    start = start[start["SESTDTC"].notna()]
    start = start[~_day_after(start["SESTDTC"], start["_ENDDTC"])]
    start = start.sort_values(["USUBJID", "TAETORD"], kind="stable")
    if start.empty:
        return None
    nxt = start.groupby("USUBJID", sort=False)["SESTDTC"].shift(-1)
    start["SEENDTC"] = nxt.where(nxt.notna(), start["_ENDDTC"])
    start["SESEQ"] = (start.groupby("USUBJID", sort=False).cumcount() + 1).astype("float64")
    out = start.reset_index(drop=True)
    ref = out["USUBJID"].map(subjects[["USUBJID", "RFSTDTC"]].set_index("USUBJID")["RFSTDTC"])
    out["SESTDY"] = study_day(out["SESTDTC"], ref)
    out["SEENDY"] = study_day(out["SEENDTC"], ref)
    return out


_DM_DATES = st.sampled_from(["2024-01-02", "2024-01-02T08:00", "2024-01-05", "2023-12-31",
                             "2024-01", None])


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_se_equals_joins_of_dm_and_the_planned_elements(data) -> None:
    """Any DM (repeated and null USUBJID, unplanned or null ARMCD, partial or missing dates):
    the same records, values and order as the joins, sort and groupby of the planned
    elements and each subject's first DM record."""
    n = data.draw(st.integers(1, 12))

    def column(values: st.SearchStrategy) -> pd.arrays.StringArray:
        return pd.array(data.draw(st.lists(values, min_size=n, max_size=n)), dtype="string")

    dm = pd.DataFrame({
        "USUBJID": column(st.sampled_from(["S1", "S2", "S10", None])),
        "ARMCD": column(st.sampled_from(["A", "B", "X", None])),
        **{var: column(_DM_DATES) for var in ("RFICDTC", "RFSTDTC", "RFENDTC", "RFPENDTC")}})
    se = build_se(_SE_DESIGN, "S", dm)
    expected = _se_by_joins(_SE_DESIGN, dm)
    if expected is None:
        assert se is None
        return
    for col in ("USUBJID", "SESEQ", "ETCD", "ELEMENT", "TAETORD", "EPOCH", "SESTDTC",
                "SEENDTC", "SESTDY", "SEENDY"):
        assert [None if pd.isna(v) else v for v in se[col]] == \
            [None if pd.isna(v) else v for v in expected[col]], col
