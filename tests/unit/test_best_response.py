"""Best overall response with and without confirmation: hand-worked subject histories.

Every history is written as (day after the reference date, response); the reference date is
2020-01-01, the SD minimum duration 42 days and the confirmation gap 28 days unless said
otherwise. Expected values are worked out by hand from RECIST 1.1 §4.4.3 / §4.6.1 as
admiralonco implements them (see the module docstring of cdiscmap.recist.best_response).
"""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.recist.best_response import (
    best_overall_response,
    confirmed_best_overall_response,
    confirmed_flags,
    first_response,
    pr_after_cr,
    timepoint_category,
)

REF = pd.Timestamp("2020-01-01")


def ovr(*histories: tuple[str, list[tuple[int, str]]]) -> pd.DataFrame:
    rows = [(subject, REF + pd.Timedelta(days=day), resp, REF)
            for subject, history in histories for day, resp in history]
    frame = pd.DataFrame(rows, columns=["USUBJID", "ADT", "AVALC", "REFDT"])
    frame["USUBJID"] = frame["USUBJID"].astype("string")
    frame["AVALC"] = frame["AVALC"].astype("string")
    return frame


def day(n: int) -> pd.Timestamp:
    return REF + pd.Timedelta(days=n)


def result(frame: pd.DataFrame) -> dict[str, tuple[str, pd.Timestamp]]:
    return {str(r.USUBJID): (str(r.AVALC), r.ADT) for r in frame.itertuples()}


def cbor(frame: pd.DataFrame, **kw: object) -> dict[str, tuple[str, pd.Timestamp]]:
    return result(confirmed_best_overall_response(frame, 42, **kw))  # type: ignore[arg-type]


def bor(frame: pd.DataFrame) -> dict[str, tuple[str, pd.Timestamp]]:
    return result(best_overall_response(frame, 42))


# --- unconfirmed BOR -------------------------------------------------------------------------

def test_bor_picks_best_response_and_its_first_date():
    frame = ovr(("A", [(49, "SD"), (105, "PR"), (161, "PR"), (217, "PD")]))
    assert bor(frame) == {"A": ("PR", day(105))}


def test_bor_sd_before_minimum_duration_is_ne():
    # SD at day 30 < 42 → NE; alone it is the BOR; PD after it is better than NE
    assert bor(ovr(("A", [(30, "SD")]))) == {"A": ("NE", day(30))}
    assert bor(ovr(("A", [(30, "SD"), (60, "PD")]))) == {"A": ("PD", day(60))}
    # exactly 42 days counts (ADT >= reference + 42)
    assert bor(ovr(("A", [(42, "SD")]))) == {"A": ("SD", day(42))}
    assert bor(ovr(("A", [(41, "NON-CR/NON-PD")]))) == {"A": ("NE", day(41))}
    assert bor(ovr(("A", [(56, "NON-CR/NON-PD"), (112, "NE")]))) == \
        {"A": ("NON-CR/NON-PD", day(56))}


def test_bor_unconfirmed_cr_pr_count_even_before_sd_window():
    assert bor(ovr(("A", [(20, "PR"), (50, "PD")]))) == {"A": ("PR", day(20))}


def test_bor_several_subjects_in_one_frame_keep_their_own_answers():
    frame = ovr(("B", [(56, "PD")]), ("A", [(56, "CR"), (84, "NE")]), ("C", [(14, "NE")]))
    assert bor(frame) == {"A": ("CR", day(56)), "B": ("PD", day(56)), "C": ("NE", day(14))}


def test_timepoint_category_marks_early_sd_as_ne():
    frame = ovr(("A", [(30, "SD"), (50, "SD"), (60, "PR")]))
    assert timepoint_category(frame, 42).tolist() == ["NE", "SD", "PR"]


# --- confirmation ---------------------------------------------------------------------------

def test_cr_confirmed_by_cr_at_least_28_days_later():
    frame = ovr(("A", [(56, "CR"), (84, "CR")]))
    assert cbor(frame) == {"A": ("CR", day(56))}
    flags = confirmed_flags(frame)
    assert flags["confirmed_cr"].tolist() == [True, False]
    assert flags["confirm_adt"].iloc[0] == day(84)


def test_cr_not_confirmed_27_days_later_falls_back_to_sd():
    # CR d56 → CR d83 is 27 days: no confirmation; both are >= 42 days → SD at the first
    frame = ovr(("A", [(56, "CR"), (83, "CR")]))
    assert cbor(frame) == {"A": ("SD", day(56))}


