"""A finding as the dict findings.csv/json are made of: every field by name, in field order,
the severity as its text."""

from __future__ import annotations

import dataclasses

from cdiscmap.findings import FINDING_COLUMNS, Finding, Findings, Severity


def test_as_dict_by_hand() -> None:
    f = Finding("CMAP-XD0011", Severity.WARNING, "EPOCH is null", "AE", "CRZ-001", "EPOCH",
                "", "ae.csv:12", 3)
    d = f.as_dict()
    assert d == {"rule": "CMAP-XD0011", "severity": "warning", "message": "EPOCH is null",
                 "dataset": "AE", "usubjid": "CRZ-001", "variable": "EPOCH", "value": "",
                 "source": "ae.csv:12", "count": 3}
    assert list(d) == FINDING_COLUMNS                   # the columns of findings.csv, in order
    assert type(d["severity"]) is str                   # the text, not the enum


def test_as_dict_holds_what_dataclasses_asdict_holds() -> None:
    for f in (Finding("R1", Severity.NOTICE, "m"),
              Finding("R2", Severity.ERROR, "m2", "DM", "S1", "AGE", "-1", "dm.csv:2", 7)):
        expected = dataclasses.asdict(f)
        expected["severity"] = f.severity.value
        assert f.as_dict() == expected


def test_to_frame_rows_are_the_dicts_in_report_order() -> None:
    findings = Findings([Finding("R2", Severity.NOTICE, "n"),
                         Finding("R1", Severity.ERROR, "e", "AE", "S2"),
                         Finding("R1", Severity.ERROR, "e", "AE", "S1")])
    frame = findings.to_frame()
    assert list(frame.columns) == FINDING_COLUMNS
    assert frame[["rule", "severity", "usubjid"]].values.tolist() == [
        ["R1", "error", "S1"], ["R1", "error", "S2"], ["R2", "notice", ""]]
