"""ADQS: EORTC QLQ-C30 scale scores (linear transformation, half-items rule), baseline, change.

Every expected value below is worked out by hand from the frames in this file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdiscmap.adam.adqs import derive_adqs
from cdiscmap.adam.settings import AdamSettings, AdqsSettings
from cdiscmap.findings import Findings

T = pd.Timestamp


def _adsl() -> pd.DataFrame:
    return pd.DataFrame({"STUDYID": ["ST"], "USUBJID": ["S1"], "SUBJID": ["1"],
                         "SITEID": ["01"], "TRT01P": ["X"], "TRT01A": ["X"],
                         "RANDDT": [T("2024-01-10")], "TRTSDT": [T("2024-01-11")]}
                        ).astype({c: "string" for c in ("STUDYID", "USUBJID", "SUBJID",
                                                         "SITEID", "TRT01P", "TRT01A")})


def _qs(answers: dict[tuple[int, str], dict[int, float | None]]) -> pd.DataFrame:
    """{(VISITNUM, QSDTC): {item number: QSSTRESN}} → QS records (None = not answered)."""
    rows = []
    for (visit, dtc), items in answers.items():
        for item, value in items.items():
            if value is None:
                continue
            rows.append({"USUBJID": "S1", "QSTESTCD": f"EOR01{item:02d}",
                         "QSCAT": "EORTC QLQ-C30 V3.0", "QSSTRESN": float(value),
                         "VISITNUM": float(visit), "VISIT": f"V{visit}", "QSDTC": dtc})
    frame = pd.DataFrame(rows)
    return frame.astype({c: "string" for c in ("USUBJID", "QSTESTCD", "QSCAT", "VISIT",
                                                "QSDTC")})


ANSWERS = {
    (0, "2024-01-08"): {1: 1, 2: 2, 3: 1, 4: 2, 5: 1,        # PF: RS 1.4 → 86.667
                        29: 5, 30: 6,                         # QL: RS 5.5 → 75
                        10: 2, 12: 3, 18: 4,                  # FA: RS 3 → 66.667
                        8: 4,                                 # DY: RS 4 → 100
                        6: 2},                                # RF: 1 of 2 items → RS 2 → 66.667
    (12, "2024-04-05"): {1: 2, 2: 2, 3: 2, 4: None, 5: None,  # PF: 3 of 5 answered → RS 2
                         29: 7, 30: 7,                        # QL: 100
                         10: 1, 12: None, 18: None,           # FA: 1 of 3 → not scored
                         8: 1},                               # DY: 0
}


def _derive(answers=ANSWERS, **kw) -> tuple[pd.DataFrame, Findings]:
    findings = Findings()
    settings = AdamSettings(adqs=AdqsSettings(reference_date="RANDDT", **kw))
    out = derive_adqs({"QS": _qs(answers)}, _adsl(), settings, findings, {})
    assert out is not None
    return out, findings


def _aval(out: pd.DataFrame) -> dict[tuple[str, float], float]:
    return {(p, v): round(a, 3) for p, v, a in zip(out["PARAMCD"], out["AVISITN"], out["AVAL"],
                                                   strict=True)}


def test_scale_scores_linear_transformation_and_half_items_rule():
    out, _ = _derive()
    assert _aval(out) == {
        ("EOR0131", 0.0): 75.0, ("EOR0131", 12.0): 100.0,       # global: (RS-1)/6 x 100
        ("EOR0132", 0.0): 86.667, ("EOR0132", 12.0): 66.667,    # functional: 1-(RS-1)/3
        ("EOR0133", 0.0): 66.667,                               # 1 of 2 items: half is enough
        ("EOR0137", 0.0): 66.667,                               # symptom: (RS-1)/3 x 100
        ("EOR0140", 0.0): 100.0, ("EOR0140", 12.0): 0.0,
    }                                                           # FA at 12: 1 of 3 → no score


def test_stricter_share_drops_partly_answered_scales():
    out, _ = _derive(min_answered=1.0)
    assert ("EOR0132", 12.0) not in _aval(out) and ("EOR0133", 0.0) not in _aval(out)


def test_baseline_and_change():
    out, _ = _derive()
    pf = out[out["PARAMCD"] == "EOR0132"].set_index("AVISITN")
    assert pf.loc[0.0, "ABLFL"] == "Y" and pd.isna(pf.loc[12.0, "ABLFL"])
    assert pf["BASE"].round(3).tolist() == [86.667, 86.667]
    assert np.isnan(pf.loc[0.0, "CHG"]) and pf.loc[12.0, "CHG"] == pytest.approx(-20.0)
    assert pf["ADY"].tolist() == [-2.0, 87.0]            # 2024-01-10 → 2024-04-05: 86 days
    assert set(out["PARCAT2"]) == {"Global Health Status", "Functional Scales",
                                   "Symptom Scales"}


def test_answer_out_of_range_is_reported_and_not_used():
    answers = {(0, "2024-01-08"): {8: 9, 13: 2}}
    out, findings = _derive(answers)
    assert _aval(out) == {("EOR0142", 0.0): 33.333}
    assert [f.rule for f in findings.items if f.rule == "CMAP-AD0033"] == ["CMAP-AD0033"]


def test_without_qs_no_adqs():
    findings = Findings()
    assert derive_adqs({}, _adsl(), AdamSettings(), findings, {}) is None
    assert [f.rule for f in findings.items] == ["CMAP-AD0005"]
