"""Build ``specs/`` (the standard metadata cdiscmap runs on) from the reference CSV tables.

Usage::

    python tools/build_specs.py [REFERENCE_DIR] [--out SPECS_DIR]

REFERENCE_DIR defaults to ``../shared/reference`` beside the repository root and SPECS_DIR to
``<repo root>/specs``. The reference tables are described in ``REFERENCE_DIR/PROVENANCE.md``.

Only the subset cdiscmap uses is copied, and never CDISC definition or notes prose. Everything
this script decides itself (natural keys, which ADaM variables cdiscmap derives, codelist
subsets, sponsor lists) lives in the configuration below, each choice with its reason.
The output is deterministic: rerunning on the same reference tables rewrites identical bytes,
and ``tests/unit/test_standards.py`` checks that the committed specs match.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT / "src") not in sys.path:      # the class rules are cdiscmap's own
    sys.path.insert(0, str(REPO_ROOT / "src"))

from cdiscmap.standards.classes import DEFINE_CLASS, class_keys  # noqa: E402

DEFAULT_REFERENCE = REPO_ROOT.parent / "shared" / "reference"
DEFAULT_OUT = REPO_ROOT / "specs"

SDTMIG = "SDTMIG 3.4"
ADAMIG = "ADaMIG 1.3"
SDTM_CT = ("SDTM CT", "2025-03-28")
ADAM_CT = ("ADaM CT", "2025-09-26")
SPONSOR_VERSION = "1"

# PROVENANCE.md, "Required attribution" (NCIt is CC BY 4.0: attribution is a licence condition).
CT_ATTRIBUTION = (
    "CDISC Controlled Terminology (SDTM CT 2025-03-28; ADaM CT 2025-09-26) is developed by CDISC "
    "and maintained and distributed by the NCI Enterprise Vocabulary Services (EVS) as part of NCI "
    "Thesaurus; source: https://evs.nci.nih.gov/ftp1/CDISC/."
)
IG_ATTRIBUTION = "Source: CDISC SDTMIG v3.4 / ADaMIG v1.3 (CDISC Library export), copyright CDISC."

# --------------------------------------------------------------------------------------------
# SDTM datasets and their natural keys.
# Keys follow SDTMIG 3.4 §3.2.1.1 (primary keys) and §4.1.9 (natural keys: the most granular key
# when records differ). They must be record-unique, because cdiscmap checks them (rule CMAP-SD0009).
# Where the natural key can legitimately repeat (a recurring AE term with the same partial
# start date; two dosing intervals starting in the same partially known month) --SEQ closes it:
# --SEQ is unique within USUBJID by definition (SDTMIG 3.4 §4.1.7 item 3).
# --------------------------------------------------------------------------------------------
SDTM_KEYS: dict[str, list[str]] = {
    # §5.2: one record per subject.
    "DM": ["STUDYID", "USUBJID"],
    # §6.2.1: one record per adverse event per subject.
    "AE": ["STUDYID", "USUBJID", "AEDECOD", "AESTDTC", "AESEQ"],
    # §6.1.3.1: one record per treatment per constant-dosing interval.
    "EX": ["STUDYID", "USUBJID", "EXTRT", "EXSTDTC", "EXSEQ"],
    # §6.2.4: one record per disposition status or protocol milestone; DSSCAT separates the
    # end-of-treatment and end-of-study records that may share DSDECOD and date.
    "DS": ["STUDYID", "USUBJID", "DSCAT", "DSSCAT", "DSDECOD", "DSSTDTC"],
    # §6.3.12.1: one record per identified tumor per subject per assessor.
    "TU": ["STUDYID", "USUBJID", "TUEVAL", "TUEVALID", "TULNKID", "TUTESTCD"],
    # §6.3.12.2: one record per tumor measurement/assessment per visit per subject per assessor.
    "TR": ["STUDYID", "USUBJID", "TREVAL", "TREVALID", "TRLNKID", "TRTESTCD", "VISITNUM"],
    # §6.3.9.3: per assessment per visit per subject per assessor per evaluator; RSCAT holds the
    # criteria (e.g. RECIST 1.1), so two criteria at one visit stay distinct.
    "RS": ["STUDYID", "USUBJID", "RSEVAL", "RSEVALID", "RSCAT", "RSTESTCD", "VISITNUM"],
    # §8.4.1: one record per qualifier per parent record.
    "SUPPQUAL": ["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"],
    # §7.4.2: TSSEQ separates multiple values of one parameter.
    "TS": ["STUDYID", "TSPARMCD", "TSSEQ"],
    # Special-purpose, trial design, relationship and study reference datasets have no
    # class-level variables: each one's key follows its "One record per ..." structure.
    # §5.1: one record per comment per subject (or per parent record).
    "CO": ["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "COSEQ"],
    # §5.3: one record per actual Element per subject.
    "SE": ["STUDYID", "USUBJID", "ETCD", "SESTDTC"],
    # §5.4: one record per milestone per subject.
    "SM": ["STUDYID", "USUBJID", "MIDS"],
    # §5.5: one record per actual or planned visit per subject.
    "SV": ["STUDYID", "USUBJID", "VISITNUM"],
    # §7.2.1: one record per planned Element per Arm.
    "TA": ["STUDYID", "ARMCD", "TAETORD"],
    # §7.3.3: one record per planned disease assessment schedule.
    "TD": ["STUDYID", "TDORDER"],
    # §7.2.2: one record per planned Element.
    "TE": ["STUDYID", "ETCD"],
    # §7.4.1: one record per I/E criterion (per protocol version).
    "TI": ["STUDYID", "IETESTCD", "TIVERS"],
    # §7.3.4: one record per disease milestone type.
    "TM": ["STUDYID", "MIDSTYPE"],
    # §7.3.1: one record per planned Visit per Arm.
    "TV": ["STUDYID", "VISITNUM", "ARMCD"],
    # §9.1: one record per taxon per non-host organism.
    "OI": ["STUDYID", "NHOID", "OIPARMCD"],
    # §8.2: one record per related record, group of records or dataset.
    "RELREC": ["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELID"],
    # §8.8: one record per specimen identifier per subject.
    "RELSPEC": ["STUDYID", "USUBJID", "REFID"],
    # §8.7: one record per relationship per related subject per subject.
    "RELSUB": ["STUDYID", "USUBJID", "POOLID", "RSUBJID", "SREL"],
}
# Every other SDTMIG dataset is of a general observation class and takes its class's keys
# (cdiscmap.standards.classes.CLASS_KEYS), e.g. LB: STUDYID, USUBJID, LBTESTCD, LBSPEC,
# VISITNUM, LBTPTREF, LBTPTNUM, LBSEQ. The define.xml class comes from
# cdiscmap.standards.classes.DEFINE_CLASS.

# Value domains the export lost: SDTMIG 3.4 §5.2 (DM, COUNTRY notes) names ISO 3166-1 alpha-3,
# and §4.3.1 lists it as an external terminology reference.
SDTM_VALUE_DOMAIN_OVERRIDES = {("DM", "COUNTRY"): "ISO 3166-1 alpha-3"}

# --------------------------------------------------------------------------------------------
# ADaM datasets: the variables cdiscmap derives (the lists of the task, plus the IG variables
# src/cdiscmap/adam derives besides: AGEGR1N, DTHDTF, RFICDT, PARCAT1-3, ADTF).
# Each entry is (name, source):
#   an IG placeholder name ("TRTxxP") with its placeholder values, "DM" for a DM variable
#   carried into ADSL (ADaMIG 1.3 §3.2 allows DM variables in ADSL), "ADSL" for an ADSL variable
#   carried into a BDS dataset (same label and type as in ADSL, ADaMIG 1.3 §3.2), or "sponsor".
# Variables not in the IG table are placed right after the variable named in "after".
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdamVar:
    name: str
    source: str                      # IG variable name (maybe a placeholder), "DM", "ADSL", "sponsor"
    fill: tuple[tuple[str, str], ...] = ()   # placeholder -> value, e.g. (("xx", "01"),)
    after: str | None = None         # anchor for variables not in the IG table
    label: str | None = None         # sponsor variables only
    core: str | None = None          # override of the IG core, with a reason in a comment
    value_list: tuple[str, ...] = ()  # sponsor variables only
    type: str | None = None          # sponsor variables only: Num or Char (default: Num for *DT)


XX01 = (("xx", "01"),)

ADSL_VARS = [
    AdamVar("STUDYID", "STUDYID"), AdamVar("USUBJID", "USUBJID"), AdamVar("SUBJID", "SUBJID"),
    AdamVar("SITEID", "SITEID"), AdamVar("AGE", "AGE"), AdamVar("AGEU", "AGEU"),
    AdamVar("AGEGR1", "AGEGRy", (("y", "1"),)), AdamVar("AGEGR1N", "AGEGRyN", (("y", "1"),)),
    AdamVar("SEX", "SEX"), AdamVar("RACE", "RACE"),
    AdamVar("ETHNIC", "DM", after="RACE"), AdamVar("COUNTRY", "DM", after="ETHNIC"),
    AdamVar("ARM", "ARM"), AdamVar("ARMCD", "DM", after="ARM"), AdamVar("ACTARM", "ACTARM"),
    AdamVar("ACTARMCD", "DM", after="ACTARM"),
    AdamVar("TRT01P", "TRTxxP", XX01), AdamVar("TRT01A", "TRTxxA", XX01),
    # numeric companions a study asks for (adsl.yaml numbered)
    AdamVar("TRT01PN", "TRTxxPN", XX01), AdamVar("TRT01AN", "TRTxxAN", XX01),
    AdamVar("RANDDT", "RANDDT"), AdamVar("TRTSDT", "TRTSDT"), AdamVar("TRTEDT", "TRTEDT"),
    # admiral ad_adsl.R TRTSDTM/TRTEDTM with the time imputation flags; the date flags only
    # when a study allows partial dose dates (exposure.start_imputation / end_imputation).
    AdamVar("TRTSDTM", "TRTSDTM"), AdamVar("TRTSDTF", "TRTSDTF"),
    AdamVar("TRTSTMF", "TRTSTMF"), AdamVar("TRTEDTM", "TRTEDTM"),
    AdamVar("TRTEDTF", "TRTEDTF"), AdamVar("TRTETMF", "TRTETMF"),
    AdamVar("TRTDURD", "TRTDURD"), AdamVar("DTHDT", "DTHDT"), AdamVar("DTHDTF", "DTHDTF"),
    AdamVar("RFICDT", "RFICDT"), AdamVar("ENRLDT", "ENRLDT"),
    # GIST rechallenge: first dose of the re-introduced treatment (a sponsor date variable).
    AdamVar("RCHSDT", "sponsor", after="TRTETMF", label="Rechallenge Start Date"),
    AdamVar("DTHFL", "DM", after="DTHDTF"), AdamVar("DTHCAUS", "DTHCAUS"),
    AdamVar("LSTALVDT", "LSTALVDT"), AdamVar("EOSSTT", "EOSSTT"), AdamVar("EOSDT", "EOSDT"),
    AdamVar("DCSREAS", "DCSREAS"), AdamVar("ITTFL", "ITTFL"), AdamVar("SAFFL", "SAFFL"),
    # Efficacy population: a sponsor population flag named and valued like the IG's (ADaMIG 1.3
    # §3.2.3 population indicators are Y/N).
    AdamVar("EFFFL", "sponsor", after="ITTFL", label="Efficacy Population Flag",
            value_list=("Y", "N")),
    # admiral ad_adsl.R groupings and death variables (issue 11 §2): IG grouping variables …
    AdamVar("RACEGR1", "RACEGRy", (("y", "1"),)), AdamVar("RACEGR1N", "RACEGRyN", (("y", "1"),)),
    AdamVar("REGION1", "REGIONy", (("y", "1"),)), AdamVar("REGION1N", "REGIONyN", (("y", "1"),)),
    AdamVar("DTHCGR1", "DTHCGRy", (("y", "1"),)), AdamVar("DTHCGR1N", "DTHCGRyN", (("y", "1"),)),
    # … and the template's variables the IG table does not list (sponsor, admiral's names).
    AdamVar("SCRFDT", "sponsor", after="EOSDT", label="Screen Failure Date"),
    AdamVar("FRVDT", "sponsor", after="SCRFDT", label="Final Retrieval Visit Date"),
    AdamVar("DTHDOM", "sponsor", after="DTHCAUS", label="Domain for Date of Death Collection",
            type="Char"),
    AdamVar("DTHADY", "sponsor", after="DTHDOM", label="Relative Day of Death", type="Num"),
    AdamVar("LDDTHELD", "sponsor", after="DTHADY", label="Elapsed Days from Last Dose to Death",
            type="Num"),
    AdamVar("LDDTHGR1", "sponsor", after="LDDTHELD", label="Last Dose to Death - Days Elap Grp 1",
            type="Char"),
    AdamVar("DTH30FL", "sponsor", after="LDDTHGR1", label="Death Within 30 Days of Last Trt Flag",
            type="Char", value_list=("Y",)),
    AdamVar("DTHA30FL", "sponsor", after="DTH30FL", label="Death After 30 Days from Last Trt Flag",
            type="Char", value_list=("Y",)),
    AdamVar("DTHB30FL", "sponsor", after="DTHA30FL", label="Death Within 30 Days of First Trt Flag",
            type="Char", value_list=("Y",)),
    AdamVar("COHORT", "sponsor", label="Basket Cohort"),
    AdamVar("COHORTN", "sponsor", label="Basket Cohort (N)", type="Num"),
    AdamVar("PATHOL", "sponsor", label="Tumor Pathology"),
    AdamVar("GENALT", "sponsor", label="Genetic Alteration"),
]

_BDS_HEAD = [
    AdamVar("STUDYID", "STUDYID"), AdamVar("USUBJID", "USUBJID"), AdamVar("SUBJID", "SUBJID"),
    AdamVar("SITEID", "SITEID"), AdamVar("ASEQ", "ASEQ"),
]
# ADSL variables carried into BDS follow the identifiers; the IG gives them no core there.
_BDS_ADSL = [
    AdamVar("TRT01P", "ADSL", after="ASEQ"), AdamVar("TRT01A", "ADSL", after="TRT01P"),
    AdamVar("COHORT", "ADSL", after="TRT01A"), AdamVar("PATHOL", "ADSL", after="COHORT"),
    AdamVar("GENALT", "ADSL", after="PATHOL"),
]
_BDS_TRACE = [AdamVar("SRCDOM", "SRCDOM"), AdamVar("SRCVAR", "SRCVAR"),
              AdamVar("SRCSEQ", "SRCSEQ")]

ADRS_VARS = [
    *_BDS_HEAD,
    AdamVar("PARAMCD", "PARAMCD"), AdamVar("PARAM", "PARAM"), AdamVar("PARAMN", "PARAMN"),
    *(AdamVar(f"PARCAT{y}", "PARCATy", (("y", str(y)),)) for y in (1, 2, 3)),
    AdamVar("AVAL", "AVAL"), AdamVar("AVALC", "AVALC"), AdamVar("ADT", "ADT"),
    AdamVar("ADTF", "ADTF"), AdamVar("ADY", "ADY"), AdamVar("AVISIT", "AVISIT"), AdamVar("AVISITN", "AVISITN"),
    AdamVar("ANL01FL", "ANLzzFL", (("zz", "01"),)), AdamVar("ANL02FL", "ANLzzFL", (("zz", "02"),)),
    AdamVar("ANL03FL", "ANLzzFL", (("zz", "03"),)), AdamVar("ANL04FL", "ANLzzFL", (("zz", "04"),)),
    AdamVar("DTYPE", "DTYPE"), *_BDS_TRACE, *_BDS_ADSL,
]

ADTTE_VARS = [
    *_BDS_HEAD,
    AdamVar("PARAMCD", "PARAMCD"), AdamVar("PARAM", "PARAM"), AdamVar("PARAMN", "PARAMN"),
    AdamVar("AVAL", "AVAL"), AdamVar("STARTDT", "STARTDT"), AdamVar("ADT", "ADT"),
    # ADaMIG 1.3 §3.3.6 (table 3.3.6.1, CNSR notes): CNSR is required for time-to-event
    # parameters, and every ADTTE parameter is one.
    AdamVar("CNSR", "CNSR", core="Req"),
    AdamVar("EVNTDESC", "EVNTDESC"), AdamVar("CNSDTDSC", "CNSDTDSC"), *_BDS_TRACE, *_BDS_ADSL,
]


# ADAE (ADaM OCCDS 1.1, adverse events). The reference tables hold ADaMIG 1.3 only (ADSL, BDS),
# not the OCCDS document: variables OCCDS shares with BDS (TRTA/TRTAN, ASTDT..AENDY, ATOXGR/N)
# take their BDS metadata and position; AE variables carried over keep their SDTMIG 3.4 metadata
# (OCCDS 1.1 copies --SEQ and the AE topic/qualifiers); the OCCDS-only variables (TRTEMFL,
# ADURN/ADURU, LDOSEDTM, ASEV/ASEVN, AREL, RELGR1, AOCCxxFL) are written as sponsor variables
# with the OCCDS names and our labels.
SDTM_PREDECESSORS = ("DM", "AE")
_Y = ("Y",)
ADAE_VARS = [
    AdamVar("STUDYID", "STUDYID"), AdamVar("USUBJID", "USUBJID"), AdamVar("SUBJID", "SUBJID"),
    AdamVar("SITEID", "SITEID"),
    AdamVar("TRT01P", "ADSL", after="SITEID"), AdamVar("TRT01A", "ADSL", after="TRT01P"),
    AdamVar("TRTSDT", "ADSL", after="TRT01A"), AdamVar("TRTEDT", "ADSL", after="TRTSDT"),
    AdamVar("SAFFL", "ADSL", after="TRTEDT"),
    AdamVar("AESEQ", "AE", after="SAFFL"), AdamVar("AETERM", "AE", after="AESEQ"),
    AdamVar("AEDECOD", "AE", after="AETERM"), AdamVar("AEBODSYS", "AE", after="AEDECOD"),
    AdamVar("AESOC", "AE", after="AEBODSYS"), AdamVar("AESER", "AE", after="AESOC"),
    # Action taken, outcome and death (SDTMIG 3.4 AE order): "AEs leading to discontinuation"
    # are AEACN = DRUG WITHDRAWN (SDTM CT ACN), fatal AEs AEOUT = FATAL / AESDTH = Y.
    AdamVar("AEACN", "AE", after="AESER"), AdamVar("AEREL", "AE", after="AEACN"),
    AdamVar("AEOUT", "AE", after="AEREL"), AdamVar("AESDTH", "AE", after="AEOUT"),
    AdamVar("AETOXGR", "AE", after="AESDTH"),
    AdamVar("AESTDTC", "AE", after="AETOXGR"), AdamVar("AEENDTC", "AE", after="AESTDTC"),
    AdamVar("TRTA", "TRTA"), AdamVar("TRTAN", "TRTAN"),
    # admiral ad_adae.R: ASTDTM/AENDTM with their time imputation flags (BDS timing variables)
    AdamVar("ASTDTM", "ASTDTM"), AdamVar("ASTTMF", "ASTTMF"),
    AdamVar("AENDTM", "AENDTM"), AdamVar("AENTMF", "AENTMF"),
    AdamVar("ASTDT", "ASTDT"), AdamVar("ASTDTF", "ASTDTF"), AdamVar("ASTDY", "ASTDY"),
    AdamVar("AENDT", "AENDT"), AdamVar("AENDTF", "AENDTF"), AdamVar("AENDY", "AENDY"),
    # OCCDS 1.1 duration and last dose, severity (admiral ad_adae.R ADURN/ADURU, LDOSEDTM,
    # ASEV/ASEVN): not in the ADaMIG 1.3 tables, written as sponsor variables with OCCDS names.
    AdamVar("ADURN", "sponsor", after="AENTMF", label="Analysis Duration (N)", type="Num"),
    AdamVar("ADURU", "sponsor", after="ADURN", label="Analysis Duration Units",
            value_list=("DAYS",)),
    AdamVar("LDOSEDTM", "sponsor", after="ADURU", label="End Date/Time of Last Dose",
            type="Num"),
    AdamVar("TRTEMFL", "sponsor", after="LDOSEDTM", label="Treatment Emergent Analysis Flag",
            value_list=_Y),
    AdamVar("ATOXGR", "ATOXGR"), AdamVar("ATOXGRN", "ATOXGRN"),
    AdamVar("ASEV", "sponsor", after="ATOXGRN", label="Analysis Severity/Intensity"),
    AdamVar("ASEVN", "sponsor", after="ASEV", label="Analysis Severity/Intensity (N)",
            type="Num"),
    AdamVar("AREL", "sponsor", after="ASEVN", label="Analysis Causality"),
    AdamVar("RELGR1", "sponsor", after="AREL", label="Pooled Causality Group 1",
            value_list=("RELATED", "NOT RELATED")),
    AdamVar("AOCCFL", "sponsor", after="RELGR1", label="1st Occurrence within Subject Flag",
            value_list=_Y),
    AdamVar("AOCCSFL", "sponsor", after="AOCCFL", label="1st Occurrence of SOC Flag",
            value_list=_Y),
    AdamVar("AOCCPFL", "sponsor", after="AOCCSFL", label="1st Occurrence of Preferred Term Flag",
            value_list=_Y),
    AdamVar("AOCCIFL", "sponsor", after="AOCCPFL", label="1st Max Grade Occurrence Flag",
            value_list=_Y),
    AdamVar("AOCCSIFL", "sponsor", after="AOCCIFL", label="1st Max Grade Occur Within SOC Flag",
            value_list=_Y),
    AdamVar("AOCCPIFL", "sponsor", after="AOCCSIFL", label="1st Max Grade Occur Within PT Flag",
            value_list=_Y),
]

# ADEX (admiral ad_adex.R): per-subject summaries (PARCAT1 OVERALL) and one record per EX
# record (PARCAT1 INDIVIDUAL: AVALC for the dose-adjusted flags, SRC* naming the EX record).
ADEX_VARS = [
    *_BDS_HEAD,
    AdamVar("PARAMCD", "PARAMCD"), AdamVar("PARAM", "PARAM"), AdamVar("PARAMN", "PARAMN"),
    AdamVar("PARCAT1", "PARCATy", (("y", "1"),)),
    AdamVar("AVAL", "AVAL"), AdamVar("AVALC", "AVALC"), AdamVar("ASTDT", "ASTDT"),
    AdamVar("AENDT", "AENDT"), *_BDS_TRACE, *_BDS_ADSL,
]

# ADTR (admiralonco ad_adtr.R): the nadir and the changes from it are sponsor variables with
# admiralonco's names (ADaMIG 1.3 has no nadir variable).
ADTR_VARS = [
    *_BDS_HEAD,
    AdamVar("PARAMCD", "PARAMCD"), AdamVar("PARAM", "PARAM"),
    *(AdamVar(f"PARCAT{y}", "PARCATy", (("y", str(y)),)) for y in (1, 2, 3)),
    AdamVar("AVAL", "AVAL"), AdamVar("ADT", "ADT"), AdamVar("ADY", "ADY"),
    AdamVar("AVISIT", "AVISIT"), AdamVar("AVISITN", "AVISITN"),
    AdamVar("ABLFL", "ABLFL"), AdamVar("BASE", "BASE"), AdamVar("CHG", "CHG"),
    AdamVar("PCHG", "PCHG"),
    AdamVar("NADIR", "sponsor", after="PCHG", label="Nadir Sum Before This Assessment",
            type="Num"),
    AdamVar("CHGNAD", "sponsor", after="NADIR", label="Change from Nadir", type="Num"),
    AdamVar("PCHGNAD", "sponsor", after="CHGNAD", label="Percent Change from Nadir",
            type="Num"),
    AdamVar("ANL01FL", "ANLzzFL", (("zz", "01"),)), AdamVar("ANL02FL", "ANLzzFL", (("zz", "02"),)),
    # per-lesion parameters (LDIAMn, NLDIAMn) name their TR record
    *_BDS_TRACE, *_BDS_ADSL,
]


# ADQS: questionnaire scale scores (EORTC QLQ-C30 by default), PARAMCD from SDTM CT EOR01TC.
ADQS_VARS = [
    *_BDS_HEAD,
    AdamVar("PARAMCD", "PARAMCD"), AdamVar("PARAM", "PARAM"), AdamVar("PARAMN", "PARAMN"),
    AdamVar("PARCAT1", "PARCATy", (("y", "1"),)), AdamVar("PARCAT2", "PARCATy", (("y", "2"),)),
    AdamVar("AVAL", "AVAL"), AdamVar("ADT", "ADT"), AdamVar("ADY", "ADY"),
    AdamVar("AVISIT", "AVISIT"), AdamVar("AVISITN", "AVISITN"),
    AdamVar("ABLFL", "ABLFL"), AdamVar("BASE", "BASE"), AdamVar("CHG", "CHG"), *_BDS_ADSL,
]


@dataclass(frozen=True)
class AdamDataset:
    name: str
    label: str
    structure_code: str              # ADSL or BDS: which IG variable table
    class_name: str
    subclass: str | None
    structure: str
    keys: list[str]
    variables: list[AdamVar]


ADAM_DATASETS = [
    AdamDataset("ADSL", "Subject-Level Analysis Dataset", "ADSL",
                "SUBJECT LEVEL ANALYSIS DATASET", None, "One record per subject",
                ["STUDYID", "USUBJID"], ADSL_VARS),
    # Natural key per ADaMIG 1.3 §3.3: parameter and analysis timepoint; ADT separates two
    # assessments mapped to one analysis visit (ANL01FL then picks one).
    AdamDataset("ADRS", "Response Analysis Dataset", "BDS", "BASIC DATA STRUCTURE", None,
                "One record per subject per parameter per analysis visit per assessment date",
                ["STUDYID", "USUBJID", "PARAMCD", "AVISITN", "ADT"], ADRS_VARS),
    AdamDataset("ADTTE", "Time-to-Event Analysis Dataset", "BDS", "BASIC DATA STRUCTURE",
                "TIME-TO-EVENT", "One record per subject per parameter",
                ["STUDYID", "USUBJID", "PARAMCD"], ADTTE_VARS),
    # structure_code BDS: the IG table the OCCDS/BDS-shared variables are read from (see above).
    AdamDataset("ADAE", "Adverse Events Analysis Dataset", "BDS", "OCCURRENCE DATA STRUCTURE",
                "ADVERSE EVENT", "One record per subject per adverse event record",
                ["STUDYID", "USUBJID", "AESEQ"], ADAE_VARS),
    # Summaries have no SRCSEQ (one per subject and parameter); EX-record parameters one
    # record per EXSEQ.
    AdamDataset("ADEX", "Exposure Analysis Dataset", "BDS", "BASIC DATA STRUCTURE", None,
                "One record per subject per parameter, and per EX record for the INDIVIDUAL "
                "parameters", ["STUDYID", "USUBJID", "PARAMCD", "SRCSEQ"], ADEX_VARS),
    AdamDataset("ADTR", "Tumor Results Analysis Dataset", "BDS", "BASIC DATA STRUCTURE", None,
                "One record per subject per parameter per assessment",
                ["STUDYID", "USUBJID", "PARAMCD", "AVISITN", "ADT"], ADTR_VARS),
    AdamDataset("ADQS", "Questionnaire Analysis Dataset", "BDS", "BASIC DATA STRUCTURE", None,
                "One record per subject per parameter per questionnaire",
                ["STUDYID", "USUBJID", "PARAMCD", "AVISITN", "ADT"], ADQS_VARS),
]

# --------------------------------------------------------------------------------------------
# Controlled terminology.
# Copied: every codelist a selected variable names, plus this explicit list. ARMNRS is a
# variable, not a codelist: in SDTM CT 2025-03-28 DM.ARMNRS uses ARMNULRS (C142179).
# --------------------------------------------------------------------------------------------
EXTRA_SDTM_CODELISTS = [
    "NY", "SEX", "RACE", "ETHNIC", "AGEU", "ARMNULRS", "ACN", "OUT", "AESEV", "ROUTE", "FRM",
    "FREQ", "UNIT", "EPOCH", "NCOMPLT", "PROTMLST", "DSCAT", "EVAL", "ONCRSR", "ONCRTSCD",
    "ONCRTS", "ONCRSCAT", "TUTESTCD", "TUTEST", "TRTESTCD", "TRTEST", "TRPROPRS", "METHOD", "ND",
    "EOR01TC", "EOR01TN",            # EORTC QLQ-C30 v3.0 test codes and names (GIST QS)
]
EXTRA_ADAM_CODELISTS = ["DTYPE", "DATEFL"]

# Every codelist is carried whole (SDTM CT 2025-03-28: 146 codelists, about 21,000 terms for
# the 63 SDTMIG 3.4 datasets; LBTESTCD with 2,438 terms is the longest). A codelist listed here
# keeps only the named terms (written with subset: true and the note); none needs it now: the
# CT file is JSON, which loads in well under a second (specs/README.md).
SUBSETS: dict[str, tuple[list[str], str]] = {}

SPONSOR_CODELISTS: list[dict[str, Any]] = [
    {"name": "AEREL", "code": None, "label": "Causality", "extensible": False,
     "data_type": "text",
     "terms": [("NOT RELATED", "Not Related"), ("RELATED", "Related")]},
    {"name": "ISO3166", "code": None, "label": "ISO 3166-1 alpha-3", "extensible": False,
     "data_type": "text", "external": True, "dictionary": "ISO 3166",
     "version": "ISO 3166-1 alpha-3"},
    {"name": "MEDDRA", "code": None, "label": "MedDRA", "extensible": False,
     "data_type": "text", "external": True, "dictionary": "MedDRA", "version": "26.0"},
    # CTCAE grades for AETOXGR: the IG leaves AETOXGR sponsor-defined (no CDISC codelist).
    {"name": "TOXGR", "code": None, "label": "CTCAE Grade", "extensible": False,
     "data_type": "text",
     "terms": [(str(g), f"Grade {g}") for g in range(1, 6)]},
]

GENERATED_NOTE = "Generated by tools/build_specs.py from the reference tables; do not edit."


# ============================================================================================
# Reading the reference tables
# ============================================================================================
def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


@dataclass
class Reference:
    root: Path
    sdtm_vars: list[dict[str, str]]
    sdtm_datasets: dict[str, dict[str, str]]
    adam_vars: list[dict[str, str]]
    ct_terms: dict[str, list[dict[str, str]]]        # SDTM CT: codelist code -> term rows
    ct_lists: dict[str, dict[str, str]]              # SDTM CT: codelist code -> header row
    adam_terms: dict[str, list[dict[str, str]]]
    adam_lists: dict[str, dict[str, str]]

    @classmethod
    def load(cls, root: Path) -> Reference:
        def terms_by_code(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
            out: dict[str, list[dict[str, str]]] = {}
            for row in rows:
                out.setdefault(row["codelist_code"], []).append(row)
            return out

        return cls(
            root=root,
            sdtm_vars=read_csv(root / "ig" / "sdtmig_3.4_variables.csv"),
            sdtm_datasets={r["dataset"]: r for r in read_csv(root / "ig" / "sdtmig_3.4_datasets.csv")},
            adam_vars=read_csv(root / "ig" / "adamig_1.3_variables.csv"),
            ct_terms=terms_by_code(read_csv(root / "ct" / "sdtm_ct.csv")),
            ct_lists={r["codelist_code"]: r for r in read_csv(root / "ct" / "sdtm_ct_codelists.csv")},
            adam_terms=terms_by_code(read_csv(root / "ct" / "adam_ct.csv")),
            adam_lists={r["codelist_code"]: r for r in read_csv(root / "ct" / "adam_ct_codelists.csv")},
        )

    def codelist_code(self, short_name: str) -> tuple[str, str]:
        """(release, C-code) of a codelist given its submission value, SDTM CT first."""
        for release, lists in (("sdtm", self.ct_lists), ("adam", self.adam_lists)):
            for code, row in lists.items():
                if row["codelist_submission_value"] == short_name:
                    return release, code
        raise SystemExit(f"codelist {short_name!r} is in neither CT release")


# ============================================================================================
# Building the metadata
# ============================================================================================
def sdtm_variable(row: dict[str, str]) -> dict[str, Any]:
    codelists = split_list(row["codelist_submission_values"])
    var: dict[str, Any] = {
        "name": row["variable"],
        "label": row["label"],
        "type": row["type"],
        "core": row["core"],
        "role": row["role"] or None,
        "order": int(row["variable_order"]),
        "codelist": codelists[0] if codelists else None,
        "value_domain": SDTM_VALUE_DOMAIN_OVERRIDES.get((row["dataset"], row["variable"]))
        or row["described_value_domain"] or None,
    }
    if len(codelists) > 1:
        var["extra_codelists"] = codelists[1:]
    if row["value_list"]:
        var["value_list"] = split_list(row["value_list"])
    return var


def build_sdtm(ref: Reference) -> dict[str, dict[str, Any]]:
    """Every dataset of the IG table, with its keys: SDTM_KEYS, else its class's keys."""
    datasets: dict[str, dict[str, Any]] = {}
    unknown = sorted(set(SDTM_KEYS) - set(ref.sdtm_datasets))
    if unknown:
        raise SystemExit(f"SDTM_KEYS names datasets {unknown} that {SDTMIG} does not have")
    for name, head in sorted(ref.sdtm_datasets.items()):
        rows = sorted((r for r in ref.sdtm_vars if r["dataset"] == name),
                      key=lambda r: int(r["variable_order"]))
        if not rows:
            raise SystemExit(f"{SDTMIG} has no variables for {name}")
        if head["class"] not in DEFINE_CLASS:
            raise SystemExit(f"{name}: SDTM class {head['class']!r} has no Define-XML class")
        define_class, subclass = DEFINE_CLASS[head["class"]]
        variables = [sdtm_variable(r) for r in rows]
        names = [v["name"] for v in variables]
        keys = SDTM_KEYS.get(name) or class_keys(head["class"], name, names)
        missing = [k for k in keys if k not in names]
        if missing:
            raise SystemExit(f"{name} keys {missing} are not {name} variables")
        datasets[name] = {
            "name": name,
            "label": head["label"],
            "standard": SDTMIG,
            "class": define_class,
            "subclass": subclass,
            "structure": head["structure"],
            "keys": keys,
            "variables": variables,
        }
    return datasets


