"""Simon's two-stage designs (Simon R., Controlled Clinical Trials 1989;10:1-10).

Stage 1 treats n1 patients and stops for futility when at most r1 respond; otherwise n patients
in all are treated and H0 (p <= p0) is rejected when more than r respond. The optimal design
minimises the expected size under p0 (EN0); the minimax design minimises n, then EN0. Both are
found by exact binomial enumeration (scipy.stats.binom), vectorised over every
(n, r1, r) of a first stage n1 (clinfun::ph2simon loops over (n1, n) and vectorises (r1, r)).
The binomial probabilities are scipy.stats.binom's, taken from the scipy.special functions it
calls (``_binom_pmf/_cdf/_sf``) with its own rules outside the support: importing scipy.stats
costs more than half a CPU second, the search itself less.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

METHOD = ("Simon two-stage design (Simon 1989): optimal = minimum expected size under p0, "
          "minimax = minimum maximum size; exact binomial search (scipy.stats.binom)")


@dataclass(frozen=True)
class SimonDesign:
    """r1/n1, r/n with the design's exact operating characteristics."""

    r1: int
    n1: int
    r: int
    n: int
    en0: float        # expected sample size under p0
    pet0: float       # probability of early termination under p0
    alpha: float      # exact type I error (P reject H0 | p0)
    power: float      # exact power (P reject H0 | p1)
    kind: str         # optimal | minimax | given

    def text(self) -> str:
        return f"{self.r1}/{self.n1}, {self.r}/{self.n}"


class _Binom:
    """``scipy.stats.binom`` pmf, cdf and sf for integer k, n (n >= 0) and 0 <= p <= 1, the
    same floats: inside the support the values of the scipy.special functions binom calls
    (clipped to [0, 1] as binom does); outside it binom's constants (pmf 0; cdf 0 below, 1
    from n on; sf 1 below, 0 from n on). ``tests/unit/test_analysis_stats.py`` compares them
    with scipy.stats.binom over a grid."""

    def __init__(self) -> None:
        try:
            from scipy.special._ufuncs import _binom_cdf, _binom_pmf, _binom_sf
        except ImportError:                             # pragma: no cover - other scipy
            from scipy.stats import binom

            self.pmf, self.cdf, self.sf = binom.pmf, binom.cdf, binom.sf
            return
        self._pmf, self._cdf, self._sf = _binom_pmf, _binom_cdf, _binom_sf

    @staticmethod
    def _inside(k: Any, n: Any, upto_n: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k, n = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(n, dtype=float))
        inside = (k >= 0) & ((k <= n) if upto_n else (k < n))
        return k, n, inside

    def pmf(self, k: Any, n: Any, p: float) -> Any:
        k, n, inside = self._inside(k, n, True)
        out = np.zeros(k.shape)
        out[inside] = np.clip(self._pmf(k[inside], n[inside], p), 0, 1)
        return out[()] if out.ndim == 0 else out

    def cdf(self, k: Any, n: Any, p: float) -> Any:
        k, n, inside = self._inside(k, n, False)
        out = np.where(k >= n, 1.0, 0.0)
        out[inside] = np.clip(self._cdf(k[inside], n[inside], p), 0, 1)
        return out[()] if out.ndim == 0 else out

    def sf(self, k: Any, n: Any, p: float) -> Any:
        k, n, inside = self._inside(k, n, False)
        out = np.where(k < 0, 1.0, 0.0)
        out[inside] = np.clip(self._sf(k[inside], n[inside], p), 0, 1)
        return out[()] if out.ndim == 0 else out


@lru_cache(maxsize=1)
def _binom() -> _Binom:
    return _Binom()


def operating(r1: int, n1: int, r: int, n: int, p: float) -> tuple[float, float]:
    """(P reject H0, P early termination) of a design when the true rate is ``p``."""
    binom = _binom()
    x1 = np.arange(r1 + 1, n1 + 1)
    reject = float(np.sum(binom.pmf(x1, n1, p) * binom.sf(r - x1, n - n1, p)))
    return reject, float(binom.cdf(r1, n1, p))


def describe(r1: int, n1: int, r: int, n: int, p0: float, p1: float,
             kind: str = "given") -> SimonDesign:
    """A given design with its exact characteristics under p0 and p1."""
    if not 0 <= r1 < n1 < n or not r1 <= r < n:
        raise ValueError(f"not a two-stage design: r1/n1 {r1}/{n1}, r/n {r}/{n}")
    a, pet0 = operating(r1, n1, r, n, p0)
    power, _ = operating(r1, n1, r, n, p1)
    return SimonDesign(r1, n1, r, n, n1 + (1 - pet0) * (n - n1), pet0, a, power, kind)


