"""Check the collected RS responses against the ones computed from the lesions, and emit RS.

``crosscheck`` compares per subject × reader × visit × test (OVRLRESP always; TRGRESP/NTRGRESP/
NEWLPROG where RS has them; the investigator's TR sum of diameters where TR is given) and reports
each disagreement as a finding that carries the numbers behind the computed response, so a data
manager sees at once whether the investigator or the data is off. Readers: RSEVAL (null = the
primary evaluator) and RSEVALID, as in ``recist/readers.py``; each computed reader is compared
with the RS records of the same reader only.

Rules: CMAP-RC0001 a response (OVRLRESP/TRGRESP/NTRGRESP) differs; CMAP-RC0002 a visit on one side only;
CMAP-RC0003 the investigator's TR ``SUMDIAM``/``SUMLDIAM`` differs from the computed sum of diameters
(RECIST 1.1 §4.2.1 sum: short axis of nodes, longest diameter of the others) by more than
``sumdiam_tolerance_mm``; CMAP-RC0004 the RS new-lesion progression (NEWLPROG, RECIST 1.1 §4.3.5)
differs from the computed one.
``to_rs_records`` writes the computed responses as derived RS records (SDTMIG 3.4 §4.1.8:
RSDRVFL="Y", null RSEVAL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas._libs import lib

from cdiscmap.errors import InputDataError
from cdiscmap.findings import Finding, Severity
from cdiscmap.recist.lesions import (
    factorize_text,
    object_addresses,
    text_codes,
    text_objects_codes,
)
from cdiscmap.recist.overall import OUTPUT_COLUMNS
from cdiscmap.recist.readers import evaluator_of, reader_codes
from cdiscmap.recist.settings import DEFAULT_SETTINGS, EPSILON, RecistSettings
from cdiscmap.recist.target import NE, fmt_number
from cdiscmap.sdtm.vectorize import carry_rows, stable_order, string_array, text_from_codes

#: RSTESTCD (ONCRTSCD, C96782) → RSTEST (ONCRTS, C96781), SDTM CT 2025-03-28.
RS_TESTS = {
    "TRGRESP": "Target Response",
    "NTRGRESP": "Non-target Response",
    "NEWLPROG": "New Lesion Progression",
    "OVRLRESP": "Overall Response",
}
COMPARED_TESTS = ("OVRLRESP", "TRGRESP", "NTRGRESP", "NEWLPROG")
#: TR tests holding the investigator's sum of diameters (TRTESTCD, C96779; SUMDIAM is the common
#: sponsor code, SUMLDIAM the CT term "Sum of Longest Diameters").
SUM_TESTS = ("SUMDIAM", "SUMLDIAM")
SUM_TEST = "SUMDIAM"
#: Finding rule per compared test (a disagreement).
DISAGREE_RULES = {"OVRLRESP": "CMAP-RC0001", "TRGRESP": "CMAP-RC0001", "NTRGRESP": "CMAP-RC0001",
                  "NEWLPROG": "CMAP-RC0004", SUM_TEST: "CMAP-RC0003"}
RSCAT_RECIST = "RECIST 1.1"  # ONCRSCAT C124415

#: RS results that say "no such component" (e.g. NTRGRESP of a subject without non-targets);
#: they agree with a null computed component.
_NOT_APPLICABLE = {"NA", "N/A", "NOT APPLICABLE"}
#: ONCRSR "NOT ALL EVALUATED" (C103424) is what the computed NE means for a component.
_SAME_AS_NE = {"NOT ALL EVALUATED", "NOT EVALUABLE", "NE"}
#: NY codelist (C66742) answers of NEWLPROG, and their long forms.
_YES_NO = {"YES": "Y", "NO": "N"}

#: Columns read from the kept RS/TR rows (the other columns are not copied).
_RS_READ = {"USUBJID", "VISITNUM", "VISIT", "RSSTRESC", "_SRCFILE", "_SRCROW"}
_TR_READ = {"USUBJID", "VISITNUM", "TRSTRESN", "TREVAL", "TREVALID", "_SRCFILE", "_SRCROW"}

COMPARISON_COLUMNS = [
    "USUBJID", "EVALUATOR", "VISITNUM", "VISIT", "RSTESTCD", "RSSTRESC", "COMPUTED", "STATUS",
    "SUMDIAM", "BASE_SUM", "NADIR", "PCHG_BASE", "PCHG_NADIR", "ACHG_NADIR", "REASON", "SOURCE",
]


def _normalise_result(values: pd.Series) -> np.ndarray:
    codes, cats = text_codes(values, upper=True)
    cats = np.array([NE if c in _SAME_AS_NE else (None if c in _NOT_APPLICABLE
                                                  else _YES_NO.get(c, c))
                     for c in cats] + [None], dtype=object)
    return cats[codes]


@dataclass(frozen=True)
class RsRecords:
    """The RS records a cross-check compares, prepared from RS alone (:func:`prepare_rs`):
    the RECIST 1.1 records of the compared tests that the engine did not derive, whoever read
    them, with their reader code. The readers are chosen later, when the computed responses
    say which there are; preparing needs RS only, so it can run beside the engine."""

    frame: pd.DataFrame     # USUBJID, VISITNUM, RS_VISIT, RSTESTCD, RSSTRESC, SOURCE
    reader: np.ndarray      # reader code of every row of ``frame``
    labels: np.ndarray      # reader label of every code (recist/readers.py)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled with each object column as codes into its distinct objects (a forked child
        sends the records back: pickling an object per row costs the receiver a memo lookup
        per row). The same objects come back in the same places, nulls included."""
        columns = []
        for name in self.frame.columns:
            values = self.frame[name].to_numpy()
            if values.dtype == object:
                same, distinct = pd.factorize(object_addresses(values))
                first = np.empty(len(distinct), dtype=np.intp)
                first[same[::-1]] = np.arange(len(same) - 1, -1, -1, dtype=np.intp)
                columns.append((name, same.astype(np.int32), values[first]))
            else:
                columns.append((name, values, None))
        return _unpickled_records, (columns, self.frame.index, self.reader, self.labels)


