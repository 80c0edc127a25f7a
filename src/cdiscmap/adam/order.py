"""Record order of the BDS datasets: one stable sort of a packed integer key
(:func:`cdiscmap.sdtm.vectorize.stable_order`; ``np.lexsort`` sorts once per key, five passes
for ADRS' USUBJID, PARAMCD, ADT, AVISITN, SRCSEQ), and record numbers within groups.
"""

from __future__ import annotations

import numpy as np

from cdiscmap.sdtm.vectorize import stable_order

__all__ = ["numbered", "stable_order"]

def numbered(sorted_groups: np.ndarray) -> np.ndarray:
    """1..n within each run of equal values of ``sorted_groups`` (ASEQ of sorted records)."""
    n = len(sorted_groups)
    if not n:
        return np.zeros(0, dtype="float64")
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    return (np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n])) + 1).astype("float64")
