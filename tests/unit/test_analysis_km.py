"""The report's Kaplan–Meier numbers are computed on numpy arrays (no lifelines at run time);
they must be the floats lifelines' KaplanMeierFitter gives, bit for bit (cells.json, the tables
and the figures are compared byte for byte between versions)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.analysis.survival import DAYS_PER_MONTH, KmSummary, kaplan_meier


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def lifelines_km(durations_days: np.ndarray, events: np.ndarray, landmarks: list[float],
                 confidence: float = 0.95) -> KmSummary:
    """The report's KM as it was computed with lifelines (the oracle)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    t = np.asarray(durations_days, dtype=float) / DAYS_PER_MONTH
    e = np.asarray(events, dtype=bool)
    kmf = KaplanMeierFitter(alpha=1 - confidence).fit(t, e)
    ci = kmf.confidence_interval_survival_function_
    med = median_survival_times(ci)
    surv = kmf.survival_function_.iloc[:, 0]
    times = surv.index.to_numpy(dtype=float)
    rates = {}
    for m in landmarks:
        if m > t.max():
            rates[m] = (None, None, None)
            continue
        i = int(np.searchsorted(times, m, side="right") - 1)
        rates[m] = (float(surv.iloc[i]), _finite(ci.iloc[i, 0]), _finite(ci.iloc[i, 1]))
    return KmSummary(len(t), int(e.sum()), int((~e).sum()), _finite(kmf.median_survival_time_),
                     _finite(med.iloc[0, 0]), _finite(med.iloc[0, 1]), rates, times,
                     surv.to_numpy(dtype=float), t, e)


def assert_same(mine: KmSummary, ref: KmSummary) -> None:
    assert (mine.n, mine.events, mine.censored) == (ref.n, ref.events, ref.censored)
    assert (mine.median, mine.median_lower, mine.median_upper) == \
        (ref.median, ref.median_lower, ref.median_upper)
    assert mine.rates == ref.rates                       # exact float equality
    assert mine.timeline.tobytes() == ref.timeline.tobytes()
    assert mine.survival.tobytes() == ref.survival.tobytes()


def test_hand_example_with_ties_and_its_greenwood_interval() -> None:
    # months 1, 1, 2+, 3, 3+, 5: at 1, 6 at risk, 2 events: S = 4/6; at 3, 3 at risk, 1 event:
    # S = 4/6 * 2/3 = 4/9; Greenwood Var(log S) at 3 = 2/(6*4) + 1/(3*2) = 1/12 + 1/6 = 1/4
    t = np.array([1, 1, 2, 3, 3, 5]) * DAYS_PER_MONTH
    e = np.array([1, 1, 0, 1, 0, 0], dtype=bool)
    km = kaplan_meier(t, e, [1.0, 3.0, 4.0])
    assert km.timeline.tolist() == pytest.approx([0.0, 1.0, 2.0, 3.0, 5.0])
    assert km.rates[1.0][0] == pytest.approx(4 / 6)
    assert km.rates[4.0][0] == pytest.approx(4 / 9)
    s, v, z = 4 / 9, 1 / 4, 1.959963984540054
    lo = math.exp(-math.exp(math.log(-math.log(s)) - z * math.sqrt(v) / math.log(s)))
    hi = math.exp(-math.exp(math.log(-math.log(s)) + z * math.sqrt(v) / math.log(s)))
    assert km.rates[3.0][1] == pytest.approx(lo) and km.rates[3.0][2] == pytest.approx(hi)
    assert km.median == pytest.approx(3.0)         # first time S <= 0.5
    assert_same(km, lifelines_km(t, e, [1.0, 3.0, 4.0]))


def test_all_events_curve_reaches_zero_and_bounds_stay_defined() -> None:
    t = np.array([10.0, 20.0, 30.0])
    e = np.ones(3, dtype=bool)
    km = kaplan_meier(t, e, [0.5])
    assert km.survival[-1] == 0.0
    assert_same(km, lifelines_km(t, e, [0.5]))


def test_no_event_median_not_estimable() -> None:
    km = kaplan_meier(np.array([30.0, 60.0]), np.zeros(2, dtype=bool), [1.0])
    assert (km.median, km.median_lower, km.median_upper) == (None, None, None)
    assert km.rates[1.0] == (1.0, 1.0, 1.0)
    assert_same(km, lifelines_km(np.array([30.0, 60.0]), np.zeros(2, dtype=bool), [1.0]))


def test_non_finite_durations_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        kaplan_meier(np.array([1.0, np.nan]), np.array([True, False]), [])


@settings(deadline=None, max_examples=150)
@given(st.lists(st.tuples(st.integers(0, 400), st.booleans()), min_size=1, max_size=60),
       st.sampled_from([0.8, 0.9, 0.95]))
def test_bit_identical_to_lifelines_on_random_data(rows: list[tuple[int, bool]],
                                                   confidence: float) -> None:
    t = np.array([d for d, _ in rows], dtype=float)      # days, ties likely, 0 allowed
    e = np.array([ev for _, ev in rows], dtype=bool)
    landmarks = [0.0, 1.0, 3.0, 6.0, 12.0]
    assert_same(kaplan_meier(t, e, landmarks, confidence),
                lifelines_km(t, e, landmarks, confidence))


def test_bit_identical_to_lifelines_on_a_large_cohort() -> None:
    rng = np.random.default_rng(13)
    t = np.ceil(rng.exponential(300.0, 5000))
    e = rng.random(5000) < 0.7
    landmarks = [6.0, 12.0, 24.0]
    assert_same(kaplan_meier(t, e, landmarks), lifelines_km(t, e, landmarks))