def _unpickled_records(columns: list[tuple[str, np.ndarray, np.ndarray | None]],
                       index: pd.Index, reader: np.ndarray, labels: np.ndarray) -> RsRecords:
    """:class:`RsRecords` from :meth:`RsRecords.__reduce__`'s parts."""
    frame = pd.DataFrame({name: values if objects is None else objects[values]
                          for name, values, objects in columns}, index=index, copy=False)
    return RsRecords(frame, reader, labels)


def prepare_rs(rs: pd.DataFrame, default: str, *, sources: bool = True) -> RsRecords:
    """:class:`RsRecords` of an RS dataset; ``default``: the reader of a null RSEVAL (the
    settings' primary ``evaluator``). ``sources=False``: the records keep their row
    positions in ``rs`` (``_RSROW``) instead of their SOURCE text, composed later for the
    few rows that need it (:func:`_sources_at`)."""
    missing = [c for c in ("USUBJID", "RSTESTCD", "RSSTRESC", "VISITNUM") if c not in rs.columns]
    if missing:
        raise InputDataError(f"RS lacks column(s) {', '.join(missing)} needed to cross-check "
                             f"RECIST responses; it has: {', '.join(map(str, rs.columns))}")
    reader, labels = reader_codes(rs, "RS", default)
    keep = np.ones(len(rs), dtype=bool)
    if "RSDRVFL" in rs.columns:   # records the engine derived are not the evaluator's
        codes, cats = text_codes(rs["RSDRVFL"], upper=True)
        keep &= ~np.isin(codes, np.flatnonzero(cats == "Y"))
    if "RSCAT" in rs.columns:
        codes, cats = text_codes(rs["RSCAT"], upper=True)
        keep &= (codes < 0) | np.isin(codes, np.flatnonzero(cats == RSCAT_RECIST))
    test_codes, test_cats = text_codes(rs["RSTESTCD"], upper=True)
    keep &= np.isin(test_codes, np.flatnonzero(np.isin(test_cats, COMPARED_TESTS)))
    sub = rs.loc[keep, [c for c in rs.columns if c in _RS_READ]]   # copy only what is read
    carry_rows(rs, sub, keep)           # codes of RS's columns known: those of the rows kept
    usub_codes, usub = text_codes(sub["USUBJID"], upper=False)
    src = _source(sub) if sources else np.flatnonzero(keep)
    frame = pd.DataFrame({
        "USUBJID": np.append(usub, None)[usub_codes],
        "VISITNUM": pd.to_numeric(sub["VISITNUM"], errors="coerce").to_numpy(dtype=np.float64),
        "RS_VISIT": (_objects(sub["VISIT"].astype("string")) if "VISIT" in sub.columns
                     else np.full(len(sub), None, dtype=object)),
        "RSTESTCD": test_cats[test_codes[keep]].astype(object),
        "RSSTRESC": _normalise_result(sub["RSSTRESC"]),
        "SOURCE" if sources else "_RSROW": src.astype(object) if sources else src,
    })
    return RsRecords(frame, reader[keep], labels)


def _rs_of_evaluator(rs: pd.DataFrame | RsRecords, evaluator: str | None, default: str,
                     readers: list[str], *, sources: bool = True) -> pd.DataFrame:
    """Collected RECIST 1.1 RS records for the compared tests, with their reader label.

    ``evaluator`` given: that evaluator's records (any RSEVALID), labelled as the one computed
    reader; otherwise the records of the computed ``readers``. ``sources=False`` (RS a
    dataset): ``_RSROW`` instead of SOURCE (:func:`prepare_rs`).
    """
    records = rs if isinstance(rs, RsRecords) else prepare_rs(rs, default, sources=sources)
    codes, labs = records.reader, records.labels
    if evaluator is not None:
        keep = (evaluator_of(labs) == evaluator.strip().upper())[codes]
        labels = np.full(int(keep.sum()), readers[0], dtype=object)
    else:
        keep = np.isin(labs, readers)[codes]
        labels = labs[codes[keep]]
    frame = records.frame
    every = bool(keep.all())

    def rows(col: str) -> np.ndarray:
        values = frame[col].to_numpy()
        return values if every else values[keep]

    last = "SOURCE" if "SOURCE" in frame.columns else "_RSROW"
    return pd.DataFrame({
        "USUBJID": rows("USUBJID"), "EVALUATOR": labels, "VISITNUM": rows("VISITNUM"),
        "RS_VISIT": rows("RS_VISIT"), "RSTESTCD": rows("RSTESTCD"),
        "RSSTRESC": rows("RSSTRESC"), last: rows(last),
    })


def _visit_keys(*frames: pd.DataFrame) -> list[np.ndarray]:
    """An int64 key per USUBJID × EVALUATOR × VISITNUM row, shared by all ``frames``.

    Equal keys are the rows ``merge(on=[USUBJID, EVALUATOR, VISITNUM])`` would match (nulls
    match nulls), so joins run on one integer column instead of factorising three object
    columns again for every join.
    """
    sizes = np.cumsum([len(f) for f in frames])[:-1]
    key = np.zeros(int(sum(len(f) for f in frames)), dtype=np.int64)
    span = 1                                    # keys are below span
    for col in ("USUBJID", "EVALUATOR", "VISITNUM"):
        if col == "VISITNUM":
            codes, uniques = pd.factorize(np.concatenate(
                [f[col].to_numpy(dtype=np.float64) for f in frames]))
        else:                                   # a "string" column's own array: no copy
            codes, uniques = factorize_text(np.concatenate([
                np.asarray(f[col].array, dtype=object)
                if isinstance(f[col].array, pd.arrays.StringArray)
                else f[col].to_numpy(dtype=object) for f in frames]))
        if span * (len(uniques) + 1) >= 1 << 62:
            key = pd.factorize(key)[0].astype(np.int64)   # keeps keys small: no overflow
            span = int(key.max()) + 1 if len(key) else 1
        key = key * (len(uniques) + 1) + np.where(codes < 0, len(uniques), codes)
        span *= len(uniques) + 1
    # numbered in order of first appearance, as factorising column by column numbers them
    return np.split(pd.factorize(key)[0].astype(np.int64), sizes)


