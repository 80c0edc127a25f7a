"""CORE-derived rules that follow the SDTM class of a dataset (Events, Interventions, Findings).

Why a module of its own: the CDISC CORE rules scoped by class ("Classes: EVENTS,
INTERVENTIONS", "--STDTC falls after --ENDTC") apply to every domain of the class, including
a sponsor's custom domains (SDTMIG 3.4 §2.6). The class comes from the dataset's metadata in
``specs/`` (or the study's declared custom domains), never from a list of domain names; a
dataset without metadata gets the class its topic variable names (--TESTCD Findings, --TRT
Interventions, --TERM Events; SDTMIG 3.4 §2.1). Variable names are built from the domain
prefix (``--`` in the IG, §4.2.2).

The helpers at the top are shared with :mod:`cdiscmap.checks.core_rules` (subject-level,
trial-design and relationship rules). Every check is vectorised; findings name dataset,
subject, variable, value and the record (``<file> row <n>``). Which CORE rules each id
implements: :mod:`cdiscmap.checks.core_map`.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd

from cdiscmap.checks.crossdomain import domain_class, duplicated_keys
from cdiscmap.checks.facts import TextFacts, facts_cache, iso_date_parts, text_facts
from cdiscmap.findings import Finding, Severity
from cdiscmap.sdtm.vectorize import clean_text, coded, codes_cache, memo_scope
from cdiscmap.standards.models import Standards

RULES: dict[str, tuple[Severity, str]] = {
    "CMAP-CR0019": (Severity.ERROR, "start date/time (--STDTC; Findings --DTC) is after --ENDTC "
                                    "(compared on the date parts both give)"),
    "CMAP-CR0020": (Severity.ERROR, "study day of start (--STDY; Findings --DY) is after --ENDY"),
    "CMAP-CR0021": (Severity.WARNING, "topic variable (--TESTCD, --TRT, --TERM) is OTHER or "
                                      "MULTIPLE"),
    "CMAP-CR0022": (Severity.WARNING, "--SCAT equals --CAT"),
    "CMAP-CR0023": (Severity.ERROR, "--DOSU is null while --DOSE, --DOSTXT or --DOSTOT is given"),
    "CMAP-CR0024": (Severity.ERROR, "--DOSE and --DOSTXT are both populated"),
    "CMAP-CR0025": (Severity.ERROR, "--DOSE or --DOSTOT is negative"),
    "CMAP-CR0026": (Severity.ERROR, "--TOX is populated but --TOXGR is null"),
    "CMAP-CR0027": (Severity.ERROR, "--SER disagrees with the seriousness criteria (a criterion "
                                    "is Y but --SER is not Y)"),
    "CMAP-CR0028": (Severity.ERROR, "--DECOD/--PTCD or --BODSYS/--BDSYCD are not one-to-one"),
    "CMAP-CR0029": (Severity.ERROR, "--TESTCD is longer than 8, or not letters, digits and "
                                    "underscores starting with a letter or underscore"),
    "CMAP-CR0030": (Severity.ERROR, "--TEST is longer than 40 characters"),
    "CMAP-CR0031": (Severity.ERROR, "--TESTCD and --TEST are not one-to-one"),
    "CMAP-CR0032": (Severity.ERROR, "--ORRES is null while --STAT is null (and the record is not "
                                    "derived, --DRVFL)"),
    "CMAP-CR0033": (Severity.ERROR, "--STAT is populated on a record with a result (--ORRES, "
                                    "--STRESC or --STRESN)"),
    "CMAP-CR0034": (Severity.WARNING, "--STAT is NOT DONE but --REASND is null"),
    "CMAP-CR0035": (Severity.ERROR, "--REASND is populated but --STAT is not NOT DONE"),
    "CMAP-CR0036": (Severity.ERROR, "--STRESC is null while --ORRES is populated (or --DRVFL is "
                                    "Y)"),
    "CMAP-CR0037": (Severity.ERROR, "--STRESU is populated but --STRESC is null"),
    "CMAP-CR0038": (Severity.ERROR, "--STRESN does not hold the numeric --STRESC (null, "
                                    "different, or given for a text result)"),
    "CMAP-CR0039": (Severity.ERROR, "more than one --LOBXFL=Y record per subject and test "
                                    "(specimen, location, lesion, evaluator)"),
    "CMAP-CR0040": (Severity.ERROR, "--LOBXFL is Y but --STRESC is null"),
    "CMAP-CR0041": (Severity.ERROR, "reference range upper limit is at or below the lower limit "
                                    "(--STNRHI ≤ --STNRLO or --ORNRHI ≤ --ORNRLO)"),
    "CMAP-CR0042": (Severity.WARNING, "--STRESU differs between records of one test (category, "
                                      "specimen, method)"),
}

PER_RECORD_LIMIT = 100      # above this, one finding per distinct value with its count

# The Findings classes (a dataset's class: crossdomain.domain_class, specs/ else topic variable)
FINDINGS = ("Findings", "Findings About")


# ---------------------------------------------------------------------------------------------
# helpers shared with core_rules.py
# ---------------------------------------------------------------------------------------------
# Derived columns (cleaned text, presence, numbers) by (frame, column, kind) while
# :func:`column_cache` is open: the rules ask the same column of the same dataset a dozen times
# (--STRESC, USUBJID, --TESTCD), and cleaning or parsing it is what each question costs. The
# frame is checked through a weak reference; the checks never write into the frames they get.
_COLUMNS: ContextVar[dict[tuple[int, str, str], tuple[weakref.ref, object]] | None] = \
    ContextVar("cdiscmap_check_columns", default=None)


@contextmanager
def column_cache() -> Iterator[None]:
    """Remember derived columns (and text factorisations) inside the block; nested use shares."""
    with memo_scope(_COLUMNS), facts_cache(), codes_cache():
        yield


def _cached(frame: pd.DataFrame, column: str, kind: str, make: Callable[[], object]) -> object:
    cache = _COLUMNS.get()
    if cache is None:
        return make()
    key = (id(frame), column, kind)
    entry = cache.get(key)
    if entry is not None and entry[0]() is frame:
        return entry[1]
    value = make()
    cache[key] = (weakref.ref(frame), value)
    return value


def _facts(frame: pd.DataFrame, column: str) -> TextFacts | None:
    """The column's raw text facts (codes into its distinct values as written), None when it
    is not text only; found once per column (and by the reader, when facts_cache is open)."""
    return _cached(frame, column, "facts", lambda: text_facts(frame[column]))


def _clean(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1: null) into the distinct values of the column as :func:`clean_text` gives
    them (stripped, blank as null): a text column's distinct values are stripped once, a
    number column written as text once per distinct value. Every rule asks its questions of
    the distinct values and takes the answers back by these codes."""
    def make() -> tuple[np.ndarray, np.ndarray]:
        series = frame[column]
        facts = _facts(frame, column)
        uniques = facts.uniques if facts is not None else None
        if facts is None and series.dtype.kind in "fiu":
            # 0 and -0.0 are one hash key but two spellings: a column holding a negative
            # zero takes the row path
            codes, found = number_codes(frame, column) if series.dtype == np.float64 else \
                pd.factorize(series, use_na_sentinel=True)
            values = series.to_numpy()
            if not ((values == 0) & np.signbit(values)).any():
                facts = TextFacts(codes, found)
                uniques = np.asarray(clean_text(pd.Series(found)).array, dtype=object)
        if facts is None:
            codes, table = coded(clean_text(series))
            return codes, np.asarray(table, dtype=object)
        if _already_clean(uniques):
            return facts.codes, np.array(uniques, dtype=object)
        stripped = np.array([u.strip() or pd.NA if isinstance(u, str) else pd.NA
                             for u in uniques], dtype=object)
        if all(s is u for s, u in zip(stripped, uniques, strict=True)):
            # already clean (str.strip gave each value back: no blank, nothing to strip):
            # the distinct values stay distinct, the facts' own codes serve
            return facts.codes, stripped
        inner, table = pd.factorize(stripped, use_na_sentinel=True)
        return np.append(inner, -1)[facts.codes], np.asarray(table, dtype=object)
    return _cached(frame, column, "clean", make)


