"""Trial design (TE, TA, TV, TI, SE, SV), RELREC, CO, TS required parameters and a custom
domain, on a tiny study: 2 arms, 3 subjects (one screen failure), YAML only.

Every expected value is worked out by hand from the raw rows below (dates in the comments).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from cdiscmap.checks.ts_required import check_ts_required
from cdiscmap.errors import SpecError
from cdiscmap.pipeline.run import RunOptions, check_study_spec, run_study
from cdiscmap.sdtm.relationships import build_relrec
from cdiscmap.spec.design import RelrecSpec

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}

STUDY = """\
studyid: TINY
title: Tiny two-arm study
standards: {sdtmig: "3.4", sdtm_ct: "2025-03-28"}
output_timestamp: "2026-01-01T00:00:00"
forms:
  dm: {file: dm.csv, keys: [SUBJECT]}
  ae: {file: ae.csv, keys: [SUBJECT, AENO]}
  cm: {file: cm.csv, keys: [SUBJECT, CMNO]}
  xp: {file: xp.csv, keys: [SUBJECT, VISIT, XPDAT]}
domains: [DM, AE, CM, XP]
visits:
  - {match: "screening", visit: SCREENING, visitnum: 0}
  - {match: "week\\\\s*(\\\\d+)", visit: "WEEK {1}", visitnum: "{1}"}
  - {match: "unscheduled", visit: UNSCHEDULED, unscheduled: true}
codelists:
  ARM:
    map: {A: Drug A, B: Drug B}
custom_domains:
  XP:
    class: Findings
    label: Pain Scores
    labels: {XPTESTCD: Pain Test Short Name}
trial_design:
  elements:
    - {etcd: SCRN, element: Screening, start: Informed consent, end: First dose or screen failure,
       start_date: RFICDTC, end_date: RFPENDTC}
    - {etcd: DRA, element: Drug A, start: First dose of drug A, start_date: RFXSTDTC}
    - {etcd: DRB, element: Drug B, start: First dose of drug B, start_date: RFXSTDTC}
    - {etcd: FU, element: Follow-up, start: Day after last dose, duration: P28D,
       start_date: RFXENDTC, end_date: RFPENDTC}
  arms:
    - armcd: A
      arm: Drug A
      elements: [{etcd: SCRN, epoch: SCREENING}, {etcd: DRA, epoch: TREATMENT},
                 {etcd: FU, epoch: FOLLOW-UP}]
    - armcd: B
      arm: Drug B
      elements: [{etcd: SCRN, epoch: SCREENING}, {etcd: DRB, epoch: TREATMENT},
                 {etcd: FU, epoch: FOLLOW-UP}]
  visits:
    - {visitnum: 0, visit: SCREENING, visitdy: -14, start: Up to 28 days before first dose}
    - {visitnum: 4, visit: WEEK 4, visitdy: 29, start: Day 29 of treatment}
    - {visitnum: 8, visit: WEEK 8, visitdy: 57, start: Day 57 of treatment, arms: [A]}
  criteria:
    - {ietestcd: INCL01, category: INCLUSION, test: Age 18 years or older}
    - {ietestcd: EXCL01, category: EXCLUSION, test: Pregnancy, version: "2"}
relrec:
  - relid: AECM
    level: record
    records:
      - {domain: AE, idvar: AESEQ, on: AESPID}
      - {domain: CM, idvar: CMSEQ, on: CMGRPID}
comments:
  - {form: ae, column: COMMENT, domain: AE, date: AESTDTC, evaluator: INVESTIGATOR}
trial_summary:
  - {parmcd: TITLE, value: Tiny two-arm study}
  - {parmcd: STYPE, value: INTERVENTIONAL}
  - {parmcd: AGEMAX, null_flavor: PINF}
  - {parmcd: ACTSUB, derive: ACTSUB}
"""

DM = """\
domain: DM
blocks:
  - name: subjects
    source: {form: dm}
    variables:
      STUDYID: {constant: TINY}
      DOMAIN: {constant: DM}
      USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
      SUBJID: {take: SUBJECT}
      RFICDTC: {iso8601: {date: ICDAT, format: YMD}}
      RFXSTDTC: {iso8601: {date: STDAT, format: YMD}}
      RFXENDTC: {iso8601: {date: ENDAT, format: YMD}}
      RFSTDTC: {copy: RFXSTDTC}
      RFENDTC: {copy: RFXENDTC}
      RFPENDTC: {iso8601: {date: EOSDAT, format: YMD}}
      ARMCD: {take: ARM}
      ARM: {assign_ct: {column: ARM, codelist: ARM}}
