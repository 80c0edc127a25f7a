"""Property tests of the RECIST 1.1 engine: monotonicity, new lesions, order independence.

Studies are drawn as {subject: {visit: {lesion: result}}} and turned into TU/TR; visit 1 is the
baseline. Response order used for "better/worse": CR < PR < SD = NON-CR/NON-PD < NE < PD.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdiscmap.recist import timepoint_responses

RANK = {"CR": 0, "PR": 1, "SD": 2, "NON-CR/NON-PD": 2, "NE": 3, "PD": 4}
NT_STATUSES = ["PRESENT", "ABSENT", "EQUIVOCAL", "UNEQUIVOCAL", "ND"]
SHRUNK_STATUS = {"UNEQUIVOCAL": "PRESENT", "PRESENT": "ABSENT", "EQUIVOCAL": "ABSENT"}
GROWN_STATUS = {"ABSENT": "PRESENT", "PRESENT": "UNEQUIVOCAL", "EQUIVOCAL": "UNEQUIVOCAL"}

Study = dict[str, dict[int, dict[str, object]]]
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])


def build(study: Study, nodes: set[tuple[str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """TU/TR of the study; ``nodes`` holds (subject, lesion) pairs measured by short axis."""
    tu_rows: dict[tuple[str, str], dict[str, object]] = {}
    tr_rows = []
    for usubjid, visits in study.items():
        for visit, results in visits.items():
            for lesion, result in results.items():
                role = ("NEW" if lesion.startswith("NEW") else
                        "NON-TARGET" if lesion.startswith("NT") else "TARGET")
                tu_rows.setdefault((usubjid, lesion), {
                    "USUBJID": usubjid, "TULNKID": lesion, "TUSTRESC": role,
                    "VISITNUM": float(visit)})
                target = role == "TARGET"
                tr_rows.append({
                    "USUBJID": usubjid, "TRLNKID": lesion,
                    "TRTESTCD": ("LPERP" if (usubjid, lesion) in nodes else "LDIAM") if target
                    else "TUMSTATE",
                    "TRSTRESN": (float(result)  # type: ignore[arg-type]
                                 if target and result != "ND" else np.nan),
                    "TRSTRESC": None if target or result == "ND" else result,
                    "TRSTAT": "NOT DONE" if result == "ND" else None,
                    "VISITNUM": float(visit), "VISIT": f"V{visit}",
                    "TRDTC": f"2024-{visit:02d}-01"})
    tu = pd.DataFrame(list(tu_rows.values()))
    tr = pd.DataFrame(tr_rows)
    return (tu.astype({c: "string" for c in ("USUBJID", "TULNKID", "TUSTRESC")}),
            tr.astype({c: "string" for c in ("USUBJID", "TRLNKID", "TRTESTCD", "TRSTRESC",
                                             "TRSTAT", "VISIT", "TRDTC")}))


@st.composite
def studies(draw: st.DrawFn) -> tuple[Study, set[tuple[str, str]]]:
    study: Study = {}
    nodes: set[tuple[str, str]] = set()
    for s in range(draw(st.integers(1, 3))):
        usubjid = f"S{s + 1:02d}"
        n_t = draw(st.integers(0, 3))
        n_nt = draw(st.integers(0 if n_t else 1, 2))
        targets = [f"T{i + 1:02d}" for i in range(n_t)]
        nontargets = [f"NT{i + 1:02d}" for i in range(n_nt)]
        for lesion in targets:
            if draw(st.booleans()):
                nodes.add((usubjid, lesion))
        baseline: dict[str, object] = {}
        for lesion in targets:
            nodal = (usubjid, lesion) in nodes
            baseline[lesion] = draw(st.integers(15, 40) if nodal else st.integers(10, 60))
        for lesion in nontargets:
            baseline[lesion] = "PRESENT"
        visits = {1: baseline}
        for visit in range(2, draw(st.integers(2, 4)) + 1):
            results: dict[str, object] = {}
            for lesion in targets:
                results[lesion] = draw(st.one_of(
                    st.integers(0, 90), st.sampled_from([0, 5, 9, 10, "ND"])))
            for lesion in nontargets:
                results[lesion] = draw(st.sampled_from(NT_STATUSES))
            if draw(st.integers(0, 5)) == 0:
                results["NEW01"] = draw(st.sampled_from(["UNEQUIVOCAL", "EQUIVOCAL", "ABSENT"]))
            visits[visit] = results
        study[usubjid] = visits
    return study, nodes


def responses(study: Study, nodes: set[tuple[str, str]]) -> pd.DataFrame:
    return timepoint_responses(*build(study, nodes))


def rank(value: object) -> int | None:
    return None if pd.isna(value) else RANK[str(value)]


def copy_study(study: Study) -> Study:
    return {s: {v: dict(r) for v, r in visits.items()} for s, visits in study.items()}


def last_visit(visits: dict[int, dict[str, object]]) -> int:
    return max(visits)


def assert_not_worse(before: pd.Series, after: pd.Series) -> None:
    for b, a in zip(before, after, strict=True):
        assert (rank(b) is None) == (rank(a) is None)
        if rank(b) is not None:
            assert rank(a) <= rank(b), (b, a)  # type: ignore[operator]


@PROPERTY_SETTINGS
@given(studies(), st.sampled_from([0.0, 0.5, 0.8]))
def test_shrinking_every_lesion_at_a_visit_never_worsens_it(drawn, factor: float) -> None:
    study, nodes = drawn
    shrunk = copy_study(study)
    for visits in shrunk.values():
        last = visits[last_visit(visits)]
        for lesion, result in last.items():
            if lesion.startswith("T") and result != "ND":
                last[lesion] = int(np.floor(float(result) * factor))  # type: ignore[arg-type]
            elif lesion.startswith("NT"):
                last[lesion] = SHRUNK_STATUS.get(str(result), result)
    before, after = responses(study, nodes), responses(shrunk, nodes)
    is_last = before.groupby("USUBJID")["VISITNUM"].transform("max") == before["VISITNUM"]
    assert_not_worse(before.loc[is_last, "OVRLRESP"], after.loc[is_last, "OVRLRESP"])
    assert_not_worse(before.loc[is_last, "TRGRESP"], after.loc[is_last, "TRGRESP"])
    pd.testing.assert_frame_equal(before[~is_last], after[~is_last])


@PROPERTY_SETTINGS
@given(studies(), st.sampled_from([0.0, 0.5, 0.75, 0.9]))
def test_shrinking_all_follow_up_measurements_never_worsens_any_visit(drawn, factor: float) -> None:
    study, nodes = drawn
    shrunk = copy_study(study)
    for visits in shrunk.values():
        for visit, results in visits.items():
            if visit == 1:
                continue
            for lesion, result in results.items():
                if lesion.startswith("T") and result != "ND":
                    results[lesion] = float(result) * factor  # type: ignore[arg-type]
    before, after = responses(study, nodes), responses(shrunk, nodes)
    # A shrink that turns a visit into a new CR makes any lesion seen again later a
    # reappearance after CR, i.e. PD (RECIST 1.1 §4.3.1-§4.3.2, §4.4.1), where the unshrunk
    # study had PR: the property holds up to that new CR, not after it.
    new_cr = (after["OVRLRESP"] == "CR") & (before["OVRLRESP"] != "CR")
    cr_visit = after["VISITNUM"].where(new_cr).groupby(after["USUBJID"]).transform("min")
    compared = cr_visit.isna() | (after["VISITNUM"] <= cr_visit)
    assert_not_worse(before.loc[compared, "OVRLRESP"], after.loc[compared, "OVRLRESP"])


@PROPERTY_SETTINGS
@given(studies(), st.integers(1, 30), st.data())
def test_growing_any_lesion_never_improves_the_response(drawn, delta: int, data) -> None:
    study, nodes = drawn
    grown = copy_study(study)
    usubjid = data.draw(st.sampled_from(sorted(grown)))
    visits = grown[usubjid]
    last = visits[last_visit(visits)]
    growable = sorted(lesion for lesion, result in last.items()
                      if (lesion.startswith("T") and result != "ND")
                      or (lesion.startswith("NT") and result in GROWN_STATUS))
    if not growable:
        return
    lesion = data.draw(st.sampled_from(growable))
    if lesion.startswith("T"):
        last[lesion] = float(last[lesion]) + delta  # type: ignore[arg-type]
    else:
        last[lesion] = GROWN_STATUS[str(last[lesion])]
    before, after = responses(study, nodes), responses(grown, nodes)
    row = (before["USUBJID"] == usubjid) & (before["VISITNUM"] == float(last_visit(visits)))
    # growing is the reverse of shrinking: the grown visit is never better
    assert_not_worse(after.loc[row, "OVRLRESP"], before.loc[row, "OVRLRESP"])
    pd.testing.assert_frame_equal(before[~row], after[~row])


@PROPERTY_SETTINGS
@given(studies(), st.data())
def test_an_unequivocal_new_lesion_always_gives_pd(drawn, data) -> None:
    study, nodes = drawn
    usubjid = data.draw(st.sampled_from(sorted(study)))
    follow_ups = sorted(v for v in study[usubjid] if v != 1)
    visit = data.draw(st.sampled_from(follow_ups))
    with_new = copy_study(study)
    with_new[usubjid][visit]["NEW09"] = "UNEQUIVOCAL"
    before, after = responses(study, nodes), responses(with_new, nodes)
    row = (after["USUBJID"] == usubjid) & (after["VISITNUM"] == float(visit))
    if before.loc[row, "OVRLRESP"].isna().all():       # no usable baseline: nothing to compare
        assert after.loc[row, "OVRLRESP"].isna().all()
    else:
        assert list(after.loc[row, "OVRLRESP"]) == ["PD"]
        assert list(after.loc[row, "NEWLPROG"]) == ["Y"]
        assert re.search(r"new lesion [^;]*NEW09", after.loc[row, "REASON"].iloc[0])


@PROPERTY_SETTINGS
@given(studies(), st.randoms(use_true_random=False))
def test_row_order_never_changes_the_result(drawn, rnd) -> None:
    study, nodes = drawn
    tu, tr = build(study, nodes)
    expected = timepoint_responses(tu, tr)
    tu_order = list(range(len(tu)))
    tr_order = list(range(len(tr)))
    rnd.shuffle(tu_order)
    rnd.shuffle(tr_order)
    shuffled = timepoint_responses(tu.iloc[tu_order].reset_index(drop=True),
                                   tr.iloc[tr_order].reset_index(drop=True))
    pd.testing.assert_frame_equal(expected, shuffled)
    assert expected.attrs["notes"] == shuffled.attrs["notes"]
    assert expected.to_csv(index=False) == shuffled.to_csv(index=False)
