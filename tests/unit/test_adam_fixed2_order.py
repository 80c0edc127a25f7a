"""first_positions: the position of each distinct value's first occurrence, in position order
(what ``np.unique(values, return_index=True)`` gives, sorted), by a running minimum per value
for integers in a small range and by ``duplicated`` otherwise."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cdiscmap.adam.order import first_positions


def _expected(values: np.ndarray) -> list[int]:
    return sorted(np.unique(values, return_index=True)[1].tolist()) if len(values) else []


@settings(max_examples=300)
@given(values=hnp.arrays(st.sampled_from([np.int8, np.int16, np.int64, np.uint8, np.uint64]),
                         st.integers(0, 60)))
def test_integers_first_positions_are_those_of_unique(values):
    assert first_positions(values).tolist() == _expected(values)


@settings(max_examples=100)
@given(values=st.lists(st.integers(-3, 5), max_size=40), spread=st.sampled_from([1, 10**6]))
def test_small_and_wide_ranges_agree(values, spread):
    array = np.array(values, dtype=np.int64) * spread      # wide: the hash-table path
    assert first_positions(array).tolist() == _expected(array)


def test_hand_checked():
    assert first_positions(np.array([3, 1, 3, 2, 1])).tolist() == [0, 1, 3]
    assert first_positions(np.array([-1, -1, 0, 127, 0], dtype=np.int8)).tolist() == [0, 2, 3]
    assert first_positions(np.array([2**63 + 5, 2**63 + 5, 7], dtype=np.uint64)).tolist() == \
        [0, 2]
    assert first_positions(np.array([1.5, np.nan, 1.5, np.nan])).tolist() == [0, 1]
    assert first_positions(np.array([], dtype=np.int64)).tolist() == []
    assert first_positions(np.array(["b", "a", "b"], dtype=object)).tolist() == [0, 1]
