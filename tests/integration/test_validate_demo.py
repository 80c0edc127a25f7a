"""``cdiscmap validate`` on the demo study's output: clean as written, failing with defects.

The demo export is synthesised and mapped once (``run_study``); the tests validate the package
it writes, its Dataset-JSON twin, and a copy with planted defects.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from lxml import etree

from cdiscmap.checks.define_rules import read_define
from cdiscmap.checks.files import DatasetFile
from cdiscmap.cli import main
from cdiscmap.emit.datasetjson import write_dataset_json
from cdiscmap.emit.xpt import XptColumn, write_xpt
from cdiscmap.findings import Severity
from cdiscmap.pipeline.run import RunOptions, default_study_dir, run_study
from cdiscmap.synth import generate
from cdiscmap.validation.folder import validate_folder
from cdiscmap.validation.read import read_xpt_dataset
from cdiscmap.validation.report import read_findings_json

SUBJECTS = 150
SEED = 20140701
CREATED = datetime(2024, 1, 1)
ODM = "http://www.cdisc.org/ns/odm/v1.3"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("validate-demo")
    generate("crizotinib-basket", root / "export", n_subjects=SUBJECTS, seed=SEED)
    result = run_study(RunOptions(study_dir=default_study_dir(), raw_dir=root / "export" / "raw",
                                  out_root=root / "out"))
    return result.out_dir


def _columns(dataset: DatasetFile) -> list[XptColumn]:
    return [XptColumn(v.name, v.label, v.type, v.length if v.type == "char" else None, v.format)
            for v in dataset.variables]


def _rewrite(path: Path, frame: pd.DataFrame, dataset: DatasetFile) -> None:
    write_xpt(path, frame, dataset_name=dataset.name, dataset_label=dataset.label,
              columns=_columns(dataset), created=CREATED)


def test_demo_output_has_no_error(demo, tmp_path):
    report = validate_folder(demo)
    assert [f for f in report.findings if f.severity != Severity.NOTICE] == []
    on_disk = {p.relative_to(demo).as_posix() for p in demo.rglob("*.xpt")}
    assert {"sdtm/dm.xpt", "sdtm/suppdm.xpt", "adam/adsl.xpt", "adam/adtte.xpt"} <= on_disk
    assert {d.path for d in report.datasets} == on_disk
    assert {d.name: d.records for d in report.datasets}["DM"] == SUBJECTS
    # the run writes a define.xml per package: the data and its define agree (no DF finding)
    assert report.defines == ["adam/define.xml", "sdtm/define.xml"]
    assert not [f for f in report.findings if f.rule.startswith("CMAP-DF")]
    assert "findings.json" in report.ignored          # the run's own report is not a dataset

    out = tmp_path / "reports"
    result = CliRunner().invoke(main, ["validate", str(demo), "--out", str(out)])
    assert result.exit_code == 0, result.output
    junit = etree.parse(str(out / "findings.junit.xml")).getroot()
    assert junit.get("failures") == "0"
    assert len(junit.findall("testsuite")) == len(on_disk)     # one per dataset
    again = read_findings_json(out / "findings.json")
    pd.testing.assert_frame_equal(again.to_frame(), report.findings.to_frame())


def test_adam_folder_alone_reads_the_sibling_sdtm(demo):
    report = validate_folder(demo / "adam")
    assert "sdtm/rs.xpt" in report.references and "sdtm/tu.xpt" in report.references
    assert report.defines == ["define.xml"]
    assert report.findings.items == []     # every SRCSEQ link into RS and TU resolves


def test_dataset_json_twin_validates_like_the_xpt_files(demo, tmp_path):
    twin = tmp_path / "twin"
    for sub in ("sdtm", "adam"):
        (twin / sub).mkdir(parents=True)
        shutil.copy(demo / sub / "define.xml", twin / sub / "define.xml")
        mdv_oid = read_define(twin / sub / "define.xml").mdv_oid   # CMAP-DF0012: the define's OIDs
        for path in sorted((demo / sub).glob("*.xpt")):
            dataset = read_xpt_dataset(path, demo, demo / sub)
            write_dataset_json(twin / sub / f"{path.stem}.json", dataset.frame,
                               dataset_name=dataset.name, dataset_label=dataset.label,
                               columns=_columns(dataset), keys=[], study_oid="CRZBASKET",
                               metadata_version_oid=mdv_oid, metadata_ref="define.xml",
                               created=CREATED)
    xpt_report = validate_folder(demo)
    json_report = validate_folder(twin)

    def comparable(report: object) -> list[tuple]:
        return sorted((f.rule, f.dataset, f.usubjid, f.variable, f.value, f.count,
                       f.source.replace(".xpt", ".json"))
                      for f in report.findings)  # type: ignore[attr-defined]

    assert comparable(json_report) == comparable(xpt_report)
    assert {d.format for d in json_report.datasets} == {"json"}


def test_planted_defects_fail_the_build(demo, tmp_path):
    package = tmp_path / "CRZBASKET"
    shutil.copytree(demo, package)
    sdtm, adam = package / "sdtm", package / "adam"

    ae = read_xpt_dataset(sdtm / "ae.xpt", package, sdtm)
    frame = ae.frame.copy()
    supp_parent = frame["AETERM"].str.len() >= 200       # the AE that SUPPAE continues
    first = int((~supp_parent).to_numpy().argmax())
    frame.loc[first, "USUBJID"] = "CRZBASKET-999-9999"   # same length as the real ids (18)
    _rewrite(sdtm / "ae.xpt", frame, ae)

    adsl = read_xpt_dataset(adam / "adsl.xpt", package, adam)
    _rewrite(adam / "adsl.xpt", pd.concat([adsl.frame, adsl.frame.iloc[[-1]]],
                                          ignore_index=True), adsl)

    adrs = read_xpt_dataset(adam / "adrs.xpt", package, adam)
    frame = adrs.frame.copy()
    linked = int((frame["SRCDOM"] == "RS").fillna(False).to_numpy().argmax())
    frame.loc[linked, "SRCSEQ"] = 99999.0
    _rewrite(adam / "adrs.xpt", frame, adrs)

    define = etree.parse(str(sdtm / "define.xml"))     # the one the run wrote
    item = define.getroot().find(f".//{{{ODM}}}ItemDef[@OID='IT.DM.USUBJID']")
    assert item.get("Length") == "18"                    # "CRZBASKET-101-0001"
    item.set("Length", "40")
    define.write(str(sdtm / "define.xml"), xml_declaration=True, encoding="UTF-8")

    out = tmp_path / "reports"
    result = CliRunner().invoke(main, ["validate", str(package), "--out", str(out)])
    assert result.exit_code == 1
    assert "at or above 'error'" in result.output

    document = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    errors = {(f["rule"], f["dataset"]) for f in document["findings"]
              if f["severity"] == "error"}
    assert errors == {("CMAP-XD0001", "AE"), ("CMAP-AR0001", "ADSL"), ("CMAP-SD0009", "ADSL"),
                      ("CMAP-AR0003", "ADRS"), ("CMAP-DF0005", "DM")}
    by_rule = {f["rule"]: f for f in document["findings"] if f["severity"] == "error"}
    assert by_rule["CMAP-XD0001"]["usubjid"] == "CRZBASKET-999-9999"
    assert by_rule["CMAP-XD0001"]["source"] == f"sdtm/ae.xpt row {first + 1}"
    assert by_rule["CMAP-AR0003"]["value"] == "99999"
    assert by_rule["CMAP-DF0005"]["variable"] == "USUBJID" and by_rule["CMAP-DF0005"]["value"] == "40"
    assert document["defines"] == ["adam/define.xml", "sdtm/define.xml"]

    junit = etree.parse(str(out / "findings.junit.xml")).getroot()
    assert junit.get("failures") == "5"
    failed = sorted((suite.get("name"), case.get("name").split()[0])
                    for suite in junit.iter("testsuite") for case in suite.iter("testcase")
                    if case.find("failure") is not None)
    assert failed == [("ADRS", "CMAP-AR0003"), ("ADSL", "CMAP-AR0001"), ("ADSL", "CMAP-SD0009"),
                      ("AE", "CMAP-XD0001"), ("DM", "CMAP-DF0005")]
    html = (out / "findings.html").read_text(encoding="utf-8")
    for rule in ("CMAP-XD0001", "CMAP-AR0001", "CMAP-SD0009", "CMAP-AR0003", "CMAP-DF0005"):
        assert f"<td>{rule}</td>" in html


def test_value_level_codelists_come_from_the_define(demo, tmp_path):
    package = tmp_path / "CRZBASKET"
    shutil.copytree(demo, package)
    # the clean package: NEWLPROG Y/N results are checked against NY, not ONCRSR (no notice)
    clean = validate_folder(package)
    assert not [f for f in clean.findings if f.dataset == "RS" and f.variable == "RSSTRESC"]
    rs_path = package / "sdtm" / "rs.xpt"
    rs = read_xpt_dataset(rs_path, package, package / "sdtm")
    frame = rs.frame.copy()
    first_newl = frame.index[frame["RSTESTCD"] == "NEWLPROG"][0]
    frame.loc[first_newl, "RSSTRESC"] = "PR"       # a response code where NY is expected
    _rewrite(rs_path, frame, rs)
    report = validate_folder(package)
    found = [(f.rule, f.variable, f.value, f.count) for f in report.findings
             if f.dataset == "RS" and f.variable == "RSSTRESC"]
    assert found == [("CMAP-SD0005", "RSSTRESC", "PR", 1)]    # NY is not extensible
