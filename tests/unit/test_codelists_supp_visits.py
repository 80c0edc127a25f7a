"""Study codelists (sponsor lists, CT extensions) into define.xml, SUPP-- values per block, and
visit rules computed from the export's own fields (also inside `when`).

A small EDC-like study (Rave-style FolderName / FolderSeq / InstanceRepeatNumber); every
expected value is worked out by hand from the raw rows below.
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

from cdiscmap.emit.define import define_xsd_path, write_define
from cdiscmap.errors import SpecError
from cdiscmap.pipeline.run import codelist_terms
from cdiscmap.sdtm.engine import map_study, study_origins
from cdiscmap.spec.loader import load_study
from cdiscmap.standards import load_standards
from cdiscmap.standards.study import with_study_codelists

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}

STUDY = """\
studyid: EDC
title: EDC export study
standards: {sdtmig: "3.4", sdtm_ct: "2025-03-28"}
forms:
  ae:  {file: ae.csv}
  sae: {file: sae.csv}
  tu:  {file: tu.csv}
  tr:  {file: tr.csv}
domains: [AE, TU, TR]
visits:
  - {match: "screening", visit: SCREENING, visitnum: 0}
  - {match: "cycle (\\\\d+)", visit: "CYCLE {1}", visitnum: {expr: "FolderSeq"}}
  - match: "unscheduled rave"
    visit: {expr: "'UNSCHEDULED ' + InstanceRepeatNumber"}
    visitnum: {expr: "FolderSeq + InstanceRepeatNumber / 100"}
    unscheduled: true
  - {match: "unscheduled", visit: UNSCHEDULED, unscheduled: true}
codelists:
  CAUSAL5:
    name: Causality (5-point scale)
    terms: [NOT RELATED, UNLIKELY, POSSIBLE, PROBABLE, {value: DEFINITE, decode: Definitely related}]
    map: {unlikely related: UNLIKELY, possibly related: POSSIBLE, probably related: PROBABLE}
  CAUSNY:
    target: NY
    map: {not related: N, unlikely related: N, possible: Y, probably related: Y, definite: Y}
  TULOC:
    extends: LOC
    terms: [SKIN OF LEFT FOREARM, {value: PERIHILAR REGION, decode: Perihilar region}]
"""

AE = """\
domain: AE
blocks:
  - name: ae log
    source: {form: ae}
    variables:
      AETERM: {take: AETERM}
      AEREL: {assign_ct: {column: AEREL, codelist: CAUSAL5}}
  - name: serious ae form
    source: {form: sae}
    variables:
      AETERM: {take: SAETERM}
      AEREL: {assign_ct: {column: SAEREL, codelist: CAUSAL5}}
variables:
  STUDYID: {constant: EDC}
  DOMAIN: {constant: AE}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  AESEQ: {seq: {order: [AETERM]}}
supp:
  AEOTHSP:
    label: Other Action Taken Specify
    values:
      ae log: {take: ACNOTH}
      serious ae form: {take: SAE_ACN_SP}
  AERELNY:
    label: Causality Yes/No
    origin: Derived
    value: {assign_ct: {column: AEREL, codelist: CAUSNY}}
    blocks: [ae log]
codelist_overrides: {AEREL: CAUSAL5}
"""

TU = """\
domain: TU
blocks:
  - name: lesions
    source: {form: tu}
    variables:
      TULNKID: {take: LESID}
      TULOC: {assign_ct: {column: LOC, codelist: TULOC}}
      TUDTC: {iso8601: {date: TUDAT, format: YMD}}
      VISIT: {visit: {column: FolderName}}
      VISITNUM: {visitnum: {column: FolderName, date: TUDTC}}
variables:
  STUDYID: {constant: EDC}
  DOMAIN: {constant: TU}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  TUSEQ: {seq: {order: [TUDTC, TULNKID]}}
"""

TR = """\
domain: TR
blocks:
  - name: measurements
    source: {form: tr}
    variables:
      TRLNKID: {take: LESID}
      TRDTC: {iso8601: {date: TRDAT, format: YMD}}
      VISIT:
        when:
          - if: {column: FolderName, equals: Central review}
            then: {constant: CENTRAL REVIEW}
          - else: {visit: {column: FolderName}}
      VISITNUM:
        when:
          - if: {column: FolderName, equals: Central review}
            then: {constant: 90}
          - else: {visitnum: {column: FolderName, date: TRDTC}}
variables:
  STUDYID: {constant: EDC}
  DOMAIN: {constant: TR}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  TRSEQ: {seq: {order: [TRDTC, TRLNKID]}}
