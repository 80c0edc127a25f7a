"""``validate_folder``, its rules, its reports and ``cdiscmap validate`` on small built packages.

Each test writes a clean two-subject SDTM + ADaM package (XPT files made with the project's
XPT writer and the standard metadata), plants one defect, and checks the rule id that must
report it. Expected values are worked out by hand from the planted data.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from cdiscmap.checks.adam_rules import check_adam_cross
from cdiscmap.checks.core_rules import RULES as core_rules
from cdiscmap.checks.crossdomain import RULES as crossdomain_rules
from cdiscmap.checks.supp_rules import check_supp_links
from cdiscmap.cli import main
from cdiscmap.emit.attributes import dataset_label, metadata_for, ordered_columns
from cdiscmap.emit.datasetjson import write_dataset_json
from cdiscmap.emit.xpt import XptColumn, ibm370_from_float64, write_xpt
from cdiscmap.errors import InputDataError
from cdiscmap.findings import Finding, Findings, Severity
from cdiscmap.standards import load_standards
from cdiscmap.validation.folder import ValidationReport, rule_catalogue, validate_folder
from cdiscmap.validation.read import (
    _factorize_bytes,
    _read_xpt_pyreadstat,
    _read_xpt_v5,
    ibm_to_float64,
)
from cdiscmap.validation.report import (
    read_findings_json,
    write_findings_html,
    write_findings_json,
    write_junit_xml,
)

ROOT = Path(__file__).resolve().parents[2]
CREATED = datetime(2024, 1, 1)
NA = None
STANDARDS = load_standards()


def S(*values: object) -> pd.Series:
    return pd.Series(pd.array(list(values), dtype="string"))


def F(*values: float) -> pd.Series:
    return pd.Series(np.array(values, dtype="float64"))


def D(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(list(values))).astype("datetime64[ns]"))


def clean_frames() -> dict[str, pd.DataFrame]:
    """Two subjects (ST1-002 died on 2020-05-01): DM, AE, TU, TR, RS, SUPPAE, ADSL, ADRS, ADTTE.

    Every Required and Expected variable is present and every coded value is in its codelist,
    so the package has no error and no warning of its own.
    """
    dm = pd.DataFrame({
        "STUDYID": S("ST1", "ST1"), "DOMAIN": S("DM", "DM"), "USUBJID": S("ST1-001", "ST1-002"),
        "SUBJID": S("001", "002"), "RFSTDTC": S("2020-01-10", "2020-02-01"),
        "RFENDTC": S("2020-06-30", "2020-05-01"), "RFXSTDTC": S("2020-01-10", "2020-02-01"),
        "RFXENDTC": S("2020-06-30", "2020-05-01"), "RFICDTC": S("2020-01-02", "2020-01-20"),
        "RFPENDTC": S("2020-06-30", "2020-05-01"), "DTHDTC": S(NA, "2020-05-01"),
        "DTHFL": S(NA, "Y"), "SITEID": S("101", "101"), "AGE": F(60, 70),
        "AGEU": S("YEARS", "YEARS"), "SEX": S("M", "F"), "RACE": S("WHITE", "WHITE"),
        "ARMCD": S("C01", "C01"), "ARM": S("Cohort 1", "Cohort 1"),
        "ACTARMCD": S("C01", "C01"), "ACTARM": S("Cohort 1", "Cohort 1"),
        "ARMNRS": S(NA, NA), "ACTARMUD": S(NA, NA), "COUNTRY": S("FRA", "FRA")})
    ae = pd.DataFrame({
        "STUDYID": S("ST1", "ST1", "ST1"), "DOMAIN": S("AE", "AE", "AE"),
        "USUBJID": S("ST1-001", "ST1-001", "ST1-002"), "AESEQ": F(1, 2, 1),
        "AETERM": S("Nausea", "Headache", "Fatigue"), "AEDECOD": S("Nausea", "Headache", "Fatigue"),
        "AESER": S("N", "N", "Y"), "AEACN": S(*["DOSE NOT CHANGED"] * 3),
        "AESTDTC": S("2020-01-12", "2020-02-01", "2020-03-01"),
        "AEENDTC": S("2020-01-15", NA, "2020-03-05"),
        # study day: 2020-01-12 is day 3 after RFSTDTC 2020-01-10 (day 1); 2020-02-01 is day
        # 23; ST1-002: 2020-03-01 is day 30 after 2020-02-01 (29 days later, plus one)
        "AESTDY": F(3, 23, 30)})
    for name in ("AELLT", "AEHLT", "AEHLGT", "AEBODSYS", "AESOC", "AEREL"):
        ae[name] = S(NA, NA, NA)
    for name in ("AELLTCD", "AEPTCD", "AEHLTCD", "AEHLGTCD", "AEBDSYCD", "AESOCCD"):
        ae[name] = F(np.nan, np.nan, np.nan)
    tu = pd.DataFrame({
        "STUDYID": S("ST1", "ST1"), "DOMAIN": S("TU", "TU"), "USUBJID": S("ST1-001", "ST1-002"),
        "TUSEQ": F(1, 1), "TULNKID": S("T01", "T01"), "TUTESTCD": S("TUMIDENT", "TUMIDENT"),
        "TUTEST": S("Tumor Identification", "Tumor Identification"),
        "TUORRES": S("TARGET", "TARGET"), "TUSTRESC": S("TARGET", "TARGET"),
        "TULOC": S(NA, NA), "TUMETHOD": S("CT SCAN", "CT SCAN"), "TULOBXFL": S("Y", "Y"),
        "TUEVAL": S("INVESTIGATOR", "INVESTIGATOR"), "VISITNUM": F(1, 1),
        "TUDTC": S("2020-01-05", "2020-01-25")})
    tr = pd.DataFrame({
        "STUDYID": S("ST1", "ST1"), "DOMAIN": S("TR", "TR"), "USUBJID": S("ST1-001", "ST1-002"),
        "TRSEQ": F(1, 1), "TRLNKID": S("T01", "T01"), "TRTESTCD": S("LDIAM", "LDIAM"),
        "TRTEST": S("Longest Diameter", "Longest Diameter"), "TRORRES": S("20", "31"),
        "TRORRESU": S("mm", "mm"), "TRSTRESC": S("20", "31"), "TRSTRESN": F(20, 31),
        "TRSTRESU": S("mm", "mm"), "TRMETHOD": S("CT SCAN", "CT SCAN"),
        "TRLOBXFL": S("Y", "Y"), "TREVAL": S("INVESTIGATOR", "INVESTIGATOR"),
        "VISITNUM": F(1, 1), "TRDTC": S("2020-01-05", "2020-01-25")})
    rs = pd.DataFrame({
        "STUDYID": S("ST1", "ST1"), "DOMAIN": S("RS", "RS"), "USUBJID": S("ST1-001", "ST1-001"),
        "RSSEQ": F(1, 2), "RSTESTCD": S("OVRLRESP", "OVRLRESP"),
        "RSTEST": S("Overall Response", "Overall Response"),
        "RSCAT": S("RECIST 1.1", "RECIST 1.1"), "RSORRES": S("PR", "PR"),
        "RSSTRESC": S("PR", "PR"), "RSEVAL": S("INVESTIGATOR", "INVESTIGATOR"),
        "VISITNUM": F(2, 3), "RSDTC": S("2020-03-01", "2020-04-26")})
    suppae = pd.DataFrame({
        "STUDYID": S("ST1"), "RDOMAIN": S("AE"), "USUBJID": S("ST1-001"), "IDVAR": S("AESEQ"),
        "IDVARVAL": S("2"), "QNAM": S("AETRTEM"), "QLABEL": S("Treatment Emergent Flag"),
        "QVAL": S("Y"), "QORIG": S("DERIVED"), "QEVAL": S(NA)})
    adsl = pd.DataFrame({
        "STUDYID": S("ST1", "ST1"), "USUBJID": S("ST1-001", "ST1-002"),
        "SUBJID": S("001", "002"), "SITEID": S("101", "101"), "AGE": F(60, 70),
        "AGEU": S("YEARS", "YEARS"), "SEX": S("M", "F"), "RACE": S("WHITE", "WHITE"),
        "ARM": S("Cohort 1", "Cohort 1"), "TRT01P": S("Cohort 1", "Cohort 1"),
        "TRTSDT": D("2020-01-10", "2020-02-01")})
    adrs = pd.DataFrame({
        "STUDYID": S("ST1", "ST1"), "USUBJID": S("ST1-001", "ST1-001"), "ASEQ": F(1, 2),
        "PARAM": S("Overall Response by Investigator", "Overall Response by Investigator"),
        "PARAMCD": S("OVR", "OVR"), "AVISITN": F(2, 3), "ADT": D("2020-03-01", "2020-04-26"),
        "AVAL": F(2, 2), "AVALC": S("PR", "PR"), "SRCDOM": S("RS", "RS"),
        "SRCVAR": S("RSSTRESC", "RSSTRESC"), "SRCSEQ": F(1, 2)})
    adtte = pd.DataFrame({
        "STUDYID": S("ST1", "ST1"), "USUBJID": S("ST1-001", "ST1-002"),
        "PARAM": S("Overall Survival", "Overall Survival"), "PARAMCD": S("OS", "OS"),
        "AVAL": F(173, 91), "CNSR": F(1, 0), "STARTDT": D("2020-01-10", "2020-02-01"),
        "ADT": D("2020-06-30", "2020-05-01")})
    return {"DM": dm, "AE": ae, "TU": tu, "TR": tr, "RS": rs, "SUPPAE": suppae,
            "ADSL": adsl, "ADRS": adrs, "ADTTE": adtte}


def xpt_columns(name: str, frame: pd.DataFrame) -> list[XptColumn]:
    return ordered_columns(frame, metadata_for(STANDARDS, name))


def write_package(folder: Path, frames: dict[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
    """XPT files named <dataset>.xpt; returns the lengths each file got."""
    folder.mkdir(parents=True, exist_ok=True)
    lengths = {}
    for name, frame in frames.items():
        result = write_xpt(folder / f"{name.lower()}.xpt", frame, dataset_name=name,
                           dataset_label=dataset_label(STANDARDS, name),
                           columns=xpt_columns(name, frame), created=CREATED)
        lengths[name] = result.lengths
    return lengths


def package(tmp_path: Path, **changes: pd.DataFrame) -> Path:
    frames = clean_frames()
    frames.update(changes)
    folder = tmp_path / "pkg"
    write_package(folder, frames)
    return folder


def rules(report: object, severity: Severity | None = Severity.ERROR) -> set[tuple[str, str]]:
    """(rule, dataset) of the findings at ``severity`` (all when None)."""
    return {(f.rule, f.dataset) for f in report.findings  # type: ignore[attr-defined]
            if severity is None or f.severity == severity}


def define_xml(folder: Path, frames: dict[str, pd.DataFrame],
               lengths: dict[str, dict[str, int]]) -> etree._ElementTree:
    """A minimal Define-XML 2.1 document describing ``frames`` exactly as written."""
    odm_ns = "http://www.cdisc.org/ns/odm/v1.3"
    def_ns = "http://www.cdisc.org/ns/def/v2.1"
    xlink = "http://www.w3.org/1999/xlink"
    odm = etree.Element(f"{{{odm_ns}}}ODM", nsmap={None: odm_ns, "def": def_ns,
                                                   "xlink": xlink})
    study = etree.SubElement(odm, f"{{{odm_ns}}}Study", OID="ST1")
    mdv = etree.SubElement(study, f"{{{odm_ns}}}MetaDataVersion", OID="MDV.ST1", Name="x")

    def describe(parent: etree._Element, text: str) -> None:
        description = etree.SubElement(parent, f"{{{odm_ns}}}Description")
        translated = etree.SubElement(description, f"{{{odm_ns}}}TranslatedText")
        translated.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        translated.text = text

    items = []
    for name, frame in frames.items():
        group = etree.SubElement(mdv, f"{{{odm_ns}}}ItemGroupDef", OID=f"IG.{name}",
                                 Name=name, SASDatasetName=name)
        describe(group, dataset_label(STANDARDS, name))
        for number, column in enumerate(xpt_columns(name, frame), start=1):
            etree.SubElement(group, f"{{{odm_ns}}}ItemRef", ItemOID=f"IT.{name}.{column.name}",
                             OrderNumber=str(number), Mandatory="No")
            items.append((name, column))
        leaf = etree.SubElement(group, f"{{{def_ns}}}leaf", ID=f"LF.{name}")
        leaf.set(f"{{{xlink}}}href", f"{name.lower()}.xpt")
    for name, column in items:
        data_type = "text" if column.type == "char" else "integer"
        item = etree.SubElement(mdv, f"{{{odm_ns}}}ItemDef", OID=f"IT.{name}.{column.name}",
                                Name=column.name, DataType=data_type,
                                Length=str(lengths[name][column.name]))
        describe(item, column.label)
    return etree.ElementTree(odm)


# ============================================================================================
# A clean package
# ============================================================================================
def test_clean_package_has_no_error_nor_warning(tmp_path):
    report = validate_folder(package(tmp_path))
    assert rules(report, Severity.ERROR) == set()
    assert rules(report, Severity.WARNING) == set()
    # the only notice: no define.xml beside the datasets
    assert rules(report, Severity.NOTICE) == {("CMAP-DF0010", "")}
    assert [d.name for d in report.datasets] == ["ADRS", "ADSL", "ADTTE", "AE", "DM", "RS",
                                                "SUPPAE", "TR", "TU"]
    assert {d.name: d.records for d in report.datasets}["AE"] == 3
    assert report.counts() == {"error": 0, "warning": 0, "notice": 1}


# ============================================================================================
# Planted defects, one per rule
# ============================================================================================
def _ae(**columns: pd.Series) -> pd.DataFrame:
    ae = clean_frames()["AE"]
    for name, values in columns.items():
        ae[name] = values
    return ae


def test_usubjid_missing_from_dm(tmp_path):
    ae = _ae(USUBJID=S("ST1-001", "ST1-001", "ST1-999"))
    report = validate_folder(package(tmp_path, AE=ae))
    hits = [f for f in report.findings if f.rule == "CMAP-XD0001"]
    assert [(f.dataset, f.usubjid, f.source) for f in hits] == [("AE", "ST1-999",
                                                                 "ae.xpt row 3")]


def test_duplicate_seq(tmp_path):
    report = validate_folder(package(tmp_path, AE=_ae(AESEQ=F(1, 1, 1))))
    hits = [f for f in report.findings if f.rule == "CMAP-XD0007"]
    # ST1-001 has AESEQ 1 twice: the second record (row 2) is the duplicate
    assert [(f.usubjid, f.value, f.source) for f in hits] == [("ST1-001", "1.0",
                                                                "ae.xpt row 2")]


def test_wrong_study_day(tmp_path):
    report = validate_folder(package(tmp_path, AE=_ae(AESTDY=F(3, 22, 30))))
    hits = [f for f in report.findings if f.rule == "CMAP-XD0006"]
    assert [(f.severity, f.variable, f.source) for f in hits] == [
        (Severity.WARNING, "AESTDY", "ae.xpt row 2")]


def test_tr_without_tu(tmp_path):
    tr = clean_frames()["TR"]
    tr["TRLNKID"] = S("T01", "T09")
    report = validate_folder(package(tmp_path, TR=tr))
    hits = [f for f in report.findings if f.rule == "CMAP-XD0002"]
    assert [(f.usubjid, f.value) for f in hits] == [("ST1-002", "T09")]


def test_event_after_death(tmp_path):
    # ST1-002 died on 2020-05-01; an AE starting 2020-05-02 is after death
    ae = _ae(AESTDTC=S("2020-01-12", "2020-02-01", "2020-05-02"), AESTDY=F(3, 23, 92),
             AEENDTC=S("2020-01-15", NA, NA))
    report = validate_folder(package(tmp_path, AE=ae))
    assert rules(report) == {("CMAP-XD0005", "AE")}
    assert [f.value for f in report.findings if f.rule == "CMAP-XD0005"] == ["2020-05-02"]


def test_value_outside_non_extensible_codelist(tmp_path):
    dm = clean_frames()["DM"]
    dm["SEX"] = S("MALE", "F")
    report = validate_folder(package(tmp_path, DM=dm))
    hits = [f for f in report.findings if f.rule == "CMAP-SD0005"]
    assert [(f.dataset, f.variable, f.value, f.source) for f in hits] == [
        ("DM", "SEX", "MALE", "dm.xpt row 1")]


def test_adsl_duplicate_subject(tmp_path):
    adsl = clean_frames()["ADSL"]
    adsl = pd.concat([adsl, adsl.iloc[[1]]], ignore_index=True)
    report = validate_folder(package(tmp_path, ADSL=adsl))
    hits = [f for f in report.findings if f.rule == "CMAP-AR0001"]
    assert [(f.dataset, f.usubjid, f.source, f.count) for f in hits] == [
        ("ADSL", "ST1-002", "adsl.xpt row 3", 1)]
    assert rules(report) == {("CMAP-AR0001", "ADSL"), ("CMAP-SD0009", "ADSL")}  # also a duplicate key


def test_srcseq_pointing_nowhere(tmp_path):
    adrs = clean_frames()["ADRS"]
    adrs["SRCSEQ"] = F(1, 7)           # ST1-001 has RSSEQ 1 and 2, not 7
    report = validate_folder(package(tmp_path, ADRS=adrs))
    hits = [f for f in report.findings if f.rule == "CMAP-AR0003"]
    assert [(f.usubjid, f.value, f.source, f.count) for f in hits] == [
        ("ST1-001", "7", "adrs.xpt row 2", 1)]
    assert rules(report) == {("CMAP-AR0003", "ADRS")}


def test_adam_subject_not_in_adsl(tmp_path):
    adtte = clean_frames()["ADTTE"]
    adtte["USUBJID"] = S("ST1-001", "ST1-003")
    report = validate_folder(package(tmp_path, ADTTE=adtte))
    assert [(f.dataset, f.usubjid) for f in report.findings if f.rule == "CMAP-AR0002"] == [
        ("ADTTE", "ST1-003")]


def test_paramcd_rules(tmp_path):
    adrs = clean_frames()["ADRS"]
    adrs["PARAMCD"] = S("OVERALLRS", "OVERALLRS")         # 9 characters
    adtte = clean_frames()["ADTTE"]
    adtte["PARAM"] = S("Overall Survival", "Overall Survival (days)")   # one code, 2 names
    report = validate_folder(package(tmp_path, ADRS=adrs, ADTTE=adtte))
    too_long = [f for f in report.findings if f.rule == "CMAP-AR0005"]
    assert [(f.dataset, f.value, f.count) for f in too_long] == [("ADRS", "OVERALLRS", 2)]
    many = [f for f in report.findings if f.rule == "CMAP-AR0006"]
    assert [(f.dataset, f.value) for f in many] == [("ADTTE", "OS")]
    assert "Overall Survival; Overall Survival (days)" in many[0].message


def test_time_to_event_rules(tmp_path):
    adtte = clean_frames()["ADTTE"]
    adtte["CNSR"] = F(0.5, 0)
    adtte["AVAL"] = F(173, -3)
    report = validate_folder(package(tmp_path, ADTTE=adtte))
    assert [(f.usubjid, f.value) for f in report.findings if f.rule == "CMAP-AR0008"] == [
        ("ST1-001", "0.5")]
    assert [(f.usubjid, f.value) for f in report.findings if f.rule == "CMAP-AR0009"] == [
        ("ST1-002", "-3")]


def test_supp_record_without_parent(tmp_path):
    suppae = clean_frames()["SUPPAE"]
    suppae["IDVARVAL"] = S("5")          # ST1-001 has AESEQ 1 and 2
    report = validate_folder(package(tmp_path, SUPPAE=suppae))
    hits = [f for f in report.findings if f.rule == "CMAP-SP0001"]
    assert [(f.dataset, f.usubjid, f.value, f.source) for f in hits] == [
        ("SUPPAE", "ST1-001", "5", "suppae.xpt row 1")]
    assert rules(report) == {("CMAP-SP0001", "SUPPAE")}


def test_supp_rdomain_and_idvar(tmp_path):
    suppae = clean_frames()["SUPPAE"]
    suppae["IDVAR"] = S("AENUM")
    report = validate_folder(package(tmp_path, SUPPAE=suppae))
    assert rules(report) == {("CMAP-SP0002", "SUPPAE")}
    suppae["RDOMAIN"] = S("DM")
    suppae["IDVAR"] = S(NA)
    suppae["IDVARVAL"] = S(NA)
    report = validate_folder(package(tmp_path, SUPPAE=suppae))
    assert rules(report) == {("CMAP-SP0003", "SUPPAE")}


def test_define_with_wrong_length(tmp_path):
    frames = clean_frames()
    folder = tmp_path / "pkg"
    lengths = write_package(folder, frames)
    document = define_xml(folder, frames, lengths)
    document.write(str(folder / "define.xml"))
    assert rules(validate_folder(folder), None) == set()       # describes the files exactly
    # USUBJID values are 7 characters ("ST1-001"): the file length is 7
    assert lengths["DM"]["USUBJID"] == 7
    item = document.getroot().find(".//{*}ItemDef[@OID='IT.DM.USUBJID']")
    item.set("Length", "20")
    document.write(str(folder / "define.xml"))
    report = validate_folder(folder)
    hits = [f for f in report.findings if f.rule.startswith("CMAP-DF")]
    assert [(f.rule, f.dataset, f.variable, f.value) for f in hits] == [
        ("CMAP-DF0005", "DM", "USUBJID", "20")]
    assert report.defines == ["define.xml"]


def test_define_mismatches(tmp_path):
    frames = clean_frames()
    folder = tmp_path / "pkg"
    lengths = write_package(folder, frames)
    document = define_xml(folder, frames, lengths)
    root = document.getroot()
    mdv = root.find(".//{*}MetaDataVersion")
    # a dataset the folder lacks, a label that differs, a type that differs, a lost ItemDef
    extra = etree.SubElement(mdv, "{http://www.cdisc.org/ns/odm/v1.3}ItemGroupDef",
                             OID="IG.EX", Name="EX")
    etree.SubElement(extra, "{http://www.cdisc.org/ns/odm/v1.3}ItemRef", ItemOID="IT.EX.X")
    root.find(".//{*}ItemDef[@OID='IT.AE.AETERM']/{*}Description/{*}TranslatedText"
              ).text = "Reported Term"
    root.find(".//{*}ItemDef[@OID='IT.DM.AGE']").set("DataType", "text")
    mdv.remove(root.find(".//{*}ItemDef[@OID='IT.TU.TULOC']"))
    root.find(".//{*}ItemGroupDef[@OID='IG.RS']/{*}Description/{*}TranslatedText").text = "RS"
    group = root.find(".//{*}ItemGroupDef[@OID='IG.TR']")
    group.remove(group.find("{*}ItemRef[@ItemOID='IT.TR.TRDTC']"))
    document.write(str(folder / "define.xml"))
    report = validate_folder(folder)
    found = {(f.rule, f.dataset, f.variable) for f in report.findings if f.rule.startswith("CMAP-DF")}
    assert found == {("CMAP-DF0001", "EX", ""), ("CMAP-DF0009", "EX", ""), ("CMAP-DF0006", "AE", "AETERM"),
                     ("CMAP-DF0008", "DM", "AGE"), ("CMAP-DF0009", "TU", ""), ("CMAP-DF0003", "TU", "TULOC"),
                     ("CMAP-DF0007", "RS", ""), ("CMAP-DF0003", "TR", "TRDTC")}


def test_define_given_on_the_command_line_and_unreadable(tmp_path):
    folder = package(tmp_path)
    bad = tmp_path / "broken.xml"
    bad.write_text("<ODM><unclosed>", encoding="utf-8")
    with pytest.raises(InputDataError, match="not a readable XML document"):
        validate_folder(folder, define=bad)
    other = tmp_path / "other.xml"
    define_xml(folder, {"EX": pd.DataFrame({"STUDYID": S("ST1")})},
               {"EX": {"STUDYID": 3}}).write(str(other))
    with pytest.raises(InputDataError, match="describes none of the datasets"):
        validate_folder(folder, define=other)


def test_a_folder_define_is_read_only_where_it_governs_datasets(tmp_path):
    # the define.xml files are parsed ahead in a thread: a broken one still fails only where
    # a serial run reads it (beside datasets), and is ignored in a folder without any
    frames = clean_frames()
    root = tmp_path / "root"
    write_package(root / "sdtm", frames)
    (root / "adam").mkdir()
    (root / "adam" / "define.xml").write_text("<ODM><unclosed>", encoding="utf-8")
    report = validate_folder(root)
    assert report.datasets and {d.path.split("/")[0] for d in report.datasets} == {"sdtm"}
    assert ("CMAP-DF0010", "") in rules(report, None)           # sdtm/ has no define.xml
    (root / "sdtm" / "define.xml").write_text("<ODM><unclosed>", encoding="utf-8")
    with pytest.raises(InputDataError, match="not a readable XML document"):
        validate_folder(root)


def test_file_label_too_long_and_non_ascii(tmp_path):
    folder = package(tmp_path)
    # XPT v5 cannot hold a label over 40 bytes; Dataset-JSON can: CMAP-FL0004 for a 41-byte label
    frame = clean_frames()["TU"]
    columns = [c if c.name != "TULOC" else XptColumn("TULOC", "L" * 41, "char")
               for c in xpt_columns("TU", frame)]
    (folder / "tu.xpt").unlink()
    write_dataset_json(folder / "tu.json", frame, dataset_name="TU", dataset_label="Tumor Ident",
                       columns=columns, keys=[], study_oid="ST1", created=CREATED)
    # a non-ASCII value in an XPT file: write ASCII, then put Latin-1 "é" in its place
    ae = _ae(AETERM=S("Nausea", "Headache", "Fatiguex"))
    write_xpt(folder / "ae.xpt", ae, dataset_name="AE", dataset_label="Adverse Events",
              columns=xpt_columns("AE", ae), created=CREATED)
    data = (folder / "ae.xpt").read_bytes()
    (folder / "ae.xpt").write_bytes(data.replace(b"Fatiguex", "Fatigué ".encode("latin-1")))
    report = validate_folder(folder)
    long_label = [f for f in report.findings if f.rule == "CMAP-FL0004"]
    assert [(f.dataset, f.variable, f.value) for f in long_label] == [("TU", "TULOC", "L" * 41)]
    non_ascii = [f for f in report.findings if f.rule == "CMAP-FL0006"]
    assert [(f.variable, f.value, f.usubjid, f.source, f.count) for f in non_ascii] == [
        ("AETERM", "Fatigué", "ST1-002", "ae.xpt row 3", 1)]
    assert {d.name: d.format for d in report.datasets}["TU"] == "json"


def test_xpt_v8_read_with_pyreadstat_and_long_variable_label(tmp_path):
    folder = package(tmp_path)
    dm = clean_frames()["DM"]
    # XPT v8 (written here by pyreadstat) holds labels over 40 bytes; the reader falls back to
    # pyreadstat for it and CMAP-FL0004 reports the label
    label = "Subject Identifier for the Study, as on the CRF"          # 47 characters
    labels = [label if c == "SUBJID" else c.title() for c in dm.columns]
    pyreadstat.write_xport(dm.astype(object).where(dm.notna(), None), str(folder / "dm.xpt"),
                           file_label="Demographics", table_name="DM", column_labels=labels,
                           file_format_version=8)
    report = validate_folder(folder)
    assert [(f.dataset, f.variable, f.value) for f in report.findings if f.rule == "CMAP-FL0004"] == [
        ("DM", "SUBJID", label)]
    assert rules(report) == {("CMAP-FL0004", "DM")}


def test_unreadable_and_duplicate_files(tmp_path):
    folder = package(tmp_path)
    (folder / "tr.xpt").write_bytes(b"not a transport file")
    dm = clean_frames()["DM"]
    write_dataset_json(folder / "dm.json", dm, dataset_name="DM", dataset_label="Demographics",
                       columns=xpt_columns("DM", dm), keys=["STUDYID", "USUBJID"],
                       study_oid="ST1", created=CREATED)
    (folder / "notes.json").write_text('{"note": "not a dataset"}', encoding="utf-8")
    report = validate_folder(folder)
    assert ("CMAP-VL0002", "TR") in rules(report)
    # dm.json and dm.xpt hold the same data (as `run --format both` writes): checked once
    both = [f for f in report.findings if f.rule in ("CMAP-VL0003", "CMAP-VL0004", "CMAP-VL0005")]
    assert [(f.rule, f.dataset, f.source) for f in both] == [("CMAP-VL0004", "DM", "dm.json")]
    assert report.ignored == ["notes.json"]
    # a second XPT copy under another name is a duplicate; a JSON copy that differs is an error
    changed = dm.copy()
    changed.loc[0, "SUBJID"] = "999"
    write_dataset_json(folder / "dm.json", changed, dataset_name="DM",
                       dataset_label="Demographics", columns=xpt_columns("DM", dm),
                       keys=["STUDYID", "USUBJID"], study_oid="ST1", created=CREATED)
    report = validate_folder(folder)
    assert [(f.rule, f.dataset) for f in report.findings if f.rule.startswith("CMAP-VL000")
            and f.rule != "CMAP-VL0002"] == [("CMAP-VL0005", "DM")]


def test_dataset_unknown_to_specs_is_a_notice(tmp_path):
    folder = package(tmp_path)
    frame = pd.DataFrame({"STUDYID": S("ST1"), "USUBJID": S("ST1-001"), "XXVAL": F(1)})
    write_xpt(folder / "xx.xpt", frame, dataset_name="XX", dataset_label="Sponsor data",
              columns=[XptColumn("STUDYID", "Study Identifier", "char"),
                       XptColumn("USUBJID", "Unique Subject Identifier", "char"),
                       XptColumn("XXVAL", "Value", "num")], created=CREATED)
    report = validate_folder(folder)
    assert ("CMAP-VL0001", "XX") in rules(report, Severity.NOTICE)
    assert rules(report) == set()


def test_unusable_input(tmp_path):
    with pytest.raises(InputDataError, match="folder not found"):
        validate_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputDataError, match="no .xpt or Dataset-JSON files"):
        validate_folder(tmp_path / "empty")


def test_package_root_and_adam_folder_with_sibling_sdtm(tmp_path):
    frames = clean_frames()
    adrs = frames["ADRS"]
    adrs["SRCSEQ"] = F(1, 9)
    write_package(tmp_path / "root" / "sdtm", {k: v for k, v in frames.items()
                                               if not k.startswith("AD")})
    write_package(tmp_path / "root" / "adam", {k: v for k, v in frames.items()
                                               if k.startswith("AD")})
    report = validate_folder(tmp_path / "root")
    assert {d.path for d in report.datasets} >= {"sdtm/dm.xpt", "adam/adrs.xpt"}
    assert rules(report) == {("CMAP-AR0003", "ADRS")}
    assert [f.source for f in report.findings if f.rule == "CMAP-DF0010"] == ["adam", "sdtm"]
    alone = validate_folder(tmp_path / "root" / "adam")
    assert "sdtm/rs.xpt" in alone.references
    assert rules(alone) == {("CMAP-AR0003", "ADRS")}


# ============================================================================================
# CLI
# ============================================================================================
def test_cli_exit_codes(tmp_path):
    runner = CliRunner()
    clean = package(tmp_path / "clean")
    result = runner.invoke(main, ["validate", str(clean)])
    assert result.exit_code == 0, result.output
    assert (clean / "validation" / "findings.junit.xml").is_file()
    # the notice (CMAP-DF0010) fails only at --fail-on notice
    assert runner.invoke(main, ["validate", str(clean), "--fail-on", "notice"]).exit_code == 1

    broken = package(tmp_path / "broken", AE=_ae(AESEQ=F(1, 1, 1), AESTDY=F(3, 22, 30)))
    out = tmp_path / "reports"
    result = runner.invoke(main, ["validate", str(broken), "--out", str(out)])
    assert result.exit_code == 1
    assert "CMAP-XD0007" in result.output and "at or above 'error'" in result.output
    assert (out / "findings.json").is_file() and not (broken / "validation").exists()
    assert runner.invoke(main, ["validate", str(broken), "--fail-on", "none"]).exit_code == 0

    only_warning = package(tmp_path / "warn", AE=_ae(AESTDY=F(3, 22, 30)))
    assert runner.invoke(main, ["validate", str(only_warning)]).exit_code == 0
    assert runner.invoke(main, ["validate", str(only_warning), "--fail-on", "warning"]).exit_code == 1

    missing = runner.invoke(main, ["validate", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert missing.output.strip().startswith("cdiscmap: error:")
    assert len(missing.output.strip().splitlines()) == 1
    bad_define = tmp_path / "bad.xml"
    bad_define.write_text("not xml", encoding="utf-8")
    assert runner.invoke(main, ["validate", str(clean), "--define", str(bad_define)]).exit_code == 2


def _plant(tmp_path: Path, defect: str) -> Path:
    """A package with one planted error-level defect (the rule id names it)."""
    frames = clean_frames()
    if defect == "CMAP-XD0001":
        frames["AE"]["USUBJID"] = S("ST1-001", "ST1-001", "ST1-999")
    elif defect == "CMAP-XD0007":
        frames["AE"]["AESEQ"] = F(2, 2, 1)
    elif defect == "CMAP-XD0002":
        frames["TR"]["TRLNKID"] = S("T01", "T09")
    elif defect == "CMAP-XD0005":
        frames["AE"]["AESTDTC"] = S("2020-01-12", "2020-02-01", "2020-05-02")
        frames["AE"]["AESTDY"] = F(3, 23, 92)
    elif defect == "CMAP-SD0005":
        frames["DM"]["SEX"] = S("MALE", "F")
    elif defect == "CMAP-AR0001":
        frames["ADSL"] = pd.concat([frames["ADSL"], frames["ADSL"].iloc[[0]]],
                                   ignore_index=True)
    elif defect == "CMAP-AR0003":
        frames["ADRS"]["SRCSEQ"] = F(1, 7)
    elif defect == "CMAP-SP0001":
        frames["SUPPAE"]["IDVARVAL"] = S("5")
    folder = tmp_path / "pkg"
    lengths = write_package(folder, frames)
    if defect == "CMAP-DF0005":
        document = define_xml(folder, frames, lengths)
        document.getroot().find(".//{*}ItemDef[@OID='IT.AE.AETERM']").set("Length", "200")
        document.write(str(folder / "define.xml"))
    if defect == "CMAP-FL0004":
        tu = frames["TU"]
        columns = [c if c.name != "TULOC" else XptColumn("TULOC", "L" * 41, "char")
                   for c in xpt_columns("TU", tu)]
        (folder / "tu.xpt").unlink()
        write_dataset_json(folder / "tu.json", tu, dataset_name="TU", dataset_label="Tumor",
                           columns=columns, keys=[], study_oid="ST1", created=CREATED)
    return folder


@pytest.mark.parametrize("defect", ["CMAP-XD0001", "CMAP-XD0007", "CMAP-XD0002", "CMAP-XD0005", "CMAP-SD0005", "CMAP-AR0001",
                                    "CMAP-AR0003", "CMAP-SP0001", "CMAP-DF0005", "CMAP-FL0004"])
def test_cli_fails_on_each_planted_error(tmp_path, defect):
    folder = _plant(tmp_path, defect)
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1, result.output
    document = json.loads((folder / "validation" / "findings.json").read_text(encoding="utf-8"))
    assert defect in {f["rule"] for f in document["findings"] if f["severity"] == "error"}


# ============================================================================================
# Reports
# ============================================================================================
def test_reports_junit_json_html(tmp_path):
    # AESEQ 2 twice for ST1-001 (SUPPAE still finds its parent AESEQ 2), an AE of ST1-999
    ae = _ae(AESEQ=F(2, 2, 1), USUBJID=S("ST1-001", "ST1-001", "ST1-999"))
    dm = clean_frames()["DM"]
    dm["SEX"] = S("MALE", "F")
    report = validate_folder(package(tmp_path, AE=ae, DM=dm))
    # errors: AE CMAP-XD0001 (ST1-999), AE CMAP-XD0007 (AESEQ 2 twice), DM CMAP-SD0005 (MALE); ST1-999 has
    # no DM record, so the rules that compare dates with DM skip it.
    assert rules(report) == {("CMAP-XD0001", "AE"), ("CMAP-XD0007", "AE"), ("CMAP-SD0005", "DM")}
    out = tmp_path / "out"
    junit = write_junit_xml(report, out / "findings.junit.xml")
    root = etree.parse(str(junit)).getroot()
    assert root.tag == "testsuites"
    assert root.get("failures") == "3"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites["AE"].get("failures") == "2" and suites["DM"].get("failures") == "1"
    assert suites["TU"].get("failures") == "0"
    failed = sorted(c.get("name").split()[0] for c in root.iter("testcase")
                    if c.find("failure") is not None)
    assert failed == ["CMAP-SD0005", "CMAP-XD0001", "CMAP-XD0007"]
    # every rule run is a testcase: TU is SDTM, so schema + file + cross-dataset + plausibility
    # + CORE-derived
    assert int(suites["TU"].get("tests")) == 10 + 8 + len(crossdomain_rules) + 6 + len(core_rules)
    assert sum(int(s.get("tests")) for s in suites.values()) == int(root.get("tests"))

    path = write_findings_json(report, out / "findings.json")
    again = read_findings_json(path)
    expected = report.findings.to_frame()
    pd.testing.assert_frame_equal(again.to_frame(), expected)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["counts"] == {"error": 3, "warning": 0, "notice": 1}
    assert document["folder"] == "pkg"

    html = write_findings_html(report, out / "findings.html").read_text(encoding="utf-8")
    for rule in ("CMAP-XD0001", "CMAP-XD0007", "CMAP-SD0005", "CMAP-DF0010"):
        assert rule in html
    assert "Errors (3)" in html and "ST1-999" in html


def test_reports_are_deterministic(tmp_path):
    folder = package(tmp_path, AE=_ae(AESEQ=F(1, 1, 1)))
    first = write_junit_xml(validate_folder(folder), tmp_path / "a.xml").read_bytes()
    second = write_junit_xml(validate_folder(folder), tmp_path / "b.xml").read_bytes()
    assert first == second
    one = write_findings_html(validate_folder(folder), tmp_path / "a.html").read_bytes()
    two = write_findings_html(validate_folder(folder), tmp_path / "b.html").read_bytes()
    assert one == two


def test_junit_keeps_xml_legal_with_control_characters(tmp_path):
    # data values may hold control characters, which XML 1.0 cannot: they become U+FFFD
    finding = Finding("CMAP-SD0005", Severity.ERROR, "value 'M\x01' is not in codelist SEX", "DM",
                      "S\x02-1", "SEX", "M\x01", "dm.xpt row 1")
    report = ValidationReport(folder=tmp_path, findings=Findings([finding]), datasets=[],
                              rules_run={"DM": ["CMAP-SD0005"]})
    text = write_junit_xml(report, tmp_path / "j.xml").read_text(encoding="utf-8")
    root = etree.fromstring(text.encode("utf-8"))
    failure = root.find("testsuite/testcase/failure")
    assert failure.get("message") == "1 finding(s), 1 record(s): value 'M\ufffd' is not in " \
                                     "codelist SEX"
    assert "subject S\ufffd-1" in failure.text


# ============================================================================================
# docs/validation-rules.md lists exactly the rule ids the code defines
# ============================================================================================
def test_rules_doc_matches_the_code():
    doc = (ROOT / "docs" / "validation-rules.md").read_text(encoding="utf-8")
    # every rule validate can report is documented with its severity; that the page lists
    # exactly the ids the whole package can emit is tests/unit/test_docs_rules.py
    rows = re.findall(r"^\| (CMAP-[A-Z]{2,5}\d{4}) \| (error|warning|notice) \|", doc, re.MULTILINE)
    documented = dict(rows)
    assert len(rows) == len(documented), "a rule id is listed twice"
    catalogue = rule_catalogue()
    assert set(catalogue) <= set(documented)
    for rule, (severity, _) in catalogue.items():
        assert documented[rule] == severity.value, rule


# ============================================================================================
# The XPT v5 reader agrees with pyreadstat, and its pieces hold their properties
# ============================================================================================
def test_numpy_reader_matches_pyreadstat(tmp_path):
    folder = package(tmp_path)
    for path in sorted(folder.glob("*.xpt")):
        ours = _read_xpt_v5(path, path.name)
        theirs = _read_xpt_pyreadstat(path, path.name)
        assert ours[:3] == theirs[:3] and ours[4] == theirs[4], path.name
        pd.testing.assert_frame_equal(pd.DataFrame(ours[3]), pd.DataFrame(theirs[3]))
    adsl = pd.DataFrame(_read_xpt_v5(folder / "adsl.xpt", "adsl.xpt")[3])
    assert adsl["TRTSDT"].tolist() == [pd.Timestamp("2020-01-10"), pd.Timestamp("2020-02-01")]
    assert str(adsl["TRTSDT"].dtype) == "datetime64[ns]"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e70,
                          max_value=1e70).filter(lambda x: x == 0 or abs(x) > 1e-75),
                min_size=1, max_size=50))
def test_ibm_doubles_read_back_exactly(values):
    words = ibm370_from_float64(np.array(values))
    back = ibm_to_float64(words)
    # the writer stores -0.0 as 0; every other value comes back bit for bit
    expected = np.array([0.0 if v == 0 else v for v in values])
    assert back.tobytes() == expected.tobytes()


def test_sas_missing_values_read_as_nan():
    # "." is 0x2E then zeros, ".A" 0x41, "._" 0x5F (SAS TS-140); 0x41 with a fraction is 1.0
    words = np.array([0x2E << 56, 0x41 << 56, 0x5F << 56, (0x41 << 56) | (1 << 52), 0],
                     dtype=np.uint64)
    back = ibm_to_float64(words)
    assert np.isnan(back[:3]).all()
    assert back[3] == 1.0 and back[4] == 0.0


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(min_size=11, max_size=11), min_size=1, max_size=5),
       st.lists(st.integers(0, 4), min_size=1, max_size=60))
def test_factorize_bytes_groups_equal_rows(distinct, picks):
    rows = [distinct[i % len(distinct)] for i in picks]
    block = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), 11)
    codes, first = _factorize_bytes(block)
    for i, row in enumerate(rows):
        assert rows[first[codes[i]]] == row
    for i in range(len(rows)):
        for j in range(len(rows)):
            assert (codes[i] == codes[j]) == (rows[i] == rows[j])


# ============================================================================================
# Rule properties
# ============================================================================================
@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(1, 30), min_size=1, max_size=10),
       st.lists(st.integers(1, 30), min_size=1, max_size=15))
def test_supp_links_report_exactly_the_missing_parents(parent_seqs, pointed):
    seqs = sorted(parent_seqs)
    ae = pd.DataFrame({"USUBJID": S(*["S-1"] * len(seqs)), "AESEQ": F(*seqs)})
    supp = pd.DataFrame({"RDOMAIN": S(*["AE"] * len(pointed)),
                         "USUBJID": S(*["S-1"] * len(pointed)),
                         "IDVAR": S(*["AESEQ"] * len(pointed)),
                         "IDVARVAL": S(*[str(p) for p in pointed])})
    found = check_supp_links({"AE": ae}, {"SUPPAE": supp})
    assert [f.value for f in found] == [str(p) for p in pointed if p not in parent_seqs]
    assert {f.rule for f in found} <= {"CMAP-SP0001"}


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(1, 20), min_size=1, max_size=8),
       st.lists(st.tuples(st.sampled_from(["S-1", "S-2"]), st.integers(1, 20)), min_size=1,
                max_size=12))
def test_srcseq_links_report_exactly_the_missing_records(rs_seqs, links):
    rs = pd.DataFrame({"USUBJID": S(*["S-1"] * len(rs_seqs)), "RSSEQ": F(*sorted(rs_seqs))})
    adrs = pd.DataFrame({"USUBJID": S(*[u for u, _ in links]),
                         "SRCDOM": S(*["RS"] * len(links)),
                         "SRCSEQ": F(*[s for _, s in links])})
    adsl = pd.DataFrame({"USUBJID": S("S-1", "S-2")})
    found = [f for f in check_adam_cross({"ADSL": adsl, "ADRS": adrs}, {"RS": rs})
             if f.rule == "CMAP-AR0003"]
    missing: dict[str, int] = {}
    for subject, seq in links:
        if subject != "S-1" or seq not in rs_seqs:
            missing[subject] = missing.get(subject, 0) + 1
    assert {f.usubjid: f.count for f in found} == missing


def test_forked_rules_give_the_findings_of_a_serial_run(tmp_path, monkeypatch):
    # plausibility and CORE-derived rules run in a forked child when a second CPU is usable;
    # the findings (and their order) must be those of running them in this process
    from cdiscmap import forked

    dm = clean_frames()["DM"]
    dm["SEX"] = S("MALE", "F")
    dm["AGE"] = F(-1, 130)                       # plausibility (child): negative, above 120
    ae = _ae(AESTDTC=S("2020-01-12", "2020-02-01", "2020-05-02"), AESTDY=F(3, 23, 92),
             AEENDTC=S("2020-01-15", NA, NA), USUBJID=S("ST1-001", "ST1-001", "ST1-002"))
    root = package(tmp_path, DM=dm, AE=ae)
    monkeypatch.setattr(forked, "fork_usable", lambda: True)
    parallel = validate_folder(root).findings.items
    monkeypatch.setattr(forked, "fork_usable", lambda: False)
    serial = validate_folder(root).findings.items
    assert parallel == serial
    assert {f.rule for f in serial} >= {"CMAP-SD0005", "CMAP-XD0005", "CMAP-PL0004",
                                        "CMAP-PL0006"}


def test_xpt_files_of_all_folders_read_in_one_batch_keep_file_order(tmp_path):
    from cdiscmap.validation.folder import _read_all_xpt

    frames = clean_frames()
    root = tmp_path / "pkg"
    write_package(root / "sdtm", {n: frames[n] for n in ("AE", "DM", "TR")})
    write_package(root / "adam", {n: frames[n] for n in ("ADSL", "ADRS")})
    (root / "sdtm" / "broken.xpt").write_bytes(b"HEADER RECORD" + b" " * 67)
    read = _read_all_xpt([root, root / "adam", root / "sdtm"], root)
    # file order (folder by folder, names sorted), whatever order the readers took them in
    assert [p.relative_to(root).as_posix() for p in read] == [
        "adam/adrs.xpt", "adam/adsl.xpt", "sdtm/ae.xpt", "sdtm/broken.xpt", "sdtm/dm.xpt",
        "sdtm/tr.xpt"]
    assert isinstance(read[root / "sdtm" / "broken.xpt"], InputDataError)
    assert read[root / "adam" / "adsl.xpt"].folder == root / "adam"
    assert read[root / "sdtm" / "tr.xpt"].relpath == "sdtm/tr.xpt"
    assert len(read[root / "sdtm" / "ae.xpt"].frame) == 3


def test_supp_links_match_idvarval_as_written_per_subject():
    # AESEQ 1.0 is written "1"; a text IDVAR is compared trimmed; null links nothing
    ae = pd.DataFrame({"USUBJID": S("S-1", "S-1", "S-2", None), "AESEQ": F(1, 2, 1, 3),
                       "AELNKID": S("L1 ", "L2", None, "L3")})
    supp = pd.DataFrame({"RDOMAIN": S(*["AE"] * 7),
                         "USUBJID": S("S-1", "S-2", "S-2", "S-3", None, "S-1", "S-1"),
                         "IDVAR": S("AESEQ", "AESEQ", "AESEQ", "AESEQ", "AESEQ", "AELNKID",
                                    "AELNKID"),
                         "IDVARVAL": S("1", "1", "2", "1", "3", " L1", None)})
    found = check_supp_links({"AE": ae}, {"SUPPAE": supp})
    # S-2 has no AESEQ 2, S-3 is no AE subject, a null subject matches no record, a null
    # IDVARVAL no value; (S-1, AESEQ 1), (S-2, AESEQ 1) and (S-1, "L1") are found
    assert [(f.rule, f.usubjid, f.value) for f in found] == [
        ("CMAP-SP0001", "S-1", ""), ("CMAP-SP0001", "S-2", "2"), ("CMAP-SP0001", "S-3", "1"),
        ("CMAP-SP0001", "", "3")]
