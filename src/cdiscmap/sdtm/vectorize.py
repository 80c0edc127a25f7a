"""Work on distinct values: clinical columns repeat a few thousand values over millions of rows
(dates, codes, visit names), so text functions run once per distinct value, then broadcast."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def map_unique(values: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``fn`` applied to the distinct non-missing values, broadcast back to every row.

    ``fn`` takes and returns a Series aligned on its input; missing rows stay missing.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        empty = fn(pd.Series(values.iloc[:0]))
        return pd.Series(pd.array([pd.NA] * len(values), dtype=empty.dtype)
                         if empty.dtype != "float64" else np.full(len(values), np.nan),
                         index=values.index, dtype=empty.dtype)
    result = fn(pd.Series(uniques, dtype=values.dtype if values.dtype != object else "string"))
    taken = result.take(np.where(codes < 0, 0, codes))
    taken.index = values.index
    if (codes < 0).any():
        missing = pd.Series(codes < 0, index=values.index)
        taken = taken.mask(missing)
    return taken
