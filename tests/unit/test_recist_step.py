"""RECIST series re-baselining (study.yaml recist_rebaseline), worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.recist import timepoint_responses
from cdiscmap.recist.series import series_starts, split_series, unsplit_series


def _tu() -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": ["S1", "S1"], "TULNKID": ["T01", "RT01"], "TUTESTCD": ["TUMIDENT"] * 2,
        "TUSTRESC": ["TARGET", "TARGET"], "VISIT": ["BASELINE", "RECHALLENGE BASELINE"],
        "VISITNUM": [0.0, 24.01], "TUDTC": ["2020-01-01", "2020-06-20"]}).astype(
        {"USUBJID": "string", "TULNKID": "string", "VISIT": "string"})


def _tr() -> pd.DataFrame:
    rows = [("T01", 0.0, "2020-01-01", 50.0), ("T01", 8.0, "2020-02-26", 30.0),
            ("T01", 24.0, "2020-06-17", 45.0),
            ("RT01", 24.01, "2020-06-20", 40.0), ("RT01", 32.0, "2020-08-15", 27.0)]
    return pd.DataFrame({
        "USUBJID": ["S1"] * 5, "TRLNKID": [r[0] for r in rows], "TRTESTCD": ["LDIAM"] * 5,
        "TRSTRESN": [r[3] for r in rows], "TRSTRESU": ["mm"] * 5, "TRSTAT": [pd.NA] * 5,
        "VISITNUM": [r[1] for r in rows], "TRDTC": [r[2] for r in rows],
        "TREVAL": ["INVESTIGATOR"] * 5}).astype({"USUBJID": "string", "TRLNKID": "string"})


def test_each_series_has_its_own_baseline_and_nadir():
    tu, tr = _tu(), _tr()
    starts = series_starts(tu, ["RECHALLENGE BASELINE"])
    computed = unsplit_series(timepoint_responses(split_series(tu, starts), split_series(tr, starts)))
    by_visit = computed.set_index("VISITNUM")
    # series 0: 50 → 30 (−40 %, PR) → 45 (+50 % and +15 mm from nadir 30: PD)
    assert by_visit.loc[8.0, "OVRLRESP"] == "PR"
    assert by_visit.loc[24.0, "OVRLRESP"] == "PD"
    # series 1: new baseline 40 at the rechallenge baseline; 27 is −32.5 %: PR (not compared
    # with the old nadir 30, against which it would be SD)
    assert by_visit.loc[32.0, "OVRLRESP"] == "PR"
    assert by_visit.loc[32.0, "BASE_SUM"] == 40.0
    assert by_visit.loc[32.0, "RECIST_SERIES"] == 1
    assert set(computed["USUBJID"]) == {"S1"}


def test_no_rebaseline_keeps_one_series():
    tu, tr = _tu(), _tr()
    starts = series_starts(tu, [])
    assert split_series(tr, starts) is tr


def test_computed_rs_records_follow_each_subjects_collected_ones_and_are_renumbered():
    from types import SimpleNamespace

    from cdiscmap.pipeline.recist_step import _append_computed

    tu, tr = _tu().iloc[:1], _tr().iloc[:3]          # S1 T01: 50 → 30 (PR) → 45 (PD)
    computed = timepoint_responses(tu, tr)
    rs = pd.DataFrame({
        "USUBJID": ["S2", "S1", "S1", None], "RSTESTCD": ["OVRLRESP"] * 4,
        "RSSTRESC": ["SD", "PR", "PR", "PD"], "VISITNUM": [8.0, 8.0, 24.0, 8.0],
        "RSSEQ": [1.0, 2.0, 1.0, 1.0],
        "_SRCFILE": ["orr.csv"] * 4, "_SRCROW": [4, 3, 2, 5]}).astype(
        {"USUBJID": "string", "RSTESTCD": "string", "RSSTRESC": "string", "_SRCFILE": "string"})
    loaded = SimpleNamespace(study=SimpleNamespace(recist={}, studyid="ST"))
    out = _append_computed(rs, computed, loaded, SimpleNamespace(domains={}))
    got = list(zip(out["USUBJID"].fillna("-"), out["VISITNUM"], out["RSTESTCD"],
                   out["RSSTRESC"], out["RSSEQ"].fillna(0), strict=True))
    assert got == [
        ("S1", 24.0, "OVRLRESP", "PR", 1.0), ("S1", 8.0, "OVRLRESP", "PR", 2.0),   # RSSEQ order
        ("S1", 8.0, "TRGRESP", "PR", 3.0), ("S1", 8.0, "NEWLPROG", "N", 4.0),
        ("S1", 8.0, "OVRLRESP", "PR", 5.0),
        ("S1", 24.0, "TRGRESP", "PD", 6.0), ("S1", 24.0, "NEWLPROG", "N", 7.0),
        ("S1", 24.0, "OVRLRESP", "PD", 8.0),
        ("S2", 8.0, "OVRLRESP", "SD", 1.0),
        ("-", 8.0, "OVRLRESP", "PD", 0.0)]              # no USUBJID: last, no RSSEQ
    assert out["RSDRVFL"].tolist()[2:8] == ["Y"] * 6


@pytest.mark.parametrize("cached", [False, True])
def test_computed_rs_records_take_their_visits_epoch_and_a_study_day(cached: bool) -> None:
    from types import SimpleNamespace

    from cdiscmap.pipeline.recist_step import _append_computed
    from cdiscmap.sdtm.vectorize import coded, codes_cache

    tu, tr = _tu().iloc[:1], _tr().iloc[:3]          # S1 T01: 50 → 30 (PR) → 45 (PD)
    computed = timepoint_responses(tu, tr)
    rs = pd.DataFrame({
        "USUBJID": ["S1", "S1", None, "S2", "S1"], "RSTESTCD": ["OVRLRESP"] * 5,
        "RSSTRESC": ["PR", "PR", "PD", "SD", "PD"], "VISITNUM": [8.0, 8.0, 24.0, 24.0, 30.0],
        "EPOCH": ["TREATMENT", "FOLLOW-UP", "SCREENING", "SCREENING", "FOLLOW-UP"],
        "RSSEQ": [1.0, 2.0, 1.0, 1.0, 3.0], "RSDY": [57.0, 57.0, 1.0, 1.0, 200.0],
        "_SRCFILE": ["orr.csv"] * 5, "_SRCROW": [1, 2, 3, 4, 5]}).astype(
        {c: "string" for c in ("USUBJID", "RSTESTCD", "RSSTRESC", "EPOCH", "_SRCFILE")})
    dm = pd.DataFrame({"USUBJID": ["S1", "S2", "S1"],
                       "RFSTDTC": ["2020-01-01", "2020-03-01", "2019-01-01"]}).astype("string")
    loaded = SimpleNamespace(study=SimpleNamespace(recist={}, studyid="ST"))
    with codes_cache():
        if cached:                       # RS as the mapping leaves it: its codes known
            for col in ("USUBJID", "RSTESTCD", "RSSTRESC", "EPOCH", "_SRCFILE"):
                coded(rs[col])
        out = _append_computed(rs, computed, loaded, SimpleNamespace(domains={"DM": dm}))
        # the codes the later steps are given spell every record's value
        for col in out.columns:
            if isinstance(out[col].dtype, pd.StringDtype):
                codes, uniques = coded(out[col])
                spelled = [uniques[c] if c >= 0 else None for c in codes]
                assert spelled == [None if pd.isna(v) else v for v in out[col]], col
    engine = out[out["_SRCFILE"] == "(RECIST engine)"]
    # EPOCH: S1's first RS record of the visit (8: TREATMENT); at 24 S1 has none, and the
    # record without USUBJID or of S2 is not S1's. Study day from S1's first DM record:
    # 2020-02-26 is day 57, 2020-06-17 day 169 (2020 is a leap year)
    assert list(zip(engine["VISITNUM"], engine["RSTESTCD"], engine["EPOCH"].fillna("-"),
                    engine["RSDY"], strict=True)) == [
        (8.0, "TRGRESP", "TREATMENT", 57.0), (8.0, "NEWLPROG", "TREATMENT", 57.0),
        (8.0, "OVRLRESP", "TREATMENT", 57.0), (24.0, "TRGRESP", "-", 169.0),
        (24.0, "NEWLPROG", "-", 169.0), (24.0, "OVRLRESP", "-", 169.0)]
    assert out["EPOCH"].dtype == "string"
    assert out["RSSEQ"].tolist()[:6] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # a subject RS does not know takes no epoch, not that of the record without USUBJID
    others = rs[rs["USUBJID"].ne("S1").fillna(True)].reset_index(drop=True)
    with codes_cache():
        out = _append_computed(others, computed, loaded, SimpleNamespace(domains={"DM": dm}))
    assert out.loc[out["_SRCFILE"] == "(RECIST engine)", "EPOCH"].isna().all()


def test_rs_is_the_dataset_the_step_replaces_only_when_it_adds_computed_records():
    # run_study leaves it out of the checks made before the step (they would be thrown away)
    from types import SimpleNamespace

    from cdiscmap.pipeline.recist_step import datasets_replaced

    def study(rs_computed: bool, *names: str) -> tuple[SimpleNamespace, SimpleNamespace]:
        result = SimpleNamespace(domains={n: pd.DataFrame() for n in names})
        return result, SimpleNamespace(study=SimpleNamespace(rs_computed=rs_computed))

    assert datasets_replaced(*study(True, "DM", "TU", "TR", "RS")) == {"RS"}
    assert datasets_replaced(*study(False, "DM", "TU", "TR", "RS")) == set()
    assert datasets_replaced(*study(True, "DM", "TU", "RS")) == set()      # no TR: no engine
    assert datasets_replaced(*study(True, "DM", "TU", "TR")) == set()      # no RS to add to
