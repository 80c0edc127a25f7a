"""ADAE (OCCDS): date imputation, TRTEMFL window edges, grades, causality, occurrence flags.

Every expected value below is worked out by hand from the frames in this file.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.adam.adae import _first_flag, _first_flag_sorted, _group_codes, derive_adae
from cdiscmap.adam.settings import AdaeSettings, AdamSettings
from cdiscmap.findings import Findings

T = pd.Timestamp


def _adsl() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["ST", "ST"], "USUBJID": ["S1", "S2"], "SUBJID": ["1", "2"],
        "SITEID": ["01", "01"], "TRT01P": ["DRUG B", "DRUG A"],
        "TRT01A": ["DRUG B", "DRUG A"],
        "TRTSDT": [T("2020-03-10"), pd.NaT], "TRTEDT": [T("2020-06-30"), pd.NaT],
        "DTHDT": [pd.NaT, pd.NaT], "EOSDT": [T("2020-09-15"), pd.NaT],
        "SAFFL": ["Y", "N"],
    }).astype({c: "string" for c in ("STUDYID", "USUBJID", "SUBJID", "SITEID", "TRT01P",
                                      "TRT01A", "SAFFL")})


# (USUBJID, AESEQ, AESTDTC, AEENDTC, AEBODSYS, AEDECOD, AETOXGR, AEREL)
ROWS = [
    ("S1", 1, "2020-03-09", "2020-03-12", "SOC A", "PT A1", "4", "RELATED"),   # day before
    ("S1", 2, "2020-03-10", "2020-09", "SOC A", "PT A1", "2", "RELATED"),      # first day
    ("S1", 3, "2020-07-30", "2020-08", "SOC A", "PT A2", "3", "NOT RELATED"),  # TRTEDT + 30
    ("S1", 4, "2020-07-31", None, "SOC A", "PT A2", "1", "RELATED"),           # TRTEDT + 31
    ("S1", 5, "2020-03", None, "SOC A", "PT A1", "3", "possibly related"),     # month of TRTSDT
    ("S1", 6, "2020-02", "2020-02-20", "SOC B", "PT B1", "1", None),           # month before
    ("S1", 7, "2020", None, "SOC B", "PT B1", "GRADE 3", None),                # year only
    ("S1", 8, None, "2020-03-01", "SOC B", "PT B1", "1", None),                # ended before
    ("S1", 9, None, None, "SOC B", "PT B1", "1", None),                        # no dates
    ("S2", 1, "2020-05-05", None, "SOC A", "PT A1", "7", "RELATED"),           # undosed
]


def _ae() -> pd.DataFrame:
    frame = pd.DataFrame(ROWS, columns=["USUBJID", "AESEQ", "AESTDTC", "AEENDTC", "AEBODSYS",
                                        "AEDECOD", "AETOXGR", "AEREL"])
    frame["STUDYID"] = "ST"
    frame["AETERM"] = frame["AEDECOD"]
    frame["AESOC"] = frame["AEBODSYS"]
    frame["AESER"] = "N"
    frame["AESEQ"] = frame["AESEQ"].astype("float64")
    return frame.astype({c: "string" for c in frame.columns if c != "AESEQ"})


def _derive(**kw) -> tuple[pd.DataFrame, Findings, dict[str, str]]:
    settings = AdamSettings(adae=AdaeSettings(**kw))
    findings: Findings = Findings()
    methods: dict[str, str] = {}
    out = derive_adae({"AE": _ae()}, _adsl(), settings, findings, methods)
    assert out is not None
    return out.set_index(["USUBJID", "AESEQ"]), findings, methods


def _col(frame: pd.DataFrame, name: str, subject: str = "S1") -> dict[int, object]:
    values = frame.loc[subject, name]
    return {int(k): (None if pd.isna(v) else v) for k, v in values.items()}


def test_start_dates_imputed_and_kept_on_or_after_first_dose():
    out, _, _ = _derive()
    assert _col(out, "ASTDT") == {
        1: T("2020-03-09"), 2: T("2020-03-10"), 3: T("2020-07-30"), 4: T("2020-07-31"),
        5: T("2020-03-10"),   # 2020-03-01 moved to TRTSDT: March 2020 contains it
        6: T("2020-02-01"),   # February does not contain TRTSDT: first day stays
        7: T("2020-03-10"),   # 2020-01-01 moved to TRTSDT: the year contains it
        8: None, 9: None}
    assert _col(out, "ASTDTF") == {1: None, 2: None, 3: None, 4: None, 5: "D", 6: "D", 7: "M",
                                   8: None, 9: None}
    assert _col(out, "ASTDY") == {1: -1.0, 2: 1.0, 3: 143.0, 4: 144.0, 5: 1.0, 6: -38.0,
                                  7: 1.0, 8: None, 9: None}


def test_start_dates_without_the_trtsdt_rule():
    out, _, _ = _derive(start_not_before_trtsdt=False)
    assert _col(out, "ASTDT")[5] == T("2020-03-01")
    assert _col(out, "ASTDT")[7] == T("2020-01-01")


def test_end_dates_imputed_to_last_day_but_not_after_end_of_study():
    out, _, _ = _derive()
    aendt = _col(out, "AENDT")
    assert aendt[2] == T("2020-09-15")    # 2020-09-30 capped at EOSDT, inside September
    assert aendt[3] == T("2020-08-31")    # August does not contain EOSDT: last day
    assert aendt[1] == T("2020-03-12")
    assert _col(out, "AENDTF")[2] == "D" and _col(out, "AENDTF")[3] == "D"
    assert _col(out, "AENDTF")[1] is None
    assert _col(out, "AENDY")[2] == 190.0  # 2020-03-10 → 2020-09-15 is 189 days


def test_treatment_emergent_window_edges():
    out, _, methods = _derive()
    assert _col(out, "TRTEMFL") == {1: None, 2: "Y", 3: "Y", 4: None, 5: "Y", 6: None,
                                    7: "Y", 8: None, 9: "Y"}
    assert _col(out, "TRTEMFL", "S2") == {1: None}         # never dosed
    assert "TRTEDT + 30 days" in methods["TRTEMFL"]


def test_treatment_emergent_window_from_settings():
    out, _, _ = _derive(trtemfl_window_days=0)
    flags = _col(out, "TRTEMFL")
    assert flags[3] is None and flags[2] == "Y"
    out, _, _ = _derive(trtemfl_window_days=31)
    assert _col(out, "TRTEMFL")[4] == "Y"


def test_grades_causality_and_treatment():
    out, findings, methods = _derive()
    assert _col(out, "ATOXGRN") == {1: 4.0, 2: 2.0, 3: 3.0, 4: 1.0, 5: 3.0, 6: 1.0, 7: 3.0,
                                    8: 1.0, 9: 1.0}
    assert _col(out, "ATOXGR")[7] == "3"
    assert _col(out, "ATOXGR", "S2") == {1: None}          # "7" is no CTCAE grade
    assert [f.rule for f in findings.items if f.rule == "CMAP-AD0030"] == ["CMAP-AD0030"]
    assert _col(out, "RELGR1") == {1: "RELATED", 2: "RELATED", 3: "NOT RELATED", 4: "RELATED",
                                   5: "RELATED", 6: None, 7: None, 8: None, 9: None}
    assert _col(out, "AREL")[5] == "possibly related"
    assert set(out["TRTA"]) == {"DRUG B", "DRUG A"}
    assert _col(out, "TRTAN")[1] == 2.0 and _col(out, "TRTAN", "S2")[1] == 1.0
    assert "CTCAE v5.0" in methods["ATOXGR"]
    assert methods["AEDECOD"] == "AE.AEDECOD"


def test_treatment_numbers_from_settings():
    out, _, _ = _derive(treatment_numbers={"DRUG B": 1})
    assert _col(out, "TRTAN")[1] == 1.0 and _col(out, "TRTAN", "S2")[1] == 2.0


def test_related_terms_from_settings():
    out, _, _ = _derive(related_terms=["related"])
    assert _col(out, "RELGR1")[5] == "NOT RELATED"


def test_first_occurrence_flags_with_ties():
    out, _, _ = _derive()
    # treatment-emergent: 2 (A/A1 g2 03-10), 3 (A/A2 g3 07-30), 5 (A/A1 g3 03-10),
    # 7 (B/B1 g3 03-10), 9 (B/B1 g1 no start date: sorts last)
    y = {name: sorted(k for k, v in _col(out, name).items() if v == "Y")
         for name in ("AOCCFL", "AOCCSFL", "AOCCPFL", "AOCCIFL", "AOCCSIFL", "AOCCPIFL")}
    assert y == {
        "AOCCFL": [2],                # 2, 5, 7 share 2020-03-10: lowest AESEQ
        "AOCCSFL": [2, 7],            # SOC A: 2; SOC B: 7 before the undated 9
        "AOCCPFL": [2, 3, 7],         # A/A1: 2; A/A2: 3; B/B1: 7
        "AOCCIFL": [5],               # grade 3 on 3, 5, 7; earliest 5 and 7 → AESEQ 5
        "AOCCSIFL": [5, 7],           # SOC A grade 3: 5 (before 3); SOC B: 7 (grade 3 > 1)
        "AOCCPIFL": [3, 5, 7],        # A/A1: 5 (grade 3 beats 2); A/A2: 3; B/B1: 7
    }
    # AESEQ 1 is grade 4 but not treatment-emergent: no flag at all
    assert all(_col(out, name)[1] is None for name in y)
    assert all(_col(out, name, "S2")[1] is None for name in y)


def test_no_ae_dataset_gives_no_adae():
    findings = Findings()
    assert derive_adae({}, _adsl(), AdamSettings(), findings, {}) is None
    assert [f.rule for f in findings.items] == ["CMAP-AD0005"]


def test_settings_reject_unknown_adsl_date():
    with pytest.raises(ValueError):
        AdaeSettings(end_not_after=["not a name"])
    problems = AdamSettings(adae=AdaeSettings(end_not_after=["XYZDT"])).cross_check()
    assert [p[:2] for p in problems] == [("adae", "end_not_after.0")]


def test_action_outcome_and_death_copied_from_ae():
    # "AEs leading to discontinuation" are read from AEACN = DRUG WITHDRAWN (SDTM CT ACN).
    ae = _ae()
    ae["AEACN"] = pd.Series(["DOSE NOT CHANGED", "DRUG WITHDRAWN", "DRUG INTERRUPTED", None,
                             "DOSE NOT CHANGED", "NOT APPLICABLE", "DRUG WITHDRAWN", None, None,
                             "DRUG WITHDRAWN"], dtype="string")
    ae["AEOUT"] = pd.Series(["RECOVERED/RESOLVED", "FATAL", *[None] * 8], dtype="string")
    ae["AESDTH"] = pd.Series(["N", "Y", *[None] * 8], dtype="string")
    findings = Findings()
    out = derive_adae({"AE": ae}, _adsl(), AdamSettings(), findings, {})
    assert out is not None
    assert not [f for f in findings.items if f.rule == "CMAP-AD0005"]
    out = out.set_index(["USUBJID", "AESEQ"])
    withdrawn = out.loc[out["AEACN"] == "DRUG WITHDRAWN"].index.tolist()
    assert withdrawn == [("S1", 2.0), ("S1", 7.0), ("S2", 1.0)]
    assert _col(out, "AEOUT")[2] == "FATAL" and _col(out, "AESDTH")[2] == "Y"
    assert _col(out, "AESDTH")[1] == "N" and _col(out, "AEACN")[4] is None
    # treatment-emergent AEs leading to discontinuation: S1 AESEQ 2 and 7 (S2 is undosed)
    teae = out.loc[(out["AEACN"] == "DRUG WITHDRAWN") & (out["TRTEMFL"] == "Y")]
    assert teae.index.tolist() == [("S1", 2.0), ("S1", 7.0)]


def test_missing_action_column_is_a_notice():
    findings = Findings()
    derive_adae({"AE": _ae()}, _adsl(), AdamSettings(), findings, {})
    notes = [f.message for f in findings.items if f.rule == "CMAP-AD0005"]
    assert notes == ["AE has no AEACN, AEOUT, AESDTH; ADAE leaves them empty"]


def test_first_flag_by_date_then_seq_per_group_missing_last():
    T = pd.Timestamp
    frame = pd.DataFrame({
        "USUBJID": pd.array(["A", "A", "A", "A", "B", None, None], dtype="string"),
        "AEBODSYS": pd.array(["X", "X", "Y", None, "X", "X", "X"], dtype="string"),
        "_ST": pd.Series([T("2020-01-02"), T("2020-01-01"), pd.NaT, T("2020-01-01"),
                          pd.NaT, T("2020-03-01"), T("2020-02-01")]),
        "AESEQ": [1.0, 3.0, 2.0, 2.0, 1.0, 1.0, 2.0]})
    eligible = pd.Series([True, True, True, True, True, True, False])
    # A: 2020-01-01 twice, AESEQ 2 first; B: its only record (no date); the missing USUBJID
    # is one group whose eligible record is row 5 (row 6 is not eligible)
    by_subject = _first_flag(frame, eligible, ["_ST", "AESEQ"], [True, True], [])
    assert by_subject.fillna("").tolist() == ["", "", "", "Y", "Y", "Y", ""]
    # per AEBODSYS: A/X → row 1, A/Y → row 2 (NaT, alone), A/missing → row 3
    by_soc = _first_flag(frame, eligible, ["_ST", "AESEQ"], [True, True], ["AEBODSYS"])
    assert by_soc.fillna("").tolist() == ["", "Y", "Y", "Y", "Y", "Y", ""]
    # the groups' codes made once for all records serve another eligibility: only rows 0, 2
    # and 6 → A/X row 0, A/Y row 2, missing/X row 6
    codes = _group_codes(frame, ["AEBODSYS"])
    other = pd.Series([True, False, True, False, False, False, True])
    assert _first_flag(frame, other, ["_ST", "AESEQ"], [True, True], ["AEBODSYS"], codes) \
        .fillna("").tolist() == ["Y", "", "Y", "", "", "", "Y"]
    for groups in ([], ["AEBODSYS"]):   # the frame-sorting path agrees
        assert _first_flag_sorted(frame, eligible, ["_ST", "AESEQ"], [True, True],
                                  groups).equals(
            _first_flag(frame, eligible, ["_ST", "AESEQ"], [True, True], groups))


def test_records_of_subjects_not_in_adsl_left_out_and_ae_untouched():
    ae = _ae()
    extra = ae.iloc[[0]].assign(USUBJID=pd.array(["S9"], dtype="string"))
    ae = pd.concat([ae, extra], ignore_index=True)       # S9 is in AE only
    before = ae.copy()
    out = derive_adae({"AE": ae}, _adsl(), AdamSettings(), Findings(), {})
    assert len(out) == 10 and "S9" not in set(out["USUBJID"])
    pd.testing.assert_frame_equal(ae, before)              # the SDTM frame is only read
    every = derive_adae({"AE": _ae()}, _adsl(), AdamSettings(), Findings(), {})
    pd.testing.assert_frame_equal(out, every)               # same records as without S9