def _fill_name(name: str, fill: tuple[tuple[str, str], ...]) -> str:
    """TRTxxP -> TRT01P: placeholders are the only lower-case letters in IG names."""
    for placeholder, value in fill:
        name = name.replace(placeholder, value)
    return name


def _fill_label(label: str, fill: tuple[tuple[str, str], ...]) -> str:
    """'Planned Treatment for Period xx' -> '... Period 01': placeholders are whole words."""
    for placeholder, value in fill:
        label = re.sub(rf"\b{placeholder}\b", value, label)
    return label


def _ig_row(ref: Reference, structure: str, name: str) -> dict[str, str]:
    for row in ref.adam_vars:
        if row["data_structure"] == structure and row["variable"] == name:
            return row
    raise SystemExit(f"{ADAMIG} {structure} has no variable {name}")


def _ig_position(row: dict[str, str], structure: str) -> int:
    """Row order within the IG table; for BDS the export puts Identifiers last, the IG first."""
    order = int(row["variable_order"])
    if structure == "BDS" and row["variable_set"] == "Identifier":
        return order - 1000
    return order


def adam_variable(ref: Reference, ds: AdamDataset, spec: AdamVar,
                  adsl: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], float | None]:
    """The variable's metadata and its IG position (None when placed after an anchor)."""
    position: float | None = None
    if spec.source == "sponsor":
        # ADaMIG 1.3 §3.1.4 naming: a sponsor *DT variable is a numeric SAS date like the IG's
        var = {"name": spec.name, "label": spec.label,
               "type": spec.type or ("Num" if spec.name.endswith("DT") else "Char"),
               "core": "Perm",
               "role": None, "codelist": None, "value_domain": None}
    elif spec.source == "ADSL":
        var = {k: v for k, v in adsl[spec.name].items() if k != "order"}
        var["core"] = "Perm"
    elif spec.source in SDTM_PREDECESSORS:
        row = next(r for r in ref.sdtm_vars
                   if r["dataset"] == spec.source and r["variable"] == spec.name)
        dm = sdtm_variable(row)
        var = {"name": spec.name, "label": dm["label"], "type": dm["type"], "core": "Perm",
               "role": None, "codelist": dm["codelist"], "value_domain": dm["value_domain"]}
    else:
        row = _ig_row(ref, ds.structure_code, spec.source)
        name = _fill_name(spec.source, spec.fill)
        if name != spec.name:
            raise SystemExit(f"{spec.source} with {spec.fill} gives {name}, not {spec.name}")
        codelists = split_list(row["codelist_submission_values"])
        var = {"name": spec.name, "label": _fill_label(row["label"], spec.fill), "type": row["type"],
               "core": row["core"], "role": None,
               "codelist": codelists[0] if codelists else None, "value_domain": None}
        if row["value_list"]:
            var["value_list"] = split_list(row["value_list"])
        position = _ig_position(row, ds.structure_code)
    if spec.core:
        var["core"] = spec.core
    if spec.value_list:
        var["value_list"] = list(spec.value_list)
    # ADaMIG 1.3 §3.1.2: *DT variables are numeric SAS dates, shown with a date format.
    if var["type"] == "Num" and spec.name.endswith("DT"):
        var["display_format"] = "DATE9."
    # ... and *DTM variables numeric SAS datetimes (an imputed 00:00:00 must not read as a date)
    if var["type"] == "Num" and spec.name.endswith("DTM"):
        var["display_format"] = "DATETIME20."
    if spec.source == "sponsor":
        var["sponsor"] = True
    if len(var["label"]) > 40:
        raise SystemExit(f"{ds.name}.{spec.name} label longer than 40: {var['label']!r}")
    return var, position


