"""Conformance defects an outside validator (CDISC CORE, full 2025-03-28 CT) found in cdiscmap's
output (issue 10 §3), one class per section: each defect is rebuilt on a hand-made frame and
caught by a rule of ``cdiscmap validate``, and the demo run's output no longer has it.

The demo run is a 30-subject export of the basket study (seed 1): it holds subjects still on
treatment at the cut-off (RFXENDTC null), deaths with a partial death-form date, lesions with a
side and liver segments, and every SUPP-- dataset, so none of the demo checks is vacuous.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from cdiscmap.checks.crossdomain import check_sdtm_cross
from cdiscmap.checks.define_rules import check_define, read_define
from cdiscmap.checks.read import read_json_dataset
from cdiscmap.checks.schema import check_dataset
from cdiscmap.emit.attributes import metadata_for, ordered_columns
from cdiscmap.emit.datasetjson import write_dataset_json
from cdiscmap.findings import Finding, Severity, fold
from cdiscmap.pipeline.run import RunOptions, RunResult, run_study
from cdiscmap.resources import studies_root
from cdiscmap.standards import load_standards
from cdiscmap.synth import generate
from cdiscmap.validation.folder import validate_folder

STANDARDS = load_standards()
CREATED = datetime(2026, 1, 1)


def S(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def rules(findings: list[Finding]) -> list[str]:
    return sorted(f.rule for f in findings)


# ============================================================================================
# The demo run
# ============================================================================================
@pytest.fixture(scope="module")
def demo_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("conformance")
    generate("crizotinib-basket", root / "export", n_subjects=30, seed=1)
    return root / "export" / "raw"


@pytest.fixture(scope="module")
def demo(demo_raw: Path) -> RunResult:
    return run_study(RunOptions(study_dir=studies_root() / "crizotinib-basket",
                                raw_dir=demo_raw, out_root=demo_raw.parent.parent / "out",
                                formats="both"))


@pytest.fixture(scope="module")
def demo_validation(demo: RunResult):
    return validate_folder(demo.out_dir)


def sdtm(demo: RunResult, name: str) -> pd.DataFrame:
    frame = demo.datasets[name]
    return frame.replace("", pd.NA) if frame is not None else frame


# ============================================================================================
# 1. EPOCH on the records of subjects still on treatment
# ============================================================================================
def dm_frame(**extra: pd.Series) -> pd.DataFrame:
    base = {"STUDYID": S("X", "X"), "DOMAIN": S("DM", "DM"), "USUBJID": S("X-1", "X-2"),
            "RFSTDTC": S("2020-01-10", "2020-02-01"), "RFXSTDTC": S("2020-01-10", "2020-02-01"),
            "RFXENDTC": S(pd.NA, "2020-05-01")}
    base.update(extra)
    return pd.DataFrame(base)


def test_null_epoch_on_a_complete_date_of_a_treated_subject_is_xd0010() -> None:
    # X-1 is still on treatment (RFXENDTC null): the mapping left EPOCH null on 2020-03-05;
    # a partial date (2020-04) has no epoch to find and is not a finding
    ae = pd.DataFrame({"USUBJID": S("X-1", "X-1", "X-2"), "AESEQ": [1.0, 2.0, 1.0],
                       "AESTDTC": S("2020-03-05", "2020-04", "2020-03-01"),
                       "EPOCH": S(pd.NA, pd.NA, "TREATMENT")})
    found = [f for f in check_sdtm_cross({"DM": dm_frame(), "AE": ae}) if f.rule == "CMAP-XD0010"]
    assert [(f.dataset, f.usubjid, f.variable, f.value, f.severity) for f in found] == [
        ("AE", "X-1", "EPOCH", "2020-03-05", Severity.WARNING)]


def ongoing_subjects(demo: RunResult) -> pd.Index:
    """Subjects whose latest EX record (by EXSTDTC) is open: still on treatment at the cut-off."""
    ex = sdtm(demo, "EX").sort_values(["USUBJID", "EXSTDTC"])
    last = ex.groupby("USUBJID").tail(1)
    return pd.Index(last.loc[last["EXENDTC"].isna(), "USUBJID"], name="USUBJID")


def test_an_open_treatment_epoch_runs_to_the_cut_off_in_the_demo(demo: RunResult) -> None:
    dm = sdtm(demo, "DM").set_index("USUBJID")
    ongoing = ongoing_subjects(demo)
    assert len(ongoing) >= 1          # 102-0007 and 103-0013 in this export
    for name, date in (("EX", "EXSTDTC"), ("TR", "TRDTC"), ("RS", "RSDTC"), ("TU", "TUDTC")):
        frame = sdtm(demo, name)
        on = frame[frame["USUBJID"].isin(ongoing)]
        after = on[on[date].str.slice(0, 10) >= on["USUBJID"].map(dm["RFXSTDTC"])]
        assert len(after) > 0, name
        assert set(after["EPOCH"]) == {"TREATMENT"}, name
    assert "CMAP-XD0010" not in rules(list(demo.findings))


# ============================================================================================
# 2. TULOC from the LOC codelist, side and portion in TULAT / TUPORTOT
# ============================================================================================
def test_verbatim_location_with_its_side_is_not_in_loc_sd0006() -> None:
    tu = pd.DataFrame({"STUDYID": S("X", "X"), "DOMAIN": S("TU", "TU"),
                       "USUBJID": S("X-1", "X-1"), "TUSEQ": [1.0, 2.0],
                       "TULNKID": S("T01", "T02"), "TUTESTCD": S("TUMIDENT", "TUMIDENT"),
                       "TUTEST": S("Tumor Identification", "Tumor Identification"),
                       "TUORRES": S("TARGET", "TARGET"), "TUSTRESC": S("TARGET", "TARGET"),
                       "TULOC": S("PLEURA LEFT", "PLEURA"), "TULAT": S(pd.NA, "LEFT")})
    found = [f for f in check_dataset(tu, STANDARDS.datasets["TU"], STANDARDS)
             if f.variable == "TULOC"]
    assert [(f.rule, f.value, f.count) for f in found] == [("CMAP-SD0006", "PLEURA LEFT", 1)]


# collected text → TULOC, TULAT, TUPORTOT, checked by hand against CDISC CT LOC, LAT, PORTOT
EXPECTED_LOCATIONS = {
    "PLEURA LEFT": ("PLEURA", "LEFT", None),
    "PLEURA RIGHT": ("PLEURA", "RIGHT", None),
    "LUNG RIGHT LOWER LOBE": ("LUNG, RIGHT LOWER LOBE", "RIGHT", None),
    "LUNG LEFT UPPER LOBE": ("LUNG, LEFT UPPER LOBE", "LEFT", None),
    "KIDNEY LEFT": ("KIDNEY", "LEFT", None),
    "ADRENAL GLAND RIGHT": ("ADRENAL GLAND", "RIGHT", None),
    "LIVER SEGMENT VI": ("LIVER", None, "SEGMENT"),
    "LYMPH NODE INGUINAL": ("INGUINAL LYMPH NODE", None, None),
    "LYMPH NODE HILAR": ("HILAR LYMPH NODE", None, None),
    "BRAIN FRONTAL LOBE": ("FRONTAL LOBE", None, None),
    "PERITONEUM LEFT FLANK": ("PERITONEUM", "LEFT", None),
    "PERITONEUM OMENTUM": ("OMENTUM", None, None),
    "SOFT TISSUE ABDOMINAL WALL": ("ABDOMINAL WALL", None, None),
    "SOFT TISSUE PARAVERTEBRAL": ("PARAVERTEBRAL SOFT TISSUE", None, None),
    "BONE PELVIS": ("PELVIC BONE", None, None),
    "BONE THORACIC SPINE": ("THORACIC SPINE", None, None),
}


def _collected_target_locations(raw: Path) -> pd.DataFrame:
    """(SUBJECT, TULNKID, text) of the baseline target lesions in tl.csv."""
    tl = pd.read_csv(raw / "tl.csv", dtype=str)
    tl = tl[tl["VISIT"] == "Baseline"]
    parts = [tl[["SUBJECT", f"TL{k}_ID", f"TL{k}_LOC"]].set_axis(["SUBJECT", "TULNKID", "TEXT"],
                                                                  axis=1) for k in range(1, 6)]
    return pd.concat(parts).dropna()


def test_demo_locations_are_split_into_loc_lat_portot(demo: RunResult, demo_raw: Path
                                                     ) -> None:
    tu = sdtm(demo, "TU")
    loc = STANDARDS.codelists["LOC"].values() | {"PARAVERTEBRAL SOFT TISSUE"}   # LOCEXT
    assert set(tu["TULOC"].dropna()) <= loc
    assert set(tu["TULAT"].dropna()) <= STANDARDS.codelists["LAT"].values()
    assert set(tu["TUPORTOT"].dropna()) <= STANDARDS.codelists["PORTOT"].values()
    collected = _collected_target_locations(demo_raw)
    collected["USUBJID"] = "CRZBASKET-" + collected["SUBJECT"]
    targets = tu[tu["TUSTRESC"] == "TARGET"].merge(collected, on=["USUBJID", "TULNKID"])
    assert len(targets) == (tu["TUSTRESC"] == "TARGET").sum()
    seen = {}
    for row in targets.itertuples():
        got = tuple(None if pd.isna(v) else v for v in (row.TULOC, row.TULAT, row.TUPORTOT))
        seen.setdefault(row.TEXT, set()).add(got)
    checked = {text: seen[text] for text in EXPECTED_LOCATIONS if text in seen}
    assert len(checked) >= 8           # the export draws most of the locations
    assert checked == {text: {EXPECTED_LOCATIONS[text]} for text in checked}


def test_the_run_reports_no_location_outside_loc(demo: RunResult,
                                                  demo_validation) -> None:
    assert not [f for f in demo.findings if f.variable in ("TULOC", "TULAT", "TUPORTOT")]
    # validate has no study.yaml: the sponsor term of LOCEXT is the one notice left
    outside = [f for f in demo_validation.findings if f.variable == "TULOC"]
    assert [(f.rule, f.value) for f in outside] in ([], [("CMAP-SD0006",
                                                          "PARAVERTEBRAL SOFT TISSUE")])


# ============================================================================================
# 3. SUPP-- ItemGroupDef Domain is the parent domain
# ============================================================================================
DEFINE_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v2.1"
     FileOID="F" FileType="Snapshot" ODMVersion="1.3.2">
 <Study OID="ST1">
  <MetaDataVersion OID="MDV.ST1.SDTMIG.3.4" Name="m">
   <ItemGroupDef OID="IG.SUPPAE" Domain="{domain}" Name="SUPPAE" Repeating="Yes">
    <Description><TranslatedText xml:lang="en">Supplemental Qualifiers for AE</TranslatedText>
    </Description>
   </ItemGroupDef>
  </MetaDataVersion>
 </Study>
</ODM>
"""


