"""ADEX: exposure parameters per dosed subject and per EX record (BDS), from SDTM EX (+ VS for BSA) and ADSL.

Parameters (one record each per subject with TRTSDT; settings in ``adam/adex.yaml``):

- TRTDURD  treatment duration in days = ADSL.TRTDURD (TRTEDT − TRTSDT + 1), so ADEX and ADSL
  agree;
- CUMDOSE  cumulative dose in mg = Σ over EX records of dose × administrations per day × days
  (admiral ad_adex.R: DOSEO = EXDOSE × EXDURD, TDOSE = Σ DOSEO), a record's days being
  EXENDTC − EXSTDTC + 1 (partial dates imputed as ADSL's exposure settings say);
- DOSEINT  dose intensity in mg/day = CUMDOSE / TRTDURD (admiral AVDDSE);
- RDI      relative dose intensity in % = actual / planned cumulative dose × 100, planned =
  the arm's planned daily dose × TRTDURD (admiral TDOSINT = TDOSE / TPDOSE × 100; here the
  planned dose runs over the whole treatment period, so interruptions lower the RDI).

Besides these per-subject summaries (PARCAT1 OVERALL), ``record_parameters`` gives one record
per EX record (PARCAT1 INDIVIDUAL, admiral ad_adex.R part 2): by default DURD (the record's
days), DOSE (its dose in mg), ADJ and ADJAE (AVALC Y when EXADJ gives a reason / is ADVERSE
EVENT), with the record's own ASTDT/AENDT and SRCDOM EX, SRCSEQ EXSEQ.

Body-surface-area dosing (EXDOSU in ``bsa_units``, e.g. mg/m2): the mg dose of a record is
EXDOSE × BSA, BSA being VS ``bsa_testcd`` or √(height cm × weight kg / 3600) (Mosteller,
N Engl J Med 1987;317:1098) from VS HEIGHT/WEIGHT, the latest on or before the record's start
(else the first). Such subjects also get CUMDOSBS (mg/m2) and DOSINTBS (mg/m2/day), which need
no BSA, and an RDI planned in mg/m2 is computed from them, so the RDI stays available when
BSA is not. Without a BSA, CUMDOSE/DOSEINT are left blank with a finding (CMAP-AD0032).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.adam.dates import impute_dtc
from cdiscmap.adam.dtypes import DATES, FLOAT, TEXT
from cdiscmap.adam.io import (
    adsl_positions,
    as_dates,
    dataset_columns,
    lookup,
    notice,
    report_bad_dates,
    report_rows,
    require,
    text_numbers,
    upper_text,
)
from cdiscmap.adam.order import numbered, stable_order, taken_at
from cdiscmap.adam.settings import AdamSettings, AdexSettings
from cdiscmap.findings import Findings, Severity

PARAMS = {  # PARAMCD → (PARAM, PARAMN)
    "TRTDURD": ("Treatment Duration (days)", 1),
    "CUMDOSE": ("Cumulative Dose (mg)", 2),
    "CUMDOSBS": ("Cumulative Dose (mg/m2)", 3),
    "DOSEINT": ("Dose Intensity (mg/day)", 4),
    "DOSINTBS": ("Dose Intensity (mg/m2/day)", 5),
    "RDI": ("Relative Dose Intensity (%)", 6),
}


def mosteller_bsa(height_cm: pd.Series, weight_kg: pd.Series) -> pd.Series:
    """Body surface area in m² (Mosteller 1987: √(height cm × weight kg / 3600))."""
    return np.sqrt(height_cm.astype(FLOAT) * weight_kg.astype(FLOAT) / 3600.0)


def _vs_values(vs: pd.DataFrame, testcd: str) -> pd.DataFrame:
    """USUBJID, DT, VALUE of one VSTESTCD (numeric result, complete or day-imputed date)."""
    recs = vs.loc[upper_text(vs["VSTESTCD"]).eq(testcd.upper()).fillna(False).to_numpy()]
    value = pd.to_numeric(recs["VSSTRESN"], errors="coerce") if "VSSTRESN" in recs.columns \
        else pd.Series(np.nan, index=recs.index)
    dt = impute_dtc(recs["VSDTC"], "D", "first").dates if "VSDTC" in recs.columns \
        else pd.Series(pd.NaT, index=recs.index, dtype=DATES)
    out = pd.DataFrame({"USUBJID": recs["USUBJID"].astype(TEXT), "DT": dt,
                        "VALUE": value.astype(FLOAT)})
    return out.loc[out["VALUE"].notna() & (out["VALUE"] > 0)]


def _as_of(records: pd.DataFrame, values: pd.DataFrame) -> pd.Series:
    """Per record (USUBJID, START), the latest value dated on or before START, else the
    subject's first value (baseline BSA for a dose given before any measurement)."""
    if values.empty or records.empty:
        return pd.Series(np.nan, index=records.index)
    left = records[["USUBJID", "START"]].assign(_POS=np.arange(len(records)))
    left = left.loc[left["START"].notna()].sort_values("START", kind="mergesort")
    right = values.loc[values["DT"].notna()].sort_values("DT", kind="mergesort")
    got = pd.Series(np.nan, index=range(len(records)))
    if not left.empty and not right.empty:
        merged = pd.merge_asof(left, right.rename(columns={"DT": "START"}), on="START",
                               by="USUBJID", direction="backward")
        got.loc[merged["_POS"].to_numpy()] = merged["VALUE"].to_numpy()
    first = values.sort_values(["USUBJID", "DT"], kind="mergesort", na_position="last") \
        .drop_duplicates("USUBJID").set_index("USUBJID")["VALUE"]
    fallback = lookup(records["USUBJID"], first).astype(FLOAT).to_numpy()
    return pd.Series(np.where(np.isnan(got.to_numpy()), fallback, got.to_numpy()),
                     index=records.index)


