"""CO comments over 200 characters: COVAL, COVAL1, COVAL2, ... (SDTMIG 3.4 §5.1 CO, §4.5.3),
with their XPT labels and define.xml ItemDefs from the COVAL metadata in specs/.

The 450-character comment: 45 words ``w00000000``..``w00000044`` (9 characters each) joined by
single blanks, plus a final "." (45·9 + 44 + 1 = 450). Word i starts at 10·i, so the blanks
sit at 9, 19, ..., 199, ... Worked out by hand:
- COVAL: the last blank within the first 201 characters is at 199 → words 0-19 (199 chars);
  the blank at 199 is dropped, the rest starts at 200 (250 characters).
- COVAL1: the same on the rest → words 20-39 (199 chars); the rest is words 40-44 + "."
  (4·10 + 9 + 1 = 50 characters).
- COVAL2: those 50 characters. 199 + 1 + 199 + 1 + 50 = 450.
"""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest
from lxml import etree

from cdiscmap.checks.read import read_xpt_dataset
from cdiscmap.pipeline.run import RunOptions, run_study
from cdiscmap.sdtm.relationships import split_continued
from cdiscmap.validation.folder import validate_folder

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
WORDS = [f"w{i:08d}" for i in range(45)]
LONG = " ".join(WORDS) + "."
COVAL = " ".join(WORDS[:20])
COVAL1 = " ".join(WORDS[20:40])
COVAL2 = " ".join(WORDS[40:]) + "."

STUDY = """\
studyid: LONGCO
title: Long comments
standards: {sdtmig: "3.4", sdtm_ct: "2025-03-28"}
output_timestamp: "2026-01-01T00:00:00"
forms:
  dm: {file: dm.csv, keys: [SUBJECT]}
  ae: {file: ae.csv, keys: [SUBJECT, AENO]}
domains: [DM, AE]
comments:
  - {form: ae, column: COMMENT, domain: AE, date: AESTDTC, evaluator: INVESTIGATOR}
"""