@pytest.mark.parametrize(("domain", "expected"), [("SUPPAE", ["CMAP-DF0011"]), ("AE", [])])
def test_supp_item_group_domain_must_be_the_parent(tmp_path: Path, domain: str,
                                                   expected: list[str]) -> None:
    path = tmp_path / "define.xml"
    path.write_text(DEFINE_TEMPLATE.format(domain=domain), encoding="utf-8")
    found = check_define(read_define(path), {}, "define.xml")
    assert [f.rule for f in found if f.rule == "CMAP-DF0011"] == expected


def test_demo_define_names_the_parent_of_each_supp(demo: RunResult, demo_validation) -> None:
    define = read_define(demo.out_dir / "sdtm" / "define.xml")
    supp = {n: d.domain for n, d in define.datasets.items() if n.startswith("SUPP")}
    assert {"SUPPAE", "SUPPDM", "SUPPTR"} <= set(supp)
    assert supp == {name: name[4:] for name in supp}
    assert define.datasets["AE"].domain == "AE"
    assert "CMAP-DF0011" not in rules(list(demo_validation.findings))


# ============================================================================================
# 4. Dataset-JSON studyOID / metaDataVersionOID / metaDataRef name the define.xml
# ============================================================================================
def _json_dm(folder: Path, **header: str) -> Path:
    frame = dm_frame()
    columns = ordered_columns(frame, metadata_for(STANDARDS, "DM"))
    return write_dataset_json(folder / "dm.json", frame, dataset_name="DM",
                              dataset_label="Demographics", columns=columns, keys=[],
                              created=CREATED, **header)


