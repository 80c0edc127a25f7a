"""What a text column holds, found with one pass over its cells and shared by every consumer.

Checks (codelists, ISO 8601 shape, 200-byte limit) and define.xml (lengths, used terms, date
precision, value-level subsets) ask questions whose answers depend only on a column's
*distinct* values: a 100,000-row LBDTC column has a few thousand. :class:`TextFacts`
factorises a column once (codes per row, distinct values in first-appearance order) and
answers every question on the distinct values, broadcasting back through the codes when rows
matter (first row and count of a failing value, records a where-clause selects).

It sits in ``checks`` (the lower layer) so that ``checks.schema`` and ``emit.define`` share it
without an import cycle.

While :func:`facts_cache` is open, the facts of a column are remembered by the identity of its
own object array (through a weak reference), so the schema, the file limits and the
CORE-derived rules, which all ask for the same columns, factorise each of them once; the XPT
reader knows them already from its factorisation of the raw bytes (:func:`remember`), and a
column the run's mapping factorised (:func:`cdiscmap.sdtm.vectorize.codes_cache`) takes those
codes, renumbered when needed, instead of hashing its text again. Inside the block nobody may
write into a remembered column.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from cdiscmap.sdtm.vectorize import memo_scope, remembered

try:                                     # pandas' C string hash table (pandas 2.x)
    from pandas._libs.hashtable import StringHashTable as _StringHashTable
except ImportError:                      # pragma: no cover - other pandas builds
    _StringHashTable = None

__all__ = ["PlainIso", "TextFacts", "facts_cache", "plain_iso_parts", "remember", "text_facts"]


class TextFacts:
    """Codes per row (-1 = missing) into the distinct non-missing values of a text column.

    ``uniques`` is an object array of str in first-appearance order, the order
    ``Series.unique()`` gives, so "first value" questions answer as a row scan would.
    """

    __slots__ = ("codes", "uniques", "__dict__")

    def __init__(self, codes: np.ndarray, uniques: np.ndarray) -> None:
        self.codes = codes
        self.uniques = uniques

    # ------------------------------------------------------------------ distinct values
    @cached_property
    def distinct(self) -> pd.Series:
        """The distinct values as a pandas "string" Series (what the string checks take)."""
        return pd.Series(self.uniques, dtype="string")

    @cached_property
    def byte_lengths(self) -> np.ndarray:
        """UTF-8 length of each distinct value (ASCII values counted without encoding)."""
        lengths = np.fromiter(map(len, self.uniques), dtype=np.int64, count=len(self.uniques))
        if "".join(self.uniques).isascii():     # one C pass; the usual case: no value to encode
            return lengths
        wide = [i for i, value in enumerate(self.uniques) if not value.isascii()]
        if wide:
            lengths[wide] = [len(self.uniques[i].encode("utf-8")) for i in wide]
        return lengths

    @cached_property
    def date_parts(self) -> np.ndarray:
        """Year, month and day of each distinct value read as the start of an ISO 8601 date
        (:func:`iso_date_parts`): the plausibility, CORE-derived and cross-dataset rules all
        ask it of the same --DTC columns, so it is parsed once per column."""
        return iso_date_parts(self.uniques)

    @cached_property
    def complete_days(self) -> np.ndarray:
        """Each distinct value's calendar date (datetime64[ns]) when its first 10 characters
        are a complete date, NaT otherwise: :func:`cdiscmap.sdtm.dates.complete_date` of the
        distinct values, from :attr:`date_parts`."""
        return complete_days(self.uniques, self.date_parts)

    @cached_property
    def max_bytes(self) -> int:
        """Longest value in UTF-8 bytes, blank values included (0 when none is present)."""
        return int(self.byte_lengths.max()) if len(self.uniques) else 0

    @cached_property
    def nonblank(self) -> np.ndarray:
        """Which distinct values hold something other than white space."""
        return np.fromiter((bool(value.strip()) for value in self.uniques), dtype=bool,
                           count=len(self.uniques))

    @cached_property
    def present(self) -> pd.Series:
        """The distinct non-blank values (unstripped, first-appearance order), "string"."""
        return self.distinct[self.nonblank].reset_index(drop=True)

    @cached_property
    def used(self) -> set[str]:
        """The distinct non-blank values, stripped: the terms a codelist is used with."""
        return set(self.present.str.strip().unique().tolist())

    # ------------------------------------------------------------------ rows
    def mask_of(self, hit: np.ndarray) -> np.ndarray:
        """Rows whose value is a distinct value flagged in ``hit`` (missing rows: False)."""
        table = np.append(np.asarray(hit, dtype=bool), False)      # code -1 → last entry
        return table[self.codes]

    def isin(self, values: list[str]) -> np.ndarray:
        """Rows whose value is one of ``values`` (as ``Series.isin`` on the text)."""
        wanted = set(values)           # str equality, as isin: one set lookup per distinct value
        return self.mask_of(np.fromiter(map(wanted.__contains__, self.uniques), dtype=bool,
                                        count=len(self.uniques)))

    def subset(self, rows: np.ndarray) -> TextFacts:
        """The facts of the selected rows (a boolean mask, or positions in ascending order),
        distinct values in the order they first appear among those rows."""
        codes = self.codes[rows]
        kept = pd.unique(codes[codes >= 0])
        remap = np.full(len(self.uniques) + 1, -1, dtype=np.intp)
        remap[kept] = np.arange(len(kept))
        return TextFacts(remap[codes], self.uniques[kept])

    def first_rows(self, hit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For the distinct values flagged in ``hit``: their indexes, the first row holding
        each and how many rows hold it (indexes in ascending order)."""
        positions = np.flatnonzero(self.mask_of(hit))
        found, first, count = np.unique(self.codes[positions], return_index=True,
                                        return_counts=True)
        return found, positions[first], count


