"""adam.order: one packed stable sort gives np.lexsort's order (missing last, stable ties)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.adam.order import first_positions, last_of_subject, numbered, record_of, stable_order


@settings(deadline=None, max_examples=200)
@given(st.data())
def test_same_order_as_lexsort(data):
    n = data.draw(st.integers(1, 40))
    subject = np.array(data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)))
    value = np.array(data.draw(st.lists(st.sampled_from([np.nan, -1.5, 0.0, 2.0, 3.25, 1e9]),
                                        min_size=n, max_size=n)))
    days = data.draw(st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=n, max_size=n))
    date = np.array([np.datetime64("NaT") if d is None else np.datetime64("2024-01-10") + d
                     for d in days], dtype="datetime64[ns]")
    keys = [value, date, subject]
    assert stable_order(keys).tolist() == np.lexsort(keys).tolist()


def test_hand_checked_order_and_numbers():
    subject = np.array([1, 0, 1, 0, 1])
    value = np.array([2.0, np.nan, 2.0, 1.0, 1.0])
    # subject 0: rows 3 (1.0), 1 (NaN last); subject 1: row 4 (1.0), then 0 and 2 tie on 2.0
    assert stable_order([value, subject]).tolist() == [3, 1, 4, 0, 2]
    assert numbered(np.array([0, 0, 1, 1, 1])).tolist() == [1.0, 2.0, 1.0, 2.0, 3.0]


def test_too_many_distinct_values_fall_back_to_lexsort():
    big = np.arange(1 << 12, dtype=np.int64)[::-1] * (1 << 50)   # ranks over 2**62 together
    keys = [big.astype(float), big]
    assert stable_order(keys).tolist() == np.lexsort(keys).tolist()


def test_first_positions_hand_checked():
    # 7 first at 0, 2 first at 1, 5 first at 4; repeats at 2, 3, 5 left out
    assert first_positions(np.array([7, 2, 7, 2, 5, 5])).tolist() == [0, 1, 4]
    assert first_positions(np.zeros(0, dtype=np.int64)).tolist() == []


@settings(deadline=None, max_examples=200)
@given(st.lists(st.integers(-3, 6), max_size=40))
def test_first_positions_are_np_unique_first_indices(values):
    array = np.array(values, dtype=np.int64)
    _, first = np.unique(array, return_index=True)
    assert first_positions(array).tolist() == sorted(first.tolist())


def test_record_of_hand_checked():
    # subject 0: rows 0 (2.0), 2 (1.0), 4 (1.0, tie: later); subject 1: row 1 (NaN); row 3
    # has no subject; subject 2 has no record; row 2 is not a candidate in the second case
    subject = np.array([0, 1, 0, -1, 0])
    value = np.array([2.0, np.nan, 1.0, 0.0, 1.0])
    assert record_of(subject, [value], 3, last=False).tolist() == [2, 1, -1]
    assert record_of(subject, [value], 3, last=True).tolist() == [0, 1, -1]
    use = np.array([True, True, False, True, True])
    assert record_of(subject, [value], 3, last=False, use=use).tolist() == [4, 1, -1]


@settings(deadline=None, max_examples=200)
@given(st.data())
def test_record_of_as_a_frame_sort(data):
    n = data.draw(st.integers(0, 30))
    subject = np.array(data.draw(st.lists(st.integers(-1, 4), min_size=n, max_size=n)),
                       dtype=np.intp)
    value = np.array(data.draw(st.lists(st.sampled_from([np.nan, -1.0, 0.0, 2.5]),
                                        min_size=n, max_size=n)), dtype=float)
    last = data.draw(st.booleans())
    frame = pd.DataFrame({"S": subject, "V": value, "P": np.arange(n)}).loc[subject >= 0]
    picked = frame.sort_values(["S", "V"], kind="mergesort", na_position="last") \
        .drop_duplicates("S", keep="last" if last else "first").set_index("S")["P"]
    expected = [int(picked.get(s, -1)) for s in range(5)]
    assert record_of(subject, [value], 5, last=last).tolist() == expected


@settings(deadline=None, max_examples=200)
@given(st.data())
def test_last_of_subject_as_a_frame_sort(data):
    n = data.draw(st.integers(0, 30))
    ids = data.draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=n, max_size=n))
    days = data.draw(st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=n, max_size=n))
    frame = pd.DataFrame({
        "USUBJID": pd.Series(ids, dtype=pd.CategoricalDtype(["A", "B", "C", "D"])),
        "ADT": pd.Series([pd.NaT if d is None else pd.Timestamp("2024-01-01") + pd.Timedelta(d,
                          "D") for d in days], dtype="datetime64[ns]"),
        "P": np.arange(n)}, index=np.arange(n) * 10)
    expected = frame.sort_values(["USUBJID", "ADT"], kind="mergesort") \
        .drop_duplicates("USUBJID", keep="last")
    pd.testing.assert_frame_equal(last_of_subject(frame), expected)
