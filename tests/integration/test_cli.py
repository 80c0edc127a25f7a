"""The command line contract: exit codes, one-line reasons, the no-argument demo run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner

from cdiscmap.cli import main
from cdiscmap.pipeline.run import default_study_dir


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def test_run_without_arguments_converts_the_demo(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["run"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "output" / "CRZBASKET"
    for name in ("dm", "ae", "ex", "tu", "tr", "rs"):
        assert (out / "sdtm" / f"{name}.xpt").is_file()
    for name in ("adsl", "adrs", "adtte"):
        assert (out / "adam" / f"{name}.xpt").is_file()
    assert (out / "raw" / "enrol.csv").is_file()       # synthesised on first use
    assert "Findings: 0 errors" in result.output


def test_every_command_has_help(runner):
    for command in ([], ["run"], ["synth"], ["adam"], ["check-spec"]):
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0
        assert "Usage:" in result.output


def test_broken_spec_is_one_line_with_file_and_line(runner, tmp_path):
    study = tmp_path / "study"
    shutil.copytree(default_study_dir(), study)
    ae = study / "sdtm" / "ae.yaml"
    ae.write_text(ae.read_text().replace("AETERM: {take: AETERM}", "AETERM: {tak: AETERM}"))
    result = runner.invoke(main, ["run", str(study), "--raw", str(tmp_path)])
    assert result.exit_code == 2
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1
    assert "ae.yaml:" in lines[0] and "tak" in lines[0]
    assert "Traceback" not in result.output


def test_broken_yaml_syntax(runner, tmp_path):
    study = tmp_path / "study"
    shutil.copytree(default_study_dir(), study)
    (study / "study.yaml").write_text("studyid: [unclosed\n")
    result = runner.invoke(main, ["check-spec", str(study)])
    assert result.exit_code == 2
    assert "study.yaml:" in result.stderr and "YAML syntax error" in result.stderr


def test_missing_raw_folder(runner, tmp_path):
    result = runner.invoke(main, ["run", str(default_study_dir()), "--raw",
                                  str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "not found" in result.stderr


def test_check_spec_ok(runner):
    result = runner.invoke(main, ["check-spec", str(default_study_dir())])
    assert result.exit_code == 0
    assert "CRZBASKET" in result.output


def _plain_sdtm(folder: Path) -> None:
    """A tiny SDTM package written by pyreadstat, not by cdiscmap (two subjects)."""
    folder.mkdir()
    dm = pd.DataFrame({
        "STUDYID": ["X1", "X1"], "DOMAIN": ["DM", "DM"], "USUBJID": ["X1-01", "X1-02"],
        "SUBJID": ["01", "02"], "RFSTDTC": ["2020-01-10", "2020-02-01"],
        "RFENDTC": ["2020-06-01", "2020-05-01"], "RFXSTDTC": ["2020-01-10", "2020-02-01"],
        "RFXENDTC": ["2020-06-01", "2020-05-01"], "RFICDTC": ["2020-01-02", "2020-01-20"],
        "RFPENDTC": ["2020-09-01", "2020-08-01"], "DTHDTC": ["", "2020-08-01"],
        "DTHFL": ["", "Y"], "SITEID": ["01", "01"], "AGE": [55.0, 61.0], "AGEU": ["YEARS"] * 2,
        "SEX": ["F", "M"], "RACE": ["WHITE", "ASIAN"], "ETHNIC": ["NOT REPORTED"] * 2,
        "ARMCD": ["A", "A"], "ARM": ["Drug"] * 2, "ACTARMCD": ["A", "A"],
        "ACTARM": ["Drug"] * 2, "COUNTRY": ["FRA", "FRA"]})
    ex = pd.DataFrame({
        "STUDYID": ["X1"] * 2, "DOMAIN": ["EX"] * 2, "USUBJID": ["X1-01", "X1-02"],
        "EXSEQ": [1.0, 1.0], "EXTRT": ["DRUG"] * 2, "EXDOSE": [250.0, 250.0],
        "EXSTDTC": ["2020-01-10", "2020-02-01"], "EXENDTC": ["2020-06-01", "2020-05-01"]})
    ds = pd.DataFrame({
        "STUDYID": ["X1"] * 2, "DOMAIN": ["DS"] * 2, "USUBJID": ["X1-01", "X1-02"],
        "DSSEQ": [1.0, 1.0], "DSTERM": ["REGISTERED"] * 2,
        "DSDECOD": ["ENTERED INTO TRIAL"] * 2, "DSCAT": ["PROTOCOL MILESTONE"] * 2,
        "DSSTDTC": ["2020-01-05", "2020-01-25"]})
    rs = pd.DataFrame({
        "STUDYID": ["X1"] * 4, "DOMAIN": ["RS"] * 4, "USUBJID": ["X1-01", "X1-01", "X1-01",
                                                               "X1-02"],
        "RSSEQ": [1.0, 2.0, 3.0, 1.0], "RSTESTCD": ["OVRLRESP"] * 4,
        "RSTEST": ["Overall Response"] * 4, "RSCAT": ["RECIST 1.1"] * 4,
        "RSORRES": ["PR", "PR", "PD", "SD"], "RSSTRESC": ["PR", "PR", "PD", "SD"],
        "RSEVAL": ["INVESTIGATOR"] * 4, "VISITNUM": [8.0, 16.0, 24.0, 8.0],
        "VISIT": ["WEEK 8", "WEEK 16", "WEEK 24", "WEEK 8"],
        "RSDTC": ["2020-03-06", "2020-05-01", "2020-06-26", "2020-03-27"]})
    suppdm = pd.DataFrame({
        "STUDYID": ["X1"] * 6, "RDOMAIN": ["DM"] * 6,
        "USUBJID": ["X1-01"] * 3 + ["X1-02"] * 3, "IDVAR": [""] * 6, "IDVARVAL": [""] * 6,
        "QNAM": ["COHORT", "PATHOL", "GENALT"] * 2,
        "QLABEL": ["Cohort", "Pathology", "Alteration"] * 2,
        "QVAL": ["16", "IMT", "ALK TRANSLOCATION", "5", "NSCLC", "MET AMPLIFICATION"],
        "QORIG": ["CRF"] * 6, "QEVAL": [""] * 6})
    for name, frame in {"dm": dm, "ex": ex, "ds": ds, "rs": rs, "suppdm": suppdm}.items():
        pyreadstat.write_xport(frame, str(folder / f"{name}.xpt"), table_name=name.upper(),
                               file_format_version=5)


def test_adam_on_sdtm_that_cdiscmap_did_not_write(runner, tmp_path):
    _plain_sdtm(tmp_path / "sdtm")
    result = runner.invoke(main, ["adam", "--sdtm", str(tmp_path / "sdtm"), "--study",
                                  str(default_study_dir()), "--out", str(tmp_path / "adam"),
                                  "--fail-on", "none"])
    assert result.exit_code == 0, result.output + str(result.exception)
    adsl, _ = pyreadstat.read_xport(str(tmp_path / "adam" / "adsl.xpt"))
    assert sorted(adsl["USUBJID"]) == ["X1-01", "X1-02"]
    assert adsl.set_index("USUBJID").loc["X1-01", "PATHOL"] == "IMT"
    adrs, _ = pyreadstat.read_xport(str(tmp_path / "adam" / "adrs.xpt"))
    bor = adrs[adrs["PARAMCD"] == "BOR"].set_index("USUBJID")["AVALC"]
    # X1-01: PR, PR (56 days apart), then PD → unconfirmed BOR PR; X1-02: SD at day 56 → SD
    assert bor["X1-01"] == "PR"
    assert bor["X1-02"] == "SD"
    adtte, _ = pyreadstat.read_xport(str(tmp_path / "adam" / "adtte.xpt"))
    os_ = adtte[adtte["PARAMCD"] == "OS"].set_index("USUBJID")
    # X1-02 died 2020-08-01; OS origin = registration 2020-01-25 → 190 days (+1 convention)
    assert os_.loc["X1-02", "CNSR"] == 0
    assert os_.loc["X1-02", "AVAL"] == 190
    assert os.path.exists(tmp_path / "adam" / "findings.csv")
