"""Rules that depend on the SDTM class reach every domain of the class (issue 10 §1).

CMAP-XD0005 (start after death), CMAP-XD0008 (before informed consent) and the lesion-diameter
part of CMAP-PL0004 once named AE/EX/TR/TU/RS; they now follow the dataset's class, from specs/
(or the study's custom domains) or, for a dataset without metadata, from its topic variable.
"""

from __future__ import annotations

import pandas as pd

from cdiscmap.checks.crossdomain import check_sdtm_cross, domain_class
from cdiscmap.checks.plausibility import check_plausibility
from cdiscmap.standards import CustomDomain, load_standards, with_custom_domains

STANDARDS = load_standards()


def S(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def dm() -> pd.DataFrame:
    # X-1 consented 2020-01-05 and died 2020-06-30; X-2 consented 2020-02-01, alive
    return pd.DataFrame({"USUBJID": S("X-1", "X-2"), "RFICDTC": S("2020-01-05", "2020-02-01"),
                         "DTHDTC": S("2020-06-30", pd.NA)})


def events(prefix: str) -> pd.DataFrame:
    """Three records of an Events domain: before consent, in the study, after death."""
    return pd.DataFrame({"USUBJID": S("X-1", "X-1", "X-1"), f"{prefix}SEQ": [1.0, 2.0, 3.0],
                         f"{prefix}TERM": S("HEADACHE", "NAUSEA", "RASH"),
                         f"{prefix}STDTC": S("2020-01-01", "2020-03-01", "2020-07-02")})


def hits(findings, rule: str) -> list[tuple[str, str, str]]:
    return sorted((f.dataset, f.variable, f.value) for f in findings if f.rule == rule)


# ============================================================================================
# The class of a dataset
# ============================================================================================
def test_class_from_specs_then_from_the_topic_variable() -> None:
    empty = pd.DataFrame()
    assert [domain_class(n, empty) for n in ("AE", "CE", "EX", "EC", "LB", "FA", "DM", "TS")] \
        == ["Events", "Events", "Interventions", "Interventions", "Findings", "Findings About",
            "Special-Purpose", "Trial Design"]
    # no metadata: the topic variable tells (SDTMIG 3.4 §2.1)
    assert domain_class("XA", events("XA")) == "Events"
    assert domain_class("YB", pd.DataFrame(columns=["YBTRT"])) == "Interventions"
    assert domain_class("ZC", pd.DataFrame(columns=["ZCTESTCD"])) == "Findings"
    assert domain_class("ZD", pd.DataFrame(columns=["ZDTESTCD", "ZDOBJ"])) == "Findings About"
    assert domain_class("XQ", pd.DataFrame(columns=["USUBJID"])) is None


def test_class_of_a_custom_domain_is_its_declared_class() -> None:
    # declared Findings although it carries a --TERM column: the declaration wins
    study = with_custom_domains(STANDARDS, [CustomDomain("XF", "Findings", "Sponsor findings")])
    frame = pd.DataFrame(columns=["XFTERM", "XFTESTCD"])
    assert domain_class("XF", frame, study) == "Findings"
    assert domain_class("XF", frame) == "Events"          # no metadata: --TERM comes first


# ============================================================================================
# CMAP-XD0005 and CMAP-XD0008 by class
# ============================================================================================
def test_custom_events_domain_gets_the_death_and_consent_rules() -> None:
    study = with_custom_domains(STANDARDS, [CustomDomain("XA", "Events", "Sponsor events")])
    for standards in (study, None):                       # declared, or seen from XATERM
        found = check_sdtm_cross({"DM": dm(), "XA": events("XA")}, standards=standards)
        assert hits(found, "CMAP-XD0005") == [("XA", "XASTDTC", "2020-07-02")]
        assert hits(found, "CMAP-XD0008") == [("XA", "XASTDTC", "2020-01-01")]


def test_standard_domains_outside_the_old_lists_get_the_rules() -> None:
    # CE (Events) gets both; LB (Findings) gets the death rule on its collection date
    lb = pd.DataFrame({"USUBJID": S("X-1", "X-1"), "LBSEQ": [1.0, 2.0],
                       "LBTESTCD": S("ALT", "ALT"), "LBDTC": S("2020-06-30", "2020-07-15")})
    found = check_sdtm_cross({"DM": dm(), "CE": events("CE"), "LB": lb})
    assert hits(found, "CMAP-XD0005") == [("CE", "CESTDTC", "2020-07-02"),
                                          ("LB", "LBDTC", "2020-07-15")]
    # XD0008 is for events and interventions: the lab before consent is no finding
    lb.loc[0, "LBDTC"] = "2019-12-01"
    found = check_sdtm_cross({"DM": dm(), "CE": events("CE"), "LB": lb})
    assert hits(found, "CMAP-XD0008") == [("CE", "CESTDTC", "2020-01-01")]


def test_history_and_death_domains_are_exempt() -> None:
    # MH holds history (before consent by definition), SS survival status asked after death
    mh = events("MH")
    ss = pd.DataFrame({"USUBJID": S("X-1"), "SSSEQ": [1.0], "SSTESTCD": S("SURVSTAT"),
                       "SSDTC": S("2020-08-01")})
    found = check_sdtm_cross({"DM": dm(), "MH": mh, "SS": ss})
    assert hits(found, "CMAP-XD0008") == []
    assert hits(found, "CMAP-XD0005") == [("MH", "MHSTDTC", "2020-07-02")]


def test_a_record_that_says_it_started_before_the_study_is_history() -> None:
    ce = events("CE")
    ce["CESTRF"] = S("BEFORE", pd.NA, pd.NA)
    assert hits(check_sdtm_cross({"DM": dm(), "CE": ce}), "CMAP-XD0008") == []


def test_special_purpose_and_trial_design_get_neither_rule() -> None:
    co = pd.DataFrame({"USUBJID": S("X-1"), "COSEQ": [1.0], "COVAL": S("late note"),
                       "CODTC": S("2020-09-01")})
    found = check_sdtm_cross({"DM": dm(), "CO": co})
    assert hits(found, "CMAP-XD0005") == hits(found, "CMAP-XD0008") == []


# ============================================================================================
# CMAP-PL0004 lesion diameters in any findings domain
# ============================================================================================
def test_negative_diameter_in_any_findings_domain() -> None:
    def sizes(prefix: str) -> pd.DataFrame:
        return pd.DataFrame({"USUBJID": S("X-1", "X-1"),
                             f"{prefix}TESTCD": S("LDIAM", "PCHG"),
                             f"{prefix}STRESN": [-4.0, -30.0]})

    study = with_custom_domains(STANDARDS, [CustomDomain("XR", "Findings", "Sponsor sizes"),
                                            CustomDomain("XE", "Events", "Sponsor events")])
    found = check_plausibility({"TR": sizes("TR"), "XR": sizes("XR"), "XE": sizes("XE")},
                               standards=study)
    # XE is declared Events: a column named like a findings test there is no lesion size
    assert hits(found, "CMAP-PL0004") == [("TR", "TRSTRESN", "-4.0"), ("XR", "XRSTRESN", "-4.0")]
