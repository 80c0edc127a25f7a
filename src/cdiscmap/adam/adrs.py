"""ADRS (BDS): overall response records from RS plus derived response parameters.

Follows the admiralonco ad_adrs.R flow (ADaMIG 1.3 BDS, §3.3):

1. OVR records: RS ``RSTESTCD = OVRLRESP`` of the chosen evaluator; ADT from RSDTC (imputation
   per settings, ADTF), AVALC = RSSTRESC, AVAL = settings map.
2. Per response analysis (``main`` and e.g. ``rechallenge``), two flags on OVR records
   (analysis k uses ANL(2k+1)FL and ANL(2k+2)FL, so the main one has ANL01FL / ANL02FL):
   - ANL01FL: one record per subject and date — the worst response of that day (PD worst, NE
     least informative; ties → highest RSSEQ, admiralonco ``worst_resp``) — among records with a
     usable AVALC, dated on or after the reference date and, when new anti-cancer therapy is
     configured, not after its start.
   - ANL02FL: records dated from the reference date up to and including the first PD of
     ANL01FL records (admiralonco flags from the first record; we start at the reference date so
     that a second analysis, e.g. rechallenge, reads naturally).
   Records with both flags are the *analysed* responses.
3. Parameters per analysis (PARAMCD + analysis suffix): PD, RSP, CB, BOR, CRSP, CCB, CBOR, LSTA,
   landmark parameters; once: DEATH, MDIS. Y/N parameters have AVAL 1/0.
4. ASEQ by subject ordered by PARAMCD, ADT, AVISITN, SRCSEQ (admiralonco).
5. More evaluators (``adrs.evaluators``): steps 1-3 again per evaluator, every PARAMCD (OVR
   included) with its suffix, so investigator, independent review and computed BOR sit in one
   ADRS; DEATH and MDIS once. Without them the output is that of the one ``evaluator``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cdiscmap.adam.collected import collected_responses
from cdiscmap.adam.dates import impute_dtc, spread_text
from cdiscmap.adam.dtypes import BOOLEAN, DATES, FLOAT, INT, TEXT
from cdiscmap.adam.io import (
    adsl_positions,
    as_dates,
    lookup,
    notice,
    report_bad_dates,
    report_rows,
    require,
    source_dates,
    text_numbers,
    upper_isin,
    upper_text,
)
from cdiscmap.adam.order import (
    first_positions,
    last_of_subject,
    numbered,
    record_of,
    stable_order,
    taken_at,
)
from cdiscmap.adam.settings import AdamSettings, Landmark, ResponseAnalysis
from cdiscmap.findings import Findings, Severity
from cdiscmap.recist.best_response import (
    RESPONSES,
    best_overall_response,
    confirmed_best_overall_response,
    confirmed_flags,
    first_response,
    pr_after_cr,
    shared_preparation,
)

_YES_NO = {"Y": 1.0, "N": 0.0}    # AVAL of the Y/N parameters
# worst-of-day order (admiralonco adrs vignette worst_resp): higher is worse; NE least telling
_WORST = {"NE": 1, "CR": 2, "PR": 3, "SD": 4, "NON-CR/NON-PD": 5, "PD": 6}
ADSL_CARRIED = ["STUDYID", "USUBJID", "SUBJID", "SITEID", "TRT01P", "TRT01A"]
# RS variables the OVR records and their findings read (provenance: _SRCFILE/_SRCROW or RSSEQ)
_OVR_READ = frozenset({"USUBJID", "RSSTRESC", "RSDTC", "RSSEQ", "VISIT", "VISITNUM",
                       "_SRCFILE", "_SRCROW"})
# OVR variables a derived parameter record takes from the record it is chosen from
_COPIED = ("ADT", "ADTF", "AVISIT", "AVISITN", "SRCDOM", "SRCVAR", "SRCSEQ")
RECORD_COLUMNS = ["USUBJID", "PARAMCD", "PARAM", "PARCAT1", "PARCAT2", "PARCAT3", "AVALC",
                  "AVAL", "ADT", "ADTF", "AVISIT", "AVISITN", "SRCDOM", "SRCVAR", "SRCSEQ"]


@dataclass
class ResponseData:
    """The analysed overall responses of one analysis, for ADTTE."""

    analysis: ResponseAnalysis
    ovr: pd.DataFrame      # USUBJID, ADT, AVALC, REFDT, SRCSEQ (analysed records only)
    nactdt: pd.Series      # USUBJID → start of new anti-cancer therapy (after REFDT)
    population: pd.Series  # USUBJID of the subjects the analysis covers
    firsts: dict[tuple, pd.DataFrame] = field(default_factory=dict, repr=False)

    def first_response(self, *, confirmed: bool = False, min_gap_days: int = 28,
                       max_ne: int = 1, accept_sd: bool = False) -> pd.DataFrame:
        """:func:`~cdiscmap.recist.best_response.first_response` of ``ovr``, computed once
        per question: ADRS RSP/CRSP and the ADTTE duration-of-response start ask the same one
        (an unconfirmed first response does not depend on the confirmation settings)."""
        key = (True, min_gap_days, max_ne, accept_sd) if confirmed else (False,)
        if key not in self.firsts:
            self.firsts[key] = first_response(self.ovr, confirmed=confirmed,
                                              min_gap_days=min_gap_days, max_ne=max_ne,
                                              accept_sd=accept_sd)
        return self.firsts[key]


def _lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """:func:`~cdiscmap.adam.io.lookup` (``table[key]`` per key, missing where absent, the
    table's dtype, the first of a repeated key); for categorical keys (the ADSL ids as
    codes) each category is matched once and the values are taken by code, not looked up by
    text per record."""
    if not isinstance(keys.dtype, pd.CategoricalDtype):
        return lookup(keys, table)
    if isinstance(table.index, pd.CategoricalIndex):
        table = table.set_axis(table.index.astype(object))
    if table.index.has_duplicates:
        table = table.loc[~table.index.duplicated(keep="first")]
    at = np.append(table.index.get_indexer(keys.cat.categories), -1)   # [-1]: a null key
    values = pd.api.extensions.take(table.array, at[keys.cat.codes.to_numpy()],
                                    allow_fill=True)
    return pd.Series(values, index=keys.index, name=table.name)


def _title(evaluator: str) -> str:
    return "Algorithm" if evaluator == "COMPUTED" else evaluator.title()


def _ovr_records(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, settings: AdamSettings,
                 findings: Findings, ovr_code: str = "OVR") -> pd.DataFrame:
    """OVR parameter records from RS, one per RS record (no analysis flags yet)."""
    cfg = settings.adrs
    rs = require(sdtm, "RS", ["USUBJID", "RSTESTCD", "RSSTRESC", "RSDTC", "RSSEQ"],
                 "overall responses for ADRS")
    # positions of the wanted records: each condition on the remaining rows of one column,
    # then one copy of the variables read below (not of all RS per condition)
    at = np.flatnonzero(upper_isin(rs["RSTESTCD"], [cfg.testcd]))
    if cfg.category is not None:
        if "RSCAT" in rs.columns:
            at = at[upper_isin(rs["RSCAT"].iloc[at], [cfg.category])]
        else:
            findings.add(notice("CMAP-AD0004", "RS has no RSCAT: all criteria are read as "
                                f"{cfg.category}", "RS", "RSCAT"))
    derived = upper_isin(rs["RSDRVFL"].iloc[at], ["Y"]) if "RSDRVFL" in rs.columns \
        else np.zeros(len(at), dtype=bool)
    if cfg.evaluator == "COMPUTED":
        at = at[derived]
    else:
        at = at[~derived]
        if "RSEVAL" in rs.columns:
            at = at[upper_isin(rs["RSEVAL"].iloc[at], [cfg.evaluator])]
        else:
            findings.add(notice("CMAP-AD0004", f"RS has no RSEVAL: collected records are read as "
                                f"{cfg.evaluator}", "RS", "RSEVAL"))
    rs = pd.DataFrame({c: rs[c].iloc[at] for c in rs.columns if c in _OVR_READ})
    unknown = ~rs["USUBJID"].isin(adsl["USUBJID"])
    if unknown.any():
        report_rows(findings, rs.loc[unknown], "RS", rule="CMAP-AD0012", severity=Severity.ERROR,
                    message="RS subject is not in DM; record not analysed", variable="USUBJID")
        rs = rs.loc[~unknown]
    rs = rs.set_axis(pd.RangeIndex(len(rs)), copy=False)   # its own columns: no deep copy
    dates = impute_dtc(rs["RSDTC"], cfg.date_highest_imputation, cfg.date_imputation)
    report_bad_dates(findings, rs, dates.invalid, "RS", "RSDTC")
    avalc = upper_text(rs["RSSTRESC"])
    aval = text_numbers(avalc, cfg.aval_map)
    outside = avalc.notna() & aval.isna()
    if outside.any():
        report_rows(findings, rs.loc[outside], "RS", rule="CMAP-AD0002", severity=Severity.WARNING,
                    message="overall response outside the analysis map (ONCRSR "
                            "CR/PR/SD/NON-CR/NON-PD/PD/NE); not analysed",
                    variable="RSSTRESC", value_col="RSSTRESC")
    title = _title(cfg.evaluator)
    n = len(rs)
    return pd.DataFrame({
        "USUBJID": rs["USUBJID"].astype(TEXT),
        "PARAMCD": _text(ovr_code, n),      # one text spread, not n checked
        "PARAM": _text(f"Overall Response by {title}", n),
        "PARCAT1": _text("Tumor Response", n),
        "PARCAT2": _text(title, n),
        "PARCAT3": _text(cfg.category, n),
        "AVALC": avalc,
        "AVAL": aval,
        "ADT": dates.dates,
        "ADTF": dates.flag,
        "AVISIT": rs["VISIT"].astype(TEXT) if "VISIT" in rs.columns
        else pd.Series(pd.NA, index=rs.index, dtype=TEXT),
        "AVISITN": rs["VISITNUM"].astype(FLOAT) if "VISITNUM" in rs.columns
        else pd.Series(np.nan, index=rs.index),
        "SRCDOM": pd.Series(["RS"] * n, dtype=TEXT),
        "SRCVAR": pd.Series(["RSSTRESC"] * n, dtype=TEXT),
        "SRCSEQ": rs["RSSEQ"].astype(FLOAT),
    })


def _new_therapy(sdtm: dict[str, pd.DataFrame], settings: AdamSettings,
                 findings: Findings) -> pd.DataFrame:
    """All dated new anti-cancer therapy records: USUBJID, DT."""
    parts = [source_dates(sdtm, s, findings, purpose="new anti-cancer therapy")[["USUBJID", "DT"]]
             for s in settings.adrs.new_therapy]
    if not parts:
        return pd.DataFrame({"USUBJID": pd.Series(dtype=TEXT),
                             "DT": pd.Series(dtype=DATES)})
    return pd.concat(parts, ignore_index=True)


def _flag_analysis(ovr: pd.DataFrame, refdt: pd.Series, nact: pd.Series
                   ) -> tuple[pd.Series, pd.Series]:
    """ANL(first) = worst response of the day after the reference date (and not after new
    therapy); ANL(second) = from the reference date up to the first PD of those records."""
    usable = ovr["AVALC"].isin(list(RESPONSES)).fillna(False).astype(bool) & ovr["ADT"].notna()
    after_ref = (ovr["ADT"] >= refdt).fillna(False).astype(bool)
    before_nact = (nact.isna() | (ovr["ADT"] <= nact)).astype(bool)
    eligible = usable & after_ref & before_nact
    ids = ovr["USUBJID"]
    codes = ids.cat.codes.to_numpy() if isinstance(ids.dtype, pd.CategoricalDtype) else None
    if codes is None or (codes < 0).any():     # pragma: no cover - ADSL subjects only
        return _flag_analysis_sorted(ovr, eligible, after_ref)
    # the worst response of each subject and date: the last record of a stable sort by
    # subject code, date, worst rank and SRCSEQ (NaN last), of each subject x date run
    rows = np.flatnonzero(eligible.to_numpy(dtype=bool))
    worst_rank = ovr["AVALC"].iloc[rows].map(_WORST).astype(INT).to_numpy()
    stamps = ovr["ADT"].to_numpy(dtype=DATES)
    order = rows[stable_order([ovr["SRCSEQ"].to_numpy(dtype=FLOAT)[rows], worst_rank,
                               stamps[rows], codes[rows]])]
    subject, day = codes[order], stamps[order]
    worst = order[np.r_[(subject[1:] != subject[:-1]) | (day[1:] != day[:-1]), True]] \
        if len(order) else order
    flags = np.zeros(len(ovr), dtype=bool)
    flags[worst] = True
    anl1 = pd.Series(flags, index=ovr.index)
    # each subject's first PD among those: a running minimum per category code
    progressed = worst[(ovr["AVALC"].iloc[worst] == "PD").fillna(False).to_numpy(dtype=bool)]
    never = np.iinfo(np.int64).max
    first_pd = np.full(len(ids.cat.categories) + 1, never, dtype=np.int64)
    np.minimum.at(first_pd, codes[progressed], stamps[progressed].view(np.int64))
    first_pd[first_pd == never] = np.iinfo(np.int64).min        # NaT: no PD
    pd_dt = pd.Series(first_pd.view("datetime64[ns]")[codes], index=ovr.index)
    anl2 = after_ref & ovr["ADT"].notna() & (pd_dt.isna() | (ovr["ADT"] <= pd_dt)).astype(bool)
    return anl1, anl2.astype(bool)


def _flag_analysis_sorted(ovr: pd.DataFrame, eligible: pd.Series, after_ref: pd.Series
                          ) -> tuple[pd.Series, pd.Series]:
    """:func:`_flag_analysis` by sorting the frame (USUBJID not the ADSL categories)."""
    cand = ovr.loc[eligible, ["USUBJID", "ADT", "AVALC", "SRCSEQ"]]
    cand = cand.assign(_w=cand["AVALC"].map(_WORST).astype(INT))
    cand = cand.sort_values(["USUBJID", "ADT", "_w", "SRCSEQ"], kind="mergesort")
    worst = cand.drop_duplicates(["USUBJID", "ADT"], keep="last")
    anl1 = pd.Series(False, index=ovr.index)
    anl1.loc[worst.index] = True
    first_pd = worst.loc[worst["AVALC"] == "PD"].groupby("USUBJID", observed=True)["ADT"].min()
    pd_dt = as_dates(_lookup(ovr["USUBJID"], first_pd))
    anl2 = after_ref & ovr["ADT"].notna() & (pd_dt.isna() | (ovr["ADT"] <= pd_dt)).astype(bool)
    return anl1, anl2.astype(bool)


def _text(value: str | None, n: int) -> pd.Series:
    """One text (or None: missing) on ``n`` records, spread from one value: no check of
    every row's object."""
    return spread_text(np.array([value], dtype=object), np.zeros(n, dtype=np.intp),
                       pd.RangeIndex(n))