def build_adam(ref: Reference) -> dict[str, dict[str, Any]]:
    datasets: dict[str, dict[str, Any]] = {}
    adsl_vars: dict[str, dict[str, Any]] = {}
    for ds in ADAM_DATASETS:
        placed: list[tuple[float, dict[str, Any]]] = []
        anchored: list[tuple[AdamVar, dict[str, Any]]] = []
        tail: list[dict[str, Any]] = []
        for spec in ds.variables:
            var, position = adam_variable(ref, ds, spec, adsl_vars)
            if position is not None:
                placed.append((position, var))
            elif spec.after:
                anchored.append((spec, var))
            else:
                tail.append(var)
        ordered = [var for _, var in sorted(placed, key=lambda item: item[0])]
        for spec, var in anchored:
            names = [v["name"] for v in ordered]
            ordered.insert(names.index(spec.after) + 1, var)
        ordered.extend(tail)
        for number, var in enumerate(ordered, start=1):
            var["order"] = number
        variables = [_order_keys(var) for var in ordered]
        datasets[ds.name] = {
            "name": ds.name,
            "label": ds.label,
            "standard": ADAMIG,
            "class": ds.class_name,
            "subclass": ds.subclass,
            "structure": ds.structure,
            "keys": ds.keys,
            "variables": variables,
        }
        if ds.name == "ADSL":
            adsl_vars = {v["name"]: v for v in variables}
    return datasets


