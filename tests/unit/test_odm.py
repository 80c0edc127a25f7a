"""ODM-XML 1.3 / 2.0 ClinicalData → one frame per item group (hand-written files in
tests/data/odm/, every expected value read off the XML by hand)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from cdiscmap.errors import InputDataError, SpecError
from cdiscmap.ingest import read_form
from cdiscmap.ingest.odm import read_odm
from cdiscmap.sdtm.engine import map_study
from cdiscmap.spec.loader import load_study

DATA = Path(__file__).resolve().parents[1] / "data" / "odm"
ODM13 = DATA / "ae_odm13.xml"
ODM20 = DATA / "ae_odm20.xml"
KEYS = ["SubjectKey", "StudyEventOID", "StudyEventRepeatKey", "FormOID", "FormRepeatKey",
        "ItemGroupRepeatKey"]


def test_odm13_item_group_frame_keys_values_and_decodes():
    form = read_form("ae", ODM13, format="odm", item_group="IG.AE")
    f = form.frame
    # key columns, site, then the items in ItemRef OrderNumber order, each coded item with its
    # decode; IT.AEOUT is declared but never collected: present and empty
    assert list(f.columns) == [*KEYS, "LocationOID", "AETERM", "AESEV", "AESEV_DECODE",
                               "AESTDAT", "AEOUT", "_SRCFILE", "_SRCROW"]
    assert f["SubjectKey"].tolist() == ["001", "001", "002"]
    assert f["StudyEventOID"].tolist() == ["SE.SCREEN"] * 3
    assert f["FormOID"].tolist() == ["F.AE"] * 3
    assert f["ItemGroupRepeatKey"].tolist() == ["1", "2", "1"]
    assert f["StudyEventRepeatKey"].isna().all()
    assert f["LocationOID"].tolist() == ["SITE01", "SITE01", "SITE02"]
    assert f["AETERM"].tolist() == ["Headache", "Nausea", "Cough"]   # Cough: ItemDataString
    assert f["AESEV"].tolist() == ["1", "2", "9"]                     # coded value kept
    # English decode chosen over the French one; 9 is not in CL.SEV: no decode
    assert f["AESEV_DECODE"].tolist()[:2] == ["MILD", "MODERATE"]
    assert pd.isna(f["AESEV_DECODE"].iloc[2])
    assert f["AESTDAT"].tolist()[:2] == ["2020-02-01", "2020-02"]
    assert pd.isna(f["AESTDAT"].iloc[2])                              # IsNull="Yes"
    assert f["AEOUT"].isna().all()
    # _SRCROW: ordinal of the IG.AE element in the file; 3, 5, 6, 7, 8 were removed
    assert f["_SRCROW"].tolist() == [1, 2, 4]
    assert f["_SRCFILE"].tolist() == ["ae_odm13.xml"] * 3


def test_odm13_removals_are_counted_with_reasons():
    form = read_form("ae", ODM13, format="odm", item_group="IG.AE")
    assert form.n_rows == 8                          # every IG.AE element in the file
    d = form.dropped.set_index("_SRCROW")["reason"]
    assert sorted(d.index) == [3, 5, 6, 7, 8]
    assert d[3] == "ODM audit: TransactionType=Remove on ItemGroupData"
    assert d[6] == d[7] == "ODM audit: TransactionType=Remove on FormData"
    assert d[8] == "ODM audit: TransactionType=Remove on ItemGroupData"
    # record 5 was an Insert removed by the later transaction, record 8
    assert d[5] == "ODM audit: TransactionType=Remove on ItemGroupData (earlier transaction)"


def test_odm13_other_item_group_from_the_same_file():
    f = read_form("vs", ODM13, item_group="IG.VS").frame      # format from the .xml suffix
    assert f["SYSBP"].tolist() == ["120"]
    assert f["FormOID"].tolist() == ["F.VS"]
    assert pd.isna(f["ItemGroupRepeatKey"].iloc[0])


def test_odm20_nested_item_groups_value_elements_and_removals():
    form = read_form("ae", ODM20, format="odm", item_group="IG.AE")
    f = form.frame
    assert list(f.columns) == [*KEYS, "AETERM", "AESEV", "AESEV_DECODE", "_SRCFILE", "_SRCROW"]
    assert f["SubjectKey"].tolist() == ["001", "001", "002"]
    assert f["FormOID"].tolist() == ["IG.AEFORM"] * 3     # the outer item group is the form
    assert f["AETERM"].tolist() == ["Headache", "Nausea", "Cough"]
    assert f["AESEV"].tolist()[:2] == ["1", "2"]
    assert pd.isna(f["AESEV"].iloc[2])                    # IsNull="Yes"
    assert f["AESEV_DECODE"].tolist()[:2] == ["MILD", "MODERATE"]
    assert f["_SRCROW"].tolist() == [1, 2, 4]
    assert form.n_rows == 5
    d = form.dropped.set_index("_SRCROW")["reason"]
    assert d.to_dict() == {3: "ODM audit: TransactionType=Remove on ItemGroupData",
                           5: "ODM audit: TransactionType=Remove on StudyEventData"}


def test_unknown_item_group_and_missing_item_group(tmp_path):
    with pytest.raises(InputDataError, match=r"no ItemGroupData or ItemGroupDef .*'IG.XX'.*"
                                             r"IG\.AE, IG\.VS"):
        read_odm(ODM13, "IG.XX")
    with pytest.raises(InputDataError, match="name the form's ItemGroupOID"):
        read_form("ae", ODM13)


def test_not_xml_and_not_odm(tmp_path):
    (tmp_path / "a.xml").write_text("<ODM><unclosed></ODM>")
    with pytest.raises(InputDataError, match="not well-formed XML"):
        read_odm(tmp_path / "a.xml", "IG.AE")
    (tmp_path / "b.xml").write_text("<define/>")
    with pytest.raises(InputDataError, match=r"root element is <define>, not an ODM file"):
        read_odm(tmp_path / "b.xml", "IG.AE")


def test_external_entity_is_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    doc = f"""<?xml version="1.0"?>
<!DOCTYPE ODM [<!ENTITY xxe SYSTEM "file://{secret}">]>
<ODM xmlns="http://www.cdisc.org/ns/odm/v2.0">
  <ClinicalData StudyOID="S" MetaDataVersionOID="M">
    <SubjectData SubjectKey="001"><StudyEventData StudyEventOID="SE">
      <ItemGroupData ItemGroupOID="IG.AE" ItemGroupRepeatKey="1">
        <ItemData ItemOID="IT.AETERM"><Value>before&xxe;after</Value></ItemData>
      </ItemGroupData>
    </StudyEventData></SubjectData>
  </ClinicalData>
