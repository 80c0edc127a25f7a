"""recist.shared: the run's RECIST step and ADTR share one engine computation per TU/TR.

Baseline 50 mm, then 30 mm (-40 %, PR by RECIST 1.1 §4.3.1): the shared result must be that
and must come from one engine call inside the memo, and a copy per caller."""

from __future__ import annotations

import pandas as pd

import cdiscmap.recist.shared as shared
from cdiscmap.recist import RecistSettings
from cdiscmap.recist.shared import series_timepoints, timepoints_memo


def build() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One subject, one target lesion: 50 mm at visit 1 (baseline), 30 mm at visit 2."""
    tu = pd.DataFrame({"USUBJID": ["S01"], "TULNKID": ["T1"], "TUTESTCD": ["TUMIDENT"],
                       "TUSTRESC": ["TARGET"], "TUEVAL": ["INVESTIGATOR"], "VISITNUM": [1.0]})
    tr = pd.DataFrame({"USUBJID": ["S01", "S01"], "TRLNKID": ["T1", "T1"],
                       "TRTESTCD": ["LDIAM", "LDIAM"], "TRORRES": ["50", "30"],
                       "TRSTRESC": ["50", "30"], "TRSTRESN": [50.0, 30.0],
                       "TRSTAT": [None, None], "TREVAL": ["INVESTIGATOR", "INVESTIGATOR"],
                       "VISITNUM": [1.0, 2.0], "VISIT": ["VISIT 1", "VISIT 2"],
                       "TRDTC": ["2024-01-15", "2024-02-15"]})
    return (tu.astype({c: "string" for c in tu.columns if c != "VISITNUM"}),
            tr.astype({c: "string" for c in tr.columns if c not in ("VISITNUM", "TRSTRESN")}))


def _counting(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = shared.timepoint_responses_deferred

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(shared, "timepoint_responses_deferred", counted)
    return calls


def _pr_visit(computed: pd.DataFrame) -> str:
    return str(computed.loc[computed["VISITNUM"] == 2.0, "OVRLRESP"].iloc[0])


def test_same_frames_and_settings_are_computed_once_and_copied(monkeypatch) -> None:
    calls = _counting(monkeypatch)
    tu, tr = build()
    with timepoints_memo():
        _, first = series_timepoints(tu, tr, RecistSettings(), [])
        first["ADDED"] = 0                            # a caller adding a column ...
        first.loc[:, "OVRLRESP"] = "CHANGED"          # ... or writing into its copy
        _, second = series_timepoints(tu, tr, RecistSettings(evaluator="INVESTIGATOR"), [])
    assert len(calls) == 1
    assert _pr_visit(second) == "PR"
    assert "ADDED" not in second.columns


def test_other_frames_settings_or_no_memo_compute_again(monkeypatch) -> None:
    calls = _counting(monkeypatch)
    tu, tr = build()
    with timepoints_memo():
        series_timepoints(tu, tr, RecistSettings(), [])
        _, stricter = series_timepoints(tu, tr, RecistSettings(pr_change=-50.0), [])
        series_timepoints(tu.copy(), tr, RecistSettings(), [])
    assert len(calls) == 3
    assert _pr_visit(stricter) == "SD"                # -40 % is not -50 %
    series_timepoints(tu, tr, RecistSettings(), [])
    series_timepoints(tu, tr, RecistSettings(), [])
    assert len(calls) == 5
