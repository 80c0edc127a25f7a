"""ADSL: one record per DM subject (ADaMIG 1.3 §3.2), from standard SDTM variables only.

Every derivation is a vectorised merge of a per-subject frame onto DM; optional SDTM datasets
(EX, DS, SUPPDM, DD, AE, TU, …) are used when present, and their absence is a notice, not an
error, unless the settings name them as required (cohort variables need SUPPDM).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdiscmap.adam.dates import complete_dates, factorize_text, impute_dtc, impute_dtm_times
from cdiscmap.adam.dtypes import DATES, FLOAT, TEXT
from cdiscmap.adam.io import (
    adsl_positions,
    as_dates,
    dataset_columns,
    index_positions,
    lookup,
    notice,
    report_bad_dates,
    report_rows,
    require,
    select_records,
    source_dates,
    source_records,
    upper_isin,
    upper_text,
    upper_values,
)
from cdiscmap.adam.order import first_positions, record_of, taken_at
from cdiscmap.adam.settings import AdamSettings, DateSource, ExDateRule, Exposure, where_text
from cdiscmap.errors import InputDataError
from cdiscmap.findings import Finding, Findings, Severity

DM_COPIED = ["STUDYID", "USUBJID", "SUBJID", "SITEID", "COUNTRY", "AGE", "AGEU", "SEX", "RACE",
             "ETHNIC", "ARMCD", "ARM", "ACTARMCD", "ACTARM"]
_NUMERIC_DM = {"AGE"}


@dataclass(frozen=True)
class PendingLastAlive:
    """Where LSTALVDT goes once it is derived (``derive_adsl(defer_last_alive=True)``): its
    column position in ADSL, the positions of its findings and method among ADSL's, and ADSL
    as it was at LSTALVDT's step (an ADSL date source sees only the dates made before it)."""

    column: int
    finding: int
    method: int
    adsl: pd.DataFrame


@dataclass
class AdslResult:
    """ADSL plus what later datasets reuse (the baseline tumour records, for MDIS).
    ``pending``: LSTALVDT is not derived yet (:func:`complete_last_alive` adds it)."""

    adsl: pd.DataFrame
    baseline_tumours: pd.DataFrame   # USUBJID, TUSTRESC, SEQ of baseline TU records
    pending: PendingLastAlive | None = None


def _per_subject(records: pd.DataFrame, pick: str) -> pd.DataFrame:
    """First or last dated record per subject (ties: lowest --SEQ, then input order)."""
    if records.empty:
        return records
    ordered = records.sort_values(["USUBJID", "DT", "SEQ"], kind="mergesort",
                                  ascending=[True, pick == "first", True])
    return ordered.drop_duplicates("USUBJID", keep="first")


def _merge_value(adsl: pd.DataFrame, values: pd.DataFrame, column: str, target: str
                 ) -> pd.Series:
    mapped = lookup(adsl["USUBJID"], values.set_index("USUBJID")[column]) if not values.empty \
        else pd.Series(pd.NA, index=adsl.index)
    if target.endswith("DT"):
        return as_dates(mapped).astype(DATES)
    return mapped.astype(TEXT) if mapped.dtype != "float64" else mapped


def _dm_number(dm: pd.DataFrame, name: str) -> pd.Series:
    """A numeric DM variable (AGE) that may arrive as text from a CSV/parquet SDTM folder;
    a value that is no number is an input error naming it, not a crash."""
    values = pd.to_numeric(dm[name], errors="coerce").astype(FLOAT)
    if pd.api.types.is_numeric_dtype(dm[name]):     # XPT: a number already, none can be bad
        return values
    bad = values.isna() & dm[name].notna() & (dm[name].astype(TEXT).str.strip() != "")
    if bad.any():
        first = bad[bad].index[0]
        raise InputDataError(f"SDTM DM.{name} is numeric (SDTMIG 3.4 DM) but holds "
                             f"{str(dm.at[first, name])!r} (USUBJID {dm.at[first, 'USUBJID']}); "
                             f"{int(bad.sum())} such value(s)")
    return values


def _dm_frame(sdtm: dict[str, pd.DataFrame], findings: Findings) -> pd.DataFrame:
    dm = require(sdtm, "DM", ["STUDYID", "USUBJID"], "ADSL is one record per DM subject")
    dup = dm["USUBJID"].duplicated(keep="first")
    if dup.any():
        report_rows(findings, dm.loc[dup], "DM", rule="CMAP-AD0010", severity=Severity.ERROR,
                    message="USUBJID repeats in DM; the first record is used",
                    variable="USUBJID")
        dm = dm.loc[~dup]
    dm = dm.loc[dm["USUBJID"].notna()].sort_values("USUBJID", kind="mergesort")
    if dm.empty:
        raise InputDataError("no subjects: SDTM DM has no record with a USUBJID (ADSL is one "
                             "record per DM subject)")
    absent = [v for v in DM_COPIED if v not in dm.columns]
    if absent:
        findings.add(notice("CMAP-AD0005", f"DM has no {', '.join(absent)}; ADSL leaves them empty",
                            "DM", ", ".join(absent)))
    # one frame of the columns' own arrays (copies of DM's), not a column set at a time
    # (14 insertions into a growing frame, ≈1.5 ms)
    columns: dict[str, object] = {}
    for name in DM_COPIED:
        if name in dm.columns:
            columns[name] = _dm_number(dm, name).to_numpy() if name in _NUMERIC_DM else \
                dm[name].astype(TEXT).array
        else:
            columns[name] = np.full(len(dm), np.nan) if name in _NUMERIC_DM else \
                pd.array([pd.NA] * len(dm), dtype=TEXT)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(dm)), copy=False)


def _age_groups(adsl: pd.DataFrame, settings: AdamSettings, methods: dict[str, str]) -> None:
    age = pd.to_numeric(adsl["AGE"], errors="coerce")
    conds, labels = [], []
    for group in settings.adsl.age_groups:
        cond = age.notna()
        if group.low is not None:
            cond &= age >= group.low
        if group.high is not None:
            cond &= age <= group.high
        conds.append(cond.to_numpy(dtype=bool))
        labels.append(group.label)
    index = np.select(conds, list(range(1, len(labels) + 1)), default=0)
    text = np.array([None, *labels], dtype=object)[index]
    missing = settings.adsl.age_missing
    if missing is not None:
        text = np.where(age.isna().to_numpy(), missing, text)
    adsl["AGEGR1"] = pd.array(text, dtype=TEXT)
    adsl["AGEGR1N"] = np.where(index > 0, index, np.nan).astype(FLOAT)
    methods["AGEGR1"] = ("AGE grouped as " + "; ".join(labels) + " (AGEGR1N = group order)"
                         + (f"; {missing} when AGE is missing (AGEGR1N empty)"
                            if missing is not None else ""))


def _value_order(values: list[str]) -> list[str]:
    """Numbers written as text by their value (2 before 10), then other text alphabetically."""
    as_number = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    return [v for _, _, v in sorted(zip(as_number.isna(), as_number.fillna(0), values,
                                        strict=True))]


