"""ADAE variables of the admiral ad_adae.R template: ASTDTM/AENDTM with ASTTMF/AENTMF, ADURN/ADURU,
LDOSEDTM from EX, ASEV/ASEVN and the worst-event order.

One dosed subject, first dose 2020-03-10, last 2020-06-30, end of study 2020-09-15. Every
expected value is worked out by hand from the frames below.

EX: 1) 2020-03-10..03-31 BID 250 mg (a dose every day); 2) 2020-04-01..04-30 EXDOSE 0 (an
interruption, not a dose); 3) 2020-05-01..06-30 QOD 100 mg (doses on 05-01, 05-03, ... 06-30);
4) from 2020-07-01, no end (open: its start counts).
"""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.adam.adae import derive_adae
from cdiscmap.adam.settings import AdaeSettings, AdamSettings, AdslSettings, Exposure
from cdiscmap.errors import InputDataError
from cdiscmap.findings import Findings

T = pd.Timestamp


def _adsl() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["ST"], "USUBJID": ["S1"], "SUBJID": ["1"], "SITEID": ["01"],
        "TRT01P": ["DRUG"], "TRT01A": ["DRUG"], "TRTSDT": [T("2020-03-10")],
        "TRTEDT": [T("2020-06-30")], "DTHDT": [pd.NaT], "EOSDT": [T("2020-09-15")],
        "SAFFL": ["Y"],
    }).astype({c: "string" for c in ("STUDYID", "USUBJID", "SUBJID", "SITEID", "TRT01P",
                                      "TRT01A", "SAFFL")})


# (AESEQ, AESTDTC, AEENDTC, AESEV, AETOXGR)
ROWS = [
    (1, "2020-03-10T08:30", "2020-03-14", "MILD", "3"),
    (2, "2020-03", "2020-09", "severe", "1"),          # imputed onto TRTSDT / EOSDT
    (3, "2020-04-05T14", "2020-04-04T10:00", "LIFE THREATENING", "2"),   # ends before it starts
    (4, "2020-05-20", None, "MODERATE", "3"),
    (5, "2020-07-15", None, None, "1"),
    (6, "2020-03-01", "2020-03-02", "SEVERE", "4"),   # before the first dose
]


def _ae() -> pd.DataFrame:
    frame = pd.DataFrame(ROWS, columns=["AESEQ", "AESTDTC", "AEENDTC", "AESEV", "AETOXGR"])
    frame["STUDYID"] = "ST"
    frame["USUBJID"] = "S1"
    frame["AEDECOD"] = frame["AETERM"] = "NAUSEA"
    frame["AEBODSYS"] = frame["AESOC"] = "GASTROINTESTINAL DISORDERS"
    for name in ("AESER", "AEACN", "AEREL", "AEOUT", "AESDTH"):
        frame[name] = None
    frame["AESEQ"] = frame["AESEQ"].astype("float64")
    return frame.astype({c: "string" for c in frame.columns if c != "AESEQ"})


def _ex() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["ST"] * 4, "USUBJID": ["S1"] * 4, "EXSEQ": [1.0, 2.0, 3.0, 4.0],
        "EXTRT": ["DRUG"] * 4, "EXDOSE": [250.0, 0.0, 100.0, 250.0],
        "EXDOSFRQ": ["BID", "BID", "QOD", "QD"],
        "EXSTDTC": ["2020-03-10", "2020-04-01", "2020-05-01", "2020-07-01"],
        "EXENDTC": ["2020-03-31", "2020-04-30", "2020-06-30", None],
    }).astype({c: "string" for c in ("STUDYID", "USUBJID", "EXTRT", "EXDOSFRQ", "EXSTDTC",
                                      "EXENDTC")})


def _derive(settings: AdamSettings | None = None, ae: pd.DataFrame | None = None,
            ex: bool = True) -> tuple[pd.DataFrame, Findings, dict[str, str]]:
    findings, methods = Findings(), {}
    sdtm = {"AE": _ae() if ae is None else ae, **({"EX": _ex()} if ex else {})}
    out = derive_adae(sdtm, _adsl(), settings or AdamSettings(), findings, methods)
    assert out is not None
    return out.set_index("AESEQ"), findings, methods


def _col(frame: pd.DataFrame, name: str) -> dict[int, object]:
    return {int(k): (None if pd.isna(v) else v) for k, v in frame[name].items()}


def test_start_datetimes_and_time_flags():
    out, _, _ = _derive()
    assert _col(out, "ASTDTM") == {
        1: T("2020-03-10 08:30:00"),   # only the seconds imputed
        2: T("2020-03-10 00:00:00"),   # 2020-03-01 00:00 moved to TRTSDT 00:00 (March has it)
        3: T("2020-04-05 14:00:00"),
        4: T("2020-05-20 00:00:00"), 5: T("2020-07-15 00:00:00"), 6: T("2020-03-01 00:00:00")}
    # admiral ignore_seconds_flag: no S; an imputed date has H
    assert _col(out, "ASTTMF") == {1: None, 2: "H", 3: "M", 4: "H", 5: "H", 6: "H"}
    assert _col(out, "ASTDTF") == {1: None, 2: "D", 3: None, 4: None, 5: None, 6: None}
    assert (out["ASTDT"] == out["ASTDTM"].dt.normalize()).all()


