"""RECIST 1.1 rules added for third-party data: back-dated PD of a confirmed equivocal new lesion
(§4.3.5), PD on reappearance after CR (§4.3.1-§4.3.3, §4.4.1), and the cross-check of the
investigator's sum of diameters (CMAP-RC0003) and new-lesion progression (CMAP-RC0004).

Every expected value is worked out by hand in the comment next to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdiscmap.findings import Severity
from cdiscmap.recist import RecistSettings, crosscheck, timepoint_responses


def build(visits: dict[int, dict[str, object]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """{visit: {lesion: result}}; T.. target (LDIAM mm), NT.. non-target, NEW.. new (status),
    SUM = the investigator's TR SUMDIAM."""
    tu_rows: dict[str, dict[str, object]] = {}
    tr_rows = []
    for v, results in sorted(visits.items()):
        for les, result in results.items():
            row: dict[str, object] = {"USUBJID": "S01", "TRLNKID": les, "VISITNUM": float(v),
                                      "VISIT": f"V{v}", "TRDTC": f"2024-{v:02d}-01",
                                      "TRSTRESN": np.nan, "TRSTRESC": None}
            if les == "SUM":
                row.update(TRLNKID=None, TRTESTCD="SUMDIAM", TRSTRESN=float(result))
                tr_rows.append(row)
                continue
            role = "NEW" if les.startswith("NEW") else "NON-TARGET" if les.startswith(
                "NT") else "TARGET"
            tu_rows.setdefault(les, {"USUBJID": "S01", "TULNKID": les, "TUSTRESC": role,
                                     "VISITNUM": float(v)})
            if role == "TARGET":
                row.update(TRTESTCD="LDIAM", TRSTRESN=float(result), TRSTRESC=str(result))
            else:
                row.update(TRTESTCD="TUMSTATE", TRSTRESC=result)
            tr_rows.append(row)
    tu = pd.DataFrame(list(tu_rows.values()))
    tr = pd.DataFrame(tr_rows)
    return (tu.astype({c: "string" for c in ("USUBJID", "TULNKID", "TUSTRESC")}),
            tr.astype({c: "string" for c in ("USUBJID", "TRLNKID", "TRTESTCD", "TRSTRESC",
                                             "VISIT", "TRDTC")}))


def row(out: pd.DataFrame, v: int) -> pd.Series:
    return out[out["VISITNUM"] == v].iloc[0]


EQUIVOCAL_THEN_CONFIRMED = {1: {"T01": 30}, 2: {"T01": 30, "NEW01": "EQUIVOCAL"},
                            3: {"T01": 30, "NEW01": "UNEQUIVOCAL"}}


def test_confirmed_equivocal_new_lesion_backdates_pd_to_its_first_sighting() -> None:
    out = timepoint_responses(*build(EQUIVOCAL_THEN_CONFIRMED))
    # V2: targets stable (0 %) → SD, but NEW01 is confirmed at V3 → PD dated at V2
    v2 = row(out, 2)
    assert (v2["TRGRESP"], v2["NEWLPROG"], v2["OVRLRESP"]) == ("SD", "Y", "PD")
    assert v2["REASON"] == "PD:new lesion NEW01 (equivocal, confirmed later: PD back-dated)"
    assert v2["ADTC"] == "2024-02-01"                       # the date of the first observation
    assert row(out, 3)["REASON"] == "PD:new lesion NEW01"


def test_backdating_can_be_switched_off_and_needs_a_confirmation() -> None:
    off = timepoint_responses(*build(EQUIVOCAL_THEN_CONFIRMED),
                              RecistSettings(backdate_equivocal_new_lesion=False))
    assert row(off, 2)["OVRLRESP"] == "SD" and row(off, 3)["OVRLRESP"] == "PD"
    assert row(off, 2)["REASON"].endswith("equivocal new lesion not counted")
    # equivocal, then gone: never confirmed → no PD anywhere
    never = timepoint_responses(*build({1: {"T01": 30}, 2: {"T01": 30, "NEW01": "EQUIVOCAL"},
                                        3: {"T01": 30, "NEW01": "ABSENT"}}))
    assert list(never["OVRLRESP"].fillna("")) == ["", "SD", "SD"]
    # a different new lesion confirmed later does not back-date NEW01
    other = timepoint_responses(*build({1: {"T01": 30}, 2: {"T01": 30, "NEW01": "EQUIVOCAL"},
                                        3: {"T01": 30, "NEW02": "UNEQUIVOCAL"}}))
    assert row(other, 2)["OVRLRESP"] == "SD" and row(other, 3)["OVRLRESP"] == "PD"


