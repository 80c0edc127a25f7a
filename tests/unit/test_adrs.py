"""ADRS on hand-written subject histories (reference date = randomization 2020-01-01).

Days after the reference: 2020-01-31 = 30, 2020-02-26 = 56, 2020-03-10 = 69, 2020-03-25 = 84,
2020-04-22 = 112, 2020-04-30 = 120, 2020-05-20 = 140. SD minimum 42 days → 2020-02-12.

A: SD before randomization; PR and SD on the same day (d56); PR d84; PD d112; PR d140 (after
   PD); an RSDRVFL=Y computed CR on d84; baseline TARGET lesion.
B: CR d56, NE d69, CR "2020-04" (→ 2020-04-30, ADTF D), NOT ALL EVALUATED, an impossible date;
   died 2020-07-01.
C: no assessment.  D: SD at d30 only.  F: CR d56 then PR d84.
"""

from __future__ import annotations

import pandas as pd

from cdiscmap.adam import derive_all
from cdiscmap.adam.settings import (
    AdamSettings,
    AdrsSettings,
    AdslSettings,
    DateSource,
    ExDateRule,
    Landmark,
    ResponseAnalysis,
)

T = pd.Timestamp
REF = "2020-01-01"


def s(values: list) -> pd.Series:
    return pd.Series(values, dtype="string")


RS_ROWS = [  # subject, RSSEQ, RSDTC, RSSTRESC, RSEVAL, RSDRVFL
    ("A", 1, "2019-12-20", "SD", "INVESTIGATOR", None),
    ("A", 2, "2020-02-26", "PR", "INVESTIGATOR", None),
    ("A", 3, "2020-02-26", "SD", "INVESTIGATOR", None),
    ("A", 4, "2020-03-25", "PR", "INVESTIGATOR", None),
    ("A", 5, "2020-04-22", "PD", "INVESTIGATOR", None),
    ("A", 6, "2020-05-20", "PR", "INVESTIGATOR", None),
    ("A", 7, "2020-03-25", "CR", None, "Y"),
    ("B", 1, "2020-02-26", "CR", "INVESTIGATOR", None),
    ("B", 2, "2020-03-10", "NE", "INVESTIGATOR", None),
    ("B", 3, "2020-04", "CR", "INVESTIGATOR", None),
    ("B", 4, "2020-05-20", "NOT ALL EVALUATED", "INVESTIGATOR", None),
    ("B", 5, "2020-13-01", "CR", "INVESTIGATOR", None),
    ("D", 1, "2020-01-31", "SD", "INVESTIGATOR", None),
    ("F", 1, "2020-02-26", "CR", "INVESTIGATOR", None),
    ("F", 2, "2020-03-25", "PR", "INVESTIGATOR", None),
]


def build(rs_rows=RS_ROWS, subjects=("A", "B", "C", "D", "F"), deaths=None, extra=None):
    deaths = deaths if deaths is not None else {"B": "2020-07-01"}
    dm = pd.DataFrame({"STUDYID": s(["Z"] * len(subjects)), "USUBJID": s(list(subjects)),
                       "DTHDTC": s([deaths.get(u) for u in subjects])})
    ds = pd.DataFrame({"USUBJID": s(list(subjects)), "DSSEQ": [1.0] * len(subjects),
                       "DSTERM": s(["RANDOMIZED"] * len(subjects)),
                       "DSDECOD": s(["RANDOMIZED"] * len(subjects)),
                       "DSSTDTC": s([REF] * len(subjects))})
    rs = pd.DataFrame(rs_rows, columns=["USUBJID", "RSSEQ", "RSDTC", "RSSTRESC", "RSEVAL",
                                        "RSDRVFL"])
    rs = rs.astype({"USUBJID": "string", "RSDTC": "string", "RSSTRESC": "string",
                    "RSEVAL": "string", "RSDRVFL": "string", "RSSEQ": "float64"})
    rs["RSTESTCD"] = s(["OVRLRESP"] * len(rs))
    rs["VISITNUM"] = rs["RSSEQ"]
    rs["VISIT"] = s([f"V{int(v)}" for v in rs["RSSEQ"]])
    tu = pd.DataFrame({"USUBJID": s(["A"]), "TUSEQ": [3.0], "TUSTRESC": s(["TARGET"]),
                       "VISIT": s(["BASELINE"]), "TUDTC": s(["2019-12-20"])})
    data = {"DM": dm, "DS": ds, "RS": rs, "TU": tu}
    data.update(extra or {})
    return data