def _bsa(sdtm: dict[str, pd.DataFrame], records: pd.DataFrame, testcd: str,
         findings: Findings) -> tuple[pd.Series, str]:
    """BSA (m²) per EX record and how it was found (for the method text)."""
    none = pd.Series(np.nan, index=records.index)
    if "VS" not in sdtm:
        findings.add(notice("CMAP-AD0005", "SDTM VS not given: no body surface area, so doses in "
                            "mg/m2 cannot be turned into mg", "VS"))
        return none, "no VS"
    # only the variables read here (from an unread file: decoded alone, a third of VS)
    vs = dataset_columns(sdtm, "VS", ["USUBJID", "VSTESTCD", "VSSTRESN", "VSDTC"])
    require({"VS": vs}, "VS", ["USUBJID", "VSTESTCD"], "body surface area")
    direct = _as_of(records, _vs_values(vs, testcd))
    height = _as_of(records, _vs_values(vs, "HEIGHT"))
    weight = _as_of(records, _vs_values(vs, "WEIGHT"))
    derived = mosteller_bsa(height, weight)
    return direct.fillna(derived), (f"VS {testcd}, else Mosteller from VS HEIGHT (cm) and "
                                    "WEIGHT (kg)")


def _records(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, settings: AdamSettings,
             findings: Findings) -> pd.DataFrame:
    """EX records with START, END, DAYS, PER_DAY, dose in mg and in mg/m2 (NaN when unknown)."""
    cfg, exp = settings.adex, settings.adsl.exposure
    ex = require(sdtm, "EX", ["USUBJID", "EXSTDTC", "EXDOSE"], "ADEX")
    ex = ex.loc[ex["USUBJID"].isin(adsl["USUBJID"])]
    start = impute_dtc(ex["EXSTDTC"], exp.start_imputation, "first")
    report_bad_dates(findings, ex, start.invalid, "EX", "EXSTDTC")
    if "EXENDTC" in ex.columns:
        end = impute_dtc(ex["EXENDTC"], exp.end_imputation, "last")
        report_bad_dates(findings, ex, end.invalid, "EX", "EXENDTC")
        end_dates, open_end = end.dates, ex["EXENDTC"].isna()
    else:
        end_dates = pd.Series(pd.NaT, index=ex.index, dtype=DATES)
        open_end = pd.Series(True, index=ex.index)
    trtedt = as_dates(taken_at(adsl["TRTEDT"], adsl_positions(adsl, ex["USUBJID"]),  # by position
                               ex.index))
    fill = trtedt.where(trtedt >= start.dates, start.dates) if cfg.open_record_end == "trtedt" \
        else start.dates
    end_dates = end_dates.where(~open_end.to_numpy(), fill)
    days = ((end_dates - start.dates).dt.days + 1).astype(FLOAT)
    backwards = days < 1
    if backwards.any():
        report_rows(findings, ex.loc[backwards.to_numpy()], "EX", rule="CMAP-AD0031",
                    severity=Severity.WARNING, message="EXENDTC is before EXSTDTC; the record "
                    "counts no dose in ADEX", variable="EXENDTC", value_col="EXENDTC")
        days = days.where(~backwards)
    freq = upper_text(ex["EXDOSFRQ"]) if "EXDOSFRQ" in ex.columns \
        else pd.Series(pd.NA, index=ex.index, dtype=TEXT)
    per_day = text_numbers(freq, cfg.doses_per_day)
    once = freq.eq("ONCE").fillna(False).to_numpy()
    unknown = per_day.isna().to_numpy() & ~once
    if unknown.any():
        report_rows(findings, ex.loc[unknown].assign(_F=freq[unknown]), "EX", rule="CMAP-AD0031",
                    severity=Severity.WARNING, message="EXDOSFRQ is not in the ADEX "
                    "doses_per_day setting (nor ONCE); the record counts no dose",
                    variable="EXDOSFRQ", value_col="_F")
    dose = pd.to_numeric(ex["EXDOSE"], errors="coerce").astype(FLOAT)
    amount = np.where(once, dose, dose * per_day * days)
    unit = upper_text(ex["EXDOSU"]) if "EXDOSU" in ex.columns \
        else pd.Series("MG", index=ex.index, dtype=TEXT)
    per_bsa = unit.isin(cfg.bsa_units).fillna(False).to_numpy()
    in_mg = unit.eq("MG").fillna(False).to_numpy()
    other = ~per_bsa & ~in_mg & dose.notna().to_numpy()
    if other.any():
        report_rows(findings, ex.loc[other].assign(_U=unit[other]), "EX", rule="CMAP-AD0031",
                    severity=Severity.WARNING, message="EXDOSU is neither mg nor a BSA unit of "
                    "the ADEX settings; the record counts no dose", variable="EXDOSU",
                    value_col="_U")
    out = pd.DataFrame({"USUBJID": ex["USUBJID"].astype(TEXT), "START": start.dates,
                        "END": end_dates.astype(DATES), "DAYS": days,
                        "EXDOSE": dose, "AMOUNT": amount, "BSA_UNIT": per_bsa, "MG_UNIT": in_mg},
                       index=ex.index)
    out["EXSEQ"] = pd.to_numeric(ex["EXSEQ"], errors="coerce").astype(FLOAT) \
        if "EXSEQ" in ex.columns else np.nan
    out["EXADJ"] = upper_text(ex["EXADJ"]) if "EXADJ" in ex.columns \
        else pd.Series(pd.NA, index=ex.index, dtype=TEXT)
    out.attrs["bsa_method"] = ""
    if per_bsa.any():
        bsa, how = _bsa(sdtm, out, cfg.bsa_testcd, findings)
        out["BSA"] = bsa
        out.attrs["bsa_method"] = how
        missing = per_bsa & bsa.isna().to_numpy()
        if missing.any():
            report_rows(findings, ex.loc[missing], "EX", rule="CMAP-AD0032",
                        severity=Severity.WARNING,
                        message="dose in mg/m2 without a body surface area (VS BSA, or HEIGHT "
                                "and WEIGHT): CUMDOSE and DOSEINT (mg) are left blank for the "
                                "subject", variable="EXDOSU", value_col="EXDOSU")
    else:
        out["BSA"] = np.nan
    out["MG"] = np.where(in_mg, amount, np.where(per_bsa, amount * out["BSA"], np.nan))
    out["PER_M2"] = np.where(per_bsa, amount, np.nan)
    return out


