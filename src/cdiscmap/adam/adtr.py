"""ADTR: target-lesion sum of diameters per subject and assessment (BDS, admiralonco ad_adtr.R).

The sums come from the RECIST engine (:func:`cdiscmap.recist.timepoint_responses`, which
assembles the lesions: longest diameter of non-nodal targets plus short axis of nodal ones,
RECIST 1.1 §4.2/§4.3.1), so ADTR and the engine's responses can never disagree on a sum.

One parameter, SDIAM, one record per subject × assessment (VISITNUM) of the evaluator:

- AVAL  the sum over the baseline target lesions measured at that assessment;
- ANL01FL = Y when every baseline target lesion was measured (admiralonco: LSEXP = LSASS);
  only such sums count as baseline, nadir or best change;
- ABLFL / BASE  the baseline assessment of the (series') lesion set; CHG, PCHG from it;
- NADIR  the smallest complete sum strictly before the assessment, baseline included (RECIST 1.1
  §4.3.1 "smallest sum on study"), CHGNAD / PCHGNAD from it (admiralonco names);
- ANL02FL = Y on the complete post-baseline sum with the lowest PCHG after the reference date,
  the earliest on ties, per subject and lesion series (admiralonco ad_adtr.R ANL02FL): the best % change of a waterfall plot.

A study that re-baselines (``rebaseline_visits``, e.g. before a rechallenge) gets each series
summed against its own baseline; AVISIT/AVISITN stay those of the TR records.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.adam.adae import relative_day
from cdiscmap.adam.dates import impute_dtc
from cdiscmap.adam.io import (
    as_dates,
    lookup,
    lookup_columns,
    notice,
    upper_isin,
    upper_text,
)
from cdiscmap.adam.settings import AdamSettings
from cdiscmap.errors import InputDataError
from cdiscmap.findings import Findings
from cdiscmap.recist import RecistSettings
from cdiscmap.recist.shared import series_timepoints


def _flag(mask: np.ndarray | pd.Series, index: pd.Index) -> pd.Series:
    return pd.Series(np.where(np.asarray(mask, dtype=bool), "Y", None), index=index,
                     dtype="string")


def _sums(tu: pd.DataFrame, tr: pd.DataFrame, settings: AdamSettings) -> pd.DataFrame:
    """Engine timepoints (one row per subject × series × assessment), series split as the
    RECIST step does it (its helpers are reused, not copied)."""
    cfg = settings.adtr
    recist = RecistSettings(evaluator=cfg.evaluator)
    # the run's RECIST step may have computed these already (recist.shared)
    _, computed = series_timepoints(tu, tr, recist, cfg.rebaseline_visits)
    if "RECIST_SERIES" not in computed.columns:
        computed["RECIST_SERIES"] = 0
    return computed


def _adsl_part(subjects: pd.Series, adsl: pd.DataFrame, reference_date: str
               ) -> tuple[pd.Series, pd.DataFrame]:
    """The reference date and the ADSL identifier/grouping columns of each record (ADSL is
    matched to the records once for all of them)."""
    table = adsl.set_index("USUBJID")
    groups = [n for n in ("TRT01P", "TRT01A", "COHORT", "PATHOL", "GENALT")
              if n in table.columns]
    got = lookup_columns(subjects, table, [reference_date, "STUDYID", "SUBJID", "SITEID",
                                           *groups])
    reference = as_dates(got[reference_date]).astype("datetime64[ns]")
    out = pd.DataFrame({
        "STUDYID": got["STUDYID"].astype("string"),
        "USUBJID": subjects.astype("string"),
        "SUBJID": got["SUBJID"].astype("string"),
        "SITEID": got["SITEID"].astype("string"),
    })
    for name in groups:
        out[name] = got[name].astype("string")
    return reference, out


def derive_adtr(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, settings: AdamSettings,
                findings: Findings, methods: dict[str, str]) -> pd.DataFrame | None:
    """ADTR from SDTM TU/TR and ADSL; None (with a notice) without TU or TR."""
    missing = [d for d in ("TU", "TR") if d not in sdtm]
    if missing:
        findings.add(notice("CMAP-AD0005", f"SDTM {'/'.join(missing)} not given: no ADTR",
                            missing[0]))
        return None
    cfg = settings.adtr
    tp = _sums(sdtm["TU"], sdtm["TR"], settings)
    tp = tp.loc[tp["USUBJID"].isin(adsl["USUBJID"]) & tp["SUMDIAM"].notna()]
    # records by USUBJID, series, VISITNUM: subjects as codes in text order (object-array
    # factorize), one lexsort; subject × series groups and ASEQ then follow from the codes
    subject, ids = pd.factorize(np.asarray(tp["USUBJID"].array, dtype=object), sort=True)
    subject = np.where(subject < 0, len(ids), subject)     # a missing USUBJID sorts last
    series = tp["RECIST_SERIES"].to_numpy()
    order = np.lexsort([tp["VISITNUM"].to_numpy(dtype="float64"), series, subject])
    tp = tp.take(order)
    tp.index = pd.RangeIndex(len(tp))
    subject, series = subject[order], series[order]
    n = len(tp)
    subject_starts = np.r_[True, subject[1:] != subject[:-1]] if n else np.zeros(0, bool)
    series_starts_ = subject_starts | (np.r_[True, series[1:] != series[:-1]] if n else
                                       np.zeros(0, bool))
    complete = (tp["N_TARGET_MEASURED"] == tp["N_TARGET_EXPECTED"]) & \
        (tp["N_TARGET_EXPECTED"] > 0)
    baseline = tp["BASELINE_FL"].eq("Y").fillna(False).astype(bool) & complete
    # subject × lesion series as one integer per record (no joined text key per record)
    key = pd.Series(np.cumsum(series_starts_, dtype=np.int64) - 1, index=tp.index)
    aval = tp["SUMDIAM"].astype("float64")
    base = lookup(key, pd.Series(aval[baseline].to_numpy(), index=key[baseline].to_numpy())) \
        .astype("float64")
    # nadir: running minimum of complete sums strictly before the row, within the series
    filled = aval.where(complete, np.inf)
    running = filled.groupby(key, sort=False).cummin()
    prior = running.groupby(key, sort=False).shift(1)
    nadir = prior.where(np.isfinite(prior.fillna(np.inf)))
    post = ~tp["BASELINE_FL"].eq("Y").fillna(False).astype(bool)
    nadir = nadir.where(post)

    adt = impute_dtc(tp["ADTC"], "D", "first").dates
    reference, out = _adsl_part(tp["USUBJID"], adsl, cfg.reference_date)
    out["PARAMCD"] = pd.Series("SDIAM", index=tp.index, dtype="string")
    out["PARAM"] = pd.Series(f"Target Lesions Sum of Diameters by {cfg.evaluator.title()}",
                             index=tp.index, dtype="string")
    out["PARCAT1"] = pd.Series("Target Lesion(s)", index=tp.index, dtype="string")
    out["PARCAT2"] = pd.Series(cfg.evaluator.title(), index=tp.index, dtype="string")
    out["PARCAT3"] = pd.Series("RECIST 1.1", index=tp.index, dtype="string")
    out["AVAL"] = aval
    out["ADT"] = adt.astype("datetime64[ns]")
    out["ADY"] = relative_day(out["ADT"], reference)
    out["AVISIT"] = tp["VISIT"].astype("string")
    out["AVISITN"] = tp["VISITNUM"].astype("float64")
    out["ABLFL"] = _flag(baseline, tp.index)
    out["BASE"] = base
    out["CHG"] = (aval - base).where(post)
    out["PCHG"] = ((aval - base) / base * 100.0).where(post & (base > 0))
    out["NADIR"] = nadir
    out["CHGNAD"] = aval - nadir
    out["PCHGNAD"] = ((aval - nadir) / nadir * 100.0).where(nadir > 0)
    out["ANL01FL"] = _flag(complete, tp.index)
    eligible = complete & post & out["PCHG"].notna() & \
        (out["ADT"] > reference).fillna(False).astype(bool)
    best = out.loc[eligible.to_numpy()].assign(_K=key[eligible.to_numpy()]) \
        .sort_values(["_K", "PCHG", "ADT", "AVISITN"], kind="mergesort") \
        .drop_duplicates("_K")
    out["ANL02FL"] = _flag(out.index.isin(best.index), tp.index)
    first = np.flatnonzero(subject_starts)        # ASEQ: 1..n within the sorted subject
    out["ASEQ"] = (np.arange(n) - np.repeat(first, np.diff(np.r_[first, n])) + 1) \
        .astype("float64")

    out["SRCDOM"] = pd.Series(pd.NA, index=tp.index, dtype="string")
    out["SRCVAR"] = pd.Series(pd.NA, index=tp.index, dtype="string")
    out["SRCSEQ"] = pd.Series(np.nan, index=tp.index, dtype="float64")
    lesions = _lesion_records(sdtm, adsl, settings, methods)
    if not lesions.empty:
        out = _ordered(pd.concat([out, lesions], ignore_index=True))
    elif not cfg.lesion_parameters:
        out = out.drop(columns=["SRCDOM", "SRCVAR", "SRCSEQ"])

    ev = cfg.evaluator
    methods["PARAMCD=SDIAM"] = (
        f"Sum of TR diameters of the baseline target lesions of evaluator {ev} at the "
        "assessment: longest diameter of non-nodal, short axis of nodal lesions (RECIST 1.1 "
        "§4.3.1; cdiscmap RECIST engine)"
        + (f"; series restart at TU VISIT {', '.join(cfg.rebaseline_visits)}"
           if cfg.rebaseline_visits else ""))
    methods["ADT"] = "Earliest TRDTC of the assessment (a missing day imputed to the first)"
    methods["ADY"] = f"ADT - {cfg.reference_date} + 1 on or after {cfg.reference_date}, else " \
                     f"ADT - {cfg.reference_date}"
    methods["AVISIT"] = "TR.VISIT of the assessment"
    methods["AVISITN"] = "TR.VISITNUM of the assessment"
    methods["ABLFL"] = "Y on the baseline assessment when every target lesion was measured"
    methods["BASE"] = "AVAL of the ABLFL = Y record of the subject (and lesion series)"
    methods["CHG"] = "AVAL - BASE (post-baseline records)"
    methods["PCHG"] = "(AVAL - BASE) / BASE x 100 (post-baseline records, BASE > 0)"
    methods["NADIR"] = ("Smallest AVAL with ANL01FL = Y before this assessment, baseline "
                        "included")
    methods["CHGNAD"] = "AVAL - NADIR"
    methods["PCHGNAD"] = "(AVAL - NADIR) / NADIR x 100 (NADIR > 0)"
    methods["ANL01FL"] = "Y when every baseline target lesion was measured at the assessment"
    methods["ANL02FL"] = (f"Y on the ANL01FL = Y post-baseline record after "
                          f"{cfg.reference_date} with the lowest PCHG (earliest on ties) of the "
                          "subject and lesion series: best percent change")
    methods["ASEQ"] = "1..n within USUBJID: SDIAM by lesion series, AVISITN" + (
        "; then the per-lesion parameters by lesion number, parameter, AVISITN, ADT"
        if cfg.lesion_parameters else "")
    for name, text in (("PARCAT1", "Target Lesion(s)"), ("PARCAT2", f"Evaluator ({ev})"),
                       ("PARCAT3", "Response criteria (RECIST 1.1)")):
        methods[name] = text
    return out


def _ordered(out: pd.DataFrame) -> pd.DataFrame:
    """Records by USUBJID, lesion number (SDIAM first), parameter, AVISITN, ADT (missing
    last, ties in record order), with ASEQ 1..n per subject: one stable lexsort of arrays
    (USUBJID as codes in text order), not a sort of a copy of the frame."""
    ids = out["USUBJID"]
    if ids.isna().any():       # pragma: no cover - records are of ADSL subjects
        order = out.assign(_L=out["_L"].fillna(0), _T=out["_T"].fillna(-1)).sort_values(
            ["USUBJID", "_L", "_T", "AVISITN", "ADT"], kind="mergesort").index
        out = out.loc[order].drop(columns=["_L", "_T"]).reset_index(drop=True)
        out["ASEQ"] = (out.groupby("USUBJID").cumcount() + 1).astype("float64")
        return out
    # on the "string" column's object array: the same codes, half the cost of its NA path
    subject = pd.factorize(np.asarray(ids.array, dtype=object), sort=True)[0]
    lesion, position = out.pop("_L"), out.pop("_T")     # popped, not dropped: no frame copy
    lesion_n = lesion.fillna(0).to_numpy(dtype=float)     # whole numbers: lesion >= 0,
    position_n = position.fillna(-1).to_numpy(dtype=float)    # parameter position >= -1
    later = [out["ADT"].to_numpy(), out["AVISITN"].to_numpy(dtype=float)]
    if len(out) and lesion_n.min() >= 0 and position_n.min() >= -1:
        # subject, lesion and parameter as one integer key: one sort pass instead of three
        span_l, span_p = int(lesion_n.max()) + 1, int(position_n.max()) + 2
        key = (subject * span_l + lesion_n.astype(np.int64)) * span_p + \
            (position_n.astype(np.int64) + 1)
        order = np.lexsort([*later, key])
    else:                       # pragma: no cover - lesion numbers and positions are >= 0
        order = np.lexsort([*later, position_n, lesion_n, subject])
    out = out.take(order)
    out.index = pd.RangeIndex(len(out))     # the frame take made is relabelled, not copied
    sorted_subject = subject[order]
    n = len(sorted_subject)
    starts = np.flatnonzero(np.r_[True, sorted_subject[1:] != sorted_subject[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, n]))
    out["ASEQ"] = (np.arange(n) - first + 1).astype("float64")
    return out


def _lesion_records(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, settings: AdamSettings,
                    methods: dict[str, str]) -> pd.DataFrame:
    """One record per baseline target lesion of the evaluator, per TR assessment and lesion
    parameter (admiralonco ad_adtr.R LDIAMn / NLDIAMn); columns as ADTR, plus _L (lesion
    number) and _T (parameter position) for ordering."""
    cfg = settings.adtr
    if not cfg.lesion_parameters:
        return pd.DataFrame()
    tu, tr = sdtm["TU"], sdtm["TR"]
    need_tu, need_tr = {"USUBJID", "TULNKID", "TUSTRESC"}, {"USUBJID", "TRLNKID", "TRTESTCD",
                                                             "TRSTRESN"}
    if not need_tu <= set(tu.columns) or not need_tr <= set(tr.columns):
        return pd.DataFrame()
    ev = cfg.evaluator
    # only the variables read below: the record filters then copy those, not whole TU/TR
    tu = tu[[c for c in ("USUBJID", "TULNKID", "TUSTRESC", "TUEVAL") if c in tu.columns]]
    tr = tr[[c for c in ("USUBJID", "TRLNKID", "TRTESTCD", "TRSTRESN", "TRDTC", "VISIT",
                         "VISITNUM", "TRSEQ", "TREVAL") if c in tr.columns]]
    # records of the evaluator (or of none named); masks on the distinct values, one copy
    target = upper_isin(tu["TUSTRESC"], ["TARGET"])
    if "TUEVAL" in tu.columns:
        target &= upper_isin(tu["TUEVAL"], [ev]) | tu["TUEVAL"].isna().to_numpy()
    tests = {p.testcd: (i, p) for i, p in enumerate(cfg.lesion_parameters)}
    # parameters by their upper-case TRTESTCD (a code that is not upper-case matches nothing)
    wanted = upper_isin(tr["TRTESTCD"], [t for t in tests if t == t.strip().upper()])
    if "TREVAL" in tr.columns:
        wanted &= upper_isin(tr["TREVAL"], [ev]) | tr["TREVAL"].isna().to_numpy()
    targets = tu.loc[target, ["USUBJID", "TULNKID"]].drop_duplicates()
    targets = targets.loc[targets["USUBJID"].isin(adsl["USUBJID"])]
    # lesion number: the digits of TULNKID (T03 -> 3), else the rank within the subject
    link_codes, links = pd.factorize(targets["TULNKID"].astype("string"))   # once per text
    link_digits = pd.to_numeric(pd.Series(links, dtype="string").str.extract(r"(\d+)\s*$")[0],
                                errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    digits = pd.Series(np.where(link_codes >= 0, link_digits[np.clip(link_codes, 0, None)]
                                if len(links) else np.nan, np.nan), index=targets.index)
    if digits.isna().any():     # the rank (a text sort per subject) only when it is needed
        digits = digits.fillna(targets.groupby("USUBJID")["TULNKID"].rank(method="dense"))
    targets = targets.assign(_L=digits.astype("int64"))
    recs = tr.loc[wanted]
    recs = recs.assign(_TEST=upper_text(recs["TRTESTCD"]))
    recs = recs.merge(targets.rename(columns={"TULNKID": "TRLNKID"}), on=["USUBJID", "TRLNKID"],
                      how="inner", sort=False)
    if recs.empty:
        return pd.DataFrame()
    position = recs["_TEST"].map({k: v[0] for k, v in tests.items()}).astype("int64")
    # PARAMCD/PARAM once per distinct (parameter, lesion number), spread by code
    lesion = recs["_L"].to_numpy(dtype=np.int64)
    span = int(lesion.max()) + 1 if len(lesion) else 1
    key_codes, keys = pd.factorize(position.to_numpy() * span + lesion)
    items = dict(tests.values())                        # position → parameter
    codes_u, params_u, tests_u, numbers_u = [], [], [], []
    for key in keys.tolist():
        item, n = items[key // span], str(key % span)
        prefix, suffix = item.paramcd.split("{n}", 1)
        codes_u.append(prefix + n + suffix)
        params_u.append(n.join(item.param.split("{n}")))
        tests_u.append(item.testcd)
        numbers_u.append(n)
    too_long = [code for code in codes_u if len(code) > 8]
    if too_long:
        raise InputDataError(f"ADTR lesion PARAMCD {too_long[0]} is longer than "
                             "8 characters (lesion number from TULNKID); shorten the "
                             "lesion_parameters paramcd")
    paramcd = pd.Series(np.array(codes_u, dtype=object)[key_codes], index=recs.index)
    param = pd.Series(np.array(params_u, dtype=object)[key_codes], index=recs.index)
    aval = pd.to_numeric(recs["TRSTRESN"], errors="coerce").astype("float64")
    adt = impute_dtc(recs["TRDTC"], "D", "first").dates if "TRDTC" in recs.columns else \
        pd.Series(pd.NaT, index=recs.index, dtype="datetime64[ns]")
    reference, out = _adsl_part(recs["USUBJID"], adsl, cfg.reference_date)
    out["PARAMCD"] = paramcd.astype("string")
    out["PARAM"] = param.astype("string")
    out["PARCAT1"] = pd.Series("Target Lesion(s)", index=recs.index, dtype="string")
    out["PARCAT2"] = pd.Series(ev.title(), index=recs.index, dtype="string")
    out["PARCAT3"] = pd.Series("RECIST 1.1", index=recs.index, dtype="string")
    out["AVAL"] = aval
    out["ADT"] = adt.astype("datetime64[ns]")
    out["ADY"] = relative_day(out["ADT"], reference)
    out["AVISIT"] = recs["VISIT"].astype("string") if "VISIT" in recs.columns else \
        pd.Series(pd.NA, index=recs.index, dtype="string")
    out["AVISITN"] = pd.to_numeric(recs["VISITNUM"], errors="coerce").astype("float64") \
        if "VISITNUM" in recs.columns else np.nan
    out["ANL01FL"] = _flag(aval.notna(), recs.index)
    out["SRCDOM"] = pd.Series("TR", index=recs.index, dtype="string")
    out["SRCVAR"] = pd.Series("TRSTRESN", index=recs.index, dtype="string")
    out["SRCSEQ"] = pd.to_numeric(recs["TRSEQ"], errors="coerce").astype("float64") \
        if "TRSEQ" in recs.columns else np.nan
    out["_L"] = recs["_L"].astype("float64")
    out["_T"] = position.astype("float64")
    made = dict(zip(codes_u[::-1], zip(tests_u[::-1], numbers_u[::-1], strict=True),
                    strict=True))                        # a code's first (test, number)
    for code in dict.fromkeys(codes_u):                  # one line per parameter (define.xml)
        test, n = made[code]
        methods[f"PARAMCD={code}"] = (
            f"TR.TRSTRESN of TRTESTCD {test} for baseline target lesion {n} (TU TUSTRESC "
            f"TARGET of evaluator {ev}; number from TULNKID) at each assessment")
    methods["SRCDOM"] = "TR for the per-lesion parameters"
    methods["SRCVAR"] = "TRSTRESN for the per-lesion parameters"
    methods["SRCSEQ"] = "TRSEQ of the TR record (per-lesion parameters)"
    return out
