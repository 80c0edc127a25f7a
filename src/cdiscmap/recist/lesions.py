"""Assemble TU/TR into one row per baseline lesion per assessment, the input of every RECIST rule.

Shapes read (docs/conventions.md): TU identifies each lesion once (``TULNKID``, ``TUSTRESC`` in
TARGET/NON-TARGET/NEW, ``VISITNUM``); TR measures it per visit, linked by USUBJID+TRLNKID.

Choices made here (each one is documented because a response depends on it):

- Baseline visit of a subject = the smallest TU ``VISITNUM`` of its TARGET/NON-TARGET lesions
  (the assessment at which they were identified, RECIST 1.1 §4.2.2). A TARGET/NON-TARGET lesion
  whose TU ``VISITNUM`` is null is taken as identified at baseline. Assessments are the distinct TR
  ``VISITNUM`` of the subject at or after baseline, ordered by ``VISITNUM``; earlier ones are
  ignored.
- Nodal status of a target lesion (RECIST 1.1 §3.2 "malignant lymph nodes", §4.1) is decided by
  ``settings.nodal_from``: ``location`` = TU ``TULOC`` names a lymph node (it contains
  ``LYMPH NODE``, as all 91 lymph-node terms of the CDISC LOC codelist C74456 do, e.g. AXILLARY
  LYMPH NODE, LYMPH NODE HILUM, and GUT-ASSOCIATED LYMPHOID TISSUE does not; or it is listed in
  ``settings.nodal_locations``); ``short_axis_test`` = the lesion has ``LPERP`` (short axis)
  records and no ``LDIAM`` record; ``auto`` (default) = either of the two, so the location
  decides whenever both axes are recorded. Having an LPERP record alone never makes a lesion a node: data that records
  both axes of every lesion is common, and reading a non-nodal lesion by its short axis would
  also apply the node "< 10 mm" CR rule to it.
- Measured diameter (RECIST 1.1 §3.2, §4.3.1): a nodal target is read from its ``LPERP`` (short
  axis) records, a non-nodal one from ``LDIAM`` (longest diameter). A lesion that has no record of
  its prescribed test at all is read from the other one, with a note.
- Value of a target lesion: ``TRSTRESN`` (mm). ``TRSTAT="NOT DONE"`` or a null result means not
  evaluated; "TOO SMALL TO MEASURE" (``TRORRES``/``TRSTRESC``) without a number takes
  ``too_small_default_mm`` (RECIST 1.1 §4.3.2); a merged lesion carries 0 and simply adds 0.
- Split lesions (RECIST 1.1 §4.3.2, SDTMIG 3.4 TU ``TUSPLIT``): a TR lesion id ``<parent>.<n>``
  (e.g. ``T04.1``) whose parent is a baseline lesion of the subject is a fragment of it; at a visit
  where fragments exist, the lesion's value is the sum of its fragments (the parent's own record,
  if any, is dropped) and the lesion is evaluated only if every fragment is.
- Non-target/new lesion status: ``TUMSTATE`` ``TRSTRESC`` in ABSENT, PRESENT, EQUIVOCAL,
  UNEQUIVOCAL; anything else, ``TRSTAT="NOT DONE"`` or no record at the visit = not evaluated.
  A NEW lesion measured by LDIAM/LPERP with a value above 0 counts as PRESENT.
- Evaluator: only TU/TR records whose TUEVAL/TREVAL equals ``settings.evaluator`` (case-blind)
  are read; a null evaluator counts as that evaluator. ``timepoint_responses`` instead keys every
  reader as its own series (``recist/readers.py``) and calls this with ``filter_evaluator=False``.
- Exact duplicate keys (USUBJID, TRLNKID, TRTESTCD, VISITNUM) are reduced to one record, chosen by
  content (not row order) so that results never depend on the order of the input rows.

Everything is vectorised on integer codes (subject, lesion, visit) so that a million TR rows stay
well under a second.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cdiscmap.checks.read import factorize_objects
from cdiscmap.errors import InputDataError
from cdiscmap.recist.settings import RecistSettings
from cdiscmap.sdtm.vectorize import stable_order

TARGET, NON_TARGET, NEW = "TARGET", "NON-TARGET", "NEW"
ROLE_TARGET, ROLE_NON_TARGET, ROLE_NEW = 0, 1, 2
_ROLES = {TARGET: ROLE_TARGET, NON_TARGET: ROLE_NON_TARGET, NEW: ROLE_NEW}

TEST_LDIAM, TEST_LPERP, TEST_TUMSTATE = 0, 1, 2
_TESTS = {"LDIAM": TEST_LDIAM, "LPERP": TEST_LPERP, "TUMSTATE": TEST_TUMSTATE}

#: Lesion status codes, ordered by how much disease they show; 0 = not evaluated.
STATUS_NOT_EVALUATED, STATUS_ABSENT, STATUS_EQUIVOCAL, STATUS_PRESENT, STATUS_UNEQUIVOCAL = range(5)
_STATUSES = {"ABSENT": STATUS_ABSENT, "EQUIVOCAL": STATUS_EQUIVOCAL,
             "PRESENT": STATUS_PRESENT, "UNEQUIVOCAL": STATUS_UNEQUIVOCAL}

TOO_SMALL = "TOO SMALL TO MEASURE"
NOT_DONE = "NOT DONE"

TU_REQUIRED = ("USUBJID", "TULNKID", "TUSTRESC", "VISITNUM")
TR_REQUIRED = ("USUBJID", "TRLNKID", "TRTESTCD", "TRSTRESN", "VISITNUM")

_MAX_EXAMPLES = 5


@dataclass
class LesionData:
    """Per-lesion per-visit tables of one evaluator, keyed by integer codes.

    ``_S`` indexes ``subjects`` (sorted USUBJID), ``_V`` indexes ``visitnums`` (sorted VISITNUM).
    """

    subjects: pd.DataFrame     # index _S: USUBJID, BASE_VISITNUM, N_TARGET, N_NONTARGET
    visitnums: np.ndarray      # sorted distinct VISITNUM values (float)
    visits: pd.DataFrame       # one row per subject × assessment: _S, _V, VISITNUM, VISIT, ADTC,
    #                            BASELINE (bool); sorted by _S, _V
    target: pd.DataFrame       # one row per baseline target × assessment: _S, _V, LESION, NODAL,
    #                            VALUE (mm, NaN = not evaluated), EVALUATED
    nontarget: pd.DataFrame    # one row per baseline non-target × assessment: _S, _V, LESION,
    #                            STATUS (code, 0 = not evaluated)
    new: pd.DataFrame          # one row per subject × assessment with a new-lesion record: _S, _V,
    #                            NEW_UNEQUIVOCAL, NEW_EQUIVOCAL (bool), NEW_IDS (str)
    notes: list[str] = field(default_factory=list)


def require_columns(frame: pd.DataFrame, dataset: str, columns: tuple[str, ...]) -> None:
    """Stop with a message naming every missing column, before any rule runs."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"{dataset} lacks column(s) {', '.join(missing)} needed by the RECIST engine; "
            f"it has: {', '.join(map(str, frame.columns)) or '(none)'}")