@lru_cache(maxsize=64)
def search(p0: float, p1: float, alpha: float, beta: float, nmax: int = 100
           ) -> tuple[SimonDesign, SimonDesign]:
    """(optimal, minimax) designs with type I error <= alpha and power >= 1 - beta, n <= nmax.

    For a first stage n1, every total n and every (r1, r) are evaluated at once
    (:class:`_Stage1`): with ``M[x1, r] = b(x1; n1, p) * P(X2 > r - x1)``, the rejection
    probability of (r1, r) is the sum of M over x1 > r1, a reversed cumulative sum. Every n up
    to ``nmax`` is searched (as clinfun::ph2simon does: a larger n can have a smaller EN0).
    The designs are then taken in the order of n, then n1 (ties keep the smaller n, n1, then
    r1, r); a first stage is evaluated only when that order reaches it."""
    binom = _binom()
    if not 0 < p0 < p1 < 1:
        raise ValueError(f"Simon design needs 0 < p0 < p1 < 1 (p0 {p0}, p1 {p1})")
    ks = np.arange(nmax + 1)
    sizes = np.arange(nmax + 1)
    # tails[p][m, k] = P(Bin(m, p) > k); pmfs[p][m, x] = P(Bin(m, p) = x)
    tails = {p: binom.sf(ks[None, :], sizes[:, None], p) for p in (p0, p1)}
    pmfs = {p: binom.pmf(ks[None, :], sizes[:, None], p) for p in (p0, p1)}
    cdf0 = binom.cdf(ks[None, :], sizes[:, None], p0)
    # Pruning that cannot change the result: the power of (r1, r) is at most P(X > r) of
    # one stage of n and at most P(X1 > r1) of stage 1, so only r <= rmax[n] and
    # r1 <= rmax[n1] can reach 1 - beta (a margin of 1e-9 over the rounding of the sums).
    # The pruned (r1, r) are a leading block of the full grid: the first minimum is the same.
    reach = tails[p1] >= 1 - beta - 1e-12 - 1e-9
    rmax = np.where(reach.any(axis=1), reach.shape[1] - 1 - np.argmax(reach[:, ::-1], axis=1),
                    -1)
    stages: dict[int, _Stage1] = {}
    best_opt: tuple[float, int, int, int, int] | None = None     # EN0, n, r1, n1, r
    best_mm: tuple[int, float, int, int, int] | None = None      # n, EN0, r1, n1, r
    usable = (rmax >= 0).tolist()
    for n in range(2, nmax + 1):
        if not usable[n]:
            continue
        for n1 in range(1, n):
            if not usable[n1]:
                continue
            # EN0 = n1 + (1 - PET0) n2 >= n1: once the minimax n is passed, a first stage as
            # large as the best EN0 so far cannot give a smaller EN0
            if best_opt is not None and best_mm is not None and n != best_mm[0] \
                    and n1 >= best_opt[0]:
                break
            stage = stages.get(n1)
            if stage is None:
                stage = stages[n1] = _Stage1(n1, nmax, rmax, tails, pmfs, cdf0, (p0, p1),
                                             alpha, beta)
            found = stage.best(n)
            if found is None:
                continue
            cand, i, j = found
            if best_opt is None or cand < best_opt[0] - 1e-9:
                best_opt = (cand, n, i, n1, j)
            if best_mm is None or (n == best_mm[0] and cand < best_mm[1] - 1e-9):
                best_mm = (n, cand, i, n1, j)
    if best_opt is None or best_mm is None:
        raise ValueError(f"no Simon design with n <= {nmax} for p0 {p0}, p1 {p1}, "
                         f"alpha {alpha}, beta {beta}")
    _, n, r1, n1, r = best_opt
    optimal = describe(r1, n1, r, n, p0, p1, "optimal")
    n, _, r1, n1, r = best_mm
    minimax = describe(r1, n1, r, n, p0, p1, "minimax")
    return optimal, minimax