def _text_where(mask: np.ndarray, value: str) -> pd.Series:
    """``value`` where ``mask``, else missing: one shared text object, not a str per row."""
    return spread_text(np.array([value], dtype=object), np.where(mask, 0, -1),
                       pd.RangeIndex(len(mask)))


def _yn(flag: pd.Series | np.ndarray) -> pd.Series:
    return pd.Series(np.where(np.asarray(flag, dtype=bool), "Y", None), dtype=TEXT)


class _ParamBuilder:
    """Builds parameter records for a population from chosen OVR records."""

    def __init__(self, ovr: pd.DataFrame, population: pd.Series, settings: AdamSettings,
                 analysis: ResponseAnalysis, dates: pd.DataFrame | None = None) -> None:
        self.ovr = ovr
        self.subjects = ovr["USUBJID"].dtype
        self.population = population.reset_index(drop=True).astype(self.subjects)
        # population subjects as category codes: a parameter's records are matched to them by
        # integer code, not by a merge on the identifiers (13+ parameters per analysis)
        self.population_codes = self.population.cat.codes.to_numpy()
        # the OVR variables a derived record copies (reindexed per parameter, not all of OVR)
        self.source = ovr[["AVALC", *_COPIED]]
        self.settings = settings
        self.analysis = analysis
        self.dates = dates      # ADSL by USUBJID: a landmark's own reference date
        self.after_pd: pd.DataFrame | None = None   # ANL01FL records, after PD too (LSTA)
        self.title = _title(settings.adrs.evaluator)
        # one per parameter, by column (a column with one text for the parameter: that text)
        self._records: list[dict[str, pd.Series | str | None]] = []

    def _copied(self, idx: np.ndarray, names: tuple[str, ...]) -> dict[str, pd.Series]:
        """The OVR variables ``names`` of OVR records ``idx`` (index labels; -1: none, missing
        values): taken by position when the labels are positions (OVR's RangeIndex)."""
        index = self.source.index
        if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
            src = self.source.reindex(idx).reset_index(drop=True)   # pragma: no cover
            return {name: src[name] for name in names}
        on = pd.RangeIndex(len(idx))
        return {name: taken_at(self.source[name], idx, on) for name in names}

    def _matched(self, chosen: pd.DataFrame) -> np.ndarray:
        """Per population subject, the position in ``chosen`` of its first record (-1: none);
        a left merge of the population with ``chosen`` (first record per subject) on codes."""
        ids = chosen["USUBJID"]
        if ids.dtype != self.subjects:
            ids = ids.astype(self.subjects)
        codes = ids.cat.codes.to_numpy()
        at = np.flatnonzero(codes >= 0)      # ids outside ADSL: no population subject has them
        first = first_positions(codes[at])   # each code's first record (a hash pass)
        present = codes[at][first]
        where = np.full(len(self.subjects.categories) + 1, -1, dtype=np.int64)  # [-1]: no id
        where[present] = at[first]
        return where[self.population_codes]

    def add(self, code: str, param: str, chosen: pd.DataFrame, *, yes_no: bool,
            default: str | None, override: pd.Series | None = None) -> None:
        """One record per population subject: from ``chosen`` (USUBJID, source_index[, AVALC])
        or, for subjects without one, AVALC = ``default`` (None → no record); ``override``
        replaces the AVALC values (aligned with the population)."""
        pos = self._matched(chosen)
        subjects = self.population
        if default is None:
            kept = pos >= 0
            pos, subjects = pos[kept], subjects[kept].reset_index(drop=True)
        has = pos >= 0
        idx = np.where(has, chosen["source_index"].to_numpy()[np.where(has, pos, 0)]
                       if len(chosen) else -1, -1).astype(INT)
        # rows without a record (label -1) come out missing: string NA, NaN, NaT; the copied
        # OVR variables are taken for all parameters at once (records())
        if yes_no:
            values = spread_text(np.array(["Y", default or "N"], dtype=object),
                                 np.where(has, 0, 1), pd.RangeIndex(len(has)))
        else:
            given = pd.Series(pd.api.extensions.take(chosen["AVALC"].astype(TEXT).array,
                                                     pos, allow_fill=True)) \
                if "AVALC" in chosen.columns else \
                self._copied(idx, ("AVALC",))["AVALC"].astype(TEXT)
            values = given.where(pd.Series(has), default).astype(TEXT)
        if override is not None:        # landmark Y/N decided by the caller
            values = override
        cfg = self.settings.adrs
        aval = text_numbers(values, _YES_NO if yes_no else cfg.aval_map)
        self._records.append({
            "USUBJID": subjects,
            # one text per parameter: spread to all parameters' records at once (records())
            "PARAMCD": code,
            "PARAM": param,
            "PARCAT1": "Tumor Response",
            "PARCAT2": self.title,
            "PARCAT3": cfg.category,
            "AVALC": values.reset_index(drop=True),
            "AVAL": aval.reset_index(drop=True),
            **dict.fromkeys(_COPIED, idx),      # OVR record labels, taken in records()
        })

    def records(self) -> list[pd.DataFrame]:
        """The parameters' records as one frame (in the order they were added; parameters
        without records left out, as a concatenation of one frame per parameter leaves
        empty frames out): each column concatenated once, not a frame per parameter."""
        made = [r for r in self._records if len(r["USUBJID"])]    # type: ignore[arg-type]
        if not made:
            return []
        sizes = [len(r["USUBJID"]) for r in made]                  # type: ignore[arg-type]
        index = pd.RangeIndex(sum(sizes))
        columns = {}
        copied = self._copied(np.concatenate([r[_COPIED[0]] for r in made]), _COPIED)
        for name in made[0]:
            parts = [r[name] for r in made]
            if name in copied:
                columns[name] = copied[name]
            elif isinstance(parts[0], pd.Series):
                columns[name] = pd.concat(parts, ignore_index=True)   # type: ignore[arg-type]
            else:       # a parameter's one text, spread by parameter number
                table = list(dict.fromkeys(parts))
                codes = np.repeat([table.index(t) for t in parts], sizes)
                columns[name] = spread_text(np.array(table, dtype=object), codes, index)
        return [pd.DataFrame(columns, copy=False)]


