"""Trimmed (and upper-cased) text of an ADaM column, worked out once per distinct value.

``series.astype("string").str.strip().str.upper()`` calls Python string methods on every row;
a 10,000-subject ADRS has 190,000 rows but a few dozen distinct AVALC/PARAMCD values, so the
analysis tables factorise first and clean the distinct values (same result, same dtype).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _distinct(values: pd.Series) -> tuple[pd.api.extensions.ExtensionDtype, np.ndarray,
                                            pd.Series]:
    """(the "string" dtype, each row's code (-1: missing), the distinct values as text) of
    ``values.astype("string")``. The codes come from factorising the array's own object
    values (its missing ones are <NA>): the string array's ``factorize`` copies them and
    replaces every <NA> first, which took as long again (a 190,000-row ADRS column)."""
    text = values.astype("string")
    codes, uniques = pd.factorize(np.asarray(text.array, dtype=object), use_na_sentinel=True)
    return text.dtype, np.asarray(codes, dtype=np.intp), pd.Series(uniques, dtype=text.dtype)


def _cleaned(uniques: pd.Series, upper: bool) -> pd.Series:
    cleaned = uniques.str.strip()
    return cleaned.str.upper() if upper else cleaned


def clean_text(values: pd.Series, *, upper: bool = False) -> pd.Series:
    """``values.astype("string").str.strip()`` (then ``.str.upper()`` with ``upper``): same
    values, index, name and dtype; missing stays <NA>."""
    dtype, codes, uniques = _distinct(values)
    out = _cleaned(uniques, upper).array.take(codes, allow_fill=True)
    return pd.Series(out, index=values.index, name=values.name, dtype=dtype)


def text_eq(values: pd.Series, wanted: str, *, upper: bool = False) -> np.ndarray:
    """Boolean array: the trimmed (upper-cased) value equals ``wanted`` (missing → False);
    compared once per distinct value, not per row."""
    return text_in(values, {wanted}, upper=upper)


def text_in(values: pd.Series, wanted: set[str], *, upper: bool = False) -> np.ndarray:
    """Boolean array: the trimmed (upper-cased) value is one of ``wanted`` (missing → False);
    one factorisation for all of them (``text_eq`` per value factorises again each time)."""
    return CleanCodes(values, upper=upper).mask(wanted)


class CleanCodes:
    """The rows of each trimmed (upper-cased) value of a column, from one factorisation:
    ``text_eq`` per value factorises the column again each time (a table asking for six
    ADEX parameters compared 95,000 texts six times at 10,000 subjects)."""

    def __init__(self, values: pd.Series, *, upper: bool = False) -> None:
        _, self.codes, uniques = _distinct(values)
        self.cleaned = _cleaned(uniques, upper)

    def mask(self, wanted: set[str]) -> np.ndarray:
        """Boolean array: the row's cleaned value is one of ``wanted`` (missing → False)."""
        hit = self.cleaned.isin(wanted).fillna(False).to_numpy(dtype=bool)
        return np.append(hit, False)[self.codes]    # code -1 (missing) → the False at the end

    def rows(self, wanted: str) -> np.ndarray:
        """Positions of the rows whose cleaned value is ``wanted`` (missing: none)."""
        return np.flatnonzero(self.mask({wanted}))


def as_dates(values: pd.Series) -> pd.Series:
    """``pd.to_datetime(values, errors="coerce")``; dates read from XPT (and the run's ADaM
    frames) are datetime64[ns] already, and to_datetime would still look at them one by one
    (its cache check)."""
    return values if values.dtype == "datetime64[ns]" else pd.to_datetime(values,
                                                                           errors="coerce")