def _numbered(adsl: pd.DataFrame, settings: AdamSettings, methods: dict[str, str]) -> None:
    """{variable}N: the settings' order first, then the others by value (or like ``by``)."""
    for item in settings.adsl.numbered:
        for name in (item.variable, item.by):
            if name is not None and name not in adsl.columns:
                raise InputDataError(f"numbered {item.variable}: ADSL has no {name} (a DM "
                                     "variable, a cohort variable or a grouping)")
        # on the distinct values (in order of appearance) and the records' codes of them
        codes, uniques = factorize_text(adsl[item.variable].astype(TEXT))
        seen = [v for v in uniques.tolist() if v not in item.order]
        rest = _value_order(seen)
        if item.by is not None:   # the smallest position of the value's subjects' `by` value
            by_codes, by_uniques = factorize_text(adsl[item.by].astype(TEXT))
            rank = {v: i for i, v in enumerate(_value_order(by_uniques.tolist()))}
            by_rank = np.append(np.array([rank[v] for v in by_uniques.tolist()], dtype=float),
                                np.nan)[by_codes]                # a missing `by`: no rank
            smallest = np.full(len(uniques), np.nan)
            valued = codes >= 0
            np.fmin.at(smallest, codes[valued], by_rank[valued])  # NaN only when all are
            first = dict(zip(uniques.tolist(), smallest.tolist(), strict=True))
            position = {v: i for i, v in enumerate(rest)}
            rest = sorted(rest, key=lambda v: (pd.isna(first.get(v, np.nan)),
                                               first.get(v, 0), position[v]))
        order = [*item.order, *rest]
        numbers = {v: float(i) for i, v in enumerate(order, start=1)}
        adsl[item.variable + "N"] = np.append(np.array(
            [numbers.get(v, np.nan) for v in uniques.tolist()], dtype=FLOAT), np.nan)[codes]
        methods[item.variable + "N"] = (
            f"{item.variable} numbered " + (f"in the order {', '.join(item.order)}, then "
                                            if item.order else "")
            + (f"in the order of {item.by} (numbers by value, then text)" if item.by else
               "by value (numbers written as text by their number, other text alphabetically)"))


def _cohorts(adsl: pd.DataFrame, sdtm: dict[str, pd.DataFrame], settings: AdamSettings,
             findings: Findings, methods: dict[str, str]) -> None:
    qnams = settings.adsl.cohort_variables
    if not qnams:
        return
    supp = require(sdtm, "SUPPDM", ["USUBJID", "QNAM", "QVAL"],
                   f"cohort variables {', '.join(qnams)} come from SUPPDM")
    # QNAM as codes of its trimmed upper-case distinct values, records as positions: no
    # copy of SUPPDM per condition, no text key per record
    codes, uniques = factorize_text(supp["QNAM"])
    names = pd.Series(uniques, dtype=TEXT).str.strip().str.upper() \
        .to_numpy(dtype=object, na_value=None)
    wanted = {q: i for i, q in enumerate(qnams)}
    qnam_of = np.append(np.array([wanted.get(n, -1) for n in names], dtype=np.intp), -1)[codes]
    chosen = qnam_of >= 0
    if "RDOMAIN" in supp.columns:
        chosen &= upper_isin(supp["RDOMAIN"].fillna("DM"), ["DM"])
    rows = np.flatnonzero(chosen)
    ids, _ = pd.factorize(np.asarray(supp["USUBJID"].to_numpy(dtype=object))[rows])
    # a repeated USUBJID x QNAM (a missing USUBJID is one value, as duplicated counts it)
    pair = (ids.astype(np.int64) + 1) * len(qnams) + qnam_of[rows]
    first = np.zeros(len(rows), dtype=bool)
    first[first_positions(pair)] = True
    if not first.all():
        repeated = supp.iloc[rows[~first]]
        report_rows(findings, repeated.assign(QNAM=names[codes[rows[~first]]]), "SUPPDM",
                    rule="CMAP-AD0011", severity=Severity.WARNING,
                    message="SUPPDM QNAM repeats for a subject; the first value is used",
                    variable="QNAM", value_col="QNAM")
        rows = rows[first]
    subject = adsl_positions(adsl, supp["USUBJID"].iloc[rows])
    for number, qnam in enumerate(qnams):
        mine = qnam_of[rows] == number
        if not mine.any():
            findings.add(notice("CMAP-AD0006", f"SUPPDM has no QNAM {qnam}; ADSL.{qnam} is empty",
                                "SUPPDM", qnam))
        at = np.full(len(adsl), -1, dtype=np.intp)
        at[subject[mine & (subject >= 0)]] = rows[mine & (subject >= 0)]
        adsl[qnam] = taken_at(supp["QVAL"], at, adsl.index).astype(TEXT)
        methods[qnam] = f"SUPPDM.QVAL where QNAM = {qnam}"


def _contains_upper(values: pd.Series, text: str) -> np.ndarray:
    """Boolean array: the upper-cased value contains ``text`` (missing → False); each distinct
    value (a few treatment names over every EX record) is looked at once."""
    codes, uniques = factorize_text(values)
    if not len(uniques):
        return np.zeros(len(values), dtype=bool)
    hit = pd.Series(uniques, dtype=TEXT).str.upper().str.contains(text, regex=False) \
        .fillna(False).to_numpy(dtype=bool)
    return np.where(codes >= 0, hit[np.clip(codes, 0, None)], False)


def counted_doses(ex: pd.DataFrame, cfg: Exposure) -> pd.Series:
    """Which EX records count as a dose (admiral ad_adsl.R: EXDOSE > 0, or 0 of a placebo
    whose EXTRT matches ``placebo_pattern``), when ``positive_dose_only``; else every record.
    ADSL's treatment dates and ADAE's LDOSEDTM use the same records."""
    if not (cfg.positive_dose_only and "EXDOSE" in ex.columns):
        return pd.Series(True, index=ex.index)
    dose = pd.to_numeric(ex["EXDOSE"], errors="coerce")
    placebo = _contains_upper(ex["EXTRT"], cfg.placebo_pattern.upper()) \
        if "EXTRT" in ex.columns else False
    return ((dose > 0) | ((dose == 0) & placebo)).fillna(False).astype(bool)


