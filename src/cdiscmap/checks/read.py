"""Read SDTM/ADaM dataset files: XPT v5 and Dataset-JSON → :class:`DatasetFile`.

Used by ``cdiscmap validate`` (through :mod:`cdiscmap.validation.read`), ``cdiscmap define``,
``cdiscmap adam --sdtm`` and ``cdiscmap recist --sdtm`` (:func:`read_sdtm`, at the end), so that
every command reads an XPT file the same way and refuses the same broken files. It sits in ``checks/`` beside
:class:`DatasetFile` because ``adam/`` may not import ``validation/`` (tests/unit/test_layout.py).

XPT v5 files (the layout of SAS TS-140, which the FDA requires and cdiscmap writes) are decoded
with numpy straight from the file: the header gives names, labels, lengths and formats, the
observations are sliced column by column, text is factorised on its raw bytes (each distinct
value decoded once) and IBM doubles are converted in bulk. That is about 5x faster than
pyreadstat plus the conversions the checks need, and rows share one string object per distinct
value, which speeds every later pass over the column. Anything else (XPT v8 "LIBV8" files,
headers this reader does not understand) is read with pyreadstat.

Frames come out ready for the checks (docs/conventions.md dtypes): char → pandas "string" with
blanks as <NA>; num → float64; numbers with a SAS date/datetime format → datetime64[ns]; plus
``_SRCFILE`` (the file, relative to the validated folder) and ``_SRCROW`` (record number).
"""

from __future__ import annotations

import mmap
import re
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cdiscmap.checks.facts import TextFacts
from cdiscmap.checks.files import DatasetFile, VariableMeta
from cdiscmap.errors import InputDataError, display_path
from cdiscmap.sdtm.vectorize import caching_codes, remember_later, string_array

__all__ = ["SDTM_SUFFIXES", "SdtmFolder", "factorize_objects", "normalise_frame", "read_json_dataset",
           "read_sdtm", "read_xpt_dataset", "read_xpt_special_missing", "relative_path"]

RECORD = 80                                   # SAS TS-140: 80-byte records
_HEADER = b"HEADER RECORD*******"
_LIBRARY_V5 = _HEADER + b"LIBRARY HEADER RECORD!!!!!!!"
_MEMBER = _HEADER + b"MEMBER  HEADER RECORD!!!!!!!"
_DESCRIPTOR = _HEADER + b"DSCRPTR HEADER RECORD!!!!!!!"
_NAMESTR_HEADER = _HEADER + b"NAMESTR HEADER RECORD!!!!!!!"
_OBS = _HEADER + b"OBS     HEADER RECORD!!!!!!!"
# SAS TS-140 struct NAMESTR up to npos (big-endian): ntype, nhfun, nlng, nvar0, nname, nlabel,
# nform, nfl, nfd, nfj, nfill, niform, nifl, nifd, npos. 140 bytes (136 on VMS) in all.
_NAMESTR = struct.Struct(">hhhh8s40s8shhh2s8shhi")
# SAS TS-140 missing values: ".", "._" or ".A"-".Z" in the first byte, zeros after.
_MISSING_FIRST_BYTES = np.array([0x2E, 0x5F, *range(0x41, 0x5B)], dtype=np.uint64)
_FRACTION_MASK = np.uint64((1 << 56) - 1)
_MISSING_BYTE = np.zeros(256, dtype=bool)                  # first byte → a missing value
_MISSING_BYTE[_MISSING_FIRST_BYTES] = True
# first byte of an IBM double → sign * 16**(exponent - 64) / 2**56 (2**-312 .. 2**196)
_IBM_SCALE = np.where(np.arange(256) >= 0x80, -1.0, 1.0) * np.ldexp(
    1.0, 4 * ((np.arange(256) & 0x7F) - 64) - 56)
_SAS_EPOCH = np.datetime64("1960-01-01T00:00:00", "ns")
_NS_PER = {"D": 86_400_000_000_000, "s": 1_000_000_000}
# SAS formats that show a number as a date (days since 1960) or a datetime (seconds).
_DATE_FORMATS = ("DATE", "E8601DA", "IS8601DA", "B8601DA", "YYMMDD", "MMDDYY", "DDMMYY",
                 "MONYY", "WORDDATE", "WEEKDATE", "NLDATE")
_DATETIME_FORMATS = ("DATETIME", "E8601DT", "IS8601DT", "B8601DT", "E8601DZ", "DTDATE")


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with "/" separators (reports name files this way)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


# ============================================================================================
# Shared conversions
# ============================================================================================
def _date_unit(fmt: str | None) -> str | None:
    name = (fmt or "").upper()
    if name.startswith(_DATETIME_FORMATS):
        return "s"
    if name.startswith(_DATE_FORMATS):
        return "D"
    return None


def sas_dates(numbers: np.ndarray, unit: str) -> np.ndarray:
    """SAS dates (days) or datetimes (seconds) since 1960-01-01 → datetime64[ns]; NaN → NaT."""
    per = _NS_PER[unit]
    finite = np.isfinite(numbers) & (np.abs(numbers) < 2.0 ** 62 / per)   # else NaT
    stamps = np.full(len(numbers), np.datetime64("NaT"), dtype="datetime64[ns]")
    ticks = np.round(numbers[finite] * per).astype(np.int64)   # exact for whole days/seconds
    stamps[finite] = _SAS_EPOCH + ticks.astype("timedelta64[ns]")
    return stamps


