"""Oncology step of the SDTM run: the independent RECIST 1.1 engine checks the investigator.

Computed timepoint responses are compared with the collected RS records (disagreements become
findings with the numbers that explain them) and, when study.yaml sets ``rs_computed: true``,
are added to RS as derived records (RSDRVFL = "Y", SDTMIG 3.4 §4.1.8). With several readers
(``recist: {evaluators: [...]}``) each is checked against its own RS records; derived records
are written for the primary ``evaluator`` only (RS has one derived series).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from cdiscmap.findings import Finding
from cdiscmap.recist import RecistSettings, crosscheck, to_rs_records
from cdiscmap.recist.overall import Reasons
from cdiscmap.recist.series import SERIES_SEP, split_series
from cdiscmap.recist.shared import series_timepoints_deferred
from cdiscmap.sdtm.dates import study_day
from cdiscmap.sdtm.engine import SdtmResult
from cdiscmap.sdtm.vectorize import (
    carry_concat,
    carry_rows,
    coded,
    codes_cache,
    null_text,
    text_from_codes,
)
from cdiscmap.spec.loader import LoadedStudy

#: _SRCFILE of the computed RS records (lineage: no raw file)
ENGINE_SOURCE = "(RECIST engine)"


@dataclasses.dataclass(frozen=True, eq=False)
class RecistCrosscheck:
    """The cross-check of one run's computed timepoints against the investigator's RS, kept
    to be run later: ``cdiscmap run`` runs it in a forked child beside the ADaM work, and puts
    its findings where the RECIST step would have (:meth:`findings`). Holds the RS collected
    before the computed records were added; the frames must not change in between.
    ``computed`` has REASON null: ``reasons`` composes it for the rows a finding shows."""

    computed: pd.DataFrame
    tu: pd.DataFrame
    tr: pd.DataFrame
    rs: pd.DataFrame
    starts: pd.DataFrame
    settings: RecistSettings
    reasons: Reasons

    def findings(self) -> list[Finding]:
        """The disagreements (RECIST 1.1 §4.3-§4.4 responses) as findings, subject ids
        without the series suffix."""
        with codes_cache():
            # split_series keeps the rows in order: the reasons' rows are the computed ones
            _, found = crosscheck(split_series(self.computed, self.starts),
                                  split_series(self.rs, self.starts),
                                  tr=split_series(self.tr, self.starts), settings=self.settings,
                                  disagreements_only=True, reasons=self.reasons.at)
        return [dataclasses.replace(f, usubjid=f.usubjid.split(SERIES_SEP)[0]) for f in found]


def datasets_replaced(result: SdtmResult, loaded: LoadedStudy) -> set[str]:
    """The mapped datasets :func:`apply_recist` may replace (RS, given its computed records
    with study.yaml's ``rs_computed``): checking them before it runs would be wasted work."""
    if loaded.study.rs_computed and {"TU", "TR", "RS"} <= result.domains.keys():
        return {"RS"}
    return set()


def apply_recist(result: SdtmResult, loaded: LoadedStudy, *, check: bool = True
                 ) -> RecistCrosscheck | None:
    """Run the RECIST engine on TU/TR (nothing without TU/TR) and, with study.yaml's
    ``rs_computed``, add its records to RS.

    The cross-check against the collected RS adds its findings to ``result.findings`` here;
    with ``check=False`` it is returned instead, to be run later (None without RS).
    Text columns are factorised once for the engine and the cross-check (a codes cache,
    :mod:`cdiscmap.sdtm.vectorize`; opened by the caller too, the mapped domains' own
    factorisations are used)."""
    tu, tr, rs = (result.domains.get(d) for d in ("TU", "TR", "RS"))
    if tu is None or tr is None:
        return None
    with codes_cache():
        settings = RecistSettings(**loaded.study.recist)
        # kept for ADTR when the run opened recist.shared.timepoints_memo; REASON is
        # composed by the cross-check for the rows its findings show (most rows need none)
        starts, computed, reasons = series_timepoints_deferred(
            tu, tr, settings, loaded.study.recist_rebaseline)
        pending = None if rs is None else RecistCrosscheck(computed, tu, tr, rs, starts,
                                                            settings, reasons)
        if pending is not None and check:
            result.findings.extend(pending.findings())
            pending = None
        if loaded.study.rs_computed and rs is not None:
            result.domains["RS"] = _append_computed(rs, computed, loaded, result)
            result.accounting.records("RS", len(result.domains["RS"]))
    return pending


def _append_computed(rs: pd.DataFrame, computed: pd.DataFrame, loaded: LoadedStudy,
                     result: SdtmResult) -> pd.DataFrame:
    settings = RecistSettings(**loaded.study.recist)
    reader, readers = coded(computed["EVALUATOR"])
    primary_rows = np.isin(reader, np.flatnonzero(np.asarray(readers, dtype=object)
                                                  == settings.evaluator))
    # one reader (the usual case): the records of every row, without a copy of them
    primary = computed if primary_rows.all() else computed[primary_rows]
    # the text columns of the records come with their codes (codes cache, to_rs_records)
    extra = to_rs_records(primary, loaded.study.studyid)
    if extra.empty:
        return rs
    subject, subjects = coded(extra["USUBJID"])
    dm = result.domains.get("DM")
    if dm is not None and "RSDY" in rs:
        ref = dm[["USUBJID", "RFSTDTC"]].drop_duplicates("USUBJID").set_index(
            "USUBJID")["RFSTDTC"]
        extra["RSDY"] = study_day(extra["RSDTC"], _per_subject(extra, subject, subjects, ref))
    if "EPOCH" in rs:
        # the computed record shares the epoch of the investigator's record of that visit
        extra["EPOCH"] = _visit_epochs(rs, extra, subject, subjects)
    extra["_SRCFILE"] = ENGINE_SOURCE
    extra["_SRCROW"] = 0
    for col in rs.columns:
        # RS text the records do not have (RSLNKGRP): null, so RS's column stays text with
        # its factorisation joined, not an object column converted row by row
        if col not in extra.columns and rs[col].dtype == "string":
            extra[col] = null_text(extra.index)
    combined = pd.concat([rs, extra], ignore_index=True)
    for col in rs.columns:
        if rs[col].dtype == "string" and combined[col].dtype != pd.StringDtype():
            combined[col] = combined[col].astype("string")
        elif col in extra.columns:
            carry_concat([rs[col], extra[col]], combined[col])
    # computed records are numbered after the collected ones, which keep their RSSEQ: rows
    # ordered by USUBJID (null last), collected first, RSSEQ (null last), input order, on
    # integer ranks instead of a sort of text columns
    codes, uniques = coded(combined["USUBJID"])
    rank = np.empty(len(uniques) + 1, dtype=np.int64)
    rank[np.argsort(np.asarray(uniques, dtype=object), kind="stable")] = np.arange(len(uniques))
    rank[-1] = len(uniques)                                  # code -1 (null) sorts last
    subject = rank[codes]
    engine = np.ones(len(combined), dtype=bool)             # the records of the engine
    if "_SRCFILE" in rs:
        source, sources = coded(rs["_SRCFILE"])
        engine[:len(rs)] = np.isin(source, np.flatnonzero(sources == ENGINE_SOURCE))
    else:
        engine[:len(rs)] = False
    order = np.lexsort((np.arange(len(combined)), combined["RSSEQ"].to_numpy(dtype=np.float64),
                        engine, subject))
    ordered = combined.take(order)
    ordered.index = pd.RangeIndex(len(ordered))      # as reset_index(drop=True), no copy
    carry_rows(combined, ordered, order)
    subject = subject[order]
    first = np.ones(len(subject), dtype=bool)
    first[1:] = subject[1:] != subject[:-1]
    starts = np.flatnonzero(first)
    seq = np.arange(len(subject)) - starts[np.cumsum(first) - 1] + 1.0
    ordered["RSSEQ"] = np.where(subject == len(uniques), np.nan, seq)   # no subject: no --SEQ
    return ordered


def _per_subject(extra: pd.DataFrame, subject: np.ndarray, subjects: np.ndarray,
                 values: pd.Series) -> pd.Series:
    """``extra["USUBJID"].map(values)`` (a text Series by USUBJID), looked up once per
    distinct subject; the result's codes are known (codes cache)."""
    if not isinstance(values.dtype, pd.StringDtype):
        return extra["USUBJID"].map(values)
    found = pd.Series(np.asarray(subjects, dtype=object)).map(values)
    return text_from_codes(subject, found.to_numpy(dtype=object, na_value=None),
                           extra.index)


def _visit_epochs(rs: pd.DataFrame, extra: pd.DataFrame, subject: np.ndarray,
                  subjects: np.ndarray) -> pd.Series | np.ndarray:
    """EPOCH of each computed record: that of the first RS record of its subject and visit
    number (null when RS has none). On integer codes: RS's subjects and visit numbers are
    keyed once, the records' own subjects looked up per distinct subject."""
    visitnum = extra["VISITNUM"].to_numpy(dtype=np.float64)
    if not isinstance(rs["EPOCH"].dtype, pd.StringDtype) or (subject < 0).any() \
            or np.isnan(visitnum).any():
        epochs = rs.drop_duplicates(["USUBJID", "VISITNUM"]).set_index(
            ["USUBJID", "VISITNUM"])["EPOCH"]
        idx = pd.MultiIndex.from_frame(extra[["USUBJID", "VISITNUM"]])
        return epochs.reindex(idx).to_numpy()
    rs_subject, rs_subjects = coded(rs["USUBJID"])
    rs_visitnum = rs["VISITNUM"].to_numpy(dtype=np.float64)
    numbers = pd.Index(np.unique(np.concatenate([rs_visitnum, visitnum])))
    n_numbers = len(numbers) + 1                 # NaN (RS only) gets the last number
    rs_number = numbers.get_indexer(rs_visitnum)
    rs_number[rs_number < 0] = len(numbers)
    rs_key = (rs_subject.astype(np.int64) + 1) * n_numbers + rs_number
    keys, first = np.unique(rs_key, return_index=True)        # first record of each visit
    subject_in_rs = pd.Index(np.asarray(rs_subjects, dtype=object)).get_indexer(
        np.asarray(subjects, dtype=object))
    key = (subject_in_rs[subject].astype(np.int64) + 1) * n_numbers \
        + numbers.get_indexer(visitnum)
    at = np.searchsorted(keys, key)
    hit = (at < len(keys)) & (subject_in_rs[subject] >= 0)   # a subject RS lacks: none
    hit[hit] = keys[at[hit]] == key[hit]
    epoch, epochs = coded(rs["EPOCH"])
    return text_from_codes(np.where(hit, epoch[first[np.where(hit, at, 0)]], -1), epochs,
                           extra.index)
