"""Read one raw form (CSV, SAS7BDAT or XPT) into text columns with lineage."""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cdiscmap.errors import InputDataError, display_path
from cdiscmap.sdtm.vectorize import clean_categorical, clean_text_array, filled_objects


@dataclass
class RawForm:
    """A raw form as read: text columns (blank → NA) and the lineage columns."""

    name: str
    file: str           # file name as reported in findings
    path: Path
    frame: pd.DataFrame
    # rows the reader read but took out before mapping (``_SRCROW``, ``reason``), e.g. ODM audit
    # removals: the accounting counts them as dropped, so read = used + dropped still holds
    dropped: pd.DataFrame | None = None

    @property
    def n_rows(self) -> int:
        """Rows read: those in ``frame`` plus the pre-dropped ones."""
        return len(self.frame) + (len(self.dropped) if self.dropped is not None else 0)


# --------------------------------------------------------------------------- CSV integrity
# A CSV record count must match the file's physical lines. The bytes are scanned with numpy
# (never a loop over rows): a quote opens a quoted field only at the start of a field (as in
# RFC 4180 and the pandas/csv parsers), a quoted field ends at a quote followed by a delimiter,
# a line end or the end of the file, and only line ends outside quoted fields end a record.
# Broken structure is an InputDataError, not a finding per row: once a quote is unbalanced,
# every later field of the file is shifted or swallowed, so no row after it can be trusted.
_NL, _CR, _QUOTE, _COMMA, _TAB = 10, 13, 34, 44, 9
_FIELD_END = np.array([_COMMA, _NL, _CR, _QUOTE, 32, _TAB], dtype=np.uint8)   # after a closer
# before an opener: a field start, or the first quote of a doubled quote ("") in quoted text
_FIELD_START = np.array([_COMMA, _NL, _CR, _QUOTE], dtype=np.uint8)
_MAX_LITERAL_QUOTES = 200     # literal quotes inside unquoted fields resolved one at a time


def _where(newlines: np.ndarray, pos: int) -> str:
    """``line L, column C`` (1-based; the column counts bytes) of byte offset ``pos``."""
    line = int(np.searchsorted(newlines, pos))          # newlines before pos
    start = int(newlines[line - 1]) + 1 if line else 0
    return f"line {line + 1}, column {pos - start + 1}"


def _structural_quotes(arr: np.ndarray, quotes: np.ndarray, delim: int = _COMMA) -> np.ndarray:
    """The quotes that open or close quoted fields (literal quotes inside unquoted fields,
    such as ``5" lesion``, removed), alternating opener, closer, opener, ..."""
    prev = np.where(quotes > 0, arr[np.maximum(quotes - 1, 0)], _NL)
    at_start = np.isin(prev, _FIELD_START if delim == _COMMA else
                       np.array([delim, _NL, _CR, _QUOTE], dtype=np.uint8))
    keep = np.ones(len(quotes), dtype=bool)
    for _ in range(_MAX_LITERAL_QUOTES):
        kept = np.flatnonzero(keep)
        opener = (np.arange(len(kept)) % 2 == 0)
        literal = opener & ~at_start[kept]
        if not literal.any():
            return quotes[kept]
        keep[kept[np.argmax(literal)]] = False          # the first one shifts all later roles
    return quotes[np.flatnonzero(keep)]


