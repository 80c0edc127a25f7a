"""Non-target response and new-lesion progression (RECIST 1.1 §4.3.3-§4.3.5), hand-built TU/TR."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdiscmap.recist import RecistSettings, classify_nontarget, timepoint_responses


def build(visits: dict[int, dict[str, object]], *,
          usubjid: str = "S01") -> tuple[pd.DataFrame, pd.DataFrame]:
    """{visit: {lesion: result}}: T.. = LDIAM mm, NT../NEW.. = TUMSTATE status, "ND" = not done."""
    tu_rows: dict[str, dict[str, object]] = {}
    tr_rows: list[dict[str, object]] = []
    for visit, results in sorted(visits.items()):
        for lesion, result in results.items():
            role = ("NEW" if lesion.startswith("NEW") else
                    "NON-TARGET" if lesion.startswith("NT") else "TARGET")
            tu_rows.setdefault(lesion, {"USUBJID": usubjid, "TULNKID": lesion,
                                        "TUSTRESC": role, "VISITNUM": float(visit)})
            target = role == "TARGET"
            tr_rows.append({
                "USUBJID": usubjid, "TRLNKID": lesion,
                "TRTESTCD": "LDIAM" if target else "TUMSTATE",
                "TRSTRESN": (float(result)  # type: ignore[arg-type]
                             if target and result != "ND" else np.nan),
                "TRSTRESC": None if target or result == "ND" else result,
                "TRSTAT": "NOT DONE" if result == "ND" else None,
                "VISITNUM": float(visit), "VISIT": f"VISIT {visit}",
                "TRDTC": f"2024-{visit:02d}-01"})
    tu = pd.DataFrame(list(tu_rows.values())).astype(
        {"USUBJID": "string", "TULNKID": "string", "TUSTRESC": "string"})
    tr = pd.DataFrame(tr_rows).astype({c: "string" for c in (
        "USUBJID", "TRLNKID", "TRTESTCD", "TRSTRESC", "TRSTAT", "VISIT", "TRDTC")})
    return tu, tr


def visit2(results: dict[str, object], baseline: dict[str, object] | None = None,
           settings: RecistSettings | None = None) -> pd.Series:
    base = baseline if baseline is not None else {
        lesion: (30 if lesion.startswith("T") else "PRESENT")
        for lesion in results if not lesion.startswith("NEW")}
    tu, tr = build({1: base, 2: results})
    out = timepoint_responses(tu, tr, settings or RecistSettings())
    return out[out["VISITNUM"] == 2.0].iloc[0]


# --- non-target response --------------------------------------------------------------------------

@pytest.mark.parametrize(("statuses", "expected"), [
    ({"NT01": "ABSENT", "NT02": "ABSENT"}, "CR"),
    ({"NT01": "ABSENT", "NT02": "PRESENT"}, "NON-CR/NON-PD"),
    ({"NT01": "EQUIVOCAL", "NT02": "ABSENT"}, "NON-CR/NON-PD"),   # equivocal is not progression
    ({"NT01": "UNEQUIVOCAL", "NT02": "ABSENT"}, "PD"),
    ({"NT01": "ND", "NT02": "ABSENT"}, "NE"),
    ({"NT01": "ND", "NT02": "PRESENT"}, "NE"),
    ({"NT01": "ND", "NT02": "UNEQUIVOCAL"}, "PD"),                # PD shows despite a missing one
    ({"NT01": "SOMETHING ELSE", "NT02": "ABSENT"}, "NE"),         # unknown status = not evaluated
])
def test_nontarget_response(statuses: dict[str, object], expected: str) -> None:
    # non-target disease only → table 2: the overall response is the non-target response
    row = visit2(statuses)
    assert row["NTRGRESP"] == expected
    assert row["OVRLRESP"] == expected
    assert pd.isna(row["TRGRESP"]) and row["N_TARGET_EXPECTED"] == 0


def test_nontarget_without_a_record_at_the_visit_is_ne() -> None:
    row = visit2({"NT01": "ABSENT"}, baseline={"NT01": "PRESENT", "NT02": "PRESENT"})
    assert row["NTRGRESP"] == "NE"
    assert row["REASON"] == "NE:non-target NT02 not evaluated"


def test_nontarget_reasons_name_the_lesions() -> None:
    row = visit2({"NT01": "UNEQUIVOCAL", "NT02": "PRESENT", "NT03": "UNEQUIVOCAL"})
    assert row["REASON"] == "PD:non-target NT01,NT03 unequivocal progression"
    assert visit2({"NT01": "ABSENT"})["REASON"] == "CR:non-targets absent"
    assert visit2({"NT01": "PRESENT"})["REASON"] == "NON-CR/NON-PD:non-target present"


def test_status_text_is_case_and_space_blind() -> None:
    assert visit2({"NT01": " absent "})["NTRGRESP"] == "CR"


def test_subject_without_nontargets_has_null_ntrgresp() -> None:
    row = visit2({"T01": 20})
    assert pd.isna(row["NTRGRESP"])
    assert row["TRGRESP"] == "PR"              # 30 → 20: -33.3 %


def test_classify_nontarget_vectorised() -> None:
    got = classify_nontarget(
        any_unequivocal=np.array([True, False, False, False, True]),
        any_not_evaluated=np.array([True, True, False, False, False]),
        all_absent=np.array([False, False, True, False, False]),
        has_nontarget=np.array([True, True, True, True, False]))
    assert list(got) == ["PD", "NE", "CR", "NON-CR/NON-PD", None]


# --- new lesions ----------------------------------------------------------------------------------

def test_unequivocal_new_lesion_alone_gives_pd() -> None:
    # targets 30 → 28 (-6.7 %, SD), non-target present, new lesion unequivocal → PD by new only
    row = visit2({"T01": 28, "NT01": "PRESENT", "NEW01": "UNEQUIVOCAL"})
    assert (row["TRGRESP"], row["NTRGRESP"], row["NEWLPROG"]) == ("SD", "NON-CR/NON-PD", "Y")
    assert row["OVRLRESP"] == "PD"
    assert row["REASON"] == "PD:new lesion NEW01"


def test_present_new_lesion_counts_like_unequivocal() -> None:
    row = visit2({"T01": 28, "NEW01": "PRESENT", "NEW02": "UNEQUIVOCAL"})
    assert row["NEWLPROG"] == "Y" and row["REASON"] == "PD:new lesion NEW01,NEW02"


def test_equivocal_new_lesion_is_not_pd_by_default() -> None:
    row = visit2({"T01": 28, "NEW01": "EQUIVOCAL"})
    assert row["NEWLPROG"] == "N" and row["OVRLRESP"] == "SD"
    assert row["REASON"] == ("SD:sum-6.7% from baseline/-6.7% from nadir;"
                             "equivocal new lesion not counted")


def test_equivocal_new_lesion_is_pd_when_the_study_says_so() -> None:
    row = visit2({"T01": 28, "NEW01": "EQUIVOCAL"},
                 settings=RecistSettings(equivocal_new_lesion_is_pd=True))
    assert row["NEWLPROG"] == "Y" and row["OVRLRESP"] == "PD"
    assert row["REASON"] == "PD:new lesion NEW01"


@pytest.mark.parametrize("status", ["ABSENT", "ND"])
def test_absent_or_not_done_new_lesion_is_no_progression(status: str) -> None:
    row = visit2({"T01": 28, "NEW01": status})
    assert row["NEWLPROG"] == "N" and row["OVRLRESP"] == "SD"


def test_pd_by_nontarget_only_with_shrinking_targets() -> None:
    # targets 30 → 15 (-50 %, PR) but a non-target progresses unequivocally → PD
    row = visit2({"T01": 15, "NT01": "UNEQUIVOCAL"})
    assert (row["TRGRESP"], row["NTRGRESP"], row["NEWLPROG"]) == ("PR", "PD", "N")
    assert row["OVRLRESP"] == "PD"
    assert row["REASON"] == "PD:non-target NT01 unequivocal progression"


def test_every_pd_cause_is_listed() -> None:
    # 30 → 40: +33.3 %/+10 mm; non-target unequivocal; new lesion: three causes
    row = visit2({"T01": 40, "NT01": "UNEQUIVOCAL", "NEW01": "UNEQUIVOCAL"})
    assert row["REASON"] == ("PD:sum+33.3%/+10mm from nadir;"
                             "non-target NT01 unequivocal progression;new lesion NEW01")


def test_newlprog_is_null_at_baseline_and_n_when_no_new_lesion() -> None:
    tu, tr = build({1: {"T01": 30}, 2: {"T01": 29}})
    out = timepoint_responses(tu, tr)
    assert pd.isna(out["NEWLPROG"].iloc[0]) and out["NEWLPROG"].iloc[1] == "N"