class _Stage1:
    """The best (r1, r) of one first stage n1 for every total n in n1 + 1 .. nmax, in one
    set of array operations (one stage at a time was a loop of thousands of small numpy
    calls per search). For each n the (r1, r) grid is r1 < min(n1, rmax[n1] + 1) and
    r < min(n, rmax[n] + 1), padded to the widest n; the padding never qualifies. The floats
    are those of a computation per (n1, n): the same products, and the reversed cumulative
    sum over x1 runs in the same order along its axis."""

    def __init__(self, n1: int, nmax: int, rmax: np.ndarray, tails: dict[float, np.ndarray],
                 pmfs: dict[float, np.ndarray], cdf0: np.ndarray, ps: tuple[float, float],
                 alpha: float, beta: float) -> None:
        self.n1 = n1
        ns = np.arange(n1 + 1, nmax + 1)
        n2 = ns - n1
        widths = np.where(rmax[ns] >= 0, np.minimum(ns, rmax[ns] + 1), 0)
        width = max(int(widths.max()), 1) if len(ns) else 1
        rs = np.arange(width)
        # rows r1 = 0 .. rows - 1: r1 <= rmax[n1] and r1 < n1
        rows = min(n1, int(rmax[n1]) + 1)
        # x1 from n1 down to 1, so that the cumulative sum runs along the stored order:
        # cum[:, t] = sum of M over x1 >= n1 - t; row r1 (x1 > r1) is cum[:, n1 - r1 - 1].
        # Column 0 of a padded tail table is P(X2 > negative) = 1 (r - x1 < 0).
        down = np.arange(n1, 0, -1)
        at = np.clip(rs[None, :] - down[:, None] + 1, 0, None)
        reject = []
        for p in ps:
            padded = np.empty((len(ns), nmax + 2))
            padded[:, 0] = 1.0
            padded[:, 1:] = tails[p][n2]
            m = padded[:, at]
            m *= pmfs[p][n1][down, None]
            cum = np.cumsum(m, axis=1)
            reject.append(cum[:, n1 - rows: n1][:, ::-1])
        a0, pw = reject
        r1s = np.arange(rows)
        ok = (a0 <= alpha + 1e-12) & (pw >= 1 - beta - 1e-12)
        ok &= (rs[None, :] >= r1s[:, None])[None]
        ok &= (rs[None, :] < widths[:, None])[:, None, :]
        row_ok = ok.any(axis=2)
        # EN0 of (r1, r) depends on r1 only: the first minimum of the grid in row-major
        # order is the first row of the least EN0 among rows with a qualifying r, at its
        # first qualifying r
        en = np.where(row_ok, n1 + (1 - cdf0[n1][:rows])[None, :] * n2[:, None], np.inf)
        i = np.argmin(en, axis=1)
        pick = np.arange(len(ns))
        self.has = row_ok.any(axis=1).tolist()
        self.en = en[pick, i].tolist()
        self.r1 = i.tolist()
        self.r = np.argmax(ok[pick, i], axis=1).tolist()

    def best(self, n: int) -> tuple[float, int, int] | None:
        """(EN0, r1, r) of the least EN0 for total ``n``, None when no design qualifies."""
        at = n - self.n1 - 1
        if not self.has[at]:
            return None
        return self.en[at], self.r1[at], self.r[at]


@dataclass(frozen=True)
class Status:
    """Where a cohort stands in its design and what the rule says."""

    stage: str          # stage 1 | stage 2 | complete
    decision: str       # continue | stop for futility | reject H0 | do not reject H0 | ...
    x1: int             # responders among the first n1 evaluable subjects
    n1_seen: int
    x: int              # responders among the first n evaluable subjects
    n_seen: int


def status(design: SimonDesign, responses: np.ndarray) -> Status:
    """Stage and decision from the responses of the evaluable subjects in accrual order.

    Stage 1 is complete with n1 subjects: at most r1 responders among them stops the cohort
    for futility. The trial is complete with n subjects: more than r responders among them
    rejects H0. Before a stage is complete the decision is stated only when it is already
    certain (responders cannot decrease): more than r1 (or r) responders, or too few subjects
    left to pass the boundary."""
    y = np.asarray(responses, dtype=bool)
    seen = len(y)
    n1, r1, n, r = design.n1, design.r1, design.n, design.r
    x1 = int(y[:n1].sum())
    x = int(y[:n].sum())
    if seen < n1:
        if x1 > r1:
            decision = "continue to stage 2 (stage 1 boundary passed)"
        elif x1 + (n1 - seen) <= r1:
            decision = "stop for futility (boundary cannot be passed)"
        else:
            decision = "accruing stage 1"
        return Status("stage 1", decision, x1, seen, x, seen)
    if x1 <= r1:
        return Status("stage 1", "stop for futility", x1, n1, x, min(seen, n))
    if seen < n:
        if x > r:
            decision = "reject H0 (already more than r responders)"
        elif x + (n - seen) <= r:
            decision = "do not reject H0 (boundary cannot be passed)"
        else:
            decision = "continue (accruing stage 2)"
        return Status("stage 2", decision, x1, n1, x, seen)
    return Status("complete", "reject H0" if x > r else "do not reject H0", x1, n1, x, n)
