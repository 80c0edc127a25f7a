"""The demo run writes ADAE, ADEX and ADTR next to ADSL/ADRS/ADTTE and lists them in
adam/define.xml with their ADaM class (OCCDS for ADAE, BDS for ADEX/ADTR)."""

from __future__ import annotations

import pyreadstat
import pytest
from lxml import etree

from cdiscmap.pipeline.run import RunOptions, bundled_studies_dir, run_study
from cdiscmap.synth import generate

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    root = tmp_path_factory.mktemp("adam-safety")
    generate("crizotinib-basket", root / "export", n_subjects=12, seed=7)
    result = run_study(RunOptions(study_dir=bundled_studies_dir() / "crizotinib-basket",
                                  raw_dir=root / "export" / "raw", out_root=root / "out"))
    return result.out_dir, result


def test_files_written_and_listed_in_define(package):
    out_dir, _ = package
    adam = out_dir / "adam"
    for name in ("adae", "adex", "adtr"):
        assert (adam / f"{name}.xpt").is_file(), name
    tree = etree.parse(str(adam / "define.xml"))
    classes = {g.get("Name"): g.find("def:Class", NS).get("Name")
               for g in tree.xpath("//odm:ItemGroupDef", namespaces=NS)}
    assert classes["ADAE"] == "OCCURRENCE DATA STRUCTURE"
    assert classes["ADEX"] == "BASIC DATA STRUCTURE"
    assert classes["ADTR"] == "BASIC DATA STRUCTURE"


def test_written_values_are_consistent(package):
    out_dir, result = package
    adae, _ = pyreadstat.read_xport(str(out_dir / "adam" / "adae.xpt"))
    assert {"TRTEMFL", "ASTDT", "ATOXGRN", "AOCCPIFL", "RELGR1"} <= set(adae.columns)
    assert set(adae["TRTEMFL"].unique()) <= {"Y", ""}
    # one worst-grade record per subject among the treatment-emergent ones
    flagged = adae[adae["AOCCIFL"] == "Y"]
    assert flagged["USUBJID"].is_unique
    assert set(flagged["TRTEMFL"]) == {"Y"}
    adex, _ = pyreadstat.read_xport(str(out_dir / "adam" / "adex.xpt"))
    # the basket study doses in mg (planned 250 mg BID): no mg/m2 parameters
    summaries = adex.loc[adex["PARCAT1"] == "OVERALL", "PARAMCD"]
    assert set(summaries) == {"TRTDURD", "CUMDOSE", "DOSEINT", "RDI"}
    # admiral ad_adex.R per-record parameters: one record per EX record each
    records = adex.loc[adex["PARCAT1"] == "INDIVIDUAL"]
    assert set(records["PARAMCD"]) == {"DURD", "DOSE", "ADJ", "ADJAE"}
    assert (records.groupby("PARAMCD").size().nunique()) == 1
    rdi = adex.loc[adex["PARAMCD"] == "RDI", "AVAL"]
    assert rdi.notna().all() and (rdi > 0).all()
    adtr, _ = pyreadstat.read_xport(str(out_dir / "adam" / "adtr.xpt"))
    # SDIAM and admiralonco's per-lesion LDIAMn (longest diameter of target lesion n)
    assert "SDIAM" in set(adtr["PARAMCD"])
    assert all(c == "SDIAM" or c.startswith(("LDIAM", "NLDIAM")) for c in adtr["PARAMCD"])
    assert adtr.loc[adtr["PARAMCD"] != "SDIAM", "ABLFL"].eq("").all()
    assert (adtr.loc[adtr["ABLFL"] == "Y", "USUBJID"]).is_unique
    assert (adtr.loc[adtr["ANL02FL"] == "Y", "USUBJID"]).is_unique


def test_gist_questionnaire_scores_written_and_listed(tmp_path):
    generate("gist-imatinib", tmp_path / "export", n_subjects=8, seed=7)
    result = run_study(RunOptions(study_dir=bundled_studies_dir() / "gist-imatinib",
                                  raw_dir=tmp_path / "export" / "raw", out_root=tmp_path / "out"))
    adam = result.out_dir / "adam"
    tree = etree.parse(str(adam / "define.xml"))
    assert tree.xpath("//odm:ItemGroupDef[@Name='ADQS']", namespaces=NS)
    adqs, _ = pyreadstat.read_xport(str(adam / "adqs.xpt"))
    assert set(adqs["PARAMCD"]) <= {f"EOR01{n}" for n in range(31, 46)}
    assert adqs["AVAL"].between(0, 100).all()
    assert not [f for f in result.findings.items
                if f.dataset == "ADQS" and f.severity.name == "ERROR"]
