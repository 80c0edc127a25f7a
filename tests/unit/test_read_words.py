"""The XPT reader takes the 64-bit words of many variables in one chunked pass over the rows
(``_variable_words``) and finds a second member by its record-aligned header (``_next_member``).
Expected words are written out by hand from the bytes; the per-column ``_row_words`` must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

import cdiscmap.checks.read as read
from cdiscmap.checks.files import VariableMeta


def _var(name: str, kind: str, length: int, position: int) -> read._Variable:
    return read._Variable(VariableMeta(name, "", kind, length, None), position)


# one 23-byte row: A char 2 at 0, N num 8 at 2, B char 10 at 10, C char 3 at 20 (ends the row)
ROWS = np.frombuffer(
    b"AB" + bytes.fromhex("4110000000000000") + b"HELLO WRLD" + b"XYZ"
    + b"CD" + bytes.fromhex("C120000000000000") + b"0123456789" + b"Q  ",
    dtype=np.uint8).reshape(2, 23)
VARIABLES = [_var("A", "char", 2, 0), _var("N", "num", 8, 2), _var("B", "char", 10, 10),
             _var("C", "char", 3, 20)]


def _le(text: bytes) -> int:
    """The little-endian integer of up to 8 bytes, zero-padded (what _row_words gives)."""
    return int.from_bytes(text.ljust(8, b"\0"), "little")


@pytest.mark.parametrize("group_words", [1, 2, 8])
@pytest.mark.parametrize("chunk_bytes", [1, 23, 1 << 19])
def test_words_of_every_variable_by_hand(monkeypatch, group_words, chunk_bytes):
    monkeypatch.setattr(read, "_GROUP_WORDS", group_words)
    monkeypatch.setattr(read, "_CHUNK_BYTES", chunk_bytes)
    words = {var.meta.name: [w.tolist() for w in found]
             for var, found in read._variable_words(ROWS, VARIABLES)}
    assert words["A"] == [[_le(b"AB"), _le(b"CD")]]
    # IBM 1.0 = 0x4110000000000000, -2.0 = 0xC120000000000000, read big-endian
    assert [[int(x) for x in w] for w in words["N"]] == [[0x4110000000000000,
                                                          0xC120000000000000]]
    # 10 bytes: the words at 0 and at 10 - 8 = 2 (overlapping)
    assert words["B"] == [[_le(b"HELLO WR"), _le(b"01234567")],
                          [_le(b"LLO WRLD"), _le(b"23456789")]]
    # 3 bytes at the end of the row: read as the row's last 8 bytes, shifted and masked
    assert words["C"] == [[_le(b"XYZ"), _le(b"Q  ")]]
    for var, found in read._variable_words(ROWS, VARIABLES):
        if var.meta.type == "char":
            block = ROWS[:, var.position:var.position + var.meta.length]
            expected = read._row_words(block)
            assert len(found) == len(expected)
            assert all(np.array_equal(a, b) for a, b in zip(found, expected, strict=True))


def test_short_rows_and_short_numbers_are_left_to_the_block():
    rows = np.frombuffer(b"ABCDEF", dtype=np.uint8).reshape(1, 6)
    assert [words for _, words in read._variable_words(rows, [_var("A", "char", 6, 0)])] == [None]
    wide = np.zeros((3, 12), dtype=np.uint8)
    found = dict((var.meta.name, words) for var, words in read._variable_words(
        wide, [_var("N", "num", 4, 0), _var("T", "char", 8, 4)]))
    assert found["N"] is None and [w.tolist() for w in found["T"]] == [[0, 0, 0]]
    empty = np.zeros((0, 16), dtype=np.uint8)
    assert [w for _, w in read._variable_words(empty, [_var("T", "char", 16, 0)])] == [None]


def test_second_member_is_found_only_on_a_record_boundary():
    record = 80
    member = read._MEMBER
    data = (b" " * record * 3                                  # observations
            + b"x" + member + b" " * (record - 1 - len(member))  # not on a boundary
            + b"HEADER RECORD*******OTHER" + b" " * (record - 25)  # same first 8 bytes only
            + member + b" " * (record - len(member)))           # the real one, record 5
    assert len(data) == 6 * record
    assert read._next_member(data, 0) == 5 * record
    assert read._next_member(data, 5 * record) == 5 * record
    assert read._next_member(data[:5 * record], 0) == -1
    assert read._next_member(b"", 0) == -1


def test_ibm_doubles_by_hand():
    words = np.array([0x4110000000000000, 0xC120000000000000, 0x4210000000000000,
                      0x4110000000000001, 0x0010000000000000, 0x7FFFFFFFFFFFFFFF,
                      0x0000000000000000, 0x8000000000000000, 0x2E00000000000000,
                      0x4100000000000000, 0x5F00000000000000, 0x4100000000000001],
                     dtype=np.uint64).astype(">u8")
    got = read.ibm_to_float64(words)
    # 1 = 16**1 * 1/16; -2 = -(16 * 2/16); 16 = 16**2 * 1/16; 1 + 2**-52; 16**-65 = 2**-260;
    # (2**56 - 1) * 2**196 rounds to 2**252; 0; -0; "." ; ".A" (0x41, zero fraction); "._";
    # 0x41 with fraction 1: 16 * 2**-56 = 2**-52, a number, not ".A"
    assert got[:6].tolist() == [1.0, -2.0, 16.0, 1.0 + 2.0 ** -52, 2.0 ** -260, 2.0 ** 252]
    assert got[6] == 0.0 and not np.signbit(got[6])
    assert got[7] == 0.0 and np.signbit(got[7])
    assert np.isnan(got[8:11]).all()
    assert got[11] == 2.0 ** -52


def test_text_facts_are_skipped_on_request_and_the_frame_is_the_same(tmp_path):
    import pandas as pd

    from cdiscmap.emit.xpt import XptColumn, write_xpt

    frame = pd.DataFrame({"USUBJID": pd.array(["S-2", "S-1", "S-2", None], dtype="string"),
                          "AVAL": [1.5, None, -2.0, 3.0]})
    path = tmp_path / "adx.xpt"
    write_xpt(path, frame, dataset_name="ADX", dataset_label="X",
              columns=[XptColumn("USUBJID", "Subject", "char"), XptColumn("AVAL", "Value", "num")])
    with_facts = read.read_xpt_dataset(path, tmp_path, tmp_path)
    without = read.read_xpt_dataset(path, tmp_path, tmp_path, text_facts=False)
    assert without.facts == {}
    assert with_facts.facts["USUBJID"].codes.tolist() == [0, 1, 0, -1]
    assert with_facts.facts["USUBJID"].uniques.tolist() == ["S-2", "S-1"]
    pd.testing.assert_frame_equal(with_facts.frame, without.frame)
    assert without.frame["USUBJID"].tolist() == ["S-2", "S-1", "S-2", pd.NA]
    assert without.frame["AVAL"].tolist()[::2] == [1.5, -2.0]


@pytest.mark.parametrize("texts, codes, first", [
    # first word the same on every row, second word changing: runs judged on both words
    ([b"AAAAAAAA01", b"AAAAAAAA01", b"AAAAAAAA02", b"AAAAAAAA01"] * 2,
     [0, 0, 1, 0] * 2, [0, 2]),
    # first word changing on every row: no run path, codes by first appearance
    ([b"B1", b"A1", b"B1", b"C1", b"A1", b"B1", b"C1", b"A1"], [0, 1, 0, 2, 1, 0, 2, 1],
     [0, 1, 3]),
    # long runs: only each run's first row is factorised
    ([b"S-1"] * 5 + [b"S-2"] * 6 + [b"S-1"] * 5, [0] * 5 + [1] * 6 + [0] * 5, [0, 5]),
])
def test_factorize_bytes_by_hand(texts, codes, first):
    block = np.frombuffer(b"".join(texts), dtype=np.uint8).reshape(len(texts), -1)
    found_codes, found_first = read._factorize_bytes(block)
    assert found_codes.tolist() == codes
    assert found_first.tolist() == first


def test_text_of_a_few_runs_is_each_runs_object_repeated():
    """A column of long runs (sorted SDTM) is built from one object per run when no facts are
    asked for; the rows are those of the codes path, by hand: trimmed, blanks <NA>."""
    import pandas as pd

    texts = [b" S-1  "] * 5 + [b"      "] * 4 + [b"S-2\0\0\0"] * 6 + [b" S-1  "] * 5
    rows = np.frombuffer(b"".join(texts), dtype=np.uint8).reshape(len(texts), 6)
    var = _var("USUBJID", "char", 6, 0)
    codes, first, lengths = read._factorize_runs(rows)
    assert (codes.tolist(), first.tolist(), lengths.tolist()) == ([0, 1, 2, 0], [0, 5, 9],
                                                                 [5, 4, 6, 5])
    stripped = read._column(rows, var, strip=True)
    assert stripped.tolist() == ["S-1"] * 5 + [pd.NA] * 4 + ["S-2"] * 6 + ["S-1"] * 5
    assert stripped.dtype == pd.StringDtype()
    assert read._column(rows, var).tolist() == \
        [" S-1"] * 5 + [pd.NA] * 4 + ["S-2"] * 6 + [" S-1"] * 5
    # the rows of one run share one object, as the codes path gives them
    assert len({id(value) for value in stripped.array[:5]}) == 1
    facts: dict = {}
    with_facts = read._column(rows, var, strip=True, facts=facts)
    pd.testing.assert_series_equal(with_facts, stripped)
    assert facts["USUBJID"].codes.tolist() == [0] * 5 + [-1] * 4 + [1] * 6 + [0] * 5


def test_a_normalised_frame_is_given_back_as_it_is():
    import pandas as pd

    frame = pd.DataFrame({"USUBJID": pd.array(["S-1", None], dtype="string"),
                          "AESEQ": [1.0, 2.0]})
    assert read.normalise_frame(frame, text_done=True) is frame
    # lower-case names or integer numbers: normalised as before (a new frame)
    other = pd.DataFrame({"usubjid": pd.array(["S-1", None], dtype="string"), "AESEQ": [1, 2]})
    done = read.normalise_frame(other, text_done=True)
    assert list(done.columns) == ["USUBJID", "AESEQ"]
    assert done["AESEQ"].dtype == np.float64 and done["AESEQ"].tolist() == [1.0, 2.0]
    assert done["USUBJID"].tolist() == ["S-1", pd.NA]
