"""ADTTE (BDS time-to-event): OS, PFS, DOR, TTP and any parameter the settings define.

Each parameter is one vectorised pass over its population (subjects with a start date; for
``start: RESPONSE`` the responders). Per subject, in this order (FDA 2018 guidance tables on
PFS censoring; admiralonco ad_adtte.R event/censor sources):

1. ``require_baseline_assessment`` and no baseline tumour assessment → censored at the start
   date (CNSR ``start``).
2. The earliest event (PD from the analysed responses of the parameter's ADRS analysis, and/or
   death from ADSL.DTHDT) on or after the start date:
   a. after new anti-cancer therapy (``censor_at_new_therapy``) → censored at the last adequate
      assessment (CNSR ``new_therapy``);
   b. more than 2 × interval + window days after the last adequate assessment before it (or the
      start date) → censored at that assessment (CNSR ``missed_assessments``);
   c. otherwise an event (CNSR 0).
3. No event → censored (CNSR ``new_therapy`` when new therapy started, else ``last_assessment``)
   at the last adequate assessment / last assessment / last known alive date, or at the start
   date when there is none (CNSR ``start``: no post-baseline assessment).

AVAL = ADT − STARTDT + 1 days (admiral ``derive_vars_duration`` add_one: an event on the start
day lasts one day). A censoring date is never before the start date.

PD and assessments come from the *analysed* responses of the ADRS analysis: when ADRS cuts at
new anti-cancer therapy (``adrs.new_therapy``), a PD after it is never an event and only death
can follow; ``censor_at_new_therapy`` then censors that death too (FDA 2018).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.adam.adrs import ADSL_CARRIED, ResponseData
from cdiscmap.adam.collected import collected_tte
from cdiscmap.adam.io import lookup
from cdiscmap.adam.settings import AdamSettings, TteParameter
from cdiscmap.findings import Findings, Severity
from cdiscmap.recist.best_response import first_response

TTE_COLUMNS = ["USUBJID", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "CNSR", "EVNTDESC",
               "CNSDTDSC", "SRCDOM", "SRCVAR", "SRCSEQ"]
_EVENT_TEXT = {"PD": "DISEASE PROGRESSION", "DEATH": "DEATH"}


def _last_per_subject(records: pd.DataFrame) -> pd.DataFrame:
    return records.sort_values(["USUBJID", "ADT", "SRCSEQ"], kind="mergesort") \
        .drop_duplicates("USUBJID", keep="last").set_index("USUBJID")


def _last_before(records: pd.DataFrame, subjects: pd.DataFrame, when: str) -> pd.DataFrame:
    """Per subject row, the last record strictly before ``subjects[when]`` (merge_asof)."""
    left = subjects[["USUBJID", when]].dropna().sort_values(when, kind="mergesort")
    right = records[["USUBJID", "ADT", "SRCSEQ"]].sort_values("ADT", kind="mergesort")
    right = right.assign(USUBJID=right["USUBJID"].astype(object).astype("string"))
    left = left.assign(USUBJID=left["USUBJID"].astype(object).astype("string"))
    if left.empty or right.empty:
        return pd.DataFrame({"ADT": pd.Series(dtype="datetime64[ns]"),
                             "SRCSEQ": pd.Series(dtype="float64")})
    joined = pd.merge_asof(left, right.rename(columns={"ADT": "_adt"}).assign(ADT=right["ADT"]),
                           left_on=when, right_on="_adt", by="USUBJID",
                           allow_exact_matches=False, direction="backward")
    return joined.set_index("USUBJID")[["ADT", "SRCSEQ"]]


def _parameter(p: TteParameter, adsl: pd.DataFrame, rd: ResponseData,
               baseline: pd.DataFrame, settings: AdamSettings, findings: Findings
               ) -> tuple[pd.DataFrame, str]:
    cfg = settings.adtte
    codes = cfg.cnsr
    conf = settings.adrs.confirmation
    ovr = rd.ovr
    by_subject = adsl.set_index("USUBJID")

    # --- start date and population
    if p.start == "RESPONSE":
        first = first_response(ovr, confirmed=p.confirmed, min_gap_days=conf.min_days,
                               max_ne=conf.max_ne, accept_sd=conf.accept_sd)
        first = first.loc[first["USUBJID"].isin(rd.population)]
        subj = pd.DataFrame({"USUBJID": first["USUBJID"].astype(object).astype("string"),
                             "STARTDT": pd.to_datetime(first["ADT"]),
                             "_start_seq": ovr.loc[first["source_index"], "SRCSEQ"].to_numpy()
                             if len(first) else np.array([], dtype=float)})
        start_text = f"first {'confirmed ' if p.confirmed else ''}CR/PR ({rd.analysis.id})"
        start_src = ("RS", "RSDTC")
    else:
        start = pd.to_datetime(by_subject[p.start])
        subj = pd.DataFrame({"USUBJID": adsl["USUBJID"].astype("string"),
                             "STARTDT": start.to_numpy()})
        subj = subj.loc[subj["STARTDT"].notna()]
        subj["_start_seq"] = np.nan
        start_text = f"ADSL.{p.start}"
        start_src = ("ADSL", p.start)
    subj = subj.sort_values("USUBJID", kind="mergesort").reset_index(drop=True)
    startdt = subj["STARTDT"]
    ids = subj["USUBJID"]

    # --- assessments on/after the start date
    ovr = ovr.assign(_start=pd.to_datetime(lookup(ovr["USUBJID"], subj.set_index("USUBJID")
                                                              ["STARTDT"])))
    ovr = ovr.loc[(ovr["ADT"] >= ovr["_start"]).fillna(False).astype(bool)]
    adequate = ovr.loc[ovr["AVALC"].isin([r.upper() for r in cfg.adequate_responses])]
    censor_pool = ovr if p.censor == "last_assessment" else adequate
    last = _last_per_subject(censor_pool)
    la_dt = pd.to_datetime(lookup(ids, last["ADT"])) if not last.empty else \
        pd.Series(pd.NaT, index=ids.index, dtype="datetime64[ns]")
    la_seq = lookup(ids, last["SRCSEQ"]).astype("float64") if not last.empty else \
        pd.Series(np.nan, index=ids.index)

    # --- events
    ev_dt = pd.Series(pd.NaT, index=ids.index, dtype="datetime64[ns]")
    ev_kind = pd.Series(pd.NA, index=ids.index, dtype="string")
    ev_seq = pd.Series(np.nan, index=ids.index)
    for kind in p.events:
        if kind == "PD":
            pdr = ovr.loc[ovr["AVALC"] == "PD"].sort_values(["USUBJID", "ADT"], kind="mergesort")
            pdr = pdr.drop_duplicates("USUBJID").set_index("USUBJID")
            dt = pd.to_datetime(lookup(ids, pdr["ADT"])) if not pdr.empty else \
                pd.Series(pd.NaT, index=ids.index, dtype="datetime64[ns]")
            seq = lookup(ids, pdr["SRCSEQ"]).astype("float64") if not pdr.empty else \
                pd.Series(np.nan, index=ids.index)
        else:
            dt = pd.to_datetime(lookup(ids, by_subject["DTHDT"]))
            before = (dt < startdt).fillna(False).astype(bool)
            if before.any():
                findings.add_frame(subj.loc[before], rule="AD0020", severity=Severity.WARNING,
                                   message=f"death before the {p.paramcd} start date; not "
                                           "counted as an event", dataset="ADTTE",
                                   variable="DTHDT")
            dt = dt.where(~before)
            seq = pd.Series(np.nan, index=ids.index)
        better = dt.notna() & (ev_dt.isna() | (dt < ev_dt))
        ev_dt = ev_dt.where(~better, dt)
        ev_kind = ev_kind.mask(better, kind)
        ev_seq = ev_seq.where(~better, seq)
    has_event = ev_dt.notna()

    # --- censoring situations
    no_base = pd.Series(False, index=ids.index)
    if p.require_baseline_assessment:
        no_base = ~ids.isin(baseline["USUBJID"])
    nact = pd.to_datetime(lookup(ids, rd.nactdt)) if len(rd.nactdt) else \
        pd.Series(pd.NaT, index=ids.index, dtype="datetime64[ns]")
    nact = nact.where((nact >= startdt).fillna(False).astype(bool))
    new_therapy = pd.Series(False, index=ids.index)
    if p.censor_at_new_therapy:
        new_therapy = nact.notna() & (~has_event | (ev_dt > nact).fillna(False))
    missed = pd.Series(False, index=ids.index)
    prev_dt = pd.Series(pd.NaT, index=ids.index, dtype="datetime64[ns]")
    prev_seq = pd.Series(np.nan, index=ids.index)
    if p.missed_assessments is not None:
        m = p.missed_assessments
        prev = _last_before(adequate, pd.DataFrame({"USUBJID": ids, "_ev": ev_dt}), "_ev")
        prev_dt = pd.to_datetime(lookup(ids, prev["ADT"])) if not prev.empty else prev_dt
        prev_seq = lookup(ids, prev["SRCSEQ"]).astype("float64") if not prev.empty else prev_seq
        since = prev_dt.fillna(startdt)
        limit = 2 * m.interval_days + m.window_days
        missed = has_event & ((ev_dt - since).dt.days > limit).fillna(False)

    # --- choose the outcome (first true condition wins)
    alive_dt = pd.to_datetime(lookup(ids, by_subject["LSTALVDT"]))
    c_start = no_base
    c_nact = ~c_start & new_therapy
    c_missed = ~c_start & ~c_nact & missed
    c_event = ~c_start & ~c_nact & ~c_missed & has_event
    c_censor = ~(c_start | c_nact | c_missed | c_event)
    if p.censor == "last_alive":
        cen_dt, cen_seq = alive_dt, pd.Series(np.nan, index=ids.index)
        cen_src = ("ADSL", "LSTALVDT")
        cen_desc, cen_dsc = "LAST KNOWN ALIVE", "LAST KNOWN ALIVE DATE"
    else:
        cen_dt, cen_seq = la_dt, la_seq
        cen_src = ("RS", "RSDTC")
        word = "ADEQUATE " if p.censor == "last_adequate_assessment" else ""
        cen_desc = f"LAST {word}TUMOR ASSESSMENT"
        cen_dsc = f"LAST {word}TUMOR ASSESSMENT DATE"
    cen_valid = (cen_dt >= startdt).fillna(False).astype(bool)
    nact_valid = (la_dt >= startdt).fillna(False).astype(bool)
    missed_valid = prev_dt.notna()

    n = len(ids)
    adt = pd.Series(pd.NaT, index=ids.index, dtype="datetime64[ns]")
    cnsr = np.zeros(n)
    evntdesc = np.full(n, None, dtype=object)
    cnsdtdsc = np.full(n, None, dtype=object)
    srcdom = np.full(n, None, dtype=object)
    srcvar = np.full(n, None, dtype=object)
    srcseq = np.full(n, np.nan)

    def put(mask: pd.Series, dt: pd.Series, code: int, desc: str, dsc: str | None,
            src: tuple[str, str], seq: pd.Series | None) -> None:
        mk = mask.to_numpy(dtype=bool)
        adt.loc[mk] = dt.loc[mk]
        cnsr[mk] = code
        evntdesc[mk] = desc
        cnsdtdsc[mk] = dsc
        srcdom[mk], srcvar[mk] = src
        if seq is not None:
            srcseq[mk] = seq.to_numpy()[mk]

    start_seq = subj["_start_seq"].astype("float64")
    put(c_start, startdt, codes.start, "NO BASELINE TUMOR ASSESSMENT", "START DATE",
        start_src, start_seq)
    put(c_nact & nact_valid, la_dt, codes.new_therapy, "NEW ANTI-CANCER THERAPY STARTED",
        "LAST ADEQUATE TUMOR ASSESSMENT DATE", ("RS", "RSDTC"), la_seq)
    put(c_nact & ~nact_valid, startdt, codes.new_therapy, "NEW ANTI-CANCER THERAPY STARTED",
        "START DATE", start_src, start_seq)
    put(c_missed & missed_valid, prev_dt, codes.missed_assessments,
        "EVENT AFTER TWO OR MORE MISSED ASSESSMENTS", "LAST ADEQUATE TUMOR ASSESSMENT DATE",
        ("RS", "RSDTC"), prev_seq)
    put(c_missed & ~missed_valid, startdt, codes.missed_assessments,
        "EVENT AFTER TWO OR MORE MISSED ASSESSMENTS", "START DATE", start_src, start_seq)
    for kind in p.events:
        src = ("RS", "RSDTC") if kind == "PD" else ("ADSL", "DTHDT")
        put(c_event & (ev_kind == kind).fillna(False), ev_dt, 0, _EVENT_TEXT[kind], None,
            src, ev_seq if kind == "PD" else None)
    put(c_censor & cen_valid, cen_dt, codes.last_assessment, cen_desc, cen_dsc, cen_src,
        cen_seq if cen_src[0] == "RS" else None)
    no_post = "NO ADEQUATE POST-BASELINE TUMOR ASSESSMENT" if p.censor != "last_alive" \
        else "NO DATE KNOWN ALIVE AFTER START"
    put(c_censor & ~cen_valid, startdt, codes.start, no_post, "START DATE", start_src,
        start_seq)

    out = pd.DataFrame({
        "USUBJID": ids.astype("string"),
        "PARAMCD": pd.Series([p.paramcd] * n, dtype="string"),
        "PARAM": pd.Series([p.param] * n, dtype="string"),
        "STARTDT": startdt.astype("datetime64[ns]"),
        "ADT": adt.astype("datetime64[ns]"),
        "CNSR": cnsr.astype("float64"),
        "EVNTDESC": pd.Series(evntdesc, dtype="string"),
        "CNSDTDSC": pd.Series(cnsdtdsc, dtype="string"),
        "SRCDOM": pd.Series(srcdom, dtype="string"),
        "SRCVAR": pd.Series(srcvar, dtype="string"),
        "SRCSEQ": srcseq,
    })
    out["AVAL"] = ((out["ADT"] - out["STARTDT"]).dt.days + 1).astype("float64")
    text = (f"{p.param}: from {start_text} to the first of "
            + " or ".join(_EVENT_TEXT[e].lower() for e in p.events)
            + f" (CNSR 0); AVAL = ADT - STARTDT + 1 days; no event: censored at the "
              f"{cen_desc.lower()} (CNSR {codes.last_assessment}) or the start date when none "
              f"(CNSR {codes.start})")
    if p.require_baseline_assessment:
        text += f"; no baseline tumour assessment: start date (CNSR {codes.start})"
    if p.censor_at_new_therapy:
        text += (f"; new anti-cancer therapy before an event: last adequate assessment "
                 f"(CNSR {codes.new_therapy})")
    if p.missed_assessments is not None:
        m = p.missed_assessments
        text += (f"; event more than 2 x {m.interval_days} + {m.window_days} days after the "
                 f"last adequate assessment: censored there (CNSR {codes.missed_assessments})")
    return out[TTE_COLUMNS], text


def derive_adtte(adsl: pd.DataFrame, responses: dict[str, ResponseData],
                 baseline_tumours: pd.DataFrame, settings: AdamSettings, findings: Findings,
                 methods: dict[str, str], sdtm: dict[str, pd.DataFrame] | None = None
                 ) -> pd.DataFrame:
    """All ADTTE parameters of the settings, one record per subject and parameter
    (``adtte.collected`` durations read from ``sdtm``)."""
    parts = []
    for p in settings.adtte.parameters:
        frame, text = _parameter(p, adsl, responses[p.analysis], baseline_tumours, settings,
                                 findings)
        parts.append(frame)
        methods[f"PARAMCD={p.paramcd}"] = text
    parts += collected_tte(sdtm or {}, adsl, settings, findings, methods)  # durations as given
    if parts:
        adtte = pd.concat(parts, ignore_index=True)
    else:
        adtte = pd.DataFrame({c: pd.Series(dtype="string") for c in TTE_COLUMNS})
    adtte = adtte.sort_values(["USUBJID", "PARAMCD"], kind="mergesort").reset_index(drop=True)
    adtte["ASEQ"] = (adtte.groupby("USUBJID").cumcount() + 1).astype("float64")
    carried = [c for c in ADSL_CARRIED if c in adsl.columns] + \
        list(settings.adsl.cohort_variables)
    adtte = adtte.merge(adsl[carried], on="USUBJID", how="left", validate="many_to_one")
    columns = carried + ["ASEQ"] + [c for c in TTE_COLUMNS if c != "USUBJID"]
    methods["CNSR"] = ("0 = event; censoring codes: " + ", ".join(
        f"{v} = {k.replace('_', ' ')}" for k, v in settings.adtte.cnsr.model_dump().items()))
    methods["AVAL"] = "ADT - STARTDT + 1 (days)"
    return adtte[columns]
