"""recist target_sums / shared.series_target_sums: the engine's target-lesion sums alone (what
ADTR reads) are timepoint_responses' sums, row for row, and the run's memo is used when it has
the full timepoints.

S01: target T1 (liver) 50 mm and nodal T2 15 mm short axis at baseline, 30 + 8 = 38 at visit 2,
T2 not done at visit 3 (sum of the measured one only: 25, 1 of 2 measured); S02: one target
40 mm then 20 mm, re-baselined at visit 3 (a second series: 30 mm). A second reader
(INDEPENDENT ASSESSOR) measured S01 too: 48 mm / 15 mm at baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cdiscmap.recist.shared as shared
from cdiscmap.recist import RecistSettings
from cdiscmap.recist.overall import SUM_COLUMNS, target_sums, timepoint_responses
from cdiscmap.recist.shared import series_target_sums, series_timepoints, timepoints_memo

INV, IND = "INVESTIGATOR", "INDEPENDENT ASSESSOR"


def build() -> tuple[pd.DataFrame, pd.DataFrame]:
    tu = pd.DataFrame({
        "USUBJID": ["S01", "S01", "S02", "S02", "S01", "S01"],
        "TULNKID": ["T1", "T2", "T1", "T9", "T1", "T2"],
        "TUTESTCD": "TUMIDENT", "TUSTRESC": "TARGET",
        "TULOC": ["LIVER", "LYMPH NODE", "LUNG", "LUNG", "LIVER", "LYMPH NODE"],
        "TUEVAL": [INV, INV, INV, INV, IND, IND],
        "VISITNUM": [1.0, 1.0, 1.0, 3.0, 1.0, 1.0],
        "VISIT": ["SCREENING", "SCREENING", "SCREENING", "RECHALLENGE", "SCREENING",
                  "SCREENING"]})
    rows = []

    def add(subject, link, test, value, visit, dtc, reader=INV):
        rows.append({"USUBJID": subject, "TRLNKID": link, "TRTESTCD": test,
                     "TRSTRESN": np.nan if value is None else float(value),
                     "TRSTRESC": None if value is None else str(value),
                     "TRSTAT": "NOT DONE" if value is None else None, "TREVAL": reader,
                     "VISITNUM": float(visit), "VISIT": f"VISIT {visit}", "TRDTC": dtc})

    for visit, dtc, liver, node in ((1, "2024-01-10", 50, 15), (2, "2024-03-10", 30, 8),
                                    (3, "2024-05-10", 25, None)):
        add("S01", "T1", "LDIAM", liver, visit, dtc)
        add("S01", "T2", "LPERP", node, visit, dtc)
    add("S01", "T1", "LDIAM", 48, 1, "2024-01-11", IND)
    add("S01", "T2", "LPERP", 15, 1, "2024-01-11", IND)
    add("S02", "T1", "LDIAM", 40, 1, "2024-01-12")
    add("S02", "T1", "LDIAM", 20, 2, "2024-03-12")
    add("S02", "T9", "LDIAM", 30, 3, "2024-05-12")
    tr = pd.DataFrame(rows)
    return (tu.astype({c: "string" for c in tu.columns if c != "VISITNUM"}),
            tr.astype({c: "string" for c in tr.columns if c not in ("VISITNUM", "TRSTRESN")}))


@pytest.mark.parametrize("settings", [RecistSettings(), RecistSettings(evaluators=("*",))])
def test_sums_alone_are_the_timepoints_sums(settings: RecistSettings) -> None:
    tu, tr = build()
    full = timepoint_responses(tu, tr, settings)
    alone = target_sums(tu, tr, settings)
    pd.testing.assert_frame_equal(alone, full[SUM_COLUMNS], check_exact=True)


def test_series_sums_by_hand_and_equal_to_the_series_timepoints() -> None:
    tu, tr = build()
    _, full = series_timepoints(tu, tr, RecistSettings(), ["RECHALLENGE"])
    alone = series_target_sums(tu, tr, RecistSettings(), ["RECHALLENGE"])
    pd.testing.assert_frame_equal(alone, full[[*SUM_COLUMNS, "RECIST_SERIES"]],
                                  check_exact=True)
    got = [(r.USUBJID, r.VISITNUM, None if pd.isna(r.SUMDIAM) else r.SUMDIAM,
            r.N_TARGET_MEASURED, r.N_TARGET_EXPECTED, r.RECIST_SERIES)
           for r in alone.itertuples()]
    assert got == [("S01", 1.0, 65.0, 2, 2, 0), ("S01", 2.0, 38.0, 2, 2, 0),
                   ("S01", 3.0, 25.0, 1, 2, 0), ("S02", 1.0, 40.0, 1, 1, 0),
                   ("S02", 2.0, 20.0, 1, 1, 0), ("S02", 3.0, 30.0, 1, 1, 1)]


def test_memo_timepoints_are_used_else_no_response_work(monkeypatch) -> None:
    calls: list[str] = []
    real_full, real_sums = shared.timepoint_responses_deferred, shared.target_sums
    monkeypatch.setattr(shared, "timepoint_responses_deferred",
                        lambda *a, **k: calls.append("full") or real_full(*a, **k))
    monkeypatch.setattr(shared, "target_sums",
                        lambda *a, **k: calls.append("sums") or real_sums(*a, **k))
    tu, tr = build()
    with timepoints_memo():
        series_timepoints(tu, tr, RecistSettings(), [])
        got = series_target_sums(tu, tr, RecistSettings(), [])
    assert calls == ["full"] and "OVRLRESP" in got.columns    # the memo's copy
    calls.clear()
    got = series_target_sums(tu, tr, RecistSettings(), [])
    assert calls == ["sums"] and "OVRLRESP" not in got.columns
