"""Form-level rules and source profiles (issue 9): a raw export in a commercial EDC's layout
(one CSV per form, RecordActive soft deletes, NAME/NAME_RAW/NAME_INT/NAME_YY.. date families,
FolderSeq/InstanceRepeatNumber/RecordPosition keys, audit columns), built here by hand; every
expected count and value is read off the CSVs below."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from cdiscmap.errors import InputDataError, SpecError
from cdiscmap.findings import Findings
from cdiscmap.ingest.forms import load_profile, profile_names
from cdiscmap.sdtm.accounting import Accounting
from cdiscmap.sdtm.engine import FormStore, map_study
from cdiscmap.spec.loader import load_study
from cdiscmap.spec.models import Iso8601Args, SourceProfile
from cdiscmap.spec.yamlload import parse_yaml_text, validate_located

STUDY = """\
studyid: EDCT
title: Commercial EDC layout
standards: {sdtmig: "3.4"}
profile: commercial-edc-csv
forms:
  dm: {file: dm.csv}
  ae: {file: ae.csv, rename: {AEVERB: AETERM}}
  vs: {file: vs.csv}
domains: [DM, AE]
"""

DM = """\
domain: DM
blocks:
  - name: subjects
    source: {form: dm}
    variables:
      STUDYID: {constant: EDCT}
      USUBJID: {concat: {parts: [{var: STUDYID}, {column: Subject}], sep: "-"}}
      SEX: {take: SEX}
"""

# two blocks read form ae: the soft-delete rule is written once (in the profile), not per block
AE = """\
domain: AE
blocks:
  - name: serious
    source:
      form: ae
      filters:
        - drop_if: {column: AESER, not_equals: "Y"}
          reason: not serious
    variables:
      AETERM: {take: AETERM}
      AESTDTC: {iso8601: {date: AESTDT, format: DATETIME}}
  - name: not serious
    source:
      form: ae
      filters:
        - drop_if: {column: AESER, equals: "Y"}
          reason: serious
    variables:
      AETERM: {take: AETERM}
      AESTDTC: {iso8601: {date: AESTDT, format: DATETIME}}
variables:
  STUDYID: {constant: EDCT}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: Subject}], sep: "-"}}
