"""A truncated or cut XPT v5 file is refused by `validate` and `adam --sdtm`, never half-read.

The file is a real one written by cdiscmap's XPT writer; its layout is worked out by hand from
SAS TS-140 (80-byte records): 3 library header records, 5 member header records (member,
descriptor, 2 member data records, namestr header), 7 namestrs of 140 bytes (980 bytes, padded
to 1040), the OBS header record, then 3 observations of 34 bytes (3+2+7+3+8+1+10) = 102 bytes
padded with blanks to 160. Data start at 640 + 1040 + 80 = 1760; the file has 1920 bytes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cdiscmap.adam.io import read_sdtm
from cdiscmap.cli import main
from cdiscmap.emit.xpt import XptColumn, write_xpt
from cdiscmap.errors import InputDataError
from cdiscmap.pipeline.run import default_study_dir
from cdiscmap.validation.folder import validate_folder
from cdiscmap.validation.read import read_xpt_dataset

DATA_START, SIZE = 1760, 1920
COLUMNS = [XptColumn("STUDYID", "Study Identifier", "char"),
           XptColumn("DOMAIN", "Domain Abbreviation", "char"),
           XptColumn("USUBJID", "Unique Subject Identifier", "char"),
           XptColumn("SUBJID", "Subject Identifier for the Study", "char"),
           XptColumn("AGE", "Age", "num"),
           XptColumn("SEX", "Sex", "char"),
           XptColumn("RFSTDTC", "Subject Reference Start Date/Time", "char")]


def dm_frame() -> pd.DataFrame:
    return pd.DataFrame({"STUDYID": ["ST1"] * 3, "DOMAIN": ["DM"] * 3,
                         "USUBJID": ["ST1-001", "ST1-002", "ST1-003"],
                         "SUBJID": ["001", "002", "003"], "AGE": [64.0, 51.0, 70.0],
                         "SEX": ["F", "M", "F"],
                         "RFSTDTC": ["2020-01-10", "2020-02-01", "2020-03-15"]})


def write_dm(folder: Path, frame: pd.DataFrame | None = None,
             columns: list[XptColumn] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dm.xpt"
    write_xpt(path, dm_frame() if frame is None else frame, dataset_name="DM",
              dataset_label="Demographics", columns=columns or COLUMNS,
              created=datetime(2024, 1, 1))
    return path


def truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


# (truncated size, what the message says)
CUTS = [
    (100, "its size, 100 bytes, is not a multiple of 80-byte records"),
    (400, "no namestr header record at byte 560"),
    (1280, "the file ends inside the 7 variable descriptions (namestrs): 1280 bytes, the "
           "header alone needs 1760"),
    (1840, "the observations end inside observation 3 (12 of its 34 bytes present after 2 "
           "whole observations)"),
    (1900, "its size, 1900 bytes, is not a multiple of 80-byte records"),
]


def test_the_whole_file_has_the_hand_computed_layout(tmp_path):
    path = write_dm(tmp_path / "sdtm")
    data = path.read_bytes()
    assert len(data) == SIZE
    assert data[DATA_START - 80:DATA_START].startswith(b"HEADER RECORD*******OBS     HEADER")
    assert data[DATA_START + 102:] == b" " * 58
    read = read_xpt_dataset(path, path.parent, path.parent)
    assert read.frame["USUBJID"].tolist() == ["ST1-001", "ST1-002", "ST1-003"]
    assert read.frame["AGE"].tolist() == [64.0, 51.0, 70.0]
    report = validate_folder(path.parent)
    assert not [f for f in report.findings if f.rule == "CMAP-VL0002"]


@pytest.mark.parametrize(("size", "problem"), CUTS)
def test_reader_refuses_a_truncated_file(tmp_path, size, problem):
    path = write_dm(tmp_path / "sdtm")
    truncate(path, size)
    with pytest.raises(InputDataError) as caught:
        read_xpt_dataset(path, path.parent, path.parent)
    assert str(caught.value) == (f"dm.xpt: cannot be read as XPT v5: {problem} (SAS TS-140); "
                                 "the file is truncated or corrupt: write it again")


@pytest.mark.parametrize(("size", "problem"), CUTS)
def test_validate_reports_the_truncated_file(tmp_path, size, problem):
    path = write_dm(tmp_path / "sdtm")
    truncate(path, size)
    report = validate_folder(path.parent)
    cannot = [f for f in report.findings if f.rule == "CMAP-VL0002"]
    assert [(f.dataset, f.source, f.severity.value) for f in cannot] == [("DM", "dm.xpt",
                                                                          "error")]
    assert problem in cannot[0].message
    result = CliRunner().invoke(main, ["validate", str(path.parent), "--out",
                                       str(tmp_path / "report")])
    assert result.exit_code == 1, result.output            # an error finding, as today


def test_blank_padding_of_the_last_record_is_not_an_observation(tmp_path):
    # one 34-byte row + 46 blanks: exactly one observation
    path = write_dm(tmp_path / "sdtm", dm_frame().iloc[:1])
    assert len(path.read_bytes()) == DATA_START + 80
    assert len(read_xpt_dataset(path, path.parent, path.parent).frame) == 1


@pytest.mark.parametrize(("size", "problem"), CUTS)
def test_adam_sdtm_stops_with_exit_2_naming_the_file(tmp_path, monkeypatch, size, problem):
    monkeypatch.chdir(tmp_path)
    path = write_dm(tmp_path / "sdtm")
    truncate(path, size)
    with pytest.raises(InputDataError, match="^sdtm/dm.xpt: cannot be read as XPT v5: "):
        read_sdtm(Path("sdtm"))
    result = CliRunner().invoke(main, ["adam", "--sdtm", "sdtm", "--study",
                                       str(default_study_dir()), "--out", "adam", "--quiet"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"sdtm/dm.xpt: cannot be read as XPT v5: {problem}" in result.output


def test_adam_sdtm_reads_xpt_like_pyreadstat_did(tmp_path):
    write_dm(tmp_path / "sdtm")
    dm = read_sdtm(tmp_path / "sdtm")["DM"]
    assert dm["AGE"].dtype == "float64" and dm["AGE"].tolist() == [64.0, 51.0, 70.0]
    assert str(dm["SUBJID"].dtype) == "string" and dm["SUBJID"].tolist() == ["001", "002",
                                                                             "003"]


def test_numeric_variable_stored_as_text_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = dm_frame().assign(AGE=["64", "51", "seventy"])
    columns = [c if c.name != "AGE" else XptColumn("AGE", "Age", "char") for c in COLUMNS]
    write_dm(tmp_path / "sdtm", frame, columns)
    result = CliRunner().invoke(main, ["adam", "--sdtm", "sdtm", "--study",
                                       str(default_study_dir()), "--out", "adam", "--quiet"])
    assert result.exit_code == 2, result.output
    assert ("sdtm/dm.xpt: DM.AGE is stored as text (e.g. 'seventy' in record 3); SDTM AGE is "
            "numeric: write it as a number") in result.output


def test_dtc_stored_as_a_number_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = dm_frame().assign(RFSTDTC=[21924.0, 21946.0, 21989.0])
    columns = [c if c.name != "RFSTDTC" else XptColumn("RFSTDTC", "Reference start", "num",
                                                        format="DATE9.") for c in COLUMNS]
    write_dm(tmp_path / "sdtm", frame, columns)
    with pytest.raises(InputDataError) as caught:
        read_sdtm(Path("sdtm"))
    assert str(caught.value) == ("sdtm/dm.xpt: DM.RFSTDTC is stored as a number or SAS date; "
                                 "SDTM RFSTDTC is ISO 8601 text: write it as character")
