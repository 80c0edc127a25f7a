"""REASON composed for some timepoint rows only (recist.overall.Reasons): the run's RECIST step
leaves it null and its cross-check composes it for the rows its findings show."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.recist import RecistSettings, crosscheck, timepoint_responses
from cdiscmap.recist.overall import timepoint_responses_deferred
from cdiscmap.recist.shared import (
    series_timepoints,
    series_timepoints_deferred,
    timepoints_memo,
)


def build(subjects: dict[str, dict[int, dict[str, object]]]) -> tuple[pd.DataFrame,
                                                                       pd.DataFrame]:
    """{subject: {visit: {lesion: result}}}; T.. target (LDIAM mm), NT.. non-target, NEW..
    new lesion (status)."""
    tu_rows: dict[tuple[str, str], dict[str, object]] = {}
    tr_rows = []
    for subject, visits in subjects.items():
        for v, results in sorted(visits.items()):
            for les, result in results.items():
                role = "NEW" if les.startswith("NEW") else "NON-TARGET" if les.startswith(
                    "NT") else "TARGET"
                tu_rows.setdefault((subject, les), {"USUBJID": subject, "TULNKID": les,
                                                    "TUSTRESC": role, "VISITNUM": float(v)})
                row: dict[str, object] = {"USUBJID": subject, "TRLNKID": les,
                                          "VISITNUM": float(v), "VISIT": f"V{v}",
                                          "TRDTC": f"2024-{v:02d}-01"}
                if role == "TARGET":
                    row.update(TRTESTCD="LDIAM", TRSTRESN=np.nan if result is None
                               else float(result), TRSTRESC=None,
                               TRSTAT="NOT DONE" if result is None else None)
                else:
                    row.update(TRTESTCD="TUMSTATE", TRSTRESN=np.nan, TRSTRESC=result,
                               TRSTAT=None)
                tr_rows.append(row)
    tu = pd.DataFrame(list(tu_rows.values()))
    tr = pd.DataFrame(tr_rows)
    return (tu.astype({c: "string" for c in ("USUBJID", "TULNKID", "TUSTRESC")}),
            tr.astype({c: "string" for c in ("USUBJID", "TRLNKID", "TRTESTCD", "TRSTRESC",
                                             "TRSTAT", "VISIT", "TRDTC")}))


# one subject per kind of reason (RECIST 1.1 §4.3.1-§4.3.5, §4.4.1)
SUBJECTS = {
    "S01": {1: {"T01": 30}, 2: {"T01": 0}, 3: {"T01": 3}},                  # CR, reappears
    "S02": {1: {"T01": 30, "NT01": "PRESENT"}, 2: {"T01": 0, "NT01": "ABSENT"},
            3: {"T01": 0, "NT01": "PRESENT"}},                             # non-target back
    "S03": {1: {"T01": 30}, 2: {"T01": 30, "NEW01": "EQUIVOCAL"},
            3: {"T01": 30, "NEW01": "UNEQUIVOCAL"}},                       # back-dated PD
    "S04": {1: {"T01": 40, "T02": 10}, 2: {"T01": 20, "T02": 10},
            3: {"T01": 20, "T02": None}},                                  # PR, then NE
    "S05": {1: {"NT01": "PRESENT"}, 2: {"NT01": "PRESENT"}},               # non-target only
    "S06": {2: {"T01": 25}},                        # identified at V2: V2 is its baseline
}

# the REASON of every row, worked out by hand (rows: subject, then visit)
EXPECTED = [
    "BASELINE", "CR:targets gone/nodes<10mm", "PD:target T01 reappeared after CR",
    "BASELINE", "CR:targets gone/nodes<10mm;non-targets absent",
    "PD:non-target NT01 reappeared after CR",
    "BASELINE", "PD:new lesion NEW01 (equivocal, confirmed later: PD back-dated)",
    "PD:new lesion NEW01",
    "BASELINE", "PR:sum-40.0% from baseline", "NE:target T02 not evaluated",
    "BASELINE", "NON-CR/NON-PD:non-target present",
    "BASELINE",
]


def test_every_row_by_hand_and_the_deferred_frame_equal_but_reason() -> None:
    tu, tr = build(SUBJECTS)
    eager = timepoint_responses(tu, tr)
    deferred, reasons = timepoint_responses_deferred(tu, tr)
    assert list(eager["REASON"]) == EXPECTED
    assert deferred["REASON"].isna().all()
    pd.testing.assert_frame_equal(deferred.drop(columns="REASON"),
                                  eager.drop(columns="REASON"), check_exact=True)
    assert list(reasons.at(np.arange(len(deferred)))) == EXPECTED


def test_some_rows_in_any_order_get_the_text_of_every_row() -> None:
    tu, tr = build(SUBJECTS)
    _, reasons = timepoint_responses_deferred(tu, tr)
    rng = np.random.default_rng(7)
    for rows in ([5], [13, 0, 5, 5], [], list(range(15))[::-1],
                 list(rng.integers(0, 15, size=9))):
        assert list(reasons.at(np.array(rows, dtype=np.intp))) == [EXPECTED[r] for r in rows]


def test_a_subject_without_lesions_in_tu_keeps_its_na_reason() -> None:
    tu, tr = build({"S06": {2: {"T01": 25}}, "S07": {1: {"T01": 10}, 2: {"T01": 12}}})
    tu = tu[tu["USUBJID"] == "S07"]                 # S06 has TR rows but no TU lesion
    _, reasons = timepoint_responses_deferred(tu, tr)
    expected = ["NA:no target or non-target lesion in TU", "BASELINE",
                "SD:sum+20.0% from baseline/+20.0% from nadir"]
    assert list(timepoint_responses(tu, tr)["REASON"]) == expected
    assert list(reasons.at(np.array([2, 0]))) == [expected[2], expected[0]]


def rs(rows: list[tuple[str, int, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["USUBJID", "VISITNUM", "RSSTRESC"])
    frame["VISITNUM"] = frame["VISITNUM"].astype(np.float64)
    frame["RSTESTCD"] = "OVRLRESP"
    frame["_SRCFILE"] = "rs.csv"
    frame["_SRCROW"] = np.arange(1, len(frame) + 1)
    return frame.astype({c: "string" for c in ("USUBJID", "RSSTRESC", "RSTESTCD",
                                                 "_SRCFILE")})


def test_the_crosscheck_composes_the_reasons_its_rows_show() -> None:
    tu, tr = build(SUBJECTS)
    eager = timepoint_responses(tu, tr)
    deferred, reasons = timepoint_responses_deferred(tu, tr)
    # S01 V3 disagrees; S04 V1 is RS only (baseline); S05 V2 is computed only; the rest agree
    collected = rs([("S01", 2, "CR"), ("S01", 3, "CR"), ("S02", 2, "CR"), ("S02", 3, "PD"),
                    ("S03", 2, "PD"), ("S03", 3, "PD"), ("S04", 1, "SD"), ("S04", 2, "PR"),
                    ("S04", 3, "NE")])
    asked: list[list[int]] = []

    def counted(rows: np.ndarray) -> np.ndarray:
        asked.append(sorted(int(r) for r in rows))
        return reasons.at(rows)

    for only in (True, False):
        table, findings = crosscheck(eager, collected, disagreements_only=only)
        got_table, got = crosscheck(deferred, collected, disagreements_only=only,
                                    reasons=counted)
        pd.testing.assert_frame_equal(got_table, table, check_exact=True)
        assert got == findings
    # the disagreements alone: S01 V3 (row 2), S04 V1 (row 9, baseline), S05 V2 (row 13)
    assert asked[0] == [2, 9, 13]
    assert [f.message for f in got][:1] == [
        "OVRLRESP at V3 (VISITNUM 3): investigator CR, computed from TU/TR PD; sum 3mm, "
        "baseline 30mm (-90.0%), nadir 0mm (+inf%); reason PD:target T01 reappeared after CR"]


def test_the_memo_keeps_one_computation_for_both_forms() -> None:
    tu, tr = build(SUBJECTS)
    with timepoints_memo():
        _, deferred, reasons = series_timepoints_deferred(tu, tr, RecistSettings(), [])
        _, eager = series_timepoints(tu, tr, RecistSettings(), [])
        _, again, same = series_timepoints_deferred(tu, tr, RecistSettings(), [])
    assert same is reasons and deferred["REASON"].isna().all() and again["REASON"].isna().all()
    assert list(eager["REASON"]) == EXPECTED
