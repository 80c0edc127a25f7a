"""Non-target response and new-lesion progression per assessment (RECIST 1.1 §4.3.3-§4.3.5).

Non-target lesions are followed by status only (TR ``TUMSTATE``). Per assessment:
PD when any shows unequivocal progression (§4.3.3, §4.3.4); otherwise NE when any is not
evaluated; CR when all are absent (a non-target node reported ABSENT is taken as normalised,
< 10 mm; tumour markers are not in TU/TR and are not checked); NON-CR/NON-PD otherwise
(PRESENT or EQUIVOCAL). A subject without non-target lesions has a null NTRGRESP.

New lesions (§4.3.5): an unequivocal (or PRESENT) new lesion after baseline means progression;
an equivocal one counts only when ``equivocal_new_lesion_is_pd`` is set, or when a later
assessment confirms the same lesion (same TRLNKID): then PD is back-dated to every assessment
where it was seen equivocal before, so the date of progression is the date of its first
observation (``backdate_equivocal_new_lesion``, default on).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.recist.lesions import (
    STATUS_ABSENT,
    STATUS_NOT_EVALUATED,
    STATUS_UNEQUIVOCAL,
    find_keys,
    join_labels,
)
from cdiscmap.recist.settings import RecistSettings
from cdiscmap.recist.target import CR, NE, NON_CR_NON_PD, PD, select_text


def classify_nontarget(any_unequivocal: np.ndarray, any_not_evaluated: np.ndarray,
                       all_absent: np.ndarray, has_nontarget: np.ndarray) -> np.ndarray:
    """Non-target response from per-assessment flags (vectorised; RECIST 1.1 §4.3.3)."""
    return select_text(
        [~np.asarray(has_nontarget, bool), np.asarray(any_unequivocal, bool),
         np.asarray(any_not_evaluated, bool), np.asarray(all_absent, bool)],
        [None, PD, NE, CR], default=NON_CR_NON_PD)


def nontarget_responses(nontarget: pd.DataFrame, visits: pd.DataFrame,
                        n_visit: int) -> pd.DataFrame:
    """NTRGRESP and its reason per assessment; rows align with ``visits`` (same order).

    Rows at baseline get a null response (there is nothing to compare yet). NTRG_REASON is
    left null (the overall response's reappearance rule sets it on a few rows):
    :func:`nontarget_reason` of this frame's columns composes the others, for the rows that
    need it.
    """
    status = nontarget["STATUS"].to_numpy()
    sv = visits["_S"].to_numpy() * n_visit + visits["_V"].to_numpy()
    pos = find_keys(sv, nontarget["_S"].to_numpy() * n_visit + nontarget["_V"].to_numpy())
    n_rows = len(sv)
    n_lesions = np.bincount(pos, minlength=n_rows)
    any_uneq = np.bincount(pos, weights=status == STATUS_UNEQUIVOCAL, minlength=n_rows) > 0
    any_missing = np.bincount(pos, weights=status == STATUS_NOT_EVALUATED, minlength=n_rows) > 0
    n_absent = np.bincount(pos, weights=status == STATUS_ABSENT, minlength=n_rows)
    labels = nontarget["LESION"].to_numpy(dtype=object)
    uneq_rows = status == STATUS_UNEQUIVOCAL
    missing_rows = status == STATUS_NOT_EVALUATED
    pd_ids = join_labels(pos[uneq_rows], labels[uneq_rows])
    missing_ids = join_labels(pos[missing_rows], labels[missing_rows])
    has = (n_lesions > 0) & ~visits["BASELINE"].to_numpy()

    resp = classify_nontarget(any_uneq, any_missing, n_absent == n_lesions, has)
    pd_txt = pd_ids.reindex(np.arange(n_rows)).to_numpy(dtype=object)
    ne_txt = missing_ids.reindex(np.arange(n_rows)).to_numpy(dtype=object)
    reason = np.full(n_rows, None, dtype=object)
    n_nontarget = n_lesions
    return pd.DataFrame({"NTRGRESP": resp, "NTRG_REASON": reason,
                         "N_NONTARGET": n_nontarget.astype(np.int64),
                         "NTRG_PD_IDS": pd_txt, "NTRG_NE_IDS": ne_txt}, index=visits.index)


def nontarget_reason(resp: np.ndarray, pd_txt: np.ndarray, ne_txt: np.ndarray) -> np.ndarray:
    """Why of each non-target response, each row from its own values."""
    return np.select(
        [resp == PD, resp == NE, resp == CR, resp == NON_CR_NON_PD],
        ["non-target " + np.where(pd.isna(pd_txt), "", pd_txt).astype(object)
         + " unequivocal progression",
         "non-target " + np.where(pd.isna(ne_txt), "", ne_txt).astype(object) + " not evaluated",
         "non-targets absent", "non-target present"],
        default=None).astype(object)


def new_lesion_progression(new: pd.DataFrame, visits: pd.DataFrame, n_visit: int,
                           settings: RecistSettings) -> pd.DataFrame:
    """NEWLPROG ("Y"/"N") per assessment after baseline, the new lesion ids, and equivocal ones.

    RECIST 1.1 §4.3.5: a new lesion must be unequivocal to mean progression. The why of a
    counted progression is :func:`new_reason` of NEW_COUNTED, NEW_IDS and NEW_CONFIRMED, for
    the rows that need it.
    """
    sv = visits["_S"].to_numpy() * n_visit + visits["_V"].to_numpy()
    keyed = new.set_index(new["_S"].to_numpy() * n_visit + new["_V"].to_numpy())
    uneq = keyed["NEW_UNEQUIVOCAL"].reindex(sv, fill_value=False).to_numpy(dtype=bool)
    equiv = keyed["NEW_EQUIVOCAL"].reindex(sv, fill_value=False).to_numpy(dtype=bool)
    back = (keyed["NEW_BACKDATED"].reindex(sv, fill_value=False).to_numpy(dtype=bool)
            if "NEW_BACKDATED" in keyed else np.zeros(len(sv), dtype=bool))
    counted = uneq | back | (equiv & settings.equivocal_new_lesion_is_pd)
    post = ~visits["BASELINE"].to_numpy()
    ids = keyed["NEW_IDS"].reindex(sv).to_numpy(dtype=object)
    return pd.DataFrame({
        "NEWLPROG": np.where(post, np.where(counted, "Y", "N"), None).astype(object),
        "NEW_EQUIVOCAL_ONLY": post & equiv & ~counted,
        "NEW_BACKDATED": post & back,
        # what the why of a counted progression is made of (new_reason)
        "NEW_COUNTED": post & counted, "NEW_IDS": ids, "NEW_CONFIRMED": back & ~uneq,
    }, index=visits.index)


def new_reason(counted: np.ndarray, ids: np.ndarray, confirmed: np.ndarray) -> np.ndarray:
    """Why of each counted new-lesion progression, each row from its own values."""
    return np.where(counted,
                    "new lesion " + np.where(pd.isna(ids), "", ids).astype(object)
                    + np.where(confirmed, " (equivocal, confirmed later: PD back-dated)", ""),
                    None).astype(object)
