"""Response rates with exact (Clopper–Pearson) confidence intervals.

The interval is scipy's ``binomtest(...).proportion_ci(method="exact")`` (Clopper C.J., Pearson
E.S., Biometrika 1934;26:404-413): the bounds invert the two one-sided binomial tests, so the
coverage is at least the nominal level. No distribution code is written here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

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
    but on scipy's binomial ufuncs directly and with :func:`_brentq` (scipy.optimize's root
    finder in the same arithmetic): binomtest also computes a p-value the report does not
    show and goes through the distribution wrappers at each step (about 25x slower), and
    importing scipy.optimize costs a quarter CPU second. Falls back to binomtest when scipy
    no longer has those ufuncs."""
    try:
        from scipy.special._ufuncs import _binom_cdf, _binom_sf
    except ImportError:                                 # pragma: no cover - other scipy
        from scipy.stats import binomtest

        ci = binomtest(x, n).proportion_ci(confidence_level=confidence, method="exact")
        return float(ci.low), float(ci.high)

    alpha = (1 - confidence) / 2
    low = 0.0 if x == 0 else _brentq(lambda p: float(_binom_sf(x - 1, n, p) - alpha), 0.0, 1.0)
    high = 1.0 if x == n else _brentq(lambda p: float(_binom_cdf(x, n, p) - alpha), 0.0, 1.0)
    return float(low), float(high)


_XTOL, _RTOL, _MAXITER = 2e-12, 4 * 2.220446049250313e-16, 100   # scipy.optimize defaults


def _brentq(f: Callable[[float], float], a: float, b: float) -> float:
    """A root of ``f`` in [a, b] (signs of f(a), f(b) differ) by Brent's method: the
    step of inverse quadratic extrapolation (secant when only two points are known) when it
    is short enough, else bisection. Written to do the floating-point operations of
    ``scipy.optimize.brentq`` (its C routine by Charles Harris, BSD-3-Clause) in the same
    order with its default tolerances, so that the roots are the same floats;
    ``tests/unit/test_analysis_stats.py`` compares the two over every x/n up to n = 250."""
    x_prev, x_now = a, b
    f_prev, f_now = f(x_prev), f(x_now)
    if math.isnan(f_prev) or math.isnan(f_now):
        raise ValueError("brentq: the function value is NaN")
    if f_prev * f_now > 0:
        raise ValueError("brentq: f(a) and f(b) must have different signs")
    if f_prev == 0:
        return x_prev
    if f_now == 0:
        return x_now
    x_far = f_far = step_prev = step = 0.0
    for _ in range(_MAXITER):
        if f_prev * f_now < 0:              # the root lies between x_prev and x_now
            x_far, f_far = x_prev, f_prev
            step_prev = step = x_now - x_prev
        if abs(f_far) < abs(f_now):         # keep the best estimate in x_now
            x_prev, x_now, x_far = x_now, x_far, x_now
            f_prev, f_now, f_far = f_now, f_far, f_now
        tol = (_XTOL + _RTOL * abs(x_now)) / 2
        half = (x_far - x_now) / 2
        if f_now == 0 or abs(half) < tol:
            return x_now
        if abs(step_prev) > tol and abs(f_now) < abs(f_prev):
            if x_prev == x_far:             # secant through the two points
                trial = -f_now * (x_now - x_prev) / (f_now - f_prev)
            else:                           # inverse quadratic through the three
                d_prev = (f_prev - f_now) / (x_prev - x_now)
                d_far = (f_far - f_now) / (x_far - x_now)
                trial = -f_now * (f_far * d_far - f_prev * d_prev) \
                    / (d_far * d_prev * (f_far - f_prev))
            bound_a, bound_b = abs(step_prev), 3 * abs(half) - tol
            if 2 * abs(trial) < (bound_a if bound_a < bound_b else bound_b):
                step_prev, step = step, trial
            else:
                step_prev = step = half
        else:
            step_prev = step = half
        x_prev, f_prev = x_now, f_now
        x_now += step if abs(step) > tol else (tol if half > 0 else -tol)
        f_now = f(x_now)
        if math.isnan(f_now):
            raise ValueError("brentq: the function value is NaN")
    raise RuntimeError(f"brentq: no convergence in {_MAXITER} iterations")


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