def _sum_all(values: pd.Series, keys: pd.Series) -> pd.Series:
    """Per-subject sum that is NaN when any contributing value is NaN (no silent undercount)."""
    frame = pd.DataFrame({"k": keys.to_numpy(), "v": values.to_numpy()})
    total = frame.groupby("k")["v"].sum(min_count=1)
    gaps = frame["v"].isna().groupby(frame["k"]).any()
    return total.where(~gaps)


def derive_adex(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, settings: AdamSettings,
                findings: Findings, methods: dict[str, str]) -> pd.DataFrame | None:
    """ADEX from SDTM EX (+ VS) and ADSL; None (with a notice) when the SDTM has no EX."""
    cfg = settings.adex
    if "EX" not in sdtm:
        findings.add(notice("CMAP-AD0005", "SDTM EX not given: no ADEX", "EX"))
        return None
    recs = _records(sdtm, adsl, settings, findings)
    dosed = adsl.loc[adsl["TRTSDT"].notna()].reset_index(drop=True)
    subj = dosed["USUBJID"]
    duration = dosed["TRTDURD"].astype(FLOAT)
    cum_mg = lookup(subj, _sum_all(recs["MG"], recs["USUBJID"])).astype(FLOAT)
    bsa_subjects = recs.loc[recs["BSA_UNIT"], "USUBJID"].unique()
    uses_bsa = subj.isin(bsa_subjects)
    only_bsa = recs.groupby("USUBJID")["BSA_UNIT"].all()
    cum_bsa = lookup(subj, _sum_all(recs["PER_M2"], recs["USUBJID"])).astype(FLOAT)
    cum_bsa = cum_bsa.where(lookup(subj, only_bsa).fillna(False).astype(bool).to_numpy())
    values = {
        "TRTDURD": duration,
        "CUMDOSE": cum_mg,
        "CUMDOSBS": cum_bsa,
        "DOSEINT": cum_mg / duration,
        "DOSINTBS": cum_bsa / duration,
    }
    # planned daily dose per subject, by DM.ARMCD
    armcd = upper_text(dosed["ARMCD"]) if "ARMCD" in dosed.columns \
        else pd.Series(pd.NA, index=dosed.index, dtype=TEXT)
    planned_daily = pd.Series(np.nan, index=dosed.index)
    planned_bsa = pd.Series(False, index=dosed.index)
    for entry in sorted(cfg.planned, key=lambda p: not p.armcd):   # specific arms first
        hit = (armcd.isin(entry.armcd).fillna(False) if entry.armcd
               else pd.Series(True, index=dosed.index)) & planned_daily.isna()
        planned_daily = planned_daily.mask(
            hit, entry.dose * cfg.doses_per_day[entry.frequency.strip().upper()])
        planned_bsa = planned_bsa.mask(hit, entry.unit.strip().upper() in cfg.bsa_units)
    actual = cum_bsa.where(planned_bsa, cum_mg)
    values["RDI"] = actual / (planned_daily * duration) * 100.0

    parts = [_record_parameters(recs, cfg, methods)] if cfg.record_parameters else []
    for code, (param, number) in PARAMS.items():
        if code in ("CUMDOSBS", "DOSINTBS") and not uses_bsa.any():
            continue
        if code == "RDI" and not cfg.planned:
            continue
        keep = uses_bsa if code in ("CUMDOSBS", "DOSINTBS") else pd.Series(True,
                                                                           index=dosed.index)
        part = pd.DataFrame({"USUBJID": subj, "PARAMCD": code, "PARAM": param,
                             "PARAMN": float(number), "AVAL": values[code].astype(FLOAT),
                             "PARCAT1": "OVERALL", "_G": 0})
        parts.append(part.loc[keep.to_numpy()])
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _frame(pd.DataFrame(columns=["USUBJID", "PARAMCD", "PARAM", "PARAMN", "AVAL",
                                            "PARCAT1", "_G"]), adsl)
    adex = _frame(pd.concat(parts, ignore_index=True), adsl)

    bsa_text = recs.attrs.get("bsa_method") or "VS BSA / HEIGHT, WEIGHT"
    methods["PARAMCD=TRTDURD"] = "ADSL.TRTDURD (TRTEDT - TRTSDT + 1)"
    methods["PARAMCD=CUMDOSE"] = (
        "Sum over EX records of EXDOSE x administrations per day (EXDOSFRQ: "
        + ", ".join(f"{k} {v:g}" for k, v in cfg.doses_per_day.items())
        + ", ONCE counted once) x (EXENDTC - EXSTDTC + 1); an EX record without EXENDTC "
        + ("ends at TRTEDT" if cfg.open_record_end == "trtedt" else "counts one day")
        + f"; doses in {', '.join(cfg.bsa_units)} x BSA ({bsa_text})")
    methods["PARAMCD=CUMDOSBS"] = "As CUMDOSE, for doses given in mg/m2, without BSA"
    methods["PARAMCD=DOSEINT"] = "CUMDOSE / TRTDURD"
    methods["PARAMCD=DOSINTBS"] = "CUMDOSBS / TRTDURD"
    methods["PARAMCD=RDI"] = (
        "Cumulative dose / (planned dose x administrations per day x TRTDURD) x 100, planned "
        "by ARMCD: " + "; ".join(f"{'/'.join(p.armcd) or 'other arms'} {p.dose:g} {p.unit} "
                                 f"{p.frequency}" for p in cfg.planned)
        + " (mg/m2 plans compare CUMDOSBS)")
    individual = cfg.record_parameters
    methods["ASTDT"] = "ADSL.TRTSDT" + ("; INDIVIDUAL records: the EX record's EXSTDTC"
                                         if individual else "")
    methods["AENDT"] = "ADSL.TRTEDT" + ("; INDIVIDUAL records: the EX record's EXENDTC (an "
                                         "open record as in CUMDOSE)" if individual else "")
    methods["ASEQ"] = "1..n within USUBJID: summary parameters by PARAMN" + (
        ", then EX-record parameters by ASTDT, EXSEQ, PARAMN" if individual else "")
    methods["PARAMN"] = "Order of the parameter: " + ", ".join(
        [*PARAMS, *(p.paramcd for p in individual)])
    methods["PARCAT1"] = "OVERALL for per-subject summaries" + (
        ", INDIVIDUAL for one record per EX record" if individual else "")
    if individual:
        methods["SRCDOM"] = "EX for INDIVIDUAL records"
        methods["SRCVAR"] = "EXDOSE / EXADJ when AVAL/AVALC is that variable as collected"
        methods["SRCSEQ"] = "EXSEQ of the EX record (INDIVIDUAL records)"
    return adex


