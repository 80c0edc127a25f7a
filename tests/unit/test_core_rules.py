"""CORE-derived rules (checks/core_rules.py, checks/core_rules_events.py).

One small, valid study (`valid()`, hand-built: every date, day, arm and link checked by hand)
is the negative case of every rule: no CR finding at all. Each positive case changes one thing
in a copy of it and names the exact dataset, subject, variable and value the rule reports.
Where a case takes its values from the CDISC CORE rule's own test data (cdisc-org/
cdisc-open-rules, Published/CORE-xxxxxx/negative/01 = the data the rule fires on,
positive/01 = the data it passes), the comment says which.

The last test runs the four bundled studies (small synthetic exports) and checks that their
own output raises no CR rule other than the ones reported as defects of that output.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.checks import core_rules
from cdiscmap.checks.core_map import CORE
from cdiscmap.checks.core_rules import check_core_rules
from cdiscmap.checks.core_rules_events import date_after
from cdiscmap.checks.crossdomain import domain_class
from cdiscmap.standards import load_standards
from cdiscmap.validation.folder import rule_catalogue

N = None
CRITERIA = ("AESCAN", "AESCONG", "AESDISAB", "AESDTH", "AESHOSP", "AESLIFE", "AESOD", "AESMIE")


@pytest.fixture(scope="module")
def standards():
    return load_standards()


def valid() -> dict[str, dict[str, list]]:
    """S1 treated and alive, S2 treated and died (AE fatal, DS death, DTHFL Y), S3 a screen
    failure (no arm, ARMNRS given). EX dates give RFXSTDTC/RFXENDTC; DS consent gives RFICDTC."""
    ae = {"STUDYID": ["ST1", "ST1"], "DOMAIN": ["AE", "AE"], "USUBJID": ["S1", "S2"],
          "AESEQ": [1, 1], "AETERM": ["HEADACHE", "PNEUMONIA"],
          "AEDECOD": ["Headache", "Pneumonia"], "AEPTCD": [10019211, 10035664],
          "AEBODSYS": ["Nervous system disorders", "Infections and infestations"],
          "AEBDSYCD": [10029205, 10021881], "AESER": ["N", "Y"],
          "AEOUT": ["RECOVERED/RESOLVED", "FATAL"], "AETOXGR": ["1", "5"],
          "EPOCH": ["TREATMENT", "TREATMENT"], "AESTDTC": ["2020-01-20", "2020-03-25"],
          "AEENDTC": ["2020-01-22", "2020-04-01"], "AESTDY": [11, 71], "AEENDY": [13, 78]}
    for c in CRITERIA:
        ae[c] = ["N", "Y" if c == "AESDTH" else "N"]
    return {
        "DM": {"STUDYID": ["ST1"] * 3, "DOMAIN": ["DM"] * 3, "USUBJID": ["S1", "S2", "S3"],
               "SUBJID": ["001", "002", "003"],
               "RFSTDTC": ["2020-01-10", "2020-01-15", N], "RFENDTC": ["2020-03-01",
                                                                       "2020-04-01", N],
               "RFXSTDTC": ["2020-01-10", "2020-01-15", N],
               "RFXENDTC": ["2020-03-01", "2020-03-20", N],
               "RFICDTC": ["2020-01-02", "2020-01-03", "2020-01-05"],
               "DTHDTC": [N, "2020-04-01", N], "DTHFL": [N, "Y", N], "AGE": [60, 71, 50],
               "AGEU": ["YEARS"] * 3, "ARMCD": ["A", "A", N], "ARM": ["Drug A", "Drug A", N],
               "ACTARMCD": ["A", "A", N], "ACTARM": ["Drug A", "Drug A", N],
               "ARMNRS": [N, N, "SCREEN FAILURE"]},
        "AE": ae,
        "EX": {"STUDYID": ["ST1"] * 3, "DOMAIN": ["EX"] * 3, "USUBJID": ["S1", "S1", "S2"],
               "EXSEQ": [1, 2, 1], "EXTRT": ["DRUG A"] * 3, "EXDOSE": [250, 250, 250],
               "EXDOSU": ["mg"] * 3, "EPOCH": ["TREATMENT"] * 3,
               "EXSTDTC": ["2020-01-10", "2020-02-02", "2020-01-15"],
               "EXENDTC": ["2020-02-01", "2020-03-01", "2020-03-20"],
               "EXSTDY": [1, 24, 1], "EXENDY": [23, 52, 66]},
        "DS": {"STUDYID": ["ST1"] * 5, "DOMAIN": ["DS"] * 5,
               "USUBJID": ["S1", "S1", "S2", "S2", "S3"], "DSSEQ": [1, 2, 1, 2, 1],
               "DSTERM": ["INFORMED CONSENT OBTAINED", "COMPLETED", "INFORMED CONSENT OBTAINED",
                          "DEATH", "SCREEN FAILURE"],
               "DSDECOD": ["INFORMED CONSENT OBTAINED", "COMPLETED",
                           "INFORMED CONSENT OBTAINED", "DEATH", "SCREEN FAILURE"],
               "DSCAT": ["PROTOCOL MILESTONE", "DISPOSITION EVENT", "PROTOCOL MILESTONE",
                         "DISPOSITION EVENT", "DISPOSITION EVENT"],
               "DSSCAT": [N, "END OF TREATMENT", N, "END OF TREATMENT", "END OF STUDY"],
               "EPOCH": ["SCREENING", "TREATMENT", "SCREENING", "TREATMENT", "SCREENING"],
               "DSSTDTC": ["2020-01-02", "2020-03-01", "2020-01-03", "2020-04-01",
                           "2020-01-09"]},
        "LB": {"STUDYID": ["ST1"] * 3, "DOMAIN": ["LB"] * 3, "USUBJID": ["S1"] * 3,
               "LBSEQ": [1, 2, 3], "LBTESTCD": ["ALB"] * 3, "LBTEST": ["Albumin"] * 3,
               "LBORRES": ["3.9", "4.1", N], "LBORRESU": ["g/dL", "g/dL", N],
               "LBORNRLO": [3.5, 3.5, np.nan], "LBORNRHI": [4.6, 4.6, np.nan],
               "LBSTRESC": ["39", "41", N], "LBSTRESN": [39.0, 41.0, np.nan],
               "LBSTRESU": ["g/L", "g/L", N], "LBSTNRLO": [35.0, 35.0, np.nan],
               "LBSTNRHI": [46.0, 46.0, np.nan], "LBSTAT": [N, N, "NOT DONE"],
               "LBREASND": [N, N, "SAMPLE LOST"], "LBLOBXFL": ["Y", N, N],
               "VISITNUM": [1, 2, 3], "VISIT": ["SCREENING", "WEEK 2", "WEEK 4"],
               "EPOCH": ["SCREENING", "TREATMENT", "TREATMENT"],
               "LBDTC": ["2020-01-05", "2020-01-24", "2020-02-07"], "LBDY": [-5, 15, 29]},
        "SE": {"STUDYID": ["ST1"] * 3, "DOMAIN": ["SE"] * 3, "USUBJID": ["S1"] * 3,
               "SESEQ": [1, 2, 3], "ETCD": ["SCRN", "TRT", "FU"],
               "ELEMENT": ["Screening", "Treatment", "Follow-up"], "TAETORD": [1, 2, 3],
               "EPOCH": ["SCREENING", "TREATMENT", "FOLLOW-UP"],
               "SESTDTC": ["2020-01-02", "2020-01-10", "2020-03-01"],
               "SEENDTC": ["2020-01-10", "2020-03-01", N]},
        "SV": {"STUDYID": ["ST1"] * 3, "DOMAIN": ["SV"] * 3, "USUBJID": ["S1"] * 3,
               "VISITNUM": [1, 2, 3], "VISIT": ["SCREENING", "WEEK 2", "WEEK 4"],
               "SVSTDTC": ["2020-01-05", "2020-01-24", "2020-02-07"],
               "SVENDTC": ["2020-01-05", "2020-01-24", "2020-02-07"]},
        "TA": {"STUDYID": ["ST1"] * 3, "DOMAIN": ["TA"] * 3, "ARMCD": ["A"] * 3,
               "ARM": ["Drug A"] * 3, "TAETORD": [1, 2, 3], "ETCD": ["SCRN", "TRT", "FU"],
               "ELEMENT": ["Screening", "Treatment", "Follow-up"],
               "EPOCH": ["SCREENING", "TREATMENT", "FOLLOW-UP"]},
        "TE": {"STUDYID": ["ST1"] * 3, "DOMAIN": ["TE"] * 3, "ETCD": ["SCRN", "TRT", "FU"],
               "ELEMENT": ["Screening", "Treatment", "Follow-up"]},
        "TS": {"STUDYID": ["ST1"] * 2, "DOMAIN": ["TS"] * 2, "TSSEQ": [1, 1],
               "TSPARMCD": ["AGEMIN", "AGEMAX"],
               "TSPARM": ["Planned Minimum Age of Subjects", "Planned Maximum Age of Subjects"],
               "TSVAL": ["P18Y", N], "TSVALNF": [N, "PINF"]},
        "RELREC": {"STUDYID": ["ST1"] * 2, "RDOMAIN": ["AE", "DS"], "USUBJID": ["S2", "S2"],
                   "IDVAR": ["AESEQ", "DSSEQ"], "IDVARVAL": ["1", "2"], "RELTYPE": [N, N],
                   "RELID": ["R1", "R1"]},
        "SUPPAE": {"STUDYID": ["ST1"], "RDOMAIN": ["AE"], "USUBJID": ["S2"],
                   "IDVAR": ["AESEQ"], "IDVARVAL": ["1"], "QNAM": ["AETRTEM"],
                   "QLABEL": ["Treatment Emergent Flag"], "QVAL": ["Y"]},
    }


def run(study: dict[str, dict[str, list]], standards=None):
    frames = {name: pd.DataFrame(columns) for name, columns in study.items()}
    domains = {n: f for n, f in frames.items() if not n.startswith("SUPP")}
    supp = {n: f for n, f in frames.items() if n.startswith("SUPP")}
    return check_core_rules(domains, supp, standards)


def hits(findings, rule: str) -> list[tuple[str, str, str, str]]:
    return [(f.dataset, f.usubjid, f.variable, f.value) for f in findings if f.rule == rule]


def change(**edits):
    """A positive case: ``valid()`` with ``edits`` = {"DM.DTHFL": {0: None}, "DD": {...}}."""
    def build():
        study = copy.deepcopy(valid())
        for key, edit in edits.items():
            if key.endswith("+"):                           # one more record
                columns = study[key[:-1]]
                for column, values in columns.items():
                    values.append(edit.get(column))
                continue
            if "." not in key:
                study[key] = edit                           # a whole dataset
                continue
            name, column = key.split(".")
            if isinstance(edit, dict):
                values = study[name].setdefault(column, [None] * len(study[name]["STUDYID"]))
                for row, value in edit.items():
                    values[row] = value
            else:
                study[name][column] = edit
        return study
    return build


def _ae_criteria(ser: str, **flags: str) -> str:
    values = ", ".join(f"{c}={flags.get(c, 'N')}" for c in CRITERIA)
    return f"AESER={ser}, {values}"


CASES = [
    # CORE-000007 negative/01: DTHDTC 2018-06-10 with DTHFL null
    ("CMAP-CR0001", change(**{"DM.DTHDTC": {0: "2020-05-01"}}),
     [("DM", "S1", "DTHFL", "DTHFL=(null), DTHDTC=2020-05-01")]),
    # CORE-000253 / -000254 negative/01: AESDTH Y (AEOUT FATAL) with DM.DTHFL null
    ("CMAP-CR0002", change(**{"DM.DTHFL": {1: None}, "DM.DTHDTC": {1: None}}),
     [("AE", "S2", "AESDTH", "Y (DM.DTHFL=(null))"),
      ("AE", "S2", "AEOUT", "FATAL (DM.DTHFL=(null))")]),
    ("CMAP-CR0003", change(**{"DM.DTHFL": {1: "N"}}),
     [("DS", "S2", "DSDECOD", "DEATH (DM.DTHFL=N)")]),
    ("CMAP-CR0004", change(DD={"STUDYID": ["ST1"] * 2, "DOMAIN": ["DD"] * 2,
                               "USUBJID": ["S1", "S1"], "DDTESTCD": ["PRCDTH", "SECDTH"],
                               "DDTEST": ["Primary Cause of Death", "Secondary Cause of Death"],
                               "DDORRES": ["SEPSIS", "PNEUMONIA"],
                               "DDSTRESC": ["SEPSIS", "PNEUMONIA"]}),
     [("DD", "S1", "USUBJID", "S1 (DM.DTHFL=(null))")]),
    # CORE-000045 negative/01: ARMCD and ARMNRS both null
    ("CMAP-CR0005", change(**{"DM.ARMNRS": {2: None}}),
     [("DM", "S3", "ARMNRS", "ARMCD=(null), ARM=(null)")]),
    # CORE-000121 negative/01: ARMCD IKD, ACTARMCD PLACEBO, ARMNRS UNPLANNED TREATMENT
    ("CMAP-CR0006", change(**{"DM.ARMNRS": {0: "UNPLANNED TREATMENT"}}),
     [("DM", "S1", "ARMNRS", "UNPLANNED TREATMENT")]),
    ("CMAP-CR0007", change(**{"DM.ACTARMCD": {0: None}, "DM.ACTARM": {0: None}}),
     [("DM", "S1", "ARMNRS", "ACTARMCD=(null), ACTARM=(null)")]),
    ("CMAP-CR0008", change(**{"DM.ARMCD": {0: None}}), [("DM", "S1", "ARM", "Drug A")]),
    # CORE-000208 negative/01: ACTARMCD ZANLOW not in TA
    ("CMAP-CR0009", change(**{"DM.ACTARMCD": {0: "ZANLOW"}, "DM.ACTARM": {0: "Zan low"}}),
     [("DM", "S1", "ACTARMCD", "ZANLOW")]),
    ("CMAP-CR0010", change(**{"DM.ARM": {1: "Drug B"}}),
     [("DM", "S1", "ARMCD", "ARMCD=A, ARM=Drug A"), ("DM", "S2", "ARMCD", "ARMCD=A, ARM=Drug B")]),
    # CORE-000189 negative/01: AGE 26 with AGEU null
    ("CMAP-CR0011", change(**{"DM.AGEU": {0: None}}),
     [("DM", "S1", "AGEU", "AGE=60, AGEU=(null)")]),
    ("CMAP-CR0012", change(**{"DM.AGE": {0: -1}}), [("DM", "S1", "AGE", "-1")]),
    ("CMAP-CR0013", change(**{"DM.RFENDTC": {0: "2019-12"}}),
     [("DM", "S1", "RFSTDTC", "RFSTDTC=2020-01-10, RFENDTC=2019-12")]),
    ("CMAP-CR0014", change(**{"DM.RFXSTDTC": {0: "2020-01-11"}}),
     [("DM", "S1", "RFXSTDTC", "2020-01-11 vs EX 2020-01-10")]),
    # CORE-000238 negative/01: RFXENDTC 2013-01-22 while the last EX date is 2013-01-23
    ("CMAP-CR0015", change(**{"DM.RFXENDTC": {0: "2020-02-28"}}),
     [("DM", "S1", "RFXENDTC", "2020-02-28 vs EX 2020-03-01")]),
    # CORE-000363 negative/01: RFICDTC 2018-04-20, consent in DS 2018-04-17
    ("CMAP-CR0016", change(**{"DM.RFICDTC": {0: "2020-01-03"}}),
     [("DM", "S1", "RFICDTC", "2020-01-03 vs DS 2020-01-02")]),
    ("CMAP-CR0017", change(**{"DM.SUBJID": {1: "001"}}), [("DM", "S2", "SUBJID", "001")]),
    ("CMAP-CR0018", change(**{"AE.STUDYID": {0: "ST2"}}), [("AE", "S1", "STUDYID", "ST2")]),
    # CORE-000718 negative/01: AESTDTC 2019 after AEENDTC 2018-06-14 (partial against full)
    ("CMAP-CR0019", change(**{"AE.AESTDTC": {0: "2020-02"}}),
     [("AE", "S1", "AESTDTC", "AESTDTC=2020-02, AEENDTC=2020-01-22")]),
    # CORE-000708 negative/01: AESTDY 8, AEENDY 7
    ("CMAP-CR0020", change(**{"AE.AESTDY": {0: 14}}),
     [("AE", "S1", "AESTDY", "AESTDY=14, AEENDY=13")]),
    ("CMAP-CR0021", change(**{"AE.AETERM": {0: "OTHER"}}), [("AE", "S1", "AETERM", "OTHER")]),
    ("CMAP-CR0022", change(**{"LB.LBCAT": ["CHEMISTRY"] * 3, "LB.LBSCAT": {0: "CHEMISTRY"}}),
     [("LB", "S1", "LBSCAT", "CHEMISTRY")]),
    ("CMAP-CR0023", change(**{"EX.EXDOSU": {0: None}}), [("EX", "S1", "EXDOSU", "EXDOSE=250")]),
    # CORE-000092 negative/01: CMDOSE 100 and CMDOSTXT 100-120 on one record
    ("CMAP-CR0024", change(**{"EX.EXDOSTXT": {0: "250-300"}}),
     [("EX", "S1", "EXDOSTXT", "EXDOSE=250, EXDOSTXT=250-300")]),
    ("CMAP-CR0025", change(**{"EX.EXDOSE": {0: -250}}), [("EX", "S1", "EXDOSE", "-250")]),
    ("CMAP-CR0026", change(**{"AE.AETOX": {0: "HEADACHE"}, "AE.AETOXGR": {0: None}}),
     [("AE", "S1", "AETOXGR", "HEADACHE")]),
    # CORE-000022 negative/01: AESCAN Y with AESER N
    ("CMAP-CR0027", change(**{"AE.AESCAN": {0: "Y"}}),
     [("AE", "S1", "AESER", _ae_criteria("N", AESCAN="Y"))]),
    ("CMAP-CR0028", change(**{"AE.AEPTCD": {1: 10019211}}),
     [("AE", "S1", "AEDECOD", "AEDECOD=Headache, AEPTCD=10019211"),
      ("AE", "S2", "AEDECOD", "AEDECOD=Pneumonia, AEPTCD=10019211")]),
    # CORE-000220 negative/01: VSTESTCD 1PULSE (starts with a digit)
    ("CMAP-CR0029", change(**{"LB.LBTESTCD": ["1ALB"] * 3}),
     [("LB", "S1", "LBTESTCD", "1ALB")] * 3),
    ("CMAP-CR0030", change(**{"LB.LBTEST": ["A" * 41] * 3}),
     [("LB", "S1", "LBTEST", "A" * 41)] * 3),
    ("CMAP-CR0031", change(**{"LB.LBTEST": {1: "Albumin, serum"}}),
     [("LB", "S1", "LBTESTCD", "LBTESTCD=ALB, LBTEST=Albumin"),
      ("LB", "S1", "LBTESTCD", "LBTESTCD=ALB, LBTEST=Albumin, serum"),
      ("LB", "S1", "LBTESTCD", "LBTESTCD=ALB, LBTEST=Albumin")]),
    # CORE-000200 negative/01: LBORRES, LBSTAT and LBDRVFL all null
    ("CMAP-CR0032", change(**{"LB.LBORRES": {1: None}}), [("LB", "S1", "LBORRES", "ALB")]),
    ("CMAP-CR0033", change(**{"LB.LBORRES": {2: "4.0"}}),
     [("LB", "S1", "LBSTAT", "LBSTAT=NOT DONE, LBORRES=4.0, LBSTRESC=(null)")]),
    # CORE-000774 negative/01: LBSTAT NOT DONE with LBREASND null
    ("CMAP-CR0034", change(**{"LB.LBREASND": {2: None}}),
     [("LB", "S1", "LBREASND", "NOT DONE")]),
    ("CMAP-CR0035", change(**{"LB.LBREASND": {0: "SAMPLE LOST"}}),
     [("LB", "S1", "LBSTAT", "LBSTAT=(null), LBREASND=SAMPLE LOST")]),
    ("CMAP-CR0036", change(**{"LB.LBSTRESC": {1: None}, "LB.LBSTRESN": {1: np.nan}}),
     [("LB", "S1", "LBSTRESC", "4.1")]),
    ("CMAP-CR0037", change(**{"LB.LBSTRESU": {2: "g/L"}}),
     [("LB", "S1", "LBSTRESC", "LBSTRESU=g/L")]),
    # CORE-000542 negative/01: EGSTRESC 72, EGSTRESN 62
    ("CMAP-CR0038", change(**{"LB.LBSTRESN": {0: 62.0}}),
     [("LB", "S1", "LBSTRESN", "LBSTRESC=39, LBSTRESN=62.0")]),
    ("CMAP-CR0039", change(**{"LB.LBLOBXFL": {1: "Y"}}), [("LB", "S1", "LBLOBXFL", "ALB")]),
    # CORE-000105 negative/01: OELOBXFL Y with OESTRESC null
    ("CMAP-CR0040", change(**{"LB.LBSTRESC": {0: None}}), [("LB", "S1", "LBSTRESC", "ALB")]),
    # CORE-000672 negative/01: ALB LBSTNRLO 2.5 = LBSTNRHI 2.5
    ("CMAP-CR0041", change(**{"LB.LBSTNRHI": {0: 35.0}}),
     [("LB", "S1", "LBSTNRHI", "LBSTNRLO=35.0, LBSTNRHI=35.0")]),
    ("CMAP-CR0042", change(**{"LB.LBSTRESU": {1: "mg/dL"}}),
     [("LB", "S1", "LBSTRESU", "ALB: g/L"), ("LB", "S1", "LBSTRESU", "ALB: mg/dL")]),
    # CORE-000361 negative/01: one VISIT name on two planned VISITNUMs
    ("CMAP-CR0043", change(**{"LB.VISIT": {2: "WEEK 2"}}),
     [("LB", "S1", "VISITNUM", "VISITNUM=2, VISIT=WEEK 2"),
      ("LB", "S1", "VISITNUM", "VISITNUM=3, VISIT=WEEK 2")]),
    # CORE-000271 negative/01: EPOCH TREATMENT I not in TA
    ("CMAP-CR0044", change(**{"AE.EPOCH": {0: "TREATMENT I"}}),
     [("AE", "S1", "EPOCH", "TREATMENT I")]),
    ("CMAP-CR0045", change(**{"LB.VISITNUM": {2: 4}}), [("LB", "S1", "VISITNUM", "4")]),
    # a second end-of-treatment disposition event in the subject's TREATMENT epoch
    ("CMAP-CR0046", change(**{"DS+": {"STUDYID": "ST1", "DOMAIN": "DS", "USUBJID": "S1",
                                      "DSSEQ": 3, "DSTERM": "ADVERSE EVENT",
                                      "DSDECOD": "ADVERSE EVENT", "DSCAT": "DISPOSITION EVENT",
                                      "DSSCAT": "END OF TREATMENT", "EPOCH": "TREATMENT",
                                      "DSSTDTC": "2020-03-01"}}),
     [("DS", "S1", "EPOCH", "EPOCH=TREATMENT, DSDECOD=ADVERSE EVENT")]),
    # CORE-000179 negative/01: AGEMAX with TSPARM "Planned Minimum Age of Subjects"
    ("CMAP-CR0047", change(**{"TS.TSPARM": {1: "Planned Minimum Age of Subjects"}}),
     [("TS", "", "TSPARMCD", "TSPARMCD=AGEMIN, TSPARM=Planned Minimum Age of Subjects"),
      ("TS", "", "TSPARMCD", "TSPARMCD=AGEMAX, TSPARM=Planned Minimum Age of Subjects")]),
    ("CMAP-CR0048", change(**{"TS.TSPARMCD": {0: "AGEMAX"},
                              "TS.TSPARM": {0: "Planned Maximum Age of Subjects"}}),
     [("TS", "", "TSSEQ", "TSPARMCD=AGEMAX, TSSEQ=1")]),
    # CORE-000144 negative/01: TAETORD 2 twice in arm Placebo
    ("CMAP-CR0049", change(**{"TA.TAETORD": {2: 2}}),
     [("TA", "", "TAETORD", "ARMCD=A, TAETORD=2")]),
    ("CMAP-CR0050", change(**{"TE.ELEMENT": {1: "Treatment period"}}),
     [("TE", "", "ETCD", "ETCD=TRT, ELEMENT=Treatment period"),
      ("TA", "", "ETCD", "ETCD=TRT, ELEMENT=Treatment"),
      ("SE", "S1", "ETCD", "ETCD=TRT, ELEMENT=Treatment")]),
    ("CMAP-CR0051", change(**{"RELREC.RDOMAIN": {1: "CM"}}),
     [("RELREC", "S2", "RDOMAIN", "CM")]),
    # CORE-000484 negative/01: RELID AEDS1 on one record only
    ("CMAP-CR0052", change(**{"RELREC.RELID": {1: "R2"}}),
     [("RELREC", "S2", "RELID", "R1"), ("RELREC", "S2", "RELID", "R2")]),
    ("CMAP-CR0053", change(SUPPAE={
        "STUDYID": ["ST1"] * 2, "RDOMAIN": ["AE"] * 2, "USUBJID": ["S2", "S1"],
        "IDVAR": ["AESEQ"] * 2, "IDVARVAL": ["1"] * 2, "QNAM": ["AETRTEM"] * 2,
        "QLABEL": ["Treatment Emergent Flag", "Treatment Emergent"], "QVAL": ["Y", "N"]}),
     [("SUPPAE", "S2", "QNAM", "QNAM=AETRTEM, QLABEL=Treatment Emergent Flag"),
      ("SUPPAE", "S1", "QNAM", "QNAM=AETRTEM, QLABEL=Treatment Emergent")]),
    ("CMAP-CR0054", change(SUPPAE={
        "STUDYID": ["ST1"] * 2, "RDOMAIN": ["AE"] * 2, "USUBJID": ["S2", "S2"],
        "IDVAR": ["AESEQ"] * 2, "IDVARVAL": ["1"] * 2, "QNAM": ["AETRTEM"] * 2,
        "QLABEL": ["Treatment Emergent Flag"] * 2, "QVAL": ["Y", "N"]}),
     [("SUPPAE", "S2", "QNAM", "IDVAR=AESEQ, IDVARVAL=1, QNAM=AETRTEM")]),
    ("CMAP-CR0055", change(**{"AE.AESTDTC": {0: "2020-01"}}),
     [("AE", "S1", "AESTDY", "AESTDY=11, AESTDTC=2020-01")]),
    ("CMAP-CR0056", change(**{"LB.LBDY": {1: None}}),
     [("LB", "S1", "LBDY", "LBDY=(null), LBDTC=2020-01-24")]),
    ("CMAP-CR0057", change(**{"SE.SEENDTC": {0: "2020-01-09"}}),
     [("SE", "S1", "SEENDTC", "2020-01-09 vs next SESTDTC 2020-01-10")]),
    ("CMAP-CR0058", change(**{"SE.SEENDTC": {1: None}}),
     [("SE", "S1", "SEENDTC", "ETCD=TRT, SESTDTC=2020-01-10")]),
    ("CMAP-CR0059", change(**{"LB.LBTPT": ["PRE-DOSE", "PRE-DOSE", "POST-DOSE"],
                              "LB.LBTPTNUM": [1, 2, 2]}),
     [("LB", "S1", "LBTPTNUM", "LBTPTNUM=1, LBTPT=PRE-DOSE"),
      ("LB", "S1", "LBTPTNUM", "LBTPTNUM=2, LBTPT=PRE-DOSE"),
      ("LB", "S1", "LBTPTNUM", "LBTPTNUM=2, LBTPT=POST-DOSE")]),
    ("CMAP-CR0060", change(**{"DS.USUBJID": {0: "S3", 1: "S3"}}),
     [("DM", "S1", "ACTARMCD", "A")]),
]


def test_every_rule_has_a_case_and_a_core_mapping():
    assert sorted(rule for rule, _, _ in CASES) == sorted(core_rules.RULES)
    assert set(core_rules.RULES) <= set(CORE) and set(core_rules.RULES) <= set(rule_catalogue())
    assert len(CORE) >= 50


def test_valid_study_raises_no_rule(standards):
    # the negative case of every rule at once
    assert run(valid(), standards) == []


@pytest.mark.parametrize(("rule", "build", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule_fires_on_its_positive_case(rule, build, expected, standards):
    found = run(build(), standards)
    assert hits(found, rule) == expected
    assert all(f.source == "" for f in found)          # no lineage columns in hand-built data


def test_parts_split_the_rules_and_concatenate_to_one_call(standards):
    # validate runs the visit rules in its parent and the others in its forked child: each
    # part holds its own rules, and the parts in PARTS order are check_core_rules' list
    study = change(**{"DM.DTHDTC": {0: "2020-05-01"}, "AE.AESTDY": {0: 14},
                      "AE.EPOCH": {0: "TREATMENT I"}, "RELREC.RELID": {1: "R2"}})()
    frames = {name: pd.DataFrame(columns) for name, columns in study.items()}
    domains = {n: f for n, f in frames.items() if not n.startswith("SUPP")}
    supp = {n: f for n, f in frames.items() if n.startswith("SUPP")}
    parts = core_rules.check_core_parts(domains, supp, standards)
    assert core_rules.PARTS == ("subject", "class", "visits", "study")
    assert {part: sorted({f.rule for f in found}) for part, found in parts.items()} == {
        "subject": ["CMAP-CR0001"], "class": ["CMAP-CR0020"], "visits": ["CMAP-CR0044"],
        "study": ["CMAP-CR0052"]}
    whole = check_core_rules(domains, supp, standards)
    assert whole == [f for part in core_rules.PARTS for f in parts[part]]
    assert len(whole) == 5                      # CR0052 names both RELID records
    only = core_rules.check_core_parts(domains, supp, standards, parts=("visits",))
    assert list(only) == ["visits"] and only["visits"] == parts["visits"]
    with pytest.raises(ValueError, match="unknown CORE rule parts"):
        core_rules.check_core_parts(domains, supp, standards, parts=("dates",))


def test_raw_isin_answers_null_records_as_pandas_does():
    from cdiscmap.checks.core_rules_events import column_cache, raw_isin

    frame = pd.DataFrame({"USUBJID": pd.Series(["S1", None, "S2", "S1"], dtype="string")})
    with column_cache():
        assert raw_isin(frame, "USUBJID", pd.Index(["S1"])).tolist() == [True, False, False, True]
        # a null among the values matches the null record (Series.isin)
        assert raw_isin(frame, "USUBJID", pd.Series(["S2", None], dtype="string")).tolist() == [
            False, True, True, False]


def test_findings_name_the_record():
    study = change(**{"DM.AGE": {0: -1}})()
    frame = pd.DataFrame(study["DM"]).assign(_SRCFILE="sdtm/dm.xpt", _SRCROW=[1, 2, 3])
    found = check_core_rules({"DM": frame})
    assert [(f.rule, f.severity.value, f.source) for f in found] == [
        ("CMAP-CR0012", "error", "sdtm/dm.xpt row 1")]


def test_study_days_of_a_subject_missing_from_dm_are_left_to_xd0001(standards):
    study = change(**{"AE.USUBJID": {0: "S9"}})()
    assert hits(run(study, standards), "CMAP-CR0055") == []
    # a subject in DM without RFSTDTC (S3, a screen failure) is this rule's
    study = change(**{"AE.USUBJID": {0: "S3"}})()
    assert hits(run(study, standards), "CMAP-CR0055") == [
        ("AE", "S3", "AESTDY", "AESTDY=11, AESTDTC=2020-01-20"),
        ("AE", "S3", "AEENDY", "AEENDY=13, AEENDTC=2020-01-22")]


def test_many_records_fold_into_one_finding_per_value():
    n = 150
    dm = pd.DataFrame({"STUDYID": ["ST1"] * n, "USUBJID": [f"S{i}" for i in range(n)],
                       "AGE": [40] * n, "AGEU": [None] * n})
    found = [f for f in check_core_rules({"DM": dm}) if f.rule == "CMAP-CR0011"]
    assert [(f.usubjid, f.value, f.count) for f in found] == [("S0", "AGE=40, AGEU=(null)", 150)]


def test_partial_dates_compare_on_the_parts_both_give():
    a = pd.Series(["2019", "2018-06", "2018-06-15", "2018-06-14T10:00", None, "2018-07"])
    b = pd.Series(["2018-06-14", "2018-06-14", "2018-06-14", "2018-06-14T09:00", "2018",
                   "2018-06-30"])
    assert date_after(a, b).tolist() == [True, False, True, False, False, True]


def test_unplanned_visits_may_share_a_visit_name(standards):
    # VISIT UNSCHEDULED on VISITNUM 2.01 and 3.01: not planned visits (SDTMIG 3.4 §4.4.5)
    study = change(**{"LB.VISITNUM": {1: 2.01, 2: 3.01},
                      "LB.VISIT": {1: "UNSCHEDULED", 2: "UNSCHEDULED"},
                      "SV.VISITNUM": {1: 2.01, 2: 3.01},
                      "SV.VISIT": {1: "UNSCHEDULED", 2: "UNSCHEDULED"}})()
    assert run(study, standards) == []
    # with TV, the planned visits are TV's (CORE-000361): 2.01 listed there is planned, and
    # its VISIT is also the name of 3.01
    study["TV"] = {"STUDYID": ["ST1"] * 2, "DOMAIN": ["TV"] * 2, "VISITNUM": [1, 2.01],
                   "VISIT": ["SCREENING", "UNSCHEDULED"]}
    found = hits(run(study, standards), "CMAP-CR0043")
    assert [(d, v) for d, _, _, v in found] == [("LB", "VISITNUM=2.01, VISIT=UNSCHEDULED"),
                                                ("SV", "VISITNUM=2.01, VISIT=UNSCHEDULED")]


def test_visit_numbers_are_compared_as_written(standards):
    # a day-0 visit (VISITNUM 0.0 on every record of SV and LB) is one value: no finding
    study = change(**{"LB.VISITNUM": [0.0, 2.0, 3.0], "SV.VISITNUM": [0.0, 2.0, 3.0]})()
    assert run(study, standards) == []
    # 0.0 and -0.0 are one number but written two ways ("0.0", "-0.0"): one VISIT on two
    # VISITNUM spellings is CR0043 on both records; as numbers both are SV's visit 0 (no CR0045)
    study = change(**{"LB.VISITNUM": [0.0, -0.0, 3.0], "LB.VISIT": {1: "SCREENING"},
                      "SV.VISITNUM": [0.0, 2.0, 3.0]})()
    found = run(study, standards)
    assert hits(found, "CMAP-CR0043") == [("LB", "S1", "VISITNUM", "VISITNUM=0.0, VISIT=SCREENING"),
                                          ("LB", "S1", "VISITNUM",
                                           "VISITNUM=-0.0, VISIT=SCREENING")]
    assert hits(found, "CMAP-CR0045") == []


def test_baseline_flags_group_a_null_and_a_blank_key_alike(standards):
    # CR0039 groups by subject, test and qualifiers as written, a null --CAT and a blank one
    # being the same (no category): two LBLOBXFL=Y records of ALB for S1 are one too many;
    # the second record is reported, with its test code
    study = change(**{"LB.LBCAT": [None, "", None], "LB.LBLOBXFL": {1: "Y"}})()
    assert hits(run(study, standards), "CMAP-CR0039") == [("LB", "S1", "LBLOBXFL", "ALB")]
    # a real category on one of them makes two groups: no finding
    study = change(**{"LB.LBCAT": [None, "CHEMISTRY", None], "LB.LBLOBXFL": {1: "Y"}})()
    assert hits(run(study, standards), "CMAP-CR0039") == []


def test_class_rules_reach_custom_domains_by_class(standards):
    # a sponsor Events domain XA and Findings domain ZB: no metadata, class from topic variable
    xa = pd.DataFrame({"STUDYID": ["ST1"], "USUBJID": ["S1"], "XATERM": ["FLARE"],
                       "XASTDTC": ["2020-02-10"], "XAENDTC": ["2020-02-01"]})
    zb = pd.DataFrame({"STUDYID": ["ST1"], "USUBJID": ["S1"], "ZBTESTCD": ["SCORE"],
                       "ZBTEST": ["Score"], "ZBORRES": ["5"], "ZBSTRESC": ["5"],
                       "ZBSTRESN": [6.0]})
    assert domain_class("XA", xa, standards) == "Events"
    assert domain_class("ZB", zb, standards) == "Findings"
    assert domain_class("AE", xa, standards) == "Events"         # metadata of specs/
    found = check_core_rules({"XA": xa, "ZB": zb}, standards=standards)
    assert [(f.rule, f.dataset, f.variable, f.value) for f in found] == [
        ("CMAP-CR0019", "XA", "XASTDTC", "XASTDTC=2020-02-10, XAENDTC=2020-02-01"),
        ("CMAP-CR0038", "ZB", "ZBSTRESN", "ZBSTRESC=5, ZBSTRESN=6.0")]
    # an Interventions custom domain gets the dose rules, not the Findings ones
    xi = pd.DataFrame({"STUDYID": ["ST1"], "USUBJID": ["S1"], "XITRT": ["DRUG"],
                       "XIDOSE": [-5.0], "XIDOSU": ["mg"], "XISTRESC": ["5"]})
    assert [(f.rule, f.variable, f.value) for f in check_core_rules({"XI": xi}, None, standards)
            ] == [("CMAP-CR0025", "XIDOSE", "-5.0")]


# The bundled studies' own output raises no CORE-derived rule. (The rules first found real
# defects there, since fixed: RFXENDTC null for subjects still on treatment, now the latest
# EXSTDTC as SDTMIG 3.4 DM defines it; GIST follow-up elements (SE) ending before they start;
# TRSTAT NOT DONE without TRREASND, now collected on the lesion forms.)
BUNDLED = ["alk-sarcoma-cases", "crizotinib-basket", "gist-imatinib", "imt-edc", "imt-odm",
           "imt-pediatric"]


@pytest.mark.parametrize("study", BUNDLED)
def test_bundled_studies_raise_no_core_rule(study, tmp_path):
    from cdiscmap.pipeline.run import RunOptions, bundled_studies_dir, run_study
    from cdiscmap.synth import generate

    generate(study, tmp_path / "export", n_subjects=40, seed=11)
    result = run_study(RunOptions(study_dir=bundled_studies_dir() / study,
                                  raw_dir=tmp_path / "export" / "raw",
                                  out_root=tmp_path / "out", adam=False))
    raised = {f.rule for f in result.findings if f.rule.startswith("CMAP-CR")}
    assert raised == set(), sorted(raised)


def test_clean_codes_strip_and_blank_as_clean_text_does():
    from cdiscmap.checks.core_rules_events import _already_clean, codes, text

    obj = lambda *v: np.array(v, dtype=object)  # noqa: E731
    assert _already_clean(obj("A", "B C"))
    # white space at either end (str.isspace: tab, NBSP, \x1f too), a blank, nothing at all
    for values in (obj("A "), obj(" A"), obj("A\t"), obj("A\u00a0"), obj("A\x1f"), obj("A", ""),
                   obj()):
        assert not _already_clean(values)
    frame = pd.DataFrame({"X": pd.Series(["A", " A", None, "B", "  ", "B"], dtype="string"),
                          "Y": pd.Series(["A", "B", None, "A", "C", "C"], dtype="string")})
    assert text(frame, "X").tolist() == ["A", "A", pd.NA, "B", pd.NA, "B"]
    assert codes(frame, "Y").tolist() == [0, 1, -1, 0, 2, 2]


@pytest.mark.parametrize("limit", [1 << 22, 0])        # a table of the pairs; hashed pairs
def test_distinct_counts_by_table_or_hash(monkeypatch, limit) -> None:
    from cdiscmap.checks import core_rules_events as ev

    monkeypatch.setattr(ev, "PAIR_TABLE_LIMIT", limit)
    a = np.array([0, 0, 1, 2, 2, 0])
    b = np.array([0, 1, 1, 1, 1, 1])
    per_a, per_b = ev._distinct_counts(a, b)
    # a=0 goes with b 0 and 1; a=1 and a=2 with 1 only; b=0 with a 0; b=1 with a 0, 1, 2
    assert per_a.tolist() == [2, 1, 1]
    assert per_b.tolist() == [1, 3]


@pytest.mark.parametrize("limit", [1 << 22, 0])
def test_subject_visit_keys_by_table_or_hash(monkeypatch, limit) -> None:
    from cdiscmap.checks import core_rules_events as ev

    monkeypatch.setattr(ev, "PAIR_TABLE_LIMIT", limit)
    keys = core_rules._Keys(np.array([0, 5, 3, 5]), 6)
    assert keys.isin(np.array([5, 1, 3, 0, 4])).tolist() == [True, False, True, True, False]


def test_planned_visit_numbers_as_isin() -> None:
    values = pd.Series([1.0, 1.5, np.nan, 2.0, -0.0, 3.0])
    assert core_rules._among(values, {0.0, 1.0, 2.0}).tolist() == \
        values.isin({0.0, 1.0, 2.0}).tolist() == [True, False, False, True, True, False]
    ints = pd.Series([1, None, 2], dtype="Int64")
    assert core_rules._among(ints, {2.0}).tolist() == [False, False, True]
    assert core_rules._among(values, set()).tolist() == [False] * 6


def test_planned_and_subject_visits_by_hand() -> None:
    """CR0043 only on TV's planned visits, CR0045 where the subject has no SV record of the
    visit: visit 3 is planned but in no SV record, 2.5 in SV but not planned."""
    def text(*values: str) -> pd.Series:
        return pd.Series(list(values), dtype="string")

    tv = pd.DataFrame({"VISITNUM": [1.0, 2.0, 3.0]})
    sv = pd.DataFrame({"USUBJID": text("A", "A", "B"), "VISITNUM": [1.0, 2.5, 1.0]})
    vs = pd.DataFrame({"USUBJID": text("A", "A", "B", "B", "A", "A"),
                       "VISITNUM": [1.0, 2.5, 1.0, 3.0, 3.0, 2.5],
                       "VISIT": text("V1", "V2.5", "V1", "V3", "V3b", "V2.5x")})
    with core_rules.ev.column_cache():
        found = core_rules._visits_epochs({"TV": tv, "SV": sv, "VS": vs})
    cr0043 = [(f.usubjid, f.value) for f in found if f.rule == "CMAP-CR0043"]
    cr0045 = [(f.usubjid, f.value) for f in found if f.rule == "CMAP-CR0045"]
    # VISITNUM 3 goes with V3 and V3b (planned: reported); 2.5 with two VISITs is unplanned
    assert cr0043 == [("B", "VISITNUM=3.0, VISIT=V3"), ("A", "VISITNUM=3.0, VISIT=V3b")]
    # B/3 and A/3 have no SV record; A/2.5 has
    assert cr0045 == [("B", "3.0"), ("A", "3.0")]



_SUBJECT = st.sampled_from(["A", "B", "C", None])
_VISIT = st.sampled_from([1.0, 2.0, 2.5, -0.0, 0.0, np.nan])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_SUBJECT, _VISIT), min_size=1, max_size=12),
       st.lists(st.tuples(_SUBJECT, _VISIT), max_size=25))
def test_subject_visits_missing_is_the_pair_lookup(sv_rows, rows) -> None:
    """CR0045's records: a VISITNUM whose (subject, VISITNUM) pair no SV record has; the
    reference is a plain set of SV's non-null pairs (0.0 and -0.0 one visit, as isin)."""
    sv = pd.DataFrame({"USUBJID": pd.array([r[0] for r in sv_rows], dtype="string"),
                       "VISITNUM": [r[1] for r in sv_rows]})
    frame = pd.DataFrame({"USUBJID": pd.array([r[0] for r in rows], dtype="string"),
                          "VISITNUM": np.array([r[1] for r in rows], dtype=np.float64)})
    pairs = {(u, v + 0.0) for u, v in sv_rows if u is not None and not np.isnan(v)}
    expected = [not np.isnan(v) and (u, v + 0.0) not in pairs for u, v in rows]
    with core_rules.ev.column_cache():
        assert core_rules._SubjectVisits(sv).missing(frame).tolist() == expected