def run(data=None, settings=None):
    result = derive_all(data if data is not None else build(), settings or AdamSettings())
    return result


def param(adrs: pd.DataFrame, code: str) -> dict[str, tuple]:
    rows = adrs[adrs["PARAMCD"] == code]
    out = {}
    for r in rows.itertuples():
        adt = None if pd.isna(r.ADT) else r.ADT
        seq = None if pd.isna(r.SRCSEQ) else r.SRCSEQ
        out[r.USUBJID] = (r.AVALC, r.AVAL, adt, seq)
    return out


def test_ovr_records_flags_and_dates():
    result = run()
    ovr = result.datasets["ADRS"]
    ovr = ovr[ovr["PARAMCD"] == "OVR"].set_index(["USUBJID", "SRCSEQ"])
    # the computed (RSDRVFL=Y) record is not an investigator record
    assert ("A", 7.0) not in ovr.index
    a = ovr.loc["A"]
    assert a["ANL01FL"].fillna("-").tolist() == ["-", "-", "Y", "Y", "Y", "Y"]
    # ANL02FL: from the reference date up to and including the first PD (d112)
    assert a["ANL02FL"].fillna("-").tolist() == ["-", "Y", "Y", "Y", "Y", "-"]
    assert a["AVAL"].tolist() == [3.0, 2.0, 3.0, 2.0, 5.0, 2.0]
    b = ovr.loc["B"]
    assert b.loc[3.0, "ADT"] == T("2020-04-30") and b.loc[3.0, "ADTF"] == "D"
    assert pd.isna(b.loc[4.0, "AVAL"]) and pd.isna(b.loc[4.0, "ANL01FL"])
    assert pd.isna(b.loc[5.0, "ADT"]) and pd.isna(b.loc[5.0, "ANL01FL"])
    assert set(ovr["SRCDOM"]) == {"RS"} and set(ovr["SRCVAR"]) == {"RSSTRESC"}
    assert b["AVISIT"].tolist() == ["V1", "V2", "V3", "V4", "V5"]
    rules = sorted((f.rule, f.usubjid, f.value) for f in result.findings
                   if f.rule in ("CMAP-AD0001", "CMAP-AD0002", "CMAP-AD0003"))
    assert rules == [("CMAP-AD0001", "B", "2020-13-01"), ("CMAP-AD0002", "B", "NOT ALL EVALUATED"),
                     ("CMAP-AD0003", "F", "2020-03-25")]
    # one finding per bad record (ADRS and LSTALVDT both read RSDTC), located by RSSEQ
    sources = sorted(f.source for f in result.findings if f.rule in ("CMAP-AD0001", "CMAP-AD0002"))
    assert sources == ["RS RSSEQ=4", "RS RSSEQ=5"]


