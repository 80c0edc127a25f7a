"""The Simon table's accrual order: per group, by order_by then USUBJID, whatever the rows'
order in ADSL (the table sorts the population once and takes each group's rows from it)."""

from __future__ import annotations

import pandas as pd

from cdiscmap.analysis.report import build_report
from cdiscmap.analysis.settings import AnalysisSettings

SETTINGS = AnalysisSettings.model_validate({
    "populations": {"eff": {"flag": "EFFFL"}},
    "groupings": {"arm": {"variable": "ARMCD", "label": "ARM"}},
    "simon": [{"id": "t_simon", "title": "Two-stage", "population": "eff", "grouping": "arm",
               "endpoint": {"label": "ORR", "paramcd": "RSP8W", "responders": ["Y"]},
               "order_by": "ENRLDT", "design": {"r1": 0, "n1": 2, "r": 1, "n": 4}}]})


def test_simon_accrual_order_per_group_with_ties_and_missing_dates() -> None:
    # rows interleave the arms and are out of date order; S-5 and S-7 enrol the same day
    # (S-5 first by USUBJID although its row comes later); S-6 has no date (last); S-9 is
    # not in the population
    ids = ["S-7", "S-2", "S-1", "S-4", "S-5", "S-6", "S-3", "S-9", "S-8"]
    adsl = pd.DataFrame({
        "STUDYID": "T", "USUBJID": ids,
        "EFFFL": ["Y"] * 7 + ["N", "Y"],
        "ARMCD": ["A", "B", "A", "B", "A", "B", "A", "A", "B"],
        "ARM": ["Arm A", "Arm B", "Arm A", "Arm B", "Arm A", "Arm B", "Arm A", "Arm A",
                "Arm B"],
        "ENRLDT": pd.to_datetime(["2020-01-03", "2020-01-09", "2020-01-05", "2020-01-01",
                                  "2020-01-03", None, "2020-01-01", "2019-12-01",
                                  "2020-01-04"])})
    yes = {"S-7", "S-1", "S-2", "S-6", "S-9"}
    adrs = pd.DataFrame({"STUDYID": "T", "USUBJID": ids, "PARAMCD": "RSP8W",
                         "AVALC": ["Y" if i in yes else "N" for i in ids]})
    rep = build_report({"ADSL": adsl, "ADRS": adrs}, SETTINGS, draw=False)
    rows = {r[0]: r for r in next(t for t in rep.tables if t.id == "t_simon").rows}
    # Arm A in accrual order: S-3 (N), S-5 (N), S-7 (Y), S-1 (Y): stage 1 = 0 of 2 <= r1 = 0
    assert rows["Arm A"][8:] == ["4", "0/2", "2/4", "stage 1", "stop for futility"]
    # Arm B: S-4 (N), S-8 (N), S-2 (Y), S-6 (Y, no date: last): stage 1 = 0 of 2 as well;
    # in row order (S-2, S-4, ...) stage 1 would have had 1 responder
    assert rows["Arm B"][8:] == ["4", "0/2", "2/4", "stage 1", "stop for futility"]