def _dosing_records(sdtm: dict[str, pd.DataFrame], settings: AdamSettings,
                    findings: Findings) -> pd.DataFrame | None:
    """EX records that count as doses, with START/END dates (END: open → start, if set)."""
    if "EX" not in sdtm:
        findings.add(notice("CMAP-AD0005", "SDTM EX not given: no subject has TRTSDT, so SAFFL = N",
                            "EX"))
        return None
    ex = require(sdtm, "EX", ["USUBJID", "EXSTDTC"], "treatment dates")
    cfg = settings.adsl.exposure
    ex = ex.loc[counted_doses(ex, cfg)]
    # each column parsed once for its dates and datetimes (TRTSDTM/TRTEDTM below; admiral
    # derive_vars_dtm: start time imputed first, end time last), so date(TRTSDTM) = TRTSDT
    # and date(TRTEDTM) = TRTEDT
    seconds = cfg.flag_imputed_seconds
    start, (start_dtm, open_dtm) = impute_dtm_times(
        ex["EXSTDTC"], cfg.start_imputation, "first", ("first", "last"), flag_seconds=seconds)
    if "EXENDTC" in ex.columns:
        end, (end_dtm,) = impute_dtm_times(ex["EXENDTC"], cfg.end_imputation, "last",
                                           ("last",), flag_seconds=seconds)
        end_dates, end_invalid, end_given = end.dates, end.invalid, ex["EXENDTC"].notna()
    else:
        end_dates = pd.Series(pd.NaT, index=ex.index, dtype=DATES)
        end_invalid = pd.Series(False, index=ex.index)
        end_given = pd.Series(False, index=ex.index)
    for name, bad in (("EXSTDTC", start.invalid), ("EXENDTC", end_invalid)):
        report_bad_dates(findings, ex, bad, "EX", name)
    if cfg.open_end_uses_start:
        end_dates = end_dates.where(end_given, start.dates)
    out = pd.DataFrame({"USUBJID": ex["USUBJID"].astype(TEXT), "START": start.dates,
                        "END": end_dates})
    if "EXENDTC" not in ex.columns:
        end_dtm = open_dtm
    use_open = (~end_given).to_numpy() if cfg.open_end_uses_start else \
        np.zeros(len(ex), dtype=bool)
    out["START_DTM"] = start_dtm.datetimes
    out["START_DF"], out["START_TF"] = start_dtm.date_flag, start_dtm.time_flag
    out["END_DTM"] = end_dtm.datetimes.where(~use_open, open_dtm.datetimes)
    if "EXENDTC" not in ex.columns and not cfg.open_end_uses_start:
        out["END_DTM"] = pd.Series(pd.NaT, index=ex.index, dtype=DATES)
    out["END_DF"] = end_dtm.date_flag.where(~use_open, open_dtm.date_flag)
    out["END_TF"] = end_dtm.time_flag.where(~use_open, open_dtm.time_flag)
    for name in ("EPOCH", "EXCAT", "EXSCAT", "EXTRT"):
        if name in ex.columns:
            out[name] = ex[name]
    if "EXSEQ" in ex.columns:
        out["EXSEQ"] = ex["EXSEQ"].astype(FLOAT)
    return out


def _treatment_dates(adsl: pd.DataFrame, dosing: pd.DataFrame | None,
                     methods: dict[str, str], settings: AdamSettings) -> None:
    # each dose record's ADSL record (-1: none), for the dates and the datetimes
    subject = None if dosing is None or dosing.empty else \
        adsl_positions(adsl, dosing["USUBJID"])
    if dosing is None or subject is None:
        adsl["TRTSDT"] = pd.Series(pd.NaT, index=adsl.index, dtype=DATES)
        adsl["TRTEDT"] = pd.Series(pd.NaT, index=adsl.index, dtype=DATES)
    else:
        # earliest START and latest END per ADSL record
        for name, side, latest in (("TRTSDT", "START", False), ("TRTEDT", "END", True)):
            adsl[name] = pd.Series(_extreme_dates(subject, dosing[side], len(adsl),
                                                  latest=latest), index=adsl.index)
    adsl["TRTDURD"] = ((adsl["TRTEDT"] - adsl["TRTSDT"]).dt.days + 1).astype(FLOAT)
    cfg = settings.adsl.exposure
    _treatment_datetimes(adsl, dosing, subject, cfg, methods)
    dose = "EXDOSE > 0 (or placebo)" if cfg.positive_dose_only else "any EX record"
    imputed = {"none": "partial dates not used", "D": "a missing day imputed",
               "M": "a missing day/month imputed"}
    methods["TRTSDT"] = (f"Earliest EXSTDTC of records with {dose}; "
                         f"{imputed[cfg.start_imputation]}"
                         + (" (first day)" if cfg.start_imputation != "none" else ""))
    methods["TRTEDT"] = (f"Latest EXENDTC of records with {dose}"
                         + (", an open record counting its EXSTDTC" if cfg.open_end_uses_start
                            else "") + f"; {imputed[cfg.end_imputation]}"
                         + (" (last day)" if cfg.end_imputation != "none" else ""))
    methods["TRTDURD"] = "TRTEDT - TRTSDT + 1"


def _dm_records(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame
                ) -> tuple[pd.DataFrame, np.ndarray]:
    """DM's first record per USUBJID (the records ADSL is made of) and, per ADSL record, the
    position of its own among them: DM variables are taken by position, not looked up by
    USUBJID in a copy of DM indexed by it."""
    dm = sdtm["DM"]
    repeated = dm["USUBJID"].duplicated(keep="first").to_numpy()
    if repeated.any():
        dm = dm.loc[~repeated]
    return dm, index_positions(pd.Index(dm["USUBJID"].to_numpy(dtype=object)), adsl["USUBJID"])


def _extreme_dates(subject: np.ndarray, dates: pd.Series, count: int, *, latest: bool
                   ) -> np.ndarray:
    """Per ADSL record (``count``), the earliest (``latest``: the latest) of ``dates`` of its
    records (``subject``: :func:`adsl_positions`), NaT when none has one: a groupby minimum
    (maximum) by USUBJID, as a running extreme on datetime64 integers."""
    values = dates.to_numpy(dtype=DATES).view(np.int64)
    use = (subject >= 0) & ~np.isnat(dates.to_numpy(dtype=DATES))
    nat = np.iinfo(np.int64).min                     # NaT's integer
    out = np.full(count, nat if latest else np.iinfo(np.int64).max, dtype=np.int64)
    (np.maximum if latest else np.minimum).at(out, subject[use], values[use])
    if not latest:
        out[out == np.iinfo(np.int64).max] = nat
    return out.view("datetime64[ns]")


def _dose_record(subject: np.ndarray, stamps: np.ndarray, seq: np.ndarray, count: int, *,
                 last: bool) -> np.ndarray:
    """Per ADSL record (``count``), the position of its first dose record by datetime, then
    --SEQ (``last``: its last one; ties in record order, as a stable sort by USUBJID,
    datetime and --SEQ then the first/last record per USUBJID), -1 when it has none;
    ``subject``: each dose record's ADSL record (-1: none), ``stamps``: datetime64[ns]
    (NaT: not a candidate)."""
    return record_of(subject, [seq, stamps], count, last=last, use=~np.isnat(stamps))