# A value to strip or blank: white space at either end of a value, or an empty value, in the
# distinct values joined by NUL (NUL is no white space; one inside a value can only send the
# column to the per-value path). re's \\s is str.isspace(), which str.strip() removes.
_NOT_CLEAN = re.compile(r"(?:^|\x00)(?:\s|\x00|$)|\s(?:\x00|$)")


# the ASCII characters re's \s (str.isspace) takes for white space
_ASCII_SPACES = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


def _already_clean(uniques: np.ndarray) -> bool:
    """Whether every distinct str value is its own :func:`clean_text` (nothing to strip, no
    blank): one regex scan of the joined values instead of a strip per value. ASCII values
    holding no white space at all (codes, dates, numbers) need only the blank values looked
    for, by substring searches that run at memory speed rather than the regex's."""
    try:
        joined = "\x00".join(uniques)
    except TypeError:                                   # not all str
        return False
    if joined.isascii() and not any(space in joined for space in _ASCII_SPACES):
        # what the regex can then match: an empty value (first, last, between two others)
        return not (joined == "" or joined[0] == "\x00" or joined[-1] == "\x00"
                    or "\x00\x00" in joined)
    return _NOT_CLEAN.search(joined) is None


def codes(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Codes of the column's cleaned values (:func:`_clean`); all -1 when it is absent."""
    if column not in frame:
        return np.full(len(frame), -1, dtype=np.intp)
    return _clean(frame, column)[0]


def on_distinct(frame: pd.DataFrame, column: str,
                test: Callable[[pd.Series], object]) -> np.ndarray:
    """``test`` (a function of the distinct cleaned values as a "string" Series, giving one
    truth value each) taken back to the rows; False on null rows and when the column is
    absent."""
    if column not in frame:
        return np.zeros(len(frame), dtype=bool)
    found, table = _clean(frame, column)
    hit = np.asarray(pd.Series(test(pd.Series(table, dtype="string"))).fillna(False),
                     dtype=bool) if len(table) else np.zeros(0, dtype=bool)
    return np.append(hit, False)[found]


def distinct(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The column's distinct cleaned values (object array of str; empty when absent)."""
    if column not in frame:
        return np.zeros(0, dtype=object)
    return _clean(frame, column)[1]


def on_table(frame: pd.DataFrame, column: str,
             test: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """:func:`on_distinct` for a vectorised ``test`` of the distinct cleaned values as an
    object array of str (one bool each): no "string" Series built around them."""
    if column not in frame:
        return np.zeros(len(frame), dtype=bool)
    found, table = _clean(frame, column)
    hit = np.asarray(test(table), dtype=bool) if len(table) else np.zeros(0, dtype=bool)
    return np.append(hit, False)[found]


def is_value(frame: pd.DataFrame, column: str, *values: str) -> np.ndarray:
    """Whether the cleaned value is one of ``values`` (False for null or an absent column)."""
    if column not in frame:
        return np.zeros(len(frame), dtype=bool)
    found, table = _clean(frame, column)
    # a set lookup per distinct value (str equality, as ``isin``): a Series and its hash
    # table around a handful of values cost ≈ 0.1 ms a call, asked some 70 times a run
    wanted = set(values)
    hit = np.fromiter(map(wanted.__contains__, table), dtype=bool, count=len(table))
    return np.append(hit, False)[found]


def text_facts_of(frame: pd.DataFrame, column: str) -> TextFacts | None:
    """The raw text facts of a ``string`` column (found once per column), None for other
    dtypes: what :func:`raw_isin` looks values up by."""
    return _facts(frame, column) if isinstance(frame[column].dtype, pd.StringDtype) else None


def raw_isin(frame: pd.DataFrame, column: str, values: object) -> np.ndarray:
    """``frame[column].isin(values)`` (the values as written, null as pandas matches it),
    asked of the column's distinct values and taken back to the rows."""
    series = frame[column]
    facts = text_facts_of(frame, column)
    if facts is None:       # (an object column's null may be None or NaN: pandas decides)
        return series.isin(values).to_numpy(dtype=bool)
    # the distinct values and a null (code -1, the last entry) asked in one pass: each
    # ``isin`` hashes all of ``values`` (DM's subjects) again
    table = np.append(np.asarray(facts.uniques, dtype=object), pd.NA)
    hit = pd.Series(table, dtype=series.dtype).isin(values).to_numpy(dtype=bool)
    return hit[facts.codes]


def same_text(frame: pd.DataFrame, a: str, b: str) -> np.ndarray:
    """Whether columns ``a`` and ``b`` hold the same cleaned value (False where either is
    null): their distinct values are factorised together, the rows compared as integers."""
    ca, ta = _clean(frame, a)
    cb, tb = _clean(frame, b)
    joint = pd.factorize(np.concatenate([ta, tb]))[0] if len(ta) + len(tb) else \
        np.zeros(0, dtype=np.intp)
    ja = np.append(joint[:len(ta)], -1)[ca]
    jb = np.append(joint[len(ta):], -2)[cb]
    return (ja == jb) & (ja >= 0)


def text(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as stripped strings, blank as null (XPT pads text with blanks)."""
    if column not in frame:
        return pd.Series(pd.NA, index=frame.index, dtype="string")

    def make() -> pd.Series:
        found, table = _clean(frame, column)
        return pd.Series(np.append(table, pd.NA).astype(object)[found], index=frame.index,
                         dtype="string")
    return _cached(frame, column, "text", make)


def filled(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Whether the column holds a value on each record (False when the column is absent);
    found once per column (the rules ask it of --ORRES, --STRESC, --STAT... several times),
    read-only since it is shared."""
    if column not in frame:
        return np.zeros(len(frame), dtype=bool)

    def make() -> np.ndarray:
        given = _clean(frame, column)[0] >= 0
        given.flags.writeable = False
        return given
    return _cached(frame, column, "filled", make)


def number(frame: pd.DataFrame, column: str) -> pd.Series:
    """The column as numbers (NaN/NA where not a number); a text column is parsed once per
    distinct value (as ``pd.to_numeric`` of the rows would parse it, dtype included)."""
    if column not in frame:
        return pd.Series(np.nan, index=frame.index)

    def make() -> pd.Series:
        series = frame[column]
        facts = _facts(frame, column) if isinstance(series.dtype, pd.StringDtype) else None
        if facts is None:
            return pd.to_numeric(series, errors="coerce")
        parsed = pd.to_numeric(pd.Series(facts.uniques, dtype=series.dtype), errors="coerce")
        taken = parsed.array.take(facts.codes, allow_fill=True) \
            if not isinstance(parsed.dtype, np.dtype) else \
            pd.api.extensions.take(parsed.to_numpy(), facts.codes, allow_fill=True)
        return pd.Series(taken, index=frame.index, name=series.name)
    return _cached(frame, column, "number", make)


def number_codes(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1: NaN) into the distinct float64 values of :func:`number` of the column,
    found once per column: the visit rules ask per distinct VISITNUM (a search among the
    planned visits) and take the answers back to the records by the codes. A float64 column's
    codes are also those :func:`_clean` starts from (one hash of the column for both)."""
    def make() -> tuple[np.ndarray, np.ndarray]:
        values = number(frame, column).to_numpy(dtype=np.float64, na_value=np.nan)
        codes, found = pd.factorize(values, use_na_sentinel=True)
        return codes, np.asarray(found, dtype=np.float64)
    return _cached(frame, column, "numcodes", make)  # type: ignore[return-value]


def source(frame: pd.DataFrame) -> pd.Series:
    if "_SRCFILE" in frame and "_SRCROW" in frame:
        return frame["_SRCFILE"].astype(str) + " row " + frame["_SRCROW"].astype(str)
    return pd.Series("", index=frame.index)


Values = pd.Series | Callable[[pd.DataFrame], pd.Series]
Mask = pd.Series | np.ndarray


def emit(rule: str, dataset: str, frame: pd.DataFrame, mask: Mask, variable: str,
         values: Values, table: dict[str, tuple[Severity, str]] | None = None
         ) -> list[Finding]:
    """Findings for the records of ``frame`` where ``mask`` holds: one per record while few,
    one per distinct value (count, first subject and record) when systematic. ``values`` is
    a Series on ``frame``'s index, or a function of the offending records (computed only when
    there are some)."""
    severity, message = (table or RULES)[rule]
    if isinstance(mask, pd.Series):
        mask = mask.fillna(False)
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return []
    bad = frame[mask]
    shown_values = values(bad) if callable(values) else values[mask]
    rows = pd.DataFrame({
        "u": bad["USUBJID"].astype("string").fillna("").astype(str) if "USUBJID" in bad
        else "",
        "v": shown_values.astype("string").fillna("(null)").astype(str),
        "s": source(bad)})
    if len(rows) > PER_RECORD_LIMIT:
        grouped = rows.groupby("v", sort=True)
        first, counts = grouped.first(), grouped.size()
        return [Finding(rule, severity, message, dataset, str(r["u"]), variable, str(v),
                        str(r["s"]), int(counts[v])) for v, r in first.iterrows()]
    return [Finding(rule, severity, message, dataset, u, variable, v, s)
            for u, v, s in zip(rows["u"], rows["v"], rows["s"], strict=True)]


def shown(*columns: str) -> Callable[[pd.DataFrame], pd.Series]:
    """'A=x, B=y' per offending record, for values that only make sense together."""
    def values(bad: pd.DataFrame) -> pd.Series:
        parts = [column + "=" + text(bad, column).fillna("(null)") for column in columns]
        out = parts[0]
        for part in parts[1:]:
            out = out + ", " + part
        return out
    return values




def raw_codes(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1: null) into the distinct values of a column as written, found once."""
    return _cached(frame, column, "raw", lambda: _raw_codes(frame[column]))


def _raw_codes(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1: null) into the distinct values of ``s`` as written (text facts of a text
    column, else its factorisation as text)."""
    facts = text_facts(s) if isinstance(s.dtype, pd.StringDtype) else None
    if facts is not None:
        return facts.codes, facts.uniques
    return coded(s)


def _date_keys(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of the column's values (-1: null) and, per distinct value, the date as
    comparable numbers at each precision (year, year-month, year-month-day; NaN where not
    given) and its precision (0 none, 1 year, 2 month, 3 day), a last row for null: parsed
    once per distinct value, taken to the records by the codes only where compared."""
    facts = text_facts(s) if isinstance(s.dtype, pd.StringDtype) else None
    if facts is not None:               # parsed once per column (TextFacts.date_parts)
        found, parts = facts.codes, facts.date_parts
    else:
        found, uniques = coded(s)
        parts = iso_date_parts(np.asarray(uniques, dtype=object))
    parts = np.vstack([parts.reshape(-1, 3), np.full((1, 3), np.nan)])     # code -1: null
    y, m, d = parts[:, 0], parts[:, 1], parts[:, 2]
    keys = np.column_stack([y, y * 100 + m, (y * 100 + m) * 100 + d])
    precision = (~np.isnan(parts)).cumprod(axis=1).sum(axis=1).astype(np.int8)
    return found, keys, precision


def date_after(a: pd.Series, b: pd.Series) -> pd.Series:
    """Whether ISO 8601 date ``a`` is after ``b`` on the date parts both give: "2019" is
    after "2018-06-14", "2018-06" is not after "2018-06-14" (unknown), times are ignored."""
    ca, ka, pa = _date_keys(a)
    cb, kb, pb = _date_keys(b)
    n = np.minimum(pa[ca], pb[cb])
    level = np.clip(n - 1, 0, 2)
    with np.errstate(invalid="ignore"):
        after = (n > 0) & (ka[ca, level] > kb[cb, level])
    return pd.Series(after, index=a.index)


def _distinct_counts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For non-negative integer codes ``a`` and ``b`` of the same rows: how many distinct
    ``b`` go with each ``a`` code, and how many distinct ``a`` with each ``b`` code."""
    a, b = a.astype(np.int64, copy=False), b.astype(np.int64, copy=False)
    nb = int(b.max()) + 1
    na = int(a.max()) + 1
    if na * nb <= PAIR_TABLE_LIMIT:              # few combinations: a table of those present
        pairs = np.flatnonzero(np.bincount(a * nb + b, minlength=na * nb))
    else:
        pairs = pd.unique(a * nb + b)            # hashed: no sort of every record
    return np.bincount(pairs // nb, minlength=na), np.bincount(pairs % nb, minlength=nb)


# Pairs of codes counted in a table (``bincount``, int64: 32 MiB at most) rather than hashed.
PAIR_TABLE_LIMIT = 1 << 22


def not_one_to_one(frame: pd.DataFrame, a: str, b: str) -> np.ndarray:
    """Records whose ``a`` value goes with more than one ``b`` value or the other way round
    (nulls excluded); on the codes of the cleaned values, no text compared per row."""
    out = np.zeros(len(frame), dtype=bool)
    if a not in frame or b not in frame:
        return out
    ca, cb = codes(frame, a), codes(frame, b)
    both = (ca >= 0) & (cb >= 0)
    if both.all():              # the usual case: no null, no selection of the records copied
        if not len(both):
            return out
        per_a, per_b = _distinct_counts(ca, cb)
        return (per_a[ca] > 1) | (per_b[cb] > 1)
    if both.any():
        ca, cb = ca[both], cb[both]
        per_a, per_b = _distinct_counts(ca, cb)
        out[both] = (per_a[ca] > 1) | (per_b[cb] > 1)
    return out


def _key_codes(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Codes of the column as grouping key, its values as written with null and "" one key
    (what ``astype("string").fillna("")`` of the rows would group); -1 for that key."""
    def make() -> np.ndarray:
        series = frame[column]
        facts = _facts(frame, column)
        if facts is not None:
            blank = np.flatnonzero(facts.uniques == "")
            if not len(blank):
                return facts.codes
            return np.where(facts.codes == blank[0], -1, facts.codes)
        keyed = series.astype("string").fillna("")
        found = pd.factorize(keyed)[0]
        return np.where(keyed.to_numpy(dtype=object) == "", -1, found)
    return _cached(frame, column, "key", make)


def group_codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One integer per record for its combination of ``columns`` (as :func:`_key_codes`
    groups each): equal combinations get equal integers."""
    key = np.zeros(len(frame), dtype=np.int64)
    bound = 1                       # every key is below it: no max taken while it is small
    for column in columns:
        part = np.add(_key_codes(frame, column), 1, dtype=np.int64)
        size = int(part.max()) + 1 if len(part) else 1
        if bound > (1 << 62) // size and key.max(initial=0) >= (1 << 62) // size:
            key = pd.factorize(key)[0].astype(np.int64)     # keep within int64: renumber
            bound = int(key.max(initial=0)) + 1
        key = part if bound == 1 else key * size + part
        bound *= size
    return key


def duplicated(keys: np.ndarray) -> np.ndarray:
    """Every record whose key an earlier record already has (``duplicated(keep="first")``;
    :func:`cdiscmap.checks.crossdomain.duplicated_keys`)."""
    return duplicated_keys(keys)


_NUMERIC = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


# ---------------------------------------------------------------------------------------------
# rules by class
# ---------------------------------------------------------------------------------------------
def _timing(name: str, frame: pd.DataFrame, cls: str | None) -> list[Finding]:
    """CR0019/CR0020: FDA Business Rules FB3209/FB3210, FB3207/FB3208 (CORE-000718, -000866,
    -000708, -000707); SDTMIG 3.4 §4.4.1, §4.4.4 (start, collection and end timing)."""
    out: list[Finding] = []
    p = name[:2]
    start, day = (f"{p}DTC", f"{p}DY") if cls in FINDINGS else (f"{p}STDTC", f"{p}STDY")
    end, end_day = f"{p}ENDTC", f"{p}ENDY"
    if start in frame and end in frame:
        out += emit("CMAP-CR0019", name, frame, date_after(frame[start], frame[end]), start,
                    shown(start, end))
    if day in frame and end_day in frame:
        out += emit("CMAP-CR0020", name, frame, number(frame, day) > number(frame, end_day),
                    day, shown(day, end_day))
    return out


# topics that name no test, treatment or event (CR0021)
_OTHER_TOPICS = frozenset({"OTHER", "MULTIPLE"})


def _topic_and_categories(name: str, frame: pd.DataFrame, cls: str | None) -> list[Finding]:
    """CR0021: CG0341-CG0346 (CORE-000159..164), SDTMIG 3.4 §4.2.7.3, §4.2.8.1, §4.2.8.2;
    CR0022: CG0027 (CORE-000237), SDTMIG 3.4 §4.2.6."""
    out: list[Finding] = []
    topic = {"Findings": "TESTCD", "Findings About": "TESTCD", "Interventions": "TRT",
             "Events": "TERM"}.get(cls or "")
    if topic and f"{name[:2]}{topic}" in frame:
        column = f"{name[:2]}{topic}"
        other = on_table(frame, column, lambda u: np.fromiter(
            (value.upper() in _OTHER_TOPICS for value in u), dtype=bool, count=len(u)))
        out += emit("CMAP-CR0021", name, frame, other, column, frame[column])
    cat, scat = f"{name[:2]}CAT", f"{name[:2]}SCAT"
    if cat in frame and scat in frame:
        out += emit("CMAP-CR0022", name, frame, same_text(frame, scat, cat), scat,
                    frame[scat])
    return out


def _interventions(name: str, frame: pd.DataFrame) -> list[Finding]:
    """CR0023: CG0114 (CORE-000093); CR0024: CG0110/CG0111 (CORE-000092); CR0025: FB4002,
    FB4003 (CORE-000308, -000517); SDTMIG 3.4 §6.1 (Interventions dose variables)."""
    out: list[Finding] = []
    p = name[:2]
    dose, dostxt, dostot, dosu = f"{p}DOSE", f"{p}DOSTXT", f"{p}DOSTOT", f"{p}DOSU"
    given = filled(frame, dose) | filled(frame, dostxt) | filled(frame, dostot)
    if dosu in frame or given.any():
        out += emit("CMAP-CR0023", name, frame, given & ~filled(frame, dosu), dosu,
                    shown(*[c for c in (dose, dostxt, dostot) if c in frame]))
    if dose in frame and dostxt in frame:
        out += emit("CMAP-CR0024", name, frame, filled(frame, dose) & filled(frame, dostxt),
                    dostxt, shown(dose, dostxt))
    for column in (dose, dostot):
        if column in frame:
            out += emit("CMAP-CR0025", name, frame, number(frame, column) < 0, column,
                        frame[column])
    return out


SERIOUSNESS = ("SCAN", "SCONG", "SDISAB", "SDTH", "SHOSP", "SLIFE", "SOD", "SMIE")


def _events(name: str, frame: pd.DataFrame) -> list[Finding]:
    """CR0026: CG0428 (CORE-000102); CR0027: CG0041, CG0042 (CORE-000022, -000266), SDTMIG 3.4
    §6.2.1; CR0028: CG0049, CG0083, FB0909, FB0910 (CORE-000268, -000184), SDTMIG 3.4 §4.2.7."""
    out: list[Finding] = []
    p = name[:2]
    tox, toxgr = f"{p}TOX", f"{p}TOXGR"
    if tox in frame:
        out += emit("CMAP-CR0026", name, frame, filled(frame, tox) & ~filled(frame, toxgr),
                    toxgr, frame[tox])
    ser = f"{p}SER"
    criteria = [f"{p}{c}" for c in SERIOUSNESS if f"{p}{c}" in frame]
    if ser in frame and criteria:
        any_y = np.logical_or.reduce([is_value(frame, c, "Y") for c in criteria])
        out += emit("CMAP-CR0027", name, frame, any_y & ~is_value(frame, ser, "Y"),
                    ser, shown(ser, *criteria))
    for a, b in ((f"{p}DECOD", f"{p}PTCD"), (f"{p}BODSYS", f"{p}BDSYCD")):
        if a in frame and b in frame:
            out += emit("CMAP-CR0028", name, frame, not_one_to_one(frame, a, b), a,
                        shown(a, b))
    return out


def _findings(name: str, frame: pd.DataFrame) -> list[Finding]:
    """Findings-class rules (SDTMIG 3.4 §4.5.1, §4.5.3, §6.3): CR0029 CG0372 (CORE-000220,
    TI: CORE-000541), CR0030 CG0406 (CORE-000199), CR0031 FB0901 (CORE-000303), CR0032 CG0348
    (CORE-000200), CR0033 CG0422, FB4201 (CORE-000099, -000675), CR0034 FB4202 (CORE-000774),
    CR0035 CG0094 (CORE-000225), CR0036 CG0397 (CORE-000021), CR0037 CG0426 (CORE-000133),
    CR0038 FB3101-FB3103 (CORE-000863, -000542, -000732), CR0039 FB2603 (CORE-000914), CR0040
    CG0569, FB2602 (CORE-000105), CR0041 FB3901, FB3902 (CORE-000672, -000889), CR0042 FB3001
    (CORE-000699). Every test is asked of the distinct values (or integer codes) of the
    columns, never of the text of each record."""
    out: list[Finding] = []
    p = name[:2]
    c = {k: f"{p}{k}" for k in ("TESTCD", "TEST", "ORRES", "STRESC", "STRESN", "STRESU",
                                "STAT", "REASND", "DRVFL", "LOBXFL", "CAT", "SCAT", "SPEC",
                                "METHOD")}
    out += _test_codes(name, frame)
    derived = is_value(frame, c["DRVFL"], "Y")
    has_stat, not_done = filled(frame, c["STAT"]), is_value(frame, c["STAT"], "NOT DONE")
    result = filled(frame, c["ORRES"]) | filled(frame, c["STRESC"]) | \
        number(frame, c["STRESN"]).notna().to_numpy()
    if c["ORRES"] in frame:
        out += emit("CMAP-CR0032", name, frame, ~filled(frame, c["ORRES"]) & ~has_stat &
                    ~derived, c["ORRES"], frame[c["TESTCD"]] if c["TESTCD"] in frame
                    else frame[c["ORRES"]])
    if c["STAT"] in frame:
        out += emit("CMAP-CR0033", name, frame, has_stat & result, c["STAT"],
                    shown(*[v for v in (c["STAT"], c["ORRES"], c["STRESC"])
                                   if v in frame]))
        out += emit("CMAP-CR0034", name, frame, not_done & ~filled(frame, c["REASND"]),
                    c["REASND"], frame[c["STAT"]])
    if c["REASND"] in frame:
        out += emit("CMAP-CR0035", name, frame, filled(frame, c["REASND"]) & ~not_done,
                    c["STAT"], shown(c["STAT"], c["REASND"]))
    no_stresc = ~filled(frame, c["STRESC"])
    if c["STRESC"] in frame:
        out += emit("CMAP-CR0036", name, frame, no_stresc &
                    (filled(frame, c["ORRES"]) | derived), c["STRESC"],
                    lambda bad: text(bad, c["ORRES"]))
    if c["STRESU"] in frame:
        out += emit("CMAP-CR0037", name, frame, filled(frame, c["STRESU"]) & no_stresc,
                    c["STRESC"], shown(c["STRESU"]))
    if c["STRESN"] in frame and c["STRESC"] in frame:
        out += emit("CMAP-CR0038", name, frame, _stresn_wrong(frame, c["STRESC"], c["STRESN"]),
                    c["STRESN"], lambda bad: shown(c["STRESC"])(bad) + ", " + c["STRESN"] +
                    "=" + bad[c["STRESN"]].astype("string").fillna("(null)"))
    if c["LOBXFL"] in frame and c["TESTCD"] in frame:
        flag = is_value(frame, c["LOBXFL"], "Y")
        keys = ["USUBJID"] + [f"{p}{k}" for k in (
            "TESTCD", "CAT", "SCAT", "SPEC", "METHOD", "LOC", "LAT", "DIR", "PORTOT", "LNKID",
            "OBJ", "EVAL", "EVALID", "TPTREF") if f"{p}{k}" in frame]
        dup = np.zeros(len(frame), dtype=bool)
        dup[flag] = duplicated(group_codes(frame, keys)[flag])
        out += emit("CMAP-CR0039", name, frame, dup, c["LOBXFL"], frame[c["TESTCD"]])
        out += emit("CMAP-CR0040", name, frame, flag & no_stresc, c["STRESC"],
                    frame[c["TESTCD"]])
    for lo, hi in ((f"{p}STNRLO", f"{p}STNRHI"), (f"{p}ORNRLO", f"{p}ORNRHI")):
        if lo in frame and hi in frame:
            out += emit("CMAP-CR0041", name, frame, number(frame, hi) <= number(frame, lo), hi,
                        shown(lo, hi))
    if c["STRESU"] in frame and c["TESTCD"] in frame:
        keys = [v for v in (c["TESTCD"], c["CAT"], c["SCAT"], c["SPEC"], c["METHOD"])
                if v in frame]
        unit = codes(frame, c["STRESU"])
        several = np.zeros(len(frame), dtype=bool)
        given = unit >= 0
        if given.any():
            group = pd.factorize(group_codes(frame, keys)[given])[0]
            per_group = _distinct_counts(group, unit[given])[0]
            several[given] = per_group[group] > 1
        out += emit("CMAP-CR0042", name, frame, several, c["STRESU"],
                    lambda bad: bad[c["TESTCD"]].astype("string") + ": " +
                    text(bad, c["STRESU"]))
    return out


def _stresn_wrong(frame: pd.DataFrame, stresc: str, stresn: str) -> pd.Series:
    """CR0038: records whose --STRESN is not the number --STRESC holds (null while --STRESC
    is numeric, a different number, or given for a text --STRESC); --STRESC's distinct values
    are matched and parsed once (a float --STRESN is compared on the numeric records only)."""
    found, table = _clean(frame, stresc)
    distinct = pd.Series(table, dtype="string")
    numeric = distinct.str.fullmatch(_NUMERIC).fillna(False).astype(bool)
    parsed = pd.to_numeric(distinct.where(numeric), errors="coerce")
    value = number(frame, stresn)
    if value.dtype == np.float64:
        numeric_rows = np.append(numeric.to_numpy(), False)[found]
        given = value.to_numpy()
        wrong = ~numeric_rows & ~np.isnan(given)
        at = np.flatnonzero(numeric_rows)
        mine = given[at]
        expected = np.append(parsed.to_numpy(dtype=np.float64, na_value=np.nan),
                             np.nan)[found[at]]
        lost = np.isnan(mine)
        mine, expected = np.where(lost, 0.0, mine), np.where(np.isnan(expected), 0.0, expected)
        # equal numbers are close (np.isclose's answer for them, infinities included): only
        # the unequal ones, usually none, go through its several passes
        unequal = np.flatnonzero(mine != expected)
        lost[unequal] |= ~np.isclose(mine[unequal], expected[unequal], rtol=1e-9, atol=1e-12)
        wrong[at] = lost
        return pd.Series(wrong, index=frame.index)
    is_num = pd.Series(np.append(numeric.to_numpy(), False)[found], index=frame.index)
    as_num = pd.Series(parsed.array.take(found, allow_fill=True)
                       if not isinstance(parsed.dtype, np.dtype) else
                       pd.api.extensions.take(parsed.to_numpy(), found, allow_fill=True),
                       index=frame.index)
    return (is_num & (value.isna() | ~np.isclose(value.fillna(0), as_num.fillna(0),
                                                  rtol=1e-9, atol=1e-12))) | \
        (~is_num & value.notna())


# a --TESTCD as a SAS name: 8 characters at most, no leading digit (CR0029)
_TESTCD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,7}")


def _test_codes(name: str, frame: pd.DataFrame) -> list[Finding]:
    """CR0029-CR0031 on any dataset with --TESTCD/--TEST (Findings, and TI's IETESTCD)."""
    out: list[Finding] = []
    p = "IE" if name == "TI" else name[:2]
    code, test = f"{p}TESTCD", f"{p}TEST"
    if code in frame:
        ok = on_table(frame, code, lambda u: np.fromiter(
            (_TESTCD_NAME.fullmatch(value) is not None for value in u), dtype=bool,
            count=len(u)))
        out += emit("CMAP-CR0029", name, frame, filled(frame, code) & ~ok, code,
                    frame[code])
    if test in frame and name not in ("IE", "TI"):   # IETEST may be 200 long (SDTMIG 3.4 §6.3.4)
        out += emit("CMAP-CR0030", name, frame,
                    on_table(frame, test, lambda u: np.fromiter(map(len, u), dtype=np.int64,
                                                                count=len(u)) > 40),
                    test, frame[test])
    if code in frame and test in frame:
        out += emit("CMAP-CR0031", name, frame, not_one_to_one(frame, code, test), code,
                    shown(code, test))
    return out


def check_class_rules(name: str, frame: pd.DataFrame, standards: Standards | None
                      ) -> list[Finding]:
    """The class-scoped CORE-derived rules for one SDTM dataset (not DM, not SUPP--)."""
    cls = domain_class(name, frame, standards)
    out = _timing(name, frame, cls) + _topic_and_categories(name, frame, cls)
    if cls == "Interventions":
        out += _interventions(name, frame)
    elif cls == "Events":
        out += _events(name, frame)
    elif cls in FINDINGS:
        out += _findings(name, frame)
    elif name == "TI":
        out += _test_codes(name, frame)
    return out


__all__ = ["FINDINGS", "RULES", "check_class_rules", "codes", "date_after", "duplicated",
           "distinct", "emit", "filled", "group_codes", "is_value", "not_one_to_one",
           "number", "number_codes", "on_distinct", "on_table", "raw_codes", "raw_isin", "text_facts_of", "same_text", "shown", "source", "text"]