def test_response_parameters_by_hand():
    adrs = run().datasets["ADRS"]
    d56, d84, d112 = T("2020-02-26"), T("2020-03-25"), T("2020-04-22")
    assert param(adrs, "PD") == {"A": ("Y", 1.0, d112, 5.0), "B": ("N", 0.0, None, None),
                                 "C": ("N", 0.0, None, None), "D": ("N", 0.0, None, None),
                                 "F": ("N", 0.0, None, None)}
    assert param(adrs, "RSP") == {"A": ("Y", 1.0, d84, 4.0), "B": ("Y", 1.0, d56, 1.0),
                                  "C": ("N", 0.0, None, None), "D": ("N", 0.0, None, None),
                                  "F": ("Y", 1.0, d56, 1.0)}
    # CB: A's SD on d56 is >= 42 days; D's SD on d30 is too early
    assert param(adrs, "CB") == {"A": ("Y", 1.0, d56, 3.0), "B": ("Y", 1.0, d56, 1.0),
                                 "C": ("N", 0.0, None, None), "D": ("N", 0.0, None, None),
                                 "F": ("Y", 1.0, d56, 1.0)}
    assert param(adrs, "BOR") == {"A": ("PR", 2.0, d84, 4.0), "B": ("CR", 1.0, d56, 1.0),
                                  "C": ("MISSING", 7.0, None, None),
                                  "D": ("NE", 6.0, T("2020-01-31"), 1.0),
                                  "F": ("CR", 1.0, d56, 1.0)}
    # B: CR d56 confirmed by CR 2020-04-30 (65 days, one NE between)
    assert param(adrs, "CRSP") == {"A": ("N", 0.0, None, None), "B": ("Y", 1.0, d56, 1.0),
                                   "C": ("N", 0.0, None, None), "D": ("N", 0.0, None, None),
                                   "F": ("N", 0.0, None, None)}
    assert param(adrs, "CCB") == {"A": ("Y", 1.0, d56, 3.0), "B": ("Y", 1.0, d56, 1.0),
                                  "C": ("N", 0.0, None, None), "D": ("N", 0.0, None, None),
                                  "F": ("Y", 1.0, d56, 1.0)}
    # A: PR d84 unconfirmed (PD next) → SD from d56; F: CR then PR → SD at d56
    assert param(adrs, "CBOR") == {"A": ("SD", 3.0, d56, 3.0), "B": ("CR", 1.0, d56, 1.0),
                                   "C": ("MISSING", 7.0, None, None),
                                   "D": ("NE", 6.0, T("2020-01-31"), 1.0),
                                   "F": ("SD", 3.0, d56, 1.0)}
    assert param(adrs, "LSTA") == {"A": ("PD", 5.0, d112, 5.0),
                                   "B": ("CR", 1.0, T("2020-04-30"), 3.0),
                                   "D": ("SD", 3.0, T("2020-01-31"), 1.0),
                                   "F": ("PR", 2.0, d84, 2.0)}
    assert param(adrs, "DEATH")["B"] == ("Y", 1.0, T("2020-07-01"), None)
    assert param(adrs, "DEATH")["A"] == ("N", 0.0, None, None)
    assert param(adrs, "MDIS") == {"A": ("Y", 1.0, None, 3.0), "B": ("N", 0.0, None, None),
                                   "C": ("N", 0.0, None, None), "D": ("N", 0.0, None, None),
                                   "F": ("N", 0.0, None, None)}


def test_best_response_of_cr_pr_parameters():
    """admiralonco BCP / CBCP: Y when BOR / CBOR is CR or PR (A: BOR PR but CBOR SD; F: BOR CR
    but CBOR SD, its CR unconfirmed; B: CR confirmed), the BOR/CBOR record as source."""
    adrs = run().datasets["ADRS"]
    d56, d84 = T("2020-02-26"), T("2020-03-25")
    assert param(adrs, "BCP") == {"A": ("Y", 1.0, d84, 4.0), "B": ("Y", 1.0, d56, 1.0),
                                  "C": ("N", 0.0, None, None), "D": ("N", 0.0, None, None),
                                  "F": ("Y", 1.0, d56, 1.0)}
    assert param(adrs, "CBCP") == {"A": ("N", 0.0, None, None), "B": ("Y", 1.0, d56, 1.0),
                                   "C": ("N", 0.0, None, None), "D": ("N", 0.0, None, None),
                                   "F": ("N", 0.0, None, None)}
    bcp = adrs[adrs["PARAMCD"] == "BCP"]["PARAM"].iloc[0]
    assert bcp == "Best Overall Response of CR/PR by Investigator (confirmation not required)"


def test_lsta_after_progression_is_a_setting():
    """A's PR on d140 follows its PD on d112: LSTA stops at the PD by default; with
    lsta_after_progression (admiralonco) it is the PR."""
    assert param(run().datasets["ADRS"], "LSTA")["A"] == ("PD", 5.0, T("2020-04-22"), 5.0)
    settings = AdamSettings(adrs=AdrsSettings(analyses=[ResponseAnalysis(
        reference_date="RANDDT", lsta_after_progression=True)]))
    adrs = run(settings=settings).datasets["ADRS"]
    assert param(adrs, "LSTA")["A"] == ("PR", 2.0, T("2020-05-20"), 6.0)
    assert param(adrs, "LSTA")["B"] == ("CR", 1.0, T("2020-04-30"), 3.0)   # unchanged


