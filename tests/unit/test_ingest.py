"""Raw readers: text columns, blanks as missing, lineage, and clear errors."""

from __future__ import annotations

import pandas as pd
import pyreadstat
import pytest

from cdiscmap.errors import InputDataError
from cdiscmap.ingest import read_form


def test_csv_text_blanks_and_lineage(tmp_path):
    path = tmp_path / "ae.csv"
    path.write_text("SUBJECT,TERM,GRADE\n001, Nausea ,2\n002,,3\n", encoding="utf-8")
    form = read_form("ae", path)
    f = form.frame
    assert f["TERM"].tolist()[0] == "Nausea"          # surrounding blanks trimmed
    assert pd.isna(f["TERM"].iloc[1])                  # blank → missing
    assert f["GRADE"].tolist() == ["2", "3"]           # text, never numbers
    assert f["_SRCFILE"].tolist() == ["ae.csv", "ae.csv"]
    assert f["_SRCROW"].tolist() == [1, 2]


def test_sas_transport_raw_form_reads_like_csv(tmp_path):
    raw = pd.DataFrame({"SUBJECT": ["001", "002", "003"], "DOSE": [250.0, 12.5, float("nan")],
                        "LINE": [1.0, 2.0, 3.0]})
    path = tmp_path / "ex.xpt"
    pyreadstat.write_xport(raw, str(path), table_name="EX")
    f = read_form("ex", path).frame
    assert f["DOSE"].iloc[0] == "250" and f["DOSE"].iloc[1] == "12.5"
    assert pd.isna(f["DOSE"].iloc[2])
    assert f["LINE"].tolist() == ["1", "2", "3"]
    assert f["_SRCROW"].tolist() == [1, 2, 3]


def test_missing_file_and_unsupported_type(tmp_path):
    with pytest.raises(InputDataError, match="not found"):
        read_form("ae", tmp_path / "ae.csv")
    (tmp_path / "ae.json").write_bytes(b"PK")
    with pytest.raises(InputDataError, match="unsupported file type '.json'"):
        read_form("ae", tmp_path / "ae.json")


def test_duplicate_columns_and_empty_file(tmp_path):
    (tmp_path / "a.csv").write_text("X,X\n1,2\n")
    with pytest.raises(InputDataError, match=r"duplicate column names \['X'\]"):
        read_form("a", tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("")
    with pytest.raises(InputDataError, match="empty file"):
        read_form("b", tmp_path / "b.csv")


def test_delimiters_inside_quoted_fields_are_text(tmp_path, monkeypatch):
    # several quoted fields per record, one spanning a line: only their commas are text
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "q.csv"
    path.write_bytes(b'A,B,C\n"x,y",1,"p,q,r"\n2,"a,\nb",3\n')
    f = read_form("q", path).frame
    assert f["A"].tolist() == ["x,y", "2"]
    assert f["B"].tolist() == ["1", "a,\nb"]
    assert f["C"].tolist() == ["p,q,r", "3"]
    assert f["_SRCROW"].tolist() == [1, 2]
    # a real extra delimiter after a quoted comma is still counted (line 3: 4 fields)
    path.write_bytes(b'A,B,C\n"x,y",1,2\n"u,v",1,2,3\n')
    with pytest.raises(InputDataError) as caught:
        read_form("q", path)
    assert str(caught.value) == ("q.csv: record at line 3, column 1 has 4 fields, the header 3: "
                                 "a stray quote or delimiter; fix the export")


def test_utf8_text_with_byte_order_mark_and_whitespace_only_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "u.csv"
    path.write_bytes("\ufeffSUBJECT,TERM\n001, Nausée \n".encode())
    f = read_form("u", path).frame
    assert list(f.columns[:2]) == ["SUBJECT", "TERM"]        # the mark is not in the name
    assert f["TERM"].tolist() == ["Nausée"]
    # an invalid byte after valid non-ASCII text: the whole file is checked, not the header
    path.write_bytes("SUBJECT,TERM\n001,Nausée\n002,caf".encode() + b"\xe9\n")
    with pytest.raises(InputDataError) as caught:
        read_form("u", path)
    assert str(caught.value) == ("u.csv: not UTF-8 text: byte 0xE9 at line 3, column 8 (invalid "
                                 "continuation byte); re-export the form as UTF-8")
    path.write_bytes(b" \t\r\n  \n")
    with pytest.raises(InputDataError) as caught:
        read_form("u", path)
    assert str(caught.value) == "u.csv: empty file (7 bytes, no header row)"


def test_csv_parsed_whole_or_by_chunks_reads_the_same(tmp_path, monkeypatch):
    """A form parsed in one piece (up to readers._WHOLE_PARSE_BYTES) and one parsed chunk by
    chunk give the same text and the same factorisation: pandas may order a chunked parse's
    categories otherwise (unioned chunk by chunk), but read_form numbers the values by first
    appearance ('z1' before 'a1', which first appears half way) either way."""
    from cdiscmap.ingest import readers
    from cdiscmap.sdtm.vectorize import coded, codes_cache

    n = 300_000                 # several of pandas' low-memory chunks at two columns
    lines = [f"{i % 7},{'z1' if i < n // 2 else 'a1'}\n" for i in range(n)]
    path = tmp_path / "lb.csv"
    path.write_text("K,V\n" + "".join(lines), encoding="utf-8")
    results = []
    seen = []
    read_csv = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: seen.append(k["low_memory"]) or
                        read_csv(*a, **k))
    for limit in (0, 1 << 40):      # chunked, whole
        monkeypatch.setattr(readers, "_WHOLE_PARSE_BYTES", limit)
        with codes_cache():
            frame = read_form("lb", path).frame
            codes, uniques = coded(frame["V"])
            results.append((frame["V"].tolist(), codes.tolist(), list(uniques)))
    assert seen == [True, False]
    assert results[0] == results[1]
    assert results[0][2] == ["z1", "a1"]                  # first appearance
    assert results[0][1][:2] == [0, 0] and results[0][1][-1] == 1
