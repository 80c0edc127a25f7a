"""A small CSV is parsed to Python strings, a large one to categories
(readers._OBJECT_PARSE_BYTES): read_form gives the same frame, and the same remembered
factorisation of every column, either way."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.errors import InputDataError
from cdiscmap.ingest import readers
from cdiscmap.sdtm.vectorize import codes_cache, remembered

_CELLS = st.sampled_from(["", " ", "a", " a", "a ", "A", "b c", "é", "1", "1.0", "x,y",
                          'q"q', "  ", "NA"])


def _read(path, limit: int, monkeypatch):
    monkeypatch.setattr(readers, "_OBJECT_PARSE_BYTES", limit)
    with codes_cache():
        try:
            form = readers.read_form("f", path)
        except InputDataError as exc:       # refused alike either way
            return str(exc), None
        known = {c: remembered(form.frame[c]) for c in form.frame.columns
                 if form.frame[c].dtype == "string"}
        return form.frame, known


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 3).flatmap(lambda k: st.lists(
    st.lists(_CELLS, min_size=k, max_size=k), min_size=0, max_size=6)))
def test_object_parse_as_categories(tmp_path_factory, rows):
    from _pytest.monkeypatch import MonkeyPatch

    k = len(rows[0]) if rows else 2
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([f"C{i}" for i in range(k)])
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("csv") / "f.csv"
    path.write_text(text.getvalue(), encoding="utf-8")
    with MonkeyPatch.context() as mp:
        as_objects, known_objects = _read(path, 1 << 30, mp)
        as_categories, known_categories = _read(path, -1, mp)
    if isinstance(as_objects, str) or isinstance(as_categories, str):
        assert as_objects == as_categories
        return
    pd.testing.assert_frame_equal(as_objects, as_categories)
    assert known_objects.keys() == known_categories.keys()
    for c, (codes, uniques) in known_objects.items():
        other_codes, other_uniques = known_categories[c]
        assert np.array_equal(codes, other_codes)
        assert list(uniques) == list(other_uniques)


def test_lineage_columns_as_set_after(tmp_path):
    """_SRCFILE and _SRCROW, built with the other columns, are what setting them on the read
    frame afterwards gives (an object column of the file name, int64 row numbers)."""
    path = tmp_path / "f.csv"
    path.write_text("A,B\n x ,1\n,2\ny,\n", encoding="utf-8")
    frame = readers.read_form("f", path).frame
    expected = frame[["A", "B"]].copy()
    expected["_SRCFILE"] = "f.csv"
    expected["_SRCROW"] = np.arange(1, 4, dtype="int64")
    pd.testing.assert_frame_equal(frame, expected)
    assert frame["_SRCFILE"].dtype == object and list(frame.columns) == \
        ["A", "B", "_SRCFILE", "_SRCROW"]
    # a raw column of that name is replaced in its place, as before
    path.write_text("_SRCROW,B\n7,1\n", encoding="utf-8")
    frame = readers.read_form("f", path).frame
    assert list(frame.columns) == ["_SRCROW", "B", "_SRCFILE"]
    assert frame["_SRCROW"].tolist() == [1]
