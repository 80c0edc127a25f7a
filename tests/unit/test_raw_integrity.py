"""Raw CSV integrity: broken exports stop with one line naming the file and the line.

Each case starts from a real synthetic export (crizotinib-basket, 5 subjects, seed 1) and
breaks one thing the way exports break: a quote left open, a NUL byte, a Latin-1 byte, a
tab-delimited or padded header, an empty file, a folder in place of a file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cdiscmap import synth
from cdiscmap.cli import main
from cdiscmap.errors import InputDataError
from cdiscmap.ingest.readers import read_form
from cdiscmap.pipeline.run import default_study_dir


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export")
    synth.generate("crizotinib-basket", out, n_subjects=5, seed=1)
    return out / "raw"


@pytest.fixture()
def raw(export, tmp_path, monkeypatch) -> Path:
    """A private copy of the raw export to break (the working directory: files show bare)."""
    folder = tmp_path / "raw"
    folder.mkdir()
    for path in export.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    monkeypatch.chdir(folder)
    return folder


def _edit_line(path: Path, line: int, old: bytes, new: bytes) -> None:
    """Replace the first ``old`` on 1-based physical ``line`` of ``path``."""
    lines = path.read_bytes().split(b"\n")
    assert old in lines[line - 1], (line, lines[line - 1][:80])
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_bytes(b"\n".join(lines))


def _error(path: Path) -> str:
    with pytest.raises(InputDataError) as caught:
        read_form("ae", path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_untouched_export_reads_every_line(export):
    # ae.csv: header + 21 records on 22 lines, one of them quoted (a comma in AETERM)
    form = read_form("ae", export / "ae.csv")
    assert form.n_rows == 21
    assert len((export / "ae.csv").read_bytes().splitlines()) == 22
    assert form.frame["_SRCROW"].tolist() == list(range(1, 22))


def test_quote_opened_at_a_field_start_and_never_closed(raw):
    # line 21 (record 20): AETERM gets an opening quote; pandas today raises a parser
    # message about "row 20"; we name the physical line and column of the quote
    path = raw / "ae.csv"
    _edit_line(path, 21, b"103-0001,2,", b"103-0001,2,\"")
    line = path.read_bytes().split(b"\n")[20]
    assert line.index(b"\"") + 1 == 12
    assert _error(path) == ("ae.csv: unbalanced quote at line 21, column 12: its field runs "
                            "to the end of the file and would swallow every record after it; "
                            "close or remove the quote")


def test_quote_that_swallows_records_silently_today(raw):
    # line 9's AELLT opens a quote that a stray quote on line 16 ("No\",") closes: pandas
    # reads 14 records instead of 21 and says nothing (the symptom of the issue)
    path = raw / "ae.csv"
    _edit_line(path, 9, b",Abdominal pain,Abdominal pain,", b",Abdominal pain,\"Abdominal pain,")
    _edit_line(path, 16, b",No,", b",No\",")
    assert len(pd.read_csv(path, dtype=str, keep_default_na=False)) == 14
    message = _error(path)
    assert message.startswith("ae.csv: quoted field opened at line 9, column 27 holds whole "
                              "records (e.g. line 10, column 1)")


def test_quote_closed_mid_value_names_the_opening_line(raw):
    # an opening quote on line 2 pairs with the (legitimate) opening quote of line 6
    path = raw / "ae.csv"
    _edit_line(path, 2, b",Nausea,", b",\"Nausea,")
    message = _error(path)
    assert message.startswith("ae.csv: unbalanced quote at line 2, column 12: the quoted field "
                              "ends mid-value at line 6, column 12")


def test_quotes_inside_unquoted_text_and_doubled_quotes_are_legal(raw):
    path = raw / "ae.csv"
    _edit_line(path, 2, b",Nausea,", b",Nau\"sea 5\" x,")      # literal quotes (pandas keeps)
    form = read_form("ae", path)
    assert form.n_rows == 21
    assert form.frame["AETERM"].iloc[0] == "Nau\"sea 5\" x"
    multi = raw / "multi.csv"
    multi.write_bytes(b"A,B\n1,\"say \"\"hi\"\", ok\"\n2,\"two\nlines\"\n\n3,x\n")
    frame = read_form("multi", multi).frame
    assert frame["B"].tolist() == ["say \"hi\", ok", "two\nlines", "x"]
    assert frame["_SRCROW"].tolist() == [1, 2, 3]


def test_record_with_an_extra_delimiter(raw):
    path = raw / "ae.csv"
    _edit_line(path, 8, b",Constipation,", b",Consti,pation,")
    assert _error(path) == ("ae.csv: record at line 8, column 1 has 24 fields, the header 23: "
                            "a stray quote or delimiter; fix the export")


def test_nul_byte_names_line_and_column(raw):
    path = raw / "ae.csv"
    _edit_line(path, 4, b",2015", b",20\x0015")
    line = path.read_bytes().split(b"\n")[3]
    column = line.index(b"\x00") + 1
    assert column == 87
    assert _error(path) == ("ae.csv: NUL byte at line 4, column 87: text after it would be "
                            "cut off; re-export the form")


def test_non_utf8_byte_names_line_and_byte(raw):
    path = raw / "ae.csv"
    _edit_line(path, 7, "Nausée".encode(), "Nausée".encode("latin-1"))   # 101-0002,1,Nausée
    assert _error(path) == ("ae.csv: not UTF-8 text: byte 0xE9 at line 7, column 16 (invalid "
                            "continuation byte); re-export the form as UTF-8")


def test_empty_file_and_folder(raw):
    (raw / "empty.csv").write_bytes(b"")
    assert _error(raw / "empty.csv") == ("raw form 'ae': empty.csv is an empty file (0 bytes); "
                                         "re-export the form")
    (raw / "folder.csv").mkdir()
    assert _error(raw / "folder.csv") == "raw form 'ae': folder.csv is a folder, not a file"
    (raw / "blank.csv").write_bytes(b"\n\n")
    assert _error(raw / "blank.csv") == "blank.csv: empty file (2 bytes, no header row)"


def test_header_cell_over_the_csv_field_limit(raw):
    path = raw / "big.csv"
    path.write_bytes(b"A," + b"B" * 200_000 + b"\n1,2\n")
    assert _error(path) == ("big.csv: line 1: header cannot be read (field larger than field "
                            "limit (131072)); is it a CSV export?")


def test_tab_delimited_header(raw):
    path = raw / "ae.csv"
    path.write_bytes(path.read_bytes().replace(b",", b"\t"))
    # the real cause, not "column(s) ['SUBJECT', 'SUBJECT'] ... are missing" as before
    assert _error(path).startswith("ae.csv: header looks tab-delimited")


def test_padded_header(raw):
    path = raw / "ae.csv"
    _edit_line(path, 1, b",AETERM,", b", AETERM ,")
    assert _error(path) == ("ae.csv: column ' AETERM ' has surrounding spaces: remove them "
                            "from the header")


def test_windows_line_ends_read_the_same(raw, export):
    path = raw / "ae.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    ours = read_form("ae", path).frame
    pd.testing.assert_frame_equal(ours, read_form("ae", export / "ae.csv").frame)


def test_cli_run_stops_with_exit_2_and_one_line(raw, tmp_path):
    _edit_line(raw / "ae.csv", 21, b"103-0001,2,", b"103-0001,2,\"")
    result = CliRunner().invoke(main, ["run", str(default_study_dir()), "--raw", str(raw),
                                       "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "ae.csv: unbalanced quote at line 21, column 12" in result.output
    assert len(result.output.strip().splitlines()) == 1
