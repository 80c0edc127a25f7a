"""Trial design datasets from study.yaml (TE, TA, TV, TI) and the subject-level SE and SV derived
from the mapped data (SDTMIG 3.4 §7 Trial Design Model, §5.3 SE, §5.4 SV).

Why here: the planned design is study knowledge and lives in study.yaml ``trial_design:``
(:class:`cdiscmap.spec.design.TrialDesignSpec`); what each subject actually went through is
in the data. SE dates each planned Element of the subject's Arm from the DM variable the
element names (``start_date``: RFICDTC, RFXSTDTC, RFXENDTC, ...), so the element ends where
the next one starts (§5.3: SEENDTC of one element is SESTDTC of the next) and the last one at
its ``end_date`` (e.g. RFPENDTC). SV takes every record that has VISITNUM and a date, in every
domain, and keeps per subject and visit the first and last date (§5.4: SVSTDTC/SVENDTC).
Every builder works on whole frames; nothing loops over subjects or records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdiscmap.sdtm.dates import study_day
from cdiscmap.sdtm.vectorize import (
    coded,
    constant_text,
    filled_objects,
    stable_order,
    text_from_codes,
)
from cdiscmap.spec.design import TrialDesignSpec

_TEXT = "string"
_NO_ARM = "<no planned arm>"     # subjects outside every planned Arm (no ARMCD has "<")


def _frame(rows: list[dict[str, object]], studyid: str, domain: str,
           columns: list[str]) -> pd.DataFrame:
    """STUDYID, DOMAIN, then ``columns`` of ``rows`` (the values' types as DataFrame infers
    them; text as ``string``) and the lineage columns: built as one frame from its columns
    (inserting and converting column by column cost more than the few rows)."""
    inferred = pd.DataFrame(rows, columns=columns)
    n = len(inferred)
    data: dict[str, object] = {"STUDYID": pd.array([studyid] * n, dtype=_TEXT),
                               "DOMAIN": pd.array([domain] * n, dtype=_TEXT)}
    for name, values in inferred.items():
        data[name] = pd.array(values.to_numpy(), dtype=_TEXT) if values.dtype == object \
            else values.to_numpy()
    data["_SRCFILE"] = filled_objects(n, "study.yaml")
    data["_SRCROW"] = np.zeros(n, dtype=np.int64)
    return pd.DataFrame(data, index=inferred.index)


def build_te(design: TrialDesignSpec, studyid: str) -> pd.DataFrame | None:
    """TE (SDTMIG 3.4 §7.3.2): one record per planned Element."""
    if not design.elements:
        return None
    rows = [{"ETCD": e.etcd, "ELEMENT": e.element, "TESTRL": e.start, "TEENRL": e.end,
             "TEDUR": e.duration} for e in design.elements]
    return _frame(rows, studyid, "TE", ["ETCD", "ELEMENT", "TESTRL", "TEENRL", "TEDUR"])


def build_ta(design: TrialDesignSpec, studyid: str) -> pd.DataFrame | None:
    """TA (SDTMIG 3.4 §7.2.1): one record per planned Element per Arm, TAETORD from 1."""
    if not design.arms:
        return None
    names = {e.etcd: e.element for e in design.elements}
    rows = [{"ARMCD": arm.armcd, "ARM": arm.arm, "TAETORD": float(order), "ETCD": el.etcd,
             "ELEMENT": names[el.etcd], "TABRANCH": el.branch, "TATRANS": el.transition,
             "EPOCH": el.epoch}
            for arm in design.arms for order, el in enumerate(arm.elements, start=1)]
    return _frame(rows, studyid, "TA", ["ARMCD", "ARM", "TAETORD", "ETCD", "ELEMENT",
                                        "TABRANCH", "TATRANS", "EPOCH"])


def build_tv(design: TrialDesignSpec, studyid: str) -> pd.DataFrame | None:
    """TV (SDTMIG 3.4 §7.3.1): one record per planned Visit, or per Visit per Arm when the
    visit is planned for some Arms only (ARMCD null: the same for every Arm)."""
    if not design.visits:
        return None
    arm_names = {a.armcd: a.arm for a in design.arms}
    rows = [{"VISITNUM": float(v.visitnum), "VISIT": v.visit, "VISITDY": v.visitdy,
             "ARMCD": armcd, "ARM": arm_names.get(armcd) if armcd else None,
             "TVSTRL": v.start, "TVENRL": v.end}
            for v in design.visits for armcd in (v.arms or [None])]
    tv = _frame(rows, studyid, "TV", ["VISITNUM", "VISIT", "VISITDY", "ARMCD", "ARM",
                                      "TVSTRL", "TVENRL"])
    tv["VISITDY"] = tv["VISITDY"].astype("float64")
    return tv


def build_ti(design: TrialDesignSpec, studyid: str) -> pd.DataFrame | None:
    """TI (SDTMIG 3.4 §7.4.1): one record per inclusion/exclusion criterion."""
    if not design.criteria:
        return None
    rows = [{"IETESTCD": c.ietestcd, "IETEST": c.test, "IECAT": c.category,
             "IESCAT": c.subcategory, "TIRL": c.rule, "TIVERS": c.version}
            for c in design.criteria]
    return _frame(rows, studyid, "TI", ["IETESTCD", "IETEST", "IECAT", "IESCAT", "TIRL",
                                        "TIVERS"])


def _day_after(dtc: pd.Series, end_dtc: pd.Series) -> np.ndarray:
    """Rows whose date part (YYYY-MM-DD) is after that of ``end_dtc``, both complete dates
    (as text, ``astype("string").str.slice(0, 10)`` compared), decided on the distinct
    values of both columns: their date parts cut and ordered once."""
    codes, uniques = pd.factorize(np.concatenate([dtc.to_numpy(dtype=object),
                                                  end_dtc.to_numpy(dtype=object)]))
    days = pd.Series(np.asarray(uniques, dtype=object), dtype=object).astype(
        "string").str.slice(0, 10).to_numpy(dtype=object, na_value="")
    complete = np.array([len(d) == 10 for d in days] + [False])     # code -1 (null): no date
    day_codes, day_uniques = pd.factorize(days)                       # one rank per date part
    rank = np.append(_ranks(np.asarray(day_uniques, dtype=object))[day_codes], -1)
    start, end = codes[:len(dtc)], codes[len(dtc):]
    return complete[start] & complete[end] & (rank[start] > rank[end])


def _subject_arm_elements(design: TrialDesignSpec) -> pd.DataFrame:
    """Planned elements per ARMCD with their order, epoch and date variables. ``_NO_ARM``
    stands for subjects outside every planned Arm (screen failures, not assigned): they can
    only have gone through the elements every Arm starts with (SDTMIG 3.4 §5.3)."""
    elements = {e.etcd: e for e in design.elements}
    rows: list[dict[str, object]] = []
    for arm in design.arms:
        for order, el in enumerate(arm.elements, start=1):
            spec = elements[el.etcd]
            rows.append({"ARMCD": arm.armcd, "TAETORD": float(order), "ETCD": el.etcd,
                         "ELEMENT": spec.element, "EPOCH": el.epoch,
                         "_START": spec.start_date, "_END": spec.end_date})
    planned = pd.DataFrame(rows)
    # the leading elements shared by every arm, for subjects without a planned arm
    common = []
    for order in range(1, min(len(a.elements) for a in design.arms) + 1):
        at = {(a.elements[order - 1].etcd, a.elements[order - 1].epoch) for a in design.arms}
        if len(at) != 1:
            break
        common.append(order)
    lead = planned[(planned["ARMCD"] == design.arms[0].armcd)
                   & planned["TAETORD"].isin([float(o) for o in common])]
    return pd.concat([planned, lead.assign(ARMCD=_NO_ARM)], ignore_index=True)


def _at(values: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``values.to_numpy(dtype=object)[rows]`` reading only those rows (a ``string``
    column's own array, no copy or null scan of the whole column)."""
    return np.asarray(values.array, dtype=object)[rows]


