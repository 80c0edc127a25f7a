"""define.xml / define.html from tiny hand-built frames, a tiny study folder and the real specs/.

Every expected value is worked out by hand from the frames and YAML below (lengths counted in
characters, line numbers counted in the YAML text, NCI codes from SDTM CT 2025-03-28).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from cdiscmap.emit.define import (
    build_define,
    define_xsd_path,
    iso8601_data_type,
    max_decimals,
    numeric_data_type,
    render_define_html,
    write_define,
)
from cdiscmap.errors import SpecError, StandardsError
from cdiscmap.spec.loader import LoadedStudy, load_study
from cdiscmap.standards import load_standards

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1",
      "xlink": "http://www.w3.org/1999/xlink"}
CREATED = datetime(2026, 1, 1, 12, 0, 0)

STUDY_YAML = """\
studyid: TINY
title: Tiny test study
protocol: TINY-001
standards: {sdtmig: "3.4", adamig: "1.3", sdtm_ct: "2025-03-28", adam_ct: "2025-09-26",
            meddra: "26.0"}
forms:
  enrol: {file: enrol.csv}
  ae: {file: ae.csv}
  tl: {file: tl.csv}
codelists:
  SEX: {target: SEX}
  TOXGR: {target: TOXGR}
domains: [DM, AE, TR]
trial_summary:
  - {parmcd: TITLE, value: Tiny test study}
  - {parmcd: ACTSUB, derive: ACTSUB}
"""

DM_YAML = """\
domain: DM
blocks:
  - name: subjects
    source: {form: enrol}
    variables:
      SUBJID: {take: SUBJECT}
      SEX: {assign_ct: {column: SEX, codelist: SEX}}
      AGE: {number: {column: AGE}}
      RFSTDTC: {iso8601: {date: RFDAT, format: YMD}}
variables:
  STUDYID: {constant: TINY}
  DOMAIN: {constant: DM}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
supp:
  COHORT: {label: Cohort Number, value: {take: COHORT}}
"""

# line numbers matter: AESTDY is on line 15
AE_YAML = """\
domain: AE
blocks:
  - name: events
    source: {form: ae}
    variables:
      AETERM: {take: AETERM}
      AEDECOD: {take: AEPT, case: upper}
      AESTDTC: {iso8601: {date: AESTDAT, time: AESTTIM, format: YMD}}
      AETOXGR: {assign_ct: {column: AEGRADE, codelist: TOXGR}}
variables:
  STUDYID: {constant: TINY}
  DOMAIN: {constant: AE}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  AESEQ: {seq: {order: [AESTDTC]}}
  AESTDY: {study_day: {dtc: AESTDTC}}
  AEBDSYCD: {number: {column: AESOCCD}, comment: Body system is the primary SOC.}
codelist_overrides:
  AETOXGR: TOXGR
"""

TR_YAML = """\
domain: TR
blocks:
  - name: lesions
    source: {form: tl}
    variables:
      TRTESTCD: {take: TEST}
      TRSTRESC: {take: RESULT}
      TRSTRESN: {number: {column: RESULT}}
variables:
  STUDYID: {constant: TINY}
  DOMAIN: {constant: TR}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  TRSEQ: {seq: {order: [TRTESTCD]}}
value_level:
  - {variable: TRSTRESC, where: {var: TRTESTCD, equals: TUMSTATE}, codelist: TRPROPRS}
  - {variable: TRSTRESC, where: {var: TRTESTCD, in: [LDIAM, SUMDIAM]}, data_type: float}
  - {variable: TRSTRESN, where: {var: TRTESTCD, in: [LDIAM, SUMDIAM]}, data_type: float}