"""

AE = """\
domain: AE
blocks:
  - name: events
    source: {form: ae}
    variables:
      AETERM: {take: AETERM}
      AESPID: {take: AENO}
      AESTDTC: {iso8601: {date: AESTDAT, format: YMD}}
variables:
  STUDYID: {constant: TINY}
  DOMAIN: {constant: AE}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  AESEQ: {seq: {order: [AESTDTC, AETERM]}}
"""

CM = """\
domain: CM
blocks:
  - name: medications
    source: {form: cm}
    variables:
      CMTRT: {take: CMTRT}
      CMSPID: {take: CMNO}
      CMGRPID: {take: AENO}
variables:
  STUDYID: {constant: TINY}
  DOMAIN: {constant: CM}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  CMSEQ: {seq: {order: [CMSPID]}}
"""

XP = """\
domain: XP
blocks:
  - name: pain
    source: {form: xp}
    variables:
      XPTESTCD: {constant: PAIN}
      XPTEST: {constant: Pain score}
      XPORRES: {take: SCORE}
      XPSTRESC: {copy: XPORRES}
      XPSTRESN: {number: {column: SCORE}}
      XPDTC: {iso8601: {date: XPDAT, format: YMD}}
variables:
  STUDYID: {constant: TINY}
  DOMAIN: {constant: XP}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  VISIT: {visit: {column: VISIT}}
  VISITNUM: {visitnum: {column: VISIT, date: XPDTC}}
  XPSEQ: {seq: {order: [VISITNUM, XPDTC]}}