def _string_column(codes: np.ndarray, texts: list[str], strip: bool = False,
                   first: np.ndarray | None = None, lengths: np.ndarray | None = None,
                   later: bool = False
                   ) -> tuple[pd.Series, TextFacts | Callable[[], TextFacts] | None]:
    """Rows as "string" from codes into distinct texts; blank texts and code -1 are <NA>.

    ``strip`` also trims leading/trailing whitespace (``cdiscmap adam``'s SDTM convention),
    once per distinct text. With ``first`` (the first row of each code), also the column's
    :class:`TextFacts`, from the codes: no second pass hashing the rows' text (``later``: a
    function making them when first asked for, see :func:`_later_facts`). ``lengths``:
    the codes are one per run of equal rows, of these lengths (:func:`_factorize_runs`); each
    run's object is repeated, a third of the time of spreading the codes over the rows and
    taking the objects by them (the repeat reads no index per row)."""
    if strip:
        table = [s if (s := t.strip()) else pd.NA for t in texts]
    else:
        table = [t if t.strip() else pd.NA for t in texts]
    table.append(pd.NA)                                       # code -1 picks this <NA>
    values = np.array(table, dtype=object)
    rows = values[codes] if lengths is None else values[codes].repeat(lengths)
    column = pd.Series(string_array(rows), copy=False)
    if first is None:
        return column, None
    if later:
        return column, _later_facts(codes, lengths, values[:-1], first)
    return column, _facts(codes if lengths is None else np.repeat(codes, lengths),
                          values[:-1], first)


def _later_facts(codes: np.ndarray, lengths: np.ndarray | None, table: np.ndarray,
                 first: np.ndarray) -> Callable[[], TextFacts]:
    """:func:`_facts` of a column made when first asked for (most columns never are): the
    function keeps the codes in the narrowest integer type (one per run of equal rows when
    ``lengths`` is given, else one per row)."""
    kept = codes.astype(np.int32 if len(table) < 2 ** 31 else np.intp, copy=False)

    def make() -> TextFacts:
        rows = kept if lengths is None else np.repeat(kept, lengths)
        return _facts(rows.astype(np.intp), table, first)

    return make


def _facts(codes: np.ndarray, table: np.ndarray, first: np.ndarray) -> TextFacts:
    """The :class:`TextFacts` of a column given as codes into ``table`` (str or <NA>, one
    entry per distinct byte value, first row of each in ``first``): distinct texts in order of
    first appearance, as factorising the rows would give. Two byte values may decode to one
    text (trailing NULs, blanks): the table is factorised, a small array."""
    if len(first) > 1 and not (np.diff(first) > 0).all():    # numbered by sorting: renumber
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        codes, table = rank[codes], table[order]
    inner, uniques = pd.factorize(table, use_na_sentinel=True)
    if len(uniques) != len(table):                           # blanks or merged texts
        codes = np.append(inner, -1)[codes]                   # code -1 stays -1
    return TextFacts(np.asarray(codes, dtype=np.intp), np.asarray(uniques, dtype=object))


