"""define.xml for the demo study, cross-checked against the XPT files the run wrote.

The XPT side is read back with pyreadstat (an independent reader), so every name, label, length
and type in the define is compared with what a reviewer's tool would see.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pyreadstat
import pytest
from lxml import etree

from cdiscmap.emit.define import define_xsd_path, write_define
from cdiscmap.findings import Findings
from cdiscmap.pipeline.adam_step import ADAM_ORDER, derive_and_check
from cdiscmap.pipeline.run import RunOptions, default_study_dir, run_study, study_standards
from cdiscmap.synth import generate

SUBJECTS = 150
SEED = 20140701
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1",
      "xlink": "http://www.w3.org/1999/xlink"}
ISO8601 = {"date", "datetime", "partialDate", "partialDatetime", "incompleteDatetime",
           "intervalDatetime", "durationDatetime"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("define-demo")
    generate("crizotinib-basket", root / "export", n_subjects=SUBJECTS, seed=SEED)
    result = run_study(RunOptions(study_dir=default_study_dir(), raw_dir=root / "export" / "raw",
                                  out_root=root / "out"))
    # the study's standards as the run builds them: custom domains and study codelists (LBCAT)
    standards, study = study_standards(default_study_dir())
    sdtm = {**result.sdtm.domains, **result.sdtm.supp}
    adam = {name: result.datasets[name] for name in ADAM_ORDER if name in result.datasets}
    methods = getattr(result, "adam_methods", None)
    if not methods:   # older RunResult without the ADaM methods: derive them again
        _, methods = derive_and_check(sdtm, default_study_dir(), standards, Findings())
    created = datetime.fromisoformat(study.study.output_timestamp)
    common = {"standards": standards, "study": study, "origins": result.sdtm.origins,
              "methods": methods, "created": created}
    paths = {
        "SDTM": write_define(result.out_dir / "sdtm", kind="SDTM", datasets=sdtm, **common),
        "ADaM": write_define(result.out_dir / "adam", kind="ADaM", datasets=adam, **common),
    }
    return result, paths, common, sdtm, adam


def _tree(path: Path) -> etree._ElementTree:
    return etree.parse(str(path))


def test_both_defines_validate_against_the_schema(demo):
    _, paths, *_ = demo
    schema = etree.XMLSchema(etree.parse(str(define_xsd_path())))
    for xml_path, html_path in paths.values():
        assert schema.validate(_tree(xml_path)), schema.error_log
        assert html_path.stat().st_size > 10_000


@pytest.mark.parametrize("kind", ["SDTM", "ADaM"])
def test_every_xpt_variable_matches_its_item_def(demo, kind):
    result, paths, *_ = demo
    tree = _tree(paths[kind][0])
    folder = paths[kind][0].parent
    xpts = sorted(folder.glob("*.xpt"))
    groups = tree.xpath("//odm:ItemGroupDef", namespaces=NS)
    assert sorted(g.get("Name") for g in groups) == sorted(p.stem.upper() for p in xpts)
    checked = 0
    for path in xpts:
        _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
        name = path.stem.upper()
        group = tree.xpath(f"//odm:ItemGroupDef[@Name='{name}']", namespaces=NS)[0]
        assert group.xpath("string(def:leaf/@xlink:href)", namespaces=NS) == path.name
        refs = group.xpath("odm:ItemRef/@ItemOID", namespaces=NS)
        assert refs == [f"IT.{name}.{v}" for v in meta.column_names], name
        for variable, label in zip(meta.column_names, meta.column_labels, strict=True):
            item = tree.xpath(f"//odm:ItemDef[@OID='IT.{name}.{variable}']", namespaces=NS)
            assert len(item) == 1, (name, variable)
            item = item[0]
            assert item.get("Name") == variable
            assert item.xpath("string(odm:Description/odm:TranslatedText)",
                              namespaces=NS) == label, (name, variable)
            data_type = item.get("DataType")
            xpt_type = meta.readstat_variable_types[variable]
            width = meta.variable_storage_width[variable]
            if data_type in ISO8601:
                # Define-XML 2.1: ISO 8601 types carry no Length (P21 DD0068); text in XPT
                assert xpt_type == "string" and item.get("Length") is None, (name, variable)
            else:
                assert item.get("Length") == str(width), (name, variable)
                assert (data_type == "text") == (xpt_type == "string"), (name, variable)
                assert data_type in ("text", "integer", "float"), (name, variable)
            checked += 1
    assert checked > 100 if kind == "SDTM" else checked > 50


def test_codelists_cover_the_values_of_their_variables(demo):
    """Every value of a variable with a listed codelist appears among its coded values."""
    _, paths, _, sdtm, adam = demo
    for kind, frames in (("SDTM", sdtm), ("ADaM", adam)):
        tree = _tree(paths[kind][0])
        lists = {cl.get("OID"): cl for cl in tree.xpath("//odm:CodeList", namespaces=NS)}
        for name, frame in frames.items():
            for ref in tree.xpath(f"//odm:ItemDef[starts-with(@OID, 'IT.{name}.')]"
                                  "/odm:CodeListRef", namespaces=NS):
                item = ref.getparent()
                oid = item.get("OID")
                if oid.count(".") != 2:
                    continue                      # value-level items: checked below
                codelist = lists[ref.get("CodeListOID")]
                if codelist.xpath("odm:ExternalCodeList", namespaces=NS):
                    continue
                coded = set(codelist.xpath("*/@CodedValue"))
                values = set(frame[item.get("Name")].dropna().astype(str).str.strip())
                assert values <= coded, (oid, values - coded)


def test_value_level_metadata_of_the_tumour_domains(demo):
    _, paths, *_ = demo
    sdtm = _tree(paths["SDTM"][0])
    lists = {vl.get("OID"): vl.xpath("odm:ItemRef/@ItemOID", namespaces=NS)
             for vl in sdtm.xpath("//def:ValueListDef", namespaces=NS)}
    assert lists["VL.TR.TRSTRESC"] == ["IT.TR.TRSTRESC.TUMSTATE",
                                       "IT.TR.TRSTRESC.LDIAM.LPERP.SUMDIAM"]
    assert lists["VL.TR.TRSTRESN"] == ["IT.TR.TRSTRESN.LDIAM.LPERP.SUMDIAM"]
    assert lists["VL.RS.RSSTRESC"] == ["IT.RS.RSSTRESC.OVRLRESP.TRGRESP.NTRGRESP",
                                       "IT.RS.RSSTRESC.NEWLPROG"]
    assert sorted(lists["VL.SUPPDM.QVAL"]) == [f"IT.SUPPDM.QVAL.{q}" for q in
                                               ("COHORT", "GENALT", "PATHOL", "RACEOTH")]
    newlprog = sdtm.xpath("//odm:ItemDef[@OID='IT.RS.RSSTRESC.NEWLPROG']/odm:CodeListRef"
                          "/@CodeListOID", namespaces=NS)
    assert newlprog == ["CL.NY"]
    adam = _tree(paths["ADaM"][0])
    adrs = adam.xpath("//def:ValueListDef[@OID='VL.ADRS.AVALC']/odm:ItemRef", namespaces=NS)
    assert "IT.ADRS.AVALC.OVR" in [r.get("ItemOID") for r in adrs]
    ovr = [r for r in adrs if r.get("ItemOID") == "IT.ADRS.AVALC.OVR"][0]
    assert ovr.get("MethodOID") == "MT.ADRS.PARAMCD.OVR"
    tte = adam.xpath("//def:ValueListDef[@OID='VL.ADTTE.CNSR']/odm:ItemRef/@ItemOID",
                     namespaces=NS)
    assert tte == [f"IT.ADTTE.CNSR.{p}" for p in ("DOR", "OS", "PFS", "TTP")]


def test_derived_variables_have_methods_with_their_spec_location(demo):
    _, paths, *_ = demo
    tree = _tree(paths["SDTM"][0])
    methods = {m.get("OID") for m in tree.xpath("//odm:MethodDef", namespaces=NS)}
    checked = 0
    for item in tree.xpath("//odm:ItemDef[def:Origin/@Type='Derived']", namespaces=NS):
        if item.xpath("def:ValueListRef", namespaces=NS):
            continue        # described per value: its value-level items carry the methods
        refs = tree.xpath(f"//odm:ItemRef[@ItemOID='{item.get('OID')}']", namespaces=NS)
        assert len(refs) == 1, item.get("OID")
        assert refs[0].get("MethodOID") in methods, item.get("OID")
        checked += 1
    assert checked >= 40      # --SEQ, --DY, EPOCH, USUBJID, reference dates, ...
    for ref in tree.xpath("//def:ValueListDef/odm:ItemRef", namespaces=NS):
        item = tree.xpath(f"//odm:ItemDef[@OID='{ref.get('ItemOID')}']", namespaces=NS)[0]
        if item.xpath("def:Origin/@Type", namespaces=NS) == ["Derived"]:
            assert ref.get("MethodOID") in methods, ref.get("ItemOID")
    # the line of AESTDY in ae.yaml, found by reading the file here
    ae_yaml = (default_study_dir() / "sdtm" / "ae.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(ae_yaml, start=1)
                if re.match(r"\s+AESTDY:", text))
    text = tree.xpath("string(//odm:MethodDef[@OID='MT.AE.AESTDY']/odm:Description"
                      "/odm:TranslatedText)", namespaces=NS)
    assert text.startswith("study_day of AESTDTC")
    assert "SDTMIG 3.4 §4.4.4" in text
    assert text.endswith(f"mappings/crizotinib-basket/sdtm/ae.yaml:{line}")


def test_rewriting_gives_identical_bytes(demo, tmp_path):
    _, paths, common, sdtm, _ = demo
    again = write_define(tmp_path, kind="SDTM", datasets=sdtm, **common)
    assert again[0].read_bytes() == paths["SDTM"][0].read_bytes()
    assert again[1].read_bytes() == paths["SDTM"][1].read_bytes()