"""

AUDIT = "Created,Updated,RecordID"
RAW = {
    # rows 2-3: subject 002 entered twice; the first entry was deleted (RecordActive 0)
    "dm.csv": f"""\
        Subject,FolderSeq,InstanceRepeatNumber,RecordPosition,RecordActive,SEX,{AUDIT}
        001,0,1,0,1,M,01JAN2020:09:00:00,01JAN2020:09:00:00,11
        002,0,1,0,0,M,02JAN2020:09:00:00,03JAN2020:09:00:00,12
        002,0,1,0,1,F,03JAN2020:09:00:00,03JAN2020:09:00:00,13
        """,
    # row 1 deleted and re-entered as row 2 (same key); rows 4-5 both deleted, same key;
    # row 3: the site typed "UN FEB 2020", the EDC left AESTDT blank and imputed AESTDT_INT
    "ae.csv": f"""\
        Subject,FolderSeq,InstanceRepeatNumber,RecordPosition,RecordActive,AEVERB,AESER,AESTDT,AESTDT_RAW,AESTDT_INT,AESTDT_YY,AESTDT_MM,AESTDT_DD,{AUDIT}
        001,5,1,1,0,Headache,N,01FEB2020:00:00:00,01 FEB 2020,,2020,02,01,x,x,21
        001,5,1,1,1,Headache,N,01FEB2020:00:00:00,01 FEB 2020,,2020,02,01,x,x,22
        001,5,1,2,1,Nausea,Y,,UN FEB 2020,15FEB2020:00:00:00,2020,02,UN,x,x,23
        002,5,1,1,0,Rash,N,03MAR2020:00:00:00,03 MAR 2020,,2020,03,03,x,x,24
        002,5,1,1,0,Rash,N,04MAR2020:00:00:00,04 MAR 2020,,2020,03,04,x,x,25
        002,5,1,2,1,Cough,N,05MAR2020:00:00:00,05 MAR 2020,,2020,03,05,x,x,26
        """,
    # listed in study.yaml, read by no block
    "vs.csv": f"""\
        Subject,FolderSeq,InstanceRepeatNumber,RecordPosition,RecordActive,VSORRES,{AUDIT}
        001,1,1,0,1,120,x,x,31
        001,2,1,0,0,118,x,x,32
        001,2,1,0,1,119,x,x,33
        002,1,1,0,1,131,x,x,34
        """,
}

DELETED = "deleted in the EDC (RecordActive = 0) [form]"


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def _study(tmp_path: Path, study: str = STUDY, ae: str = AE,
           raw: dict[str, str] | None = None) -> tuple[Path, Path]:
    folder = tmp_path / "study"
    _write(folder, {"study.yaml": study, "sdtm/dm.yaml": DM, "sdtm/ae.yaml": ae})
    raw_dir = tmp_path / "raw"
    _write(raw_dir, raw or RAW)
    return folder, raw_dir


def _run(folder: Path, raw_dir: Path):
    return map_study(load_study(folder), raw_dir, {}, {"DM": set(), "AE": {"AETERM"}})


def _drops(result, file: str) -> dict[str, int]:
    drops = result.accounting.drops()
    return drops[drops["file"] == file].set_index("reason")["rows"].to_dict()


def _account(result, form: str) -> tuple[int, int, int, bool]:
    row = result.accounting.table().set_index("form").loc[form]
    return int(row["read"]), int(row["used"]), int(row["dropped"]), bool(row["balanced"])


def test_soft_deleted_rows_are_dropped_once_with_the_reason(tmp_path):
    res = _run(*_study(tmp_path))
    ae = res.domains["AE"].sort_values("AETERM")
    # active rows only: Headache (row 2), Nausea (row 3), Cough (row 6)
    assert ae["AETERM"].tolist() == ["Cough", "Headache", "Nausea"]
    assert ae["USUBJID"].tolist() == ["EDCT-002", "EDCT-001", "EDCT-001"]
    assert ae["AESTDTC"].fillna("").tolist() == ["2020-03-05T00:00:00", "2020-02-01T00:00:00",
                                                 ""]
    # rows 1, 4, 5 dropped once by the form rule; the block filters drop nothing deleted
    assert _drops(res, "ae.csv") == {DELETED: 3}
    assert _account(res, "ae") == (6, 3, 3, True)
    dm = res.domains["DM"]
    assert dm[["USUBJID", "SEX"]].values.tolist() == [["EDCT-001", "M"], ["EDCT-002", "F"]]
    assert _drops(res, "dm.csv") == {DELETED: 1}


def test_key_duplicated_only_among_deleted_rows_is_no_finding(tmp_path):
    res = _run(*_study(tmp_path))
    assert [f for f in res.findings if f.rule == "CMAP-RAW0002"] == []


def test_key_duplicate_among_active_rows_names_the_subject(tmp_path):
    raw = dict(RAW)
    raw["ae.csv"] = RAW["ae.csv"].replace("002,5,1,1,0,Rash,N,04MAR", "002,5,1,1,1,Rash,N,04MAR")
    raw["ae.csv"] = raw["ae.csv"].replace("002,5,1,1,0,Rash,N,03MAR", "002,5,1,1,1,Rash,N,03MAR")
    res = _run(*_study(tmp_path, raw=raw))
    dup = [f for f in res.findings if f.rule == "CMAP-RAW0002"]
    assert [(f.usubjid, f.value, f.source, f.count) for f in dup] == \
        [("002", "002/5/1/1", "ae.csv row 4", 2)]


def test_renames_and_audit_columns(tmp_path):
    loaded = load_study(_study(tmp_path)[0])
    store = FormStore(loaded, tmp_path / "raw", Accounting(), Findings())
    frame = store.get("ae", "test").frame
    assert "AETERM" in frame.columns and "AEVERB" not in frame.columns
    assert not {"Created", "Updated", "RecordID"} & set(frame.columns)
    assert "AESTDT_INT" not in frame.columns       # refused by the profile
    assert frame["_SRCROW"].tolist() == [2, 3, 6]


def test_filtered_form_renumbered_keeps_its_columns_factorised(tmp_path):
    # the form after its rules is numbered 0..n-1 (as reset_index) over the filter's own
    # arrays: each text column's factorisation, remembered while reading, still found
    import numpy as np

    from cdiscmap.sdtm.vectorize import _payload, coded, codes_cache

    loaded = load_study(_study(tmp_path)[0])
    with codes_cache():
        frame = FormStore(loaded, tmp_path / "raw", Accounting(), Findings()).get("ae",
                                                                                  "test").frame
        assert list(frame.index) == [0, 1, 2] and frame.index.equals(pd.RangeIndex(3))
        text = [c for c in frame.columns if frame[c].dtype == "string"]
        assert len(text) == 12 and "AETERM" in text        # kept, renamed from AEVERB
        assert all(_payload(np.asarray(frame[c].array, dtype=object)) is not None
                   for c in text)
        codes, uniques = coded(frame["AETERM"])
    assert [uniques[c] for c in codes] == frame["AETERM"].tolist()


def test_profile_form_defaults_and_form_precedence(tmp_path):
    study = STUDY.replace("forms:\n", "form_defaults: {keys: [Subject, RecordPosition]}\nforms:\n")
    study = study.replace("vs: {file: vs.csv}", "vs: {file: vs.csv, filters: [], keys: null}")
    loaded = load_study(_study(tmp_path, study=study)[0])
    forms = loaded.study.forms
    assert forms["dm"].subject_column == "Subject"               # from the profile
    assert forms["dm"].keys == ["Subject", "RecordPosition"]      # form_defaults over profile
    assert forms["vs"].filters == [] and forms["vs"].keys == []   # the form over both
    assert forms["ae"].filters[0].reason == "deleted in the EDC (RecordActive = 0)"
    origins = loaded.form_origins
    assert origins["dm"]["keys"].endswith("study.yaml:5")
    assert origins["dm"]["subject_column"].startswith("cdiscmap/ingest/profiles/"
                                                      "commercial-edc-csv.yaml:")
    assert origins["vs"]["filters"].endswith("study.yaml:9")


def test_per_form_override_keeps_deleted_rows(tmp_path):
    study = STUDY.replace("vs: {file: vs.csv}", "vs: {file: vs.csv, filters: []}")
    res = _run(*_study(tmp_path, study=study))
    assert _drops(res, "vs.csv") == {"not mapped (no block reads form vs)": 4}


def test_listed_but_unmapped_form_is_counted(tmp_path):
    res = _run(*_study(tmp_path))
    assert _account(res, "vs") == (4, 0, 4, True)
    assert _drops(res, "vs.csv") == {DELETED: 1, "not mapped (no block reads form vs)": 3}
    assert res.accounting.balanced


def test_unknown_profile_names_the_study_line(tmp_path):
    folder, _ = _study(tmp_path, study=STUDY.replace("commercial-edc-csv", "rave"))
    with pytest.raises(SpecError, match=r"study\.yaml:4 \[profile\]: unknown source profile "
                                        r"'rave' \(profiles: cdisc-odm, commercial-edc-csv\)"):
        load_study(folder)


def test_shipped_profiles_validate_and_unknown_keys_are_refused():
    assert {"commercial-edc-csv", "cdisc-odm"} <= set(profile_names())
    for name in profile_names():
        profile, _ = load_profile(name)
        assert profile.description
    bad = "description: x\nform_defaults:\n  subject_colum: Subject\n"
    with pytest.raises(SpecError, match=r"p\.yaml:3 \[form_defaults\.subject_colum\]: "
                                        r"unknown key"):
        validate_located(parse_yaml_text(bad, "p.yaml"), SourceProfile)


def test_form_filter_on_a_variable_is_refused(tmp_path):
    study = STUDY.replace("vs: {file: vs.csv}",
                          "vs: {file: vs.csv, filters: [{drop_if: {var: SEX, equals: M}, "
                          "reason: x}]}")
    with pytest.raises(SpecError, match=r"study\.yaml:8.*raw columns"):
        load_study(_study(tmp_path, study=study)[0])


def test_profile_filter_on_a_column_the_form_lacks(tmp_path):
    raw = dict(RAW)
    raw["vs.csv"] = RAW["vs.csv"].replace("RecordActive", "Active")
    with pytest.raises(InputDataError, match=r"vs\.csv: form filter 'deleted in the EDC "
                                             r"\(RecordActive = 0\)' \(cdiscmap/ingest/"
                                             r"profiles/commercial-edc-csv\.yaml:\d+, form 'vs'\)"
                                             r" tests column 'RecordActive'"):
        _run(*_study(tmp_path, raw=raw))


def test_imputed_date_with_blank_date_is_a_finding(tmp_path):
    res = _run(*_study(tmp_path))
    found = [f for f in res.findings if f.rule == "CMAP-RAW0004"]
    assert [(f.severity.value, f.dataset, f.usubjid, f.variable, f.value, f.source)
            for f in found] == [("warning", "ae", "001", "AESTDT",
                                 "AESTDT_INT=15FEB2020:00:00:00, AESTDT_RAW=UN FEB 2020",
                                 "ae.csv row 3")]


def test_mapping_an_imputed_date_is_a_spec_error(tmp_path):
    ae = AE.replace("AESTDTC: {iso8601: {date: AESTDT, format: DATETIME}}\n  - name: not",
                    "AESTDTC: {iso8601: {date: AESTDT_INT, format: DATETIME}}\n  - name: not")
    with pytest.raises(SpecError, match=r"ae\.yaml:11 \[AESTDT_INT\]: AESTDT_INT is the EDC's "
                                        r"imputed date of AESTDT, refused for form ae"):
        _run(*_study(tmp_path, ae=ae))
    ae = AE.replace("      AETERM: {take: AETERM}\n      AESTDTC: {iso8601: {date: AESTDT, "
                    "format: DATETIME}}\n  - name: not",
                    "      AETERM: {expr: \"AETERM + ' ' + AESTDT_INT\"}\n  - name: not")
    with pytest.raises(SpecError, match=r"ae\.yaml:10 \[AESTDT_INT\]"):
        _run(*_study(tmp_path, ae=ae))


def test_imputed_allowed_on_the_form(tmp_path):
    study = STUDY.replace(
        "ae: {file: ae.csv, rename: {AEVERB: AETERM}}",
        "ae: {file: ae.csv, rename: {AEVERB: AETERM},\n"
        "     date_families: {suffixes: {imputed: _INT}, imputed: allow}}")
    ae = AE.replace("{date: AESTDT, format", "{date: AESTDT_INT, format")
    res = _run(*_study(tmp_path, study=study, ae=ae))
    assert [f for f in res.findings if f.rule == "CMAP-RAW0004"] == []
    assert sorted(res.domains["AE"]["AESTDTC"].dropna()) == ["2020-02-15T00:00:00"]


ODM = Path(__file__).resolve().parents[1] / "data" / "odm" / "ae_odm13.xml"

ODM_STUDY = """\
studyid: ODMT
title: ODM study
standards: {sdtmig: "3.4"}
profile: cdisc-odm
forms:
  ae: {file: export.xml, item_group: IG.AE}