def build_se(design: TrialDesignSpec, studyid: str, dm: pd.DataFrame | None
             ) -> pd.DataFrame | None:
    """SE (SDTMIG 3.4 §5.3): the Elements each subject entered, dated from DM.

    An element is entered when the DM variable its ``start_date`` names has a date for the
    subject, not after the element's own ``end_date``; it ends where the subject's next entered
    element starts, the last one at its ``end_date`` variable (SEENDTC null when that has no
    date: still in the element).

    Built on arrays (a few rows per subject, ordered by USUBJID, null last, then TAETORD):
    each subject's first DM record gives its arm and dates, as joins of DM with the planned
    elements would, without sorting or merging text."""
    if dm is None or dm.empty or not design.arms or not any(e.start_date
                                                              for e in design.elements):
        return None
    planned = _subject_arm_elements(design)
    planned = planned[planned["_START"].notna()].reset_index(drop=True)
    # the subjects (first record of each USUBJID, a null one too), by USUBJID, null last
    subject, ids = coded(dm["USUBJID"])
    n_ids = len(ids)
    key = np.where(subject < 0, n_ids, subject)
    first = np.full(n_ids + 1, -1, dtype=np.intp)
    first[key[::-1]] = np.arange(len(key) - 1, -1, -1, dtype=np.intp)
    rank = np.append(_ranks(np.asarray(ids, dtype=object)), n_ids)
    order = np.flatnonzero(first >= 0)
    order = order[np.argsort(rank[order], kind="stable")]     # subject keys in SE's order
    dm_rows = first[order]
    # each subject's arm: its ARMCD when planned, else the elements every arm starts with
    arms = pd.Index(pd.unique(planned["ARMCD"].to_numpy(dtype=object)))
    armcd = _at(dm["ARMCD"], dm_rows) if "ARMCD" in dm \
        else filled_objects(len(dm_rows), _NO_ARM)
    arm = arms.get_indexer(armcd)
    arm = np.where(arm >= 0, arm, arms.get_indexer([_NO_ARM])[0])
    # the planned elements of each subject's arm, in TAETORD order (none: arm not planned)
    element_arm = arms.get_indexer(planned["ARMCD"].to_numpy(dtype=object))
    by_arm = np.lexsort((planned["TAETORD"].to_numpy(dtype=np.float64), element_arm))
    per_arm = np.bincount(element_arm, minlength=len(arms))
    arm_start = np.concatenate([[0], np.cumsum(per_arm)[:-1]])
    count = np.where(arm >= 0, per_arm[np.maximum(arm, 0)], 0)
    who = np.repeat(np.arange(len(dm_rows)), count)           # subject position per row
    block = np.concatenate([[0], np.cumsum(count)[:-1]])
    element = by_arm[arm_start[arm[who]] + np.arange(len(who)) - block[who]]
    # dates: the subject's value of the DM variable the element names (null: not in DM)
    date_vars = sorted({v for v in (*planned["_START"], *planned["_END"].dropna())
                        if v in dm.columns})
    # None in every cell, as numpy makes an object array (np.full(None): twice the time)
    table = np.empty((len(date_vars) + 1, len(dm_rows)), dtype=object)
    for i, var in enumerate(date_vars):
        values = _at(dm[var], dm_rows)
        table[i] = np.where(pd.isna(values), None, values)
    var_index = pd.Index(date_vars, dtype=object)

    def dated(names: pd.Series) -> np.ndarray:
        at = var_index.get_indexer(names.to_numpy(dtype=object))
        return table[np.where(at >= 0, at, len(date_vars))[element], who]

    start, end = dated(planned["_START"]), dated(planned["_END"])
    keep = pd.notna(start)
    keep[keep] = ~_day_after(pd.Series(start[keep]), pd.Series(end[keep]))
    # an element that would start after its own end date was not entered: GIST's follow-up
    # "starts" at RFENDTC, which is the data cut-off for a subject still treated, after the
    # last contact (RFPENDTC) that ends it
    rows = np.flatnonzero(keep)
    if not len(rows):
        return None
    who, element, start, end = who[rows], element[rows], start[rows], end[rows]
    real = subject[dm_rows[who]] >= 0            # a null USUBJID is no group: no SESEQ
    new = np.ones(len(who), dtype=bool)
    new[1:] = who[1:] != who[:-1]
    # ends where the subject's next entered element starts, the last one at its end date
    follows = np.append(~new[1:] & real[1:], False)
    nxt = np.append(start[1:], None)
    seen = np.where(follows, nxt, end)
    seq = np.arange(len(who)) - np.flatnonzero(new)[np.cumsum(new) - 1] + 1.0
    index = pd.RangeIndex(len(rows))
    out = pd.DataFrame({
        "STUDYID": constant_text(studyid, index), "DOMAIN": constant_text("SE", index),
        "USUBJID": text_from_codes(subject[dm_rows[who]], np.asarray(ids, dtype=object), index),
        "SESEQ": np.where(real, seq, np.nan),
        "ETCD": text_from_codes(element, planned["ETCD"].to_numpy(dtype=object), index),
        "ELEMENT": text_from_codes(element, planned["ELEMENT"].to_numpy(dtype=object), index),
        "TAETORD": planned["TAETORD"].to_numpy(dtype=np.float64)[element],
        "EPOCH": text_from_codes(element, planned["EPOCH"].to_numpy(dtype=object), index),
        "SESTDTC": pd.array(start, dtype=_TEXT), "SEENDTC": pd.array(seen, dtype=_TEXT),
    }, index=index)
    if "RFSTDTC" in dm:
        ref = _at(dm["RFSTDTC"], dm_rows[who])
        ref = pd.Series(np.where(pd.isna(ref), None, ref), index=index)
    else:
        ref = pd.Series(None, index=index, dtype=object)
    out["SESTDY"] = study_day(out["SESTDTC"], ref)
    out["SEENDY"] = study_day(out["SEENDTC"], ref)
    out["_SRCFILE"] = "DM"
    out["_SRCROW"] = 0
    return out


