"""A small, self-contained RECIST 1.1 timepoint rule, used only by the synthetic-data generator.

It makes the investigator responses written to ``orr.csv`` follow from the lesion forms. It
shares no code with ``cdiscmap.recist`` on purpose: the project's engine is checked against this
second, independent implementation.

Inputs are numpy arrays over subjects (axis 0), post-baseline assessments in date order (axis 1)
and lesion slots (axis 2). Diameters are the values RECIST counts, in whole mm: a lesion "too small
to measure" counts 5 mm, a merged lesion 0 mm, a lesion not evaluated is NaN. Every sum is an
integer, so thresholds are compared in exact integer arithmetic (no 0.7 * x rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Non-target lesion status codes (one per slot and assessment); NT_NONE = no lesion in the slot.
NT_NONE = 0
NT_PRESENT = 1
NT_ABSENT = 2
NT_PROGRESSION = 3
NT_NOT_EVALUATED = 4

# Response codes as in the SDTM CT ONCRSR codelist; "" = not applicable / no assessment.
CR = "CR"
PR = "PR"
SD = "SD"
PD = "PD"
NE = "NE"
NON_CR_NON_PD = "NON-CR/NON-PD"
NOT_ALL_EVALUATED = "NOT ALL EVALUATED"
NOT_APPLICABLE = ""

# Best overall response ranking (best first); used for the truth file only.
BOR_RANK = {CR: 0, PR: 1, SD: 2, NON_CR_NON_PD: 3, PD: 4, NE: 5}

_RESPONSE_DTYPE = "<U17"


@dataclass(frozen=True)
class TimepointResponses:
    """Target, non-target and overall response per subject and assessment ("" = none)."""

    target: np.ndarray
    nontarget: np.ndarray
    overall: np.ndarray


def target_sums(baseline_diam: np.ndarray, visit_diam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baseline sum (n,) and per-assessment sums (n, k); a sum is NaN when a target is NaN."""
    has_lesion = ~np.isnan(baseline_diam)
    base_sum = np.where(has_lesion, baseline_diam, 0.0).sum(axis=1)
    counted = np.where(has_lesion[:, None, :], visit_diam, 0.0)
    return base_sum, counted.sum(axis=2)  # NaN propagates: any target NE -> sum NaN


def target_response(baseline_diam: np.ndarray, visit_diam: np.ndarray, is_node: np.ndarray,
                    assessed: np.ndarray) -> np.ndarray:
    """Target lesion response per assessment, RECIST 1.1 §4.3.1 (table of definitions).

    PD: sum >= nadir + 20 % and >= nadir + 5 mm, the nadir being the smallest sum so far,
    baseline included. CR: every non-nodal target 0 mm and every nodal target short axis < 10 mm.
    PR: sum <= 70 % of the baseline sum. Otherwise SD. Any target not evaluated: NE (kept simple
    on purpose, even when the other lesions alone would show PD). PD is tested before CR.
    """
    has_lesion = ~np.isnan(baseline_diam)
    has_targets = has_lesion.any(axis=1)
    base_sum, sums = target_sums(baseline_diam, visit_diam)
    evaluable = assessed & ~np.isnan(sums)
    nadir = _nadir(base_sum, sums, evaluable)
    progression = evaluable & _is_progression(sums, nadir)
    counted = np.where(has_lesion[:, None, :], visit_diam, 0.0)
    lesion_gone = np.where(is_node[:, None, :], counted < 10, counted == 0)
    complete = evaluable & lesion_gone.all(axis=2)
    partial = evaluable & (10 * sums <= 7 * base_sum[:, None])

    out = np.full(sums.shape, SD, dtype=_RESPONSE_DTYPE)
    out[partial] = PR
    out[complete] = CR
    out[progression] = PD
    out[assessed & ~evaluable] = NE
    out[~assessed | ~has_targets[:, None]] = NOT_APPLICABLE
    return out


def _nadir(base_sum: np.ndarray, sums: np.ndarray, evaluable: np.ndarray) -> np.ndarray:
    """Smallest sum before each assessment: the baseline and earlier evaluable sums."""
    running = np.where(evaluable, sums, np.inf)
    smallest_so_far = np.minimum.accumulate(running, axis=1)
    earlier = np.concatenate([np.full((len(sums), 1), np.inf), smallest_so_far[:, :-1]], axis=1)
    return np.minimum(earlier, base_sum[:, None])


def _is_progression(sums: np.ndarray, nadir: np.ndarray) -> np.ndarray:
    """+20 % over the nadir and at least +5 mm (RECIST 1.1 §4.3.1), exact on whole mm."""
    growth = sums - nadir
    return (growth >= 5) & (5 * growth >= nadir)