def _check_bytes(path: Path, data: bytes, arr: np.ndarray, newlines: np.ndarray,
                 delim: int = _COMMA) -> np.ndarray:
    """NUL bytes and quote balance; the structural quotes. InputDataError names the line.

    ``data`` is ``arr``'s bytes: a byte absent from the file is found absent by one memchr
    pass, with no comparison array and position list (most exports have no quote at all)."""
    shown = display_path(path)
    if b"\0" in data:
        nul = np.flatnonzero(arr == 0)
        more = f" ({len(nul)} NUL bytes in all)" if len(nul) > 1 else ""
        raise InputDataError(f"{shown}: NUL byte at {_where(newlines, int(nul[0]))}{more}: "
                             "text after it would be cut off; re-export the form")
    if b'"' not in data:
        return np.zeros(0, dtype=np.intp)
    quotes = _structural_quotes(arr, np.flatnonzero(arr == _QUOTE), delim)
    closers = quotes[1::2]
    after = np.where(closers + 1 < len(arr), arr[np.minimum(closers + 1, len(arr) - 1)], _NL)
    field_end = _FIELD_END if delim == _COMMA else \
        np.array([delim, _NL, _CR, _QUOTE, 32, _TAB], dtype=np.uint8)
    bad = np.flatnonzero(~np.isin(after, field_end))
    if len(bad):
        opener = int(quotes[2 * bad[0]])
        raise InputDataError(f"{shown}: unbalanced quote at {_where(newlines, opener)}: the "
                             f"quoted field ends mid-value at "
                             f"{_where(newlines, int(closers[bad[0]]))}, swallowing what lies "
                             "between; close or remove the quote")
    if len(quotes) % 2:
        raise InputDataError(f"{shown}: unbalanced quote at {_where(newlines, int(quotes[-1]))}"
                             ": its field runs to the end of the file and would swallow "
                             "every record after it; close or remove the quote")
    return quotes


def _check_records(path: Path, arr: np.ndarray, newlines: np.ndarray, quotes: np.ndarray,
                   n_columns: int, delim: int = _COMMA) -> int:
    """Records (line ends outside quoted fields) against fields: the number of data records.

    The count is what pandas must read; a quoted field spanning lines that look like whole
    records, or a record with another number of fields than the header, is an InputDataError.
    """
    shown = display_path(path)
    commas = np.flatnonzero(arr == delim)
    if len(quotes):
        # a byte is inside a quoted field when an odd number of structural quotes precede it
        outside = np.searchsorted(quotes, newlines) % 2 == 0
        ends = newlines[outside]                       # record ends
    else:
        outside, ends = None, newlines                 # no quote: every line end ends one
    if len(arr) and arr[-1] != _NL:
        ends = np.append(ends, len(arr))               # last record without a line end
    starts = np.concatenate(([0], ends[:-1] + 1)) if len(ends) else np.zeros(0, np.int64)
    width = ends - starts
    blank = (width == 0) | ((width == 1) & (arr[np.minimum(starts, len(arr) - 1)] == _CR))
    # a quoted field may span lines, but not lines that look like whole records
    inside_lines = np.flatnonzero(~outside) if outside is not None else ends[:0]
    if len(inside_lines):
        line_commas = np.diff(np.searchsorted(commas, np.append(newlines, len(arr))))
        swallowed = inside_lines[line_commas[inside_lines] >= max(n_columns - 1, 1)]
        if len(swallowed):
            pos = int(newlines[swallowed[0]]) + 1
            opener = int(quotes[np.searchsorted(quotes, pos) - 1])
            raise InputDataError(f"{shown}: quoted field opened at {_where(newlines, opener)} "
                                 f"holds whole records (e.g. {_where(newlines, pos)}): an "
                                 "unbalanced quote; close or remove it")
    if len(quotes):
        # delimiters, not text: the commas between an opening quote and its closer (a few
        # ranges of the sorted positions) taken out, not every comma searched in the quotes
        lo = np.searchsorted(commas, quotes[0::2])
        size = np.searchsorted(commas, quotes[1::2]) - lo
        if size.any():
            offset = np.repeat(np.cumsum(size) - size, size)
            commas = np.delete(commas, np.repeat(lo, size) + np.arange(len(offset)) - offset)
    # delimiters per record: those before its end less those before the previous end (no
    # delimiter sits on a line end); searching the few ends in the many delimiters, not back
    fields = np.diff(np.searchsorted(commas, ends), prepend=0) + 1
    wrong = np.flatnonzero(~blank & (fields != n_columns))
    if len(wrong):
        first = int(wrong[0])
        more = f" ({len(wrong)} records in all)" if len(wrong) > 1 else ""
        raise InputDataError(f"{shown}: record at {_where(newlines, int(starts[first]))} has "
                             f"{fields[first]} fields, the header {n_columns}{more}: a stray "
                             "quote or delimiter; fix the export")
    return int((~blank).sum()) - 1                     # minus the header