def test_cr_then_pr_is_not_a_confirmation_and_is_reported():
    frame = ovr(("A", [(56, "CR"), (112, "PR")]))
    assert cbor(frame) == {"A": ("SD", day(56))}
    assert pr_after_cr(frame).tolist() == [False, True]
    # a second PR confirms the first PR (no CR inside its window)
    frame = ovr(("A", [(56, "CR"), (112, "PR"), (168, "PR")]))
    assert cbor(frame) == {"A": ("PR", day(112))}


def test_pr_sd_pr_needs_accept_sd():
    frame = ovr(("A", [(56, "PR"), (84, "SD"), (112, "PR")]))
    # PR d56: first CR/PR >= d84 is PR d112; the window holds an SD → not confirmed;
    # PR d112 has no later assessment. Best remaining: SD (PR/SD after day 42) at d56.
    assert cbor(frame) == {"A": ("SD", day(56))}
    assert cbor(frame, accept_sd=True) == {"A": ("PR", day(56))}


def test_one_ne_between_is_allowed_two_are_not():
    one = ovr(("A", [(56, "PR"), (84, "NE"), (112, "PR")]))
    assert cbor(one) == {"A": ("PR", day(56))}
    two = ovr(("A", [(56, "PR"), (70, "NE"), (84, "NE"), (112, "PR")]))
    assert cbor(two) == {"A": ("SD", day(56))}
    assert cbor(two, max_ne=2) == {"A": ("PR", day(56))}
    cr_two = ovr(("A", [(56, "CR"), (70, "NE"), (84, "NE"), (112, "CR")]))
    assert cbor(cr_two) == {"A": ("SD", day(56))}


def test_confirmation_uses_the_first_qualifying_assessment():
    # PR d0: the first CR/PR >= d28 is PR d28 (the CR d14 is too early to confirm); the
    # window (d14 CR, d28 PR) has a PR after a CR → not confirmed; CR d14 has no CR >= d42.
    frame = ovr(("A", [(0, "PR"), (14, "CR"), (28, "PR")]))
    assert cbor(frame) == {"A": ("NE", day(0))}
    assert first_response(frame, confirmed=True).empty


def test_pr_confirmed_by_later_cr_and_cr_confirmed_gives_cr():
    frame = ovr(("A", [(56, "PR"), (84, "CR"), (112, "CR")]))
    flags = confirmed_flags(frame)
    assert flags["confirmed_pr"].tolist() == [True, False, False]
    assert flags["confirmed_cr"].tolist() == [False, True, False]
    assert cbor(frame) == {"A": ("CR", day(84))}
    first = first_response(frame, confirmed=True)
    assert first["ADT"].tolist() == [day(56)]


def test_unconfirmed_pr_then_pd():
    # PR d56 not confirmed (PD ends the history) → PR counts as SD at d56, better than PD
    assert cbor(ovr(("A", [(56, "PR"), (84, "PD")]))) == {"A": ("SD", day(56))}
    # early unconfirmed PR (d20 < 42) is NE; then PD → PD
    assert cbor(ovr(("A", [(20, "PR"), (50, "PD")]))) == {"A": ("PD", day(50))}


def test_confirmed_cr_before_sd_window_still_counts():
    assert cbor(ovr(("A", [(10, "CR"), (38, "CR")]))) == {"A": ("CR", day(10))}


def test_confirmation_never_crosses_subjects():
    # A's PR d56 would be "confirmed" by B's PR d112 if subjects leaked into each other
    frame = ovr(("A", [(56, "PR")]), ("B", [(112, "PR"), (140, "PR")]))
    assert cbor(frame) == {"A": ("SD", day(56)), "B": ("PR", day(112))}


def test_first_response_unconfirmed_and_confirmed_dates():
    frame = ovr(("A", [(49, "SD"), (56, "PR"), (70, "SD"), (112, "PR"), (140, "PR")]))
    assert first_response(frame)["ADT"].tolist() == [day(56)]
    # PR d56 window (SD d70, PR d112) has an SD → not confirmed; PR d112 confirmed by d140
    assert first_response(frame, confirmed=True)["ADT"].tolist() == [day(112)]


def test_source_index_points_at_the_input_row():
    frame = ovr(("A", [(56, "SD"), (112, "PR"), (140, "PR")]))
    frame.index = [10, 20, 30]
    assert best_overall_response(frame, 42)["source_index"].tolist() == [20]
    assert confirmed_best_overall_response(frame, 42)["source_index"].tolist() == [20]


def test_empty_and_invalid_input():
    empty = ovr()
    assert best_overall_response(empty, 42).empty
    assert confirmed_best_overall_response(empty, 42).empty
    assert confirmed_flags(empty).empty
    with pytest.raises(ValueError, match="outside"):
        best_overall_response(ovr(("A", [(56, "PARTIAL")])), 42)
    with pytest.raises(ValueError, match="at least 1 day"):
        confirmed_flags(ovr(("A", [(56, "PR")])), min_gap_days=0)