def test_partial_dates_compare_on_the_parts_both_give_string_columns():
    # as the test above, "string" columns (their text facts), nulls on both sides
    a = pd.Series(["2019", "2018-06", "2018-06-15", None, "2018-07", "2018", "2018"],
                  dtype="string")
    b = pd.Series(["2018-06-14", "2018-06-14", "2018-06-14", "2018", None, "2017-12", "2018"],
                  dtype="string")
    assert date_after(a, b).tolist() == [True, False, True, False, False, True, False]


@pytest.mark.parametrize("dtype", ["float64", "Float64"])
def test_stresn_against_stresc_by_hand(dtype) -> None:
    from cdiscmap.checks.core_rules_events import _stresn_wrong

    frame = pd.DataFrame({
        "LBSTRESC": pd.array(["5", "5", "5.10", "NEGATIVE", "NEGATIVE", None, " 7 ", "1e3"],
                             dtype="string"),
        "LBSTRESN": pd.Series([5.0, 6.0, np.nan, 1.0, np.nan, 2.0, 7.0, 1000.0000000001],
                              dtype=dtype)})
    # 6 is not 5; 5.10 without a number; a number for a text result and for none; " 7 " is
    # stripped to 7; 1000.0000000001 is 1e3 within the relative tolerance
    assert _stresn_wrong(frame, "LBSTRESC", "LBSTRESN").tolist() == [
        False, True, True, True, False, True, False, False]


