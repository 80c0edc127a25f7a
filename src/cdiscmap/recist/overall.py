"""Overall timepoint response (RECIST 1.1 §4.4.1 tables 1 and 2) and the engine's entry point.

``timepoint_responses`` turns SDTM TU/TR into one row per subject × assessment with the computed
sums, the three component responses, the overall response and a short REASON, so the
investigator's RS can be checked (``crosscheck``) or derived records emitted (``to_rs_records``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdiscmap.recist.lesions import (
    STATUS_PRESENT,
    LesionData,
    assemble_lesions,
    factorize_text,
    find_keys,
    join_labels,
)
from cdiscmap.recist.nontarget import (
    new_lesion_progression,
    new_reason,
    nontarget_reason,
    nontarget_responses,
)
from cdiscmap.recist.readers import READER_SEP, join_readers, split_readers
from cdiscmap.recist.settings import DEFAULT_SETTINGS, EPSILON, RecistSettings
from cdiscmap.recist.target import (
    CR,
    NE,
    NON_CR_NON_PD,
    PD,
    PR,
    SD,
    select_text,
    target_reason,
    target_responses,
)
from cdiscmap.sdtm.vectorize import small_codes

OUTPUT_COLUMNS = [
    "USUBJID", "EVALUATOR", "VISITNUM", "VISIT", "ADTC", "BASELINE_FL", "SUMDIAM", "BASE_SUM", "NADIR",
    "PCHG_BASE", "PCHG_NADIR", "ACHG_NADIR", "N_TARGET_EXPECTED", "N_TARGET_MEASURED",
    "TRGRESP", "NTRGRESP", "NEWLPROG", "OVRLRESP", "REASON",
]
_TEXT_COLUMNS = ["USUBJID", "VISIT", "ADTC", "BASELINE_FL", "TRGRESP", "NTRGRESP", "NEWLPROG",
                 "OVRLRESP", "REASON"]


def overall_response(trgresp: np.ndarray, ntrgresp: np.ndarray, newlprog: np.ndarray,
                     has_target: np.ndarray) -> np.ndarray:
    """Overall response per assessment from its components (vectorised).

    Subjects with target lesions follow RECIST 1.1 §4.4.1 table 1, those with non-target disease
    only follow table 2. A null NTRGRESP in table 1 means "no non-target lesions" and acts as CR.
    A null component that the table needs gives a null overall response.
    """
    trg = np.asarray(trgresp, dtype=object)
    ntrg = np.asarray(ntrgresp, dtype=object)
    new = np.asarray(newlprog, dtype=object) == "Y"
    t1 = np.asarray(has_target, dtype=bool)
    t1_known = t1 & pd.notna(trg)
    t2_known = ~t1 & pd.notna(ntrg)
    ntrg_cr_or_none = (ntrg == CR) | pd.isna(ntrg)
    return select_text(
        [
            # table 1 (targets ± non-targets)
            t1_known & ((trg == PD) | (ntrg == PD) | new),
            t1_known & (trg == NE),
            t1_known & (trg == CR) & ntrg_cr_or_none,
            t1_known & (trg == CR),                  # non-target NON-CR/NON-PD or not evaluated
            t1_known & (trg == PR),                  # non-target non-PD or not all evaluated
            t1_known & (trg == SD),
            # table 2 (non-target disease only)
            t2_known & ((ntrg == PD) | new),
            t2_known & (ntrg == NE),
            t2_known & (ntrg == CR),
            t2_known & (ntrg == NON_CR_NON_PD),
        ],
        [PD, NE, CR, PR, PR, SD, PD, NE, CR, NON_CR_NON_PD],
        default=None,
    )


def _join(*parts: np.ndarray) -> np.ndarray:
    """Join text columns with ';', skipping null/empty parts (vectorised)."""
    out = np.full(len(parts[0]), "", dtype=object)
    for part in parts:
        part = np.asarray(part, dtype=object)
        has = pd.notna(part)
        has[has] = part[has] != ""
        after = has & (out != "")
        out[after] = out[after] + ";" + part[after]
        first = has & ~after
        out[first] = part[first]
    return out


def _no_baseline_reasons(data: LesionData, trg: pd.DataFrame) -> pd.Series:
    """Per subject code: why it has no usable baseline (absent subjects have one)."""
    subjects = data.subjects
    visits = data.visits
    n_subj = len(subjects)
    reason = np.full(n_subj, None, dtype=object)
    has_disease = (subjects["N_TARGET"].to_numpy() + subjects["N_NONTARGET"].to_numpy()) > 0
    base_rows = visits["BASELINE"].to_numpy()
    has_base_row = np.zeros(n_subj, dtype=bool)
    has_base_row[visits["_S"].to_numpy()[base_rows]] = True
    base_complete = np.zeros(n_subj, dtype=bool)
    base_complete[visits["_S"].to_numpy()[trg["BASE_COMPLETE"].to_numpy()]] = True
    missing_at_base = pd.Series(trg["TRG_MISSING"].to_numpy()[base_rows],
                                index=visits["_S"].to_numpy()[base_rows])
    missing_txt = missing_at_base.reindex(np.arange(n_subj)).to_numpy(dtype=object)
    has_target = subjects["N_TARGET"].to_numpy() > 0
    reason = np.select(
        [~has_disease, ~has_base_row, has_target & ~base_complete],
        ["NA:no target or non-target lesion in TU", "NA:no assessment at the baseline visit",
         "NA:baseline target " + np.where(pd.isna(missing_txt), "", missing_txt).astype(object)
         + " not measured"],
        default=None).astype(object)
    return pd.Series(reason)


def timepoint_responses(tu: pd.DataFrame, tr: pd.DataFrame,
                        settings: RecistSettings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """RECIST 1.1 timepoint responses computed from the lesions, one row per subject × assessment.

    Rows: every TR assessment (VISITNUM) of the evaluator at or after the subject's baseline;
    the baseline row has BASELINE_FL="Y" and no response. ADTC is the earliest lesion date
    (TRDTC) of the assessment, so a scan spread over several days is dated by its first image,
    the usual convention for the date of progression; without lesion dates, any TR date of the
    visit is used. Subjects without a usable baseline keep their rows with null responses and a
    REASON starting "NA:"; ``result.attrs["notes"]`` lists these and any ignored TR records.

    Readers (``recist/readers.py``): every evaluator of ``settings.readers_wanted()`` and each of
    its ``--EVALID`` is computed as its own series; EVALUATOR names it. Sorted by USUBJID,
    EVALUATOR, VISITNUM.
    """
    out, reasons = timepoint_responses_deferred(tu, tr, settings)
    out["REASON"] = pd.array(reasons.at(np.arange(len(out))), dtype="string")
    return out


def timepoint_responses_deferred(tu: pd.DataFrame, tr: pd.DataFrame,
                                 settings: RecistSettings = DEFAULT_SETTINGS
                                 ) -> tuple[pd.DataFrame, Reasons]:
    """:func:`timepoint_responses` with REASON left null, and what it is made of: its text
    for any rows is ``reasons.at(rows)`` (the same text ``timepoint_responses`` gives them).
    For a caller that needs the REASON of a few rows only (the run's cross-check: the rows
    that disagree with RS), composing every row's text would be a fifth of the engine's time."""
    (tu, tr), readers = split_readers([(tu, "TU"), (tr, "TR")], settings.evaluator,
                                      settings.readers_wanted())
    out, reasons = _responses(tu, tr, settings)
    notes = [note.replace(READER_SEP, " reader ") for note in out.attrs.get("notes", [])]
    out = join_readers(out, readers, settings.evaluator)       # the same rows, in order
    out.attrs["notes"] = notes
    return out, reasons


_STRING = pd.StringDtype()     # by object: a dtype name is looked up in pandas' registry per call

# the target-lesion sums of timepoint_responses (target_sums computes these alone)
SUM_COLUMNS = ["USUBJID", "EVALUATOR", "VISITNUM", "VISIT", "ADTC", "BASELINE_FL", "SUMDIAM",
               "N_TARGET_EXPECTED", "N_TARGET_MEASURED"]


def target_sums(tu: pd.DataFrame, tr: pd.DataFrame,
                settings: RecistSettings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """``timepoint_responses(tu, tr, settings)[SUM_COLUMNS]``: the same rows and values from
    the same lesion assembly and target computation (RECIST 1.1 §4.2/§4.3.1 sum of
    diameters), without the non-target, new-lesion and overall responses and their reasons,
    for a reader of the sums alone (ADTR). ``attrs["notes"]`` are not made."""
    (tu, tr), readers = split_readers([(tu, "TU"), (tr, "TR")], settings.evaluator,
                                      settings.readers_wanted())
    data = assemble_lesions(tu, tr, settings, filter_evaluator=False)
    visits = data.visits
    trg = target_responses(data.target, visits, max(len(data.visitnums), 1), settings)
    subj = visits["_S"].to_numpy()

    def text(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
        # made "string" in the frame's constructor, not set over an object column after it
        # (four column replacements, ~0.1 ms each)
        return pd.array(values, dtype=_STRING)

    out = pd.DataFrame({
        "USUBJID": text(data.subjects["USUBJID"].to_numpy(dtype=object)[subj]),
        "VISITNUM": visits["VISITNUM"].to_numpy(dtype=np.float64),
        "VISIT": text(visits["VISIT"].to_numpy(dtype=object)),
        "ADTC": text(visits["ADTC"].to_numpy(dtype=object)),
        "BASELINE_FL": text(np.where(visits["BASELINE"].to_numpy(), "Y", None).astype(object)),
        "SUMDIAM": trg["SUMDIAM"].to_numpy(),
        "N_TARGET_EXPECTED": trg["N_TARGET_EXPECTED"].to_numpy(dtype=np.int64),
        "N_TARGET_MEASURED": trg["N_TARGET_MEASURED"].to_numpy(dtype=np.int64),
    })
    return join_readers(out, readers, settings.evaluator)


def _responses(tu: pd.DataFrame, tr: pd.DataFrame, settings: RecistSettings
               ) -> tuple[pd.DataFrame, Reasons]:
    """The engine on one reader's rows (or several readers keyed into USUBJID); REASON null,
    composed by the :class:`Reasons` returned with the rows."""
    data = assemble_lesions(tu, tr, settings, filter_evaluator=False)
    visits = data.visits
    n_visit = max(len(data.visitnums), 1)
    trg = target_responses(data.target, visits, n_visit, settings)
    ntrg = nontarget_responses(data.nontarget, visits, n_visit)
    new = new_lesion_progression(data.new, visits, n_visit, settings)

    subj = visits["_S"].to_numpy()
    baseline = visits["BASELINE"].to_numpy()
    no_base_by_subj = _no_baseline_reasons(data, trg)
    no_base = no_base_by_subj.to_numpy(dtype=object)[subj] if len(subj) else np.array([], object)
    usable = pd.isna(no_base)
    post = usable & ~baseline
    has_target = data.subjects["N_TARGET"].to_numpy()[subj] > 0

    trgresp = np.where(post & has_target, trg["TRGRESP"].to_numpy(), None).astype(object)
    ntrgresp = np.where(post, ntrg["NTRGRESP"].to_numpy(), None).astype(object)
    newlprog = np.where(post, new["NEWLPROG"].to_numpy(), None).astype(object)
    ovrl = overall_response(trgresp, ntrgresp, newlprog, has_target)
    if settings.pd_on_reappearance:
        new_trg, new_ntrg, trg, ntrg = _reappearance(data, n_visit, ovrl, trgresp, ntrgresp,
                                                     trg, ntrg, settings)
        if new_trg is not trgresp or new_ntrg is not ntrgresp:
            # the overall response again where a component became PD (row by row: the same
            # as computing every row again)
            changed = np.flatnonzero((new_trg != trgresp) | (new_ntrg != ntrgresp))
            ovrl = ovrl.copy()
            ovrl[changed] = overall_response(new_trg[changed], new_ntrg[changed],
                                             newlprog[changed], has_target[changed])
        trgresp, ntrgresp = new_trg, new_ntrg

    # only what the reasons are made of is kept, the texts as small codes
    reasons = Reasons(
        *map(_Codes.of, (ovrl, trgresp, ntrgresp, newlprog, no_base)), has_target, baseline,
        usable, _Codes.of(trg["TRGRESP"].to_numpy()), trg["PCHG_BASE"].to_numpy(),
        trg["PCHG_NADIR"].to_numpy(), trg["ACHG_NADIR"].to_numpy(),
        *map(_Codes.of, (trg["TRG_MISSING"].to_numpy(), trg["TRG_REASON"].to_numpy(),
                         ntrg["NTRGRESP"].to_numpy(), ntrg["NTRG_PD_IDS"].to_numpy(),
                         ntrg["NTRG_NE_IDS"].to_numpy(), ntrg["NTRG_REASON"].to_numpy())),
        new["NEW_COUNTED"].to_numpy(), _Codes.of(new["NEW_IDS"].to_numpy()),
        new["NEW_CONFIRMED"].to_numpy(), new["NEW_EQUIVOCAL_ONLY"].to_numpy(), settings)

    out = pd.DataFrame({
        "USUBJID": data.subjects["USUBJID"].to_numpy(dtype=object)[subj],
        "VISITNUM": visits["VISITNUM"].to_numpy(dtype=np.float64),
        "VISIT": visits["VISIT"].to_numpy(dtype=object),
        "ADTC": visits["ADTC"].to_numpy(dtype=object),
        "BASELINE_FL": np.where(baseline, "Y", None).astype(object),
        "SUMDIAM": trg["SUMDIAM"].to_numpy(),
        "BASE_SUM": np.where(usable, trg["BASE_SUM"].to_numpy(), np.nan),
        "NADIR": np.where(post, trg["NADIR"].to_numpy(), np.nan),
        "PCHG_BASE": np.where(post, trg["PCHG_BASE"].to_numpy(), np.nan),
        "PCHG_NADIR": np.where(post, trg["PCHG_NADIR"].to_numpy(), np.nan),
        "ACHG_NADIR": np.where(post, trg["ACHG_NADIR"].to_numpy(), np.nan),
        "N_TARGET_EXPECTED": trg["N_TARGET_EXPECTED"].to_numpy(dtype=np.int64),
        "N_TARGET_MEASURED": trg["N_TARGET_MEASURED"].to_numpy(dtype=np.int64),
        "TRGRESP": trgresp, "NTRGRESP": ntrgresp, "NEWLPROG": newlprog, "OVRLRESP": ovrl,
        "REASON": np.full(len(subj), None, dtype=object),
    })
    for col in _TEXT_COLUMNS:
        out[col] = pd.array(out[col].to_numpy(dtype=object), dtype="string")
    # visits are sorted by subject code (= sorted USUBJID) then VISITNUM already; the frame
    # built from arrays has a RangeIndex (no reset_index: it would copy every column)
    out.attrs["notes"] = data.notes + _subject_notes(data, no_base_by_subj)
    return out, reasons


@dataclass(frozen=True)
class _Codes:
    """A text column (str and nulls) as small integer codes into its distinct values, null
    last: what a :class:`Reasons` keeps of its texts (a few distinct values shared by many
    rows: a byte or four per row instead of an object pointer)."""

    codes: np.ndarray
    table: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> _Codes:
        codes, uniques = factorize_text(np.asarray(values, dtype=object))
        table = np.empty(len(uniques) + 1, dtype=object)
        table[:-1] = uniques
        table[-1] = None                               # code -1 (any null) reads None
        return cls(small_codes(codes, len(uniques)), table)

    def at(self, rows: np.ndarray) -> np.ndarray:
        return self.table[self.codes[rows]]


@dataclass(frozen=True, eq=False)
class Reasons:
    """What the REASON of each timepoint row (the engine's rows, in order) is made of: the
    responses and their components' inputs, the reappearance texts of ``_reappearance``
    (TRG_REASON/NTRG_REASON, null elsewhere). Each row's text depends on that row's values
    only, so :meth:`at` composes it for the rows asked, the same as for every row at once.
    Nulls read back as None (every test of them is ``pd.isna``)."""

    ovrl: _Codes
    trgresp: _Codes
    ntrgresp: _Codes
    newlprog: _Codes
    no_base: _Codes
    has_target: np.ndarray
    baseline: np.ndarray
    usable: np.ndarray
    trg_resp: _Codes
    pchg_base: np.ndarray
    pchg_nadir: np.ndarray
    achg_nadir: np.ndarray
    trg_missing: _Codes
    trg_reappeared: _Codes
    ntrg_resp: _Codes
    ntrg_pd_ids: _Codes
    ntrg_ne_ids: _Codes
    ntrg_reappeared: _Codes
    new_counted: np.ndarray
    new_ids: _Codes
    new_confirmed: np.ndarray
    new_equivocal_only: np.ndarray
    settings: RecistSettings

    def at(self, rows: np.ndarray) -> np.ndarray:
        """REASON of the rows at positions ``rows`` (object array: str or None)."""
        rows = np.asarray(rows, dtype=np.intp)
        # a component's reason set by _reappearance stands; the others are composed
        trg_why = self.trg_reappeared.at(rows)
        trg_why = np.where(pd.isna(trg_why), target_reason(
            self.trg_resp.at(rows), self.pchg_base[rows], self.pchg_nadir[rows],
            self.achg_nadir[rows], self.trg_missing.at(rows), self.settings), trg_why)
        ntrg_why = self.ntrg_reappeared.at(rows)
        ntrg_why = np.where(pd.isna(ntrg_why), nontarget_reason(
            self.ntrg_resp.at(rows), self.ntrg_pd_ids.at(rows), self.ntrg_ne_ids.at(rows)),
            ntrg_why)
        reason = _reason(self.ovrl.at(rows), self.trgresp.at(rows), self.ntrgresp.at(rows),
                         self.newlprog.at(rows), self.has_target[rows], trg_why, ntrg_why,
                         new_reason(self.new_counted[rows], self.new_ids.at(rows),
                                    self.new_confirmed[rows]),
                         self.new_equivocal_only[rows])
        usable = self.usable[rows]
        reason = np.where(usable & self.baseline[rows], "BASELINE", reason)
        return np.where(usable, reason, self.no_base.at(rows)).astype(object)


def _reappearance(data: LesionData, n_visit: int, ovrl: np.ndarray, trgresp: np.ndarray,
                  ntrgresp: np.ndarray, trg: pd.DataFrame, ntrg: pd.DataFrame,
                  settings: RecistSettings) -> tuple[np.ndarray, np.ndarray, pd.DataFrame,
                                                     pd.DataFrame]:
    """PD when a lesion reappears after an overall CR (RECIST 1.1 §4.3.1-§4.3.3, §4.4.1).

    After a CR every lesion has disappeared (non-nodal targets 0 mm, non-targets absent). At a
    later assessment of the same series, a non-nodal target above 0 mm or a non-target
    PRESENT/UNEQUIVOCAL is a reappearance: the component becomes PD (the sum rule of §4.3.1 alone
    would call a 3 mm lesion after CR a PR). Nodal targets are left to the sum rule: a normal
    node (< ``node_normal_mm``) keeps a measurement in the sum, so it has not "disappeared"
    (RECIST 1.1 §4.3.1 note on nodes; a node back at 10 mm is PD only by +20 %/+5 mm). Rows stay
    aligned with ``data.visits``.
    """
    visits = data.visits
    is_cr = ovrl == CR
    if not is_cr.any():
        return trgresp, ntrgresp, trg, ntrg
    subj = visits["_S"].to_numpy()
    # CR at an earlier assessment of the subject: rows are sorted by subject, visit, so a row
    # follows a CR when its position is after the subject's first CR row.
    rows = np.arange(len(subj))
    first_cr = np.full(int(subj.max()) + 1, len(subj), dtype=np.int64)
    np.minimum.at(first_cr, subj[is_cr], rows[is_cr])
    prior_cr = rows > first_cr[subj]
    if not prior_cr.any():
        return trgresp, ntrgresp, trg, ntrg
    sv = subj * n_visit + visits["_V"].to_numpy()

    t = data.target
    t_pos = find_keys(sv, t["_S"].to_numpy() * n_visit + t["_V"].to_numpy())
    t_val = t["VALUE"].to_numpy()
    t_back = (prior_cr[t_pos] & t["EVALUATED"].to_numpy() & ~t["NODAL"].to_numpy()
              & (t_val > EPSILON))
    t_ids = join_labels(t_pos[t_back], t["LESION"].to_numpy(dtype=object)[t_back])
    t_any = np.zeros(len(sv), dtype=bool)
    t_any[t_pos[t_back]] = True

    nt = data.nontarget
    nt_pos = find_keys(sv, nt["_S"].to_numpy() * n_visit + nt["_V"].to_numpy())
    nt_back = prior_cr[nt_pos] & (nt["STATUS"].to_numpy() >= STATUS_PRESENT)
    nt_ids = join_labels(nt_pos[nt_back], nt["LESION"].to_numpy(dtype=object)[nt_back])
    nt_any = np.zeros(len(sv), dtype=bool)
    nt_any[nt_pos[nt_back]] = True

    t_hit = prior_cr & t_any & pd.notna(trgresp) & (trgresp != PD)
    nt_hit = prior_cr & nt_any & pd.notna(ntrgresp) & (ntrgresp != PD)
    trg, ntrg = trg.copy(), ntrg.copy()
    if t_hit.any():
        ids = t_ids.reindex(np.flatnonzero(t_hit)).to_numpy(dtype=object)
        trg.loc[trg.index[t_hit], "TRG_REASON"] = "target " + ids + " reappeared after CR"
        trgresp = np.where(t_hit, PD, trgresp).astype(object)
    if nt_hit.any():
        ids = nt_ids.reindex(np.flatnonzero(nt_hit)).to_numpy(dtype=object)
        ntrg.loc[ntrg.index[nt_hit], "NTRG_REASON"] = "non-target " + ids + " reappeared after CR"
        ntrgresp = np.where(nt_hit, PD, ntrgresp).astype(object)
    return trgresp, ntrgresp, trg, ntrg


def _reason(ovrl: np.ndarray, trgresp: np.ndarray, ntrgresp: np.ndarray, newlprog: np.ndarray,
            has_target: np.ndarray, trg_why: np.ndarray, ntrg_why: np.ndarray,
            new_why: np.ndarray, equivocal_only: np.ndarray) -> np.ndarray:
    """``<OVRLRESP>:<why>`` naming the components that decided it (vectorised)."""
    none = np.full(len(ovrl), None, dtype=object)
    is_pd = ovrl == PD
    # PD: every component that shows progression.
    pd_why = _join(np.where(is_pd & (trgresp == PD), trg_why, none),
                   np.where(is_pd & (ntrgresp == PD), ntrg_why, none),
                   np.where(is_pd & (newlprog == "Y"), new_why, none))
    # Otherwise, table 1: the target part, plus the non-target part where it decided
    # (CR, PR reached from a target CR, or non-target NE too); table 2: the non-target part.
    ntrg_matters = ~has_target | (trgresp == CR) | (ntrgresp == NE)
    other = ~is_pd & pd.notna(ovrl)
    other_why = _join(np.where(other & has_target, trg_why, none),
                      np.where(other & ntrg_matters, ntrg_why, none))
    equivocal = equivocal_only & pd.notna(ovrl)
    why = _join(np.where(is_pd, pd_why, other_why),
                np.where(equivocal, "equivocal new lesion not counted", none))
    out = np.full(len(ovrl), None, dtype=object)
    known = pd.notna(ovrl)
    out[known] = ovrl[known] + ":" + why[known]
    return out


def _subject_notes(data: LesionData, no_base: pd.Series) -> list[str]:
    notes = []
    subjects = data.subjects["USUBJID"].to_numpy(dtype=object)
    assessed = np.zeros(len(subjects), dtype=bool)
    assessed[data.visits["_S"].to_numpy()] = True
    lacking = no_base.notna().to_numpy() & assessed
    if lacking.any():
        labels = subjects[lacking] + " (" + no_base.to_numpy(dtype=object)[lacking] + ")"
        notes.append(f"{int(lacking.sum())} subject(s) without a usable baseline get no response: "
                     + "; ".join(labels[:5]) + (" ..." if lacking.sum() > 5 else ""))
    never = ~assessed & ((data.subjects["N_TARGET"] + data.subjects["N_NONTARGET"]).to_numpy() > 0)
    if never.any():
        notes.append(f"{int(never.sum())} subject(s) with lesions in TU have no TR assessment: "
                     + ", ".join(subjects[never][:5]) + (" ..." if never.sum() > 5 else ""))
    return notes