def test_aseq_order_and_identifiers():
    adrs = run().datasets["ADRS"]
    a = adrs[adrs["USUBJID"] == "A"]
    assert a["ASEQ"].tolist() == list(map(float, range(1, len(a) + 1)))
    # BCP and CBCP are admiralonco ad_adrs.R defaults since issue 11 §2
    assert a["PARAMCD"].tolist() == ["BCP", "BOR", "CB", "CBCP", "CBOR", "CCB", "CRSP",
                                     "DEATH", "LSTA", "MDIS"] + ["OVR"] * 6 + ["PD", "RSP"]
    assert adrs["STUDYID"].eq("Z").all()
    assert adrs["USUBJID"].dtype == "string" and adrs["ADT"].dtype == "datetime64[ns]"
    derived = adrs[adrs["PARAMCD"] != "OVR"]
    assert derived["ANL01FL"].eq("Y").all()


def test_computed_responses_when_asked():
    settings = AdamSettings(adrs=AdrsSettings(evaluator="COMPUTED"))
    adrs = run(settings=settings).datasets["ADRS"]
    assert param(adrs, "BOR")["A"] == ("CR", 1.0, T("2020-03-25"), 7.0)
    assert param(adrs, "BOR")["B"][0] == "MISSING"
    assert adrs.loc[adrs["PARAMCD"] == "OVR", "PARAM"].unique().tolist() == \
        ["Overall Response by Algorithm"]


def test_new_anticancer_therapy_cuts_later_assessments():
    rows = [("E", 1, "2020-02-26", "PR", "INVESTIGATOR", None),
            ("E", 2, "2020-03-25", "PR", "INVESTIGATOR", None),
            ("E", 3, "2020-04-22", "PD", "INVESTIGATOR", None)]
    cm = pd.DataFrame({"USUBJID": s(["E", "E"]), "CMSEQ": [1.0, 2.0],
                       "CMCAT": s(["ANTI-CANCER THERAPY"] * 2),
                       "CMSTDTC": s(["2019-11-01", "2020-03-01"])})
    data = build(rows, subjects=("E",), deaths={}, extra={"CM": cm})
    plain = run(data).datasets["ADRS"]
    assert param(plain, "CRSP")["E"][0] == "Y" and param(plain, "PD")["E"][0] == "Y"
    therapy = [DateSource(dataset="CM", date="CMSTDTC",
                          where={"CMCAT": "ANTI-CANCER THERAPY"})]
    cut = run(data, AdamSettings(adrs=AdrsSettings(new_therapy=therapy))).datasets["ADRS"]
    # therapy before randomization (2019-11-01) is prior therapy; the 2020-03-01 start cuts the
    # 2020-03-25 PR and the PD: PR d56 is left alone, unconfirmed → CBOR SD, no PD
    assert param(cut, "CRSP")["E"][0] == "N"
    assert param(cut, "CBOR")["E"][:3] == ("SD", 3.0, T("2020-02-26"))
    assert param(cut, "PD")["E"][0] == "N"
    ovr = cut[cut["PARAMCD"] == "OVR"]
    assert ovr["ANL01FL"].fillna("-").tolist() == ["Y", "-", "-"]