def test_target_lesion_reappearing_after_cr_is_pd() -> None:
    visits = {1: {"T01": 30}, 2: {"T01": 0}, 3: {"T01": 3}}
    out = timepoint_responses(*build(visits))
    assert row(out, 2)["OVRLRESP"] == "CR"
    # V3: sum 3, nadir 0 → +3 mm only (no §4.3.1 PD), -90 % from baseline would be PR;
    # the lesion had disappeared at a CR → PD
    v3 = row(out, 3)
    assert (v3["TRGRESP"], v3["OVRLRESP"]) == ("PD", "PD")
    assert v3["REASON"] == "PD:target T01 reappeared after CR"
    off = timepoint_responses(*build(visits), RecistSettings(pd_on_reappearance=False))
    assert row(off, 3)["OVRLRESP"] == "PR"


def test_non_target_lesion_reappearing_after_cr_is_pd() -> None:
    visits = {1: {"T01": 30, "NT01": "PRESENT"}, 2: {"T01": 0, "NT01": "ABSENT"},
              3: {"T01": 0, "NT01": "PRESENT"}}
    out = timepoint_responses(*build(visits))
    assert row(out, 2)["OVRLRESP"] == "CR"
    v3 = row(out, 3)
    # target still CR; non-target back → PD (not NON-CR/NON-PD, which would give PR)
    assert (v3["TRGRESP"], v3["NTRGRESP"], v3["OVRLRESP"]) == ("CR", "PD", "PD")
    assert v3["REASON"] == "PD:non-target NT01 reappeared after CR"


def test_a_lesion_present_after_pr_is_not_a_reappearance() -> None:
    # V1 30 + 10 = 40; V2 15 + 0 = 15: -62.5 % → PR (T01 is not gone: no CR). T02 was gone
    # but the subject never reached CR, so its return is only measured (RECIST 1.1 §4.3.2):
    # V3 15 + 2 = 17 vs nadir 15: +2 mm → not PD; -57.5 % from 40 → PR
    out = timepoint_responses(*build({1: {"T01": 30, "T02": 10}, 2: {"T01": 15, "T02": 0},
                                      3: {"T01": 15, "T02": 2}}))
    assert row(out, 3)["OVRLRESP"] == "PR"


def rs(rows: list[tuple[int, str, str]]) -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": pd.array(["S01"] * len(rows), dtype="string"),
        "VISITNUM": [float(v) for v, _, _ in rows],
        "RSTESTCD": pd.array([t for _, t, _ in rows], dtype="string"),
        "RSSTRESC": pd.array([r for _, _, r in rows], dtype="string"),
        "RSEVAL": pd.array(["INVESTIGATOR"] * len(rows), dtype="string")})


def test_investigator_sum_of_diameters_is_compared_rc0003() -> None:
    # computed sums: V1 30 + 20 = 50, V2 20 + 10 = 30 (-40 % PR), V3 30 + 10 = 40
    tu, tr = build({1: {"T01": 30, "T02": 20, "SUM": 50},
                    2: {"T01": 20, "T02": 10, "SUM": 30.4},     # within 0.5 mm
                    3: {"T01": 30, "T02": 10, "SUM": 35}})      # 5 mm off
    out = timepoint_responses(tu, tr)
    table, findings = crosscheck(out, rs([(2, "OVRLRESP", "PR"), (3, "OVRLRESP", "SD")]), tr=tr)
    sums = table[table["RSTESTCD"] == "SUMDIAM"]
    assert list(sums["VISITNUM"]) == [1.0, 2.0, 3.0]
    assert list(sums["STATUS"]) == ["AGREE", "AGREE", "DISAGREE"]
    assert list(sums["RSSTRESC"]) == ["50", "30.4", "35"]
    assert list(sums["COMPUTED"]) == ["50", "30", "40"]
    rc3 = [f for f in findings if f.rule == "CMAP-RC0003"]
    assert len(rc3) == 1 and rc3[0].severity == Severity.WARNING
    assert (rc3[0].dataset, rc3[0].variable, rc3[0].value) == (
        "TR", "TRSTRESN", "investigator=35 computed=40")
    # V3: 40 vs nadir 30: +10 mm, +33 % → PD; the investigator said SD → CMAP-RC0001 as well
    assert [f.rule for f in findings if f.rule == "CMAP-RC0001"] == ["CMAP-RC0001"]
    # a stricter tolerance turns the 0.4 mm into a disagreement
    _, strict = crosscheck(out, rs([]), tr=tr, settings=RecistSettings(sumdiam_tolerance_mm=0))
    assert sum(f.rule == "CMAP-RC0003" for f in strict) == 2