def _analysed(ovr: pd.DataFrame, refdt_by_subject: pd.Series, keep: pd.Series) -> pd.DataFrame:
    frame = ovr.loc[keep, ["USUBJID", "ADT", "AVALC", "SRCSEQ"]]
    frame = frame.assign(REFDT=as_dates(_lookup(frame["USUBJID"], refdt_by_subject)))
    return frame


def _landmark(builder: _ParamBuilder, analysed: pd.DataFrame, lm: Landmark,
              dthdt: pd.Series, settings: AdamSettings, methods: dict[str, str]) -> None:
    cfg = settings.adrs
    days = lm.landmark_days
    ref_name = lm.reference_date or builder.analysis.reference_date
    ref = analysed["REFDT"]
    if lm.reference_date is not None and builder.dates is not None:
        if lm.reference_date not in builder.dates.columns:
            raise KeyError(f"ADSL has no {lm.reference_date}")
        # only the landmark day moves; SD duration still counts from the analysis' date
        ref = as_dates(_lookup(analysed["USUBJID"], builder.dates[lm.reference_date]))
    wanted = [r.upper() for r in lm.responses]
    if lm.rule == "status" and _status_by_code(builder, analysed, lm, ref, dthdt, wanted):
        _landmark_method(lm, ref_name, wanted, methods)
        return
    land = ref + pd.to_timedelta(days, unit="D")
    kept = (analysed["ADT"] <= land + pd.to_timedelta(lm.window_after, unit="D")) \
        .fillna(False).to_numpy(dtype=bool)
    upto = analysed.loc[kept]
    if lm.rule == "status":
        # the reference date rides along only where it is read (not a copy of every analysed
        # record per landmark)
        last = last_of_subject(upto.assign(_LMREF=ref.to_numpy()[kept]))
        lm_day = last["_LMREF"] + pd.to_timedelta(days, unit="D")
        near = last["ADT"] >= lm_day - pd.to_timedelta(lm.window_before, unit="D")
        dead = (as_dates(_lookup(last["USUBJID"], dthdt)) <= lm_day).fillna(False)
        ok = (near & last["AVALC"].isin(wanted) & ~dead).fillna(False).astype(bool)
        chosen = pd.DataFrame({"USUBJID": last["USUBJID"], "source_index": last.index})
        flags = pd.Series(ok.to_numpy(), index=last["USUBJID"].to_numpy())
    else:
        if lm.confirmed:
            best = confirmed_best_overall_response(upto, cfg.sd_min_days,
                                                   cfg.confirmation.min_days,
                                                   cfg.confirmation.max_ne,
                                                   cfg.confirmation.accept_sd)
        else:
            best = best_overall_response(upto, cfg.sd_min_days)
        chosen = best[["USUBJID", "source_index"]]
        flags = pd.Series(best["AVALC"].isin(wanted).to_numpy(), index=best["USUBJID"].to_numpy())
    pop = builder.population
    hit = _lookup(pop, flags.astype(BOOLEAN)).fillna(False).to_numpy(dtype=bool)
    values = pd.Series(np.where(hit, "Y", "N"), dtype=TEXT)
    builder.add(lm.paramcd, lm.param, chosen, yes_no=True, default="N", override=values)
    _landmark_method(lm, ref_name, wanted, methods)


