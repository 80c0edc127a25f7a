"""Work on distinct values: clinical columns repeat a few thousand values over millions of rows
(dates, codes, visit names), so text functions run once per distinct value, then broadcast."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype


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
    # one take with fill: missing rows get the result dtype's own null (NaN, NaT, NA), as a
    # mask would give, without a second pass over every row
    taken = pd.api.extensions.take(result.to_numpy(), codes, allow_fill=True) \
        if isinstance(result.dtype, np.dtype) else result.array.take(codes, allow_fill=True)
    return pd.Series(taken, index=values.index)


def text_objects(values: pd.Series | np.ndarray) -> np.ndarray:
    """The values as an object array of ``str`` and nulls, as ``astype("string")`` spells them.

    A ``string`` column gives its own array (no copy: callers must not write into it); a column
    already holding only text is used as it is; anything else goes through ``astype``."""
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python":
            return np.asarray(values.array, dtype=object)
        values = values.to_numpy(dtype=object) if values.dtype == object else \
            values.astype("string").to_numpy(dtype=object)
    if values.dtype != object or infer_dtype(values, skipna=True) not in ("string", "empty"):
        values = pd.array(values, dtype="string").to_numpy(dtype=object)
    return values


def clean_text_array(values: pd.Series | np.ndarray) -> pd.arrays.StringArray:
    """Text with surrounding blanks stripped and blank text null (SDTM null is empty text).

    Each distinct value is stripped once (raw exports repeat a few thousand values over
    millions of cells) and the result taken back by the factorisation codes: no pandas string
    method, whose per-cell cost on the Python-backed string dtype dominates a run otherwise."""
    codes, uniques = pd.factorize(text_objects(values), use_na_sentinel=True)
    table = np.array([*(u.strip() or pd.NA for u in uniques), pd.NA], dtype=object)
    return pd.arrays.StringArray(table[codes])       # code -1 (null) takes the last entry


def clean_text(values: pd.Series) -> pd.Series:
    """:func:`clean_text_array` as a Series on the same index (unnamed, as map_unique gives)."""
    return pd.Series(clean_text_array(values), index=values.index)
