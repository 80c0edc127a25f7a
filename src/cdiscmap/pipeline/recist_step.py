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
from cdiscmap.recist.series import SERIES_SEP, split_series
from cdiscmap.recist.shared import series_timepoints
from cdiscmap.sdtm.dates import study_day
from cdiscmap.sdtm.engine import SdtmResult
from cdiscmap.sdtm.vectorize import codes_cache
from cdiscmap.spec.loader import LoadedStudy


@dataclasses.dataclass(frozen=True, eq=False)
class RecistCrosscheck:
    """The cross-check of one run's computed timepoints against the investigator's RS, kept
    to be run later: ``cdiscmap run`` runs it in a forked child beside the ADaM work, and puts
    its findings where the RECIST step would have (:meth:`findings`). Holds the RS collected
    before the computed records were added; the frames must not change in between."""

    computed: pd.DataFrame
    tu: pd.DataFrame
    tr: pd.DataFrame
    rs: pd.DataFrame
    starts: pd.DataFrame
    settings: RecistSettings

    def findings(self) -> list[Finding]:
        """The disagreements (RECIST 1.1 §4.3-§4.4 responses) as findings, subject ids
        without the series suffix."""
        with codes_cache():
            _, found = crosscheck(split_series(self.computed, self.starts),
                                  split_series(self.rs, self.starts),
                                  tr=split_series(self.tr, self.starts), settings=self.settings)
        return [dataclasses.replace(f, usubjid=f.usubjid.split(SERIES_SEP)[0]) for f in found]


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
        # kept for ADTR when the run opened recist.shared.timepoints_memo
        starts, computed = series_timepoints(tu, tr, settings, loaded.study.recist_rebaseline)
        pending = None if rs is None else RecistCrosscheck(computed, tu, tr, rs, starts,
                                                            settings)
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
    primary = computed[computed["EVALUATOR"].astype("string") == settings.evaluator]
    extra = to_rs_records(primary, loaded.study.studyid)
    if extra.empty:
        return rs
    dm = result.domains.get("DM")
    if dm is not None and "RSDY" in rs:
        ref = dm.drop_duplicates("USUBJID").set_index("USUBJID")["RFSTDTC"]
        extra["RSDY"] = study_day(extra["RSDTC"], extra["USUBJID"].map(ref))
    if "EPOCH" in rs:
        # the computed record shares the epoch of the investigator's record of that visit
        epochs = rs.drop_duplicates(["USUBJID", "VISITNUM"]).set_index(
            ["USUBJID", "VISITNUM"])["EPOCH"]
        idx = pd.MultiIndex.from_frame(extra[["USUBJID", "VISITNUM"]])
        extra["EPOCH"] = epochs.reindex(idx).to_numpy()
    extra["_SRCFILE"] = "(RECIST engine)"
    extra["_SRCROW"] = 0
    combined = pd.concat([rs, extra], ignore_index=True)
    for col in rs.columns:
        if rs[col].dtype == "string" and combined[col].dtype != pd.StringDtype():
            combined[col] = combined[col].astype("string")
    # computed records are numbered after the collected ones, which keep their RSSEQ: rows
    # ordered by USUBJID (null last), collected first, RSSEQ (null last), input order, on
    # integer ranks instead of a sort of text columns
    from cdiscmap.checks.read import factorize_objects

    codes, uniques = factorize_objects(np.asarray(
        combined["USUBJID"].astype("string").array, dtype=object))
    rank = np.empty(len(uniques) + 1, dtype=np.int64)
    rank[np.argsort(uniques, kind="stable")] = np.arange(len(uniques))
    rank[-1] = len(uniques)                                  # code -1 (null) sorts last
    subject = rank[codes]
    engine = (combined["_SRCFILE"] == "(RECIST engine)").to_numpy(dtype=bool, na_value=False)
    order = np.lexsort((np.arange(len(combined)), combined["RSSEQ"].to_numpy(dtype=np.float64),
                        engine, subject))
    combined = combined.take(order)
    combined.index = pd.RangeIndex(len(combined))    # as reset_index(drop=True), no copy
    subject = subject[order]
    first = np.ones(len(subject), dtype=bool)
    first[1:] = subject[1:] != subject[:-1]
    starts = np.flatnonzero(first)
    seq = np.arange(len(subject)) - starts[np.cumsum(first) - 1] + 1.0
    combined["RSSEQ"] = np.where(subject == len(uniques), np.nan, seq)   # no subject: no --SEQ
    return combined