def factorize_objects(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1 = missing) and distinct values of an object array of text.

    Not ``pd.factorize``: for an all-str array without missing values it takes pandas' C-string
    hash table, which ends a text at its first NUL, so "a" and "a\\x00b" would get one code.
    The Python-object table compares whole values.
    """
    from pandas._libs.hashtable import PyObjectHashTable

    uniques, codes = PyObjectHashTable(max(len(values), 1)).factorize(values, na_sentinel=-1)
    return codes, uniques


def normalise(raw: pd.DataFrame, variables: list[VariableMeta],
              strip: bool = False) -> dict[str, pd.Series]:
    """Frame columns from a reader that gives Python objects (pyreadstat, Dataset-JSON)."""
    columns: dict[str, pd.Series] = {}
    for var in variables:
        values = raw[var.name]
        if var.type == "char":
            codes, uniques = factorize_objects(values.to_numpy(dtype=object))
            columns[var.name] = _string_column(codes, [str(u) for u in uniques], strip)[0]
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            columns[var.name] = pd.Series(values.to_numpy().astype("datetime64[ns]"))
        else:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
            unit = _date_unit(var.format)
            columns[var.name] = pd.Series(sas_dates(numbers, unit) if unit else numbers)
    return columns


def _frame(columns: dict[str, pd.Series], n_rows: int, relpath: str,
           lineage: bool = True) -> pd.DataFrame:
    # the columns were made for this frame: no copy of them (the dict default copies)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n_rows), copy=False)
    if not lineage:
        return frame
    # one shared str object on every row (np.full would make a new str per row), wrapped
    # without the StringArray constructor's check of every cell
    frame["_SRCFILE"] = pd.Series(string_array(np.array([relpath], dtype=object)
                                                .repeat(n_rows)))
    frame["_SRCROW"] = np.arange(1, n_rows + 1)
    return frame


# ============================================================================================
# XPT v5 with numpy
# ============================================================================================
@dataclass(frozen=True)
class _Variable:
    meta: VariableMeta
    position: int                     # byte offset in the observation


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8").rstrip(" \0")
    except UnicodeDecodeError:        # not UTF-8: Latin-1 maps every byte, CMAP-FL0006/7 show it
        return raw.decode("latin-1").rstrip(" \0")


def _format(name: bytes, width: int, decimals: int) -> str | None:
    text = _text(name).strip()
    if not text and not width:
        return None
    return f"{text}{width or ''}.{decimals or ''}"


class _NotV5(Exception):
    """The file is not an XPT v5 file this reader understands (pyreadstat will try)."""


def _broken(relpath: str, problem: str) -> InputDataError:
    """A file that starts as XPT v5 but whose structure is broken (truncated, cut, padded
    with data): it is not handed to pyreadstat, which would read what it can and stay silent."""
    return InputDataError(f"{relpath}: cannot be read as XPT v5: {problem} (SAS TS-140); "
                          "the file is truncated or corrupt: write it again")


def _parse_header(data: bytes, relpath: str) -> tuple[str, str, list[_Variable], int]:
    """Member name, label, variables and the offset of the first observation (SAS TS-140)."""
    if not data.startswith(_LIBRARY_V5):
        raise _NotV5(f"{relpath}: not an XPT v5 library header")
    # from here on the file says it is XPT v5: a broken structure is an error, not a guess
    if len(data) % RECORD:
        raise _broken(relpath, f"its size, {len(data)} bytes, is not a multiple of "
                               f"{RECORD}-byte records")
    for number, (record, name) in enumerate(((_MEMBER, "member"), (_DESCRIPTOR, "descriptor"),
                                             (_NAMESTR_HEADER, "namestr"))):
        at = (3, 4, 7)[number] * RECORD
        if not data.startswith(record, at):      # (a slice would copy the file)
            raise _broken(relpath, f"no {name} header record at byte {at}")
    try:
        namestr_size = int(data[3 * RECORD + 74:3 * RECORD + 78])
        n_vars = int(data[7 * RECORD + 54:7 * RECORD + 58])
    except ValueError:
        raise _broken(relpath, "the namestr size or variable count is not a number") from None
    member = _text(data[5 * RECORD + 8:5 * RECORD + 16]).strip()
    label = _text(data[6 * RECORD + 32:6 * RECORD + 72]).strip()
    if namestr_size not in (136, 140):
        raise _NotV5(f"{relpath}: namestr size {namestr_size}")
    start = 8 * RECORD
    end = start + n_vars * namestr_size
    obs_header = end + (-(n_vars * namestr_size) % RECORD)
    if obs_header + RECORD > len(data):
        raise _broken(relpath, f"the file ends inside the {n_vars} variable descriptions "
                               f"(namestrs): {len(data)} bytes, the header alone needs "
                               f"{obs_header + RECORD}")
    if not data.startswith(_OBS, obs_header):
        raise _broken(relpath, f"no OBS header record after {n_vars} namestrs (byte "
                               f"{obs_header})")
    variables = []
    for number in range(n_vars):
        offset = start + number * namestr_size
        (ntype, _, length, _, name, var_label, form, width, decimals, _, _, _, _, _,
         position) = _NAMESTR.unpack_from(data, offset)
        variables.append(_Variable(VariableMeta(
            name=_text(name).strip(), label=_text(var_label).strip(),
            type="char" if ntype == 2 else "num", length=length,
            format=_format(form, width, decimals)), position))
    return member, label, variables, obs_header + RECORD


def _observations(data: bytes, start: int, row_length: int, relpath: str = "") -> np.ndarray:
    """Observation bytes as an (n, row_length) uint8 view, record padding removed.

    The bytes after the last whole observation must be the blank padding of the last 80-byte
    record (SAS TS-140): anything else is a file cut inside an observation.
    """
    end = len(data)
    following = _next_member(data, start)
    if following != -1:
        end = following                # a second member: only the first is the dataset
    if row_length <= 0:
        return np.zeros((0, 0), dtype=np.uint8)
    n_rows = (end - start) // row_length
    tail = np.frombuffer(data, dtype=np.uint8, count=end - start - n_rows * row_length,
                         offset=start + n_rows * row_length)
    if len(tail) >= RECORD or not (tail == 0x20).all():
        raise _broken(relpath, f"the observations end inside observation {n_rows + 1} "
                               f"({len(tail)} of its {row_length} bytes present after "
                               f"{n_rows} whole observations)")
    rows = np.frombuffer(data, dtype=np.uint8, count=n_rows * row_length,
                         offset=start).reshape(n_rows, row_length)
    # SAS TS-140: the last 80-byte record is padded with blanks; rows made only of that
    # padding are not observations (no SDTM/ADaM row is blank in every variable).
    total = end - start
    while n_rows and (n_rows - 1) * row_length > total - RECORD and bool(
            (rows[n_rows - 1] == 0x20).all()):
        n_rows -= 1
    return rows[:n_rows]


def _next_member(data: bytes, start: int) -> int:
    """Offset of the first member header record at or after ``start`` (a record boundary),
    else -1. Only records can start one, so only each record's first 8 bytes are compared (a
    strided numpy view), then the whole header at the few that match: searching the bytes
    for it took a fifth of reading LB."""
    n_records = (len(data) - start) // RECORD
    if n_records <= 0:
        return -1
    heads = np.ndarray(shape=(n_records,), dtype="V8", buffer=data, offset=start,
                       strides=(RECORD,))
    for record in np.flatnonzero(heads == np.void(_MEMBER[:8])):
        at = start + int(record) * RECORD
        if data.startswith(_MEMBER, at):
            return at
    return -1


def _row_words(block: np.ndarray) -> list[np.ndarray]:
    """The bytes of every row of a (n, width) byte block as 64-bit words, one contiguous array
    per word: together they determine the row exactly. When the width is not a multiple of 8,
    the last word is the block's last 8 bytes (overlapping the word before), so no byte
    outside the block is read and no padded copy of the block is made."""
    n_rows, width = block.shape
    if block.strides[-1] != 1:
        block = np.ascontiguousarray(block)
    if width < 8:
        padded = np.zeros((n_rows, 8), dtype=np.uint8)
        padded[:, :width] = block
        return [padded.view(np.uint64)[:, 0]]
    starts = list(range(0, width - 7, 8)) + ([width - 8] if width % 8 else [])
    return [np.ascontiguousarray(block[:, at:at + 8].view(np.uint64)[:, 0]) for at in starts]


_GROUP_WORDS = 8              # words taken from the rows in one pass (see _variable_words)
_CHUNK_BYTES = 1 << 19        # rows copied per step of that pass: they stay in the L2 cache


def _variable_words(rows: np.ndarray, variables: list[_Variable]
                    ) -> Iterator[tuple[_Variable, list[np.ndarray] | None]]:
    """Each variable with its rows' 64-bit words (:func:`_row_words` for text: the same
    numbers; the big-endian IBM double of a number), or None to take them from the block.

    Taking one word column at a time from the whole observation area reads every row's cache
    line once per word (about 30 times the file for LB, which made this most of reading). Here
    consecutive variables are grouped (up to ``_GROUP_WORDS`` words) and their words copied
    row chunk by row chunk, so the area is read about once. Text narrower than 8 bytes is read
    as the 8 bytes around it and masked, which gives the zero-padded word of _row_words.
    """
    n_rows, width = rows.shape
    if not n_rows or width < 8 or rows.strides != (width, 1):
        yield from ((var, None) for var in variables)
        return
    group: list[tuple[_Variable, list[tuple[int, np.dtype, int]]]] = []
    count = 0
    for var in variables:
        fields = _word_fields(var, width)
        if count + len(fields) > _GROUP_WORDS and group:
            yield from _copied_words(rows, group)
            group, count = [], 0
        group.append((var, fields))
        count += len(fields)
    yield from _copied_words(rows, group)


def _word_fields(var: _Variable, width: int) -> list[tuple[int, np.dtype, int]]:
    """(offset in the row, dtype, bytes to shift out) of each word of a variable; none for a
    number shorter than 8 bytes (taken from the block)."""
    length, position = var.meta.length or 0, var.position
    if var.meta.type != "char":
        return [(position, np.dtype(">u8"), 0)] if length >= 8 else []
    if length < 8:
        at = min(position, width - 8)
        return [(at, np.dtype("<u8"), position - at)]
    starts = list(range(0, length - 7, 8)) + ([length - 8] if length % 8 else [])
    return [(position + at, np.dtype("<u8"), 0) for at in starts]


def _copied_words(rows: np.ndarray, group: list[tuple[_Variable, list[tuple[int, np.dtype, int]]]]
                  ) -> Iterator[tuple[_Variable, list[np.ndarray] | None]]:
    n_rows, width = rows.shape
    sources = [np.ndarray(shape=(n_rows,), dtype=dtype, buffer=rows, offset=at, strides=(width,))
               for _, fields in group for at, dtype, _ in fields]
    copies = [np.empty(n_rows, dtype=source.dtype) for source in sources]
    step = max(1, _CHUNK_BYTES // width)
    for start in range(0, n_rows, step):
        stop = start + step
        for source, copy in zip(sources, copies, strict=True):
            copy[start:stop] = source[start:stop]
    taken = iter(copies)
    for var, fields in group:
        if not fields:
            yield var, None
            continue
        words = [next(taken) for _ in fields]
        if var.meta.type == "char" and (var.meta.length or 0) < 8:
            word, shift = words[0], fields[0][2]
            if shift:
                word >>= np.uint64(8 * shift)
            word &= np.uint64((1 << 8 * var.meta.length) - 1)
        yield var, words


def _factorize_bytes(block: np.ndarray, words: list[np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Codes of equal rows of a (n, width) byte block, and the first row of each code
    (``words``: the block's :func:`_row_words`, when already taken).

    A row of up to 8 bytes is its own 64-bit key. Wider rows are hashed word by word
    (FNV-style, vectorised); a hash collision is detected by comparing every row with its
    code's first row, and then exact sorting is used.

    Datasets are sorted by their keys, so most columns hold long runs of one value (STUDYID,
    USUBJID, a visit): runs of equal rows are found exactly by comparing each row with the
    one before, and only each run's first row is factorised when runs are few.
    """
    codes, first, lengths = _factorize_runs(block, words)
    return (codes if lengths is None else np.repeat(codes, lengths)), first


