"""The pandera schema factory and its findings: every rule, passing and failing, by hand.

Frames are small and built here; expected findings (rule, variable, value, count, subject,
source) are worked out by hand from the frame, never by running the code under test.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdiscmap.checks import RULES, build_schema, check_dataset
from cdiscmap.checks.schema import is_iso8601, text_within_limit
from cdiscmap.errors import StandardsError
from cdiscmap.findings import Severity
from cdiscmap.standards import Codelist, Dataset, Standards, Term, Variable, load_standards

SPECS = Path(__file__).resolve().parents[2] / "specs"
PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def std() -> Standards:
    return load_standards(SPECS)


def text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def dm_frame() -> pd.DataFrame:
    """Three conformant DM records: every Req and Exp variable present."""
    n = 3
    return pd.DataFrame({
        "STUDYID": text(*["S1"] * n),
        "DOMAIN": text(*["DM"] * n),
        "USUBJID": text("S1-001", "S1-002", "S1-003"),
        "SUBJID": text("001", "002", "003"),
        "RFSTDTC": text("2014-03-05", "2014-03", None),
        "RFENDTC": text("2014-09-01T10:30", None, None),
        "RFXSTDTC": text("2014-03-05", None, None),
        "RFXENDTC": text("2014-09-01", None, None),
        "RFICDTC": text("2014-02-20", "2014-02-21", "2014"),
        "RFPENDTC": text("2015-01-10", "2014-06-30", None),
        "DTHDTC": text(None, None, None),
        "DTHFL": text(None, None, None),
        "SITEID": text("01", "01", "02"),
        "AGE": [54.0, 61.0, np.nan],
        "AGEU": text("YEARS", "YEARS", None),
        "SEX": text("F", "M", "U"),
        "RACE": text("WHITE", "ASIAN", None),
        "ARMCD": text("C01", "C02", None),
        "ARM": text("Cohort 1", "Cohort 2", None),
        "ACTARMCD": text("C01", None, None),
        "ACTARM": text("Cohort 1", None, None),
        "ARMNRS": text(None, "ASSIGNED, NOT TREATED", "SCREEN FAILURE"),
        "ACTARMUD": text(None, None, None),
        "COUNTRY": text("FRA", "BEL", "CHE"),
        "_SRCFILE": text("enrol.csv", "enrol.csv", "enrol.csv"),
        "_SRCROW": [1, 2, 3],
    })


def rules_of(findings: list) -> list[tuple[str, str, str, int]]:
    return [(f.rule, f.variable, f.value, f.count) for f in findings]


# ---------------------------------------------------------------------------------------------
# The schema itself
# ---------------------------------------------------------------------------------------------
def test_schema_is_generated_from_metadata(std: Standards) -> None:
    dm = std.dataset("DM")
    schema = build_schema(dm, std)
    assert isinstance(schema, pa.DataFrameSchema)
    assert schema.strict is True
    assert schema.unique == ["STUDYID", "USUBJID"]
    assert set(dm.names()) <= set(schema.columns)
    # SDTMIG 3.4 §4.1.5: Req present and non-null, Exp present, Perm optional.
    assert (schema.columns["SEX"].required, schema.columns["SEX"].nullable) == (True, False)
    assert (schema.columns["RACE"].required, schema.columns["RACE"].nullable) == (True, True)
    assert schema.columns["BRTHDTC"].required is False
    names = {c.name for c in schema.columns["RFSTDTC"].checks}
    assert {"CMAP-SD0004", "CMAP-SD0007", "CMAP-SD0008"} <= names
    assert {c.name for c in schema.columns["SEX"].checks} >= {"CMAP-SD0004", "CMAP-SD0005"}
    assert {c.name for c in schema.columns["RACE"].checks} >= {"CMAP-SD0005"}


def test_conformant_frame_has_no_findings(std: Standards) -> None:
    assert check_dataset(dm_frame(), std.dataset("DM"), std) == []


def test_empty_frame_with_all_columns_has_no_findings(std: Standards) -> None:
    assert check_dataset(dm_frame().iloc[0:0], std.dataset("DM"), std) == []


def test_plain_object_and_pandas_str_columns_count_as_char(std: Standards) -> None:
    frame = dm_frame()
    frame["SITEID"] = frame["SITEID"].astype(object)
    frame["ARM"] = frame["ARM"].astype("str")
    frame["DTHDTC"] = pd.Series([None, None, None], dtype=object)
    assert check_dataset(frame, std.dataset("DM"), std) == []


def test_rules_table_lists_the_ten_rules() -> None:
    assert sorted(RULES) == [f"CMAP-SD{n:04d}" for n in range(1, 11)]
    assert RULES["CMAP-SD0003"][0] is Severity.WARNING
    assert RULES["CMAP-SD0006"][0] is Severity.NOTICE
    assert RULES["CMAP-SD0010"][0] is Severity.WARNING
    errors = {r for r, (sev, _) in RULES.items() if sev is Severity.ERROR}
    assert errors == {"CMAP-SD0001", "CMAP-SD0002", "CMAP-SD0004", "CMAP-SD0005", "CMAP-SD0007", "CMAP-SD0008", "CMAP-SD0009"}


# ---------------------------------------------------------------------------------------------
# One test per rule
# ---------------------------------------------------------------------------------------------
def test_sd0001_required_variable_missing(std: Standards) -> None:
    findings = check_dataset(dm_frame().drop(columns="SUBJID"), std.dataset("DM"), std)
    assert rules_of(findings) == [("CMAP-SD0001", "SUBJID", "", 1)]
    assert findings[0].severity is Severity.ERROR
    assert findings[0].message == "Required variable SUBJID is missing from DM"
    assert (findings[0].usubjid, findings[0].source) == ("", "")


def test_sd0002_required_variable_null(std: Standards) -> None:
    frame = dm_frame()
    frame.loc[[1, 2], "SEX"] = pd.NA
    findings = check_dataset(frame, std.dataset("DM"), std)
    assert rules_of(findings) == [("CMAP-SD0002", "SEX", "", 2)]
    # The first failing record is row 2 of the raw file, subject S1-002.
    assert (findings[0].usubjid, findings[0].source) == ("S1-002", "enrol.csv row 2")
    assert findings[0].dataset == "DM"


def test_sd0003_expected_variable_missing_is_a_warning(std: Standards) -> None:
    findings = check_dataset(dm_frame().drop(columns=["RACE", "AGE"]), std.dataset("DM"), std)
    assert rules_of(findings) == [("CMAP-SD0003", "AGE", "", 1), ("CMAP-SD0003", "RACE", "", 1)]
    assert {f.severity for f in findings} == {Severity.WARNING}
    assert findings[1].message == "Expected variable RACE is missing from DM"


def test_permissible_variable_may_be_absent(std: Standards) -> None:
    assert "BRTHDTC" not in dm_frame()
    assert std.dataset("DM").variable("BRTHDTC").core == "Perm"
    assert check_dataset(dm_frame(), std.dataset("DM"), std) == []


def test_sd0004_wrong_type(std: Standards) -> None:
    frame = dm_frame()
    frame["AGE"] = [54, 61, 40]                       # int64, Num must be float64
    frame["SEX"] = [1.0, 2.0, 1.0]                    # Char holding numbers
    findings = check_dataset(frame, std.dataset("DM"), std)
    assert rules_of(findings) == [("CMAP-SD0004", "AGE", "int64", 1),
                                  ("CMAP-SD0004", "SEX", "float64", 1)]
    assert findings[0].message == "AGE (Num) is int64, expected float64"
    assert findings[1].message == "SEX (Char) is float64, expected a string column"


def test_adam_dates_may_be_datetime64_but_sdtm_numbers_may_not(std: Standards) -> None:
    adtte = std.dataset("ADTTE")
    frame = pd.DataFrame({
        "STUDYID": text("S1", "S1"), "USUBJID": text("S1-001", "S1-002"),
        "PARAMCD": text("PFS", "PFS"), "PARAM": text("PFS (days)", "PFS (days)"),
        "AVAL": [120.0, 35.0], "CNSR": [0.0, 1.0],
        "STARTDT": pd.to_datetime(["2014-03-05", "2014-04-01"]),
        "ADT": pd.to_datetime(["2014-07-02", "2014-05-05"]),
    })
    assert check_dataset(frame, adtte, std) == []
    frame["AVAL"] = pd.to_datetime(["2014-07-02", "2014-05-05"])   # AVAL has no date format
    found_dtype = str(frame["AVAL"].dtype)
    findings = check_dataset(frame, adtte, std)
    assert rules_of(findings) == [("CMAP-SD0004", "AVAL", found_dtype, 1)]
    assert findings[0].message == f"AVAL (Num) is {found_dtype}, expected float64"
    # CNSR is required for time-to-event parameters (ADaMIG 1.3 §3.3.6): null is an error.
    frame["AVAL"] = [120.0, 35.0]
    frame["CNSR"] = [0.0, np.nan]
    assert rules_of(check_dataset(frame, adtte, std)) == [("CMAP-SD0002", "CNSR", "", 1)]


def test_sd0005_value_not_in_non_extensible_codelist(std: Standards) -> None:
    frame = pd.concat([dm_frame()] * 2, ignore_index=True)
    frame["USUBJID"] = text(*[f"S1-{i:03d}" for i in range(1, 7)])
    frame["SEX"] = text("F", "X", "Q", "X", "M", "male")
    frame["_SRCROW"] = [10, 11, 12, 13, 14, 15]
    findings = check_dataset(frame, std.dataset("DM"), std)
    assert rules_of(findings) == [("CMAP-SD0005", "SEX", "Q", 1), ("CMAP-SD0005", "SEX", "X", 2),
                                  ("CMAP-SD0005", "SEX", "male", 1)]
    x = findings[1]
    assert (x.usubjid, x.source, x.severity) == ("S1-002", "enrol.csv row 11", Severity.ERROR)
    assert x.message == "SEX value 'X' is not in codelist SEX (non-extensible)"


def test_sd0005_value_outside_ig_fixed_values(std: Standards) -> None:
    frame = dm_frame()
    frame["DOMAIN"] = text("DM", "AE", "DM")
    findings = check_dataset(frame, std.dataset("DM"), std)
    assert rules_of(findings) == [("CMAP-SD0005", "DOMAIN", "AE", 1)]
    assert findings[0].message == "DOMAIN value 'AE' is not in the fixed values DM"


def test_sd0006_value_not_in_extensible_codelist_is_a_notice(std: Standards) -> None:
    frame = dm_frame()
    frame["ARMNRS"] = text(None, "WITHDRAWN", "SCREEN FAILURE")   # ARMNULRS is extensible
    findings = check_dataset(frame, std.dataset("DM"), std)
    assert rules_of(findings) == [("CMAP-SD0006", "ARMNRS", "WITHDRAWN", 1)]
    assert findings[0].severity is Severity.NOTICE
    assert findings[0].message == ("ARMNRS value 'WITHDRAWN' is not in codelist ARMNULRS "
                                   "(extensible)")


def test_sd0007_dates_not_iso8601(std: Standards) -> None:
    frame = dm_frame()
    frame["RFSTDTC"] = text("05/03/2014", "2014-02-30", "2014-03-05T10:30")
    frame["RFICDTC"] = text("2014-02-20", "UNK", "2014---20")
    findings = check_dataset(frame, std.dataset("DM"), std)
    assert rules_of(findings) == [("CMAP-SD0007", "RFICDTC", "UNK", 1),
                                  ("CMAP-SD0007", "RFSTDTC", "05/03/2014", 1),
                                  ("CMAP-SD0007", "RFSTDTC", "2014-02-30", 1)]
    assert findings[2].source == "enrol.csv row 2"


def test_sd0008_text_longer_than_200_bytes(std: Standards) -> None:
    frame = dm_frame()
    # 200 ASCII bytes pass; 201 fail; 101 x "é" are 202 bytes in UTF-8 but 101 characters.
    frame["ARM"] = text("A" * 200, "B" * 201, "é" * 101)
    findings = check_dataset(frame, std.dataset("DM"), std)
    assert [(f.rule, f.variable, f.count, f.source) for f in findings] == [
        ("CMAP-SD0008", "ARM", 1, "enrol.csv row 2"), ("CMAP-SD0008", "ARM", 1, "enrol.csv row 3")]
    assert findings[0].value == "B" * 57 + "..."
    assert findings[0].message == "ARM value is 201 bytes, more than 200"
    assert findings[1].message == "ARM value is 202 bytes, more than 200"


def test_sd0009_duplicate_keys(std: Standards) -> None:
    frame = pd.concat([dm_frame(), dm_frame().iloc[[0]]], ignore_index=True)
    frame["_SRCROW"] = [1, 2, 3, 4]
    findings = check_dataset(frame, std.dataset("DM"), std)
    assert rules_of(findings) == [("CMAP-SD0009", "STUDYID, USUBJID", "STUDYID=S1, USUBJID=S1-001", 2)]
    assert (findings[0].usubjid, findings[0].source) == ("S1-001", "enrol.csv row 1")
    assert findings[0].message == "2 DM records share the key STUDYID=S1, USUBJID=S1-001"


def test_sd0009_numeric_keys_and_missing_key_columns(std: Standards) -> None:
    ae = std.dataset("AE")
    frame = pd.DataFrame({
        "STUDYID": text("S1", "S1", "S1"), "DOMAIN": text("AE", "AE", "AE"),
        "USUBJID": text("S1-001", "S1-001", "S1-001"), "AESEQ": [1.0, 1.0, 2.0],
        "AETERM": text("Headache", "Headache", "Headache"),
        "AEDECOD": text("Headache", "Headache", "Headache"),
        "AESTDTC": text("2014-03", "2014-03", "2014-03"),
    })
    findings = [f for f in check_dataset(frame, ae, std) if f.rule != "CMAP-SD0003"]
    assert rules_of(findings) == [(
        "CMAP-SD0009", "STUDYID, USUBJID, AEDECOD, AESTDTC, AESEQ",
        "STUDYID=S1, USUBJID=S1-001, AEDECOD=Headache, AESTDTC=2014-03, AESEQ=1", 2)]
    # Without AEDECOD (Req: reported as missing) the remaining key columns still identify rows.
    findings = check_dataset(frame.drop(columns="AEDECOD"), ae, std)
    assert [(f.rule, f.variable) for f in findings if f.rule in ("CMAP-SD0001", "CMAP-SD0009")] == [
        ("CMAP-SD0001", "AEDECOD"), ("CMAP-SD0009", "STUDYID, USUBJID, AESTDTC, AESEQ")]


def test_sd0010_variable_not_in_standard_but_internal_columns_are_fine(std: Standards) -> None:
    frame = dm_frame()
    frame["COHORT"] = text("1", "2", "3")              # belongs in SUPPDM, not DM
    frame["_LINEAGE"] = ["a", "b", "c"]
    findings = check_dataset(frame, std.dataset("DM"), std)
    assert rules_of(findings) == [("CMAP-SD0010", "COHORT", "", 1)]
    assert findings[0].severity is Severity.WARNING
    assert findings[0].message == "COHORT is not in the SDTMIG 3.4 metadata of DM"


# ---------------------------------------------------------------------------------------------
# Codelist choices
# ---------------------------------------------------------------------------------------------
def ae_frame(**columns: pd.Series) -> pd.DataFrame:
    base = {
        "STUDYID": text("S1", "S1"), "DOMAIN": text("AE", "AE"),
        "USUBJID": text("S1-001", "S1-002"), "AESEQ": [1.0, 1.0],
        "AETERM": text("Headache", "Rash"), "AEDECOD": text("Headache", "Rash"),
    }
    return pd.DataFrame({**base, **columns})


def test_codelist_override_attaches_sponsor_list(std: Standards) -> None:
    ae = std.dataset("AE")
    frame = ae_frame(AETOXGR=text("3", "6"))
    # The IG gives AETOXGR no codelist: without an override any grade passes.
    assert [f for f in check_dataset(frame, ae, std) if f.rule != "CMAP-SD0003"] == []
    findings = [f for f in check_dataset(frame, ae, std, codelist_overrides={"AETOXGR": "TOXGR"})
                if f.rule != "CMAP-SD0003"]
    assert rules_of(findings) == [("CMAP-SD0005", "AETOXGR", "6", 1)]
    assert findings[0].message == "AETOXGR value '6' is not in codelist TOXGR (non-extensible)"


def test_codelist_override_errors_name_the_problem(std: Standards) -> None:
    ae = std.dataset("AE")
    with pytest.raises(StandardsError, match="dataset AE has no variable AEGRADE"):
        build_schema(ae, std, codelist_overrides={"AEGRADE": "TOXGR"})
    with pytest.raises(StandardsError, match="no codelist 'CTCAE'"):
        build_schema(ae, std, codelist_overrides={"AETOXGR": "CTCAE"})


def test_union_of_ig_codelists_and_unchecked_lists(std: Standards) -> None:
    ds = std.dataset("DS")
    frame = pd.DataFrame({
        "STUDYID": text("S1", "S1", "S1"), "DOMAIN": text("DS", "DS", "DS"),
        "USUBJID": text("S1-001", "S1-001", "S1-001"), "DSSEQ": [1.0, 2.0, 3.0],
        "DSTERM": text("consent", "progression", "other"),
        # PROTMLST and NCOMPLT terms both pass: DSDECOD takes NCOMPLT, PROTMLST or OTHEVENT.
        "DSDECOD": text("INFORMED CONSENT OBTAINED", "PROGRESSIVE DISEASE", "MOVED AWAY"),
        "DSCAT": text("PROTOCOL MILESTONE", "DISPOSITION EVENT", "DISPOSITION EVENT"),
        "DSSTDTC": text("2014-02-20", "2014-09-01", "2014-10-01"), "DSSTDY": [-5.0, 190.0, 220.0],
    })
    findings = check_dataset(frame, ds, std)
    assert rules_of(findings) == [("CMAP-SD0006", "DSDECOD", "MOVED AWAY", 1)]
    assert findings[0].message == ("DSDECOD value 'MOVED AWAY' is not in codelist NCOMPLT or "
                                   "PROTMLST or OTHEVENT (extensible)")
    # specs/ carries LOC whole (1,397 terms, extensible): TULOC is checked, a miss is CMAP-SD0006.
    schema = build_schema(std.dataset("TU"), std)
    assert {c.name for c in schema.columns["TULOC"].checks} == {"CMAP-SD0004", "CMAP-SD0006", "CMAP-SD0008"}
    # An external dictionary (MedDRA for AEDECOD) has no terms: not checked.
    schema = build_schema(std.dataset("AE"), std)
    assert {c.name for c in schema.columns["AEDECOD"].checks} == {"CMAP-SD0004", "CMAP-SD0008"}


def test_numeric_results_in_stresc_are_not_codelist_terms(std: Standards) -> None:
    tr = std.dataset("TR")
    schema = build_schema(tr, std)
    frame = pd.DataFrame({"TRSTRESC": text("22", "5.5", "PRESENT", "MAYBE", None)})
    with pytest.raises(pa.errors.SchemaErrors) as info:
        schema.validate(frame, lazy=True)
    cases = info.value.failure_cases
    flagged = cases[(cases["column"] == "TRSTRESC") & (cases["check"] == "CMAP-SD0006")]
    # "22" and "5.5" are measurements; PRESENT is a TRPROPRS term; only MAYBE is reported.
    assert flagged["failure_case"].tolist() == ["MAYBE"]


def tiny_standards(*, subset: bool = False, extensible: bool = False) -> tuple[Dataset, Standards]:
    """A one-dataset standard for focused and property tests."""
    variables = [
        Variable(name="USUBJID", label="Subject", type="Char", core="Req", order=1),
        Variable(name="GRADE", label="Grade", type="Char", core="Perm", order=2,
                 codelist="GR"),
        Variable(name="SCORE", label="Score", type="Num", core="Perm", order=3,
                 codelist="SC"),
        Variable(name="XXDTC", label="Date", type="Char", core="Perm", order=4),
        Variable(name="NOTE", label="Note", type="Char", core="Perm", order=5),
    ]
    dataset = Dataset(name="XX", label="Test", **{"class": "FINDINGS"}, structure="test",
                      standard="SDTMIG 3.4", keys=["USUBJID"], variables=variables)
    lists = {
        "GR": Codelist(name="GR", label="Grades", extensible=extensible, subset=subset,
                       source="test", terms=[Term(value=v) for v in ("A", "B", "C")]),
        "SC": Codelist(name="SC", label="Scores", extensible=False, data_type="integer",
                       source="test", terms=[Term(value=v) for v in ("0", "1", "2")]),
    }
    return dataset, Standards(datasets={"XX": dataset}, codelists=lists, versions={})


def test_subset_codelist_misses_are_notices() -> None:
    dataset, std = tiny_standards(subset=True)
    frame = pd.DataFrame({"USUBJID": text("1", "2"), "GRADE": text("A", "Z")})
    assert rules_of(check_dataset(frame, dataset, std)) == [("CMAP-SD0006", "GRADE", "Z", 1)]
    dataset, std = tiny_standards()
    assert rules_of(check_dataset(frame, dataset, std)) == [("CMAP-SD0005", "GRADE", "Z", 1)]


def test_numeric_codelist_membership() -> None:
    dataset, std = tiny_standards()
    frame = pd.DataFrame({"USUBJID": text("1", "2", "3", "4"),
                          "SCORE": [0.0, 2.0, 5.0, np.nan]})
    findings = check_dataset(frame, dataset, std)
    assert rules_of(findings) == [("CMAP-SD0005", "SCORE", "5.0", 1)]
    assert findings[0].usubjid == "3"


def test_dataset_name_and_index_do_not_matter(std: Standards) -> None:
    frame = dm_frame()
    frame.index = [7, 7, 7]                            # duplicate labels: positions are used
    frame.loc[:, "SEX"] = text("F", "X", "F").to_numpy()
    findings = check_dataset(frame, std.dataset("DM"), std, dataset_name="DM2")
    assert [(f.rule, f.dataset, f.usubjid, f.source) for f in findings] == [
        ("CMAP-SD0005", "DM2", "S1-002", "enrol.csv row 2")]


def test_findings_without_lineage_columns(std: Standards) -> None:
    frame = dm_frame().drop(columns=["_SRCFILE", "_SRCROW"])
    frame["SEX"] = text("F", "F", "X")
    findings = check_dataset(frame, std.dataset("DM"), std)
    assert [(f.usubjid, f.source) for f in findings] == [("S1-003", "")]


# ---------------------------------------------------------------------------------------------
# Rule functions: examples from SDTMIG 3.4 §4.4.2 and properties
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    "2003-12-15T13:14:17.123", "2003-12-15T13:14:17", "2003-12-15T13:14", "2003-12-15T13",
    "2003-12-15", "2003-12", "2003", "2003-12-15T-:15", "2003-12-15T13:-:17", "2003---15",
    "--12-15", "-----T07:15", "2003-12-15T13:14:17Z", "2003-12-15T13:14+01:00", "2024-02-29",
])
def test_iso8601_accepts_sdtm_precision_forms(value: str) -> None:
    assert is_iso8601(text(value)).tolist() == [True]


@pytest.mark.parametrize("value", [
    "2003-13", "2003-12-32", "2023-02-29", "2003-12-15T24:00", "2003-12-15T10:60",
    "2003-12-15 13:14", "20031215", "15/12/2003", "2003-12-", "2003--", "-", "-----",
    "2003-12-15T", "2003T10:00", "03-12-15", "2003-12-15T-", "2003-01-01/2003-02-15", "UNK",
    "", " 2003", "2003-1-5", "2003-12-15T13:14:17.",
])
def test_iso8601_rejects(value: str) -> None:
    assert is_iso8601(text(value)).tolist() == [False]


def test_iso8601_keeps_nulls_null() -> None:
    assert is_iso8601(text("2003", None)).tolist() == [True, pd.NA]


PRECISIONS = {"year": "%Y", "month": "%Y-%m", "day": "%Y-%m-%d", "hour": "%Y-%m-%dT%H",
              "minute": "%Y-%m-%dT%H:%M", "second": "%Y-%m-%dT%H:%M:%S"}


@PROPERTY
@given(moment=st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
                           max_value=pd.Timestamp("2099-12-31").to_pydatetime()),
       precision=st.sampled_from(sorted(PRECISIONS)),
       junk=st.sampled_from([" ", "/", "x", "T", ":"]))
def test_iso8601_property_truncations_pass_and_junk_fails(moment, precision, junk) -> None:
    value = moment.strftime(PRECISIONS[precision])
    assert is_iso8601(text(value)).tolist() == [True]
    # Any right-truncated date/time followed by a stray character is no longer ISO 8601.
    assert is_iso8601(text(value + junk)).tolist() == [False]


@PROPERTY
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=120),
                max_size=8))
def test_text_limit_property_is_utf8_bytes(values: list[str]) -> None:
    expected = [len(v.encode("utf-8")) <= 200 for v in values]
    assert text_within_limit(text(*values)).tolist() == expected


@PROPERTY
@given(st.lists(st.sampled_from(["A", "B", "C", "D", "a", "Z", None]), min_size=1, max_size=30))
def test_codelist_property_counts_each_bad_value(grades: list[str | None]) -> None:
    dataset, std = tiny_standards()
    frame = pd.DataFrame({"USUBJID": text(*[str(i) for i in range(len(grades))]),
                          "GRADE": text(*grades)})
    expected = Counter(g for g in grades if g is not None and g not in {"A", "B", "C"})
    findings = check_dataset(frame, dataset, std)
    assert {f.value: f.count for f in findings} == dict(expected)
    assert {f.rule for f in findings} <= {"CMAP-SD0005"}
    for f in findings:      # the first failing row is the subject reported
        assert f.usubjid == str(grades.index(f.value))


@PROPERTY
@given(st.lists(st.sampled_from(["1", "2", "3", "4"]), min_size=1, max_size=25))
def test_key_property_one_finding_per_duplicated_key(subjects: list[str]) -> None:
    dataset, std = tiny_standards()
    frame = pd.DataFrame({"USUBJID": text(*subjects)})
    counts = Counter(subjects)
    expected = {f"USUBJID={s}": n for s, n in counts.items() if n > 1}
    findings = check_dataset(frame, dataset, std)
    assert {f.value: f.count for f in findings} == expected
    assert {f.rule for f in findings} <= {"CMAP-SD0009"}


# ---------------------------------------------------------------------------------------------
# Scale: vectorised checks on a large frame stay fast
# ---------------------------------------------------------------------------------------------
def test_large_frame_is_checked_quickly(std: Standards) -> None:
    n = 200_000
    rows = np.arange(n)
    frame = pd.DataFrame({
        "STUDYID": pd.Series(np.full(n, "S1"), dtype="string"),
        "DOMAIN": pd.Series(np.full(n, "AE"), dtype="string"),
        "USUBJID": pd.Series(np.char.add("S1-", (rows // 10).astype(str)), dtype="string"),
        "AESEQ": (rows % 10 + 1).astype(float),
        "AETERM": pd.Series(np.where(rows % 2, "Headache", "Rash"), dtype="string"),
        "AEDECOD": pd.Series(np.where(rows % 2, "Headache", "Rash"), dtype="string"),
        "AESEV": pd.Series(np.where(rows % 1000 == 0, "BAD", "MILD"), dtype="string"),
        "AESTDTC": pd.Series(np.where(rows % 3, "2014-03-05", "2014-03"), dtype="string"),
    })
    start = time.perf_counter()
    findings = check_dataset(frame, std.dataset("AE"), std)
    elapsed = time.perf_counter() - start
    bad = [f for f in findings if f.rule == "CMAP-SD0005"]
    assert [(f.value, f.count) for f in bad] == [("BAD", 200)]     # rows 0, 1000, ... 199000
    assert elapsed < 10, f"{n} rows took {elapsed:.1f} s"


# ---------------------------------------------------------------------------------------------
# check_dataset checks distinct values itself: the findings are those the pandera schema gives
# ---------------------------------------------------------------------------------------------
def _pandera_findings(frame: pd.DataFrame, dataset: Dataset, std: Standards) -> list:
    """The findings of the generated pandera schema run on the frame (the reference)."""
    from pandera.errors import SchemaErrors

    from cdiscmap.checks.schema import _plans, _Report

    frame = frame.reset_index(drop=True)
    try:
        build_schema(dataset, std).validate(frame, lazy=True)
    except SchemaErrors as errors:
        report = _Report(frame, dataset, _plans(dataset, std, None), dataset.name)
        return report.findings(errors.failure_cases)
    return []


def test_distinct_value_check_counts_rows_of_each_failing_value() -> None:
    dataset, std = tiny_standards()
    frame = pd.DataFrame({
        "USUBJID": text("1", None, "3", "3", None),
        "GRADE": text("Z", "A", "Z", None, "Y"),
        "SCORE": [0.0, 7.0, 7.0, np.nan, -0.0],
        "XXDTC": text("2014-02-30", "2014", "2014-02-30", "x", None),
        "NOTE": text("é" * 101, "", "ok", "é" * 101, None),
    })
    frame.index = [10, 11, 12, 13, 14]        # labels, not positions
    found = {(f.rule, f.variable, f.value): (f.count, f.usubjid)
             for f in check_dataset(frame, dataset, std)}
    assert found == {
        ("CMAP-SD0002", "USUBJID", ""): (2, ""),          # rows 2 and 5 (1-based)
        ("CMAP-SD0005", "GRADE", "Y"): (1, ""),
        ("CMAP-SD0005", "GRADE", "Z"): (2, "1"),
        ("CMAP-SD0005", "SCORE", "7.0"): (2, ""),         # 0.0 and -0.0 are in the list
        ("CMAP-SD0007", "XXDTC", "2014-02-30"): (2, "1"),
        ("CMAP-SD0007", "XXDTC", "x"): (1, "3"),
        ("CMAP-SD0008", "NOTE", ("é" * 101)[:57] + "..."): (2, "1"),   # 202 bytes
        ("CMAP-SD0009", "USUBJID", "USUBJID="): (2, ""),  # two null keys
        ("CMAP-SD0009", "USUBJID", "USUBJID=3"): (2, "3"),
    }


_GRADES = st.sampled_from(["A", "B", "Z", "", " A", "é", "x" * 250, None])
_SCORES = st.sampled_from([0.0, 1.0, 2.0, 3.0, -0.0, 2.5, 1e300, np.nan])
_DATES = st.sampled_from(["2014-03-05", "2014-02-30", "2014---05", "2014-", "14-03", "",
                          "2014-03-05T10:61", None])


@PROPERTY
@given(rows=st.lists(st.tuples(st.sampled_from(["1", "2", "3", None]), _GRADES, _SCORES,
                               _DATES, _GRADES), min_size=0, max_size=30),
       drop=st.sampled_from([None, "USUBJID", "GRADE", "SCORE"]),
       extra=st.booleans(), score_as_text=st.booleans(), grade_as_object=st.booleans())
def test_distinct_value_check_matches_the_pandera_schema(rows, drop, extra, score_as_text,
                                                         grade_as_object) -> None:
    dataset, std = tiny_standards()
    columns = list(zip(*rows, strict=True)) if rows else [()] * 5
    frame = pd.DataFrame({
        "USUBJID": text(*columns[0]),
        "GRADE": pd.Series(list(columns[1]), dtype=object if grade_as_object else "string"),
        "SCORE": text(*(None if np.isnan(v) else str(v) for v in columns[2]))
        if score_as_text else pd.Series(list(columns[2]), dtype=np.float64),
        "XXDTC": text(*columns[3]),
        "NOTE": text(*columns[4]),
        "_SRCROW": list(range(1, len(rows) + 1)),
    })
    if drop:
        frame = frame.drop(columns=drop)
    if extra:
        frame["EXTRA"] = 1.0
    frame.index = frame.index * 2 + 5           # not positions: both number rows 0..n-1
    assert check_dataset(frame, dataset, std) == _pandera_findings(frame, dataset, std)


def test_distinct_value_check_matches_the_pandera_schema_on_dm(std: Standards) -> None:
    frame = dm_frame()
    frame.loc[0, "SEX"] = "X"
    frame.loc[1, "RFSTDTC"] = "2014-13"
    frame.loc[2, "USUBJID"] = None
    frame["AGE"] = frame["AGE"].astype(object)
    frame = frame.drop(columns=["COUNTRY"]).assign(EXTRA=text("a", "b", "c"))
    found = check_dataset(frame, std.dataset("DM"), std)
    assert found == _pandera_findings(frame, std.dataset("DM"), std)
    assert {f.rule for f in found} >= {"CMAP-SD0001", "CMAP-SD0002", "CMAP-SD0004",
                                       "CMAP-SD0005", "CMAP-SD0007", "CMAP-SD0010"}


def test_duplicated_rows_takes_nulls_as_equal_and_floats_by_value() -> None:
    from cdiscmap.checks.schema import duplicated_rows

    frame = pd.DataFrame({
        "USUBJID": text("S-1", "S-1", "S-2", None, None, "S-1"),
        "SEQ": [1.0, 1.0, 1.0, np.nan, np.nan, 2.0],
    })
    # rows 0/1 share (S-1, 1); rows 3/4 share (null, NaN); 2 and 5 are alone
    assert duplicated_rows(frame, ["USUBJID", "SEQ"]).tolist() == [
        True, True, False, True, True, False]
    assert duplicated_rows(frame, ["SEQ"]).tolist() == [True, True, True, True, True, False]
    assert duplicated_rows(frame.iloc[:0], ["USUBJID"]).tolist() == []


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "", None]),
                          st.sampled_from([1.0, 2.0, -0.0, 0.0, None]),
                          st.sampled_from(["x", "y"])), max_size=30),
       st.integers(1, 3))
def test_duplicated_rows_is_frame_duplicated(rows, width) -> None:
    from cdiscmap.checks.schema import duplicated_rows

    frame = pd.DataFrame({
        "A": pd.array([r[0] for r in rows], dtype="string"),
        "N": pd.Series([np.nan if r[1] is None else r[1] for r in rows], dtype="float64"),
        "O": pd.Series([r[2] for r in rows], dtype=object)})
    keys = ["A", "N", "O"][:width]
    assert duplicated_rows(frame, keys).tolist() == \
        frame.duplicated(keys, keep=False).tolist()


@PROPERTY
@given(st.lists(st.one_of(
    st.from_regex(r"\A[0-9-]{4}-[0-9-]{2}-[0-9-]{2}(T[0-9-]{2}:[0-9-]{2}(:[0-9.]{2,4})?)?\Z"),
    st.sampled_from(["2023-02-29", "2024-02-29", "2023-13", "2023-", "--12-15", "2003---15",
                     "2023-04-31T10:00", "2023-01-01T25:00", "2023-01-01Z", "", " 2023",
                     "2023-01-01T10:00Z", "2023-01-01T10:00+01:00"]),
    st.text(max_size=12)), unique=True, max_size=40))
def test_iso8601_on_distinct_values_is_the_series_check(values) -> None:
    from cdiscmap.checks.facts import TextFacts
    from cdiscmap.checks.schema import _iso8601_distinct, _iso8601_uniques

    expected = _iso8601_distinct(pd.Series(values, dtype="string")).to_numpy(
        dtype=bool, na_value=False)
    assert _iso8601_uniques(np.array(values, dtype=object)).tolist() == expected.tolist()
    # with the column's calendar dates known (TextFacts.complete_days, as _text_failures)
    facts = TextFacts(np.arange(len(values)), np.array(values, dtype=object))
    assert _iso8601_uniques(facts.uniques, facts.complete_days).tolist() == expected.tolist()


def test_common_date_shapes_are_decided_as_the_regex_would():
    from cdiscmap.checks.schema import _common_shapes, _iso8601_uniques

    values = np.array(["2019", "2019-12", "2019-13", "2019-01-31", "2019-01-32", "2019-02-30",
                       "2019-01-01T23:59", "2019-01-01T24:00", "2019-01-01T10:59:60",
                       "2019-01-01T10:00Z", "2019---15", "٢٠١٩", "2019-1-01"], dtype=object)
    ok, complete, known = _common_shapes(values)
    # the last four have other shapes (zone, hyphen placeholder, other digits, one-digit month)
    assert known.tolist() == [True] * 9 + [False] * 4
    assert ok[:9].tolist() == [True, True, False, True, False, True, True, False, False]
    assert complete[:9].tolist() == [False, False, False, True, True, True, True, True, True]
    # 2019-02-30 has the shape but is not on the calendar; the regexes decide the others
    # (their \d takes other scripts' digits too)
    assert _iso8601_uniques(values).tolist() == [True, True, False, True, False, False, True,
                                                 False, False, True, True, True, False]


def test_unique_subject_and_seq_show_no_duplicates_without_hashing() -> None:
    from cdiscmap.checks.schema import _key_codes, _unique_by_table, duplicated_rows

    frame = pd.DataFrame({
        "STUDYID": text("S", "S", "S", "S"),
        "USUBJID": text("A", "A", "B", None),
        "LBTESTCD": text("HGB", "HGB", "HGB", "HGB"),
        "LBSEQ": [1.0, 2.0, 1.0, 1.0],
    })
    keys = ["STUDYID", "USUBJID", "LBTESTCD", "LBSEQ"]
    # --SEQ is its own code (the number plus one), null USUBJID its own value
    assert _key_codes(frame["LBSEQ"])[0].tolist() == [2, 3, 2, 2]
    assert _unique_by_table(keys, [_key_codes(frame[k]) for k in keys])
    assert duplicated_rows(frame, keys).tolist() == [False] * 4
    frame.loc[1, "LBSEQ"] = 1.0                     # A/1 twice: not shown unique, found
    assert not _unique_by_table(keys, [_key_codes(frame[k]) for k in keys])
    assert duplicated_rows(frame, keys).tolist() == [True, True, False, False]


def test_unique_by_table_holds_at_most_16_entries_a_record(monkeypatch) -> None:
    """The keys are combined in the table only while it holds at most 16 entries a record
    (above a floor): four records with keys of 3 x 3 combinations fit a floor of 9, not of 8;
    not shown unique, the records are hashed and the answer is the same."""
    from cdiscmap.checks import schema

    frame = pd.DataFrame({"USUBJID": text("A", "A", "B", "B"), "X": text("1", "2", "1", "2")})
    keys = ["USUBJID", "X"]
    coded = [schema._key_codes(frame[k]) for k in keys]
    assert [count for _, count in coded] == [3, 3]     # two values and null each
    monkeypatch.setattr(schema, "_TABLE_PER_RECORD", 2)
    monkeypatch.setattr(schema, "_TABLE_FLOOR", 9)
    assert schema._unique_by_table(keys, coded)
    monkeypatch.setattr(schema, "_TABLE_FLOOR", 8)     # 4 records x 2 = 8: USUBJID alone
    assert not schema._unique_by_table(keys, coded)
    assert schema.duplicated_rows(frame, keys).tolist() == [False] * 4
    frame.loc[3, "X"] = "1"                             # B/1 twice
    assert schema.duplicated_rows(frame, keys).tolist() == [False, False, True, True]