"""


def _entry(origin: str, algorithm: str, comment: str = "") -> dict[str, str]:
    return {"origin": origin, "algorithm": algorithm, "comment": comment, "where": "x.yaml:1"}


# What SdtmResult.origins holds for the specs above (origin per algorithm, as the engine sets)
ORIGINS = {
    "DM": {"STUDYID": _entry("Assigned", "constant"), "DOMAIN": _entry("Assigned", "constant"),
           "USUBJID": _entry("Derived", "concat"), "SUBJID": _entry("Collected", "take"),
           "SEX": _entry("Collected", "assign_ct"), "AGE": _entry("Collected", "number"),
           "RFSTDTC": _entry("Collected", "iso8601")},
    "AE": {"STUDYID": _entry("Assigned", "constant"), "DOMAIN": _entry("Assigned", "constant"),
           "USUBJID": _entry("Derived", "concat"), "AESEQ": _entry("Derived", "seq"),
           "AETERM": _entry("Collected", "take"), "AEDECOD": _entry("Collected", "take"),
           "AESTDTC": _entry("Collected", "iso8601"), "AETOXGR": _entry("Collected", "assign_ct"),
           "AESTDY": _entry("Derived", "study_day"),
           "AEBDSYCD": _entry("Collected", "number", "Body system is the primary SOC.")},
    "TR": {"STUDYID": _entry("Assigned", "constant"), "DOMAIN": _entry("Assigned", "constant"),
           "USUBJID": _entry("Derived", "concat"), "TRSEQ": _entry("Derived", "seq"),
           "TRTESTCD": _entry("Collected", "take"), "TRSTRESC": _entry("Collected", "take"),
           "TRSTRESN": _entry("Collected", "number")},
}


def _s(values: list) -> pd.Series:
    return pd.Series(values, dtype="string")


def _f(values: list) -> pd.Series:
    return pd.Series(values, dtype="float64")


def sdtm_frames() -> dict[str, pd.DataFrame]:
    dm = pd.DataFrame({
        "STUDYID": _s(["TINY", "TINY"]), "DOMAIN": _s(["DM", "DM"]),
        "USUBJID": _s(["TINY-001", "TINY-002"]), "SUBJID": _s(["001", "002"]),
        "RFSTDTC": _s(["2014-03-05", "2014-04"]), "AGE": _f([64, 71]), "SEX": _s(["M", "F"]),
        "_SRCFILE": _s(["enrol.csv", "enrol.csv"]), "_SRCROW": [1, 2]})
    ae = pd.DataFrame({
        "STUDYID": _s(["TINY"] * 3), "DOMAIN": _s(["AE"] * 3),
        "USUBJID": _s(["TINY-001", "TINY-001", "TINY-002"]), "AESEQ": _f([1, 2, 1]),
        "AETERM": _s(["Headache", "Nausea", "Rash on the left arm"]),
        "AEDECOD": _s(["HEADACHE", "NAUSEA", "RASH"]),
        "AEBDSYCD": _f([10029205, 10017947, 10040785]), "AETOXGR": _s(["1", "2", "1"]),
        "AESTDTC": _s(["2014-03-10T08:30:00", "2014-03-12", "2014-03"]),
        "AESTDY": _f([6, 8, np.nan])})
    tr = pd.DataFrame({
        "STUDYID": _s(["TINY"] * 4), "DOMAIN": _s(["TR"] * 4), "USUBJID": _s(["TINY-001"] * 4),
        "TRSEQ": _f([1, 2, 3, 4]), "TRTESTCD": _s(["LDIAM", "SUMDIAM", "TUMSTATE", "TUMSTATE"]),
        "TRSTRESC": _s(["12.5", "30.25", "PRESENT", "ABSENT"]),
        "TRSTRESN": _f([12.5, 30.25, np.nan, np.nan])})
    suppdm = pd.DataFrame({
        "STUDYID": _s(["TINY", "TINY"]), "RDOMAIN": _s(["DM", "DM"]),
        "USUBJID": _s(["TINY-001", "TINY-002"]), "IDVAR": _s([pd.NA, pd.NA]),
        "IDVARVAL": _s([pd.NA, pd.NA]), "QNAM": _s(["COHORT", "COHORT"]),
        "QLABEL": _s(["Cohort Number", "Cohort Number"]), "QVAL": _s(["12", "3"]),
        "QORIG": _s(["CRF", "CRF"]), "QEVAL": _s([pd.NA, pd.NA])})
    return {"TR": tr, "SUPPDM": suppdm, "AE": ae, "DM": dm}


def adam_frames() -> dict[str, pd.DataFrame]:
    adsl = pd.DataFrame({
        "STUDYID": _s(["TINY", "TINY"]), "USUBJID": _s(["TINY-001", "TINY-002"]),
        "SUBJID": _s(["001", "002"]), "AGE": _f([64, 71]), "SEX": _s(["M", "F"]),
        "TRT01P": _s(["Drug A", "Drug A"]),
        "TRTSDT": pd.to_datetime(pd.Series(["2014-03-05", None]))})
    adtte = pd.DataFrame({
        "STUDYID": _s(["TINY"] * 4), "USUBJID": _s(["TINY-001", "TINY-002"] * 2),
        "PARAMCD": _s(["OS", "OS", "PFS", "PFS"]),
        "PARAM": _s(["Overall Survival"] * 2 + ["Progression-Free Survival"] * 2),
        "AVAL": _f([120, 45, 60, 45]), "CNSR": _f([1, 0, 0, 0]),
        "STARTDT": pd.to_datetime(pd.Series(["2014-03-05", "2014-04-02"] * 2)),
        "ADT": pd.to_datetime(pd.Series(["2014-07-02", "2014-05-16", "2014-05-03",
                                         "2014-05-16"]))})
    return {"ADTTE": adtte, "ADSL": adsl}


ADAM_METHODS = {
    "ADSL": {"TRT01P": "DM.ARM", "TRTSDT": "Earliest EXSTDTC with EXDOSE > 0"},
    "ADTTE": {"PARAMCD=OS": "Overall Survival: ADSL.ENRLDT to death", "CNSR": "0 = event"},
}


@pytest.fixture(scope="module")
def standards():
    return load_standards()


@pytest.fixture(scope="module")
def study(tmp_path_factory, standards) -> LoadedStudy:
    folder = tmp_path_factory.mktemp("repo") / "mappings" / "tiny"
    (folder / "sdtm").mkdir(parents=True)
    (folder / "study.yaml").write_text(STUDY_YAML)
    for name, text in (("dm", DM_YAML), ("ae", AE_YAML), ("tr", TR_YAML)):
        (folder / "sdtm" / f"{name}.yaml").write_text(text)
    return load_study(folder, standard_variables={n: set(d.names()) for n, d in
                                                  standards.datasets.items()},
                      known_codelists=set(standards.codelists))


@pytest.fixture(scope="module")
def sdtm_define(tmp_path_factory, standards, study):
    folder = tmp_path_factory.mktemp("sdtm")
    xml_path, html_path = write_define(folder, kind="SDTM", datasets=sdtm_frames(),
                                       standards=standards, study=study, origins=ORIGINS,
                                       methods={}, created=CREATED)
    return xml_path, html_path, etree.parse(str(xml_path))


@pytest.fixture(scope="module")
def adam_define(tmp_path_factory, standards, study):
    folder = tmp_path_factory.mktemp("adam")
    xml_path, html_path = write_define(folder, kind="ADaM", datasets=adam_frames(),
                                       standards=standards, study=study, origins={},
                                       methods=ADAM_METHODS, created=CREATED)
    return xml_path, html_path, etree.parse(str(xml_path))


def one(tree, path: str):
    found = tree.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, found)
    return found[0]


def item_def(tree, oid: str):
    return one(tree, f"//odm:ItemDef[@OID='{oid}']")


def item_ref(tree, dataset: str, variable: str):
    return one(tree, f"//odm:ItemGroupDef[@Name='{dataset}']/odm:ItemRef"
                     f"[@ItemOID='IT.{dataset}.{variable}']")


def text_of(node) -> str:
    return node.xpath("string(odm:Description/odm:TranslatedText)", namespaces=NS)


def origin(tree, oid: str):
    return one(tree, f"//odm:ItemDef[@OID='{oid}']/def:Origin")


# --------------------------------------------------------------------------------------------
# Schema, files, determinism
# --------------------------------------------------------------------------------------------

def test_both_defines_validate_against_the_define_xml_2_1_schema(sdtm_define, adam_define):
    schema = etree.XMLSchema(etree.parse(str(define_xsd_path())))
    for _, _, tree in (sdtm_define, adam_define):
        assert schema.validate(tree), schema.error_log


def test_header_study_and_standards(sdtm_define):
    _, _, tree = sdtm_define
    root = tree.getroot()
    assert root.get("FileType") == "Snapshot"
    assert root.get("CreationDateTime") == "2026-01-01T12:00:00"
    assert root.get(f"{{{NS['def']}}}Context") == "Submission"
    assert one(tree, "//odm:StudyName").text == "TINY"
    assert one(tree, "//odm:StudyDescription").text == "Tiny test study"
    assert one(tree, "//odm:ProtocolName").text == "TINY-001"
    assert one(tree, "//odm:MetaDataVersion").get(f"{{{NS['def']}}}DefineVersion") == "2.1.0"
    stds = [(s.get("Name"), s.get("Type"), s.get("Version"), s.get("PublishingSet"))
            for s in tree.xpath("//def:Standard", namespaces=NS)]
    assert stds == [("SDTMIG", "IG", "3.4", None), ("CDISC/NCI", "CT", "2025-03-28", "SDTM")]


def test_writes_both_files_and_is_byte_identical_on_rewrite(tmp_path, standards, study,
                                                           sdtm_define):
    xml_path, html_path, _ = sdtm_define
    again = write_define(tmp_path, kind="SDTM", datasets=sdtm_frames(), standards=standards,
                         study=study, origins=ORIGINS, methods={}, created=CREATED)
    assert again == (tmp_path / "define.xml", tmp_path / "define.html")
    assert again[0].read_bytes() == xml_path.read_bytes()
    assert again[1].read_bytes() == html_path.read_bytes()
    assert not list(tmp_path.glob("*.tmp"))


def test_dataset_order_in_the_input_does_not_change_the_output(standards, study):
    frames = sdtm_frames()
    reordered = {name: frames[name] for name in sorted(frames)}
    first = build_define(kind="SDTM", datasets=frames, standards=standards, study=study,
                         origins=ORIGINS, methods={}, created=CREATED)
    second = build_define(kind="SDTM", datasets=reordered, standards=standards, study=study,
                          origins=ORIGINS, methods={}, created=CREATED)
    assert first == second
    # classes in SDTM order: special purpose, events, findings, relationship
    assert [g.name for g in first.item_groups] == ["DM", "AE", "TR", "SUPPDM"]


def test_html_is_the_stylesheet_rendering(sdtm_define):
    xml_path, html_path, _ = sdtm_define
    html = html_path.read_text(encoding="utf-8")
    assert "<html" in html
    for expected in ("Tumor/Lesion Results", "Adverse Events", "ae.xpt", "Body system is the "
                     "primary SOC."):
        assert expected in html
    # write_define transforms the tree it serialised; the file parsed again gives the same
    assert render_define_html(xml_path.read_bytes()) == html_path.read_bytes()


def test_a_define_the_schema_refuses_is_not_written_and_named_by_file_line(
        tmp_path, standards, study, monkeypatch):
    from cdiscmap.emit import define
    from cdiscmap.errors import OutputError

    # a broken renderer: ItemGroupDef Repeating must be Yes or No (ODM 1.3.2 YesOrNo)
    render_group = define._Renderer._item_group

    def maybe_repeating(self, mdv, group):
        render_group(self, mdv, group)
        mdv[-1].set("Repeating", "Maybe")

    monkeypatch.setattr(define._Renderer, "_item_group", maybe_repeating)
    with pytest.raises(OutputError, match=r"define.xml for ADaM does not validate .*\n  - "
                                          r"line [1-9]\d*: .*Repeating.*Maybe"):
        write_define(tmp_path, kind="ADaM", datasets=adam_frames(), standards=standards,
                     study=study, origins={}, methods=ADAM_METHODS, created=CREATED)
    assert not list(tmp_path.iterdir())


def test_html_of_the_written_tree_equals_that_of_the_parsed_file(tmp_path, standards, study):
    # the ADaM define too (value lists, methods, generated codelists)
    xml_path, html_path = write_define(tmp_path, kind="ADaM", datasets=adam_frames(),
                                       standards=standards, study=study, origins={},
                                       methods=ADAM_METHODS, created=CREATED)
    assert render_define_html(xml_path.read_bytes()) == html_path.read_bytes()


# --------------------------------------------------------------------------------------------
# Datasets and variables
# --------------------------------------------------------------------------------------------

def test_item_group_attributes(sdtm_define):
    _, _, tree = sdtm_define
    ae = one(tree, "//odm:ItemGroupDef[@Name='AE']")
    assert (ae.get("Domain"), ae.get("SASDatasetName"), ae.get("Repeating"),
            ae.get("IsReferenceData"), ae.get("Purpose")) == ("AE", "AE", "Yes", "No",
                                                              "Tabulation")
    assert ae.get(f"{{{NS['def']}}}Structure") == "One record per adverse event per subject"
    assert text_of(ae) == "Adverse Events"
    assert one(ae, "def:Class").get("Name") == "EVENTS"
    leaf = one(ae, "def:leaf")
    assert leaf.get("ID") == ae.get(f"{{{NS['def']}}}ArchiveLocationID")
    assert leaf.get(f"{{{NS['xlink']}}}href") == "ae.xpt"
    dm = one(tree, "//odm:ItemGroupDef[@Name='DM']")
    assert dm.get("Repeating") == "No"
    supp = one(tree, "//odm:ItemGroupDef[@Name='SUPPDM']")
    assert supp.get("Domain") == "DM"        # the parent domain (Define-XML 2.1 examples)
    assert one(supp, "def:Class").get("Name") == "RELATIONSHIP"
    assert text_of(supp) == "Supplemental Qualifiers for DM"


def test_item_refs_follow_the_written_order_with_keys_mandatory_and_roles(sdtm_define):
    _, _, tree = sdtm_define
    refs = tree.xpath("//odm:ItemGroupDef[@Name='AE']/odm:ItemRef", namespaces=NS)
    # SDTMIG 3.4 AE order of the variables the frame holds (not the frame's column order)
    assert [r.get("ItemOID").split(".")[-1] for r in refs] == [
        "STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AEDECOD", "AEBDSYCD", "AETOXGR",
        "AESTDTC", "AESTDY"]
    assert [r.get("OrderNumber") for r in refs] == [str(i) for i in range(1, 11)]
    # AE keys: STUDYID, USUBJID, AEDECOD, AESTDTC, AESEQ
    keys = {r.get("ItemOID").split(".")[-1]: r.get("KeySequence") for r in refs
            if r.get("KeySequence")}
    assert keys == {"STUDYID": "1", "USUBJID": "2", "AEDECOD": "3", "AESTDTC": "4",
                    "AESEQ": "5"}
    # TR keys STUDYID, USUBJID, TREVAL, TREVALID, TRLNKID, TRTESTCD, VISITNUM: only 3 present
    assert item_ref(tree, "TR", "TRTESTCD").get("KeySequence") == "3"
    assert item_ref(tree, "AE", "AETERM").get("Mandatory") == "Yes"      # Req
    assert item_ref(tree, "AE", "AESTDTC").get("Mandatory") == "No"      # Exp
    assert item_ref(tree, "AE", "AETERM").get("Role") == "Topic"
    assert item_ref(tree, "AE", "AESTDY").get("Role") == "Timing"


def test_lengths_equal_the_xpt_lengths_counted_by_hand(sdtm_define):
    _, _, tree = sdtm_define
    expected = {"IT.AE.AETERM": "20",      # "Rash on the left arm"
                "IT.AE.USUBJID": "8",      # "TINY-001"
                "IT.AE.AEDECOD": "8",      # "HEADACHE"
                "IT.AE.AETOXGR": "1",
                "IT.AE.AESEQ": "8",        # numbers are 8-byte doubles in XPT
                "IT.DM.SUBJID": "3",
                "IT.SUPPDM.QVAL": "2",     # "12"
                "IT.SUPPDM.QLABEL": "13",  # "Cohort Number"
                "IT.SUPPDM.IDVAR": "1"}    # all missing: the writer's minimum
    for oid, length in expected.items():
        assert item_def(tree, oid).get("Length") == length, oid


def test_data_types_from_the_values(sdtm_define):
    _, _, tree = sdtm_define
    assert item_def(tree, "IT.AE.AESTDTC").get("DataType") == "partialDatetime"
    assert item_def(tree, "IT.AE.AESTDTC").get("Length") is None    # ISO 8601: no Length
    assert item_def(tree, "IT.DM.RFSTDTC").get("DataType") == "partialDate"
    assert item_def(tree, "IT.AE.AESEQ").get("DataType") == "integer"
    assert item_def(tree, "IT.AE.AESEQ").get("SignificantDigits") is None
    assert item_def(tree, "IT.AE.AESTDY").get("DataType") == "integer"     # NaN ignored
    trstresn = item_def(tree, "IT.TR.TRSTRESN")
    assert (trstresn.get("DataType"), trstresn.get("Length"),
            trstresn.get("SignificantDigits")) == ("float", "8", "2")     # 30.25
    assert item_def(tree, "IT.AE.AETERM").get("DataType") == "text"
    assert text_of(item_def(tree, "IT.AE.AETERM")) == "Reported Term for the Adverse Event"
    assert item_def(tree, "IT.AE.AETERM").get("SASFieldName") == "AETERM"


def test_origins(sdtm_define):
    _, _, tree = sdtm_define
    collected = origin(tree, "IT.AE.AETERM")
    assert (collected.get("Type"), collected.get("Source")) == ("Collected", "Investigator")
    assert origin(tree, "IT.AE.STUDYID").get("Type") == "Assigned"
    assert origin(tree, "IT.AE.AESTDY").get("Type") == "Derived"
    assert item_ref(tree, "AE", "AESTDY").get("MethodOID") == "MT.AE.AESTDY"
    assert item_ref(tree, "AE", "AETERM").get("MethodOID") is None
    usubjid = origin(tree, "IT.SUPPDM.USUBJID")
    assert usubjid.get("Type") == "Predecessor" and text_of(usubjid) == "DM.USUBJID"


def test_method_text_names_the_algorithm_the_ig_section_and_the_spec_line(sdtm_define):
    _, _, tree = sdtm_define
    method = one(tree, "//odm:MethodDef[@OID='MT.AE.AESTDY']")
    assert method.get("Type") == "Computation"
    assert text_of(method) == ("study_day of AESTDTC from DM.RFSTDTC: SDTMIG 3.4 §4.4.4; "
                               "mappings/tiny/sdtm/ae.yaml:15")
    seq = text_of(one(tree, "//odm:MethodDef[@OID='MT.AE.AESEQ']"))
    assert seq == "seq: 1..n within USUBJID ordered by AESTDTC; mappings/tiny/sdtm/ae.yaml:14"
    usubjid = text_of(one(tree, "//odm:MethodDef[@OID='MT.DM.USUBJID']"))
    assert usubjid == ("concat of STUDYID, raw SUBJECT joined by '-'; "
                       "mappings/tiny/sdtm/dm.yaml:13")


def test_comment_of_a_variable(sdtm_define):
    _, _, tree = sdtm_define
    assert item_def(tree, "IT.AE.AEBDSYCD").get(f"{{{NS['def']}}}CommentOID") == \
        "COM.AE.AEBDSYCD"
    comment = one(tree, "//def:CommentDef[@OID='COM.AE.AEBDSYCD']")
    assert text_of(comment) == "Body system is the primary SOC."


# --------------------------------------------------------------------------------------------
# Codelists
# --------------------------------------------------------------------------------------------

def test_ct_codelist_with_nci_codes_lists_every_term_of_a_closed_list(sdtm_define):
    _, _, tree = sdtm_define
    assert one(item_def(tree, "IT.DM.SEX"), "odm:CodeListRef").get("CodeListOID") == "CL.SEX"
    sex = one(tree, "//odm:CodeList[@OID='CL.SEX']")
    assert sex.get("Name") == "Sex" and sex.get("DataType") == "text"
    assert one(sex, "odm:Alias").get("Name") == "C66731"
    assert one(sex, "odm:Alias").get("Context") == "nci:ExtCodeID"
    # SEX is not extensible: all four terms, decoded (M -> Male)
    assert [i.get("CodedValue") for i in sex.xpath("odm:CodeListItem", namespaces=NS)] == \
        ["F", "INTERSEX", "M", "U"]
    male = one(sex, "odm:CodeListItem[@CodedValue='M']")
    assert one(male, "odm:Alias").get("Name") == "C20197"
    assert male.xpath("string(odm:Decode/odm:TranslatedText)", namespaces=NS) == "Male"


def test_extensible_codelist_lists_only_the_terms_used(sdtm_define):
    _, _, tree = sdtm_define
    testcd = one(tree, "//odm:CodeList[@OID='CL.TRTESTCD']")
    values = [i.get("CodedValue") for i in testcd.xpath("odm:CodeListItem|odm:EnumeratedItem",
                                                        namespaces=NS)]
    assert values == ["LDIAM", "SUMDIAM", "TUMSTATE"]
    # the extensible EVAL list has no value in SUPPDM.QEVAL: no codelist to list
    assert item_def(tree, "IT.SUPPDM.QEVAL").xpath("odm:CodeListRef", namespaces=NS) == []
    domain = one(tree, "//odm:CodeList[@OID='CL.DOMAIN']")
    assert [i.get("CodedValue") for i in domain.xpath("*[@CodedValue]")] == ["DM"]


def test_study_codelist_override_without_nci_alias(sdtm_define):
    _, _, tree = sdtm_define
    ref = one(item_def(tree, "IT.AE.AETOXGR"), "odm:CodeListRef")
    assert ref.get("CodeListOID") == "CL.TOXGR"
    toxgr = one(tree, "//odm:CodeList[@OID='CL.TOXGR']")
    assert toxgr.xpath(".//odm:Alias", namespaces=NS) == []
    assert toxgr.get(f"{{{NS['def']}}}StandardOID") is None
    grade1 = one(toxgr, "odm:CodeListItem[@CodedValue='1']")
    assert grade1.xpath("string(odm:Decode/odm:TranslatedText)", namespaces=NS) == "Grade 1"


def test_meddra_is_an_external_codelist_with_the_study_version(sdtm_define):
    _, _, tree = sdtm_define
    ref = one(item_def(tree, "IT.AE.AEDECOD"), "odm:CodeListRef")
    meddra = one(tree, f"//odm:CodeList[@OID='{ref.get('CodeListOID')}']")
    external = one(meddra, "odm:ExternalCodeList")
    assert (external.get("Dictionary"), external.get("Version")) == ("MedDRA", "26.0")
    assert meddra.get("DataType") == "text"
    # numeric MedDRA codes point to an integer list (a CodeList's type matches its items)
    code_ref = one(item_def(tree, "IT.AE.AEBDSYCD"), "odm:CodeListRef").get("CodeListOID")
    assert one(tree, f"//odm:CodeList[@OID='{code_ref}']").get("DataType") == "integer"


# --------------------------------------------------------------------------------------------
# Value-level metadata
# --------------------------------------------------------------------------------------------

def test_value_list_for_a_tr_result_by_test_code(sdtm_define):
    _, _, tree = sdtm_define
    trstresc = item_def(tree, "IT.TR.TRSTRESC")
    assert one(trstresc, "def:ValueListRef").get("ValueListOID") == "VL.TR.TRSTRESC"
    assert trstresc.xpath("odm:CodeListRef", namespaces=NS) == []   # codelists per value
    refs = tree.xpath("//def:ValueListDef[@OID='VL.TR.TRSTRESC']/odm:ItemRef", namespaces=NS)
    assert len(refs) == 2
    state, numbers = (item_def(tree, r.get("ItemOID")) for r in refs)
    clause = one(tree, "//def:WhereClauseDef[@OID='" + one(
        refs[0], "def:WhereClauseRef").get("WhereClauseOID") + "']/odm:RangeCheck")
    assert (clause.get("Comparator"), clause.get(f"{{{NS['def']}}}ItemOID")) == (
        "EQ", "IT.TR.TRTESTCD")
    assert [v.text for v in clause.xpath("odm:CheckValue", namespaces=NS)] == ["TUMSTATE"]
    assert (state.get("DataType"), state.get("Length")) == ("text", "7")    # "PRESENT"
    assert one(state, "odm:CodeListRef").get("CodeListOID") == "CL.TRPROPRS"
    clause = one(tree, "//def:WhereClauseDef[@OID='" + one(
        refs[1], "def:WhereClauseRef").get("WhereClauseOID") + "']/odm:RangeCheck")
    assert clause.get("Comparator") == "IN"
    assert [v.text for v in clause.xpath("odm:CheckValue", namespaces=NS)] == ["LDIAM",
                                                                               "SUMDIAM"]
    assert (numbers.get("DataType"), numbers.get("Length"),
            numbers.get("SignificantDigits")) == ("float", "5", "2")     # "30.25"
    # TRPROPRS is extensible: only the two states used, with their NCI codes
    props = one(tree, "//odm:CodeList[@OID='CL.TRPROPRS']")
    items = props.xpath("odm:CodeListItem|odm:EnumeratedItem", namespaces=NS)
    assert [(i.get("CodedValue"), one(i, "odm:Alias").get("Name")) for i in items] == [
        ("ABSENT", "C48190"), ("PRESENT", "C25626")]


def test_supp_qval_described_per_qnam(sdtm_define):
    _, _, tree = sdtm_define
    refs = tree.xpath("//def:ValueListDef[@OID='VL.SUPPDM.QVAL']/odm:ItemRef", namespaces=NS)
    assert len(refs) == 1
    cohort = item_def(tree, refs[0].get("ItemOID"))
    assert (cohort.get("Name"), cohort.get("DataType"), cohort.get("Length")) == (
        "COHORT", "integer", "2")
    assert text_of(cohort) == "Cohort Number"
    assert one(cohort, "def:Origin").get("Type") == "Collected"
    check = one(tree, "//def:WhereClauseDef[@OID='" + one(
        refs[0], "def:WhereClauseRef").get("WhereClauseOID") + "']/odm:RangeCheck")
    assert check.get(f"{{{NS['def']}}}ItemOID") == "IT.SUPPDM.QNAM"
    assert [v.text for v in check.xpath("odm:CheckValue", namespaces=NS)] == ["COHORT"]


def test_supp_qval_items_take_only_their_qnams_records(standards, study):
    # two QNAMs on interleaved records: each QVAL item is typed, sized and labelled from its
    # own records only (COHORT: integers, 2 bytes; RACEOTH: text, 14 bytes, its own QLABEL)
    frames = sdtm_frames()
    frames["SUPPDM"] = pd.DataFrame({
        "STUDYID": _s(["TINY"] * 4), "RDOMAIN": _s(["DM"] * 4),
        "USUBJID": _s(["TINY-001", "TINY-001", "TINY-002", "TINY-002"]),
        "IDVAR": _s([pd.NA] * 4), "IDVARVAL": _s([pd.NA] * 4),
        "QNAM": _s(["RACEOTH", "COHORT", "RACEOTH", "COHORT"]),
        "QLABEL": _s(["Race, Other", "Cohort Number", "Race, Other", "Cohort Number"]),
        "QVAL": _s(["Some long text", "12", "X", "3"]),
        "QORIG": _s(["CRF"] * 4), "QEVAL": _s([pd.NA] * 4)})
    model = build_define(kind="SDTM", datasets=frames, standards=standards, study=study,
                         origins=ORIGINS, methods={}, created=CREATED)
    lists = {v.oid: [r.item_oid for r in v.items] for v in model.value_lists}
    cohort, raceoth = (model.item_def(oid) for oid in lists["VL.SUPPDM.QVAL"])
    assert (cohort.name, cohort.data_type, cohort.length, cohort.label) == (
        "COHORT", "integer", 2, "Cohort Number")
    assert (raceoth.name, raceoth.data_type, raceoth.length, raceoth.label) == (
        "RACEOTH", "text", 14, "Race, Other")


def test_trial_summary_from_study_yaml(standards, study):
    ts = pd.DataFrame({
        "STUDYID": _s(["TINY", "TINY"]), "DOMAIN": _s(["TS", "TS"]), "TSSEQ": _f([1, 1]),
        "TSPARMCD": _s(["TITLE", "ACTSUB"]),
        "TSPARM": _s(["Trial Title", "Actual Number of Subjects"]),
        "TSVAL": _s(["Tiny test study", "2"]), "TSVALNF": _s([pd.NA, pd.NA])})
    model = build_define(kind="SDTM", datasets={"TS": ts}, standards=standards, study=study,
                         origins={}, methods={}, created=CREATED)
    assert model.item_def("IT.TS.TSPARMCD").origins[0].type == "Protocol"
    (value_list,) = model.value_lists
    assert [r.item_oid for r in value_list.items] == ["IT.TS.TSVAL.TITLE",
                                                      "IT.TS.TSVAL.ACTSUB"]
    title, actsub = (model.item_def(r.item_oid) for r in value_list.items)
    assert (title.data_type, title.length, title.origins[0].type) == ("text", 15, "Protocol")
    assert (actsub.data_type, actsub.length, actsub.origins[0].type) == ("integer", 1,
                                                                         "Derived")
    assert value_list.items[1].method_oid == "MT.TS.TSVAL.ACTSUB"
    method = next(m for m in model.methods if m.oid == "MT.TS.TSVAL.ACTSUB")
    assert method.description == "ACTSUB derived from the mapped DM; mappings/tiny/study.yaml:16"


# --------------------------------------------------------------------------------------------
# ADaM
# --------------------------------------------------------------------------------------------

def test_adam_item_groups_and_standards(adam_define):
    _, _, tree = adam_define
    adtte = one(tree, "//odm:ItemGroupDef[@Name='ADTTE']")
    assert adtte.get("Purpose") == "Analysis" and adtte.get("Domain") is None
    assert one(adtte, "def:Class").get("Name") == "BASIC DATA STRUCTURE"
    assert one(adtte, "def:Class/def:SubClass").get("Name") == "TIME-TO-EVENT"
    assert adtte.xpath("odm:ItemRef/@Role", namespaces=NS) == []
    adsl = one(tree, "//odm:ItemGroupDef[@Name='ADSL']")
    assert adsl.get("Repeating") == "No"
    stds = [(s.get("Name"), s.get("Version"), s.get("PublishingSet"))
            for s in tree.xpath("//def:Standard", namespaces=NS)]
    # ADSL.SEX uses the SDTM CT SEX list, so SDTM CT is listed too
    assert stds == [("ADaMIG", "1.3", None), ("CDISC/NCI", "2025-03-28", "SDTM"),
                    ("CDISC/NCI", "2025-09-26", "ADaM")]
    assert [g.get("Name") for g in tree.xpath("//odm:ItemGroupDef", namespaces=NS)] == [
        "ADSL", "ADTTE"]


def test_adam_origins_predecessors_and_methods(adam_define):
    _, _, tree = adam_define
    age = origin(tree, "IT.ADSL.AGE")
    assert age.get("Type") == "Predecessor" and text_of(age) == "DM.AGE"
    trt = origin(tree, "IT.ADSL.TRT01P")
    assert trt.get("Type") == "Predecessor" and text_of(trt) == "DM.ARM"
    copied = origin(tree, "IT.ADTTE.USUBJID")
    assert copied.get("Type") == "Predecessor" and text_of(copied) == "ADSL.USUBJID"
    assert origin(tree, "IT.ADSL.TRTSDT").get("Type") == "Derived"
    assert item_ref(tree, "ADSL", "TRTSDT").get("MethodOID") == "MT.ADSL.TRTSDT"
    assert text_of(one(tree, "//odm:MethodDef[@OID='MT.ADSL.TRTSDT']")) == \
        "Earliest EXSTDTC with EXDOSE > 0"
    trtsdt = item_def(tree, "IT.ADSL.TRTSDT")
    assert (trtsdt.get("DataType"), trtsdt.get("Length"),
            trtsdt.get(f"{{{NS['def']}}}DisplayFormat")) == ("integer", "8", "DATE9.")


def test_adam_value_level_by_paramcd(adam_define):
    _, _, tree = adam_define
    refs = tree.xpath("//def:ValueListDef[@OID='VL.ADTTE.AVAL']/odm:ItemRef", namespaces=NS)
    assert [r.get("ItemOID") for r in refs] == ["IT.ADTTE.AVAL.OS", "IT.ADTTE.AVAL.PFS"]
    assert refs[0].get("MethodOID") == "MT.ADTTE.PARAMCD.OS"
    assert refs[1].get("MethodOID") is None            # PFS has no method text
    assert text_of(one(tree, "//odm:MethodDef[@OID='MT.ADTTE.PARAMCD.OS']")) == \
        "Overall Survival: ADSL.ENRLDT to death"
    cnsr = tree.xpath("//def:ValueListDef[@OID='VL.ADTTE.CNSR']/odm:ItemRef", namespaces=NS)
    assert [r.get("MethodOID") for r in cnsr] == ["MT.ADTTE.PARAMCD.OS", "MT.ADTTE.CNSR"]
    clause = one(tree, "//def:WhereClauseDef[@OID='WC.ADTTE.PARAMCD.EQ.PFS']/odm:RangeCheck")
    assert [v.text for v in clause.xpath("odm:CheckValue", namespaces=NS)] == ["PFS"]
    paramcd = one(tree, "//odm:CodeList[@OID='CL.ADTTE.PARAMCD']")
    decodes = {i.get("CodedValue"): i.xpath("string(odm:Decode/odm:TranslatedText)",
                                            namespaces=NS)
               for i in paramcd.xpath("odm:CodeListItem", namespaces=NS)}
    assert decodes == {"OS": "Overall Survival", "PFS": "Progression-Free Survival"}


def test_paramcd_codelist_decodes_each_code_by_its_first_record(standards, study):
    # codes listed in sorted order, each with the PARAM of its first record (a later record
    # with another PARAM does not count); a record without PARAMCD names no code
    frames = adam_frames()
    adtte = frames["ADTTE"]
    adtte["PARAMCD"] = _s(["PFS", None, "OS", "PFS"])
    adtte["PARAM"] = _s(["PFS first", "no code", "OS only", "PFS later"])
    model = build_define(kind="ADaM", datasets=frames, standards=standards, study=study,
                         origins={}, methods=ADAM_METHODS, created=CREATED)
    codelist = next(c for c in model.codelists if c.oid == "CL.ADTTE.PARAMCD")
    assert [(t.value, t.decode) for t in codelist.terms] == [("OS", "OS only"),
                                                             ("PFS", "PFS first")]


def test_adam_value_level_items_take_only_their_parameters_records(standards, study):
    # records of the two parameters interleaved, one record without PARAMCD: PFS's AVAL
    # values are 1.5 and 4 (float, 1 decimal), OS's 2 and 5 (integer); the record without a
    # parameter (3.25) belongs to neither
    frames = adam_frames()
    adtte = frames["ADTTE"].iloc[[0, 1, 2, 3, 0]].reset_index(drop=True)
    adtte["PARAMCD"] = _s(["PFS", "OS", None, "PFS", "OS"])
    adtte["AVAL"] = _f([1.5, 2, 3.25, 4, 5])
    frames["ADTTE"] = adtte
    model = build_define(kind="ADaM", datasets=frames, standards=standards, study=study,
                         origins={}, methods=ADAM_METHODS, created=CREATED)
    pfs, os_ = model.item_def("IT.ADTTE.AVAL.PFS"), model.item_def("IT.ADTTE.AVAL.OS")
    assert (pfs.data_type, pfs.significant_digits) == ("float", 1)
    assert (os_.data_type, os_.significant_digits) == ("integer", None)
    lists = {v.oid: [r.item_oid for r in v.items] for v in model.value_lists}
    assert lists["VL.ADTTE.AVAL"] == ["IT.ADTTE.AVAL.OS", "IT.ADTTE.AVAL.PFS"]


def test_paramcd_codelist_code_whose_first_record_has_no_param(standards, study):
    # the first PFS record has no PARAM: PFS has no decode although a later record has one
    frames = adam_frames()
    adtte = frames["ADTTE"]
    adtte["PARAMCD"] = _s(["PFS", "OS", "PFS", "OS"])
    adtte["PARAM"] = _s([None, "Overall", "PFS later", "OS later"])
    model = build_define(kind="ADaM", datasets=frames, standards=standards, study=study,
                         origins={}, methods=ADAM_METHODS, created=CREATED)
    codelist = next(c for c in model.codelists if c.oid == "CL.ADTTE.PARAMCD")
    assert [(t.value, t.decode) for t in codelist.terms] == [("OS", "Overall"), ("PFS", None)]


def test_adam_notes_name_what_has_no_method_text(standards, study):
    model = build_define(kind="ADaM", datasets=adam_frames(), standards=standards, study=study,
                         origins={}, methods=ADAM_METHODS, created=CREATED)
    assert "ADTTE.AVAL (PARAMCD=PFS): no method text" in model.notes
    assert "ADTTE.STARTDT: the ADaM step records no method text" in model.notes


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

def test_study_declaring_another_ig_version_is_refused(tmp_path, standards):
    folder = tmp_path / "mappings" / "old"
    (folder / "sdtm").mkdir(parents=True)
    (folder / "study.yaml").write_text(STUDY_YAML.replace('sdtmig: "3.4"', 'sdtmig: "3.3"'))
    for name, text in (("dm", DM_YAML), ("ae", AE_YAML), ("tr", TR_YAML)):
        (folder / "sdtm" / f"{name}.yaml").write_text(text)
    old = load_study(folder)
    with pytest.raises(StandardsError, match="sdtmig is 3.3"):
        build_define(kind="SDTM", datasets=sdtm_frames(), standards=standards, study=old,
                     origins=ORIGINS, methods={}, created=CREATED)


def test_value_level_where_that_is_no_where_clause_is_a_spec_error(tmp_path, standards):
    folder = tmp_path / "mappings" / "bad"
    (folder / "sdtm").mkdir(parents=True)
    (folder / "study.yaml").write_text(STUDY_YAML)
    for name, text in (("dm", DM_YAML), ("ae", AE_YAML)):
        (folder / "sdtm" / f"{name}.yaml").write_text(text)
    (folder / "sdtm" / "tr.yaml").write_text(TR_YAML.replace(
        "where: {var: TRTESTCD, equals: TUMSTATE}", "where: {var: TRTESTCD, matches: TUM.*}"))
    # refused when the spec is loaded, before any data or define is built
    with pytest.raises(SpecError, match="value-level where-clause") as caught:
        load_study(folder)
    assert caught.value.line == 15


# --------------------------------------------------------------------------------------------
# Rules as properties
# --------------------------------------------------------------------------------------------

@given(st.lists(st.tuples(st.integers(-10**7, 10**7).filter(lambda k: k % 10 != 0),
                          st.integers(0, 6)), min_size=1, max_size=20))
def test_significant_digits_are_the_most_decimals_written(pairs):
    # k / 10**d, k not a multiple of 10, is written with exactly d decimals
    values = np.array([k / 10**d for k, d in pairs] + [np.nan])
    assert max_decimals(values) == max(d for _, d in pairs)


@given(st.lists(st.integers(-10**9, 10**9), min_size=1, max_size=30),
       st.integers(1, 9))
def test_numbers_are_integer_until_one_has_a_fraction(whole, tenths):
    values = np.array(whole, dtype=float)
    assert numeric_data_type(np.append(values, np.nan)) == "integer"
    assert numeric_data_type(np.append(values, whole[0] + tenths / 10)) == "float"


def test_whole_numbers_by_hand():
    # missing values and infinities are not fractions; -0.0 is whole; the smallest
    # fractions are fractions
    assert numeric_data_type(np.array([np.nan, np.inf, -np.inf, -0.0, 3.0])) == "integer"
    assert numeric_data_type(np.array([], dtype=float)) == "integer"
    assert numeric_data_type(np.array([2.0**51 + 0.5])) == "float"
    assert numeric_data_type(np.array([-1e-300, 4.0])) == "float"
    assert numeric_data_type(np.array([5e-324])) == "float"


dates = st.dates(min_value=pd.Timestamp("1900-01-01").date(),
                 max_value=pd.Timestamp("2099-12-31").date())


@given(st.lists(dates, min_size=1, max_size=10), st.sampled_from([4, 7]))
def test_iso8601_data_type_of_dates(days, cut):
    complete = [d.isoformat() for d in days]
    assert iso8601_data_type(pd.Series(complete, dtype="string")) == "date"
    truncated = [complete[0][:cut], *complete[1:]]       # "2014" or "2014-03"
    assert iso8601_data_type(pd.Series(truncated, dtype="string")) == "partialDate"


@given(st.lists(st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
                             max_value=pd.Timestamp("2099-12-31").to_pydatetime()),
                min_size=2, max_size=10))
def test_iso8601_data_type_of_datetimes(stamps):
    full = [s.strftime("%Y-%m-%dT%H:%M:%S") for s in stamps]
    assert iso8601_data_type(pd.Series(full, dtype="string")) == "datetime"
    minutes = [full[0][:16], *full[1:]]                  # seconds not collected
    assert iso8601_data_type(pd.Series(minutes, dtype="string")) == "partialDatetime"
    with_date = [full[0][:10], *full[1:]]                # a date among datetimes
    assert iso8601_data_type(pd.Series(with_date, dtype="string")) == "partialDatetime"


_iso_parts = st.sampled_from(["2014", "2014-03", "2014-03-05", "2014-03-05T10", "T10:22",
                              "2014-03-05T10:22", "2014-03-05T10:22:33",
                              "2014-03-05T10:22:33.5", "2014-03-05T10:22:33Z",
                              "2014-03-05T10:22:33+01:00", "2014-03-05T10:22:33-0130",
                              "-03-05", "2014---05", "--", "P3D", "X", " ", "2014-3-5",
                              "\u0661\u0669\u0669\u0660-01-01", "1", "-", "2014-03-05\n"])


@settings(deadline=None)
@given(st.lists(st.lists(_iso_parts, min_size=1, max_size=3).map("".join), min_size=1,
                max_size=8, unique=True))
def test_iso8601_type_of_the_joined_values_equals_asking_each_value(values):
    """_iso8601_type (one scan of the values joined by line breaks) against the same questions
    asked of each value by pandas (_iso8601_type_by_value)."""
    from cdiscmap.emit.define import _iso8601_type, _iso8601_type_by_value

    stripped = [v for v in (v.strip() for v in values) if v]
    by_value = _iso8601_type_by_value(pd.Series(stripped, dtype="string"))
    assert _iso8601_type(stripped) == by_value


def test_iso8601_special_forms():
    assert iso8601_data_type(pd.Series(["2014---05"], dtype="string")) == "incompleteDatetime"
    assert iso8601_data_type(pd.Series(["2014-01-01/2014-02-01"], dtype="string")) == \
        "intervalDatetime"
    assert iso8601_data_type(pd.Series(["P3D"], dtype="string"), duration=True) == \
        "durationDatetime"
    assert iso8601_data_type(pd.Series([pd.NA], dtype="string")) == "datetime"


ascii_text = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
                     max_size=40)


@settings(max_examples=15, deadline=None)
@given(terms=st.lists(ascii_text, min_size=3, max_size=3))
def test_text_length_is_the_longest_value(standards, study, terms):
    ae = sdtm_frames()["AE"].assign(AETERM=pd.Series(terms, dtype="string"))
    model = build_define(kind="SDTM", datasets={"AE": ae}, standards=standards, study=study,
                         origins=ORIGINS, methods={}, created=CREATED)
    assert model.item_def("IT.AE.AETERM").length == max(len(t) for t in terms)


# --------------------------------------------------------------------------------------------
# Speed paths: the XPT writer's factorisations reused, ISO 8601 / number shapes in one scan
# --------------------------------------------------------------------------------------------

def test_define_of_written_frames_reuses_the_writer_and_is_the_same(tmp_path, standards, study,
                                                                    sdtm_define):
    from cdiscmap.emit.datasets import write_datasets
    from cdiscmap.emit.written import recall_text_facts

    frames = sdtm_frames()
    write_datasets(frames, tmp_path / "xpt", standards, CREATED)
    facts = recall_text_facts(frames["AE"], "AETERM")
    assert facts is not None and facts.uniques.tolist() == ["Headache", "Nausea",
                                                            "Rash on the left arm"]
    assert facts.max_bytes == 20
    assert recall_text_facts(frames["AE"], "AESEQ") is None          # a number
    assert recall_text_facts(sdtm_frames()["AE"], "AETERM") is None   # another frame
    xml_path, html_path = write_define(tmp_path / "def", kind="SDTM", datasets=frames,
                                       standards=standards, study=study, origins=ORIGINS,
                                       methods={}, created=CREATED)
    assert xml_path.read_bytes() == sdtm_define[0].read_bytes()
    assert html_path.read_bytes() == sdtm_define[1].read_bytes()
    assert recall_text_facts(frames["AE"], "AETERM") is None     # let go once used


def test_a_column_replaced_after_writing_is_looked_at_again(tmp_path, standards, study):
    from cdiscmap.emit.datasets import write_datasets
    from cdiscmap.emit.written import recall_lengths, recall_text_facts
    from cdiscmap.emit.xpt import XptColumn

    frames = sdtm_frames()
    write_datasets(frames, tmp_path / "xpt", standards, CREATED)
    aeterm = XptColumn("AETERM", "Reported Term", "char")
    aestdy = XptColumn("AESTDY", "Study Day of Start of Adverse Event", "num")
    assert recall_lengths(frames["AE"], [aeterm, aestdy]) == {"AETERM": 20, "AESTDY": 8}
    assert recall_lengths(frames["AE"], [XptColumn("AETERM", "Term", "char", 40)]) is None
    frames["AE"]["AESTDY"] = _f([6, 8, 9])                # a new numpy column
    assert recall_lengths(frames["AE"], [aestdy]) is None
    frames["AE"]["AETERM"] = _s(["Headache", "Nausea", "Rash on the left arm and the back"])
    assert recall_text_facts(frames["AE"], "AETERM") is None
    assert recall_lengths(frames["AE"], [aeterm]) is None
    model = build_define(kind="SDTM", datasets=frames, standards=standards, study=study,
                         origins=ORIGINS, methods={}, created=CREATED)
    assert model.item_def("IT.AE.AETERM").length == 33


def test_a_column_name_given_twice_after_writing_is_not_recalled(tmp_path, standards):
    from cdiscmap.emit.datasets import write_datasets
    from cdiscmap.emit.written import recall_lengths, recall_text_facts
    from cdiscmap.emit.xpt import XptColumn

    frames = sdtm_frames()
    write_datasets(frames, tmp_path / "xpt", standards, CREATED)
    ae = frames["AE"]
    aeterm = XptColumn("AETERM", "Reported Term", "char")
    aestdy = XptColumn("AESTDY", "Study Day of Start of Adverse Event", "num")
    given = ae["AETERM"]
    assert recall_text_facts(ae, "AETERM", given).uniques.tolist() == [
        "Headache", "Nausea", "Rash on the left arm"]
    ae.insert(0, "AETERM", _s(["a", "b", "c"]), allow_duplicates=True)
    assert recall_lengths(ae, [aeterm]) is None           # which AETERM: neither
    assert recall_text_facts(ae, "AETERM") is None
    assert recall_lengths(ae, [aestdy]) == {"AESTDY": 8}  # the other columns still are


def test_what_was_written_goes_with_its_frame(tmp_path, standards):
    import gc

    from cdiscmap.emit import written
    from cdiscmap.emit.datasets import write_datasets

    frames = sdtm_frames()
    write_datasets(frames, tmp_path, standards, CREATED)
    keys = {id(frame) for frame in frames.values()}
    assert keys <= set(written._WRITTEN)
    del frames
    gc.collect()
    assert not keys & set(written._WRITTEN)


iso_like = st.lists(st.one_of(
    st.text(alphabet="0123456789-T:P/.Z+ \n\r", min_size=1, max_size=25),
    st.sampled_from(["2014-03-05", "2014-03", "2014", "2014-03-05T10:20:30", "2014-03-05T10:20",
                     "2014-03-05T10:20:30.5+01:00", "2014---05", "-----T10:20", "P3D", "PT2H",
                     "2014-01-01/2014-02-01", "2014-03-05T10:20:30Z", "１２３４-03-05"])),
    min_size=1, max_size=12).map(lambda xs: [x.strip() for x in xs if x.strip()])


@settings(deadline=None)
@given(values=iso_like, duration=st.booleans())
def test_iso8601_type_in_one_scan_is_the_per_value_answer(values, duration):
    from cdiscmap.emit.define import _iso8601_type, _iso8601_type_by_value

    assert _iso8601_type(values, duration=duration) == _iso8601_type_by_value(
        pd.Series(values, dtype="string"), duration=duration)


def test_iso8601_type_in_one_scan_by_hand():
    from cdiscmap.emit.define import _iso8601_type

    assert _iso8601_type(["2014-03-05", "2014-04-01"]) == "date"
    assert _iso8601_type(["2014-03-05", "2014-04"]) == "partialDate"
    assert _iso8601_type(["2014-03-05T10:20:30", "2014-03-05T10:20:31Z"]) == "datetime"
    assert _iso8601_type(["2014-03-05T10:20:30", "2014-03-05"]) == "partialDatetime"
    assert _iso8601_type(["P3D", "PT2H"]) == "durationDatetime"
    assert _iso8601_type(["P3D", "2014"]) == "partialDate"
    assert _iso8601_type(["2014-03-05", "2014---05"]) == "incompleteDatetime"
    assert _iso8601_type(["2014-03-05\n2014-03-06"]) == "partialDate"    # one value, two lines
    assert _iso8601_type([], duration=True) == "durationDatetime"


@settings(deadline=None)
@given(values=st.lists(st.text(alphabet="0123456789+-. x\n", min_size=1, max_size=8),
                       max_size=10))
def test_text_number_type_in_one_scan_is_the_per_value_answer(values):
    import re

    from cdiscmap.checks.facts import text_facts
    from cdiscmap.emit.define import _text_number_type, _Values

    series = pd.Series(values, dtype="string")
    stripped = [v.strip() for v in values if v.strip()]
    if not stripped:
        expected = "text"
    elif all(re.fullmatch(r"[+-]?\d+", v) for v in stripped):
        expected = "integer"
    elif all(re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", v) for v in stripped):
        expected = "float"
    else:
        expected = "text"
    assert _text_number_type(_Values(series, text_facts(series))) == expected
    assert _text_number_type(_Values(series, None)) == expected


def test_the_faster_stylesheet_renders_the_same_html(sdtm_define, adam_define):
    """faster_stylesheet edits define2-1.xsl (lookups once per list, definitions found by
    key): same HTML as the stylesheet as shipped, for SDTM (value lists, SUPP--, where
    clauses), ADaM with Analysis Results Metadata, and code list items with a description
    and a rank (which cdiscmap does not write, so they are added here)."""
    import re

    from cdiscmap.analysis.arm import add_analysis_results
    from cdiscmap.analysis.report import Report
    from cdiscmap.analysis.settings import AnalysisSettings
    from cdiscmap.analysis.tables import Table
    from cdiscmap.emit.define import define_stylesheet_path, faster_stylesheet

    shipped_text = define_stylesheet_path().read_text(encoding="utf-8")
    faster_text = faster_stylesheet(shipped_text)
    assert faster_text != shipped_text
    # every lookup by OID in the global sequences is by key, but the standards' (one)
    assert re.findall(r"\$g_seq\w+\[@OID=\$", faster_text) == ["$g_seqStandard[@OID=$"]
    assert faster_text.count("key('cdiscmap.ItemDef'") == 20 + 2    # + 2 in the ARM detail
    assert faster_text.count("key('cdiscmap.GroupItemRef'") == 3
    # the SUPP--/parent rows find the other dataset by key, not by a scan of the document
    assert "//odm:ItemGroupDef" not in faster_text
    assert faster_text.count("key('cdiscmap.ItemGroupDef'") == 7 + 4   # + 4 in the ARM detail
    # nor does the ARM detail scan the MetaDataVersion for its variables and datasets
    assert "/odm:MetaDataVersion/odm:ItemDef[" not in faster_text
    assert "/odm:MetaDataVersion/odm:ItemGroupDef[" not in faster_text
    # the keys index the MetaDataVersion's children by path, not by a walk of every node
    assert faster_text.count('<xsl:key name="cdiscmap.') == faster_text.count(
        'match="/odm:ODM/odm:Study/odm:MetaDataVersion/') == 9
    shipped = etree.XSLT(etree.parse(str(define_stylesheet_path())))
    faster = etree.XSLT(etree.fromstring(faster_text.encode("utf-8")))
    table = Table("t_os", "Overall survival", ["Group", "N"], footnotes=["KM."],
                  source="Source: ADTTE")
    table.add_row(["All", "2"], {1: {"dataset": "ADTTE", "paramcd": "OS"}})
    settings = AnalysisSettings.model_validate({
        "populations": {"all": {"flag": "SAFFL"}}, "groupings": {"all": {}},
        "survival": [{"id": "t_os", "title": "OS", "population": "all", "grouping": "all",
                      "endpoints": ["OS"]}]})
    arm = add_analysis_results(adam_define[0].read_bytes(),
                               Report("TINY", "Tiny", tables=[table]), settings, "tiny")
    assert b"arm:ResultDisplay" in arm and b"WC.AR.t_os.ADTTE" in arm
    documents = [etree.parse(str(sdtm_define[0])), etree.parse(str(adam_define[0])),
                 etree.fromstring(arm).getroottree()]
    ranked = etree.parse(str(sdtm_define[0]))
    items = ranked.xpath("//odm:CodeList[odm:CodeListItem]/odm:CodeListItem", namespaces=NS)
    enumerated = ranked.xpath("//odm:CodeList/odm:EnumeratedItem", namespaces=NS)
    assert items and enumerated
    for rank, item in enumerate([items[0], enumerated[0]], start=1):
        item.set("Rank", str(rank))
        description = etree.SubElement(item, f"{{{NS['odm']}}}Description")
        etree.SubElement(description, f"{{{NS['odm']}}}TranslatedText").text = "A described term"
    documents.append(ranked)
    for document in documents:
        assert bytes(faster(document)) == bytes(shipped(document))
    # SUPPDM and DM link to each other, each row naming the other's description
    sdtm_html = bytes(faster(documents[0])).decode()
    assert re.search(r"Related Supplemental Qualifiers Dataset: <a[^>]*>SUPPDM</a> \(\w", sdtm_html)
    assert re.search(r"Related Parent Dataset: <a[^>]*>DM</a> \(Demographics\)", sdtm_html)
    assert b"A described term" in bytes(faster(ranked))


def test_a_stylesheet_the_edits_do_not_fit_is_used_as_it_is():
    from cdiscmap.emit.define import faster_stylesheet

    text = '<xsl:template name="tableEnumeratedItems">only part of the stylesheet'
    assert faster_stylesheet(text) == text


def test_define_xml_alone_when_the_caller_renders_define_html(tmp_path, standards, study,
                                                               adam_define):
    """``html=False`` (run: the ADaM define gets ARM, then its define.html is rendered once):
    the same define.xml, no define.html; write_analysis_results(html=True) then writes it."""
    from cdiscmap.analysis.arm import write_analysis_results
    from cdiscmap.analysis.report import Report
    from cdiscmap.analysis.settings import AnalysisSettings
    from cdiscmap.emit.define import render_define_html

    paths = write_define(tmp_path, kind="ADaM", datasets=adam_frames(), standards=standards,
                         study=study, origins={}, methods=ADAM_METHODS, created=CREATED,
                         html=False)
    assert paths == (tmp_path / "define.xml",)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["define.xml"]
    assert paths[0].read_bytes() == adam_define[0].read_bytes()
    settings = AnalysisSettings.model_validate({"populations": {"all": {"flag": "SAFFL"}},
                                                "groupings": {"all": {}}})
    written = write_analysis_results(tmp_path, Report("TINY", "Tiny"), settings, tmp_path,
                                     html=True)
    assert written == [tmp_path / "define.xml", tmp_path / "define.html"]
    assert (tmp_path / "define.html").read_bytes() == render_define_html(
        (tmp_path / "define.xml").read_bytes())
    # without html=, define.html is rewritten only where there is one
    (tmp_path / "define.html").unlink()
    assert write_analysis_results(tmp_path, Report("TINY", "Tiny"), settings,
                                  tmp_path) == [tmp_path / "define.xml"]


def test_a_numeric_column_without_values_is_told_from_one_with_values():
    from cdiscmap.emit.define import _no_number

    nat = np.datetime64("NaT")
    cases = [
        (pd.Series([np.nan, np.nan]), True),
        (pd.Series([np.nan, 0.0]), False),
        (pd.Series([1.5, np.nan]), False),                            # the first value tells
        (pd.Series([], dtype="float64"), True),
        (pd.Series([0, 3]), False),                                    # int64: never missing
        (pd.Series([], dtype="int64"), True),
        (pd.Series([False]), False),
        (pd.Series(np.array([nat, nat], dtype="datetime64[ns]")), True),
        (pd.Series(np.array([nat, "2024-05-01"], dtype="datetime64[ns]")), False),
        (pd.Series(np.array(["2024-05-01", nat], dtype="datetime64[ns]")), False),
        (pd.Series([pd.NA, pd.NA], dtype="Int64"), True),               # pandas' own dtypes
        (pd.Series([pd.NA, 1], dtype="Int64"), False),
        (pd.Series([pd.NA], dtype="boolean"), True),
        (pd.Series([pd.NaT], dtype="datetime64[ns, UTC]"), True),
    ]
    assert [_no_number(series) for series, _ in cases] == [want for _, want in cases]


# --------------------------------------------------------------------------------------------
# ARM on the tail of ``cdiscmap run``: the ADaM define.xml's tree is handed from
# write_define(..., html=False) to write_analysis_results instead of the file being parsed
# back, and the schema and stylesheet read the tree the ARM bytes are serialised from. Same
# define.xml and define.html bytes as parsing the file (twice) gave.
# --------------------------------------------------------------------------------------------

def _arm_settings():
    from cdiscmap.analysis.settings import AnalysisSettings

    return AnalysisSettings.model_validate({
        "populations": {"all": {"flag": "SAFFL"}}, "groupings": {"all": {}},
        "survival": [{"id": "t_os", "title": "OS", "population": "all", "grouping": "all",
                      "endpoints": ["OS"]}]})


def _arm_report():
    from cdiscmap.analysis.report import Report
    from cdiscmap.analysis.tables import Table

    table = Table("t_os", "Overall survival", ["Group", "N"], footnotes=["KM."],
                  source="Source: ADTTE")
    table.add_row(["All", "2"], {1: {"dataset": "ADTTE", "paramcd": "OS"}})
    return Report("TINY", "Tiny", tables=[table])


def _adam_define_alone(folder, standards, study):
    return write_define(folder, kind="ADaM", datasets=adam_frames(), standards=standards,
                        study=study, origins={}, methods=ADAM_METHODS, created=CREATED,
                        html=False)


def _arm_by_parsing(xml: bytes) -> dict[str, bytes]:
    """What the files were before: ARM added to the parsed bytes, then the result parsed
    again for the schema and once more for the stylesheet."""
    from cdiscmap.analysis.arm import add_analysis_results, arm_schema_errors

    arm = add_analysis_results(xml, _arm_report(), _arm_settings(), "tiny")
    assert arm_schema_errors(arm) == []
    return {"define.xml": arm, "define.html": render_define_html(arm)}


def test_the_written_tree_is_handed_over_once_and_only_for_the_same_bytes(
        tmp_path, standards, study):
    from cdiscmap.emit.define import written_define_tree

    (path,) = _adam_define_alone(tmp_path, standards, study)
    xml = path.read_bytes()
    assert written_define_tree(path, xml + b" ") is None      # not what was written
    assert written_define_tree(path, xml) is None             # that call took it
    _adam_define_alone(tmp_path, standards, study)
    tree = written_define_tree(path, xml)
    assert tree is not None
    # the tree the bytes were serialised from: the same bytes again
    assert etree.tostring(tree.getroottree(), xml_declaration=True, encoding="UTF-8",
                          pretty_print=True) == xml
    assert written_define_tree(path, xml) is None             # once
    assert written_define_tree(tmp_path / "other.xml", xml) is None


def test_arm_files_from_the_tree_equal_those_from_parsing(tmp_path, standards, study):
    from cdiscmap.analysis.arm import analysis_results_files, write_analysis_results

    (path,) = _adam_define_alone(tmp_path, standards, study)
    xml = path.read_bytes()
    expected = _arm_by_parsing(xml)
    assert b"arm:ResultDisplay" in expected["define.xml"]
    assert analysis_results_files(xml, _arm_report(), _arm_settings(), "tiny",
                                  html=True) == expected
    tree = etree.fromstring(xml, etree.XMLParser(remove_blank_text=True))
    assert analysis_results_files(xml, _arm_report(), _arm_settings(), "tiny", html=True,
                                  tree=tree) == expected
    # as cdiscmap run does it: the tree write_define built
    assert write_analysis_results(tmp_path, _arm_report(), _arm_settings(), "tiny",
                                  html=True) == [tmp_path / "define.xml",
                                                 tmp_path / "define.html"]
    assert {name: (tmp_path / name).read_bytes() for name in expected} == expected


def test_a_define_changed_on_disk_is_parsed_not_taken_from_the_tree(tmp_path, standards,
                                                                     study):
    from cdiscmap.analysis.arm import write_analysis_results

    (path,) = _adam_define_alone(tmp_path, standards, study)
    changed = path.read_bytes().replace(b"Tiny test study", b"Tiny test study, amended")
    assert changed != path.read_bytes()
    path.write_bytes(changed)
    write_analysis_results(tmp_path, _arm_report(), _arm_settings(), "tiny", html=True)
    expected = _arm_by_parsing(changed)
    assert (tmp_path / "define.xml").read_bytes() == expected["define.xml"]
    assert (tmp_path / "define.html").read_bytes() == expected["define.html"]


def test_arm_declares_its_prefix_on_odm_as_the_re_rooting_did(tmp_path, standards, study):
    """ARM declares the arm prefix on ODM in place (cleanup_namespaces' top_nsmap), used or
    not: the bytes of the earlier way, the children moved under a new root with it."""
    from cdiscmap.analysis.arm import ARM_NS, _serialised, _with_analysis_results
    from cdiscmap.analysis.report import Report

    (path,) = _adam_define_alone(tmp_path, standards, study)
    xml = path.read_bytes()

    def re_rooted(report):
        root = etree.fromstring(xml, etree.XMLParser(remove_blank_text=True))
        new_root = etree.Element(root.tag, nsmap={**root.nsmap, "arm": ARM_NS},
                                 attrib=dict(root.attrib))
        for child in root:
            new_root.append(child)
        return _serialised(_with_analysis_results(new_root, report, _arm_settings(), "tiny"))

    for report in (_arm_report(), Report("TINY", "Tiny")):
        parsed = etree.fromstring(xml, etree.XMLParser(remove_blank_text=True))
        arm = _serialised(_with_analysis_results(parsed, report, _arm_settings(), "tiny"))
        assert arm == re_rooted(report)
        assert b'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:arm="' in arm.split(b"\n")[1]