def _factorize_runs(block: np.ndarray, words: list[np.ndarray] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`_factorize_bytes` before its codes are spread over the rows: the codes, the first
    row of each code and, when the block is a few runs of equal rows, the length of each run
    (the codes are then one per run); lengths None: one code per row."""
    n_rows = len(block)
    if words is None:
        words = _row_words(block)
    if n_rows > 1:
        change = words[0][1:] != words[0][:-1]
        # runs start at least wherever the first word changes: too many there, no run path
        starts = None
        if (1 + int(np.count_nonzero(change))) * 4 <= n_rows:
            for word in words[1:]:
                change |= word[1:] != word[:-1]
            starts = np.flatnonzero(np.concatenate(([True], change)))
        if starts is not None and len(starts) * 4 <= n_rows:
            run_codes, run_first = _factorize_words([w[starts] for w in words], len(starts))
            return run_codes, starts[run_first], np.diff(np.append(starts, n_rows))
    codes, first = _factorize_words(words, n_rows)
    return codes, first, None


def _factorize_words(words: list[np.ndarray], n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_factorize_bytes` of rows given as their 64-bit words."""
    if len(words) == 1:
        key = words[0]
    else:
        key = words[0].copy()
        for word in words[1:]:
            key *= np.uint64(0x100000001B3)
            key ^= word
            key ^= key >> np.uint64(29)
    codes, _ = pd.factorize(key)
    first = np.zeros(codes.max() + 1 if n_rows else 0, dtype=np.int64)
    first[codes[::-1]] = np.arange(n_rows)[::-1]
    if len(words) > 1 and not all(np.array_equal(word, word[first][codes]) for word in words):
        _, first, codes = np.unique(np.stack(words, axis=1), axis=0, return_index=True,
                                    return_inverse=True)
        codes = codes.reshape(-1)
    return codes.astype(np.intp, copy=False), first


def _texts(rows: np.ndarray) -> list[str]:
    """Each row of a (k, width) byte block as text (:func:`_text`); ASCII blocks are decoded
    in one call and sliced, instead of one decode per row."""
    k, width = rows.shape
    rows = np.ascontiguousarray(rows)
    if k and width and not (rows >= 0x80).any():
        joined = rows.tobytes().decode("ascii")
        return [joined[at:at + width].rstrip(" \0") for at in range(0, k * width, width)]
    return [_text(row.tobytes()) for row in rows]


def ibm_to_float64(words: np.ndarray) -> np.ndarray:
    """IBM System/370 doubles (uint64 words) → float64; SAS missing values → NaN.

    An IBM double is sign, excess-64 base-16 exponent and a 56-bit fraction (SAS TS-140):
    the fraction (rounded to 53 bits once, by the conversion to float64) times the signed
    power of two of its first byte (``_IBM_SCALE``, every one a normal float64, so the product
    is exact). A zero fraction under a missing-value byte is a SAS missing value.
    """
    words = words.astype(np.uint64)
    first_byte = (words >> np.uint64(56)).astype(np.uint8)        # sign and exponent
    words &= _FRACTION_MASK
    values = words.astype(np.float64)
    values *= _IBM_SCALE[first_byte]
    zero = np.flatnonzero(values == 0)                            # zero fractions only
    if len(zero):
        values[zero[_MISSING_BYTE[first_byte[zero]]]] = np.nan
    return values


def _column(rows: np.ndarray, var: _Variable, strip: bool = False,
            facts: dict[str, TextFacts] | None = None,
            words: list[np.ndarray] | None = None,
            later: dict[str, Callable[[], TextFacts]] | None = None) -> pd.Series:
    """One variable's column; ``words`` from :func:`_variable_words` when taken already.
    ``facts`` receives a text column's :class:`TextFacts`, ``later`` (instead) a function
    making them when asked for (:func:`_later_facts`)."""
    length = var.meta.length or 0
    block = rows[:, var.position:var.position + length]
    if var.meta.type == "char":
        # a few runs: each run's text object repeated, no codes per row (lengths)
        codes, first, lengths = _factorize_runs(block, words)
        column, found = _string_column(codes, _texts(block[first]), strip,
                                       first if facts is not None or later is not None
                                       else None, lengths=lengths, later=facts is None)
        if callable(found) and later is not None:
            later[var.meta.name] = found
        elif isinstance(found, TextFacts) and facts is not None:
            facts[var.meta.name] = found
        return column
    if words is not None:
        words = words[0]
    elif length >= 8 and block.strides[-1] == 1:
        words = block[:, :8].view(">u8")[:, 0]
    else:
        padded = np.zeros((len(rows), 8), dtype=np.uint8)     # short numerics keep leading bytes
        padded[:, :min(length, 8)] = block[:, :8]
        words = padded.view(">u8").reshape(-1)
    numbers = ibm_to_float64(words)
    unit = _date_unit(var.meta.format)
    return pd.Series(sas_dates(numbers, unit) if unit else numbers)


class _MappedFile(mmap.mmap):
    """A file mapped read-only, with the one ``bytes`` method the header parser uses."""

    def startswith(self, prefix: bytes, start: int = 0) -> bool:
        return self[start:start + len(prefix)] == prefix


def _file_data(path: Path) -> bytes | _MappedFile:
    """The bytes of a file, mapped from the page cache rather than copied: ``read_bytes``
    copies the whole file into fresh memory, a page fault per 4 kB (≈0.4 CPU-s of system time
    for the 600 MB of a 10,000-subject package); a mapping is faulted in 64 kB at a time and
    shares the cached pages. Every column is decoded into arrays of its own, so nothing keeps
    the mapping once the file is read. Empty files and files that cannot be mapped (pipes)
    are read as before. A file that another program truncates in place while it is being read
    would end the process (SIGBUS); writers that replace a file by renaming a new one (as
    cdiscmap's do) leave the mapped bytes intact."""
    try:
        with open(path, "rb") as handle:
            return _MappedFile(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return path.read_bytes()


def _read_xpt_v5(path: Path, relpath: str, strip: bool = False,
                 facts: dict[str, TextFacts] | None = None,
                 later: dict[str, Callable[[], TextFacts]] | None = None
                 ) -> tuple[str, str, list[VariableMeta], dict[str, pd.Series], int]:
    """The parts of an XPT v5 file; ``facts`` (when given) receives each char column's
    :class:`TextFacts`, known from the reader's own factorisation (``later``: a function
    making them when asked for)."""
    data = _file_data(path)
    member, label, variables, start = _parse_header(data, relpath)
    row_length = max((v.position + (v.meta.length or 0) for v in variables), default=0)
    if any(v.position < 0 or (v.meta.length or 0) <= 0 for v in variables):
        raise _broken(relpath, "a variable has a negative position or no length")
    rows = _observations(data, start, row_length, relpath)
    columns = {v.meta.name: _column(rows, v, strip, facts, words, later)
               for v, words in _variable_words(rows, variables)}
    return member, label, [v.meta for v in variables], columns, len(rows)


def _read_xpt_pyreadstat(path: Path, relpath: str, strip: bool = False
                         ) -> tuple[str, str, list[VariableMeta], dict[str, pd.Series], int]:
    import pyreadstat

    def read(**options: Any) -> tuple[pd.DataFrame, Any]:
        return pyreadstat.read_xport(str(path), disable_datetime_conversion=True, **options)

    try:
        try:
            raw, meta = read()
        except UnicodeDecodeError:
            raw, meta = read(encoding="latin1")
    except Exception as exc:  # pyreadstat raises its own types for corrupt files
        raise InputDataError(f"{relpath}: cannot be read as SAS XPT ({exc})") from None
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    formats = meta.original_variable_types or {}
    variables = []
    for name in meta.column_names:
        fmt = formats.get(name)
        variables.append(VariableMeta(
            name=name, label=labels.get(name) or "",
            type="char" if meta.readstat_variable_types.get(name) == "string" else "num",
            length=int(meta.variable_storage_width.get(name) or 0) or None,
            format=_reader_format(fmt)))
    return (meta.table_name or "", meta.file_label or "", variables,
            normalise(raw, variables, strip), len(raw))


def _reader_format(text: str | None) -> str | None:
    """pyreadstat's text for a variable's display format, as the header holds it (``DATE9.``).

    The releases differ only in spelling: 1.2 gives ``NULL`` for no format and ``DATE9``
    without the dot, 1.3.0 gives None, 1.3.8 ``DATE9.``.
    """
    if not text or text in ("$", "NULL"):
        return None
    return text if "." in text else text + "."


def read_xpt_dataset(path: Path, root: Path, folder: Path, *, strip: bool = False,
                     lineage: bool = True, text_facts: bool = True,
                     later: dict[str, Callable[[], TextFacts]] | None = None) -> DatasetFile:
    """An XPT file as a :class:`DatasetFile`; InputDataError when it cannot be read.

    ``strip``: text also trimmed of leading/trailing whitespace (what ``cdiscmap adam`` does
    to any SDTM), done once per distinct value instead of on every row afterwards.
    ``lineage``: add ``_SRCFILE``/``_SRCROW`` (the checks name records by them).
    ``text_facts``: keep each text column's :class:`TextFacts` (the checks use them; the SDTM
    readers of ``adam`` and ``recist`` do not, and skip renumbering their codes).
    ``later`` (without ``text_facts``): receives, by variable name, a function making a text
    column's facts when asked for (XPT v5 only; see :class:`SdtmFolder`).
    """
    relpath = relative_path(path, root)
    facts: dict[str, TextFacts] = {}
    try:
        parts = _read_xpt_v5(path, relpath, strip, facts if text_facts else None,
                             None if text_facts else later)
    except OSError as exc:
        raise InputDataError(f"{relpath}: cannot be read ({exc.strerror or exc})") from None
    except (_NotV5, struct.error):
        facts = {}
        if later is not None:
            later.clear()
        parts = _read_xpt_pyreadstat(path, relpath, strip)
    except ValueError as exc:      # a v5 header whose numbers cannot be decoded
        raise _broken(relpath, f"header not decodable ({exc})") from None
    member, label, variables, columns, n_rows = parts
    return DatasetFile(name=path.stem.upper(), path=path, relpath=relpath, format="xpt",
                       member=member, label=label, variables=variables,
                       frame=_frame(columns, n_rows, relpath, lineage), folder=folder,
                       facts=facts)


def read_json_dataset(path: Path, root: Path, folder: Path,
                      document: dict[str, Any] | None = None) -> DatasetFile:
    """A Dataset-JSON file as a :class:`DatasetFile` (lengths default to the longest value)."""
    from cdiscmap.emit.datasetjson import read_dataset_json  # only here: XPT does not need it

    relpath = relative_path(path, root)
    loaded = read_dataset_json(path, document)
    variables = []
    for column in loaded.columns:
        length = column.length
        if column.type == "char" and length is None:
            text = loaded.frame[column.name].dropna()
            length = int(text.str.encode("utf-8").str.len().max()) if len(text) else 1
        variables.append(VariableMeta(column.name, column.label, column.type, length,
                                      column.format))
    return DatasetFile(name=path.stem.upper(), path=path, relpath=relpath, format="json",
                       member=loaded.name, label=loaded.label, variables=variables,
                       frame=_frame(normalise(loaded.frame, variables), len(loaded.frame),
                                    relpath), folder=folder, study_oid=loaded.study_oid,
                       metadata_version_oid=loaded.metadata_version_oid,
                       metadata_ref=loaded.metadata_ref)


def read_xpt_special_missing(path: Path) -> dict[str, np.ndarray]:
    """The SAS missing value of every numeric record of an XPT v5 file, by variable name.

    Each array holds, per record, 0 for a value or the byte SAS stores for the missing value
    (SAS TS-140: ``.`` 0x2E, ``._`` 0x5F, ``.A``-``.Z`` 0x41-0x5A). :func:`read_xpt_dataset`
    gives NaN for all of them (no check needs more), but ``cdiscmap compare`` must tell ``.A``
    from ``.B`` as PROC COMPARE does. Files that are not XPT v5 give ``{}``.
    """
    data = path.read_bytes()
    try:
        _, _, variables, start = _parse_header(data, path.name)
    except (_NotV5, struct.error, ValueError):
        return {}
    row_length = max((v.position + (v.meta.length or 0) for v in variables), default=0)
    rows = _observations(data, start, row_length, path.name)
    codes: dict[str, np.ndarray] = {}
    for var in variables:
        length = var.meta.length or 0
        if var.meta.type != "num" or length <= 0:
            continue
        first = rows[:, var.position]
        rest_zero = (rows[:, var.position + 1:var.position + min(length, 8)] == 0).all(axis=1)
        missing = rest_zero & np.isin(first, _MISSING_FIRST_BYTES.astype(np.uint8))
        codes[var.meta.name] = np.where(missing, first, 0).astype(np.uint8)
    return codes


# ============================================================================================
# A folder of SDTM datasets (cdiscmap adam, cdiscmap recist, cdiscmap define)
# ============================================================================================
# Any SDTM (ours or anyone's): XPT, CSV or parquet, one dataset per file. The dataset name is
# the file stem upper-cased (``suppdm.xpt`` → ``SUPPDM``). Character columns become pandas
# "string", trimmed, with blanks as missing (SDTM null = empty, conventions.md); numeric XPT
# columns stay float64. CSV carries no types, so a column is read as a number only when its
# name is a standard numeric SDTM variable (--SEQ, --STRESN, --DY, VISITNUM, AGE, …) and every
# non-blank value parses — identifiers such as SUBJID ``0042`` keep their text. XPT files go
# through read_xpt_dataset, which refuses a truncated or cut file instead of reading part of
# it. A standard numeric variable stored as text or a --DTC stored as a number is an
# InputDataError naming file, dataset and variable (XPT and parquet carry types; a CSV does
# not, so there such a column stays text): the derivations would otherwise fail deep inside.
SDTM_SUFFIXES = (".xpt", ".csv", ".parquet")

# numeric SDTM variables by name (SDTMIG 3.4 §2.x variable tables: type Num)
_NUMERIC_NAMES = {"AGE", "VISITNUM", "VISITDY", "TAETORD"}
_NUMERIC_SUFFIXES = ("SEQ", "STRESN", "DY", "STDY", "ENDY", "DOSE", "DOSTOT", "TPTNUM",
                     "STNRLO", "STNRHI", "STREFN")
_NUMERIC = re.compile(r"^[A-Z]{2}(" + "|".join(_NUMERIC_SUFFIXES) + r")$")


def _is_numeric_name(name: str) -> bool:
    return name in _NUMERIC_NAMES or bool(_NUMERIC.fullmatch(name))


def normalise_frame(frame: pd.DataFrame, *, text_done: bool = False) -> pd.DataFrame:
    """Upper-case column names; text columns → "string", trimmed, blanks → <NA>.

    ``text_done``: the "string" columns already are (the XPT reader trims and blanks them once
    per distinct value, ``read_xpt_dataset(strip=True)``) and are kept as they are.
    """
    if text_done and _normalised(frame):
        return frame        # nothing to change: no rename, no copy of the numbers, no rebuild
    # rename copies every column; the reader's own frame (text_done) is not kept elsewhere,
    # so it is renamed without a copy (≈10 % of reading an XPT file)
    frame = frame.rename(columns=lambda c: str(c).strip().upper(), copy=not text_done)
    out = {}
    for name in frame.columns:
        col = frame[name]
        if text_done and isinstance(col.dtype, pd.StringDtype):
            out[name] = col
            continue
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            out[name] = col.astype("float64")
            continue
        text = col.astype("string").str.strip()
        out[name] = text.mask(text == "")
    return pd.DataFrame(out, index=frame.index, copy=False)


def _normalised(frame: pd.DataFrame) -> bool:
    """Whether :func:`normalise_frame` (``text_done``) would give ``frame``'s very columns:
    upper-case names without blanks around them, only "string" and float64 columns (an XPT
    file of SDTM read by the reader: its numbers are float64 already)."""
    return all(isinstance(name, str) and name == name.strip().upper()
               for name in frame.columns) and all(
        isinstance(dtype, pd.StringDtype) or dtype == np.float64 for dtype in frame.dtypes)


def _check_types(frame: pd.DataFrame, shown: str, dataset: str) -> pd.DataFrame:
    """Standard numeric variables must be numbers and --DTC variables text (SDTMIG 3.4 §4.4:
    dates are ISO 8601 character values). Runs on the frame as read, before normalising: a
    number with a SAS date format arrives as datetime64, which normalising would turn to text."""
    for name in frame.columns:
        col = frame[name]
        name = str(name).strip().upper()
        if _is_numeric_name(name) and (not pd.api.types.is_numeric_dtype(col)
                                       or pd.api.types.is_bool_dtype(col)):
            values = col.dropna()
            bad = values[pd.to_numeric(values, errors="coerce").isna()] \
                if len(values) else values
            shown_value = f" (e.g. '{bad.iloc[0]}' in record {int(bad.index[0]) + 1})" \
                if len(bad) else ""
            raise InputDataError(f"{shown}: {dataset}.{name} is stored as text{shown_value}; "
                                 f"SDTM {name} is numeric: write it as a number")
        if name.endswith("DTC") and not pd.api.types.is_string_dtype(col):
            raise InputDataError(f"{shown}: {dataset}.{name} is stored as a number or SAS date; "
                                 f"SDTM {name} is ISO 8601 text: write it as character")
    return frame


def _type_csv_columns(frame: pd.DataFrame) -> pd.DataFrame:
    for name in frame.columns:
        if not _is_numeric_name(name):
            continue
        col = frame[name]
        numbers = pd.to_numeric(col, errors="coerce")
        if (numbers.notna() | col.isna()).all():
            frame[name] = numbers.astype("float64")
    return frame


def _read_one(path: Path, later: dict[str, Callable[[], TextFacts]] | None = None
              ) -> pd.DataFrame:
    suffix = path.suffix.lower()
    shown = display_path(path)
    dataset = path.stem.strip().upper()
    try:
        if suffix == ".xpt":
            try:
                read = read_xpt_dataset(path, path.parent, path.parent, strip=True,
                                        lineage=False, text_facts=False, later=later)
            except InputDataError as exc:    # the reader names the file alone: show the path
                text = str(exc)
                if text.startswith(path.name + ":"):
                    text = shown + text[len(path.name):]
                raise InputDataError(text) from None
            return normalise_frame(_check_types(read.frame, shown, dataset), text_done=True)
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[],
                                encoding="utf-8")
            return _type_csv_columns(normalise_frame(frame))   # untyped: text may stay text
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InputDataError(
                f"{shown}: reading .parquet needs the pyarrow package (pip install pyarrow), "
                "or give the SDTM as .xpt or .csv") from None
        return normalise_frame(_check_types(pd.read_parquet(path), shown, dataset))
    except InputDataError:
        raise
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})"
                             ) from None
    except Exception as exc:  # any reader failure is a file the user must fix
        raise InputDataError(f"{shown}: cannot read as SDTM {suffix[1:]} ({exc})") from None