def _treatment_datetimes(adsl: pd.DataFrame, dosing: pd.DataFrame | None,
                         subject: np.ndarray | None, cfg: Exposure,
                         methods: dict[str, str]) -> None:
    """TRTSDTM/TRTSTMF of the first dose record (by datetime, then EXSEQ) and TRTEDTM/TRTETMF
    of the last (admiral ad_adsl.R derive_vars_merged mode first / last); TRTSDTF/TRTEDTF only
    when the settings allow a partial date to be imputed. ``subject``: each dose record's
    ADSL record (-1: none), None when there is no dose record."""
    index = adsl.index
    names = {"START": ("TRTSDTM", "TRTSTMF", "TRTSDTF"), "END": ("TRTEDTM", "TRTETMF", "TRTEDTF")}
    for side, (dtm, tmf, dtf) in names.items():
        imputing = (cfg.start_imputation if side == "START" else cfg.end_imputation) != "none"
        wanted = [(dtm, f"{side}_DTM"), (tmf, f"{side}_TF")]
        if imputing:
            wanted.append((dtf, f"{side}_DF"))
        if dosing is None or subject is None:
            for name, _ in wanted:
                adsl[name] = pd.Series(pd.NaT, index=index, dtype=DATES) \
                    if name == dtm else pd.Series(pd.NA, index=index, dtype=TEXT)
            continue
        seq = dosing["EXSEQ"].to_numpy(dtype=FLOAT) if "EXSEQ" in dosing.columns else \
            np.arange(len(dosing), dtype=FLOAT)
        at = _dose_record(subject, dosing[f"{side}_DTM"].to_numpy(dtype=DATES),
                          seq, len(adsl), last=side == "END")
        for name, col in wanted:
            taken = taken_at(dosing[col], at, index)
            adsl[name] = taken if name == dtm else taken.astype(TEXT)
    time = "H, M" + (" or S" if cfg.flag_imputed_seconds else "")
    methods["TRTSDTM"] = ("EXSTDTC of the dose record of TRTSDT (earliest, then lowest EXSEQ); "
                          "a missing time imputed to 00:00:00 (a missing minute or second to "
                          "00)")
    methods["TRTEDTM"] = ("EXENDTC of the dose record of TRTEDT (latest, then highest EXSEQ)"
                          + (", EXSTDTC for an open record" if cfg.open_end_uses_start else "")
                          + "; a missing time imputed to 23:59:59 (a missing minute or second "
                          "to 59)")
    methods["TRTSTMF"] = f"Highest imputed time component of TRTSDTM: {time}"
    methods["TRTETMF"] = f"Highest imputed time component of TRTEDTM: {time}"
    for name, level in (("TRTSDTF", cfg.start_imputation), ("TRTEDTF", cfg.end_imputation)):
        if level != "none":
            methods[name] = (f"D when the day of {name[:6]} was imputed, M when month and day "
                             "were")


def _ex_rule_dates(adsl: pd.DataFrame, dosing: pd.DataFrame | None, rule: ExDateRule,
                   dm: pd.DataFrame, methods: dict[str, str]) -> None:
    """A sponsor date from EX: first dose after a gap, or first dose matching a filter."""
    result = pd.Series(pd.NaT, index=adsl.index, dtype=DATES)
    if rule.rule == "first_after_gap":
        text = (f"EXSTDTC of the first dose starting at least {rule.gap_days} days after the "
                "end of all earlier doses" + (f" and after {rule.anchor} (the gap counting "
                                              f"from {rule.anchor} when it is later)"
                                              if rule.anchor else ""))
    else:
        text = "EXSTDTC of the first dose with " + where_text(rule.where) + \
            (f", after {rule.anchor}" if rule.anchor else "")
    if dosing is not None and not dosing.empty:
        recs = dosing.loc[dosing["START"].notna()]
        if rule.armcd is not None:
            arm = dm.set_index("USUBJID")["ARMCD"] if "ARMCD" in dm.columns \
                else pd.Series(dtype=TEXT)
            recs = recs.loc[upper_isin(lookup(recs["USUBJID"], arm).astype(TEXT),
                                       rule.armcd)]
        sort = ["USUBJID", "START"] + (["EXSEQ"] if "EXSEQ" in recs.columns else [])
        recs = recs.sort_values(sort, kind="mergesort")
        anchor = as_dates(lookup(recs["USUBJID"], adsl.set_index("USUBJID")[rule.anchor])
                                if rule.anchor else pd.Series(pd.NaT, index=recs.index))
        after_anchor = (recs["START"] > anchor).fillna(False).astype(bool) if rule.anchor \
            else pd.Series(True, index=recs.index)
        if rule.rule == "first_after_gap":
            # end of all earlier dosing (doses before the anchor included), the anchor when later
            ends = recs["END"].fillna(recs["START"])
            prev_end = ends.groupby(recs["USUBJID"]).cummax().groupby(recs["USUBJID"]).shift(1)
            prev_end = pd.concat([prev_end, anchor], axis=1).max(axis=1)
            gap = (recs["START"] - prev_end).dt.days
            hit = recs.loc[after_anchor & (gap >= int(rule.gap_days or 0)).fillna(False)]
        else:
            matched, _ = select_records(recs.loc[after_anchor], rule.where)
            hit = matched
        first = hit.drop_duplicates("USUBJID", keep="first").set_index("USUBJID")["START"]
        result = as_dates(lookup(adsl["USUBJID"], first)).astype(DATES)
    adsl[rule.variable] = result
    if rule.armcd:
        text += f"; only ARMCD {', '.join(rule.armcd)}"
    methods[rule.variable] = text


def _death(adsl: pd.DataFrame, sdtm: dict[str, pd.DataFrame], settings: AdamSettings,
           findings: Findings, methods: dict[str, str]) -> None:
    dm, rows = _dm_records(sdtm, adsl)
    index = adsl.index
    level = settings.adsl.death_imputation
    if "DTHDTC" in dm.columns:
        imp = impute_dtc(dm["DTHDTC"], level, "first")
        report_bad_dates(findings, dm, imp.invalid, "DM", "DTHDTC")
        adsl["DTHDT"] = taken_at(imp.dates, rows, index).astype(DATES)
        adsl["DTHDTF"] = taken_at(imp.flag, rows, index).astype(TEXT)
    else:
        adsl["DTHDT"] = pd.Series(pd.NaT, index=index, dtype=DATES)
        adsl["DTHDTF"] = pd.Series(pd.NA, index=index, dtype=TEXT)
    flag = adsl["DTHDT"].notna()
    if "DTHFL" in dm.columns:
        flag |= taken_at(dm["DTHFL"], rows, index).astype(TEXT).str.upper().eq("Y") \
            .fillna(False).astype(bool)
    adsl["DTHFL"] = pd.Series(np.where(flag, "Y", None), index=index, dtype=TEXT)
    methods["DTHDT"] = (f"DM.DTHDTC; partial dates imputed up to level {level} to the first "
                        "day (DTHDTF)")
    methods["DTHFL"] = "Y when DM.DTHFL = Y or DM.DTHDTC is given"

    cause = pd.Series(pd.NA, index=index, dtype=TEXT)
    domain = pd.Series(pd.NA, index=index, dtype=TEXT)
    subjects = pd.Index(adsl["USUBJID"].to_numpy(dtype=object))    # one record per subject
    for source in settings.adsl.death_cause_sources:
        if source.dataset not in sdtm or source.value is None:
            continue
        frame = require(sdtm, source.dataset, ["USUBJID", source.value], "DTHCAUS")
        picked, _ = select_records(frame, source.where, source.where_not)
        # each subject's earliest record with a value by its (ISO 8601, so sortable) date
        # text, undated ones last, ties in record order: one stable sort of codes (subject,
        # date rank), not a sort of the records' text
        subject = index_positions(subjects, picked["USUBJID"])
        valued = picked[source.value].notna().to_numpy()
        kept = np.flatnonzero(valued & (subject >= 0))
        if not len(kept):
            continue
        rank = np.zeros(len(picked), dtype=np.intp)
        if source.date in picked.columns:
            ranks, dates = pd.factorize(picked[source.date].iloc[kept].astype(TEXT),
                                        sort=True)
            rank[kept] = np.where(ranks < 0, len(dates), ranks)
        at = record_of(subject, [rank], len(adsl), last=False, use=valued)
        found = taken_at(picked[source.value], at, index).astype(TEXT)
        domain = domain.mask(cause.isna() & found.notna(), source.dataset[:2])
        cause = cause.fillna(found)
    adsl["DTHCAUS"] = cause.where(flag.to_numpy(), pd.NA).astype(TEXT)
    adsl["DTHDOM"] = domain.where(adsl["DTHCAUS"].notna(), pd.NA).astype(TEXT)
    methods["DTHDOM"] = "Domain of the record DTHCAUS was taken from (admiral DTHDOM)"
    methods["DTHCAUS"] = ("First available of " + ", ".join(
        f"{s.dataset}.{s.value}" for s in settings.adsl.death_cause_sources)
        + " (earliest record of the first source that has one), for dead subjects")


