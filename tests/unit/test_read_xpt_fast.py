"""The numpy XPT v5 reader (checks/read.py) gives the frames pyreadstat gives, on the files cdiscmap
writes and on hand-patched edge cases; the lazy SDTM folder of ``adam``/``recist`` reads only the
datasets asked for.

Edge cases are made by writing a file with cdiscmap's writer and patching bytes of an observation
(the XPT v5 layout is fixed: SAS TS-140), so each test knows exactly which bytes the readers see.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.checks.read import (
    _factorize_bytes,
    _read_xpt_pyreadstat,
    _read_xpt_v5,
    factorize_objects,
    read_sdtm,
    read_xpt_dataset,
    read_xpt_special_missing,
)
from cdiscmap.cli import main
from cdiscmap.emit.xpt import XptColumn, write_xpt
from cdiscmap.errors import InputDataError

COLUMNS = [XptColumn("STUDYID", "Study Identifier", "char"),
           XptColumn("USUBJID", "Unique Subject Identifier", "char", length=13),
           XptColumn("AETERM", "Reported Term", "char", length=8),
           XptColumn("AECAT", "Category", "char", length=16),
           XptColumn("AESEQ", "Sequence Number", "num"),
           XptColumn("AESTDY", "Study Day of Start", "num")]


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": pd.array(["S1", "S1", "S1", "S1"], dtype="string"),
        "USUBJID": pd.array(["S1-001", "S1-001", "S1-002", "S1-0021234567"], dtype="string"),
        "AETERM": pd.array(["CAFE", "NAUSEA", None, "  RASH"], dtype="string"),
        "AECAT": pd.array(["GENERAL", "GENERAL", "GENERAL SYMPTOMS", None], dtype="string"),
        "AESEQ": [1.0, 2.0, 1.0, 1.0],
        "AESTDY": [3.0, np.nan, np.nan, -2.5]})


def write(path: Path, data: pd.DataFrame | None = None, **options: object) -> Path:
    write_xpt(path, frame() if data is None else data, dataset_name="AE",
              dataset_label="Adverse Events", columns=COLUMNS, **options)
    return path


def patch(path: Path, old: bytes, new: bytes) -> None:
    """Replace the one occurrence of ``old`` (same length as ``new``) in the file."""
    data = path.read_bytes()
    assert data.count(old) == 1 and len(old) == len(new)
    path.write_bytes(data.replace(old, new))


def assert_same_as_pyreadstat(path: Path) -> pd.DataFrame:
    ours = _read_xpt_v5(path, path.name)
    theirs = _read_xpt_pyreadstat(path, path.name)
    assert ours[:3] == theirs[:3] and ours[4] == theirs[4]
    pd.testing.assert_frame_equal(pd.DataFrame(ours[3]), pd.DataFrame(theirs[3]),
                                  check_exact=True)
    return pd.DataFrame(ours[3])


def test_plain_file_widths_below_at_and_above_8_bytes(tmp_path):
    read = assert_same_as_pyreadstat(write(tmp_path / "ae.xpt"))
    # USUBJID is 13 bytes (two words, the second overlapping), AETERM 8, STUDYID 2, AECAT 16
    assert read["USUBJID"].tolist() == ["S1-001", "S1-001", "S1-002", "S1-0021234567"]
    assert read["AETERM"].tolist() == ["CAFE", "NAUSEA", pd.NA, "  RASH"]
    assert read["AECAT"].tolist() == ["GENERAL", "GENERAL", "GENERAL SYMPTOMS", pd.NA]
    assert str(read["AETERM"].dtype) == "string" and read["AESEQ"].dtype == "float64"
    assert read["AESTDY"].isna().tolist() == [False, True, True, False]


def test_special_missing_values_are_nan_and_keep_their_letter(tmp_path):
    special = pd.Series(["", "A", "Z", ""])
    special_underscore = pd.Series(["", "_", "", ""])
    path = write(tmp_path / "ae.xpt", special_missing={"AESTDY": special})
    read = assert_same_as_pyreadstat(path)
    assert read["AESTDY"].isna().tolist() == [False, True, True, False]
    # SAS TS-140: .A is 0x41, .Z 0x5A, ._ 0x5F in the first byte
    assert read_xpt_special_missing(path)["AESTDY"].tolist() == [0, 0x41, 0x5A, 0]
    path2 = write(tmp_path / "ae2.xpt", special_missing={"AESTDY": special_underscore})
    assert read_xpt_special_missing(path2)["AESTDY"].tolist() == [0, 0x5F, 0x2E, 0]   # "."


def test_empty_dataset(tmp_path):
    path = write(tmp_path / "ae.xpt", frame().iloc[:0])
    ours = _read_xpt_v5(path, path.name)
    assert ours[4] == 0 and [v.name for v in ours[2]] == [c.name for c in COLUMNS]
    read = read_xpt_dataset(path, tmp_path, tmp_path).frame
    assert len(read) == 0 and str(read["USUBJID"].dtype) == "string"
    assert read["AESEQ"].dtype == "float64"


def test_nul_padding_is_padding_like_blanks(tmp_path):
    path = write(tmp_path / "ae.xpt")
    patch(path, b"NAUSEA  ", b"NAUSEA\0\0")            # AETERM, 8 bytes
    read = assert_same_as_pyreadstat(path)
    assert read["AETERM"].tolist()[1] == "NAUSEA"


def test_latin1_bytes_read_as_latin1_like_pyreadstat_retry(tmp_path):
    path = write(tmp_path / "ae.xpt")
    patch(path, b"CAFE    ", b"CAF\xc9    ")           # 0xC9 alone is not UTF-8
    read = assert_same_as_pyreadstat(path)
    assert read["AETERM"].tolist()[0] == "CAF\u00c9"


def test_utf8_text_decodes_as_utf8(tmp_path):
    path = write(tmp_path / "ae.xpt")
    patch(path, b"CAFE    ", "CAF\u00c9   ".encode())   # é in UTF-8 is 2 bytes
    ours = pd.DataFrame(_read_xpt_v5(path, path.name)[3])
    assert ours["AETERM"].tolist()[0] == "CAF\u00c9"


def test_strip_and_lineage_options(tmp_path):
    path = write(tmp_path / "ae.xpt")
    kept = read_xpt_dataset(path, tmp_path, tmp_path).frame
    stripped = read_xpt_dataset(path, tmp_path, tmp_path, strip=True, lineage=False).frame
    assert kept["AETERM"].tolist()[3] == "  RASH" and stripped["AETERM"].tolist()[3] == "RASH"
    assert kept["_SRCROW"].tolist() == [1, 2, 3, 4] and "_SRCROW" not in stripped.columns
    assert list(stripped.columns) == [c.name for c in COLUMNS]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([1, 3, 8, 9, 13, 16, 24]), st.data())
def test_factorize_bytes_groups_equal_rows_at_every_width(width, data):
    distinct = data.draw(st.lists(st.binary(min_size=width, max_size=width), min_size=1,
                                  max_size=5))
    picks = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=40))
    rows = [distinct[i % len(distinct)] for i in picks]
    # rows inside a wider record, as in a file: the block is a strided view
    record = np.frombuffer(b"".join(b"<" + r + b">" for r in rows), dtype=np.uint8)
    block = record.reshape(len(rows), width + 2)[:, 1:width + 1]
    codes, first = _factorize_bytes(block)
    for i, row in enumerate(rows):
        assert rows[first[codes[i]]] == row
        for j, other in enumerate(rows):
            assert (codes[i] == codes[j]) == (row == other)


def test_factorize_objects_keeps_texts_differing_after_nul_apart():
    # pd.factorize on an all-str array uses a C-string table: "a" and "a\x00b" would collide
    codes, uniques = factorize_objects(np.array(["a", "a\x00b", "a\x00c", None, "a"],
                                                dtype=object))
    assert codes.tolist() == [0, 1, 2, -1, 0]
    assert uniques.tolist() == ["a", "a\x00b", "a\x00c"]


# ------------------------------------------------------------------ lazy SDTM folder
def test_lazy_folder_reads_only_what_is_asked(tmp_path):
    folder = tmp_path / "sdtm"
    folder.mkdir()
    write(folder / "ae.xpt")
    (folder / "lb.xpt").write_bytes(b"not an xpt file at all")
    with pytest.raises(InputDataError, match="lb.xpt"):
        read_sdtm(folder)                                  # eager: every file
    lazy = read_sdtm(folder, lazy=True)
    assert list(lazy) == ["AE", "LB"] and len(lazy) == 2 and "LB" in lazy
    assert "DM" not in lazy and lazy.get("DM") is None
    assert lazy["AE"]["AETERM"].tolist() == ["CAFE", "NAUSEA", pd.NA, "RASH"]   # trimmed
    assert lazy["AE"] is lazy["AE"]                        # read once
    with pytest.raises(InputDataError, match="lb.xpt"):
        lazy["LB"]


def _codes_frame() -> pd.DataFrame:
    """40 rows: USUBJID in runs of 10 (one value back in a later run: the reader's run path),
    AETERM changing on every row with a blank and a text to trim, AECAT two byte values
    that are one text once trimmed (the row-by-row path)."""
    return pd.DataFrame({
        "STUDYID": pd.array(["S1"] * 40, dtype="string"),
        "USUBJID": pd.array(["S1-001"] * 10 + ["S1-002"] * 10 + ["S1-001"] * 10
                            + ["S1-003"] * 10, dtype="string"),
        "AETERM": pd.array(["CAFE", "NAUSEA", None, "  RASH"] * 10, dtype="string"),
        "AECAT": pd.array([" GENERAL", "GENERAL"] * 20, dtype="string"),
        "AESEQ": np.arange(1.0, 41.0), "AESTDY": np.ones(40)})


def test_lazy_folder_keeps_the_readers_codes_while_a_codes_cache_is_open(tmp_path):
    from cdiscmap.sdtm.vectorize import coded, codes_cache, remembered

    folder = tmp_path / "sdtm"
    folder.mkdir()
    write(folder / "ae.xpt", _codes_frame())
    with codes_cache():
        ae = read_sdtm(folder, lazy=True)["AE"]
        known = {name: remembered(ae[name]) for name in ("USUBJID", "AETERM", "AECAT")}
        assert all(found is not None for found in known.values())
        codes, uniques = known["USUBJID"]
        assert codes.tolist() == [0] * 10 + [1] * 10 + [0] * 10 + [2] * 10
        assert uniques.tolist() == ["S1-001", "S1-002", "S1-003"]
        codes, uniques = known["AETERM"]
        assert codes.tolist() == [0, 1, -1, 2] * 10          # trimmed "RASH", blank missing
        assert uniques.tolist() == ["CAFE", "NAUSEA", "RASH"]
        codes, uniques = known["AECAT"]
        assert codes.tolist() == [0] * 40 and uniques.tolist() == ["GENERAL"]
        for name in ("STUDYID", "USUBJID", "AETERM", "AECAT"):     # what hashing would give
            expected_codes, expected = pd.factorize(ae[name].to_numpy(dtype=object),
                                                    use_na_sentinel=True)
            codes, uniques = coded(ae[name])
            assert codes.tolist() == expected_codes.tolist(), name
            assert uniques.tolist() == list(expected), name
        lb = read_sdtm(folder, lazy=True).variables("AE", ["USUBJID"])   # projected read
        assert remembered(lb["USUBJID"])[0].tolist() == [0] * 10 + [1] * 10 + [0] * 10 + [2] * 10
    plain = read_sdtm(folder, lazy=True)["AE"]               # no cache open: nothing kept
    with codes_cache():
        assert remembered(plain["USUBJID"]) is None


def test_recist_command_does_not_read_datasets_it_does_not_use(tmp_path):
    folder = tmp_path / "sdtm"
    folder.mkdir()
    (folder / "tu.csv").write_text(
        "STUDYID,DOMAIN,USUBJID,TUSEQ,TULNKID,TUTESTCD,TUSTRESC,TULOC,TUEVAL,VISITNUM\n"
        "X,TU,S01,1,T01,TUMIDENT,TARGET,LIVER,INVESTIGATOR,1\n", encoding="utf-8")
    (folder / "tr.csv").write_text(
        "STUDYID,DOMAIN,USUBJID,TRSEQ,TRLNKID,TRTESTCD,TRSTRESC,TRSTRESN,TREVAL,VISITNUM,TRDTC\n"
        "X,TR,S01,1,T01,LDIAM,20,20,INVESTIGATOR,1,2024-01-10\n"
        "X,TR,S01,2,T01,LDIAM,10,10,INVESTIGATOR,2,2024-02-10\n", encoding="utf-8")
    (folder / "lb.xpt").write_bytes(b"not an xpt file at all")
    result = CliRunner().invoke(main, ["recist", "--sdtm", str(folder), "--out",
                                       str(tmp_path / "out"), "-q", "--fail-on", "none"])
    assert result.exit_code == 0, result.output
    timepoints = (tmp_path / "out" / "recist_timepoints.csv").read_text(encoding="utf-8")
    assert ",PR," in timepoints                             # 20 mm → 10 mm: -50 %


def test_reader_gives_the_facts_of_each_text_column(tmp_path):
    from cdiscmap.checks.facts import text_facts

    path = write(tmp_path / "ae.xpt")
    patch(path, b"GENERAL SYMPTOMS", b"GENERAL\0\0\0\0\0\0\0\0\0")   # "GENERAL", NUL-padded
    read = read_xpt_dataset(path, tmp_path, tmp_path)
    assert sorted(read.facts) == ["AECAT", "AETERM", "STUDYID", "USUBJID"]
    aeterm, aecat = read.facts["AETERM"], read.facts["AECAT"]
    assert aeterm.codes.tolist() == [0, 1, -1, 2]             # the blank row is missing
    assert aeterm.uniques.tolist() == ["CAFE", "NAUSEA", "  RASH"]
    # two byte values ("GENERAL" blank- and NUL-padded) are one text: one code
    assert aecat.codes.tolist() == [0, 0, 0, -1] and aecat.uniques.tolist() == ["GENERAL"]
    for name, facts in read.facts.items():
        found = text_facts(read.frame[name])
        assert facts.codes.tolist() == found.codes.tolist(), name
        assert facts.uniques.tolist() == found.uniques.tolist(), name


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["", "A", "B ", " B", "A\0", "\0\0", "CC"]), min_size=1,
                max_size=30))
def test_reader_facts_match_factorising_the_column(values):
    from cdiscmap.checks.facts import TextFacts
    from cdiscmap.checks.read import _facts, _string_column

    # the reader's codes number byte values; "A" and "A\0" are one text after the padding
    codes, table = pd.factorize(pd.Series(values), use_na_sentinel=True)
    first = np.array([values.index(v) for v in table])
    texts = [v.rstrip(" \0") for v in table]
    column, facts = _string_column(np.asarray(codes), texts, first=first)
    assert isinstance(facts, TextFacts)
    expected_codes, expected = pd.factorize(column.to_numpy(dtype=object), use_na_sentinel=True)
    assert facts.codes.tolist() == expected_codes.tolist()
    assert facts.uniques.tolist() == list(expected)
    # numbered by sorting (the reader's fallback after a hash collision): same facts
    order = np.argsort([t for t in table])
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    _, again = _string_column(rank[codes], [texts[i] for i in order], first=first[order])
    assert again.codes.tolist() == facts.codes.tolist()
    assert again.uniques.tolist() == facts.uniques.tolist()
    assert _facts(np.zeros(0, dtype=np.intp), np.zeros(0, dtype=object),
                  np.zeros(0, dtype=np.int64)).uniques.tolist() == []


def test_a_second_member_ends_the_first_ones_observations(tmp_path):
    first = write(tmp_path / "ae.xpt")
    other = write(tmp_path / "other.xpt", frame().iloc[:1])
    both = tmp_path / "both.xpt"
    # SAS TS-140: a library may hold several members; each starts with a member header
    # record (the 4th 80-byte record of a file written alone)
    both.write_bytes(first.read_bytes() + other.read_bytes()[3 * 80:])
    read = read_xpt_dataset(both, tmp_path, tmp_path).frame
    assert read["USUBJID"].tolist() == ["S1-001", "S1-001", "S1-002", "S1-0021234567"]



@settings(max_examples=60, deadline=None)
@given(st.sampled_from([1, 3, 8, 9, 13, 16]), st.data())
def test_factorize_bytes_on_long_runs_numbers_values_by_first_appearance(width, data):
    # sorted data: few runs of equal rows, the path that factorises each run's first row
    distinct = data.draw(st.lists(st.binary(min_size=width, max_size=width), min_size=1,
                                  max_size=4, unique=True))
    runs = data.draw(st.lists(st.tuples(st.integers(0, len(distinct) - 1), st.integers(4, 12)),
                              min_size=1, max_size=6))
    rows = [distinct[value] for value, length in runs for _ in range(length)]
    record = np.frombuffer(b"".join(b"<" + r + b">" for r in rows), dtype=np.uint8)
    codes, first = _factorize_bytes(record.reshape(len(rows), width + 2)[:, 1:width + 1])
    order = list(dict.fromkeys(rows))                    # values by first appearance
    assert codes.tolist() == [order.index(r) for r in rows]
    assert first.tolist() == [rows.index(v) for v in order]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([2, 8, 13]),
       st.lists(st.tuples(st.sampled_from(["", "A", " A", "B ", "CC", "\0"]),
                          st.integers(min_value=1, max_value=12)), min_size=1, max_size=12))
def test_facts_made_later_are_the_facts_made_at_once(width, runs):
    from cdiscmap.checks.files import VariableMeta
    from cdiscmap.checks.read import (
        TextFacts,
        _column,
        _row_words,
        _Variable,
    )

    # a column of runs of equal values (the reader's run path when runs are few, its
    # row-by-row path when they are not), read with its facts at once and made later
    values = [value for value, count in runs for _ in range(count)]
    block = np.array([list(v.encode().ljust(width, b" ")[:width]) for v in values],
                     dtype=np.uint8)
    var = _Variable(VariableMeta("X", "", "char", width, None), 0)
    at_once: dict[str, TextFacts] = {}
    later: dict = {}
    first = _column(block, var, strip=True, facts=at_once, words=_row_words(block))
    second = _column(block, var, strip=True, later=later, words=_row_words(block))
    assert first.tolist() == second.tolist()
    made = later["X"]()
    assert made.codes.tolist() == at_once["X"].codes.tolist()
    assert made.uniques.tolist() == at_once["X"].uniques.tolist()
    expected_codes, expected = pd.factorize(second.to_numpy(dtype=object), use_na_sentinel=True)
    assert made.codes.tolist() == expected_codes.tolist()
    assert made.uniques.tolist() == list(expected)
