"""ADQS: questionnaire scale scores per subject and questionnaire (BDS), from SDTM QS and ADSL.

Default: the EORTC QLQ-C30 v3.0 scales (``adam/adqs.yaml`` ``scales``), scored as the EORTC
QLQ-C30 Scoring Manual (3rd ed., 2001) says: the raw score RS is the mean of the answered items
of the scale, then a linear transformation to 0-100 — functional scales (1 − (RS − 1)/range)
× 100, symptom scales and global health (RS − 1)/range × 100; a scale is scored when at least
half of its items are answered (``min_answered``).

One record per subject × questionnaire (VISITNUM and QSDTC) × scale. ABLFL marks the last
scored questionnaire on or before the reference date; BASE and CHG follow from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.adam.adae import relative_day
from cdiscmap.adam.dates import impute_dtc
from cdiscmap.adam.dtypes import DATES, FLOAT, TEXT
from cdiscmap.adam.io import as_dates, lookup, notice, report_rows, require, upper_text
from cdiscmap.adam.settings import AdamSettings
from cdiscmap.findings import Findings, Severity

_KIND_TEXT = {"functional": "Functional Scales", "symptom": "Symptom Scales",
              "global": "Global Health Status"}


def score(raw: pd.Series, kind: pd.Series, rng: pd.Series) -> pd.Series:
    """0-100 scale score from the raw score (mean item answer), by scale kind and item range."""
    linear = (raw - 1.0) / rng * 100.0
    return linear.where(kind != "functional", 100.0 - linear)


def derive_adqs(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, settings: AdamSettings,
                findings: Findings, methods: dict[str, str]) -> pd.DataFrame | None:
    """ADQS from SDTM QS and ADSL; None (with a notice) when the SDTM has no QS."""
    cfg = settings.adqs
    if "QS" not in sdtm:
        findings.add(notice("CMAP-AD0005", "SDTM QS not given: no ADQS", "QS"))
        return None
    qs = require(sdtm, "QS", ["USUBJID", "QSTESTCD", "QSSTRESN", "VISITNUM"], "ADQS")
    qs = qs.loc[qs["USUBJID"].isin(adsl["USUBJID"])]
    if cfg.category and "QSCAT" in qs.columns:
        qs = qs.loc[upper_text(qs["QSCAT"]).eq(cfg.category.upper()).fillna(False).to_numpy()]
    items = pd.DataFrame([(s.paramcd, s.param, s.kind, s.range, item, len(s.items))
                          for s in cfg.scales for item in s.items],
                         columns=["PARAMCD", "PARAM", "KIND", "RANGE", "QSTESTCD", "N_ITEMS"])
    recs = pd.DataFrame({
        "USUBJID": qs["USUBJID"].astype(TEXT),
        "QSTESTCD": upper_text(qs["QSTESTCD"]),
        "VALUE": pd.to_numeric(qs["QSSTRESN"], errors="coerce").astype(FLOAT),
        "VISITNUM": pd.to_numeric(qs["VISITNUM"], errors="coerce").astype(FLOAT),
        "VISIT": qs["VISIT"].astype(TEXT) if "VISIT" in qs.columns
        else pd.Series(pd.NA, index=qs.index, dtype=TEXT),
        "QSDTC": qs["QSDTC"].astype(TEXT) if "QSDTC" in qs.columns
        else pd.Series(pd.NA, index=qs.index, dtype=TEXT),
    }, index=qs.index)
    recs = recs.assign(_ROW=recs.index).merge(items, on="QSTESTCD", how="inner")
    bad = recs["VALUE"].notna() & ((recs["VALUE"] < 1) | (recs["VALUE"] > recs["RANGE"] + 1))
    if bad.any():
        rows = pd.unique(recs.loc[bad, "_ROW"])
        report_rows(findings, qs.loc[rows], "QS", rule="CMAP-AD0033",
                    severity=Severity.WARNING, message="QSSTRESN outside the answer range of "
                    "its scale; the item counts as not answered", variable="QSSTRESN",
                    value_col="QSSTRESN")
        recs["VALUE"] = recs["VALUE"].where(~bad)
    keys = ["USUBJID", "VISITNUM", "QSDTC", "PARAMCD"]
    grouped = recs.groupby(keys, dropna=False, sort=True)
    scores = grouped.agg(VISIT=("VISIT", "first"), PARAM=("PARAM", "first"),
                         KIND=("KIND", "first"), RANGE=("RANGE", "first"),
                         N_ITEMS=("N_ITEMS", "first"), RAW=("VALUE", "mean"),
                         N=("VALUE", "count")).reset_index()
    enough = scores["N"] >= np.ceil(scores["N_ITEMS"] * cfg.min_answered - 1e-9)
    scores["AVAL"] = score(scores["RAW"], scores["KIND"], scores["RANGE"]).where(enough)
    scores = scores.loc[scores["AVAL"].notna()].reset_index(drop=True)

    table = adsl.set_index("USUBJID")
    subj = scores["USUBJID"]
    out = pd.DataFrame({"STUDYID": lookup(subj, table["STUDYID"]).astype(TEXT),
                        "USUBJID": subj.astype(TEXT)})
    for name in ("SUBJID", "SITEID", "TRT01P", "TRT01A", "COHORT", "PATHOL", "GENALT"):
        if name in table.columns:
            out[name] = lookup(subj, table[name]).astype(TEXT)
    order = {s.paramcd: i + 1 for i, s in enumerate(cfg.scales)}
    out["PARAMCD"] = scores["PARAMCD"].astype(TEXT)
    out["PARAM"] = scores["PARAM"].astype(TEXT)
    out["PARAMN"] = scores["PARAMCD"].map(order).astype(FLOAT)
    out["PARCAT1"] = pd.Series(cfg.category or "", index=out.index, dtype=TEXT)
    out["PARCAT2"] = scores["KIND"].map(_KIND_TEXT).astype(TEXT)
    out["AVAL"] = scores["AVAL"].astype(FLOAT)
    out["ADT"] = impute_dtc(scores["QSDTC"], "none").dates.astype(DATES)
    reference = as_dates(lookup(subj, table[cfg.reference_date])).astype(DATES)
    out["ADY"] = relative_day(out["ADT"], reference)
    out["AVISIT"] = scores["VISIT"].astype(TEXT)
    out["AVISITN"] = scores["VISITNUM"].astype(FLOAT)
    # baseline: the last scored questionnaire on or before the reference date, per scale
    pre = out.loc[(out["ADT"] <= reference).fillna(False).to_numpy()]
    last = pre.sort_values(["USUBJID", "PARAMCD", "ADT", "AVISITN"], kind="mergesort") \
        .drop_duplicates(["USUBJID", "PARAMCD"], keep="last")
    out["ABLFL"] = pd.Series(np.where(out.index.isin(last.index), "Y", None), index=out.index,
                             dtype=TEXT)
    base = last.set_index(last["USUBJID"].astype(str) + "\x1f" + last["PARAMCD"].astype(str))
    key = out["USUBJID"].astype(str) + "\x1f" + out["PARAMCD"].astype(str)
    out["BASE"] = lookup(key, base["AVAL"]).astype(FLOAT)
    after = (out["ADT"] > reference).fillna(False).to_numpy()
    out["CHG"] = (out["AVAL"] - out["BASE"]).where(after)
    out = out.sort_values(["USUBJID", "PARAMN", "ADT", "AVISITN"], kind="mergesort")
    out["ASEQ"] = (out.groupby("USUBJID").cumcount() + 1).astype(FLOAT)
    out = out.set_axis(pd.RangeIndex(len(out)), copy=False)   # sorted copy already

    share = f"{cfg.min_answered:.0%}"
    for s in cfg.scales:
        formula = "(1 - (RS - 1) / {r}) x 100" if s.kind == "functional" else \
            "(RS - 1) / {r} x 100"
        methods[f"PARAMCD={s.paramcd}"] = (
            f"RS = mean of the answered items {', '.join(s.items)} (QSSTRESN); AVAL = "
            + formula.format(r=f"{s.range:g}")
            + f"; scored when at least {share} of the items are answered (EORTC QLQ-C30 "
              "Scoring Manual, 3rd ed.)")
    methods["PARAMN"] = "Order of the scale in the ADQS settings"
    methods["PARCAT1"] = "QSCAT of the questionnaire"
    methods["PARCAT2"] = "Scale kind: functional, symptom or global health status"
    methods["ADT"] = "QSDTC of the questionnaire (complete dates)"
    methods["ADY"] = (f"ADT - {cfg.reference_date} + 1 on or after {cfg.reference_date}, else "
                      f"ADT - {cfg.reference_date}")
    methods["AVISIT"] = "QS.VISIT"
    methods["AVISITN"] = "QS.VISITNUM"
    methods["ABLFL"] = (f"Y on the last scored questionnaire dated on or before "
                        f"{cfg.reference_date}, per scale")
    methods["BASE"] = "AVAL of the ABLFL = Y record of the subject and scale"
    methods["CHG"] = f"AVAL - BASE, for questionnaires after {cfg.reference_date}"
    methods["ASEQ"] = "1..n within USUBJID ordered by PARAMN, ADT, AVISITN"
    return out
