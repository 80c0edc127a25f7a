"""ADaM parameters from values collected as such, for data without dates or timepoints.

A literature case series (or a case report) gives, per patient, the best response and the months
of follow-up as the publication states them: there are no timepoint responses to derive BOR from
and no dates to subtract. These settings take those values straight from SDTM, so the same ADRS
and ADTTE structures (and the report on them) serve such data:

- ``adrs.collected``: a response parameter (BOR) from RS records of a test code (BESTRESP), one
  record per subject (the last by RSSEQ), MISSING for subjects without one;
- ``adtte.collected``: a time-to-event parameter whose AVAL is a collected duration converted
  to days (months × 30.4375), CNSR 0 when an ADSL flag (DTHFL) is Y, else censored; STARTDT
  and ADT null (ADaMIG 1.3 BDS: ADT is conditional, AVAL carries the time);
- ``adsl.efffl.evaluable_responses``: EFFFL = N for a subject whose BOR is outside the list
  (a review's "evaluable" cases).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.adam.dtypes import DATES, FLOAT, TEXT
from cdiscmap.adam.io import (
    lookup,
    report_rows,
    require,
    select_records,
    text_numbers,
    upper_isin,
    upper_text,
)
from cdiscmap.adam.settings import DURATION_DAYS, AdamSettings, ValueSource
from cdiscmap.findings import Findings, Severity


def collected_responses(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame,
                        settings: AdamSettings, findings: Findings,
                        methods: dict[str, str]) -> list[pd.DataFrame]:
    """One record per ADSL subject and ``adrs.collected`` parameter (ADRS columns)."""
    cfg = settings.adrs
    if not cfg.collected:
        return []
    rs = require(sdtm, "RS", ["USUBJID", "RSTESTCD", "RSSTRESC", "RSSEQ"],
                 "collected responses for ADRS")
    if cfg.category is not None and "RSCAT" in rs.columns:
        rs = rs.loc[upper_isin(rs["RSCAT"], [cfg.category])]
    if "RSEVAL" in rs.columns:
        rs = rs.loc[upper_isin(rs["RSEVAL"], [cfg.evaluator])]
    title = cfg.evaluator.title()
    parts = []
    for c in cfg.collected:
        recs = rs.loc[upper_isin(rs["RSTESTCD"], [c.testcd])]
        recs = recs.assign(_seq=pd.to_numeric(recs["RSSEQ"], errors="coerce")) \
            .sort_values(["USUBJID", "_seq"], kind="mergesort") \
            .drop_duplicates("USUBJID", keep="last").set_index("USUBJID")
        avalc = upper_text(lookup(adsl["USUBJID"], recs["RSSTRESC"]).astype(TEXT))
        has = adsl["USUBJID"].isin(recs.index).to_numpy()
        avalc = avalc.where(pd.Series(has, index=avalc.index) & avalc.notna(), "MISSING")
        aval = text_numbers(avalc, cfg.aval_map)
        outside = aval.isna()
        if outside.any():
            report_rows(findings, adsl.loc[outside].assign(_V=avalc[outside]), "RS",
                        rule="CMAP-AD0002", severity=Severity.WARNING,
                        message=f"collected {c.testcd} outside the analysis map; not analysed",
                        variable="RSSTRESC", value_col="_V")
        n = len(adsl)
        parts.append(pd.DataFrame({
            "USUBJID": adsl["USUBJID"].astype(TEXT).to_numpy(),
            "PARAMCD": pd.Series([c.paramcd] * n, dtype=TEXT),
            "PARAM": pd.Series([c.param] * n, dtype=TEXT),
            "PARCAT1": pd.Series(["Tumor Response"] * n, dtype=TEXT),
            "PARCAT2": pd.Series([title] * n, dtype=TEXT),
            "PARCAT3": pd.Series([cfg.category] * n, dtype=TEXT),
            "AVALC": avalc.to_numpy(),
            "AVAL": aval.to_numpy(),
            "ADT": pd.Series(pd.NaT, index=range(n), dtype=DATES),
            "SRCDOM": pd.Series(np.where(has, "RS", None), dtype=TEXT),
            "SRCVAR": pd.Series(np.where(has, "RSSTRESC", None), dtype=TEXT),
            "SRCSEQ": lookup(adsl["USUBJID"], recs["_seq"]).astype(FLOAT).to_numpy(),
        }))
        methods[f"PARAMCD={c.paramcd}"] = (
            f"{c.param}: RS.RSSTRESC where RSTESTCD = {c.testcd}, RSEVAL = {cfg.evaluator}"
            + (f", RSCAT = {cfg.category}" if cfg.category else "")
            + " (last by RSSEQ), as collected, not derived from timepoints; none: MISSING")
    return parts


def _values(sdtm: dict[str, pd.DataFrame], source: ValueSource, ids: pd.Series) -> pd.Series:
    frame = require(sdtm, source.dataset, ["USUBJID", source.value], "collected duration")
    picked, _ = select_records(frame, source.where)
    seq = [c for c in picked.columns if c.endswith("SEQ") or c == "IDVARVAL"]
    if seq:
        picked = picked.sort_values(["USUBJID", seq[0]], kind="mergesort")
    first = picked.drop_duplicates("USUBJID").set_index("USUBJID")[source.value]
    return lookup(ids, first)


def collected_tte(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, settings: AdamSettings,
                  findings: Findings, methods: dict[str, str]) -> list[pd.DataFrame]:
    """One record per ADSL subject with a duration, per ``adtte.collected`` parameter."""
    parts = []
    censored = settings.adtte.cnsr.last_assessment
    for p in settings.adtte.collected:
        ids = adsl["USUBJID"].astype(TEXT).reset_index(drop=True)
        raw = _values(sdtm, p.duration, ids)
        value = pd.to_numeric(raw, errors="coerce").astype(FLOAT)
        bad = value.isna() & raw.notna() | (value < 0).fillna(False)
        if bad.any():
            report_rows(findings, pd.DataFrame({"USUBJID": ids[bad], "_V": raw[bad]}),
                        p.duration.dataset, rule="CMAP-AD0021", severity=Severity.WARNING,
                        message=f"{p.paramcd}: collected duration is not a number >= 0; no "
                                "record", variable=p.duration.value, value_col="_V")
            value = value.where(~bad)
        if p.event_flag not in adsl.columns:
            raise KeyError(f"ADSL has no {p.event_flag}")
        event = adsl[p.event_flag].astype(TEXT).str.upper().eq("Y").fillna(False) \
            .to_numpy(dtype=bool)
        keep = value.notna().to_numpy()
        n = int(keep.sum())
        ev = event[keep]
        parts.append(pd.DataFrame({
            "USUBJID": ids[keep].to_numpy(),
            "PARAMCD": pd.Series([p.paramcd] * n, dtype=TEXT),
            "PARAM": pd.Series([p.param] * n, dtype=TEXT),
            "STARTDT": pd.Series(pd.NaT, index=range(n), dtype=DATES),
            "ADT": pd.Series(pd.NaT, index=range(n), dtype=DATES),
            "AVAL": (value[keep] * DURATION_DAYS[p.unit]).to_numpy(),
            "CNSR": np.where(ev, 0.0, float(censored)),
            "EVNTDESC": pd.Series(np.where(ev, p.event_description, p.censor_description),
                                  dtype=TEXT),
            "CNSDTDSC": pd.Series([None] * n, dtype=TEXT),
            "SRCDOM": pd.Series([p.duration.dataset] * n, dtype=TEXT),
            "SRCVAR": pd.Series([p.duration.value] * n, dtype=TEXT),
            "SRCSEQ": np.full(n, np.nan),
        }))
        where = ", ".join(f"{k} = {v}" for k, v in p.duration.where.items())
        methods[f"PARAMCD={p.paramcd}"] = (
            f"{p.param}: AVAL = {p.duration.dataset}.{p.duration.value}"
            + (f" where {where}" if where else "")
            + f" ({p.unit}) x {DURATION_DAYS[p.unit]:g} days, a collected duration (no dates: "
            f"STARTDT/ADT null); CNSR 0 when ADSL.{p.event_flag} = Y, else {censored}")
    return parts


def apply_evaluable_rule(adsl: pd.DataFrame, adrs: pd.DataFrame, settings: AdamSettings,
                         methods: dict[str, str]) -> pd.DataFrame:
    """EFFFL = N for subjects whose BOR is not in ``adsl.efffl.evaluable_responses``."""
    wanted = settings.adsl.efffl.evaluable_responses
    if wanted is None:
        return adsl
    bor = adrs.loc[adrs["PARAMCD"] == "BOR"].drop_duplicates("USUBJID").set_index("USUBJID")
    ok = upper_text(lookup(adsl["USUBJID"], bor["AVALC"]).astype(TEXT)) \
        .isin([w.upper() for w in wanted]).fillna(False).to_numpy(dtype=bool)
    adsl = adsl.copy()
    adsl["EFFFL"] = adsl["EFFFL"].where(ok, "N").astype(TEXT)
    methods["EFFFL"] = methods.get("EFFFL", "Y") + f"; and BOR in {', '.join(wanted)}"
    return adsl