</ODM>"""
    path = tmp_path / "xxe.xml"
    path.write_text(doc)
    frame, _ = read_odm(path, "IG.AE")
    cell = frame["IT.AETERM"].iloc[0]
    assert "TOP-SECRET" not in cell
    assert cell == "before&xxe;after"            # the reference is kept as written, unresolved
    # in an attribute the unresolved external entity is refused outright
    path.write_text(doc.replace('<ItemData ItemOID="IT.AETERM"><Value>before&xxe;after</Value>'
                                "</ItemData>",
                                '<ItemData ItemOID="IT.AETERM" Value="&xxe;"/>'))
    with pytest.raises(InputDataError, match="not well-formed XML"):
        read_odm(path, "IG.AE")


def test_form_spec_options_are_checked():
    from cdiscmap.spec.models import FormSpec

    assert FormSpec(file="x.xml", item_group="IG.AE").reader_options()["item_group"] == "IG.AE"
    with pytest.raises(ValueError, match="names its ItemGroupOID"):
        FormSpec(file="export.xml")
    with pytest.raises(ValueError, match="'sheet' applies to format excel"):
        FormSpec(file="ae.csv", sheet="AE")
    with pytest.raises(ValueError, match="'item_group' applies to format odm"):
        FormSpec(file="ae.xlsx", item_group="IG.AE")
    assert FormSpec(file="ae.dat", format="csv", delimiter=";").delimiter == ";"


STUDY = """\
studyid: ODMT
title: ODM study
standards: {sdtmig: "3.4"}
forms:
  ae: {file: export.xml, format: odm, item_group: IG.AE, subject_column: SubjectKey,
       keys: [SubjectKey, StudyEventOID, StudyEventRepeatKey, ItemGroupRepeatKey]}