def _as_objects(values: pd.Series | np.ndarray) -> np.ndarray:
    if isinstance(values, pd.Series):
        if isinstance(values.array, pd.arrays.StringArray):
            # the backing object array itself: the same objects as to_numpy(dtype=object), without
            # its per-call null scan (read-only use: the caller must not write into it)
            return np.asarray(values.array, dtype=object)
        return values.to_numpy(dtype=object)   # no copy for object-backed string columns
    return np.asarray(values, dtype=object)


def text_objects_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1 = null) and distinct values of a column read as ``astype("string")`` would,
    without normalising (whole values compared: no C-string NUL cut)."""
    array = values.array if isinstance(values.array, pd.arrays.StringArray) else (
        values.astype("string").array)
    codes, uniques = factorize_objects(np.asarray(array, dtype=object))
    return codes, np.asarray(uniques, dtype=object)


def object_addresses(objects: np.ndarray) -> np.ndarray:
    """The address of every element of an object array (the object pointers the array holds),
    as integers read from its buffer: equal addresses are one and the same object."""
    objects = np.ascontiguousarray(objects, dtype=object)
    if not len(objects):
        return np.zeros(0, dtype=np.intp)
    cells = (ctypes.c_ssize_t * len(objects)).from_address(objects.ctypes.data)
    return np.frombuffer(cells, dtype=np.intp).copy()     # a copy while ``objects`` lives


def factorize_text(objects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cdiscmap.checks.read.factorize_objects` (codes in order of first appearance,
    -1 = null; whole values compared), hashing each distinct object once: rows of a column
    share few objects (the distinct values of a factorised column, a handful of statuses), so
    the rows are grouped on the objects' addresses (integer hashing) and only one row per
    object is compared as text."""
    if len(objects) < 1024:
        return factorize_objects(objects)
    same, distinct = pd.factorize(object_addresses(objects))
    if len(distinct) * 2 > len(objects):     # an object per row, or nearly: by value at once
        return factorize_objects(objects)
    first = np.empty(len(distinct), dtype=np.intp)
    first[same[::-1]] = np.arange(len(same) - 1, -1, -1, dtype=np.intp)
    codes, uniques = factorize_objects(objects[first])
    return codes[same], uniques


