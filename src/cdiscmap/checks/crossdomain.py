"""Rules that look across datasets (or across records of one dataset), e.g. TR ↔ TU links.

Each rule has an id, a severity and a one-line explanation in ``RULES``; findings name the
dataset, subject, variable, value and the raw row (when the data carries lineage).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.checks.facts import facts_cache, text_facts
from cdiscmap.checks.schema import table_fits
from cdiscmap.errors import StandardsError
from cdiscmap.findings import Finding, Severity
from cdiscmap.sdtm.dates import complete_date
from cdiscmap.standards.classes import GENERAL_CLASSES, ig_class
from cdiscmap.standards.models import Standards

RULES: dict[str, tuple[Severity, str]] = {
    "CMAP-XD0001": (Severity.ERROR, "USUBJID is not in DM (SDTMIG 3.4 §5.2: DM holds every subject)"),
    "CMAP-XD0002": (Severity.ERROR, "TR record has no TU record with the same USUBJID and link id"),
    "CMAP-XD0003": (Severity.ERROR, "TULNKID is not unique within a subject's lesion identifications"),
    "CMAP-XD0004": (Severity.ERROR, "more than one overall response per subject, visit, evaluator"),
    "CMAP-XD0005": (Severity.ERROR, "event starts after the subject's death date"),
    "CMAP-XD0006": (Severity.WARNING, "--DY does not match --DTC and DM.RFSTDTC (SDTMIG 3.4 §4.4.4)"),
    "CMAP-XD0007": (Severity.ERROR, "--SEQ is not unique within a subject"),
    "CMAP-XD0008": (Severity.NOTICE, "record dated before informed consent (DM.RFICDTC)"),
    "CMAP-XD0009": (Severity.ERROR, "TS parameter required by the FDA Technical Conformance Guide is "
               "missing (checks/ts_required.py)"),
    "CMAP-XD0010": (Severity.WARNING, "EPOCH is null on a record with a complete date of a treated "
                                 "subject (DM.RFXSTDTC; SDTMIG 3.4 §4.1.3.1)"),
    "CMAP-XD0011": (Severity.WARNING, "DM.DTHDTC differs from the date of the subject's death in DS "
                                 "(DSDECOD DEATH) or of a fatal AE (AEOUT FATAL)"),
}


# ============================================================================================
# Which rules a dataset gets: from its SDTM class, never from a list of domain names
# ============================================================================================
# The topic variable of each general observation class (SDTMIG 3.4 §2.1, §6; role "Topic" in
# specs/): how a dataset without metadata (a custom domain read by `validate`) shows its class.
_TOPIC_CLASS = (("TRT", "Interventions"), ("TERM", "Events"), ("TESTCD", "Findings"))

# CMAP-XD0005 (nothing starts after death): every general-class dataset, dated by --STDTC
# (Events, Interventions) or --DTC (Findings), except the IG domains whose records are the death
# itself or are collected after it by definition: DS (the death is a disposition event, and
# XD0011 compares it with DM.DTHDTC), DD (SDTMIG 3.4 §6.3 Death Details) and SS (§6.3 Subject
# Status: survival status asked at later contacts).
AFTER_DEATH_CLASSES = GENERAL_CLASSES
AFTER_DEATH_EXEMPT = frozenset({"DS", "DD", "SS"})
# CMAP-XD0008 (dated before informed consent): events and interventions, which the study
# collects from consent on, except the IG domains that hold history by definition: MH (medical
# history, SDTMIG 3.4 §6.2), and the prior therapies of CM, PR and SU (§6.1: prior and
# concomitant). In any domain a record that says it started before the study (--STRF or
# --STRTPT BEFORE, SDTMIG 3.4 §4.4.7) is history too.
BEFORE_CONSENT_CLASSES = ("Events", "Interventions")
BEFORE_CONSENT_EXEMPT = frozenset({"MH", "CM", "PR", "SU"})


def domain_class(name: str, frame: pd.DataFrame, standards: Standards | None = None
                 ) -> str | None:
    """The SDTMIG class of dataset ``name`` ("Events", "Findings", ...), None when unknown.

    Why: class-level rules must reach any domain of the class, an IG domain the rule's author
    did not think of or a sponsor's custom domain (SDTMIG 3.4 §2.6), with no code. The class
    is the dataset's metadata (``standards``: specs/ plus the study's custom domains; default
    specs/), else the class whose topic variable (--TRT, --TERM, --TESTCD; Findings About also
    has --OBJ) the data holds.
    """
    if standards is None:
        try:
            from cdiscmap.standards import load_standards

            standards = load_standards()
        except StandardsError:
            standards = None
    known = standards.datasets.get(name) if standards is not None else None
    if known is not None and known.standard.upper().startswith("SDTM"):
        return ig_class(known.class_name, known.subclass)
    prefix = name[:2]
    for suffix, class_name in _TOPIC_CLASS:
        if f"{prefix}{suffix}" in frame:
            if class_name == "Findings" and f"{prefix}OBJ" in frame:
                return "Findings About"
            return class_name
    return None


def _before_study(frame: pd.DataFrame, prefix: str) -> pd.Series:
    """Records that say they started before the study (--STRF / --STRTPT BEFORE)."""
    before = pd.Series(False, index=frame.index)
    for variable in (f"{prefix}STRF", f"{prefix}STRTPT"):
        if variable in frame:
            before |= (frame[variable].astype("string") == "BEFORE").fillna(False)
    return before


def _src(frame: pd.DataFrame) -> pd.Series:
    if "_SRCFILE" in frame and "_SRCROW" in frame:
        return frame["_SRCFILE"].astype(str) + " row " + frame["_SRCROW"].astype(str)
    return pd.Series("", index=frame.index)


PER_RECORD_LIMIT = 100     # above this, one finding per distinct value (with its count)


def _emit(rule: str, dataset: str, variable: str, bad: pd.DataFrame, values: pd.Series,
          detail: str = "") -> list[Finding]:
    """One finding per offending record while they are few; a systematic problem (many
    records), and any notice, is folded into one finding per distinct value, with the count
    and first record (a report is read in a minute, not scrolled through)."""
    severity, text = RULES[rule]
    if bad.empty:
        return []
    table = pd.DataFrame({
        "u": bad["USUBJID"].astype(str) if "USUBJID" in bad else "",
        "v": values.loc[bad.index].astype(str),
        "s": _src(bad)})
    if len(table) > PER_RECORD_LIMIT or severity == Severity.NOTICE:
        grouped = table.groupby("v", sort=True)
        first = grouped.first()
        counts = grouped.size()
        return [Finding(rule, severity, text + detail, dataset, str(r["u"]), variable, str(v),
                        str(r["s"]), int(counts[v])) for v, r in first.iterrows()]
    return [Finding(rule, severity, text + detail, dataset, u, variable, v, s)
            for u, v, s in zip(table["u"], table["v"], table["s"], strict=True)]


def _picked(frame: pd.DataFrame, mask: pd.Series | np.ndarray,
            empties: dict[int, pd.DataFrame] | None = None) -> pd.DataFrame:
    """``frame[mask]``; with no record picked (the usual case) an empty slice of the frame,
    not a take of every column with an empty selection (a fixed cost per rule and dataset).
    ``empties`` (by the frame's id; the caller keeps the frames alive while it uses them)
    makes that slice once per frame: it costs ≈ 0.15 ms a call on a 30-column dataset, and
    the rules ask it some 70 times a run (10 ms of the checks at 100 subjects)."""
    if not np.asarray(mask, dtype=bool).any():
        if empties is None:
            return frame.iloc[:0]
        empty = empties.get(id(frame))
        if empty is None:
            empty = empties[id(frame)] = frame.iloc[:0]
        return empty
    return frame[mask]


def _dy_pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(--DTC, --DY) variable pairs present in a dataset: XXDTC/XXDY, XXSTDTC/XXSTDY, ..."""
    pairs = []
    for col in frame.columns:
        if col.endswith("DTC"):
            dy = col[:-3] + "DY"
            if dy in frame:
                pairs.append((col, dy))
    return pairs


def _evaluator(frame: pd.DataFrame, prefix: str) -> list[str]:
    """The evaluator columns (--EVAL, --EVALID) a dataset has: multi-reader oncology data
    holds one set of lesions and responses per reader."""
    return [c for c in (f"{prefix}EVAL", f"{prefix}EVALID") if c in frame]


def _death_dates(domains: dict[str, pd.DataFrame], dthdtc: pd.Series,
                 subjects_of: _Subjects | None = None,
                 empties: dict[int, pd.DataFrame] | None = None) -> list[Finding]:
    """CMAP-XD0011: DM.DTHDTC against the other records of the death: DS records with DSDECOD
    DEATH (DSSTDTC) and AE records with AEOUT FATAL (AEENDTC, the date the AE ended in death).
    The dates are compared as written: a partial death date beside a complete one of the same
    death is also a finding, since the study's mapping must choose one (conventions.md)."""
    out: list[Finding] = []
    for name, decode, outcome, date in (("DS", "DSDECOD", "DEATH", "DSSTDTC"),
                                        ("AE", "AEOUT", "FATAL", "AEENDTC")):
        frame = domains.get(name)
        if frame is None or not {"USUBJID", decode, date} <= set(frame.columns):
            continue
        differs = _death_differs(frame, decode, outcome, date, dthdtc, subjects_of)
        if differs is not None:
            bad = _picked(frame, differs, empties)
        else:
            death = frame[(frame[decode].astype("string") == outcome).fillna(False)
                          & frame[date].notna()]
            recorded = death["USUBJID"].map(dthdtc).astype("string")
            text = death[date].astype("string")
            bad = death[(recorded.isna() |
                         (text.str.slice(0, 10) != recorded.str.slice(0, 10))).fillna(True)]
        if bad.empty:                               # no finding: nothing to show
            continue
        shown = bad[date].astype("string") + " vs DM.DTHDTC " + \
            bad["USUBJID"].map(dthdtc).astype("string").fillna("(null)")
        out += _emit("CMAP-XD0011", name, date, bad, shown)
    return out


def _death_differs(frame: pd.DataFrame, decode: str, outcome: str, date: str,
                   dthdtc: pd.Series, subjects_of: _Subjects | None) -> np.ndarray | None:
    """The records of :func:`_death_dates` whose date differs from DM.DTHDTC (first 10
    characters; a subject not in DM or without DTHDTC differs), from the codes of the text
    columns: the outcome is matched per distinct value, dates are cut per distinct value and
    per death, not per record. None when a column is not text (the caller's pandas path)."""
    outcomes, dates = _codes(frame[decode]), _codes(frame[date])
    at = subjects_of.positions(frame) if subjects_of is not None else None
    if outcomes is None or dates is None or at is None or \
            not isinstance(dthdtc.dtype, pd.StringDtype):
        return None
    hit = np.append(np.asarray(outcomes[1] == outcome, dtype=bool), False)[outcomes[0]]
    rows = np.flatnonzero(hit & (dates[0] >= 0))
    differs = np.zeros(len(frame), dtype=bool)
    if not len(rows):
        return differs
    written = np.array([value[:10] for value in dates[1]], dtype=object)[dates[0][rows]]
    subject = at[rows]
    known = subject >= 0
    recorded = dthdtc.to_numpy(dtype=object, na_value=None)
    cut = np.full(len(recorded), None, dtype=object)    # None: no DTHDTC (differs)
    need = np.unique(subject[known])
    cut[need] = [None if value is None else value[:10] for value in recorded[need]]
    same = np.zeros(len(rows), dtype=bool)
    same[known] = np.asarray(cut[subject[known]] == written[known], dtype=bool)
    differs[rows[~same]] = True
    return differs


def check_sdtm_cross(domains: dict[str, pd.DataFrame],
                     supp: dict[str, pd.DataFrame] | None = None, *,
                     standards: Standards | None = None) -> list[Finding]:
    """XD findings for SDTM ``domains`` and ``supp`` (by dataset name).

    ``standards`` gives each dataset's class (default: specs/; see :func:`domain_class`).
    """
    from cdiscmap.sdtm.vectorize import codes_cache

    # each text column factorised once (USUBJID and the dates are asked by several rules;
    # the CR and PL rules share the factorisations when the caller holds the caches open)
    with facts_cache(), codes_cache():
        return _check_sdtm_cross(domains, supp, standards)


def _codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes (-1: null) into the distinct values of a Python-backed text column, else None."""
    if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "python"):
        return None
    facts = text_facts(series)
    return None if facts is None else (facts.codes, facts.uniques)


def _null(series: pd.Series) -> pd.Series | np.ndarray:
    """``series.isna()``; a text column's from its codes (-1: null), not a scan of its cells."""
    coded = _codes(series)
    return series.isna() if coded is None else coded[0] < 0


def _complete(dtc: pd.Series) -> pd.Series:
    """:func:`complete_date` of a column, from its text facts' date parts (parsed once per
    column, shared with the PL and CR rules: :attr:`TextFacts.complete_days`)."""
    facts = text_facts(dtc) if _codes(dtc) is not None else None
    if facts is None or not len(facts.uniques):
        return complete_date(dtc)
    return pd.Series(pd.api.extensions.take(facts.complete_days, facts.codes, allow_fill=True),
                     index=dtc.index)


def _duplicated(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """``frame.duplicated(columns, keep="first")`` with the text columns taken by their codes
    (no second hash of their text)."""
    return pd.Series(duplicated_keys(_row_keys(frame, columns)), index=frame.index)


def _duplicated_among(frame: pd.DataFrame, rows: pd.Series, columns: list[str]
                      ) -> tuple[pd.DataFrame, pd.Series]:
    """``frame[rows]`` and its ``duplicated(columns, keep="first")``: the keys are made from
    the codes of the whole columns (the reader's, shared) and then taken to the rows, rather
    than factorising the text of the selected records again. With no duplicate (the usual
    case) both are empty: the records are not copied only to be left out (≈ 0.3 ms a
    dataset)."""
    at = np.flatnonzero(np.asarray(rows, dtype=bool))
    duplicated = duplicated_keys(_row_keys(frame, columns)[at])
    if not duplicated.any():
        return frame.iloc[:0], pd.Series(np.zeros(0, dtype=bool), index=frame.index[:0])
    chosen = frame[rows]
    return chosen, pd.Series(duplicated, index=chosen.index)


def duplicated_keys(keys: np.ndarray) -> np.ndarray:
    """Every record whose integer key an earlier record already has
    (``duplicated(keep="first")``). Keys from 0 to a bound the table takes
    (:func:`~cdiscmap.checks.schema.table_fits`) are first marked in a table of flags: when
    none is there twice, none is duplicated and nothing is hashed."""
    if len(keys) and keys.min() >= 0 and table_fits(int(keys.max()) + 1, len(keys)):
        seen = np.zeros(int(keys.max()) + 1, dtype=bool)
        seen[keys] = True
        if int(np.count_nonzero(seen)) == len(keys):
            return np.zeros(len(keys), dtype=bool)
    return pd.Series(keys).duplicated().to_numpy()


def _row_keys(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One integer per record, equal where the records' values of ``columns`` are equal (null
    equal to null, as ``duplicated`` compares them)."""
    key = np.zeros(len(frame), dtype=np.int64)
    for column in columns:
        coded = _codes(frame[column])
        found = coded[0] if coded is not None else pd.factorize(frame[column])[0]
        part = found.astype(np.int64) + 1
        size = int(part.max()) + 1 if len(part) else 1
        if key.max(initial=0) >= (1 << 62) // size:      # keep within int64: renumber
            key = pd.factorize(key)[0].astype(np.int64)
        key = key * size + part
    return key


def _pairs_in(frame: pd.DataFrame, columns: tuple[str, str], other: pd.DataFrame,
              other_columns: tuple[str, str]) -> np.ndarray:
    """Whether each record's values of ``columns`` are a pair of values ``other`` holds in
    ``other_columns`` (null matches null, as in a merge): the distinct values of each column
    of ``frame`` looked up once among those of ``other``, the pairs compared as integers (a
    merge hashes the text of every record)."""
    keys, other_keys = np.zeros(len(frame), dtype=np.int64), np.zeros(len(other), dtype=np.int64)
    for column, other_column in zip(columns, other_columns, strict=True):
        codes, uniques = _codes(frame[column]) or pd.factorize(frame[column])
        other_codes, other_uniques = _codes(other[other_column]) or \
            pd.factorize(other[other_column])
        null = len(other_uniques)                   # the code of a null value on both sides
        at = np.append(pd.Index(other_uniques, dtype=object).get_indexer(
            np.asarray(uniques, dtype=object)), null)[codes]        # -1: not in ``other``
        other_at = np.where(other_codes < 0, null, other_codes)
        absent = (keys < 0) | (at < 0)
        keys = np.where(absent, -1, keys * (null + 1) + at)
        other_keys = other_keys * (null + 1) + other_at
    return (keys >= 0) & (pd.Index(pd.unique(other_keys)).get_indexer(keys) >= 0)


def _seq_unique(subjects: pd.Series, seq: pd.Series) -> bool:
    """Whether no subject holds a --SEQ number twice, when that is quick to prove: whole
    numbers in a small range are counted per (subject code, number) with ``bincount``, no
    hash of the records. False means "not proven" (the caller looks for the duplicates)."""
    coded = _codes(subjects)
    values = seq.to_numpy() if seq.dtype == np.float64 else None
    if coded is None or values is None or not len(values):
        return False
    given = ~np.isnan(values)
    numbers = values[given]
    if not len(numbers) or numbers.min() < 0 or numbers.max() > len(values) or \
            (numbers != np.floor(numbers)).any():
        return False
    width = int(numbers.max()) + 1
    keys = (coded[0][given].astype(np.int64) + 1) * width + numbers.astype(np.int64)
    # a mapped dataset holds each subject's records together, --SEQ rising: the keys rise
    # strictly, which one comparison of neighbours proves (no table, whatever the range)
    if bool((keys[1:] > keys[:-1]).all()):
        return True
    size = (len(coded[1]) + 1) * width
    if not table_fits(size, len(keys)):
        return False
    seen = np.zeros(size, dtype=bool)               # flags, not counts: 1 byte an entry
    seen[keys] = True
    return int(np.count_nonzero(seen)) == len(keys)


_DAY = np.timedelta64(1, "D")


def _day_numbers(days: np.ndarray) -> np.ndarray:
    """datetime64 dates as float day numbers (NaN for NaT)."""
    out = (days - np.datetime64("1970-01-01")) / _DAY
    return np.where(np.isnat(days), np.nan, out)


def _wrong_days(dtc: pd.Series, dy: pd.Series, subjects: _Subjects, at: np.ndarray | None
                ) -> np.ndarray | None:
    """CMAP-XD0006 records (a study day other than the one the complete date and the
    subject's RFSTDTC give, SDTMIG 3.4 §4.4.4), computed on day numbers: the date of each
    distinct --DTC value and of each subject, taken to the records by codes. None when the
    columns are not a text --DTC and a float --DY (the caller's pandas path decides)."""
    facts = text_facts(dtc) if _codes(dtc) is not None else None
    if facts is None or at is None or dy.dtype != np.float64:
        return None
    record = np.append(_day_numbers(facts.complete_days), np.nan)[facts.codes]
    start = np.append(_day_numbers(subjects.dates("RFSTDTC")), np.nan)[at]
    delta = record - start
    with np.errstate(invalid="ignore"):
        expect = np.where(delta < 0, delta, delta + 1)
        return ~np.isnan(expect) & (dy.to_numpy() != expect)


class _Subjects:
    """DM's values per subject (``ref``: DM by USUBJID) taken to the records of a dataset by
    the positions of their subjects in DM, found once per distinct USUBJID (a ``map`` of each
    record's text costs a hash of each)."""

    def __init__(self, ref: pd.DataFrame) -> None:
        self.ref = ref
        self._dates: dict[str, np.ndarray] = {}

    def positions(self, frame: pd.DataFrame) -> np.ndarray | None:
        coded = _codes(frame["USUBJID"])
        if coded is None or self.ref.index.hasnans:
            return None
        return np.append(self.ref.index.get_indexer(coded[1]), -1)[coded[0]]

    def given(self, frame: pd.DataFrame, at: np.ndarray | None, column: str) -> pd.Series:
        """Whether the subject's DM ``column`` is populated (``map(...).notna()``)."""
        if at is None:
            return frame["USUBJID"].map(self.ref[column]).notna()
        present = np.append(self.ref[column].notna().to_numpy(), False)
        return pd.Series(present[at], index=frame.index)

    def date(self, frame: pd.DataFrame, at: np.ndarray | None, column: str) -> pd.Series:
        """The subject's DM ``column`` as a complete date (NaT when partial or absent)."""
        if at is None:
            return complete_date(frame["USUBJID"].map(self.ref[column]))
        return pd.Series(pd.api.extensions.take(self.dates(column), at, allow_fill=True),
                         index=frame.index)

    def dates(self, column: str) -> np.ndarray:
        """Each subject's DM ``column`` as a complete date (datetime64, NaT when partial)."""
        if column not in self._dates:
            self._dates[column] = complete_date(self.ref[column]).to_numpy()
        return self._dates[column]


def _check_sdtm_cross(domains: dict[str, pd.DataFrame], supp: dict[str, pd.DataFrame] | None,
                      standards: Standards | None) -> list[Finding]:
    out: list[Finding] = []
    empties: dict[int, pd.DataFrame] = {}          # each frame's empty slice (_picked)
    dm = domains.get("DM")
    # DM's subjects as an object array once (no Python set built by iterating the column, and
    # ``isin`` would turn a set into an array again for every dataset)
    known = np.asarray(dm["USUBJID"].dropna().unique(), dtype=object) \
        if dm is not None and "USUBJID" in dm else None
    for name, frame in {**domains, **(supp or {})}.items():
        if name == "DM" or "USUBJID" not in frame or known is None:
            continue
        # a null USUBJID is no subject (RELREC's dataset-level relationships, SDTMIG 3.4 §8.2)
        coded = _codes(frame["USUBJID"])
        if coded is None:
            bad = _picked(frame, ~frame["USUBJID"].isin(known) & frame["USUBJID"].notna(),
                          empties)
        else:
            unknown = ~pd.Series(coded[1], dtype=object).isin(known).to_numpy()
            bad = _picked(frame, np.append(unknown, False)[coded[0]], empties)
        out += _emit("CMAP-XD0001", name, "USUBJID", bad, bad["USUBJID"])
    for name, frame in domains.items():
        seq = f"{name}SEQ"
        if seq in frame and "USUBJID" in frame:
            if _seq_unique(frame["USUBJID"], frame[seq]):
                continue
            dup = _duplicated(frame, ["USUBJID", seq]) & frame[seq].notna()
            out += _emit("CMAP-XD0007", name, seq, frame[dup], frame[seq])
    from cdiscmap.checks.ts_required import check_ts_required

    out += check_ts_required(domains.get("TS"))
    tu, tr, rs = domains.get("TU"), domains.get("TR"), domains.get("RS")
    if tu is not None and tr is not None and "TRLNKID" in tr and "TULNKID" in tu:
        found = _pairs_in(tr, ("USUBJID", "TRLNKID"), tu, ("USUBJID", "TULNKID"))
        bad = _picked(tr, tr["TRLNKID"].notna().to_numpy() & ~found, empties)
        out += _emit("CMAP-XD0002", "TR", "TRLNKID", bad, bad["TRLNKID"])
    if tu is not None and "TULNKID" in tu:
        chosen = tu["TUTESTCD"] == "TUMIDENT" if "TUTESTCD" in tu else \
            pd.Series(True, index=tu.index)
        # each reader (investigator, independent radiologists) identifies lesions on their
        # own, so link ids are unique per subject and evaluator (SDTMIG 3.4 §6.3.x TU)
        keys = ["USUBJID", "TULNKID"] + _evaluator(tu, "TU")
        ident, dup = _duplicated_among(tu, chosen, keys)
        out += _emit("CMAP-XD0003", "TU", "TULNKID", ident[dup], ident["TULNKID"])
    if rs is not None and "RSTESTCD" in rs and "VISITNUM" in rs:
        testcd = text_facts(rs["RSTESTCD"])     # the test of each distinct code, not each row
        overall = testcd.isin(["OVRLRESP"]) if testcd is not None else \
            rs["RSTESTCD"] == "OVRLRESP"
        keys = ["USUBJID", "VISITNUM"] + _evaluator(rs, "RS") + (["RSDRVFL"] if "RSDRVFL" in rs
                                                                  else [])
        ovr, dup = _duplicated_among(rs, overall, keys)
        out += _emit("CMAP-XD0004", "RS", "RSSTRESC", ovr[dup], ovr["RSSTRESC"])
    if dm is None or "USUBJID" not in dm:
        return out
    ref = dm.drop_duplicates("USUBJID").set_index("USUBJID")
    subjects_of = _Subjects(ref)
    if "DTHDTC" in ref:
        out += _death_dates(domains, ref["DTHDTC"], subjects_of, empties)
    for name, frame in domains.items():
        if name == "DM" or "USUBJID" not in frame:
            continue
        at = subjects_of.positions(frame)
        if "RFSTDTC" in ref:
            rfst = subjects_of.date(frame, at, "RFSTDTC")
            for dtc, dy in _dy_pairs(frame):
                wrong = _wrong_days(frame[dtc], frame[dy], subjects_of, at)
                if wrong is None:
                    delta = (_complete(frame[dtc]) - rfst).dt.days
                    expect = delta.where(delta < 0, delta + 1)
                    wrong = (expect.notna() & (frame[dy] != expect)).fillna(False)
                bad = _picked(frame, wrong, empties)
                out += _emit("CMAP-XD0006", name, dy, bad, frame[dy])
        start = f"{name}STDTC" if f"{name}STDTC" in frame else f"{name}DTC"
        if start not in frame:
            continue
        d = _complete(frame[start])
        if "EPOCH" in frame and "RFXSTDTC" in ref:
            # every complete date of a treated subject falls in some epoch: before, during or
            # after treatment (an ongoing treatment epoch has no end yet)
            treated = subjects_of.given(frame, at, "RFXSTDTC")
            bad = _picked(frame, (d.notna() & treated & _null(frame["EPOCH"])).fillna(False),
                          empties)
            out += _emit("CMAP-XD0010", name, "EPOCH", bad, frame[start],
                         f" ({start} is the record's date)")
        class_name = domain_class(name, frame, standards)
        if ("DTHDTC" in ref and class_name in AFTER_DEATH_CLASSES
                and name not in AFTER_DEATH_EXEMPT):
            death = subjects_of.date(frame, at, "DTHDTC")
            bad = _picked(frame, (d > death).fillna(False), empties)
            out += _emit("CMAP-XD0005", name, start, bad, frame[start])
        if ("RFICDTC" in ref and class_name in BEFORE_CONSENT_CLASSES
                and name not in BEFORE_CONSENT_EXEMPT):
            ic = subjects_of.date(frame, at, "RFICDTC")
            bad = _picked(frame, ((d < ic) & ~_before_study(frame, name[:2])).fillna(False),
                          empties)
            out += _emit("CMAP-XD0008", name, start, bad, frame[start])
    return out