def test_dataset_json_oids_that_differ_from_the_define_are_df0012(tmp_path: Path,
                                                                  demo: RunResult) -> None:
    define = read_define(demo.out_dir / "sdtm" / "define.xml")
    assert (define.study_oid, define.mdv_oid) == ("CRZBASKET", "MDV.CRZBASKET.SDTMIG.3.4")
    # what the run wrote before: STUDY.<id> and MDV.STUDY.<id>
    path = _json_dm(tmp_path, study_oid="STUDY.CRZBASKET")
    found = check_define(define, {"DM": read_json_dataset(path, tmp_path, tmp_path)},
                         "define.xml")
    assert sorted((f.rule, f.variable, f.value) for f in found if f.rule >= "CMAP-DF0011") == [
        ("CMAP-DF0012", "metaDataVersionOID", "MDV.STUDY.CRZBASKET"),
        ("CMAP-DF0012", "studyOID", "STUDY.CRZBASKET")]
    # a metaDataRef pointing elsewhere than the define.xml that applies
    other = tmp_path / "other"
    other.mkdir()
    path = _json_dm(other, study_oid="CRZBASKET", metadata_version_oid=define.mdv_oid,
                    metadata_ref="../define.xml")
    found = check_define(define, {"DM": read_json_dataset(path, other, other)}, "define.xml")
    assert [(f.rule, f.value) for f in found if f.rule >= "CMAP-DF0011"] == [
        ("CMAP-DF0013", "../define.xml")]