# ============================================================================================
# ISO 8601 date heads, vectorised
# ============================================================================================
# The date part of an ISO 8601 value as the rules read it: year, then month, then day, each
# optional after the one before (SDTMIG 3.4 §4.4.2 partial dates); the rest is ignored.
ISO_DATE_HEAD = r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
_DIGIT0, _HYPHEN = ord("0"), ord("-")
_WEIGHTS = np.array([1000, 100, 10, 1], dtype=np.int64)


def iso_date_parts(values: np.ndarray) -> np.ndarray:
    """Year, month, day (float64 columns, NaN where not given) of each str in ``values`` as
    :data:`ISO_DATE_HEAD` reads its first 10 characters, with the numbers as ``pd.to_numeric``
    gives them. The heads are taken as UCS-4 code points and tested as a numpy array (a regex
    per value costs a Python call each; a 10,000-subject study has some 90,000 distinct --DTC
    values); a head holding any non-ASCII character (``\\d`` also matches other scripts'
    digits) is parsed by the regex, as before."""
    count = len(values)
    out = np.full((count, 3), np.nan)
    if not count:
        return out
    try:
        points = np.asarray(values, dtype=object).astype("U10").view(np.uint32) \
            .reshape(count, 10).astype(np.int64)
    except (TypeError, ValueError, UnicodeError):       # not all str: the regex decides
        return _regex_date_parts(values)
    digit = (points >= _DIGIT0) & (points <= _DIGIT0 + 9)
    number = points - _DIGIT0
    year = digit[:, :4].all(axis=1)
    month = year & (points[:, 4] == _HYPHEN) & digit[:, 5] & digit[:, 6]
    day = month & (points[:, 7] == _HYPHEN) & digit[:, 8] & digit[:, 9]
    out[year, 0] = number[year, :4] @ _WEIGHTS
    out[month, 1] = number[month, 5] * 10 + number[month, 6]
    out[day, 2] = number[day, 8] * 10 + number[day, 9]
    wide = (points > 0x7F).any(axis=1)
    if wide.any():
        out[wide] = _regex_date_parts(np.asarray(values, dtype=object)[wide])
    return out


_COMPLETE_HEAD = re.compile(r"\d{4}-\d{2}-\d{2}")