def _utf8(path: Path, data: bytes, newlines: np.ndarray) -> str:
    """The first line as text (the header), the whole file checked to be UTF-8.

    An ASCII file (most exports) is UTF-8 by a fast byte test, so no decoded copy of the file
    is made; a line end never falls inside a UTF-8 sequence, so the first line decodes alone."""
    end = data.find(b"\n")
    first = data if end < 0 else data[:end + 1]
    try:
        if not data.isascii():
            data.decode("utf-8")
        return first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{display_path(path)}: not UTF-8 text: byte "
                             f"0x{data[exc.start]:02X} at {_where(newlines, exc.start)} "
                             f"({exc.reason}); re-export the form as UTF-8") from None


def _header(path: Path, text: str, delimiter: str = ",") -> list[str]:
    """The header row, with the usual export mistakes named for what they are."""
    shown = display_path(path)
    end = text.find("\n")                       # the first line only, not a split copy
    first = (text if end < 0 else text[:end]).rstrip("\r")
    try:
        header = next(csv.reader([first], delimiter=delimiter), None)
    except csv.Error as exc:                 # e.g. a cell over csv.field_size_limit()
        raise InputDataError(f"{shown}: line 1: header cannot be read ({exc}); is it a CSV "
                             "export?") from None
    if not header or not any(c.strip() for c in header):
        raise InputDataError(f"{shown}: empty file (no header row)")
    for other, name in (("\t", "tab"), (";", "semicolon"), (",", "comma")):
        if other == delimiter:
            continue
        if len(header) == 1 and other in header[0] or \
                first.count(other) > first.count(delimiter):
            raise InputDataError(f"{shown}: header looks {name}-delimited, not "
                                 f"{delimiter!r}-delimited: re-export the form, or declare "
                                 "its 'delimiter' in study.yaml forms")
    padded = [c for c in header if c != c.strip()]
    if padded:
        raise InputDataError(f"{shown}: column '{padded[0]}' has surrounding spaces"
                             f"{f' ({len(padded)} columns in all)' if len(padded) > 1 else ''}"
                             ": remove them from the header")
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise InputDataError(f"{shown}: duplicate column names {dupes}")
    return header


# Up to this size a CSV is parsed in one piece: measured on the demo export, 15-20 % less
# CPU in the parser than chunk by chunk (a 49 MB lab form: 1.32 -> 1.07 CPU-s), for a
# transient tokeniser buffer of about three times the file (+147 MB RSS for that one), so
# larger files keep pandas' chunked parse and a 100,000-subject run its memory.
_WHOLE_PARSE_BYTES = 16 << 20

# Up to this size a CSV is parsed to Python strings (read_form then factorises each column
# once) rather than to categories: the parser's categories cost a fixed ≈ 0.1 ms per column
# (inferred, sorted, recoded) that a small file does not repay; measured per form of the
# demo export (parse + clean, CPU): 100 subjects 2.7 KB 1.6 -> 1.0 ms, 97 KB 8.3 -> 6.1 ms,
# 1,000 subjects 316 KB 9.1 -> 7.6 ms, but 795 KB 9.4 -> 9.8 ms and 4.9 MB 61 -> 77 ms.
# The cleaned columns (and their remembered factorisations) are the same either way.
_OBJECT_PARSE_BYTES = 512 << 10


