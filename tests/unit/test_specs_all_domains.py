"""All of SDTMIG 3.4 in specs/: every dataset, its class and keys, its pandera schema, its CT;
and custom domains built from their class.

Expected values were read by hand from the reference tables (sdtmig_3.4_datasets.csv,
sdtmig_3.4_variables.csv, sdtm_ct_codelists.csv), not produced by the code under test.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from cdiscmap.checks.schema import build_schema, check_dataset
from cdiscmap.errors import StandardsError
from cdiscmap.standards import Standards, load_standards
from cdiscmap.standards.classes import day_pairs, ig_class
from cdiscmap.standards.custom import CustomDomain, custom_dataset, with_custom_domains

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
REFERENCE = REPO.parent / "shared" / "reference"
SDTMIG_DATASETS = 63          # PROVENANCE.md: "1,917 (63 datasets)"


@pytest.fixture(scope="module")
def std() -> Standards:
    return load_standards(SPECS)


def _sdtm(std: Standards) -> dict[str, object]:
    return {n: d for n, d in std.datasets.items() if d.standard == "SDTMIG 3.4"}


def test_every_sdtmig_dataset_is_in_specs(std: Standards) -> None:
    sdtm = _sdtm(std)
    assert len(sdtm) == SDTMIG_DATASETS
    if (REFERENCE / "ig").is_dir():
        with (REFERENCE / "ig" / "sdtmig_3.4_datasets.csv").open(encoding="utf-8") as handle:
            table = {row["dataset"]: row for row in csv.DictReader(handle)}
        assert set(sdtm) == set(table)
        for name, row in table.items():
            assert std.dataset(name).label == row["label"], name
            assert ig_class(std.dataset(name).class_name, std.dataset(name).subclass) == \
                row["class"], name


def test_each_dataset_has_class_keys_and_ordered_variables(std: Standards) -> None:
    for name, dataset in _sdtm(std).items():
        assert ig_class(dataset.class_name, dataset.subclass) is not None, name
        assert dataset.keys and dataset.keys[0] == "STUDYID", name
        assert set(dataset.keys) <= set(dataset.names()), name
        orders = [v.order for v in dataset.variables]
        assert orders == list(range(1, len(orders) + 1)), name


def test_class_values_and_keys_read_from_the_ig(std: Standards) -> None:
    # sdtmig_3.4_datasets.csv: FA "Findings About", OI "Study Reference", CM "Interventions".
    fa = std.dataset("FA")
    assert (fa.class_name, fa.subclass) == ("FINDINGS", "FINDINGS ABOUT")
    assert fa.keys == ["STUDYID", "USUBJID", "FATESTCD", "FAOBJ", "VISITNUM", "FASEQ"]
    assert std.dataset("OI").class_name == "STUDY REFERENCE"
    assert std.dataset("RELREC").class_name == "RELATIONSHIP"
    assert std.dataset("CM").keys == ["STUDYID", "USUBJID", "CMTRT", "CMSTDTC", "CMSEQ"]
    assert std.dataset("MH").keys == ["STUDYID", "USUBJID", "MHTERM", "MHSTDTC", "MHSEQ"]
    assert std.dataset("LB").keys == ["STUDYID", "USUBJID", "LBTESTCD", "LBSPEC", "VISITNUM",
                                      "LBTPTREF", "LBTPTNUM", "LBSEQ"]
    assert std.dataset("TA").keys == ["STUDYID", "ARMCD", "TAETORD"]
    lb = std.dataset("LB")
    assert (len(lb.variables), lb.names()[:4]) == (62, ["STUDYID", "DOMAIN", "USUBJID", "LBSEQ"])
    assert lb.variable("LBTESTCD").codelist == "LBTESTCD"
    assert lb.variable("LBORRESU").codelist == "UNIT"
    # Unchanged for the datasets cdiscmap maps: hand-chosen keys (tools/build_specs.py).
    assert std.dataset("AE").keys == ["STUDYID", "USUBJID", "AEDECOD", "AESTDTC", "AESEQ"]


def test_every_referenced_codelist_exists(std: Standards) -> None:
    named = {c for d in _sdtm(std).values() for v in d.variables for c in v.codelists}
    assert len(named) == 146
    assert named <= set(std.codelists)
    assert std.codelist("LBTESTCD").code == "C65047"
    # MS.MSRESCAT names C85495, absent from SDTM CT 2025-03-28 (PROVENANCE.md): no codelist.
    assert std.dataset("MS").variable("MSRESCAT").codelist is None


def test_pandera_schema_builds_for_every_dataset(std: Standards) -> None:
    for name, dataset in std.datasets.items():
        schema = build_schema(dataset, std)
        assert set(dataset.names()) <= set(schema.columns), name


def test_a_generic_findings_domain_is_checked_from_specs(std: Standards) -> None:
    vs = pd.DataFrame({
        "STUDYID": ["S1", "S1"], "DOMAIN": ["VS", "VS"], "USUBJID": ["S1-001", "S1-001"],
        "VSSEQ": [1.0, 2.0], "VSTESTCD": ["SYSBP", "PULSE"],
        "VSTEST": ["Systolic Blood Pressure", "Pulse Rate"], "VSORRES": ["120", "72"],
        "VSORRESU": ["mmHg", "BPM"], "VSSTRESC": ["120", "72"],
        "VSSTRESN": [120.0, 72.0], "VSSTRESU": ["mmHg", "beats/min"], "VISITNUM": [1.0, 1.0],
        "VSDTC": ["2024-01-05", "2024-13-05"],
    })
    findings = check_dataset(vs, std.dataset("VS"), std)
    rules = {(f.rule, f.variable, f.value) for f in findings}
    assert ("CMAP-SD0007", "VSDTC", "2024-13-05") in rules          # month 13
    # "BPM" is a synonym, not the VSRESU term (beats/min); VSRESU is extensible: a notice
    assert ("CMAP-SD0006", "VSORRESU", "BPM") in rules
    assert not any(f.variable == "VSTESTCD" for f in findings)   # both in VSTESTCD


def test_custom_findings_domain_from_the_class(std: Standards) -> None:
    xp = custom_dataset(std, CustomDomain("XP", "Findings", "Pain Scores",
                                          labels={"XPTESTCD": "Pain Test Short Name"}))
    assert (xp.class_name, xp.subclass, xp.standard) == ("FINDINGS", None, "SDTMIG 3.4")
    names = xp.names()
    assert names[:4] == ["STUDYID", "DOMAIN", "USUBJID", "XPSEQ"]
    for var in ("XPTESTCD", "XPTEST", "XPORRES", "XPORRESU", "XPSTRESC", "XPSTRESN",
                "XPSTRESU", "XPSTAT", "XPDTC", "XPDY", "VISITNUM"):
        assert var in names, var
    assert not any(n.startswith("LB") for n in names)
    assert xp.variable("DOMAIN").value_list == ["XP"]
    assert xp.variable("XPTESTCD").label == "Pain Test Short Name"
    assert (xp.variable("XPTESTCD").core, xp.variable("XPTESTCD").codelist) == ("Req", None)
    assert xp.variable("XPORRESU").codelist == "UNIT"          # class-wide, kept
    assert xp.variable("XPSTAT").codelist == "ND"
    assert xp.keys == ["STUDYID", "USUBJID", "XPTESTCD", "XPSPEC", "VISITNUM", "XPTPTREF",
                       "XPTPTNUM", "XPSEQ"]
    assert day_pairs(names, "XP") == [("XPDTC", "XPDY"), ("XPENDTC", "XPENDY")]
    build_schema(xp, std)


def test_custom_events_and_interventions_and_like(std: Standards) -> None:
    study = with_custom_domains(std, [
        CustomDomain("XE", "Events", "Sponsor Events"),
        CustomDomain("YI", "Interventions", "Sponsor Procedures", like="PR"),
        CustomDomain("ZF", "Findings About", "Sponsor Findings About"),
    ])
    assert "XE" not in std.datasets
    xe, yi, zf = study.dataset("XE"), study.dataset("YI"), study.dataset("ZF")
    assert xe.keys == ["STUDYID", "USUBJID", "XETERM", "XESTDTC", "XESEQ"]
    assert xe.class_name == "EVENTS"
    assert yi.keys == ["STUDYID", "USUBJID", "YITRT", "YISTDTC", "YISEQ"]
    assert len(yi.variables) == len(std.dataset("PR").variables)
    assert (zf.class_name, zf.subclass) == ("FINDINGS", "FINDINGS ABOUT")
    assert "ZFOBJ" in zf.names()


@pytest.mark.parametrize(("spec", "message"), [
    (CustomDomain("LB", "Findings", "x"), "already a SDTMIG 3.4 dataset"),
    (CustomDomain("xp", "Findings", "x"), "two upper-case"),
    (CustomDomain("XT", "Trial Design", "x"), "not a general observation class"),
    (CustomDomain("XP", "Findings", "x", like="CM"), "like CM is of class Interventions"),
    (CustomDomain("XP", "Findings", "x", labels={"XPFOO": "Foo"}), "labels for XPFOO"),
    (CustomDomain("XP", "Findings", "x", labels={"XPTEST": "L" * 41}), "longer than 40"),
])
def test_custom_domain_errors_are_one_line(std: Standards, spec: CustomDomain,
                                           message: str) -> None:
    with pytest.raises(StandardsError, match=message) as info:
        custom_dataset(std, spec)
    assert "\n" not in str(info.value)
