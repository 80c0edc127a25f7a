"""Work on distinct values: clinical columns repeat a few thousand values over millions of rows
(dates, codes, visit names), so text functions run once per distinct value, then broadcast."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

# Factorisations of text arrays, by the array's identity (checked through a weak reference),
# while a map_study run holds :func:`codes_cache` open: the same column is asked for its
# distinct values by several steps (blank → null, ASCII, 200-byte limit, dates), and
# factorising is what every one of them costs. Only arrays nobody writes into afterwards are
# looked up: a block's derived variables and a domain's finished columns.
# An entry holds (codes, distinct values, clean), clean saying the array already is clean
# text (stripped, blank → null) as :func:`clean_text_array` leaves it; or a function giving
# that triple on first use (rows taken from a remembered array: its codes, compacted).
_Coded = tuple[np.ndarray, np.ndarray, bool]
_CODES: ContextVar[dict[int, tuple[weakref.ref, _Coded | Callable[[], _Coded]]] | None] = \
    ContextVar("cdiscmap_codes", default=None)


# Results of value-by-value functions (date parsing, date completion) on the distinct values
# met so far in the run, per function: a study's date columns share one calendar, so each
# spelling is parsed once per run, not once per column (:func:`memo_apply`).
# Each memo is (value → its position in the results, the results' arrays).
_MEMO: ContextVar[dict[str, tuple[dict[str, int], list[np.ndarray]]] | None] = \
    ContextVar("cdiscmap_memo", default=None)


@contextmanager
def memo_scope(*memos: ContextVar) -> Iterator[None]:
    """Give each memo (a ``ContextVar`` holding a dict, default None) a fresh dict for the
    block, unless an outer block already did: nested use shares the outer dict, and the
    dicts are dropped when the outermost block ends. The one shape of every run-scoped cache
    (text codes, text facts, the RECIST timepoints, ...).

    >>> from contextvars import ContextVar
    >>> memo: ContextVar[dict | None] = ContextVar("memo", default=None)
    >>> with memo_scope(memo):
    ...     memo.get()["x"] = 1
    ...     with memo_scope(memo):
    ...         memo.get()["x"]
    1
    >>> memo.get() is None
    True
    """
    opened = [(memo, memo.set({})) for memo in memos if memo.get() is None]
    try:
        yield
    finally:
        for memo, token in reversed(opened):
            memo.reset(token)


@contextmanager
def codes_cache() -> Iterator[None]:
    """Remember factorisations of text arrays inside the block (a run); nested use shares."""
    with memo_scope(_CODES, _MEMO):
        yield


def forget_codes() -> None:
    """Drop the factorisations remembered so far (the cache stays open for new ones).

    Why: ``cdiscmap run`` keeps the mapped domains' factorisations for the RECIST step, the
    trial design and the checks; once the checks' child is forked (it has its own copy)
    nothing in the run reads them again, and at 100,000 subjects they are ≈ 2 GB
    (8 bytes per text cell of SDTM)."""
    cache = _CODES.get()
    if cache is not None:
        cache.clear()


def memo_apply(name: str, distinct: np.ndarray,
               fn: Callable[[np.ndarray], list[np.ndarray]]) -> list[np.ndarray] | None:
    """``fn`` on distinct ``str`` values (no nulls), through the run's memo ``name``: only the
    values not met before in the run are computed. ``fn`` must work value by value (a value's
    result never depends on the others) and give numpy arrays aligned on its input; the
    results come back aligned on ``distinct``. None outside :func:`codes_cache` (no memo).

    The values met are looked up in a dict, not a ``pd.Index``: ``Index.get_indexer`` costs
    ≈ 125 µs a call whatever the size (20 values: the dict ≈ 1.5 µs), and the index was made
    again (``append``) whenever new values came; ≈ 100 calls map a study."""
    memo = _MEMO.get()
    if memo is None or not len(distinct):
        return None
    known = memo.get(name)
    met: dict[str, int] = known[0] if known is not None else {}
    positions = np.array([met.get(v, -1) for v in distinct.tolist()], dtype=np.intp)
    new = positions < 0
    if new.any():
        fresh = distinct[new]
        results = fn(fresh)
        start = len(met)
        met.update(zip(fresh.tolist(), range(start, start + len(fresh)), strict=True))
        known = (met, results if known is None else
                 [np.concatenate([old, more]) for old, more in
                  zip(known[1], results, strict=True)])
        memo[name] = known
        positions[new] = np.arange(start, start + len(fresh))
    assert known is not None
    return [values[positions] for values in known[1]]


def _remember(arr: np.ndarray, codes: np.ndarray, uniques: np.ndarray,
              clean: bool = False) -> None:
    _store(arr, (codes, uniques, clean))


def _store(arr: np.ndarray, payload: _Coded | Callable[[], _Coded]) -> None:
    cache = _CODES.get()
    if cache is None:
        return
    key = id(arr)

    def forget(ref: weakref.ref, key: int = key) -> None:
        entry = cache.get(key)
        if entry is not None and entry[0] is ref:
            del cache[key]

    cache[key] = (weakref.ref(arr, forget), payload)


def _own_array(values: pd.Series) -> np.ndarray | None:
    """A Python-backed ``string`` column's own object array (no copy), else None.

    The same object on every call, as the identity-keyed cache needs: ``np.asarray(values.array,
    dtype=object)`` would make a new view each time of a column that came back from a forked
    child (its unpickled array's dtype is an equal, not the identical, object dtype)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python":
        return np.asarray(values.array)
    return None


def _payload(arr: np.ndarray) -> _Coded | Callable[[], _Coded] | None:
    cache = _CODES.get()
    entry = cache.get(id(arr)) if cache is not None else None
    if entry is None or entry[0]() is not arr:
        return None
    return entry[1]


def _lookup(arr: np.ndarray) -> _Coded | None:
    payload = _payload(arr)
    if callable(payload):
        payload = payload()
        _store(arr, payload)
    return payload


def _entry(values: pd.Series) -> _Coded | None:
    """The remembered factorisation of a ``string`` column's own array, if any."""
    arr = _own_array(values)
    return _lookup(arr) if arr is not None else None


def remembered(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """The factorisation of a ``string`` column remembered in the run (codes, distinct
    values; code -1: null), or None, never computed here. The distinct values may be in
    any order and include values no row holds (e.g. :func:`text_from_codes`)."""
    if _CODES.get() is None:
        return None
    entry = _entry(values)
    return None if entry is None else (entry[0], entry[1])


def remembered_distinct(values: pd.arrays.StringArray) -> np.ndarray | None:
    """The distinct values :func:`remembered` gives for a column with this text array, read
    from the array itself (no Series made), or None."""
    if _CODES.get() is None or not isinstance(values, pd.arrays.StringArray) or \
            values.dtype.storage != "python":
        return None
    entry = _lookup(np.asarray(values))
    return None if entry is None else entry[1]


def not_null(values: pd.Series) -> pd.Series:
    """``values.notna()``; for a ``string`` column whose factorisation the run remembers, its
    codes not -1 (an integer pass, not a null test of every cell's object: ≈ 40 ms a test on
    the 700,000 LB records of 10,000 subjects)."""
    known = remembered(values) if isinstance(values.dtype, pd.StringDtype) else None
    if known is None or len(known[0]) != len(values):
        return values.notna()
    return pd.Series(known[0] >= 0, index=values.index, name=values.name)


def caching_codes() -> bool:
    """Whether a :func:`codes_cache` is open (a reader need not keep codes otherwise)."""
    return _CODES.get() is not None


def remember_later(values: pd.Series, make: Callable[[], tuple[np.ndarray, np.ndarray]]
                   ) -> None:
    """While :func:`codes_cache` is open: the factorisation of a ``string`` column is
    ``make()``'s (codes, distinct values present, as ``pd.factorize`` gives them), computed
    only when first asked for. Why: the XPT reader has factorised every text column on its
    bytes; the steps that hash a column it read (the RECIST engine's ``coded``, ADaM's
    ``text_facts``) take that instead, and a column no step asks about costs nothing."""
    arr = _own_array(values)
    if arr is not None and _CODES.get() is not None:
        _store(arr, lambda: (*make(), False))


def carry(source: pd.Series, target: pd.Series) -> None:
    """``target`` holds the values of ``source`` in the same order (a copy pandas made, e.g.
    on ``frame[name] = source``): it shares the remembered factorisation."""
    src, dst = _own_array(source), _own_array(target)
    if src is None or dst is None or dst is src or len(src) != len(dst):
        return
    payload = _payload(src)
    if payload is not None:
        _store(dst, payload)


def by_first_appearance(codes: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1: null, else 0..count-1) renumbered 0, 1, ... in order of first appearance,
    null staying -1, and the old codes present in that order: ``pd.factorize`` of the
    non-null codes, from the first row of each code (one ``np.minimum.at`` scatter and a
    gather, no hash table: ≈ 20x faster on 700,000 codes of a few thousand values).

    >>> inner, present = by_first_appearance(np.array([2, -1, 0, 2, 0]), 4)
    >>> inner.tolist(), present.tolist()
    ([0, -1, 1, 0, 1], [2, 0])
    """
    n = len(codes)
    first = np.full(count + 1, n, dtype=np.intp)        # the last entry: null (code -1)
    np.minimum.at(first, codes, np.arange(n, dtype=np.intp))
    present = np.flatnonzero(first[:count] < n)
    present = present[np.argsort(first[present], kind="stable")]
    renumber = np.full(count + 1, -1, dtype=np.intp)    # code -1 takes the last: -1
    renumber[present] = np.arange(len(present), dtype=np.intp)
    return renumber[codes], present


# a combined integer key ranging over at most this many values plus 2 per row is kept as it
# is (tables of that size are cheap); a larger one is hashed to dense codes first
DENSE_SPAN = 1 << 16


def combined_codes(columns: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """One code per row for the combination of several columns' codes (``(codes, count)``:
    -1 null, a value of its own here, else 0..count-1), numbered 0, 1, ... in order of first
    appearance, as ``pd.factorize`` of the combinations numbers them. The columns are
    combined by multiplication and hashed only when the range grows past
    :data:`DENSE_SPAN` plus 2 per row; a small range is renumbered by
    :func:`by_first_appearance` (no hashing at all).

    >>> combined_codes([(np.array([1, 0, 1, -1]), 2), (np.array([0, 0, 0, 0]), 1)]).tolist()
    [0, 1, 0, 2]
    """
    return by_first_appearance(*combined_key(columns))[0]


def combined_key(columns: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, int]:
    """One integer per row for the combination of several columns' codes (as
    :func:`combined_codes` takes them), in 0..span-1, and that span: the columns multiplied
    together, renumbered densely (hashed) only when the span grows past :data:`DENSE_SPAN`
    plus 2 per row, so that a table of span entries (``np.bincount``, a scatter) stays cheap.
    Equal combinations, equal integers; the numbering is not first appearance.

    >>> combined_key([(np.array([1, 0, 1, -1]), 2), (np.array([0, 0, 0, 0]), 1)])[0].tolist()
    [5, 3, 5, 1]
    """
    n = len(columns[0][0]) if columns else 0
    key, span = np.zeros(n, dtype=np.int64), 1
    for codes, count in columns:
        key = key * (count + 1) + codes + 1
        span *= count + 1
        if span > DENSE_SPAN + 2 * n:
            key, uniques = pd.factorize(key)
            span = len(uniques)
    return key, span


def _compact(codes: np.ndarray, uniques: np.ndarray, clean: bool) -> _Coded:
    """Codes into ``uniques`` for some rows, renumbered as ``pd.factorize`` of those rows
    would number them: only the values present, in order of first appearance (integer
    passes, far cheaper than hashing the text again)."""
    inner, present = by_first_appearance(codes, len(uniques))
    return inner, uniques[present], clean


def carry_rows(source: pd.DataFrame, target: pd.DataFrame, rows: np.ndarray | None) -> None:
    """``target``'s columns are ``source``'s at the rows ``rows`` selects (a boolean mask or
    positions; None: all, in order): they get the factorisation taken from the source's,
    computed only if asked for."""
    if source.columns.has_duplicates or target.columns.has_duplicates:
        return
    for name in target.columns:
        if name in source.columns:
            carry_take(source[name], target[name], rows)


def carry_take(source: pd.Series, target: pd.Series, rows: np.ndarray | None) -> None:
    """:func:`carry_rows` for one column: ``target`` is ``source`` at ``rows``."""
    _carry_taken(_own_array(source), _own_array(target), rows)


def carry_taken_array(source: pd.Series, taken: object, rows: np.ndarray) -> None:
    """:func:`carry_take` for the array ``taken`` (``source.array.take`` at the rows the mask
    ``rows`` keeps) before a frame is made of it: the frame's column then has this array
    (``copy=False``), so the frame's columns need not be read again to carry it."""
    dst = np.asarray(taken) if isinstance(taken, pd.arrays.StringArray) and \
        isinstance(taken.dtype, pd.StringDtype) and taken.dtype.storage == "python" else None
    _carry_taken(_own_array(source), dst, rows)


