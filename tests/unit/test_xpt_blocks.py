"""The XPT writer on a frame of many observation blocks (the last one short), with columns of
one str object per row, one shared object and mostly missing text, and its messages in column
order when several columns break limits.

pyreadstat reads the files back (the independent reader); expected values are built here from
the row number, not by the writer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import cdiscmap.emit.xpt as xpt
from cdiscmap.emit.xpt import XptColumn, check_xpt_limits, write_xpt
from cdiscmap.errors import XptLimitError

N_ROWS = 70_000

COLUMNS = [
    XptColumn("STUDYID", "Study Identifier", "char"),
    XptColumn("USUBJID", "Unique Subject Identifier", "char"),
    XptColumn("SEQ", "Sequence Number", "num"),
    XptColumn("ORRES", "Result", "char", length=12),
    XptColumn("STAT", "Completion Status", "char"),
    XptColumn("DY", "Study Day", "num"),
]


def _frame() -> pd.DataFrame:
    rows = np.arange(N_ROWS)
    fresh = [None if i % 10 == 9 else f"{i % 250}.5" for i in rows]     # one object per row
    return pd.DataFrame({
        "STUDYID": pd.array(["STUDY-1"] * N_ROWS, dtype="string"),       # one shared object
        "USUBJID": pd.array([f"S-{i // 100:04d}" for i in rows], dtype="string"),
        "SEQ": (rows % 100 + 1).astype(float),
        "ORRES": pd.array(fresh, dtype="string"),
        "STAT": pd.array(np.where(rows % 10 == 9, "NOT DONE", None), dtype="string"),
        "DY": np.where(rows % 10 == 9, np.nan, rows % 365 - 14.0),
    })


def test_large_frame_reads_back_row_by_row(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xpt, "_BLOCK_BYTES", 1 << 18)     # 5,349 rows: 14 blocks, the last short
    frame = _frame()
    result = write_xpt(tmp_path / "x.xpt", frame, dataset_name="X", dataset_label="Threads",
                       columns=COLUMNS)
    assert result.lengths == {"STUDYID": 7, "USUBJID": 6, "SEQ": 8, "ORRES": 12, "STAT": 8,
                              "DY": 8}
    read, _ = pyreadstat.read_xport(str(result.path))
    assert len(read) == N_ROWS
    rows = np.arange(N_ROWS)
    missing = rows % 10 == 9
    assert (read["STUDYID"] == "STUDY-1").all()
    assert read["USUBJID"].tolist() == [f"S-{i // 100:04d}" for i in rows]
    assert read["SEQ"].tolist() == (rows % 100 + 1).tolist()
    assert read["ORRES"].tolist() == ["" if m else f"{i % 250}.5" for i, m in
                                     zip(rows, missing, strict=True)]
    assert read["STAT"].tolist() == ["NOT DONE" if m else "" for m in missing]
    assert np.isnan(read["DY"][missing]).all()
    assert read["DY"][~missing].tolist() == (rows[~missing] % 365 - 14).tolist()
    # by hand: row 12,345 is subject S-0123, result 12,345 % 250 = 95 -> "95.5",
    # day 12,345 = 33 * 365 + 300 -> 300 - 14 = 286
    assert read.loc[12345, ["USUBJID", "ORRES", "DY"]].tolist() == ["S-0123", "95.5", 286.0]


def test_problems_are_listed_in_column_order(tmp_path: Path) -> None:
    frame = _frame()
    frame["ORRES"] = frame["ORRES"].astype(object)
    frame.loc[60_001, "ORRES"] = "TOO LONG FOR TWELVE"       # 19 bytes, declared 12
    frame.loc[50_000, "USUBJID"] = "S-\u00e9"                 # not ASCII
    frame.loc[40_000, "STAT"] = "A\x00B"                      # NUL
    with pytest.raises(XptLimitError) as caught:
        check_xpt_limits(frame, "X", "Threads", COLUMNS)
    lines = str(caught.value).splitlines()
    assert lines[0] == "X not written as XPT v5: 3 limit violations; fix the data or the metadata:"
    assert [line.split(":")[0] for line in lines[1:]] == ["  - X.USUBJID", "  - X.ORRES",
                                                           "  - X.STAT"]
    assert "at row index 50000 is not ASCII" in lines[1]
    assert "'TOO LONG FOR TWELVE' at row index 60001 is 19 bytes" in lines[2]
    assert "'A\\x00B' at row index 40000 holds a NUL character" in lines[3]



def test_constant_columns_are_in_every_block(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # same cell on every row: written once into each of the two block buffers, then left alone
    monkeypatch.setattr(xpt, "_BLOCK_BYTES", 1 << 12)     # 120 rows of 34 bytes: 9 blocks
    n_rows = 1000
    frame = pd.DataFrame({
        "STUDYID": pd.array(["STUDY-1"] * n_rows, dtype="string"),
        "EMPTY": pd.array([None] * n_rows, dtype="string"),
        "ONE": np.ones(n_rows),
        "NONE": np.full(n_rows, np.nan),
        "TAGGED": np.full(n_rows, np.nan),
        "ROW": pd.array([f"R{i:05d}" for i in range(n_rows)], dtype="string"),
    })
    columns = [XptColumn("STUDYID", "Study", "char"), XptColumn("EMPTY", "Empty", "char", 3),
               XptColumn("ONE", "One", "num"), XptColumn("NONE", "None", "num"),
               XptColumn("TAGGED", "Tagged", "num"), XptColumn("ROW", "Row", "char")]
    result = write_xpt(tmp_path / "c.xpt", frame, dataset_name="C", dataset_label="Constant",
                       columns=columns,
                       special_missing={"TAGGED": pd.Series(["A"] * n_rows)})
    data = result.path.read_bytes()
    obs = data.index(b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!") + 80
    one = bytes([0x41, 0x10, 0, 0, 0, 0, 0, 0])          # 1.0 = 16**1 * 1/16 (SAS TS-140)
    expected = b"".join(b"STUDY-1" + b"   " + one + b"." + bytes(7) + b"A" + bytes(7)
                        + f"R{i:05d}".encode() for i in range(n_rows))
    assert data[obs:obs + len(expected)] == expected
    assert set(data[obs + len(expected):]) <= {0x20}     # the last record's blank padding


@pytest.mark.parametrize("group_rows", [1, 12, 4096])      # no group, (A, B) only, (A, B, C)
def test_adjacent_text_columns_filled_through_combined_tables(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group_rows: int) -> None:
    # A: 3 values + blank, B: 2 values + blank, C: 4 values + blank: 12 combinations of (A, B),
    # 60 of (A, B, C); the bytes must not depend on how the columns are grouped
    monkeypatch.setattr(xpt, "_BLOCK_BYTES", 1 << 9)       # 34 rows of 15 bytes: 30 blocks
    monkeypatch.setattr(xpt, "_GROUP_ROWS", group_rows)
    n_rows = 1000
    a = [None if i % 7 == 0 else ["X", "YY", "ZZZ"][i % 3] for i in range(n_rows)]
    b = [None if i % 5 == 0 else ["P", "Q"][i % 2] for i in range(n_rows)]
    c = ["".join(["c", str(i % 4)]) if i % 11 else None for i in range(n_rows)]
    tags = ["B" if i % 3 == 0 else "" for i in range(n_rows)]
    frame = pd.DataFrame({"A": pd.array(a, dtype="string"), "B": pd.array(b, dtype="string"),
                          "C": pd.array(c, dtype="string"),
                          "N": [np.nan if i % 3 == 0 else float(i) for i in range(n_rows)]})
    columns = [XptColumn("A", "A", "char"), XptColumn("B", "B", "char", length=2),
               XptColumn("C", "C", "char"), XptColumn("N", "N", "num")]
    result = write_xpt(tmp_path / "g.xpt", frame, dataset_name="G", dataset_label="Groups",
                       columns=columns, special_missing={"N": pd.Series(tags)})
    assert result.lengths == {"A": 3, "B": 2, "C": 2, "N": 8}
    data = result.path.read_bytes()
    obs = data.index(b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!") + 80

    def number(i: int) -> bytes:     # i < 4096 = 16**3: 16**3 * (i / 16**3), 24-bit fraction
        if i % 3 == 0:
            return b"B" + bytes(7)                     # special missing .B (SAS TS-140)
        if i == 0:
            return bytes(8)
        exponent = 64 + (1 if i < 16 else 2 if i < 256 else 3)
        return bytes([exponent]) + (i << (56 - 4 * (exponent - 64))).to_bytes(7, "big")

    expected = b"".join(
        (a[i] or "").ljust(3).encode() + (b[i] or "").ljust(2).encode()
        + (c[i] or "").ljust(2).encode() + number(i) for i in range(n_rows))
    assert data[obs:obs + len(expected)] == expected
    # by hand: row 10 is A "YY " (10 % 3 = 1), B missing (10 % 5 = 0), C "c2", N 10.0
    # = 16**1 * 0.625: exponent 0x41, fraction 0xA0...
    assert data[obs + 10 * 15:obs + 11 * 15] == b"YY   c2" + bytes([0x41, 0xA0]) + bytes(6)