"""

RAW = {
    "ae.csv": """\
        SUBJECT,AETERM,AEREL,ACNOTH
        001,Headache,Unlikely related,
        001,Nausea,possible,Dose delayed
        002,Rash,Definite,
        """,
    "sae.csv": """\
        SUBJECT,SAETERM,SAEREL,SAE_ACN_SP
        001,Sepsis,probably related,Hospitalised
        """,
    "tu.csv": """\
        SUBJECT,LESID,LOC,FolderName,FolderSeq,InstanceRepeatNumber,TUDAT
        001,T01,Skin of left forearm,Screening,1,0,2020-01-01
        001,T02,LIVER,Cycle 2,3,0,2020-02-01
        001,T03,perihilar region,Unscheduled,99,0,2020-02-10
        """,
    "tr.csv": """\
        SUBJECT,LESID,FolderName,FolderSeq,InstanceRepeatNumber,TRDAT
        001,T01,Cycle 2,3,0,2020-02-01
        001,T02,Unscheduled,99,0,2020-02-10
        001,T01,Unscheduled,99,1,2020-02-20
        001,T02,Unscheduled Rave,5,2,2020-02-15
        001,T01,Central review,,,2020-03-01
        """,
}

CREATED = datetime(2026, 1, 1, 12, 0, 0)


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture(scope="module")
def standards():
    return load_standards()


@pytest.fixture(scope="module")
def mapped(tmp_path_factory, standards):
    root = tmp_path_factory.mktemp("edc")
    study_dir = root / "mappings" / "edc"
    _write(study_dir, {"study.yaml": STUDY, "sdtm/ae.yaml": AE, "sdtm/tu.yaml": TU,
                       "sdtm/tr.yaml": TR})
    _write(root / "raw", RAW)
    loaded = load_study(study_dir, standard_variables={n: set(d.names()) for n, d in
                                                       standards.datasets.items()},
                        known_codelists=set(standards.codelists))
    study_standards = with_study_codelists(standards, loaded)
    result = map_study(loaded, root / "raw", codelist_terms(study_standards),
                       {n: {v.name for v in d.variables if v.data_type == "Char"}
                        for n, d in study_standards.datasets.items()})
    return loaded, study_standards, result, root


@pytest.fixture(scope="module")
def define(mapped):
    loaded, study_standards, result, root = mapped
    frames = {**result.domains, **result.supp}
    xml_path, _ = write_define(root / "out", kind="SDTM", datasets=frames,
                               standards=study_standards, study=loaded,
                               origins=study_origins(loaded), methods={}, created=CREATED)
    return etree.parse(str(xml_path))


def _rows(frame, *columns):
    return [tuple(r) for r in frame[list(columns)].itertuples(index=False)]


# --------------------------------------------------------------------------- codelists

def test_sponsor_codelist_maps_and_keeps_its_own_terms(mapped):
    _, _, result, _ = mapped
    ae = result.domains["AE"]
    # map first (case-insensitive), then identity on the list's own terms ("possible")
    assert _rows(ae, "USUBJID", "AETERM", "AEREL") == [
        ("EDC-001", "Headache", "UNLIKELY"), ("EDC-001", "Nausea", "POSSIBLE"),
        ("EDC-002", "Rash", "DEFINITE"), ("EDC-001", "Sepsis", "PROBABLE")]
    # LIVER is a CDISC LOC term (C12392), the other locations are the study's extension
    assert [f for f in result.findings if f.rule == "CMAP-MAP0001"] == []


def test_ct_extension_terms_are_known_to_assign_ct(mapped):
    _, study_standards, result, _ = mapped
    assert list(result.domains["TU"]["TULOC"]) == ["SKIN OF LEFT FOREARM", "LIVER",
                                                   "PERIHILAR REGION"]
    shared = load_standards().codelist("LOC")
    loc = study_standards.codelist("LOC")
    # the CT terms unchanged, the study's two appended and marked as extensions
    assert loc.terms[:len(shared.terms)] == shared.terms
    assert [(t.value, t.decode, t.extended) for t in loc.terms[len(shared.terms):]] == [
        ("SKIN OF LEFT FOREARM", None, True), ("PERIHILAR REGION", "Perihilar region", True)]
    assert not any(t.extended for t in shared.terms)        # the shared standards untouched
    assert "PERIHILAR REGION" not in shared.values()


def test_define_is_schema_valid(define):
    schema = etree.XMLSchema(etree.parse(str(define_xsd_path())))
    assert schema.validate(define), schema.error_log


def test_define_sponsor_codelist_with_decodes_referenced_by_the_item(define):
    cl = define.xpath("//odm:CodeList[@OID='CL.CAUSAL5']", namespaces=NS)
    assert len(cl) == 1
    cl = cl[0]
    assert cl.get("Name") == "Causality (5-point scale)"
    assert cl.get("DataType") == "text"
    assert cl.get(f"{{{NS['def']}}}StandardOID") is None      # not CDISC CT
    assert cl.xpath("odm:Alias", namespaces=NS) == []
    # closed list: every term, in the study's order; one decode differs → CodeListItem/Decode
    items = cl.xpath("odm:CodeListItem", namespaces=NS)
    assert [i.get("CodedValue") for i in items] == ["NOT RELATED", "UNLIKELY", "POSSIBLE",
                                                    "PROBABLE", "DEFINITE"]
    assert [i.get("OrderNumber") for i in items] == ["1", "2", "3", "4", "5"]
    decodes = [i.xpath("string(odm:Decode/odm:TranslatedText)", namespaces=NS) for i in items]
    assert decodes == ["NOT RELATED", "UNLIKELY", "POSSIBLE", "PROBABLE", "Definitely related"]
    assert all(i.get(f"{{{NS['def']}}}ExtendedValue") is None for i in items)
    ref = define.xpath("//odm:ItemDef[@OID='IT.AE.AEREL']/odm:CodeListRef", namespaces=NS)
    assert [r.get("CodeListOID") for r in ref] == ["CL.CAUSAL5"]


def test_define_extended_ct_terms_carry_extended_value(define):
    cl = define.xpath("//odm:CodeList[@OID='CL.LOC']", namespaces=NS)[0]
    assert cl.get(f"{{{NS['def']}}}StandardOID") == "STD.CT.SDTM.2025-03-28"
    assert cl.xpath("odm:Alias/@Name", namespaces=NS) == ["C74456"]
    # extensible: the used terms only, CT terms first (LIVER, with its C-code), then the two
    # study terms in the study's order, marked. No decode differs from its value other than
    # by case: EnumeratedItem
    assert cl.xpath("odm:CodeListItem", namespaces=NS) == []
    items = cl.xpath("odm:EnumeratedItem", namespaces=NS)
    assert [(i.get("CodedValue"), i.get(f"{{{NS['def']}}}ExtendedValue"),
             i.xpath("string(odm:Alias/@Name)", namespaces=NS)) for i in items] == [
        ("LIVER", None, "C12392"), ("SKIN OF LEFT FOREARM", "Yes", ""),
        ("PERIHILAR REGION", "Yes", "")]
    ref = define.xpath("//odm:ItemDef[@OID='IT.TU.TULOC']/odm:CodeListRef", namespaces=NS)
    assert [r.get("CodeListOID") for r in ref] == ["CL.LOC"]


def test_sponsor_terms_may_not_replace_cdisc_ct(tmp_path, standards):
    study = STUDY.replace("  TULOC:\n    extends: LOC\n", "  LOC:\n")
    _write(tmp_path, {"study.yaml": study, "sdtm/ae.yaml": AE,
                      "sdtm/tu.yaml": TU.replace("codelist: TULOC", "codelist: LOC"),
                      "sdtm/tr.yaml": TR})
    loaded = load_study(tmp_path, known_codelists=set(standards.codelists))
    with pytest.raises(SpecError, match=r"LOC is a CDISC CT codelist.*extends: LOC") as err:
        with_study_codelists(standards, loaded)
    assert "study.yaml:" in str(err.value)


def test_only_extensible_ct_can_be_extended(tmp_path, standards):
    _write(tmp_path, {"study.yaml": STUDY.replace("extends: LOC", "extends: NY"),
                      "sdtm/ae.yaml": AE, "sdtm/tu.yaml": TU, "sdtm/tr.yaml": TR})
    loaded = load_study(tmp_path, known_codelists=set(standards.codelists))
    with pytest.raises(SpecError, match="extends 'NY', which is not extensible"):
        with_study_codelists(standards, loaded)


def test_target_and_terms_are_exclusive(tmp_path):
    study = STUDY.replace("    name: Causality (5-point scale)\n",
                          "    name: Causality (5-point scale)\n    target: AEREL\n")
    _write(tmp_path, {"study.yaml": study, "sdtm/ae.yaml": AE, "sdtm/tu.yaml": TU,
                      "sdtm/tr.yaml": TR})
    with pytest.raises(SpecError, match="its own target"):
        load_study(tmp_path)


# --------------------------------------------------------------------------- SUPP--

def test_one_qnam_with_a_value_per_block(mapped):
    _, _, result, _ = mapped
    supp = result.supp["SUPPAE"]
    # AESEQ by AETERM within subject: 001 Headache 1, Nausea 2, Sepsis 3; 002 Rash 1
    assert _rows(supp, "USUBJID", "IDVARVAL", "QNAM", "QLABEL", "QVAL", "QORIG") == [
        ("EDC-001", "1", "AERELNY", "Causality Yes/No", "N", "DERIVED"),
        ("EDC-001", "2", "AEOTHSP", "Other Action Taken Specify", "Dose delayed", "CRF"),
        ("EDC-001", "2", "AERELNY", "Causality Yes/No", "Y", "DERIVED"),
        ("EDC-001", "3", "AEOTHSP", "Other Action Taken Specify", "Hospitalised", "CRF"),
        ("EDC-002", "1", "AERELNY", "Causality Yes/No", "Y", "DERIVED")]


def test_define_describes_a_per_block_qnam_once(define):
    method = define.xpath("//odm:MethodDef[@OID='MT.SUPPAE.QVAL.AERELNY']", namespaces=NS)
    assert len(method) == 1
    refs = define.xpath("//def:ValueListDef[@OID='VL.SUPPAE.QVAL']/odm:ItemRef/@ItemOID",
                        namespaces=NS)
    assert refs == ["IT.SUPPAE.QVAL.AEOTHSP", "IT.SUPPAE.QVAL.AERELNY"]


def test_supp_value_and_values_are_exclusive(tmp_path):
    ae = AE.replace("    values:\n      ae log: {take: ACNOTH}\n",
                    "    value: {take: ACNOTH}\n    values:\n      ae log: {take: ACNOTH}\n")
    _write(tmp_path, {"study.yaml": STUDY, "sdtm/ae.yaml": ae, "sdtm/tu.yaml": TU,
                      "sdtm/tr.yaml": TR})
    with pytest.raises(SpecError, match="exactly one of 'value'"):
        load_study(tmp_path)


def test_supp_values_name_existing_blocks(tmp_path):
    ae = AE.replace("      serious ae form: {take: SAE_ACN_SP}", "      sae form: {take: X}")
    _write(tmp_path, {"study.yaml": STUDY, "sdtm/ae.yaml": ae, "sdtm/tu.yaml": TU,
                      "sdtm/tr.yaml": TR})
    with pytest.raises(SpecError, match="no block named 'sae form'") as err:
        load_study(tmp_path)
    assert "ae.yaml:" in str(err.value)


# --------------------------------------------------------------------------- visits

def test_visits_from_the_export_fields(mapped):
    _, _, result, _ = mapped
    tu = result.domains["TU"]
    # Screening: 0; Cycle 2: FolderSeq 3; Unscheduled on 2020-02-10: the calendar — last
    # scheduled visit on or before it is Cycle 2 (3) → 3.01
    assert _rows(tu, "TULNKID", "VISIT", "VISITNUM") == [
        ("T01", "SCREENING", 0.0), ("T02", "CYCLE 2", 3.0), ("T03", "UNSCHEDULED", 3.01)]


def test_visit_rules_inside_when_and_the_calendar_across_domains(mapped):
    _, _, result, _ = mapped
    tr = result.domains["TR"].sort_values("TRDTC")
    # Cycle 2 → 3; unscheduled 2020-02-10 → 3.01 as in TU; unscheduled Rave instance 2 of
    # FolderSeq 5 → 5 + 2/100 = 5.02 (the rule's own number, not the calendar); unscheduled
    # 2020-02-20 → the 2nd unscheduled date after Cycle 2 → 3.02; Central review → 90
    assert _rows(tr, "TRDTC", "VISIT", "VISITNUM") == [
        ("2020-02-01", "CYCLE 2", 3.0), ("2020-02-10", "UNSCHEDULED", 3.01),
        ("2020-02-15", "UNSCHEDULED 2", 5.02), ("2020-02-20", "UNSCHEDULED", 3.02),
        ("2020-03-01", "CENTRAL REVIEW", 90.0)]


def test_visit_expression_may_not_read_sdtm_variables(tmp_path):
    study = STUDY.replace('visitnum: {expr: "FolderSeq"}', 'visitnum: {expr: "var(TUSEQ)"}')
    _write(tmp_path, {"study.yaml": study, "sdtm/ae.yaml": AE, "sdtm/tu.yaml": TU,
                      "sdtm/tr.yaml": TR})
    with pytest.raises(SpecError, match="read raw fields only"):
        load_study(tmp_path)


def test_visitnum_expression_giving_text_is_refused(tmp_path):
    study = STUDY.replace('visitnum: {expr: "FolderSeq"}',
                          "visitnum: {expr: \"'C' + FolderSeq\"}")
    _write(tmp_path, {"study.yaml": study, "sdtm/ae.yaml": AE, "sdtm/tu.yaml": TU,
                      "sdtm/tr.yaml": TR})
    with pytest.raises(SpecError, match="gives text; VISITNUM is a number"):
        load_study(tmp_path)