def test_demo_dataset_json_files_name_their_define(demo: RunResult, demo_validation) -> None:
    for kind, mdv in (("sdtm", "MDV.CRZBASKET.SDTMIG.3.4"), ("adam", "MDV.CRZBASKET.ADaMIG.1.3")):
        files = sorted((demo.out_dir / kind).glob("*.json"))
        assert len(files) >= 3
        for path in files:
            header = json.loads(path.read_text(encoding="utf-8"))
            assert (header["studyOID"], header["metaDataVersionOID"],
                    header["metaDataRef"]) == ("CRZBASKET", mdv, "define.xml"), path.name
    found = rules(list(demo_validation.findings))
    assert "CMAP-DF0012" not in found and "CMAP-DF0013" not in found


def test_json_header_is_checked_when_the_xpt_copy_is_the_one_validated(
        tmp_path: Path, demo: RunResult) -> None:
    folder = tmp_path / "pkg"
    folder.mkdir()
    for name in ("define.xml", "ts.xpt", "ts.json"):
        (folder / name).write_bytes((demo.out_dir / "sdtm" / name).read_bytes())
    text = (folder / "ts.json").read_text(encoding="utf-8")
    (folder / "ts.json").write_text(text.replace('"studyOID": "CRZBASKET"',
                                                 '"studyOID": "STUDY.CRZBASKET"'),
                                    encoding="utf-8")
    found = [f for f in validate_folder(folder).findings if f.rule == "CMAP-DF0012"]
    assert [(f.dataset, f.value, f.source) for f in found] == [
        ("TS", "STUDY.CRZBASKET", "ts.json")]


