"""Work on distinct values: clinical columns repeat a few thousand values over millions of rows
(dates, codes, visit names), so text functions run once per distinct value, then broadcast."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

# Factorisations of text arrays, by the array's identity (checked through a weak reference),
# while a map_study run holds :func:`codes_cache` open: the same column is asked for its
# distinct values by several steps (blank → null, ASCII, 200-byte limit, dates), and
# factorising is what every one of them costs. Only arrays nobody writes into afterwards are
# looked up: a block's derived variables and a domain's finished columns.
_CODES: ContextVar[dict[int, tuple[weakref.ref, np.ndarray, np.ndarray]] | None] = \
    ContextVar("cdiscmap_codes", default=None)


@contextmanager
def codes_cache() -> Iterator[None]:
    """Remember factorisations of text arrays inside the block (a run); nested use shares."""
    token = _CODES.set({}) if _CODES.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _CODES.reset(token)


def _remember(arr: np.ndarray, codes: np.ndarray, uniques: np.ndarray) -> None:
    cache = _CODES.get()
    if cache is None:
        return
    key = id(arr)

    def forget(ref: weakref.ref, key: int = key) -> None:
        entry = cache.get(key)
        if entry is not None and entry[0] is ref:
            del cache[key]

    cache[key] = (weakref.ref(arr, forget), codes, uniques)


def coded(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of text values (codes, distinct ``str`` values; code -1: null),
    remembered for a ``string`` column's own array while :func:`codes_cache` is open."""
    arr = text_objects(values)
    cache = _CODES.get()
    if cache is not None:
        entry = cache.get(id(arr))
        if entry is not None and entry[0]() is arr:
            return entry[1], entry[2]
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    if cache is not None and isinstance(values.dtype, pd.StringDtype):
        _remember(arr, codes, uniques)
    return codes, uniques


def map_unique(values: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``fn`` applied to the distinct non-missing values, broadcast back to every row.

    ``fn`` takes and returns a Series aligned on its input; missing rows stay missing.
    """
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python":
        codes, uniques = coded(values)
    else:
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
    codes, uniques = coded(values)
    cleaned = np.array([u.strip() or pd.NA for u in uniques], dtype=object)
    # the cleaned values factorised in turn (" a" and "a" are one value, blank is null), so
    # the result's own factorisation is known without another pass over the rows
    inner, table = pd.factorize(cleaned, use_na_sentinel=True)
    result_codes = np.append(inner, -1)[codes]      # code -1 (null) takes the last entry
    result = np.append(table, pd.NA).astype(object)[result_codes]
    _remember(result, result_codes, table)
    return pd.arrays.StringArray(result)


def clean_text(values: pd.Series) -> pd.Series:
    """:func:`clean_text_array` as a Series on the same index (unnamed, as map_unique gives)."""
    return pd.Series(clean_text_array(values), index=values.index)
