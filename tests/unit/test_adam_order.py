"""adam.order: one packed stable sort gives np.lexsort's order (missing last, stable ties)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.adam.order import first_positions, numbered, stable_order


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
