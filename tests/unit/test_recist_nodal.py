"""Nodal status from the lesion's location, and the diameter RECIST 1.1 prescribes per kind.

RECIST 1.1 §3.2: a node is measured by its short axis (TR LPERP), any other lesion by its longest
diameter (LDIAM); §4.3.1: target CR needs non-nodal lesions gone and nodes < 10 mm short axis.
Every expected number is worked out by hand in the comment next to it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cdiscmap.recist import RecistSettings, timepoint_responses
from cdiscmap.recist.lesions import _location_nodal
from cdiscmap.spec.yamlload import parse_yaml_text

ROOT = Path(__file__).resolve().parents[2]

# Both axes recorded for every target lesion at every visit (common in third-party data):
# lesion: (TULOC, {visit: (LDIAM, LPERP)})
BOTH_AXES = {
    "T01": ("ESOPHAGUS", {1: (20.0, 12.0), 2: (8.0, 4.9), 3: (14.0, 4.9)}),
    "T02": ("MEDIASTINAL LYMPH NODE", {1: (25.0, 15.0), 2: (12.0, 6.0), 3: (12.0, 6.0)}),
}


def frames(lesions: dict[str, tuple[str | None, dict[int, tuple[float | None, float | None]]]]
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    tu = pd.DataFrame([{"USUBJID": "S01", "TULNKID": les, "TUSTRESC": "TARGET",
                        "TULOC": loc, "TUEVAL": "INVESTIGATOR", "VISITNUM": 1.0}
                       for les, (loc, _) in lesions.items()])
    rows = []
    for les, (_, visits) in lesions.items():
        for visit, pair in visits.items():
            for test, value in zip(("LDIAM", "LPERP"), pair, strict=True):
                if value is not None:
                    rows.append({"USUBJID": "S01", "TRLNKID": les, "TRTESTCD": test,
                                 "TRSTRESN": value, "TRSTRESC": str(value),
                                 "VISITNUM": float(visit), "VISIT": f"V{visit}",
                                 "TRDTC": f"2024-0{visit}-01"})
    tr = pd.DataFrame(rows)
    return (tu.astype({c: "string" for c in ("USUBJID", "TULNKID", "TUSTRESC", "TULOC",
                                             "TUEVAL")}),
            tr.astype({c: "string" for c in ("USUBJID", "TRLNKID", "TRTESTCD", "TRSTRESC",
                                             "VISIT", "TRDTC")}))


def visit(out: pd.DataFrame, n: int) -> pd.Series:
    return out[out["VISITNUM"] == n].iloc[0]


def test_both_axes_on_every_lesion_use_the_location_and_the_prescribed_diameter() -> None:
    out = timepoint_responses(*frames(BOTH_AXES))
    # baseline: oesophagus LDIAM 20 + node LPERP 15 = 35 (not 12 + 15 = 27)
    assert visit(out, 1)["SUMDIAM"] == pytest.approx(35.0)
    # V2: 8 + 6 = 14, (14-35)/35 = -60 % → PR; the 4.9 mm short axis of the oesophagus lesion
    # is not read, and a non-nodal 8 mm lesion is not gone → no CR
    v2 = visit(out, 2)
    assert v2["SUMDIAM"] == pytest.approx(14.0) and v2["TRGRESP"] == "PR"
    assert v2["PCHG_BASE"] == pytest.approx(-60.0)
    # V3: 14 + 6 = 20; nadir 14 (V2): +6 mm, +42.857 % → PD (the old rule read 4.9 + 6 = 10.9,
    # both "nodes" < 10 mm → CR)
    v3 = visit(out, 3)
    assert v3["SUMDIAM"] == pytest.approx(20.0) and v3["NADIR"] == pytest.approx(14.0)
    assert v3["ACHG_NADIR"] == pytest.approx(6.0)
    assert v3["PCHG_NADIR"] == pytest.approx(600.0 / 14.0)
    assert v3["TRGRESP"] == "PD" and v3["OVRLRESP"] == "PD"


def test_without_location_both_axes_are_read_as_non_nodal_with_a_note() -> None:
    no_loc = {les: (None, visits) for les, (_, visits) in BOTH_AXES.items()}
    out = timepoint_responses(*frames(no_loc))
    # LDIAM for both: 20 + 25 = 45; V2 8 + 12 = 20 (-55.6 % PR); V3 14 + 12 = 26: +6 mm from
    # nadir 20 = +30 % → PD
    assert list(out["SUMDIAM"]) == pytest.approx([45.0, 20.0, 26.0])
    assert list(out["TRGRESP"].fillna("")) == ["", "PR", "PD"]
    assert any("both LDIAM and LPERP and no TULOC" in n for n in out.attrs["notes"])


def test_a_sponsor_location_listed_as_nodal_is_read_by_its_short_axis() -> None:
    lesions = {"T01": ("ESOPHAGUS", {1: (20.0, 12.0), 2: (0.0, 0.0)}),
               "T02": ("NODE, MEDIASTINAL", {1: (25.0, 15.0), 2: (12.0, 9.0)})}
    # without the setting "NODE, MEDIASTINAL" is no lymph node: V2 sum 0 + 12 → PR, not CR
    plain = timepoint_responses(*frames(lesions))
    assert visit(plain, 2)["TRGRESP"] == "PR"
    # listed: baseline 20 + 15 = 35; V2 oesophagus 0, node 9 < 10 → CR with sum 9
    out = timepoint_responses(*frames(lesions),
                              RecistSettings(nodal_locations=["node, mediastinal"]))
    assert visit(out, 1)["SUMDIAM"] == pytest.approx(35.0)
    assert visit(out, 2)["SUMDIAM"] == pytest.approx(9.0) and visit(out, 2)["TRGRESP"] == "CR"


def test_short_axis_test_setting_needs_lperp_without_ldiam() -> None:
    lesions = {"T01": (None, {1: (20.0, None), 2: (0.0, None)}),
               "T02": (None, {1: (None, 15.0), 2: (None, 8.0)})}
    out = timepoint_responses(*frames(lesions), RecistSettings(nodal_from="short_axis_test"))
    # T02 has LPERP only → node: 20 + 15 = 35; V2 0 + 8, node < 10 → CR
    assert visit(out, 1)["SUMDIAM"] == pytest.approx(35.0)
    assert visit(out, 2)["TRGRESP"] == "CR"


def test_auto_keeps_a_short_axis_only_lesion_nodal_whatever_its_location_wording() -> None:
    lesions = {"T01": ("LN, MEDIASTINAL", {1: (None, 15.0), 2: (None, 8.0)}),
               "T02": ("LIVER", {1: (30.0, None), 2: (0.0, None)})}
    # auto: LPERP alone → node: 15 + 30 = 45; V2 node 8 < 10, liver 0 → CR (sum 8)
    out = timepoint_responses(*frames(lesions))
    assert visit(out, 2)["TRGRESP"] == "CR" and visit(out, 2)["SUMDIAM"] == pytest.approx(8.0)
    # location only: "LN, MEDIASTINAL" is no lymph-node term → non-nodal, 8 mm is not gone → PR
    # (8 vs 45: -82.2 %), and its only diameter (LPERP) is read with a note
    loc = timepoint_responses(*frames(lesions), RecistSettings(nodal_from="location"))
    assert visit(loc, 2)["TRGRESP"] == "PR"
    assert any("lack the diameter" in n for n in loc.attrs["notes"])


def test_location_setting_ignores_the_tests_and_falls_back_with_a_note() -> None:
    # a node by location measured only by LDIAM: read from LDIAM (note), CR rule of nodes
    lesions = {"T01": ("AXILLARY LYMPH NODE", {1: (18.0, None), 2: (9.0, None)}),
               "T02": ("LIVER", {1: (None, 30.0), 2: (None, 0.0)})}
    out = timepoint_responses(*frames(lesions), RecistSettings(nodal_from="location"))
    # 18 + 30 = 48; V2: node 9 < 10 and liver 0 → CR, sum 9
    assert visit(out, 1)["SUMDIAM"] == pytest.approx(48.0)
    assert visit(out, 2)["TRGRESP"] == "CR" and visit(out, 2)["SUMDIAM"] == pytest.approx(9.0)
    assert any("lack the diameter RECIST 1.1 §3.2 prescribes" in n for n in out.attrs["notes"])


def test_every_lymph_node_term_of_the_loc_codelist_is_nodal_and_nothing_else() -> None:
    ct = json.loads((ROOT / "specs" / "ct" / "sdtm-ct-2025-03-28.json").read_text("utf-8"))
    loc = next(c for c in ct["codelists"] if c["name"] == "LOC")
    values = [t["value"] for t in loc["terms"]]
    assert len(values) == 1397
    nodal = _location_nodal(pd.DataFrame({"TULOC": pd.array(values, dtype="string")}),
                            RecistSettings())
    by_value = dict(zip(values, nodal, strict=True))
    # the NCI preferred names agree with the submission values on "lymph node"
    named_nodes = {t["value"] for t in loc["terms"] if "LYMPH NODE" in t["decode"].upper()}
    assert {v for v, n in by_value.items() if n == 1} == named_nodes
    assert len(named_nodes) == 91
    assert by_value["AXILLARY LYMPH NODE"] == 1 and by_value["LYMPH NODE"] == 1
    assert by_value["GUT-ASSOCIATED LYMPHOID TISSUE"] == 0
    assert by_value["ESOPHAGUS"] == 0 and by_value["MEDIASTINUM"] == 0


def test_null_location_is_unknown() -> None:
    tu = pd.DataFrame({"TULOC": pd.array([None, "lymph node", " Liver "], dtype="string")})
    assert list(_location_nodal(tu, RecistSettings())) == [-1, 1, 0]
    assert list(_location_nodal(pd.DataFrame({"X": [1]}), RecistSettings())) == [-1]


def test_settings_read_from_yaml_lists() -> None:
    data = parse_yaml_text("nodal_from: location\nnodal_locations: [node]\n", "x.yaml").data
    s = RecistSettings(**data)
    assert s.nodal_from == "location" and s.nodal_locations == ("NODE",)
    with pytest.raises(ValueError):
        RecistSettings(nodal_from="tulat")
    assert RecistSettings().nodal_from == "auto" and RecistSettings().nodal_locations == ()