def _carry_taken(src: np.ndarray | None, dst: np.ndarray | None,
                 rows: np.ndarray | None) -> None:
    if src is None or dst is None or dst is src:
        return
    payload = _payload(src)
    if payload is None:
        return
    if rows is None:
        if len(src) == len(dst):
            _store(dst, payload)
        return

    def taken(payload: _Coded | Callable[[], _Coded] = payload,
              rows: np.ndarray = rows) -> _Coded:
        codes, uniques, clean = payload() if callable(payload) else payload
        return _compact(codes[rows], uniques, clean)

    _store(dst, taken)


def carry_concat(parts: list[pd.Series], whole: pd.Series) -> None:
    """``whole`` is ``parts`` concatenated: its factorisation is joined from theirs (the
    parts' distinct values factorised, a small table) when every part has one, in the order
    ``pd.factorize`` of the whole would give (first appearance)."""
    entries = [_entry(p) for p in parts]
    if not parts or any(e is None for e in entries) or \
            sum(len(p) for p in parts) != len(whole) or \
            not isinstance(whole.dtype, pd.StringDtype) or whole.dtype.storage != "python":
        return
    table_codes, table = pd.factorize(np.concatenate([e[1] for e in entries]) if
                                      len(entries) > 1 else entries[0][1],
                                      use_na_sentinel=True)
    pieces, start = [], 0
    for codes, uniques, _ in entries:
        # a part's code c is its distinct value c, now table code table_codes[start + c];
        # the appended -1 keeps null (code -1 indexes the last entry) null
        pieces.append(np.append(table_codes[start:start + len(uniques)], -1)[codes])
        start += len(uniques)
    codes = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.intp)
    _remember(np.asarray(whole.array), codes.astype(np.intp, copy=False), table,
              all(e[2] for e in entries))


