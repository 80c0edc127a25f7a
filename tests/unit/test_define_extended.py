"""``cdiscmap validate`` reads def:ExtendedValue="Yes" from the define.xml beside the datasets.

A hand-written Define-XML document (2.1 and 2.0 namespaces) and a four-record TU file: a value
the define declares as an extension of the extensible LOC codelist is no CMAP-SD0006 notice; a
value in neither LOC nor the define's extended values still is, and so is a value the define
lists without the ExtendedValue flag; an extended value no record holds is a CMAP-DF0014 notice.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from cdiscmap.checks.define_rules import expected_extended, read_define
from cdiscmap.emit.attributes import dataset_label, metadata_for, ordered_columns
from cdiscmap.emit.xpt import write_xpt
from cdiscmap.findings import Finding, Severity
from cdiscmap.standards import load_standards
from cdiscmap.validation.folder import validate_folder

STANDARDS = load_standards()
VARIABLES = ("STUDYID", "DOMAIN", "USUBJID", "TUSEQ", "TULNKID", "TUTESTCD", "TUTEST",
             "TUORRES", "TUSTRESC", "TULOC", "TUMETHOD")


def S(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def tu(locations: tuple[str, ...]) -> pd.DataFrame:
    n = len(locations)
    return pd.DataFrame({
        "STUDYID": S(*["ST1"] * n), "DOMAIN": S(*["TU"] * n), "USUBJID": S(*["ST1-001"] * n),
        "TUSEQ": pd.Series([float(i + 1) for i in range(n)]),
        "TULNKID": S(*[f"T0{i + 1}" for i in range(n)]), "TUTESTCD": S(*["TUMIDENT"] * n),
        "TUTEST": S(*["Tumor Identification"] * n), "TUORRES": S(*["TARGET"] * n),
        "TUSTRESC": S(*["TARGET"] * n), "TULOC": S(*locations),
        "TUMETHOD": S(*["CT SCAN"] * n)})


# LUNG is in CT LOC; PARAVERTEBRAL SOFT TISSUE and BACK OF KNEE SKIN are declared extensions;
# HILUM RIGHT is listed without the flag (not a declared extension)
CODELIST_ITEMS = (("LUNG", ""), ("PARAVERTEBRAL SOFT TISSUE", ' def:ExtendedValue="Yes"'),
                  ("BACK OF KNEE SKIN", ' def:ExtendedValue="Yes"'), ("HILUM RIGHT", ""))


def define_text(version: str) -> str:
    refs = "".join(f'<ItemRef ItemOID="IT.TU.{v}" OrderNumber="{i}" Mandatory="No"/>'
                   for i, v in enumerate(VARIABLES, start=1))
    items = "".join(
        f'<ItemDef OID="IT.TU.{v}" Name="{v}" DataType="{"integer" if v == "TUSEQ" else "text"}">'
        + ('<CodeListRef CodeListOID="CL.LOC"/>' if v == "TULOC" else "") + "</ItemDef>"
        for v in VARIABLES)
    entries = "".join(f'<EnumeratedItem CodedValue="{value}"{flag}/>'
                      for value, flag in CODELIST_ITEMS)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v{version}"
     xmlns:xlink="http://www.w3.org/1999/xlink">
  <Study OID="ST1"><MetaDataVersion OID="MDV.ST1" Name="x">
    <ItemGroupDef OID="IG.TU" Name="TU" Domain="TU">{refs}</ItemGroupDef>
    {items}
    <CodeList OID="CL.LOC" Name="Anatomical Location" DataType="text">{entries}</CodeList>
  </MetaDataVersion></Study>
</ODM>
"""


def write_tu(folder: Path, locations: tuple[str, ...], version: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame = tu(locations)
    write_xpt(folder / "tu.xpt", frame, dataset_name="TU",
              dataset_label=dataset_label(STANDARDS, "TU"),
              columns=ordered_columns(frame, metadata_for(STANDARDS, "TU")),
              created=datetime(2024, 1, 1))
    if version is not None:
        (folder / "define.xml").write_text(define_text(version), encoding="utf-8")
    return folder


def found(report, rule: str) -> list[tuple[str, str, str, int]]:
    return sorted((f.dataset, f.variable, f.value, f.count) for f in report.findings
                  if f.rule == rule)


LOCATIONS = ("LUNG", "PARAVERTEBRAL SOFT TISSUE", "PARAVERTEBRAL SOFT TISSUE", "PLEURA LEFT",
             "HILUM RIGHT")


@pytest.mark.parametrize("version", ["2.1", "2.0"])
def test_declared_extended_values_are_expected(tmp_path: Path, version: str) -> None:
    report = validate_folder(write_tu(tmp_path / "pkg", LOCATIONS, version))
    # PLEURA LEFT is in neither list; HILUM RIGHT is listed but not flagged as an extension
    assert found(report, "CMAP-SD0006") == [("TU", "TULOC", "HILUM RIGHT", 1),
                                            ("TU", "TULOC", "PLEURA LEFT", 1)]
    # BACK OF KNEE SKIN is declared but no record holds it: a notice, not more
    unused = [f for f in report.findings if f.rule == "CMAP-DF0014"]
    assert [(f.severity, f.dataset, f.variable, f.value, f.count) for f in unused] == [
        (Severity.NOTICE, "TU", "TULOC", "BACK OF KNEE SKIN", 1)]
    assert "CL.LOC" in unused[0].message and "TU.TULOC" in unused[0].message


def test_without_the_define_the_extension_is_a_notice_again(tmp_path: Path) -> None:
    report = validate_folder(write_tu(tmp_path / "pkg", LOCATIONS, None))
    assert found(report, "CMAP-SD0006") == [("TU", "TULOC", "HILUM RIGHT", 1),
                                            ("TU", "TULOC", "PARAVERTEBRAL SOFT TISSUE", 2),
                                            ("TU", "TULOC", "PLEURA LEFT", 1)]
    assert found(report, "CMAP-DF0014") == []


def test_every_extended_value_used_gives_no_notice(tmp_path: Path) -> None:
    locations = ("LUNG", "PARAVERTEBRAL SOFT TISSUE", "BACK OF KNEE SKIN")
    report = validate_folder(write_tu(tmp_path / "pkg", locations, "2.1"))
    assert found(report, "CMAP-SD0006") == found(report, "CMAP-DF0014") == []


def test_read_define_maps_extended_values_to_their_variables(tmp_path: Path) -> None:
    path = tmp_path / "define.xml"
    path.write_text(define_text("2.1"), encoding="utf-8")
    define = read_define(path)
    extended = frozenset({"PARAVERTEBRAL SOFT TISSUE", "BACK OF KNEE SKIN"})
    assert define.extended == {"TU": {"TULOC": extended}}
    assert [(e.oid, e.values, e.users) for e in define.extended_lists] == [
        ("CL.LOC", extended, (("TU", "TULOC"),))]


def test_a_long_extended_value_matches_its_shortened_finding() -> None:
    # schema findings show at most 60 characters: 57 and "..."
    value = "SOFT TISSUE OF THE POSTERIOR THORACIC WALL BETWEEN RIBS SEVEN AND EIGHT"
    shown = value[:57] + "..."
    notice = Finding("CMAP-SD0006", Severity.NOTICE, "not in LOC", "TU", "S-1", "TULOC", shown)
    other = Finding("CMAP-SD0006", Severity.NOTICE, "not in METHOD", "TU", "S-1", "TUMETHOD",
                    shown)
    assert expected_extended([notice, other], {"TULOC": frozenset({value})}) == [other]