def test_end_datetimes_and_time_flags():
    out, _, _ = _derive()
    assert _col(out, "AENDTM") == {
        1: T("2020-03-14 23:59:59"),
        2: T("2020-09-15 23:59:59"),   # 2020-09-30 23:59:59 moved to EOSDT's last second
        3: T("2020-04-04 10:00:59"), 4: None, 5: None, 6: T("2020-03-02 23:59:59")}
    assert _col(out, "AENTMF") == {1: "H", 2: "H", 3: None, 4: None, 5: None, 6: "H"}
    assert _col(out, "AENDTF") == {1: None, 2: "D", 3: None, 4: None, 5: None, 6: None}
    assert _col(out, "AENDT") == {1: T("2020-03-14"), 2: T("2020-09-15"), 3: T("2020-04-04"),
                                  4: None, 5: None, 6: T("2020-03-02")}


def test_seconds_flag_from_settings():
    out, _, methods = _derive(AdamSettings(adae=AdaeSettings(flag_imputed_seconds=True)))
    assert _col(out, "ASTTMF")[1] == "S" and _col(out, "AENTMF")[3] == "S"
    assert _col(out, "ASTTMF")[2] == "H"
    assert methods["ASTTMF"].endswith("H or M or S")


def test_duration_in_days():
    out, _, _ = _derive()
    # 03-10..03-14 = 5 days; 03-10..09-15: 21 + 30 + 31 + 30 + 31 + 31 + 15 = 189, + 1;
    # an end before the start gets no + 1; no end: blank
    assert _col(out, "ADURN") == {1: 5.0, 2: 190.0, 3: -1.0, 4: None, 5: None, 6: 2.0}
    assert _col(out, "ADURU") == {1: "DAYS", 2: "DAYS", 3: "DAYS", 4: None, 5: None, 6: "DAYS"}
    out, _, _ = _derive(AdamSettings(adae=AdaeSettings(duration_add_one=False)))
    assert _col(out, "ADURN") == {1: 4.0, 2: 189.0, 3: -1.0, 4: None, 5: None, 6: 1.0}


def test_last_dose_before_the_ae():
    out, _, methods = _derive()
    assert _col(out, "LDOSEDTM") == {
        1: T("2020-03-10"),   # the first dose day
        2: T("2020-03-10"),
        3: T("2020-03-31"),   # April's EXDOSE 0 record is an interruption
        4: T("2020-05-19"),   # QOD from 05-01: 05-19, not 05-20
        5: T("2020-07-01"),   # the open record's start, after the QOD record's 06-30
        6: None}              # before the first dose
    assert "00:00:00" in methods["LDOSEDTM"]
    closed = AdamSettings(adsl=AdslSettings(exposure=Exposure(open_end_uses_start=False)))
    out, _, _ = _derive(closed)
    assert _col(out, "LDOSEDTM")[5] == T("2020-06-30")


def test_no_ex_no_last_dose():
    out, _, methods = _derive(ex=False)
    assert out["LDOSEDTM"].isna().all() and "LDOSEDTM" not in methods


def test_severity_from_aesev():
    out, findings, methods = _derive()
    assert _col(out, "ASEV") == {1: "MILD", 2: "severe", 3: "LIFE THREATENING",
                                 4: "MODERATE", 5: None, 6: "SEVERE"}
    assert _col(out, "ASEVN") == {1: 1.0, 2: 3.0, 3: None, 4: 2.0, 5: None, 6: 3.0}
    bad = [(f.rule, f.value) for f in findings.items if f.rule == "CMAP-AD0034"]
    assert bad == [("CMAP-AD0034", "LIFE THREATENING")]
    assert methods["ASEVN"].startswith("ASEV: MILD = 1, MODERATE = 2, SEVERE = 3")
    order = AdamSettings(adae=AdaeSettings(severity_order=["mild", "moderate", "severe",
                                                           "life threatening"]))
    out, findings, _ = _derive(order)
    assert _col(out, "ASEVN")[3] == 4.0
    assert not [f for f in findings.items if f.rule == "CMAP-AD0034"]


def test_no_aesev_no_severity_columns():
    out, _, _ = _derive(ae=_ae().drop(columns="AESEV"))
    assert "ASEV" not in out.columns and "ASEVN" not in out.columns
    with pytest.raises(InputDataError, match="AESEV"):
        _derive(AdamSettings(adae=AdaeSettings(worst_by="ASEVN")), ae=_ae().drop(columns="AESEV"))


def test_occurrence_flags_by_datetime_and_worst_order():
    # treatment-emergent: 1-5 (6 starts before the first dose). By ASTDTM, AESEQ 2 (03-10
    # 00:00) comes before AESEQ 1 (03-10 08:30) although its AESEQ is higher.
    out, _, _ = _derive()
    assert _col(out, "TRTEMFL") == {1: "Y", 2: "Y", 3: "Y", 4: "Y", 5: "Y", 6: None}
    assert _col(out, "AOCCFL") == {1: None, 2: "Y", 3: None, 4: None, 5: None, 6: None}
    # worst CTCAE grade (default): grade 3 twice, the earlier (AESEQ 1, 03-10) wins
    assert _col(out, "AOCCIFL") == {1: "Y", 2: None, 3: None, 4: None, 5: None, 6: None}
    # admiral's worst severity: SEVERE is AESEQ 2 only (AESEQ 6 is not treatment-emergent)
    out, _, methods = _derive(AdamSettings(adae=AdaeSettings(worst_by="ASEVN")))
    assert _col(out, "AOCCIFL") == {1: None, 2: "Y", 3: None, 4: None, 5: None, 6: None}
    assert "highest ASEVN" in methods["AOCCIFL"]
