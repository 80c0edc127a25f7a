"""Oncology step of the SDTM run: the independent RECIST 1.1 engine checks the investigator.

Computed timepoint responses are compared with the collected RS records (disagreements become
findings with the numbers that explain them) and, when study.yaml sets ``rs_computed: true``,
are added to RS as derived records (RSDRVFL = "Y", SDTMIG 3.4 §4.1.8). With several readers
(``recist: {evaluators: [...]}``) each is checked against its own RS records; derived records
are written for the primary ``evaluator`` only (RS has one derived series).
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from cdiscmap.recist import RecistSettings, crosscheck, timepoint_responses, to_rs_records
from cdiscmap.sdtm.dates import study_day
from cdiscmap.sdtm.engine import SdtmResult
from cdiscmap.spec.loader import LoadedStudy


def apply_recist(result: SdtmResult, loaded: LoadedStudy) -> pd.DataFrame | None:
    """Run the RECIST engine on TU/TR; returns the computed timepoints (None without TU/TR)."""
    tu, tr, rs = (result.domains.get(d) for d in ("TU", "TR", "RS"))
    if tu is None or tr is None:
        return None
    settings = RecistSettings(**loaded.study.recist)
    starts = _series_starts(tu, loaded.study.recist_rebaseline)
    computed = _unsplit(timepoint_responses(_split(tu, starts), _split(tr, starts), settings))
    if rs is not None:
        split_rs = _split(rs, starts)
        _, findings = crosscheck(_split(computed, starts), split_rs, tr=_split(tr, starts),
                                 settings=settings)
        result.findings.extend(
            [dataclasses.replace(f, usubjid=f.usubjid.split(SERIES_SEP)[0]) for f in findings])
    if loaded.study.rs_computed and rs is not None:
        result.domains["RS"] = _append_computed(rs, computed, loaded, result)
        result.accounting.records("RS", len(result.domains["RS"]))
    return computed


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
        if rs[col].dtype == "string":
            combined[col] = combined[col].astype("string")
    # computed records are numbered after the collected ones, which keep their RSSEQ
    combined["_ORD"] = range(len(combined))
    combined["_C"] = combined["_SRCFILE"] == "(RECIST engine)"
    combined = combined.sort_values(["USUBJID", "_C", "RSSEQ", "_ORD"], kind="mergesort")
    combined["RSSEQ"] = (combined.groupby("USUBJID").cumcount() + 1).astype("float64")
    return combined.drop(columns=["_ORD", "_C"]).reset_index(drop=True)


# --------------------------------------------------------------------------- re-baselining
SERIES_SEP = "\x1f"


def _series_starts(tu: pd.DataFrame, visits: list[str]) -> pd.DataFrame:
    """Per subject, the VISITNUMs at which a new RECIST series starts (study.yaml
    ``recist_rebaseline``: lesions identified anew, e.g. before a rechallenge; RECIST 1.1
    compares each assessment with the baseline of its own series)."""
    if not visits or "VISIT" not in tu or "VISITNUM" not in tu:
        return pd.DataFrame(columns=["USUBJID", "VISITNUM"])
    marks = tu[tu["VISIT"].isin(visits)]
    return marks.groupby(["USUBJID", "VISITNUM"], as_index=False).size()[["USUBJID",
                                                                          "VISITNUM"]]


def _split(frame: pd.DataFrame, starts: pd.DataFrame) -> pd.DataFrame:
    """Records of later series get USUBJID "<id><SEP><n>", so the engine treats each series
    as its own subject."""
    if starts.empty or "VISITNUM" not in frame:
        return frame
    work = frame.reset_index(drop=True)
    left = pd.DataFrame({"USUBJID": work["USUBJID"].astype("string"),
                         "VISITNUM": work["VISITNUM"].astype("float64"),
                         "_POS": range(len(work))})
    marks = starts.assign(VISITNUM=starts["VISITNUM"].astype("float64"))
    marks = marks.sort_values(["USUBJID", "VISITNUM"], kind="mergesort")
    marks["_N"] = marks.groupby("USUBJID").cumcount() + 1
    known = left[left["VISITNUM"].notna()].sort_values("VISITNUM", kind="mergesort")
    merged = pd.merge_asof(known, marks.sort_values("VISITNUM", kind="mergesort"),
                           on="VISITNUM", by="USUBJID", direction="backward")
    series = pd.Series(0, index=left.index)
    series.loc[merged["_POS"].to_numpy()] = merged["_N"].fillna(0).astype(int).to_numpy()
    out = work.copy()
    later = series > 0
    out.loc[later, "USUBJID"] = (out.loc[later, "USUBJID"].astype(str) + SERIES_SEP
                                 + series[later].astype(str))
    out["USUBJID"] = out["USUBJID"].astype("string")
    return out


def _unsplit(computed: pd.DataFrame) -> pd.DataFrame:
    """Computed responses back under their real USUBJID (the series kept in RECIST_SERIES)."""
    if computed.empty:
        return computed
    parts = computed["USUBJID"].astype("string").str.split(SERIES_SEP, n=1, expand=True)
    out = computed.copy()
    out["USUBJID"] = parts[0]
    out["RECIST_SERIES"] = (parts[1] if parts.shape[1] > 1 else pd.Series(pd.NA,
                            index=out.index)).fillna("0").astype(int)
    return out