VARIABLE_KEY_ORDER = ["name", "label", "type", "core", "role", "order", "codelist",
                      "extra_codelists", "value_domain", "value_list", "display_format", "sponsor"]


def _order_keys(var: dict[str, Any]) -> dict[str, Any]:
    return {k: var[k] for k in VARIABLE_KEY_ORDER if k in var}


def referenced_codelists(datasets: list[dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    for ds in datasets:
        for var in ds["variables"]:
            if var.get("codelist"):
                names.add(var["codelist"])
            names.update(var.get("extra_codelists", []))
    return names


def ct_codelist(header: dict[str, str], terms: list[dict[str, str]]) -> dict[str, Any]:
    name = header["codelist_submission_value"]
    out: dict[str, Any] = {
        "name": name,
        "code": header["codelist_code"],
        "label": header["codelist_name"],
        "extensible": header["extensible"] == "Yes",
        "data_type": "text",
    }
    kept = terms
    if name in SUBSETS:
        wanted, note = SUBSETS[name]
        by_value = {t["submission_value"]: t for t in terms}
        absent = [w for w in wanted if w not in by_value]
        if absent:
            raise SystemExit(f"{name} subset terms {absent} are not in the codelist")
        kept = [t for t in terms if t["submission_value"] in set(wanted)]
        out["subset"] = True
        out["note"] = note
    out["terms"] = [Flow(value=t["submission_value"], code=t["term_code"],
                         decode=t["preferred_term"] or None) for t in kept]
    return out


def build_ct(ref: Reference, datasets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    wanted = referenced_codelists(datasets) | set(EXTRA_SDTM_CODELISTS) | set(EXTRA_ADAM_CODELISTS)
    sponsor_names = {c["name"] for c in SPONSOR_CODELISTS}
    by_release: dict[str, list[dict[str, Any]]] = {"sdtm": [], "adam": []}
    for name in sorted(wanted - sponsor_names):
        release, code = ref.codelist_code(name)
        lists, terms = ((ref.ct_lists, ref.ct_terms) if release == "sdtm"
                        else (ref.adam_lists, ref.adam_terms))
        by_release[release].append(ct_codelist(lists[code], terms[code]))
    files = {}
    for release, (standard, version), sources in (
        ("sdtm", SDTM_CT, ["ct/sdtm_ct.csv", "ct/sdtm_ct_codelists.csv"]),
        ("adam", ADAM_CT, ["ct/adam_ct.csv", "ct/adam_ct_codelists.csv"]),
    ):
        files[release] = {
            "standard": standard,
            "version": version,
            "attribution": CT_ATTRIBUTION,
            "sources": [Flow(file=s, sha256=sha256(ref.root / s)) for s in sources],
            "codelists": by_release[release],
        }
    return files


def build_sponsor() -> dict[str, Any]:
    codelists = []
    for spec in sorted(SPONSOR_CODELISTS, key=lambda c: c["name"]):
        out = {k: v for k, v in spec.items() if k != "terms"}
        if "terms" in spec:
            out["terms"] = [Flow(value=v, code=None, decode=d) for v, d in spec["terms"]]
        codelists.append(out)
    return {"standard": "sponsor", "version": SPONSOR_VERSION, "codelists": codelists}


# ============================================================================================
# Writing JSON (deterministic: fixed key order, UTF-8, LF endings)
# ============================================================================================
class Flow(dict):
    """A mapping written on one line (terms, sources)."""


def dump_json(data: Any, indent: int = 0) -> str:
    """JSON laid out like the YAML files: one key per line, a Flow mapping (a term, a source)
    or a list of strings on one line. JSON because the loader reads it ~50x faster than YAML
    (json is C all the way; PyYAML builds every node in Python), which matters for the 21,000
    CT terms."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(data, Flow) or (isinstance(data, list) and all(
            isinstance(item, str) for item in data)):
        return json.dumps(data, ensure_ascii=False, separators=(", ", ": "))
    if isinstance(data, dict):
        if not data:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dump_json(v, indent + 2)}"
                 for k, v in data.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(data, list):
        if not data:
            return "[]"
        return ("[\n" + ",\n".join(f"{inner}{dump_json(v, indent + 2)}" for v in data)
                + f"\n{pad}]")
    return json.dumps(data, ensure_ascii=False)


def readme(ref: Reference, sdtm: dict, adam: dict, ct: dict, sponsor: dict) -> str:
    def codelist_names(doc: dict[str, Any]) -> str:
        return ", ".join(c["name"] for c in doc["codelists"])

    subsets = "\n".join(f"- `{name}`: {note}" for name, (_, note) in sorted(SUBSETS.items()))
    ig_sources = "\n".join(
        f"- `{p}` sha256 `{sha256(ref.root / p)}`"
        for p in ["ig/sdtmig_3.4_variables.csv", "ig/sdtmig_3.4_datasets.csv",
                  "ig/adamig_1.3_variables.csv"])
    by_class: dict[str, list[str]] = {}
    for name, head in sorted(ref.sdtm_datasets.items()):
        by_class.setdefault(head["class"], []).append(name)
    classes = "\n".join(f"| {cls} | {DEFINE_CLASS[cls][0]}"
                        f"{' / ' + DEFINE_CLASS[cls][1] if DEFINE_CLASS[cls][1] else ''} | "
                        f"{', '.join(names)} |" for cls, names in sorted(by_class.items()))
    terms = sum(len(c["terms"]) for c in ct["sdtm"]["codelists"])
    return f"""# specs/: standard metadata

Generated by `tools/build_specs.py` from the reference tables (`../shared/reference`, see its
`PROVENANCE.md`); do not edit by hand, rerun the script. Loaded by `cdiscmap.standards`.

| where | what | version |
|---|---|---|
| `sdtmig-3.4/<DOMAIN>.json` | all {len(sdtm)} datasets of the IG | {SDTMIG} |
| `adamig-1.3/<DATASET>.json` | {", ".join(adam)} | {ADAMIG} |
| `ct/sdtm-ct-{SDTM_CT[1]}.json` | {len(ct["sdtm"]["codelists"])} codelists, {terms:,} terms | {" ".join(SDTM_CT)} |
| `ct/adam-ct-{ADAM_CT[1]}.json` | {len(ct["adam"]["codelists"])} codelists | {" ".join(ADAM_CT)} |
| `ct/sponsor.json` | {codelist_names(sponsor)} | sponsor {SPONSOR_VERSION} |

SDTMIG 3.4 datasets by class (class as the IG writes it | Define-XML 2.1 def:Class / SubClass):

| class | define.xml | datasets |
|---|---|---|
{classes}

Dataset files hold name, label, class (Define-XML 2.1 class value) and subclass, structure,
natural keys and the variables in IG order: name, label, type, core, role, order, codelist
(submission short name; further IG codelists in `extra_codelists`), value_domain, value_list
(IG fixed values), display_format, sponsor. ADaM files list only the variables cdiscmap
derives; IG placeholders are resolved (TRTxxP -> TRT01P). No CDISC definition or notes text
is copied.

Natural keys: the script's `SDTM_KEYS` for the datasets cdiscmap maps and for every dataset
outside the general observation classes (each with its SDTMIG section); every other dataset
takes its class's keys, `cdiscmap.standards.classes.CLASS_KEYS` (subject, topic, qualifiers
and timing, then --SEQ, which keeps the key record-unique).

CT files hold every codelist a dataset variable names plus an explicit list (see the script):
short name, NCI code, label, extensible, data_type and terms (value, NCI code, NCI preferred
term as decode). Every codelist is carried whole (LOC with TULAT/TUDIR/TUPORTOT's companions,
UNIT, METHOD included); a documented subset would be marked `subset: true`.
{("Subsets:" + chr(10) + subsets) if subsets else "No codelist is a subset."}

Note: there is no ARMNRS codelist; DM.ARMNRS uses ARMNULRS (C142179) in SDTM CT 2025-03-28.
MS.MSRESCAT names C85495, which SDTM CT 2025-03-28 does not have: it has no codelist here.
SDTM CT codelists: {codelist_names(ct["sdtm"])}.
ADaM CT codelists: {codelist_names(ct["adam"])}.

## Format and load time

The files are JSON (one key per line, one term per line): `load_standards()` parses JSON in
C, where PyYAML builds every node in Python. Measured with a cold process on the development
machine (2 shared cores), best of three:

| specs/ | size | `load_standards()` |
|---|---|---|
| before: 12 datasets, 52 codelists (1,807 terms), YAML | 234 KB | 0.48 s |
| tried: the same, datasets in YAML, CT in JSON | - | 1.1 s |
| now: 66 datasets, 153 codelists (20,873 terms), all JSON | 2.7 MB | 0.23 s |

## Custom domains

A study declares sponsor-defined domains of a general observation class (SDTMIG 3.4 §2.6) in
study.yaml `custom_domains:`; their metadata is built at run time by
`Standards.with_custom_domains` from the class's template domain in these files
(`cdiscmap.standards.classes.CLASS_TEMPLATE`: Interventions CM, Events CE, Findings LB,
Findings About FA; `like:` names another domain of the class) with the prefix replaced
(LBTESTCD -> XPTESTCD), DOMAIN fixed to the new name, codelists kept only when the IG uses
them in more than one domain (UNIT, ND, NY: yes; LBTESTCD: no), and keys from `CLASS_KEYS`.
See docs/mapping-language.md, "Custom domains".

## Provenance and attribution

{IG_ATTRIBUTION}
{ig_sources}

{CT_ATTRIBUTION}
"""


def build_specs(reference: Path, out: Path) -> list[Path]:
    """Write every specs file under ``out``; return the paths written, sorted."""
    ref = Reference.load(reference)
    sdtm = build_sdtm(ref)
    adam = build_adam(ref)
    ct = build_ct(ref, [*sdtm.values(), *adam.values()])
    sponsor = build_sponsor()

    def document(data: dict[str, Any], attribution: str | None = None) -> str:
        head = {"generated": GENERATED_NOTE}
        if attribution:
            head["attribution"] = attribution
        return dump_json({**head, **data}) + "\n"

    documents: dict[Path, str] = {}
    for name, doc in sdtm.items():
        documents[out / "sdtmig-3.4" / f"{name}.json"] = document(doc, IG_ATTRIBUTION)
    for name, doc in adam.items():
        documents[out / "adamig-1.3" / f"{name}.json"] = document(doc, IG_ATTRIBUTION)
    documents[out / "ct" / f"sdtm-ct-{SDTM_CT[1]}.json"] = document(ct["sdtm"])
    documents[out / "ct" / f"adam-ct-{ADAM_CT[1]}.json"] = document(ct["adam"])
    documents[out / "ct" / "sponsor.json"] = document(sponsor)
    documents[out / "README.md"] = readme(ref, sdtm, adam, ct, sponsor)

    for path, text in sorted(documents.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return sorted(documents)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", nargs="?", type=Path, default=DEFAULT_REFERENCE,
                        help="reference directory (default: ../shared/reference)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="specs directory")
    args = parser.parse_args(argv)
    if not (args.reference / "ig").is_dir():
        print(f"error: {args.reference} is not a reference directory (no ig/)", file=sys.stderr)
        return 2
    written = build_specs(args.reference, args.out)
    print(f"wrote {len(written)} files under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
