"""Read SDTM/ADaM dataset files: XPT v5 and Dataset-JSON → :class:`DatasetFile`.

Used by ``cdiscmap validate`` (through :mod:`cdiscmap.validation.read`), ``cdiscmap define``
and ``cdiscmap adam --sdtm`` (:mod:`cdiscmap.adam.io`), so that every command reads an XPT file
the same way and refuses the same broken files. It sits in ``checks/`` beside
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

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cdiscmap.checks.files import DatasetFile, VariableMeta
from cdiscmap.emit.datasetjson import read_dataset_json
from cdiscmap.errors import InputDataError

__all__ = ["read_json_dataset", "read_xpt_dataset", "read_xpt_special_missing", "relative_path"]

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


def _string_column(codes: np.ndarray, texts: list[str]) -> pd.Series:
    """Rows as "string" from codes into distinct texts; blank texts and code -1 are <NA>."""
    table = np.array([t if t.strip() else pd.NA for t in texts] + [pd.NA], dtype=object)
    return pd.Series(pd.arrays.StringArray(table[codes]))   # code -1 picks the trailing <NA>


def normalise(raw: pd.DataFrame, variables: list[VariableMeta]) -> dict[str, pd.Series]:
    """Frame columns from a reader that gives Python objects (pyreadstat, Dataset-JSON)."""
    columns: dict[str, pd.Series] = {}
    for var in variables:
        values = raw[var.name]
        if var.type == "char":
            codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
            columns[var.name] = _string_column(codes, [str(u) for u in uniques])
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            columns[var.name] = pd.Series(values.to_numpy().astype("datetime64[ns]"))
        else:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
            unit = _date_unit(var.format)
            columns[var.name] = pd.Series(sas_dates(numbers, unit) if unit else numbers)
    return columns


def _frame(columns: dict[str, pd.Series], n_rows: int, relpath: str) -> pd.DataFrame:
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n_rows))
    frame["_SRCFILE"] = pd.Series(pd.arrays.StringArray(np.full(n_rows, relpath, dtype=object)))
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
        if not data[at:].startswith(record):
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
    if not data[obs_header:].startswith(_OBS):
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
    following = data.find(_MEMBER, start)
    while following != -1 and (following - start) % RECORD:
        following = data.find(_MEMBER, following + 1)
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


def _factorize_bytes(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of equal rows of a (n, width) byte block, and the first row of each code.

    Rows are packed into 64-bit words and hashed (FNV-style, vectorised); a hash collision is
    detected by comparing every row with its code's first row, and then exact sorting is used.
    """
    n_rows, width = block.shape
    words_per_row = max(1, -(-width // 8))
    padded = np.zeros((n_rows, words_per_row * 8), dtype=np.uint8)
    padded[:, :width] = block
    words = padded.view(np.uint64)
    if words_per_row == 1:
        key = words[:, 0]
    else:
        key = np.zeros(n_rows, dtype=np.uint64)
        for column in range(words_per_row):
            key = (key * np.uint64(0x100000001B3)) ^ words[:, column]
            key ^= key >> np.uint64(29)
    codes, _ = pd.factorize(key)
    first = np.zeros(codes.max() + 1 if n_rows else 0, dtype=np.int64)
    first[codes[::-1]] = np.arange(n_rows)[::-1]
    if words_per_row > 1 and not (words == words[first][codes]).all():
        _, first, codes = np.unique(words, axis=0, return_index=True, return_inverse=True)
        codes = codes.reshape(-1)
    return codes.astype(np.intp), first


def ibm_to_float64(words: np.ndarray) -> np.ndarray:
    """IBM System/370 doubles (uint64 words) → float64; SAS missing values → NaN.

    An IBM double is sign, excess-64 base-16 exponent and a 56-bit fraction (SAS TS-140).
    """
    words = words.astype(np.uint64)
    fraction = words & _FRACTION_MASK
    exponent = ((words >> np.uint64(56)) & np.uint64(0x7F)).astype(np.int64)
    values = np.ldexp(fraction.astype(np.float64), 4 * (exponent - 64) - 56)
    negative = (words >> np.uint64(63)) == 1
    values = np.where(negative, -values, values)
    first_byte = words >> np.uint64(56)
    missing = (fraction == 0) & np.isin(first_byte, _MISSING_FIRST_BYTES)
    values[missing] = np.nan
    return values


def _column(rows: np.ndarray, var: _Variable) -> pd.Series:
    length = var.meta.length or 0
    block = rows[:, var.position:var.position + length]
    if var.meta.type == "char":
        codes, first = _factorize_bytes(block)
        texts = [_text(bytes(block[row])) for row in first]
        return _string_column(codes, texts)
    padded = np.zeros((len(rows), 8), dtype=np.uint8)     # short numerics keep leading bytes
    padded[:, :min(length, 8)] = block[:, :8]
    numbers = ibm_to_float64(padded.view(">u8").reshape(-1))
    unit = _date_unit(var.meta.format)
    return pd.Series(sas_dates(numbers, unit) if unit else numbers)


def _read_xpt_v5(path: Path, relpath: str) -> tuple[str, str, list[VariableMeta],
                                                    dict[str, pd.Series], int]:
    data = path.read_bytes()
    member, label, variables, start = _parse_header(data, relpath)
    row_length = max((v.position + (v.meta.length or 0) for v in variables), default=0)
    if any(v.position < 0 or (v.meta.length or 0) <= 0 for v in variables):
        raise _broken(relpath, "a variable has a negative position or no length")
    rows = _observations(data, start, row_length, relpath)
    columns = {v.meta.name: _column(rows, v) for v in variables}
    return member, label, [v.meta for v in variables], columns, len(rows)


def _read_xpt_pyreadstat(path: Path, relpath: str) -> tuple[str, str, list[VariableMeta],
                                                           dict[str, pd.Series], int]:
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
            normalise(raw, variables), len(raw))


def _reader_format(text: str | None) -> str | None:
    """pyreadstat's text for a variable's display format, as the header holds it (``DATE9.``).

    The releases differ only in spelling: 1.2 gives ``NULL`` for no format and ``DATE9``
    without the dot, 1.3.0 gives None, 1.3.8 ``DATE9.``.
    """
    if not text or text in ("$", "NULL"):
        return None
    return text if "." in text else text + "."


def read_xpt_dataset(path: Path, root: Path, folder: Path) -> DatasetFile:
    """An XPT file as a :class:`DatasetFile`; InputDataError when it cannot be read."""
    relpath = relative_path(path, root)
    try:
        parts = _read_xpt_v5(path, relpath)
    except OSError as exc:
        raise InputDataError(f"{relpath}: cannot be read ({exc.strerror or exc})") from None
    except (_NotV5, struct.error):
        parts = _read_xpt_pyreadstat(path, relpath)
    except ValueError as exc:      # a v5 header whose numbers cannot be decoded
        raise _broken(relpath, f"header not decodable ({exc})") from None
    member, label, variables, columns, n_rows = parts
    return DatasetFile(name=path.stem.upper(), path=path, relpath=relpath, format="xpt",
                       member=member, label=label, variables=variables,
                       frame=_frame(columns, n_rows, relpath), folder=folder)


def read_json_dataset(path: Path, root: Path, folder: Path,
                      document: dict[str, Any] | None = None) -> DatasetFile:
    """A Dataset-JSON file as a :class:`DatasetFile` (lengths default to the longest value)."""
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
