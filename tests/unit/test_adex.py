"""ADEX exposure parameters: cumulative dose, dose intensity, RDI, mg/m2 dosing with BSA.

Every expected value below is worked out by hand from the frames in this file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdiscmap.adam.adex import derive_adex, mosteller_bsa
from cdiscmap.adam.settings import AdamSettings, AdexSettings, PlannedDose
from cdiscmap.findings import Findings

T = pd.Timestamp


def _adsl() -> pd.DataFrame:
    start = [T("2021-01-01"), T("2021-02-01"), T("2021-03-01"), T("2021-04-01"), pd.NaT]
    end = [T("2021-01-20"), T("2021-02-10"), T("2021-03-04"), T("2021-04-02"), pd.NaT]
    frame = pd.DataFrame({
        "STUDYID": "ST", "USUBJID": ["S1", "S2", "S3", "S4", "S5"],
        "SUBJID": ["1", "2", "3", "4", "5"], "SITEID": "01",
        "ARMCD": ["A", "B", "B", "B", "A"], "TRT01P": "X", "TRT01A": "X",
        "TRTSDT": start, "TRTEDT": end})
    frame["TRTDURD"] = ((frame["TRTEDT"] - frame["TRTSDT"]).dt.days + 1).astype("float64")
    return frame.astype({c: "string" for c in ("STUDYID", "USUBJID", "SUBJID", "SITEID",
                                                "ARMCD", "TRT01P", "TRT01A")})


# (USUBJID, EXSEQ, EXDOSE, EXDOSU, EXDOSFRQ, EXSTDTC, EXENDTC)
EX_ROWS = [
    ("S1", 1, 100, "mg", "BID", "2021-01-01", "2021-01-10"),     # 10 d x 2 x 100 = 2000 mg
    ("S1", 2, 50, "mg", "QD", "2021-01-15", None),               # open: to TRTEDT, 6 d = 300
    ("S2", 1, 100, "mg/m2", "QD", "2021-02-01", "2021-02-05"),   # 500 mg/m2 x BSA 1.0
    ("S2", 2, 100, "mg/m2", "QD", "2021-02-06", "2021-02-10"),   # 500 mg/m2 x BSA 1.2
    ("S3", 1, 200, "mg/m2", "QD", "2021-03-01", "2021-03-04"),   # 800 mg/m2 x VS BSA 0.5
    ("S4", 1, 100, "mg/m2", "QD", "2021-04-01", "2021-04-02"),   # 200 mg/m2, no BSA
]

# (USUBJID, VSTESTCD, VSSTRESN, VSDTC)
VS_ROWS = [
    ("S2", "HEIGHT", 144.0, "2021-01-30"), ("S2", "WEIGHT", 25.0, "2021-01-30"),  # BSA 1.0
    ("S2", "WEIGHT", 36.0, "2021-02-06"),                                        # BSA 1.2
    ("S3", "BSA", 0.5, "2021-03-01"),
    ("S3", "HEIGHT", 180.0, "2021-03-01"), ("S3", "WEIGHT", 80.0, "2021-03-01"),  # 2.0, unused
]


def _ex() -> pd.DataFrame:
    frame = pd.DataFrame(EX_ROWS, columns=["USUBJID", "EXSEQ", "EXDOSE", "EXDOSU", "EXDOSFRQ",
                                           "EXSTDTC", "EXENDTC"])
    frame["STUDYID"] = "ST"
    frame = frame.astype({"EXSEQ": "float64", "EXDOSE": "float64"})
    return frame.astype({c: "string" for c in ("USUBJID", "EXDOSU", "EXDOSFRQ", "EXSTDTC",
                                                "EXENDTC", "STUDYID")})


def _vs() -> pd.DataFrame:
    frame = pd.DataFrame(VS_ROWS, columns=["USUBJID", "VSTESTCD", "VSSTRESN", "VSDTC"])
    return frame.astype({"USUBJID": "string", "VSTESTCD": "string", "VSDTC": "string"})


PLANNED = [PlannedDose(armcd=["A"], dose=100, unit="mg", frequency="BID"),
           PlannedDose(armcd=[], dose=100, unit="mg/m2", frequency="QD")]


def _derive(sdtm: dict[str, pd.DataFrame] | None = None, **kw
            ) -> tuple[dict[tuple[str, str], float], Findings]:
    settings = AdamSettings(adex=AdexSettings(planned=PLANNED, **kw))
    findings = Findings()
    out = derive_adex(sdtm if sdtm is not None else {"EX": _ex(), "VS": _vs()}, _adsl(),
                      settings, findings, {})
    assert out is not None
    return {(u, p): v for u, p, v in zip(out["USUBJID"], out["PARAMCD"], out["AVAL"],
                                         strict=True)}, findings


def test_mosteller():
    bsa = mosteller_bsa(pd.Series([180.0, 144.0]), pd.Series([80.0, 36.0]))
    assert bsa.tolist() == pytest.approx([2.0, 1.2])


def test_mg_dosing_cumulative_dose_intensity_and_rdi():
    aval, _ = _derive()
    assert aval[("S1", "TRTDURD")] == 20.0
    assert aval[("S1", "CUMDOSE")] == 2300.0
    assert aval[("S1", "DOSEINT")] == pytest.approx(115.0)
    assert aval[("S1", "RDI")] == pytest.approx(57.5)     # 2300 / (100 x 2 x 20) x 100
    assert ("S1", "CUMDOSBS") not in aval                  # no mg/m2 record
    assert not any(u == "S5" for u, _ in aval)             # never dosed: no record


def test_open_record_counts_one_day_when_set():
    aval, _ = _derive(open_record_end="start")
    assert aval[("S1", "CUMDOSE")] == 2050.0               # 2000 + 1 d x 50


def test_bsa_dosing_from_height_weight_and_vs_bsa():
    aval, findings = _derive()
    assert aval[("S2", "CUMDOSE")] == pytest.approx(1100.0)   # 500 x 1.0 + 500 x 1.2
    assert aval[("S2", "CUMDOSBS")] == pytest.approx(1000.0)
    assert aval[("S2", "DOSEINT")] == pytest.approx(110.0)
    assert aval[("S2", "DOSINTBS")] == pytest.approx(100.0)
    assert aval[("S2", "RDI")] == pytest.approx(100.0)        # 1000 / (100 x 10) x 100
    assert aval[("S3", "CUMDOSE")] == pytest.approx(400.0)    # VS BSA 0.5 beats Mosteller 2.0
    assert aval[("S3", "RDI")] == pytest.approx(200.0)        # 800 / (100 x 4) x 100
    # S4 has no BSA: mg values blank with a finding, the mg/m2 ones and the RDI are kept
    assert np.isnan(aval[("S4", "CUMDOSE")]) and np.isnan(aval[("S4", "DOSEINT")])
    assert aval[("S4", "CUMDOSBS")] == 200.0
    assert aval[("S4", "RDI")] == pytest.approx(100.0)
    assert [(f.rule, f.usubjid) for f in findings.items if f.rule == "CMAP-AD0032"] == [("CMAP-AD0032",
                                                                                    "S4")]


def test_without_vs_the_mg_dose_of_bsa_dosing_is_blank():
    aval, findings = _derive({"EX": _ex()})
    assert np.isnan(aval[("S2", "CUMDOSE")])
    assert aval[("S2", "CUMDOSBS")] == pytest.approx(1000.0)
    assert aval[("S1", "CUMDOSE")] == 2300.0
    assert any(f.rule == "CMAP-AD0005" and f.dataset == "VS" for f in findings.items)


def test_unknown_frequency_counts_no_dose_and_is_reported():
    ex = _ex()
    ex.loc[1, "EXDOSFRQ"] = "Q4H"
    aval, findings = _derive({"EX": ex, "VS": _vs()})
    assert np.isnan(aval[("S1", "CUMDOSE")])              # no silent undercount
    assert any(f.rule == "CMAP-AD0031" and f.value == "Q4H" for f in findings.items)


def test_settings_validation():
    with pytest.raises(ValueError):
        AdexSettings(planned=[PlannedDose(armcd=[], dose=1, unit="mg", frequency="Q9X")])
    with pytest.raises(ValueError):
        AdexSettings(planned=[PlannedDose(armcd=["A"], dose=1, unit="mg", frequency="QD"),
                              PlannedDose(armcd=["A"], dose=2, unit="mg", frequency="QD")])