def _factorized(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of a column's values (code -1: null). A Python-backed ``string``
    column is factorised through :func:`cdiscmap.sdtm.vectorize.coded` (the same
    ``pd.factorize``): while a codes cache is open, a column read or mapped with its codes
    known, or already factorised by another step of the engine, is not hashed again."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype) \
            and values.dtype.storage == "python":
        from cdiscmap.sdtm.vectorize import coded

        return coded(values)
    return factorize_text(_as_objects(values))


def shared_text_codes(columns: list[pd.Series | np.ndarray], *,
                      upper: bool) -> tuple[list[np.ndarray], np.ndarray]:
    """Integer codes of several text columns over one sorted vocabulary (blank/null = -1).

    Values are stripped (and upper-cased when ``upper``); only the distinct values are
    normalised, which keeps this fast on a million rows. Code order is text order, so the
    smallest code is the smallest text.
    """
    from pandas._libs import lib

    factorized = [_factorized(col) for col in columns]
    uniques = [np.asarray(u, dtype=object) for _, u in factorized]
    all_uniques = np.concatenate(uniques) if uniques else np.array([], dtype=object)
    every_str = lib.is_string_array(all_uniques, skipna=False) if len(all_uniques) else True
    # columns sharing values (TU's and TR's USUBJID): each distinct text normalised once
    shared = None
    if len(uniques) > 1 and every_str:
        shared, all_uniques = factorize_objects(all_uniques)
        all_uniques = np.asarray(all_uniques, dtype=object)
    # as astype(str).str.strip() (.str.upper()), with str methods called directly on values
    # that already are str
    texts = all_uniques.copy()
    if not every_str:
        other = np.fromiter((type(u) is not str for u in all_uniques), dtype=bool,
                            count=len(all_uniques))
        texts[other] = pd.Series(all_uniques[other], dtype=object).astype(str).to_numpy(object)
    norm_values = np.array([t.strip().upper() for t in texts] if upper
                           else [t.strip() for t in texts], dtype=object)
    valid = norm_values != ""
    categories, inverse = np.unique(norm_values[valid].astype(str), return_inverse=True)
    remap = np.full(len(norm_values), -1, dtype=np.int64)
    remap[np.flatnonzero(valid)] = inverse
    if shared is not None:
        remap = remap[shared]                       # back to every column's own uniques
    codes_out, offset = [], 0
    for raw_codes, u in factorized:
        part = np.append(remap[offset:offset + len(u)], -1)   # raw code -1 picks the -1
        codes_out.append(part[raw_codes])
        offset += len(u)
    return codes_out, categories.astype(object)


def text_codes(values: pd.Series | np.ndarray, *, upper: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sorted integer codes of one text column (see ``shared_text_codes``)."""
    codes, categories = shared_text_codes([values], upper=upper)
    return codes[0], categories


def join_labels(keys: np.ndarray, labels: np.ndarray, sep: str = ",") -> pd.Series:
    """Distinct labels per integer key, sorted and joined (``T01,T03``), without a Python loop
    over groups: one vectorised pass per label rank (a subject has few lesions)."""
    keys = np.asarray(keys, dtype=np.int64)
    if len(keys) == 0:
        return pd.Series([], index=pd.Index([], dtype=np.int64), dtype=object)
    lab_codes, uniq = pd.factorize(np.asarray(labels, dtype=object), sort=True)
    order = np.lexsort((lab_codes, keys))
    k, c = keys[order], lab_codes[order]
    keep = np.ones(len(k), dtype=bool)
    keep[1:] = (k[1:] != k[:-1]) | (c[1:] != c[:-1])
    k, c = k[keep], c[keep]
    lab = np.asarray(uniq, dtype=object)[c]
    new_group = np.ones(len(k), dtype=bool)
    new_group[1:] = k[1:] != k[:-1]
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    rank = np.arange(len(k)) - starts[group]
    out = lab[starts].copy()
    for r in range(1, int(rank.max()) + 1):
        sel = rank == r
        out[group[sel]] = out[group[sel]] + sep + lab[sel]
    return pd.Series(out, index=k[starts], dtype=object)


def _lookup(codes: np.ndarray, categories: np.ndarray, mapping: dict[str, int]) -> np.ndarray:
    """Map text codes to the small integer vocabulary of ``mapping``; anything else is -1."""
    table = np.array([mapping.get(str(c), -1) for c in categories] + [-1], dtype=np.int64)
    return table[codes]  # code -1 picks the trailing -1


def _evaluator_mask(frame: pd.DataFrame, column: str, evaluator: str) -> np.ndarray:
    if column not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    codes, cats = text_codes(frame[column], upper=True)
    hit = np.flatnonzero(cats == evaluator)
    return (codes < 0) | (np.isin(codes, hit))


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64,
                                                                   na_value=np.nan)


def _text_is(frame: pd.DataFrame, column: str, value: str,
             rows: np.ndarray | None = None) -> np.ndarray:
    """Whether the column equals ``value`` (case-blind); only ``rows`` are read when given."""
    out = np.zeros(len(frame), dtype=bool)
    if column not in frame.columns:
        return out
    if rows is None:        # the whole column: its codes may be known (codes cache)
        codes, cats = text_codes(frame[column], upper=True)
        return np.isin(codes, np.flatnonzero(cats == value))
    codes, cats = text_codes(_as_objects(frame[column])[rows], upper=True)
    out[rows] = np.isin(codes, np.flatnonzero(cats == value))
    return out


def _examples(labels: np.ndarray) -> str:
    shown = sorted(set(map(str, labels)))
    more = f" and {len(shown) - _MAX_EXAMPLES} more" if len(shown) > _MAX_EXAMPLES else ""
    return ", ".join(shown[:_MAX_EXAMPLES]) + more


def _group_min(keys: np.ndarray, values: np.ndarray, n_keys: int, fill: int) -> np.ndarray:
    """Smallest value per integer key in ``0..n_keys-1`` (``fill`` where a key has none)."""
    out = np.full(n_keys, fill, dtype=np.int64)
    np.minimum.at(out, keys, values)
    return out


def _location_nodal(tu: pd.DataFrame, settings: RecistSettings) -> np.ndarray:
    """Per TU row: 1 when TULOC names a lymph node, 0 when it names something else, -1 unknown.

    Lymph-node locations: every value containing ``LYMPH NODE`` (the lymph-node terms of the
    CDISC LOC codelist C74456 and sponsor extensions worded the same way) plus
    ``settings.nodal_locations`` (RECIST 1.1 §3.2). Decided once per distinct value.
    """
    if "TULOC" not in tu.columns:
        return np.full(len(tu), -1, dtype=np.int64)
    codes, cats = text_codes(tu["TULOC"], upper=True)
    extra = set(settings.nodal_locations)
    table = np.array([1 if ("LYMPH NODE" in c or c in extra) else 0 for c in cats] + [-1],
                     dtype=np.int64)
    return table[codes]


def assemble_lesions(tu: pd.DataFrame, tr: pd.DataFrame, settings: RecistSettings, *,
                     filter_evaluator: bool = True) -> LesionData:
    """Build the per-lesion per-assessment tables of ``settings.evaluator`` from TU and TR.

    ``filter_evaluator=False`` reads every row (the caller has already chosen the reader).
    """
    require_columns(tu, "TU", TU_REQUIRED)
    require_columns(tr, "TR", TR_REQUIRED)
    notes: list[str] = []

    if filter_evaluator:
        tu_keep = _evaluator_mask(tu, "TUEVAL", settings.evaluator)
        tr_keep = _evaluator_mask(tr, "TREVAL", settings.evaluator)
    else:
        tu_keep = np.ones(len(tu), dtype=bool)
        tr_keep = np.ones(len(tr), dtype=bool)

    # --- shared integer codes: subjects and lesion ids of TU and TR together -------------------
    (tu_s, tr_s), subjects = shared_text_codes([tu["USUBJID"], tr["USUBJID"]], upper=False)
    (tu_l, tr_l), links = shared_text_codes([tu["TULNKID"], tr["TRLNKID"]], upper=True)
    n_subj, n_link = len(subjects), max(len(links), 1)

    # Fragment ids "<parent>.<n>" point at their parent id when that id exists (RECIST 1.1 §4.3.2).
    link_index = pd.Index(links)
    prefix = pd.Series(links, dtype=object).str.split(".", n=1).str[0].to_numpy(dtype=object)
    parent_of = link_index.get_indexer(prefix)
    parent_of = np.where(parent_of >= 0, parent_of, np.arange(len(links)))

    # --- TU: one identification per lesion, baseline visit per subject ------------------------
    role_codes, role_cats = text_codes(tu["TUSTRESC"], upper=True)
    role = _lookup(role_codes, role_cats, _ROLES)
    tu_visitnum = _numeric(tu, "VISITNUM")
    # each lesion's identification: its record first by (VISITNUM, ROLE), null VISITNUM last
    # (a stable sort by subject, lesion, VISITNUM, ROLE keeping the first of each lesion)
    rows = np.flatnonzero(tu_keep & (tu_s >= 0) & (tu_l >= 0) & (role >= 0))
    rows = rows[stable_order([role[rows], tu_visitnum[rows], tu_l[rows], tu_s[rows]])]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (tu_s[rows[1:]] != tu_s[rows[:-1]]) | (tu_l[rows[1:]] != tu_l[rows[:-1]])
    rows = rows[first]
    tu_w = pd.DataFrame({"_S": tu_s[rows], "_L": tu_l[rows], "ROLE": role[rows],
                         "VISITNUM": tu_visitnum[rows],
                         "LOCN": _location_nodal(tu, settings)[rows]})
    measured_roles = np.isin(role[rows], [ROLE_TARGET, ROLE_NON_TARGET])
    # baseline visit: the smallest VISITNUM of the subject's TARGET/NON-TARGET lesions
    base_visit = np.full(n_subj, np.nan)
    np.fmin.at(base_visit, tu_s[rows][measured_roles], tu_visitnum[rows][measured_roles])

    tu_base_visit = base_visit[tu_w["_S"].to_numpy()]
    tu_visit = tu_w["VISITNUM"].to_numpy()
    at_baseline = measured_roles & (np.isnan(tu_visit) | (tu_visit <= tu_base_visit))
    base_les = tu_w[at_baseline].reset_index(drop=True)
    base_les_key = base_les["_S"].to_numpy() * n_link + base_les["_L"].to_numpy()
    base_index = pd.Index(base_les_key)
    tu_key_index = pd.Index(tu_w["_S"].to_numpy() * n_link + tu_w["_L"].to_numpy())
    tu_roles = tu_w["ROLE"].to_numpy()

    late = tu_w[measured_roles & ~at_baseline]
    late_parent_key = late["_S"].to_numpy() * n_link + parent_of[late["_L"].to_numpy()]
    orphan_late = base_index.get_indexer(late_parent_key) < 0
    if orphan_late.any():
        lab = subjects[late["_S"].to_numpy()[orphan_late]] + " " + links[
            late["_L"].to_numpy()[orphan_late]]
        notes.append(f"TU: {int(orphan_late.sum())} TARGET/NON-TARGET lesion(s) identified after "
                     f"baseline that are no fragment of a baseline lesion, not used: "
                     f"{_examples(lab)}")

    # --- TR working columns ---------------------------------------------------------------------
    test_codes, test_cats = text_codes(tr["TRTESTCD"], upper=True)
    test = _lookup(test_codes, test_cats, _TESTS)
    value = _numeric(tr, "TRSTRESN")
    # Result text is read only where it matters: statuses, and results without a number.
    text_rows = np.flatnonzero((test == TEST_TUMSTATE) | ((test >= 0) & np.isnan(value)))
    status = np.full(len(tr), -1, dtype=np.int64)
    too_small = _text_is(tr, "TRORRES", TOO_SMALL, text_rows)
    if "TRSTRESC" in tr.columns:
        stresc_codes, stresc_cats = text_codes(_as_objects(tr["TRSTRESC"])[text_rows], upper=True)
        status[text_rows] = _lookup(stresc_codes, stresc_cats, _STATUSES)
        too_small[text_rows] |= np.isin(stresc_codes, np.flatnonzero(stresc_cats == TOO_SMALL))
    not_done = _text_is(tr, "TRSTAT", NOT_DONE)
    tr_visit = _numeric(tr, "VISITNUM")
    visit_codes, visit_names = (text_codes(tr["VISIT"], upper=False) if "VISIT" in tr.columns
                                else (np.full(len(tr), -1, np.int64), np.array([], object)))
    dtc_codes, dtc_values = (text_codes(tr["TRDTC"], upper=False) if "TRDTC" in tr.columns
                             else (np.full(len(tr), -1, np.int64), np.array([], object)))

    usable = tr_keep & (tr_s >= 0)
    no_visit = usable & np.isnan(tr_visit)
    if no_visit.any():
        notes.append(f"TR: {int(no_visit.sum())} record(s) without VISITNUM ignored")
    usable &= ~np.isnan(tr_visit)
    row_base = base_visit[np.maximum(tr_s, 0)]
    pre_baseline = usable & (tr_visit < row_base)
    usable &= ~pre_baseline

    visitnums = np.sort(pd.unique(tr_visit[usable]))
    n_visit = max(len(visitnums), 1)
    tr_v = np.searchsorted(visitnums, np.where(usable, tr_visit, visitnums[0] if len(visitnums)
                                               else 0.0))

    # --- lesion assignment of each TR lesion record --------------------------------------------
    is_lesion_test = usable & (test >= 0) & (tr_l >= 0)
    own_key = tr_s * n_link + tr_l
    own_pos = np.where(is_lesion_test, base_index.get_indexer(own_key), -1)
    parent_pos = np.where(is_lesion_test & (own_pos < 0),
                          base_index.get_indexer(tr_s * n_link + parent_of[np.maximum(tr_l, 0)]),
                          -1)
    fragment = (own_pos < 0) & (parent_pos >= 0)
    les_pos = np.where(own_pos >= 0, own_pos, parent_pos)
    tu_pos = np.where(is_lesion_test & (les_pos < 0), tu_key_index.get_indexer(own_key), -1)
    new_row = (tu_pos >= 0) & (tu_roles[np.maximum(tu_pos, 0)] == ROLE_NEW) if len(tu_roles) else (
        np.zeros(len(tr), dtype=bool))
    unlinked = is_lesion_test & (les_pos < 0) & ~new_row
    if unlinked.any():
        lab = subjects[tr_s[unlinked]] + " " + links[tr_l[unlinked]]
        notes.append(f"TR: {int(unlinked.sum())} lesion record(s) not linked to a baseline or "
                     f"new lesion in TU, ignored: {_examples(lab)}")

    # --- duplicate keys: keep one record per (subject, lesion id, test, visit) by content ------
    rows = np.flatnonzero((les_pos >= 0) | new_row)
    recs = pd.DataFrame({
        "_S": tr_s[rows], "_L": tr_l[rows], "TEST": test[rows], "_V": tr_v[rows],
        "LES": les_pos[rows], "FRAG": fragment[rows], "NEW": new_row[rows],
        "VALUE": value[rows], "STATUS": status[rows], "NOT_DONE": not_done[rows],
        "TOO_SMALL": too_small[rows], "DTC": dtc_codes[rows],
    })
    record_key = ((recs["_S"].to_numpy() * n_link + recs["_L"].to_numpy()) * len(_TESTS)
                  + recs["TEST"].to_numpy()) * n_visit + recs["_V"].to_numpy()
    dup = pd.Series(record_key).duplicated(keep=False).to_numpy()
    if dup.any():
        recs = (recs.assign(_KEY=record_key)
                .sort_values(["_KEY", "NOT_DONE", "VALUE", "STATUS", "TOO_SMALL", "DTC"],
                             kind="mergesort", na_position="last")
                .drop_duplicates("_KEY", keep="first").sort_index().drop(columns="_KEY"))
        notes.append(f"TR: {int(dup.sum())} lesion records share a USUBJID/TRLNKID/TRTESTCD/"
                     f"VISITNUM key with another; one kept per key")

    # --- assessments (subject × visit) ----------------------------------------------------------
    sv_all = tr_s[usable] * n_visit + tr_v[usable]
    lesion_sv = recs["_S"].to_numpy() * n_visit + recs["_V"].to_numpy()
    n_sv = n_subj * n_visit
    big = np.iinfo(np.int64).max // 4
    # VISIT: the smallest name of the visit; ADTC: the earliest lesion date, else any TR date.
    visit_min = _group_min(sv_all, np.where(visit_codes[usable] >= 0, visit_codes[usable], big),
                           n_sv, big)
    n_dtc = len(dtc_values) + 1
    dtc_any = np.where(dtc_codes[usable] >= 0, dtc_codes[usable] + n_dtc, big)
    dtc_les = np.where(recs["DTC"].to_numpy() >= 0, recs["DTC"].to_numpy(), big)
    dtc_min = np.minimum(_group_min(sv_all, dtc_any, n_sv, big),
                         _group_min(lesion_sv, dtc_les, n_sv, big))
    present = np.zeros(n_sv, dtype=bool)
    present[sv_all] = True
    sv = np.flatnonzero(present)
    vs, vv = sv // n_visit, sv % n_visit
    vname = visit_min[sv]
    vdtc = dtc_min[sv]
    vdtc = np.where(vdtc >= n_dtc, vdtc - n_dtc, vdtc)
    visits = pd.DataFrame({
        "_S": vs, "_V": vv, "VISITNUM": visitnums[vv] if len(visitnums) else np.array([]),
        "VISIT": np.where(vname < big, np.append(visit_names, None)[
            np.minimum(vname, len(visit_names))], None).astype(object),
        "ADTC": np.where(vdtc < big, np.append(dtc_values, None)[
            np.minimum(vdtc, len(dtc_values))], None).astype(object),
    })
    visits["BASELINE"] = visits["VISITNUM"].to_numpy() == base_visit[vs]

    # --- per-subject summary --------------------------------------------------------------------
    les_subj = base_les["_S"].to_numpy()
    les_role = base_les["ROLE"].to_numpy()
    subj_frame = pd.DataFrame({
        "USUBJID": subjects.astype(object), "BASE_VISITNUM": base_visit,
        "N_TARGET": np.bincount(les_subj[les_role == ROLE_TARGET], minlength=n_subj),
        "N_NONTARGET": np.bincount(les_subj[les_role == ROLE_NON_TARGET], minlength=n_subj),
    })

    base_les["LESION"] = links[base_les["_L"].to_numpy()] if len(base_les) else np.array([], object)
    target = _target_grid(recs, base_les, visits, n_visit, settings, notes, subjects, links)
    nontarget = _nontarget_grid(recs, base_les, visits, n_visit)
    new = _new_lesions(recs, links, visits, n_visit, settings)
    return LesionData(subj_frame, visitnums, visits, target, nontarget, new, notes)


def group_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes 0..k-1 of integer keys and the sorted distinct keys (hash-based, fast)."""
    codes, uniques = pd.factorize(np.asarray(keys, dtype=np.int64), sort=True)
    return codes, np.asarray(uniques, dtype=np.int64)


def find_keys(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Position of each key in ``sorted_keys`` (-1 when absent)."""
    pos = np.searchsorted(sorted_keys, keys)
    inside = pos < len(sorted_keys)
    hit = np.zeros(len(keys), dtype=bool)
    hit[inside] = sorted_keys[pos[inside]] == keys[inside]
    return np.where(hit, pos, -1)


def _grid(base_les: pd.DataFrame, role: int, visits: pd.DataFrame) -> pd.DataFrame:
    """Every baseline lesion of ``role`` at every assessment of its subject.

    Sorted by subject, visit, lesion id; built with repeats instead of a merge.
    """
    les = base_les[base_les["ROLE"].to_numpy() == role].sort_values(["_S", "_L"],
                                                                     kind="mergesort")
    les_s = les["_S"].to_numpy()
    n_subj = int(max(visits["_S"].max() if len(visits) else -1,
                     les_s.max() if len(les_s) else -1)) + 1
    per_subj = np.bincount(les_s, minlength=n_subj)
    first_les = np.concatenate([[0], np.cumsum(per_subj)[:-1]]) if n_subj else per_subj
    v_s = visits["_S"].to_numpy()
    block = per_subj[v_s]                                   # lesions at each assessment
    vis_row = np.repeat(np.arange(len(visits)), block)
    block_start = np.concatenate([[0], np.cumsum(block)[:-1]]) if len(block) else block
    les_row = first_les[v_s[vis_row]] + (np.arange(len(vis_row)) - block_start[vis_row])
    return pd.DataFrame({
        "_S": v_s[vis_row], "_V": visits["_V"].to_numpy()[vis_row],
        "LES": les.index.to_numpy()[les_row],
        "LESION": les["LESION"].to_numpy(dtype=object)[les_row],
    })


def _fragment_rule(recs: pd.DataFrame, n_visit: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Drop a lesion's own record at visits where its fragments were measured instead.

    Returns the kept records and their lesion × visit keys.
    """
    lv = recs["LES"].to_numpy() * n_visit + recs["_V"].to_numpy()
    frag = recs["FRAG"].to_numpy()
    if not frag.any():
        return recs, lv
    replaced = ~frag & np.isin(lv, lv[frag])
    return recs[~replaced], lv[~replaced]


def nodal_lesions(base_les: pd.DataFrame, has_ldiam: np.ndarray, has_lperp: np.ndarray,
                  settings: RecistSettings) -> np.ndarray:
    """Nodal status per baseline lesion (RECIST 1.1 §3.2, §4.1; see the module docstring)."""
    by_test = has_lperp & ~has_ldiam
    loc = base_les["LOCN"].to_numpy() if "LOCN" in base_les else np.full(len(base_les), -1)
    if settings.nodal_from == "short_axis_test":
        return by_test
    if settings.nodal_from == "location":
        return loc == 1
    # auto: a lymph-node location, or a lesion recorded by its short axis alone (a sponsor's
    # own location wording such as "LN, AXILLARY" must not turn a node into a non-nodal lesion)
    return (loc == 1) | by_test


def _target_grid(recs: pd.DataFrame, base_les: pd.DataFrame, visits: pd.DataFrame, n_visit: int,
                 settings: RecistSettings, notes: list[str] | None = None,
                 subjects: np.ndarray | None = None,
                 links: np.ndarray | None = None) -> pd.DataFrame:
    grid = _grid(base_les, ROLE_TARGET, visits)
    t = recs[(recs["LES"].to_numpy() >= 0)
             & np.isin(recs["TEST"].to_numpy(), [TEST_LDIAM, TEST_LPERP])]
    t_les, t_test = t["LES"].to_numpy(), t["TEST"].to_numpy()
    has_ldiam = np.zeros(len(base_les), dtype=bool)
    has_lperp = np.zeros(len(base_les), dtype=bool)
    has_ldiam[t_les[t_test == TEST_LDIAM]] = True
    has_lperp[t_les[t_test == TEST_LPERP]] = True
    nodal_les = nodal_lesions(base_les, has_ldiam, has_lperp, settings)
    # RECIST 1.1 §3.2: short axis for nodes, longest diameter otherwise; the other test only
    # when the prescribed one was never recorded for the lesion.
    prescribed = np.where(nodal_les, TEST_LPERP, TEST_LDIAM)
    has_prescribed = np.where(nodal_les, has_lperp, has_ldiam)
    read_test = np.where(has_prescribed, prescribed, np.where(nodal_les, TEST_LDIAM, TEST_LPERP))
    is_target = base_les["ROLE"].to_numpy() == ROLE_TARGET
    fallback = is_target & ~has_prescribed & (has_ldiam | has_lperp)
    if notes is not None and fallback.any() and subjects is not None and links is not None:
        lab = (subjects[base_les["_S"].to_numpy()[fallback]] + " "
               + links[base_les["_L"].to_numpy()[fallback]])
        notes.append(f"TR: {int(fallback.sum())} target lesion(s) lack the diameter RECIST 1.1 "
                     f"§3.2 prescribes (LPERP for nodes, LDIAM otherwise) and are read from the "
                     f"other one: {_examples(lab)}")
    both_unknown = (is_target & has_ldiam & has_lperp & ~nodal_les
                    & (base_les["LOCN"].to_numpy() < 0 if "LOCN" in base_les
                       else np.ones(len(base_les), dtype=bool)))
    if (notes is not None and both_unknown.any() and settings.nodal_from != "location"
            and subjects is not None and links is not None):
        lab = (subjects[base_les["_S"].to_numpy()[both_unknown]] + " "
               + links[base_les["_L"].to_numpy()[both_unknown]])
        notes.append(f"TU: {int(both_unknown.sum())} target lesion(s) with both LDIAM and LPERP "
                     f"and no TULOC are taken as non-nodal (longest diameter); fill TULOC or set "
                     f"recist.nodal_locations: {_examples(lab)}")
    wanted = read_test[t_les]
    t, lv = _fragment_rule(t[t["TEST"].to_numpy() == wanted], n_visit)
    val = t["VALUE"].to_numpy()
    # RECIST 1.1 §4.3.2: too small to measure without a number takes the default value.
    val = np.where(np.isnan(val) & t["TOO_SMALL"].to_numpy(), settings.too_small_default_mm, val)
    val = np.where(t["NOT_DONE"].to_numpy(), np.nan, val)
    codes, keys = group_codes(lv)
    total = np.bincount(codes, weights=np.nan_to_num(val), minlength=len(keys))
    missing = np.bincount(codes, weights=np.isnan(val), minlength=len(keys)) > 0
    pos = find_keys(keys, grid["LES"].to_numpy() * n_visit + grid["_V"].to_numpy())
    p = np.maximum(pos, 0)
    evaluated = (pos >= 0) & ~missing[p] if len(keys) else np.zeros(len(grid), dtype=bool)
    grid["NODAL"] = nodal_les[grid["LES"].to_numpy()]
    grid["VALUE"] = np.where(evaluated, total[p] if len(keys) else np.nan, np.nan)
    grid["EVALUATED"] = evaluated
    return grid.drop(columns="LES")


def _nontarget_grid(recs: pd.DataFrame, base_les: pd.DataFrame, visits: pd.DataFrame,
                    n_visit: int) -> pd.DataFrame:
    grid = _grid(base_les, ROLE_NON_TARGET, visits)
    n = recs[(recs["LES"].to_numpy() >= 0) & (recs["TEST"].to_numpy() == TEST_TUMSTATE)]
    n, lv = _fragment_rule(n, n_visit)
    status = np.where(n["NOT_DONE"].to_numpy(), STATUS_NOT_EVALUATED,
                      np.maximum(n["STATUS"].to_numpy(), STATUS_NOT_EVALUATED))
    codes, keys = group_codes(lv)
    worst = np.zeros(len(keys), dtype=np.int64)
    np.maximum.at(worst, codes, status)
    missing = np.bincount(codes, weights=status == STATUS_NOT_EVALUATED,
                          minlength=len(keys)) > 0
    # Unequivocal progression shows even when a fragment is missing; otherwise missing wins.
    worst = np.where(missing & (worst != STATUS_UNEQUIVOCAL), STATUS_NOT_EVALUATED, worst)
    pos = find_keys(keys, grid["LES"].to_numpy() * n_visit + grid["_V"].to_numpy())
    grid["STATUS"] = (np.where(pos >= 0, worst[np.maximum(pos, 0)], STATUS_NOT_EVALUATED)
                      if len(keys) else np.zeros(len(grid), dtype=np.int64))
    return grid.drop(columns="LES")


def _new_lesions(recs: pd.DataFrame, links: np.ndarray, visits: pd.DataFrame, n_visit: int,
                 settings: RecistSettings) -> pd.DataFrame:
    """New-lesion findings per assessment after baseline (RECIST 1.1 §4.3.5)."""
    n = recs[recs["NEW"].to_numpy()]
    status = n["STATUS"].to_numpy()
    measured = np.isin(n["TEST"].to_numpy(), [TEST_LDIAM, TEST_LPERP])
    status = np.where(measured, np.where(n["VALUE"].to_numpy() > 0, STATUS_PRESENT,
                                         STATUS_NOT_EVALUATED), status)
    status = np.where(n["NOT_DONE"].to_numpy(), STATUS_NOT_EVALUATED, status)
    sv = n["_S"].to_numpy() * n_visit + n["_V"].to_numpy()
    visit_keys = visits["_S"].to_numpy() * n_visit + visits["_V"].to_numpy()
    at = find_keys(visit_keys, sv)
    after_base = (at >= 0) & ~visits["BASELINE"].to_numpy()[np.maximum(at, 0)] if len(
        visit_keys) else np.zeros(len(sv), dtype=bool)
    unequivocal = (status >= STATUS_PRESENT) & after_base
    equivocal = (status == STATUS_EQUIVOCAL) & after_base
    # RECIST 1.1 §4.3.5: an equivocal new lesion that a later assessment confirms means PD from
    # the date it was first seen. Per new lesion (subject, lesion id): the first confirming
    # assessment; every equivocal sighting before it is back-dated progression.
    backdated = np.zeros(len(n), dtype=bool)
    if settings.backdate_equivocal_new_lesion and equivocal.any():
        les_key = n["_S"].to_numpy() * max(len(links), 1) + n["_L"].to_numpy()
        lcodes, lkeys = group_codes(les_key)
        first_conf = np.full(len(lkeys), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_conf, lcodes[unequivocal], n["_V"].to_numpy()[unequivocal])
        backdated = (equivocal & (first_conf[lcodes] < np.iinfo(np.int64).max)
                     & (n["_V"].to_numpy() < first_conf[lcodes]))
    counted = unequivocal | backdated | (equivocal & settings.equivocal_new_lesion_is_pd)
    ids = join_labels(sv[counted], links[n["_L"].to_numpy()][counted])
    codes, keys = group_codes(sv[after_base])
    any_uneq = np.bincount(codes, weights=unequivocal[after_base], minlength=len(keys)) > 0
    any_eq = np.bincount(codes, weights=equivocal[after_base], minlength=len(keys)) > 0
    any_back = np.bincount(codes, weights=backdated[after_base], minlength=len(keys)) > 0
    return pd.DataFrame({
        "_S": keys // n_visit, "_V": keys % n_visit,
        "NEW_UNEQUIVOCAL": any_uneq, "NEW_EQUIVOCAL": any_eq, "NEW_BACKDATED": any_back,
        "NEW_IDS": ids.reindex(keys).to_numpy(dtype=object),
    })
