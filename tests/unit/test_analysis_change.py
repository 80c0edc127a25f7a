"""Change from baseline (ADQS-like BDS) per group and visit on hand-made ADaM: every expected
number is worked out by hand from the rows below, not by the code under test."""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.analysis.change import change_table
from cdiscmap.analysis.settings import AnalysisSettings
from cdiscmap.errors import InputDataError

SETTINGS = AnalysisSettings.model_validate({
    "populations": {"itt": {"flag": "ITTFL"}},
    "groupings": {"arm": {"variable": "ARMCD"}},
    "change_from_baseline": [{"id": "t_qol", "title": "QoL", "population": "itt",
                              "grouping": "arm", "parameters": ["GHS", "FA"],
                              "visits": [12, 24]}],
})
SPEC = SETTINGS.change_from_baseline[0]

# in arm A; B-1 in arm B; X-1 not in the ITT population (its records count nowhere)
ADSL = pd.DataFrame({"STUDYID": "T", "USUBJID": ["A-1", "A-2", "B-1", "X-1"],
                     "ARMCD": ["A", "A", "B", "B"], "ITTFL": ["Y", "Y", "Y", "N"]})

_ROWS = [  # USUBJID, PARAMCD, PARAM, AVISITN, AVISIT, AVAL, BASE, CHG, ABLFL
    ("A-1", "GHS", "Global health", 0, "BASELINE", 50.0, 50.0, None, "Y"),
    ("A-1", "GHS", "Global health", 12, "WEEK 12", 60.0, 50.0, 10.0, None),
    ("A-1", "GHS", "Global health", 24, "WEEK 24", 45.0, 50.0, -5.0, None),
    ("A-2", "GHS", "Global health", 0, "BASELINE", 70.0, 70.0, None, "Y"),
    ("A-2", "GHS", "Global health", 12, "WEEK 12", 50.0, 70.0, -20.0, None),
    # A-2 misses week 24; a week 36 record is not among the visits shown
    ("A-2", "GHS", "Global health", 36, "WEEK 36", 80.0, 70.0, 10.0, None),
    ("B-1", "GHS", "Global health", 0, "BASELINE", 40.0, 40.0, None, "Y"),
    ("B-1", "GHS", "Global health", 12, "WEEK 12", 40.0, 40.0, 0.0, None),
    ("B-1", "FA", "Fatigue", 0, "BASELINE", 20.0, 20.0, None, "Y"),
    ("B-1", "FA", "Fatigue", 24, "WEEK 24", 30.0, 20.0, 10.0, None),
    ("X-1", "GHS", "Global health", 0, "BASELINE", 0.0, 0.0, None, "Y"),
    ("X-1", "GHS", "Global health", 12, "WEEK 12", 100.0, 0.0, 100.0, None),
    # a parameter the analysis does not name
    ("A-1", "PF", "Physical", 12, "WEEK 12", 10.0, 0.0, 10.0, None),
]
ADQS = pd.DataFrame(_ROWS, columns=["USUBJID", "PARAMCD", "PARAM", "AVISITN", "AVISIT", "AVAL",
                                    "BASE", "CHG", "ABLFL"])


def test_mean_change_per_arm_and_visit_by_hand() -> None:
    t = change_table({"ADSL": ADSL, "ADQS": ADQS}, SETTINGS, SPEC)
    assert t.columns == ["Parameter", "Visit", "A (N=2): n", "A: mean (SD)", "B (N=1): n",
                         "B: mean (SD)", "All subjects (N=3): n", "All subjects: mean (SD)"]
    rows = {(r[0], r[1]): r[2:] for r in t.rows}
    # GHS baseline A: 50, 70 -> mean 60, SD sqrt(((-10)^2 + 10^2) / 1) = 14.142
    assert rows[("Global health (GHS)", "Baseline (value)")] == [
        "2", "60.0 (14.1)", "1", "40.0 (-)", "3", "53.3 (15.3)"]   # 50,70,40: SD 15.275
    # week 12 A: +10, -20 -> mean -5, SD 21.213; B: 0; all: -10/3 = -3.3, SD 15.275
    assert rows[("Global health (GHS)", "WEEK 12 (change)")] == [
        "2", "-5.0 (21.2)", "1", "0.0 (-)", "3", "-3.3 (15.3)"]
    assert rows[("Global health (GHS)", "WEEK 24 (change)")] == [
        "1", "-5.0 (-)", "0", "-", "1", "-5.0 (-)"]
    assert rows[("Fatigue (FA)", "WEEK 12 (change)")] == ["0", "-", "0", "-", "0", "-"]
    assert rows[("Fatigue (FA)", "WEEK 24 (change)")] == ["0", "-", "1", "10.0 (-)", "1",
                                                          "10.0 (-)"]
    assert [r[0] for r in t.rows] == ["Global health (GHS)"] * 3 + ["Fatigue (FA)"] * 3