def _read_csv(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> pd.DataFrame:
    shown = display_path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputDataError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
    if encoding.lower().replace("-", "").replace("_", "") not in ("utf8", "utf8sig"):
        # a declared legacy encoding (latin-1, cp1252...) is decoded once, then every check
        # below runs on the UTF-8 bytes
        try:
            data = data.decode(encoding).encode("utf-8")
        except LookupError:
            raise InputDataError(f"{shown}: unknown encoding {encoding!r} (study.yaml "
                                 "forms)") from None
        except UnicodeDecodeError as exc:
            raise InputDataError(f"{shown}: not {encoding} text: byte 0x{data[exc.start]:02X} "
                                 f"at offset {exc.start} ({exc.reason})") from None
    if len(delimiter) != 1 or not delimiter.isascii() or delimiter in "\"\r\n":
        raise InputDataError(f"{shown}: delimiter {delimiter!r} must be one ASCII character, "
                             "not a quote or line end")
    delim = ord(delimiter)
    if not data or data.isspace():      # as `not data.strip()`, without copying the file
        raise InputDataError(f"{shown}: empty file ({len(data)} bytes, no header row)")
    arr = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(arr == _NL)
    quotes = _check_bytes(path, data, arr, newlines, delim)
    header = _header(path, _utf8(path, data, newlines).lstrip("\ufeff"), delimiter)
    n_records = _check_records(path, arr, newlines, quotes, len(header), delim)
    try:
        # the byte-order mark cut here rather than by the utf-8-sig codec, which pandas can
        # only run in Python: plain UTF-8 (checked above) its C parser reads by itself
        body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
        # as categories (a file over _OBJECT_PARSE_BYTES): the C parser hashes each cell's
        # bytes itself, so a column's distinct values come out without a Python str per cell
        # to hash again (read_form cleans them);
        # no cell is a missing-value marker (keep_default_na=False, na_values=[]), so the
        # parser's NA test of every cell is switched off (na_filter=False: same frame); a
        # file up to _WHOLE_PARSE_BYTES is tokenised in one piece (low_memory=False): no
        # categories inferred per chunk and unioned (read_form renumbers the codes by first
        # appearance, so the chunking never shows)
        frame = pd.read_csv(io.BytesIO(body), dtype="category" if
                            len(body) > _OBJECT_PARSE_BYTES else object, keep_default_na=False,
                            na_values=[], na_filter=False, encoding="utf-8", index_col=False,
                            sep=delimiter, low_memory=len(body) > _WHOLE_PARSE_BYTES)
    except pd.errors.ParserError as exc:
        raise InputDataError(f"{shown}: malformed CSV: {exc}") from None
    if len(frame) != n_records or len(frame.columns) != len(header):
        raise InputDataError(f"{shown}: {len(frame)} records read but the file has "
                             f"{n_records} record lines; the CSV is malformed")
    return frame


def _read_sas(path: Path, xport: bool | None = None) -> pd.DataFrame:
    import pyreadstat

    if xport is None:
        xport = path.suffix.lower() != ".sas7bdat"
    reader = pyreadstat.read_xport if xport else pyreadstat.read_sas7bdat
    try:
        frame, _ = reader(str(path))
    except Exception as exc:  # pyreadstat raises its own untyped errors
        raise InputDataError(f"{display_path(path)}: cannot read SAS file: {exc}") from None
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        s = frame[col]
        if s.dtype.kind in "fiu":
            # integers print without ".0" so recoding and keys behave like the CSV export
            values = s.astype("float64")
            whole = values.notna() & np.isfinite(values) & (values == np.floor(values))
            text = pd.Series("", index=s.index, dtype="string")
            text[whole] = values[whole].astype("int64").astype("string")
            other = values.notna() & ~whole
            text[other] = values[other].map(repr).astype("string")   # fractions: shortest repr
            out[col] = text
        else:
            out[col] = s.astype("string")
    return out


def _check_file(name: str, path: Path) -> None:
    """A raw form path that is a folder or an empty file gets one line naming it."""
    if path.is_dir():
        raise InputDataError(f"raw form '{name}': {display_path(path)} is a folder, not a file")
    if path.stat().st_size == 0:
        raise InputDataError(f"raw form '{name}': {display_path(path)} is an empty file (0 bytes); "
                             "re-export the form")


# file suffix → reader when study.yaml gives no `format`
FORMAT_BY_SUFFIX = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".sas7bdat": "sas",
                    ".xpt": "xpt", ".xml": "odm", ".xlsx": "excel", ".xlsm": "excel"}