def coded(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of text values (codes, distinct ``str`` values; code -1: null),
    remembered for a ``string`` column's own array while :func:`codes_cache` is open."""
    arr = text_objects(values)
    cache = _CODES.get()
    if cache is not None:
        entry = _lookup(arr)
        if entry is not None:
            return entry[0], entry[1]
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    if cache is not None and isinstance(values.dtype, pd.StringDtype):
        _remember(arr, codes, uniques)
    return codes, uniques


def map_unique(values: pd.Series, fn: Callable[[pd.Series], pd.Series],
               memo: str | None = None) -> pd.Series:
    """``fn`` applied to the distinct non-missing values, broadcast back to every row.

    ``fn`` takes and returns a Series aligned on its input; missing rows stay missing. With
    ``memo`` (a name), ``fn`` must work value by value on text and give a numpy dtype: it then
    runs only on the values the run has not met before (:func:`memo_apply`).
    """
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python":
        codes, uniques = coded(values)
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        empty = fn(pd.Series(values.iloc[:0]))
        return pd.Series(pd.array([pd.NA] * len(values), dtype=empty.dtype)
                         if empty.dtype != "float64" else np.full(len(values), np.nan),
                         index=values.index, dtype=empty.dtype)
    dtype = values.dtype if values.dtype != object else "string"
    found = memo_apply(memo, np.asarray(uniques, dtype=object),
                       lambda fresh: [fn(pd.Series(fresh, dtype=dtype)).to_numpy()]) \
        if memo is not None and dtype == "string" else None
    result = pd.Series(found[0]) if found is not None else fn(pd.Series(uniques, dtype=dtype))
    # one take with fill: missing rows get the result dtype's own null (NaN, NaT, NA), as a
    # mask would give, without a second pass over every row
    taken = pd.api.extensions.take(result.to_numpy(), codes, allow_fill=True) \
        if isinstance(result.dtype, np.dtype) else result.array.take(codes, allow_fill=True)
    out = pd.Series(taken, index=values.index)
    arr = _own_array(out) if _CODES.get() is not None else None
    if arr is not None:
        # the result's factorisation follows from the inputs' (its distinct results
        # factorised: a small table), so later steps need not hash the rows again
        inner, table = pd.factorize(np.asarray(result.array, dtype=object),
                                    use_na_sentinel=True)
        _remember(arr, np.append(inner, -1)[codes], table)
    return out


def text_from_codes(codes: np.ndarray, table: np.ndarray, index: pd.Index) -> pd.Series:
    """``string`` rows given as codes into ``table`` (code -1: null). The table may repeat a
    value or hold nulls (branches, rules, parsed distinct values): it is factorised (a small
    table), so the rows' own factorisation is known without hashing them."""
    inner, uniques = pd.factorize(np.asarray(table, dtype=object), use_na_sentinel=True)
    row_codes = np.append(inner, -1).astype(np.intp)[codes]   # -1 takes the appended null
    values = np.append(uniques, pd.NA).astype(object)[row_codes]
    if _CODES.get() is not None:
        _remember(values, row_codes, uniques)
    return pd.Series(string_array(values), index=index)


def null_text(index: pd.Index) -> pd.Series:
    """``string`` nulls on every row, their factorisation known (no value)."""
    return text_from_codes(np.full(len(index), -1, dtype=np.intp), np.zeros(0, dtype=object),
                           index)


def filled_objects(n: int, value: object) -> np.ndarray:
    """An object array of ``n`` cells holding ``value`` (``np.full(n, value, dtype=object)``),
    filled by ``ndarray.fill``: np.full's object fill is ≈ 5x slower (20 rows 1.8 -> 0.3 µs;
    at 700,000 rows slower than pandas' broadcast of a scalar).

    >>> filled_objects(3, "x").tolist()
    ['x', 'x', 'x']
    """
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


def columns_frame(data: dict[str, object], index: pd.Index) -> pd.DataFrame:
    """``pd.DataFrame(data, index=index, columns=list(data), copy=False)``: the columns are
    the dict's keys in order, so ``columns=`` is left out (pandas lines a dict up with
    ``columns=`` through a Series built of the dict: ≈ 10 µs a column, ≈ 0.3 ms of the
    ≈ 0.9 ms a 30-column block frame took; an empty dict still gets an empty object index).

    >>> columns_frame({"B": [1], "A": [2]}, pd.RangeIndex(1)).columns.tolist()
    ['B', 'A']
    >>> columns_frame({}, pd.RangeIndex(2)).columns.dtype
    dtype('O')
    """
    if not data:
        return pd.DataFrame(index=index, columns=pd.Index([], dtype=object))
    return pd.DataFrame(data, index=index, copy=False)


def constant_text(value: str, index: pd.Index) -> pd.Series:
    """``value`` on every row as ``string``, its factorisation known (one value).

    Built over an object array filled with the one value (:func:`string_array`), not by
    pandas' broadcast of a scalar to ``string``, which checks every cell: ≈ half the cost at
    300 rows (≈ 50 µs less, ≈ 130 constants a study) and at 700,000 (``fill``, not
    ``np.full``, whose object fill is ≈ 6x slower than pandas' broadcast)."""
    if pd.StringDtype().storage == "python":
        out = pd.Series(string_array(filled_objects(len(index), value)), index=index)
    else:       # pragma: no cover - the string dtype pandas would choose is not this one
        out = pd.Series(value, index=index, dtype="string")
    arr = _own_array(out) if _CODES.get() is not None else None
    if arr is not None:
        _remember(arr, np.zeros(len(out), dtype=np.intp), np.array([value], dtype=object),
                  value != "" and value == value.strip())
    return out


def text_objects(values: pd.Series | np.ndarray) -> np.ndarray:
    """The values as an object array of ``str`` and nulls, as ``astype("string")`` spells them.

    A ``string`` column gives its own array (no copy: callers must not write into it); a column
    already holding only text is used as it is; anything else goes through ``astype``."""
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python":
            return np.asarray(values.array)         # the same object each call (_own_array)
        values = values.to_numpy(dtype=object) if values.dtype == object else \
            values.astype("string").to_numpy(dtype=object)
    if values.dtype != object or infer_dtype(values, skipna=True) not in ("string", "empty"):
        values = pd.array(values, dtype="string").to_numpy(dtype=object)
    return values


# a blank next to a value's edge, or an empty value, in distinct values joined by NUL (re's
# \s is exactly the set of characters str.strip() removes)
_UNCLEAN = re.compile(r"\x00\s|\s\x00|\x00\x00")


def _all_clean(uniques: np.ndarray) -> bool:
    """Every distinct value is clean text already (not empty, nothing for ``str.strip`` to
    remove): one regular-expression pass over the values joined by NUL, instead of stripping
    each value in Python (a finished domain's columns hold ~10^5 distinct values at 10k
    subjects, nearly all clean)."""
    if not len(uniques):
        return True
    joined = "\x00".join(uniques)
    if joined.count("\x00") != len(uniques) - 1:       # a value holds NUL itself
        return all(u.strip() is u and u != "" for u in uniques)
    return _UNCLEAN.search("\x00" + joined + "\x00") is None


def _cleaned(uniques: np.ndarray) -> np.ndarray:
    """``[u.strip() or pd.NA for u in uniques]`` as an object array. A raw column's distinct
    values are usually clean but for the empty value (a blank cell), so that case is found by
    one comparison and :func:`_all_clean` on the others, and only those are replaced."""
    blank = uniques == ""
    if _all_clean(uniques[~blank] if blank.any() else uniques):
        cleaned = uniques.copy()
        cleaned[blank] = pd.NA
        return cleaned
    return np.array([u.strip() or pd.NA for u in uniques], dtype=object)


def clean_text_array(values: pd.Series | np.ndarray) -> pd.arrays.StringArray:
    """Text with surrounding blanks stripped and blank text null (SDTM null is empty text).

    Each distinct value is stripped once (raw exports repeat a few thousand values over
    millions of cells) and the result taken back by the factorisation codes: no pandas string
    method, whose per-cell cost on the Python-backed string dtype dominates a run otherwise."""
    if isinstance(values, pd.Series):
        entry = _entry(values)
        if entry is not None and entry[2]:      # already clean: the same text, no copy
            return string_array(np.asarray(values.array))
    codes, uniques = coded(values)
    own = _own_array(values) if isinstance(values, pd.Series) else None
    if own is not None and _all_clean(uniques):
        # every value already clean: the same text, no copy, now known to be clean
        _remember(own, codes, uniques, True)
        return string_array(own)
    cleaned = _cleaned(uniques)
    # the cleaned values factorised in turn (" a" and "a" are one value, blank is null), so
    # the result's own factorisation is known without another pass over the rows
    inner, table = pd.factorize(cleaned, use_na_sentinel=True)
    result_codes = np.append(inner, -1)[codes]      # code -1 (null) takes the last entry
    result = np.append(table, pd.NA).astype(object)[result_codes]
    _remember(result, result_codes, table, True)
    return string_array(result)


def clean_categorical(values: pd.Categorical) -> pd.arrays.StringArray:
    """:func:`clean_text_array` of a categorical of text (as ``read_csv(dtype="category")``
    gives): its categories stripped once each, its codes renumbered as ``pd.factorize`` of the
    text would number them (first appearance), so the text itself is never hashed per row."""
    categories = np.asarray(values.categories, dtype=object)
    # a missing cell (no category, code -1) stays null
    inner, present = by_first_appearance(values.codes, len(categories))
    uniques = categories[present]
    cleaned = _cleaned(uniques)
    table_codes, table = pd.factorize(cleaned, use_na_sentinel=True)
    result_codes = np.append(table_codes, -1)[inner]   # code -1 (null) takes the last entry
    result = np.append(table, pd.NA).astype(object)[result_codes]
    _remember(result, result_codes, table, True)
    return string_array(result)


_EMPTY = pd.array([], dtype=pd.StringDtype("python"))


def string_array(values: np.ndarray) -> pd.arrays.StringArray:
    """A ``string`` array over an object array known to hold only ``str`` and ``pd.NA``
    (e.g. built by codes from a table of distinct texts), without the constructor's check of
    every element: a full pass per column, as long as building it."""
    try:
        return _EMPTY._from_backing_data(values)
    except AttributeError:      # pragma: no cover - a pandas without NDArrayBacked
        return pd.arrays.StringArray(values)


def clean_text(values: pd.Series) -> pd.Series:
    """:func:`clean_text_array` as a Series on the same index (unnamed, as map_unique gives)."""
    return pd.Series(clean_text_array(values), index=values.index)


# --------------------------------------------------------------------------- frames by pipe

def small_codes(codes: np.ndarray, n: int) -> np.ndarray:
    """Codes (-1: null) in the narrowest signed integer type holding 0..n-1: what codes kept
    or sent to another process take (a few bytes a row instead of eight)."""
    for dtype in (np.int8, np.int16, np.int32):
        if n < np.iinfo(dtype).max:
            return codes.astype(dtype, copy=False)
    return codes


def pack_series(values: pd.Series) -> tuple:
    """A column ready to be pickled to another process (:func:`unpack_series`).

    Why: pickling a Python-backed ``string`` column writes every cell's object (a 700k-row
    text column costs ~0.1 s each way); its factorisation — small integer codes and a few
    thousand distinct values — pickles as raw bytes, and the receiver gets the factorisation
    it would have remembered itself. Other dtypes go as they are (numpy pickles its buffer)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python":
        arr = np.asarray(values.array)
        entry = _lookup(arr) if _CODES.get() is not None else None
        if entry is None:
            codes, uniques = pd.factorize(arr, use_na_sentinel=True)
            entry = (codes, np.asarray(uniques, dtype=object), False)
        codes, uniques, clean = entry
        return ("text", values.index, values.name, small_codes(codes, len(uniques)),
                np.asarray(uniques, dtype=object), clean)
    return ("as-is", values)


def unpack_series(packed: tuple) -> pd.Series:
    """The column :func:`pack_series` packed, equal to it; a text column's factorisation is
    remembered while :func:`codes_cache` is open, as the sender had it."""
    if packed[0] == "as-is":
        return packed[1]
    _, index, name, small, uniques, clean = packed
    codes = small.astype(np.intp)
    values = np.append(uniques, pd.NA).astype(object)[codes]    # code -1 takes the last: NA
    if _CODES.get() is not None:
        _remember(values, codes, uniques, clean)
    return pd.Series(string_array(values), index=index, name=name, copy=False)


def pack_frame(frame: pd.DataFrame, columns: list[str] | None = None) -> tuple:
    """A frame ready to be pickled to another process, column by column (:func:`pack_series`);
    ``columns`` (unique names) packs only those, as ``frame[columns]`` would give them."""
    if columns is not None:
        return (frame.index, pd.Index(columns, dtype=frame.columns.dtype),
                [pack_series(frame[c]) for c in columns])
    return (frame.index, frame.columns,
            [pack_series(frame.iloc[:, i]) for i in range(frame.shape[1])])


def unpack_frame(packed: tuple) -> pd.DataFrame:
    """The frame :func:`pack_frame` packed (same index, columns, dtypes and values)."""
    index, columns, parts = packed
    data = {}
    for i, part in enumerate(parts):
        column = unpack_series(part)
        data[i] = column.array if part[0] == "text" else column
    out = pd.DataFrame(data, index=index, copy=False)
    out.columns = columns
    return out


_PACK_LIMIT = 1 << 62


def _sort_ranks(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Rank of each value among the distinct values (ascending; NaN/NaT after all) and the
    number of ranks; equal values (0.0 and -0.0 too) share a rank, as a sort compares them."""
    if values.dtype.kind in "iub" and len(values):
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high < _PACK_LIMIT:
            return values.astype(np.int64, copy=False), high + 1
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    return np.where(codes < 0, len(uniques), codes).astype(np.int64), len(uniques) + 1


# Up to this many records of numeric or date keys np.lexsort itself is faster than ranking
# each key to pack them (three keys: 100 records 46 -> 2.5 us, 500 71 -> 24 us; from about
# 2,000 the packed sort wins: 2,000 192 vs 211 us, 20,000 2.4 vs 3.1 ms)
_LEXSORT_ROWS = 1000


def stable_order(keys: list[np.ndarray]) -> np.ndarray:
    """``np.lexsort(keys)`` (the LAST key sorts first, NaN/NaT after all values of a key, ties
    in record order) as one stable argsort of the keys' ranks packed into one int64 when the
    product of their distinct counts fits (one pass instead of one per key), else the
    lexsort itself; and the lexsort itself for at most :data:`_LEXSORT_ROWS` records of
    numeric or date keys (ranking costs more than sorting so few: the ADaM derivations' ~24
    sorts a run, mostly of a few hundred records, 2.8 -> ~0.5 ms at 100 subjects).

    >>> stable_order([np.array([2.0, 1.0, np.nan, 1.0]), np.array([1, 0, 1, 0])]).tolist()
    [1, 3, 0, 2]
    """
    if not keys or not len(keys[0]):
        return np.lexsort(keys) if keys else np.zeros(0, dtype=np.intp)
    if len(keys[0]) <= _LEXSORT_ROWS and all(
            isinstance(k, np.ndarray) and k.dtype.kind in "biufmM" for k in keys):
        return np.lexsort(keys)
    packed, span = None, 1
    for values in reversed(keys):          # the primary key in the highest digits
        ranks, count = _sort_ranks(np.asarray(values))
        span *= max(count, 1)
        if span >= _PACK_LIMIT:
            return np.lexsort(keys)
        packed = ranks if packed is None else packed * count + ranks
    return np.argsort(packed, kind="stable")
