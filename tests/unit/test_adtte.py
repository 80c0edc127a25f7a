"""ADTTE censoring rules on hand-written subjects (start = randomization 2020-01-01).

Day numbers after 2020-01-01 (leap year): 2020-02-26 = 56, 2020-03-25 = 84, 2020-04-22 = 112,
2020-05-01 = 121, 2020-06-01 = 152, 2020-07-01 = 182, 2020-07-19 = 200. AVAL = days + 1.

P1 SD d56, PD d112.            P2 PR d56, PR d84, died d121.      P3 no assessment.
P4 SD d56, NE d112.            P5 PD d56, no baseline TU.         P6 SD d56, new therapy d60,
P7 SD d56, PD d182.            P8 no assessment, died d200.          PD d112, died d152.
P9 PR d56, PR d70.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.adam import derive_all
from cdiscmap.adam.settings import (
    AdamSettings,
    AdrsSettings,
    AdslSettings,
    AdtteSettings,
    DateSource,
    ExDateRule,
    MissedAssessments,
    ResponseAnalysis,
    TteParameter,
)
from cdiscmap.errors import InputDataError

T = pd.Timestamp
REF = "2020-01-01"
SUBJECTS = ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9"]
RS_ROWS = [
    ("P1", "2020-02-26", "SD"), ("P1", "2020-04-22", "PD"),
    ("P2", "2020-02-26", "PR"), ("P2", "2020-03-25", "PR"),
    ("P4", "2020-02-26", "SD"), ("P4", "2020-04-22", "NE"),
    ("P5", "2020-02-26", "PD"),
    ("P6", "2020-02-26", "SD"), ("P6", "2020-04-22", "PD"),
    ("P7", "2020-02-26", "SD"), ("P7", "2020-07-01", "PD"),
    ("P9", "2020-02-26", "PR"), ("P9", "2020-03-11", "PR"),
]
DEATHS = {"P2": "2020-05-01", "P6": "2020-06-01", "P8": "2020-07-19"}


def s(values: list) -> pd.Series:
    return pd.Series(values, dtype="string")


def build(subjects=SUBJECTS, rs_rows=RS_ROWS, deaths=DEATHS, extra=None):
    n = len(subjects)
    dm = pd.DataFrame({"STUDYID": s(["Q"] * n), "USUBJID": s(subjects),
                       "DTHDTC": s([deaths.get(u) for u in subjects])})
    ds = pd.DataFrame({"USUBJID": s(subjects), "DSSEQ": [1.0] * n,
                       "DSTERM": s(["RANDOMIZED"] * n), "DSDECOD": s(["RANDOMIZED"] * n),
                       "DSSTDTC": s([REF] * n)})
    rs = pd.DataFrame(rs_rows, columns=["USUBJID", "RSDTC", "RSSTRESC"]).astype("string")
    rs["RSSEQ"] = rs.groupby("USUBJID").cumcount().astype("float64") + 1
    rs["RSTESTCD"] = s(["OVRLRESP"] * len(rs))
    rs["RSEVAL"] = s(["INVESTIGATOR"] * len(rs))
    base = [u for u in subjects if u != "P5"]
    tu = pd.DataFrame({"USUBJID": s(base), "TUSEQ": [1.0] * len(base),
                       "TUSTRESC": s(["TARGET"] * len(base)),
                       "VISIT": s(["BASELINE"] * len(base)),
                       "TUDTC": s(["2019-12-20"] * len(base))})
    cm = pd.DataFrame({"USUBJID": s(["P6"]), "CMSEQ": [1.0], "CMCAT": s(["ANTI-CANCER"]),
                       "CMSTDTC": s(["2020-03-01"])})
    data = {"DM": dm, "DS": ds, "RS": rs, "TU": tu, "CM": cm}
    data.update(extra or {})
    return data


def tte(parameters, data=None, adrs=None, adsl=None):
    settings = AdamSettings(adsl=adsl or AdslSettings(), adrs=adrs or AdrsSettings(),
                            adtte=AdtteSettings(parameters=parameters))
    result = derive_all(data if data is not None else build(), settings)
    return result


def rows(result, code: str) -> dict[str, tuple]:
    frame = result.datasets["ADTTE"]
    frame = frame[frame["PARAMCD"] == code]
    out = {}
    for r in frame.itertuples():
        out[r.USUBJID] = (r.ADT, r.AVAL, r.CNSR, r.EVNTDESC,
                          None if pd.isna(r.SRCSEQ) else r.SRCSEQ)
    return out


PFS = TteParameter(paramcd="PFS", param="PFS", start="RANDDT", events=["PD", "DEATH"])
OS = TteParameter(paramcd="OS", param="OS", start="RANDDT", events=["DEATH"],
                  censor="last_alive")
TTP = TteParameter(paramcd="TTP", param="TTP", start="RANDDT", events=["PD"])
DOR = TteParameter(paramcd="DOR", param="DOR", start="RESPONSE", events=["PD", "DEATH"])


def test_pfs_events_and_censoring_by_hand():
    got = rows(tte([PFS]), "PFS")
    assert got["P1"] == (T("2020-04-22"), 113.0, 0.0, "DISEASE PROGRESSION", 2.0)
    # death without PD is a PFS event
    assert got["P2"] == (T("2020-05-01"), 122.0, 0.0, "DEATH", None)
    # no post-baseline assessment and alive: censored at the start date
    assert got["P3"] == (T(REF), 1.0, 2.0, "NO ADEQUATE POST-BASELINE TUMOR ASSESSMENT", None)
    # last assessment NE: censored at the last adequate one (SD d56)
    assert got["P4"] == (T("2020-02-26"), 57.0, 1.0, "LAST ADEQUATE TUMOR ASSESSMENT", 1.0)
    # death with no assessment at all is still an event
    assert got["P8"] == (T("2020-07-19"), 201.0, 0.0, "DEATH", None)
    frame = tte([PFS]).datasets["ADTTE"]
    assert frame.loc[frame["USUBJID"] == "P1", "SRCDOM"].tolist() == ["RS"]
    assert frame.loc[frame["USUBJID"] == "P2", "SRCVAR"].tolist() == ["DTHDT"]
    assert frame["STARTDT"].eq(T(REF)).all()


def test_ttp_does_not_count_death():
    got = rows(tte([TTP]), "TTP")
    assert got["P1"][:3] == (T("2020-04-22"), 113.0, 0.0)
    # P2 died without PD: censored at the last adequate assessment (PR d84)
    assert got["P2"] == (T("2020-03-25"), 85.0, 1.0, "LAST ADEQUATE TUMOR ASSESSMENT", 2.0)


def test_os_event_and_last_known_alive():
    result = tte([OS])
    got = rows(result, "OS")
    assert got["P2"][:4] == (T("2020-05-01"), 122.0, 0.0, "DEATH")
    # P1 alive: last known alive = last RS date 2020-04-22
    assert got["P1"][:4] == (T("2020-04-22"), 113.0, 1.0, "LAST KNOWN ALIVE")
    # P3: only the randomization record → alive at day 1
    assert got["P3"][:3] == (T(REF), 1.0, 1.0)
    frame = result.datasets["ADTTE"]
    assert frame.loc[frame["USUBJID"] == "P1", "CNSDTDSC"].tolist() == ["LAST KNOWN ALIVE DATE"]


def test_no_baseline_assessment_censors_at_start():
    plain = rows(tte([PFS]), "PFS")
    assert plain["P5"][:3] == (T("2020-02-26"), 57.0, 0.0)
    strict = TteParameter(paramcd="PFS", param="PFS", start="RANDDT", events=["PD", "DEATH"],
                          require_baseline_assessment=True)
    got = rows(tte([strict]), "PFS")
    assert got["P5"] == (T(REF), 1.0, 2.0, "NO BASELINE TUMOR ASSESSMENT", None)
    assert got["P1"][2] == 0.0


def test_new_anticancer_therapy():
    therapy = AdrsSettings(new_therapy=[DateSource(dataset="CM", date="CMSTDTC")])
    # PD on d112 follows new therapy (d60): not analysed; death on d152 is then the event
    plain = rows(tte([PFS], adrs=therapy), "PFS")
    assert plain["P6"][:4] == (T("2020-06-01"), 153.0, 0.0, "DEATH")
    cut = TteParameter(paramcd="PFS", param="PFS", start="RANDDT", events=["PD", "DEATH"],
                       censor_at_new_therapy=True)
    got = rows(tte([cut], adrs=therapy), "PFS")
    assert got["P6"] == (T("2020-02-26"), 57.0, 3.0, "NEW ANTI-CANCER THERAPY STARTED", 1.0)
    assert got["P1"][2] == 0.0        # no therapy: unchanged
    # OS ignores new therapy
    assert rows(tte([OS], adrs=therapy), "OS")["P6"][:3] == (T("2020-06-01"), 153.0, 0.0)


def test_event_after_two_missed_assessments():
    missed = TteParameter(paramcd="PFS", param="PFS", start="RANDDT", events=["PD", "DEATH"],
                          missed_assessments=MissedAssessments(interval_days=56,
                                                               window_days=7))
    got = rows(tte([missed]), "PFS")
    # limit 2 x 56 + 7 = 119 days. P7: PD d182, last adequate d56 → 126 days → censored there
    assert got["P7"] == (T("2020-02-26"), 57.0, 4.0,
                         "EVENT AFTER TWO OR MORE MISSED ASSESSMENTS", 1.0)
    # P8 died on d200 with no assessment: 200 days after the start → censored at start
    assert got["P8"][:4] == (T(REF), 1.0, 4.0, "EVENT AFTER TWO OR MORE MISSED ASSESSMENTS")
    # P1: PD 56 days after SD; P2: death 37 days after PR → events
    assert got["P1"][2] == 0.0 and got["P2"][2] == 0.0


def test_duration_of_response_unconfirmed_and_confirmed():
    got = rows(tte([DOR]), "DOR")
    assert set(got) == {"P2", "P9"}              # responders only
    # P2: from PR 2020-02-26 to death 2020-05-01: 65 days → 66
    assert got["P2"][:4] == (T("2020-05-01"), 66.0, 0.0, "DEATH")
    # P9: censored at its last adequate assessment 2020-03-11 (14 days → 15)
    assert got["P9"][:3] == (T("2020-03-11"), 15.0, 1.0)
    confirmed = TteParameter(paramcd="DOR", param="DOR", start="RESPONSE", confirmed=True,
                             events=["PD", "DEATH"])
    got = rows(tte([confirmed]), "DOR")
    assert set(got) == {"P2"}                   # P9's PR d56 → PR d70 is only 14 days
    frame = tte([confirmed]).datasets["ADTTE"]
    assert frame["STARTDT"].tolist() == [T("2020-02-26")]


def test_pfs_after_rechallenge_and_duration_of_response_after_it():
    rs_rows = [("R", "2020-03-01", "PD"), ("R", "2020-05-10", "PR"), ("R", "2020-06-10", "PR"),
               ("R", "2020-08-01", "PD")]
    ex = pd.DataFrame({"USUBJID": s(["R", "N"]), "EXSEQ": [1.0, 1.0], "EXDOSE": [400.0] * 2,
                       "EXSTDTC": s(["2020-03-15", "2020-01-01"]),
                       "EXENDTC": s([None, "2020-12-31"])})
    data = build(subjects=["N", "R"], rs_rows=rs_rows, deaths={}, extra={"EX": ex})
    adsl = AdslSettings(ex_dates=[ExDateRule(variable="RCHSDT", rule="first_after_gap",
                                             gap_days=28, anchor="RANDDT")])
    adrs = AdrsSettings(analyses=[
        ResponseAnalysis(),
        ResponseAnalysis(id="rechallenge", reference_date="RCHSDT", paramcd_suffix="R",
                         subjects="with_reference_date")])
    params = [PFS,
              TteParameter(paramcd="PFSR", param="PFS after rechallenge", start="RCHSDT",
                           analysis="rechallenge", events=["PD", "DEATH"]),
              TteParameter(paramcd="DORR", param="DOR after rechallenge", start="RESPONSE",
                           analysis="rechallenge", events=["PD", "DEATH"])]
    result = tte(params, data=data, adrs=adrs, adsl=adsl)
    # PFS from randomization: first PD 2020-03-01 → 60 days → 61
    assert rows(result, "PFS")["R"][:3] == (T("2020-03-01"), 61.0, 0.0)
    # after re-introduction on 2020-03-15: PD 2020-08-01 → 139 days → 140
    assert rows(result, "PFSR") == {"R": (T("2020-08-01"), 140.0, 0.0,
                                          "DISEASE PROGRESSION", 4.0)}
    # from the first PR after it (2020-05-10): 83 days → 84
    assert rows(result, "DORR") == {"R": (T("2020-08-01"), 84.0, 0.0,
                                          "DISEASE PROGRESSION", 4.0)}
    frame = result.datasets["ADTTE"]
    assert frame.loc[frame["PARAMCD"] == "PFSR", "STARTDT"].tolist() == [T("2020-03-15")]


def test_aseq_identifiers_and_methods():
    result = tte([PFS, OS])
    frame = result.datasets["ADTTE"]
    assert frame.loc[frame["USUBJID"] == "P1", ["PARAMCD", "ASEQ"]].values.tolist() == \
        [["OS", 1.0], ["PFS", 2.0]]
    assert frame["STUDYID"].eq("Q").all()
    assert frame["CNSR"].dtype == "float64" and frame["ADT"].dtype == "datetime64[ns]"
    assert "ADT - STARTDT + 1" in result.methods["ADTTE"]["PARAMCD=PFS"]
    assert result.methods["ADTTE"]["CNSR"].startswith("0 = event; censoring codes: 1 = ")


def test_unknown_start_is_refused():
    bad = TteParameter(paramcd="PFS", param="PFS", start="REGDT", events=["PD"])
    with pytest.raises(InputDataError, match="unknown ADSL date REGDT"):
        tte([bad])
