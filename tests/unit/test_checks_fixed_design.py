"""Trial summary's fixed-cost paths (issue 13) against the pandas code they replace."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.sdtm.trial_summary import _date_bound

_DTC = st.sampled_from(["2021-03-04", "2021-03-04T10:00", "2020-12", "2019", "", None,
                        "2021-03-05T08:30:00", "UNK"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_DTC, max_size=10))
def test_date_bound_is_the_pandas_min_and_max(values) -> None:
    text = pd.Series(pd.array(values, dtype="string"))
    dates = text.dropna().astype(str).str.slice(0, 10)
    assert _date_bound(text, min) == (dates.min() if len(dates) else None)
    assert _date_bound(text, max) == (dates.max() if len(dates) else None)
    objects = pd.Series(values, dtype=object)          # the pandas path, same answers
    assert _date_bound(objects, min) == _date_bound(text, min)


def test_date_bound_hand_checked() -> None:
    dm = pd.Series(pd.array(["2021-03-04T10:00", None, "2020-12-31", "2021-03-04"],
                            dtype="string"))
    assert _date_bound(dm, min) == "2020-12-31"
    assert _date_bound(dm, max) == "2021-03-04"
    assert _date_bound(pd.Series(pd.array([None], dtype="string")), min) is None
