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

import contextlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from cdiscmap.adam.adae import relative_day
from cdiscmap.adam.dates import factorize_text, impute_dtc, spread_text
from cdiscmap.adam.dtypes import DATES, FLOAT, INT, TEXT
from cdiscmap.adam.io import as_dates, index_positions, key_index, lookup, notice, upper_isin
from cdiscmap.adam.order import first_positions, numbered, stable_order
from cdiscmap.adam.settings import AdamSettings
from cdiscmap.errors import InputDataError
from cdiscmap.findings import Findings
from cdiscmap.recist import RecistSettings
from cdiscmap.recist.shared import series_target_sums

_Y = np.array(["Y"], dtype=object)      # a flag's one value, spread by code (spread_text)
# the engine's timepoint variables ADTR reads (the filter then copies these, not all of them)
_SUM_READ = ["USUBJID", "VISITNUM", "VISIT", "ADTC", "BASELINE_FL", "SUMDIAM",
             "N_TARGET_EXPECTED", "N_TARGET_MEASURED", "RECIST_SERIES"]
_STRING = pd.StringDtype("python")      # what astype("string") gives
_GROUPS = ("TRT01P", "TRT01A", "COHORT", "PATHOL", "GENALT")


def _flag(mask: np.ndarray | pd.Series, index: pd.Index) -> pd.Series:
    return spread_text(_Y, np.where(np.asarray(mask, dtype=bool), 0, -1), index)


def _text(value: str, index: pd.Index) -> pd.Series:
    """One text on every record: a "string" Series spread from one value (no check of every
    row's object)."""
    return spread_text(np.array([value], dtype=object), np.zeros(len(index), dtype=np.intp),
                       index)


# Sums computed ahead (:func:`prepare_sums`) by key: TU and TR frame ids (the frames are
# held with the sums, so no other frame can take their ids meanwhile), evaluator and
# re-baseline visits. Each entry is taken by the one ADTR derivation that uses it.
_PREPARED: dict[tuple[int, int, str | None, tuple[str, ...]],
                tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]] = {}


def _sums_key(tu: pd.DataFrame, tr: pd.DataFrame, settings: AdamSettings
              ) -> tuple[int, int, str | None, tuple[str, ...]]:
    cfg = settings.adtr
    return id(tu), id(tr), cfg.evaluator, tuple(cfg.rebaseline_visits)


def prepare_sums(sdtm: Mapping[str, pd.DataFrame], settings: AdamSettings) -> None:
    """Compute ADTR's target-lesion sums now, for the ADTR derivation that follows on the same
    TU and TR frames (which must not change in between). They need no ADSL, so the forked
    child of ``cdiscmap adam`` computes them while its parent still derives ADSL (≈0.3 CPU-s
    at 10,000 subjects taken off the child's work after ADSL). An error is left for the
    derivation, which computes the sums again and raises it in its serial place."""
    if "TU" not in sdtm or "TR" not in sdtm:
        return
    with contextlib.suppress(Exception):
        tu, tr = sdtm["TU"], sdtm["TR"]
        _PREPARED[_sums_key(tu, tr, settings)] = (_sums(tu, tr, settings), tu, tr)


def _target_sums(tu: pd.DataFrame, tr: pd.DataFrame, settings: AdamSettings) -> pd.DataFrame:
    """:func:`_sums`, taken from :func:`prepare_sums` when it computed them for these frames."""
    prepared = _PREPARED.pop(_sums_key(tu, tr, settings), None)
    return prepared[0] if prepared is not None else _sums(tu, tr, settings)


def _sums(tu: pd.DataFrame, tr: pd.DataFrame, settings: AdamSettings) -> pd.DataFrame:
    """Engine target-lesion sums (one row per subject × series × assessment), series split as
    the RECIST step does it (its helpers are reused, not copied)."""
    cfg = settings.adtr
    recist = RecistSettings(evaluator=cfg.evaluator)
    # the run's RECIST step may have computed these already (recist.shared); else the engine
    # computes the sums alone (none of the responses ADTR does not read)
    computed = series_target_sums(tu, tr, recist, cfg.rebaseline_visits)
    if "RECIST_SERIES" not in computed.columns:
        computed["RECIST_SERIES"] = 0
    return computed


