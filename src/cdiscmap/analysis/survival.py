"""Time to event from ADTTE: Kaplan–Meier, log-rank test and Cox hazard ratio (lifelines).

ADTTE AVAL is in days (ADT - STARTDT + 1, see ``cdiscmap.adam.adtte``) and CNSR = 0 is an event
(ADaMIG 1.3 §3.3.6 / ADaM BDS for TTE). Tables show months of 30.4375 days (365.25 / 12).

- Kaplan–Meier product-limit estimator (Kaplan & Meier, JASA 1958) with the pointwise log(-log)
  Greenwood interval lifelines uses by default (Kalbfleisch & Prentice 2002), computed here on
  numpy arrays to lifelines' floats (``kaplan_meier``); lifelines is imported for the
  comparisons only.
- Median and its interval: the first time the curve, and each interval bound, reaches 0.5
  (Brookmeyer & Crowley, Biometrics 1982, via ``lifelines.utils.median_survival_times``).
- Log-rank test (Mantel 1966; Peto & Peto 1972), ``lifelines.statistics.logrank_test``.
- Cox proportional hazards model (Cox 1972), ``lifelines.CoxPHFitter``, one indicator of the
  compared group against the reference group, Wald interval of the hazard ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 365.25 / 12
METHODS = {
    "km": "Kaplan-Meier (lifelines KaplanMeierFitter), pointwise 95% CI log(-log) Greenwood; "
          "median CI Brookmeyer-Crowley",
    "logrank": "Log-rank test (lifelines.statistics.logrank_test)",
    "cox": "Cox proportional hazards (lifelines CoxPHFitter, Breslow/Efron ties as lifelines), "
           "Wald 95% CI of the hazard ratio",
}


@dataclass(frozen=True)
class KmSummary:
    """One Kaplan–Meier fit: counts, median (months) with CI, landmark rates with CIs."""

    n: int
    events: int
    censored: int
    median: float | None
    median_lower: float | None
    median_upper: float | None
    rates: dict[float, tuple[float | None, float | None, float | None]]   # months → (S, lo, hi)
    timeline: np.ndarray       # months, for the figure
    survival: np.ndarray
    durations: np.ndarray      # months
    observed: np.ndarray       # True = event


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def kaplan_meier(durations_days: np.ndarray, events: np.ndarray,
                 landmarks_months: list[float], confidence: float = 0.95) -> KmSummary:
    """KM fit on durations in days; summaries in months (``DAYS_PER_MONTH``).

    The numbers are those of ``lifelines.KaplanMeierFitter(alpha=1 - confidence).fit``, bit
    for bit (the same float operations in the same order, see :func:`_km_curve`), computed on
    numpy arrays: lifelines builds its event table with pandas group-bys and imports
    scipy.stats (together about a CPU second per run). ``tests/unit/test_analysis_km.py``
    compares the two on random data."""
    t = np.asarray(durations_days, dtype=float) / DAYS_PER_MONTH
    e = np.asarray(events, dtype=bool)
    if len(t) == 0:
        return KmSummary(0, 0, 0, None, None, None,
                         {m: (None, None, None) for m in landmarks_months},
                         np.array([0.0]), np.array([1.0]), t, e)
    if not np.isfinite(t).all():
        raise ValueError("Kaplan-Meier durations must be finite")
    times, surv, lower, upper = _km_curve(t, e, 1 - confidence)
    rates = {}
    for m in landmarks_months:
        if m > t.max():
            rates[m] = (None, None, None)       # no one followed that long: not estimable
            continue
        i = int(np.searchsorted(times, m, side="right") - 1)
        rates[m] = (float(surv[i]), _finite(lower[i]), _finite(upper[i]))
    return KmSummary(
        n=len(t), events=int(e.sum()), censored=int((~e).sum()),
        median=_finite(_first_at_or_below(times, surv, 0.5)),
        median_lower=_finite(_first_at_or_below(times, lower, 0.5)),
        median_upper=_finite(_first_at_or_below(times, upper, 0.5)),
        rates=rates, timeline=times, survival=surv, durations=t, observed=e)


def _km_curve(t: np.ndarray, e: np.ndarray, alpha: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Timeline, survival and the pointwise log(-log) Greenwood bounds of a KM fit, as
    lifelines 0.30 computes them (``survival_table_from_events``, ``_additive_estimate``,
    ``KaplanMeierFitter._bounds``):

    - the timeline is the distinct times plus the entry time min(0, first time) (everyone
      enters there, before anyone leaves);
    - at each time, ``at_risk`` = n minus those removed at earlier times, ``d`` the events;
    - log S = cumsum(log(at_risk - d) - log(at_risk)); Var = cumsum(d / (at_risk (at_risk -
      d))), infinite terms (everyone left has the event) taken as 0;
    - with v = log S and z the standard normal quantile of 1 - alpha / 2 (``ndtri``, what
      ``scipy.stats.norm.ppf`` returns), the bounds are exp(-exp(log(-v) -/+ z sqrt(Var) /
      v)), undefined values (S = 1) set to 1.
    """
    from scipy.special import ndtri

    n = len(t)
    times, inverse = np.unique(t, return_inverse=True)
    removed = np.bincount(inverse, minlength=len(times)).astype(np.int64)
    deaths = np.bincount(inverse, weights=e.astype(float), minlength=len(times)) \
        .astype(np.int64)
    entry = min(0.0, float(times[0]))
    if times[0] != entry:                   # the entry row: no one removed there
        times = np.concatenate([[entry], times])
        removed = np.concatenate([[0], removed])
        deaths = np.concatenate([[0], deaths])
    at_risk = n - np.concatenate([[0], np.cumsum(removed)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.cumsum(np.log(at_risk - deaths) - np.log(at_risk))
        pop = at_risk.astype(np.uint64)
        var = deaths / (pop * (pop - deaths))
        var[var == np.inf] = 0
        var = np.cumsum(var)
        surv = np.exp(log_s)
        z = ndtri(1 - alpha / 2)
        v = np.log(surv)
        lower = np.exp(-np.exp(np.log(-v) - z * np.sqrt(var) / v))
        upper = np.exp(-np.exp(np.log(-v) + z * np.sqrt(var) / v))
    lower[np.isnan(lower)] = 1.0
    upper[np.isnan(upper)] = 1.0
    return times, surv, lower, upper


def _first_at_or_below(times: np.ndarray, curve: np.ndarray, q: float) -> float:
    """The first time a (non-increasing) curve is at or below ``q``; inf when it stays above
    (lifelines ``qth_survival_time``: a binary search on -curve)."""
    if curve[-1] > q:
        return math.inf
    return float(times[np.searchsorted(-curve, -q, side="left")])


@dataclass(frozen=True)
class Comparison:
    """Log-rank test and Cox hazard ratio of ``group`` against ``reference``."""

    group: str
    reference: str
    chi2: float
    p_value: float
    hr: float | None
    hr_lower: float | None
    hr_upper: float | None


def compare(t_ref: np.ndarray, e_ref: np.ndarray, t_grp: np.ndarray, e_grp: np.ndarray,
            group: str, reference: str, confidence: float = 0.95) -> Comparison:
    """Log-rank and Cox HR (group vs reference); durations in any one unit."""
    from lifelines import CoxPHFitter
    from lifelines.statistics import logrank_test

    lr = logrank_test(t_grp, t_ref, event_observed_A=e_grp, event_observed_B=e_ref)
    frame = pd.DataFrame({
        "T": np.concatenate([np.asarray(t_ref, float), np.asarray(t_grp, float)]),
        "E": np.concatenate([np.asarray(e_ref, bool), np.asarray(e_grp, bool)]).astype(int),
        "G": np.concatenate([np.zeros(len(t_ref)), np.ones(len(t_grp))]),
    })
    hr = lo = hi = None
    if frame["E"].sum() > 0 and len(t_ref) and len(t_grp):
        try:
            cph = CoxPHFitter(alpha=1 - confidence).fit(frame, duration_col="T", event_col="E")
            row = cph.summary.loc["G"]
            hr = _finite(row["exp(coef)"])
            lo = _finite(row[f"exp(coef) lower {100 * confidence:g}%"])
            hi = _finite(row[f"exp(coef) upper {100 * confidence:g}%"])
        except Exception:      # lifelines ConvergenceError (e.g. no events in one group)
            hr = lo = hi = None
        # monotone likelihood (every event of one group after the other group's last time,
        # Heinze & Schemper, Biometrics 2002): the MLE runs to 0 or infinity and an interval
        # bound is 0 or infinite; such an HR is not estimable, not "0.00"
        if hr is not None and (lo is None or hi is None or lo == 0.0):
            hr = lo = hi = None
    return Comparison(group, reference, float(lr.test_statistic), float(lr.p_value),
                      hr, lo, hi)


def at_risk(durations: np.ndarray, ticks: np.ndarray) -> list[int]:
    """Numbers at risk at each tick: subjects whose time is at least the tick."""
    d = np.asarray(durations, dtype=float)
    return [int((d >= x).sum()) for x in np.asarray(ticks, dtype=float)]