class SdtmFolder(Mapping[str, pd.DataFrame]):
    """The SDTM datasets of a folder by upper-case name, each read when first asked for.

    ``cdiscmap adam`` and ``cdiscmap recist`` use few of a package's datasets (RECIST needs TU,
    TR and RS; at 10,000 subjects LB alone is a third of the bytes), so a dataset nobody asks
    for is never read. ``in``, ``len`` and iteration look at the file names only.
    """

    def __init__(self, paths: dict[str, Path]) -> None:
        self._paths = paths
        self._frames: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        frame = self._frames.get(name)
        if frame is None:
            later: dict[str, Callable[[], TextFacts]] | None = {} if caching_codes() else None
            frame = self._frames[name] = _read_one(self._paths[name], later)
            if later:
                _remember_codes(frame, later)
        return frame

    def __contains__(self, name: object) -> bool:
        return name in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def variables(self, name: str, names: list[str],
                  facts: dict[str, TextFacts] | None = None) -> pd.DataFrame | None:
        """Only the variables ``names`` of dataset ``name``, decoded from its XPT v5 file as
        the whole read decodes them, when the dataset is not read yet (``adam`` reads LB for
        three date columns, ``recist`` TU/TR/RS for the engine's). None whenever the whole
        read should decide: read already, not XPT v5, or a file the whole read would refuse
        (it then names the problem). ``facts`` (when given) receives each text column's
        :class:`TextFacts` by variable name, known from the reader's own factorisation (so a
        caller need not hash the rows' text again)."""
        if name in self._frames or name not in self._paths:
            return None
        path = Path(self._paths[name])
        if path.suffix.lower() != ".xpt":
            return None
        try:
            data = _file_data(path)         # mapped, not copied (LB: 157 MB at 10k subjects)
            _, _, variables, start = _parse_header(data, path.name)
            upper = [v.meta.name.strip().upper() for v in variables]
            if len(set(upper)) != len(upper) or any(
                    v.position < 0 or (v.meta.length or 0) <= 0 for v in variables):
                return None
            row_length = max((v.position + (v.meta.length or 0) for v in variables), default=0)
            rows = _observations(data, start, row_length, path.name)
            wanted = set(names)
            chosen = [v for v, upper_name in zip(variables, upper, strict=True)
                      if upper_name in wanted]
            later: dict[str, Callable[[], TextFacts]] | None = \
                {} if facts is None and caching_codes() else None
            columns = {v.meta.name: _column(rows, v, strip=True, facts=facts, words=words,
                                            later=later)
                       for v, words in _variable_words(rows, chosen)}
            frame = pd.DataFrame(columns, index=pd.RangeIndex(len(rows)), copy=False)
            frame = normalise_frame(_check_types(frame, display_path(path), name),
                                    text_done=True)
        except Exception:       # noqa: BLE001 - the whole read decides and says what is wrong
            return None
        if later:
            _remember_codes(frame, later)
        return frame