class _Subjects:
    """ADSL subjects as integer codes: the sorted distinct USUBJID (a code's rank is the text
    order, so codes sort records as the text would) and, per code, its first ADSL record.
    Records of both ADTR parts are matched to ADSL by code once, and the ADSL variables are
    taken once for the ordered records, not looked up per part and then reordered."""

    def __init__(self, adsl: pd.DataFrame, reference_date: str) -> None:
        self.adsl = adsl
        self.ids = pd.Index(np.sort(adsl["USUBJID"].dropna().unique().astype(object)),
                            dtype=object)
        rows = key_index(adsl["USUBJID"])
        if rows.has_duplicates:      # pragma: no cover - ADSL has one record per subject
            first = ~rows.duplicated(keep="first")
            self.row = np.flatnonzero(first)[rows[first].get_indexer(self.ids)]
        else:
            self.row = rows.get_indexer(self.ids)
        self.groups = [n for n in _GROUPS if n in adsl.columns]
        self.reference = as_dates(adsl[reference_date]).astype(DATES) \
            .to_numpy()[self.row]

    def codes(self, ids: pd.Series) -> np.ndarray:
        """Code of each id (-1: not an ADSL subject)."""
        return index_positions(self.ids, ids)

    def reference_of(self, codes: np.ndarray, index: pd.Index) -> pd.Series:
        dates = np.where(codes >= 0, self.reference[np.clip(codes, 0, None)],
                         np.datetime64("NaT")) if len(self.ids) else \
            np.full(len(codes), np.datetime64("NaT"), dtype=DATES)
        return pd.Series(dates.astype(DATES), index=index)

    def variables(self, codes: np.ndarray, index: pd.Index) -> dict[str, pd.Series]:
        """STUDYID, USUBJID, SUBJID, SITEID and the grouping variables of each record."""
        at = np.where(codes >= 0, self.row[np.clip(codes, 0, None)], -1) if len(self.ids) \
            else np.full(len(codes), -1)
        out = {}
        for name in ("STUDYID", "USUBJID", "SUBJID", "SITEID", *self.groups):
            column = self.adsl[name]
            values = column.array if isinstance(column.dtype,
                                                pd.api.extensions.ExtensionDtype) \
                else column.to_numpy()
            taken = pd.Series(pd.api.extensions.take(values, at, allow_fill=True), index=index)
            out[name] = taken if taken.dtype == _STRING else taken.astype(TEXT)
        return out


