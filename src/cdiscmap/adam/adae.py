"""ADAE: one record per SDTM AE record (ADaM OCCDS 1.1, adverse events), with ADSL variables.

Conventions follow admiral's ``ad_adae.R`` template (settings in ``adam/adae.yaml``):

- ASTDT/AENDT from AESTDTC/AEENDTC, partial dates imputed up to ``*_highest_imputation``
  (start: first day; end: last day), ASTDTF/AENDTF = D or M (ADaMIG 1.3 §3.1.3). An imputed start
  is not put before TRTSDT when the partial date contains TRTSDT (admiral ``min_dates``); an
  imputed end is not put after the earliest of ``end_not_after`` (DTHDT, EOSDT) when the partial
  date contains it (admiral ``max_dates``). Complete dates are never moved.
- ASTDTM/AENDTM (admiral ``derive_vars_dtm``): the same dates with a missing time imputed to
  00:00:00 / 23:59:59, the bounds applied to the datetime (TRTSDT at 00:00:00, DTHDT/EOSDT at
  23:59:59), ASTTMF/AENTMF = H or M (S with ``flag_imputed_seconds``); ASTDT/AENDT are their
  dates (``derive_vars_dtm_to_dt``), so the two never disagree.
- ASTDY/AENDY: day relative to TRTSDT, no day 0 (ADaMIG 1.3 §3.1.4 *DY).
- ADURN/ADURU: AENDT − ASTDT + 1 days (admiral ``derive_vars_duration`` add_one).
- LDOSEDTM: the last dose date on or before ASTDT from EX, as admiral's single-dose dataset
  (``derive_vars_joined``, EXSTDTM <= ASTDTM): dose records as ADSL's, daily within a record,
  every 1/n days for fewer than one dose a day, ONCE on its start.
- ASEV/ASEVN from AESEV when AE has it (ASEVN: position in ``severity_order``).
- TRTEMFL (admiral ``derive_var_trtemfl``): Y when TRTSDT <= ASTDT <= TRTEDT + window; an AE
  without ASTDT is Y unless AENDT is before TRTSDT; blank otherwise and for undosed subjects.
- ATOXGR/ATOXGRN from AETOXGR (CTCAE version in the settings); AREL = AEREL, RELGR1 = RELATED /
  NOT RELATED by the settings' related terms.
- First-occurrence flags over treatment-emergent AEs, ordered by ASTDTM then AESEQ (OCCDS 1.1
  AOCCxxFL): AOCCFL per subject, AOCCSFL per subject and AEBODSYS, AOCCPFL per subject, AEBODSYS
  and AEDECOD. The worst-grade variants AOCCIFL / AOCCSIFL / AOCCPIFL flag the first record of
  the highest ATOXGRN (or ASEVN, ``worst_by``) in the same groups (admiral
  ``derive_var_extreme_flag`` with order desc(grade), ASTDTM, AESEQ, restricted to TRTEMFL = Y),
  so "grade >= 3 by SOC/PT" tables count each subject once, at its worst grade.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.adam.adsl import counted_doses
from cdiscmap.adam.dates import impute_dtc, impute_dtm, spread_text
from cdiscmap.adam.dtypes import DATES, FLOAT, TEXT
from cdiscmap.adam.io import (
    adsl_positions,
    as_dates,
    notice,
    report_bad_dates,
    report_rows,
    require,
    text_numbers,
    upper_text,
)
from cdiscmap.adam.order import first_positions, taken_at
from cdiscmap.adam.settings import AdamSettings
from cdiscmap.errors import InputDataError
from cdiscmap.findings import Findings, Severity

# AEACN (DRUG WITHDRAWN: AEs leading to discontinuation), AEOUT and AESDTH serve the safety tables.
AE_COPIED = ["AESEQ", "AETERM", "AEDECOD", "AEBODSYS", "AESOC", "AESER", "AEACN", "AEREL",
             "AEOUT", "AESDTH", "AETOXGR", "AESTDTC", "AEENDTC"]
ADSL_COPIED = ["SUBJID", "SITEID", "TRT01P", "TRT01A", "TRTSDT", "TRTEDT", "SAFFL"]
_FLAG_GROUPS = {  # flag → grouping beyond USUBJID (OCCDS 1.1 AOCCxxFL)
    "AOCCFL": [], "AOCCSFL": ["AEBODSYS"], "AOCCPFL": ["AEBODSYS", "AEDECOD"],
}
_WORST_GROUPS = {"AOCCIFL": [], "AOCCSIFL": ["AEBODSYS"], "AOCCPIFL": ["AEBODSYS", "AEDECOD"]}
_Y = np.array(["Y"], dtype=object)      # a flag's one value, spread by code (spread_text)


def relative_day(dates: pd.Series, reference: pd.Series) -> pd.Series:
    """ADaM relative day: date − reference + 1 on or after the reference, no day 0."""
    diff = (dates - reference).dt.days.astype(FLOAT)
    return diff.where(diff < 0, diff + 1)


def _bounded(dtc: pd.Series, highest: str, how: str, bound: pd.Series, *, lower: bool,
             seconds: bool) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Imputed datetimes, date flag, time flag and invalid mask (admiral derive_vars_dtm: the
    date imputed to the first / last day, the time to 00:00:00 / 23:59:59); an imputed datetime
    crossing ``bound`` is moved onto it when the partial value's period contains the bound
    (admiral min_dates / max_dates). A complete datetime has a one-instant period: never moved."""
    other_how = "last" if how == "first" else "first"
    imp = impute_dtm(dtc, highest, how, how, flag_seconds=seconds)   # type: ignore[arg-type]
    stamps = imp.datetimes
    # period [stamps, other] (lower) or [other, stamps]: the bound must be past the imputed
    # instant, and then within the period; the other end is imputed for those records only
    past = ((bound > stamps) if lower else (bound < stamps)).fillna(False).to_numpy()
    move = past.copy()
    if past.any():
        other = impute_dtm(dtc[past], highest, other_how,               # type: ignore[arg-type]
                           other_how).datetimes                         # type: ignore[arg-type]
        inside = (bound[past] <= other) if lower else (bound[past] >= other)
        move[past] = inside.fillna(False).to_numpy()
    stamps = stamps.where(~move, bound)
    return stamps.astype(DATES), imp.date_flag, imp.time_flag, imp.invalid


