"""ADRS parameters on category codes and date arrays: CB/CCB's chosen records
(``_by_subject_and_date``) and the status landmarks (``_status_by_code``) against the frame
versions they replace (``pd.concat`` + ``sort_values``; ``last_of_subject`` of a frame copy
and lookups by text), on random responses: ties, NaT dates, deaths before and after the
landmark, subjects without responses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cdiscmap.adam.adrs as adrs
from cdiscmap.adam import load_adam_settings
from cdiscmap.adam.dtypes import DATES, FLOAT, TEXT
from cdiscmap.resources import resolve_study_dir

SETTINGS = load_adam_settings(resolve_study_dir(Path("crizotinib-basket")))
IDS = [f"S-{k:02d}" for k in range(6)]
SUBJECTS = pd.CategoricalDtype(IDS)
RESPONSES = ["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", None]
DAY0 = np.datetime64("2020-01-01", "ns")


@st.composite
def responses(draw):
    """OVR records and their analysed subset (ADT never NaT there, as ANL01FL/ANL02FL
    require), each subject's reference and death dates."""
    n = draw(st.integers(0, 25))
    subject = draw(st.lists(st.integers(0, len(IDS) - 1), min_size=n, max_size=n))
    day = draw(st.lists(st.integers(0, 120), min_size=n, max_size=n))
    avalc = draw(st.lists(st.sampled_from(RESPONSES), min_size=n, max_size=n))
    ref = draw(st.lists(st.one_of(st.none(), st.integers(0, 30)), min_size=len(IDS),
                        max_size=len(IDS)))
    death = draw(st.lists(st.one_of(st.none(), st.integers(0, 150)), min_size=len(IDS),
                          max_size=len(IDS)))
    dates = lambda days: np.array([DAY0 + np.timedelta64(d, "D") if d is not None  # noqa: E731
                                   else np.datetime64("NaT", "ns") for d in days], dtype=DATES)
    ovr = pd.DataFrame({
        "USUBJID": pd.Categorical.from_codes(np.array(subject, dtype=np.int8), dtype=SUBJECTS),
        "AVALC": pd.array(avalc, dtype=TEXT),
        "ADT": dates(day),
        "ADTF": pd.array([None] * n, dtype=TEXT),
        "AVISIT": pd.array([f"V{d}" for d in day], dtype=TEXT),
        "AVISITN": np.array(day, dtype=FLOAT),
        "SRCDOM": pd.array(["RS"] * n, dtype=TEXT),
        "SRCVAR": pd.array(["RSSTRESC"] * n, dtype=TEXT),
        "SRCSEQ": np.arange(n, dtype=FLOAT),
    })
    refdt = pd.Series(dates(ref), index=pd.Index(IDS, name="USUBJID"))
    keep = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    analysed = adrs._analysed(ovr, refdt, pd.Series(keep, dtype=bool))
    dthdt = pd.Series(dates(death), index=pd.Index(IDS, name="USUBJID"), name="DTHDT")
    population = draw(st.sets(st.sampled_from(IDS)))
    return ovr, analysed, dthdt, pd.Series(sorted(population), dtype=TEXT)


