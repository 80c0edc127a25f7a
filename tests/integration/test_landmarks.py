"""Landmark endpoints of the basket demo against the synthetic generator's truth (issue 11 §3).

The protocol counts "response after 2 cycles" (week 8) and disease control at the end of cycles 2
and 4 (weeks 8, 16) from the first dose; scans are planned every 8 weeks from it. The truth is
read from the generator's files only: ``truth/timepoints.csv`` (every assessment with its visit
label and the response the investigator wrote) and ``truth/subjects.csv``. A subject is a
responder at week W when the investigator's response of the scan planned for week W (VISIT
"Week W") is in the wanted set; no such scan → not a responder. Rates are over EFFFL = Y, the
protocol's "evaluable for response" denominator.
"""

from __future__ import annotations

import pandas as pd
import pyreadstat
import pytest

from cdiscmap.adam import derive_all, load_adam_settings, read_sdtm
from cdiscmap.adam.settings import Landmark
from cdiscmap.pipeline.run import RunOptions, default_study_dir, run_study
from cdiscmap.synth import generate

SUBJECTS = 150
SEED = 20140701
RESPONSE = ["CR", "PR"]
CONTROL = ["CR", "PR", "SD", "NON-CR/NON-PD"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("landmarks")
    generate("crizotinib-basket", root / "export", n_subjects=SUBJECTS, seed=SEED)
    result = run_study(RunOptions(study_dir=default_study_dir(), raw_dir=root / "export" / "raw",
                                  out_root=root / "out"))
    adrs, _ = pyreadstat.read_xport(result.out_dir / "adam" / "adrs.xpt")
    adsl, _ = pyreadstat.read_xport(result.out_dir / "adam" / "adsl.xpt")
    truth = root / "export" / "truth"
    timepoints = pd.read_csv(truth / "timepoints.csv", dtype=str, keep_default_na=False)
    subjects = pd.read_csv(truth / "subjects.csv", dtype=str, keep_default_na=False)
    return result, adrs, adsl, timepoints, subjects


def _usubjid(subject: pd.Series) -> pd.Series:
    return "CRZBASKET-" + subject


def _truth(timepoints: pd.DataFrame, week: int, wanted: list[str]) -> set[str]:
    scan = timepoints.loc[timepoints["VISIT"] == f"Week {week}"]
    return set(_usubjid(scan.loc[scan["INVESTIGATOR"].isin(wanted), "SUBJECT"]))


def _yes(adrs: pd.DataFrame, paramcd: str) -> set[str]:
    rows = adrs.loc[adrs["PARAMCD"] == paramcd]
    assert len(rows) == SUBJECTS                       # one record per ADSL subject
    return set(rows.loc[rows["AVALC"] == "Y", "USUBJID"])


def _rate(yes: set[str], evaluable: set[str]) -> float:
    return round(100 * len(yes & evaluable) / len(evaluable), 1)


@pytest.mark.parametrize(("paramcd", "week", "wanted"), [
    ("RSP8W", 8, RESPONSE), ("DCR8W", 8, CONTROL), ("DCR16W", 16, CONTROL)])
def test_demo_landmarks_equal_generator_truth(demo, paramcd, week, wanted):
    _, adrs, adsl, timepoints, _ = demo
    want = _truth(timepoints, week, wanted)
    assert want                                       # the truth is not trivially empty
    got = _yes(adrs, paramcd)
    assert got == want
    evaluable = set(adsl.loc[adsl["EFFFL"] == "Y", "USUBJID"])
    assert _rate(got, evaluable) == _rate(want, evaluable)


def test_demo_rates_are_the_protocols(demo):
    """The numbers of issue 11 §3: counted from registration ORR8W was 4.1 % and DCR8W 34.7 %;
    from the first dose (the protocol's cycles) they are the truth's 12.2 % and 66.7 %."""
    _, adrs, adsl, timepoints, _ = demo
    evaluable = set(adsl.loc[adsl["EFFFL"] == "Y", "USUBJID"])
    assert len(evaluable) == 147
    assert _rate(_truth(timepoints, 8, RESPONSE), evaluable) == 12.2
    assert _rate(_truth(timepoints, 8, CONTROL), evaluable) == 66.7
    assert _rate(_yes(adrs, "RSP8W"), evaluable) == 12.2
    assert _rate(_yes(adrs, "DCR8W"), evaluable) == 66.7


def test_scans_follow_the_first_dose_not_registration(demo):
    """Why the reference date matters: the week-8 scans sit within 56 ± 7 days of the first
    dose, while many fall outside 56 ± 7 days of registration (the old, wrong window)."""
    _, _, _, timepoints, subjects = demo
    week8 = timepoints.loc[timepoints["VISIT"] == "Week 8"].merge(subjects, on="SUBJECT")
    date = pd.to_datetime(week8["DATE"])
    from_dose = (date - pd.to_datetime(week8["FIRST_DOSE_DATE"])).dt.days
    from_reg = (date - pd.to_datetime(week8["REG_DATE"])).dt.days
    assert from_dose.between(49, 63).all()
    assert (~from_reg.between(49, 63)).sum() > len(week8) / 3


def test_orr_at_16_weeks_from_settings(demo):
    """A study adds ORR at week 16 in settings only; it equals the truth as well."""
    result, _, _, timepoints, _ = demo
    settings = load_adam_settings(default_study_dir())
    main = settings.adrs.analyses[0]
    extra = Landmark(paramcd="RSP16W", param="Objective Response (CR/PR) at Week 16",
                     reference_date="TRTSDT", weeks=16, responses=RESPONSE)
    analyses = [main.model_copy(update={"landmarks": [*main.landmarks, extra]})]
    settings = settings.model_copy(update={"adrs": settings.adrs.model_copy(
        update={"analyses": analyses})})
    adrs = derive_all(read_sdtm(result.out_dir / "sdtm"), settings).datasets["ADRS"]
    want = _truth(timepoints, 16, RESPONSE)
    assert want
    assert set(adrs.loc[(adrs["PARAMCD"] == "RSP16W") & (adrs["AVALC"] == "Y"), "USUBJID"]) \
        == want