def test_group_codes_equal_exactly_for_equal_combinations_past_int64() -> None:
    """Four columns of 70,000 values each have more combinations than int64 holds: the key
    is renumbered on the way and still equal exactly where the rows' values are."""
    from cdiscmap.checks import core_rules_events as ev

    rng = np.random.default_rng(7)
    n = 70_000
    columns = {c: pd.array([f"{c}{v}" for v in rng.permutation(n)], dtype="string")
               for c in "ABCD"}
    frame = pd.DataFrame(columns)
    frame = pd.concat([frame, frame.iloc[[5, 9]], frame.iloc[[5]].assign(D="other")],
                      ignore_index=True)
    frame.loc[len(frame) - 1, "A"] = None              # null and "" group together
    frame.loc[0, "A"] = ""
    with ev.column_cache():
        key = ev.group_codes(frame, list("ABCD"))
        assert key.dtype == np.int64
        # rows n, n+1 repeat rows 5 and 9; row n+2 differs from row 5 in D only
        assert key[n] == key[5] and key[n + 1] == key[9]
        assert key[n + 2] != key[5]
        assert len(np.unique(key)) == n + 1
        # a shared, read-only answer per column
        given = ev.filled(frame, "A")
        assert given is ev.filled(frame, "A") and not given.flags.writeable
        assert given[1] and not given[0] and not given[-1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet="ab \t\x00\x1c\xa0é", max_size=4),
                          st.sampled_from(["", "Y", "2019-01-01", "1.5"])), max_size=6))