def test_every_cell_is_traced_to_adqs_with_its_filter() -> None:
    t = change_table({"ADSL": ADSL, "ADQS": ADQS}, SETTINGS, SPEC)
    cells = {(c["row"], c["column"]): c for c in t.cells()}
    c = cells[(2, "A: mean (SD)")]          # GHS week 12, arm A
    assert c["dataset"] == "ADQS" and c["paramcd"] == "GHS"
    assert c["population"] == "ADSL.ITTFL = 'Y'"
    assert c["filter"] == ("ADSL.ARMCD = 'A' and AVISITN = 12 and ABLFL ne 'Y' and CHG not "
                           "missing")
    assert c["n"] == 2 and c["mean"] == pytest.approx(-5.0)
    assert c["sd"] == pytest.approx(21.2132034, rel=1e-6)
    assert cells[(1, "B: mean (SD)")]["filter"] == "ADSL.ARMCD = 'B' and ABLFL = 'Y'"
    assert len(t.cells()) == len(t.rows) * 6


def test_every_visit_when_none_is_named() -> None:
    settings = AnalysisSettings.model_validate({
        **SETTINGS.model_dump(exclude_none=True),
        "change_from_baseline": [{"id": "t_qol", "title": "QoL", "population": "itt",
                                  "grouping": "arm", "parameters": ["GHS"]}]})
    t = change_table({"ADSL": ADSL, "ADQS": ADQS}, settings, settings.change_from_baseline[0])
    assert [r[1] for r in t.rows] == ["Baseline (value)", "WEEK 12 (change)",
                                      "WEEK 24 (change)", "WEEK 36 (change)"]


def test_duplicate_records_per_visit_are_refused_not_averaged() -> None:
    twice = pd.concat([ADQS, ADQS.iloc[[1]]], ignore_index=True)
    with pytest.raises(InputDataError, match="analysis_flag"):
        change_table({"ADSL": ADSL, "ADQS": twice}, SETTINGS, SPEC)


def test_analysis_flag_selects_one_record() -> None:
    twice = pd.concat([ADQS, ADQS.iloc[[1]].assign(CHG=99.0)], ignore_index=True)
    twice["ANL01FL"] = ["Y"] * len(ADQS) + [None]
    settings = AnalysisSettings.model_validate({
        **SETTINGS.model_dump(exclude_none=True),
        "change_from_baseline": [{**SPEC.model_dump(exclude_none=True),
                                  "analysis_flag": "ANL01FL"}]})
    t = change_table({"ADSL": ADSL, "ADQS": twice}, settings, settings.change_from_baseline[0])
    rows = {(r[0], r[1]): r[2:] for r in t.rows}
    assert rows[("Global health (GHS)", "WEEK 12 (change)")][:2] == ["2", "-5.0 (21.2)"]
    assert "ANL01FL = 'Y'" in t.cells()[0]["filter"]


def test_missing_dataset_or_variable_is_a_one_line_error() -> None:
    with pytest.raises(InputDataError, match="ADaM ADQS not found"):
        change_table({"ADSL": ADSL}, SETTINGS, SPEC)
    with pytest.raises(InputDataError, match="ADQS has no CHG"):
        change_table({"ADSL": ADSL, "ADQS": ADQS.drop(columns=["CHG"])}, SETTINGS, SPEC)