def _last_dose(sdtm: dict[str, pd.DataFrame], usubjid: pd.Series, astdt: pd.Series,
               settings: AdamSettings) -> pd.Series:
    """LDOSEDTM: the last dose on or before the AE start date, at 00:00:00 (admiral ad_adae.R:
    derive_vars_joined on the single-dose EX dataset, EXSTDTM = the dose date as a datetime,
    EXSTDTM <= ASTDTM, last). Dose records as ADSL's (``adsl.exposure``); a record doses every
    day from its start to its end, every 1/n days when ``adex.doses_per_day`` gives n < 1
    (QOD: every other day), once when EXDOSFRQ is ONCE. An open record (no EXENDTC) doses on
    its start date when ``exposure.open_end_uses_start`` (as TRTEDT), else not at all
    (admiral's single-dose dataset needs both dates)."""
    none = pd.Series(pd.NaT, index=usubjid.index, dtype=DATES)
    if "EX" not in sdtm:       # ADEX's notice says EX is absent
        return none
    ex = require(sdtm, "EX", ["USUBJID", "EXSTDTC"], "ADAE LDOSEDTM")
    cfg = settings.adsl.exposure
    ex = ex.loc[counted_doses(ex, cfg)]
    start = impute_dtc(ex["EXSTDTC"], cfg.start_imputation, "first").dates
    end = impute_dtc(ex["EXENDTC"], cfg.end_imputation, "last").dates \
        if "EXENDTC" in ex.columns else pd.Series(pd.NaT, index=ex.index, dtype=DATES)
    open_end = ex["EXENDTC"].isna() if "EXENDTC" in ex.columns else \
        pd.Series(True, index=ex.index)
    if cfg.open_end_uses_start:
        end = end.where(~open_end.to_numpy(), start)
    freq = upper_text(ex["EXDOSFRQ"]) if "EXDOSFRQ" in ex.columns else \
        pd.Series(pd.NA, index=ex.index, dtype=TEXT)
    per_day = text_numbers(freq, settings.adex.doses_per_day)
    step = np.where(per_day < 1, np.round(1 / per_day), 1.0)
    once = freq.eq("ONCE").fillna(False).to_numpy()
    end = end.where(~once, start)
    dose_start = start.to_numpy(dtype=DATES)
    dose_end = end.to_numpy(dtype=DATES)
    usable = ~np.isnat(dose_start) & ~np.isnat(dose_end) & (dose_end >= dose_start)
    ae_start = astdt.to_numpy(dtype=DATES)
    dated = np.flatnonzero(~np.isnat(ae_start))
    # every (AE, dose record) pair of one subject, as an inner merge on USUBJID gives them
    # (the maximum below does not depend on their order): subjects as codes of both sides'
    # ids, each AE repeated over its subject's dose records, found by one sort of the doses
    ae_ids = usubjid.to_numpy(dtype=object)[dated]
    dose_rows = np.flatnonzero(usable)
    codes, _ = pd.factorize(np.concatenate([ae_ids, ex["USUBJID"].to_numpy(dtype=object)[
        dose_rows]]), use_na_sentinel=True)
    ae_code, dose_code = codes[:len(dated)], codes[len(dated):]
    dose_rows, dose_code = dose_rows[dose_code >= 0], dose_code[dose_code >= 0]   # no id
    by_code = np.argsort(dose_code, kind="stable")
    count = np.bincount(dose_code, minlength=int(codes.max(initial=-1)) + 1)
    first = np.concatenate(([0], np.cumsum(count)[:-1]))
    per_ae = np.where(ae_code >= 0, count[np.clip(ae_code, 0, None)], 0) if len(count) \
        else np.zeros(len(dated), dtype=np.int64)         # an AE's subject's dose records
    ae_code = np.clip(ae_code, 0, None)                   # (an AE without any has none)
    pair_ae = np.repeat(np.arange(len(dated)), per_ae)
    within = np.arange(len(pair_ae)) - np.repeat(np.cumsum(per_ae) - per_ae, per_ae)
    pair_dose = dose_rows[by_code[first[ae_code[pair_ae]] + within]] if len(pair_ae) else \
        np.zeros(0, dtype=np.intp)
    start, ast = dose_start[pair_dose], ae_start[dated][pair_ae]
    keep = start <= ast
    if not keep.any():
        return none
    # every date of the pairs is present: plain datetime64 arrays, one running maximum per AE
    start, ast, pair_ae, pair_dose = start[keep], ast[keep], pair_ae[keep], pair_dose[keep]
    upto = np.minimum(dose_end[pair_dose], ast)
    days = (upto - start).astype("timedelta64[D]").astype(float)
    step = step[pair_dose]
    offset = np.floor(days / step) * step        # not finite (a step of 1/0 days): no dose
    finite = np.isfinite(offset)
    last = (start + np.where(finite, offset, 0).astype(np.int64).astype("timedelta64[D]")) \
        .astype(DATES).view(np.int64)
    latest = np.full(len(usubjid), np.iinfo(np.int64).min, dtype=np.int64)   # NaT: smallest
    np.maximum.at(latest, dated[pair_ae][finite], last[finite])
    return pd.Series(latest.view("datetime64[ns]"), index=usubjid.index)


