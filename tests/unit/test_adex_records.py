"""ADEX parameters per EX record (admiral ad_adex.R DURD, DOSE, ADJ, ADJAE; PARCAT1 INDIVIDUAL)
beside the per-subject summaries (PARCAT1 OVERALL).

One subject, dosed 2021-01-01 .. 2021-01-20 (ADSL); its EX records, worked out by hand:
  EXSEQ 1: 100 mg BID 2021-01-01 .. 2021-01-10: 10 days, 10 x 2 x 100 = 2000 mg, no EXADJ
  EXSEQ 3: 0 mg QD 2021-01-11 .. 2021-01-14 (interruption): 4 days, 0 mg, MEDICATION ERROR
  EXSEQ 2: 50 mg QD from 2021-01-15, open: ends at TRTEDT 2021-01-20, 6 days, 300 mg,
           ADVERSE EVENT
CUMDOSE = 2300 mg over TRTDURD 20 days, DOSEINT 115 mg/day.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.adam.adex import derive_adex
from cdiscmap.adam.settings import AdamSettings, AdexSettings, ExRecordParameter
from cdiscmap.findings import Findings

T = pd.Timestamp


def _adsl() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["ST"], "USUBJID": ["S1"], "SUBJID": ["1"], "SITEID": ["01"],
        "ARMCD": ["A"], "TRT01P": ["X"], "TRT01A": ["X"], "TRTSDT": [T("2021-01-01")],
        "TRTEDT": [T("2021-01-20")], "TRTDURD": [20.0],
    }).astype({c: "string" for c in ("STUDYID", "USUBJID", "SUBJID", "SITEID", "ARMCD",
                                      "TRT01P", "TRT01A")})


def _ex() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["ST"] * 3, "USUBJID": ["S1"] * 3, "EXSEQ": [1.0, 2.0, 3.0],
        "EXDOSE": [100.0, 50.0, 0.0], "EXDOSU": ["mg"] * 3, "EXDOSFRQ": ["BID", "QD", "QD"],
        "EXSTDTC": ["2021-01-01", "2021-01-15", "2021-01-11"],
        "EXENDTC": ["2021-01-10", None, "2021-01-14"],
        "EXADJ": [None, "Adverse event", "MEDICATION ERROR"],
    }).astype({c: "string" for c in ("STUDYID", "USUBJID", "EXDOSU", "EXDOSFRQ", "EXSTDTC",
                                      "EXENDTC", "EXADJ")})


def _derive(**kw) -> tuple[pd.DataFrame, dict[str, str]]:
    methods: dict[str, str] = {}
    out = derive_adex({"EX": _ex()}, _adsl(), AdamSettings(adex=AdexSettings(**kw)),
                      Findings(), methods)
    assert out is not None
    return out, methods


def _rows(out: pd.DataFrame) -> list[tuple]:
    return [(r.ASEQ, r.PARCAT1, r.PARAMCD, None if pd.isna(r.AVAL) else r.AVAL,
             None if pd.isna(r.AVALC) else r.AVALC, r.ASTDT, r.AENDT,
             None if pd.isna(r.SRCSEQ) else r.SRCSEQ) for r in out.itertuples()]


def test_default_record_parameters_follow_the_summaries():
    out, methods = _derive()
    a, b, c = T("2021-01-01"), T("2021-01-10"), T("2021-01-20")
    d, e, f = T("2021-01-11"), T("2021-01-14"), T("2021-01-15")
    assert _rows(out) == [
        (1.0, "OVERALL", "TRTDURD", 20.0, None, a, c, None),
        (2.0, "OVERALL", "CUMDOSE", 2300.0, None, a, c, None),
        (3.0, "OVERALL", "DOSEINT", 115.0, None, a, c, None),
        # EX records by start date: EXSEQ 1, 3, 2
        (4.0, "INDIVIDUAL", "DURD", 10.0, None, a, b, 1.0),
        (5.0, "INDIVIDUAL", "DOSE", 2000.0, None, a, b, 1.0),
        (6.0, "INDIVIDUAL", "ADJ", None, None, a, b, 1.0),
        (7.0, "INDIVIDUAL", "ADJAE", None, None, a, b, 1.0),
        (8.0, "INDIVIDUAL", "DURD", 4.0, None, d, e, 3.0),
        (9.0, "INDIVIDUAL", "DOSE", 0.0, None, d, e, 3.0),
        (10.0, "INDIVIDUAL", "ADJ", None, "Y", d, e, 3.0),
        (11.0, "INDIVIDUAL", "ADJAE", None, None, d, e, 3.0),
        (12.0, "INDIVIDUAL", "DURD", 6.0, None, f, c, 2.0),
        (13.0, "INDIVIDUAL", "DOSE", 300.0, None, f, c, 2.0),
        (14.0, "INDIVIDUAL", "ADJ", None, "Y", f, c, 2.0),
        (15.0, "INDIVIDUAL", "ADJAE", None, "Y", f, c, 2.0),
    ]
    params = dict(zip(out["PARAMCD"], out["PARAMN"], strict=False))
    assert [params[c] for c in ("DURD", "DOSE", "ADJ", "ADJAE")] == [7.0, 8.0, 9.0, 10.0]
    assert out.loc[out["PARAMCD"] == "DOSE", "PARAM"].iloc[0] == \
        "Dose administered during constant dosing interval (mg)"
    assert set(out.loc[out["PARCAT1"] == "INDIVIDUAL", "SRCDOM"]) == {"EX"}
    assert methods["PARAMCD=ADJAE"] == "Y when EX.EXADJ is ADVERSE EVENT, else blank"


def test_record_parameters_from_settings():
    per_admin = ExRecordParameter(paramcd="DOSEADM", param="Dose per Administration (mg)",
                                  value="exdose")
    out, _ = _derive(record_parameters=[per_admin])
    recs = out.loc[out["PARCAT1"] == "INDIVIDUAL"]
    assert recs["AVAL"].tolist() == [100.0, 0.0, 50.0]
    assert recs["SRCVAR"].tolist() == ["EXDOSE"] * 3
    assert recs["PARAM"].tolist() == ["Dose per Administration (mg)"] * 3
    assert recs["PARAMN"].tolist() == [7.0] * 3


def test_summaries_only():
    out, methods = _derive(record_parameters=[])
    assert out["PARAMCD"].tolist() == ["TRTDURD", "CUMDOSE", "DOSEINT"]
    assert set(out["PARCAT1"]) == {"OVERALL"}
    assert "SRCDOM" not in out.columns and "SRCSEQ" not in methods


def test_record_parameter_may_not_reuse_a_summary_code():
    with pytest.raises(ValueError, match="names a summary parameter"):
        AdexSettings(record_parameters=[ExRecordParameter(paramcd="CUMDOSE", param="x",
                                                          value="dose")])