domains: [AE]
"""

ODM_AE = """\
domain: AE
blocks:
  - name: log
    source: {form: ae}
    variables:
      AETERM: {take: AETERM}
variables:
  STUDYID: {constant: ODMT}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SubjectKey}], sep: "-"}}
"""


def test_cdisc_odm_profile_sets_format_keys_and_subject(tmp_path):
    folder = tmp_path / "study"
    _write(folder, {"study.yaml": ODM_STUDY, "sdtm/ae.yaml": ODM_AE})
    loaded = load_study(folder)
    form = loaded.study.forms["ae"]
    assert (form.format, form.subject_column) == ("odm", "SubjectKey")
    assert form.keys == ["SubjectKey", "StudyEventOID", "StudyEventRepeatKey", "FormOID",
                         "FormRepeatKey", "ItemGroupRepeatKey"]
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "export.xml").write_bytes(ODM.read_bytes())
    res = map_study(loaded, raw, {}, {"AE": {"AETERM"}})
    # the same three records test_odm.py reads off this file
    assert res.domains["AE"]["AETERM"].tolist() == ["Headache", "Nausea", "Cough"]
    assert _account(res, "ae") == (8, 3, 5, True)


def test_family_date_is_the_edc_date_else_the_typed_parts(tmp_path):
    ae = AE.replace("{iso8601: {date: AESTDT, format: DATETIME}}", "{iso8601: {family: AESTDT}}")
    res = _run(*_study(tmp_path, ae=ae))
    got = res.domains["AE"].set_index("AETERM")["AESTDTC"].fillna("").to_dict()
    # the EDC's 01FEB2020:00:00:00 is a date item: its midnight dropped; Nausea's AESTDT is
    # blank (typed "UN FEB 2020"): the parts 2020 / 02 / UN give 2020-02, never AESTDT_INT
    assert got == {"Headache": "2020-02-01", "Nausea": "2020-02", "Cough": "2020-03-05"}


def test_family_date_needs_the_form_to_declare_families(tmp_path):
    study = STUDY.replace("ae: {file: ae.csv, rename: {AEVERB: AETERM}}",
                          "ae: {file: ae.csv, rename: {AEVERB: AETERM}, date_families: null}")
    ae = AE.replace("{iso8601: {date: AESTDT, format: DATETIME}}", "{iso8601: {family: AESTDT}}")
    # found when the spec is loaded (check-spec), with the variable's line
    with pytest.raises(SpecError, match=r"ae\.yaml:11 \[AESTDTC\]: iso8601 family 'AESTDT': "
                                        r"form 'ae' \(block 'serious'\) declares no "
                                        r"date_families with a format"):
        load_study(_study(tmp_path, study=study, ae=ae)[0])
    with pytest.raises(ValueError, match="takes its format from the form's date_families"):
        Iso8601Args(family="AESTDT", format="DATE9")


def test_lookup_with_several_rows_names_the_subject_of_the_joined_form(tmp_path):
    # dm keeps its deleted row (filters: []), so subject 002 has two dm rows for the join
    study = STUDY.replace("dm: {file: dm.csv}", "dm: {file: dm.csv, filters: []}")
    ae = AE.replace("      form: ae\n      filters:\n        - drop_if: {column: AESER, not_equals",
                    "      form: ae\n      joins: [{form: dm, on: Subject, columns: [SEX], "
                    "prefix: DM_}]\n      filters:\n        - drop_if: {column: AESER, not_equals")
    res = _run(*_study(tmp_path, study=study, ae=ae))
    found = [(f.rule, f.usubjid, f.source.split(" (")[0], f.count) for f in res.findings
             if f.rule in ("CMAP-RAW0002", "CMAP-RAW0003")]
    assert found == [("CMAP-RAW0002", "002", "dm.csv row 2", 2), ("CMAP-RAW0003", "002", "dm.csv row 3", 1)]