def _death_timing(adsl: pd.DataFrame, settings: AdamSettings, methods: dict[str, str]) -> None:
    """admiral ad_adsl.R duration and flags around death: DTHADY (DTHDT - TRTSDT + 1),
    LDDTHELD (DTHDT - TRTEDT), LDDTHGR1 and DTH30FL / DTHA30FL / DTHB30FL."""
    window = settings.adsl.death_window_days
    dthdt, start, end = adsl["DTHDT"], adsl["TRTSDT"], adsl["TRTEDT"]
    adsl["DTHADY"] = ((dthdt - start).dt.days + 1).astype(FLOAT)
    elapsed = (dthdt - end).dt.days.astype(FLOAT)
    adsl["LDDTHELD"] = elapsed
    within, after = (elapsed <= window).to_numpy(), (elapsed > window).to_numpy()
    adsl["LDDTHGR1"] = pd.Series(np.select([within, after], [f"<= {window}", f"> {window}"],
                                           default=None), index=adsl.index, dtype=TEXT)
    before = (dthdt <= start + pd.to_timedelta(window, unit="D")).fillna(False).to_numpy()
    for name, mask in (("DTH30FL", within), ("DTHA30FL", after), ("DTHB30FL", before)):
        adsl[name] = pd.Series(np.where(mask, "Y", None), index=adsl.index, dtype=TEXT)
    methods["DTHADY"] = "DTHDT - TRTSDT + 1"
    methods["LDDTHELD"] = "DTHDT - TRTEDT (days)"
    methods["LDDTHGR1"] = f"<= {window} when LDDTHELD <= {window}, > {window} when above"
    methods["DTH30FL"] = f"Y when LDDTHELD <= {window}"
    methods["DTHA30FL"] = f"Y when LDDTHELD > {window}"
    methods["DTHB30FL"] = f"Y when DTHDT <= TRTSDT + {window} days"


def _groupings(adsl: pd.DataFrame, settings: AdamSettings, methods: dict[str, str]) -> None:
    """Grouping variables and their numeric companions (position of the group)."""
    for g in settings.adsl.groupings:
        if g.source not in adsl.columns:
            raise InputDataError(f"grouping {g.variable}: ADSL has no {g.source} to group")
        # the groups of each distinct trimmed upper-case value, spread to the records
        # (in Python per distinct value: a few, where "string" accessors cost ≈0.2 ms each)
        codes, uniques = factorize_text(adsl[g.source].astype(TEXT))
        value = upper_values(uniques).tolist()
        given_u = np.array([len(v) > 0 for v in value], dtype=bool)
        conds = []
        for group in g.groups:
            wanted = set(group.values or ())
            hit = np.array([(v in wanted if group.values is not None else True)
                            or any(text in v for text in group.contains) for v in value],
                           dtype=bool)
            conds.append(hit & given_u)
        index = np.append(np.select(conds, list(range(1, len(conds) + 1)), default=0)
                          .astype(np.intp), 0)[codes]         # a missing value: no group
        given = pd.Series(np.append(given_u, False)[codes], index=adsl.index)
        labels = np.array([None] + [grp.label for grp in g.groups], dtype=object)
        text = pd.Series(labels[index], index=adsl.index, dtype=TEXT)
        if g.missing is not None:
            text = text.mask(~given.to_numpy(), g.missing)
        number = pd.Series(np.where(index > 0, index, np.nan), index=adsl.index)
        if g.only_dead:
            dead = adsl["DTHFL"].eq("Y").fillna(False).to_numpy()
            text, number = text.where(dead, pd.NA), number.where(dead)
        adsl[g.variable] = text.astype(TEXT)
        adsl[g.variable + "N"] = number.astype(FLOAT)
        methods[g.variable] = (f"{g.source} grouped: " + "; ".join(
            f"{grp.label} = " + (", ".join(grp.values) if grp.values else
                                 ("" if grp.contains else "other values"))
            + (f" or containing {', '.join(grp.contains)}" if grp.contains else "")
            for grp in g.groups) + (f"; missing: {g.missing}" if g.missing else "")
            + (" (dead subjects only)" if g.only_dead else ""))
        methods[g.variable + "N"] = f"Position of {g.variable} in its list (1, 2, …)"


def _source_columns(sdtm: dict[str, pd.DataFrame], source: DateSource,
                    projected: frozenset[str] = frozenset()) -> dict[str, pd.DataFrame]:
    """The source's dataset cut to the variables ``source_dates`` reads (subject, date, value,
    filters, --SEQ and lineage for findings): a large dataset such as LB, read for its dates
    only, is then not copied whole when its records are selected (nor read whole from a
    folder: :func:`dataset_columns`)."""
    if source.dataset not in sdtm:
        return sdtm             # source_dates says it is not given
    return {source.dataset: dataset_columns(sdtm, source.dataset, _source_variables(source),
                                            projected=projected)}


def _source_variables(source: DateSource) -> list[str]:
    """The variables of a source's dataset that :func:`source_dates` reads."""
    wanted = ["USUBJID", source.date, source.value, *source.where, *(source.where_not or {}),
              source.dataset[:2] + "SEQ", "_SRCFILE", "_SRCROW"]
    return [c for c in wanted if c]


# LSTALVDT of some sources computed by another process (:func:`last_alive_parts`): per source
# (its position in the settings' list), the latest date per ADSL record (datetime64 as int64,
# the int64 minimum where none) and the source's findings.
LastAliveParts = dict[int, tuple[np.ndarray, list[Finding]]]


def last_alive_sources_of(settings: AdamSettings, datasets: frozenset[str] | set[str]
                          ) -> list[int]:
    """Positions of the LSTALVDT sources read from ``datasets`` (e.g. those a forked child
    holds in memory: :func:`last_alive_parts`)."""
    return [at for at, source in enumerate(settings.adsl.last_alive_sources)
            if source.dataset != "ADSL" and source.dataset in datasets]


def last_alive_parts(adsl: pd.DataFrame, sdtm: dict[str, pd.DataFrame],
                     settings: AdamSettings, positions: list[int]) -> LastAliveParts:
    """The LSTALVDT contributions of the sources at ``positions`` (none of them an ADSL date)
    for the records of ``adsl``: what :func:`_last_alive` computes for them, for a process that
    has their datasets in memory already (``cdiscmap adam``'s forked child reads AE, EX and TR
    whole), so that the process deriving ADSL need not read their variables."""
    subjects = pd.Index(adsl["USUBJID"].to_numpy(dtype=object))
    needed = _last_alive_variables(settings)
    read: dict[str, pd.DataFrame] = {}
    parts: LastAliveParts = {}
    for at in positions:
        source = settings.adsl.last_alive_sources[at]
        found = Findings()
        latest = np.full(len(subjects), np.iinfo(np.int64).min, dtype=np.int64)
        _source_latest(latest, subjects, sdtm, source, needed, read, found, frozenset())
        parts[at] = (latest, found.items)
    return parts


