"""recist.best_response.shared_preparation: inside the block one frame of responses is sorted
once and its confirmation flags found once per setting; every answer equals the one without
the block, and what a caller gets is its own.

S1: PR day 50, PR day 80 (confirmed, 30 >= 28 days), PD day 120; S2: SD day 20 (before the
42-day SD window: NE), CR day 60 (unconfirmed: nothing later)."""

from __future__ import annotations

import pandas as pd

import cdiscmap.recist.best_response as br
from cdiscmap.recist.best_response import (
    best_overall_response,
    confirmed_best_overall_response,
    confirmed_flags,
    first_response,
    pr_after_cr,
    shared_preparation,
)

REF = pd.Timestamp("2020-01-01")


def frame() -> pd.DataFrame:
    rows = [("S1", 50, "PR"), ("S1", 80, "PR"), ("S1", 120, "PD"), ("S2", 20, "SD"),
            ("S2", 60, "CR")]
    return pd.DataFrame({"USUBJID": pd.array([r[0] for r in rows], dtype="string"),
                         "ADT": [REF + pd.Timedelta(days=r[1]) for r in rows],
                         "AVALC": pd.array([r[2] for r in rows], dtype="string"),
                         "REFDT": REF})


def answers(ovr: pd.DataFrame) -> list[pd.DataFrame | pd.Series]:
    return [best_overall_response(ovr, 42), confirmed_best_overall_response(ovr, 42),
            first_response(ovr), first_response(ovr, confirmed=True), pr_after_cr(ovr),
            confirmed_flags(ovr)]


def test_same_answers_with_one_preparation(monkeypatch) -> None:
    ovr = frame()
    alone = answers(ovr)
    calls: list[int] = []
    real = br._prepared
    monkeypatch.setattr(br, "_prepared", lambda f: calls.append(1) or real(f))
    with shared_preparation():
        shared = answers(ovr)
        flags = confirmed_flags(ovr)
        flags.loc[:, "confirmed_pr"] = False          # the caller's own copy ...
        assert confirmed_flags(ovr)["confirmed_pr"].tolist() == [True, False, False, False,
                                                                 False]
    assert len(calls) == 1                             # ... of one sorted preparation
    for got, want in zip(shared, alone, strict=True):
        if isinstance(want, pd.DataFrame):
            pd.testing.assert_frame_equal(got, want)
        else:
            pd.testing.assert_series_equal(got, want)
    # unconfirmed: S2's CR; confirmed: S2's CR counts as SD (after the window), S1's PR holds
    assert {r.USUBJID: r.AVALC for r in alone[0].itertuples()} == {"S1": "PR", "S2": "CR"}
    assert {r.USUBJID: r.AVALC for r in alone[1].itertuples()} == {"S1": "PR", "S2": "SD"}


def test_other_frames_and_no_block_prepare_again(monkeypatch) -> None:
    calls: list[int] = []
    real = br._prepared
    monkeypatch.setattr(br, "_prepared", lambda f: calls.append(1) or real(f))
    one, two = frame(), frame()
    with shared_preparation():
        best_overall_response(one, 42)
        best_overall_response(two, 42)
    best_overall_response(one, 42)
    assert len(calls) == 3
