"""The Clopper-Pearson bounds take scipy's brentq C routine without importing the
scipy.optimize package (``analysis.response._brentq``): the same floats as
``scipy.stats.binomtest(...).proportion_ci(method="exact")`` and ``scipy.optimize.brentq``.
"""

from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.analysis.response import _brentq, clopper_pearson


@settings(deadline=None, max_examples=300)
@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99, 0.999]))
def test_bounds_are_binomtest_exact_bit_for_bit(xn: tuple[int, int], confidence: float
                                                ) -> None:
    from scipy.stats import binomtest

    x, n = xn
    ci = binomtest(x, n).proportion_ci(confidence_level=confidence, method="exact")
    assert clopper_pearson(x, n, confidence) == (float(ci.low), float(ci.high))


@settings(deadline=None, max_examples=200)
@given(st.floats(-50, 50), st.floats(0.01, 10))
def test_brentq_is_scipy_brentq(root: float, scale: float) -> None:
    from scipy.optimize import brentq

    def f(v: float) -> float:
        return scale * (v - root) ** 3 + (v - root)

    assert _brentq()(f, -100, 100) == brentq(f, -100, 100)


def test_brentq_refuses_nan_and_same_signs_as_scipy() -> None:
    import pytest

    with pytest.raises(ValueError, match="NaN"):
        _brentq()(lambda v: float("nan") if v > 0.5 else v - 0.75, 0, 1)
    with pytest.raises(ValueError, match="different signs"):
        _brentq()(lambda v: v + 1, 0, 1)


def test_bounds_do_not_import_scipy_optimize() -> None:
    # a fresh interpreter (this one may have imported scipy.optimize already)
    code = ("import sys, json\n"
            "from cdiscmap.analysis.response import clopper_pearson\n"
            "bounds = [clopper_pearson(26, 30, 0.95), clopper_pearson(1, 7, 0.9)]\n"
            "imported = 'scipy.optimize' in sys.modules\n"
            # scipy.optimize (and scipy.stats) imported afterwards still work
            "from scipy.stats import binomtest\n"
            "ci = binomtest(26, 30).proportion_ci(confidence_level=0.95, method='exact')\n"
            "assert (float(ci.low), float(ci.high)) == bounds[0]\n"
            "print(json.dumps([bounds, imported]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    bounds, imported = json.loads(out.splitlines()[-1])
    assert imported is False
    # 26/30: 69.3 %-96.2 % (test_analysis_stats); the same floats as in this process
    assert [tuple(b) for b in bounds] == [clopper_pearson(26, 30, 0.95),
                                         clopper_pearson(1, 7, 0.9)]
    assert (round(100 * bounds[0][0], 1), round(100 * bounds[0][1], 1)) == (69.3, 96.2)
