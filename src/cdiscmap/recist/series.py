"""RECIST series: one subject's assessments split where lesions are identified anew.

A study may re-baseline RECIST (study.yaml ``recist_rebaseline``: e.g. a rechallenge baseline);
RECIST 1.1 compares each assessment with the baseline and nadir of its own series. The engine
works per USUBJID, so later series get a suffixed USUBJID while they are computed and are put
back afterwards. Used by the run's RECIST step and by ADTR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SERIES_SEP = "\x1f"


def series_starts(tu: pd.DataFrame, visits: list[str]) -> pd.DataFrame:
    """Per subject, the VISITNUMs at which a new RECIST series starts (study.yaml
    ``recist_rebaseline``: lesions identified anew, e.g. before a rechallenge; RECIST 1.1
    compares each assessment with the baseline of its own series)."""
    if not visits or "VISIT" not in tu or "VISITNUM" not in tu:
        return pd.DataFrame(columns=["USUBJID", "VISITNUM"])
    marks = tu[tu["VISIT"].isin(visits)]
    return marks.groupby(["USUBJID", "VISITNUM"], as_index=False).size()[["USUBJID",
                                                                          "VISITNUM"]]


def split_series(frame: pd.DataFrame, starts: pd.DataFrame) -> pd.DataFrame:
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


def unsplit_series(computed: pd.DataFrame) -> pd.DataFrame:
    """Computed responses back under their real USUBJID (the series kept in RECIST_SERIES)."""
    if computed.empty:
        return computed
    from cdiscmap.checks.read import factorize_objects

    usubjid = computed["USUBJID"].astype("string")
    # split once per distinct id (a subject has many assessments); null = series 0
    codes, uniques = factorize_objects(np.asarray(usubjid.array, dtype=object))
    # the engine's own fresh frame: columns are replaced or added, never written into, so a
    # shallow copy leaves ``computed`` as it was without copying every value
    out = computed.copy(deep=False)
    # the distinct ids (str) joined: one search instead of a split of each
    if SERIES_SEP in "".join(uniques):
        heads = [str(u).split(SERIES_SEP, 1) for u in uniques]
        ids = np.array([h[0] for h in heads] + [pd.NA], dtype=object)
        out["USUBJID"] = pd.array(ids[codes], dtype="string")
        series = np.array([int(h[1]) if len(h) > 1 else 0 for h in heads] + [0], dtype=int)
        out["RECIST_SERIES"] = series[codes]
    else:
        out["USUBJID"] = usubjid
        out["RECIST_SERIES"] = np.zeros(len(out), dtype=int)
    return out

