"""Response rates with exact (Clopper–Pearson) confidence intervals.

The interval is scipy's ``binomtest(...).proportion_ci(method="exact")`` (Clopper C.J., Pearson
E.S., Biometrika 1934;26:404-413): the bounds invert the two one-sided binomial tests, so the
coverage is at least the nominal level. No distribution code is written here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from cdiscmap.analysis.text import clean_text

METHOD = ("Exact binomial (Clopper-Pearson 1934) confidence interval, scipy.stats.binomtest "
          "proportion_ci(method='exact')")


@dataclass(frozen=True)
class Rate:
    """x responders of n, the proportion and its two-sided exact interval (None when n = 0)."""

    x: int
    n: int
    estimate: float | None
    lower: float | None
    upper: float | None
    confidence: float

    def text(self) -> str:
        """``x/n (p %) [lo, hi]`` as tables show it (percentages with one decimal)."""
        if self.n == 0 or self.estimate is None:
            return "0/0"
        return (f"{self.x}/{self.n} ({100 * self.estimate:.1f}%) "
                f"[{100 * (self.lower or 0):.1f}, {100 * (self.upper or 0):.1f}]")


@lru_cache(maxsize=4096)
def exact_rate(x: int, n: int, confidence: float = 0.95) -> Rate:
    """Proportion x/n with its Clopper–Pearson interval at ``confidence`` (two-sided);
    cached: a report asks for the same x/n many times (empty cohorts, repeated endpoints)."""
    if n < 0 or x < 0 or x > n:
        raise ValueError(f"responders {x} of {n} is not a proportion")
    if n == 0:
        return Rate(0, 0, None, None, None, confidence)
    low, high = clopper_pearson(int(x), int(n), confidence)
    return Rate(int(x), int(n), x / n, low, high, confidence)


def clopper_pearson(x: int, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided exact interval of x/n: what ``scipy.stats.binomtest(x, n).proportion_ci(
    method="exact")`` computes (brentq on the binomial sf/cdf minus alpha/2), bit for bit,
    but on scipy's binomial ufuncs directly: binomtest also computes a p-value the report
    does not show and goes through the distribution wrappers at each brentq step (about 25x
    slower). Falls back to binomtest when scipy no longer has those ufuncs."""
    try:
        from scipy.special._ufuncs import _binom_cdf, _binom_sf
    except ImportError:                                 # pragma: no cover - other scipy
        from scipy.stats import binomtest

        ci = binomtest(x, n).proportion_ci(confidence_level=confidence, method="exact")
        return float(ci.low), float(ci.high)
    brentq = _brentq()
    alpha = (1 - confidence) / 2
    low = 0.0 if x == 0 else brentq(lambda p: _binom_sf(x - 1, n, p) - alpha, 0, 1)
    high = 1.0 if x == n else brentq(lambda p: _binom_cdf(x, n, p) - alpha, 0, 1)
    return float(low), float(high)


# scipy.optimize.brentq's defaults (scipy/optimize/_zeros_py.py: _xtol, _rtol, _iter)
_XTOL, _RTOL, _MAXITER = 2e-12, 4 * float(np.finfo(float).eps), 100


@lru_cache(maxsize=1)
def _brentq() -> Callable[[Callable[[float], float], float, float], float]:
    """``scipy.optimize.brentq(f, a, b)`` with its default tolerances: the same C routine
    (``scipy.optimize._zeros._brentq``), so the same floats, but loaded from its extension
    file alone when scipy.optimize is not imported yet. Importing the scipy.optimize package
    for it (scipy.linalg, the minimisers, ...) took 0.12 CPU-s of the report's process, after
    pandas and scipy.special (a tenth of a 1,000-subject report). Like brentq, a NaN value of
    ``f`` is an error. Falls back to scipy.optimize.brentq when the module cannot be loaded
    so (another scipy)."""
    import importlib.machinery
    import importlib.util
    import sys

    name = "scipy.optimize._zeros"
    try:
        zeros = sys.modules.get(name)
        if zeros is None and "scipy.optimize" not in sys.modules:
            scipy_spec = importlib.util.find_spec("scipy")
            folder = Path(scipy_spec.origin or "").parent / "optimize" if scipy_spec else None
            path = next((folder / f"_zeros{suffix}"
                         for suffix in importlib.machinery.EXTENSION_SUFFIXES
                         if folder is not None and (folder / f"_zeros{suffix}").is_file()),
                        None)
            spec = importlib.util.spec_from_file_location(name, path) if path else None
            if spec is not None and spec.loader is not None:
                zeros = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(zeros)
        routine = zeros._brentq if zeros is not None else None   # type: ignore[attr-defined]
        # the call as scipy.optimize.brentq makes it (another signature: the fallback)
        if routine is not None and routine(lambda v: v - 0.5, 0.0, 1.0, _XTOL, _RTOL,
                                           _MAXITER, (), False, True) != 0.5:
            routine = None                              # pragma: no cover - other scipy
    except (ImportError, OSError, AttributeError, TypeError, ValueError):  # pragma: no cover
        routine = None
    if routine is None:
        from scipy.optimize import brentq

        return brentq

    def brentq_c(f: Callable[[float], float], a: float, b: float) -> float:
        def checked(x: float) -> float:
            fx = f(x)
            if fx != fx:
                raise ValueError(f"The function value at x={x} is NaN; solver cannot "
                                 "continue.")
            return fx

        return routine(checked, a, b, _XTOL, _RTOL, _MAXITER, (), False, True)

    return brentq_c


def responders(records: pd.DataFrame, subjects: pd.Series, paramcd: str,
               values: list[str]) -> pd.Series:
    """Boolean per subject of ``subjects``: its ``paramcd`` record has AVALC in ``values``.

    A subject without a record of the parameter is a non-responder (counted in the
    denominator): the denominator is the analysis population, not the assessed subjects.
    One record per subject is expected for a derived response parameter; with several, the
    subject responds when any does (the parameter would be malformed; ADaM checks catch it)."""
    yes = responder_ids(records, paramcd, values)
    return pd.Series(np.asarray(subjects.astype(str).isin(yes), dtype=bool),
                     index=subjects.index)


class ParamRows:
    """Positions of each PARAMCD's records (``records["PARAMCD"] == paramcd``), from one
    factorisation of the column instead of a text comparison over every record per
    endpoint (a 10,000-subject ADRS has 190,000 records)."""

    def __init__(self, records: pd.DataFrame) -> None:
        self.codes, uniques = records["PARAMCD"].factorize()
        self.code_of = {v: i for i, v in enumerate(uniques) if isinstance(v, str)}

    def __call__(self, paramcd: str) -> np.ndarray:
        code = self.code_of.get(paramcd)
        return np.flatnonzero(self.codes == code) if code is not None \
            else np.array([], dtype=np.intp)


def responder_ids(records: pd.DataFrame, paramcd: str, values: list[str],
                  rows: np.ndarray | None = None) -> set[str]:
    """USUBJIDs whose ``paramcd`` record has AVALC in ``values`` (case and blanks ignored);
    computed once per endpoint, then looked up per group. ``rows``: the positions of the
    ``paramcd`` records when known (``ParamRows``)."""
    sel = records.loc[records["PARAMCD"] == paramcd, ["USUBJID", "AVALC"]] if rows is None \
        else records.iloc[rows, records.columns.get_indexer(["USUBJID", "AVALC"])]
    wanted = {v.upper() for v in values}
    hit = clean_text(sel["AVALC"], upper=True).isin(wanted).fillna(False)
    return set(sel.loc[hit.to_numpy(dtype=bool), "USUBJID"].astype(str))
