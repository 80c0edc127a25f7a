"""checks.facts.plain_iso_parts (one comparison per text against its shape's row) gives what
the per-shape, per-digit reading it replaced gave."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.checks.facts import PLAIN_FIELDS, PLAIN_SHAPES, plain_iso_parts

_WIDTH = max(PLAIN_SHAPES)


def _replaced(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The code before: a pass per shape, the components digit by digit."""
    n = len(values)
    length = np.fromiter(map(len, values), dtype=np.int64, count=n)
    parts = {name: np.full(n, np.nan) for name in PLAIN_FIELDS}
    plain = np.zeros(n, dtype=bool)
    fits = np.flatnonzero(np.isin(length, list(PLAIN_SHAPES)))
    if not len(fits):
        return length, plain, parts
    points = values[fits].astype(f"U{_WIDTH}").view(np.uint32).reshape(len(fits), _WIDTH)
    sizes = length[fits]
    ok = np.zeros(len(fits), dtype=bool)
    for size, shape in PLAIN_SHAPES.items():
        rows = np.flatnonzero(sizes == size)
        if not len(rows):
            continue
        chars = points[rows, :size]
        want = np.array([ord(c) for c in shape], dtype=np.uint32)
        digit = np.array([c == "d" for c in shape])
        is_digit = (chars >= 48) & (chars <= 57)
        ok[rows] = np.where(digit, is_digit, chars == want).all(axis=1)
    digits = points.astype(np.int64) - 48
    plain[fits[ok]] = True
    for name, (first, stop) in PLAIN_FIELDS.items():
        number = np.zeros(len(fits), dtype=np.int64)
        for i in range(first, stop):
            number = number * 10 + digits[:, i]
        chosen = ok & (sizes >= stop)
        parts[name][fits[chosen]] = number[chosen]
    return length, plain, parts


def _same(values: list[str]) -> None:
    array = np.array(values + ["x"], dtype=object)[:-1]      # an object array even if empty
    got = plain_iso_parts(array)
    length, plain, parts = _replaced(array)
    np.testing.assert_array_equal(got.length, length)
    np.testing.assert_array_equal(got.plain, plain)
    assert got.parts.keys() == parts.keys()
    for name in parts:
        np.testing.assert_array_equal(got.parts[name], parts[name])


_chars = st.sampled_from(list("0123456789-T:") + ["\x00", "\x01", "\uffff", "٣", "５", " ", ".", "Z"])
_shaped = st.sampled_from(list(PLAIN_SHAPES.values())).flatmap(
    lambda shape: st.tuples(*[st.sampled_from("0123456789") if c == "d" else st.just(c)
                              for c in shape]).map("".join))
_texts = st.one_of(_shaped, st.text(_chars, max_size=22), _shaped.map(lambda s: s[:-1] + "x"))


@settings(deadline=None, max_examples=300)
@given(st.lists(_texts, max_size=40))
def test_plain_iso_parts_is_the_replaced_reading(values: list[str]) -> None:
    _same(values)


def test_plain_iso_parts_hand_checked() -> None:
    texts = ["2014-03-05T10:20:30", "2014-03", "2014", "2014-3-05 ", "2014-03-0\x01",
             "2014-03-05T10", "", "UNK"]
    got = plain_iso_parts(np.array(texts, dtype=object))
    assert got.plain.tolist() == [True, True, True, False, False, True, False, False]
    assert got.length.tolist() == [19, 7, 4, 10, 10, 13, 0, 3]
    assert got.parts["year"][:3].tolist() == [2014.0, 2014.0, 2014.0]
    assert got.parts["month"][[0, 1]].tolist() == [3.0, 3.0]
    assert np.isnan(got.parts["month"][2])
    assert got.parts["second"][0] == 30.0 and np.isnan(got.parts["second"][5])
    assert got.parts["hour"][5] == 10.0
    assert all(np.isnan(got.parts[name][3]) for name in PLAIN_FIELDS)
    _same(texts)