def _group_codes(frame: pd.DataFrame, names: list[str],
                 factorised: dict[str, tuple[np.ndarray, int]] | None = None) -> np.ndarray:
    """One integer per record naming its USUBJID × ``names`` group (missing values one group,
    as ``duplicated`` counts them): each key factorised once for all the records, so the six
    flags share three groupings instead of factorising their keys twelve times
    (``factorised``: each key's codes and count, kept for the other groupings)."""
    factorised = {} if factorised is None else factorised
    group = np.zeros(len(frame), dtype=np.int64)
    for name in ["USUBJID", *names]:
        if name not in factorised:
            column = frame[name]
            values = np.asarray(column.array) if type(column.array) is pd.arrays.StringArray \
                else column.to_numpy(dtype=object)     # a "string" column's array: no NA scan
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            factorised[name] = (codes, len(uniques))
        codes, count = factorised[name]
        group = group * (count + 1) + codes + 1
    return group


def _first_flag(frame: pd.DataFrame, eligible: pd.Series, order: list[str], ascending: list[bool],
                groups: list[str], group_codes: np.ndarray | None = None,
                sorted_records: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] | None
                = None) -> pd.Series:
    """"Y" on the first eligible record of each USUBJID × ``groups`` in ``order`` (ties: the
    record order; missing values last).

    Numbers and dates in ascending order are sorted as arrays (a stable lexsort) and the groups
    are integer codes of the factorised keys (``group_codes``: :func:`_group_codes` of these
    groups when the caller has them); other orders take the frame's own sort.
    ``sorted_records``: the eligible records and their sort by ``order``, kept for the next
    flag of the same records and order (the subject, SOC and PT flags sort them once)."""
    columns = [frame[name] for name in order]
    if not all(ascending) or any(c.dtype.kind not in "fiuM" for c in columns):
        return _first_flag_sorted(frame, eligible, order, ascending, groups)
    if group_codes is None:
        group_codes = _group_codes(frame, groups)
    known = sorted_records.get(tuple(order)) if sorted_records is not None else None
    if known is None:
        keep = np.flatnonzero(eligible.to_numpy(dtype=bool))
        known = (keep, np.lexsort([c.to_numpy()[keep] for c in reversed(columns)]))
        if sorted_records is not None:
            sorted_records[tuple(order)] = known
    keep, perm = known
    group = group_codes[keep]
    first = first_positions(group[perm])     # the first record of each group in the order
    flagged = np.full(len(frame), -1, dtype=np.intp)
    flagged[keep[perm[first]]] = 0
    return spread_text(_Y, flagged, frame.index)