def derive_adtr(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, settings: AdamSettings,
                findings: Findings, methods: dict[str, str]) -> pd.DataFrame | None:
    """ADTR from SDTM TU/TR and ADSL; None (with a notice) without TU or TR."""
    missing = [d for d in ("TU", "TR") if d not in sdtm]
    if missing:
        findings.add(notice("CMAP-AD0005", f"SDTM {'/'.join(missing)} not given: no ADTR",
                            missing[0]))
        return None
    cfg = settings.adtr
    tp = _target_sums(sdtm["TU"], sdtm["TR"], settings)
    tp = tp.loc[(tp["USUBJID"].isin(adsl["USUBJID"]) & tp["SUMDIAM"].notna()).to_numpy(),
                _SUM_READ]
    who = _Subjects(adsl, cfg.reference_date)
    # records by USUBJID, series, VISITNUM: subjects as codes in text order (ADSL's sorted
    # ids), one lexsort; subject × series groups and ASEQ then follow from the codes
    subject = who.codes(tp["USUBJID"])
    subject = np.where(subject < 0, len(who.ids), subject)  # a missing USUBJID sorts last
    series = tp["RECIST_SERIES"].to_numpy()
    order = np.lexsort([tp["VISITNUM"].to_numpy(dtype=FLOAT), series, subject])
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
    aval = tp["SUMDIAM"].astype(FLOAT)
    base = lookup(key, pd.Series(aval[baseline].to_numpy(), index=key[baseline].to_numpy())) \
        .astype(FLOAT)
    # nadir: running minimum of complete sums strictly before the row, within the series
    filled = aval.where(complete, np.inf)
    running = filled.groupby(key, sort=False).cummin()
    prior = running.groupby(key, sort=False).shift(1)
    nadir = prior.where(np.isfinite(prior.fillna(np.inf)))
    post = ~tp["BASELINE_FL"].eq("Y").fillna(False).astype(bool)
    nadir = nadir.where(post)

    adt = impute_dtc(tp["ADTC"], "D", "first").dates.astype(DATES)
    reference = who.reference_of(subject, tp.index)
    out = pd.DataFrame({
        "PARAMCD": _text("SDIAM", tp.index),
        "PARAM": _text(f"Target Lesions Sum of Diameters by {cfg.evaluator.title()}",
                       tp.index),
        "AVAL": aval,
        "ADT": adt,
        "AVISIT": tp["VISIT"].astype(TEXT),
        "AVISITN": tp["VISITNUM"].astype(FLOAT),
        "ABLFL": _flag(baseline, tp.index),
        "BASE": base,
        "CHG": (aval - base).where(post),
        "PCHG": ((aval - base) / base * 100.0).where(post & (base > 0)),
        "NADIR": nadir,
        "CHGNAD": aval - nadir,
        "PCHGNAD": ((aval - nadir) / nadir * 100.0).where(nadir > 0),
        "ANL01FL": _flag(complete, tp.index),
    })
    # ANL02FL: the first record per subject × series by PCHG, ADT, AVISITN among the eligible
    # (one stable lexsort of arrays, not a sort of a copy of the frame)
    pchg = out["PCHG"].to_numpy(dtype=FLOAT)
    eligible = np.flatnonzero((complete & post).to_numpy(dtype=bool) & ~np.isnan(pchg)
                              & (adt > reference).to_numpy(dtype=bool))
    group = key.to_numpy()
    ranked = eligible[np.lexsort([out["AVISITN"].to_numpy(dtype=FLOAT)[eligible],
                                  adt.to_numpy()[eligible], pchg[eligible], group[eligible]])]
    best = np.zeros(n, dtype=bool)
    if len(ranked):
        ranked_group = group[ranked]
        best[ranked[np.r_[True, ranked_group[1:] != ranked_group[:-1]]]] = True
    out["ANL02FL"] = _flag(best, tp.index)
    first = np.flatnonzero(subject_starts)        # ASEQ: 1..n within the sorted subject
    out["ASEQ"] = (np.arange(n) - np.repeat(first, np.diff(np.r_[first, n])) + 1) \
        .astype(FLOAT)
    out["SRCDOM"] = pd.Series(pd.NA, index=tp.index, dtype=TEXT)
    out["SRCVAR"] = pd.Series(pd.NA, index=tp.index, dtype=TEXT)
    out["SRCSEQ"] = pd.Series(np.nan, index=tp.index, dtype=FLOAT)
    lesions = _lesion_records(sdtm, who, settings, methods)
    if not lesions.empty:
        out["_S"] = subject            # this derivation's own frame: no copy (assign's)
        out = _ordered(pd.concat([out, lesions], ignore_index=True))
        subject = out.pop("_S").to_numpy()
    elif not cfg.lesion_parameters:
        out = out.drop(columns=["SRCDOM", "SRCVAR", "SRCSEQ"])
    out = _with_adsl(out, subject, who, cfg.evaluator)

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


def _with_adsl(out: pd.DataFrame, subject: np.ndarray, who: _Subjects, evaluator: str
               ) -> pd.DataFrame:
    """The ordered records with the ADSL identifiers and groups, the constant PARCATs and ADY
    (taken once for all records, by subject code), variables in ADTR order."""
    index = out.index
    reference = who.reference_of(subject, index)
    columns: dict[str, pd.Series] = who.variables(subject, index)
    columns["PARAMCD"] = out["PARAMCD"]
    columns["PARAM"] = out["PARAM"]
    columns["PARCAT1"] = _text("Target Lesion(s)", index)
    columns["PARCAT2"] = _text(evaluator.title(), index)
    columns["PARCAT3"] = _text("RECIST 1.1", index)
    columns["AVAL"] = out["AVAL"]
    columns["ADT"] = out["ADT"]
    columns["ADY"] = relative_day(out["ADT"], reference)
    for name in out.columns:
        if name not in columns:
            columns[name] = out[name]
    # the arrays are those of this derivation's own frames: not copied again
    return pd.DataFrame(columns, index=index, copy=False)