def _landmark_method(lm: Landmark, ref_name: str, wanted: list[str], methods: dict[str, str]
                     ) -> None:
    days = lm.landmark_days
    if lm.rule == "status":
        text = (f"Y when the last analysed overall response dated up to {ref_name} + {days} + "
                f"{lm.window_after} days is dated from {ref_name} + {days} - {lm.window_before} "
                f"days, is in {', '.join(wanted)}, and the subject is alive at {ref_name} + "
                f"{days} days; else N")
    else:
        text = (f"Y when the {'confirmed ' if lm.confirmed else ''}best overall response over "
                f"analysed assessments dated up to {ref_name} + {days} + {lm.window_after} days "
                f"is in {', '.join(wanted)}; else N")
    methods[f"PARAMCD={lm.paramcd}"] = lm.param + ": " + text


def _status_by_code(builder: _ParamBuilder, analysed: pd.DataFrame, lm: Landmark,
                    ref: pd.Series, dthdt: pd.Series, wanted: list[str]) -> bool:
    """A ``status`` landmark's records added to ``builder`` (True), computed on the subjects'
    category codes and plain date arrays: each subject's last analysed response dated up to
    the reference date + landmark + window_after days (:func:`record_of`), Y when it is dated
    from the landmark day - window_before days, is one of ``wanted`` and the subject has not
    died by the landmark day (NaT compares False, as the frame version's ``fillna(False)``).
    The same records as the frame version below, which runs when the subjects are not the
    ADSL categories (False: nothing added). 100 subjects, three landmarks: ≈ 5 % of the ADaM
    derivations' CPU before (a frame copy, a lookup by text and eight Series per landmark)."""
    ids = analysed["USUBJID"]
    if ids.dtype != builder.subjects or not isinstance(ids.dtype, pd.CategoricalDtype):
        return False        # pragma: no cover - OVR's subjects are ADSL's categories
    codes = ids.cat.codes.to_numpy()
    if (codes < 0).any():   # pragma: no cover - ADSL subjects only
        return False
    days = np.timedelta64(lm.landmark_days, "D")
    start = ref.to_numpy(dtype=DATES)
    adt = analysed["ADT"].to_numpy(dtype=DATES)
    rows = np.flatnonzero(adt <= start + days + np.timedelta64(lm.window_after, "D"))
    count = len(ids.cat.categories)
    at = record_of(codes[rows], [adt[rows]], count, last=True)
    last = rows[at[at >= 0]]                 # in subject order, as last_of_subject
    subject = codes[last]
    lm_day = start[last] + days
    died = as_dates(_lookup(pd.Series(pd.Categorical.from_codes(subject, dtype=ids.dtype)),
                            dthdt)).to_numpy(dtype=DATES)
    ok = (adt[last] >= lm_day - np.timedelta64(lm.window_before, "D")) \
        & analysed["AVALC"].isin(wanted).to_numpy(dtype=bool)[last] & ~(died <= lm_day)
    flag_of = np.zeros(count + 1, dtype=bool)    # the last entry: a population code -1
    flag_of[subject] = ok
    chosen = pd.DataFrame({"USUBJID": pd.Categorical.from_codes(subject, dtype=ids.dtype),
                           "source_index": analysed.index[last]})
    values = pd.Series(np.where(flag_of[builder.population_codes], "Y", "N"), dtype=TEXT)
    builder.add(lm.paramcd, lm.param, chosen, yes_no=True, default="N", override=values)
    return True