@dataclass(frozen=True)
class _DatedVisits:
    """Every distinct dated (USUBJID, VISITNUM, VISIT, date) at its first record, the text
    columns as codes into study-wide tables of their distinct values (code -1: null VISIT)."""

    subject: np.ndarray
    subjects: np.ndarray
    visitnum: np.ndarray
    visit: np.ndarray
    visits: np.ndarray
    date: np.ndarray
    dates: np.ndarray

    def __len__(self) -> int:
        return len(self.subject)


def _joined_codes(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Codes of several parts (each: codes into its own distinct values, -1 null) renumbered
    into one table of the distinct values of all parts (a small table hashed, not the rows)."""
    if not parts:
        return np.zeros(0, dtype=np.intp), np.empty(0, dtype=object)
    table_codes, table = pd.factorize(np.concatenate(
        [np.asarray(uniques, dtype=object) for _, uniques in parts]))
    pieces, start = [], 0
    for codes, uniques in parts:
        # a part's code c is table code table_codes[start + c]; the appended -1 keeps null null
        pieces.append(np.append(table_codes[start:start + len(uniques)], -1)[codes])
        start += len(uniques)
    return np.concatenate(pieces).astype(np.intp, copy=False), np.asarray(table, dtype=object)


@dataclass(frozen=True)
class _DatedPart:
    """One domain's distinct dated (USUBJID, VISITNUM, VISIT, date) at their first record,
    the text columns as codes into the domain's own distinct values."""

    subject: tuple[np.ndarray, np.ndarray]
    visitnum: np.ndarray
    visit: tuple[np.ndarray, np.ndarray]
    date: tuple[np.ndarray, np.ndarray]


def _dated_part(name: str, frame: pd.DataFrame) -> _DatedPart | None:
    """The :class:`_DatedPart` of one domain (None: no visit number or date to date SV by).

    Only the first record of a repeated combination can decide SV's bounds and VISIT (the
    later ones tie with it), so the many records of a visit (a lab panel) are reduced on the
    text columns' integer codes (:func:`cdiscmap.sdtm.vectorize.coded`, shared with the run's
    other steps) before any text is touched."""
    if name in ("SV", "SE", "TV") or not {"USUBJID", "VISITNUM"} <= set(frame.columns):
        return None
    dtc = next((c for c in (f"{name}DTC", f"{name}STDTC") if c in frame.columns), None)
    if dtc is None:
        return None
    subj, subj_uniques = coded(frame["USUBJID"])
    date, date_uniques = coded(frame[dtc])
    visitnum = pd.to_numeric(frame["VISITNUM"], errors="coerce").to_numpy(dtype=np.float64)
    if "VISIT" in frame:
        visit, visit_uniques = coded(frame["VISIT"])
    else:
        visit, visit_uniques = np.full(len(frame), -1, dtype=np.intp), np.empty(0, object)
    # A record equal to the one before it on all four is never the first of its combination
    # (nor dated when that one is not): the records of a visit (a lab panel) are adjacent, so
    # this drops most rows before anything is hashed.
    bits = visitnum.view(np.int64)
    keep = ~np.isnan(visitnum) & (date >= 0) & (subj >= 0)
    keep[1:] &= ((subj[1:] != subj[:-1]) | (bits[1:] != bits[:-1]) | (date[1:] != date[:-1])
                 | (visit[1:] != visit[:-1]))
    rows = np.flatnonzero(keep)
    # one record per distinct (subject, visit number by its bits, date, visit name)
    subj, visitnum, date, visit = subj[rows], visitnum[rows], date[rows], visit[rows]
    number, numbers = pd.factorize(visitnum.view(np.int64))
    first = _first_of_each((subj, len(subj_uniques)), (number, len(numbers)),
                           (date, len(date_uniques)), (visit, len(visit_uniques)))
    return _DatedPart((subj[first], np.asarray(subj_uniques, dtype=object)), visitnum[first],
                      (visit[first], np.asarray(visit_uniques, dtype=object)),
                      (date[first], np.asarray(date_uniques, dtype=object)))


def _dated_visits(domains: dict[str, pd.DataFrame]) -> _DatedVisits:
    """(USUBJID, VISITNUM, VISIT, date) of every record that has a visit number and a date,
    each distinct combination once, at its first record (domains in order, then rows); the
    kept codes are renumbered into study-wide tables, so no text is hashed again."""
    parts = [part for name, frame in domains.items()
             if (part := _dated_part(name, frame)) is not None]
    subject, subject_table = _joined_codes([part.subject for part in parts])
    date, date_table = _joined_codes([part.date for part in parts])
    visit, visit_table = _joined_codes([part.visit for part in parts])
    return _DatedVisits(subject, subject_table,
                        np.concatenate([part.visitnum for part in parts]) if parts
                        else np.zeros(0), visit, visit_table, date, date_table)


def _first_of_each(*columns: tuple[np.ndarray, int]) -> np.ndarray:
    """Positions of the first row of each distinct combination of integer ``columns`` (each:
    codes from -1 to its number of values - 1), in row order: one integer key per row
    (mixed radix of the codes) hashed once."""
    key = np.zeros(len(columns[0][0]), dtype=np.int64)
    size = 1
    for codes, n in columns:
        if size * (n + 1) >= 2 ** 62:          # cannot pack: key on tuples
            return np.flatnonzero(~pd.MultiIndex.from_arrays(
                [codes for codes, _ in columns]).duplicated())
        key = key * (n + 1) + (codes + 1)
        size *= n + 1
    return np.flatnonzero(~pd.Series(key).duplicated().to_numpy())


def _ranks(uniques: np.ndarray) -> np.ndarray:
    """The sort position of each distinct value (Python ordering, as ``sort_values``)."""
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[np.argsort(uniques, kind="stable")] = np.arange(len(uniques))
    return rank


@dataclass(frozen=True)
class _Bounds:
    """SV's rows (one per USUBJID and VISITNUM, in that order) with its text columns as
    codes: USUBJID into the subjects, VISIT into the dated visit names (-1: none), SVSTDTC
    and SVENDTC into the distinct date parts."""

    subject: np.ndarray
    subjects: np.ndarray
    visitnum: np.ndarray
    visit: np.ndarray
    start: np.ndarray
    end: np.ndarray
    days: np.ndarray

    def study_days(self, dm: pd.DataFrame | None, start: pd.Series, end: pd.Series
                   ) -> tuple[pd.Series, pd.Series] | None:
        """--STDY and --ENDY of the text columns ``start`` and ``end`` (codes known: codes
        cache) from DM's RFSTDTC (first record of each subject), looked up once per subject
        and given :func:`cdiscmap.sdtm.dates.study_day` with its codes known: each distinct
        date and reference date is parsed once, no row hashed. None when RFSTDTC is not
        text."""
        if dm is None or "RFSTDTC" not in dm or not isinstance(dm["RFSTDTC"].dtype,
                                                                  pd.StringDtype):
            return None
        reference = dm[["USUBJID", "RFSTDTC"]].drop_duplicates("USUBJID").set_index(
            "USUBJID")["RFSTDTC"]
        found = pd.Series(self.subjects, dtype=object).map(reference)
        ref = text_from_codes(self.subject, found.to_numpy(dtype=object, na_value=None),
                              start.index)
        return study_day(start, ref), study_day(end, ref)


def _visit_bounds(visits: _DatedVisits) -> _Bounds:
    """Per (USUBJID, VISITNUM), in that order: the first non-missing VISIT and the first and
    last date part (YYYY-MM-DD) of the records ordered by date part, then full date.

    The same as a stable sort on (USUBJID, VISITNUM, date part, date) and a sorted groupby
    taking first/last, done on integer ranks: only the distinct values of the text columns are
    cut and ordered (a million dated records have a few thousand distinct dates)."""
    dtc_codes = visits.date
    day_of_dtc = pd.Series(visits.dates, dtype=object).astype(str).str.slice(0, 10)
    day_codes, day_uniques = pd.factorize(day_of_dtc.to_numpy(dtype=object))
    day_uniques = np.asarray(day_uniques, dtype=object)
    subject = _ranks(visits.subjects)[visits.subject]
    visitnum = visits.visitnum
    day = _ranks(day_uniques)[day_codes][dtc_codes]
    order = stable_order([_ranks(visits.dates)[dtc_codes], day, visitnum, subject])
    subject, visitnum = subject[order], visitnum[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (subject[1:] != subject[:-1]) | (visitnum[1:] != visitnum[:-1])
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(order)) - 1
    group = np.cumsum(first) - 1
    day_rows = day_codes[dtc_codes[order]]
    visit = visits.visit[order]
    named = np.flatnonzero(visit >= 0)
    first_named = np.full(len(starts), -1, dtype=np.int64)
    seen, at = np.unique(group[named], return_index=True)    # first named row per group
    first_named[seen] = named[at]
    visit_first = np.where(first_named >= 0, visit[np.maximum(first_named, 0)], -1)
    return _Bounds(visits.subject[order[starts]], visits.subjects, visitnum[starts],
                   visit_first, day_rows[starts], day_rows[ends], day_uniques)


def build_sv(design: TrialDesignSpec | None, studyid: str, domains: dict[str, pd.DataFrame]
             ) -> pd.DataFrame | None:
    """SV (SDTMIG 3.4 §5.4): one record per subject and visit that has dated data.

    SVSTDTC/SVENDTC are the first and last date (compared on the date part, YYYY-MM-DD) of
    the visit's records over all domains; SVPRESP is Y for a visit planned in TV, null for
    an unplanned one (unscheduled); SVOCCUR is Y (the data show the visit took place).
    The text columns are made from codes (their factorisation known to the later steps)."""
    visits = _dated_visits(domains)
    if not len(visits):
        return None
    bounds = _visit_bounds(visits)
    index = pd.RangeIndex(len(bounds.subject))
    planned = {float(v.visitnum): v for v in design.visits} if design else {}
    # the distinct visit numbers in order and each row's: hashed, then the few distinct ones
    # sorted (np.unique would sort every row)
    number, numbers = pd.factorize(bounds.visitnum)
    by_value = np.argsort(numbers, kind="stable")
    rank = np.empty(len(numbers), dtype=np.intp)
    rank[by_value] = np.arange(len(numbers))
    numbers, number = numbers[by_value], rank[number]
    in_tv = [planned.get(float(n)) for n in numbers]        # TV's visit of each number
    # a planned visit is named as TV names it (one VISIT per VISITNUM, SDTMIG 3.4 §4.4.5),
    # whatever name the domain that dated it first used
    tv_names = np.array([None if v is None else v.visit for v in in_tv] + [None], dtype=object)
    named = pd.notna(tv_names)[number]          # tested once per visit number, not per row
    visit = np.where(named, len(visits.visits) + number, bounds.visit)
    is_planned = np.array([v is not None for v in in_tv], dtype=bool)[number]
    visitdy = np.array([np.nan if v is None or v.visitdy is None else float(v.visitdy)
                        for v in in_tv], dtype=np.float64)[number]
    start = text_from_codes(bounds.start, bounds.days, index)
    end = text_from_codes(bounds.end, bounds.days, index)
    sv = pd.DataFrame({
        "STUDYID": constant_text(studyid, index), "DOMAIN": constant_text("SV", index),
        "USUBJID": text_from_codes(bounds.subject, visits.subjects, index),
        "VISITNUM": bounds.visitnum.astype(np.float64),
        "VISIT": text_from_codes(visit, np.concatenate([visits.visits, tv_names[:-1]]), index),
        "SVPRESP": text_from_codes(np.where(is_planned, 0, -1), np.array(["Y"], dtype=object),
                                   index),
        "SVOCCUR": constant_text("Y", index),
        "VISITDY": visitdy, "SVSTDTC": start, "SVENDTC": end,
    }, index=index)
    dm = domains.get("DM")
    days = bounds.study_days(dm, start, end)
    if days is None:
        if dm is not None and "RFSTDTC" in dm:
            ref = sv["USUBJID"].astype(object).map(dm[["USUBJID", "RFSTDTC"]].drop_duplicates(
                "USUBJID").set_index("USUBJID")["RFSTDTC"])
        else:
            ref = pd.Series(None, index=index, dtype=object)
        days = study_day(start.astype(object), ref), study_day(end.astype(object), ref)
    sv["SVSTDY"], sv["SVENDY"] = days
    sv["_SRCFILE"] = "SDTM"
    sv["_SRCROW"] = 0
    return sv


def build_trial_design(design: TrialDesignSpec | None, studyid: str,
                       domains: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """TE, TA, TV, TI from study.yaml and SE, SV from the data; only those that have records.

    SE needs planned elements with dates (``start_date``); SV is derived when the study
    declares planned visits (TV), so a study without ``trial_design:`` gets neither."""
    if design is None:
        return {}
    out: dict[str, pd.DataFrame | None] = {
        "TE": build_te(design, studyid), "TA": build_ta(design, studyid),
        "TV": build_tv(design, studyid), "TI": build_ti(design, studyid),
        "SE": build_se(design, studyid, domains.get("DM")),
        "SV": build_sv(design, studyid, domains) if design.visits else None,
    }
    return {name: frame for name, frame in out.items() if frame is not None and len(frame)}


__all__ = ["build_se", "build_sv", "build_ta", "build_te", "build_ti", "build_trial_design",
           "build_tv"]