def test_already_clean_is_the_regex_scan(values) -> None:
    """The substring fast path for ASCII values without white space decides as the regex."""
    from cdiscmap.checks import core_rules_events as ev

    joined = "\x00".join(values)
    assert ev._already_clean(np.array(values, dtype=object)) is \
        (ev._NOT_CLEAN.search(joined) is None)


def test_already_clean_by_hand() -> None:
    from cdiscmap.checks import core_rules_events as ev

    clean = ev._already_clean
    assert clean(np.array(["Y", "N", "2019-01"], dtype=object))
    assert not clean(np.array([], dtype=object))           # nothing: the regex's "^$"
    assert not clean(np.array(["Y", ""], dtype=object))     # a blank value
    assert not clean(np.array(["", "Y"], dtype=object))
    assert not clean(np.array(["Y", "", "N"], dtype=object))
    assert not clean(np.array(["Y ", "N"], dtype=object))   # to strip
    assert not clean(np.array(["Y", "\x1fN"], dtype=object))
    assert clean(np.array(["A B", "é"], dtype=object))      # inner space, non-ASCII: regex
    assert not clean(np.array(["é", "\xa0"], dtype=object))  # a no-break space alone


def test_subject_flags_by_hand() -> None:
    """CR0055's two questions of each record's subject, asked by one look-up of the frame's
    distinct USUBJIDs among DM's: is it in DM, and is its RFSTDTC complete."""
    def text(*values: str | None) -> pd.Series:
        return pd.Series(list(values), dtype="string")

    subjects = pd.Index(["A", "B", "C"], dtype="string")
    complete = np.array([True, False, True])
    frame = pd.DataFrame({"USUBJID": text("B", "Z", None, "A", "C", "A")})
    with core_rules.ev.column_cache():
        flagged, known = core_rules._subject_flags(frame, subjects, complete)
        # Z is not in DM; a null subject is in DM only when DM has a null USUBJID
        assert known.tolist() == [True, False, False, True, True, True]
        assert flagged.tolist() == [False, False, False, True, True, True]
        with_null = pd.Index(["A", None, "C"], dtype="string")
        flagged, known = core_rules._subject_flags(frame, with_null, complete)
        assert known.tolist() == [False, False, True, True, True, True]
        assert flagged.tolist() == [False, False, False, True, True, True]
        # as raw_isin answers them
        assert known.tolist() == core_rules.ev.raw_isin(frame, "USUBJID", with_null).tolist()
        assert flagged.tolist() == core_rules.ev.raw_isin(
            frame, "USUBJID", with_null[complete]).tolist()
    # not a text column: the caller asks raw_isin
    assert core_rules._subject_flags(pd.DataFrame({"USUBJID": [1, 2]}), subjects,
                                     complete) is None


