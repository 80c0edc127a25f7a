"""Accounting's Counter-based drop-reason counts and one-pass summary against the pandas
expressions they replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.sdtm.accounting import Accounting, FormAccount


def _old_dropped_by_reason(acc: FormAccount) -> dict[str, int]:
    reasons = pd.Series(acc.reason[~acc.used], dtype="object").fillna(
        "not used by any mapping block")
    return {str(k): int(v) for k, v in sorted(reasons.value_counts().items())}


_REASON = st.one_of(st.none(), st.just(float("nan")),
                    st.sampled_from(["blank key [B1]", "no subject", "a", "b [x]",
                                     "not used by any mapping block"]))


@settings(deadline=None, max_examples=200)
@given(st.lists(st.tuples(st.booleans(), _REASON), max_size=40))
def test_dropped_by_reason_as_value_counts(cells: list[tuple[bool, object]]) -> None:
    used = np.array([u for u, _ in cells], dtype=bool)
    reason = np.empty(len(cells), dtype=object)
    reason[:] = [r for _, r in cells]
    acc = FormAccount("F", "f.csv", len(cells), used, reason)
    assert acc.dropped_by_reason() == _old_dropped_by_reason(acc)


def test_summary_hand_checked() -> None:
    a = Accounting()
    a.register_form("ae", "ae.csv", 5)
    a.use("ae", pd.Series([1, 2]), "B1")
    a.drop("ae", pd.Series([3, 4]), "blank key", "B2")
    a.drop("ae", pd.Series([4]), "later", "")          # first reason kept
    a.unlisted_files["x.csv"] = 3
    table, drops, balanced = a.summary()
    assert table.to_dict("records") == [
        {"file": "ae.csv", "form": "ae", "read": 5, "used": 2, "dropped": 3, "balanced": True},
        {"file": "x.csv", "form": "(not in study.yaml)", "read": 3, "used": 0, "dropped": 3,
         "balanced": True}]
    assert drops.to_dict("records") == [
        {"file": "ae.csv", "reason": "blank key [B2]", "rows": 2},
        {"file": "ae.csv", "reason": "not used by any mapping block", "rows": 1},
        {"file": "x.csv", "reason": "file not listed in study.yaml forms", "rows": 3}]
    assert balanced is True
    pd.testing.assert_frame_equal(a.table(), table)
    pd.testing.assert_frame_equal(a.drops(), drops)
    assert a.balanced is True
    assert Accounting().summary()[2] is True
