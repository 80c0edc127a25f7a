"""PL rules on small hand-built SDTM frames: each rule fires on the bad record and only there."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from pydantic import ValidationError

from cdiscmap.checks.plausibility import RULES, check_plausibility
from cdiscmap.findings import Severity
from cdiscmap.spec.models import PlausibilitySpec, StudySpec


def text(values: list) -> pd.Series:
    return pd.Series(values, dtype="string")


def dm(**columns: list) -> pd.DataFrame:
    base = {"USUBJID": ["S-1", "S-2", "S-3"], "AGE": [50.0, 60.0, 70.0],
            "AGEU": ["YEARS"] * 3,
            "BRTHDTC": [None, None, None], "RFSTDTC": ["2020-01-10", "2020-02-01", "2020-03-01"]}
    base.update(columns)
    frame = pd.DataFrame({k: (text(v) if k not in ("AGE",) else pd.Series(v, dtype="float64"))
                          for k, v in base.items()})
    frame["_SRCFILE"] = "enrol.csv"
    frame["_SRCROW"] = [1, 2, 3]
    return frame


def found(findings, rule: str) -> list[tuple[str, str, str, str, str]]:
    return sorted((f.dataset, f.usubjid, f.variable, f.value, f.source)
                  for f in findings if f.rule == rule)


def test_clean_data_gives_no_finding():
    ae = pd.DataFrame({"USUBJID": text(["S-1"]), "AESTDTC": text(["2020-01-12"]),
                       "AEENDTC": text(["2020-02"])})
    assert check_plausibility({"DM": dm(), "AE": ae}) == []


def test_pl0003_year_0000_and_9999_only():
    ae = pd.DataFrame({"USUBJID": text(["S-1", "S-2", "S-3", "S-1"]),
                       "AESTDTC": text(["0000-01-01", "9999-12-31", "2020-01-01", None]),
                       "_SRCFILE": ["ae.csv"] * 4, "_SRCROW": [4, 7, 9, 10]})
    out = check_plausibility({"AE": ae})
    assert found(out, "CMAP-PL0003") == [("AE", "S-1", "AESTDTC", "0000-01-01", "ae.csv row 4"),
                                    ("AE", "S-2", "AESTDTC", "9999-12-31", "ae.csv row 7")]
    assert {f.severity for f in out} == {Severity.ERROR}
    assert found(out, "CMAP-PL0001") == [] and found(out, "CMAP-PL0002") == []   # not reported twice


def test_pl0001_before_1900_with_partial_dates():
    # 1899 lies wholly before 1900-01-01; 1900-05 and 1900 do not; 1899-12-31 does
    cm = pd.DataFrame({"USUBJID": text(["S-1", "S-1", "S-2", "S-3"]),
                       "CMSTDTC": text(["1899", "1900-05", "1900", "1899-12-31T10:00"])})
    assert found(check_plausibility({"CM": cm}), "CMAP-PL0001") == [
        ("CM", "S-1", "CMSTDTC", "1899", ""), ("CM", "S-3", "CMSTDTC", "1899-12-31T10:00", "")]
    later = PlausibilitySpec(earliest_date=date(1950, 1, 1))
    assert len(found(check_plausibility({"CM": cm}, later), "CMAP-PL0001")) == 4


def test_pl0002_after_cutoff_from_settings_or_ts():
    ae = pd.DataFrame({"USUBJID": text(["S-1", "S-2", "S-3", "S-1"]),
                       "AESTDTC": text(["2025-06-30", "2025-07-01", "2025-06", "2025-07"])})
    # no cut-off anywhere: the rule does not run
    assert found(check_plausibility({"AE": ae}), "CMAP-PL0002") == []
    settings = PlausibilitySpec(data_cutoff=date(2025, 6, 30))
    assert found(check_plausibility({"AE": ae}, settings), "CMAP-PL0002") == [
        ("AE", "S-1", "AESTDTC", "2025-07", ""), ("AE", "S-2", "AESTDTC", "2025-07-01", "")]
    ts = pd.DataFrame({"TSPARMCD": text(["TITLE", "DCUTDTC"]),
                       "TSVAL": text(["A trial", "2025-06-15"])})
    from_ts = check_plausibility({"AE": ae, "TS": ts})
    # 2025-06 is not wholly after 2025-06-15, 2025-06-30 is
    assert sorted(f.value for f in from_ts if f.rule == "CMAP-PL0002") == [
        "2025-06-30", "2025-07", "2025-07-01"]
    assert "cut-off 2025-06-15" in next(f.message for f in from_ts if f.rule == "CMAP-PL0002")


def test_pl0004_negative_age_dose_and_diameter():
    ex = pd.DataFrame({"USUBJID": text(["S-1", "S-2"]), "EXDOSE": [250.0, -250.0],
                       "EXDOSTOT": [500.0, 0.0]})
    tr = pd.DataFrame({"USUBJID": text(["S-1", "S-1", "S-2"]),
                       "TRTESTCD": text(["LDIAM", "PCHG", "SUMDIAM"]),
                       "TRSTRESN": [-12.0, -30.0, 45.0]})
    out = check_plausibility({"DM": dm(AGE=[50.0, -1.0, 70.0]), "EX": ex, "TR": tr})
    assert found(out, "CMAP-PL0004") == [
        ("DM", "S-2", "AGE", "-1.0", "enrol.csv row 2"),
        ("EX", "S-2", "EXDOSE", "-250.0", ""),
        ("TR", "S-1", "TRSTRESN", "-12.0", "")]        # a negative percent change is fine


def test_pl0005_age_against_birth_date():
    # S-1: born 1970-01-11, at 2020-01-10 aged 49 -> AGE 50 within 1 year: fine
    # S-2: born 1950-02-01, at 2020-02-01 aged 70 -> AGE 60 is 10 years off
    # S-3: born 1950 (year only), at 2020-03-01 aged 69 or 70 -> AGE 72 is off, 71 would not be
    frame = dm(BRTHDTC=["1970-01-11", "1950-02-01", "1950"], AGE=[50.0, 60.0, 72.0])
    out = check_plausibility({"DM": frame})
    assert found(out, "CMAP-PL0005") == [
        ("DM", "S-2", "AGE", "AGE=60.0 BRTHDTC=1950-02-01 reference=2020-02-01",
         "enrol.csv row 2"),
        ("DM", "S-3", "AGE", "AGE=72.0 BRTHDTC=1950 reference=2020-03-01", "enrol.csv row 3")]
    ok = dm(BRTHDTC=["1970-01-11", "1950-02-01", "1950"], AGE=[48.0, 71.0, 71.0])
    assert found(check_plausibility({"DM": ok}), "CMAP-PL0005") == []


def test_pl0005_uses_dmdtc_without_rfstdtc_and_ageu_months():
    # a child: 30 MONTHS = 2.5 years; born 2017-06-15, DMDTC 2020-01-10 -> 2 completed years
    frame = dm(BRTHDTC=["2017-06-15", None, None], AGE=[30.0, 50.0, 60.0],
               AGEU=["MONTHS", "YEARS", "YEARS"], RFSTDTC=[None, None, None])
    frame["DMDTC"] = text(["2020-01-10", None, None])
    assert found(check_plausibility({"DM": frame}), "CMAP-PL0005") == []
    frame["AGE"] = [60.0, 50.0, 60.0]             # 60 months = 5 years: 3 years off
    assert [f.usubjid for f in check_plausibility({"DM": frame}) if f.rule == "CMAP-PL0005"] == [
        "S-1"]


def test_pl0006_age_above_maximum_and_severities():
    frame = dm(AGE=[121.0, 120.0, 50.0])
    assert found(check_plausibility({"DM": frame}), "CMAP-PL0006") == [
        ("DM", "S-1", "AGE", "121.0", "enrol.csv row 1")]
    settings = PlausibilitySpec(max_age_years=90, severities={"CMAP-PL0006": "error"})
    out = [f for f in check_plausibility({"DM": frame}, settings) if f.rule == "CMAP-PL0006"]
    assert [(f.usubjid, f.severity) for f in out] == [("S-1", Severity.ERROR),
                                                      ("S-2", Severity.ERROR)]


def test_many_records_fold_by_value():
    ae = pd.DataFrame({"USUBJID": text([f"S-{i}" for i in range(150)]),
                       "AESTDTC": text(["9999-01-01"] * 149 + ["0000-01-01"])})
    out = [f for f in check_plausibility({"AE": ae}) if f.rule == "CMAP-PL0003"]
    assert sorted((f.value, f.count) for f in out) == [("0000-01-01", 1), ("9999-01-01", 149)]


def test_settings_refuse_unknown_keys_and_rule_ids():
    assert set(PlausibilitySpec.model_fields["severities"].annotation.__args__[0].__args__) \
        == set(RULES)
    with pytest.raises(ValidationError):
        PlausibilitySpec(earliest=date(1900, 1, 1))            # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        PlausibilitySpec(severities={"CMAP-PL0099": "error"})       # type: ignore[dict-item]
    with pytest.raises(ValidationError):
        PlausibilitySpec(max_age_years=0)
    spec = PlausibilitySpec.model_validate({"data_cutoff": "2025-06-30"})
    assert spec.data_cutoff == date(2025, 6, 30)
    assert StudySpec.model_fields["plausibility"].default is None