def test_not_one_to_one_by_hand() -> None:
    from cdiscmap.checks.core_rules_events import not_one_to_one

    frame = pd.DataFrame({"A": pd.Series(["x", "x", "y", "z", "z"], dtype="string"),
                          "B": pd.Series(["1", "2", "3", "4", "4"], dtype="string")})
    # x goes with 1 and 2; y and z with one value each, and no B value with two A values
    assert not_one_to_one(frame, "A", "B").tolist() == [True, True, False, False, False]
    frame.loc[2, "B"] = "4"                 # 4 now with y and z; a null pair is left out
    frame.loc[0, "A"] = None
    assert not_one_to_one(frame, "A", "B").tolist() == [False, False, True, True, True]


def test_first_and_last_date_per_subject_by_hand() -> None:
    def text(*values: str) -> pd.Series:
        return pd.Series(list(values), dtype="string")

    dates = pd.DataFrame({"u": text("B", "A", "B", "A", "C", "B"),
                          "d": text("2020-03-01", "2020-01-05", "2019-12-31", "2020-01-05",
                                    "2021", "2020-03")})
    # compared as text: "2020-03" sorts before "2020-03-01"
    assert core_rules._first(dates).sort_index().to_dict() == {
        "A": "2020-01-05", "B": "2019-12-31", "C": "2021"}
    assert core_rules._first(dates, last=True).sort_index().to_dict() == {
        "A": "2020-01-05", "B": "2020-03-01", "C": "2021"}
    assert core_rules._first(dates.iloc[:0]).empty