def progression_despite_missing(baseline_diam: np.ndarray, visit_diam: np.ndarray,
                                assessed: np.ndarray) -> np.ndarray:
    """Assessments with a target not evaluated whose evaluated targets alone already show PD.

    RECIST 1.1 §4.4.2 (missing assessments) allows PD there, this rule says NE; engines may
    legitimately differ, so the generator never records such an assessment.
    """
    has_lesion = ~np.isnan(baseline_diam)
    base_sum, sums = target_sums(baseline_diam, visit_diam)
    evaluable = assessed & ~np.isnan(sums)
    nadir = _nadir(base_sum, sums, evaluable)
    counted = np.where(has_lesion[:, None, :], visit_diam, 0.0)
    partial = np.nansum(counted, axis=2)
    return assessed & ~evaluable & has_lesion.any(axis=1)[:, None] & _is_progression(partial,
                                                                                     nadir)


def nontarget_response(nontarget: np.ndarray, assessed: np.ndarray) -> np.ndarray:
    """Non-target response per assessment, RECIST 1.1 §4.3.3.

    PD on unequivocal progression of any lesion; NE when every lesion was not evaluated,
    NOT ALL EVALUATED when some were; CR when every lesion is absent; else NON-CR/NON-PD.
    """
    n_lesions = (nontarget != NT_NONE).sum(axis=2)
    n_not_evaluated = (nontarget == NT_NOT_EVALUATED).sum(axis=2)
    all_absent = (n_lesions > 0) & ((nontarget == NT_ABSENT).sum(axis=2) == n_lesions)
    progression = (nontarget == NT_PROGRESSION).any(axis=2)

    out = np.full(n_lesions.shape, NON_CR_NON_PD, dtype=_RESPONSE_DTYPE)
    out[all_absent] = CR
    out[n_not_evaluated > 0] = NOT_ALL_EVALUATED
    out[(n_lesions > 0) & (n_not_evaluated == n_lesions)] = NE
    out[progression] = PD
    out[~assessed | (n_lesions == 0)] = NOT_APPLICABLE
    return out


def overall_response(target: np.ndarray, nontarget: np.ndarray,
                     new_lesion: np.ndarray) -> np.ndarray:
    """Overall response, RECIST 1.1 §4.4.1 table 1 (targets) and table 2 (non-targets only).

    A subject without non-target lesions is read as non-target CR in table 1.
    """
    has_target = target != NOT_APPLICABLE
    nt_missing = (nontarget == NE) | (nontarget == NOT_ALL_EVALUATED)

    # Table 1: target disease present at baseline.
    table1 = np.full(target.shape, NE, dtype=_RESPONSE_DTYPE)
    table1[target == SD] = SD
    table1[target == PR] = PR
    nt_complete = (nontarget == CR) | (nontarget == NOT_APPLICABLE)
    table1[(target == CR) & nt_complete] = CR
    table1[(target == CR) & ~nt_complete] = PR  # NON-CR/NON-PD or not (all) evaluated

    # Table 2: non-target disease only.
    table2 = np.full(target.shape, NE, dtype=_RESPONSE_DTYPE)
    table2[nontarget == CR] = CR
    table2[nontarget == NON_CR_NON_PD] = NON_CR_NON_PD
    table2[nt_missing] = NE

    out = np.where(has_target, table1, table2)
    out[(target == PD) | (nontarget == PD) | new_lesion] = PD
    out[(target == NOT_APPLICABLE) & (nontarget == NOT_APPLICABLE)] = NOT_APPLICABLE
    return out


def timepoint_responses(baseline_diam: np.ndarray, visit_diam: np.ndarray, is_node: np.ndarray,
                        nontarget: np.ndarray, new_lesion: np.ndarray,
                        assessed: np.ndarray) -> TimepointResponses:
    """All three responses for every subject and assessment.

    Shapes: baseline_diam (n, L) with NaN for an empty slot; visit_diam (n, k, L); is_node (n, L);
    nontarget (n, k, M) status codes; new_lesion (n, k) unequivocal new lesion seen; assessed
    (n, k) the assessment exists (assessments are in date order along axis 1).
    """
    target = target_response(baseline_diam, visit_diam, is_node, assessed)
    nontgt = nontarget_response(nontarget, assessed)
    overall = overall_response(target, nontgt, new_lesion & assessed)
    overall[~assessed] = NOT_APPLICABLE
    return TimepointResponses(target=target, nontarget=nontgt, overall=overall)


def best_overall_response(overall: np.ndarray) -> np.ndarray:
    """Best timepoint response per subject (unconfirmed), "NE" when nothing was assessed.

    Every post-baseline assessment of the synthetic trial is at least 6 weeks after first dose,
    so SD / NON-CR/NON-PD always meet the minimum-duration rule of RECIST 1.1 §4.4.3.
    """
    ranks = np.full(overall.shape, BOR_RANK[NE], dtype=np.int8)
    for code, rank in BOR_RANK.items():
        ranks[overall == code] = rank
    names = np.array(sorted(BOR_RANK, key=BOR_RANK.__getitem__), dtype=_RESPONSE_DTYPE)
    if overall.shape[1] == 0:
        return np.full(len(overall), NE, dtype=_RESPONSE_DTYPE)
    return names[ranks.min(axis=1)]