def _by_subject_and_date(analysed: pd.DataFrame, *parts: np.ndarray) -> pd.DataFrame:
    """USUBJID and source_index (index label) of the records each of ``parts`` marks (bool
    masks over ``analysed``; a record in two parts comes twice), by subject and ADT, ties in
    part order, then in record order: what ``pd.concat`` of the parts' records and a
    ``sort_values(["USUBJID", "ADT"], kind="mergesort")`` give, as one stable sort of the
    subjects' category codes and the dates (no copy of the records, no frame sort; CB and
    CCB: ≈ 2 % of the derivations' CPU at 100 subjects before)."""
    ids = analysed["USUBJID"]
    codes = ids.cat.codes.to_numpy() if isinstance(ids.dtype, pd.CategoricalDtype) else None
    if codes is None or (codes < 0).any():     # pragma: no cover - ADSL subjects only
        both = pd.concat([analysed.loc[p] for p in parts]) \
            .sort_values(["USUBJID", "ADT"], kind="mergesort")
        return pd.DataFrame({"USUBJID": both["USUBJID"], "source_index": both.index})
    at = np.concatenate([np.flatnonzero(p) for p in parts])
    order = at[stable_order([analysed["ADT"].to_numpy(dtype=DATES)[at], codes[at]])]
    return pd.DataFrame({"USUBJID": pd.Categorical.from_codes(codes[order], dtype=ids.dtype),
                         "source_index": analysed.index[order]})