def _last_alive_variables(settings: AdamSettings) -> dict[str, dict[str, None]]:
    """Each dataset's variables for all its LSTALVDT sources, read once (AE: start and end
    dates)."""
    needed: dict[str, dict[str, None]] = {}
    for source in settings.adsl.last_alive_sources:
        needed.setdefault(source.dataset, {}).update(dict.fromkeys(_source_variables(source)))
    return needed


def _source_latest(latest: np.ndarray, subjects: pd.Index, sdtm: dict[str, pd.DataFrame],
                   source: DateSource, needed: dict[str, dict[str, None]],
                   read: dict[str, pd.DataFrame], findings: Findings,
                   projected: frozenset[str]) -> None:
    """One SDTM source of LSTALVDT: its dates raised into ``latest`` (one running maximum per
    subject of ``subjects``), its findings into ``findings``."""
    if source.dataset not in sdtm:
        return
    if source.dataset not in read:
        read[source.dataset] = dataset_columns(sdtm, source.dataset,
                                               list(needed[source.dataset]),
                                               projected=projected)
    frame = read[source.dataset]
    if source.date not in frame.columns:
        return  # permissible variable absent (e.g. AEENDTC): nothing to add
    # the frame of all the dataset's sources as it is (not a copy cut to this source's
    # variables): source_records reads the source's variables of it and its findings name
    # USUBJID, the date and the provenance (_SRCFILE/_SRCROW or --SEQ), which both hold
    found = source_records({source.dataset: frame}, source, findings,
                           highest=source.imputation, how="first", purpose="LSTALVDT")
    if found is None:
        return
    records, imputed = found
    ids = records["USUBJID"]
    rows = index_positions(subjects, ids if type(ids.array) is pd.arrays.StringArray
                           else ids.astype(TEXT))   # a "string" column as it is: no copy
    dates = imputed.dates.to_numpy(dtype=DATES).view(np.int64)
    use = (rows >= 0) & imputed.dates.notna().to_numpy()
    np.maximum.at(latest, rows[use], dates[use])


def _last_alive(adsl: pd.DataFrame, sdtm: dict[str, pd.DataFrame], settings: AdamSettings,
                findings: Findings, methods: dict[str, str],
                projected: frozenset[str] = frozenset(),
                given: tuple[list[int], Callable[[], LastAliveParts | None]] | None = None
                ) -> None:
    """LSTALVDT: the latest date per subject over the sources, kept as one running maximum
    per ADSL record (datetime64 as int64: NaT is the smallest value) instead of a frame of
    every dated record grouped by USUBJID text. ``projected``: datasets that may be read for
    the sources' variables only even though a derivation reads them whole (another process
    derives that dataset: :func:`cdiscmap.adam.io.dataset_columns`).

    ``given``: the positions of sources another process computes (:func:`last_alive_parts`)
    and how to fetch them, asked for once the other sources are done; when it gives nothing
    usable, or a source here fails, every source is done here in order (the serial result
    and first error). A maximum does not depend on the order its dates come in, and the
    findings are put in the sources' order."""
    if given is not None and given[0]:
        try:
            _last_alive_split(adsl, sdtm, settings, findings, projected, *given)
        except Exception:
            given = None
    if given is None or not given[0]:
        subjects = pd.Index(adsl["USUBJID"].to_numpy(dtype=object))  # unique (one per subject)
        latest = np.full(len(adsl), np.iinfo(np.int64).min, dtype=np.int64)
        needed = _last_alive_variables(settings)
        read: dict[str, pd.DataFrame] = {}
        for source in settings.adsl.last_alive_sources:
            if source.dataset == "ADSL":     # an ADSL date (admiral: TRTEDT)
                _adsl_latest(latest, adsl, source, settings)
                continue
            _source_latest(latest, subjects, sdtm, source, needed, read, findings, projected)
        adsl["LSTALVDT"] = pd.Series(latest.view("datetime64[ns]"), index=adsl.index)
    imputed_text = {"none": "", "D": " (missing day imputed to the first)",
                    "M": " (missing day/month imputed to the first)"}
    methods["LSTALVDT"] = "Latest date of " + ", ".join(
        f"{s.dataset}.{s.date}" + imputed_text[s.imputation]
        + (f" where {where_text(s.where)}" if s.where else "")
        + (f" where {where_text(s.where_not, negate=True)}" if s.where_not else "")
        for s in settings.adsl.last_alive_sources) + "; partial dates otherwise not used"


def _last_alive_split(adsl: pd.DataFrame, sdtm: dict[str, pd.DataFrame],
                      settings: AdamSettings, findings: Findings, projected: frozenset[str],
                      elsewhere: list[int], fetch: Callable[[], LastAliveParts | None]) -> None:
    """:func:`_last_alive` with the sources at ``elsewhere`` computed by another process;
    raises (nothing changed) when a source here fails or ``fetch`` gives nothing usable."""
    subjects = pd.Index(adsl["USUBJID"].to_numpy(dtype=object))
    latest = np.full(len(adsl), np.iinfo(np.int64).min, dtype=np.int64)
    needed = _last_alive_variables(settings)
    read: dict[str, pd.DataFrame] = {}
    sources = settings.adsl.last_alive_sources
    found: list[list[Finding]] = [[] for _ in sources]
    for at, source in enumerate(sources):
        if at in elsewhere:
            continue
        here = Findings()
        if source.dataset == "ADSL":
            _adsl_latest(latest, adsl, source, settings)
        else:
            _source_latest(latest, subjects, sdtm, source, needed, read, here, projected)
        found[at] = here.items
    parts = fetch()
    if parts is None or sorted(parts) != sorted(elsewhere) or any(
            len(part) != len(latest) for part, _ in parts.values()):
        raise LookupError("no LSTALVDT parts from the other process")
    for at in elsewhere:
        part, items = parts[at]
        np.maximum(latest, part, out=latest)
        found[at] = items
    for items in found:
        findings.extend(items)
    adsl["LSTALVDT"] = pd.Series(latest.view("datetime64[ns]"), index=adsl.index)


def _adsl_latest(latest: np.ndarray, adsl: pd.DataFrame, source: DateSource,
                 settings: AdamSettings) -> None:
    """An ADSL date source of LSTALVDT (admiral: TRTEDT) raised into ``latest``."""
    if source.date not in adsl.columns:
        raise InputDataError(f"LSTALVDT source ADSL.{source.date}: no such ADSL date "
                             f"(known: {', '.join(settings.adsl_date_variables())})")
    dates = as_dates(adsl[source.date]).astype(DATES)
    given = adsl["USUBJID"].notna().to_numpy() & dates.notna().to_numpy()
    np.maximum(latest, np.where(given, dates.to_numpy().view(np.int64), latest), out=latest)


