"""Target-lesion rules of the RECIST 1.1 engine (§4.3.1, §4.3.2, §4.4.2), on hand-built TU/TR.

Every expected number below is worked out by hand in the comment next to it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cdiscmap.recist import RecistSettings, classify_target, timepoint_responses

# --- a tiny TU/TR builder: {visit: {lesion id: result}} -------------------------------------------
# Lesion ids: T.. target (LDIAM, or LPERP when listed in ``nodes``), NT.. non-target, NEW.. new.
# Results: a number (mm), "ND" (TRSTAT NOT DONE), "TSTM" (too small, TRSTRESN 5 as collected),
# "TSTM-" (too small, no number), or a TUMSTATE status (PRESENT, ABSENT, ...).


def build(visits: dict[int, dict[str, object]], *, usubjid: str = "S01",
          nodes: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    tu_rows: dict[str, dict[str, object]] = {}
    tr_rows: list[dict[str, object]] = []
    for visit, results in sorted(visits.items()):
        for lesion, result in results.items():
            role = ("NEW" if lesion.startswith("NEW") else
                    "NON-TARGET" if lesion.startswith("NT") else "TARGET")
            tu_rows.setdefault(lesion, {"USUBJID": usubjid, "TULNKID": lesion,
                                        "TUTESTCD": "TUMIDENT", "TUSTRESC": role,
                                        "TUEVAL": "INVESTIGATOR", "VISITNUM": float(visit)})
            row: dict[str, object] = {
                "USUBJID": usubjid, "TRLNKID": lesion, "TRTESTCD": "TUMSTATE", "TRORRES": None,
                "TRSTRESC": None, "TRSTRESN": np.nan, "TRSTAT": None, "TREVAL": "INVESTIGATOR",
                "VISITNUM": float(visit), "VISIT": f"VISIT {visit}",
                "TRDTC": f"2024-{visit:02d}-15"}
            if role == "TARGET":
                row["TRTESTCD"] = "LPERP" if lesion.split(".")[0] in nodes else "LDIAM"
                if result == "ND":
                    row["TRSTAT"] = "NOT DONE"
                elif result in ("TSTM", "TSTM-"):
                    row["TRORRES"] = "TOO SMALL TO MEASURE"
                    row["TRSTRESN"] = 5.0 if result == "TSTM" else np.nan
                else:
                    row["TRSTRESN"] = float(result)  # type: ignore[arg-type]
                    row["TRORRES"] = row["TRSTRESC"] = str(result)
            elif result == "ND":
                row["TRSTAT"] = "NOT DONE"
            else:
                row["TRSTRESC"] = row["TRORRES"] = result
            tr_rows.append(row)
    tu = pd.DataFrame(list(tu_rows.values())).astype({c: "string" for c in (
        "USUBJID", "TULNKID", "TUTESTCD", "TUSTRESC", "TUEVAL")})
    tr = pd.DataFrame(tr_rows).astype({c: "string" for c in (
        "USUBJID", "TRLNKID", "TRTESTCD", "TRORRES", "TRSTRESC", "TRSTAT", "TREVAL", "VISIT",
        "TRDTC")})
    return tu, tr


def at(result: pd.DataFrame, visit: float, usubjid: str = "S01") -> pd.Series:
    rows = result[(result["USUBJID"] == usubjid) & (result["VISITNUM"] == visit)]
    assert len(rows) == 1
    return rows.iloc[0]


def run(visits: dict[int, dict[str, object]], settings: RecistSettings | None = None,
        **kwargs: object) -> pd.DataFrame:
    tu, tr = build(visits, **kwargs)  # type: ignore[arg-type]
    return timepoint_responses(tu, tr, settings or RecistSettings())


# --- PR / SD boundaries ---------------------------------------------------------------------------

def test_exactly_minus_30_percent_is_pr() -> None:
    # baseline 30 + 20 = 50; visit 2: 20 + 15 = 35 → (35 - 50) / 50 = -30.0 % → PR
    out = run({1: {"T01": 30, "T02": 20}, 2: {"T01": 20, "T02": 15}})
    row = at(out, 2)
    assert row["SUMDIAM"] == 35.0 and row["BASE_SUM"] == 50.0
    assert row["PCHG_BASE"] == pytest.approx(-30.0)
    assert row["TRGRESP"] == "PR" and row["OVRLRESP"] == "PR"
    assert row["REASON"] == "PR:sum-30.0% from baseline"


def test_just_short_of_minus_30_percent_is_sd() -> None:
    # 50 → 35.1: -29.8 % from baseline, nadir 50 so -29.8 % from nadir too → SD
    out = run({1: {"T01": 30, "T02": 20}, 2: {"T01": 20, "T02": 15.1}})
    row = at(out, 2)
    assert row["TRGRESP"] == "SD"
    assert row["REASON"] == "SD:sum-29.8% from baseline/-29.8% from nadir"


def test_exactly_plus_20_percent_but_under_5_mm_is_not_pd() -> None:
    # nadir = baseline 20; visit 2: 24 → +20.0 % but only +4 mm → SD
    out = run({1: {"T01": 20}, 2: {"T01": 24}})
    row = at(out, 2)
    assert row["PCHG_NADIR"] == pytest.approx(20.0) and row["ACHG_NADIR"] == 4.0
    assert row["TRGRESP"] == "SD"


def test_exactly_plus_20_percent_and_exactly_5_mm_is_pd() -> None:
    # nadir 25 → 30: +20.0 % and +5 mm → PD (both thresholds are inclusive)
    out = run({1: {"T01": 25}, 2: {"T01": 30}})
    row = at(out, 2)
    assert row["TRGRESP"] == "PD" and row["OVRLRESP"] == "PD"
    assert row["REASON"] == "PD:sum+20.0%/+5mm from nadir"


def test_plus_19_8_percent_with_10_mm_is_not_pd() -> None:
    # nadir 50 → 59.9: +19.8 %, +9.9 mm → the % rule fails → SD
    out = run({1: {"T01": 50}, 2: {"T01": 59.9}})
    assert at(out, 2)["TRGRESP"] == "SD"


def test_settings_move_the_thresholds() -> None:
    # with PR at -20 %: 50 → 40 (-20 %) is PR; with PD at +10 %/2 mm: 50 → 55 (+10 %, +5) is PD
    loose = RecistSettings(pr_change=-20.0, pd_change=10.0, pd_absolute_mm=2.0)
    out = run({1: {"T01": 50}, 2: {"T01": 40}, 3: {"T01": 44.1}}, loose)
    assert at(out, 2)["TRGRESP"] == "PR"
    # visit 3: nadir 40, 44.1 → +10.25 %, +4.1 mm → PD under the loose settings
    assert at(out, 3)["TRGRESP"] == "PD"
    assert at(run({1: {"T01": 50}, 2: {"T01": 40}, 3: {"T01": 44.1}}), 3)["TRGRESP"] == "SD"


# --- nadir ----------------------------------------------------------------------------------------

def test_pd_is_measured_from_the_nadir_not_the_baseline() -> None:
    # baseline 100; visit 2: 60 (-40 % → PR); visit 3: 72 → -28 % from baseline (not PR) but
    # +12 mm, +20 % from the nadir 60 → PD
    out = run({1: {"T01": 60, "T02": 40}, 2: {"T01": 36, "T02": 24},
               3: {"T01": 40, "T02": 32}})
    assert at(out, 2)["TRGRESP"] == "PR"
    row = at(out, 3)
    assert row["NADIR"] == 60.0 and row["BASE_SUM"] == 100.0
    assert row["PCHG_BASE"] == pytest.approx(-28.0)
    assert row["PCHG_NADIR"] == pytest.approx(20.0) and row["ACHG_NADIR"] == 12.0
    assert row["TRGRESP"] == "PD"
    assert row["REASON"] == "PD:sum+20.0%/+12mm from nadir"


def test_nadir_includes_baseline_and_is_the_smallest_prior_sum() -> None:
    # sums: 50 (baseline), 55, 45, 52 → nadir at visit 2 = 50, visit 3 = 50, visit 4 = 45
    out = run({1: {"T01": 50}, 2: {"T01": 55}, 3: {"T01": 45}, 4: {"T01": 52}})
    assert list(out["NADIR"].iloc[1:]) == [50.0, 50.0, 45.0]
    assert math.isnan(out["NADIR"].iloc[0])          # no prior sum at baseline
    # visit 4: 52 vs 45 → +15.6 %, +7 mm → SD
    assert at(out, 4)["TRGRESP"] == "SD"


def test_a_partial_sum_never_becomes_the_nadir() -> None:
    # baseline 30 + 20 = 50; visit 2: T02 not done → partial 10, NE; visit 3: 12 + 8 = 20.
    # With the partial 10 as nadir visit 3 would be +100 %/+10 mm = PD; the nadir must stay 50.
    out = run({1: {"T01": 30, "T02": 20}, 2: {"T01": 10, "T02": "ND"},
               3: {"T01": 12, "T02": 8}})
    assert at(out, 2)["TRGRESP"] == "NE"
    row = at(out, 3)
    assert row["NADIR"] == 50.0
    assert row["TRGRESP"] == "PR"                      # -60 % from baseline


# --- lymph nodes, too small, split and merged -----------------------------------------------------

def test_node_shrinking_to_9_mm_with_other_targets_gone_is_cr() -> None:
    # T01 30 (non-nodal) + node T02 20 short axis = 50; visit 2: T01 0, node 9 → CR, sum 9
    out = run({1: {"T01": 30, "T02": 20}, 2: {"T01": 0, "T02": 9}}, nodes=("T02",))
    row = at(out, 2)
    assert row["SUMDIAM"] == 9.0
    assert row["TRGRESP"] == "CR" and row["OVRLRESP"] == "CR"
    assert row["REASON"] == "CR:targets gone/nodes<10mm"


def test_node_at_10_mm_is_not_normal() -> None:
    # node 10 mm is not < 10 → no CR; sum 10 vs 50 → -80 % → PR; nadir of visit 3 is 9:
    # +1 mm only → not PD
    out = run({1: {"T01": 30, "T02": 20}, 2: {"T01": 0, "T02": 9}, 3: {"T01": 0, "T02": 10}},
              nodes=("T02",))
    row = at(out, 3)
    assert row["TRGRESP"] == "PR" and row["PCHG_BASE"] == pytest.approx(-80.0)
    assert row["NADIR"] == 9.0


def test_too_small_to_measure_counts_5_mm_and_is_not_cr() -> None:
    # T01 30 → "too small", TRSTRESN 5: sum 5, -83.3 % → PR (a non-nodal 5 mm is not gone)
    out = run({1: {"T01": 30}, 2: {"T01": "TSTM"}})
    row = at(out, 2)
    assert row["SUMDIAM"] == 5.0 and row["TRGRESP"] == "PR"
    assert row["REASON"] == "PR:sum-83.3% from baseline"


def test_too_small_without_a_number_takes_the_default() -> None:
    out = run({1: {"T01": 30}, 2: {"T01": "TSTM-"}})
    assert at(out, 2)["SUMDIAM"] == 5.0
    out = run({1: {"T01": 30}, 2: {"T01": "TSTM-"}}, RecistSettings(too_small_default_mm=3.0))
    assert at(out, 2)["SUMDIAM"] == 3.0
    assert at(out, 2)["N_TARGET_MEASURED"] == 1


def test_split_lesion_fragments_are_summed_into_their_parent() -> None:
    # T01 30 + T02 20 = 50; visit 2: T01 split in T01.1 = 10 and T01.2 = 8 (parent record not
    # done), T02 20 → sum 10 + 8 + 20 = 38 → -24 % → SD; the parent still counts as measured
    out = run({1: {"T01": 30, "T02": 20},
               2: {"T01": "ND", "T01.1": 10, "T01.2": 8, "T02": 20}})
    row = at(out, 2)
    assert row["SUMDIAM"] == 38.0
    assert row["N_TARGET_EXPECTED"] == 2 and row["N_TARGET_MEASURED"] == 2
    assert row["TRGRESP"] == "SD"


def test_a_missing_fragment_makes_the_lesion_not_evaluated() -> None:
    out = run({1: {"T01": 30, "T02": 20}, 2: {"T01.1": 10, "T01.2": "ND", "T02": 20}})
    row = at(out, 2)
    assert row["TRGRESP"] == "NE" and row["REASON"] == "NE:target T01 not evaluated"


def test_merged_lesions_count_through_the_sum() -> None:
    # T01 and T02 merge: T01 carries 45, T02 0 → sum 45 vs 50 → -10 % → SD (T01 still there)
    out = run({1: {"T01": 30, "T02": 20}, 2: {"T01": 45, "T02": 0}, 3: {"T01": 0, "T02": 0}})
    assert at(out, 2)["SUMDIAM"] == 45.0 and at(out, 2)["TRGRESP"] == "SD"
    # both gone later → CR
    assert at(out, 3)["TRGRESP"] == "CR"


# --- not evaluated --------------------------------------------------------------------------------

def test_a_target_not_done_gives_ne() -> None:
    # 3 targets, T03 not done; partial 20 + 15 = 35 vs nadir 50 shows no PD → NE
    out = run({1: {"T01": 20, "T02": 20, "T03": 10}, 2: {"T01": 20, "T02": 15, "T03": "ND"}})
    row = at(out, 2)
    assert row["N_TARGET_EXPECTED"] == 3 and row["N_TARGET_MEASURED"] == 2
    assert row["SUMDIAM"] == 35.0
    assert row["TRGRESP"] == "NE" and row["OVRLRESP"] == "NE"
    assert row["REASON"] == "NE:target T03 not evaluated"


def test_a_target_without_any_record_gives_ne() -> None:
    out = run({1: {"T01": 20, "T02": 20, "T03": 10}, 2: {"T01": 20, "T02": 15}})
    assert at(out, 2)["REASON"] == "NE:target T03 not evaluated"


def test_pd_is_allowed_when_the_evaluated_targets_already_prove_it() -> None:
    # baseline 20 + 20 + 10 = 50; visit 2: 40 + 40 + (T03 not done) ≥ 80 → +60 %, +30 mm → PD
    out = run({1: {"T01": 20, "T02": 20, "T03": 10}, 2: {"T01": 40, "T02": 40, "T03": "ND"}})
    row = at(out, 2)
    assert row["TRGRESP"] == "PD" and row["OVRLRESP"] == "PD"
    assert row["REASON"] == "PD:sum+60.0%/+30mm from nadir (target T03 not evaluated)"


def test_no_target_evaluated_at_all_is_ne_with_null_sum() -> None:
    out = run({1: {"T01": 20, "T02": 20}, 2: {"T01": "ND", "T02": "ND"}})
    row = at(out, 2)
    assert math.isnan(row["SUMDIAM"]) and row["N_TARGET_MEASURED"] == 0
    assert row["REASON"] == "NE:target T01,T02 not evaluated"


def test_baseline_with_an_unmeasured_target_gives_no_response() -> None:
    out = run({1: {"T01": 20, "T02": "ND"}, 2: {"T01": 10, "T02": 10}})
    assert out["OVRLRESP"].isna().all() and out["TRGRESP"].isna().all()
    assert list(out["REASON"]) == ["NA:baseline target T02 not measured"] * 2
    assert any("without a usable baseline" in note for note in out.attrs["notes"])


# --- the vectorised rule itself -------------------------------------------------------------------

def test_classify_target_rule_order() -> None:
    s = RecistSettings()
    sums = np.array([80.0, 35.0, 0.0, 35.0, 45.0, 60.0, 30.0])
    base = np.full(7, 50.0)
    nadir = np.array([50.0, 50.0, 50.0, 50.0, 50.0, 50.0, np.nan])
    complete = np.array([False, True, True, False, True, True, True])
    cr_met = np.array([False, False, True, False, False, False, False])
    base[6] = np.nan                                   # no baseline → null
    got = classify_target(sums, base, nadir, complete, cr_met, s)
    # 80 partial: +60 %/+30 → PD; 35: -30 % → PR; 0 all gone → CR; 35 partial → NE;
    # 45: -10 % → SD; 60: +20 %/+10 → PD; no baseline → None
    assert list(got) == ["PD", "PR", "CR", "NE", "SD", "PD", None]


def test_growth_from_a_zero_nadir_is_pd_once_5_mm() -> None:
    s = RecistSettings()
    got = classify_target(np.array([4.0, 5.0]), np.array([40.0, 40.0]), np.array([0.0, 0.0]),
                          np.array([True, True]), np.array([False, False]), s)
    # from 0: +4 mm is below the absolute threshold; +5 mm is PD (any % from 0 is infinite)
    assert list(got) == ["PR", "PD"]