def read_form(name: str, path: Path, root: Path | None = None, *, format: str | None = None,
              item_group: str | None = None, sheet: str | None = None,
              delimiter: str | None = None, encoding: str | None = None) -> RawForm:
    """Read a raw form; all values as text, blanks as NA, plus ``_SRCFILE``/``_SRCROW``.

    ``root`` is the raw folder the user named: a path that resolves outside it (``..``, an
    absolute path, or a symbolic link pointing out of it) is refused before anything is read.
    ``format`` (csv, sas, xpt, odm, excel; default from the suffix) and the reader options
    come from the study.yaml form (``item_group`` for ODM, ``sheet`` for Excel,
    ``delimiter``/``encoding`` for CSV).
    """
    if root is not None:
        _check_inside(name, path, root)
    if not path.exists():
        raise InputDataError(f"raw form '{name}': file {display_path(path)} not found")
    _check_file(name, path)
    suffix = path.suffix.lower()
    fmt = format or FORMAT_BY_SUFFIX.get(suffix)
    dropped = None
    srcrow = None
    if fmt == "csv":
        frame = _read_csv(path, delimiter=delimiter or ("\t" if suffix == ".tsv" else ","),
                          encoding=encoding or "utf-8")
    elif fmt in ("sas", "xpt"):
        frame = _read_sas(path, xport=fmt == "xpt")
    elif fmt == "odm":
        from cdiscmap.ingest.odm import read_odm

        if not item_group:
            raise InputDataError(f"raw form '{name}': {display_path(path)} is ODM-XML: name "
                                 "the form's ItemGroupOID with 'item_group' in study.yaml")
        frame, dropped = read_odm(path, item_group)
        srcrow = frame.pop("_SRCROW").to_numpy()
    elif fmt == "excel":
        from cdiscmap.ingest.excel import read_excel

        frame, dropped = read_excel(path, sheet, form=name)
        srcrow = frame.pop("_SRCROW").to_numpy()
    else:
        raise InputDataError(f"raw form '{name}': {display_path(path)}: unsupported file type "
                             f"'{suffix}' (csv, sas7bdat, xpt, xml (ODM), xlsx); or give "
                             "'format' in study.yaml")
    # every cell stripped, blank → NA; each distinct value of a column is stripped once
    columns = frame.columns
    # copy=False: the cleaned arrays go in as they are, so the factorisations remembered
    # while cleaning (sdtm/vectorize.py codes_cache) stay theirs; a dict is copied by default
    data: dict[int, object] = {i: _clean_column(frame.iloc[:, i]) for i in range(len(columns))}
    rows = srcrow if srcrow is not None else np.arange(1, len(frame) + 1, dtype="int64")
    if "_SRCFILE" in columns or "_SRCROW" in columns:
        frame = pd.DataFrame(data, index=frame.index, copy=False)
        frame.columns = columns
        frame["_SRCFILE"] = path.name
        frame["_SRCROW"] = rows
    else:
        # the lineage columns go in with the others (as ``frame[name] = ...`` would add them
        # after: the file name on every row, an object column): two column inserts fewer
        n = len(columns)
        data[n] = filled_objects(len(frame), path.name)
        data[n + 1] = rows
        index = frame.index
        frame = pd.DataFrame(data, index=index, copy=False)
        frame.columns = columns.append(pd.Index(["_SRCFILE", "_SRCROW"]))
    return RawForm(name=name, file=path.name, path=path, frame=frame, dropped=dropped)


def _clean_column(values: pd.Series) -> pd.arrays.StringArray:
    """A read column as clean text (:func:`clean_text_array`); a categorical one (the CSV
    reader's) is cleaned from its categories and codes."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return clean_categorical(values.array)
    return clean_text_array(values)


def _check_inside(name: str, path: Path, root: Path) -> None:
    """study.yaml refuses '..' and absolute form paths as written; this catches links."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise InputDataError(f"raw form '{name}': {display_path(path)} resolves outside the raw "
                             f"folder {display_path(root)} (a symbolic link?); raw forms are "
                             "read only from inside the raw folder")