def _distinct(keys: np.ndarray) -> bool:
    """Whether no key repeats (keys of :func:`_visit_keys`: small integers from 0, so a count
    per key answers without sorting or hashing)."""
    return not len(keys) or int(np.bincount(keys).max()) <= 1


def _source(sub: pd.DataFrame) -> np.ndarray:
    """'file row n' lineage of each record ('' without lineage columns)."""
    if "_SRCFILE" not in sub.columns or "_SRCROW" not in sub.columns:
        return np.full(len(sub), "", dtype=object)
    # composed once per distinct (file, row) pair: RS holds several tests per form row
    file_codes, files = text_objects_codes(sub["_SRCFILE"])
    rows = pd.to_numeric(sub["_SRCROW"], errors="coerce").astype("Int64")
    row_codes, row_values = pd.factorize(rows.array)
    n_rows = len(row_values) + 1
    pair, pairs = pd.factorize(np.where(file_codes < 0, len(files), file_codes) * n_rows
                               + np.where(row_codes < 0, len(row_values), row_codes))
    pairs = np.asarray(pairs, dtype=np.int64)
    file_txt = np.array([str(f) for f in files] + [""], dtype=object)[pairs // n_rows]
    row_txt = np.append(np.asarray(row_values, dtype=np.int64).astype(str).astype(object),
                        "")[pairs % n_rows]
    text = np.where((file_txt != "") & (row_txt != ""), file_txt + " row " + row_txt, "")
    return text.astype(object)[pair]


def _sources_at(frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """:func:`_source` of the rows at positions ``rows`` of ``frame`` (each row's text is
    its own: the same as those rows of the whole frame's)."""
    return _source(frame[[c for c in ("_SRCFILE", "_SRCROW") if c in frame.columns]].take(rows))


def _sum_rows(computed: pd.DataFrame, tr: pd.DataFrame, evaluator: str | None, default: str,
              readers: list[str], tolerance: float, *,
              disagreements_only: bool = False) -> pd.DataFrame:
    """The investigator's TR sum of diameters next to the computed SUMDIAM (rule CMAP-RC0003).

    Compared where both exist, per subject × reader × visit; they agree within ``tolerance`` mm.
    ``disagreements_only``: the rows that agree are left out, and only the others get their
    SOURCE text composed and their sums formatted (most sums agree).
    """
    if "TRTESTCD" not in tr.columns or "TRSTRESN" not in tr.columns:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    test_codes, test_cats = text_codes(tr["TRTESTCD"], upper=True)
    is_sum = np.isin(test_codes, np.flatnonzero(np.isin(test_cats, SUM_TESTS)))
    sub = tr.loc[is_sum, [c for c in tr.columns if c in _TR_READ]]   # copy only what is read
    codes, labs = reader_codes(sub, "TR", default)
    labels = labs[codes]
    if evaluator is not None:
        keep = (evaluator_of(labs) == evaluator.strip().upper())[codes]
        labels = np.full(len(sub), readers[0], dtype=object)
    else:
        keep = np.isin(labs, readers)[codes]
    sub = sub.loc[keep]
    id_codes, ids = text_objects_codes(sub["USUBJID"])          # stripped once per id
    inv = pd.DataFrame({
        "USUBJID": np.array([str(i).strip() for i in ids] + [pd.NA], dtype=object)[id_codes],
        "EVALUATOR": labels[keep],
        "VISITNUM": pd.to_numeric(sub["VISITNUM"], errors="coerce").to_numpy(dtype=np.float64),
        "INV_SUM": pd.to_numeric(sub["TRSTRESN"], errors="coerce").to_numpy(dtype=np.float64),
        # SOURCE composed at the end, for the rows kept (_SUB: their positions in ``sub``)
        "_SUB": np.arange(len(sub)),
    })
    inv = inv[inv["INV_SUM"].notna()]
    # only the computed columns the comparison table shows are copied
    comp = computed.loc[computed["SUMDIAM"].notna(), _SUM_COMPUTED].astype(
        {"USUBJID": object, "EVALUATOR": object})
    inv_k, comp_k = _visit_keys(inv, comp)
    # Several sums for one subject × reader × visit: the smallest, then the first SOURCE (the
    # row the sort by USUBJID, EVALUATOR, VISITNUM, INV_SUM, SOURCE puts first); ranked only
    # when there are duplicates. The row order left does not matter: the table is sorted.
    if not _distinct(inv_k):
        source_rank = _text_rank(pd.Series(_sources_at(sub, inv["_SUB"].to_numpy())))
        order = np.lexsort((source_rank, inv["INV_SUM"].to_numpy(), inv_k))
        first = np.ones(len(order), dtype=bool)
        first[1:] = inv_k[order][1:] != inv_k[order][:-1]
        rows = np.sort(order[first])
        inv, inv_k = inv.iloc[rows], inv_k[rows]
    right = comp.drop(columns=["USUBJID", "EVALUATOR", "VISITNUM"])
    if _distinct(comp_k):
        # one computed row per key (timepoint_responses): the inner merge is a lookup of each
        # investigator sum's key, in the investigator rows' order, as the merge keeps them
        sorter = np.argsort(comp_k, kind="stable")
        at = np.minimum(np.searchsorted(comp_k, inv_k, sorter=sorter), max(len(comp_k) - 1, 0))
        hit = (comp_k[sorter[at]] == inv_k) if len(comp_k) else np.zeros(len(inv_k), bool)
        left = inv.iloc[np.flatnonzero(hit)]
        left.index = pd.RangeIndex(len(left))
        right = right.take(sorter[at[hit]])
        right.index = left.index
        both = pd.concat([left, right], axis=1)
    else:
        both = (inv.assign(_K=inv_k).merge(right.assign(_K=comp_k), on="_K", how="inner")
                .drop(columns="_K"))
    if both.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    diff = np.abs(both["INV_SUM"].to_numpy() - both["SUMDIAM"].to_numpy(dtype=np.float64))
    agree = diff <= tolerance + EPSILON
    if disagreements_only:
        both, agree = both.iloc[np.flatnonzero(~agree)], agree[~agree]
    return both.assign(
        RSTESTCD=SUM_TEST,
        RSSTRESC=fmt_number(both["INV_SUM"].to_numpy(), signed=False, trim=True),
        COMPUTED=fmt_number(both["SUMDIAM"].to_numpy(dtype=np.float64), signed=False, trim=True),
        STATUS=_AGREEMENT[np.where(agree, 0, 1)],
        SOURCE=_sources_at(sub, both["_SUB"].to_numpy()))[COMPARISON_COLUMNS]


#: STATUS of a compared pair by code (0 agree, 1 disagree): one text object each, shared by
#: the rows (a text per row would be hashed again and again).
_AGREEMENT = np.array(["AGREE", "DISAGREE"], dtype=object)

#: The computed columns of a sum-of-diameters comparison row (keys first).
_SUM_COMPUTED = ["USUBJID", "EVALUATOR", "VISITNUM"] + [
    c for c in COMPARISON_COLUMNS if c in OUTPUT_COLUMNS and c not in (
        "USUBJID", "EVALUATOR", "VISITNUM")]


def crosscheck(computed: pd.DataFrame, rs: pd.DataFrame, *, evaluator: str | None = None,
               tr: pd.DataFrame | None = None,
               settings: RecistSettings = DEFAULT_SETTINGS,
               disagreements_only: bool = False,
               reasons: Callable[[np.ndarray], np.ndarray] | None = None
               ) -> tuple[pd.DataFrame, list[Finding]]:
    """Compare computed responses with RS (see :func:`crosscheck_coded`, which also gives the
    table's text columns as codes)."""
    table, findings, _ = crosscheck_coded(computed, rs, evaluator=evaluator, tr=tr,
                                          settings=settings,
                                          disagreements_only=disagreements_only,
                                          reasons=reasons)
    return table, findings


#: A text column as codes (-1 = null) into its distinct ``str`` values (first appearance).
TextCodes = tuple[np.ndarray, np.ndarray]


def crosscheck_coded(computed: pd.DataFrame, rs: pd.DataFrame | RsRecords, *,
                     evaluator: str | None = None, tr: pd.DataFrame | None = None,
                     settings: RecistSettings = DEFAULT_SETTINGS,
                     disagreements_only: bool = False,
                     reasons: Callable[[np.ndarray], np.ndarray] | None = None
                     ) -> tuple[pd.DataFrame, list[Finding], dict[str, TextCodes]]:
    """Compare computed responses (``timepoint_responses``) with the RS records of each reader.

    ``evaluator`` set: compare every computed row with that evaluator's RS records instead (the
    computed frame then holds one reader). ``tr`` given: also compare the investigator's TR sum
    of diameters (CMAP-RC0003) with the computed SUMDIAM.

    Returns the comparison table (one row per subject × reader × visit × compared test, STATUS in
    AGREE, DISAGREE, RS ONLY, COMPUTED ONLY; sorted by USUBJID, EVALUATOR, VISITNUM, RSTESTCD)
    and the findings: CMAP-RC0001 (warning) per response disagreement, CMAP-RC0004 (warning) per NEWLPROG
    disagreement, CMAP-RC0003 (warning) per sum of diameters disagreement, CMAP-RC0002 (notice) per visit
    present on one side only; and the table's text columns as :data:`TextCodes`: they are
    factorised here anyway (to make them ``string``), so a writer need not hash the rows again.
    ``rs``: the RS dataset, or its records prepared by :func:`prepare_rs` with the settings'
    ``evaluator`` as default reader. ``disagreements_only``: the table keeps only the rows
    that are not AGREE (the findings are made of those alone, in the same order): for a
    caller that wants the findings, not the table (the run's RECIST step), most rows agree
    and are then neither sorted nor turned into text. ``reasons``: REASON of ``computed`` is
    not read; ``reasons(rows)`` gives it for the computed rows at positions ``rows``, asked
    for the table's rows only (with ``disagreements_only``, a few; see
    :func:`cdiscmap.recist.overall.timepoint_responses_deferred`).
    """
    missing = [c for c in OUTPUT_COLUMNS if c not in computed.columns]
    if missing:
        raise InputDataError(f"computed responses lack column(s) {', '.join(missing)}; pass the "
                             f"frame returned by timepoint_responses")
    default = settings.evaluator
    readers = sorted(str(r) for r in factorize_text(_objects(computed["EVALUATOR"]))[1])
    if evaluator is not None:
        if len(readers) > 1:
            raise InputDataError("crosscheck(evaluator=...) needs the computed responses of one "
                                 "reader; leave evaluator unset to compare every reader")
        # the computed reader stands in for the chosen evaluator: rows are labelled by it
        readers = [evaluator.strip().upper()]
        computed = computed.assign(EVALUATOR=pd.array(readers * len(computed), dtype="string"))
    if reasons is not None:
        # each computed row's position stands in for its REASON through the joins below
        # (NaN where a table row has no computed row); the text is composed at the end
        computed = computed.assign(REASON=np.arange(len(computed), dtype=np.float64))
    # a run's check wants the disagreements alone: RS records keep their row in ``rs`` and
    # the SOURCE text is composed for the few rows left at the end
    later = disagreements_only and not isinstance(rs, RsRecords)
    rs_w = _rs_of_evaluator(rs, evaluator, default, readers or [default], sources=not later)
    has_ovrl = ~_nulls(computed["OVRLRESP"])
    comp = computed.loc[has_ovrl, OUTPUT_COLUMNS]
    keys = ["USUBJID", "EVALUATOR", "VISITNUM"]
    # One integer key per subject × reader × visit shared by every frame: joins and membership
    # tests on it instead of on three object columns (same matches: null matches null).
    rs_k, all_k = _visit_keys(rs_w, computed)
    comp_k = all_k[has_ovrl]
    in_comp = np.isin(rs_k, comp_k)
    comp_in_rs = np.isin(comp_k, rs_k)
    # Tests compared at visits both sides have: OVRLRESP always, components where RS has them.
    rs_both = rs_w.loc[in_comp].reset_index(drop=True)
    rs_has_ovrl = rs_k[in_comp][(rs_both["RSTESTCD"] == "OVRLRESP").to_numpy()]
    if _distinct(comp_k):
        paired = _paired_rows(rs_both, rs_k[in_comp], comp, comp_k,
                              disagreements_only=disagreements_only)
    else:   # several computed rows per visit: every pairing, as a merge gives
        paired = _paired_rows_merged(rs_both, rs_k[in_comp], comp, comp_k)
    agree = _agree(paired["RSSTRESC"].astype(object).to_numpy(),
                   paired["COMPUTED"].astype(object).to_numpy())
    paired["STATUS"] = _AGREEMENT[np.where(agree, 0, 1)]
    # The parts below are made only when they have rows: an empty part is left out of the
    # table anyway, and each costs a selection, a merge or copies of a dozen columns (≈ 10 ms
    # of a 100-subject run's cross-check, where RS and the engine usually share every visit).
    parts = [paired]
    # the computed OVRLRESP of a visit RS has without an OVRLRESP record, and of visits on the
    # computed side only (the OVRLRESP rows of the long form: one per computed row)
    ovrl_rows = comp_in_rs & ~np.isin(comp_k, rs_has_ovrl)
    if ovrl_rows.any():
        parts.append(_computed_ovrl(comp, ovrl_rows).assign(RSSTRESC=None, SOURCE="",
                                                            STATUS="COMPUTED ONLY"))

    # Visits on one side only.
    if not in_comp.all():
        others = [c for c in OUTPUT_COLUMNS if c not in keys + list(COMPARED_TESTS)]
        rs_only = (rs_w.loc[~in_comp].assign(_K=rs_k[~in_comp])
                   .merge(computed[others].assign(_K=all_k), on="_K", how="left")
                   .drop(columns="_K"))
        parts.append(rs_only.assign(COMPUTED=None, STATUS="RS ONLY"))
    if not comp_in_rs.all():
        parts.append(_computed_ovrl(comp, ~comp_in_rs).assign(RSSTRESC=None, SOURCE="",
                                                              STATUS="COMPUTED ONLY"))
    if tr is not None:
        parts.append(_sum_rows(computed, tr, evaluator, default, readers or [default],
                               settings.sumdiam_tolerance_mm,
                               disagreements_only=disagreements_only))
    table = pd.concat([p for p in parts if len(p)] or [paired], ignore_index=True)
    if disagreements_only:
        # a stable sort of these rows alone orders them as in the whole table
        table = table.iloc[np.flatnonzero(table["STATUS"].to_numpy(dtype=object) != "AGREE")]
    if reasons is not None:
        table = table.assign(REASON=_reasons_at(table["REASON"], reasons))
    if later:
        table = _with_rs_sources(table, rs)
    table["VISIT"] = table["VISIT"].astype(object).where(~_nulls(table["VISIT"]),
                                                         table.get("RS_VISIT"))
    # every text column is factorised once, in the unsorted table: its codes rank USUBJID,
    # EVALUATOR (and SOURCE) for the sort, then follow the rows' new order, and the sorted
    # text is taken from the distinct values (no take of the unsorted text)
    texts = {col: _TextColumn(table[col]) for col in _TEXT_COLUMNS}
    order = _sort_order(table, texts["RSTESTCD"].mapped(_TEST_RANK)
                        if texts["RSTESTCD"].exact else _mapped(table["RSTESTCD"], _TEST_RANK),
                        texts)
    numbers = table[[c for c in COMPARISON_COLUMNS if c not in texts]].take(order)
    coded: dict[str, TextCodes] = {}
    columns: dict[str, object] = {}
    for col in COMPARISON_COLUMNS:
        if col in texts:
            columns[col], coded[col] = texts[col].taken(order)
        else:
            columns[col] = numbers[col].to_numpy()
    table = pd.DataFrame(columns, index=pd.RangeIndex(len(order)), copy=False)
    return table, _findings(table), coded


def _reasons_at(positions: pd.Series, reasons: Callable[[np.ndarray], np.ndarray]
                ) -> np.ndarray:
    """REASON of the table rows whose REASON column holds a computed row's position (None
    where it is null: no computed row), composed once per distinct row."""
    at = pd.to_numeric(positions, errors="coerce").to_numpy(dtype=np.float64)
    known = ~np.isnan(at)
    out = np.full(len(at), None, dtype=object)
    if known.any():
        rows, inverse = np.unique(at[known].astype(np.intp), return_inverse=True)
        out[known] = np.asarray(reasons(rows), dtype=object)[inverse]
    return out


def _with_rs_sources(table: pd.DataFrame, rs: pd.DataFrame) -> pd.DataFrame:
    """The table's rows of RS records (``_RSROW``: their row in ``rs``) with their SOURCE
    text, the other rows keeping theirs; ``_RSROW`` dropped."""
    table = table.copy()
    at = table["_RSROW"].to_numpy(dtype=np.float64) if "_RSROW" in table.columns \
        else np.full(len(table), np.nan)
    from_rs = ~np.isnan(at)
    source = (table["SOURCE"].to_numpy(dtype=object).copy() if "SOURCE" in table.columns
              else np.full(len(table), None, dtype=object))
    source[from_rs] = _sources_at(rs, at[from_rs].astype(np.intp))
    table["SOURCE"] = source
    return table.drop(columns="_RSROW", errors="ignore")


_TEXT_COLUMNS = ("USUBJID", "EVALUATOR", "VISIT", "RSTESTCD", "RSSTRESC", "COMPUTED", "STATUS",
                 "REASON", "SOURCE")
#: Rank of each compared test in the table's order.
_TEST_RANK = {t: i for i, t in enumerate(COMPARED_TESTS + (SUM_TEST,))}


def _mapped(values: pd.Series, mapping: dict[str, int]) -> np.ndarray:
    """``values.map(mapping)`` as float64 (NaN: null or not in ``mapping``), looked up once
    per distinct value instead of hashing every row again."""
    codes, uniques = factorize_text(np.asarray(values.to_numpy(dtype=object), dtype=object))
    return _lookup_codes(codes, uniques, mapping)


def _lookup_codes(codes: np.ndarray, uniques: np.ndarray, mapping: dict[str, int]
                  ) -> np.ndarray:
    table = np.array([mapping.get(u, np.nan) for u in uniques] + [np.nan], dtype=np.float64)
    return table[codes]                             # code -1 (null) picks the trailing NaN


_ID_COLUMNS = [c for c in OUTPUT_COLUMNS if c not in COMPARED_TESTS]


def _computed_ovrl(comp: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The OVRLRESP rows of the computed responses in long form (a test per row), for the
    computed rows ``rows``: the id columns, RSTESTCD and the COMPUTED response."""
    out = comp.loc[rows, _ID_COLUMNS].astype({"USUBJID": object, "EVALUATOR": object})
    values = _objects(comp["OVRLRESP"])[rows]
    return out.assign(RSTESTCD="OVRLRESP", COMPUTED=np.where(_nulls(values), None, values))


def _agree(rs_values: np.ndarray, computed: np.ndarray) -> np.ndarray:
    """Whether the RS result and the computed one agree: both null, or the same text."""
    rs_null = _nulls(rs_values)
    comp_null = _nulls(computed)
    # both sides are str or null (normalised RS results, computed responses): compared as
    # objects, without a copy into fixed-width numpy text
    same = np.where(rs_null, "", rs_values) == np.where(comp_null, "", computed)
    return (rs_null & comp_null) | (~rs_null & ~comp_null & np.asarray(same, dtype=bool))


def _paired_rows(rs_both: pd.DataFrame, rs_keys: np.ndarray, comp: pd.DataFrame,
                 comp_k: np.ndarray, *, disagreements_only: bool = False) -> pd.DataFrame:
    """Each RS record next to the computed response of its visit and test (one computed row
    per visit key): the RS columns, then the computed id columns but the keys, then COMPUTED,
    as the left merge with the computed long form gives. ``disagreements_only``: the records
    that agree are left out before any column is copied (most agree)."""
    sorter = np.argsort(comp_k, kind="stable")
    row = sorter[np.searchsorted(comp_k, rs_keys, sorter=sorter)]     # every key is there
    test = _mapped(rs_both["RSTESTCD"], {t: i for i, t in enumerate(COMPARED_TESTS)}).astype(
        np.int64)                                   # every RS test is one of them
    results = np.stack([_objects(comp[t]) for t in COMPARED_TESTS])
    computed = results[test, row] if len(row) else np.array([], dtype=object)
    if disagreements_only:
        differ = np.flatnonzero(~_agree(_objects(rs_both["RSSTRESC"]), computed))
        rs_both, row, computed = rs_both.iloc[differ], row[differ], computed[differ]
    right = comp[[c for c in _ID_COLUMNS if c not in ("USUBJID", "EVALUATOR", "VISITNUM")]]
    right = right.take(row)
    right.index = rs_both.index
    out = pd.concat([rs_both, right], axis=1)
    out["COMPUTED"] = np.where(_nulls(computed), None, computed)
    return out


def _paired_rows_merged(rs_both: pd.DataFrame, rs_keys: np.ndarray, comp: pd.DataFrame,
                        comp_k: np.ndarray) -> pd.DataFrame:
    """:func:`_paired_rows` by a merge with the long form (computed keys not unique)."""
    comp_long = comp.melt(id_vars=_ID_COLUMNS, value_vars=list(COMPARED_TESTS),
                          var_name="RSTESTCD", value_name="COMPUTED")
    comp_long["COMPUTED"] = comp_long["COMPUTED"].astype(object).where(
        comp_long["COMPUTED"].notna(), None)
    test_no = {t: i for i, t in enumerate(COMPARED_TESTS)}
    n_tests = len(COMPARED_TESTS)
    long_k = np.tile(comp_k, n_tests)                 # melt stacks one copy of comp per test
    return (rs_both.assign(_K=rs_keys * n_tests
                           + rs_both["RSTESTCD"].map(test_no).to_numpy(dtype=np.int64))
            .merge(comp_long.drop(columns=["USUBJID", "EVALUATOR", "VISITNUM", "RSTESTCD"])
                   .assign(_K=long_k * n_tests
                           + comp_long["RSTESTCD"].map(test_no).to_numpy(dtype=np.int64)),
                   on="_K", how="left")
            .drop(columns="_K"))


def _objects(values: pd.Series) -> np.ndarray:
    """A column's values as an object array, as ``to_numpy(dtype=object)`` gives them; a
    "string" column's own array (no copy and null scan: read only)."""
    if isinstance(values.array, pd.arrays.StringArray):
        return np.asarray(values.array, dtype=object)
    return values.to_numpy(dtype=object)


def _nulls(values: pd.Series | np.ndarray) -> np.ndarray:
    """``pd.isna`` of a text column's values (the same test, on each distinct object once:
    :func:`factorize_text` gives nulls code -1)."""
    objects = _objects(values) if isinstance(values, pd.Series) else np.asarray(values,
                                                                                 dtype=object)
    return factorize_text(objects)[0] < 0


def _text_rank(values: pd.Series) -> np.ndarray:
    """Rank of each value in text order, nulls last: the order ``sort_values`` gives a column
    of ``str`` and nulls, computed on the distinct values."""
    codes, uniques = factorize_text(values.to_numpy(dtype=object))
    rank = np.empty(len(uniques) + 1, dtype=np.int64)
    rank[np.argsort(np.asarray(uniques, dtype=object), kind="stable")] = np.arange(len(uniques))
    rank[-1] = len(uniques)                                   # code -1 (null) sorts last
    return rank[codes]


def _sort_order(table: pd.DataFrame, test_rank: np.ndarray,
                texts: dict[str, _TextColumn] | None = None) -> np.ndarray:
    """Row order of ``sort_values([USUBJID, EVALUATOR, VISITNUM, test, SOURCE], stable, nulls
    last)`` on integer ranks; SOURCE is ranked only when the other keys leave ties. ``texts``:
    the text columns already factorised (their ranks come from their distinct values)."""
    def rank(col: str) -> np.ndarray:
        known = texts.get(col) if texts else None
        return known.rank() if known is not None and known.exact else _text_rank(table[col])

    keys = [test_rank, table["VISITNUM"].to_numpy(dtype=np.float64),
            rank("EVALUATOR"), rank("USUBJID")]
    order = np.lexsort(keys)                  # stable; NaN sorts last
    tied = np.ones(max(len(order) - 1, 0), dtype=bool)
    for key in keys:
        k = key[order]
        tied &= (k[1:] == k[:-1]) | (np.isnan(k[1:]) & np.isnan(k[:-1]) if k.dtype.kind == "f"
                                     else False)
    if tied.any():
        order = np.lexsort([rank("SOURCE"), *keys])
    return order


def _string_column(values: pd.Series | np.ndarray) -> pd.arrays.StringArray:
    """The values as ``string`` (nulls NA); values that are all ``str`` or null are wrapped
    as they are (one C pass to check them, no per-cell conversion)."""
    from pandas._libs import lib

    objects = np.asarray(values.to_numpy(dtype=object) if isinstance(values, pd.Series)
                         else values, dtype=object)
    nulls = pd.isna(objects)
    if len(objects) and lib.is_string_array(objects, skipna=True):
        return string_array(np.where(nulls, pd.NA, objects))
    return pd.array(np.where(nulls, None, objects), dtype="string")


class _TextColumn:
    """A comparison text column factorised once (:func:`_coded_string_column`, rows not yet
    in their final order). ``exact``: the codes are those of the values themselves (all
    ``str`` or null), so they also rank the values as :func:`_text_rank` would."""

    def __init__(self, values: pd.Series) -> None:
        from pandas._libs import lib

        # a "string" column's own array (read only; to_numpy would copy it)
        objects = np.asarray(values.array if isinstance(values.array, pd.arrays.StringArray)
                             else values.to_numpy(dtype=object), dtype=object)
        self.exact = bool(len(objects)) and lib.is_string_array(objects, skipna=True)
        self.array = None if self.exact else _string_column(objects)
        if self.array is not None:
            objects = np.asarray(self.array, dtype=object)
        self.codes, uniques = factorize_text(objects)
        self.uniques = np.asarray(uniques, dtype=object)

    def mapped(self, mapping: dict[str, int]) -> np.ndarray:
        """:func:`_mapped` of the values (``exact`` columns only)."""
        return _lookup_codes(self.codes, self.uniques, mapping)

    def rank(self) -> np.ndarray:
        """:func:`_text_rank` of the values (``exact`` columns only)."""
        rank = np.empty(len(self.uniques) + 1, dtype=np.int64)
        rank[np.argsort(self.uniques, kind="stable")] = np.arange(len(self.uniques))
        rank[-1] = len(self.uniques)                             # code -1 (null) sorts last
        return rank[self.codes]

    def taken(self, order: np.ndarray) -> tuple[pd.arrays.StringArray, TextCodes]:
        """The column as ``string`` in the rows' order ``order``, and its codes."""
        codes = self.codes[order]
        if self.array is not None:
            return self.array.take(order), (codes, self.uniques)
        return string_array(np.append(self.uniques, pd.NA).astype(object)[codes]), \
            (codes, self.uniques)


def _coded_string_column(values: pd.Series) -> tuple[pd.arrays.StringArray, TextCodes]:
    """:func:`_string_column` and the codes of its values into their distinct texts.

    Values that are all ``str`` or null are factorised once (the Python-object hash table:
    whole values compared, every kind of null is -1) and the column is taken from the
    distinct values: no separate null scan. Anything else goes through
    :func:`_string_column`, then its text is factorised."""
    from pandas._libs import lib

    objects = np.asarray(values.to_numpy(dtype=object), dtype=object)
    if not (len(objects) and lib.is_string_array(objects, skipna=True)):
        array = _string_column(objects)
        objects = np.asarray(array, dtype=object)
    else:
        array = None
    codes, uniques = factorize_text(objects)
    uniques = np.asarray(uniques, dtype=object)
    if array is None:
        array = string_array(np.append(uniques, pd.NA).astype(object)[codes])
    return array, (codes, uniques)


def _visit_label(table: pd.DataFrame) -> np.ndarray:
    visitnum = fmt_number(table["VISITNUM"].to_numpy(dtype=np.float64), signed=False, trim=True)
    visit = table["VISIT"].fillna("").to_numpy(dtype=object)
    return np.where(visit != "", visit + " (VISITNUM " + visitnum + ")", "VISITNUM " + visitnum)


def _numbers(table: pd.DataFrame) -> np.ndarray:
    """'sum 35mm, baseline 50mm (-30.0%), nadir 40mm (-12.5%)' or '' when no target sums."""
    def mm(col: str) -> np.ndarray:
        return fmt_number(table[col].to_numpy(dtype=np.float64), signed=False, trim=True)

    def pct(col: str) -> np.ndarray:
        return fmt_number(table[col].to_numpy(dtype=np.float64))

    text = ("sum " + mm("SUMDIAM") + "mm, baseline " + mm("BASE_SUM") + "mm ("
            + pct("PCHG_BASE") + "%), nadir " + mm("NADIR") + "mm (" + pct("PCHG_NADIR") + "%); ")
    has_sum = table["SUMDIAM"].notna().to_numpy() & table["BASE_SUM"].notna().to_numpy()
    return np.where(has_sum, text, "")


def _findings(table: pd.DataFrame) -> list[Finding]:
    # Messages are built for the rows that need one only (most compared rows agree).
    table = table.iloc[np.flatnonzero(_objects(table["STATUS"]) != "AGREE")]
    who = table["EVALUATOR"].fillna("").str.lower().to_numpy(dtype=object)
    label = _visit_label(table)
    rs_val = table["RSSTRESC"].fillna("(none)").to_numpy(dtype=object)
    comp_val = table["COMPUTED"].fillna("(none)").to_numpy(dtype=object)
    reason = table["REASON"].fillna("").to_numpy(dtype=object)
    status = table["STATUS"].to_numpy(dtype=object)
    tests = table["RSTESTCD"].to_numpy(dtype=object)

    value = who + "=" + rs_val + " computed=" + comp_val
    disagree_msg = (tests + " at " + label + ": " + who + " " + rs_val + ", computed from TU/TR "
                    + comp_val + "; " + _numbers(table) + "reason " + reason)
    rs_only_msg = (tests + " at " + label + ": " + who + " " + rs_val
                   + " has no computed response"
                   + np.where(reason != "", " (" + reason + ")", " (no TR assessment)"))
    comp_only_msg = ("OVRLRESP at " + label + ": computed " + comp_val + " (" + reason
                     + ") has no " + who + " RS record")

    findings: list[Finding] = []
    usubjid = table["USUBJID"].fillna("").to_numpy(dtype=object)
    source = table["SOURCE"].fillna("").to_numpy(dtype=object)
    for i in np.flatnonzero(status != "AGREE"):
        if status[i] == "DISAGREE":
            rule = DISAGREE_RULES[tests[i]]
            dataset, variable = ("TR", "TRSTRESN") if rule == "CMAP-RC0003" else ("RS", "RSSTRESC")
            findings.append(Finding(rule, Severity.WARNING, disagree_msg[i], dataset,
                                    usubjid[i], variable, value[i], source[i]))
        else:
            msg = rs_only_msg[i] if status[i] == "RS ONLY" else comp_only_msg[i]
            findings.append(Finding("CMAP-RC0002", Severity.NOTICE, msg, "RS", usubjid[i],
                                    "RSSTRESC", value[i], source[i]))
    return findings


def to_rs_records(computed: pd.DataFrame, studyid: str) -> pd.DataFrame:
    """Derived SDTM RS records of the computed responses (no RSSEQ: the caller assigns --SEQ).

    One record per post-baseline assessment and test with a non-null result, tests in the order
    TRGRESP, NTRGRESP, NEWLPROG, OVRLRESP; RSCAT "RECIST 1.1", RSDRVFL "Y", RSEVAL null
    (SDTMIG 3.4 §4.1.8), RSDTC = the assessment date ADTC.
    """
    missing = [c for c in OUTPUT_COLUMNS if c not in computed.columns]
    if missing:
        raise InputDataError(f"computed responses lack column(s) {', '.join(missing)}; pass the "
                             f"frame returned by timepoint_responses")
    tests = list(RS_TESTS)
    # one block of rows per test (as melt stacks them), non-null results only, ordered by
    # USUBJID (null last), VISITNUM, test, stable: on integer ranks, not a sort of text
    n_rows = len(computed)
    results = np.concatenate([_objects(computed[t]) for t in tests]) if n_rows \
        else np.array([], dtype=object)
    test_no = np.repeat(np.arange(len(tests)), n_rows)
    row = np.tile(np.arange(n_rows), len(tests))
    # the results factorised once (nulls -1: each distinct object tested once, not pd.notna
    # of every cell); the kept rows' codes serve RSORRES/RSSTRESC below
    result_codes, result_values = factorize_text(results)
    kept = np.flatnonzero(result_codes >= 0)
    subject = _text_rank(computed["USUBJID"])
    visitnum = computed["VISITNUM"].to_numpy(dtype=np.float64)
    kept = kept[stable_order([test_no[kept], visitnum[row[kept]], subject[row[kept]]])]
    row, test_no = row[kept], test_no[kept]
    n = len(kept)

    index = pd.RangeIndex(n)
    # text columns made from codes into their few distinct values (text_from_codes): while a
    # codes cache is open (the run's RECIST step) their factorisation is known, so the SV
    # derivation and the SDTM checks do not hash the records again

    def coded_text(codes: np.ndarray, table: list[object] | np.ndarray) -> pd.Series:
        return text_from_codes(codes, np.asarray(table, dtype=object), index)

    def text(values: np.ndarray, codes: np.ndarray, uniques: np.ndarray
             ) -> Callable[[], pd.Series | pd.arrays.StringArray]:
        """``values`` (no null) as text; ``codes`` into ``uniques``: their factorisation."""
        # renumbered in order of first appearance among these rows, as factorising them
        # would number them (integer hashing, not the text again)
        codes, present = pd.factorize(codes)
        uniques = np.asarray(uniques, dtype=object)[present]
        if lib.is_string_array(uniques, skipna=False):
            return lambda: coded_text(codes, uniques)
        return lambda: _string_column(values)

    def constant(value: str | None) -> pd.Series:
        if value is None:
            return coded_text(np.full(n, -1, dtype=np.intp), [])
        return coded_text(np.zeros(n, dtype=np.intp), [value])

    def column(name: str) -> pd.Series | pd.arrays.StringArray:
        values = computed[name]
        if isinstance(values.array, pd.arrays.StringArray):   # str and NA only: taken as is
            codes, uniques = factorize_text(np.asarray(values.array, dtype=object))
            return coded_text(codes[row], uniques)
        return _string_column(values.to_numpy(dtype=object)[row])

    result_text = text(results[kept], result_codes[kept], result_values)   # RSORRES, RSSTRESC
    return pd.DataFrame({
        "STUDYID": constant(studyid),
        "DOMAIN": constant("RS"),
        "USUBJID": column("USUBJID"),
        "RSTESTCD": coded_text(test_no, tests),
        "RSTEST": coded_text(test_no, [RS_TESTS[t] for t in tests]),
        "RSCAT": constant(RSCAT_RECIST),
        "RSORRES": result_text(),
        "RSSTRESC": result_text(),
        "RSDRVFL": constant("Y"),
        "RSEVAL": constant(None),
        "VISITNUM": visitnum[row],
        "VISIT": column("VISIT"),
        "RSDTC": column("ADTC"),
    }, index=index, copy=False)