@settings(max_examples=150)
@given(data=responses(), marks=st.data())
def test_cb_records_are_those_of_the_frame_sort(data, marks):
    _, analysed, _, _ = data
    n = len(analysed)
    parts = [np.array(marks.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
             for _ in range(2)]
    both = pd.concat([analysed.loc[p] for p in parts]) \
        .sort_values(["USUBJID", "ADT"], kind="mergesort")
    chosen = adrs._by_subject_and_date(analysed, *parts)
    assert chosen["USUBJID"].tolist() == both["USUBJID"].tolist()
    assert chosen["source_index"].tolist() == both.index.tolist()
    assert chosen["USUBJID"].dtype == analysed["USUBJID"].dtype


def _records(data, lm, *, frames: bool) -> tuple[list[pd.DataFrame], dict]:
    ovr, analysed, dthdt, population = data
    analysis = SETTINGS.adrs.analyses[0]
    builder = adrs._ParamBuilder(ovr, population, SETTINGS, analysis)
    methods: dict[str, str] = {}
    with pytest.MonkeyPatch.context() as patched:
        if frames:
            patched.setattr(adrs, "_status_by_code", lambda *_args: False)
        adrs._landmark(builder, analysed, lm, dthdt, SETTINGS, methods)
    return builder.records(), methods


@settings(max_examples=150)
@given(data=responses(), weeks=st.integers(0, 12), before=st.integers(0, 14),
       after=st.integers(0, 14), wanted=st.sets(st.sampled_from(RESPONSES[:-1]), min_size=1))
def test_status_landmarks_are_those_of_the_frame_version(data, weeks, before, after, wanted):
    lm = SETTINGS.adrs.analyses[0].landmarks[0].model_copy(update={
        "weeks": weeks, "window_before": before, "window_after": after,
        "responses": sorted(wanted), "rule": "status", "reference_date": None})
    got, got_methods = _records(data, lm, frames=False)
    want, want_methods = _records(data, lm, frames=True)
    assert len(got) == len(want)
    for one, other in zip(got, want, strict=True):
        pd.testing.assert_frame_equal(one, other, check_exact=True)
    assert got_methods == want_methods


def test_a_hand_checked_status_landmark():
    """Week 1 (day 7), windows 2 days: S-00's last response up to day 9 is PR on day 6 (Y);
    S-01's is CR on day 3, before day 5 (N); S-02 is PR on day 8 but died on day 7 (N);
    S-03 has no response (N)."""
    day = lambda d: DAY0 + np.timedelta64(d, "D")  # noqa: E731
    ovr = pd.DataFrame({
        "USUBJID": pd.Categorical(["S-00", "S-00", "S-01", "S-02", "S-00"], dtype=SUBJECTS),
        "AVALC": pd.array(["SD", "PR", "CR", "PR", "PD"], dtype=TEXT),
        "ADT": np.array([day(2), day(6), day(3), day(8), day(10)], dtype=DATES),
        "ADTF": pd.array([None] * 5, dtype=TEXT),
        "AVISIT": pd.array(["A", "B", "A", "B", "C"], dtype=TEXT),
        "AVISITN": np.arange(5, dtype=FLOAT), "SRCDOM": pd.array(["RS"] * 5, dtype=TEXT),
        "SRCVAR": pd.array(["RSSTRESC"] * 5, dtype=TEXT), "SRCSEQ": np.arange(5, dtype=FLOAT)})
    refdt = pd.Series(np.array([day(0)] * len(IDS), dtype=DATES),
                      index=pd.Index(IDS, name="USUBJID"))
    analysed = adrs._analysed(ovr, refdt, pd.Series([True] * 5))
    dthdt = pd.Series(np.array([np.datetime64("NaT", "ns"), np.datetime64("NaT", "ns"), day(7),
                                *[np.datetime64("NaT", "ns")] * 3], dtype=DATES),
                      index=pd.Index(IDS, name="USUBJID"))
    lm = SETTINGS.adrs.analyses[0].landmarks[0].model_copy(update={
        "weeks": 1, "window_before": 2, "window_after": 2, "responses": ["CR", "PR"],
        "rule": "status", "reference_date": None})
    data = (ovr, analysed, dthdt, pd.Series(["S-00", "S-01", "S-02", "S-03"], dtype=TEXT))
    (records,), _ = _records(data, lm, frames=False)
    assert records["AVALC"].tolist() == ["Y", "N", "N", "N"]
    assert records["AVAL"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert records["ADT"].tolist()[:3] == [pd.Timestamp(day(6)), pd.Timestamp(day(3)),
                                           pd.Timestamp(day(8))]
    assert pd.isna(records["ADT"].iloc[3])

