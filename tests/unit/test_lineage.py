"""lineage.csv (emit.report.write_lineage): one line per SDTM record with its raw file and row,
written from distinct values; the expected text is hand-written CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cdiscmap.emit.report import write_lineage


def _frames() -> dict[str, pd.DataFrame]:
    ae = pd.DataFrame({
        "USUBJID": pd.array(["S-1", "S-1", None, 'S,"2"'], dtype="string"),
        "AESEQ": [1.0, 2.0, np.nan, 1.0],
        "_SRCFILE": pd.array(["ae.csv", "ae.csv", "ae.csv", "ae 2.csv"], dtype="string"),
        "_SRCROW": np.array([3, 4, 5, 1], dtype=np.int64),
    })
    suppdm = pd.DataFrame({
        "USUBJID": pd.array(["S-1"], dtype="string"),
        "QNAM": pd.array(["RACEOTH"], dtype="string"),
        "_SRCFILE": pd.array(["dm\ncsv"], dtype="string"),
        "_SRCROW": np.array([7], dtype=np.int64),
    })
    ta = pd.DataFrame({"_SRCFILE": np.array(["study.yaml", None], dtype=object),
                       "_SRCROW": pd.array([2, None], dtype="Int64")})
    no_lineage = pd.DataFrame({"USUBJID": ["S-1"]})
    return {"TA": ta, "SUPPDM": suppdm, "AE": ae, "XX": no_lineage,
            "DM": ae.iloc[:0]}


def test_lineage_lines_by_hand(tmp_path: Path) -> None:
    write_lineage(tmp_path, _frames())
    text = (tmp_path / "lineage.csv").read_text()
    assert text == (
        "dataset,USUBJID,SEQ,QNAM,source_file,source_row\n"
        "AE,S-1,1,,ae.csv,3\n"
        "AE,S-1,2,,ae.csv,4\n"
        "AE,,,,ae.csv,5\n"
        'AE,"S,""2""",1,,ae 2.csv,1\n'
        'SUPPDM,S-1,,RACEOTH,"dm\ncsv",7\n'
        "TA,,,,study.yaml,2\n"
        "TA,,,,,\n")


def test_lineage_is_what_to_csv_writes(tmp_path: Path) -> None:
    """The same table built row by row with pandas and written by DataFrame.to_csv."""
    frames = _frames()
    pieces = []
    for name, frame in sorted(frames.items()):
        if "_SRCFILE" not in frame:
            continue
        seq = f"{name}SEQ" if f"{name}SEQ" in frame else None
        pieces.append(pd.DataFrame({
            "dataset": name,
            "USUBJID": frame["USUBJID"].astype("string") if "USUBJID" in frame else "",
            "SEQ": frame[seq].astype("Int64").astype("string") if seq else "",
            "QNAM": frame["QNAM"].astype("string") if "QNAM" in frame else "",
            "source_file": frame["_SRCFILE"].astype("string"),
            "source_row": frame["_SRCROW"].astype("Int64")}))
    expected = pd.concat(pieces, ignore_index=True).to_csv(index=False, lineterminator="\n")
    write_lineage(tmp_path, frames)
    assert (tmp_path / "lineage.csv").read_text() == expected


def test_no_lineage_columns_writes_an_empty_table(tmp_path: Path) -> None:
    write_lineage(tmp_path, {"XX": pd.DataFrame({"USUBJID": ["S-1"]})})
    assert (tmp_path / "lineage.csv").read_text() == pd.DataFrame().to_csv(
        index=False, lineterminator="\n")


def test_numbers_around_the_thousands_split(tmp_path: Path) -> None:
    """Source rows and --SEQ of one, three, four and six digits (written in two pieces from a
    thousand on), a missing --SEQ, and numbers the tables do not take (negative, fractional
    --SEQ would be refused by astype("Int64"); a negative one is written as pandas does)."""
    lb = pd.DataFrame({
        "USUBJID": pd.array(["S-1"] * 6, dtype="string"),
        "LBSEQ": [1.0, 999.0, 1000.0, np.nan, 1001.0, 716536.0],
        "_SRCFILE": pd.array(["lb.csv"] * 6, dtype="string"),
        "_SRCROW": np.array([0, 9, 1000, 1010, 20001, 716536], dtype=np.int64),
    })
    vs = pd.DataFrame({
        "USUBJID": pd.array(["S-2", "S-2"], dtype="string"),
        "VSSEQ": [-3.0, 2.0],
        "_SRCFILE": pd.array(["vs.csv", "vs.csv"], dtype="string"),
        "_SRCROW": np.array([5, -1], dtype=np.int64),
    })
    write_lineage(tmp_path, {"LB": lb, "VS": vs})
    assert (tmp_path / "lineage.csv").read_text() == (
        "dataset,USUBJID,SEQ,QNAM,source_file,source_row\n"
        "LB,S-1,1,,lb.csv,0\n"
        "LB,S-1,999,,lb.csv,9\n"
        "LB,S-1,1000,,lb.csv,1000\n"
        "LB,S-1,,,lb.csv,1010\n"
        "LB,S-1,1001,,lb.csv,20001\n"
        "LB,S-1,716536,,lb.csv,716536\n"
        "VS,S-2,-3,,vs.csv,5\n"
        "VS,S-2,2,,vs.csv,-1\n")


