"""CSV forms with a declared delimiter and encoding (study.yaml forms: delimiter, encoding)."""

from __future__ import annotations

import pytest

from cdiscmap.errors import InputDataError
from cdiscmap.ingest import read_form


def test_semicolon_cp1252_export(tmp_path):
    path = tmp_path / "labs.txt"
    path.write_bytes('SUBJECT;TEST;RESULT\n001;"Hémoglobine; totale";12,5\n002;Créatinine;\n'
                     .encode("cp1252"))
    f = read_form("labs", path, format="csv", delimiter=";", encoding="cp1252").frame
    assert f["TEST"].tolist() == ["Hémoglobine; totale", "Créatinine"]
    assert f["RESULT"].iloc[0] == "12,5"          # the decimal comma is text, not a delimiter
    assert f["RESULT"].isna().iloc[1]
    assert f["_SRCROW"].tolist() == [1, 2]


def test_tsv_suffix_means_tab(tmp_path):
    path = tmp_path / "ae.tsv"
    path.write_text("SUBJECT\tTERM\n001\tNausea, mild\n")
    assert read_form("ae", path).frame["TERM"].tolist() == ["Nausea, mild"]


def test_undeclared_delimiter_and_wrong_encoding_are_named(tmp_path):
    path = tmp_path / "labs.csv"
    path.write_text("SUBJECT;TEST;RESULT\n001;HGB;12\n")
    with pytest.raises(InputDataError, match="semicolon-delimited.*declare its 'delimiter'"):
        read_form("labs", path)
    (tmp_path / "x.csv").write_bytes("A,B\n1,é\n".encode())
    with pytest.raises(InputDataError, match="unknown encoding 'klingon'"):
        read_form("x", tmp_path / "x.csv", encoding="klingon")
    (tmp_path / "y.csv").write_bytes(b"A,B\n1,\x81\n")
    with pytest.raises(InputDataError, match=r"not cp1252 text: byte 0x81"):
        read_form("y", tmp_path / "y.csv", encoding="cp1252")