def _ordered(out: pd.DataFrame) -> pd.DataFrame:
    """Records by USUBJID (the _S codes, in text order; missing last), lesion number (SDIAM
    first), parameter, AVISITN, ADT (missing last, ties in record order), with ASEQ 1..n per
    subject: one stable lexsort of arrays, not a sort of a copy of the frame."""
    subject = out["_S"].to_numpy(dtype=np.int64)
    lesion, position = out.pop("_L"), out.pop("_T")     # popped, not dropped: no frame copy
    lesion_n = lesion.fillna(0).to_numpy(dtype=float)     # whole numbers: lesion >= 0,
    position_n = position.fillna(-1).to_numpy(dtype=float)    # parameter position >= -1
    later = [out["ADT"].to_numpy(), out["AVISITN"].to_numpy(dtype=float)]
    if len(out) and lesion_n.min() >= 0 and position_n.min() >= -1:
        # subject, lesion and parameter as one integer key: one sort pass instead of three
        span_l, span_p = int(lesion_n.max()) + 1, int(position_n.max()) + 2
        key = (subject * span_l + lesion_n.astype(np.int64)) * span_p + \
            (position_n.astype(np.int64) + 1)
        order = stable_order([*later, key])
    else:                       # pragma: no cover - lesion numbers and positions are >= 0
        order = np.lexsort([*later, position_n, lesion_n, subject])
    out = out.take(order)
    out.index = pd.RangeIndex(len(out))     # the frame take made is relabelled, not copied
    out["ASEQ"] = numbered(subject[order])
    return out