def test_many_qnam_and_file_pairs(tmp_path: Path) -> None:
    """More QNAM x file pairs than records: only the pairs present are formatted."""
    supp = pd.DataFrame({
        "USUBJID": pd.array(["S-1", "S-1"], dtype="string"),
        "QNAM": pd.array(["A", "B"], dtype="string"),
        "_SRCFILE": pd.array(["x.csv", "y,z.csv"], dtype="string"),
        "_SRCROW": np.array([1, 2], dtype=np.int64),
    })
    write_lineage(tmp_path, {"SUPPAE": supp})
    assert (tmp_path / "lineage.csv").read_text() == (
        "dataset,USUBJID,SEQ,QNAM,source_file,source_row\n"
        "SUPPAE,S-1,,A,x.csv,1\n"
        'SUPPAE,S-1,,B,"y,z.csv",2\n')


def test_lines_joined_as_bytes_or_as_text_alike(monkeypatch) -> None:
    """Pieces of many UTF-8 widths are padded and unpadded exactly; a NUL character or a
    piece too wide to pad sends the dataset to the str join, which writes the same bytes."""
    from cdiscmap.emit import report

    frame = pd.DataFrame({
        "USUBJID": pd.array(["S-é", "S-1", "Ω-ß", None, "S-1"], dtype="string"),
        "AESEQ": [1.0, 1002.0, np.nan, 3.0, 40.0],
        "_SRCFILE": pd.array(["ae.csv", "äe.csv", "ae.csv", None, "ae.csv"], dtype="string"),
        "_SRCROW": np.array([1, 2000, 999, 0, 12345], dtype=np.int64)})
    expected = ("\nAE,S-é,1,,ae.csv,1\nAE,S-1,1002,,äe.csv,2000\nAE,Ω-ß,,,ae.csv,999"
                "\nAE,,3,,,0\nAE,S-1,40,,ae.csv,12345").encode()
    assert report.lineage_lines("AE", frame) == expected
    nul = frame.assign(USUBJID=pd.array(["S\x00é", "S-1", "Ω-ß", None, "S-1"], dtype="string"))
    assert report.lineage_lines("AE", nul) == expected.replace(b"S-\xc3\xa9", b"S\x00\xc3\xa9")
    wide = frame.assign(_SRCFILE=pd.array(["a" * 300] * 5, dtype="string"))
    a300 = "a" * 300
    assert report.lineage_lines("AE", wide) == (
        f"\nAE,S-é,1,,{a300},1\nAE,S-1,1002,,{a300},2000\nAE,Ω-ß,,,{a300},999"
        f"\nAE,,3,,{a300},0\nAE,S-1,40,,{a300},12345").encode()
    # the same frames with the bytes join taken whatever their size
    monkeypatch.setattr(report, "_BYTES_ROWS_PER_ENTRY", 0)
    assert report.lineage_lines("AE", frame) == expected
    assert report.lineage_lines("AE", nul) == expected.replace(b"S-\xc3\xa9", b"S\x00\xc3\xa9")
    monkeypatch.undo()
    # which path: bytes unless a piece holds NUL or is wider than the padding allows
    codes = np.array([1, 0, 1, 1, 0, 0, 1, 1])
    assert report._joined_bytes([(np.array(["é", "xy"], dtype=object), codes)], 8) == \
        "xyéxyxyééxyxy".encode()
    assert report._joined_bytes([(np.array(["\x00", "x"], dtype=object), codes)], 8) is None
    assert report._joined_bytes([(np.array([a300, "x"], dtype=object), codes)], 8) is None
    # tables large beside the rows: the str join (the frames above took it)
    assert report._joined_bytes([(np.array(["é", "xy"], dtype=object), codes[:7])], 7) is None
