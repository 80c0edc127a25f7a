"""Trimmed (and upper-cased) text of an ADaM column, worked out once per distinct value.

``series.astype("string").str.strip().str.upper()`` calls Python string methods on every row;
a 10,000-subject ADRS has 190,000 rows but a few dozen distinct AVALC/PARAMCD values, so the
analysis tables factorise first and clean the distinct values (same result, same dtype).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def clean_text(values: pd.Series, *, upper: bool = False) -> pd.Series:
    """``values.astype("string").str.strip()`` (then ``.str.upper()`` with ``upper``): same
    values, index, name and dtype; missing stays <NA>."""
    text = values.astype("string")
    codes, uniques = text.array.factorize(use_na_sentinel=True)
    cleaned = pd.Series(uniques, dtype=text.dtype).str.strip()
    if upper:
        cleaned = cleaned.str.upper()
    out = cleaned.array.take(np.asarray(codes, dtype=np.intp), allow_fill=True)
    return pd.Series(out, index=values.index, name=values.name, dtype=text.dtype)


def text_eq(values: pd.Series, wanted: str, *, upper: bool = False) -> np.ndarray:
    """Boolean array: the trimmed (upper-cased) value equals ``wanted`` (missing → False)."""
    return clean_text(values, upper=upper).eq(wanted).fillna(False).to_numpy(dtype=bool)


def as_dates(values: pd.Series) -> pd.Series:
    """``pd.to_datetime(values, errors="coerce")``; dates read from XPT (and the run's ADaM
    frames) are datetime64[ns] already, and to_datetime would still look at them one by one
    (its cache check)."""
    return values if values.dtype == "datetime64[ns]" else pd.to_datetime(values,
                                                                           errors="coerce")