"""

RAW = {
    # 001 arm A: consent 01-01, doses 01-10..03-01, end of study 04-01
    # 002 arm B: consent 01-05, doses 01-15..02-20, still in follow-up (no end of study)
    # 003 screen failure: consent 01-07, no arm, no dose, left on 01-20
    "dm.csv": "SUBJECT,ICDAT,STDAT,ENDAT,EOSDAT,ARM\n"
              "001,2024-01-01,2024-01-10,2024-03-01,2024-04-01,A\n"
              "002,2024-01-05,2024-01-15,2024-02-20,,B\n"
              "003,2024-01-07,,,2024-01-20,\n",
    "ae.csv": "SUBJECT,AENO,AETERM,AESTDAT,COMMENT\n"
              "001,1,Headache,2024-01-12,Resolved without treatment\n"
              "001,2,Nausea,2024-01-20,\n"
              "002,1,Rash,2024-01-20,Treated with cream\n",
    "cm.csv": "SUBJECT,CMNO,CMTRT,AENO\n"
              "001,1,Paracetamol,\n"
              "002,1,Hydrocortisone cream,1\n",
    "xp.csv": "SUBJECT,VISIT,XPDAT,SCORE\n"
              "001,Screening,2024-01-02,3\n"
              "001,Week 4,2024-02-07,2\n"
              "001,Week 4,2024-02-08,2\n"
              "001,Unscheduled,2024-02-20,4\n"
              "002,Screening,2024-01-06,5\n"
              "002,Week 4,2024-02-12,1\n"
              "003,Screening,2024-01-08,2\n",
}


def _study(tmp_path: Path, study: str = STUDY) -> tuple[Path, Path]:
    folder, raw = tmp_path / "tiny", tmp_path / "raw"
    (folder / "sdtm").mkdir(parents=True)
    raw.mkdir()
    (folder / "study.yaml").write_text(textwrap.dedent(study))
    for name, text in (("dm", DM), ("ae", AE), ("cm", CM), ("xp", XP)):
        (folder / "sdtm" / f"{name}.yaml").write_text(text)
    for name, text in RAW.items():
        (raw / name).write_text(text)
    return folder, raw


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("tiny")
    folder, raw = _study(tmp)
    return run_study(RunOptions(study_dir=folder, raw_dir=raw, out_root=tmp / "out",
                                adam=False))


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    out = frame[columns].astype(object).where(frame[columns].notna(), None)
    return [tuple(r) for r in out.itertuples(index=False)]


def test_te_ta_tv_ti_from_study_yaml(run) -> None:
    d = run.datasets
    assert _rows(d["TE"], ["ETCD", "ELEMENT", "TESTRL", "TEDUR"]) == [
        ("SCRN", "Screening", "Informed consent", None),
        ("DRA", "Drug A", "First dose of drug A", None),
        ("DRB", "Drug B", "First dose of drug B", None),
        ("FU", "Follow-up", "Day after last dose", "P28D")]
    assert _rows(d["TA"], ["ARMCD", "TAETORD", "ETCD", "ELEMENT", "EPOCH"]) == [
        ("A", 1.0, "SCRN", "Screening", "SCREENING"), ("A", 2.0, "DRA", "Drug A", "TREATMENT"),
        ("A", 3.0, "FU", "Follow-up", "FOLLOW-UP"),
        ("B", 1.0, "SCRN", "Screening", "SCREENING"), ("B", 2.0, "DRB", "Drug B", "TREATMENT"),
        ("B", 3.0, "FU", "Follow-up", "FOLLOW-UP")]
    # WEEK 8 is planned in arm A only: one TV record with ARMCD A; the others apply to all arms
    assert _rows(d["TV"], ["VISITNUM", "VISIT", "VISITDY", "ARMCD", "ARM"]) == [
        (0.0, "SCREENING", -14.0, None, None), (4.0, "WEEK 4", 29.0, None, None),
        (8.0, "WEEK 8", 57.0, "A", "Drug A")]
    assert _rows(d["TI"], ["IETESTCD", "IETEST", "IECAT", "TIVERS"]) == [
        ("INCL01", "Age 18 years or older", "INCLUSION", None),
        ("EXCL01", "Pregnancy", "EXCLUSION", "2")]
    for name, n in (("TE", 4), ("TA", 6), ("TV", 3), ("TI", 2)):
        assert run.summary["records_written"][name] == n


def test_se_dates_each_entered_element(run) -> None:
    se = run.datasets["SE"]
    # an element ends where the next entered one starts; the last at RFPENDTC (002: none yet).
    # 003 has no arm: only SCRN, the element both arms start with, ending at RFPENDTC 01-20.
    # Study days from RFSTDTC (001: 2024-01-10; 2024 is a leap year: 01-10 -> 03-01 is 51
    # days, day 52; -> 04-01 is 82 days, day 83). 003 has no RFSTDTC: no study days.
    assert _rows(se, ["USUBJID", "SESEQ", "ETCD", "TAETORD", "EPOCH", "SESTDTC", "SEENDTC",
                      "SESTDY", "SEENDY"]) == [
        ("TINY-001", 1.0, "SCRN", 1.0, "SCREENING", "2024-01-01", "2024-01-10", -9.0, 1.0),
        ("TINY-001", 2.0, "DRA", 2.0, "TREATMENT", "2024-01-10", "2024-03-01", 1.0, 52.0),
        ("TINY-001", 3.0, "FU", 3.0, "FOLLOW-UP", "2024-03-01", "2024-04-01", 52.0, 83.0),
        ("TINY-002", 1.0, "SCRN", 1.0, "SCREENING", "2024-01-05", "2024-01-15", -10.0, 1.0),
        ("TINY-002", 2.0, "DRB", 2.0, "TREATMENT", "2024-01-15", "2024-02-20", 1.0, 37.0),
        ("TINY-002", 3.0, "FU", 3.0, "FOLLOW-UP", "2024-02-20", None, 37.0, None),
        ("TINY-003", 1.0, "SCRN", 1.0, "SCREENING", "2024-01-07", "2024-01-20", None, None)]


def test_sv_first_and_last_date_per_visit(run) -> None:
    sv = run.datasets["SV"]
    # 001 WEEK 4 has two XP records (02-07, 02-08); the unscheduled scan after WEEK 4 is
    # numbered 4.01 and was not planned (SVPRESP null). Study days from RFSTDTC.
    assert _rows(sv, ["USUBJID", "VISITNUM", "VISIT", "SVPRESP", "SVOCCUR", "VISITDY",
                      "SVSTDTC", "SVENDTC", "SVSTDY", "SVENDY"]) == [
        ("TINY-001", 0.0, "SCREENING", "Y", "Y", -14.0, "2024-01-02", "2024-01-02", -8.0, -8.0),
        ("TINY-001", 4.0, "WEEK 4", "Y", "Y", 29.0, "2024-02-07", "2024-02-08", 29.0, 30.0),
        ("TINY-001", 4.01, "UNSCHEDULED", None, "Y", None, "2024-02-20", "2024-02-20",
         42.0, 42.0),
        ("TINY-002", 0.0, "SCREENING", "Y", "Y", -14.0, "2024-01-06", "2024-01-06", -9.0, -9.0),
        ("TINY-002", 4.0, "WEEK 4", "Y", "Y", 29.0, "2024-02-12", "2024-02-12", 29.0, 29.0),
        ("TINY-003", 0.0, "SCREENING", "Y", "Y", -14.0, "2024-01-08", "2024-01-08", None,
         None)]


def test_relrec_record_level_and_co(run) -> None:
    # CM 002 line 1 names AE 1 of subject 002 (Rash, AESEQ 1); CM 001 names no AE
    assert _rows(run.datasets["RELREC"], ["RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELTYPE",
                                          "RELID"]) == [
        ("AE", "TINY-002", "AESEQ", "1", None, "AECM-1"),
        ("CM", "TINY-002", "CMSEQ", "1", None, "AECM-1")]
    # two AE comments: 001 Headache (AESEQ 1, 01-12) and 002 Rash (AESEQ 1); Nausea has none
    assert _rows(run.datasets["CO"], ["RDOMAIN", "USUBJID", "COSEQ", "IDVAR", "IDVARVAL",
                                      "COVAL", "COEVAL", "CODTC"]) == [
        ("AE", "TINY-001", 1.0, "AESEQ", "1", "Resolved without treatment", "INVESTIGATOR",
         "2024-01-12"),
        ("AE", "TINY-002", 1.0, "AESEQ", "1", "Treated with cream", "INVESTIGATOR",
         "2024-01-20")]


def test_relrec_dataset_level() -> None:
    spec = RelrecSpec.model_validate({"relid": "TUTR", "records": [
        {"domain": "TU", "idvar": "TULNKID", "reltype": "ONE"},
        {"domain": "TR", "idvar": "TRLNKID", "reltype": "MANY"}]})
    frames = {"TU": pd.DataFrame({"USUBJID": ["S-1"], "TULNKID": ["T01"]}),
              "TR": pd.DataFrame({"USUBJID": ["S-1", "S-1"], "TRLNKID": ["T01", "T01"]})}
    relrec = build_relrec([spec], "S", frames)
    assert _rows(relrec, ["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELTYPE",
                          "RELID"]) == [("S", "TU", None, "TULNKID", None, "ONE", "TUTR"),
                                        ("S", "TR", None, "TRLNKID", None, "MANY", "TUTR")]
    # no RS in the package: a relationship naming it gives no records
    spec_rs = RelrecSpec.model_validate({"relid": "TRRS", "records": [
        {"domain": "TR", "idvar": "TRLNKGRP", "reltype": "MANY"},
        {"domain": "RS", "idvar": "RSLNKGRP", "reltype": "ONE"}]})
    assert build_relrec([spec_rs], "S", frames) is None


def test_ts_null_flavour_and_required_parameters(run) -> None:
    ts = run.datasets["TS"].set_index("TSPARMCD")
    assert pd.isna(ts.loc["AGEMAX", "TSVAL"]) and ts.loc["AGEMAX", "TSVALNF"] == "PINF"
    assert ts.loc["ACTSUB", "TSVAL"] == "3"
    missing = sorted(f.value for f in run.findings.items if f.rule == "CMAP-XD0009")
    # the FDA TCG list minus TITLE, STYPE, AGEMAX and ACTSUB; STYPE INTERVENTIONAL adds
    # INTMODEL, INTTYPE and NARMS; no ADDON/RANDOM/INTTYPE/TCNTRL values, so no CURTRT,
    # RANDQT, PCLAS or COMPTRT
    assert missing == ["ADAPT", "ADDON", "AGEMIN", "DCUTDESC", "DCUTDTC", "FCNTRY",
                       "HLTSUBJI", "INDIC", "INTMODEL", "INTTYPE", "LENGTH", "NARMS", "OBJPRIM",
                       "OUTMSPRI", "PLANSUB", "RANDOM", "REGID", "SDTIGVER", "SDTMVER",
                       "SENDTC", "SEXPOP", "SPONSOR", "SSTDTC", "STOPRULE", "TBLIND",
                       "TCNTRL", "TDIGRP", "TINDTP", "TPHASE", "TRT", "TTYPE"]


def test_ts_conditional_parameters() -> None:
    ts = pd.DataFrame({"TSPARMCD": ["STYPE", "INTTYPE", "ADDON", "RANDOM", "TCNTRL", "PCLAS"],
                       "TSVAL": ["OBSERVATIONAL", "DRUG", "Y", "N", "ACTIVE", None],
                       "TSVALNF": [None, None, None, None, None, "UNK"]})
    missing = {f.value for f in check_ts_required(ts)}
    # observational: no INTMODEL/NARMS; DRUG needs PCLAS (given as UNK); ADDON Y needs CURTRT;
    # RANDOM N needs no RANDQT; an ACTIVE control needs COMPTRT
    assert {"CURTRT", "COMPTRT"} <= missing
    assert not {"INTMODEL", "NARMS", "PCLAS", "RANDQT", "INTTYPE"} & missing
    assert check_ts_required(None) == []


def test_custom_domain_xp_end_to_end(run) -> None:
    xp = run.datasets["XP"]
    assert list(xp["XPTESTCD"].unique()) == ["PAIN"] and len(xp) == 7
    assert run.summary["records_written"]["XP"] == 7
    # XP is checked against its class's variables: only Expected ones not collected (XPCAT,
    # XPORRESU, ... warnings), no error
    assert {f.rule for f in run.findings.items if f.dataset == "XP"
            and f.rule.startswith("CMAP-SD")} == {"CMAP-SD0003"}
    sdtm = run.out_dir / "sdtm"
    for name in ("XP", "TE", "TA", "TV", "TI", "SE", "SV", "RELREC", "CO"):
        assert (sdtm / f"{name.lower()}.xpt").is_file(), name
    define = etree.parse(str(sdtm / "define.xml"))
    group = define.find(".//odm:ItemGroupDef[@Name='XP']", NS)
    assert group is not None
    assert group.find("def:Class", NS).get("Name") == "FINDINGS"
    label = define.find(".//odm:ItemDef[@Name='XPTESTCD']/odm:Description/odm:TranslatedText",
                        NS)
    assert label.text == "Pain Test Short Name"
    classes = {g.get("Name"): g.find("def:Class", NS).get("Name")
               for g in define.findall(".//odm:ItemGroupDef", NS)}
    assert classes["TA"] == "TRIAL DESIGN" and classes["SE"] == "SPECIAL PURPOSE"
    assert classes["RELREC"] == "RELATIONSHIP" and classes["CO"] == "SPECIAL PURPOSE"


def test_check_spec_knows_custom_domains(tmp_path: Path) -> None:
    folder, _ = _study(tmp_path)
    assert "XP" in check_study_spec(folder)
    bad = STUDY.replace("class: Findings", "class: Trial Design")
    folder2, _ = _study(tmp_path / "bad", bad)
    with pytest.raises(SpecError, match="not a general observation class"):
        check_study_spec(folder2)
    # sdtm/xp.yaml is checked against XP's variables: an LB name is refused
    folder3, _ = _study(tmp_path / "lbname")
    xp = (folder3 / "sdtm" / "xp.yaml")
    xp.write_text(xp.read_text().replace("XPORRES: {take: SCORE}", "LBORRES: {take: SCORE}"))
    with pytest.raises(SpecError, match="LBORRES is not a XP variable"):
        check_study_spec(folder3)


def test_define_command_knows_the_custom_domain(run, tmp_path: Path) -> None:
    """``cdiscmap define`` loads the study's standards the same way (custom domains first):
    the define.xml it rewrites for the package is the run's, byte for byte."""
    from cdiscmap.pipeline.define_step import write_package_defines

    package = tmp_path / "package"
    (package / "sdtm").mkdir(parents=True)
    for path in (run.out_dir / "sdtm").glob("*.xpt"):
        (package / "sdtm" / path.name).write_bytes(path.read_bytes())
    study_dir = run.out_dir.parent.parent / "tiny"
    write_package_defines(study_dir, package)
    assert (package / "sdtm" / "define.xml").read_bytes() == \
        (run.out_dir / "sdtm" / "define.xml").read_bytes()