# ============================================================================================
# 5. Death date: DM.DTHDTC agrees with DS death and fatal AE
# ============================================================================================
def test_death_date_that_differs_from_ds_or_fatal_ae_is_xd0011() -> None:
    dm = dm_frame(DTHDTC=S("2018-04", "2020-06-01"))
    ds = pd.DataFrame({"USUBJID": S("X-1", "X-1", "X-2"), "DSSEQ": [1.0, 2.0, 1.0],
                       "DSDECOD": S("COMPLETED", "DEATH", "DEATH"),
                       "DSSTDTC": S("2018-03-01", "2018-04-17", "2020-06-01")})
    ae = pd.DataFrame({"USUBJID": S("X-2", "X-2"), "AESEQ": [1.0, 2.0],
                       "AEOUT": S("FATAL", "RECOVERED/RESOLVED"),
                       "AESTDTC": S("2020-05-20", "2020-05-01"),
                       "AEENDTC": S("2020-06-02", "2020-05-03")})
    found = [f for f in check_sdtm_cross({"DM": dm, "DS": ds, "AE": ae}) if f.rule == "CMAP-XD0011"]
    assert [(f.dataset, f.usubjid, f.variable, f.value) for f in found] == [
        ("DS", "X-1", "DSSTDTC", "2018-04-17 vs DM.DTHDTC 2018-04"),
        ("AE", "X-2", "AEENDTC", "2020-06-02 vs DM.DTHDTC 2020-06-01")]


def test_demo_death_dates_agree(demo: RunResult) -> None:
    dm = sdtm(demo, "DM").set_index("USUBJID")
    ds = sdtm(demo, "DS")
    deaths = ds[ds["DSDECOD"] == "DEATH"]
    assert len(deaths) >= 5
    assert (deaths["DSSTDTC"] == deaths["USUBJID"].map(dm["DTHDTC"])).all()
    # 101-0002: the death form says UN-OCT-2016, the end-of-study form 13-OCT-2016 (death)
    assert dm.loc["CRZBASKET-101-0002", "DTHDTC"] == "2016-10-13"
    assert (dm["DTHDTC"].dropna().str.len() == 10).all()
    assert "CMAP-XD0011" not in rules(list(demo.findings))


# ============================================================================================
# 6. RFENDTC / RFPENDTC of subjects still on treatment (docs/conventions.md)
# ============================================================================================
def test_demo_reference_end_of_ongoing_subjects(demo: RunResult) -> None:
    dm = sdtm(demo, "DM").set_index("USUBJID")
    rs = sdtm(demo, "RS")
    ex = sdtm(demo, "EX")
    ongoing = dm.loc[ongoing_subjects(demo)]
    assert len(ongoing) >= 1
    assert set(ongoing["RFENDTC"]) == {"2019-12-31"}            # the data cut-off
    # SDTMIG 3.4 DM: RFXENDTC is the latest EXSTDTC when the last record has no EXENDTC
    latest_start = ex.groupby("USUBJID")["EXSTDTC"].max()
    assert (ongoing["RFXENDTC"] == ongoing.index.map(latest_start)).all()
    last_assessment = rs.groupby("USUBJID")["RSDTC"].max()
    assert (ongoing["RFPENDTC"] == ongoing.index.map(last_assessment)).all()
    ended = dm[dm["RFXENDTC"].notna() & ~dm.index.isin(ongoing.index)]
    assert len(ended) > len(ongoing)
    assert (ended["RFENDTC"] == ended["RFXENDTC"]).all()        # study rule: last dose
    assert dm.loc[dm["RFXSTDTC"].notna(), "RFPENDTC"].notna().all()


# ============================================================================================
# 7. Multi-reader TU / RS: keys include the evaluator
# ============================================================================================
def multi_reader() -> dict[str, pd.DataFrame]:
    readers = S("INVESTIGATOR", "INDEPENDENT ASSESSOR", "INDEPENDENT ASSESSOR")
    ids = S(pd.NA, "RADIOLOGIST 1", "RADIOLOGIST 2")
    tu = pd.DataFrame({"USUBJID": S("X-1", "X-1", "X-1"), "TUSEQ": [1.0, 2.0, 3.0],
                       "TUTESTCD": S("TUMIDENT", "TUMIDENT", "TUMIDENT"),
                       "TULNKID": S("T01", "T01", "T01"), "TUEVAL": readers, "TUEVALID": ids})
    rs = pd.DataFrame({"USUBJID": S("X-1", "X-1", "X-1"), "RSSEQ": [1.0, 2.0, 3.0],
                       "RSTESTCD": S("OVRLRESP", "OVRLRESP", "OVRLRESP"),
                       "VISITNUM": [8.0, 8.0, 8.0], "RSSTRESC": S("PR", "SD", "PR"),
                       "RSEVAL": readers, "RSEVALID": ids})
    return {"DM": dm_frame(), "TU": tu, "RS": rs}