domains: [AE]
"""

AE = """\
domain: AE
blocks:
  - name: log
    source: {form: ae}
    variables:
      AETERM: {take: AETERM}
      AESEV: {take: AESEV_DECODE}
      AESTDTC: {iso8601: {date: AESTDAT, format: ISO}}
variables:
  STUDYID: {constant: ODMT}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SubjectKey}], sep: "-"}}
  AESEQ: {seq: {order: [AETERM]}}
"""


def test_engine_accounts_for_removed_records(tmp_path):
    study = tmp_path / "study"
    (study / "sdtm").mkdir(parents=True)
    (study / "study.yaml").write_text(STUDY)
    (study / "sdtm" / "ae.yaml").write_text(textwrap.dedent(AE))
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "export.xml").write_bytes(ODM13.read_bytes())
    res = map_study(load_study(study), raw, {}, {"AE": {"AETERM"}})
    ae = res.domains["AE"]
    assert ae["AETERM"].tolist() == ["Headache", "Nausea", "Cough"]
    assert ae["AESTDTC"].fillna("").tolist() == ["2020-02-01", "2020-02", ""]
    row = res.accounting.table().set_index("form").loc["ae"]
    assert (row["read"], row["used"], row["dropped"], row["balanced"]) == (8, 3, 5, True)
    drops = res.accounting.drops()
    drops = drops[drops["file"] == "export.xml"].set_index("reason")["rows"].to_dict()
    assert drops == {
        "ODM audit: TransactionType=Remove on FormData [read]": 2,
        "ODM audit: TransactionType=Remove on ItemGroupData (earlier transaction) [read]": 1,
        "ODM audit: TransactionType=Remove on ItemGroupData [read]": 2}


def test_item_group_without_odm_format_is_a_spec_error(tmp_path):
    study = tmp_path / "study"
    (study / "sdtm").mkdir(parents=True)
    (study / "study.yaml").write_text(STUDY.replace("file: export.xml, format: odm", "file: ae.csv"))
    (study / "sdtm" / "ae.yaml").write_text(textwrap.dedent(AE))
    with pytest.raises(SpecError, match=r"study\.yaml:5"):
        load_study(study)


def test_item_groups_and_files_no_form_reads_are_counted(tmp_path):
    study = tmp_path / "study"
    (study / "sdtm").mkdir(parents=True)
    (study / "study.yaml").write_text(STUDY)
    (study / "sdtm" / "ae.yaml").write_text(textwrap.dedent(AE))
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "export.xml").write_bytes(ODM13.read_bytes())
    (raw / "older.xml").write_bytes(ODM20.read_bytes())     # an export no form lists
    (raw / "notes.xml").write_text("<notes/>")                # XML that is no ODM: no rows
    res = map_study(load_study(study), raw, {}, {"AE": {"AETERM"}})
    table = res.accounting.table().set_index("file")
    # IG.VS of the listed export (1 record) is read by no form; the unlisted ODM 2.0 file
    # holds 5 IG.AE records (the IG.AEFORM containers are no records)
    assert table.loc["export.xml [IG.VS]", ["read", "used", "dropped"]].tolist() == [1, 0, 1]
    assert table.loc["older.xml", ["read", "dropped"]].tolist() == [5, 5]
    assert table.loc["notes.xml", "read"] == 0
    drops = res.accounting.drops().set_index("file")["reason"]
    assert drops["export.xml [IG.VS]"] == "item group or sheet no study.yaml form reads"
    assert res.accounting.balanced