def _end_of_study(adsl: pd.DataFrame, sdtm: dict[str, pd.DataFrame], settings: AdamSettings,
                  findings: Findings, methods: dict[str, str]) -> None:
    cfg = settings.adsl
    source = cfg.eos
    status = pd.Series("ONGOING", index=adsl.index, dtype=TEXT)
    eosdt = pd.Series(pd.NaT, index=adsl.index, dtype=DATES)
    scrfdt = eosdt.copy()
    reason = pd.Series(pd.NA, index=adsl.index, dtype=TEXT)
    if source.dataset in sdtm:
        frame = require(sdtm, source.dataset, ["USUBJID", "DSDECOD"], "EOSSTT")
        records, skipped = select_records(frame, source.where, source.where_not)
        for name in skipped:
            findings.add(notice("CMAP-AD0004", f"{source.dataset} has no {name}: the condition on it "
                                "for end of study is not applied", source.dataset, name))
        dates = impute_dtc(records[source.date], cfg.date_imputation, "first").dates \
            if source.date in records.columns else \
            pd.Series(pd.NaT, index=records.index, dtype=DATES)
        decods = upper_text(records["DSDECOD"])
        # each subject's last record by date (undated ones first, ties: the last record):
        # datetime64 integers put NaT first
        subject = adsl_positions(adsl, records["USUBJID"])
        stamps = dates.to_numpy(dtype=DATES).view(np.int64)
        at = record_of(subject, [stamps], len(adsl), last=True)
        decod = taken_at(decods, at, adsl.index).astype(TEXT)
        done = decod.isin(cfg.eos_completed).fillna(False).astype(bool)
        failed = decod.isin(cfg.eos_screen_failure).fillna(False).astype(bool)
        status = status.mask(decod.notna() & done, "COMPLETED")
        status = status.mask(decod.notna() & ~done, "DISCONTINUED")
        status = status.mask(failed, pd.NA)
        reason = decod.where(decod.notna() & ~done & ~failed)
        eosdt = taken_at(dates, at, adsl.index).astype(DATES)
        eosdt = eosdt.where(~failed.to_numpy())
        screened = decods.isin(cfg.eos_screen_failure).fillna(False).to_numpy(dtype=bool)
        scrfdt = taken_at(dates, record_of(subject, [stamps], len(adsl), last=True,
                                              use=screened), adsl.index) \
            .astype(DATES)
    else:
        findings.add(notice("CMAP-AD0005", f"SDTM {source.dataset} not given: EOSSTT is ONGOING for "
                            "all", source.dataset))
    adsl["EOSSTT"], adsl["EOSDT"], adsl["DCSREAS"] = status, eosdt, reason
    adsl["SCRFDT"] = scrfdt
    where = where_text(source.where)
    failure = ", ".join(cfg.eos_screen_failure)
    methods["EOSSTT"] = (f"Last {source.dataset} record with {where}: COMPLETED when DSDECOD in "
                         f"{', '.join(cfg.eos_completed)}, "
                         + (f"blank when in {failure} (screen failure), " if failure else "")
                         + "else DISCONTINUED; none: ONGOING")
    methods["EOSDT"] = f"{source.date} of that record" + (" unless a screen failure"
                                                          if failure else "")
    methods["DCSREAS"] = "DSDECOD of that record when DISCONTINUED"
    methods["SCRFDT"] = (f"{source.date} of the last such record with DSDECOD in {failure}"
                         if failure else "not derived (no screen-failure terms set)")


def baseline_tumour_records(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame,
                            settings: AdamSettings, reference: str,
                            findings: Findings) -> pd.DataFrame:
    """TU records of the baseline assessment: USUBJID, TUSTRESC, SEQ (settings.adsl.baseline)."""
    cfg = settings.adsl.baseline
    empty = pd.DataFrame({"USUBJID": pd.Series(dtype=TEXT),
                          "TUSTRESC": pd.Series(dtype=TEXT),
                          "SEQ": pd.Series(dtype=FLOAT)})
    if cfg.dataset not in sdtm:
        findings.add(notice("CMAP-AD0005", f"SDTM {cfg.dataset} not given: no subject has a baseline "
                            "tumour assessment", cfg.dataset))
        return empty
    prefix = cfg.dataset[:2]
    frame = require(sdtm, cfg.dataset, ["USUBJID"], "baseline tumour assessment")
    evalvar = prefix + "EVAL"
    # masks over all records (no copy of the dataset per condition); the variables read
    # are taken for the baseline records only
    kept = np.ones(len(frame), dtype=bool)
    if cfg.evaluator and evalvar in frame.columns:   # a record without evaluator is kept
        codes, uniques = factorize_text(frame[evalvar])
        same = (pd.Series(uniques, dtype=TEXT).str.upper() == cfg.evaluator.upper()) \
            .fillna(True).to_numpy(dtype=bool)
        kept = np.where(codes >= 0, same[np.clip(codes, 0, None)] if len(same) else True,
                        True)
    is_base = np.zeros(len(frame), dtype=bool)
    if cfg.visits and "VISIT" in frame.columns:
        is_base |= upper_isin(frame["VISIT"], cfg.visits)
    if cfg.by_date and cfg.date in frame.columns:
        dt = complete_dates(frame[cfg.date]).dates
        anchor = adsl["TRTSDT"]
        if reference in adsl.columns:
            anchor = anchor.fillna(adsl[reference])
        limit = as_dates(taken_at(anchor, adsl_positions(adsl, frame["USUBJID"]),
                                   frame.index))
        is_base |= (dt <= limit).fillna(False).to_numpy(dtype=bool)
    rows = np.flatnonzero(kept & is_base)
    index = pd.RangeIndex(len(rows))

    def taken(name: str) -> pd.Series:
        return frame[name].iloc[rows].set_axis(index)

    seq = prefix + "SEQ"
    result = prefix + "STRESC"
    return pd.DataFrame({
        "USUBJID": taken("USUBJID").astype(TEXT),
        "TUSTRESC": upper_text(taken(result)) if result in frame.columns
        else pd.Series(pd.NA, index=index, dtype=TEXT),
        "SEQ": taken(seq).astype(FLOAT) if seq in frame.columns else np.nan,
    })


def derive_adsl(sdtm: dict[str, pd.DataFrame], settings: AdamSettings, findings: Findings,
                methods: dict[str, str], *, defer_last_alive: bool = False) -> AdslResult:
    """ADSL from DM (+ SUPPDM, EX, DS, DD, AE, RS, TR, TU as available).

    ``defer_last_alive``: everything but LSTALVDT, which :func:`complete_last_alive` adds
    later (in its place: column, findings, method): the other ADaM datasets need no LSTALVDT,
    so they can be derived elsewhere meanwhile. Ignored when a setting makes another ADSL
    variable depend on it (:func:`last_alive_needed`). An error after LSTALVDT's step is
    raised only once LSTALVDT's own error, which comes first, is ruled out."""
    defer_last_alive = defer_last_alive and not last_alive_needed(settings)
    adsl = _adsl_first(sdtm, settings, findings, methods)
    if not defer_last_alive:
        _last_alive(adsl, sdtm, settings, findings, methods)
        return _adsl_rest(adsl, sdtm, settings, findings, methods)
    pending = PendingLastAlive(column=len(adsl.columns), finding=len(findings.items),
                               method=len(methods), adsl=adsl.copy())
    try:
        result = _adsl_rest(adsl, sdtm, settings, findings, methods)
    except Exception:
        _last_alive(pending.adsl, sdtm, settings, Findings(), {})  # its error, serially first
        raise
    result.pending = pending
    return result


