"""ADTR: target-lesion sums per assessment, baseline, nadir, changes and the best % change.

Every expected value below is worked out by hand from the frames in this file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdiscmap.adam.adtr import derive_adtr
from cdiscmap.adam.settings import AdamSettings, AdtrSettings, LesionParameter
from cdiscmap.findings import Findings

T = pd.Timestamp


def _adsl() -> pd.DataFrame:
    return pd.DataFrame({"STUDYID": ["ST"], "USUBJID": ["S1"], "SUBJID": ["1"],
                         "SITEID": ["01"], "TRT01P": ["X"], "TRT01A": ["X"],
                         "TRTSDT": [T("2024-01-05")], "TRTEDT": [T("2024-12-31")]}
                        ).astype({c: "string" for c in ("STUDYID", "USUBJID", "SUBJID",
                                                         "SITEID", "TRT01P", "TRT01A")})


def _tu() -> pd.DataFrame:
    frame = pd.DataFrame({"USUBJID": ["S1", "S1"], "TULNKID": ["T01", "T02"],
                          "TUSTRESC": ["TARGET", "TARGET"],
                          "TULOC": ["LIVER", "AXILLARY LYMPH NODE"],
                          "TUEVAL": "INVESTIGATOR", "VISITNUM": [1.0, 1.0],
                          "VISIT": "SCREENING"})
    return frame.astype({c: "string" for c in frame.columns if c != "VISITNUM"})


# visit, date, T01 longest diameter (liver), T02 short axis (node); None = not done
VISITS = [(1, "2024-01-02", 40, 20), (2, "2024-03-01", 30, 12), (3, "2024-05-01", 20, None),
          (4, "2024-07-01", 25, 11), (5, "2024-09-01", 35, 15)]


def _tr() -> pd.DataFrame:
    rows = []
    for visit, dtc, liver, node in VISITS:
        for lnk, test, value in (("T01", "LDIAM", liver), ("T02", "LPERP", node)):
            rows.append({"USUBJID": "S1", "TRLNKID": lnk, "TRTESTCD": test,
                         "TRSTRESN": np.nan if value is None else float(value),
                         "TRSTRESC": None if value is None else str(value),
                         "TRSTAT": "NOT DONE" if value is None else None,
                         "TREVAL": "INVESTIGATOR", "VISITNUM": float(visit),
                         "VISIT": f"VISIT {visit}", "TRDTC": dtc})
    frame = pd.DataFrame(rows)
    return frame.astype({c: "string" for c in frame.columns
                         if c not in ("TRSTRESN", "VISITNUM")})


@pytest.fixture(scope="module")
def adtr() -> pd.DataFrame:
    methods: dict[str, str] = {}
    out = derive_adtr({"TU": _tu(), "TR": _tr()}, _adsl(), AdamSettings(), Findings(), methods)
    assert out is not None
    assert "PARAMCD=SDIAM" in methods
    return out.loc[out["PARAMCD"] == "SDIAM"].set_index("AVISITN")   # lesions: test_adtr_lesions


def _values(frame: pd.DataFrame, name: str) -> list[object]:
    return [None if pd.isna(v) else (round(v, 4) if isinstance(v, float) else v)
            for v in frame[name]]


def test_sums_non_nodal_longest_plus_nodal_short_axis(adtr):
    assert adtr.index.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert _values(adtr, "AVAL") == [60.0, 42.0, 20.0, 36.0, 50.0]
    assert set(adtr["PARAMCD"]) == {"SDIAM"}
    assert _values(adtr, "ANL01FL") == ["Y", "Y", None, "Y", "Y"]   # visit 3: node not done


def test_baseline_change_and_percent_change(adtr):
    assert _values(adtr, "ABLFL") == ["Y", None, None, None, None]
    assert _values(adtr, "BASE") == [60.0] * 5
    assert _values(adtr, "CHG") == [None, -18.0, -40.0, -24.0, -10.0]
    assert _values(adtr, "PCHG") == [None, -30.0, -66.6667, -40.0, -16.6667]


def test_nadir_uses_complete_prior_sums_only(adtr):
    # visit 4: the incomplete 20 at visit 3 is no nadir; the smallest complete prior sum is 42
    assert _values(adtr, "NADIR") == [None, 60.0, 42.0, 42.0, 36.0]
    assert _values(adtr, "CHGNAD") == [None, -18.0, -22.0, -6.0, 14.0]
    assert _values(adtr, "PCHGNAD") == [None, -30.0, -52.381, -14.2857, 38.8889]


def test_best_percent_change_flag_skips_incomplete_sums(adtr):
    # lowest PCHG among complete post-baseline sums: visit 4 (-40); visit 3's -66.7 is partial
    assert _values(adtr, "ANL02FL") == [None, None, None, "Y", None]


def test_dates_and_days_from_reference(adtr):
    assert adtr.loc[1.0, "ADT"] == T("2024-01-02")
    assert _values(adtr, "ADY")[:2] == [-3.0, 57.0]     # 2024-01-05 → 2024-03-01: 56 days
    assert _values(adtr, "ASEQ") == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_reference_date_from_settings_changes_the_best_change_window():
    adsl = _adsl().assign(TRTSDT=T("2024-06-01"))
    out = derive_adtr({"TU": _tu(), "TR": _tr()}, adsl,
                      AdamSettings(adtr=AdtrSettings(reference_date="TRTSDT")), Findings(), {})
    assert out is not None
    # only visits 4 and 5 are after 2024-06-01: visit 4 (-40) still the best
    assert out.loc[out["ANL02FL"] == "Y", "AVISITN"].tolist() == [4.0]
    adsl = _adsl().assign(TRTSDT=T("2024-08-01"))
    out = derive_adtr({"TU": _tu(), "TR": _tr()}, adsl, AdamSettings(), Findings(), {})
    assert out.loc[out["ANL02FL"] == "Y", "AVISITN"].tolist() == [5.0]


def test_without_tu_no_adtr():
    findings = Findings()
    assert derive_adtr({"TR": _tr()}, _adsl(), AdamSettings(), findings, {}) is None
    assert [f.rule for f in findings.items] == ["CMAP-AD0005"]


def test_per_lesion_parameters_beside_the_sum():
    # admiralonco ad_adtr.R LDIAMn / NLDIAMn: T01 (liver) LDIAM → LDIAM1, T02 (node) LPERP →
    # NLDIAM2, one record per assessment, AVAL = TRSTRESN, ANL01FL = Y when measured
    methods: dict[str, str] = {}
    out = derive_adtr({"TU": _tu(), "TR": _tr().assign(TRSEQ=[float(i) for i in range(1, 11)])},
                      _adsl(), AdamSettings(), Findings(), methods)
    assert out is not None
    assert out["PARAMCD"].tolist() == ["SDIAM"] * 5 + ["LDIAM1"] * 5 + ["NLDIAM2"] * 5
    assert out["ASEQ"].tolist() == [float(i) for i in range(1, 16)]
    liver = out.loc[out["PARAMCD"] == "LDIAM1"]
    node = out.loc[out["PARAMCD"] == "NLDIAM2"]
    assert _values(liver, "AVAL") == [40.0, 30.0, 20.0, 25.0, 35.0]
    assert _values(node, "AVAL") == [20.0, 12.0, None, 11.0, 15.0]
    assert _values(node, "ANL01FL") == ["Y", "Y", None, "Y", "Y"]
    assert _values(liver, "AVISITN") == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert _values(liver, "SRCSEQ") == [1.0, 3.0, 5.0, 7.0, 9.0]   # TRSEQ of the TR records
    assert set(node["SRCDOM"]) == {"TR"} and set(node["SRCVAR"]) == {"TRSTRESN"}
    assert liver["PARAM"].iloc[0] == "Target Lesion 1 Analysis Diameter"
    assert node["PARAM"].iloc[0] == "Target Lesion 2 Analysis Perpendicular"
    assert liver["ADT"].tolist()[1] == T("2024-03-01") and _values(liver, "ADY")[1] == 57.0
    # the lesion records carry no baseline/change variables (admiralonco neither)
    assert liver["BASE"].isna().all() and liver["ANL02FL"].isna().all()
    assert methods["PARAMCD=NLDIAM2"].startswith("TR.TRSTRESN of TRTESTCD LPERP for baseline "
                                                 "target lesion 2 ")


def test_lesion_parameters_from_settings():
    only = LesionParameter(testcd="LDIAM", paramcd="TL{n}LD", param="Lesion {n} diameter")
    out = derive_adtr({"TU": _tu(), "TR": _tr()}, _adsl(),
                      AdamSettings(adtr=AdtrSettings(lesion_parameters=[only])), Findings(), {})
    assert sorted(set(out["PARAMCD"])) == ["SDIAM", "TL1LD"]
    out = derive_adtr({"TU": _tu(), "TR": _tr()}, _adsl(),
                      AdamSettings(adtr=AdtrSettings(lesion_parameters=[])), Findings(), {})
    assert set(out["PARAMCD"]) == {"SDIAM"} and "SRCSEQ" not in out.columns
    with pytest.raises(ValueError, match="needs"):
        LesionParameter(testcd="LDIAM", paramcd="LDIAM", param="Lesion {n}")


def test_records_matched_to_adsl_by_subject_across_subjects():
    # ADSL lists S2 before S1; records still come by USUBJID text order with each subject's own
    # ADSL variables. S2's lesion links have no digits: numbered by their rank in the subject
    # (LIVER-A 1, LIVER-B 2). A repeated TU target record counts once; S3 is not in ADSL.
    adsl = pd.concat([_adsl().assign(USUBJID="S2", SUBJID="2", TRT01P="B"), _adsl()],
                     ignore_index=True).astype({"USUBJID": "string", "SUBJID": "string",
                                                "TRT01P": "string"})
    s2 = pd.DataFrame({"USUBJID": "S2", "TULNKID": ["LIVER-B", "LIVER-A", "LIVER-A"],
                       "TUSTRESC": "TARGET", "TULOC": "LIVER", "TUEVAL": "INVESTIGATOR",
                       "VISITNUM": 1.0, "VISIT": "SCREENING"})
    tu = pd.concat([s2, _tu(), _tu().assign(USUBJID="S3")], ignore_index=True)
    tu = tu.astype({c: "string" for c in tu.columns if c != "VISITNUM"})
    rows = [{"USUBJID": "S2", "TRLNKID": lnk, "TRTESTCD": "LDIAM", "TRSTRESN": value,
             "TRSTRESC": str(value), "TREVAL": "INVESTIGATOR", "VISITNUM": visit,
             "VISIT": f"VISIT {visit:g}", "TRDTC": dtc}
            for visit, dtc, a, b in ((1.0, "2024-01-03", 30.0, 10.0),
                                     (2.0, "2024-03-02", 20.0, 6.0))
            for lnk, value in (("LIVER-A", a), ("LIVER-B", b))]
    tr = pd.concat([pd.DataFrame(rows), _tr(), _tr().assign(USUBJID="S3")], ignore_index=True)
    tr = tr.astype({c: "string" for c in tr.columns if c not in ("TRSTRESN", "VISITNUM")})
    out = derive_adtr({"TU": tu, "TR": tr}, adsl, AdamSettings(), Findings(), {})
    assert out is not None
    s1, s2 = out.loc[out["USUBJID"] == "S1"], out.loc[out["USUBJID"] == "S2"]
    assert out["USUBJID"].tolist() == ["S1"] * 15 + ["S2"] * 6
    assert set(s1["SUBJID"]) == {"1"} and set(s2["SUBJID"]) == {"2"}
    assert set(s1["TRT01P"]) == {"X"} and set(s2["TRT01P"]) == {"B"}
    assert s2["PARAMCD"].tolist() == ["SDIAM"] * 2 + ["LDIAM1"] * 2 + ["LDIAM2"] * 2
    assert _values(s2, "AVAL") == [40.0, 26.0, 30.0, 20.0, 10.0, 6.0]
    assert _values(s2, "ASEQ") == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert _values(s2, "PCHG") == [None, -35.0, None, None, None, None]
    assert _values(s2, "ADY") == [-2.0, 58.0, -2.0, 58.0, -2.0, 58.0]   # TRTSDT 2024-01-05
    assert _values(s2, "ANL02FL") == [None, "Y", None, None, None, None]
    assert _values(s1, "AVAL")[:5] == [60.0, 42.0, 20.0, 36.0, 50.0]    # as the S1-only ADTR