def _first_flag_sorted(frame: pd.DataFrame, eligible: pd.Series, order: list[str],
                       ascending: list[bool], groups: list[str]) -> pd.Series:
    """:func:`_first_flag` by sorting the frame (any column types and directions)."""
    sub = frame.loc[eligible.to_numpy()]
    keys = ["USUBJID", *groups]
    ordered = sub.sort_values(keys + order, ascending=[True] * len(keys) + ascending,
                              kind="mergesort", na_position="last")
    first = ordered.loc[~ordered.duplicated(keys, keep="first")].index
    out = pd.Series(pd.NA, index=frame.index, dtype=TEXT)
    out.loc[first] = "Y"
    return out


def derive_adae(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, settings: AdamSettings,
                findings: Findings, methods: dict[str, str]) -> pd.DataFrame | None:
    """ADAE from SDTM AE and ADSL; None (with a notice) when the SDTM has no AE."""
    cfg = settings.adae
    if "AE" not in sdtm:
        findings.add(notice("CMAP-AD0005", "SDTM AE not given: no ADAE", "AE"))
        return None
    ae = require(sdtm, "AE", ["STUDYID", "USUBJID", "AESTDTC"], "ADAE")
    absent = [v for v in AE_COPIED if v not in ae.columns]
    if absent:
        findings.add(notice("CMAP-AD0005", f"AE has no {', '.join(absent)}; ADAE leaves them empty",
                            "AE", ", ".join(absent)))
    known = ae["USUBJID"].isin(adsl["USUBJID"])
    if not known.all():          # AE is only read below: no copy of it when every record stays
        ae = ae.loc[known]
    out = pd.DataFrame({"STUDYID": ae["STUDYID"].astype(TEXT),
                        "USUBJID": ae["USUBJID"].astype(TEXT)}, index=ae.index)
    # ADSL is matched to the records once for the copied variables and the end bounds (by
    # each record's ADSL position: no copy of ADSL indexed by USUBJID)
    given = set(adsl.columns) - {"USUBJID"}
    where = adsl_positions(adsl, out["USUBJID"])
    copied = {n: taken_at(adsl[n], where, out.index)
              for n in dict.fromkeys([*ADSL_COPIED, *cfg.end_not_after]) if n in given}
    for name in ADSL_COPIED:
        if name in given:
            out[name] = copied[name]
    for name in AE_COPIED:
        out[name] = ae[name] if name in ae.columns else pd.Series(
            np.nan if name == "AESEQ" else pd.NA, index=ae.index,
            dtype=FLOAT if name == "AESEQ" else "string")
    out["AESEQ"] = pd.to_numeric(out["AESEQ"], errors="coerce").astype(FLOAT)
    methods.update({name: f"AE.{name}" for name in AE_COPIED})

    # treatment
    out["TRTA"] = out["TRT01A"].astype(TEXT)
    known = sorted(set(adsl["TRT01A"].dropna().astype(str)) - set(cfg.treatment_numbers))
    numbers = {**cfg.treatment_numbers,
               **{v: max(cfg.treatment_numbers.values(), default=0) + i + 1
                  for i, v in enumerate(known)}}
    out["TRTAN"] = text_numbers(out["TRTA"], numbers)
    methods["TRTA"] = "ADSL.TRT01A"
    methods["TRTAN"] = "TRTA numbered " + (", ".join(f"{k} = {v}" for k, v in
                                                  cfg.treatment_numbers.items())
                                        + "; others " if cfg.treatment_numbers else "") + \
        "in alphabetical order"

    # dates
    trtsdt = as_dates(out["TRTSDT"]).astype(DATES)
    trtedt = as_dates(out["TRTEDT"]).astype(DATES)
    nat = pd.Series(pd.NaT, index=out.index, dtype=DATES)
    start_bound = trtsdt if cfg.start_not_before_trtsdt else nat   # TRTSDT at 00:00:00
    seconds = cfg.flag_imputed_seconds
    astdtm, astdtf, asttmf, bad_start = _bounded(
        out["AESTDTC"], cfg.start_highest_imputation, "first", start_bound, lower=True,
        seconds=seconds)
    caps = [as_dates(copied[n]).astype(DATES)
            for n in cfg.end_not_after if n in given]
    end_bound = pd.concat(caps, axis=1).min(axis=1).astype(DATES) if caps else nat
    end_bound = end_bound + pd.Timedelta(hours=23, minutes=59, seconds=59)  # a date's last second
    aendtm, aendtf, aentmf, bad_end = _bounded(
        out["AEENDTC"], cfg.end_highest_imputation, "last", end_bound, lower=False,
        seconds=seconds)
    astdt = astdtm.dt.normalize()
    aendt = aendtm.dt.normalize()
    report_bad_dates(findings, ae, bad_start, "AE", "AESTDTC")
    report_bad_dates(findings, ae, bad_end, "AE", "AEENDTC")
    out["ASTDTM"], out["ASTDT"], out["ASTDTF"], out["ASTTMF"] = astdtm, astdt, astdtf, asttmf
    out["AENDTM"], out["AENDT"], out["AENDTF"], out["AENTMF"] = aendtm, aendt, aendtf, aentmf
    out["ASTDY"] = relative_day(astdt, trtsdt)
    out["AENDY"] = relative_day(aendt, trtsdt)
    level = {"none": "complete dates only", "D": "a missing day imputed",
             "M": "a missing day/month imputed"}
    methods["ASTDT"] = (f"AESTDTC; {level[cfg.start_highest_imputation]} to the first day"
                        + ("; an imputed date before TRTSDT within the partial month/year is "
                           "TRTSDT" if cfg.start_not_before_trtsdt else ""))
    methods["ASTDTF"] = "D when the day was imputed, M when month and day were"
    methods["AENDT"] = (f"AEENDTC; {level[cfg.end_highest_imputation]} to the last day"
                        + (f"; not after the earliest of {', '.join(cfg.end_not_after)} when "
                           "the partial date contains it" if cfg.end_not_after else ""))
    methods["AENDTF"] = "D when the day was imputed, M when month and day were"
    time = "H or M" + (" or S" if seconds else "")
    methods["ASTDTM"] = ("AESTDTC; the date as ASTDT, a missing time imputed to 00:00:00 "
                         "component by component" + ("; moved to TRTSDT 00:00:00 as ASTDT"
                                                     if cfg.start_not_before_trtsdt else ""))
    methods["ASTTMF"] = f"Highest imputed time component of ASTDTM: {time}"
    methods["AENDTM"] = ("AEENDTC; the date as AENDT, a missing time imputed to 23:59:59 "
                         "component by component" + ("; moved to the bound's 23:59:59 as AENDT"
                                                     if cfg.end_not_after else ""))
    methods["AENTMF"] = f"Highest imputed time component of AENDTM: {time}"
    methods["ASTDY"] = "ASTDT - TRTSDT + 1 when ASTDT >= TRTSDT, else ASTDT - TRTSDT"
    methods["AENDY"] = "AENDT - TRTSDT + 1 when AENDT >= TRTSDT, else AENDT - TRTSDT"

    # duration (admiral derive_vars_duration, in and out unit days, add_one, not truncated)
    days = (aendt - astdt).dt.days.astype(FLOAT)
    out["ADURN"] = days.where(days < 0, days + 1) if cfg.duration_add_one else days
    out["ADURU"] = pd.Series(np.where(out["ADURN"].notna(), "DAYS", None), index=out.index,
                             dtype=TEXT)
    methods["ADURN"] = "AENDT - ASTDT" + (" + 1 when not negative" if cfg.duration_add_one
                                           else "") + " (days)"
    methods["ADURU"] = "DAYS when ADURN is present"

    # last dose before the AE (admiral derive_vars_joined on the single-dose EX dataset)
    out["LDOSEDTM"] = _last_dose(sdtm, out["USUBJID"], astdt, settings)
    if "EX" in sdtm:
        methods["LDOSEDTM"] = (
            "Latest dose date on or before ASTDT, at 00:00:00: EX records with EXDOSE > 0 (or "
            "placebo) dose every day from EXSTDTC to EXENDTC (every 1/n days when fewer than "
            "one a day, EXSTDTC only when ONCE" + (", an open record on its EXSTDTC"
                                                   if settings.adsl.exposure.open_end_uses_start
                                                   else "") + ")")

    # severity (admiral ad_adae.R: ASEV = AESEV, ASEVN its rank)
    if "AESEV" in ae.columns:
        out["ASEV"] = ae["AESEV"].astype(TEXT)
        sev = upper_text(out["ASEV"])
        rank = {v: float(i + 1) for i, v in enumerate(cfg.severity_order)}
        out["ASEVN"] = text_numbers(sev, rank)
        bad_sev = sev.notna() & out["ASEVN"].isna()
        if bad_sev.any():
            report_rows(findings, ae.loc[bad_sev.to_numpy()], "AE", rule="CMAP-AD0034",
                        severity=Severity.WARNING,
                        message="AESEV is not one of the ADAE severity_order values; ASEVN is "
                                "left blank", variable="AESEV", value_col="AESEV")
        methods["ASEV"] = "AE.AESEV"
        methods["ASEVN"] = "ASEV: " + ", ".join(f"{v} = {i + 1}" for i, v in
                                                enumerate(cfg.severity_order))
    elif cfg.worst_by == "ASEVN":
        raise InputDataError("ADAE worst_by ASEVN: AE has no AESEV")

    # treatment emergence (admiral derive_var_trtemfl)
    window = pd.Timedelta(days=cfg.trtemfl_window_days)
    in_window = (astdt >= trtsdt) & ((astdt <= trtedt + window) | trtedt.isna())
    undated = astdt.isna() & (aendt.isna() | (aendt >= trtsdt))
    emergent = (trtsdt.notna() & (in_window | undated)).fillna(False).astype(bool)
    out["TRTEMFL"] = pd.Series(np.where(emergent, "Y", None), index=out.index, dtype=TEXT)
    methods["TRTEMFL"] = (f"Y when TRTSDT <= ASTDT <= TRTEDT + {cfg.trtemfl_window_days} days "
                          "(no TRTEDT: no upper limit), or ASTDT is missing and AENDT is "
                          "missing or on/after TRTSDT")

    # grade and causality
    # each distinct AETOXGR read once, then spread to the records by code
    codes, texts = pd.factorize(out["AETOXGR"].astype(TEXT), use_na_sentinel=True)
    grade_text = upper_text(pd.Series(texts, dtype=TEXT)).str.replace(r"^GRADE\s*", "",
                                                                          regex=True)
    graded_u = pd.to_numeric(grade_text, errors="coerce").astype(FLOAT).to_numpy()
    graded_u = np.where(np.isin(graded_u, [1, 2, 3, 4, 5]), graded_u, np.nan)
    valid_u = ~np.isnan(graded_u)
    present = codes >= 0
    take = np.where(present, codes, 0)
    grade = pd.Series(np.where(present, graded_u[take], np.nan) if len(texts) else
                      np.full(len(codes), np.nan), index=out.index)
    bad_grade = pd.Series(present & ~(valid_u[take] if len(texts) else False), index=out.index)
    if bad_grade.any():
        report_rows(findings, ae.loc[bad_grade.to_numpy()], "AE", rule="CMAP-AD0030",
                    severity=Severity.WARNING,
                    message="AETOXGR is not a CTCAE grade 1-5; ATOXGR is left blank",
                    variable="AETOXGR", value_col="AETOXGR")
    out["ATOXGRN"] = grade.astype(FLOAT)
    shown = np.array([str(int(g)) if ok else None for g, ok in zip(graded_u, valid_u,
                                                                    strict=True)], dtype=object)
    out["ATOXGR"] = pd.Series(np.where(present, shown[take], None) if len(texts) else
                              np.full(len(codes), None), index=out.index, dtype=TEXT)
    methods["ATOXGR"] = f"AETOXGR (CTCAE v{cfg.ctcae_version} grade)"
    methods["ATOXGRN"] = "ATOXGR as a number"
    rel = upper_text(out["AEREL"])
    out["AREL"] = out["AEREL"].astype(TEXT)
    related = rel.isin(cfg.related_terms).fillna(False).astype(bool)
    out["RELGR1"] = pd.Series(np.where(rel.isna(), None, np.where(related, "RELATED",
                                                                  "NOT RELATED")),
                              index=out.index, dtype=TEXT)
    methods["AREL"] = "AE.AEREL"
    methods["RELGR1"] = ("RELATED when AEREL is one of " + ", ".join(cfg.related_terms)
                         + "; NOT RELATED for any other non-blank AEREL")

    # first-occurrence flags over the treatment-emergent AEs
    # the keys and order of the flags only (not a copy of every ADAE column)
    work = pd.DataFrame({"USUBJID": out["USUBJID"], "AEBODSYS": out["AEBODSYS"],
                         "AEDECOD": out["AEDECOD"], "AESEQ": out["AESEQ"], "_ST": astdtm,
                         "_NEG": -out[cfg.worst_by]}, index=out.index)
    keys: dict[str, tuple[np.ndarray, int]] = {}      # USUBJID, AEBODSYS, AEDECOD: once each
    codes = {tuple(g): _group_codes(work, g, keys) for g in _FLAG_GROUPS.values()}
    emergent_sorted: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
    for flag, groups in _FLAG_GROUPS.items():
        out[flag] = _first_flag(work, emergent, ["_ST", "AESEQ"], [True, True], groups,
                                codes[tuple(groups)], emergent_sorted)
    graded = emergent & out[cfg.worst_by].notna()
    graded_sorted: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
    for flag, groups in _WORST_GROUPS.items():
        out[flag] = _first_flag(work, graded, ["_NEG", "_ST", "AESEQ"], [True, True, True],
                                groups, codes.get(tuple(groups)), graded_sorted)
    by = {"": "subject", "S": "subject and AEBODSYS", "P": "subject, AEBODSYS and AEDECOD"}
    for key, text in by.items():
        methods[f"AOCC{key}FL"] = (f"Y on the first treatment-emergent AE of the {text}, by "
                                   "ASTDTM then AESEQ")
        methods[f"AOCC{key}IFL"] = (f"Y on the first treatment-emergent AE with the highest "
                                    f"{cfg.worst_by} of the {text}, by ASTDTM then AESEQ")

    # ignore_index: the sorted frame gets its RangeIndex without reset_index's deep copy
    return out.sort_values(["USUBJID", "AESEQ"], kind="mergesort", ignore_index=True)