def last_alive_needed(settings: AdamSettings) -> bool:
    """Whether a setting names LSTALVDT for an ADSL derivation after it or for ADAE, ADEX,
    ADTR or ADQS (then it cannot wait: :func:`derive_adsl` ``defer_last_alive``)."""
    cfg = settings.adsl
    names = {cfg.ittfl_from, settings.adrs.analyses[0].reference_date,
             settings.adtr.reference_date, settings.adqs.reference_date,
             *settings.adae.end_not_after, *(g.source for g in cfg.groupings),
             *(n for item in cfg.numbered for n in (item.variable, item.by))}
    return "LSTALVDT" in names


def complete_last_alive(result: AdslResult, sdtm: dict[str, pd.DataFrame],
                        settings: AdamSettings, findings: list[Finding],
                        methods: dict[str, str], projected: frozenset[str] = frozenset(),
                        given: tuple[list[int], Callable[[], LastAliveParts | None]] | None
                        = None) -> None:
    """Add the LSTALVDT that ``derive_adsl(defer_last_alive=True)`` left out, where a serial
    derivation puts it: the column into ``result.adsl``, its findings into ``findings`` (ADSL's,
    in order) and its method into ``methods``; ``projected`` and ``given`` as for
    :func:`_last_alive`."""
    pending = result.pending
    if pending is None:
        return
    found, method = Findings(), {}
    _last_alive(pending.adsl, sdtm, settings, found, method, projected, given)
    result.adsl.insert(pending.column, "LSTALVDT", pending.adsl["LSTALVDT"])
    findings[pending.finding:pending.finding] = found.items
    items = list(methods.items())
    items[pending.method:pending.method] = method.items()
    methods.clear()
    methods.update(items)
    result.pending = None


def _adsl_first(sdtm: dict[str, pd.DataFrame], settings: AdamSettings, findings: Findings,
                methods: dict[str, str]) -> pd.DataFrame:
    """ADSL up to LSTALVDT (DM, groups, cohorts, dates, treatment, death)."""
    cfg = settings.adsl
    adsl = _dm_frame(sdtm, findings)
    dm, rows = _dm_records(sdtm, adsl)       # DM variables by each ADSL record's position
    _age_groups(adsl, settings, methods)
    for target, source_var in (("TRT01P", cfg.trt01p_from), ("TRT01A", cfg.trt01a_from)):
        adsl[target] = taken_at(dm[source_var], rows, adsl.index).astype(TEXT) \
            if source_var in dm.columns else pd.Series(pd.NA, index=adsl.index, dtype=TEXT)
        methods[target] = f"DM.{source_var}"
    _cohorts(adsl, sdtm, settings, findings, methods)
    if "RFICDTC" in dm.columns:
        adsl["RFICDT"] = as_dates(taken_at(complete_dates(dm["RFICDTC"]).dates, rows,
                                            adsl.index)).astype(DATES)
        methods["RFICDT"] = "DM.RFICDTC (complete dates)"

    for spec in cfg.dates:
        recs = source_dates(_source_columns(sdtm, spec.source), spec.source, findings,
                            highest=cfg.date_imputation,
                            how="first", purpose=spec.variable)
        picked = _per_subject(recs, spec.pick)
        adsl[spec.variable] = _merge_value(adsl, picked, "DT", spec.variable)
        where = where_text(spec.source.where)
        methods[spec.variable] = (f"{spec.pick.capitalize()} {spec.source.dataset}."
                                  f"{spec.source.date} where {where}")

    dosing = _dosing_records(sdtm, settings, findings)
    _treatment_dates(adsl, dosing, methods, settings)
    for rule in cfg.ex_dates:
        _ex_rule_dates(adsl, dosing, rule, dm, methods)
    _death(adsl, sdtm, settings, findings, methods)
    _death_timing(adsl, settings, methods)
    return adsl


def _adsl_rest(adsl: pd.DataFrame, sdtm: dict[str, pd.DataFrame], settings: AdamSettings,
               findings: Findings, methods: dict[str, str]) -> AdslResult:
    """ADSL after LSTALVDT: end of study, FRVDT, groupings, flags, baseline tumours."""
    cfg = settings.adsl
    _end_of_study(adsl, sdtm, settings, findings, methods)
    if cfg.frvdt is not None:
        recs = source_dates(_source_columns(sdtm, cfg.frvdt), cfg.frvdt, findings,
                            highest=cfg.date_imputation,
                            how="first", purpose="FRVDT")
        adsl["FRVDT"] = _merge_value(adsl, _per_subject(recs, "first"), "DT", "FRVDT")
        methods["FRVDT"] = (f"First {cfg.frvdt.dataset}.{cfg.frvdt.date} where "
                            f"{where_text(cfg.frvdt.where)}")
    _groupings(adsl, settings, methods)
    _numbered(adsl, settings, methods)

    yes = pd.Series("Y", index=adsl.index, dtype=TEXT)
    if cfg.ittfl_from:
        if cfg.ittfl_from not in adsl.columns:
            raise InputDataError(f"ITTFL needs ADSL.{cfg.ittfl_from}, which no setting derives")
        adsl["ITTFL"] = yes.where(adsl[cfg.ittfl_from].notna(), "N")
        methods["ITTFL"] = f"Y when {cfg.ittfl_from} is present, else N"
    adsl["SAFFL"] = yes.where(adsl["TRTSDT"].notna(), "N")
    methods["SAFFL"] = "Y when the subject took at least one dose (TRTSDT present), else N"

    reference = settings.adrs.analyses[0].reference_date
    baseline = baseline_tumour_records(sdtm, adsl, settings, reference, findings)
    rule = cfg.efffl
    ok = pd.Series(True, index=adsl.index)
    text = []
    if rule.require_dose:
        ok &= adsl["TRTSDT"].notna()
        text.append("at least one dose")
    if rule.require_baseline_assessment:
        ok &= adsl["USUBJID"].isin(baseline["USUBJID"])
        text.append(f"a baseline tumour assessment ({cfg.baseline.dataset} at VISIT "
                    f"{'/'.join(cfg.baseline.visits)}"
                    + (" or dated on/before first dose" if cfg.baseline.by_date else "") + ")")
    if rule.require_post_baseline_assessment:
        text.append("an analysed post-baseline overall response")
    adsl["EFFFL"] = yes.where(ok, "N")
    methods["EFFFL"] = "Y when " + (" and ".join(text) if text else "always")
    return AdslResult(adsl=adsl, baseline_tumours=baseline)


def apply_post_baseline_rule(adsl: pd.DataFrame, assessed: pd.Series,
                             settings: AdamSettings) -> pd.DataFrame:
    """EFFFL = N for subjects without an analysed post-baseline response, when required."""
    if not settings.adsl.efffl.require_post_baseline_assessment:
        return adsl
    has = adsl["USUBJID"].isin(assessed)
    adsl = adsl.copy()
    adsl["EFFFL"] = adsl["EFFFL"].where(has, "N").astype(TEXT)
    return adsl
