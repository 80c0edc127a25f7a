"""analysis.report.cells_json writes the text ``json.dumps(indent=1)`` writes for cells.json,
with json's C encoder for the cells without lists or dicts: a property test against
``json.dumps`` on generated cells (strings with braces, commas, quotes and newlines, numbers of
numpy and Python, NaN and infinities, nested entries, empty cells), and one by hand."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.analysis.report import _cells_document, _json_default, cell_entries, cells_json

# text that looks like the separators the fast path works on
TRICKY = st.lists(st.sampled_from(list('{}[],: "\\\n\tAé€\u2028') + ["},\n   {"]),
                  max_size=8).map("".join)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), TRICKY,
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=False, allow_infinity=False).map(np.float64),
    st.integers(-2**62, 2**62).map(np.int64), st.booleans().map(np.bool_))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TRICKY, inner, max_size=3)), max_leaves=6)
FLAT_CELLS = st.dictionaries(TRICKY, SCALARS, min_size=1, max_size=8)
CELLS = st.lists(st.one_of(FLAT_CELLS, FLAT_CELLS, st.dictionaries(TRICKY, VALUES, max_size=5)),
                 max_size=12)


def _reference(studyid: str, cells: list[dict[str, object]]) -> str:
    return json.dumps({"studyid": studyid, "cells": cells}, indent=1,
                      default=_json_default) + "\n"


@settings(deadline=None, max_examples=400)
@given(st.text(max_size=8), CELLS)
def test_same_text_as_json_dumps_with_indent(studyid: str, cells: list[dict[str, object]]
                                             ) -> None:
    assert cells_json(studyid, cells) == _reference(studyid, cells)


@settings(deadline=None, max_examples=200)
@given(CELLS, st.lists(st.integers(0, 12), max_size=4))
def test_entries_of_each_table_joined_give_the_same_text(cells: list[dict[str, object]],
                                                         cuts: list[int]) -> None:
    # report_files joins the entries each table job made
    bounds = [0, *sorted(min(c, len(cells)) for c in cuts), len(cells)]
    entries = [cell_entries(cells[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    assert _cells_document("S", entries) == _reference("S", cells)


def test_by_hand() -> None:
    cells = [{"table": "t", "row": 1, "x": 0.5}, {"table": "t}", "n": None},
             {"design": {"r1": 1}, "ok": True}, {}]
    assert cells_json("S", cells) == (
        '{\n "studyid": "S",\n "cells": [\n'
        '  {\n   "table": "t",\n   "row": 1,\n   "x": 0.5\n  },\n'
        '  {\n   "table": "t}",\n   "n": null\n  },\n'
        '  {\n   "design": {\n    "r1": 1\n   },\n   "ok": true\n  },\n'
        '  {}\n ]\n}\n')
    assert cells_json("S", []) == '{\n "studyid": "S",\n "cells": []\n}\n'
    assert cells_json("S", cells) == _reference("S", cells)