def test_landmarks_status_and_best():
    landmarks = [
        Landmark(paramcd="DCR8W", param="Disease control at week 8", weeks=8),
        Landmark(paramcd="DCR16W", param="Disease control at week 16", weeks=16),
        Landmark(paramcd="RSP8W", param="Response by week 8", weeks=8, rule="best",
                 responses=["CR", "PR"]),
        Landmark(paramcd="CR120D", param="Status at day 120", days=120, responses=["CR"]),
    ]
    settings = AdamSettings(adrs=AdrsSettings(analyses=[ResponseAnalysis(landmarks=landmarks)]))
    adrs = run(settings=settings).datasets["ADRS"]
    # week 8: L = d56, looked at up to d63, last must be from d49
    assert {k: v[0] for k, v in param(adrs, "DCR8W").items()} == \
        {"A": "Y", "B": "Y", "C": "N", "D": "N", "F": "Y"}
    assert param(adrs, "DCR8W")["D"][2] == T("2020-01-31")     # the assessment looked at
    # week 16: L = d112, up to d119, from d105: A's last is PD; B's last (NE d69) is too early
    assert {k: v[0] for k, v in param(adrs, "DCR16W").items()} == \
        {"A": "N", "B": "N", "C": "N", "D": "N", "F": "N"}
    assert {k: v[0] for k, v in param(adrs, "RSP8W").items()} == \
        {"A": "N", "B": "Y", "C": "N", "D": "N", "F": "Y"}
    # day 120: B's CR on 2020-04-30 (d120) is within 113..127 → Y while alive
    assert param(adrs, "CR120D")["B"][0] == "Y"
    dead = run(build(deaths={"B": "2020-04-30"}), settings).datasets["ADRS"]
    assert param(dead, "CR120D")["B"][0] == "N"


def test_rechallenge_analysis_has_its_own_flags_and_parameters():
    rows = [("R", 1, "2020-03-01", "PD", "INVESTIGATOR", None),
            ("R", 2, "2020-05-10", "PR", "INVESTIGATOR", None),
            ("R", 3, "2020-06-10", "PR", "INVESTIGATOR", None),
            ("R", 4, "2020-08-01", "PD", "INVESTIGATOR", None),
            ("N", 1, "2020-03-01", "SD", "INVESTIGATOR", None)]
    ex = pd.DataFrame({"USUBJID": s(["R", "N"]), "EXSEQ": [1.0, 1.0], "EXDOSE": [400.0] * 2,
                       "EXSTDTC": s(["2020-03-15", "2020-01-01"]),
                       "EXENDTC": s([None, "2020-12-31"])})
    data = build(rows, subjects=("N", "R"), deaths={}, extra={"EX": ex})
    settings = AdamSettings(
        adsl=AdslSettings(ex_dates=[ExDateRule(variable="RCHSDT", rule="first_after_gap",
                                               gap_days=28, anchor="RANDDT")]),
        adrs=AdrsSettings(analyses=[
            ResponseAnalysis(),
            ResponseAnalysis(id="rechallenge", reference_date="RCHSDT", paramcd_suffix="R",
                             param_suffix=" after Rechallenge", subjects="with_reference_date",
                             parameters=["PD", "BOR", "CRSP"])]))
    result = run(data, settings)
    adsl = result.datasets["ADSL"].set_index("USUBJID")
    assert adsl.loc["R", "RCHSDT"] == T("2020-03-15") and pd.isna(adsl.loc["N", "RCHSDT"])
    adrs = result.datasets["ADRS"]
    assert param(adrs, "BOR")["R"][:3] == ("PD", 5.0, T("2020-03-01"))
    # only the rechallenged subject; responses from 2020-03-15 up to the PD of 2020-08-01
    assert param(adrs, "BORR") == {"R": ("PR", 2.0, T("2020-05-10"), 2.0)}
    assert param(adrs, "CRSPR") == {"R": ("Y", 1.0, T("2020-05-10"), 2.0)}
    assert param(adrs, "PDR") == {"R": ("Y", 1.0, T("2020-08-01"), 4.0)}
    ovr = adrs[(adrs["PARAMCD"] == "OVR") & (adrs["USUBJID"] == "R")]
    assert ovr["ANL03FL"].fillna("-").tolist() == ["-", "Y", "Y", "Y"]
    assert ovr["ANL04FL"].fillna("-").tolist() == ["-", "Y", "Y", "Y"]
    assert ovr["ANL02FL"].fillna("-").tolist() == ["Y", "-", "-", "-"]
    bor_param = adrs.loc[adrs["PARAMCD"] == "BORR", "PARAM"].iloc[0]
    assert bor_param.endswith("after Rechallenge")
    assert "PARAMCD=BORR" in result.methods["ADRS"]


def test_methods_name_the_settings():
    methods = run().methods["ADRS"]
    assert "42 days" in methods["PARAMCD=CBOR"] and "28 days" in methods["PARAMCD=CBOR"]
    assert methods["PARAMCD=MDIS"].startswith("Y when the baseline TU records")
