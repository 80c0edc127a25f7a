"""findings.xlsx: the Pinnacle 21 layout (Dataset Summary, Issue Summary, Issue Details, Rules).

A hand-built report with known findings gives known rows on every sheet; ``cdiscmap validate``
on a small XPT package writes the workbook beside the other reports, byte-identical on rerun.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from openpyxl import load_workbook

from cdiscmap.cli import main
from cdiscmap.emit.attributes import dataset_label, metadata_for, ordered_columns
from cdiscmap.emit.xpt import write_xpt
from cdiscmap.findings import Finding, Findings, Severity
from cdiscmap.standards import load_standards
from cdiscmap.validation.folder import DatasetSeen, ValidationReport, rule_catalogue
from cdiscmap.validation.report import XLSX_NAME, findings_workbook

SHEETS = ["Dataset Summary", "Issue Summary", "Issue Details", "Rules"]
E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTICE


def sheets(data: bytes) -> dict[str, list[list[object]]]:
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == SHEETS
    return {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in book}


def known_report() -> ValidationReport:
    """AE: a subject not in DM, a wrong study day, 5 records with one unknown AEREL (folded);
    define.xml names LB, which has no file; no define.xml for the folder (package notice)."""
    findings = Findings([
        Finding("CMAP-SD0006", N, "AEREL 'MAYBE' not in codelist", "AE", "ST1-001", "AEREL",
                "MAYBE", "ae.xpt row 2", 5),
        Finding("CMAP-XD0006", W, "AESTDY 4, expected 3", "AE", "ST1-001", "AESTDY", "4",
                "ae.xpt row 1"),
        Finding("CMAP-DF0010", N, "no define.xml in pkg/: define checks not run", source="pkg"),
        Finding("CMAP-XD0001", E, "USUBJID ST1-009 not in DM", "AE", "ST1-009", "USUBJID",
                "ST1-009", "ae.xpt row 3"),
        Finding("CMAP-DF0001", E, "define.xml describes LB but no file holds it", "LB"),
    ])
    return ValidationReport(
        folder=Path("pkg"), findings=findings,
        datasets=[DatasetSeen("AE", "ae.xpt", "xpt", "SDTM", 7, 30),
                  DatasetSeen("DM", "dm.xpt", "xpt", "SDTM", 2, 25)],
        rules_run={"AE": ["CMAP-SD0001", "CMAP-SD0006", "CMAP-XD0001", "CMAP-XD0006"],
                   "DM": ["CMAP-SD0001", "CMAP-XD0001"]})


def test_sheets_and_rows_of_a_known_report():
    got = sheets(findings_workbook(known_report()))
    text = {rule: explanation for rule, (_, explanation) in rule_catalogue().items()}

    assert got["Dataset Summary"] == [
        ["Dataset", "File", "Standard", "Records", "Variables", "Errors", "Warnings",
         "Notices"],
        ["AE", "ae.xpt", "SDTM", 7, 30, 1, 1, 5],         # 5: the folded notice's records
        ["DM", "dm.xpt", "SDTM", 2, 25, 0, 0, 0],
        ["LB", None, None, None, None, 1, 0, 0],          # named by define.xml only
        ["(package)", None, None, None, None, 0, 0, 1],
    ]
    assert got["Issue Summary"] == [
        ["Rule", "Severity", "Message", "Dataset", "Count"],
        ["CMAP-DF0001", "error", text["CMAP-DF0001"], "LB", 1],
        ["CMAP-XD0001", "error", text["CMAP-XD0001"], "AE", 1],
        ["CMAP-XD0006", "warning", text["CMAP-XD0006"], "AE", 1],
        ["CMAP-DF0010", "notice", text["CMAP-DF0010"], "(package)", 1],
        ["CMAP-SD0006", "notice", text["CMAP-SD0006"], "AE", 5],
    ]
    assert text["CMAP-XD0001"].startswith("USUBJID is not in DM")
    assert got["Issue Details"] == [
        ["Rule", "Severity", "Dataset", "Subject", "Variable", "Value", "Source", "Count",
         "Message"],
        ["CMAP-DF0001", "error", "LB", None, None, None, None, 1,
         "define.xml describes LB but no file holds it"],
        ["CMAP-XD0001", "error", "AE", "ST1-009", "USUBJID", "ST1-009", "ae.xpt row 3", 1,
         "USUBJID ST1-009 not in DM"],
        ["CMAP-XD0006", "warning", "AE", "ST1-001", "AESTDY", "4", "ae.xpt row 1", 1,
         "AESTDY 4, expected 3"],
        ["CMAP-DF0010", "notice", None, None, None, None, "pkg", 1,
         "no define.xml in pkg/: define checks not run"],
        ["CMAP-SD0006", "notice", "AE", "ST1-001", "AEREL", "MAYBE", "ae.xpt row 2", 5,
         "AEREL 'MAYBE' not in codelist"],
    ]
    assert got["Rules"] == [
        ["Rule", "Severity", "Description", "CORE", "Conformance", "IG section"],
        ["CMAP-DF0001", "error", text["CMAP-DF0001"], None, None, None],
        ["CMAP-DF0010", "notice", text["CMAP-DF0010"], None, None, None],
        ["CMAP-SD0001", "error", text["CMAP-SD0001"], "CORE-000355", "CG0014", "SDTMIG 3.4 §4.1.5"],
        ["CMAP-SD0006", "notice", text["CMAP-SD0006"], None, None, None],
        ["CMAP-XD0001", "error", text["CMAP-XD0001"], "CORE-000201", "CG0029",
         "SDTMIG 3.4 §4.2.3, §5.2"],
        ["CMAP-XD0006", "warning", text["CMAP-XD0006"], "CORE-000529, CORE-000552, CORE-000553",
         "CG0006, FB1603, CG0220, CG0222", "SDTMIG 3.4 §4.4.4"],
    ]


def test_data_values_stay_text_and_control_characters_are_replaced():
    report = known_report()
    report.findings = Findings([Finding("CMAP-SD0005", E, "bad value", "AE", "ST1-001", "AEOUT",
                                        "=HYPERLINK(\"x\")\x01", "ae.xpt row 1")])
    data = findings_workbook(report)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        details = z.read("xl/worksheets/sheet3.xml").decode("utf-8")
    assert "<f>" not in details                       # a value is never a formula
    assert sheets(data)["Issue Details"][1][5] == "=HYPERLINK(\"x\")\ufffd"


def test_workbook_bytes_are_fixed():
    first, second = findings_workbook(known_report()), findings_workbook(known_report())
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as z:
        assert {info.date_time for info in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode("utf-8")
    assert core.count("2000-01-01T00:00:00Z") == 2    # created and modified


def _write(folder: Path, name: str, frame: pd.DataFrame) -> None:
    standards = load_standards()
    write_xpt(folder / f"{name.lower()}.xpt", frame, dataset_name=name,
              dataset_label=dataset_label(standards, name),
              columns=ordered_columns(frame, metadata_for(standards, name)),
              created=datetime(2024, 1, 1))


def S(*values: object) -> pd.Series:
    return pd.Series(pd.array(list(values), dtype="string"))


def test_validate_writes_the_workbook_beside_the_other_reports(tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    _write(folder, "DM", pd.DataFrame({
        "STUDYID": S("ST1"), "DOMAIN": S("DM"), "USUBJID": S("ST1-001"), "SUBJID": S("001"),
        "SITEID": S("101"), "SEX": S("F"), "COUNTRY": S("FRA")}))
    _write(folder, "AE", pd.DataFrame({
        "STUDYID": S("ST1", "ST1"), "DOMAIN": S("AE", "AE"), "USUBJID": S("ST1-001", "ST1-009"),
        "AESEQ": pd.Series([1.0, 1.0]), "AETERM": S("Nausea", "Rash"),
        "AEDECOD": S("Nausea", "Rash")}))
    runner = CliRunner()
    for out in ("out1", "out2"):
        result = runner.invoke(main, ["validate", str(folder), "--out", str(tmp_path / out),
                                      "--fail-on", "none", "--quiet"])
        assert result.exit_code == 0, result.output
        assert XLSX_NAME in result.output
    data = (tmp_path / "out1" / XLSX_NAME).read_bytes()
    assert data == (tmp_path / "out2" / XLSX_NAME).read_bytes()
    got = sheets(data)
    summary = {row[0]: row for row in got["Dataset Summary"][1:]}
    assert summary["AE"][:5] == ["AE", "ae.xpt", "SDTM", 2, 6]
    assert summary["DM"][:5] == ["DM", "dm.xpt", "SDTM", 1, 7]
    # the AE record of ST1-009, a subject DM does not have (hand-built above: row 2)
    assert ["CMAP-XD0001", "error", "AE", "ST1-009", "USUBJID", "ST1-009", "ae.xpt row 2", 1] in \
        [row[:8] for row in got["Issue Details"]]
    document = json.loads((tmp_path / "out1" / "findings.json").read_text(encoding="utf-8"))
    assert len(got["Issue Details"]) - 1 == len(document["findings"])
    rules = {row[0]: row for row in got["Rules"][1:]}
    assert rules["CMAP-XD0001"][3] == "CORE-000201"
    assert {"CMAP-SD0001", "CMAP-XD0001", "CMAP-FL0001"} <= set(rules)     # rules run, found or not
