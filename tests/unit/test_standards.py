"""Standard metadata: the committed specs/, the typed models and the loader's errors.

Expected values were read by hand from the SDTMIG 3.4 / ADaMIG 1.3 tables and the CT releases
(see /work/shared/reference/PROVENANCE.md, "Spot checks"), not produced by the code under test.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from cdiscmap.errors import StandardsError
from cdiscmap.standards import (
    Codelist,
    Dataset,
    Standards,
    Term,
    Variable,
    load_standards,
    specs_dir,
)

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(scope="module")
def std() -> Standards:
    return load_standards(SPECS)


# ---------------------------------------------------------------------------------------------
# What specs/ holds
# ---------------------------------------------------------------------------------------------
def test_versions_and_datasets(std: Standards) -> None:
    assert std.versions == {"ADaM CT": "2025-09-26", "ADaMIG": "1.3", "SDTM CT": "2025-03-28",
                            "SDTMIG": "3.4", "sponsor": "1"}
    # every SDTMIG 3.4 dataset (tests/unit/test_specs_all_domains.py) and the seven ADaM
    # datasets the toolkit derives (specs/adamig-1.3/*.json)
    assert {"ADRS", "ADSL", "ADTTE", "AE", "DM", "DS", "EX", "RS", "SUPPQUAL", "TR", "TS",
            "TU"} <= set(std.datasets)
    assert sorted(d for d in std.datasets if d.startswith("AD")) == [
        "ADAE", "ADEX", "ADQS", "ADRS", "ADSL", "ADTR", "ADTTE"]
    assert len(std.datasets) == 63 + 7


def test_dm_metadata(std: Standards) -> None:
    dm = std.dataset("DM")
    assert (dm.label, dm.class_name, dm.standard) == ("Demographics", "SPECIAL PURPOSE",
                                                      "SDTMIG 3.4")
    assert dm.structure == "One record per subject"
    assert dm.keys == ["STUDYID", "USUBJID"]
    assert len(dm.variables) == 32
    assert dm.names()[:5] == ["STUDYID", "DOMAIN", "USUBJID", "SUBJID", "RFSTDTC"]
    assert dm.names()[-2:] == ["DMDTC", "DMDY"]
    assert [v.order for v in dm.variables] == list(range(1, 33))
    rfstdtc = dm.variable("RFSTDTC")
    assert (rfstdtc.label, rfstdtc.data_type, rfstdtc.core) == (
        "Subject Reference Start Date/Time", "Char", "Exp")
    assert rfstdtc.value_domain == "ISO 8601 datetime or interval"
    assert dm.variable("COUNTRY").value_domain == "ISO 3166-1 alpha-3"
    assert dm.variable("COUNTRY").core == "Req"
    assert dm.variable("DOMAIN").value_list == ["DM"]
    # There is no ARMNRS codelist: the variable ARMNRS uses ARMNULRS (C142179).
    assert dm.variable("ARMNRS").codelist == "ARMNULRS"
    assert dm.variable("AGE").data_type == "Num"
    assert dm.variable("SEX").codelist == "SEX"


def test_ae_and_findings_domains(std: Standards) -> None:
    ae = std.dataset("AE")
    assert len(ae.variables) == 60
    assert ae.keys == ["STUDYID", "USUBJID", "AEDECOD", "AESTDTC", "AESEQ"]
    toxgr = ae.variable("AETOXGR")
    # Sponsor-defined in the IG ("*"): no CDISC codelist, the study attaches TOXGR.
    assert (toxgr.label, toxgr.data_type, toxgr.core, toxgr.codelist) == (
        "Standard Toxicity Grade", "Char", "Perm", None)
    assert ae.variable("AEDECOD").value_domain == "MedDRA"
    assert ae.variable("AEDECOD").core == "Req"
    assert ae.variable("AESEV").codelist == "AESEV"
    assert ae.variable("AEREL").codelist is None
    tr = std.dataset("TR")
    assert (tr.variable("TRLNKID").label, tr.variable("TRLNKID").core) == ("Link ID", "Exp")
    assert tr.variable("TRLNKGRP").label == "Link Group"
    assert std.dataset("TU").variable("TULNKGRP").label == "Link Group ID"
    assert std.dataset("RS").variable("RSSTRESC").codelist == "ONCRSR"
    rscat = std.dataset("RS").variable("RSCAT")
    assert rscat.codelists == ["ONCRSCAT", "CCCAT"]
    dsdecod = std.dataset("DS").variable("DSDECOD")
    assert dsdecod.codelists == ["NCOMPLT", "PROTMLST", "OTHEVENT"]
    assert std.dataset("SUPPQUAL").keys == ["STUDYID", "RDOMAIN", "USUBJID", "IDVAR",
                                            "IDVARVAL", "QNAM"]
    assert std.dataset("TS").class_name == "TRIAL DESIGN"


def test_adsl_variables_in_ig_order(std: Standards) -> None:
    adsl = std.dataset("ADSL")
    assert (adsl.class_name, adsl.subclass, adsl.standard) == (
        "SUBJECT LEVEL ANALYSIS DATASET", None, "ADaMIG 1.3")
    assert adsl.keys == ["STUDYID", "USUBJID"]
    # ADaMIG 1.3 ADSL table order (identifiers, demographics, population flags, treatment,
    # treatment timing, trial experience), DM copies after their neighbours, sponsor last.
    # admiral ad_adsl.R additions (issue 11 §2): REGION1/RACEGR1/DTHCGR1 (+N) in IG order,
    # SCRFDT, FRVDT, DTHDOM, DTHADY, LDDTHELD, LDDTHGR1, DTH30FL/DTHA30FL/DTHB30FL as sponsor.
    assert adsl.names() == [
        "STUDYID", "USUBJID", "SUBJID", "SITEID", "REGION1", "REGION1N", "AGE", "AGEU",
        "AGEGR1", "AGEGR1N", "SEX", "RACE", "ETHNIC", "COUNTRY", "RACEGR1", "RACEGR1N", "SAFFL",
        "ITTFL", "EFFFL", "ARM", "ARMCD", "ACTARM", "ACTARMCD", "TRT01P", "TRT01PN", "TRT01A",
        "TRT01AN", "TRTSDT",
        "TRTSDTM", "TRTSDTF", "TRTSTMF", "TRTEDT", "TRTEDTM", "TRTEDTF", "TRTETMF", "RCHSDT",
        "EOSSTT", "EOSDT", "SCRFDT", "FRVDT", "DCSREAS", "RFICDT", "ENRLDT",
        "RANDDT", "LSTALVDT", "TRTDURD", "DTHDT", "DTHDTF", "DTHFL", "DTHCAUS", "DTHDOM",
        "DTHADY", "LDDTHELD", "LDDTHGR1", "DTH30FL", "DTHA30FL", "DTHB30FL", "DTHCGR1",
        "DTHCGR1N", "COHORT", "COHORTN", "PATHOL", "GENALT"]
    assert adsl.variable("TRTSDTM").display_format == "DATETIME20."
    assert adsl.variable("TRTSTMF").codelist == "TIMEFL"
    assert adsl.variable("AGEGR1N").label == "Pooled Age Group 1 (N)"
    assert adsl.variable("DTHDTF").codelist == "DATEFL"
    trt01p = adsl.variable("TRT01P")
    assert (trt01p.label, trt01p.core) == ("Planned Treatment for Period 01", "Req")
    assert adsl.variable("TRT01A").label == "Actual Treatment for Period 01"
    assert adsl.variable("AGEGR1").label == "Pooled Age Group 1"
    assert adsl.variable("EOSSTT").codelist == "SBJTSTAT"
    for name in ("TRTSDT", "TRTEDT", "RANDDT", "DTHDT", "LSTALVDT", "EOSDT", "RFICDT"):
        var = adsl.variable(name)
        assert (var.data_type, var.display_format) == ("Num", "DATE9."), name
    assert adsl.variable("TRTDURD").display_format is None
    assert adsl.variable("SAFFL").value_list == ["Y", "N"]
    assert adsl.variable("EFFFL").value_list == ["Y", "N"]
    assert [v.name for v in adsl.variables if v.sponsor] == [
        "EFFFL", "RCHSDT", "SCRFDT", "FRVDT", "DTHDOM", "DTHADY", "LDDTHELD", "LDDTHGR1",
        "DTH30FL", "DTHA30FL", "DTHB30FL", "COHORT", "COHORTN", "PATHOL", "GENALT"]
    # ADaMIG 1.3 ADSL "Trial Experience": ENRLDT "Date of Enrollment" (Num, Perm)
    assert (adsl.variable("ENRLDT").label, adsl.variable("ENRLDT").data_type) == (
        "Date of Enrollment", "Num")
    assert adsl.variable("ETHNIC").codelist == "ETHNIC"
    assert adsl.variable("DTHFL").codelist == "NY"


def test_bds_datasets(std: Standards) -> None:
    adrs = std.dataset("ADRS")
    assert (adrs.class_name, adrs.subclass) == ("BASIC DATA STRUCTURE", None)
    assert set(adrs.names()) == {
        "STUDYID", "USUBJID", "SUBJID", "SITEID", "ASEQ", "PARAMCD", "PARAM", "PARAMN", "AVAL",
        "AVALC", "ADT", "ADY", "AVISIT", "AVISITN", "ANL01FL", "ANL02FL", "DTYPE", "SRCDOM",
        "SRCVAR", "SRCSEQ", "TRT01P", "TRT01A", "COHORT", "PATHOL", "GENALT",
        # IG variables src/cdiscmap/adam derives besides the task's list:
        "PARCAT1", "PARCAT2", "PARCAT3", "ADTF", "ANL03FL", "ANL04FL"}
    assert adrs.variable("PARCAT3").label == "Parameter Category 3"
    assert adrs.variable("ADTF").codelist == "DATEFL"
    # ADaMIG tables list the identifiers first (the export puts them last).
    assert adrs.names()[:5] == ["STUDYID", "USUBJID", "SUBJID", "SITEID", "ASEQ"]
    assert adrs.variable("ANL02FL").label == "Analysis Flag 02"
    assert adrs.variable("ANL01FL").value_list == ["Y"]
    assert adrs.variable("DTYPE").codelist == "DTYPE"
    assert adrs.variable("TRT01P").label == "Planned Treatment for Period 01"
    assert adrs.variable("ADT").display_format == "DATE9."
    adtte = std.dataset("ADTTE")
    assert (adtte.class_name, adtte.subclass) == ("BASIC DATA STRUCTURE", "TIME-TO-EVENT")
    assert adtte.keys == ["STUDYID", "USUBJID", "PARAMCD"]
    assert adtte.variable("STARTDT").label == "Time-to-Event Origin Date for Subject"
    assert adtte.variable("STARTDT").display_format == "DATE9."
    assert (adtte.variable("CNSR").label, adtte.variable("CNSR").core) == ("Censor", "Req")
    assert adtte.variable("EVNTDESC").label == "Event or Censoring Description"
    assert adtte.variable("AVAL").label == "Analysis Value"
    assert "AVALC" not in adtte.names()


def test_codelists_against_nci_codes(std: Standards) -> None:
    sex = std.codelist("SEX")
    assert (sex.code, sex.label, sex.extensible, sex.source) == (
        "C66731", "Sex", False, "SDTM CT 2025-03-28")
    assert {t.value: t.code for t in sex.terms} == {
        "F": "C16576", "M": "C20197", "U": "C17998", "INTERSEX": "C45908"}
    assert std.codelist("NY").values() == {"N", "Y", "U", "NA"}
    assert std.codelist("NY").code == "C66742"
    oncrsr = std.codelist("ONCRSR")
    assert (oncrsr.code, oncrsr.extensible, len(oncrsr.terms)) == ("C96785", True, 96)
    codes = {t.value: t.code for t in oncrsr.terms}
    assert (codes["CR"], codes["PR"], codes["SD"], codes["PD"], codes["NE"]) == (
        "C4870", "C18058", "C18213", "C35571", "C62222")
    assert codes["NON-CR/NON-PD"] == "C96700"
    assert codes["NOT ALL EVALUATED"] == "C103424"
    tr_codes = {t.value: t.code for t in std.codelist("TRTESTCD").terms}
    assert (tr_codes["LDIAM"], tr_codes["SUMDIAM"], tr_codes["LPERP"], tr_codes["TUMSTATE"]) == (
        "C96684", "C96631", "C96685", "C96643")
    assert {t.value: t.code for t in std.codelist("TUTESTCD").terms}["TUMIDENT"] == "C94523"
    assert {t.value: t.code for t in std.codelist("ONCRSCAT").terms}["RECIST 1.1"] == "C124415"
    aesev = std.codelist("AESEV")
    assert [(t.value, t.decode) for t in aesev.terms] == [
        ("MILD", "Mild Adverse Event"), ("MODERATE", "Moderate Adverse Event"),
        ("SEVERE", "Severe Adverse Event")]
    assert std.codelist("ARMNULRS").code == "C142179"
    assert "ARMNRS" not in std.codelists
    datefl = std.codelist("DATEFL")
    assert (datefl.code, datefl.source, datefl.values()) == (
        "C81223", "ADaM CT 2025-09-26", {"D", "M", "Y"})
    assert std.codelist("DTYPE").extensible is True


def test_full_codelists_sponsor_lists_and_dictionaries(std: Standards) -> None:
    # Every CT codelist is carried whole (term counts: sdtm_ct_codelists.csv term_count).
    assert not any(c.subset for c in std.codelists.values())
    unit = std.codelist("UNIT")
    assert (unit.code, unit.extensible, len(unit.terms)) == ("C71620", True, 929)
    assert {"mg", "mg/m2", "mm", "cm"} <= unit.values()
    assert len(std.codelist("METHOD").terms) == 517
    loc = std.codelist("LOC")
    assert (loc.code, len(loc.terms), loc.checkable) == ("C74456", 1397, True)
    assert {t.value: t.code for t in loc.terms}["PERITONEUM"] == "C12770"
    assert len(std.codelist("LBTESTCD").terms) == 2438
    assert len(std.codelist("FRM").terms) == 196
    toxgr = std.codelist("TOXGR")
    assert (toxgr.label, toxgr.source, toxgr.extensible, toxgr.code) == (
        "CTCAE Grade", "sponsor", False, None)
    assert [t.value for t in toxgr.terms] == ["1", "2", "3", "4", "5"]
    assert std.codelist("AEREL").values() == {"RELATED", "NOT RELATED"}
    meddra = std.codelist("MEDDRA")
    assert (meddra.external, meddra.dictionary, meddra.version, meddra.checkable) == (
        True, "MedDRA", "26.0", False)
    iso = std.codelist("ISO3166")
    assert (iso.external, iso.version) == (True, "ISO 3166-1 alpha-3")


def test_ct_files_carry_attribution_and_no_prose() -> None:
    for path in sorted((SPECS / "ct").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert "version" in data, path
        if data["standard"] != "sponsor":
            assert "NCI Enterprise Vocabulary Services" in data["attribution"], path
    forbidden = {"definition", "cdisc_notes", "synonyms"}
    files = sorted(SPECS.rglob("*.json"))
    assert len(files) == 63 + 7 + 3  # SDTMIG datasets, ADaM datasets, CT files
    for path in files:
        data = json.loads(path.read_text("utf-8"))
        assert forbidden.isdisjoint(_all_keys(data)), path


def _all_keys(node: object) -> set[str]:
    if isinstance(node, dict):
        return set(node).union(*(_all_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_all_keys(v) for v in node))
    return set()


# ---------------------------------------------------------------------------------------------
# Model behaviour
# ---------------------------------------------------------------------------------------------
def test_lookups_name_what_is_known(std: Standards) -> None:
    with pytest.raises(StandardsError, match=r"'XX'.*known datasets: ADAE, ADEX, ADQS, ADRS, ADSL, ADTR, ADTTE, AE, AG"):
        std.dataset("XX")
    with pytest.raises(StandardsError, match=r"no codelist 'NOPE'"):
        std.codelist("NOPE")
    with pytest.raises(StandardsError, match=r"SDTMIG 3.4 dataset AE has no variable AEFOO"):
        std.dataset("AE").variable("AEFOO")


def test_with_codelists_adds_and_replaces_without_touching_the_original(std: Standards) -> None:
    arms = Codelist(name="ARMCD", label="Planned Arm Code", extensible=False, source="study",
                    terms=[Term(value="C01"), Term(value="C02")])
    narrow_race = Codelist(name="RACE", label="Race", extensible=False, source="study",
                           terms=[Term(value="WHITE")])
    study = std.with_codelists({"ARMCD": arms, "RACE": narrow_race})
    assert study.codelist("ARMCD").values() == {"C01", "C02"}
    assert study.codelist("RACE").values() == {"WHITE"}
    assert len(std.codelist("RACE").terms) == 8
    assert "ARMCD" not in std.codelists
    assert study.dataset("DM") is std.dataset("DM")
    with pytest.raises(StandardsError, match="filed under 'ARM' is named 'ARMCD'"):
        std.with_codelists({"ARM": arms})
    # assembled without validating again: the same as a validated copy, sorted by name
    validated = Standards(datasets=std.datasets, versions=std.versions,
                          codelists=dict(sorted({**std.codelists, "ARMCD": arms,
                                                 "RACE": narrow_race}.items())))
    assert study == validated
    assert list(study.codelists) == sorted(study.codelists)
    with pytest.raises(TypeError, match="study codelist 'ARMCD' is a dict, not a Codelist"):
        std.with_codelists({"ARMCD": arms.model_dump()})  # type: ignore[dict-item]


def test_models_reject_inconsistent_metadata() -> None:
    var = {"name": "X", "label": "X", "type": "Char", "core": "Req", "order": 1}
    with pytest.raises(ValueError, match="core 'Mandatory'"):
        Variable.model_validate({**var, "core": "Mandatory"})
    with pytest.raises(ValueError, match="longer than 40"):
        Variable.model_validate({**var, "label": "L" * 41})
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        Variable.model_validate({**var, "definition": "prose"})
    with pytest.raises(ValueError, match=r"keys \['Y'\] are not variables"):
        Dataset.model_validate({"name": "D", "label": "D", "class": "EVENTS", "structure": "s",
                                "standard": "SDTMIG 3.4", "keys": ["Y"], "variables": [var]})
    with pytest.raises(ValueError, match="cannot list terms"):
        Codelist(name="M", label="M", extensible=False, source="s", external=True,
                 dictionary="MedDRA", terms=[Term(value="x")])
    # each name listed twice or more, once, sorted; orders must still be unique: 1..6
    twice = [{**var, "name": n, "order": i} for i, n in enumerate("ZXZAXZ", start=1)]
    with pytest.raises(ValueError, match=r"D: variables listed twice: \['X', 'Z'\]"):
        Dataset.model_validate({"name": "D", "label": "D", "class": "EVENTS", "structure": "s",
                                "standard": "SDTMIG 3.4", "keys": [], "variables": twice})


# ---------------------------------------------------------------------------------------------
# Loader: location, cache, errors with file:line
# ---------------------------------------------------------------------------------------------
def test_specs_dir_defaults_to_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDISCMAP_SPECS", raising=False)
    assert specs_dir() == SPECS


def test_specs_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CDISCMAP_SPECS", str(tmp_path))
    assert specs_dir() == tmp_path
    monkeypatch.setenv("CDISCMAP_SPECS", str(tmp_path / "absent"))
    with pytest.raises(StandardsError, match="CDISCMAP_SPECS=.*absent is not a directory"):
        specs_dir()


def test_load_is_cached_per_root(std: Standards, tmp_path: Path) -> None:
    assert load_standards(SPECS) is std
    copy = tmp_path / "specs"
    shutil.copytree(SPECS, copy)
    other = load_standards(copy)
    assert other is not std
    assert other.dataset("DM") == std.dataset("DM")


MINI_DM = """\
name: DM
label: Demographics
standard: SDTMIG 3.4
class: SPECIAL PURPOSE
subclass: null
structure: One record per subject
keys: [STUDYID]
variables:
- name: STUDYID
  label: Study Identifier
  type: Char
  core: Req
  role: Identifier
  order: 1
  codelist: null
  value_domain: null