DM = """\
domain: DM
blocks:
  - name: subjects
    source: {form: dm}
    variables:
      STUDYID: {constant: LONGCO}
      DOMAIN: {constant: DM}
      USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
      SUBJID: {take: SUBJECT}
      RFSTDTC: {iso8601: {date: STDAT, format: YMD}}
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
  STUDYID: {constant: LONGCO}
  DOMAIN: {constant: AE}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  AESEQ: {seq: {order: [AESTDTC, AETERM]}}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("longco")
    folder, raw = tmp / "study", tmp / "raw"
    (folder / "sdtm").mkdir(parents=True)
    raw.mkdir()
    (folder / "study.yaml").write_text(textwrap.dedent(STUDY))
    (folder / "sdtm" / "dm.yaml").write_text(DM)
    (folder / "sdtm" / "ae.yaml").write_text(AE)
    (raw / "dm.csv").write_text("SUBJECT,STDAT\n001,2024-01-01\n002,2024-01-03\n")
    (raw / "ae.csv").write_text("SUBJECT,AENO,AETERM,AESTDAT,COMMENT\n"
                                f"001,1,Headache,2024-01-12,{LONG}\n"
                                "002,1,Rash,2024-01-20,Treated with cream\n")
    return run_study(RunOptions(study_dir=folder, raw_dir=raw, out_root=tmp / "out",
                                adam=False))


def test_hand_checked_segments() -> None:
    assert len(LONG) == 450
    assert (len(COVAL), len(COVAL1), len(COVAL2)) == (199, 199, 50)
    frame = pd.DataFrame({"COVAL": pd.array([LONG, "short"], dtype="string"), "COEVAL": "X",
                          "_SRCFILE": "ae.csv", "_SRCROW": [1, 2]})
    out = split_continued(frame, "COVAL")
    assert list(out.columns) == ["COVAL", "COVAL1", "COVAL2", "COEVAL", "_SRCFILE", "_SRCROW"]
    assert out.loc[0, ["COVAL", "COVAL1", "COVAL2"]].tolist() == [COVAL, COVAL1, COVAL2]
    assert out.loc[1, "COVAL"] == "short"
    assert out.loc[1, ["COVAL1", "COVAL2"]].isna().all()
    assert " ".join(out.loc[0, ["COVAL", "COVAL1", "COVAL2"]]) == LONG
    # nothing over 200: the frame is returned as it is
    assert split_continued(frame.iloc[[1]], "COVAL").columns.tolist() == frame.columns.tolist()


def test_co_xpt_and_define(run) -> None:
    co = run.datasets["CO"].sort_values("USUBJID")
    assert co["COVAL"].tolist() == [COVAL, "Treated with cream"]
    assert co["COVAL1"].tolist()[0] == COVAL1 and pd.isna(co["COVAL1"].tolist()[1])
    assert co["COVAL2"].tolist()[0] == COVAL2
    sdtm = run.out_dir / "sdtm"
    xpt = read_xpt_dataset(sdtm / "co.xpt", sdtm, sdtm)
    labels = {v.name: v.label for v in xpt.variables}
    assert [n for n in labels if n.startswith("COVAL")] == ["COVAL", "COVAL1", "COVAL2"]
    assert (labels["COVAL"], labels["COVAL1"], labels["COVAL2"]) == \
        ("Comment", "Comment 1", "Comment 2")
    assert xpt.frame.loc[0, "COVAL1"] == COVAL1
    # no SUPPCO: the continuation is in CO itself
    assert "SUPPCO" not in run.datasets and not (sdtm / "suppco.xpt").exists()
    define = etree.parse(str(sdtm / "define.xml"))
    group = define.find(".//odm:ItemGroupDef[@Name='CO']", NS)
    refs = [r.get("ItemOID") for r in group.findall("odm:ItemRef", NS)]
    names = {i.get("OID"): i for i in define.findall(".//odm:ItemDef", NS)}
    co_names = [names[r].get("Name") for r in refs]
    at = co_names.index("COVAL")
    assert co_names[at:at + 3] == ["COVAL", "COVAL1", "COVAL2"]
    item = names[refs[at + 1]]
    assert item.get("DataType") == "text" and int(item.get("Length")) == 199
    assert item.find("odm:Description/odm:TranslatedText", NS).text == "Comment 1"
    mandatory = {r.get("ItemOID"): r.get("Mandatory") for r in group.findall("odm:ItemRef", NS)}
    assert mandatory[refs[at + 1]] == "No"


def test_validate_knows_coval_continuations(run) -> None:
    report = validate_folder(run.out_dir / "sdtm")
    co = [f for f in report.findings.items if f.dataset == "CO"]
    assert not [f for f in co if f.rule == "CMAP-SD0010"], co     # not "not in the standard"
    assert not [f for f in co if f.severity.value == "error"], co


def test_ts_value_continues_in_tsval1() -> None:
    """TS.TSVAL follows the same rule (SDTMIG 3.4 §7.6.1 TS: TSVAL1-TSVALn); the metadata of
    TSVAL1 comes from TSVAL."""
    from cdiscmap.sdtm.relationships import with_continuations
    from cdiscmap.standards import load_standards

    frame = pd.DataFrame({"TSPARMCD": ["OBJPRIM"], "TSVAL": pd.array([LONG], dtype="string"),
                          "TSVALNF": pd.array([None], dtype="string"),
                          "_SRCFILE": "study.yaml", "_SRCROW": [3]})
    out = split_continued(frame, "TSVAL")
    assert list(out.columns[:5]) == ["TSPARMCD", "TSVAL", "TSVAL1", "TSVAL2", "TSVALNF"]
    assert out.loc[0, ["TSVAL", "TSVAL1", "TSVAL2"]].tolist() == [COVAL, COVAL1, COVAL2]
    ts = with_continuations(load_standards(), {"TS": out}).dataset("TS")
    names = ts.names()
    at = names.index("TSVAL")
    assert names[at:at + 3] == ["TSVAL", "TSVAL1", "TSVAL2"]
    assert ts.variable("TSVAL2").label == f"{ts.variable('TSVAL').label} 2"
    assert ts.variable("TSVAL2").core == "Perm"