def _record_parameters(recs: pd.DataFrame, cfg: AdexSettings,
                       methods: dict[str, str]) -> pd.DataFrame:
    """One record per EX record and record parameter (admiral ad_adex.R part 2)."""
    parts = []
    texts = {"days": "EXENDTC - EXSTDTC + 1 of the EX record (an open record as in CUMDOSE)",
             "dose": "Dose of the EX record in mg, as summed in CUMDOSE",
             "exdose": "EXDOSE of the EX record as collected (per administration, EXDOSU)"}
    for number, item in enumerate(cfg.record_parameters, start=len(PARAMS) + 1):
        avalc = pd.Series(pd.NA, index=recs.index, dtype=TEXT)
        aval = pd.Series(np.nan, index=recs.index, dtype=FLOAT)
        srcvar = None
        if item.value == "days":
            aval = recs["DAYS"]
        elif item.value == "dose":
            aval = recs["MG"]
        elif item.value == "exdose":
            aval, srcvar = recs["EXDOSE"], "EXDOSE"
        else:
            hit = recs["EXADJ"].notna() & (recs["EXADJ"].str.len() > 0)
            if item.reasons:
                hit &= recs["EXADJ"].isin(item.reasons)
            avalc = avalc.mask(hit.fillna(False).astype(bool), "Y")
            srcvar = "EXADJ"
            texts_adj = ", ".join(item.reasons) if item.reasons else "any reason"
            methods[f"PARAMCD={item.paramcd}"] = f"Y when EX.EXADJ is {texts_adj}, else blank"
        if item.value != "adjusted":
            methods[f"PARAMCD={item.paramcd}"] = texts[item.value]
        parts.append(pd.DataFrame({
            "USUBJID": recs["USUBJID"], "PARAMCD": item.paramcd, "PARAM": item.param,
            "PARAMN": float(number), "AVAL": aval.astype(FLOAT), "AVALC": avalc,
            "PARCAT1": "INDIVIDUAL", "_G": 1, "ASTDT": recs["START"], "AENDT": recs["END"],
            "SRCDOM": "EX", "SRCVAR": srcvar, "SRCSEQ": recs["EXSEQ"]}))
    return pd.concat(parts, ignore_index=True)


