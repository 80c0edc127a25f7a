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


def _key(draw, kind: str, n: int) -> np.ndarray:
    if kind == "float":
        return np.array(draw(st.lists(st.sampled_from([0.0, -0.0, 1.5, -2.0, np.nan, 7.0]),
                                      min_size=n, max_size=n)), dtype=float)
    if kind == "dates":
        days = draw(st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=n, max_size=n))
        return np.array([np.datetime64("NaT", "ns") if d is None else
                         np.datetime64("2020-01-01", "ns") + np.timedelta64(d, "D")
                         for d in days], dtype="datetime64[ns]")
    if kind == "bool":
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    return np.array(draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)), dtype=np.int64)


@settings(max_examples=200)
@given(data=st.data(), n=st.sampled_from([0, 1, 2, 7, 40, 1000, 1001, 1500]),
       kinds=st.lists(st.sampled_from(["float", "dates", "int", "bool"]), min_size=1,
                      max_size=4))
def test_stable_order_is_lexsort_both_ways(data, n, kinds):
    """Small arrays by np.lexsort, larger ones by the packed ranks: the same order."""
    from cdiscmap.adam.order import stable_order
    from cdiscmap.sdtm.vectorize import stable_order as packed

    keys = [_key(data.draw, kind, n) for kind in kinds]
    assert stable_order(keys).tolist() == np.lexsort(keys).tolist() == packed(keys).tolist()


def test_stable_order_hand_checked():
    from cdiscmap.adam.order import stable_order

    assert stable_order([np.array([2.0, 1.0, np.nan, 1.0]), np.array([1, 0, 1, 0])]) \
        .tolist() == [1, 3, 0, 2]
    assert stable_order([np.array(["b", "a"], dtype=object)]).tolist() == [1, 0]
    assert stable_order([]).tolist() == []