def complete_heads(values: np.ndarray) -> np.ndarray:
    """Whether the first 10 characters of each str in ``values`` are ``\\d{4}-\\d{2}-\\d{2}``
    (a complete date's shape, not its calendar), tested as code points like
    :func:`iso_date_parts`; heads with non-ASCII characters are matched by the regex."""
    count = len(values)
    if not count:
        return np.zeros(0, dtype=bool)
    values = np.asarray(values, dtype=object)
    try:
        points = values.astype("U10").view(np.uint32).reshape(count, 10)
    except (TypeError, ValueError, UnicodeError):
        return np.fromiter((_COMPLETE_HEAD.fullmatch(str(v)[:10]) is not None for v in values),
                           dtype=bool, count=count)
    digit = (points >= _DIGIT0) & (points <= _DIGIT0 + 9)
    found = digit[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1) & (points[:, 4] == _HYPHEN) & \
        (points[:, 7] == _HYPHEN)
    wide = np.flatnonzero((points > 0x7F).any(axis=1))
    if len(wide):
        found[wide] = [_COMPLETE_HEAD.fullmatch(v[:10]) is not None for v in values[wide]]
    return found


def _regex_date_parts(values: np.ndarray) -> np.ndarray:
    parts = pd.Series([str(v)[:10] for v in values], dtype="string").str.extract(
        ISO_DATE_HEAD).apply(pd.to_numeric, errors="coerce")
    return parts.to_numpy(dtype="float64", na_value=np.nan).reshape(len(values), 3)


# Years whose dates all fit datetime64[ns] (1677-09-21 .. 2262-04-11): outside them pandas
# decides (NaT when out of bounds).
_SAFE_YEARS = (1678, 2261)


