"""An ADaM-only study (issue 11 §2): a folder holding only ``adam/*.yaml`` (no study.yaml)
is enough for ``check-spec``, ``adam`` on an SDTM made elsewhere, and ``define`` (ADaM only).

The SDTM is four hand-written CSV datasets (DM, DS, RS, TU) of two subjects.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from lxml import etree

from cdiscmap.cli import main

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"


def _sdtm(folder: Path) -> Path:
    sdtm = folder / "package" / "sdtm"
    sdtm.mkdir(parents=True)
    ids = ["EXT-1", "EXT-2"]
    pd.DataFrame({"STUDYID": ["EXT"] * 2, "DOMAIN": ["DM"] * 2, "USUBJID": ids,
                  "SUBJID": ["1", "2"], "AGE": [50, 70], "SEX": ["F", "M"],
                  "RACE": ["WHITE", "ASIAN"], "COUNTRY": ["USA", "FRA"], "ARM": ["A", "A"],
                  "ACTARM": ["A", "A"], "DTHDTC": ["", "2020-05-01"], "DTHFL": ["", "Y"]}) \
        .to_csv(sdtm / "dm.csv", index=False)
    pd.DataFrame({"STUDYID": ["EXT"] * 2, "USUBJID": ids, "DSSEQ": [1, 1],
                  "DSTERM": ["RANDOMIZED"] * 2, "DSDECOD": ["RANDOMIZED"] * 2,
                  "DSCAT": ["PROTOCOL MILESTONE"] * 2, "DSSTDTC": ["2020-01-01"] * 2}) \
        .to_csv(sdtm / "ds.csv", index=False)
    pd.DataFrame({"STUDYID": ["EXT"] * 2, "USUBJID": ids, "RSSEQ": [1, 1],
                  "RSTESTCD": ["OVRLRESP"] * 2, "RSCAT": ["RECIST 1.1"] * 2,
                  "RSSTRESC": ["PR", "PD"], "RSEVAL": ["INVESTIGATOR"] * 2,
                  "RSDTC": ["2020-02-26", "2020-02-26"]}).to_csv(sdtm / "rs.csv", index=False)
    pd.DataFrame({"STUDYID": ["EXT"] * 2, "USUBJID": ids, "TUSEQ": [1, 1],
                  "TUSTRESC": ["TARGET"] * 2, "TUEVAL": ["INVESTIGATOR"] * 2,
                  "VISIT": ["BASELINE"] * 2, "TUDTC": ["2019-12-20"] * 2}) \
        .to_csv(sdtm / "tu.csv", index=False)
    return sdtm


def _study(folder: Path) -> Path:
    study = folder / "ext-adam"
    (study / "adam").mkdir(parents=True)
    (study / "adam" / "adtte.yaml").write_text(
        "parameters:\n"
        "  - paramcd: OS\n    param: Overall Survival\n    start: RANDDT\n"
        "    events: [DEATH]\n    censor: last_alive\n", encoding="utf-8")
    return study


def test_check_spec_adam_and_define_on_an_adam_only_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    study, sdtm = _study(tmp_path), _sdtm(tmp_path)
    checked = runner.invoke(main, ["check-spec", str(study)])
    assert checked.exit_code == 0, checked.output
    assert "ADaM-only study (no study.yaml); the ADaM settings (adtte) are valid" in \
        checked.output
    ran = runner.invoke(main, ["adam", "--sdtm", str(sdtm), "--study", str(study), "-q"])
    assert ran.exit_code in (0, 1), ran.output          # 1: findings at error level allowed
    adam = tmp_path / "package" / "adam"
    assert (adam / "adsl.xpt").is_file() and (adam / "adtte.xpt").is_file()
    written = runner.invoke(main, ["define", str(study), "--package",
                                   str(tmp_path / "package")])
    assert written.exit_code == 0, written.output
    assert (adam / "define.xml").is_file()
    assert not (sdtm / "define.xml").exists()          # the SDTM was made elsewhere
    root = etree.parse(str(adam / "define.xml")).getroot()
    study_el = root.find(f"{ODM}Study")
    assert study_el.get("OID").endswith("EXT")
    names = {g.get("Name") for g in root.iter(f"{ODM}ItemGroupDef")}
    assert {"ADSL", "ADRS", "ADTTE"} <= names


def test_a_bad_setting_in_an_adam_only_folder_names_its_file(tmp_path: Path) -> None:
    study = _study(tmp_path)
    (study / "adam" / "adsl.yaml").write_text("age_groups: nonsense\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check-spec", str(study)])
    assert result.exit_code == 2
    assert "adsl.yaml" in result.output