def _analysis_parameters(builder: _ParamBuilder, responses: ResponseData, dthdt: pd.Series,
                         settings: AdamSettings, methods: dict[str, str]) -> None:
    analysed = responses.ovr
    cfg = settings.adrs
    a = builder.analysis
    sfx, psfx = a.paramcd_suffix, a.param_suffix
    title = builder.title
    conf = cfg.confirmation
    window = pd.to_timedelta(cfg.sd_min_days, unit="D")
    ref = a.reference_date
    crit = f"(reference {ref}, SD >= {cfg.sd_min_days} days after it)"
    conf_text = (f"confirmed by CR/PR >= {conf.min_days} days later, at most {conf.max_ne} NE "
                 f"{'and one SD ' if conf.accept_sd else 'and no SD '}in between")
    sd_rows = (analysed["AVALC"].isin(["CR", "PR", "SD", "NON-CR/NON-PD"])
               & (analysed["ADT"] >= analysed["REFDT"] + window).fillna(False)) \
        .to_numpy(dtype=bool)
    flags = confirmed_flags(analysed, conf.min_days, conf.max_ne, conf.accept_sd)
    best_of: dict[bool, pd.DataFrame] = {}     # BOR/BCP and CBOR/CBCP share one computation

    def best(confirmed: bool) -> pd.DataFrame:
        if confirmed not in best_of:
            best_of[confirmed] = confirmed_best_overall_response(
                analysed, cfg.sd_min_days, conf.min_days, conf.max_ne, conf.accept_sd) \
                if confirmed else best_overall_response(analysed, cfg.sd_min_days)
        return best_of[confirmed]

    for code in a.parameters:
        key = f"PARAMCD={code}{sfx}"
        if code == "PD":
            pdr = analysed.loc[analysed["AVALC"] == "PD"]
            chosen = pd.DataFrame({"USUBJID": pdr["USUBJID"], "source_index": pdr.index})
            builder.add(code + sfx, f"Disease Progression by {title}{psfx}", chosen,
                        yes_no=True, default="N")
            methods[key] = "Y at the first analysed PD, else N"
        elif code == "RSP":
            builder.add(code + sfx, f"Response by {title} (confirmation not required){psfx}",
                        responses.first_response(), yes_no=True, default="N")
            methods[key] = "Y at the first analysed CR or PR, else N"
        elif code == "CB":
            rows = analysed["AVALC"].isin(["CR", "PR"]).to_numpy(dtype=bool)
            chosen = _by_subject_and_date(analysed, rows, sd_rows)
            builder.add(code + sfx, f"Clinical Benefit by {title} (confirmation for response "
                        f"not required){psfx}", chosen, yes_no=True, default="N")
            methods[key] = ("Y at the first CR/PR, or CR/PR/SD/NON-CR/NON-PD dated >= "
                            f"{ref} + {cfg.sd_min_days} days, else N")
        elif code == "BOR":
            builder.add(code + sfx, f"Best Overall Response by {title} (confirmation not "
                        f"required){psfx}", best(False), yes_no=False, default="MISSING")
            methods[key] = ("Best of analysed responses CR > PR > SD > NON-CR/NON-PD > PD > NE, "
                            f"earliest date among equals; SD/NON-CR/NON-PD count only "
                            f"{crit}, else NE; none: MISSING (RECIST 1.1 §4.4.3)")
        elif code == "CRSP":
            first = responses.first_response(confirmed=True, min_gap_days=conf.min_days,
                                             max_ne=conf.max_ne, accept_sd=conf.accept_sd)
            builder.add(code + sfx, f"Confirmed Response by {title}{psfx}", first,
                        yes_no=True, default="N")
            methods[key] = (f"Y at the first CR/PR {conf_text}, no PR after CR (RECIST 1.1 "
                            "§4.6.1), else N")
        elif code == "CCB":
            hit = flags["confirmed_cr"] | flags["confirmed_pr"]
            rows = hit.reindex(analysed.index).fillna(False).to_numpy(dtype=bool)
            chosen = _by_subject_and_date(analysed, rows, sd_rows)
            builder.add(code + sfx, f"Confirmed Clinical Benefit by {title}{psfx}", chosen,
                        yes_no=True, default="N")
            methods[key] = ("Y at the first confirmed CR/PR or CR/PR/SD/NON-CR/NON-PD dated >= "
                            f"{ref} + {cfg.sd_min_days} days, else N")
        elif code == "CBOR":
            builder.add(code + sfx, f"Best Confirmed Overall Response by {title}{psfx}",
                        best(True), yes_no=False, default="MISSING")
            methods[key] = (f"Confirmed CR/PR ({conf_text}) else SD/NON-CR/NON-PD {crit}, PD, "
                            "NE; none: MISSING (RECIST 1.1 §4.4.3 table 3)")
        elif code in ("BCP", "CBCP"):
            bor = best(code == "CBCP")
            hit = bor.loc[bor["AVALC"].isin(["CR", "PR"])]
            what = "Best Overall Response" if code == "BCP" else "Best Confirmed Overall Response"
            note = " (confirmation not required)" if code == "BCP" else ""
            builder.add(code + sfx, f"{what} of CR/PR by {title}{note}{psfx}", hit,
                        yes_no=True, default="N")
            methods[key] = (f"Y when {'BOR' if code == 'BCP' else 'CBOR'}{sfx} is CR or PR "
                            "(admiralonco ad_adrs.R), else N")
        elif code == "LSTA":
            pool = builder.after_pd if a.lsta_after_progression and \
                builder.after_pd is not None else analysed
            last = last_of_subject(pool)
            chosen = pd.DataFrame({"USUBJID": last["USUBJID"], "source_index": last.index})
            builder.add(code + sfx, f"Last Disease Assessment by {title}{psfx}", chosen,
                        yes_no=False, default=None)
            methods[key] = ("Last overall response dated on/after the reference date, after a "
                            "PD too (ANL01FL)" if a.lsta_after_progression else
                            "Last analysed overall response (subjects with one)")
    for lm in a.landmarks:
        _landmark(builder, analysed, lm, dthdt, settings, methods)


def derive_adrs(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame,
                baseline_tumours: pd.DataFrame, settings: AdamSettings, findings: Findings,
                methods: dict[str, str]) -> tuple[pd.DataFrame, dict[str, ResponseData]]:
    """ADRS and, per analysis id, the analysed responses that ADTTE builds on.

    Each of ``adrs.evaluators`` adds its own OVR records and parameters (PARAMCD suffix); its
    analysed responses are keyed ``<analysis id>@<evaluator>``.
    """
    with shared_preparation():     # BOR, CBOR, RSP, ... of one frame: sorted once
        return _derive_all(sdtm, adsl, baseline_tumours, settings, findings, methods)


def _derive_all(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame,
                baseline_tumours: pd.DataFrame, settings: AdamSettings, findings: Findings,
                methods: dict[str, str]) -> tuple[pd.DataFrame, dict[str, ResponseData]]:
    cfg = settings.adrs
    parts, data = _derive_one(sdtm, adsl, baseline_tumours, settings, findings, methods)
    subjects = parts[0]["USUBJID"].dtype     # collected values as found (adrs.collected)
    parts += [c.assign(USUBJID=c["USUBJID"].astype(subjects))
              for c in collected_responses(sdtm, adsl, settings, findings, methods)]
    ovr_codes = ["OVR"]
    for extra in cfg.evaluators:
        sfx = extra.paramcd_suffix
        analyses = [a.model_copy(update={"paramcd_suffix": a.paramcd_suffix + sfx})
                    for a in cfg.analyses]
        one = settings.model_copy(update={"adrs": cfg.model_copy(update={
            "evaluator": extra.evaluator, "evaluators": [], "analyses": analyses,
            "death_parameter": False, "mdis_parameter": False})})
        more, more_data = _derive_one(sdtm, adsl, baseline_tumours, one, findings, methods,
                                      ovr_code="OVR" + sfx)
        parts.extend(more)
        data.update({f"{key}@{extra.evaluator}": d for key, d in more_data.items()})
        ovr_codes.append("OVR" + sfx)
    adrs = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    return _finish(adrs, adsl, settings, ovr_codes), data


