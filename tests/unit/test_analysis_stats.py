"""Response CIs, Simon designs, Kaplan–Meier and log-rank against independent numbers."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from cdiscmap.analysis.response import exact_rate
from cdiscmap.analysis.simon import describe, search, status
from cdiscmap.analysis.survival import DAYS_PER_MONTH, compare, kaplan_meier


def _upper_tail(x: int, n: int, p: float) -> float:
    """P(X >= x), X ~ Bin(n, p), from math.comb (no scipy)."""
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(x, n + 1))


def test_clopper_pearson_26_of_30_inverts_the_binomial_tails() -> None:
    # the seed review's ORR 26/30 = 86.7 %: its exact 95 % CI is 69.3 %-96.2 %
    rate = exact_rate(26, 30)
    assert rate.estimate == pytest.approx(26 / 30)
    assert round(100 * rate.lower, 1) == 69.3
    assert round(100 * rate.upper, 1) == 96.2
    # definition (Clopper & Pearson 1934): P(X >= 26 | lower) = 0.025 = P(X <= 26 | upper)
    assert _upper_tail(26, 30, rate.lower) == pytest.approx(0.025, abs=1e-9)
    assert 1 - _upper_tail(27, 30, rate.upper) == pytest.approx(0.025, abs=1e-9)
    assert rate.text() == "26/30 (86.7%) [69.3, 96.2]"


def test_clopper_pearson_closed_forms_at_zero_and_n() -> None:
    # x = 0: upper = 1 - (alpha/2)^(1/n); x = n: lower = (alpha/2)^(1/n)
    zero, full = exact_rate(0, 10), exact_rate(10, 10)
    assert zero.lower == 0.0 and zero.upper == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-12)
    assert full.upper == 1.0 and full.lower == pytest.approx(0.025 ** (1 / 10), abs=1e-12)
    assert exact_rate(0, 0).text() == "0/0"
    with pytest.raises(ValueError):
        exact_rate(3, 2)


def test_clopper_pearson_is_bit_identical_to_scipy_binomtest() -> None:
    # the report's numbers (cells.json) must not move: same floats as binomtest's exact CI
    from scipy.stats import binomtest

    from cdiscmap.analysis.response import clopper_pearson

    for n, confidence in [(1, 0.95), (7, 0.9), (30, 0.95), (53, 0.8), (1000, 0.95)]:
        for x in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            ci = binomtest(x, n).proportion_ci(confidence_level=confidence, method="exact")
            assert clopper_pearson(x, n, confidence) == (float(ci.low), float(ci.high)), (x, n)


# Simon (1989) Controlled Clinical Trials 10:1-10, Tables 1-2: p0, p1, alpha, beta →
# optimal (r1, n1, r, n, EN0, PET0), minimax (r1, n1, r, n, EN0, PET0)
SIMON_1989 = [
    ((0.10, 0.30, 0.10, 0.10), (1, 12, 5, 35, 19.8, 0.66), (1, 16, 4, 25, 20.4, 0.51)),
    ((0.05, 0.25, 0.05, 0.20), (0, 9, 2, 17, 12.0, 0.63), (0, 12, 2, 16, 13.8, 0.54)),
    ((0.10, 0.30, 0.05, 0.20), (1, 10, 5, 29, 15.0, 0.74), (1, 15, 5, 25, 19.5, 0.55)),
    ((0.20, 0.40, 0.05, 0.20), (3, 13, 12, 43, 20.6, 0.75), (4, 18, 10, 33, 22.3, 0.72)),
]


@pytest.mark.parametrize(("args", "optimal", "minimax"), SIMON_1989)
def test_simon_designs_match_the_published_tables(args, optimal, minimax) -> None:
    opt, mm = search(*args)
    for design, want in ((opt, optimal), (mm, minimax)):
        assert (design.r1, design.n1, design.r, design.n) == want[:4]
        assert round(design.en0, 1) == want[4]
        assert design.pet0 == pytest.approx(want[5], abs=0.006)
        assert design.alpha <= args[2] and design.power >= 1 - args[3]


def _brute_force_simon(p0: float, p1: float, alpha: float, beta: float, nmax: int
                       ) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """(r1, n1, r, n) of the optimal and minimax designs by trying every design with
    n <= nmax one at a time, its error rates summed with math.comb (no scipy, no arrays).
    Order and ties as Simon (1989): the least EN0 (first of n, n1, r1, r when equal), and
    the least n, then EN0."""
    @functools.cache
    def pmf(x: int, m: int, p: float) -> float:
        return math.comb(m, x) * p**x * (1 - p) ** (m - x)

    @functools.cache
    def tail(x: int, m: int, p: float) -> float:           # P(X >= x)
        return _upper_tail(x, m, p)

    def reject(r1: int, n1: int, r: int, n: int, p: float) -> float:
        return sum(pmf(x1, n1, p) * tail(max(r - x1 + 1, 0), n - n1, p)
                   for x1 in range(r1 + 1, n1 + 1))

    best_opt = best_mm = None
    for n in range(2, nmax + 1):
        for n1 in range(1, n):
            for r1 in range(n1):
                pet0 = sum(pmf(x, n1, p0) for x in range(r1 + 1))
                en0 = n1 + (1 - pet0) * (n - n1)
                for r in range(r1, n):
                    if reject(r1, n1, r, n, p0) > alpha + 1e-12 \
                            or reject(r1, n1, r, n, p1) < 1 - beta - 1e-12:
                        continue
                    if best_opt is None or en0 < best_opt[0] - 1e-9:
                        best_opt = (en0, (r1, n1, r, n))
                    if best_mm is None or (n == best_mm[0] and en0 < best_mm[1] - 1e-9):
                        best_mm = (n, en0, (r1, n1, r, n))
    assert best_opt is not None and best_mm is not None
    return best_opt[1], best_mm[2]


@pytest.mark.parametrize("args", [(0.05, 0.25, 0.05, 0.20, 18), (0.10, 0.34, 0.10, 0.20, 14),
                                  (0.15, 0.38, 0.20, 0.15, 17), (0.40, 0.63, 0.15, 0.20, 19)])
def test_simon_search_is_the_brute_force_over_every_design(args) -> None:
    # the search evaluates a first stage for every n at once and skips designs that cannot
    # qualify: the same designs as trying each one (small nmax, so that tries are quick;
    # 0.40/0.63: the optimal design of nmax 100, n = 21, is beyond 19)
    opt, mm = search(*args)
    assert ((opt.r1, opt.n1, opt.r, opt.n), (mm.r1, mm.n1, mm.r, mm.n)) \
        == _brute_force_simon(*args)


def test_simon_binomial_is_scipy_stats_binom_bit_for_bit() -> None:
    # the search takes scipy.stats.binom's floats without importing scipy.stats
    from scipy.stats import binom

    from cdiscmap.analysis.simon import _binom

    mine = _binom()
    ks = np.arange(-3, 45)[None, :]
    ns = np.arange(0, 41)[:, None]
    for p in (0.0, 0.05, 0.1, 0.3, 0.15, 0.5, 0.999, 1.0):
        for name in ("pmf", "cdf", "sf"):
            want = getattr(binom, name)(ks, ns, p)
            got = getattr(mine, name)(ks, ns, p)
            assert got.tobytes() == want.tobytes(), (name, p)
        assert mine.cdf(3, 12, p) == binom.cdf(3, 12, p)        # scalars stay scalars
        assert mine.sf(-1, 5, p) == binom.sf(-1, 5, p) == 1.0


def test_simon_given_design_characteristics_by_hand() -> None:
    # 1/12, 5/35 at p0 = 0.1: PET = P(X1 <= 1) = 0.9^12 + 12 * 0.1 * 0.9^11
    d = describe(1, 12, 5, 35, 0.1, 0.3)
    pet = 0.9**12 + 12 * 0.1 * 0.9**11
    assert d.pet0 == pytest.approx(pet, abs=1e-12)
    assert d.en0 == pytest.approx(12 + (1 - pet) * 23, abs=1e-9)
    with pytest.raises(ValueError):
        describe(5, 4, 6, 10, 0.1, 0.3)


def test_simon_stage_and_decision() -> None:
    d = describe(1, 12, 5, 35, 0.1, 0.3)
    y = np.zeros(35, dtype=bool)
    assert status(d, y[:5]).decision == "accruing stage 1"
    assert status(d, y[:12]).decision == "stop for futility"
    two = y.copy()
    two[[0, 3]] = True
    assert status(d, two[:5]).decision.startswith("continue to stage 2")
    s = status(d, two[:20])
    assert (s.stage, s.x1, s.x) == ("stage 2", 2, 2)
    assert s.decision == "continue (accruing stage 2)"
    six = two.copy()
    six[[13, 14, 20, 30]] = True
    assert status(d, six).decision == "reject H0" and status(d, six).stage == "complete"
    assert status(d, two).decision == "do not reject H0"
    # 0 responses in 11 of 12: at most 1 <= r1 = 1 possible, futility is already certain;
    # 0 in 10 of 12: 2 more could still pass it
    assert status(d, y[:11]).decision == "stop for futility (boundary cannot be passed)"
    assert status(d, y[:10]).decision == "accruing stage 1"
    assert status(describe(0, 6, 3, 23, 0.1, 0.3), y[:6]).decision == "stop for futility"


def test_kaplan_meier_median_on_a_hand_example() -> None:
    # months 1, 2+, 3, 4, 5+, 6: S(1) = 5/6, S(3) = 5/6 * 3/4 = 0.625,
    # S(4) = 0.625 * 2/3 = 0.4167 (first value <= 0.5, so the median is 4), S(6) = 0
    t = np.array([1, 2, 3, 4, 5, 6]) * DAYS_PER_MONTH
    e = np.array([1, 0, 1, 1, 0, 1], dtype=bool)
    km = kaplan_meier(t, e, [3.0, 4.0, 7.0])
    assert km.median == pytest.approx(4.0)
    assert (km.n, km.events, km.censored) == (6, 4, 2)
    assert km.rates[3.0][0] == pytest.approx(0.625)
    assert km.rates[4.0][0] == pytest.approx(5 / 6 * 3 / 4 * 2 / 3)
    assert km.rates[7.0] == (None, None, None)       # beyond follow-up: not estimable


def test_log_rank_against_a_hand_worked_two_group_example() -> None:
    # A: 1, 3 (events); B: 2 (event), 4 (censored).
    # t=1: n=4, nA=2, d=1 (A): E_A=1/2, V=2*2*1*3/(16*3)=1/4
    # t=2: n=3, nA=1, d=1 (B): E_A=1/3, V=1*2*1*2/(9*2)=2/9
    # t=3: n=2, nA=1, d=1 (A): E_A=1/2, V=1*1*1*1/(4*1)=1/4
    # O_A - E_A = 2 - 4/3 = 2/3; V = 13/18; chi2 = (4/9)/(13/18) = 8/13
    c = compare(np.array([2.0, 4.0]), np.array([1, 0]), np.array([1.0, 3.0]),
                np.array([1, 1]), "A", "B")
    assert c.chi2 == pytest.approx(8 / 13, abs=1e-12)
    assert c.p_value == pytest.approx(math.erfc(math.sqrt(8 / 13 / 2)), abs=1e-12)
    assert c.hr is not None and c.hr > 1        # A fails earlier than B
