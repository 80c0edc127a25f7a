"""``cdiscmap pool``: two tiny hand-built ADaM packages → pooled ADSL/ADAE and define.xml.

The inputs are written by the project's XPT writer from frames typed here by hand; the
expected pooled records, order and notes are worked out by hand from those frames.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cdiscmap.checks.read import read_xpt_dataset
from cdiscmap.cli import main
from cdiscmap.emit.datasets import write_datasets
from cdiscmap.emit.define import define_schema_errors
from cdiscmap.errors import InputDataError
from cdiscmap.scale.pool import pool_packages
from cdiscmap.standards import load_standards

CREATED = {"STUDYB": datetime(2024, 5, 1, 12, 0), "STUDYA": datetime(2024, 3, 1, 9, 30)}


def _adsl(studyid: str, subjects: list[str], ages: list[float], arm: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": pd.array([studyid] * len(subjects), dtype="string"),
        "USUBJID": pd.array([f"{studyid}-{s}" for s in subjects], dtype="string"),
        "SUBJID": pd.array(subjects, dtype="string"),
        "AGE": ages,
        "ARM": pd.array(arm, dtype="string"),
        "SAFFL": pd.array(["Y"] * len(subjects), dtype="string"),
    })


def _adae(studyid: str, rows: list[tuple[str, int, str]]) -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": pd.array([studyid] * len(rows), dtype="string"),
        "USUBJID": pd.array([f"{studyid}-{s}" for s, _, _ in rows], dtype="string"),
        "AESEQ": [float(n) for _, n, _ in rows],
        "AEDECOD": pd.array([d for _, _, d in rows], dtype="string"),
    })


def _package(root: Path, studyid: str, frames: dict[str, pd.DataFrame],
             labels: dict[str, dict[str, str]] | None = None) -> Path:
    package = root / studyid
    write_datasets(frames, package / "adam", load_standards(), CREATED[studyid],
                   extra_labels=labels)
    (package / "adam" / "define.xml").write_text(
        f'<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" '
        f'CreationDateTime="{CREATED[studyid].isoformat()}"/>', encoding="utf-8")
    return package


@pytest.fixture
def packages(tmp_path: Path) -> list[Path]:
    b = _package(tmp_path, "STUDYB", {
        "ADSL": _adsl("STUDYB", ["001", "002"], [61.0, 47.0], ["Crizotinib", "Crizotinib"]),
        "ADAE": _adae("STUDYB", [("002", 1, "NAUSEA")]),
    })
    a = _package(tmp_path, "STUDYA", {
        "ADSL": _adsl("STUDYA", ["001"], [70.0], ["Crizotinib 250 mg twice daily"]),
        "ADAE": _adae("STUDYA", [("001", 1, "FATIGUE"), ("001", 2, "VOMITING")]),
    })
    return [b, a]            # given out of STUDYID order on purpose


def _read(path: Path) -> pd.DataFrame:
    return read_xpt_dataset(path, path.parent, path.parent).frame


def test_pooled_datasets_keys_order_and_define(packages, tmp_path):
    out = tmp_path / "pool"
    result = pool_packages(packages, out, datasets=["ADSL", "ADAE", "ADRS"], pool_id="ISS01")

    adsl = _read(out / "adsl.xpt")
    assert adsl["USUBJID"].tolist() == ["STUDYA-001", "STUDYB-001", "STUDYB-002"]
    assert adsl["STUDYID"].tolist() == ["STUDYA", "STUDYB", "STUDYB"]
    assert adsl["AGE"].tolist() == [70.0, 61.0, 47.0]
    adae = _read(out / "adae.xpt")
    assert list(zip(adae["USUBJID"], adae["AESEQ"], adae["AEDECOD"], strict=True)) == [
        ("STUDYA-001", 1.0, "FATIGUE"), ("STUDYA-001", 2.0, "VOMITING"),
        ("STUDYB-002", 1.0, "NAUSEA")]
    assert result.records == {"ADSL": 3, "ADAE": 3}
    assert result.studies["ADSL"] == {"STUDYA": 1, "STUDYB": 2}
    assert not (out / "adrs.xpt").exists()
    assert "ADRS: in no study; not pooled" in result.notes
    # ARM is 29 bytes in STUDYA ("Crizotinib 250 mg twice daily") and 10 in STUDYB
    assert "ADSL.ARM: lengths 29 (STUDYA), 10 (STUDYB); pooled as 29" in result.notes

    xml = (out / "define.xml").read_bytes()
    assert define_schema_errors(xml) == []
    assert b'StudyName>ISS01<' in xml
    assert b'CreationDateTime="2024-05-01T12:00:00"' in xml     # the latest input's
    assert b'Name="ADSL"' in xml and b'Name="ADAE"' in xml
    assert (out / "define.html").is_file()

    again = tmp_path / "again"
    pool_packages(packages[::-1], again, datasets=["ADSL", "ADAE", "ADRS"], pool_id="ISS01")
    for name in ("adsl.xpt", "adae.xpt", "define.xml", "pool-summary.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_subject_in_two_studies_is_refused(tmp_path):
    a = _package(tmp_path, "STUDYA", {"ADSL": _adsl("STUDYA", ["001"], [70.0], ["X"])})
    clash = _adsl("STUDYB", ["007"], [50.0], ["X"])
    clash["USUBJID"] = pd.array(["STUDYA-001"], dtype="string")   # not study-qualified
    b = _package(tmp_path, "STUDYB", {"ADSL": clash})
    with pytest.raises(InputDataError, match=r"1 USUBJID value\(s\) in more than one study "
                                             r"\(STUDYA-001 in STUDYA and STUDYB\)"):
        pool_packages([a, b], tmp_path / "pool", datasets=["ADSL"])
    assert not (tmp_path / "pool").exists()


def test_type_conflict_is_refused_and_cli_exit_2(tmp_path):
    labels = {"ADSL": {"DOSELVL": "Planned Dose Level"}}     # a sponsor variable
    mine = _adsl("STUDYA", ["001"], [70.0], ["X"])
    mine["DOSELVL"] = [250.0]
    a = _package(tmp_path, "STUDYA", {"ADSL": mine}, labels)
    other = _adsl("STUDYB", ["001"], [50.0], ["X"])
    other["DOSELVL"] = pd.array(["250 MG"], dtype="string")
    b = _package(tmp_path, "STUDYB", {"ADSL": other}, labels)
    result = CliRunner().invoke(main, ["pool", str(a), str(b), "--out", str(tmp_path / "p"),
                                       "--datasets", "ADSL"])
    assert result.exit_code == 2
    assert "ADSL.DOSELVL has different types (num in STUDYA, char in STUDYB)" in result.stderr


def test_cli_pool_writes_and_reports(packages, tmp_path):
    result = CliRunner().invoke(main, ["pool", *map(str, packages), "--out",
                                       str(tmp_path / "p"), "--pool-id", "ISS01"])
    assert result.exit_code == 0, result.output
    assert "adsl.xpt: 3 records from 2 studies" in result.output
    # ADSL.ARM and ADAE.AEDECOD (8 bytes in STUDYA, 6 in STUDYB) lengths; ADRS, ADTTE absent
    assert "4 note(s)" in result.output
    assert (tmp_path / "p" / "pool-summary.md").read_text().splitlines()[4:7] == [
        "| dataset | records | STUDYA | STUDYB |", "|---|---|---|---|",
        "| ADSL | 3 | 1 | 2 |"]
