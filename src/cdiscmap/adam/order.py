"""Record order of the BDS datasets: one stable sort of a packed integer key.

``np.lexsort`` sorts once per key (five passes for ADRS' USUBJID, PARAMCD, ADT, AVISITN,
SRCSEQ). The keys' ranks (integer codes in value order, missing last) packed into one int64
give the same order with one stable argsort, when the product of the keys' distinct counts
fits; otherwise the lexsort itself is used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_LIMIT = 1 << 62


def _ranks(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Rank of each value among the distinct values (ascending; NaN/NaT after all) and the
    number of ranks; equal values (0.0 and -0.0 too) share a rank, as a sort compares them."""
    if values.dtype.kind in "iub" and len(values):
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high < _LIMIT:
            return values.astype(np.int64, copy=False), high + 1
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    return np.where(codes < 0, len(uniques), codes).astype(np.int64), len(uniques) + 1


def stable_order(keys: list[np.ndarray]) -> np.ndarray:
    """``np.lexsort(keys)``: the LAST key sorts first, NaN/NaT after all values of a key,
    ties in record order (stable)."""
    if not keys or not len(keys[0]):
        return np.lexsort(keys) if keys else np.zeros(0, dtype=np.intp)
    packed, span = None, 1
    for values in reversed(keys):          # the primary key in the highest digits
        ranks, count = _ranks(np.asarray(values))
        span *= max(count, 1)
        if span >= _LIMIT:
            return np.lexsort(keys)
        packed = ranks if packed is None else packed * count + ranks
    return np.argsort(packed, kind="stable")


def numbered(sorted_groups: np.ndarray) -> np.ndarray:
    """1..n within each run of equal values of ``sorted_groups`` (ASEQ of sorted records)."""
    n = len(sorted_groups)
    if not n:
        return np.zeros(0, dtype="float64")
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    return (np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n])) + 1).astype("float64")
