"""ADTTE's missing-value columns (made only where a source has no date)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.adam.adtte import _missing


def test_missing_dates_and_numbers_on_the_subjects_index() -> None:
    ids = pd.Series(["S1", "S2", "S3"], dtype="string", index=[4, 5, 6])
    dates = _missing(ids, "datetime64[ns]")
    assert dates.dtype == "datetime64[ns]" and dates.index.tolist() == [4, 5, 6]
    assert dates.isna().all()
    pd.testing.assert_series_equal(dates, pd.Series(pd.NaT, index=ids.index,
                                                    dtype="datetime64[ns]"))
    numbers = _missing(ids, "float64")
    pd.testing.assert_series_equal(numbers, pd.Series(np.nan, index=ids.index))
    assert len(_missing(ids.iloc[:0], "float64")) == 0