- name: SEX
  label: Sex
  type: Char
  core: Req
  role: Record Qualifier
  order: 2
  codelist: SEX
  value_domain: null
"""

MINI_CT = """\
standard: SDTM CT
version: '2025-03-28'
codelists:
- name: SEX
  code: C66731
  label: Sex
  extensible: false
  data_type: text
  terms:
  - {value: F, code: C16576, decode: Female}
"""


def _mini_specs(root: Path, dm: str = MINI_DM, ct: str = MINI_CT) -> Path:
    (root / "sdtmig-3.4").mkdir(parents=True)
    (root / "ct").mkdir()
    (root / "sdtmig-3.4" / "DM.yaml").write_text(dm, encoding="utf-8")
    (root / "ct" / "sdtm.yaml").write_text(ct, encoding="utf-8")
    return root


def test_minimal_specs_load(tmp_path: Path) -> None:
    std = load_standards(_mini_specs(tmp_path / "ok"))
    assert std.dataset("DM").names() == ["STUDYID", "SEX"]
    assert std.codelist("SEX").values() == {"F"}
    assert std.versions == {"SDTM CT": "2025-03-28", "SDTMIG": "3.4"}


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    broken = MINI_DM.replace("  label: Sex\n", "  label: [Sex\n")   # line 18 of the file
    root = _mini_specs(tmp_path / "bad", dm=broken)
    with pytest.raises(StandardsError, match=r"DM\.yaml:\d+: invalid YAML") as info:
        load_standards(root)
    line = int(str(info.value).split("DM.yaml:")[1].split(":")[0])
    assert 18 <= line <= 20      # PyYAML reports where it noticed the unclosed bracket


def test_wrong_value_names_file_line_and_key(tmp_path: Path) -> None:
    wrong = MINI_DM.replace("  type: Char\n  core: Req\n  role: Record",
                            "  type: Text\n  core: Req\n  role: Record")
    root = _mini_specs(tmp_path / "wrong", dm=wrong)
    # "type: Text" is line 19 of the file: the second variable starts on line 17.
    with pytest.raises(StandardsError, match=r"DM\.yaml:19: variables\.1\.type: Input should be"):
        load_standards(root)


def test_unknown_codelist_reference_is_reported(tmp_path: Path) -> None:
    ct = MINI_CT.replace("- name: SEX", "- name: GENDER")
    root = _mini_specs(tmp_path / "ref", ct=ct)
    with pytest.raises(StandardsError, match=r"DM\.yaml: DM\.SEX names codelist SEX, which no "):
        load_standards(root)


def test_duplicates_and_misnamed_files_are_reported(tmp_path: Path) -> None:
    root = _mini_specs(tmp_path / "dup")
    (root / "ct" / "again.yaml").write_text(MINI_CT.replace("2025-03-28", "2025-03-28"))
    with pytest.raises(StandardsError, match="codelist SEX is defined twice"):
        load_standards(root)
    root = _mini_specs(tmp_path / "misnamed")
    (root / "sdtmig-3.4" / "DM.yaml").rename(root / "sdtmig-3.4" / "AE.yaml")
    with pytest.raises(StandardsError, match="holds dataset DM, but the file is named AE.yaml"):
        load_standards(root)
    root = _mini_specs(tmp_path / "versions")
    (root / "sdtmig-3.3").mkdir()
    (root / "sdtmig-3.3" / "AE.yaml").write_text(
        MINI_DM.replace("name: DM", "name: AE").replace("SDTMIG 3.4", "SDTMIG 3.3"))
    with pytest.raises(StandardsError, match="SDTMIG 3.4 mixed with SDTMIG 3.3"):
        load_standards(root)


def test_missing_specs_directory(tmp_path: Path) -> None:
    with pytest.raises(StandardsError, match="does not exist"):
        load_standards(tmp_path / "nowhere")


def test_default_standards_follow_the_environment(std: Standards, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # the default folder is found once per value of $CDISCMAP_SPECS, never kept past a change
    monkeypatch.delenv("CDISCMAP_SPECS", raising=False)
    assert load_standards() is std
    copy = tmp_path / "specs"
    shutil.copytree(SPECS, copy)
    (copy / "sdtmig-3.4" / "XX.json").write_text(json.dumps(
        {**json.loads((SPECS / "sdtmig-3.4" / "AE.json").read_text()), "name": "XX"}))
    monkeypatch.setenv("CDISCMAP_SPECS", str(copy))
    assert load_standards() is load_standards(copy)
    assert "XX" in load_standards().datasets and "XX" not in std.datasets
    monkeypatch.setenv("CDISCMAP_SPECS", str(tmp_path / "absent"))
    for _ in range(2):      # an error is said again, not remembered as a folder
        with pytest.raises(StandardsError, match="absent is not a directory"):
            load_standards()
    monkeypatch.delenv("CDISCMAP_SPECS")
    assert load_standards() is std


def test_relative_specs_folder_is_found_from_the_working_directory(
        std: Standards, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # CDISCMAP_SPECS=specs names tmp_path/specs from tmp_path and the bundled specs from the
    # folder that holds them: the same value, two folders
    copy = tmp_path / "specs"
    shutil.copytree(SPECS, copy)
    (copy / "sdtmig-3.4" / "XX.json").write_text(json.dumps(
        {**json.loads((SPECS / "sdtmig-3.4" / "AE.json").read_text()), "name": "XX"}))
    monkeypatch.setenv("CDISCMAP_SPECS", "specs")
    monkeypatch.chdir(tmp_path)
    assert "XX" in load_standards().datasets
    monkeypatch.chdir(SPECS.parent)
    assert "XX" not in load_standards().datasets


# ---------------------------------------------------------------------------------------------
# The committed specs are exactly what the build script writes
# ---------------------------------------------------------------------------------------------
@pytest.mark.skipif(not (REFERENCE / "ig").is_dir(),
                    reason="reference tables (../shared/reference) not beside the repository")
def test_committed_specs_match_the_build_script(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("build_specs", REPO / "tools" / "build_specs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "build_specs", module)   # dataclasses look it up
    spec.loader.exec_module(module)
    written = module.build_specs(REFERENCE, tmp_path / "specs")
    built = {p.relative_to(tmp_path / "specs").as_posix(): p.read_bytes() for p in written}
    committed = {p.relative_to(SPECS).as_posix(): p.read_bytes()
                 for p in sorted(SPECS.rglob("*")) if p.is_file()}
    assert sorted(built) == sorted(committed)
    stale = [name for name in built if built[name] != committed[name]]
    assert stale == [], f"specs/ differs from tools/build_specs.py output: {stale}"