def _derive_one(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame,
                baseline_tumours: pd.DataFrame, settings: AdamSettings, findings: Findings,
                methods: dict[str, str], ovr_code: str = "OVR"
                ) -> tuple[list[pd.DataFrame], dict[str, ResponseData]]:
    """Record parts (unfinished) and analysed responses of ``settings.adrs.evaluator``."""
    cfg = settings.adrs
    ovr = _ovr_records(sdtm, adsl, settings, findings, ovr_code)
    who = "RSDRVFL = Y (computed)" if cfg.evaluator == "COMPUTED" else \
        f"RSEVAL = {cfg.evaluator}, RSDRVFL not Y"
    methods[f"PARAMCD={ovr_code}"] = (f"RS.RSSTRESC where RSTESTCD = {cfg.testcd}, {who}"
                              + (f", RSCAT = {cfg.category}" if cfg.category else "")
                              + "; AVAL: " + ", ".join(f"{k} = {v:g}" for k, v in
                                                       cfg.aval_map.items()))
    imputed = {"none": "complete dates only", "D": "a missing day imputed",
               "M": "a missing day/month imputed"}[cfg.date_highest_imputation]
    methods["ADT"] = (f"OVR: RS.RSDTC, {imputed}"
                      + (f" to the {cfg.date_imputation} day (ADTF = D/M)"
                         if cfg.date_highest_imputation != "none" else "")
                      + "; derived parameters: the date of the record chosen")
    # subjects as a categorical of the sorted ADSL ids: sorting and grouping on codes is far
    # cheaper than on text; _finish turns it back into "string"
    subjects = pd.CategoricalDtype(np.sort(adsl["USUBJID"].dropna().unique().astype(object)))
    ovr["USUBJID"] = ovr["USUBJID"].astype(subjects)
    therapy = _new_therapy(sdtm, settings, findings)
    by_subject = adsl.set_index("USUBJID")
    dthdt = by_subject["DTHDT"]
    parts = []
    data: dict[str, ResponseData] = {}
    warned_pr: set[int] = set()
    for k, analysis in enumerate(cfg.analyses):
        if analysis.reference_date not in by_subject.columns:
            raise KeyError(f"ADSL has no {analysis.reference_date}")
        refdt_subj = as_dates(by_subject[analysis.reference_date])
        refdt = as_dates(_lookup(ovr["USUBJID"], refdt_subj))
        # new anti-cancer therapy: earliest start after this analysis' reference date
        th = therapy.assign(_ref=as_dates(lookup(therapy["USUBJID"], refdt_subj)))
        th = th.loc[(th["DT"] > th["_ref"]).fillna(False).astype(bool)]
        nact_subj = th.groupby("USUBJID")["DT"].min()
        nact = as_dates(_lookup(ovr["USUBJID"], nact_subj))
        anl1, anl2 = _flag_analysis(ovr, refdt, nact)
        f1, f2 = f"ANL{2 * k + 1:02d}FL", f"ANL{2 * k + 2:02d}FL"
        ovr[f1], ovr[f2] = _yn(anl1), _yn(anl2)
        methods[f1] = (f"OVR ({analysis.id}): Y on the worst response of each date among "
                       f"records dated on/after {analysis.reference_date}"
                       + (" and not after new anti-cancer therapy" if cfg.new_therapy else ""))
        methods[f2] = (f"OVR ({analysis.id}): Y from {analysis.reference_date} up to and "
                       f"including the first PD")
        analysed = _analysed(ovr, refdt_subj, anl1 & anl2)
        if analysis.subjects == "all":
            population = adsl["USUBJID"]
        else:
            population = adsl.loc[adsl[analysis.reference_date].notna(), "USUBJID"]
        builder = _ParamBuilder(ovr, population, settings, analysis, dates=by_subject)
        if analysis.lsta_after_progression and "LSTA" in analysis.parameters:
            builder.after_pd = _analysed(ovr, refdt_subj, anl1)   # read by LSTA only
        data[analysis.id] = ResponseData(analysis=analysis, ovr=analysed, nactdt=nact_subj,
                                         population=population)
        _analysis_parameters(builder, data[analysis.id], dthdt, settings, methods)
        parts.extend(builder.records())
        flagged = pr_after_cr(analysed)
        new = [i for i in flagged.index[flagged.to_numpy(dtype=bool)] if i not in warned_pr]
        if new:
            warned_pr.update(new)
            rows = ovr.loc[new]
            report_rows(findings, rows.assign(_V=rows["ADT"].dt.strftime("%Y-%m-%d"),
                                              RSSEQ=rows["SRCSEQ"]), "RS",
                        rule="CMAP-AD0003", severity=Severity.WARNING,
                        message="PR after an earlier CR (RECIST 1.1 §4.4.3 table 3 note): check "
                                "the CR; it is not confirmed by this PR",
                        variable="RSSTRESC", value_col="_V")
    parts.insert(0, ovr)
    if cfg.death_parameter:
        parts.append(_death_param(adsl, subjects))
        methods["PARAMCD=DEATH"] = "Y with ADT = ADSL.DTHDT for subjects who died, else N"
    if cfg.mdis_parameter:
        parts.append(_mdis_param(adsl, baseline_tumours, settings, subjects))
        methods["PARAMCD=MDIS"] = (f"Y when the baseline {settings.adsl.baseline.dataset} "
                                   "records include a TARGET lesion, else N")
    return parts, data


def _death_param(adsl: pd.DataFrame, subjects: pd.CategoricalDtype) -> pd.DataFrame:
    n = len(adsl)
    dead = adsl["DTHDT"].notna().to_numpy()
    return pd.DataFrame({
        "USUBJID": adsl["USUBJID"].astype(subjects).array,
        "PARAMCD": pd.Series(["DEATH"] * n, dtype=TEXT),
        "PARAM": pd.Series(["Death"] * n, dtype=TEXT),
        "PARCAT1": pd.Series(["Reference Event"] * n, dtype=TEXT),
        "AVALC": _yn(dead).fillna("N"),
        "AVAL": np.where(dead, 1.0, 0.0),
        "ADT": adsl["DTHDT"].to_numpy(),
        "SRCDOM": _text_where(dead, "ADSL"),
        "SRCVAR": _text_where(dead, "DTHDT"),
    })


