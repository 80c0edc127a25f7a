"""CORE-derived rules (family CR): published CDISC CORE rules that apply to what cdiscmap writes.

Why: the cross-dataset rules of :mod:`cdiscmap.checks.crossdomain` are cdiscmap's own; these
implement conditions that the CDISC Open Rules Engine checks (rule YAMLs of
cdisc-org/cdisc-open-rules, ``Published/``), so that ``cdiscmap validate`` catches before
submission what an outside validator would report. Each rule holds on correct data; the
bundled studies' own output raises none of them (tests/unit/test_core_rules.py).

This module holds the subject-level (DM), trial-design and relationship rules and the entry
point; the rules scoped by SDTM class live in :mod:`cdiscmap.checks.core_rules_events`. The
CORE ids, conformance ids and IG sections of every rule: :mod:`cdiscmap.checks.core_map`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.checks import core_rules_events as ev
from cdiscmap.checks.core_rules_events import (
    date_after,
    filled,
    is_value,
    not_one_to_one,
    number,
    raw_isin,
    shown,
    text,
)
from cdiscmap.checks.facts import complete_heads, text_facts
from cdiscmap.findings import Finding, Severity
from cdiscmap.sdtm.vectorize import combined_key, map_unique, string_array
from cdiscmap.standards.classes import day_pairs
from cdiscmap.standards.models import Standards

OWN_RULES: dict[str, tuple[Severity, str]] = {
    "CMAP-CR0001": (Severity.ERROR, "DM.DTHDTC is populated but DM.DTHFL is not Y"),
    "CMAP-CR0002": (Severity.ERROR, "AE records a death (AESDTH Y or AEOUT FATAL) but DM.DTHFL "
                                    "is not Y"),
    "CMAP-CR0003": (Severity.ERROR, "DS records a death (DSDECOD DEATH) but DM.DTHFL is not Y"),
    "CMAP-CR0004": (Severity.ERROR, "the subject has a DD (death details) record but DM.DTHFL "
                                    "is not Y"),
    "CMAP-CR0005": (Severity.ERROR, "ARMCD or ARM is null but ARMNRS is null"),
    "CMAP-CR0006": (Severity.ERROR, "ARMNRS is populated although ARMCD and ACTARMCD are both "
                                    "populated"),
    "CMAP-CR0007": (Severity.ERROR, "ACTARMCD or ACTARM is null but ARMNRS is null"),
    "CMAP-CR0008": (Severity.ERROR, "ARM (ACTARM) is populated while ARMCD (ACTARMCD) is null"),
    "CMAP-CR0009": (Severity.ERROR, "DM.ARMCD or DM.ACTARMCD is not an ARMCD of TA"),
    "CMAP-CR0010": (Severity.ERROR, "ARMCD/ARM or ACTARMCD/ACTARM are not one-to-one in DM"),
    "CMAP-CR0011": (Severity.ERROR, "AGE and AGEU are not populated together"),
    "CMAP-CR0012": (Severity.ERROR, "AGE is negative"),
    "CMAP-CR0013": (Severity.ERROR, "RFSTDTC is after RFENDTC, or RFXSTDTC after RFXENDTC"),
    "CMAP-CR0014": (Severity.ERROR, "DM.RFXSTDTC is not the subject's earliest EX.EXSTDTC"),
    "CMAP-CR0015": (Severity.ERROR, "DM.RFXENDTC is not the subject's latest EX.EXSTDTC or "
                                    "EX.EXENDTC"),
    "CMAP-CR0016": (Severity.ERROR, "DM.RFICDTC is not the earliest DSSTDTC of the subject's "
                                    "INFORMED CONSENT OBTAINED records in DS"),
    "CMAP-CR0017": (Severity.ERROR, "USUBJID or SUBJID is not unique in DM"),
    "CMAP-CR0018": (Severity.ERROR, "STUDYID is not DM's STUDYID"),
    "CMAP-CR0043": (Severity.ERROR, "VISIT and VISITNUM of planned visits are not one-to-one "
                                    "in a dataset"),
    "CMAP-CR0044": (Severity.ERROR, "EPOCH is not an epoch of TA"),
    "CMAP-CR0045": (Severity.ERROR, "VISITNUM of a subject is not in the subject's SV records"),
    "CMAP-CR0046": (Severity.ERROR, "more than one DS disposition event per subject, DSSCAT and "
                                    "EPOCH"),
    "CMAP-CR0047": (Severity.ERROR, "TSPARMCD and TSPARM are not one-to-one"),
    "CMAP-CR0048": (Severity.ERROR, "TSSEQ is not unique within TSPARMCD"),
    "CMAP-CR0049": (Severity.ERROR, "TAETORD is not unique within an arm of TA"),
    "CMAP-CR0050": (Severity.ERROR, "ETCD and ELEMENT are not one-to-one across TE, TA and SE"),
    "CMAP-CR0051": (Severity.ERROR, "RELREC.RDOMAIN is not a dataset of the study"),
    "CMAP-CR0052": (Severity.ERROR, "a RELID of a subject is on one RELREC record only (a "
                                    "relationship needs two)"),
    "CMAP-CR0053": (Severity.ERROR, "QNAM and QLABEL are not one-to-one in a SUPP-- dataset"),
    "CMAP-CR0054": (Severity.ERROR, "IDVAR, IDVARVAL and QNAM are not unique per parent subject "
                                    "record in a SUPP-- dataset"),
    "CMAP-CR0055": (Severity.ERROR, "a study day (--DY, --STDY, --ENDY) is populated although its "
                                    "date or DM.RFSTDTC is not a complete date"),
    "CMAP-CR0056": (Severity.WARNING, "a study day (--DY, --STDY, --ENDY) is null although its "
                                      "date and DM.RFSTDTC are complete dates"),
    "CMAP-CR0057": (Severity.ERROR, "SEENDTC is not the SESTDTC of the subject's next element"),
    "CMAP-CR0058": (Severity.ERROR, "SEENDTC is null on an element that is not the subject's "
                                    "last"),
    "CMAP-CR0059": (Severity.ERROR, "--TPT and --TPTNUM are not one-to-one in a dataset"),
    "CMAP-CR0060": (Severity.ERROR, "a subject with an actual arm (ACTARMCD) has no DS record"),
}

RULES: dict[str, tuple[Severity, str]] = dict(sorted({**OWN_RULES, **ev.RULES}.items()))


def _emit(rule: str, dataset: str, frame: pd.DataFrame, mask: ev.Mask, variable: str,
          values: ev.Values) -> list[Finding]:
    return ev.emit(rule, dataset, frame, mask, variable, values, OWN_RULES)


def _subject_value(frame: pd.DataFrame, dm: pd.DataFrame, column: str) -> pd.Series:
    """DM's ``column`` for each record's subject."""
    ref = dm.drop_duplicates("USUBJID").set_index("USUBJID")[column]
    return frame["USUBJID"].map(ref)


def _first(dates: pd.DataFrame, last: bool = False) -> pd.Series:
    """Each subject's (``u``) earliest or latest ISO date text (``d``), by subject: the
    distinct dates are sorted once as text and each record takes its date's rank, so the
    records are sorted by two integers (no per-group Python, which a groupby min of text
    falls back to, and no text compared per record)."""
    subject, subjects = pd.factorize(dates["u"])
    date, distinct = pd.factorize(dates["d"])
    if not len(subject):
        return pd.Series(dates["d"].array[:0], index=pd.Index(subjects), name="d")
    distinct = np.asarray(distinct, dtype=object)
    ascending = np.argsort(distinct, kind="stable")     # as sort_values orders text
    rank = np.empty(len(distinct), dtype=np.intp)
    rank[ascending] = np.arange(len(distinct))
    order = np.lexsort((rank[date], subject))
    ends = np.flatnonzero(np.diff(subject[order], append=-1)) if last else \
        np.flatnonzero(np.diff(subject[order], prepend=-1))
    chosen = order[ends]
    return pd.Series(pd.array(distinct[date[chosen]], dtype=dates["d"].dtype),
                     index=pd.Index(subjects[subject[chosen]]), name="d")


def _date10(s: pd.Series) -> pd.Series:
    """The stripped first 10 characters (blank: null), cut once per distinct value of a text
    column (its text facts), not once per record."""
    facts = text_facts(s) if isinstance(s.dtype, pd.StringDtype) else None
    if facts is None or not len(facts.uniques):
        return s.astype("string").str.strip().str.slice(0, 10).mask(lambda x: x == "")
    # str.strip and a slice per distinct text, as the "string" accessors do them, without
    # their Series (1,400 records, 300 distinct: 0.41 -> 0.06 ms); the last entry: code -1
    table = np.array([u.strip()[:10] or pd.NA for u in facts.uniques.tolist()] + [pd.NA],
                     dtype=object)
    return pd.Series(string_array(table[facts.codes]), index=s.index)


# ---------------------------------------------------------------------------------------------
# DM
# ---------------------------------------------------------------------------------------------
def _death_flag(dm: pd.DataFrame, domains: dict[str, pd.DataFrame]) -> list[Finding]:
    """CR0001: CG0435, FB0606 (CORE-000007); CR0002: CG0134, CG0135, FB0603, FB0604
    (CORE-000254, -000253); CR0003: CG0136, FB0605 (CORE-000252); CR0004: CG0133, FB0602
    (CORE-000108). SDTMIG 3.4 §5.2 (DM DTHFL, DTHDTC), §6.3.2 (DD)."""
    out: list[Finding] = []
    yes = is_value(dm, "DTHFL", "Y")
    if "DTHDTC" in dm:
        out += _emit("CMAP-CR0001", "DM", dm, filled(dm, "DTHDTC") & ~yes, "DTHFL",
                     shown("DTHFL", "DTHDTC"))
    # as an object array: iterating a "string" column goes through pandas per value
    flagged = np.asarray(dm.loc[yes, "USUBJID"], dtype=object)
    ae, ds, dd = domains.get("AE"), domains.get("DS"), domains.get("DD")
    checks = []
    if ae is not None and "USUBJID" in ae:
        checks += [("CMAP-CR0002", "AE", ae, "AESDTH", is_value(ae, "AESDTH", "Y")),
                   ("CMAP-CR0002", "AE", ae, "AEOUT", is_value(ae, "AEOUT", "FATAL"))]
    if ds is not None and "USUBJID" in ds:
        checks.append(("CMAP-CR0003", "DS", ds, "DSDECOD", is_value(ds, "DSDECOD", "DEATH")))
    if dd is not None and "USUBJID" in dd:
        checks.append(("CMAP-CR0004", "DD", dd, "USUBJID", dd["USUBJID"].notna().to_numpy()))
    for rule, name, frame, column, death in checks:
        if column not in frame:
            continue
        bad = death & ~raw_isin(frame, "USUBJID", flagged)
        if rule == "CMAP-CR0004":       # one finding per subject, not per DD test
            bad &= ~frame["USUBJID"].duplicated().to_numpy()
        out += _emit(rule, name, frame, bad, column,
                     lambda b, column=column: b[column].astype("string") + " (DM.DTHFL=" +
                     _subject_value(b, dm, "DTHFL").astype("string").fillna("(null)") + ")")
    return out


def _arms(dm: pd.DataFrame, ta: pd.DataFrame | None) -> list[Finding]:
    """CR0005: CG0517, CG0519 (CORE-000045, -000046); CR0006: CG0520 (CORE-000121); CR0007:
    CG0513, CG0515 (CORE-000223, -000224); CR0008: CG0521, CG0522 (CORE-000119, -000120);
    CR0009: CG0516, CG0512 (CORE-000210, -000208); CR0010: FB0902, FB0903 (CORE-000318,
    -000791). SDTMIG 3.4 §5.2 (DM arm variables and ARMNRS)."""
    out: list[Finding] = []
    if "ARMNRS" in dm:
        nrs = filled(dm, "ARMNRS")
        for rule, code, name in (("CMAP-CR0005", "ARMCD", "ARM"),
                                 ("CMAP-CR0007", "ACTARMCD", "ACTARM")):
            if code in dm or name in dm:
                missing = ~filled(dm, code) | ~filled(dm, name)
                out += _emit(rule, "DM", dm, missing & ~nrs, "ARMNRS", shown(code, name))
        if "ARMCD" in dm and "ACTARMCD" in dm:
            out += _emit("CMAP-CR0006", "DM", dm, nrs & filled(dm, "ARMCD") &
                         filled(dm, "ACTARMCD"), "ARMNRS", dm["ARMNRS"])
    for code, name in (("ARMCD", "ARM"), ("ACTARMCD", "ACTARM")):
        if name in dm:
            out += _emit("CMAP-CR0008", "DM", dm, filled(dm, name) & ~filled(dm, code), name,
                         dm[name])
        if code in dm and name in dm:
            out += _emit("CMAP-CR0010", "DM", dm, not_one_to_one(dm, code, name), code,
                         shown(code, name))
    if ta is not None and "ARMCD" in ta:
        arms = set(text(ta, "ARMCD").dropna())
        for code in ("ARMCD", "ACTARMCD"):
            if code in dm:
                value = text(dm, code)
                out += _emit("CMAP-CR0009", "DM", dm, value.notna() & ~value.isin(arms), code,
                             dm[code])
    return out


def _dm_values(dm: pd.DataFrame, domains: dict[str, pd.DataFrame]) -> list[Finding]:
    """CR0011: CG0665, CG0666 (CORE-000189, -000190); CR0012: FB4001 (CORE-000310); CR0013:
    FB3404, FB3408 (CORE-000711, -000714); CR0017: CG0151, CG0150 (CORE-000351, -000186);
    CR0018: CG0409 (CORE-000172). SDTMIG 3.4 §5.2, §4.2.6 (STUDYID)."""
    out: list[Finding] = []
    if "AGE" in dm or "AGEU" in dm:
        age = number(dm, "AGE").notna()
        unit = filled(dm, "AGEU")
        out += _emit("CMAP-CR0011", "DM", dm, age != unit, "AGEU", shown("AGE", "AGEU"))
        out += _emit("CMAP-CR0012", "DM", dm, number(dm, "AGE") < 0, "AGE", dm.get("AGE", age))
    for start, end in (("RFSTDTC", "RFENDTC"), ("RFXSTDTC", "RFXENDTC")):
        if start in dm and end in dm:
            out += _emit("CMAP-CR0013", "DM", dm, date_after(dm[start], dm[end]), start,
                         shown(start, end))
    for column in ("USUBJID", "SUBJID"):
        if column in dm:
            out += _emit("CMAP-CR0017", "DM", dm, filled(dm, column) &
                         text(dm, column).duplicated(keep="first"), column, dm[column])
    studies = set(ev.distinct(dm, "STUDYID").tolist())
    if studies:
        for name, frame in {"DM": dm, **domains}.items():
            if "STUDYID" in frame:
                out += _emit("CMAP-CR0018", name, frame, filled(frame, "STUDYID") &
                             ~is_value(frame, "STUDYID", *studies), "STUDYID",
                             frame["STUDYID"])
    return out


def _reference_dates(dm: pd.DataFrame, domains: dict[str, pd.DataFrame]) -> list[Finding]:
    """CR0014: CG0148 (CORE-000239); CR0015: CG0147 (CORE-000238); CR0016: CG0068
    (CORE-000363). SDTMIG 3.4 §5.2 (RFXSTDTC, RFXENDTC, RFICDTC). Dates are compared on their
    date part (a time given on one side only is not a disagreement)."""
    out: list[Finding] = []
    ex, ds = domains.get("EX"), domains.get("DS")
    if ex is not None and {"USUBJID", "EXSTDTC"} <= set(ex.columns):
        starts = pd.DataFrame({"u": ex["USUBJID"], "d": _date10(ex["EXSTDTC"])}).dropna()
        # (a text column's first 10 characters from its own distinct values: the same as
        # of its cleaned text, without factorising a cleaned copy)
        end = ex["EXENDTC"] if "EXENDTC" in ex and \
            isinstance(ex["EXENDTC"].dtype, pd.StringDtype) else text(ex, "EXENDTC")
        ends = pd.concat([starts, pd.DataFrame({"u": ex["USUBJID"],
                                                "d": _date10(end)}).dropna()])
        for rule, column, per_subject in (
                ("CMAP-CR0014", "RFXSTDTC", _first(starts)),
                ("CMAP-CR0015", "RFXENDTC", _first(ends, last=True))):
            if column not in dm:
                continue
            expect = dm["USUBJID"].map(per_subject).astype("string")
            given = _date10(dm[column])
            bad = (expect.notna() | given.notna()) & (given != expect).fillna(True)
            if bad.any():               # the text shown is made only when there is a finding
                out += _emit(rule, "DM", dm, bad, column, dm[column].astype("string")
                             .fillna("(null)") + " vs EX " + expect.fillna("(none)"))
    if ds is not None and "RFICDTC" in dm and {"USUBJID", "DSDECOD", "DSSTDTC"} <= set(ds):
        consent = (text(ds, "DSDECOD") == "INFORMED CONSENT OBTAINED").fillna(False)
        # the dates of the whole column (its text facts), then the consent records'
        first = _first(pd.DataFrame({"u": ds["USUBJID"],
                                     "d": _date10(ds["DSSTDTC"])})[consent].dropna())
        expect = dm["USUBJID"].map(first).astype("string")
        bad = expect.notna() & (_date10(dm["RFICDTC"]) != expect).fillna(True)
        if bad.any():
            out += _emit("CMAP-CR0016", "DM", dm, bad, "RFICDTC", dm["RFICDTC"]
                         .astype("string").fillna("(null)") + " vs DS " + expect.fillna(""))
    return out


# ---------------------------------------------------------------------------------------------
# visits, epochs, disposition, trial design, relationships
# ---------------------------------------------------------------------------------------------
def _visits_epochs(domains: dict[str, pd.DataFrame]) -> list[Finding]:
    """CR0043: CG0035, FB0919 (CORE-000361), SDTMIG 3.4 §4.4.5; CR0044: CG0009 (CORE-000271),
    SDTMIG 3.4 §4.1.3.1; CR0045: CG0034 (CORE-000168), SDTMIG 3.4 §5.5; CR0059: CG0240,
    FB0922 (CORE-000141), SDTMIG 3.4 §4.4.10; CR0060: CG0540 (CORE-000296), SDTMIG 3.4
    §6.2.3."""
    out: list[Finding] = []
    dm, ds = domains.get("DM"), domains.get("DS")
    if dm is not None and ds is not None and "ACTARMCD" in dm and {"USUBJID"} <= \
            set(dm.columns) & set(ds.columns):
        # without DS the package has no disposition at all (a case series): not this rule
        # its distinct subjects, not every record (an object array: no Python set of them)
        with_ds = np.asarray(ds["USUBJID"].unique(), dtype=object)
        out += _emit("CMAP-CR0060", "DM", dm, filled(dm, "ACTARMCD") &
                     ~dm["USUBJID"].isin(with_ds), "ACTARMCD", dm["ACTARMCD"])
    ta, sv, tv = domains.get("TA"), domains.get("SV"), domains.get("TV")
    planned_visits = set(number(tv, "VISITNUM").dropna()) if tv is not None else None
    epochs = set(text(ta, "EPOCH").dropna()) if ta is not None and "EPOCH" in ta else None
    visits = None
    if sv is not None and {"USUBJID", "VISITNUM"} <= set(sv.columns):
        visits = _SubjectVisits(sv)
    for name, frame in domains.items():
        if "VISIT" in frame and "VISITNUM" in frame:
            # reported on planned visits only: those of TV (CORE-000361), else whole
            # VISITNUMs (unplanned ones are numbered with decimals, SDTMIG 3.4 §4.4.5)
            if planned_visits is not None:      # asked per distinct VISITNUM
                found, distinct = ev.number_codes(frame, "VISITNUM")
                planned = np.append(_among(distinct, planned_visits), False)[found]
            else:
                n = number(frame, "VISITNUM")
                planned = n == n.round()
            out += _emit("CMAP-CR0043", name, frame,
                         planned & not_one_to_one(frame, "VISITNUM", "VISIT"), "VISITNUM",
                         shown("VISITNUM", "VISIT"))
        tpt, tptnum = f"{name[:2]}TPT", f"{name[:2]}TPTNUM"
        if tpt in frame and tptnum in frame:
            out += _emit("CMAP-CR0059", name, frame, not_one_to_one(frame, tptnum, tpt), tptnum,
                         shown(tptnum, tpt))
        if epochs and "EPOCH" in frame and name != "TA":
            out += _emit("CMAP-CR0044", name, frame, filled(frame, "EPOCH") &
                         ~is_value(frame, "EPOCH", *epochs), "EPOCH", frame["EPOCH"])
        if visits is not None and name not in ("SV", "TV") and "USUBJID" in frame \
                and "VISITNUM" in frame:
            out += _emit("CMAP-CR0045", name, frame, visits.missing(frame), "VISITNUM",
                         frame["VISITNUM"])
    return out


def _among(values: pd.Series | np.ndarray, numbers: set[float]) -> np.ndarray:
    """``values.isin(numbers)`` for numbers (no NaN in ``numbers``; a null value is in none):
    each value looked up in the sorted numbers (a binary search in C, no hash table)."""
    table = np.array(sorted(numbers), dtype=np.float64)
    given = values.to_numpy(dtype=np.float64, na_value=np.nan) \
        if isinstance(values, pd.Series) else np.asarray(values, dtype=np.float64)
    if not len(table):
        return np.zeros(len(given), dtype=bool)
    at = np.minimum(np.searchsorted(table, given), len(table) - 1)
    return table[at] == given


class _Keys:
    """A set of integer keys from 0 to ``size`` - 1 asked about many integers at once: a
    table of flags when ``size`` is small enough (no hashing), else a hash table."""

    def __init__(self, keys: np.ndarray, size: int) -> None:
        self.table = None
        if size <= ev.PAIR_TABLE_LIMIT:
            self.table = np.zeros(size, dtype=bool)
            self.table[keys] = True
        else:
            self.index = pd.Index(pd.unique(keys))

    def isin(self, keys: np.ndarray) -> np.ndarray:
        if self.table is not None:
            return self.table[keys]
        return self.index.get_indexer(keys) >= 0


class _SubjectVisits:
    """The (USUBJID, VISITNUM) pairs of SV, asked whether a record's pair is among them:
    subjects and visit numbers as integer codes, SV's pairs as one sorted key array (a merge
    of the text of every record costs a hash of each)."""

    def __init__(self, sv: pd.DataFrame) -> None:
        n = number(sv, "VISITNUM").to_numpy(dtype="float64", na_value=np.nan)
        subject = sv["USUBJID"]
        valid = subject.notna().to_numpy() & ~np.isnan(n)
        self.subjects = pd.Index(subject[valid].unique())
        self.visits = np.unique(n[valid])
        sid = self.subjects.get_indexer(subject[valid])
        self.keys = _Keys(sid * len(self.visits) + np.searchsorted(self.visits, n[valid]),
                          len(self.subjects) * len(self.visits))

    def missing(self, frame: pd.DataFrame) -> np.ndarray:
        """Records with a VISITNUM whose subject has no SV record of that VISITNUM: each
        distinct VISITNUM looked up among SV's once, the records' subjects and visits then
        combined as integers."""
        numbers, distinct = ev.number_codes(frame, "VISITNUM")
        given = numbers >= 0
        found, uniques = ev.raw_codes(frame, "USUBJID")
        sid = np.append(self.subjects.get_indexer(uniques), -1)[found]
        at_distinct = np.searchsorted(self.visits, distinct)
        visit_distinct = (at_distinct < len(self.visits)) & \
            (self.visits[np.minimum(at_distinct, len(self.visits) - 1)] == distinct) \
            if len(self.visits) else np.zeros(len(distinct), dtype=bool)
        at = np.append(at_distinct, 0)[numbers]                 # NaN: code -1, no visit
        visit = np.append(visit_distinct, False)[numbers]
        known = (sid >= 0) & visit
        known[known] = self.keys.isin(sid[known] * len(self.visits) + at[known])
        return given & ~known


_COMPLETE = r"\d{4}-\d{2}-\d{2}"


def _complete10(values: pd.Series) -> pd.Series:
    """Whether the first 10 characters are a complete date (False for null), once per
    distinct value."""
    return map_unique(values, lambda u: u.astype("string").str.slice(0, 10)
                      .str.fullmatch(_COMPLETE).astype("boolean")).fillna(False).astype(bool)


def _study_days(dm: pd.DataFrame, domains: dict[str, pd.DataFrame]) -> list[Finding]:
    """CR0055: CG0007, CG0221, CG0223 (CORE-000354, -000138, -000139); CR0056: FB1602
    (CORE-000853). SDTMIG 3.4 §4.4.4: a study day only from two complete dates. Whether the
    value is right is CMAP-XD0006."""
    out: list[Finding] = []
    if "RFSTDTC" not in dm:
        return out
    # whether each subject's RFSTDTC is complete, asked of DM's distinct values once
    by_subject = dm.drop_duplicates("USUBJID").set_index("USUBJID")["RFSTDTC"]
    complete_ref = _complete10(by_subject.astype("string")).to_numpy()
    subject_complete = by_subject.index[complete_ref]
    for name, frame in domains.items():
        if name == "DM" or "USUBJID" not in frame:
            continue
        p = name[:2]
        # a subject not in DM (known False) is CMAP-XD0001's
        ref_complete, known = _subject_flags(frame, by_subject.index, complete_ref) or \
            (raw_isin(frame, "USUBJID", subject_complete),
             raw_isin(frame, "USUBJID", dm["USUBJID"]))
        for dtc, dy in day_pairs(list(frame.columns), p):
            complete = ev.on_table(frame, dtc, complete_heads)
            day = number(frame, dy).notna().to_numpy()
            out += _emit("CMAP-CR0055", name, frame, known & day & ~(complete & ref_complete), dy,
                         shown(dy, dtc))
            out += _emit("CMAP-CR0056", name, frame, ~day & complete & ref_complete, dy,
                         shown(dy, dtc))
    return out


def _subject_flags(frame: pd.DataFrame, subjects: pd.Index, flag: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """For each record, whether its subject is one of DM's distinct ``subjects`` whose
    ``flag`` is set, and whether it is in DM at all (``raw_isin`` of the flagged subjects and
    of DM's USUBJID): each distinct USUBJID of the frame looked up once among DM's, instead of
    hashing DM's subjects again for each question and dataset. None when the frame's USUBJID
    is not a text column or DM's subjects are not unique (the caller asks ``raw_isin``)."""
    facts = ev.text_facts_of(frame, "USUBJID")
    if facts is None or not subjects.is_unique:
        return None
    at = subjects.get_indexer(np.asarray(facts.uniques, dtype=object))
    null = subjects.isna()                  # a null record matches a null subject of DM
    null_at = int(np.flatnonzero(null)[0]) if null.any() else -1
    at = np.append(at, null_at)[facts.codes]
    inside = at >= 0
    flagged = np.append(np.asarray(flag, dtype=bool), False)[at]
    return flagged & inside, inside


def _elements(se: pd.DataFrame | None) -> list[Finding]:
    """CR0057: CG0207 (CORE-000352); CR0058: CG0209 (CORE-000527). SDTMIG 3.4 §5.3: a
    subject's elements follow each other without gaps, each ending where the next starts."""
    if se is None or not {"USUBJID", "SESTDTC", "SEENDTC"} <= set(se.columns):
        return []
    order = [c for c in ("USUBJID", "SESEQ") if c in se] if "SESEQ" in se else \
        ["USUBJID", "SESTDTC"]
    ordered = se.sort_values(order, kind="stable")
    same = ordered["USUBJID"].shift(-1) == ordered["USUBJID"]
    start_next = text(ordered, "SESTDTC").shift(-1)
    end = text(ordered, "SEENDTC")
    has_next = same.fillna(False).astype(bool)
    gap = (has_next & end.notna() & (end != start_next).fillna(True)).reindex(se.index)
    open_end = (has_next & end.isna()).reindex(se.index)
    nxt = start_next.reindex(se.index)
    return _emit("CMAP-CR0057", "SE", se, gap, "SEENDTC",
                 lambda bad: text(bad, "SEENDTC") + " vs next SESTDTC " +
                 nxt[bad.index].fillna("(null)")) + \
        _emit("CMAP-CR0058", "SE", se, open_end, "SEENDTC", shown("ETCD", "SESTDTC"))


def _disposition(ds: pd.DataFrame | None) -> list[Finding]:
    """CR0046: CG0536 (CORE-000213), SDTMIG 3.4 §6.2.3 (one disposition event per epoch and
    DSSCAT)."""
    if ds is None or not {"USUBJID", "DSCAT", "EPOCH"} <= set(ds.columns):
        return []
    event = (text(ds, "DSCAT") == "DISPOSITION EVENT").fillna(False)
    keys = pd.DataFrame({"u": ds["USUBJID"], "s": text(ds, "DSSCAT").fillna(""),
                         "e": text(ds, "EPOCH")})[event & filled(ds, "EPOCH")]
    dup = keys.duplicated(keep="first").reindex(ds.index, fill_value=False)
    return _emit("CMAP-CR0046", "DS", ds, dup, "EPOCH", shown("EPOCH", "DSDECOD"))


def _trial_design(domains: dict[str, pd.DataFrame]) -> list[Finding]:
    """CR0047: CG0307, FB0916 (CORE-000179); CR0048: CG0268 (CORE-000154), SDTMIG 3.4 §7.4.2;
    CR0049: CG0247 (CORE-000144), SDTMIG 3.4 §7.2.1; CR0050: CG0154, FB0914 (CORE-000132),
    SDTMIG 3.4 §5.3, §7.2.1, §7.2.2."""
    out: list[Finding] = []
    ts, ta = domains.get("TS"), domains.get("TA")
    if ts is not None and {"TSPARMCD", "TSPARM"} <= set(ts.columns):
        out += _emit("CMAP-CR0047", "TS", ts, not_one_to_one(ts, "TSPARMCD", "TSPARM"),
                     "TSPARMCD", shown("TSPARMCD", "TSPARM"))
    if ts is not None and {"TSPARMCD", "TSSEQ"} <= set(ts.columns):
        dup = ts.duplicated(["TSPARMCD", "TSSEQ"], keep="first") & ts["TSSEQ"].notna()
        out += _emit("CMAP-CR0048", "TS", ts, dup, "TSSEQ", shown("TSPARMCD", "TSSEQ"))
    if ta is not None and {"ARMCD", "TAETORD"} <= set(ta.columns):
        dup = ta.duplicated(["ARMCD", "TAETORD"], keep="first") & ta["TAETORD"].notna()
        out += _emit("CMAP-CR0049", "TA", ta, dup, "TAETORD", shown("ARMCD", "TAETORD"))
    parts = [(n, f) for n in ("TE", "TA", "SE") if (f := domains.get(n)) is not None
             and {"ETCD", "ELEMENT"} <= set(f.columns)]
    if parts:
        pairs = pd.concat([pd.DataFrame({"ETCD": text(f, "ETCD"), "ELEMENT": text(f, "ELEMENT"),
                                         "_n": n, "_i": f.index}) for n, f in parts],
                          ignore_index=True)
        bad = not_one_to_one(pairs, "ETCD", "ELEMENT")
        for n, f in parts:
            mine = pairs[(pairs["_n"] == n) & bad]
            mask = pd.Series(f.index.isin(mine["_i"]), index=f.index)
            out += _emit("CMAP-CR0050", n, f, mask, "ETCD", shown("ETCD", "ELEMENT"))
    return out


def _alone(frame: pd.DataFrame, a: str, b: str) -> np.ndarray:
    """Whether no other record has the same cleaned values of ``a`` and ``b`` (False where
    either is null): the records of the groups of one that ``groupby([a, b]).transform("size")``
    on the cleaned text finds, counted on the columns' codes (no text hashed again)."""
    ca, cb = ev.codes(frame, a), ev.codes(frame, b)
    key, span = combined_key([(ca, len(ev.distinct(frame, a))),
                              (cb, len(ev.distinct(frame, b)))])
    return (np.bincount(key, minlength=span)[key] == 1) & (ca >= 0) & (cb >= 0)


def _relationships(domains: dict[str, pd.DataFrame], supp: dict[str, pd.DataFrame]
                   ) -> list[Finding]:
    """CR0051: CG0374 (CORE-000384); CR0052: CG0200 (CORE-000484), SDTMIG 3.4 §8.2.1;
    CR0053: FB0920 (CORE-000302); CR0054: CG0411 (CORE-000203), SDTMIG 3.4 §8.4."""
    out: list[Finding] = []
    relrec = domains.get("RELREC")
    present = set(domains) | set(supp)
    if relrec is not None and "RDOMAIN" in relrec:
        value = text(relrec, "RDOMAIN")
        out += _emit("CMAP-CR0051", "RELREC", relrec, value.notna() & ~value.isin(present),
                     "RDOMAIN", relrec["RDOMAIN"])
    if relrec is not None and {"USUBJID", "RELID"} <= set(relrec.columns):
        subject = filled(relrec, "USUBJID")       # dataset-level relationships have no subject
        out += _emit("CMAP-CR0052", "RELREC", relrec, subject & filled(relrec, "RELID") &
                     _alone(relrec, "USUBJID", "RELID"), "RELID", relrec["RELID"])
    for name, frame in supp.items():
        if {"QNAM", "QLABEL"} <= set(frame.columns):
            out += _emit("CMAP-CR0053", name, frame, not_one_to_one(frame, "QNAM", "QLABEL"),
                         "QNAM", shown("QNAM", "QLABEL"))
        keys = [c for c in ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM")
                if c in frame]
        if "QNAM" in keys and "USUBJID" in keys:
            # as astype("string").fillna("").duplicated(keep="first"), on the keys' codes
            dup = ev.duplicated(ev.group_codes(frame, keys))
            out += _emit("CMAP-CR0054", name, frame, dup, "QNAM",
                         shown(*[k for k in ("IDVAR", "IDVARVAL", "QNAM") if k in keys]))
    return out


# The rules in four parts, run in this order: the subject-level (DM) rules, the rules by SDTM
# class, the visit and epoch rules, the other study-level ones (disposition, trial design,
# relationships). ``validate`` runs the visit and epoch rules in the parent and the others in
# its forked child, so the two processes take about the same time; the findings of the parts,
# concatenated in this order, are those of one call.
PARTS = ("subject", "class", "visits", "study")


def check_core_rules(domains: dict[str, pd.DataFrame],
                     supp: dict[str, pd.DataFrame] | None = None,
                     standards: Standards | None = None) -> list[Finding]:
    """Every CR rule on a set of SDTM datasets (SUPP-- apart). ``standards`` gives each
    dataset's class (the study's, with its custom domains, when the pipeline calls this)."""
    found = check_core_parts(domains, supp, standards)
    return [finding for part in PARTS for finding in found[part]]


def check_core_parts(domains: dict[str, pd.DataFrame],
                     supp: dict[str, pd.DataFrame] | None = None,
                     standards: Standards | None = None, *,
                     parts: tuple[str, ...] = PARTS) -> dict[str, list[Finding]]:
    """The findings of the CR rules of ``parts`` (of :data:`PARTS`), by part: those of
    :func:`check_core_rules` are the parts' lists concatenated in the order of PARTS."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown CORE rule parts {sorted(unknown)}")
    with ev.column_cache():
        return _check_core_parts(domains, supp or {}, standards, parts)


def _check_core_parts(domains: dict[str, pd.DataFrame], supp: dict[str, pd.DataFrame],
                      standards: Standards | None, parts: tuple[str, ...]
                      ) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {part: [] for part in parts}
    dm = domains.get("DM")
    if "subject" in out and dm is not None and "USUBJID" in dm:
        out["subject"] = _death_flag(dm, domains) + _arms(dm, domains.get("TA")) + \
            _dm_values(dm, {n: f for n, f in {**domains, **supp}.items() if n != "DM"}) + \
            _reference_dates(dm, domains) + _study_days(dm, domains)
    if "class" in out:
        for name, frame in domains.items():
            if name != "DM" and name not in ("RELREC",):
                out["class"] += ev.check_class_rules(name, frame, standards)
    if "visits" in out:
        out["visits"] = _visits_epochs(domains)
    if "study" in out:
        out["study"] = _disposition(domains.get("DS")) + _elements(domains.get("SE")) + \
            _trial_design(domains) + _relationships(domains, supp)
    return out


__all__ = ["OWN_RULES", "PARTS", "RULES", "check_core_parts", "check_core_rules"]
