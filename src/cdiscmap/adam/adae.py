"""ADAE: one record per SDTM AE record (ADaM OCCDS 1.1, adverse events), with ADSL variables.

Conventions follow admiral's ``ad_adae.R`` template (settings in ``adam/adae.yaml``):

- ASTDT/AENDT from AESTDTC/AEENDTC, partial dates imputed up to ``*_highest_imputation``
  (start: first day; end: last day), ASTDTF/AENDTF = D or M (ADaMIG 1.3 §3.1.3). An imputed start
  is not put before TRTSDT when the partial date contains TRTSDT (admiral ``min_dates``); an
  imputed end is not put after the earliest of ``end_not_after`` (DTHDT, EOSDT) when the partial
  date contains it (admiral ``max_dates``). Complete dates are never moved.
- ASTDY/AENDY: day relative to TRTSDT, no day 0 (ADaMIG 1.3 §3.1.4 *DY).
- TRTEMFL (admiral ``derive_var_trtemfl``): Y when TRTSDT <= ASTDT <= TRTEDT + window; an AE
  without ASTDT is Y unless AENDT is before TRTSDT; blank otherwise and for undosed subjects.
- ATOXGR/ATOXGRN from AETOXGR (CTCAE version in the settings); AREL = AEREL, RELGR1 = RELATED /
  NOT RELATED by the settings' related terms.
- First-occurrence flags over treatment-emergent AEs, ordered by ASTDT then AESEQ (OCCDS 1.1
  AOCCxxFL): AOCCFL per subject, AOCCSFL per subject and AEBODSYS, AOCCPFL per subject, AEBODSYS
  and AEDECOD. The worst-grade variants AOCCIFL / AOCCSIFL / AOCCPIFL flag the first record of
  the highest ATOXGRN in the same groups (admiral ``derive_var_extreme_flag`` with order
  desc(grade), ASTDT, AESEQ, restricted to TRTEMFL = Y), so "grade >= 3 by SOC/PT" tables count
  each subject once, at its worst grade.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.adam.dates import impute_dtc
from cdiscmap.adam.io import (
    lookup,
    notice,
    report_bad_dates,
    report_rows,
    require,
    upper_text,
)
from cdiscmap.adam.settings import AdamSettings
from cdiscmap.findings import Findings, Severity

# AEACN (DRUG WITHDRAWN: AEs leading to discontinuation), AEOUT and AESDTH serve the safety tables.
AE_COPIED = ["AESEQ", "AETERM", "AEDECOD", "AEBODSYS", "AESOC", "AESER", "AEACN", "AEREL",
             "AEOUT", "AESDTH", "AETOXGR", "AESTDTC", "AEENDTC"]
ADSL_COPIED = ["SUBJID", "SITEID", "TRT01P", "TRT01A", "TRTSDT", "TRTEDT", "SAFFL"]
_FLAG_GROUPS = {  # flag → grouping beyond USUBJID (OCCDS 1.1 AOCCxxFL)
    "AOCCFL": [], "AOCCSFL": ["AEBODSYS"], "AOCCPFL": ["AEBODSYS", "AEDECOD"],
}
_WORST_GROUPS = {"AOCCIFL": [], "AOCCSIFL": ["AEBODSYS"], "AOCCPIFL": ["AEBODSYS", "AEDECOD"]}


def relative_day(dates: pd.Series, reference: pd.Series) -> pd.Series:
    """ADaM relative day: date − reference + 1 on or after the reference, no day 0."""
    diff = (dates - reference).dt.days.astype("float64")
    return diff.where(diff < 0, diff + 1)


def _bounded(dtc: pd.Series, highest: str, how: str, bound: pd.Series, *, lower: bool
             ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Imputed dates, flag and invalid mask; an imputed date crossing ``bound`` is moved onto it
    when the partial date's period contains the bound (admiral min_dates / max_dates)."""
    imp = impute_dtc(dtc, highest, how)   # type: ignore[arg-type]
    dates = imp.dates
    if highest != "none":
        other = impute_dtc(dtc, highest, "last" if how == "first" else "first").dates  # type: ignore[arg-type]
        imputed = imp.flag.notna().to_numpy()
        if lower:   # period [dates, other]; bound inside and after the first-day imputation
            move = imputed & (bound > dates).fillna(False).to_numpy() & \
                (bound <= other).fillna(False).to_numpy()
        else:       # period [other, dates]; bound inside and before the last-day imputation
            move = imputed & (bound < dates).fillna(False).to_numpy() & \
                (bound >= other).fillna(False).to_numpy()
        dates = dates.where(~move, bound)
    return dates.astype("datetime64[ns]"), imp.flag, imp.invalid