def test_each_reader_identifies_lesions_and_responds_on_their_own() -> None:
    assert not [f for f in check_sdtm_cross(multi_reader()) if f.rule in ("CMAP-XD0003", "CMAP-XD0004")]


def test_one_reader_twice_is_still_a_duplicate() -> None:
    domains = multi_reader()
    for name, prefix in (("TU", "TU"), ("RS", "RS")):
        domains[name][f"{prefix}EVALID"] = S("RADIOLOGIST 1", "RADIOLOGIST 1", "RADIOLOGIST 1")
        domains[name][f"{prefix}EVAL"] = S("INDEPENDENT ASSESSOR", "INDEPENDENT ASSESSOR",
                                           "INDEPENDENT ASSESSOR")
    found = [(f.rule, f.value) for f in check_sdtm_cross(domains)
             if f.rule in ("CMAP-XD0003", "CMAP-XD0004")]
    assert found == [("CMAP-XD0003", "T01"), ("CMAP-XD0003", "T01"), ("CMAP-XD0004", "SD"), ("CMAP-XD0004", "PR")]


# ============================================================================================
# 8. Repeated notices fold into one per variable and value
# ============================================================================================
def test_fold_sums_notices_that_say_the_same_thing() -> None:
    note = Finding("CMAP-SD0006", Severity.NOTICE, "not in ONCRSR", "RS", "X-1", "RSSTRESC", "N",
                   "rs.xpt row 3", 600)
    later = Finding("CMAP-SD0006", Severity.NOTICE, "not in ONCRSR", "RS", "X-9", "RSSTRESC", "N",
                    "rs.json row 3", 616)
    other = Finding("CMAP-SD0006", Severity.NOTICE, "not in ONCRSR", "RS", "X-2", "RSSTRESC", "Y",
                    "rs.xpt row 9", 14)
    error = Finding("CMAP-XD0001", Severity.ERROR, "not in DM", "AE", "X-3", "USUBJID", "X-3")
    folded = fold([note, error, other, later, error])
    assert folded == [
        Finding("CMAP-SD0006", Severity.NOTICE, "not in ONCRSR", "RS", "X-1", "RSSTRESC", "N",
                "rs.xpt row 3", 1216), error, other, error]


def test_cross_dataset_notices_are_one_per_value() -> None:
    # 3 AE records before consent: one notice per value (date), not one per record
    dm = dm_frame(RFICDTC=S("2020-01-05", "2020-01-20"))
    ae = pd.DataFrame({"USUBJID": S("X-1", "X-1", "X-1", "X-2"), "AESEQ": [1.0, 2.0, 3.0, 1.0],
                       "AESTDTC": S("2020-01-01", "2020-01-01", "2020-01-02", "2020-01-10")})
    found = [(f.value, f.count, f.usubjid) for f in check_sdtm_cross({"DM": dm, "AE": ae})
             if f.rule == "CMAP-XD0008"]
    assert found == [("2020-01-01", 2, "X-1"), ("2020-01-02", 1, "X-1"),
                     ("2020-01-10", 1, "X-2")]


def test_validate_summary_counts_rows_and_records(tmp_path: Path, demo: RunResult) -> None:
    # RSSTRESC Y/N of NEWLPROG, checked without define.xml against ONCRSR: two notices
    folder = tmp_path / "nodefine"
    folder.mkdir()
    (folder / "rs.xpt").write_bytes((demo.out_dir / "sdtm" / "rs.xpt").read_bytes())
    report = validate_folder(folder)
    notes = [(f.rule, f.variable, f.value) for f in report.findings
             if f.rule == "CMAP-SD0006"]
    assert notes == [("CMAP-SD0006", "RSSTRESC", "N"), ("CMAP-SD0006", "RSSTRESC", "Y")]
    rs = sdtm(demo, "RS")
    newl = rs[rs["RSTESTCD"] == "NEWLPROG"]
    assert report.counts()["notice"] == len(newl) + 1          # + CMAP-DF0010 (no define.xml)
    assert report.distinct()["notice"] == 3