def _lesion_records(sdtm: dict[str, pd.DataFrame], who: _Subjects, settings: AdamSettings,
                    methods: dict[str, str]) -> pd.DataFrame:
    """One record per baseline target lesion of the evaluator, per TR assessment and lesion
    parameter (admiralonco ad_adtr.R LDIAMn / NLDIAMn): PARAMCD, PARAM, AVAL, ADT, AVISIT,
    AVISITN, ANL01FL, SRC*, plus _S (subject code), _L (lesion number) and _T (parameter
    position) for ordering; the ADSL variables are added to the ordered records."""
    cfg = settings.adtr
    if not cfg.lesion_parameters:
        return pd.DataFrame()
    tu, tr = sdtm["TU"], sdtm["TR"]
    need_tu, need_tr = {"USUBJID", "TULNKID", "TUSTRESC"}, {"USUBJID", "TRLNKID", "TRTESTCD",
                                                             "TRSTRESN"}
    if not need_tu <= set(tu.columns) or not need_tr <= set(tr.columns):
        return pd.DataFrame()
    ev = cfg.evaluator
    # records of the evaluator (or of none named); masks on the distinct values
    target = upper_isin(tu["TUSTRESC"], ["TARGET"])
    if "TUEVAL" in tu.columns:
        target &= upper_isin(tu["TUEVAL"], [ev]) | tu["TUEVAL"].isna().to_numpy()
    tests = {p.testcd: (i, p) for i, p in enumerate(cfg.lesion_parameters)}
    # parameters by their upper-case TRTESTCD (a code that is not upper-case matches nothing):
    # each distinct code's parameter position, spread to the records by code
    test_codes, test_uniques = factorize_text(tr["TRTESTCD"])
    positions = {k: v[0] for k, v in tests.items() if k == k.strip().upper()}
    test_position = pd.Series(test_uniques, dtype=TEXT).str.strip().str.upper() \
        .map(positions).to_numpy(dtype=float, na_value=np.nan)
    row_position = test_position[np.clip(test_codes, 0, None)] if len(test_uniques) else \
        np.full(len(tr), np.nan)
    wanted = (test_codes >= 0) & ~np.isnan(row_position)
    if "TREVAL" in tr.columns:
        wanted &= upper_isin(tr["TREVAL"], [ev]) | tr["TREVAL"].isna().to_numpy()
    # TU targets and TR records matched on subject code × link code (TULNKID = TRLNKID as
    # text, one factorisation of both); TU targets of ADSL subjects, first of repeats
    at_t, at_r = np.flatnonzero(target), np.flatnonzero(wanted)
    t_subject = who.codes(tu["USUBJID"].iloc[at_t])
    r_subject = who.codes(tr["USUBJID"].iloc[at_r])
    link_codes, links = pd.factorize(np.concatenate([
        np.asarray(tu["TULNKID"].iloc[at_t].array, dtype=object),
        np.asarray(tr["TRLNKID"].iloc[at_r].array, dtype=object)]), use_na_sentinel=False)
    span = max(len(links), 1)
    t_link, r_link = link_codes[:len(at_t)], link_codes[len(at_t):]
    t_key = t_subject.astype(np.int64) * span + t_link
    ours = np.flatnonzero(t_subject >= 0)
    kept = ours[first_positions(t_key[ours])]   # TU order, first record of a subject × link
    t_key, t_link = t_key[kept], t_link[kept]
    # lesion number: the digits of TULNKID (T03 -> 3), else the rank within the subject
    link_text = pd.Series(links, dtype=object).astype(TEXT)
    link_digits = pd.to_numeric(link_text.str.extract(r"(\d+)\s*$")[0],
                                errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    digits = pd.Series(link_digits[t_link] if len(links) else np.zeros(0))
    if digits.isna().any():     # the rank (a text sort per subject) only when it is needed
        targets = pd.DataFrame({"USUBJID": who.ids[t_subject[kept]],
                                "TULNKID": link_text.to_numpy()[t_link]})
        digits = digits.fillna(targets.groupby("USUBJID")["TULNKID"].rank(method="dense"))
    target_lesion = digits.to_numpy().astype(INT)
    pos = pd.Index(t_key).get_indexer(r_subject.astype(np.int64) * span + r_link)
    matched = (pos >= 0) & (r_subject >= 0)
    rows = at_r[matched]                      # TR records in TR order (an inner merge's)
    if not len(rows):
        return pd.DataFrame()
    subject = r_subject[matched]
    lesion = target_lesion[pos[matched]]
    position = row_position[rows].astype(INT)
    index = pd.RangeIndex(len(rows))

    def column(name: str) -> pd.Series:
        values = tr[name].iloc[rows]
        values.index = index
        return values

    # PARAMCD/PARAM once per distinct (parameter, lesion number), spread by code
    span_l = int(lesion.max()) + 1 if len(lesion) else 1
    key_codes, keys = pd.factorize(position * span_l + lesion)
    items = dict(tests.values())                        # position → parameter
    codes_u, params_u, tests_u, numbers_u = [], [], [], []
    for key in keys.tolist():
        item, n = items[key // span_l], str(key % span_l)
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
    aval = pd.to_numeric(column("TRSTRESN"), errors="coerce").astype(FLOAT)
    out = pd.DataFrame({
        "PARAMCD": spread_text(np.array(codes_u, dtype=object), key_codes, index),
        "PARAM": spread_text(np.array(params_u, dtype=object), key_codes, index),
        "AVAL": aval,
        "ADT": (impute_dtc(column("TRDTC"), "D", "first").dates if "TRDTC" in tr.columns
                else pd.Series(pd.NaT, index=index, dtype=DATES))
        .astype(DATES),
        "AVISIT": column("VISIT").astype(TEXT) if "VISIT" in tr.columns else
        pd.Series(pd.NA, index=index, dtype=TEXT),
        "AVISITN": pd.to_numeric(column("VISITNUM"), errors="coerce").astype(FLOAT)
        if "VISITNUM" in tr.columns else pd.Series(np.nan, index=index),
        "ANL01FL": _flag(aval.notna(), index),
        "SRCDOM": _text("TR", index),
        "SRCVAR": _text("TRSTRESN", index),
        "SRCSEQ": pd.to_numeric(column("TRSEQ"), errors="coerce").astype(FLOAT)
        if "TRSEQ" in tr.columns else pd.Series(np.nan, index=index),
        "_S": subject,
        "_L": lesion.astype(FLOAT),
        "_T": position.astype(FLOAT),
    })
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
