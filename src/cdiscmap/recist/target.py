"""Target-lesion response per assessment (RECIST 1.1 §4.3.1, §4.3.2, §4.4.2).

Sums are kept as unrounded floats in mm; every threshold is compared with a tolerance of
``EPSILON`` (1e-9), so -30.0 % is PR and +20.0 % is PD-eligible even when the float division
lands a hair beyond the threshold. Percentages in REASON are rounded to 1 decimal for display only.

- Baseline sum: the sum at the baseline assessment; all target lesions must be measured there,
  otherwise the subject has no usable baseline.
- Nadir: the smallest *complete* sum (all targets measured) before the assessment, baseline
  included (RECIST 1.1 §4.3.1 PD reference). A partial sum is a lower bound, never a nadir.
- SUMDIAM: sum over the target lesions measured at the assessment (mm). When some are not
  measured (N_TARGET_MEASURED < N_TARGET_EXPECTED) it is a lower bound of the true sum; it is used
  only to prove PD (RECIST 1.1 §4.4.2 allows PD when the measured lesions already show it) and
  the response is otherwise NE.
- Order of the rules: PD, then NE, then CR, PR, SD.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.recist.lesions import find_keys, join_labels
from cdiscmap.recist.settings import EPSILON, RecistSettings

CR, PR, SD, PD, NE = "CR", "PR", "SD", "PD", "NE"
NON_CR_NON_PD = "NON-CR/NON-PD"



def select_text(conditions: list[np.ndarray], choices: list[str | None],
                default: str | None) -> np.ndarray:
    """``np.select`` of text choices (the first true condition's choice, else ``default``) as
    an object array whose rows share one object per choice: ``np.select`` itself turns str
    choices into a numpy text array and then a new str per row, which every later
    factorisation hashes again."""
    codes = np.select(conditions, list(range(len(choices))), default=len(choices))
    return np.array([*choices, default], dtype=object)[codes]

def fmt_number(values: np.ndarray, *, signed: bool = True, trim: bool = False) -> np.ndarray:
    """Numbers as short text for REASON/messages: 1 decimal, optional sign, optional '.0' cut.

    Formatted once per distinct rounded value (float → str is slow per cell and a study has few
    distinct sums, percentages and visit numbers against hundreds of thousands of rows).
    """
    rounded = np.round(np.asarray(values, dtype=np.float64), 1) + 0.0   # + 0.0 turns -0.0 into 0.0
    codes, uniques = pd.factorize(rounded, use_na_sentinel=False)
    uniques = np.asarray(uniques, dtype=np.float64)
    # str() of each distinct number, as pandas' astype(str) writes a float or an int (NaN
    # "nan"), without a Series per call: the cross-check formats a dozen columns of a few rows
    text = np.array([str(u) for u in uniques.tolist()], dtype=object)
    if trim:
        whole = np.isfinite(uniques) & (uniques == np.trunc(uniques)) & (np.abs(uniques) < 2**53)
        if whole.any():
            text[whole] = [str(u) for u in uniques[whole].astype(np.int64).tolist()]
    if signed:
        text = np.where(uniques >= 0, "+", "").astype(object) + text
    return text[codes]


def pct_change(value: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """100·(value-reference)/reference; +inf for growth from 0, 0 for 0 → 0 (RECIST 1.1 §4.3.1).

    Kept unrounded; thresholds are compared with EPSILON.
    """
    value = np.asarray(value, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    diff = value - reference
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100.0 * diff / reference
    zero_ref = reference == 0
    pct = np.where(zero_ref & (diff > 0), np.inf, pct)
    return np.where(zero_ref & (diff == 0), 0.0, pct)


def classify_target(sumdiam: np.ndarray, base_sum: np.ndarray, nadir: np.ndarray,
                    complete: np.ndarray, cr_met: np.ndarray,
                    settings: RecistSettings) -> np.ndarray:
    """Target response per assessment from its sums (vectorised; RECIST 1.1 §4.3.1, §4.4.2).

    ``complete``: every baseline target lesion was evaluated; ``cr_met``: every non-nodal target
    is 0 mm and every nodal target below ``node_normal_mm`` short axis. Rows without a baseline
    sum give null.
    """
    sumdiam = np.asarray(sumdiam, dtype=np.float64)
    base_sum = np.asarray(base_sum, dtype=np.float64)
    nadir = np.asarray(nadir, dtype=np.float64)
    achg = sumdiam - nadir
    # RECIST 1.1 §4.3.1: PD needs both +pd_change % from the nadir and +pd_absolute_mm.
    is_pd = ((achg >= settings.pd_absolute_mm - EPSILON)
             & (pct_change(sumdiam, nadir) >= settings.pd_change - EPSILON))
    # RECIST 1.1 §4.3.1: PR is a decrease of at least |pr_change| % from the baseline sum.
    is_pr = pct_change(sumdiam, base_sum) <= settings.pr_change + EPSILON
    has_base = ~np.isnan(base_sum)
    return select_text(
        [~has_base, is_pd, ~np.asarray(complete, bool), np.asarray(cr_met, bool), is_pr],
        [None, PD, NE, CR, PR], default=SD)


def target_responses(target: pd.DataFrame, visits: pd.DataFrame, n_visit: int,
                     settings: RecistSettings) -> pd.DataFrame:
    """Sums, changes and TRGRESP per assessment; rows align with ``visits`` (same order).

    ``target`` is the lesion grid of ``assemble_lesions`` (one row per baseline target lesion per
    assessment); ``visits`` is sorted by subject and visit with a BASELINE flag.
    TRG_REASON is left null (the overall response's reappearance rule sets it on a few rows):
    :func:`target_reason` of this frame's columns composes the others, for the rows that need it.
    """
    value = target["VALUE"].to_numpy()
    evaluated = target["EVALUATED"].to_numpy()
    # RECIST 1.1 §4.3.1: CR = every non-nodal target gone, every nodal one < node_normal_mm.
    lesion_cr = evaluated & np.where(target["NODAL"].to_numpy(),
                                     value < settings.node_normal_mm - EPSILON, value <= EPSILON)
    lesion_sv = target["_S"].to_numpy() * n_visit + target["_V"].to_numpy()
    sv = visits["_S"].to_numpy() * n_visit + visits["_V"].to_numpy()
    pos = find_keys(sv, lesion_sv)            # visits are sorted by subject, visit: sv is sorted
    n_rows = len(sv)
    n_exp = np.bincount(pos, minlength=n_rows).astype(np.int64)
    n_meas = np.bincount(pos, weights=evaluated, minlength=n_rows).astype(np.int64)
    total = np.bincount(pos, weights=np.nan_to_num(value), minlength=n_rows)
    not_cr = np.bincount(pos, weights=~lesion_cr, minlength=n_rows) > 0
    missing_ids = join_labels(pos[~evaluated], target["LESION"].to_numpy(dtype=object)[~evaluated])

    sumdiam = np.where(n_meas > 0, total, np.nan)
    complete = (n_exp > 0) & (n_meas == n_exp)
    cr_met = complete & ~not_cr
    complete_sum = np.where(complete, sumdiam, np.nan)

    subj = visits["_S"].to_numpy()
    baseline = visits["BASELINE"].to_numpy()
    base_by_subj = pd.Series(complete_sum[baseline], index=subj[baseline])
    base_by_subj = base_by_subj[~base_by_subj.index.duplicated()]
    base_sum = base_by_subj.reindex(subj).to_numpy(dtype=np.float64)

    # Nadir = smallest complete sum strictly before the assessment, baseline included:
    # cumulative minimum per subject, shifted by one row (rows are sorted by subject, visit).
    filled = pd.Series(np.where(np.isnan(complete_sum), np.inf, complete_sum))
    running = filled.groupby(subj, sort=False).cummin().to_numpy()
    first = np.ones(len(subj), dtype=bool)
    first[1:] = subj[1:] != subj[:-1]
    prior = np.roll(running, 1) if len(running) else running
    prior = np.where(first, np.inf, prior)
    nadir = np.where(np.isinf(prior), np.nan, prior)

    post = ~baseline & ~np.isnan(base_sum)
    nadir = np.where(post, nadir, np.nan)
    resp = classify_target(sumdiam, np.where(post, base_sum, np.nan), nadir, complete, cr_met,
                           settings)
    pchg_base = np.where(post, pct_change(sumdiam, base_sum), np.nan)
    pchg_nadir = np.where(post, pct_change(sumdiam, nadir), np.nan)
    achg_nadir = np.where(post, sumdiam - nadir, np.nan)

    ids = missing_ids.reindex(np.arange(n_rows)).to_numpy(dtype=object)
    reason = np.full(n_rows, None, dtype=object)
    return pd.DataFrame({
        "SUMDIAM": sumdiam, "BASE_SUM": base_sum, "NADIR": nadir,
        "PCHG_BASE": pchg_base, "PCHG_NADIR": pchg_nadir, "ACHG_NADIR": achg_nadir,
        "N_TARGET_EXPECTED": n_exp, "N_TARGET_MEASURED": n_meas,
        "TRGRESP": resp, "TRG_REASON": reason, "TRG_MISSING": ids,
        "BASE_COMPLETE": baseline & complete,
    }, index=visits.index)


def target_reason(resp: np.ndarray, pchg_base: np.ndarray, pchg_nadir: np.ndarray,
                   achg_nadir: np.ndarray, missing_ids: np.ndarray,
                   settings: RecistSettings) -> np.ndarray:
    """Short machine-readable why of each target response, e.g. ``sum+21.4%/+7mm from nadir``.

    Only the rows of each response are formatted (formatting numbers is the costly part); each
    row's text is made of its own values only, so any rows can be asked for alone.
    """
    reason = np.full(len(resp), None, dtype=object)
    missing = np.where(pd.isna(missing_ids), "", missing_ids).astype(object)

    rows = resp == PD
    if rows.any():
        partial = np.where(missing[rows] != "", " (target " + missing[rows] + " not evaluated)",
                           "").astype(object)
        reason[rows] = ("sum" + fmt_number(pchg_nadir[rows]) + "%/"
                        + fmt_number(achg_nadir[rows], trim=True) + "mm from nadir" + partial)
    rows = resp == NE
    if rows.any():
        reason[rows] = "target " + missing[rows] + " not evaluated"
    node_limit = fmt_number(np.array([settings.node_normal_mm]), signed=False, trim=True)[0]
    reason[resp == CR] = f"targets gone/nodes<{node_limit}mm"
    rows = (resp == PR) | (resp == SD)
    if rows.any():
        reason[rows] = "sum" + fmt_number(pchg_base[rows]) + "% from baseline"
    rows = resp == SD
    if rows.any():
        reason[rows] = reason[rows] + "/" + fmt_number(pchg_nadir[rows]) + "% from nadir"
    return reason
