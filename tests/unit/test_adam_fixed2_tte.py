"""ADTTE's ADRS sources read from the selected rows' arrays (``selected_rows`` and
``_pick_by_code(rows=...)``) instead of a copy of the selected records: the same rows as
``select_records`` and the same dates and SRCSEQ as ``_pick_by_code`` of that copy."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.adam.adtte import _pick_by_code
from cdiscmap.adam.dtypes import DATES, FLOAT, TEXT
from cdiscmap.adam.io import select_records, selected_rows

IDS = ["S1", "S2", "S3", "S4"]
SUBJECTS = pd.CategoricalDtype(IDS)


@st.composite
def responses(draw):
    n = draw(st.integers(0, 20))
    lists = lambda s: st.lists(s, min_size=n, max_size=n)  # noqa: E731
    subject = draw(lists(st.integers(0, len(IDS) - 1)))
    day = draw(lists(st.one_of(st.none(), st.integers(0, 9))))
    seq = draw(lists(st.one_of(st.none(), st.integers(1, 5))))
    avalc = draw(lists(st.sampled_from(["CR", "PR", "SD", "PD", "NE", " pd", None])))
    return pd.DataFrame({
        "USUBJID": pd.Categorical.from_codes(np.array(subject, dtype=np.int8), dtype=SUBJECTS),
        "ADT": np.array([np.datetime64("NaT", "ns") if d is None else
                         np.datetime64("2021-03-01", "ns") + np.timedelta64(d, "D")
                         for d in day], dtype=DATES),
        "AVALC": pd.array(avalc, dtype=TEXT),
        "SRCSEQ": np.array([np.nan if s is None else s for s in seq], dtype=FLOAT),
    })


@settings(max_examples=300)
@given(frame=responses(), where=st.sampled_from([{}, {"AVALC": "PD"},
                                                 {"AVALC": ["CR", "PR", "SD"]},
                                                 {"NOSUCH": "X"}]),
       pick=st.sampled_from(["first", "last"]),
       ids=st.lists(st.sampled_from([*IDS, "S9"]), max_size=6))
def test_picked_from_the_rows_is_picked_from_the_copy(frame, where, pick, ids):
    rows = np.flatnonzero(selected_rows(frame, where))
    records, _ = select_records(frame, where)
    assert rows.tolist() == [frame.index.get_loc(i) for i in records.index]
    keys = pd.Series(ids, dtype=TEXT)
    got_dt, got_seq = _pick_by_code(frame, keys, pick, rows)
    want_dt, want_seq = _pick_by_code(records, keys, pick)
    pd.testing.assert_series_equal(got_dt, want_dt, check_exact=True)
    pd.testing.assert_series_equal(got_seq, want_seq, check_exact=True)


def test_hand_checked_pick():
    frame = pd.DataFrame({
        "USUBJID": pd.Categorical(["S1", "S1", "S2", "S1"], dtype=SUBJECTS),
        "ADT": np.array(["2021-03-05", "2021-03-02", "2021-03-04", "2021-03-09"],
                        dtype="datetime64[ns]"),
        "AVALC": pd.array(["PD", "PD", "SD", "SD"], dtype=TEXT),
        "SRCSEQ": np.array([3.0, 1.0, 2.0, 4.0])})
    rows = np.flatnonzero(selected_rows(frame, {"AVALC": "PD"}))
    assert rows.tolist() == [0, 1]
    dt, seq = _pick_by_code(frame, pd.Series(["S1", "S2"], dtype=TEXT), "first", rows)
    assert dt.tolist()[0] == pd.Timestamp("2021-03-02") and pd.isna(dt.iloc[1])
    assert seq.tolist()[0] == 1.0 and np.isnan(seq.iloc[1])