def complete_days(values: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """datetime64[ns] of each value whose first 10 characters are a complete date that
    exists on the calendar (``parts``: its :func:`iso_date_parts`), NaT otherwise; equal to
    :func:`cdiscmap.sdtm.dates.complete_date` (regex ``\\d{4}-\\d{2}-\\d{2}`` on the first 10
    characters, then ``pd.to_datetime(format="%Y-%m-%d", errors="coerce")``). Heads with
    non-ASCII characters or years near the datetime64[ns] limits go through that function."""
    count = len(values)
    days = np.full(count, np.datetime64("NaT"), dtype="datetime64[ns]")
    if not count:
        return days
    y, m, d = parts[:, 0], parts[:, 1], parts[:, 2]
    values = np.asarray(values, dtype=object)
    # pandas reads other scripts' digits as digits: a non-ASCII head goes to complete_date
    wide = np.zeros(count, dtype=bool) if "".join(values).isascii() else \
        ~np.fromiter((v[:10].isascii() for v in values), dtype=bool, count=count)
    complete = ~np.isnan(d) & ~wide
    safe = complete & (y >= _SAFE_YEARS[0]) & (y <= _SAFE_YEARS[1])
    if safe.any():
        month_ok = (m[safe] >= 1) & (m[safe] <= 12)
        month = (y[safe] - 1970).astype("int64").astype("datetime64[Y]") + \
            (np.where(month_ok, m[safe], 1) - 1).astype("int64").astype("timedelta64[M]")
        first = month.astype("datetime64[D]")
        length = ((month + np.timedelta64(1, "M")).astype("datetime64[D]") - first) \
            .astype("int64")
        exists = month_ok & (d[safe] >= 1) & (d[safe] <= length)
        stamps = (first + (d[safe] - 1).astype("int64").astype("timedelta64[D]")) \
            .astype("datetime64[ns]")
        stamps[~exists] = np.datetime64("NaT")
        days[safe] = stamps
    rest = (complete & ~safe) | wide
    if rest.any():
        from cdiscmap.sdtm.dates import complete_date

        days[rest] = complete_date(pd.Series(values[rest], dtype="string")).to_numpy(
            dtype="datetime64[ns]")
    return days


# The plain shapes most --DTC texts have (d: an ASCII digit), read from their characters'
# code points as arrays, where the regexes read one text at a time: a DM/AE/LB column of a
# large study has thousands of distinct datetimes. A text of another shape (spaces, "2014---05",
# a fraction of a second, other digits) still goes through the regexes.
PLAIN_SHAPES = {4: "dddd", 7: "dddd-dd", 10: "dddd-dd-dd", 13: "dddd-dd-ddTdd",
           16: "dddd-dd-ddTdd:dd", 19: "dddd-dd-ddTdd:dd:dd"}
_PLAIN_WIDTH = max(PLAIN_SHAPES)
# component → (first, last + 1) character; present from that length on
PLAIN_FIELDS = {"year": (0, 4), "month": (5, 7), "day": (8, 10), "hour": (11, 13),
           "minute": (14, 16), "second": (17, 19)}


@dataclass(frozen=True)
class PlainIso:
    """Components of distinct texts of a plain shape (float, NaN where absent or not plain):
    what the _ISO and _TIME regexes give for those texts."""

    length: np.ndarray   # len() of every text
    plain: np.ndarray    # bool: the text has one of PLAIN_SHAPES
    parts: dict[str, np.ndarray]


# Each shape as one row of the character codes over _PLAIN_WIDTH (index: the shape's length):
# _DIGIT where a digit stands, 0 past the shape's end (the padding of a shorter text).
_DIGIT = np.uint32(0xFFFFFFFF)          # no character has this code (Unicode ends at 0x10FFFF)
_SHAPE_OF_LENGTH = np.full(_PLAIN_WIDTH + 2, -1, dtype=np.int64)
_SHAPE_CODES = np.zeros((len(PLAIN_SHAPES), _PLAIN_WIDTH), dtype=np.uint32)
for _k, (_size, _shape) in enumerate(PLAIN_SHAPES.items()):
    _SHAPE_OF_LENGTH[_size] = _k
    _SHAPE_CODES[_k, :_size] = [_DIGIT if c == "d" else ord(c) for c in _shape]


def plain_iso_parts(values: np.ndarray) -> PlainIso:
    """Read the texts (an object array of str, no nulls) that have a plain shape, vectorised:
    ADaM date imputation (``adam.dates``) and the schema's ISO 8601 check (SD0007) both start
    from it, the regexes reading only the texts of other shapes.

    Every shape is tested in one comparison of the characters with their shape's row (a digit
    made one class), not a pass per shape, and each component reads only the plain texts:
    30 distinct texts 119-128 -> 42-66 us, 300: 172-203 -> 93-112 us, 10,000: 3.1 -> 2.6 ms
    (min of 200).
    """
    n = len(values)
    length = np.fromiter(map(len, values), dtype=np.int64, count=n)
    parts = {name: np.full(n, np.nan) for name in PLAIN_FIELDS}
    plain = np.zeros(n, dtype=bool)
    shape = _SHAPE_OF_LENGTH[np.minimum(length, _PLAIN_WIDTH + 1)]
    fits = np.flatnonzero(shape >= 0)
    if not len(fits):
        return PlainIso(length, plain, parts)
    points = values[fits].astype(f"U{_PLAIN_WIDTH}").view(np.uint32).reshape(len(fits), _PLAIN_WIDTH)
    kind = shape[fits]
    classes = np.where((points >= 48) & (points <= 57), _DIGIT, points)
    ok = (classes == _SHAPE_CODES[kind]).all(axis=1)
    plain[fits[ok]] = True
    sizes = length[fits]
    for name, (first, stop) in PLAIN_FIELDS.items():
        given = np.flatnonzero(ok & (sizes >= stop))
        number = points[given, first].astype(np.int64) - 48
        for i in range(first + 1, stop):
            number = number * 10 + (points[given, i] - 48)
        parts[name][fits[given]] = number
    return PlainIso(length, plain, parts)


# Facts by the id of a column's own object array while facts_cache() is open.
_FACTS: ContextVar[dict[int, tuple[weakref.ref, TextFacts]] | None] = \
    ContextVar("cdiscmap_text_facts", default=None)


@contextmanager
def facts_cache() -> Iterator[None]:
    """Remember the facts of text columns inside the block; nested use shares."""
    with memo_scope(_FACTS):
        yield


def _own_array(series: pd.Series) -> np.ndarray | None:
    """A Python-backed ``string`` column's own object array (no copy), else None."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "python":
        values = np.asarray(series.array)
        return values if values.dtype == object else None
    return None


def _store(values: np.ndarray, facts: TextFacts) -> None:
    cache = _FACTS.get()
    if cache is None:
        return
    key = id(values)

    def forget(ref: weakref.ref, key: int = key) -> None:
        entry = cache.get(key)
        if entry is not None and entry[0] is ref:
            del cache[key]

    cache[key] = (weakref.ref(values, forget), facts)


def remember(series: pd.Series, facts: TextFacts) -> None:
    """``facts`` are those of ``series`` (a Python-backed ``string`` column, e.g. as the XPT
    reader built it): :func:`text_facts` answers with them while :func:`facts_cache` is open."""
    values = _own_array(series)
    if values is not None and len(facts.codes) == len(values):
        _store(values, facts)


def text_facts(series: pd.Series) -> TextFacts | None:
    """The facts of a text column; None when it is not text only (numbers, categoricals,
    objects holding non-str values): callers then take their general path.

    pandas' Python-backed strings are hashed by its C string table directly (half the time of
    ``pd.factorize``, which checks every value's type first); like ``Series.unique`` and
    ``pd.factorize`` on text, that table compares values up to a NUL character. While
    :func:`facts_cache` is open, a column's facts are found once and remembered."""
    cache = _FACTS.get()
    own = _own_array(series) if cache is not None else None
    if own is not None:
        entry = cache.get(id(own))                      # type: ignore[union-attr]
        if entry is not None and entry[0]() is own:
            return entry[1]
    facts = _run_facts(series) if own is not None else None
    if facts is None:
        facts = _text_facts(series)
    if own is not None and facts is not None:
        _store(own, facts)
    return facts


def _run_facts(series: pd.Series) -> TextFacts | None:
    """The facts of a column whose factorisation the run remembers already
    (:func:`cdiscmap.sdtm.vectorize.remembered`: the mapping made most SDTM columns that
    way), renumbered in first-appearance order when needed: integer passes over the codes
    instead of hashing every cell's text again."""
    known = remembered(series)
    if known is None:
        return None
    codes, uniques = np.asarray(known[0], dtype=np.intp), np.asarray(known[1], dtype=object)
    if len(codes) != len(series):
        return None
    if not _first_appearance(codes, len(uniques)):
        inner, present = pd.factorize(codes)        # integers in first-appearance order
        null = np.flatnonzero(present < 0)
        if len(null):                               # the null code stays -1
            renumber = np.arange(len(present), dtype=np.intp)
            renumber[null[0] + 1:] -= 1
            renumber[null[0]] = -1
            inner = renumber[inner]
            present = np.delete(present, null[0])
        codes, uniques = inner.astype(np.intp, copy=False), uniques[present]
    return TextFacts(codes, uniques)


def _first_appearance(codes: np.ndarray, count: int) -> bool:
    """Whether ``codes`` (-1: null) number ``count`` values in order of first appearance,
    each value used: every code is at most one more than the largest before it, and the
    largest is ``count - 1``."""
    if not len(codes):
        return count == 0
    for narrow in (np.int8, np.int16, np.int32):    # codes lie in -1..count-1: a narrow copy
        if count <= np.iinfo(narrow).max:           # is read faster than the intp codes
            codes = codes.astype(narrow)
            break
    highest = np.maximum.accumulate(codes)
    if highest[-1] != count - 1 or highest[0] > 0:
        return False
    # the running maximum never steps by more than one: it changes exactly as many times
    # as it rises in all (a bool pass, no integer temporary)
    return int(np.count_nonzero(highest[1:] != highest[:-1])) == count - 1 - int(highest[0])


def _text_facts(series: pd.Series) -> TextFacts | None:
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "python":
        values = np.asarray(series.array)
        if _StringHashTable is not None and values.dtype == object:
            try:
                uniques, codes = _StringHashTable(min(len(values), 1 << 16) or 1).factorize(
                    values, na_sentinel=-1)
            except (UnicodeError, TypeError, ValueError):
                pass                    # e.g. a lone surrogate: let pandas decide
            else:
                return TextFacts(np.asarray(codes, dtype=np.intp), uniques)
    elif not (isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype)):
        return None
    codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    if not all(isinstance(value, str) for value in uniques):
        return None
    return TextFacts(np.asarray(codes, dtype=np.intp), uniques)
