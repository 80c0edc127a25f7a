"""Short columns: hashed directly, with the codes and values of the routes for long ones;
one-block files written without a writer thread, with the same bytes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cdiscmap.emit.xpt as xpt
from cdiscmap.emit.xpt import XptColumn, _factorize_text, write_xpt

TEXTS = st.one_of(st.none(), st.just(float("nan")),
                  st.sampled_from(["", "X", "NOT DONE", "ab", "ab\x00c", "ab\x00d", "a b", "É"]))


def _routes(series: pd.Series, monkeypatch: pytest.MonkeyPatch, limit: int
            ) -> tuple[np.ndarray, np.ndarray]:
    with monkeypatch.context() as patch:
        patch.setattr(xpt, "_DIRECT_ROWS", limit)
        return _factorize_text(series)


def test_short_columns_by_hand(monkeypatch):
    series = pd.Series(["b", None, "a", "b", "a\x00x", "a"], dtype=object)
    codes, uniques = _factorize_text(series)
    assert codes.dtype == np.int8
    assert codes.tolist() == [0, -1, 1, 0, 2, 1]
    assert uniques.tolist() == ["b", "a", "a\x00x"]
    calls = []
    table = xpt.PyObjectHashTable
    monkeypatch.setattr(xpt, "PyObjectHashTable", lambda n: calls.append(n) or table(n))
    _factorize_text(series)
    assert calls == [6]                 # the direct route: one table of every row


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(TEXTS, max_size=40), repeat=st.integers(1, 12),
       one_object_per_cell=st.booleans(),
       dtype=st.sampled_from(["string", object, "category"]))
def test_direct_codes_equal_the_long_column_routes(texts, repeat, one_object_per_cell, dtype):
    cells = [t for t in texts for _ in range(repeat)]
    if one_object_per_cell:
        cells = [t if not isinstance(t, str) else "".join(list(t)) for t in cells]
    if dtype == "string":
        cells = [None if isinstance(t, float) else t for t in cells]
    series = pd.Series(cells, dtype=dtype)
    mp = pytest.MonkeyPatch()
    try:
        direct = _routes(series, mp, 1 << 20)
        routed = _routes(series, mp, 0)
    finally:
        mp.undo()
    assert direct[0].dtype == routed[0].dtype
    assert direct[0].tolist() == routed[0].tolist()
    assert direct[1].tolist() == routed[1].tolist()


@pytest.mark.parametrize("n_rows", [0, 1, 700, 5000])
def test_one_block_without_a_thread_writes_the_same_bytes(tmp_path, monkeypatch, n_rows):
    frame = pd.DataFrame({"A": pd.Series([f"V{i % 7}" for i in range(n_rows)], dtype=object),
                          "X": np.arange(n_rows, dtype=float) / 3})
    columns = [XptColumn("A", "Text", "char"), XptColumn("X", "Number", "num")]

    def write(folder: str) -> bytes:
        (tmp_path / folder).mkdir()
        result = write_xpt(tmp_path / folder / "t.xpt", frame, dataset_name="T",
                           dataset_label="Test", columns=columns)
        return result.path.read_bytes()

    one_block = write("one")
    monkeypatch.setattr(xpt, "_BLOCK_BYTES", 100)       # several blocks: the writer thread
    assert write("many") == one_block