def _frame(params: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """Identifiers and ADSL variables around the parameter records; ASEQ by PARAMN.

    The record order is found on arrays first; then every column is taken once, in that
    order, from the parameters or from ADSL (by each record's ADSL position): no sorted
    copy of the parameter frame, no ADSL indexed by USUBJID."""
    ids = params["USUBJID"]
    # each record's ADSL record (ADSL has one per subject; -1: none)
    where = adsl_positions(adsl, ids)
    index = params.index

    def from_adsl(name: str, rows: np.ndarray, on: pd.Index) -> pd.Series:
        return taken_at(adsl[name], rows, on) if name in adsl.columns else \
            pd.Series(pd.NA, index=on, dtype=TEXT)

    record = params["_G"].eq(1).to_numpy() if "_G" in params.columns \
        else np.zeros(len(params), dtype=bool)
    astdt = as_dates(params["ASTDT"]).astype(DATES) if "ASTDT" in params \
        else pd.Series(pd.NaT, index=index, dtype=DATES)
    aendt = as_dates(params["AENDT"]).astype(DATES) if "AENDT" in params \
        else pd.Series(pd.NaT, index=index, dtype=DATES)
    trtsdt = as_dates(from_adsl("TRTSDT", where, index)).astype(DATES)
    trtedt = as_dates(from_adsl("TRTEDT", where, index)).astype(DATES)
    astdt, aendt = astdt.where(record, trtsdt), aendt.where(record, trtedt)
    group = params["_G"] if "_G" in params.columns else pd.Series(0, index=index)
    srcseq = params["SRCSEQ"] if "SRCSEQ" in params.columns else \
        pd.Series(np.nan, index=index, dtype=FLOAT)
    # summaries by PARAMN, then the EX-record parameters by date, EXSEQ, PARAMN (admiral ASEQ)
    if len(params) and group.dtype.kind in "iu" and not ids.isna().any():
        # one stable sort of the keys' ranks (subjects as codes in text order; NaN/NaT last,
        # ties in record order, as the frame sort) and ASEQ from runs of the sorted codes:
        # no sort of the frame and no groupby
        subject, _ = pd.factorize(ids.to_numpy(dtype=object), sort=True)
        order = stable_order([params["PARAMN"].to_numpy(dtype=FLOAT),
                              srcseq.to_numpy(dtype=FLOAT),
                              astdt.to_numpy(dtype=DATES), group.to_numpy(),
                              subject])
        aseq = numbered(subject[order])
    else:
        keys = pd.DataFrame({"USUBJID": ids, "_G": group, "ASTDT": astdt, "SRCSEQ": srcseq,
                             "PARAMN": params["PARAMN"]}, index=pd.RangeIndex(len(params)))
        ordered = keys.sort_values(["USUBJID", "_G", "ASTDT", "SRCSEQ", "PARAMN"],
                                   kind="mergesort", na_position="last")
        order = ordered.index.to_numpy()
        aseq = (ordered.groupby("USUBJID").cumcount() + 1).astype(FLOAT).to_numpy()
    final = pd.RangeIndex(len(order))
    rows = where[order]

    def ordered_column(values: pd.Series) -> pd.Series:
        return taken_at(values, order, final)

    out = {"STUDYID": from_adsl("STUDYID", rows, final).astype(TEXT),
           "USUBJID": ordered_column(ids).astype(TEXT)}
    for name in ("SUBJID", "SITEID"):
        out[name] = from_adsl(name, rows, final).astype(TEXT)
    out["ASEQ"] = pd.Series(aseq, index=final)
    for name in ("TRT01P", "TRT01A", "COHORT", "PATHOL", "GENALT"):
        if name in adsl.columns:
            out[name] = from_adsl(name, rows, final).astype(TEXT)
    out["PARAMCD"] = ordered_column(params["PARAMCD"]).astype(TEXT)
    out["PARAM"] = ordered_column(params["PARAM"]).astype(TEXT)
    out["PARAMN"] = ordered_column(params["PARAMN"]).astype(FLOAT)
    out["AVAL"] = ordered_column(params["AVAL"]).astype(FLOAT)
    out["PARCAT1"] = ordered_column(params["PARCAT1"]).astype(TEXT) \
        if "PARCAT1" in params.columns else pd.Series(pd.NA, index=final, dtype=TEXT)
    if "AVALC" in params.columns:
        out["AVALC"] = ordered_column(params["AVALC"]).astype(TEXT)
    out["ASTDT"] = ordered_column(astdt).astype(DATES)
    out["AENDT"] = ordered_column(aendt).astype(DATES)
    if "SRCDOM" in params.columns:
        out["SRCDOM"] = ordered_column(params["SRCDOM"]).astype(TEXT)
        out["SRCVAR"] = ordered_column(params["SRCVAR"]).astype(TEXT)
        out["SRCSEQ"] = ordered_column(srcseq).astype(FLOAT)
    return pd.DataFrame(out, index=final, copy=False)