def _two_sums_at_v2_and_v3() -> tuple[pd.DataFrame, pd.DataFrame]:
    """TU/TR with computed sums V1 50, V2 30, V3 40, and two investigator SUMDIAM records at
    V2 (30 twice: tr.csv rows 7 and 100) and at V3 (41 and 35: rows 10 and 33)."""
    tu, tr = build({1: {"T01": 30, "T02": 20, "SUM": 50},
                    2: {"T01": 20, "T02": 10, "SUM": 30},
                    3: {"T01": 30, "T02": 10, "SUM": 41}})
    extra = tr[tr["TRTESTCD"] == "SUMDIAM"].iloc[[1, 2]].assign(TRSTRESN=[30.0, 35.0])
    tr = pd.concat([tr, extra], ignore_index=True)
    tr["_SRCFILE"] = "tr.csv"
    tr["_SRCROW"] = [1, 2, 3, 4, 5, 7, 8, 9, 10, 100, 33]
    return tu, tr


def test_several_investigator_sums_at_one_visit_compare_the_smallest_then_first_source() -> None:
    # computed sums as above: V2 30, V3 40. TR holds two SUMDIAM records at V2 and at V3.
    tu, tr = _two_sums_at_v2_and_v3()
    out = timepoint_responses(tu, tr)
    table, findings = crosscheck(out, rs([]), tr=tr)
    sums = table[table["RSTESTCD"] == "SUMDIAM"]
    # V2: 30 twice, the tie goes to the first source in text order ("row 100" < "row 7")
    # V3: 41 and 35 → 35, 5 mm off the computed 40 → one CMAP-RC0003
    assert list(zip(sums["VISITNUM"], sums["RSSTRESC"], sums["SOURCE"], strict=True)) == [
        (1.0, "50", "tr.csv row 3"), (2.0, "30", "tr.csv row 100"), (3.0, "35", "tr.csv row 33")]
    assert [f.value for f in findings if f.rule == "CMAP-RC0003"] == [
        "investigator=35 computed=40"]


def test_disagreements_only_composes_the_same_sources_for_the_rows_left() -> None:
    # the sums of the test above (V3: 35 kept, 5 mm off the computed 40, tr.csv row 33); RS:
    # V2 PR agrees (computed -40 % PR), V3 SD against the computed PD (40 vs nadir 30: +10 mm,
    # +33 %), V4 has no TR assessment: RS ONLY. SOURCE of an RS record: rs.csv row n
    tu, tr = _two_sums_at_v2_and_v3()
    collected = rs([(2, "OVRLRESP", "PR"), (3, "OVRLRESP", "SD"), (4, "OVRLRESP", "PD")]).assign(
        _SRCFILE=pd.array(["rs.csv"] * 3, dtype="string"), _SRCROW=[4, 9, 12])
    out = timepoint_responses(tu, tr)
    whole, findings = crosscheck(out, collected, tr=tr)
    table, only = crosscheck(out, collected, tr=tr, disagreements_only=True)
    assert [(r.RSTESTCD, r.VISITNUM, r.STATUS, r.SOURCE) for r in table.itertuples()] == [
        ("OVRLRESP", 3.0, "DISAGREE", "rs.csv row 9"),
        ("SUMDIAM", 3.0, "DISAGREE", "tr.csv row 33"),
        ("OVRLRESP", 4.0, "RS ONLY", "rs.csv row 12")]
    assert only == findings
    assert [f.source for f in only] == ["rs.csv row 9", "tr.csv row 33", "rs.csv row 12"]
    assert table.equals(whole[whole["STATUS"] != "AGREE"].reset_index(drop=True))


def test_new_lesion_progression_is_compared_rc0004() -> None:
    tu, tr = build({1: {"T01": 30}, 2: {"T01": 30, "NEW01": "UNEQUIVOCAL"}, 3: {"T01": 30}})
    out = timepoint_responses(tu, tr)
    table, findings = crosscheck(out, rs([(2, "OVRLRESP", "PD"), (2, "NEWLPROG", "N"),
                                          (3, "OVRLRESP", "SD"), (3, "NEWLPROG", "NO")]))
    newl = table[table["RSTESTCD"] == "NEWLPROG"]
    # V2: investigator N, computed Y → disagree; V3: "NO" is N, computed N → agree
    assert list(newl["STATUS"]) == ["DISAGREE", "AGREE"]
    assert [(f.rule, f.value) for f in findings] == [("CMAP-RC0004", "investigator=N computed=Y")]
    assert findings[0].message.startswith("NEWLPROG at V2 (VISITNUM 2): investigator N, "
                                          "computed from TU/TR Y")


@pytest.mark.parametrize("rule", ["CMAP-RC0003", "CMAP-RC0004"])
def test_new_rules_are_documented(rule: str) -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "validation-rules.md").read_text()
    assert f"| {rule} | warning |" in page