def _first_flag(frame: pd.DataFrame, eligible: pd.Series, order: list[str], ascending: list[bool],
                groups: list[str]) -> pd.Series:
    """"Y" on the first eligible record of each USUBJID × ``groups`` in ``order``."""
    sub = frame.loc[eligible.to_numpy()]
    keys = ["USUBJID", *groups]
    ordered = sub.sort_values(keys + order, ascending=[True] * len(keys) + ascending,
                              kind="mergesort", na_position="last")
    first = ordered.loc[~ordered.duplicated(keys, keep="first")].index
    out = pd.Series(pd.NA, index=frame.index, dtype="string")
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
    ae = ae.loc[ae["USUBJID"].isin(adsl["USUBJID"])].copy()
    out = pd.DataFrame({"STUDYID": ae["STUDYID"].astype("string"),
                        "USUBJID": ae["USUBJID"].astype("string")}, index=ae.index)
    table = adsl.set_index("USUBJID")
    for name in ADSL_COPIED:
        if name in table.columns:
            out[name] = lookup(out["USUBJID"], table[name])
    for name in AE_COPIED:
        out[name] = ae[name] if name in ae.columns else pd.Series(
            np.nan if name == "AESEQ" else pd.NA, index=ae.index,
            dtype="float64" if name == "AESEQ" else "string")
    out["AESEQ"] = pd.to_numeric(out["AESEQ"], errors="coerce").astype("float64")
    methods.update({name: f"AE.{name}" for name in AE_COPIED})

    # treatment
    out["TRTA"] = out["TRT01A"].astype("string")
    known = sorted(set(adsl["TRT01A"].dropna().astype(str)) - set(cfg.treatment_numbers))
    numbers = {**cfg.treatment_numbers,
               **{v: max(cfg.treatment_numbers.values(), default=0) + i + 1
                  for i, v in enumerate(known)}}
    out["TRTAN"] = out["TRTA"].map(numbers).astype("float64")
    methods["TRTA"] = "ADSL.TRT01A"
    methods["TRTAN"] = "TRTA numbered " + (", ".join(f"{k} = {v}" for k, v in
                                                  cfg.treatment_numbers.items())
                                        + "; others " if cfg.treatment_numbers else "") + \
        "in alphabetical order"

    # dates
    trtsdt = pd.to_datetime(out["TRTSDT"]).astype("datetime64[ns]")
    trtedt = pd.to_datetime(out["TRTEDT"]).astype("datetime64[ns]")
    start_bound = trtsdt if cfg.start_not_before_trtsdt else \
        pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    astdt, astdtf, bad_start = _bounded(out["AESTDTC"], cfg.start_highest_imputation, "first",
                                        start_bound, lower=True)
    caps = [pd.to_datetime(lookup(out["USUBJID"], table[n])).astype("datetime64[ns]")
            for n in cfg.end_not_after if n in table.columns]
    end_bound = pd.concat(caps, axis=1).min(axis=1) if caps else \
        pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    aendt, aendtf, bad_end = _bounded(out["AEENDTC"], cfg.end_highest_imputation, "last",
                                      end_bound.astype("datetime64[ns]"), lower=False)
    report_bad_dates(findings, ae.loc[bad_start.to_numpy()], "AE", "AESTDTC")
    report_bad_dates(findings, ae.loc[bad_end.to_numpy()], "AE", "AEENDTC")
    out["ASTDT"], out["ASTDTF"] = astdt, astdtf
    out["AENDT"], out["AENDTF"] = aendt, aendtf
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
    methods["ASTDY"] = "ASTDT - TRTSDT + 1 when ASTDT >= TRTSDT, else ASTDT - TRTSDT"
    methods["AENDY"] = "AENDT - TRTSDT + 1 when AENDT >= TRTSDT, else AENDT - TRTSDT"

    # treatment emergence (admiral derive_var_trtemfl)
    window = pd.Timedelta(days=cfg.trtemfl_window_days)
    in_window = (astdt >= trtsdt) & ((astdt <= trtedt + window) | trtedt.isna())
    undated = astdt.isna() & (aendt.isna() | (aendt >= trtsdt))
    emergent = (trtsdt.notna() & (in_window | undated)).fillna(False).astype(bool)
    out["TRTEMFL"] = pd.Series(np.where(emergent, "Y", None), index=out.index, dtype="string")
    methods["TRTEMFL"] = (f"Y when TRTSDT <= ASTDT <= TRTEDT + {cfg.trtemfl_window_days} days "
                          "(no TRTEDT: no upper limit), or ASTDT is missing and AENDT is "
                          "missing or on/after TRTSDT")

    # grade and causality
    grade_text = upper_text(out["AETOXGR"]).str.replace(r"^GRADE\s*", "", regex=True)
    grade = pd.to_numeric(grade_text, errors="coerce")
    bad_grade = out["AETOXGR"].notna() & (grade.isna() | ~grade.isin([1, 2, 3, 4, 5]))
    if bad_grade.any():
        report_rows(findings, ae.loc[bad_grade.to_numpy()], "AE", rule="CMAP-AD0030",
                    severity=Severity.WARNING,
                    message="AETOXGR is not a CTCAE grade 1-5; ATOXGR is left blank",
                    variable="AETOXGR", value_col="AETOXGR")
        grade = grade.where(~bad_grade)
    out["ATOXGRN"] = grade.astype("float64")
    out["ATOXGR"] = pd.Series(np.where(grade.notna(), grade.fillna(0).astype(int).astype(str),
                                       None), index=out.index, dtype="string")
    methods["ATOXGR"] = f"AETOXGR (CTCAE v{cfg.ctcae_version} grade)"
    methods["ATOXGRN"] = "ATOXGR as a number"
    rel = upper_text(out["AEREL"])
    out["AREL"] = out["AEREL"].astype("string")
    related = rel.isin(cfg.related_terms).fillna(False).astype(bool)
    out["RELGR1"] = pd.Series(np.where(rel.isna(), None, np.where(related, "RELATED",
                                                                  "NOT RELATED")),
                              index=out.index, dtype="string")
    methods["AREL"] = "AE.AEREL"
    methods["RELGR1"] = ("RELATED when AEREL is one of " + ", ".join(cfg.related_terms)
                         + "; NOT RELATED for any other non-blank AEREL")

    # first-occurrence flags over the treatment-emergent AEs
    work = out.assign(_ST=astdt, _NEG=-out["ATOXGRN"])
    for flag, groups in _FLAG_GROUPS.items():
        out[flag] = _first_flag(work, emergent, ["_ST", "AESEQ"], [True, True], groups)
    graded = emergent & out["ATOXGRN"].notna()
    for flag, groups in _WORST_GROUPS.items():
        out[flag] = _first_flag(work, graded, ["_NEG", "_ST", "AESEQ"], [True, True, True],
                                groups)
    by = {"": "subject", "S": "subject and AEBODSYS", "P": "subject, AEBODSYS and AEDECOD"}
    for key, text in by.items():
        methods[f"AOCC{key}FL"] = (f"Y on the first treatment-emergent AE of the {text}, by "
                                   "ASTDT then AESEQ")
        methods[f"AOCC{key}IFL"] = (f"Y on the first treatment-emergent AE with the highest "
                                    f"ATOXGRN of the {text}, by ASTDT then AESEQ")

    out = out.sort_values(["USUBJID", "AESEQ"], kind="mergesort").reset_index(drop=True)
    return out