def _remember_codes(frame: pd.DataFrame, later: dict[str, Callable[[], TextFacts]]) -> None:
    """Each text column's factorisation, as the reader found it on the bytes, kept for
    whoever asks while a codes cache is open (:func:`cdiscmap.sdtm.vectorize.remember_later`;
    ``cdiscmap adam`` opens one): the derivations and the RECIST engine hash ≈ 0.17 CPU-s of
    SDTM text at 10,000 subjects otherwise. A function per column, run only when asked for."""
    if frame.columns.has_duplicates:
        return
    for name, make in later.items():
        upper = str(name).strip().upper()
        if upper in frame.columns:
            remember_later(frame[upper], lambda make=make: _codes_of(make()))


def _codes_of(facts: TextFacts) -> tuple[np.ndarray, np.ndarray]:
    return facts.codes, facts.uniques


def read_sdtm(folder: Path, *, lazy: bool = False) -> dict[str, pd.DataFrame]:
    """All SDTM datasets of ``folder`` by upper-case name, in name order.

    Other files (define.xml, reports) are ignored. Two files for one dataset (``dm.xpt`` and
    ``dm.csv``) is an error: we would not know which one is meant. ``lazy``: an
    :class:`SdtmFolder` that reads each dataset on first use (so an unreadable file stops the
    command only when its dataset is used).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputDataError(f"{display_path(folder)}: SDTM folder not found")
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in SDTM_SUFFIXES)
    by_name: dict[str, Path] = {}
    for path in files:
        name = path.stem.strip().upper()
        if name in by_name:
            raise InputDataError(f"{display_path(folder)}: dataset {name} is given twice "
                                 f"({by_name[name].name}, {path.name}); keep one")
        by_name[name] = path
    if not by_name:
        raise InputDataError(f"{display_path(folder)}: no .xpt, .csv or .parquet SDTM files")
    if lazy:
        return SdtmFolder({name: by_name[name] for name in sorted(by_name)})  # type: ignore[return-value]
    return {name: _read_one(by_name[name]) for name in sorted(by_name)}