def _mdis_param(adsl: pd.DataFrame, baseline: pd.DataFrame, settings: AdamSettings,
                subjects: pd.CategoricalDtype) -> pd.DataFrame:
    # each subject's TARGET record of lowest SEQ (NaN last, ties: the first record)
    subject = adsl_positions(adsl, baseline["USUBJID"])
    at = record_of(subject, [baseline["SEQ"].to_numpy(dtype=FLOAT)], len(adsl),
                   last=False, use=(baseline["TUSTRESC"] == "TARGET").fillna(False)
                   .to_numpy(dtype=bool))
    seq = taken_at(baseline["SEQ"].astype(FLOAT), at, adsl.index)
    has = at >= 0
    n = len(adsl)
    cfg = settings.adrs
    dom = settings.adsl.baseline.dataset
    return pd.DataFrame({
        "USUBJID": adsl["USUBJID"].astype(subjects).array,
        "PARAMCD": pd.Series(["MDIS"] * n, dtype=TEXT),
        "PARAM": pd.Series([f"Measurable Disease at Baseline by {_title(cfg.evaluator)}"] * n,
                           dtype=TEXT),
        "PARCAT2": pd.Series([_title(cfg.evaluator)] * n, dtype=TEXT),
        "PARCAT3": pd.Series([cfg.category] * n, dtype=TEXT),
        "AVALC": _yn(has).fillna("N"),
        "AVAL": np.where(has, 1.0, 0.0),
        "SRCDOM": _text_where(has, dom),
        "SRCVAR": _text_where(has, dom[:2] + "STRESC"),
        "SRCSEQ": seq.to_numpy(),
    })


def _paramcd_codes(adrs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """PARAMCD as codes in text order (missing: the last code) and the distinct codes, made
    once for the record order and the derived-record flags: on the "string" column's object
    array (the same codes, half the cost of its NA path)."""
    paramcd, names = pd.factorize(np.asarray(adrs["PARAMCD"].array, dtype=object), sort=True)
    return np.where(paramcd < 0, len(names), paramcd), np.asarray(names, dtype=object)


def _record_order(adrs: pd.DataFrame, paramcd: np.ndarray | None = None) -> np.ndarray | None:
    """Positions of the records by USUBJID, PARAMCD, ADT, AVISITN, SRCSEQ (missing last,
    ties in record order): one stable sort of arrays (USUBJID by its category codes, the
    sorted ADSL ids; PARAMCD as codes in text order), not a sort of the frame. None when a
    USUBJID is not an ADSL id."""
    subject = adrs["USUBJID"].cat.codes.to_numpy() if \
        isinstance(adrs["USUBJID"].dtype, pd.CategoricalDtype) else None
    if subject is None or (subject < 0).any():   # pragma: no cover - ADSL subjects only
        return None
    if paramcd is None:
        paramcd = _paramcd_codes(adrs)[0]                       # missing PARAMCD last
    return stable_order([adrs["SRCSEQ"].to_numpy(dtype=float),
                         adrs["AVISITN"].to_numpy(dtype=float),
                         adrs["ADT"].to_numpy(dtype=DATES), paramcd, subject])


def _taken(column: pd.Series, order: np.ndarray) -> object:
    """The column's values in ``order`` (its own array type: no dtype change, no check)."""
    values = column.array if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) \
        else column.to_numpy()
    return values.take(order)


def _finish(adrs: pd.DataFrame, adsl: pd.DataFrame, settings: AdamSettings,
            ovr_codes: list[str] | None = None) -> pd.DataFrame:
    """ADSL identifiers, ASEQ, dtypes and a stable row order: the sorted records are built
    once, column by column, in their final order (no sorted copy of the frame, then a copy
    of its columns)."""
    flags = sorted(c for c in adrs.columns if c.startswith("ANL") and c.endswith("FL"))
    for c in RECORD_COLUMNS + flags:
        if c not in adrs.columns:
            adrs[c] = pd.NA
    for c in ("AVAL", "AVISITN", "SRCSEQ"):     # a column of the right type is not copied
        if adrs[c].dtype != "float64":
            adrs[c] = pd.to_numeric(adrs[c], errors="coerce").astype(FLOAT)
    if adrs["ADT"].dtype != "datetime64[ns]":
        adrs["ADT"] = as_dates(adrs["ADT"]).astype(DATES)
    for c in RECORD_COLUMNS + flags:
        if c not in ("USUBJID", "AVAL", "AVISITN", "SRCSEQ", "ADT") and \
                adrs[c].dtype != "string":      # a "string" column is left as it is, not copied
            adrs[c] = adrs[c].astype(TEXT)
    # derived parameter records are flagged for analysis (admiralonco sets ANL01FL = Y)
    paramcd, names = _paramcd_codes(adrs)
    # per distinct PARAMCD (the last entry: a missing one, which isin does not find)
    derived = np.append(~pd.Index(names).isin(ovr_codes or ["OVR"]), True)[paramcd]
    order = _record_order(adrs, paramcd)
    if order is None:       # pragma: no cover - ADSL subjects only
        adrs = adrs.assign(ANL01FL=adrs["ANL01FL"].mask(derived, "Y")).sort_values(
            ["USUBJID", "PARAMCD", "ADT", "AVISITN", "SRCSEQ"], kind="mergesort",
            na_position="last").reset_index(drop=True)
        order, derived = np.arange(len(adrs)), np.zeros(len(adrs), dtype=bool)
    carried = [c for c in ADSL_CARRIED if c in adsl.columns] + \
        list(settings.adsl.cohort_variables)
    # ADSL identifiers by category code (USUBJID categories are the sorted ADSL ids)
    categories = adrs["USUBJID"].cat.categories
    codes = adrs["USUBJID"].cat.codes.to_numpy()[order]
    ids = adsl[carried].drop_duplicates("USUBJID").set_index("USUBJID").reindex(categories)
    columns: dict[str, object] = {}
    for name in carried:
        columns[name] = spread_text(np.asarray(categories, dtype=object), codes,
                                    pd.RangeIndex(len(codes))).array \
            if name == "USUBJID" else ids[name].array.take(codes)
    columns["ASEQ"] = numbered(codes)
    head = ["PARAMCD", "PARAM", "PARCAT1", "PARCAT2", "PARCAT3", "AVALC", "AVAL", "ADT", "ADTF",
            "AVISIT", "AVISITN"]
    for name in head + flags + ["SRCDOM", "SRCVAR", "SRCSEQ"]:
        columns[name] = _taken(adrs[name], order)
    if "ANL01FL" in columns:     # without OVR records there is no flag to set
        anl = columns["ANL01FL"]
        anl[derived[order]] = "Y"            # type: ignore[index]
    # the arrays are this frame's own (taken above): not copied again
    return pd.DataFrame(columns, index=pd.RangeIndex(len(codes)), copy=False)
