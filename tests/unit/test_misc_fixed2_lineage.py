"""lineage_lines with the process's shared number tables: the same bytes as a fresh
_Numbers gives, call after call, and hand-checked lines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.emit.report import _lineage_lines, _Numbers, lineage_lines


def _frame(rows: list[int | None], seqs: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"USUBJID": ["S-1", "S,2", "S-1"][:len(rows)],
                         "AESEQ": seqs,
                         "_SRCFILE": np.array(["ae.csv"] * len(rows), dtype=object),
                         "_SRCROW": pd.array(rows, dtype="float64")})


def test_hand_checked_lines() -> None:
    frame = _frame([7, 1234567, None], [1.0, 2.0, 3.0])
    assert lineage_lines("AE", frame) == (b'\nAE,S-1,1,,ae.csv,7'
                                          b'\nAE,"S,2",2,,ae.csv,1234567'
                                          b'\nAE,S-1,3,,ae.csv,')


def test_shared_tables_as_fresh() -> None:
    frames = [_frame([3, 2000, 5], [1.0, 2.0, 3.0]), _frame([999, 1000, 1001], [1.0, 1.0, 2.0]),
              _frame([1, 2, 3], [1.0, 2.0, np.nan]), _frame([5], [1.0])]
    for frame in [*frames, *frames]:
        assert lineage_lines("AE", frame) == _lineage_lines("AE", frame, _Numbers())
    assert lineage_lines("AE", _frame([], [])) == b""
